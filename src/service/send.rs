//! The send use case: accept a draft, hand it to the live connections its target resolves to, queue it
//! for offline users, and track the ACKs of user-targeted deliveries.

use std::sync::Arc;

use futures_util::StreamExt;
use tracing::Instrument;
use uuid::Uuid;

use super::bounded::{bounded, within, Outage};
use super::NotificationService;
use crate::delivery::frame::{notification_frame, trace_link};
use crate::delivery::Dispatcher;
use crate::domain::queue::QueuedNotification;
use crate::domain::{Notification, NotificationDraft, Target, UserId, UserKey};
use crate::ports::{OutboundFrame, QueueError};

/// Offline users of one send whose queue writes run at once: enough that a store outage costs one
/// timeout per wave rather than one per user, few enough not to flood a healthy store.
const QUEUE_CONCURRENCY: usize = 32;

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
    QueueUnavailable {
        report: SendReport,
        failed: usize,
        #[source]
        source: QueueError,
    },
}

type SendResult = Result<SendReport, SendError>;

pub(super) enum UserOutcome {
    Delivered(usize),
    Queued,
    Offline,
    QueueFailed(QueueError),
    /// Not tried: the queue failed for an earlier user of the same send.
    QueueSkipped,
}

/// Where a frame comes from: a send on this node may still go to another node; one that came over
/// the bus is only delivered here (or queued), never routed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hop {
    Origin,
    Arrival,
}

/// The lock of a user's queue was held past the store timeout by other sends of that user.
#[derive(Debug, thiserror::Error)]
#[error("the user's offline queue is busy: other sends are still waiting on the store")]
struct QueueBusy;

