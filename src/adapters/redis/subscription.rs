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

use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use redis::aio::{PubSubSink, PubSubStream};
use redis::cluster_async::ClusterConnection;
use redis::{PushInfo, PushKind, RedisResult, Value};
use tokio::sync::mpsc;

use super::connection::RedisTarget;

/// Subscribe commands in flight at once on a cluster while (re)subscribing many channels.
const SUBSCRIBE_CONCURRENCY: usize = 32;
/// Pushes buffered on a cluster subscription beyond which it counts as lost (the crate's push
/// channel cannot wait for a slow reader, so an overflow is a loss, said as such).
const PUSH_BUFFER: usize = 65_536;

#[derive(Clone)]
pub enum SubSink {
    Single(PubSubSink),
    Cluster { con: ClusterConnection, sharded: bool },
}

pub enum SubStream {
    Single(PubSubStream),
    Cluster(mpsc::UnboundedReceiver<PushInfo>),
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

/// Opens a subscription connection, bounded by `timeout`. `sharded` only matters on a cluster.
pub async fn open(target: &RedisTarget, sharded: bool, timeout: Duration) -> RedisResult<(SubSink, SubStream)> {
    let attempt = async {
        match target {
            RedisTarget::Single(client) => {
                let (sink, stream) = client.get_async_pubsub().await?.split();
                Ok((SubSink::Single(sink), SubStream::Single(stream)))
            }
            RedisTarget::Cluster(seeds) => {
                let (tx, rx) = mpsc::unbounded_channel();
                let con = seeds.client(timeout, Some(tx))?.get_async_connection().await?;
                Ok((SubSink::Cluster { con, sharded }, SubStream::Cluster(rx)))
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
            SubSink::Cluster { con, sharded } => {
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

    pub async fn unsubscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            SubSink::Single(sink) => sink.unsubscribe(channel).await,
            SubSink::Cluster { con, sharded: true } => con.sunsubscribe(channel).await,
            SubSink::Cluster { con, sharded: false } => con.unsubscribe(channel).await,
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
            SubStream::Cluster(rx) => loop {
                if rx.len() > PUSH_BUFFER {
                    return Some(Received::Lost("more messages arrived than the node could take"));
                }
                let push = rx.recv().await?;
                if let Some(received) = from_push(push) {
                    return Some(received);
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
