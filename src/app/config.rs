//! Typed settings, layered: built-in defaults, an optional TOML file, `.env`, then environment
//! variables (later wins). Environment names are the documented flat ones (`WEBSOCKET_MAX_CONNECTIONS`);
//! in TOML the same setting is `[websocket] max_connections`.

use std::path::Path;

use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::domain::Quoted;

/// Where Redis is when `REDIS_URL` is not set.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// The secret used in development mode when none is configured; production refuses it.
pub const DEV_JWT_SECRET: &str = "ara-development-secret-change-me";

/// Sections whose settings are named `SECTION_SETTING` in the environment.
const SECTIONS: &[&str] = &[
    "server",
    "jwt",
    "cors",
    "websocket",
    "log",
    "queue",
    "ack",
    "database",
    "redis",
    "ratelimit",
    "template",
    "otel",
    "admin",
    "revocation",
    "channel",
    "audit",
    "tenant",
    "cluster",
];
/// Settings with no section.
const TOP_LEVEL: &[&str] = &["run_mode", "api_key", "trusted_proxies"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunMode {
    #[default]
    Development,
    Production,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub run_mode: RunMode,
    pub api_key: Option<Secret>,
    /// `TRUSTED_PROXIES`: peers whose `X-Forwarded-For` names the client (addresses or networks).
    #[serde(deserialize_with = "opt_string_like")]
    pub trusted_proxies: Option<String>,
    pub server: ServerSettings,
    pub jwt: JwtConfig,
    pub cors: CorsSettings,
    pub websocket: WebSocketSettings,
    pub log: LogSettings,
    pub queue: QueueSettings,
    pub ack: AckSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub ratelimit: RateLimitSettings,
    pub template: TemplateSettings,
    pub otel: OtelSettings,
    /// Names that looked like settings but are none (with the closest real one), for the log.
    #[serde(skip)]
    pub warnings: Vec<String>,
    /// The `--config`/`ARA_CONFIG` file these came from, read again on reload.
    #[serde(skip)]
    pub file: Option<std::path::PathBuf>,
    /// Read by [`Self::load`] from the process's sources, which a reload can read again; settings
    /// made from given pairs (tests, tools) have nothing to reload from.
    #[serde(skip)]
    pub reloadable: bool,
    pub admin: AdminSettings,
    pub revocation: RevocationSettings,
    pub channel: ChannelSettings,
    pub audit: AuditSettings,
    pub tenant: TenantSettings,
    pub cluster: ClusterSettings,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("invalid configuration: {setting}: {message}")]
    Invalid { setting: String, message: String },
    #[error("cannot read config file {path}: {message}")]
    File { path: String, message: String },
}

