//! The use cases every trigger and transport share: send a notification (live, or queued for offline
//! users), bring a connection online (replaying its user's queue first), and take ACKs.
//!
//! Guarantees, per setting:
//! - queue off: at-most-once; offline users miss the notification.
//! - queue on: a user-targeted notification reaches a live connection, or waits in the queue (up to its
//!   ttl and the queue's limits) and is replayed, in order, to the connection that brings the user back
//!   online, before anything live. Entries leave the queue only once written to a socket, so a crash
//!   may replay an entry twice (same id), never lose it.
//! - ACK redelivery on: High/Critical notifications not acknowledged in time are sent again (live, or
//!   queued) with the same id, while younger than the queue ttl: at-least-once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use futures_util::future::Either;
use futures_util::StreamExt;
use tracing::Instrument;
use uuid::Uuid;

use crate::domain::ack::{AckReceipt, PendingAck};
use crate::domain::queue::{QueuePolicy, QueuedNotification};
use crate::domain::{Identity, Notification, NotificationDraft, Target, UserId, UserKey};
use crate::ports::{
    AckError, DynAckStore, DynClock, DynOfflineQueue, DynSink, DynTimer, OutboundFrame, QueueError, Timer,
};

use super::user_locks::UserLocks;
use crate::delivery::frame::{notification_frame, trace_link};
use crate::delivery::{ConnectionEntry, Dispatcher, RegisterError, Transport};

/// What a send did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SendReport {
    pub notification_id: Uuid,
    /// Connections the notification was handed to.
    pub delivered_to: usize,
    /// Targeted users with no live connection.
    pub offline_users: usize,
    /// Offline users for whom the notification was queued.
    pub queued: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("could not queue the notification for {failed} offline user(s): {source}")]
    QueueUnavailable { report: SendReport, failed: usize, source: QueueError },
}

type SendResult = Result<SendReport, SendError>;

/// Offline users of one send whose queue writes run at once: enough that a store outage costs one
/// timeout per wave rather than one per user, few enough not to flood a healthy store.
const QUEUE_CONCURRENCY: usize = 32;

pub struct OfflineQueueConfig {
    pub store: DynOfflineQueue,
    pub policy: QueuePolicy,
    /// Bounds every call to the store and the wait for a user's queue lock, so that a request never
    /// waits much longer than one store timeout, however many others wait for the same user.
    pub timeout: StdDuration,
}

pub struct AckConfig {
    pub store: DynAckStore,
    pub timeout_seconds: u32,
    pub redeliver: bool,
    /// Bounds every call to the store.
    pub store_timeout: StdDuration,
}

pub struct NotificationService {
    dispatcher: Arc<Dispatcher>,
    clock: DynClock,
    timer: DynTimer,
    queue: Option<OfflineQueueConfig>,
    acks: Option<AckConfig>,
    locks: UserLocks,
}

enum UserOutcome {
    Delivered(usize),
    Queued,
    Offline,
    QueueFailed(QueueError),
    /// Not tried: the queue failed for an earlier user of the same send.
    QueueSkipped,
}

/// What one send learned about its stores: once one failed, the rest of the send does not wait on it.
#[derive(Default)]
struct Outage {
    queue: AtomicBool,
    acks: AtomicBool,
}

/// The lock of a user's queue was held past the store timeout by other sends of that user.
#[derive(Debug, thiserror::Error)]
#[error("the user's offline queue is busy: other sends are still waiting on the store")]
struct QueueBusy;

/// A store call that did not answer within its bound.
#[derive(Debug, thiserror::Error)]
#[error("no answer from the store within {}ms", .0.as_millis())]
struct StoreTimedOut(StdDuration);

/// Runs `work` within `limit`; `None` when the limit came first (and `work` was dropped).
async fn within<T>(timer: &dyn Timer, limit: StdDuration, work: impl std::future::Future<Output = T>) -> Option<T> {
    let work = std::pin::pin!(work);
    match futures_util::future::select(work, timer.sleep(limit)).await {
        Either::Left((done, _)) => Some(done),
        Either::Right(_) => None,
    }
}

impl NotificationService {
    pub fn new(dispatcher: Arc<Dispatcher>, clock: DynClock, timer: DynTimer) -> Self {
        Self { dispatcher, clock, timer, queue: None, acks: None, locks: UserLocks::default() }
    }

    /// Runs a store call within `limit`; a call past it counts as the store being unavailable.
    async fn bounded<T, E>(
        &self,
        limit: StdDuration,
        call: impl std::future::Future<Output = Result<T, E>>,
        unavailable: impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> E,
    ) -> Result<T, E> {
        within(&*self.timer, limit, call).await.unwrap_or_else(|| Err(unavailable(Box::new(StoreTimedOut(limit)))))
    }

