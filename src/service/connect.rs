//! Bringing a client online: authenticate it, register its connection (replaying its user's queue
//! into it first), and the handle through which its transport acts until the connection ends.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::bounded::{bounded, within, Outage};
use super::{AckFailure, NotificationService, QueueConfig};
use crate::delivery::frame::notification_frame;
use crate::delivery::{connection_queue, ConnectionEntry, QueueReceiver, RegisterError, SubscribeError};
use crate::domain::ack::AckReceipt;
use crate::domain::{
    ChannelName, ConnectionId, ConnectionPolicy, ErrorChain, Identity, Notification, Transport, UserKey, VerifiedToken,
};
use crate::ports::{AuthError, CloseReason, ConnectionInfo, DynSink, OutboundFrame, QueueError, SinkError};

/// Why a client could not connect.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("server is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Register(#[from] RegisterError),
    #[error(transparent)]
    Subscribe(#[from] SubscribeError),
    /// Whether the token was revoked cannot be told now; it is refused rather than let in.
    #[error("token revocations cannot be checked right now")]
    RevocationUnavailable(#[source] crate::ports::RevocationError),
    #[error(transparent)]
    Tenant(#[from] super::tenants::TenantRefusal),
}

impl NotificationService {
    /// Verifies a client's token (`None`: it sent none); refuses everyone once shutdown has begun.
    pub async fn authenticate(&self, token: Option<&str>) -> Result<VerifiedToken, ConnectError> {
        if self.closing.load(Ordering::Acquire) {
            return Err(ConnectError::ShuttingDown);
        }
        let token = token.ok_or(AuthError::Missing)?;
        self.verify_unrevoked(token).await
    }

    /// The policy a connection of `identity` would be opened with.
    pub fn connection_policy(&self, identity: &Identity) -> ConnectionPolicy {
        self.policies.connection(&identity.tenant)
    }

    /// Registers a connection with its outbound queue and `channels` subscribed. When it brings its
    /// user online, the user's queue is replayed into it first (the other devices that connect while
    /// one is live receive only live notifications). `resume_after` (SSE's `Last-Event-ID`) skips, and
    /// removes, queued entries up to that id. A refused connection replays (and tracks) nothing.
    pub async fn connect(
        self: &Arc<Self>,
        identity: Identity,
        transport: Transport,
        resume_after: Option<Uuid>,
        channels: &[ChannelName],
    ) -> Result<(ConnectionHandle, QueueReceiver), ConnectError> {
        self.open(identity, None, transport, resume_after, channels).await
    }

    /// [`NotificationService::connect`] for a client that authenticated with `token`: the connection
    /// holds it, is told before it expires and closed once it has (unless refreshed), and is subject
    /// to its revocation and to the private channels it grants.
    pub async fn connect_verified(
        self: &Arc<Self>,
        token: VerifiedToken,
        transport: Transport,
        resume_after: Option<Uuid>,
        channels: &[ChannelName],
    ) -> Result<(ConnectionHandle, QueueReceiver), ConnectError> {
        let identity = token.identity.clone();
        self.open(identity, Some(token), transport, resume_after, channels).await
    }

    async fn open(
        self: &Arc<Self>,
        identity: Identity,
        token: Option<VerifiedToken>,
        transport: Transport,
        resume_after: Option<Uuid>,
        channels: &[ChannelName],
    ) -> Result<(ConnectionHandle, QueueReceiver), ConnectError> {
        self.admit_tenant(&identity.tenant)?;
        // Before anything is registered or replayed: a refused stream must leave no trace.
        let claim = token.as_ref().map_or(&[][..], |t| t.channels.as_slice());
        if let Some(channel) = channels.iter().find(|c| {
            self.private_channels.is_private(c.as_str())
                && !claim.iter().any(|grant| crate::domain::grant_covers(grant, c.as_str()))
        }) {
            let reason =
                if token.is_some() { "not in the token's channels claim" } else { "the connection has no token" };
            return Err(SubscribeError::Forbidden { channel: channel.to_string(), reason: reason.into() }.into());
        }
        let limits = self.policies.limits(&identity.tenant);
        let distinct = channels.iter().collect::<std::collections::HashSet<_>>().len();
        if distinct > limits.max_subscriptions_per_connection {
            return Err(SubscribeError::TooMany { max: limits.max_subscriptions_per_connection }.into());
        }
        let policy = self.policies.connection(&identity.tenant);
        let (queue, receiver) = connection_queue(policy.outbound_queue_size, policy.slow_consumer);
        let key = identity.key();
        // The tenant's and the user's connections on the other nodes count against the limits here.
        let configured = limits;
        let limits = match &self.cluster {
            Some(cluster) => {
                cluster.ensure_tenant_topic(self, &identity.tenant).await;
                cluster.limits_here(self, &key, &configured).await
            }
            None => configured,
        };
        let entry = match (&self.queue, self.cluster.clone()) {
            (None, None) => self.register(identity, transport, queue, &limits, &configured)?,
            (None, Some(cluster)) => {
                let entry = self.register(identity, transport, queue, &limits, &configured)?;
                cluster.write_user_count(self, &key).await;
                entry
            }
            (Some(store), None) => {
                // Bounded like a send's wait: while the store hangs, a connect goes ahead without its
                // replay (the queue stays intact for the next connection) rather than wait behind
                // pending sends.
                let guard = within(&*self.timer, store.timeout, self.locks.lock(&key)).await;
                let sink: DynSink = queue.clone();
                let replayed = if guard.is_none() {
                    tracing::warn!("the user's offline queue is busy; connecting without replay");
                    Vec::new()
                } else if self.registry.user_is_online(&key) {
                    Vec::new()
                } else {
                    self.replay_into(store, &key, &sink, resume_after).await
                };
                let entry = self.register(identity, transport, queue, &limits, &configured)?;
                drop(guard);
                self.track_replayed(&key, &replayed).await;
                entry
            }
            (Some(store), Some(cluster)) => {
                // The cluster-wide lease on the user's queue, which senders that find the user offline
                // take too: the replay, the registration and presence's count all happen before a
                // sender can look again, so none queues after the replay that should carry its entry.
                let lease = cluster.lease(self, &key, store.timeout).await;
                let sink: DynSink = queue.clone();
                let replayed = match &lease {
                    Ok(Some(_)) => {
                        let located = cluster.locate(self, std::slice::from_ref(&key)).await;
                        let elsewhere =
                            located.remote.first().is_some_and(|r| r.as_ref().is_some_and(|h| !h.is_empty()));
                        if self.registry.user_is_online(&key) || elsewhere {
                            Vec::new()
                        } else {
                            self.replay_into(store, &key, &sink, resume_after).await
                        }
                    }
                    Ok(None) => {
                        tracing::warn!("the user's offline queue is busy; connecting without replay");
                        Vec::new()
                    }
                    Err(_) => {
                        tracing::warn!("presence is unavailable; connecting without replay");
                        Vec::new()
                    }
                };
                let registered = self.register(identity, transport, queue, &limits, &configured);
                if registered.is_ok() {
                    cluster.write_user_count(self, &key).await;
                }
                if let Ok(Some(lease)) = lease {
                    cluster.release(self, lease).await;
                }
                let entry = registered?;
                self.track_replayed(&key, &replayed).await;
                entry
            }
        };
        if let Some(token) = token {
            entry.token.set(token);
        }
        let handle = ConnectionHandle { service: self.clone(), entry, policy, released: AtomicBool::new(false) };
        for observer in &self.observers {
            observer.opened(handle.info());
        }
        if !channels.is_empty() {
            handle.subscribe(channels)?;
        }
        Ok((handle, receiver))
    }

    /// Registers within `limits` (what is left here of the `configured` ones); a refusal names the
    /// configured limit, and by a tenant quota says which.
    fn register(
        &self,
        identity: Identity,
        transport: Transport,
        queue: DynSink,
        limits: &crate::domain::Limits,
        configured: &crate::domain::Limits,
    ) -> Result<Arc<ConnectionEntry>, ConnectError> {
        self.registry.register(identity, transport, queue, self.clock.now(), limits).map_err(|e| {
            let e = match e {
                RegisterError::UserLimit { .. } => {
                    RegisterError::UserLimit { max: configured.max_connections_per_user }
                }
                RegisterError::TenantLimit { max } => {
                    RegisterError::TenantLimit { max: configured.max_tenant_connections.unwrap_or(max) }
                }
                e => e,
            };
            match self.tenant_quota_of(&e) {
                Some(quota) => ConnectError::Tenant(quota.into()),
                None => e.into(),
            }
        })
    }

    async fn track_replayed(&self, key: &UserKey, replayed: &[Arc<Notification>]) {
        let outage = Outage::default();
        for notification in replayed {
            if self.track(std::slice::from_ref(key), notification, &outage).await {
                self.stats.record_acks_tracked(1);
            }
        }
        self.stats.record_replayed(replayed.len() as u64);
        self.stats.record_delivered(replayed.len() as u64);
    }

    /// Queues the user's offline entries into `sink`, oldest first; returns the notifications queued.
    async fn replay_into(
        &self,
        queue: &QueueConfig,
        key: &UserKey,
        sink: &DynSink,
        after: Option<Uuid>,
    ) -> Vec<Arc<Notification>> {
        let now = self.clock.now();
        let max = self.policies.queue(&key.tenant).max_per_user;
        let peek = queue.store.peek(key, max, now);
        let mut items = match bounded(&*self.timer, queue.timeout, peek, QueueError::Unavailable).await {
            Ok(items) => items,
            Err(e) => {
                // The queue stays intact and is replayed on a later connection.
                tracing::warn!(error = %ErrorChain(&e), "could not read the offline queue; connecting without replay");
                return Vec::new();
            }
        };
        // The client saw everything up to `after`, by queue position (ids made on other nodes or in one
        // millisecond need not sort); an id the queue does not hold resumes nothing.
        if let Some(seen) = after.and_then(|last| items.iter().position(|i| i.notification.id == last)) {
            let ids: Vec<Uuid> = items.drain(..=seen).map(|i| i.notification.id).collect();
            self.remove_replayed(key, &ids).await;
        }
        let mut replayed = Vec::with_capacity(items.len());
        for item in items {
            let mut frame = notification_frame(&item.notification);
            frame.replayed = true;
            if sink.try_send(frame).is_err() {
                // What did not fit stays queued for the next connection.
                break;
            }
            replayed.push(item.notification);
        }
        replayed
    }

    async fn remove_replayed(&self, key: &UserKey, ids: &[Uuid]) {
        let Some(queue) = &self.queue else { return };
        let remove = queue.store.remove(key, ids);
        if let Err(e) = bounded(&*self.timer, queue.timeout, remove, QueueError::Unavailable).await {
            tracing::warn!(error = %ErrorChain(&e), "could not remove replayed entries; they may be replayed again");
        }
    }
}

/// One live connection, as its transport sees it. Closing or dropping it unregisters the connection
/// (once), telling every observer.
pub struct ConnectionHandle {
    pub(super) service: Arc<NotificationService>,
    pub(super) entry: Arc<ConnectionEntry>,
    policy: ConnectionPolicy,
    released: AtomicBool,
}

impl ConnectionHandle {
    pub fn id(&self) -> ConnectionId {
        self.entry.id
    }

    pub fn identity(&self) -> &Identity {
        &self.entry.identity
    }

    pub fn transport(&self) -> Transport {
        self.entry.transport
    }

    /// What the connection was opened with: queue size, heartbeat, timeouts.
    pub fn policy(&self) -> &ConnectionPolicy {
        &self.policy
    }

    pub fn channels(&self) -> Vec<ChannelName> {
        self.entry.channels()
    }

    fn info(&self) -> ConnectionInfo<'_> {
        ConnectionInfo { id: self.entry.id, identity: &self.entry.identity, transport: self.entry.transport }
    }

    /// Records a sign of life from the client (any frame, pong, or ACK).
    pub fn touch(&self, now: DateTime<Utc>) {
        self.entry.touch(now);
    }

    pub fn idle_for_ms(&self, now: DateTime<Utc>) -> i64 {
        self.entry.idle_for_ms(now)
    }

    /// Subscribes to `channels` within the tenant's limit; returns the ones that were new.
    pub fn subscribe(&self, channels: &[ChannelName]) -> Result<Vec<ChannelName>, SubscribeError> {
        self.authorize(channels, None)?;
        self.subscribe_authorized(channels)
    }

    /// [`ConnectionHandle::subscribe`] with a channel subscription token: a JWT (same keys as the
    /// connection's) for this connection's user and tenant whose `channel` claim opens one private
    /// channel, beside those the connection token's `channels` claim grants.
    pub async fn subscribe_with_token(
        &self,
        channels: &[ChannelName],
        subscription_token: &str,
    ) -> Result<Vec<ChannelName>, SubscribeError> {
        let needs_token =
            channels.iter().any(|c| self.service.private_channels.is_private(c.as_str()) && !self.granted(c));
        let opened = if needs_token {
            match self.service.verify_unrevoked(subscription_token).await {
                Ok(token) if token.identity != self.entry.identity => {
                    return Err(self.forbidden(channels, "the subscription token is for another user or tenant"))
                }
                Ok(token) => token.channel,
                Err(e) => {
                    let why = match e {
                        ConnectError::Auth(e) => format!("the subscription token is refused: {} ({e})", e.code()),
                        other => format!("the subscription token cannot be checked: {other}"),
                    };
                    return Err(self.forbidden(channels, &why));
                }
            }
        } else {
            None
        };
        self.authorize(channels, opened.as_deref())?;
        self.subscribe_authorized(channels)
    }

    /// Whether the connection token's `channels` claim covers `channel`.
    fn granted(&self, channel: &ChannelName) -> bool {
        self.entry
            .token
            .get()
            .is_some_and(|t| t.channels.iter().any(|grant| crate::domain::grant_covers(grant, channel.as_str())))
    }

    /// The first private channel that neither the token's claim nor `opened` (a verified
    /// subscription token's channel) covers, refused with the reason.
    fn authorize(&self, channels: &[ChannelName], opened: Option<&str>) -> Result<(), SubscribeError> {
        let private = &self.service.private_channels;
        for channel in channels.iter().filter(|c| private.is_private(c.as_str())) {
            if self.granted(channel) || opened == Some(channel.as_str()) {
                continue;
            }
            let reason = match opened {
                Some(other) => format!("the subscription token is for channel {other}"),
                None if self.entry.token.get().is_none() => "the connection has no token to grant it".into(),
                None => "not in the token's channels claim, and no subscription token was given".into(),
            };
            return Err(SubscribeError::Forbidden { channel: channel.to_string(), reason });
        }
        Ok(())
    }

    fn forbidden(&self, channels: &[ChannelName], reason: &str) -> SubscribeError {
        let channel = channels
            .iter()
            .find(|c| self.service.private_channels.is_private(c.as_str()) && !self.granted(c))
            .map_or_else(String::new, ToString::to_string);
        SubscribeError::Forbidden { channel, reason: reason.to_owned() }
    }

    fn subscribe_authorized(&self, channels: &[ChannelName]) -> Result<Vec<ChannelName>, SubscribeError> {
        let max = self.service.policies.limits(&self.entry.identity.tenant).max_subscriptions_per_connection;
        let fresh = self.service.registry.subscribe(&self.entry, channels, max)?;
        self.mark_channels(&fresh);
        for observer in &self.service.observers {
            observer.subscribed(self.info(), &fresh);
        }
        Ok(fresh)
    }

    /// Unsubscribes from `channels`; returns the ones the connection had.
    pub fn unsubscribe(&self, channels: &[ChannelName]) -> Vec<ChannelName> {
        let gone = self.service.registry.unsubscribe(&self.entry, channels);
        self.mark_channels(&gone);
        for observer in &self.service.observers {
            observer.unsubscribed(self.info(), &gone);
        }
        gone
    }

    /// Presence's channel counts and the node's topic subscriptions follow, in the background.
    fn mark_channels(&self, channels: &[ChannelName]) {
        if let (Some(cluster), false) = (self.service.cluster(), channels.is_empty()) {
            let tenant = &self.entry.identity.tenant;
            cluster.mark(
                channels.iter().map(|c| crate::service::cluster::Dirty::Channel(tenant.clone(), c.clone())).collect(),
            );
        }
    }

    /// Records the client's ACK of `id`.
    pub async fn ack(&self, id: Uuid) -> Result<AckReceipt, AckFailure> {
        self.service.ack(&self.entry.identity.key(), id).await
    }

    /// Removes the queue entries whose replayed frames were written. The returned future owns what it
    /// needs: a transport runs it apart from its writer, which never waits on a store.
    pub fn confirm_replayed(&self, ids: Vec<Uuid>) -> impl Future<Output = ()> + Send + 'static {
        let (service, key) = (self.service.clone(), self.entry.identity.key());
        async move { service.remove_replayed(&key, &ids).await }
    }

    /// `count` frames were overwritten before the client read them (`drop_oldest`).
    pub fn dropped(&self, count: u64) {
        self.service.stats.record_dropped(count);
    }

    /// The client's socket took nothing within the write timeout.
    pub fn stalled(&self) {
        self.service.stats.record_slow_consumer();
    }

    /// Queues a reply to one of the client's own frames behind what is already queued, so the client
    /// sees everything in queue order.
    pub fn reply(&self, frame: OutboundFrame) -> Result<(), SinkError> {
        self.entry.sink.try_send(frame)
    }

    /// Asks the transport to close the connection (through its queue's close signal).
    pub fn close(&self, reason: CloseReason) {
        self.entry.sink.close(reason);
    }

    /// Takes the connection out of the registry now, before its socket is closed: a closing
    /// connection takes no more notifications, frees its place in the limits, and its user's queue can
    /// replay to another device. Safe to call more than once; dropping the handle does it too.
    pub fn release(&self) {
        if self.released.swap(true, Ordering::AcqRel) {
            return;
        }
        let channels = self.entry.channels();
        if self.service.registry.unregister(self.entry.id) {
            if let Some(cluster) = self.service.cluster() {
                let tenant = &self.entry.identity.tenant;
                let mut dirty = vec![
                    crate::service::cluster::Dirty::User(self.entry.identity.key()),
                    crate::service::cluster::Dirty::Tenant(tenant.clone()),
                ];
                dirty.extend(channels.into_iter().map(|c| crate::service::cluster::Dirty::Channel(tenant.clone(), c)));
                cluster.mark(dirty);
            }
            let lived = (Utc::now() - self.entry.connected_at).to_std().unwrap_or_default();
            for observer in &self.service.observers {
                observer.closed(self.info(), lived);
            }
        }
    }
}

impl Drop for ConnectionHandle {
    fn drop(&mut self) {
        self.release();
    }
}
