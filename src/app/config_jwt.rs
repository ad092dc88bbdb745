//! The `JWT_*` settings beyond secret, issuer and audience: more keys (`JWT_KEYS`), a JWKS
//! (`JWT_JWKS_URL` / `JWT_JWKS_FILE`), and the clock-skew leeway. Checked here as text; the files
//! they name are read when the verifier is built (`app::auth`).

use super::{ConfigError, RunMode, Secret, Settings};

/// Shortest HS256 secret production accepts, as for `JWT_SECRET`.
pub const MIN_PRODUCTION_SECRET_CHARS: usize = 32;

/// One `JWT_KEYS` entry, as written: `kid=ALG:value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtKeyEntry {
    pub kid: Option<String>,
    /// `HS256`, `RS256`, `ES256` or `EdDSA`.
    pub algorithm: String,
    /// The HS256 secret, or the path of a PEM public key.
    pub value: String,
}

impl Settings {
    /// `JWT_KEYS`, entry by entry.
    pub fn jwt_key_entries(&self) -> Result<Vec<JwtKeyEntry>, ConfigError> {
        let Some(raw) = self.jwt.keys.as_ref().map(Secret::expose) else { return Ok(Vec::new()) };
        raw.split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
            .map(|(i, entry)| {
                crate::adapters::auth::parse_key_entry(entry)
                    .map(|(kid, alg, value)| JwtKeyEntry { kid, algorithm: alg.name().to_owned(), value })
                    .map_err(|reason| ConfigError::Invalid {
                        setting: "JWT_KEYS".into(),
                        // The entry itself may be a secret: only its position is named.
                        message: format!("entry {}: {reason}", i + 1),
                    })
            })
            .collect()
    }
}

pub(super) fn validate(s: &Settings) -> Result<(), ConfigError> {
    let invalid = |setting: &str, message: String| Err(ConfigError::Invalid { setting: setting.into(), message });
    let jwt = &s.jwt;
    for (name, value) in
        [("JWT_JWKS_REFRESH_SECONDS", jwt.jwks_refresh_seconds), ("JWT_JWKS_TIMEOUT_MS", jwt.jwks_timeout_ms)]
    {
        if value == 0 {
            return invalid(name, "must be greater than 0".into());
        }
    }
    if let Some(url) = &jwt.jwks_url {
        if !url.starts_with("https://") {
            return invalid("JWT_JWKS_URL", "must be an https:// URL (keys over plain HTTP can be swapped)".into());
        }
        if url::Url::parse(url).is_err() {
            return invalid("JWT_JWKS_URL", "is not a valid URL".into());
        }
    } else if jwt.jwks_ca_cert.is_some() {
        return invalid("JWT_JWKS_CA_CERT", "is set but JWT_JWKS_URL is not".into());
    }
    let entries = s.jwt_key_entries()?;
    if s.run_mode == RunMode::Production {
        if let Some(i) =
            entries.iter().position(|e| e.algorithm == "HS256" && e.value.chars().count() < MIN_PRODUCTION_SECRET_CHARS)
        {
            return invalid(
                "JWT_KEYS",
                format!(
                    "entry {}: HS256 secrets must be at least {MIN_PRODUCTION_SECRET_CHARS} characters in production",
                    i + 1
                ),
            );
        }
    }
    Ok(())
}
