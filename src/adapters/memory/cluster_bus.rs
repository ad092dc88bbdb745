//! The bus of a node on its own: what it publishes to a topic it subscribes to comes back to it.

use std::collections::HashSet;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::domain::cluster::Topic;
use crate::ports::{BusError, BusEvent, BusStream, ClusterBus};

pub struct MemoryBus {
    topics: Mutex<HashSet<String>>,
    tx: mpsc::UnboundedSender<BusEvent>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<BusEvent>>>,
}

impl Default for MemoryBus {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBus {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self { topics: Mutex::new(HashSet::new()), tx, rx: Mutex::new(Some(rx)) }
    }
}

#[async_trait]
impl ClusterBus for MemoryBus {
    async fn publish(&self, batch: &[(Topic, Bytes)]) -> Result<Vec<usize>, BusError> {
        let topics = self.topics.lock();
        let mut reached = Vec::with_capacity(batch.len());
        for (topic, payload) in batch {
            let name = topic.name();
            let heard = topics.contains(&name)
                && self.tx.send(BusEvent::Message { topic: name, payload: payload.clone() }).is_ok();
            reached.push(usize::from(heard));
        }
        Ok(reached)
    }

    async fn subscribe(&self, topic: &Topic) -> Result<(), BusError> {
        self.topics.lock().insert(topic.name());
        Ok(())
    }

    async fn unsubscribe(&self, topic: &Topic) -> Result<(), BusError> {
        self.topics.lock().remove(&topic.name());
        Ok(())
    }

    fn resubscribe(&self) {
        let _ = self.tx.send(BusEvent::Resubscribed);
    }

    fn is_subscribed(&self) -> bool {
        true
    }

    fn stream(&self) -> Option<BusStream> {
        let rx = self.rx.lock().take()?;
        Some(Box::pin(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) })))
    }
}