    pub fn with_offline_queue(mut self, queue: OfflineQueueConfig) -> Self {
        self.queue = Some(queue);
        self
    }

    pub fn with_acks(mut self, acks: AckConfig) -> Self {
        self.acks = Some(acks);
        self
    }

    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }

    pub fn offline_queue(&self) -> Option<&DynOfflineQueue> {
        self.queue.as_ref().map(|q| &q.store)
    }

    pub fn ack_store(&self) -> Option<&DynAckStore> {
        self.acks.as_ref().map(|a| &a.store)
    }

    /// Accepts `draft` now and delivers it to `target` within the draft's tenant.
    ///
    /// Traced as `notify.send`, a child of the caller's span (the HTTP request, the Pub/Sub message),
    /// with one `dispatch` child for the whole delivery: spans are per send, never per recipient. Both
    /// are DEBUG spans, so with span export off and the default log level they cost nothing.
    #[tracing::instrument(level = "debug", name = "notify.send", skip_all, fields(
        ara.tenant = %draft.tenant,
        ara.event_type = %draft.event_type,
        ara.target_type = target.kind(),
        ara.notification_id = tracing::field::Empty,
        ara.delivered = tracing::field::Empty,
    ))]
    pub async fn send(&self, draft: NotificationDraft, target: &Target) -> Result<SendReport, SendError> {
        let notification = draft.accept(self.clock.now());
        let span = tracing::Span::current();
        span.record("ara.notification_id", tracing::field::display(notification.id));
        self.dispatcher.stats().record_sent(target);
        let dispatch = Dispatcher::span(target);
        let mut frame = notification_frame(&notification);
        frame.trace = trace_link(&dispatch);
        let result = self.deliver(&notification, &frame, target).instrument(dispatch.clone()).await;
        let (Ok(report) | Err(SendError::QueueUnavailable { report, .. })) = &result;
        dispatch.record("ara.delivered", report.delivered_to);
        dispatch.record("ara.offline_users", report.offline_users);
        span.record("ara.delivered", report.delivered_to);
        result
    }

    async fn deliver(&self, notification: &Notification, frame: &OutboundFrame, target: &Target) -> SendResult {
        let mut report = SendReport { notification_id: notification.id, delivered_to: 0, offline_users: 0, queued: 0 };
        let users: &[UserId] = match target {
            Target::User(user) => std::slice::from_ref(user),
            Target::Users(users) => users,
            _ => {
                let (r, _) = self.dispatcher.deliver_frame(frame, &notification.tenant, target);
                report.delivered_to = r.delivered;
                return Ok(report);
            }
        };
        let outage = Outage::default();
        let one_user = |user: &UserId| {
            let key = UserKey::new(notification.tenant.clone(), user.clone());
            let outage = &outage;
            async move { self.deliver_to_user(notification, frame, &key, outage).await }
        };
        // A single recipient (the common send) skips the concurrency machinery.
        let outcomes: Vec<UserOutcome> = match users {
            [user] => vec![one_user(user).await],
            _ => futures_util::stream::iter(users).map(one_user).buffer_unordered(QUEUE_CONCURRENCY).collect().await,
        };
        let mut failure = None;
        let mut failed = 0;
        for outcome in outcomes {
            match outcome {
                UserOutcome::Delivered(n) => report.delivered_to += n,
                UserOutcome::Queued => {
                    report.offline_users += 1;
                    report.queued += 1;
                }
                UserOutcome::Offline => report.offline_users += 1,
                UserOutcome::QueueFailed(e) => {
                    report.offline_users += 1;
                    failed += 1;
                    failure.get_or_insert(e);
                }
                UserOutcome::QueueSkipped => {
                    report.offline_users += 1;
                    failed += 1;
                }
            }
        }
        match failure {
            Some(source) => Err(SendError::QueueUnavailable { report, failed, source }),
            None => Ok(report),
        }
    }

    async fn deliver_to_user(
        &self,
        n: &Notification,
        frame: &OutboundFrame,
        key: &UserKey,
        outage: &Outage,
    ) -> UserOutcome {
        let registry = self.dispatcher.registry();
        if registry.user_is_online(key) {
            let delivered = self.deliver_tracked(n, frame, key, outage).await;
            if delivered > 0 {
                return UserOutcome::Delivered(delivered);
            }
        }
        let Some(queue) = &self.queue else {
            return UserOutcome::Offline;
        };
        if outage.queue.load(Ordering::Relaxed) {
            self.dispatcher.stats().record_queue_failure();
            return UserOutcome::QueueSkipped;
        }
        let Some(_guard) = within(&*self.timer, queue.timeout, self.locks.lock(key)).await else {
            self.dispatcher.stats().record_queue_failure();
            tracing::warn!(notification = %n.id, "gave up waiting for a user's offline queue lock");
            return UserOutcome::QueueFailed(QueueError::Unavailable(Box::new(QueueBusy)));
        };
        // The user may have come online (after its replay) while we waited for the lock.
        if registry.user_is_online(key) {
            let delivered = self.deliver_tracked(n, frame, key, outage).await;
            if delivered > 0 {
                return UserOutcome::Delivered(delivered);
            }
        }
        let item = QueuedNotification::new(n.clone(), self.clock.now(), &queue.policy);
        match self.bounded(queue.timeout, queue.store.enqueue(key, &item), QueueError::Unavailable).await {
            Ok(dropped) => {
                let stats = self.dispatcher.stats();
                stats.record_queued(1);
                stats.record_queue_dropped(dropped);
                UserOutcome::Queued
            }
            Err(e) => {
                outage.queue.store(true, Ordering::Relaxed);
                self.dispatcher.stats().record_queue_failure();
                tracing::error!(error = %e, notification = %n.id, "offline queue refused a notification");
                UserOutcome::QueueFailed(e)
            }
        }
    }

    /// Hands the frame to the user's live connections, tracking its ACK exactly when it reached one.
    /// The record is made first, so that an ACK racing back from a fast client finds it, and taken
    /// back when no connection took the frame (the user went offline meanwhile, and the caller queues
    /// it instead): a notification is never both tracked and queued.
    async fn deliver_tracked(&self, n: &Notification, frame: &OutboundFrame, key: &UserKey, outage: &Outage) -> usize {
        let tracked = self.track(key, n, outage).await;
        let delivered = self.dispatcher.deliver_frame_to_user(frame, key);
        match (tracked, delivered) {
            (true, 0) => self.forget(key, n.id).await,
            (true, _) => self.dispatcher.stats().record_ack_tracked(),
            (false, _) => {}
        }
        delivered
    }

    /// Records a pending ACK; returns whether one was recorded.
    async fn track(&self, key: &UserKey, n: &Notification, outage: &Outage) -> bool {
        let Some(acks) = &self.acks else { return false };
        let stats = self.dispatcher.stats();
        if outage.acks.load(Ordering::Relaxed) {
            stats.record_ack_untracked();
            return false;
        }
        let now = self.clock.now();
        let pending = PendingAck {
            notification: n.clone(),
            delivered_at: now,
            deadline: now + Duration::seconds(i64::from(acks.timeout_seconds)),
        };
        match self.bounded(acks.store_timeout, acks.store.track(key, &pending), AckError::Unavailable).await {
            Ok(()) => true,
            Err(e) => {
                if !matches!(e, AckError::Full { .. }) {
                    outage.acks.store(true, Ordering::Relaxed);
                }
                stats.record_ack_untracked();
                tracing::warn!(error = %e, notification = %n.id, "could not track ACK; delivered untracked");
                false
            }
        }
    }

    async fn forget(&self, key: &UserKey, id: Uuid) {
        let Some(acks) = &self.acks else { return };
        if let Err(e) = self.bounded(acks.store_timeout, acks.store.forget(key, id), AckError::Unavailable).await {
            // Left pending, it expires unacknowledged; with redelivery on the queued copy and a
            // redelivery may both arrive (same id).
            tracing::warn!(error = %e, notification = %id, "could not drop the ACK record of an undelivered notification");
        }
    }

    /// Registers a connection. When it brings its user online, the user's queue is replayed into its
    /// sink first (the other devices that connect while one is live receive only live notifications).
    /// `resume_after` (SSE's `Last-Event-ID`) skips, and removes, queued entries up to that id.
    pub async fn connect(
        &self,
        identity: Identity,
        transport: Transport,
        sink: DynSink,
        resume_after: Option<Uuid>,
    ) -> Result<Arc<ConnectionEntry>, RegisterError> {
        let registry = self.dispatcher.registry();
        let Some(queue) = &self.queue else {
            return registry.register(identity, transport, sink, self.clock.now());
        };
        let key = identity.key();
        // Bounded like a send's wait: while the store hangs, a connect goes ahead without its replay
        // (the queue stays intact for the next connection) rather than wait behind pending sends.
        let guard = within(&*self.timer, queue.timeout, self.locks.lock(&key)).await;
        let replayed = if guard.is_none() {
            tracing::warn!("the user's offline queue is busy; connecting without replay");
            Vec::new()
        } else if registry.user_is_online(&key) {
            Vec::new()
        } else {
            self.replay_into(queue, &key, &sink, resume_after).await
        };
        let entry = registry.register(identity, transport, sink, self.clock.now())?;
        drop(guard);
        // Tracked only once the connection exists: a refused one delivered nothing, and its replay
        // stays queued.
        let outage = Outage::default();
        let stats = self.dispatcher.stats();
        for notification in &replayed {
            if self.track(&key, notification, &outage).await {
                stats.record_ack_tracked();
            }
        }
        stats.record_replayed(replayed.len() as u64);
        stats.record_delivered(replayed.len() as u64);
        Ok(entry)
    }

    /// Queues the user's offline entries into `sink`, oldest first; returns the notifications queued.
    async fn replay_into(
        &self,
        queue: &OfflineQueueConfig,
        key: &UserKey,
        sink: &DynSink,
        after: Option<Uuid>,
    ) -> Vec<Notification> {
        let now = self.clock.now();
        let peek = queue.store.peek(key, queue.policy.max_per_user, now);
        let mut items = match self.bounded(queue.timeout, peek, QueueError::Unavailable).await {
            Ok(items) => items,
            Err(e) => {
                // The queue stays intact and is replayed on a later connection.
                tracing::warn!(error = %e, "could not read the offline queue; connecting without replay");
                return Vec::new();
            }
        };
        // The client saw everything up to `after`, by queue position (ids made on other nodes or in one
        // millisecond need not sort); an id the queue does not hold resumes nothing.
        if let Some(seen) = after.and_then(|last| items.iter().position(|i| i.notification.id == last)) {
            let ids: Vec<Uuid> = items.drain(..=seen).map(|i| i.notification.id).collect();
            self.confirm_replayed(key, &ids).await;
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

    /// Called by a transport once replayed frames were written: their queue entries can go.
    pub async fn confirm_replayed(&self, key: &UserKey, ids: &[Uuid]) {
        let Some(queue) = &self.queue else { return };
        if let Err(e) = self.bounded(queue.timeout, queue.store.remove(key, ids), QueueError::Unavailable).await {
            tracing::warn!(error = %e, "could not remove replayed entries; they may be replayed again");
        }
    }

    /// Records a client's ACK.
    pub async fn ack(&self, key: &UserKey, id: Uuid) -> Result<AckReceipt, AckFailure> {
        let acks = self.acks.as_ref().ok_or(AckFailure::Disabled)?;
        let call = acks.store.ack(key, id, self.clock.now());
        self.bounded(acks.store_timeout, call, AckError::Unavailable).await.map_err(AckFailure::Store)
    }

    /// Removes expired queue entries; run periodically.
    pub async fn purge_expired_queue(&self) -> Result<u64, QueueError> {
        match &self.queue {
            Some(queue) => {
                let removed = queue.store.purge_expired(self.clock.now()).await?;
                self.dispatcher.stats().record_queue_expired(removed);
                Ok(removed)
            }
            None => Ok(0),
        }
    }

    /// Expires overdue ACKs and, with redelivery on, sends High/Critical ones again. Returns how many
    /// expired.
    pub async fn expire_acks(&self) -> Result<usize, AckError> {
        let Some(acks) = &self.acks else { return Ok(0) };
        let now = self.clock.now();
        let expired = acks.store.expire_due(now).await?;
        self.dispatcher.stats().record_acks_expired(expired.len() as u64);
        if acks.redeliver {
            for e in expired.iter().filter(|e| e.pending.wants_redelivery()) {
                if self.still_worth_redelivering(&e.pending.notification, now) {
                    let frame = notification_frame(&e.pending.notification);
                    self.dispatcher.stats().record_redelivered();
                    let outage = Outage::default();
                    let _ = self.deliver_to_user(&e.pending.notification, &frame, &e.user, &outage).await;
                }
            }
        }
        Ok(expired.len())
    }

    /// Redelivery stops when the notification's own ttl, or the queue ttl, has run out, so a client that
    /// never ACKs is not sent the same notification forever.
    fn still_worth_redelivering(&self, n: &Notification, now: DateTime<Utc>) -> bool {
        let horizon = self.queue.as_ref().map_or(3600, |q| q.policy.message_ttl_seconds);
        !n.is_expired(now) && n.created_at + Duration::seconds(i64::from(horizon)) > now
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AckFailure {
    #[error("ACK tracking is not enabled on this server")]
    Disabled,
    #[error(transparent)]
    Store(AckError),
}
