//! What a verified client token says: who it is for, how long it holds, and what it grants.

use chrono::{DateTime, Utc};

use super::Identity;

/// A token whose signature, algorithm, time window, issuer and audience were checked. Everything
/// here can be trusted as much as the key that signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub identity: Identity,
    /// The `exp` claim. The verifier already applied its clock-skew leeway when it accepted the
    /// token; a connection that holds it on is closed once this passes (plus the same leeway).
    pub expires_at: DateTime<Utc>,
    /// The `iat` claim, when the token has one: "revoke everything issued before" compares with it.
    pub issued_at: Option<DateTime<Utc>>,
    /// The `jti` claim, when the token has one: the handle by which this one token is revoked.
    pub jti: Option<String>,
    /// The `channels` claim: private channels this token may subscribe to, as exact names or
    /// patterns with `*`. Empty when the claim is absent.
    pub channels: Vec<String>,
    /// The `channel` claim of a channel subscription token: the one private channel it opens.
    pub channel: Option<String>,
    /// The `kid` of the key that verified the signature (`None` for a key configured without one,
    /// such as `JWT_SECRET`).
    pub key_id: Option<String>,
}