impl NotificationService {
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
    pub async fn send(&self, draft: NotificationDraft, target: &Target) -> SendResult {
        let notification = Arc::new(draft.accept(self.clock.now()));
        let span = tracing::Span::current();
        span.record("ara.notification_id", tracing::field::display(notification.id));
        self.stats.record_sent(target);
        self.tenant_stats.record_message(&notification.tenant, notification.created_at);
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

    /// A send costs per send, not per recipient: the frame was written once; the ACK records of every
    /// online user are made in one store call before the frame goes out (so a fast client's ACK finds
    /// its record), and taken back in one call for those whose connections all closed meanwhile; only
    /// the users to queue cost a store call each, 32 at a time.
    async fn deliver(&self, notification: &Arc<Notification>, frame: &OutboundFrame, target: &Target) -> SendResult {
        let mut report = SendReport { notification_id: notification.id, delivered_to: 0, offline_users: 0, queued: 0 };
        let users: &[UserId] = match target {
            Target::User(user) => std::slice::from_ref(user),
            Target::Users(users) => users,
            _ => {
                let (r, _) = self.dispatcher.deliver_frame(frame, &notification.tenant, target);
                report.delivered_to = r.delivered;
                if let Some(cluster) = &self.cluster {
                    cluster.publish_fanout(notification, target);
                }
                return Ok(report);
            }
        };
        let outage = Outage::default();
        let keys: Vec<UserKey> = users.iter().map(|u| UserKey::new(notification.tenant.clone(), u.clone())).collect();
        let (online, mut to_queue): (Vec<UserKey>, Vec<UserKey>) =
            keys.iter().cloned().partition(|k| self.registry.user_is_online(k));
        if !online.is_empty() {
            let tracked = self.track(&online, notification, &outage).await;
            let mut missed = Vec::new();
            for key in online {
                match self.dispatcher.deliver_frame_to_user(frame, &key) {
                    0 => missed.push(key),
                    n => report.delivered_to += n,
                }
            }
            if tracked {
                self.stats.record_acks_tracked((users.len() - to_queue.len() - missed.len()) as u64);
                if !missed.is_empty() {
                    self.forget(&missed, notification.id).await;
                }
            }
            to_queue.extend(missed);
        }
        if let Some(cluster) = &self.cluster {
            to_queue = self.route_to_nodes(cluster, notification, &keys, to_queue, &mut report).await;
        }
        if to_queue.is_empty() {
            return Ok(report);
        }
        let queue_one = |key: UserKey| {
            let outage = &outage;
            async move { self.queue_for(notification, frame, &key, outage, Hop::Origin).await }
        };
        // A single user (the common send) skips the concurrency machinery.
        let outcomes: Vec<UserOutcome> = if to_queue.len() == 1 {
            let mut keys = to_queue;
            vec![queue_one(keys.remove(0)).await]
        } else {
            futures_util::stream::iter(to_queue).map(queue_one).buffer_unordered(QUEUE_CONCURRENCY).collect().await
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

    /// Delivers to one user (ACK redelivery) the way a send does: live if online, else queued.
    pub(super) async fn deliver_to_user(
        &self,
        n: &Arc<Notification>,
        frame: &OutboundFrame,
        key: &UserKey,
        outage: &Outage,
    ) -> UserOutcome {
        if self.registry.user_is_online(key) {
            let delivered = self.deliver_tracked(n, frame, key, outage).await;
            if delivered > 0 {
                return UserOutcome::Delivered(delivered);
            }
        }
        if let (Some(cluster), None) = (&self.cluster, &self.queue) {
            if let Some(delivered) = cluster.forward_if_online(self, n, key).await {
                return UserOutcome::Delivered(delivered);
            }
        }
        self.queue_for(n, frame, key, outage, Hop::Origin).await
    }

    /// Queues for a user found offline. Under the user's queue lock (which a connect's replay also
    /// takes; a lease in Redis in cluster mode) it looks again: a user who came online meanwhile gets
    /// the frame live instead (on another node too, unless the frame came from one), so nothing is
    /// queued after the replay that should have carried it.
    pub(super) async fn queue_for(
        &self,
        n: &Arc<Notification>,
        frame: &OutboundFrame,
        key: &UserKey,
        outage: &Outage,
        hop: Hop,
    ) -> UserOutcome {
        let Some(queue) = &self.queue else {
            return UserOutcome::Offline;
        };
        if outage.queue_down() {
            self.stats.record_queue_failure();
            return UserOutcome::QueueSkipped;
        }
        let busy = || {
            self.stats.record_queue_failure();
            tracing::warn!(notification = %n.id, "gave up waiting for a user's offline queue lock");
            UserOutcome::QueueFailed(QueueError::Unavailable(Box::new(QueueBusy)))
        };
        let Some(cluster) = &self.cluster else {
            let Some(_guard) = within(&*self.timer, queue.timeout, self.locks.lock(key)).await else {
                return busy();
            };
            return self.queue_locked(n, frame, key, outage, queue, None).await;
        };
        match cluster.lease(self, key, queue.timeout).await {
            Ok(Some(lease)) => {
                let outcome =
                    self.queue_locked(n, frame, key, outage, queue, (hop == Hop::Origin).then_some(cluster)).await;
                cluster.release(self, lease).await;
                outcome
            }
            Ok(None) => busy(),
            // Presence is away: queuing without the lease may strand the entry until the user's next
            // connection, which beats losing it.
            Err(_) => self.queue_locked(n, frame, key, outage, queue, None).await,
        }
    }

    async fn queue_locked(
        &self,
        n: &Arc<Notification>,
        frame: &OutboundFrame,
        key: &UserKey,
        outage: &Outage,
        queue: &super::QueueConfig,
        cluster: Option<&Arc<super::cluster::Cluster>>,
    ) -> UserOutcome {
        if self.registry.user_is_online(key) {
            let delivered = self.deliver_tracked(n, frame, key, outage).await;
            if delivered > 0 {
                return UserOutcome::Delivered(delivered);
            }
        }
        if let Some(cluster) = cluster {
            if let Some(delivered) = cluster.forward_if_online(self, n, key).await {
                return UserOutcome::Delivered(delivered);
            }
        }
        let policy = self.policies.queue(&key.tenant);
        let item = QueuedNotification::new(n.clone(), self.clock.now(), &policy);
        let enqueue = queue.store.enqueue(key, &item, policy.max_per_user);
        match bounded(&*self.timer, queue.timeout, enqueue, QueueError::Unavailable).await {
            Ok(dropped) => {
                self.stats.record_queued(1);
                self.stats.record_queue_dropped(dropped);
                UserOutcome::Queued
            }
            Err(e) => {
                outage.queue_failed();
                self.stats.record_queue_failure();
                tracing::error!(error = %crate::domain::ErrorChain(&e), notification = %n.id, "offline queue refused a notification");
                UserOutcome::QueueFailed(e)
            }
        }
    }

    /// Hands the frame to the user's live connections, tracking its ACK exactly when it reached one.
    /// The record is made first, so that an ACK racing back from a fast client finds it, and taken
    /// back when no connection took the frame (the user went offline meanwhile, and the caller queues
    /// it instead): a notification is never both tracked and queued.
    pub(super) async fn deliver_tracked(
        &self,
        n: &Arc<Notification>,
        frame: &OutboundFrame,
        key: &UserKey,
        outage: &Outage,
    ) -> usize {
        let users = std::slice::from_ref(key);
        let tracked = self.track(users, n, outage).await;
        let delivered = self.dispatcher.deliver_frame_to_user(frame, key);
        match (tracked, delivered) {
            (true, 0) => self.forget(users, n.id).await,
            (true, _) => self.stats.record_acks_tracked(1),
            (false, _) => {}
        }
        delivered
    }
}
