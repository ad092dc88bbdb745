//! Typed settings, layered: built-in defaults, an optional TOML file, `.env`, then environment
//! variables (later wins). Environment names are the documented flat ones (`WEBSOCKET_MAX_CONNECTIONS`);
//! in TOML the same setting is `[websocket] max_connections`.

use std::fmt;
use std::path::Path;

use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;

use crate::domain::Quoted;

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

/// A string that never shows in logs or debug output.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        string_like(d).map(Secret)
    }
}

/// Environment values that look like numbers (`API_KEY=12345`) still mean text.
#[derive(Deserialize)]
#[serde(untagged)]
enum StringLike {
    S(String),
    I(i64),
    U(u64),
    F(f64),
    B(bool),
}

impl From<StringLike> for String {
    fn from(raw: StringLike) -> String {
        match raw {
            StringLike::S(s) => s,
            StringLike::I(i) => i.to_string(),
            StringLike::U(u) => u.to_string(),
            StringLike::F(f) => f.to_string(),
            StringLike::B(b) => b.to_string(),
        }
    }
}

fn string_like<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    StringLike::deserialize(d).map(String::from)
}

/// A `*_REDIS_KEY_PREFIX`. Keys are formed as `<prefix>:<rest>`, so one trailing `:` (as in
/// `ara:queue:`) is dropped here, once for every store, instead of doubling into `ara:queue::oq:…`.
/// Only one: `ara:queue::` keeps the double colon of keys written before this rule.
pub(super) fn key_prefix<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let raw = string_like(d)?;
    Ok(raw.strip_suffix(':').map_or_else(|| raw.clone(), str::to_owned))
}

