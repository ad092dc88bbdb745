//! A connection's token over its life: the transport's timer asks when something is due and what,
//! and a client's `Refresh` replaces the token with one for the same user and tenant.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::ConnectionHandle;
use crate::delivery::TokenCheck;
use crate::domain::VerifiedToken;
use crate::ports::AuthError;

/// Why a refresh was refused; the connection keeps its current token (and its end).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("token revocations cannot be checked right now")]
    RevocationUnavailable,
    /// A refresh may extend a connection, never move it to another user or tenant.
    #[error("the new token is for {user} in tenant {tenant}, not this connection's user and tenant")]
    Mismatch { user: String, tenant: String },
}

impl RefreshError {
    pub fn code(&self) -> &'static str {
        match self {
            RefreshError::Auth(e) => e.code(),
            RefreshError::RevocationUnavailable => "REVOCATION_UNAVAILABLE",
            RefreshError::Mismatch { .. } => "TOKEN_MISMATCH",
        }
    }
}

impl ConnectionHandle {
    /// Changes whenever the token does: a timer that saw another value looks at
    /// [`ConnectionHandle::token_due`] again.
    pub fn token_generation(&self) -> u64 {
        self.entry.token.generation()
    }

    /// When [`ConnectionHandle::check_token`] next has something to do; `None` for a connection
    /// without a token (it never expires).
    pub fn token_due(&self) -> Option<DateTime<Utc>> {
        self.entry.token.next_due(&self.service.token_policy)
    }

    /// What is due now: tell the client its token is expiring (once), close, or nothing.
    pub fn check_token(&self, now: DateTime<Utc>) -> TokenCheck {
        self.entry.token.check(now, &self.service.token_policy)
    }

    /// The token held now, if the connection was opened with one.
    pub fn token(&self) -> Option<Arc<VerifiedToken>> {
        self.entry.token.get()
    }

    /// Verifies `raw` as a connection token would be, and holds it instead of the current one when it
    /// is for the same user and tenant. Returns the new expiry.
    ///
    /// # Errors
    /// `Auth` as at connect (expired, bad signature, unknown key, …); `Mismatch` for another identity.
    pub async fn refresh(&self, raw: &str) -> Result<DateTime<Utc>, RefreshError> {
        let token = self.service.verify_unrevoked(raw).await.map_err(|e| match e {
            super::ConnectError::Auth(e) => RefreshError::Auth(e),
            _ => RefreshError::RevocationUnavailable,
        })?;
        if token.identity != self.entry.identity {
            return Err(RefreshError::Mismatch {
                user: token.identity.user.to_string(),
                tenant: token.identity.tenant.to_string(),
            });
        }
        let expires_at = token.expires_at;
        self.entry.token.set(token);
        Ok(expires_at)
    }
}
