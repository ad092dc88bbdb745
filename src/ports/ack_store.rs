//! Tracking of delivered notifications until their user acknowledges them.
//!
//! Contract (checked by `tests/contracts/ack_store.rs` against every adapter):
//! - `track` records a pending ACK per (tenant, user, notification id) for every user of a send in one
//!   call; tracking the same key again (a second device of the user) keeps the first record, and an
//!   expired record is re-armed (a redelivery);
//! - `ack` succeeds once, for the user it was delivered to, before the deadline; every other case
//!   returns the matching `AckError` and changes nothing;
//! - `forget` removes a pending record that was tracked for a delivery that did not happen (the frame
//!   reached no connection); finished records are kept;
//! - `expire_due` moves pending entries past their deadline to expired and returns them;
//! - a finished record (acknowledged or expired) keeps only what the statistics and a late or double
//!   ACK's answer need (id, user, times, status), never the notification itself, and is forgotten
//!   once its retention passes.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use thiserror::Error;
use uuid::Uuid;

use super::{BoxError, Garbled};
use crate::domain::ack::{AckReceipt, AckStats, ExpiredAck, PendingAck};
use crate::domain::UserKey;

#[derive(Debug, Error)]
pub enum AckError {
    /// MUST be returned when no notification with this id was delivered (or it was never tracked).
    #[error("no pending notification with this id")]
    UnknownNotification,
    /// MUST be returned when the id was delivered to a different user or tenant.
    #[error("this notification was not delivered to you")]
    WrongUser,
    /// MUST be returned when the id was already acknowledged.
    #[error("notification already acknowledged")]
    AlreadyAcknowledged,
    /// MUST be returned when the deadline passed before the ACK arrived.
    #[error("acknowledgement deadline has passed")]
    Expired,
    /// MUST be returned by a store that bounds its records when `track` would exceed the bound.
    #[error("the ACK store already holds its maximum of {max} pending records")]
    Full { max: usize },
    /// The store cannot be reached (connection refused or lost, timeout, breaker open); retrying may
    /// help.
    #[error("the ACK store is unavailable")]
    Unavailable(#[source] BoxError),
    /// The store answered with data it cannot read back.
    #[error("the ACK store returned data it cannot read")]
    Corrupt(#[source] BoxError),
    /// The store answered, but not as expected (a refused statement or script).
    #[error("the ACK store failed")]
    Unexpected(#[source] BoxError),
}

impl AckError {
    pub fn corrupt(what: impl Into<String>) -> Self {
        AckError::Corrupt(Box::new(Garbled(what.into())))
    }
}

#[async_trait]
pub trait AckStore: Send + Sync {
    /// Records `pending` for each of `users`: one call for the whole send.
    async fn track(&self, pending: &PendingAck, users: &[UserKey]) -> Result<(), AckError>;

    /// Removes the pending records of `id` of each of `users`; anything not pending is left as it is.
    async fn forget(&self, id: Uuid, users: &[UserKey]) -> Result<(), AckError>;

    async fn ack(&self, user: &UserKey, id: Uuid, now: DateTime<Utc>) -> Result<AckReceipt, AckError>;

    async fn expire_due(&self, now: DateTime<Utc>) -> Result<Vec<ExpiredAck>, AckError>;

    async fn stats(&self) -> Result<AckStats, AckError>;

    async fn check_health(&self) -> Result<(), AckError>;
}

pub type DynAckStore = Arc<dyn AckStore>;
