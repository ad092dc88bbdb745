//! The server's token verifier, from the `JWT_*` settings: `JWT_SECRET` (or the development secret
//! when nothing else is configured) as the key without a `kid`, every `JWT_KEYS` entry, and the JWKS
//! of `JWT_JWKS_FILE` / `JWT_JWKS_URL`. PEM and CA files are read here, so a wrong path stops the
//! server at start with the setting's name.

use std::time::Duration;

use crate::adapters::auth::{
    ClaimRules, JwksSource, JwksSpec, KeyAlgorithm, KeySet, KeySetError, KeySetVerifier, KeySpec, TenantRule,
};

use super::config::{ConfigError, Settings};

fn invalid(setting: &str, message: String) -> ConfigError {
    ConfigError::Invalid { setting: setting.into(), message }
}

fn read_file(setting: &str, path: &str) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| invalid(setting, format!("cannot read {path}: {e}")))
}

/// The rules every token must pass, from `JWT_ISSUER`, `JWT_AUDIENCE` and `JWT_LEEWAY_SECONDS`.
pub fn claim_rules(settings: &Settings) -> ClaimRules {
    ClaimRules {
        issuer: settings.jwt.issuer.clone(),
        audience: settings.jwt.audience.clone(),
        leeway: Duration::from_secs(settings.jwt.leeway_seconds),
        tenant: TenantRule::FromClaim,
    }
}

/// When live connections hear of their token's end, and when they are closed.
pub fn token_policy(settings: &Settings) -> crate::service::TokenPolicy {
    crate::service::TokenPolicy {
        notice: Duration::from_secs(settings.jwt.expiry_notice_seconds),
        leeway: Duration::from_secs(settings.jwt.leeway_seconds),
    }
}

/// The key set the settings describe, files read.
pub fn key_set(settings: &Settings) -> Result<KeySet, ConfigError> {
    let mut set = KeySet::default();
    if let Some(secret) = settings.jwt_default_secret() {
        set.keys.push(KeySpec::hs256(None, secret));
    }
    for (i, entry) in settings.jwt_key_entries()?.into_iter().enumerate() {
        let algorithm = KeyAlgorithm::from_name(&entry.algorithm)
            .ok_or_else(|| invalid("JWT_KEYS", format!("entry {}: unknown algorithm", i + 1)))?;
        let kid = entry.kid.as_deref();
        set.keys.push(match algorithm {
            KeyAlgorithm::Hs256 => KeySpec::hs256(kid, entry.value),
            public => {
                let path = entry.value.strip_prefix('@').unwrap_or(&entry.value);
                KeySpec::public(kid, public, read_file("JWT_KEYS", path)?)
            }
        });
    }
    let jwt = &settings.jwt;
    let tune = |source| JwksSpec {
        refresh: Duration::from_secs(jwt.jwks_refresh_seconds),
        min_refresh: Duration::from_secs(jwt.jwks_min_refresh_seconds),
        timeout: Duration::from_millis(jwt.jwks_timeout_ms),
        ..JwksSpec::new(source)
    };
    if let Some(path) = &jwt.jwks_file {
        set.jwks.push(tune(JwksSource::File(path.into())));
    }
    if let Some(url) = &jwt.jwks_url {
        let ca_pem = jwt.jwks_ca_cert.as_deref().map(|p| read_file("JWT_JWKS_CA_CERT", p)).transpose()?;
        set.jwks.push(tune(JwksSource::Url { url: url.clone(), ca_pem }));
    }
    Ok(set)
}

/// The verifier for the settings; the error names the setting at fault.
pub fn verifier(settings: &Settings) -> Result<KeySetVerifier, ConfigError> {
    let set = key_set(settings)?;
    KeySetVerifier::new(&set, &claim_rules(settings)).map_err(|e| {
        let setting = match &e {
            KeySetError::BadJwks { source_name, .. } if Some(source_name) == settings.jwt.jwks_file.as_ref() => {
                "JWT_JWKS_FILE"
            }
            KeySetError::BadJwks { .. } => "JWT_JWKS_URL",
            KeySetError::BadKey { key, .. } if key.contains("no kid") && settings.jwt.secret.is_some() => "JWT_SECRET",
            _ => "JWT_KEYS",
        };
        invalid(setting, e.to_string())
    })
}

/// The revocation store of `REVOCATION_BACKEND`; Redis through the shared connection.
pub fn revocations(
    settings: &Settings,
    redis: Option<&std::sync::Arc<crate::adapters::redis::ResilientRedis>>,
) -> crate::service::RevocationConfig {
    use super::config::RevocationBackend;
    let r = &settings.revocation;
    let (store, timeout): (crate::ports::DynRevocationStore, Duration) = match (r.backend, redis) {
        (RevocationBackend::Redis, Some(redis)) => (
            std::sync::Arc::new(crate::adapters::redis::RedisRevocationStore::new(redis.clone(), &r.redis_key_prefix)),
            // The shared connection bounds each call by REDIS_TIMEOUT_MS; this bounds the whole call.
            Duration::from_millis(settings.redis.timeout_ms.saturating_mul(2)),
        ),
        // Validation guarantees a Redis connection for the Redis backend; memory otherwise.
        _ => (std::sync::Arc::new(crate::adapters::memory::MemoryRevocationStore::new()), Duration::from_secs(1)),
    };
    crate::service::RevocationConfig {
        store,
        timeout,
        max_token_lifetime: Duration::from_secs(r.max_token_lifetime_seconds),
    }
}

/// The audit log of `AUDIT_BACKEND`, every action also written as an `ara::audit` log line.
pub async fn audit_log(settings: &Settings) -> Result<crate::ports::DynAuditLog, super::StartupError> {
    use super::config::AuditBackend;
    let inner: crate::ports::DynAuditLog = match settings.audit.backend {
        AuditBackend::Memory => std::sync::Arc::new(crate::adapters::memory::MemoryAuditLog::new()),
        AuditBackend::Postgres => {
            let url = settings.database_url().unwrap_or_default();
            let timeout = Duration::from_millis(settings.database.timeout_ms);
            let pool = crate::adapters::postgres::connect(url, 4, timeout).await.map_err(|e| {
                super::stores::StoreError::Unavailable {
                    setting: "DATABASE_URL",
                    backend: "postgres",
                    source: Box::new(e),
                }
            })?;
            std::sync::Arc::new(crate::adapters::postgres::PostgresAuditLog::new(pool))
        }
    };
    Ok(std::sync::Arc::new(crate::adapters::memory::LoggedAuditLog::new(inner)))
}