impl Settings {
    /// Loads settings from every source. `file` is the `--config`/`ARA_CONFIG` path, if any.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let (figment, warnings) = Self::layered_with_warnings(file)?;
        let mut settings = Self::from_figment(figment)?;
        settings.warnings = warnings;
        settings.file = file.map(Path::to_path_buf);
        settings.reloadable = true;
        Ok(settings)
    }

    /// Every source of [`Self::load`], layered but not yet read into settings: `ara config` asks it
    /// where each value came from.
    pub fn layered(file: Option<&Path>) -> Result<Figment, ConfigError> {
        Self::layered_with_warnings(file).map(|(figment, _)| figment)
    }

    /// The layered sources, and what looked like a setting but is none.
    fn layered_with_warnings(file: Option<&Path>) -> Result<(Figment, Vec<String>), ConfigError> {
        // `.env` never overrides variables already set, which gives it its place in the order.
        let _ = dotenvy::dotenv();
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        let mut warnings = Vec::new();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::File { path: path.display().to_string(), message: "file not found".into() });
            }
            let toml = Toml::file(path);
            if let Ok(data) = figment::Provider::data(&toml) {
                for dict in data.values() {
                    warnings.extend(keys::check_toml(dict));
                }
            }
            figment = figment.merge(toml);
        }
        let vars: Vec<(String, String)> =
            std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
        warnings.extend(keys::check_env(vars.iter().map(|(k, _)| k.as_str())));
        for (key, value) in vars {
            if let Some(path) = env_key_to_path(&key) {
                figment = figment.merge(Serialized::global(&path, value));
            }
        }
        Ok((figment, warnings))
    }

    /// Settings from defaults plus the given `KEY=value` environment pairs only (for tests and tools).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        let pairs: Vec<(&str, &str)> = pairs.into_iter().collect();
        for (key, value) in &pairs {
            let Some(path) = env_key_to_path(key) else {
                return Err(ConfigError::Invalid { setting: (*key).into(), message: "unknown setting".into() });
            };
            figment = figment.merge(Serialized::global(&path, *value));
        }
        let mut settings = Self::from_figment(figment)?;
        settings.warnings = keys::check_env(pairs.iter().map(|(k, _)| *k));
        Ok(settings)
    }

    pub(crate) fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        // Environment values arrive as text and are converted only where a setting wants a number or
        // a boolean, so a secret like `0012345` stays exactly what was written.
        let settings: Settings = figment.extract_lossy().map_err(|e| {
            let path = e.path.join(".");
            ConfigError::Invalid { setting: path_to_env_key(&path), message: e.kind.to_string() }
        })?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |setting: &str, message: &str| {
            Err(ConfigError::Invalid { setting: setting.into(), message: message.into() })
        };
        let ws = &self.websocket;
        for (name, value) in [
            ("WEBSOCKET_MAX_CONNECTIONS", ws.max_connections),
            ("WEBSOCKET_MAX_CONNECTIONS_PER_USER", ws.max_connections_per_user),
            ("WEBSOCKET_MAX_SUBSCRIPTIONS_PER_CONNECTION", ws.max_subscriptions_per_connection),
            ("WEBSOCKET_OUTBOUND_QUEUE_SIZE", ws.outbound_queue_size),
            ("WEBSOCKET_MAX_MESSAGE_BYTES", ws.max_message_bytes),
            ("SERVER_BODY_LIMIT_BYTES", self.server.body_limit_bytes),
            ("QUEUE_MAX_SIZE_PER_USER", self.queue.max_size_per_user),
            ("QUEUE_MESSAGE_TTL_SECONDS", self.queue.message_ttl_seconds as usize),
            ("QUEUE_CLEANUP_INTERVAL_SECONDS", self.queue.cleanup_interval_seconds as usize),
            ("ACK_TIMEOUT_SECONDS", self.ack.timeout_seconds as usize),
            ("ACK_CLEANUP_INTERVAL_SECONDS", self.ack.cleanup_interval_seconds as usize),
            ("ACK_MAX_RECORDS", self.ack.max_records),
            ("DATABASE_TIMEOUT_MS", self.database.timeout_ms as usize),
        ] {
            if value == 0 {
                return invalid(name, "must be greater than 0");
            }
        }
        for (name, value) in [
            ("WEBSOCKET_HEARTBEAT_INTERVAL_SECONDS", ws.heartbeat_interval_seconds),
            ("WEBSOCKET_CONNECTION_TIMEOUT_SECONDS", ws.connection_timeout_seconds),
            ("WEBSOCKET_CLEANUP_INTERVAL_SECONDS", ws.cleanup_interval_seconds),
            ("WEBSOCKET_WRITE_TIMEOUT_SECONDS", ws.write_timeout_seconds),
            ("SERVER_HEADER_READ_TIMEOUT_SECONDS", self.server.header_read_timeout_seconds),
            ("SERVER_IDLE_TIMEOUT_SECONDS", self.server.idle_timeout_seconds),
            ("SERVER_REQUEST_TIMEOUT_SECONDS", self.server.request_timeout_seconds),
        ] {
            if value == 0 {
                return invalid(name, "must be at least 1 second");
            }
        }
        if self.run_mode == RunMode::Production {
            match self.jwt.secret.as_ref().map(Secret::expose) {
                // A key set stands in for the one secret.
                None | Some("") if self.jwt.has_key_set() => {}
                None | Some("") => {
                    return invalid("JWT_SECRET", "must be set in production mode (or JWT_KEYS / JWT_JWKS_*)")
                }
                Some(DEV_JWT_SECRET) => {
                    return invalid("JWT_SECRET", "must not be the development secret in production")
                }
                Some(s) if s.len() < 32 => {
                    return invalid("JWT_SECRET", "must be at least 32 characters in production")
                }
                Some(_) => {}
            }
            if self.api_key.as_ref().is_none_or(|k| k.expose().is_empty()) {
                return invalid("API_KEY", "must be set in production mode");
            }
        }
        let uses = |backend| {
            (self.queue.enabled && self.queue.backend == backend) || (self.ack.enabled && self.ack.backend == backend)
        };
        if uses(StoreBackend::Postgres) && self.database_url().is_none() {
            return invalid("DATABASE_URL", "must be set when QUEUE_BACKEND or ACK_BACKEND is postgres");
        }
        if self.template.backend == TemplateBackend::Postgres && self.database_url().is_none() {
            return invalid("DATABASE_URL", "must be set when TEMPLATE_BACKEND is postgres");
        }
        if uses(StoreBackend::Redis) && self.redis_url().is_none() {
            return invalid("REDIS_URL", "must be set when QUEUE_BACKEND or ACK_BACKEND is redis");
        }
        if let Some(origins) = self.cors.origin_list() {
            if let Some(bad) = origins.iter().find(|o| !(o.starts_with("http://") || o.starts_with("https://"))) {
                return Err(ConfigError::Invalid {
                    setting: "CORS_ORIGINS".into(),
                    message: format!("{} is not an origin like https://app.example.com", Quoted(bad)),
                });
            }
        }
        let server = &self.server;
        match (&server.tls_cert, &server.tls_key) {
            (Some(_), None) => return invalid("SERVER_TLS_CERT", "needs SERVER_TLS_KEY (its private key) too"),
            (None, Some(_)) => return invalid("SERVER_TLS_KEY", "needs SERVER_TLS_CERT (its certificate) too"),
            _ => {}
        }
        if server.tls_client_ca.is_some() && server.tls_cert.is_none() {
            return invalid("SERVER_TLS_CLIENT_CA", "needs the TLS listener: set SERVER_TLS_CERT and SERVER_TLS_KEY");
        }
        jwt::validate(self)?;
        revocation::validate(self)?;
        audit::validate(self)?;
        ratelimit::validate(self)?;
        redis_checks::validate(self)?;
        otel::validate(self)?;
        admin::validate(self)?;
        tenant::validate(self)?;
        cluster::validate(self)?;
        if !super::log_filter::is_valid(&self.log.level) {
            return invalid("LOG_LEVEL", "is not a valid filter (e.g. info or ara=debug,info)");
        }
        Ok(())
    }

    pub fn is_production(&self) -> bool {
        self.run_mode == RunMode::Production
    }

    /// The TLS listener's files, when it is on.
    pub fn server_tls(&self) -> Option<crate::adapters::http::TlsFiles> {
        let server = &self.server;
        Some(crate::adapters::http::TlsFiles {
            cert: server.tls_cert.as_ref()?.into(),
            key: server.tls_key.as_ref()?.into(),
            client_ca: server.tls_client_ca.as_ref().map(Into::into),
        })
    }

    /// The JWT secret in force: the configured one, or the development secret.
    pub fn jwt_secret(&self) -> &str {
        self.jwt.secret.as_ref().map(Secret::expose).filter(|s| !s.is_empty()).unwrap_or(DEV_JWT_SECRET)
    }

    /// The HS256 secret for tokens without a `kid`: `JWT_SECRET`, or in its absence the development
    /// secret — but only when no other key is configured (a key set must not also accept tokens
    /// anyone can mint with the published development secret).
    pub fn jwt_default_secret(&self) -> Option<&str> {
        match self.jwt.secret.as_ref().map(Secret::expose).filter(|s| !s.is_empty()) {
            Some(secret) => Some(secret),
            None if self.jwt.has_key_set() => None,
            None => Some(DEV_JWT_SECRET),
        }
    }

    pub fn database_url(&self) -> Option<&str> {
        self.database.url.as_ref().map(Secret::expose).filter(|s| !s.is_empty())
    }

    /// `REDIS_URL`, or the local Redis when it is unset (an empty value means none).
    pub fn redis_url(&self) -> Option<&str> {
        match &self.redis.url {
            None => Some(DEFAULT_REDIS_URL),
            Some(url) => Some(url.expose()).filter(|s| !s.is_empty()),
        }
    }

    pub fn api_key(&self) -> Option<&str> {
        self.api_key.as_ref().map(Secret::expose).filter(|s| !s.is_empty())
    }
}

