//! The `REVOCATION_*` settings: where revoked tokens are kept (this node's memory, or Redis to share
//! them between nodes), how long a revocation whose token's expiry is unknown is kept, and how often
//! a node reads what the others revoked.

use serde::{Deserialize, Serialize};

use super::values::key_prefix;
use super::{ConfigError, Settings};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevocationBackend {
    Memory,
    Redis,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RevocationSettings {
    pub backend: RevocationBackend,
    #[serde(deserialize_with = "key_prefix")]
    pub redis_key_prefix: String,
    /// The longest lifetime a client token has: how long an issued-before revocation (and a `jti`
    /// revoked without its `exp`) is kept.
    pub max_token_lifetime_seconds: u64,
    /// How often this node reads revocations made on other nodes and closes its connections they cover.
    pub sync_interval_ms: u64,
}

impl Default for RevocationSettings {
    fn default() -> Self {
        Self {
            backend: RevocationBackend::Memory,
            redis_key_prefix: "ara:revoked".into(),
            max_token_lifetime_seconds: 86_400,
            sync_interval_ms: 1000,
        }
    }
}

pub(super) fn validate(s: &Settings) -> Result<(), ConfigError> {
    let invalid =
        |setting: &str, message: &str| Err(ConfigError::Invalid { setting: setting.into(), message: message.into() });
    let r = &s.revocation;
    if r.max_token_lifetime_seconds == 0 {
        return invalid("REVOCATION_MAX_TOKEN_LIFETIME_SECONDS", "must be greater than 0");
    }
    if r.sync_interval_ms == 0 {
        return invalid("REVOCATION_SYNC_INTERVAL_MS", "must be greater than 0");
    }
    if r.backend == RevocationBackend::Redis && s.redis_url().is_none() {
        return invalid("REDIS_URL", "must be set when REVOCATION_BACKEND is redis");
    }
    Ok(())
}
