//! In-memory ACK store: every record behind one mutex, with ordered indexes for deadlines and for
//! the retention of finished records.
//!
//! One lock keeps `ack` and `expire_due` trivially atomic with respect to each other; the critical
//! sections are map look-ups, so contention stays low next to the network work around them.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use parking_lot::Mutex;
use uuid::Uuid;

use crate::domain::ack::{AckReceipt, AckStats, ExpiredAck, PendingAck};
use crate::domain::{TenantId, UserId, UserKey};
use crate::ports::{AckError, AckStore};

/// Acknowledged and expired records stay at least this long after their deadline (or one more ACK
/// timeout, if longer), so that a double or late ACK gets a precise error rather than "unknown".
const MIN_MARKER_RETENTION: Duration = Duration::minutes(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Acknowledged,
    Expired,
}

#[derive(Debug)]
struct Record {
    pending: PendingAck,
    status: Status,
}

impl Record {
    fn retain_until(&self) -> DateTime<Utc> {
        let timeout = self.pending.deadline - self.pending.delivered_at;
        self.pending.deadline + timeout.max(MIN_MARKER_RETENTION)
    }
}

/// An index entry: ordered by time first, then by the record's key.
type Slot = (DateTime<Utc>, Uuid, TenantId, UserId);

fn slot(at: DateTime<Utc>, user: &UserKey, id: Uuid) -> Slot {
    (at, id, user.tenant.clone(), user.user.clone())
}

#[derive(Debug, Default)]
struct Inner {
    records: HashMap<(UserKey, Uuid), Record>,
    /// How many records (of any status) exist per id, to tell `WrongUser` from `UnknownNotification`.
    holders: HashMap<Uuid, u32>,
    /// Pending records by deadline.
    due: BTreeSet<Slot>,
    /// Finished records by the time they may be forgotten.
    retained: BTreeSet<Slot>,
    acknowledged: u64,
    expired: u64,
    ack_time_ms_total: u64,
}

impl Inner {
    /// Marks a record finished and schedules it to be forgotten; the caller has already taken it
    /// out of `due`. Returns the record's delivery so that expiry can hand it back.
    fn retire(&mut self, user: &UserKey, id: Uuid, status: Status) -> Option<PendingAck> {
        let record = self.records.get_mut(&(user.clone(), id))?;
        record.status = status;
        let keep_until = record.retain_until();
        let pending = record.pending.clone();
        self.retained.insert(slot(keep_until, user, id));
        Some(pending)
    }

    fn forget_finished(&mut self, now: DateTime<Utc>) {
        while self.retained.first().is_some_and(|first| first.0 <= now) {
            let Some((_, id, tenant, user)) = self.retained.pop_first() else {
                break;
            };
            self.records.remove(&(UserKey::new(tenant, user), id));
            if let Some(count) = self.holders.get_mut(&id) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.holders.remove(&id);
                }
            }
        }
    }
}

#[derive(Debug, Default)]
pub struct MemoryAckStore {
    inner: Mutex<Inner>,
}

impl MemoryAckStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl AckStore for MemoryAckStore {
    async fn track(&self, user: &UserKey, pending: &PendingAck) -> Result<(), AckError> {
        let mut inner = self.inner.lock();
        let id = pending.notification.id;
        let fresh = Record { pending: pending.clone(), status: Status::Pending };
        match inner.records.get(&(user.clone(), id)) {
            // A second device of the same user: the first delivery's record stands.
            Some(existing) if existing.status != Status::Expired => return Ok(()),
            // A redelivery after expiry re-arms the record with its new deadline.
            Some(existing) => {
                let old = slot(existing.retain_until(), user, id);
                inner.retained.remove(&old);
            }
            None => *inner.holders.entry(id).or_default() += 1,
        }
        inner.due.insert(slot(pending.deadline, user, id));
        inner.records.insert((user.clone(), id), fresh);
        Ok(())
    }

    async fn ack(&self, user: &UserKey, id: Uuid, now: DateTime<Utc>) -> Result<AckReceipt, AckError> {
        let mut inner = self.inner.lock();
        let Some(record) = inner.records.get(&(user.clone(), id)) else {
            return Err(if inner.holders.contains_key(&id) {
                AckError::WrongUser
            } else {
                AckError::UnknownNotification
            });
        };
        match record.status {
            Status::Acknowledged => return Err(AckError::AlreadyAcknowledged),
            Status::Expired => return Err(AckError::Expired),
            Status::Pending if record.pending.is_expired(now) => return Err(AckError::Expired),
            Status::Pending => {}
        }
        let latency_ms = (now - record.pending.delivered_at).num_milliseconds().max(0) as u64;
        let deadline = record.pending.deadline;
        inner.due.remove(&slot(deadline, user, id));
        inner.retire(user, id, Status::Acknowledged);
        inner.acknowledged += 1;
        inner.ack_time_ms_total += latency_ms;
        Ok(AckReceipt { notification_id: id, latency_ms })
    }

    async fn expire_due(&self, now: DateTime<Utc>) -> Result<Vec<ExpiredAck>, AckError> {
        let mut inner = self.inner.lock();
        let mut expired = Vec::new();
        while inner.due.first().is_some_and(|first| first.0 <= now) {
            let Some((_, id, tenant, user)) = inner.due.pop_first() else {
                break;
            };
            let user = UserKey::new(tenant, user);
            if let Some(pending) = inner.retire(&user, id, Status::Expired) {
                expired.push(ExpiredAck { user, pending });
            }
        }
        inner.expired += expired.len() as u64;
        inner.forget_finished(now);
        Ok(expired)
    }

    async fn stats(&self) -> Result<AckStats, AckError> {
        let inner = self.inner.lock();
        Ok(AckStats {
            pending: inner.due.len() as u64,
            acknowledged: inner.acknowledged,
            expired: inner.expired,
            average_ack_time_ms: average(inner.ack_time_ms_total, inner.acknowledged),
        })
    }

    async fn check_health(&self) -> Result<(), AckError> {
        Ok(())
    }
}

/// Mean ACK time, 0 before the first ACK.
fn average(total_ms: u64, count: u64) -> f64 {
    if count == 0 {
        0.0
    } else {
        total_ms as f64 / count as f64
    }
}