fn opt_string_like<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<StringLike>::deserialize(d)?.map(String::from).filter(|s| !s.is_empty()))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// Largest accepted HTTP body for single sends.
    pub body_limit_bytes: usize,
    /// How long shutdown waits for connections to close.
    pub shutdown_timeout_seconds: u64,
    /// A new connection must deliver a request's headers within this; so must a keep-alive one once
    /// the next request has begun to arrive.
    pub header_read_timeout_seconds: u64,
    /// A keep-alive connection with no request in flight is closed after this.
    pub idle_timeout_seconds: u64,
    /// An API request's body must arrive within this of its headers (408 otherwise).
    pub request_timeout_seconds: u64,
    /// Open TCP connections per client address (IPv6: per /64); 0 = unlimited. `TRUSTED_PROXIES` are
    /// exempt.
    pub max_connections_per_ip: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".into(),
            port: 8080,
            body_limit_bytes: 64 * 1024,
            shutdown_timeout_seconds: 10,
            header_read_timeout_seconds: 10,
            idle_timeout_seconds: 60,
            request_timeout_seconds: 30,
            max_connections_per_ip: 256,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct JwtConfig {
    pub secret: Option<Secret>,
    #[serde(deserialize_with = "opt_string_like")]
    pub issuer: Option<String>,
    #[serde(deserialize_with = "opt_string_like")]
    pub audience: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CorsSettings {
    /// Comma-separated origins; unset or `*` allows any.
    #[serde(deserialize_with = "opt_string_like")]
    pub origins: Option<String>,
}

impl CorsSettings {
    /// The listed origins, or `None` for any.
    pub fn origin_list(&self) -> Option<Vec<String>> {
        let raw = self.origins.as_deref()?.trim();
        if raw.is_empty() || raw == "*" {
            return None;
        }
        Some(raw.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct WebSocketSettings {
    pub max_connections: usize,
    pub max_connections_per_user: usize,
    pub max_subscriptions_per_connection: usize,
    pub heartbeat_interval_seconds: u64,
    pub connection_timeout_seconds: u64,
    pub cleanup_interval_seconds: u64,
    /// Frames a connection may have waiting before it counts as a slow consumer.
    pub outbound_queue_size: usize,
    /// Largest client frame accepted.
    pub max_message_bytes: usize,
    /// `disconnect` (default) or `drop_oldest` for a connection whose queue is full.
    pub slow_consumer_policy: crate::adapters::connection::SlowConsumerPolicy,
    /// A connection whose socket takes no data for this long is closed as a slow consumer.
    pub write_timeout_seconds: u64,
}

impl Default for WebSocketSettings {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_connections_per_user: 5,
            max_subscriptions_per_connection: 50,
            heartbeat_interval_seconds: 30,
            connection_timeout_seconds: 120,
            cleanup_interval_seconds: 60,
            outbound_queue_size: 1024,
            max_message_bytes: 64 * 1024,
            slow_consumer_policy: Default::default(),
            write_timeout_seconds: 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `RUST_LOG`-style filter; `RUST_LOG` itself wins when set.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self { format: LogFormat::Pretty, level: "info".into() }
    }
}

/// Where a store keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    #[default]
    Memory,
    Redis,
    Postgres,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueSettings {
    pub enabled: bool,
    pub backend: StoreBackend,
    pub max_size_per_user: usize,
    pub message_ttl_seconds: u32,
    pub cleanup_interval_seconds: u64,
    #[serde(deserialize_with = "key_prefix")]
    pub redis_key_prefix: String,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            backend: StoreBackend::Memory,
            max_size_per_user: 100,
            message_ttl_seconds: 3600,
            cleanup_interval_seconds: 300,
            redis_key_prefix: "ara:queue".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AckSettings {
    pub enabled: bool,
    pub backend: StoreBackend,
    pub timeout_seconds: u32,
    pub cleanup_interval_seconds: u64,
    /// High and Critical notifications not acknowledged in time are sent again.
    pub redeliver: bool,
    #[serde(deserialize_with = "key_prefix")]
    pub redis_key_prefix: String,
    /// Memory backend: pending records kept at most (beyond, deliveries go untracked), and as many
    /// finished ones (beyond, the oldest are forgotten early).
    pub max_records: usize,
}

impl Default for AckSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            backend: StoreBackend::Memory,
            timeout_seconds: 30,
            cleanup_interval_seconds: 60,
            redeliver: false,
            redis_key_prefix: "ara:ack".into(),
            max_records: crate::adapters::memory::DEFAULT_MAX_ACK_RECORDS,
        }
    }
}

/// Where templates are kept: in memory (lost on restart) or in Postgres. Redis is not offered:
/// templates are configuration, read on every templated send but written rarely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TemplateBackend {
    #[default]
    Memory,
    Postgres,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TemplateSettings {
    pub backend: TemplateBackend,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `DATABASE_URL`, used by every store whose backend is `postgres`.
    pub url: Option<Secret>,
    pub max_connections: u32,
    /// Bounds taking a pooled connection and every store call on Postgres.
    pub timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self { url: None, max_connections: 10, timeout_ms: 5000 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RedisSettings {
    /// `REDIS_URL`, used by every store whose backend is `redis`.
    pub url: Option<Secret>,
    /// The Redis Pub/Sub trigger: deliver what backends publish on `channels`.
    pub pubsub_enabled: bool,
    /// Comma-separated Pub/Sub channels.
    #[serde(deserialize_with = "string_like")]
    pub channels: String,
    /// Bounds each call on the shared connection (rate limiter, health) and each connection attempt.
    pub timeout_ms: u64,
    pub breaker_failure_threshold: u32,
    pub breaker_success_threshold: u32,
    pub breaker_open_ms: u64,
    pub reconnect_min_delay_ms: u64,
    pub reconnect_max_delay_ms: u64,
    /// How often the Pub/Sub subscriber PINGs its subscription to notice a dead connection.
    pub pubsub_keepalive_ms: u64,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: Some(Secret::new("redis://127.0.0.1:6379")),
            pubsub_enabled: false,
            channels: "ara:notifications".into(),
            timeout_ms: 1000,
            breaker_failure_threshold: 5,
            breaker_success_threshold: 2,
            breaker_open_ms: 10_000,
            reconnect_min_delay_ms: 200,
            reconnect_max_delay_ms: 5_000,
            pubsub_keepalive_ms: 15_000,
        }
    }
}

impl RedisSettings {
    pub fn channel_list(&self) -> Vec<String> {
        self.channels.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect()
    }
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
    pub admin: AdminSettings,
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
        // `.env` never overrides variables already set, which gives it its place in the order.
        let _ = dotenvy::dotenv();
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::File { path: path.display().to_string(), message: "file not found".into() });
            }
            figment = figment.merge(Toml::file(path));
        }
        for (key, value) in
            std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        {
            if let Some(path) = env_key_to_path(&key) {
                figment = figment.merge(Serialized::global(&path, value));
            }
        }
        Self::from_figment(figment)
    }

    /// Settings from defaults plus the given `KEY=value` environment pairs only (for tests and tools).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        for (key, value) in pairs {
            let Some(path) = env_key_to_path(key) else {
                return Err(ConfigError::Invalid { setting: key.into(), message: "unknown setting".into() });
            };
            figment = figment.merge(Serialized::global(&path, value));
        }
        Self::from_figment(figment)
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
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
                None | Some("") => return invalid("JWT_SECRET", "must be set in production mode"),
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
        ratelimit::validate(self)?;
        otel::validate(self)?;
        admin::validate(self)?;
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return invalid("LOG_LEVEL", "is not a valid filter (e.g. info or ara=debug,info)");
        }
        Ok(())
    }

    pub fn is_production(&self) -> bool {
        self.run_mode == RunMode::Production
    }

    /// The JWT secret in force: the configured one, or the development secret.
    pub fn jwt_secret(&self) -> &str {
        self.jwt.secret.as_ref().map(Secret::expose).filter(|s| !s.is_empty()).unwrap_or(DEV_JWT_SECRET)
    }

    pub fn database_url(&self) -> Option<&str> {
        self.database.url.as_ref().map(Secret::expose).filter(|s| !s.is_empty())
    }

    pub fn redis_url(&self) -> Option<&str> {
        self.redis.url.as_ref().map(Secret::expose).filter(|s| !s.is_empty())
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

#[path = "config_ratelimit.rs"]
mod ratelimit;
pub use ratelimit::{RateLimitBackend, RateLimitSettings};

#[path = "config_otel.rs"]
mod otel;
pub use otel::OtelSettings;
#[path = "config_admin.rs"]
mod admin;
pub use admin::AdminSettings;

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
