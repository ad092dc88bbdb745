//! The settings of each section (`[server]`, `[websocket]`, … in TOML; `SERVER_*`, `WEBSOCKET_*`, …
//! in the environment) with their defaults.

use serde::{Deserialize, Serialize};

use super::values::{key_prefix, opt_string_like, string_like, Secret};

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
    /// PEM certificate chain for the TLS listener (`https://`, `wss://`); with `tls_key`.
    #[serde(deserialize_with = "opt_string_like")]
    pub tls_cert: Option<String>,
    #[serde(deserialize_with = "opt_string_like")]
    pub tls_key: Option<String>,
    /// PEM CA certificate(s): the HTTP API then takes only requests from clients with a certificate
    /// from this CA (mutual TLS). Needs `tls_cert`.
    #[serde(deserialize_with = "opt_string_like")]
    pub tls_client_ca: Option<String>,
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
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct JwtConfig {
    /// `JWT_SECRET`: one HS256 secret for tokens without a `kid`.
    pub secret: Option<Secret>,
    #[serde(deserialize_with = "opt_string_like")]
    pub issuer: Option<String>,
    #[serde(deserialize_with = "opt_string_like")]
    pub audience: Option<String>,
    /// `JWT_KEYS`: more keys, `[kid=]ALG:value,…` — an HS256 secret, or the path of an RS256/ES256/
    /// EdDSA public key in PEM. A secret, as a whole: it may hold HS256 secrets.
    pub keys: Option<Secret>,
    /// `JWT_JWKS_URL`: an `https://` JWKS, cached and refreshed.
    #[serde(deserialize_with = "opt_string_like")]
    pub jwks_url: Option<String>,
    /// `JWT_JWKS_FILE`: a JWKS file, read at start and again as it refreshes.
    #[serde(deserialize_with = "opt_string_like")]
    pub jwks_file: Option<String>,
    /// `JWT_JWKS_CA_CERT`: PEM CA certificate(s) for `JWT_JWKS_URL` instead of the system's.
    #[serde(deserialize_with = "opt_string_like")]
    pub jwks_ca_cert: Option<String>,
    /// The JWKS is fetched again this often (seconds).
    pub jwks_refresh_seconds: u64,
    /// A token with an unknown `kid` fetches the JWKS at once, but at most this often (seconds).
    pub jwks_min_refresh_seconds: u64,
    /// One JWKS fetch's deadline.
    pub jwks_timeout_ms: u64,
    /// Clock skew forgiven on `exp` and `nbf` (seconds); a live connection is closed this long after
    /// its token's `exp`.
    pub leeway_seconds: u64,
    /// A live connection is sent `token_expiring` this long before its token's `exp` (seconds).
    pub expiry_notice_seconds: u64,
}

impl Default for JwtConfig {
    fn default() -> Self {
        Self {
            secret: None,
            issuer: None,
            audience: None,
            keys: None,
            jwks_url: None,
            jwks_file: None,
            jwks_ca_cert: None,
            jwks_refresh_seconds: 300,
            jwks_min_refresh_seconds: 10,
            jwks_timeout_ms: 5000,
            leeway_seconds: 30,
            expiry_notice_seconds: 60,
        }
    }
}

impl JwtConfig {
    /// Whether anything but `JWT_SECRET` names keys: then the development secret is never used.
    pub fn has_key_set(&self) -> bool {
        self.keys.as_ref().is_some_and(|k| !k.expose().trim().is_empty())
            || self.jwks_url.is_some()
            || self.jwks_file.is_some()
    }
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
    pub slow_consumer_policy: crate::delivery::SlowConsumerPolicy,
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
    /// `REDIS_CLUSTER`: `REDIS_URL` (and `CLUSTER_REDIS_URL`) name seed nodes of a Redis Cluster,
    /// comma-separated; keys are hash-tagged and the cluster bus uses sharded Pub/Sub.
    pub cluster: bool,
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
    /// How often a canary is published for the subscription to receive back; three missed in a row
    /// and the subscription counts as lost (not ready, then resubscribed).
    pub pubsub_canary_interval_ms: u64,
    /// `rediss://` only: PEM CA certificate(s) to check the server with instead of the system's.
    #[serde(deserialize_with = "opt_string_like")]
    pub tls_ca_cert: Option<String>,
    /// `rediss://` only: PEM client certificate (chain) and its key, for `tls-auth-clients yes`.
    #[serde(deserialize_with = "opt_string_like")]
    pub tls_client_cert: Option<String>,
    #[serde(deserialize_with = "opt_string_like")]
    pub tls_client_key: Option<String>,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: None,
            cluster: false,
            pubsub_enabled: false,
            channels: "ara:notifications".into(),
            timeout_ms: 1000,
            breaker_failure_threshold: 5,
            breaker_success_threshold: 2,
            breaker_open_ms: 10_000,
            reconnect_min_delay_ms: 200,
            reconnect_max_delay_ms: 5_000,
            pubsub_keepalive_ms: 15_000,
            pubsub_canary_interval_ms: 1_000,
            tls_ca_cert: None,
            tls_client_cert: None,
            tls_client_key: None,
        }
    }
}

impl RedisSettings {
    pub fn channel_list(&self) -> Vec<String> {
        self.channels.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect()
    }
}
