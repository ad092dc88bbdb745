//! The registry of live connections on this node, indexed three ways (connection, user, channel) plus
//! by tenant for broadcasts. Every key is tenant-scoped, so one tenant's sends never reach another's.
//!
//! Each index holds `Arc<ConnectionEntry>`, so a fan-out walks one map and touches no other lock.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use dashmap::DashMap;
use parking_lot::Mutex;
use thiserror::Error;

use crate::domain::{ChannelName, ConnectionId, Identity, TenantId, UserKey};
pub use crate::domain::{Limits, Transport};
use crate::ports::{CloseReason, DynSink};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegisterError {
    #[error("server is at its limit of {max} connections")]
    ServerFull { max: usize },
    #[error("user already has {max} connections, the most allowed")]
    UserLimit { max: usize },
    #[error("tenant already has {max} connections on this node, its quota")]
    TenantLimit { max: usize },
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SubscribeError {
    #[error("a connection may subscribe to at most {max} channels")]
    TooMany { max: usize },
    #[error("connection is closed")]
    Closed,
    /// A private channel the connection has no authorization for; names the channel and why.
    #[error("channel {channel} is private: {reason}")]
    Forbidden { channel: String, reason: String },
}

impl SubscribeError {
    /// The code both transports answer with (an `error` frame, or the HTTP refusal of a stream).
    pub fn code(&self) -> &'static str {
        match self {
            SubscribeError::TooMany { .. } => "SUBSCRIPTION_LIMIT",
            SubscribeError::Closed => "CONNECTION_CLOSED",
            SubscribeError::Forbidden { .. } => "CHANNEL_FORBIDDEN",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ChannelKey {
    tenant: TenantId,
    channel: ChannelName,
}

/// One live connection.
pub struct ConnectionEntry {
    pub id: ConnectionId,
    pub identity: Identity,
    pub transport: Transport,
    pub connected_at: DateTime<Utc>,
    pub sink: DynSink,
    channels: Mutex<HashSet<ChannelName>>,
    last_activity_ms: AtomicI64,
    closed: AtomicBool,
    /// The token the client connected (or last refreshed) with; empty for connections made without.
    pub token: super::TokenSlot,
}

impl ConnectionEntry {
    /// Records a sign of life from the client (any frame, pong, or ACK).
    pub fn touch(&self, now: DateTime<Utc>) {
        self.last_activity_ms.store(now.timestamp_millis(), Ordering::Relaxed);
    }

    pub fn idle_for_ms(&self, now: DateTime<Utc>) -> i64 {
        now.timestamp_millis() - self.last_activity_ms.load(Ordering::Relaxed)
    }

    pub fn channels(&self) -> Vec<ChannelName> {
        let mut v: Vec<_> = self.channels.lock().iter().cloned().collect();
        v.sort();
        v
    }
}

#[derive(Default)]
pub struct ConnectionRegistry {
    next_id: AtomicU64,
    total: AtomicUsize,
    connections: DashMap<ConnectionId, Arc<ConnectionEntry>>,
    users: DashMap<UserKey, Vec<Arc<ConnectionEntry>>>,
    channels: DashMap<ChannelKey, HashMap<ConnectionId, Arc<ConnectionEntry>>>,
    tenants: DashMap<TenantId, HashMap<ConnectionId, Arc<ConnectionEntry>>>,
}

impl ConnectionRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes connection ids start above `base` (cluster mode gives each node incarnation its own
    /// range, so ids are unique cluster-wide). Call before the first registration.
    pub fn set_id_base(&self, base: u64) {
        self.next_id.fetch_max(base, Ordering::Relaxed);
    }

    /// Every user with a live connection here.
    pub fn user_keys(&self) -> Vec<UserKey> {
        self.users.iter().map(|e| e.key().clone()).collect()
    }

    /// Every (tenant, channel) with a subscriber here.
    pub fn channel_keys(&self) -> Vec<(TenantId, ChannelName)> {
        self.channels.iter().map(|e| (e.key().tenant.clone(), e.key().channel.clone())).collect()
    }

    /// Every tenant with a live connection here.
    pub fn tenant_ids(&self) -> Vec<TenantId> {
        self.tenants.iter().map(|e| e.key().clone()).collect()
    }

    pub fn tenant_has_connections(&self, tenant: &TenantId) -> bool {
        self.tenants.contains_key(tenant)
    }

    /// Adds a connection, enforcing the total and per-user limits in force for it.
    pub fn register(
        &self,
        identity: Identity,
        transport: Transport,
        sink: DynSink,
        now: DateTime<Utc>,
        limits: &Limits,
    ) -> Result<Arc<ConnectionEntry>, RegisterError> {
        let max = limits.max_connections;
        if self.total.fetch_add(1, Ordering::AcqRel) >= max {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Err(RegisterError::ServerFull { max });
        }
        let entry = Arc::new(ConnectionEntry {
            id: ConnectionId(self.next_id.fetch_add(1, Ordering::Relaxed) + 1),
            identity,
            transport,
            connected_at: now,
            sink,
            channels: Mutex::new(HashSet::new()),
            last_activity_ms: AtomicI64::new(now.timestamp_millis()),
            closed: AtomicBool::new(false),
            token: super::TokenSlot::default(),
        });
        {
            // Counted and inserted under the tenant's entry lock, so concurrent connects cannot both
            // take the last place.
            let mut conns = self.tenants.entry(entry.identity.tenant.clone()).or_default();
            if let Some(max) = limits.max_tenant_connections.filter(|max| conns.len() >= *max) {
                drop(conns);
                self.tenants.remove_if(&entry.identity.tenant, |_, conns| conns.is_empty());
                self.total.fetch_sub(1, Ordering::AcqRel);
                return Err(RegisterError::TenantLimit { max });
            }
            conns.insert(entry.id, entry.clone());
        }
        {
            let mut devices = self.users.entry(entry.identity.key()).or_default();
            if devices.len() >= limits.max_connections_per_user {
                drop(devices);
                self.tenants.remove_if_mut(&entry.identity.tenant, |_, conns| {
                    conns.remove(&entry.id);
                    conns.is_empty()
                });
                self.total.fetch_sub(1, Ordering::AcqRel);
                return Err(RegisterError::UserLimit { max: limits.max_connections_per_user });
            }
            devices.push(entry.clone());
        }
        self.connections.insert(entry.id, entry.clone());
        Ok(entry)
    }

    /// Removes a connection from every index. Safe to call more than once.
    pub fn unregister(&self, id: ConnectionId) -> bool {
        let Some((_, entry)) = self.connections.remove(&id) else {
            return false;
        };
        entry.closed.store(true, Ordering::Release);
        let subscribed: Vec<ChannelName> = entry.channels.lock().drain().collect();
        for channel in subscribed {
            self.remove_from_channel(&entry, channel);
        }
        self.users.remove_if_mut(&entry.identity.key(), |_, devices| {
            devices.retain(|d| d.id != id);
            devices.is_empty()
        });
        self.tenants.remove_if_mut(&entry.identity.tenant, |_, conns| {
            conns.remove(&id);
            conns.is_empty()
        });
        self.total.fetch_sub(1, Ordering::AcqRel);
        true
    }

    /// Subscribes to `channels`; returns the ones that were new. All or nothing on the limit of `max`
    /// channels per connection.
    pub fn subscribe(
        &self,
        entry: &Arc<ConnectionEntry>,
        channels: &[ChannelName],
        max: usize,
    ) -> Result<Vec<ChannelName>, SubscribeError> {
        let mut mine = entry.channels.lock();
        if entry.closed.load(Ordering::Acquire) {
            return Err(SubscribeError::Closed);
        }
        let fresh: Vec<ChannelName> =
            channels.iter().filter(|c| !mine.contains(*c)).cloned().collect::<HashSet<_>>().into_iter().collect();
        if mine.len() + fresh.len() > max {
            return Err(SubscribeError::TooMany { max });
        }
        for channel in &fresh {
            mine.insert(channel.clone());
            let key = ChannelKey { tenant: entry.identity.tenant.clone(), channel: channel.clone() };
            self.channels.entry(key).or_default().insert(entry.id, entry.clone());
        }
        Ok(fresh)
    }

    /// Unsubscribes from `channels`; returns the ones the connection had.
    pub fn unsubscribe(&self, entry: &Arc<ConnectionEntry>, channels: &[ChannelName]) -> Vec<ChannelName> {
        let mut mine = entry.channels.lock();
        let mut removed = Vec::new();
        for channel in channels {
            if mine.remove(channel) {
                self.remove_from_channel(entry, channel.clone());
                removed.push(channel.clone());
            }
        }
        removed
    }

    fn remove_from_channel(&self, entry: &ConnectionEntry, channel: ChannelName) {
        let key = ChannelKey { tenant: entry.identity.tenant.clone(), channel };
        self.channels.remove_if_mut(&key, |_, subs| {
            subs.remove(&entry.id);
            subs.is_empty()
        });
    }

    pub fn get(&self, id: ConnectionId) -> Option<Arc<ConnectionEntry>> {
        self.connections.get(&id).map(|e| e.clone())
    }

    /// Calls `f` for every connection of `user`.
    pub fn for_each_of_user(&self, user: &UserKey, mut f: impl FnMut(&Arc<ConnectionEntry>)) -> usize {
        match self.users.get(user) {
            Some(devices) => {
                devices.iter().for_each(&mut f);
                devices.len()
            }
            None => 0,
        }
    }

    pub fn user_is_online(&self, user: &UserKey) -> bool {
        self.users.contains_key(user)
    }

    /// Calls `f` for every subscriber of the tenant's `channel`.
    pub fn for_each_in_channel(
        &self,
        tenant: &TenantId,
        channel: &ChannelName,
        mut f: impl FnMut(&Arc<ConnectionEntry>),
    ) {
        let key = ChannelKey { tenant: tenant.clone(), channel: channel.clone() };
        if let Some(subs) = self.channels.get(&key) {
            subs.values().for_each(&mut f);
        }
    }

    /// Calls `f` for every connection of `tenant`.
    pub fn for_each_in_tenant(&self, tenant: &TenantId, mut f: impl FnMut(&Arc<ConnectionEntry>)) {
        if let Some(conns) = self.tenants.get(tenant) {
            conns.values().for_each(&mut f);
        }
    }

    /// Asks every connection to close (used at shutdown and by the idle sweeper).
    pub fn close_all(&self, reason: CloseReason) {
        for entry in self.connections.iter() {
            entry.sink.close(reason.clone());
        }
    }

    /// Closes connections silent for longer than `timeout(tenant)`; returns how many.
    pub fn close_idle_by(&self, now: DateTime<Utc>, timeout: impl Fn(&TenantId) -> std::time::Duration) -> usize {
        let mut closed = 0;
        for entry in self.connections.iter() {
            let limit = i64::try_from(timeout(&entry.identity.tenant).as_millis()).unwrap_or(i64::MAX);
            if entry.idle_for_ms(now) > limit {
                entry.sink.close(CloseReason::Idle);
                closed += 1;
            }
        }
        closed
    }

    /// The tenant's channels with their subscriber counts, sorted by name.
    pub fn channels_of(&self, tenant: &TenantId) -> Vec<(ChannelName, usize)> {
        let mut list: Vec<_> = self
            .channels
            .iter()
            .filter(|e| &e.key().tenant == tenant)
            .map(|e| (e.key().channel.clone(), e.value().len()))
            .collect();
        list.sort();
        list
    }

    /// Subscribers of one channel, or `None` when nobody is subscribed.
    pub fn channel_subscribers(&self, tenant: &TenantId, channel: &ChannelName) -> Option<usize> {
        let key = ChannelKey { tenant: tenant.clone(), channel: channel.clone() };
        self.channels.get(&key).map(|subs| subs.len())
    }

    /// A user's live connection count and the union of their channels, or `None` when offline.
    pub fn subscriptions_of(&self, user: &UserKey) -> Option<(usize, Vec<ChannelName>)> {
        let devices = self.users.get(user)?;
        let mut channels: Vec<ChannelName> =
            devices.iter().flat_map(|d| d.channels()).collect::<HashSet<_>>().into_iter().collect();
        channels.sort();
        Some((devices.len(), channels))
    }

    /// Live connections by transport: (WebSocket, SSE).
    pub fn transport_counts(&self) -> (usize, usize) {
        let sse = self.connections.iter().filter(|e| e.transport == Transport::Sse).count();
        let total = self.connections.len();
        (total.saturating_sub(sse), sse)
    }

    /// Channel subscriptions across all connections.
    pub fn subscription_count(&self) -> usize {
        self.channels.iter().map(|e| e.value().len()).sum()
    }

    /// One tenant's live connections, users and channels on this node.
    pub fn tenant_counts(&self, tenant: &TenantId) -> (usize, usize, usize) {
        let connections = self.tenants.get(tenant).map_or(0, |c| c.len());
        let users = self.users.iter().filter(|e| &e.key().tenant == tenant).count();
        let channels = self.channels.iter().filter(|e| &e.key().tenant == tenant).count();
        (connections, users, channels)
    }

    /// Live connections of one tenant.
    pub fn tenant_connection_count(&self, tenant: &TenantId) -> usize {
        self.tenants.get(tenant).map_or(0, |c| c.len())
    }

    /// Live connections per tenant.
    pub fn tenant_connection_counts(&self) -> Vec<(TenantId, usize)> {
        self.tenants.iter().map(|e| (e.key().clone(), e.value().len())).collect()
    }

    /// Asks every connection of `tenant` to close; returns how many.
    pub fn close_tenant(&self, tenant: &TenantId, reason: CloseReason) -> usize {
        let entries: Vec<Arc<ConnectionEntry>> =
            self.tenants.get(tenant).map(|c| c.values().cloned().collect()).unwrap_or_default();
        for entry in &entries {
            entry.sink.close(reason.clone());
        }
        entries.len()
    }

    pub fn connection_count(&self) -> usize {
        self.connections.len()
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
