//! In-memory ACK store: every record behind one mutex, with ordered indexes for deadlines and for
//! the retention of finished records.
//!
//! One lock keeps `ack` and `expire_due` trivially atomic with respect to each other; the critical
//! sections are map look-ups, so contention stays low next to the network work around them.
//!
//! Memory is bounded twice: a finished record keeps only its times and status (the notification goes
//! the moment it is acknowledged or expired), and at most `max_records` records of each kind are
//! kept: beyond that, new pending records are refused and the oldest finished ones forgotten early.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use parking_lot::Mutex;
use uuid::Uuid;

use crate::domain::ack::{AckReceipt, AckStats, ExpiredAck, PendingAck};
use crate::domain::{Notification, TenantId, UserId, UserKey};
use crate::ports::{AckError, AckStore};

/// Acknowledged and expired records stay at least this long after their deadline (or one more ACK
/// timeout, if longer), so that a double or late ACK gets a precise error rather than "unknown".
const MIN_MARKER_RETENTION: Duration = Duration::minutes(10);
/// Records of each kind (pending, finished) kept by default.
pub const DEFAULT_MAX_RECORDS: usize = 100_000;

#[derive(Debug)]
enum Status {
    /// Waiting for the ACK; the notification is kept for a redelivery.
    Pending(Arc<Notification>),
    Acknowledged,
    Expired,
}

#[derive(Debug)]
struct Record {
    status: Status,
    delivered_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
}

impl Record {
    fn retain_until(&self) -> DateTime<Utc> {
        let timeout = self.deadline - self.delivered_at;
        self.deadline + timeout.max(MIN_MARKER_RETENTION)
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
    /// Marks a pending record finished, drops its notification and schedules it to be forgotten; the
    /// caller has already taken it out of `due`. Returns what was pending, for expiry to hand back.
    fn retire(&mut self, user: &UserKey, id: Uuid, finished: Status, max: usize) -> Option<PendingAck> {
        let record = self.records.get_mut(&(user.clone(), id))?;
        let Status::Pending(notification) = std::mem::replace(&mut record.status, finished) else {
            return None;
        };
        let pending = PendingAck { notification, delivered_at: record.delivered_at, deadline: record.deadline };
        self.retained.insert(slot(record.retain_until(), user, id));
        while self.retained.len() > max {
            self.forget_first_retained();
        }
        Some(pending)
    }

    fn forget_finished(&mut self, now: DateTime<Utc>) {
        while self.retained.first().is_some_and(|first| first.0 <= now) {
            self.forget_first_retained();
        }
    }

    fn forget_first_retained(&mut self) {
        if let Some((_, id, tenant, user)) = self.retained.pop_first() {
            self.remove(&UserKey::new(tenant, user), id);
        }
    }

    fn remove(&mut self, user: &UserKey, id: Uuid) {
        self.records.remove(&(user.clone(), id));
        if let Some(count) = self.holders.get_mut(&id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.holders.remove(&id);
            }
        }
    }
}

#[derive(Debug)]
pub struct MemoryAckStore {
    inner: Mutex<Inner>,
    max_records: usize,
}

impl Default for MemoryAckStore {
    fn default() -> Self {
        Self::with_max_records(DEFAULT_MAX_RECORDS)
    }
}

impl MemoryAckStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that keeps at most `max` pending and `max` finished records.
    pub fn with_max_records(max: usize) -> Self {
        Self { inner: Mutex::new(Inner::default()), max_records: max.max(1) }
    }

    /// Records held that still carry their notification (pending ones), for tests of the bound.
    #[doc(hidden)]
    pub fn notifications_held(&self) -> usize {
        self.inner.lock().records.values().filter(|r| matches!(r.status, Status::Pending(_))).count()
    }
}

