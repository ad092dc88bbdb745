//! Who a client is: its token, verified.
//!
//! Contract: `verify` returns what the token proves ([`VerifiedToken`]: identity, lifetime, `jti`,
//! granted channels, the key that signed it) or the precise reason it is refused. It never panics on
//! input and never reveals key material in the error. An implementation MAY wait on I/O (a JWKS
//! fetched over HTTPS when a token names a key it does not know yet), bounded by its own timeout.

use std::sync::Arc;

use async_trait::async_trait;
use thiserror::Error;

use crate::domain::VerifiedToken;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    #[error("missing token: pass ?token= or an Authorization: Bearer header")]
    Missing,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet (its nbf is in the future)")]
    NotYetValid,
    #[error("token signature is invalid")]
    BadSignature,
    /// The header's `alg` is not one Ara accepts (`none`, `HS512`, …), or is not the algorithm of the
    /// key the token names (algorithm confusion: an HS256 token against an RSA public key).
    #[error("token algorithm is not allowed: {0}")]
    BadAlgorithm(String),
    /// The token's `kid` names no configured key (after a refresh of the JWKS, where there is one),
    /// or it has no `kid` and no key without one takes its algorithm.
    #[error("token key is unknown: {0}")]
    UnknownKey(String),
    /// The keys could not be had (the JWKS never loaded); the token may well be valid.
    #[error("token keys are unavailable right now")]
    KeysUnavailable,
    #[error("token audience is not accepted")]
    BadAudience,
    #[error("token issuer is not accepted")]
    BadIssuer,
    /// The `tenant_id` claim names another tenant than the one whose key verified the token.
    #[error("token was not issued for this tenant")]
    WrongTenant,
    /// The token, or every token of its user issued before it, was revoked.
    #[error("token has been revoked")]
    Revoked,
    #[error("token is malformed: {0}")]
    Malformed(String),
    #[error("token claims are invalid: {0}")]
    BadClaims(String),
}

impl AuthError {
    /// The machine-readable code for error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "MISSING_TOKEN",
            AuthError::Expired => "TOKEN_EXPIRED",
            AuthError::NotYetValid => "TOKEN_NOT_YET_VALID",
            AuthError::BadSignature => "INVALID_SIGNATURE",
            AuthError::BadAlgorithm(_) => "INVALID_ALGORITHM",
            AuthError::UnknownKey(_) => "UNKNOWN_KEY",
            AuthError::KeysUnavailable => "KEYS_UNAVAILABLE",
            AuthError::BadAudience => "INVALID_AUDIENCE",
            AuthError::BadIssuer => "INVALID_ISSUER",
            AuthError::WrongTenant => "WRONG_TENANT",
            AuthError::Revoked => "TOKEN_REVOKED",
            AuthError::Malformed(_) => "INVALID_TOKEN",
            AuthError::BadClaims(_) => "INVALID_CLAIMS",
        }
    }
}

/// Verifies client tokens. Object-safe: `app` (or, per tenant, a tenant directory) holds verifiers
/// as [`DynTokenVerifier`].
#[async_trait]
pub trait TokenVerifier: Send + Sync {
    /// # Errors
    /// MUST return `BadAlgorithm` for `alg: none` and for an `alg` that is not the algorithm of the
    /// key selected by `kid`; `UnknownKey` when no key matches; `Expired`/`NotYetValid` outside the
    /// time window (after leeway); never `Ok` for a token whose signature was not checked.
    async fn verify(&self, token: &str) -> Result<VerifiedToken, AuthError>;
}

pub type DynTokenVerifier = Arc<dyn TokenVerifier>;
