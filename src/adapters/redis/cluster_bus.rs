//! The cluster bus over Redis Pub/Sub: one channel per topic (`<prefix>:<topic>`), published through
//! the shared connection (breaker, timeout) in one pipeline per batch, received on a subscription
//! connection of its own that a driver task keeps up.
//!
//! The driver subscribes every wanted topic again after each reconnection and says so on the stream
//! ([`BusEvent::Resubscribed`]); what was published in between is lost, as the port allows. A
//! keep-alive PING that fails or goes unanswered, or a `resubscribe` call (the node's canary stopped
//! coming back), drops the subscription and starts over with backoff.
//!
//! On Redis Cluster topics are sharded channels (`SPUBLISH`/`SSUBSCRIBE`), so each topic lives on
//! the master of its own slot and the bus traffic spreads over the shards. The node's canary
//! travels on its own topic, so it proves one shard; the others are watched by the subscription
//! itself: a dropped connection to any node, a channel the server unsubscribed (its slot moved),
//! or a keep-alive PING (sent to every master) that fails, each starts the subscription over.
//! Our own unsubscribes are told apart from the server's by the subscription (see
//! [`subscription`]); for that, the calls for one topic reach the server in the order they were
//! made: they wait for each other, per topic, and each runs to its end even if its caller gives up.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, Notify};

use super::connection::RedisConnection;
use super::subscription::{self, bounded, Received, SubSink, SubStream};
use super::{backoff, RedisCallError, ResilientRedis};
use crate::domain::cluster::Topic;
use crate::domain::ErrorChain;
use crate::ports::{BusError, BusEvent, BusStream, ClusterBus};

/// Messages received but not yet taken by the node: beyond this the subscription is not read, and
/// Redis buffers (up to its client output limit) instead of this process.
const RECEIVED_BUFFER: usize = 65_536;
/// Locks that keep the (un)subscribe calls of one topic in order; topics share them by hash.
const ORDER_STRIPES: usize = 64;

#[derive(Debug, Clone, Copy)]
pub struct BusSettings {
    /// Bounds connecting, each subscribe call and each keep-alive PING.
    pub timeout: Duration,
    pub keepalive_interval: Duration,
    pub reconnect_min_delay: Duration,
    pub reconnect_max_delay: Duration,
}

pub struct RedisBus {
    redis: Arc<ResilientRedis>,
    /// `<prefix>:`
    prefix: String,
    settings: BusSettings,
    wanted: Mutex<HashSet<String>>,
    sink: tokio::sync::Mutex<Option<SubSink>>,
    order: Vec<Arc<tokio::sync::Mutex<()>>>,
    subscribed: AtomicBool,
    restart: Notify,
    tx: mpsc::Sender<BusEvent>,
    rx: Mutex<Option<mpsc::Receiver<BusEvent>>>,
}

fn unavailable(e: RedisCallError) -> BusError {
    if e.is_unavailable() {
        BusError::Unavailable(Box::new(e))
    } else {
        BusError::Unexpected(Box::new(e))
    }
}

fn subscribe_failed(e: redis::RedisError) -> BusError {
    BusError::Unavailable(Box::new(e))
}

impl RedisBus {
    /// Opens the bus and starts its driver, which ends when the bus is dropped.
    pub fn open(redis: Arc<ResilientRedis>, prefix: &str, settings: BusSettings) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(RECEIVED_BUFFER);
        let bus = Arc::new(Self {
            redis,
            prefix: format!("{prefix}:"),
            settings,
            wanted: Mutex::new(HashSet::new()),
            sink: tokio::sync::Mutex::new(None),
            order: (0..ORDER_STRIPES).map(|_| Arc::new(tokio::sync::Mutex::new(()))).collect(),
            subscribed: AtomicBool::new(false),
            restart: Notify::new(),
            tx,
            rx: Mutex::new(Some(rx)),
        });
        tokio::spawn(drive(Arc::downgrade(&bus)));
        bus
    }

    fn channel(&self, topic: &Topic) -> String {
        format!("{}{}", self.prefix, topic.name())
    }

    async fn connect(&self) -> redis::RedisResult<(SubSink, SubStream)> {
        subscription::open(self.redis.target(), true, self.settings.timeout).await
    }

    /// Subscribes every wanted topic on a fresh connection. The sink is published first, so a topic
    /// wanted meanwhile is subscribed either by its caller or here (twice is harmless); if this
    /// fails it is taken back, so that callers hear that the bus is reconnecting.
    async fn subscribe_all(&self, sink: &SubSink) -> redis::RedisResult<()> {
        *self.sink.lock().await = Some(sink.clone());
        let wanted: Vec<String> = self.wanted.lock().iter().cloned().collect();
        let mut subscriber = sink.clone();
        for chunk in wanted.chunks(256) {
            if let Err(e) = bounded(self.settings.timeout, subscriber.subscribe(chunk)).await {
                *self.sink.lock().await = None;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Marks `channel` wanted or not and runs `call` on the current sink, after the earlier calls
    /// for `channel` and to its end even if the caller stops waiting (a call cut short would leave
    /// the server's state unknown); `None` without a sink.
    async fn in_order<F, Fut>(&self, channel: String, want: bool, call: F) -> Option<Result<(), BusError>>
    where
        F: FnOnce(SubSink, String) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), BusError>> + Send + 'static,
    {
        let mut hasher = DefaultHasher::new();
        channel.hash(&mut hasher);
        let stripe = self.order[(hasher.finish() % ORDER_STRIPES as u64) as usize].clone();
        let turn = stripe.lock_owned().await;
        if want {
            self.wanted.lock().insert(channel.clone());
        } else {
            self.wanted.lock().remove(&channel);
        }
        let sink = self.sink.lock().await.clone()?;
        let task = tokio::spawn(async move {
            let result = call(sink, channel).await;
            drop(turn);
            result
        });
        Some(task.await.unwrap_or_else(|e| Err(BusError::Unexpected(Box::new(e)))))
    }

    /// Forwards messages until the subscription is gone or a restart is asked for.
    async fn pump(&self, mut sink: SubSink, mut stream: SubStream) -> &'static str {
        let mut keepalive = tokio::time::interval(self.settings.keepalive_interval);
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        keepalive.tick().await;
        loop {
            tokio::select! {
                message = stream.next() => match message {
                    Some(Received::Message { channel, payload }) => {
                        let topic = channel.strip_prefix(&self.prefix).unwrap_or(&channel).to_owned();
                        if self.tx.send(BusEvent::Message { topic, payload: Bytes::from(payload) }).await.is_err() {
                            return "the receiver is gone";
                        }
                    }
                    Some(Received::Unsubscribed(channel)) => {
                        if self.wanted.lock().contains(&channel) {
                            return "the server unsubscribed a wanted topic (its slot moved)";
                        }
                    }
                    Some(Received::Lost(why)) => return why,
                    None => return "the connection closed",
                },
                () = self.restart.notified() => return "a resubscription was asked for",
                _ = keepalive.tick() => {
                    if bounded(self.settings.timeout, sink.ping()).await.is_err() {
                        return "the keep-alive PING failed";
                    }
                }
            }
        }
    }
}