#[async_trait]
impl AckStore for MemoryAckStore {
    async fn track(&self, pending: &PendingAck, users: &[UserKey]) -> Result<(), AckError> {
        let mut inner = self.inner.lock();
        let id = pending.notification.id;
        // All or nothing: the bound is checked for the whole send before anything changes.
        let fresh = users.iter().filter(|u| !inner.records.contains_key(&((*u).clone(), id))).count();
        if inner.due.len() + fresh > self.max_records {
            return Err(AckError::Full { max: self.max_records });
        }
        for user in users {
            match inner.records.get(&(user.clone(), id)) {
                // A second device of the same user: the first delivery's record stands.
                Some(existing) if !matches!(existing.status, Status::Expired) => continue,
                // A redelivery after expiry re-arms the record with its new deadline.
                Some(existing) => {
                    let old = slot(existing.retain_until(), user, id);
                    inner.retained.remove(&old);
                }
                None => *inner.holders.entry(id).or_default() += 1,
            }
            inner.due.insert(slot(pending.deadline, user, id));
            let record = Record {
                status: Status::Pending(pending.notification.clone()),
                delivered_at: pending.delivered_at,
                deadline: pending.deadline,
            };
            inner.records.insert((user.clone(), id), record);
        }
        Ok(())
    }

    async fn forget(&self, id: Uuid, users: &[UserKey]) -> Result<(), AckError> {
        let mut inner = self.inner.lock();
        for user in users {
            let deadline = match inner.records.get(&(user.clone(), id)) {
                Some(Record { status: Status::Pending(_), deadline, .. }) => *deadline,
                _ => continue,
            };
            inner.due.remove(&slot(deadline, user, id));
            inner.remove(user, id);
        }
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
            Status::Pending(_) if record.deadline <= now => return Err(AckError::Expired),
            Status::Pending(_) => {}
        }
        let latency_ms = (now - record.delivered_at).num_milliseconds().max(0) as u64;
        let deadline = record.deadline;
        inner.due.remove(&slot(deadline, user, id));
        inner.retire(user, id, Status::Acknowledged, self.max_records);
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
            if let Some(pending) = inner.retire(&user, id, Status::Expired, self.max_records) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NotificationDraft;

    fn pending(now: DateTime<Utc>) -> PendingAck {
        let payload = serde_json::json!({"blob": "x".repeat(32 * 1024)});
        let draft = NotificationDraft::new(TenantId::default_tenant(), "e".into(), payload, None, None, 64 * 1024);
        let notification = Arc::new(draft.expect("a valid draft").accept(now));
        PendingAck { notification, delivered_at: now, deadline: now + Duration::seconds(30) }
    }

    fn user(name: &str) -> UserKey {
        UserKey::new(TenantId::default_tenant(), UserId::parse(name).expect("a valid user id"))
    }

    #[tokio::test]
    async fn finished_records_keep_no_notification() {
        let store = MemoryAckStore::new();
        let now = Utc::now();
        let (acked, expiring) = (pending(now), pending(now));
        store.track(&acked, &[user("a")]).await.unwrap();
        store.track(&expiring, &[user("a")]).await.unwrap();
        assert_eq!(store.notifications_held(), 2);
        store.ack(&user("a"), acked.notification.id, now).await.unwrap();
        store.expire_due(now + Duration::seconds(31)).await.unwrap();
        assert_eq!(store.notifications_held(), 0, "acknowledged and expired records drop their payload");
        // The markers still answer precisely.
        assert!(matches!(store.ack(&user("a"), acked.notification.id, now).await, Err(AckError::AlreadyAcknowledged)));
        let late = store.ack(&user("a"), expiring.notification.id, now + Duration::seconds(32)).await;
        assert!(matches!(late, Err(AckError::Expired)));
    }

    #[tokio::test]
    async fn records_are_bounded() {
        let store = MemoryAckStore::with_max_records(3);
        let now = Utc::now();
        let mut tracked = Vec::new();
        for _ in 0..3 {
            let p = pending(now);
            store.track(&p, &[user("a")]).await.unwrap();
            tracked.push(p);
        }
        assert!(matches!(store.track(&pending(now), &[user("a")]).await, Err(AckError::Full { max: 3 })));
        for p in &tracked {
            store.ack(&user("a"), p.notification.id, now).await.unwrap();
        }
        // Room again for pending records; the finished markers stay within the bound too.
        for _ in 0..3 {
            let p = pending(now);
            store.track(&p, &[user("a")]).await.unwrap();
            store.ack(&user("a"), p.notification.id, now).await.unwrap();
        }
        assert!(store.inner.lock().records.len() <= 3, "finished markers beyond the bound are forgotten");
    }
}
