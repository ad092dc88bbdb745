//! The `AUDIT_*` settings: where administrative actions are kept besides the log.

use serde::{Deserialize, Serialize};

use super::{ConfigError, Settings};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditBackend {
    /// The last 10,000 actions of this node, lost on restart.
    Memory,
    /// The `audit_log` table (`DATABASE_URL`).
    Postgres,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditSettings {
    pub backend: AuditBackend,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self { backend: AuditBackend::Memory }
    }
}

pub(super) fn validate(s: &Settings) -> Result<(), ConfigError> {
    if s.audit.backend == AuditBackend::Postgres && s.database_url().is_none() {
        return Err(ConfigError::Invalid {
            setting: "DATABASE_URL".into(),
            message: "must be set when AUDIT_BACKEND is postgres".into(),
        });
    }
    Ok(())
}
