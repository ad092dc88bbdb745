//! The Redis Pub/Sub trigger: subscribes to the configured channels and delivers each published
//! message through `NotificationService::send`, exactly as an HTTP send.
//!
//! Messages are handled one at a time, in the order Redis delivers them. A malformed one is logged
//! with its reason and counted; the next one is handled as usual. When the connection is lost (or
//! a keep-alive PING goes unanswered) the subscriber reconnects with exponential backoff and ±10%
//! jitter and subscribes again. Pub/Sub is fire-and-forget: what is published while no node is
//! subscribed is lost (use the HTTP API when a sender needs an answer), so every lost subscription
//! is counted (`subscriptions_lost`) and logged with its reason.
//!
//! On Redis Cluster the channels are plain (not sharded) ones: a `PUBLISH` on any node reaches the
//! subscribers of every node, so publishers need not know the cluster's shape.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use super::connection::RedisTarget;
use super::subscription::{self, Received, SubSink, SubStream};
use super::{backoff, pubsub_message, ResilientRedis};
use crate::domain::ErrorChain;
use crate::service::{NotificationService, ResolveError, SendContentError};

#[derive(Debug, Clone)]
pub struct PubSubSettings {
    pub channels: Vec<String>,
    /// Bounds connecting, subscribing and each keep-alive PING.
    pub timeout: Duration,
    pub keepalive_interval: Duration,
    pub reconnect_min_delay: Duration,
    pub reconnect_max_delay: Duration,
    /// This node's own channel: a canary published on it through the shared connection must come
    /// back through the subscription, which proves the subscription delivers.
    pub canary_channel: String,
    pub canary_interval: Duration,
}

impl PubSubSettings {
    /// How long without a canary before the subscription counts as lost: three missed canaries.
    pub fn canary_deadline(&self) -> Duration {
        self.canary_interval * 3
    }
}

/// Counters shared with `/health` and `/stats`.
#[derive(Debug, Default)]
pub struct PubSubStatus {
    connected: AtomicBool,
    received: AtomicU64,
    delivered: AtomicU64,
    malformed: AtomicU64,
    failed: AtomicU64,
    reconnects: AtomicU64,
    lost: AtomicU64,
    /// When the last canary came back (Unix ms; set when a subscription starts, as a grace).
    canary_at_ms: AtomicI64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PubSubStats {
    pub subscribed: bool,
    pub received: u64,
    /// Messages sent through the notification service.
    pub delivered: u64,
    pub malformed: u64,
    /// Valid messages whose send failed (e.g. the offline queue was unavailable).
    pub failed: u64,
    pub reconnects: u64,
    /// Live subscriptions that ended (connection closed, keep-alive failed, canary missing); each one
    /// may have lost what was published until the next subscription.
    pub subscriptions_lost: u64,
    /// Milliseconds since this node's canary last came back through the subscription.
    pub canary_age_ms: u64,
}

impl PubSubStatus {
    pub fn is_subscribed(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Milliseconds since the canary last came back.
    pub fn canary_age_ms(&self) -> u64 {
        let at = self.canary_at_ms.load(Ordering::Relaxed);
        u64::try_from(chrono::Utc::now().timestamp_millis() - at).unwrap_or(0)
    }

    /// Subscribed, and the canary came back within `deadline`: messages published now are delivered.
    pub fn is_proven(&self, deadline: Duration) -> bool {
        self.is_subscribed() && u128::from(self.canary_age_ms()) <= deadline.as_millis()
    }

    fn canary_seen(&self) {
        self.canary_at_ms.store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
    }

    pub fn stats(&self) -> PubSubStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PubSubStats {
            subscribed: self.is_subscribed(),
            received: get(&self.received),
            delivered: get(&self.delivered),
            malformed: get(&self.malformed),
            failed: get(&self.failed),
            reconnects: get(&self.reconnects),
            subscriptions_lost: get(&self.lost),
            canary_age_ms: self.canary_age_ms(),
        }
    }
}

/// Why a live subscription ended.
#[derive(Debug, Error)]
enum Lost {
    #[error("the connection closed")]
    Closed,
    #[error("the keep-alive PING failed: {0}")]
    PingFailed(#[source] redis::RedisError),
    #[error("the keep-alive PING got no answer within {0} ms")]
    PingTimedOut(u128),
    #[error("no canary came back through the subscription for {0} ms")]
    CanaryMissing(u64),
    #[error("the server unsubscribed channel {0}")]
    Unsubscribed(String),
    #[error("{0}")]
    Cluster(&'static str),
}

/// Runs the subscriber, and the canary it checks itself with, until `shutdown` is cancelled.
pub fn spawn(
    redis: Arc<ResilientRedis>,
    service: Arc<NotificationService>,
    settings: PubSubSettings,
    status: Arc<PubSubStatus>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let canary = publish_canaries(redis.clone(), settings.canary_channel.clone(), settings.canary_interval);
        let subscriber = Subscriber { target: redis.target().clone(), service, settings, status };
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = subscriber.run() => {}
            _ = canary => {}
        }
    })
}

/// Publishes a canary on this node's channel every `every`, through the shared connection (its
/// breaker and timeout): a failed publish is simply a canary that does not come back.
async fn publish_canaries(redis: Arc<ResilientRedis>, channel: String, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let stamp = chrono::Utc::now().timestamp_millis();
        let publish = redis
            .call(|mut con| {
                let channel = channel.clone();
                async move { redis::cmd("PUBLISH").arg(channel).arg(stamp).query_async::<i64>(&mut con).await }
            })
            .await;
        if let Err(e) = publish {
            tracing::debug!(error = %ErrorChain(&e), "could not publish the Pub/Sub canary");
        }
    }
}

