//! Tenants as things Ara manages: a name, a status, the limits and quotas that override the defaults,
//! free metadata, and the API keys that act for the tenant (kept only as hashes).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Quoted, TenantId};

/// Whether a tenant may act. A suspended tenant's calls are refused and its connections closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    #[default]
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

/// A tenant's own limits and quotas; `None` takes the next source in line (configured override for the
/// tenant, then the defaults for every tenant, then the server's settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantLimits {
    /// Live connections of the tenant on one node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections_per_user: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_subscriptions_per_connection: Option<usize>,
    /// Sends per second on average (every notification of a batch counts), shared by every node when
    /// the rate limiter's backend is Redis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sends_per_second: Option<u32>,
    /// Sends allowed at once; defaults to `sends_per_second`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_burst: Option<u32>,
    /// Largest serialized payload of one notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_payload_bytes: Option<usize>,
    /// Offline-queue entries kept per user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_max_per_user: Option<usize>,
    /// How long an offline-queue entry is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_ttl_seconds: Option<u64>,
}

impl TenantLimits {
    /// Each field of `self`, or of `fallback` where `self` has none.
    pub fn or(self, fallback: TenantLimits) -> TenantLimits {
        TenantLimits {
            max_connections: self.max_connections.or(fallback.max_connections),
            max_connections_per_user: self.max_connections_per_user.or(fallback.max_connections_per_user),
            max_subscriptions_per_connection: self
                .max_subscriptions_per_connection
                .or(fallback.max_subscriptions_per_connection),
            sends_per_second: self.sends_per_second.or(fallback.sends_per_second),
            send_burst: self.send_burst.or(fallback.send_burst),
            max_payload_bytes: self.max_payload_bytes.or(fallback.max_payload_bytes),
            queue_max_per_user: self.queue_max_per_user.or(fallback.queue_max_per_user),
            queue_ttl_seconds: self.queue_ttl_seconds.or(fallback.queue_ttl_seconds),
        }
    }

    /// The name of a field set to 0, which no limit may be (a tenant that may do nothing is suspended).
    pub fn zero_field(&self) -> Option<&'static str> {
        let fields: [(&'static str, Option<u64>); 8] = [
            ("max_connections", self.max_connections.map(|v| v as u64)),
            ("max_connections_per_user", self.max_connections_per_user.map(|v| v as u64)),
            ("max_subscriptions_per_connection", self.max_subscriptions_per_connection.map(|v| v as u64)),
            ("sends_per_second", self.sends_per_second.map(u64::from)),
            ("send_burst", self.send_burst.map(u64::from)),
            ("max_payload_bytes", self.max_payload_bytes.map(|v| v as u64)),
            ("queue_max_per_user", self.queue_max_per_user.map(|v| v as u64)),
            ("queue_ttl_seconds", self.queue_ttl_seconds),
        ];
        fields.into_iter().find(|(_, v)| *v == Some(0)).map(|(name, _)| name)
    }
}

/// One key a tenant's client tokens may be signed with: an HS256 secret, or an RS256 / ES256 / EdDSA
/// public key (SPKI PEM). `kid` names it in the token header, so keys rotate without downtime.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// `HS256`, `RS256`, `ES256` or `EdDSA`.
    pub algorithm: String,
    /// The secret (HS256) or the PEM text of the public key.
    pub key: String,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A secret never shows in logs.
        f.debug_struct("TokenKey").field("kid", &self.kid).field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

/// A managed tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub id: TenantId,
    /// For people; defaults to the id.
    pub name: String,
    pub status: TenantStatus,
    pub limits: TenantLimits,
    /// Whatever the operator keeps with the tenant (plan, owner, …); Ara never reads it.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The keys its client tokens are verified with; empty: the server's own keys (`JWT_*`).
    pub token_keys: Vec<TokenKey>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Tenant {
    /// A new active tenant with no limits of its own.
    pub fn new(id: TenantId, now: DateTime<Utc>) -> Self {
        Self {
            name: id.to_string(),
            id,
            status: TenantStatus::Active,
            limits: TenantLimits::default(),
            metadata: serde_json::Map::new(),
            token_keys: Vec::new(),
            created_at: now,
            updated_at: now,
        }
    }
}

/// The environment variable stem of a tenant id: `acme-corp` → `ACME_CORP`, so its limits are
/// `TENANT_ACME_CORP_MAX_CONNECTIONS`. Letters are upper-cased, digits kept, `-` and `.` become `_`:
/// `acme-corp`, `acme_corp` and `ACME.corp` share a stem, which is why two such tenants are refused.
pub fn env_stem(id: &TenantId) -> String {
    id.as_str().chars().map(|c| if c == '-' || c == '.' { '_' } else { c.to_ascii_uppercase() }).collect()
}

/// The stem of the defaults (`TENANT_DEFAULT_MAX_CONNECTIONS`): no tenant may take it, not even one
/// named `default`, whose limits are the defaults unless set over the API.
pub const DEFAULT_STEM: &str = "DEFAULT";

