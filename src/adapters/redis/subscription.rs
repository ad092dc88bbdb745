//! A Pub/Sub subscription on one server or on a Redis Cluster, for the cluster bus and the Pub/Sub
//! trigger: a cloneable [`SubSink`] to (un)subscribe and PING, and a [`SubStream`] of what arrives.
//!
//! On a cluster the subscription is a cluster connection on RESP3 whose nodes push into a channel
//! of ours. Sharded channels (`SSUBSCRIBE`) are subscribed on the master of their slot, one channel
//! per command (a command's channels must share a slot); plain ones anywhere (a plain `PUBLISH`
//! reaches every node). The crate would resubscribe by itself after a node's connection drops, but
//! what was published meanwhile is gone without a word, so a dropped node connection, or a sharded
//! channel the server unsubscribed us from (its slot moved to another master), ends the stream's
//! subscription ([`Received::Lost`]): the caller starts over and says that something may be lost.
//!
//! On RESP3 the reply to our own (S)UNSUBSCRIBE is a push like the server's own unsubscription, and
//! it may be read after the same channel was subscribed again; so the sink counts the unsubscribes
//! it sent per channel, the stream takes one of those off for each unsubscribe push, and only the
//! rest reach the caller as [`Received::Unsubscribed`]. Subscribe confirmations need no such count:
//! they are replies the crate hands back to the caller as well, and the stream drops them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use parking_lot::Mutex;
use redis::aio::{AsyncPushSender, PubSubSink, PubSubStream, SendError};
use redis::cluster_async::ClusterConnection;
use redis::{PushInfo, PushKind, RedisResult, Value};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, Notify};

use super::connection::RedisTarget;

/// Subscribe commands in flight at once on a cluster while (re)subscribing many channels.
const SUBSCRIBE_CONCURRENCY: usize = 32;
/// Pushes buffered on a cluster subscription beyond which it counts as lost: the crate hands pushes
/// over without waiting (it cannot hold up a node's connection for a slow reader), so a full buffer
/// drops one and the stream then says the subscription is lost, as a single server does by closing
/// a subscriber that cannot keep up.
const PUSH_BUFFER: usize = 65_536;

#[derive(Clone)]
pub enum SubSink {
    Single(PubSubSink),
    Cluster { con: ClusterConnection, sharded: bool, state: Arc<ClusterState> },
}

pub enum SubStream {
    Single(PubSubStream),
    Cluster { pushes: mpsc::Receiver<PushInfo>, state: Arc<ClusterState> },
}

/// What a cluster subscription's sink and stream share.
#[derive(Default)]
pub struct ClusterState {
    /// Unsubscribes sent per channel whose push has not been read yet.
    own_unsubscribes: Mutex<HashMap<String, u32>>,
    /// A push was dropped because the buffer was full.
    overflowed: AtomicBool,
    /// An unsubscribe failed: whether the server got it, so whose the channel's next unsubscribe
    /// push is, is unknown.
    unsure: AtomicBool,
    /// Wakes the stream to look at `unsure`.
    wake: Notify,
}

impl ClusterState {
    /// Whether an unsubscribe push for `channel` answers one of ours (and takes it off).
    fn answers_own_unsubscribe(&self, channel: &str) -> bool {
        let mut own = self.own_unsubscribes.lock();
        match own.get_mut(channel) {
            Some(1) => {
                own.remove(channel);
                true
            }
            Some(n) => {
                *n -= 1;
                true
            }
            None => false,
        }
    }
}

/// Hands the crate's pushes to the stream without waiting, noting an overflow.
struct PushSender {
    tx: mpsc::Sender<PushInfo>,
    state: Arc<ClusterState>,
}

impl AsyncPushSender for PushSender {
    fn send(&self, info: PushInfo) -> Result<(), SendError> {
        match self.tx.try_send(info) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.state.overflowed.store(true, Ordering::Release);
                Err(SendError)
            }
            Err(TrySendError::Closed(_)) => Err(SendError),
        }
    }
}

