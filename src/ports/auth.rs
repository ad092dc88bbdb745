//! Who a client is: its token, verified.
//!
//! Contract: `verify` returns the identity the token was issued for, or the precise reason it is
//! refused; it never panics on input and never reveals key material in the error.

use std::sync::Arc;

use thiserror::Error;

use crate::domain::Identity;

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
    #[error("token algorithm is not allowed; only HS256 is accepted")]
    BadAlgorithm,
    #[error("token audience is not accepted")]
    BadAudience,
    #[error("token issuer is not accepted")]
    BadIssuer,
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
            AuthError::BadAlgorithm => "INVALID_ALGORITHM",
            AuthError::BadAudience => "INVALID_AUDIENCE",
            AuthError::BadIssuer => "INVALID_ISSUER",
            AuthError::Malformed(_) => "INVALID_TOKEN",
            AuthError::BadClaims(_) => "INVALID_CLAIMS",
        }
    }
}

pub trait TokenVerifier: Send + Sync {
    fn verify(&self, token: &str) -> Result<Identity, AuthError>;
}

pub type DynTokenVerifier = Arc<dyn TokenVerifier>;
