//! The `ADMIN_*` settings: the key that opens the dashboard at `/admin`, and how long a login lasts.

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret, Settings};

/// Shorter keys are refused: the dashboard can send to every user and read every connection.
pub const MIN_ADMIN_KEY_CHARS: usize = 16;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AdminSettings {
    /// `ADMIN_API_KEY`: unset (the default) turns the dashboard off.
    pub api_key: Option<Secret>,
    /// A dashboard login expires after this many seconds.
    pub session_ttl_seconds: u64,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self { api_key: None, session_ttl_seconds: 8 * 3600 }
    }
}

impl AdminSettings {
    pub fn api_key(&self) -> Option<&str> {
        self.api_key.as_ref().map(Secret::expose).filter(|s| !s.is_empty())
    }
}

pub(super) fn validate(s: &Settings) -> Result<(), ConfigError> {
    let invalid = |setting: &str, message: String| Err(ConfigError::Invalid { setting: setting.into(), message });
    if let Some(key) = s.admin.api_key() {
        if key.chars().count() < MIN_ADMIN_KEY_CHARS {
            return invalid("ADMIN_API_KEY", format!("must be at least {MIN_ADMIN_KEY_CHARS} characters"));
        }
        if s.api_key() == Some(key) {
            return invalid("ADMIN_API_KEY", "must differ from API_KEY".into());
        }
    }
    if s.admin.session_ttl_seconds == 0 {
        return invalid("ADMIN_SESSION_TTL_SECONDS", "must be greater than 0".into());
    }
    Ok(())
}