/// Keeps the subscription up for as long as the bus exists.
async fn drive(bus: Weak<RedisBus>) {
    let mut first = true;
    let mut failures = 0u32;
    let settings = match bus.upgrade() {
        Some(bus) => bus.settings,
        None => return,
    };
    let mut delays = backoff::delays(settings.reconnect_min_delay, settings.reconnect_max_delay);
    loop {
        let Some(this) = bus.upgrade() else { return };
        let subscribed = match this.connect().await {
            Ok((sink, stream)) => this.subscribe_all(&sink).await.map(|()| (sink, stream)),
            Err(e) => Err(e),
        };
        let subscribed = match subscribed {
            Ok(subscribed) => Some(subscribed),
            Err(e) => {
                failures += 1;
                // Loud once per outage, quiet while it lasts.
                if failures == 1 {
                    tracing::warn!(error = %ErrorChain(&e), "cannot subscribe to the cluster bus; retrying with backoff");
                } else {
                    tracing::debug!(error = %ErrorChain(&e), attempt = failures, "cluster bus subscribe failed");
                }
                None
            }
        };
        if let Some((sink, stream)) = subscribed {
            failures = 0;
            delays = backoff::delays(settings.reconnect_min_delay, settings.reconnect_max_delay);
            this.subscribed.store(true, Ordering::Release);
            if !first {
                let _ = this.tx.send(BusEvent::Resubscribed).await;
            }
            first = false;
            tracing::info!("subscribed to the cluster bus");
            let why = this.pump(sink, stream).await;
            this.subscribed.store(false, Ordering::Release);
            *this.sink.lock().await = None;
            tracing::warn!(reason = why, "lost the cluster bus subscription; resubscribing");
        }
        drop(this);
        tokio::time::sleep(delays.next().unwrap_or(settings.reconnect_max_delay)).await;
    }
}

/// One pipeline of `PUBLISH`es on one server; on a cluster one `SPUBLISH` per topic, all at once
/// (a pipeline's commands must share a slot, and topics do not).
async fn publish_all(con: RedisConnection, messages: Vec<(String, Bytes)>) -> redis::RedisResult<Vec<usize>> {
    match con {
        RedisConnection::Single(mut con) => {
            let mut pipe = redis::pipe();
            for (channel, payload) in &messages {
                pipe.publish(channel, payload.as_ref());
            }
            pipe.query_async(&mut con).await
        }
        RedisConnection::Cluster(con) => {
            let sends = messages.into_iter().map(|(channel, payload)| {
                let mut con = con.clone();
                async move { redis::cmd("SPUBLISH").arg(channel).arg(payload.as_ref()).query_async(&mut con).await }
            });
            futures_util::future::try_join_all(sends).await
        }
    }
}

#[async_trait]
impl ClusterBus for RedisBus {
    async fn publish(&self, batch: &[(Topic, Bytes)]) -> Result<Vec<usize>, BusError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let messages: Vec<(String, Bytes)> =
            batch.iter().map(|(topic, payload)| (self.channel(topic), payload.clone())).collect();
        self.redis.call(|con| publish_all(con, messages)).await.map_err(unavailable)
    }

    async fn subscribe(&self, topic: &Topic) -> Result<(), BusError> {
        let timeout = self.settings.timeout;
        let subscribed = self.in_order(self.channel(topic), true, move |mut sink, channel| async move {
            bounded(timeout, sink.subscribe(&[channel])).await.map_err(subscribe_failed)
        });
        // Without a sink: subscribed by the driver once it is connected again.
        subscribed.await.unwrap_or_else(|| Err(BusError::Unavailable("the cluster bus is reconnecting".into())))
    }

    async fn unsubscribe(&self, topic: &Topic) -> Result<(), BusError> {
        let timeout = self.settings.timeout;
        let unsubscribed = self.in_order(self.channel(topic), false, move |mut sink, channel| async move {
            bounded(timeout, sink.unsubscribe(&channel)).await.map_err(subscribe_failed)
        });
        unsubscribed.await.unwrap_or(Ok(()))
    }

    fn resubscribe(&self) {
        self.restart.notify_one();
    }

    fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Acquire)
    }

    fn stream(&self) -> Option<BusStream> {
        let rx = self.rx.lock().take()?;
        Some(Box::pin(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) })))
    }
}