/// What a subscription delivers.
pub enum Received {
    Message {
        channel: String,
        payload: Vec<u8>,
    },
    /// The server ended the subscription of this channel (on a cluster: its slot moved).
    Unsubscribed(String),
    /// The subscription cannot be trusted any more; why.
    Lost(&'static str),
}

/// What the crate sends a cluster subscription's pushes into, what the stream reads them from, and
/// the state the two share with the sink.
fn push_channel(capacity: usize) -> (Arc<dyn AsyncPushSender>, mpsc::Receiver<PushInfo>, Arc<ClusterState>) {
    let (tx, pushes) = mpsc::channel(capacity);
    let state = Arc::new(ClusterState::default());
    (Arc::new(PushSender { tx, state: state.clone() }), pushes, state)
}

/// Opens a subscription connection, bounded by `timeout`. `sharded` only matters on a cluster.
pub async fn open(target: &RedisTarget, sharded: bool, timeout: Duration) -> RedisResult<(SubSink, SubStream)> {
    let attempt = async {
        match target {
            RedisTarget::Single(client) => {
                let (sink, stream) = client.get_async_pubsub().await?.split();
                Ok((SubSink::Single(sink), SubStream::Single(stream)))
            }
            RedisTarget::Cluster(seeds) => {
                let (sender, pushes, state) = push_channel(PUSH_BUFFER);
                let con = seeds.client(timeout, Some(sender))?.get_async_connection().await?;
                Ok((SubSink::Cluster { con, sharded, state: state.clone() }, SubStream::Cluster { pushes, state }))
            }
        }
    };
    bounded(timeout, attempt).await
}

/// `call`, or an I/O error once `limit` has passed.
pub async fn bounded<T>(limit: Duration, call: impl std::future::Future<Output = RedisResult<T>>) -> RedisResult<T> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result,
        Err(_) => Err(redis::RedisError::from((redis::ErrorKind::IoError, "timed out"))),
    }
}

impl SubSink {
    pub async fn subscribe(&mut self, channels: &[String]) -> RedisResult<()> {
        match self {
            SubSink::Single(sink) => sink.subscribe(channels).await,
            SubSink::Cluster { con, sharded, .. } => {
                let sharded = *sharded;
                futures_util::stream::iter(channels.iter().cloned().map(Ok))
                    .try_for_each_concurrent(SUBSCRIBE_CONCURRENCY, |channel| {
                        let mut con = con.clone();
                        async move {
                            if sharded {
                                con.ssubscribe(channel).await
                            } else {
                                con.subscribe(channel).await
                            }
                        }
                    })
                    .await
            }
        }
    }

    /// On a cluster an error leaves it unknown whether the server got the unsubscribe, so whether an
    /// unsubscribe push of the channel is still ours: the stream then says the subscription is lost.
    pub async fn unsubscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            SubSink::Single(sink) => sink.unsubscribe(channel).await,
            SubSink::Cluster { con, sharded, state } => {
                // Counted before sending: the push may be read before the reply is.
                *state.own_unsubscribes.lock().entry(channel.to_owned()).or_default() += 1;
                let result = if *sharded { con.sunsubscribe(channel).await } else { con.unsubscribe(channel).await };
                if result.is_err() {
                    state.unsure.store(true, Ordering::Release);
                    state.wake.notify_one();
                }
                result
            }
        }
    }

    /// A keep-alive PING; on a cluster it goes to every master, so any unreachable one fails it.
    pub async fn ping(&mut self) -> RedisResult<()> {
        match self {
            // A subscribed connection answers PING with `["pong", ""]`, not `PONG`: any reply that
            // is not an error proves the connection alive.
            SubSink::Single(sink) => sink.ping::<Value>().await.map(|_| ()),
            SubSink::Cluster { con, .. } => redis::cmd("PING").query_async::<Value>(con).await.map(|_| ()),
        }
    }
}

impl SubStream {
    /// The next message or event; `None` once the connection is gone.
    pub async fn next(&mut self) -> Option<Received> {
        match self {
            SubStream::Single(stream) => {
                let message = stream.next().await?;
                Some(Received::Message {
                    channel: message.get_channel_name().to_owned(),
                    payload: message.get_payload_bytes().to_vec(),
                })
            }
            SubStream::Cluster { pushes, state } => loop {
                if state.overflowed.load(Ordering::Acquire) {
                    return Some(Received::Lost("more messages arrived than the node could take"));
                }
                if state.unsure.load(Ordering::Acquire) {
                    return Some(Received::Lost("an unsubscribe failed, so the subscribed channels are unknown"));
                }
                let push = tokio::select! {
                    push = pushes.recv() => push?,
                    () = state.wake.notified() => continue,
                };
                match from_push(push) {
                    Some(Received::Unsubscribed(channel)) if state.answers_own_unsubscribe(&channel) => {}
                    Some(received) => return Some(received),
                    None => {}
                }
            },
        }
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// `None` for pushes that need no action (subscription confirmations).
fn from_push(push: PushInfo) -> Option<Received> {
    match push.kind {
        PushKind::Message | PushKind::SMessage => {
            let mut data = push.data.into_iter();
            let channel = data.next().as_ref().and_then(text)?;
            let payload = match data.next()? {
                Value::BulkString(bytes) => bytes,
                Value::SimpleString(s) => s.into_bytes(),
                _ => return None,
            };
            Some(Received::Message { channel, payload })
        }
        PushKind::Unsubscribe | PushKind::SUnsubscribe => push.data.first().and_then(text).map(Received::Unsubscribed),
        PushKind::Disconnection => Some(Received::Lost("a connection to a cluster node closed")),
        _ => None,
    }
}

#[cfg(test)]
#[path = "subscription_tests.rs"]
mod tests;
