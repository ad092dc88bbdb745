//! Revoked client tokens: one token by its `jti`, or every token of a user issued before a moment.
//!
//! Contract:
//! - A revocation is kept until `until` (when the tokens it covers would have expired anyway), then
//!   MAY be forgotten; before that, [`RevocationStore::is_revoked`] MUST see it, on every node that
//!   shares the store.
//! - `Revocation::IssuedBefore` covers the user's tokens whose `iat` is before `before`, and tokens
//!   without `iat` (nothing shows they are newer). Two such records for one user keep the later one.
//! - [`RevocationStore::since`] lists revocations recorded after a cursor, oldest first, so that each
//!   node can close its own live connections that a revocation made elsewhere covers. Cursors are
//!   opaque, increasing, and `0` is before everything.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use thiserror::Error;

use super::BoxError;
use crate::domain::{TenantId, UserKey, VerifiedToken};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// The one token with this `jti`, in this tenant.
    Token { tenant: TenantId, jti: String },
    /// Every token of this user issued before `before`.
    IssuedBefore { user: UserKey, before: DateTime<Utc> },
}

impl Revocation {
    /// Whether this revocation covers `token`.
    pub fn covers(&self, token: &VerifiedToken) -> bool {
        match self {
            Revocation::Token { tenant, jti } => {
                &token.identity.tenant == tenant && token.jti.as_deref() == Some(jti.as_str())
            }
            Revocation::IssuedBefore { user, before } => {
                token.identity.tenant == user.tenant
                    && token.identity.user == user.user
                    && token.issued_at.is_none_or(|iat| iat < *before)
            }
        }
    }
}

#[derive(Debug, Error)]
pub enum RevocationError {
    /// The store cannot be reached; a connect is refused rather than let a revoked token in.
    #[error("revocation store unavailable")]
    Unavailable(#[source] BoxError),
    #[error("revocation store failed")]
    Unexpected(#[source] BoxError),
}

#[async_trait]
pub trait RevocationStore: Send + Sync {
    /// Records `revocation`, kept until `until`.
    ///
    /// # Errors
    /// MUST return `Unavailable` when the store cannot be reached (nothing was recorded).
    async fn revoke(&self, revocation: &Revocation, until: DateTime<Utc>) -> Result<(), RevocationError>;

    /// Whether a revocation in force at `now` covers `token`.
    async fn is_revoked(&self, token: &VerifiedToken, now: DateTime<Utc>) -> Result<bool, RevocationError>;

    /// Revocations recorded after `cursor` (at most `max`), with the cursor to ask from next.
    async fn since(&self, cursor: u64, max: usize) -> Result<(Vec<Revocation>, u64), RevocationError>;

    async fn check_health(&self) -> Result<(), RevocationError>;

    /// `memory` or `redis`, for `/health`.
    fn backend(&self) -> &'static str;
}

pub type DynRevocationStore = Arc<dyn RevocationStore>;
