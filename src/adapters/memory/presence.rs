//! Presence for one node on its own (`CLUSTER_SESSION_STORE=local`): the same contract as the Redis
//! adapter, kept in this process. [`MemoryPresence::handle`] gives a second view on the same store
//! that acts as another process, which is how the contract suite checks id claims.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::domain::cluster::{NodeCount, NodeId, NodeStatus, PresenceKey};
use crate::ports::{Heartbeat, LeaseToken, Presence, PresenceError};

struct Node {
    owner: u64,
    expires: Instant,
    connections: usize,
}

#[derive(Default)]
struct State {
    joins: u64,
    handles: u64,
    nodes: HashMap<NodeId, Node>,
    counts: HashMap<String, HashMap<NodeId, usize>>,
    leases: HashMap<String, (String, Instant)>,
    claims: HashMap<String, Instant>,
}

impl State {
    fn live(&self, node: &NodeId, now: Instant) -> bool {
        self.nodes.get(node).is_some_and(|n| n.expires > now)
    }

    fn forget_node(&mut self, node: &NodeId) {
        self.nodes.remove(node);
        for holders in self.counts.values_mut() {
            holders.remove(node);
        }
        self.counts.retain(|_, holders| !holders.is_empty());
    }
}

pub struct MemoryPresence {
    state: Arc<Mutex<State>>,
    /// Which "process" this view is.
    me: u64,
}

impl Default for MemoryPresence {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryPresence {
    pub fn new() -> Self {
        let state = Arc::new(Mutex::new(State { handles: 1, ..State::default() }));
        Self { state, me: 1 }
    }

    /// Another process's view of the same store.
    pub fn handle(&self) -> Self {
        let me = {
            let mut s = self.state.lock();
            s.handles += 1;
            s.handles
        };
        Self { state: self.state.clone(), me }
    }
}

#[async_trait]
impl Presence for MemoryPresence {
    async fn join(&self, node: &NodeId, ttl: Duration) -> Result<u64, PresenceError> {
        let now = Instant::now();
        let mut s = self.state.lock();
        if s.nodes.get(node).is_some_and(|n| n.expires > now && n.owner != self.me) {
            return Err(PresenceError::NodeIdTaken(node.clone()));
        }
        // What an earlier process of this id counted is not this one's.
        s.forget_node(node);
        s.nodes.insert(node.clone(), Node { owner: self.me, expires: now + ttl, connections: 0 });
        s.joins += 1;
        Ok(s.joins)
    }

    async fn heartbeat(&self, node: &NodeId, connections: usize, ttl: Duration) -> Result<Heartbeat, PresenceError> {
        let now = Instant::now();
        let mut s = self.state.lock();
        match s.nodes.get_mut(node) {
            Some(n) if n.owner != self.me && n.expires > now => Err(PresenceError::NodeIdTaken(node.clone())),
            Some(n) if n.owner == self.me && n.expires > now => {
                n.expires = now + ttl;
                n.connections = connections;
                Ok(Heartbeat::Kept)
            }
            _ => {
                // Lapsed: what it counted went with it, as other nodes' sweeps do in Redis.
                s.forget_node(node);
                s.nodes.insert(node.clone(), Node { owner: self.me, expires: now + ttl, connections });
                Ok(Heartbeat::Retaken)
            }
        }
    }

    async fn leave(&self, node: &NodeId) -> Result<(), PresenceError> {
        let mut s = self.state.lock();
        if s.nodes.get(node).is_some_and(|n| n.owner == self.me) {
            s.forget_node(node);
        }
        Ok(())
    }

    async fn nodes(&self) -> Result<Vec<NodeStatus>, PresenceError> {
        let now = Instant::now();
        let s = self.state.lock();
        let mut list: Vec<NodeStatus> = s
            .nodes
            .iter()
            .filter(|(_, n)| n.expires > now)
            .map(|(id, n)| NodeStatus { node_id: id.clone(), connections: n.connections })
            .collect();
        list.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        Ok(list)
    }

    async fn set_counts(&self, node: &NodeId, counts: &[(PresenceKey, usize)]) -> Result<(), PresenceError> {
        let mut s = self.state.lock();
        for (key, count) in counts {
            let name = key.name();
            if *count == 0 {
                if let Some(holders) = s.counts.get_mut(&name) {
                    holders.remove(node);
                    if holders.is_empty() {
                        s.counts.remove(&name);
                    }
                }
            } else {
                s.counts.entry(name).or_default().insert(node.clone(), *count);
            }
        }
        Ok(())
    }

    async fn counts(&self, keys: &[PresenceKey]) -> Result<Vec<Vec<NodeCount>>, PresenceError> {
        let now = Instant::now();
        let s = self.state.lock();
        Ok(keys
            .iter()
            .map(|key| {
                let mut found: Vec<NodeCount> = s
                    .counts
                    .get(&key.name())
                    .into_iter()
                    .flatten()
                    .filter(|(node, count)| **count > 0 && s.live(node, now))
                    .map(|(node, count)| NodeCount { node_id: node.clone(), connections: *count })
                    .collect();
                found.sort_by(|a, b| a.node_id.cmp(&b.node_id));
                found
            })
            .collect())
    }

    async fn lock(&self, key: &PresenceKey, hold: Duration) -> Result<Option<LeaseToken>, PresenceError> {
        let now = Instant::now();
        let mut s = self.state.lock();
        let name = key.name();
        if s.leases.get(&name).is_some_and(|(_, until)| *until > now) {
            return Ok(None);
        }
        let token = uuid::Uuid::new_v4().simple().to_string();
        s.leases.insert(name, (token.clone(), now + hold));
        Ok(Some(LeaseToken(token)))
    }

    async fn unlock(&self, key: &PresenceKey, token: &LeaseToken) -> Result<(), PresenceError> {
        let mut s = self.state.lock();
        let name = key.name();
        if s.leases.get(&name).is_some_and(|(held, _)| *held == token.0) {
            s.leases.remove(&name);
        }
        Ok(())
    }

    async fn claim(&self, name: &str, window: Duration) -> Result<bool, PresenceError> {
        let now = Instant::now();
        let mut s = self.state.lock();
        s.claims.retain(|_, until| *until > now);
        if s.claims.contains_key(name) {
            return Ok(false);
        }
        s.claims.insert(name.to_owned(), now + window);
        Ok(true)
    }

    async fn names_held(&self, prefix: &str) -> Result<Vec<String>, PresenceError> {
        let now = Instant::now();
        let s = self.state.lock();
        let mut found: Vec<String> = s
            .counts
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .filter(|(_, holders)| holders.iter().any(|(node, count)| *count > 0 && s.live(node, now)))
            .map(|(name, _)| name.clone())
            .collect();
        found.sort();
        Ok(found)
    }
}