struct Subscriber {
    target: RedisTarget,
    service: Arc<NotificationService>,
    settings: PubSubSettings,
    status: Arc<PubSubStatus>,
}

impl Subscriber {
    async fn run(&self) {
        let s = &self.settings;
        let mut subscribed_before = false;
        let mut failures = 0u32;
        let mut delays = backoff::delays(s.reconnect_min_delay, s.reconnect_max_delay);
        loop {
            match self.subscribe().await {
                Ok((sink, stream)) => {
                    if subscribed_before {
                        self.status.reconnects.fetch_add(1, Ordering::Relaxed);
                    }
                    tracing::info!(channels = %s.channels.join(", "), "subscribed to Redis Pub/Sub");
                    subscribed_before = true;
                    failures = 0;
                    delays = backoff::delays(s.reconnect_min_delay, s.reconnect_max_delay);
                    // A fresh subscription gets one canary deadline to prove itself.
                    self.status.canary_seen();
                    self.status.connected.store(true, Ordering::Relaxed);
                    let why = self.pump(sink, stream).await;
                    self.status.connected.store(false, Ordering::Relaxed);
                    let lost = self.status.lost.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::warn!(reason = %why, subscriptions_lost = lost,
                        "lost the Redis Pub/Sub subscription; messages published until it is back are lost; resubscribing");
                }
                Err(e) => {
                    failures += 1;
                    // Loud once per outage, quiet while it lasts.
                    if failures == 1 {
                        tracing::warn!(error = %crate::domain::ErrorChain(&e), "cannot subscribe to Redis Pub/Sub; retrying with backoff");
                    } else {
                        tracing::debug!(error = %crate::domain::ErrorChain(&e), attempt = failures, "Redis Pub/Sub subscribe failed");
                    }
                }
            }
            tokio::time::sleep(delays.next().unwrap_or(s.reconnect_max_delay)).await;
        }
    }

    async fn subscribe(&self) -> redis::RedisResult<(SubSink, SubStream)> {
        let attempt = async {
            let (mut sink, stream) = subscription::open(&self.target, false, self.settings.timeout).await?;
            sink.subscribe(&self.settings.channels).await?;
            sink.subscribe(std::slice::from_ref(&self.settings.canary_channel)).await?;
            Ok((sink, stream))
        };
        match tokio::time::timeout(self.settings.timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(redis::RedisError::from((redis::ErrorKind::IoError, "timed out subscribing"))),
        }
    }

    /// Handles messages until the connection is gone; returns why.
    async fn pump(&self, mut sink: SubSink, mut stream: SubStream) -> Lost {
        let mut keepalive = tokio::time::interval(self.settings.keepalive_interval);
        // A slow message must not be followed by a burst of PINGs.
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        keepalive.tick().await;
        let mut canary_check = tokio::time::interval(self.settings.canary_interval);
        canary_check.tick().await;
        loop {
            tokio::select! {
                message = stream.next() => match message {
                    Some(Received::Message { channel, .. }) if channel == self.settings.canary_channel => {
                        self.status.canary_seen();
                    }
                    Some(Received::Message { channel, payload }) => self.handle(&channel, &payload).await,
                    Some(Received::Unsubscribed(channel)) => return Lost::Unsubscribed(channel),
                    Some(Received::Lost(why)) => return Lost::Cluster(why),
                    None => return Lost::Closed,
                },
                _ = canary_check.tick() => {
                    // A subscription can go quiet without its connection closing (a Redis failover,
                    // a half-open link): the canary not coming back is what shows it.
                    let age = self.status.canary_age_ms();
                    if u128::from(age) > self.settings.canary_deadline().as_millis() {
                        return Lost::CanaryMissing(age);
                    }
                }
                _ = keepalive.tick() => {
                    match tokio::time::timeout(self.settings.timeout, sink.ping()).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return Lost::PingFailed(e),
                        Err(_) => return Lost::PingTimedOut(self.settings.timeout.as_millis()),
                    }
                }
            }
        }
    }

    /// Each message is the root of its own trace, like an HTTP request without `traceparent`.
    #[tracing::instrument(
        name = "pubsub.message",
        parent = None,
        skip_all,
        fields(otel.kind = "consumer", messaging.system = "redis", messaging.destination.name = channel)
    )]
    async fn handle(&self, channel: &str, raw: &[u8]) {
        self.status.received.fetch_add(1, Ordering::Relaxed);
        // In cluster mode every node receives the message and one handles it.
        if !self.service.claim_trigger(channel, raw).await {
            return;
        }
        let message = match pubsub_message::parse(raw) {
            Ok(parsed) => parsed,
            Err(e) => {
                self.status.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(channel, reason = %e, "dropped a malformed Pub/Sub message");
                return;
            }
        };
        let sent = self
            .service
            .send_content(message.tenant, message.content, message.priority, message.ttl, message.target)
            .await;
        match sent {
            Ok(report) => {
                self.status.delivered.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(channel, id = %report.notification_id, delivered_to = report.delivered_to, "Pub/Sub send");
            }
            Err(SendContentError::Content(ResolveError::Store(e))) => {
                self.status.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(channel, error = %ErrorChain(&e), "Pub/Sub send failed: template store unavailable");
            }
            Err(SendContentError::Content(ResolveError::Tenant(e))) => {
                // Unknown or suspended tenant, or over its send quota: counted with the refused messages.
                self.status.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(channel, reason = %e, "dropped a Pub/Sub message its tenant may not send");
            }
            Err(SendContentError::Content(e)) => {
                self.status.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(channel, reason = %e, "dropped a Pub/Sub message whose content is invalid");
            }
            Err(SendContentError::Send(e)) => {
                self.status.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(channel, error = %ErrorChain(&e), "Pub/Sub send failed");
            }
        }
    }
}
