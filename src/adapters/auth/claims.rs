//! The claims Ara reads from a client token, and how a token's header is read before any key is
//! chosen.

use base64::Engine;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    /// Not before. Declared so that a value that is not a number is refused rather than skipped
    /// (the JWT library ignores an `nbf` it cannot read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The token's own id: what `POST /api/v1/tokens/revoke` names to revoke this one token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Private channels the holder may subscribe to: exact names, or patterns with `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<String>>,
    /// A subscription token's one private channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// `aud` is one string or an array of them (RFC 7519 §4.1.3; Keycloak and Auth0 issue arrays). The
/// JWT library checks it against `JWT_AUDIENCE`: any member matching is enough.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

/// What the JOSE header says, read by hand: the JWT library refuses to parse a header whose `alg` it
/// does not know (`none`), and the error must still say "algorithm".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawHeader {
    pub alg: String,
    pub kid: Option<String>,
}

impl RawHeader {
    /// `None` when the first segment is not base64url JSON with a string `alg`.
    pub fn read(token: &str) -> Option<Self> {
        let first = token.split('.').next()?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(first.trim_end_matches('=')).ok()?;
        let header: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let alg = header.get("alg")?.as_str()?.to_owned();
        let kid = header.get("kid").and_then(|k| k.as_str()).map(str::to_owned);
        Some(Self { alg, kid })
    }
}