/// Refuses a tenant id that no configuration could name unambiguously: its stem is the defaults',
/// or another known id's.
pub fn stem_conflict<'a>(id: &TenantId, others: impl IntoIterator<Item = &'a TenantId>) -> Option<String> {
    let stem = env_stem(id);
    if stem == DEFAULT_STEM && id.as_str() != TenantId::DEFAULT {
        return Some(format!(
            "tenant id {} maps to TENANT_DEFAULT_*, the defaults for every tenant",
            Quoted(id.as_str())
        ));
    }
    others.into_iter().find(|other| *other != id && env_stem(other) == stem).map(|other| {
        format!(
            "tenant ids {} and {} both map to TENANT_{stem}_* (ids map upper-cased with - and . as _)",
            Quoted(other.as_str()),
            Quoted(id.as_str())
        )
    })
}

/// What a tenant API key looks like: `ara_tk_` + 16 hex characters of id + `_` + 64 hex characters of
/// secret (32 random bytes). The id is the prefix listed and looked up; only the hash of the whole
/// key is kept.
pub const KEY_PREFIX: &str = "ara_tk_";
pub const KEY_ID_HEX: usize = 16;
pub const KEY_SECRET_HEX: usize = 64;

/// A tenant API key as stored: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantKey {
    /// 16 hex characters, unique across tenants.
    pub id: String,
    pub tenant: TenantId,
    /// SHA-256 of the whole key.
    pub hash: [u8; 32],
    pub created_at: DateTime<Utc>,
    /// The key stops working at this instant (revoked now, or rotated out after a grace period).
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TenantKey {
    /// What lists show of the key: enough to recognise it, nothing to use it.
    pub fn prefix(&self) -> String {
        format!("{KEY_PREFIX}{}", self.id)
    }

    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none_or(|until| now < until)
    }

    /// Whether `presented` is this key, compared without an early exit.
    pub fn matches(&self, presented: &str) -> bool {
        let given = hash_key(presented);
        given.iter().zip(self.hash.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

/// The key id inside a presented key, if it has a tenant key's shape.
pub fn key_id_of(presented: &str) -> Option<&str> {
    let rest = presented.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id, KEY_ID_HEX) && hex(secret, KEY_SECRET_HEX)).then_some(id)
}

/// SHA-256 is enough for keys of 256 random bits: nothing to guess, so no slow hash is needed.
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Formats a key from its random parts (8 bytes of id, 32 of secret).
pub fn format_key(id: &[u8; 8], secret: &[u8; 32]) -> (String, String) {
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let id = hex(id);
    (format!("{KEY_PREFIX}{id}_{}", hex(secret)), id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(raw: &str) -> TenantId {
        TenantId::parse(raw).unwrap()
    }

    #[test]
    fn env_stems_map_separators_and_case() {
        assert_eq!(env_stem(&tenant("acme-corp")), "ACME_CORP");
        assert_eq!(env_stem(&tenant("acme_corp")), "ACME_CORP");
        assert_eq!(env_stem(&tenant("Acme.Corp2")), "ACME_CORP2");
        assert_eq!(env_stem(&tenant("default")), DEFAULT_STEM);
    }

    #[test]
    fn ambiguous_ids_are_refused() {
        assert!(stem_conflict(&tenant("acme_corp"), &[tenant("acme-corp")]).unwrap().contains("TENANT_ACME_CORP_"));
        assert!(stem_conflict(&tenant("Default"), &[]).unwrap().contains("TENANT_DEFAULT_"));
        assert!(stem_conflict(&tenant("default"), &[]).is_none());
        assert!(stem_conflict(&tenant("acme-corp"), &[tenant("acme-corp")]).is_none(), "itself is no conflict");
    }

    #[test]
    fn keys_are_recognised_hashed_and_compared() {
        let (key, id) = format_key(&[1; 8], &[2; 32]);
        assert_eq!(key_id_of(&key), Some(id.as_str()));
        assert_eq!(key_id_of("ara_tk_zz"), None);
        assert_eq!(key_id_of(&key[..key.len() - 1]), None);
        let stored =
            TenantKey { id, tenant: tenant("a"), hash: hash_key(&key), created_at: Utc::now(), revoked_at: None };
        assert!(stored.matches(&key));
        assert!(!stored.matches(&key.replace('2', "3")));
        assert!(stored.prefix().starts_with("ara_tk_0101"));
    }

    #[test]
    fn limits_fall_back_field_by_field() {
        let own = TenantLimits { max_connections: Some(5), ..Default::default() };
        let fallback = TenantLimits { max_connections: Some(9), sends_per_second: Some(3), ..Default::default() };
        let merged = own.or(fallback);
        assert_eq!((merged.max_connections, merged.sends_per_second), (Some(5), Some(3)));
        assert_eq!(TenantLimits { send_burst: Some(0), ..Default::default() }.zero_field(), Some("send_burst"));
    }
}