/// `WEBSOCKET_MAX_CONNECTIONS` → `websocket.max_connections`; `None` for variables that are not ours.
fn env_key_to_path(key: &str) -> Option<String> {
    let key = key.to_ascii_lowercase();
    if TOP_LEVEL.contains(&key.as_str()) {
        return Some(key);
    }
    if let Some(path) = tenant::override_path(&key) {
        return Some(path);
    }
    SECTIONS.iter().find_map(|section| {
        key.strip_prefix(section)
            .and_then(|rest| rest.strip_prefix('_'))
            .filter(|rest| !rest.is_empty())
            .map(|rest| format!("{section}.{rest}"))
    })
}

/// The inverse, for error messages: `websocket.max_connections` → `WEBSOCKET_MAX_CONNECTIONS`.
fn path_to_env_key(path: &str) -> String {
    if path.is_empty() {
        return "configuration".into();
    }
    path.replace('.', "_").to_ascii_uppercase()
}

#[path = "config_values.rs"]
mod values;
pub use values::Secret;
use values::{key_prefix, opt_string_like, string_like};

#[path = "config_sections.rs"]
mod sections;
pub use sections::*;

#[path = "config_keys.rs"]
pub mod keys;

#[path = "config_audit.rs"]
mod audit;
pub use audit::{AuditBackend, AuditSettings};

#[path = "config_channel.rs"]
mod channel;
pub use channel::ChannelSettings;

#[path = "config_revocation.rs"]
mod revocation;
pub use revocation::{RevocationBackend, RevocationSettings};

#[path = "config_jwt.rs"]
mod jwt;
pub use jwt::JwtKeyEntry;

#[path = "config_ratelimit.rs"]
mod ratelimit;
#[path = "config_redis.rs"]
mod redis_checks;
pub use ratelimit::{RateLimitBackend, RateLimitSettings};

#[path = "config_otel.rs"]
mod otel;
pub use otel::OtelSettings;
#[path = "config_cluster.rs"]
mod cluster;
pub use cluster::{ClusterSettings, SessionStore};
#[path = "config_admin.rs"]
mod admin;
pub use admin::AdminSettings;
#[path = "config_tenant.rs"]
pub mod tenant;
pub use tenant::{TenantBackend, TenantSettings};

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
