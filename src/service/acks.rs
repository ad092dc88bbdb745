//! ACK tracking: a record per delivery of a user-targeted notification, acknowledged by its client or
//! expired (and, with redelivery on, sent again).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::bounded::{bounded, Outage};
use super::NotificationService;
use crate::delivery::frame::notification_frame;
use crate::domain::ack::{AckReceipt, PendingAck};
use crate::domain::{ErrorChain, Notification, UserKey};
use crate::ports::AckError;

#[derive(Debug, thiserror::Error)]
pub enum AckFailure {
    #[error("ACK tracking is not enabled on this server")]
    Disabled,
    #[error(transparent)]
    Store(AckError),
}

impl AckFailure {
    /// The code of the client's `error` frame.
    pub fn code(&self) -> &'static str {
        match self {
            AckFailure::Disabled => "ACK_DISABLED",
            AckFailure::Store(AckError::UnknownNotification) => "UNKNOWN_NOTIFICATION",
            AckFailure::Store(AckError::WrongUser) => "NOT_YOUR_NOTIFICATION",
            AckFailure::Store(AckError::AlreadyAcknowledged) => "ALREADY_ACKNOWLEDGED",
            AckFailure::Store(AckError::Expired) => "ACK_EXPIRED",
            AckFailure::Store(_) => "ACK_STORE_UNAVAILABLE",
        }
    }

    /// The metric label of the outcome.
    pub fn label(&self) -> &'static str {
        match self {
            AckFailure::Disabled => "disabled",
            AckFailure::Store(AckError::UnknownNotification) => "unknown",
            AckFailure::Store(AckError::WrongUser) => "wrong_user",
            AckFailure::Store(AckError::AlreadyAcknowledged) => "duplicate",
            AckFailure::Store(AckError::Expired) => "expired",
            AckFailure::Store(_) => "store_error",
        }
    }
}

impl NotificationService {
    /// Records a pending ACK of `n` for each of `users`, in one store call; returns whether they were
    /// recorded.
    pub(super) async fn track(&self, users: &[UserKey], n: &Arc<Notification>, outage: &Outage) -> bool {
        let Some(acks) = &self.acks else { return false };
        if outage.acks_down() {
            self.stats.record_acks_untracked(users.len() as u64);
            return false;
        }
        let now = self.clock.now();
        let pending = PendingAck {
            notification: n.clone(),
            delivered_at: now,
            deadline: now + Duration::seconds(i64::from(acks.timeout_seconds)),
        };
        let track = acks.store.track(&pending, users);
        match bounded(&*self.timer, acks.store_timeout, track, AckError::Unavailable).await {
            Ok(()) => true,
            Err(e) => {
                if !matches!(e, AckError::Full { .. }) {
                    outage.acks_failed();
                }
                self.stats.record_acks_untracked(users.len() as u64);
                tracing::warn!(error = %ErrorChain(&e), notification = %n.id, "could not track ACK; delivered untracked");
                false
            }
        }
    }

    pub(super) async fn forget(&self, users: &[UserKey], id: Uuid) {
        let Some(acks) = &self.acks else { return };
        let forget = acks.store.forget(id, users);
        if let Err(e) = bounded(&*self.timer, acks.store_timeout, forget, AckError::Unavailable).await {
            // Left pending, it expires unacknowledged; with redelivery on the queued copy and a
            // redelivery may both arrive (same id).
            tracing::warn!(error = %ErrorChain(&e), notification = %id, "could not drop the ACK record of an undelivered notification");
        }
    }

    /// Records a client's ACK.
    pub(super) async fn ack(&self, key: &UserKey, id: Uuid) -> Result<AckReceipt, AckFailure> {
        let acks = self.acks.as_ref().ok_or(AckFailure::Disabled)?;
        let call = acks.store.ack(key, id, self.clock.now());
        bounded(&*self.timer, acks.store_timeout, call, AckError::Unavailable).await.map_err(AckFailure::Store)
    }

    /// Expires overdue ACKs and, with redelivery on, sends High/Critical ones again. Returns how many
    /// expired.
    pub async fn expire_acks(&self) -> Result<usize, AckError> {
        let Some(acks) = &self.acks else { return Ok(0) };
        let now = self.clock.now();
        let expired = acks.store.expire_due(now).await?;
        self.stats.record_acks_expired(expired.len() as u64);
        if acks.redeliver {
            for e in expired.iter().filter(|e| e.pending.wants_redelivery()) {
                if self.still_worth_redelivering(&e.pending.notification, &e.user, now) {
                    let frame = notification_frame(&e.pending.notification);
                    self.stats.record_redelivered();
                    let outage = Outage::default();
                    let _ = self.deliver_to_user(&e.pending.notification, &frame, &e.user, &outage).await;
                }
            }
        }
        Ok(expired.len())
    }

    /// Redelivery stops when the notification's own ttl, or the queue ttl, has run out, so a client that
    /// never ACKs is not sent the same notification forever; and when its tenant was deleted.
    fn still_worth_redelivering(&self, n: &Notification, user: &UserKey, now: DateTime<Utc>) -> bool {
        if matches!(self.admit_tenant(&user.tenant), Err(super::tenants::TenantRefusal::NotFound(_))) {
            return false;
        }
        let horizon = match &self.queue {
            Some(_) => self.policies.queue(&user.tenant).message_ttl_seconds,
            None => 3600,
        };
        !n.is_expired(now) && n.created_at + Duration::seconds(i64::from(horizon)) > now
    }
}
