//! What the Tenant API reads and writes besides its requests: a tenant's limits, its token keys (never
//! their secrets when shown), and the tenant as shown — the reference's fields, its settings, and each
//! quota with its use (the cluster's in cluster mode, else this node's).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::state::AppState;
use crate::domain::{Tenant, TenantLimits, TenantStatus, TokenKey};
use crate::service::tenants::{TenantManager, TenantUsage};

/// A tenant's own limits and quotas (all optional; unset ones take the configured defaults).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsBody {
    #[schema(minimum = 1)]
    pub max_connections: Option<usize>,
    #[schema(minimum = 1)]
    pub max_connections_per_user: Option<usize>,
    #[schema(minimum = 1)]
    pub max_subscriptions_per_connection: Option<usize>,
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 4_294_967_295_u64)]
    pub sends_per_second: Option<u32>,
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 4_294_967_295_u64)]
    pub send_burst: Option<u32>,
    #[schema(minimum = 1)]
    pub max_payload_bytes: Option<usize>,
    #[schema(minimum = 1)]
    pub queue_max_per_user: Option<usize>,
    /// Seconds, at most 2^32 - 1 (the queue's entries keep their ttl in 32 bits).
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 4_294_967_295_u64)]
    pub queue_ttl_seconds: Option<u32>,
}

impl From<LimitsBody> for TenantLimits {
    fn from(b: LimitsBody) -> Self {
        TenantLimits {
            max_connections: b.max_connections,
            max_connections_per_user: b.max_connections_per_user,
            max_subscriptions_per_connection: b.max_subscriptions_per_connection,
            sends_per_second: b.sends_per_second,
            send_burst: b.send_burst,
            max_payload_bytes: b.max_payload_bytes,
            queue_max_per_user: b.queue_max_per_user,
            queue_ttl_seconds: b.queue_ttl_seconds.map(u64::from),
        }
    }
}

impl From<TenantLimits> for LimitsBody {
    fn from(l: TenantLimits) -> Self {
        LimitsBody {
            max_connections: l.max_connections,
            max_connections_per_user: l.max_connections_per_user,
            max_subscriptions_per_connection: l.max_subscriptions_per_connection,
            sends_per_second: l.sends_per_second,
            send_burst: l.send_burst,
            max_payload_bytes: l.max_payload_bytes,
            queue_max_per_user: l.queue_max_per_user,
            queue_ttl_seconds: l.queue_ttl_seconds.map(|ttl| u32::try_from(ttl).unwrap_or(u32::MAX)),
        }
    }
}

/// A key the tenant's client tokens may be signed with.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenKeyBody {
    /// Names the key in the token header, so keys can rotate; at most one key may go without.
    pub kid: Option<String>,
    /// `HS256`, `RS256`, `ES256` or `EdDSA`.
    #[schema(example = "RS256")]
    pub algorithm: String,
    /// The HS256 secret (32 bytes or more), or the public key as SPKI PEM text.
    pub key: String,
}

impl std::fmt::Debug for TokenKeyBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeyBody")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl From<TokenKeyBody> for TokenKey {
    fn from(b: TokenKeyBody) -> Self {
        TokenKey { kid: b.kid, algorithm: b.algorithm, key: b.key }
    }
}

/// A token key as listed: never its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenKeyView {
    pub kid: Option<String>,
    pub algorithm: String,
}

pub(super) fn token_keys(keys: Option<Vec<TokenKeyBody>>) -> Option<Vec<TokenKey>> {
    keys.map(|keys| keys.into_iter().map(Into::into).collect())
}

/// One quota: what is in force and how much of it is used now (the cluster's in cluster mode).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QuotaUsage {
    /// `null`: no limit.
    pub limit: Option<u64>,
    pub used: u64,
}

/// How much of its quotas a tenant uses now; rates and sizes have no standing use and show their limit.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QuotaView {
    pub connections: QuotaUsage,
    pub max_connections_per_user: Option<u64>,
    pub max_subscriptions_per_connection: Option<u64>,
    #[schema(value_type = Option<u64>)]
    pub sends_per_second: Option<u32>,
    #[schema(value_type = Option<u64>)]
    pub send_burst: Option<u32>,
    pub max_payload_bytes: Option<u64>,
    pub queue_max_per_user: Option<u64>,
    pub queue_ttl_seconds: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantView {
    pub tenant_id: String,
    pub name: String,
    #[schema(value_type = String, example = "active")]
    pub status: TenantStatus,
    /// Live connections (on every live node in cluster mode, else on this node).
    pub connections: usize,
    /// Users with a live connection (on any live node in cluster mode, each once).
    pub users: usize,
    /// Channels with a subscriber (on any live node in cluster mode, each once).
    pub channels: usize,
    /// Notifications sent today (UTC), through any live node in cluster mode.
    pub messages_today: u64,
    /// Notifications sent since the node (each live node, in cluster mode) started.
    pub messages_total: u64,
    /// The tenant's own limits, as set over the API.
    pub limits: LimitsBody,
    /// Every quota in force (own, else configured, else the server's) and its use.
    pub quotas: QuotaView,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Its token keys (kid and algorithm only); empty: the server's keys verify its tokens.
    pub token_keys: Vec<TokenKeyView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantList {
    pub tenants: Vec<TenantView>,
    pub total: usize,
}

/// A tenant as the API shows it, with its usage (the cluster's in cluster mode).
pub async fn view(state: &AppState, manager: &TenantManager, tenant: Tenant) -> TenantView {
    let usage = manager.usage(&tenant.id).await;
    shown(state, manager, tenant, usage)
}

/// [`view`] of several tenants, their usage asked for at once.
pub async fn views(state: &AppState, manager: &TenantManager, tenants: Vec<Tenant>) -> Vec<TenantView> {
    let ids: Vec<_> = tenants.iter().map(|t| t.id.clone()).collect();
    let usages = manager.usages(&ids).await;
    tenants.into_iter().zip(usages).map(|(tenant, usage)| shown(state, manager, tenant, usage)).collect()
}

fn shown(state: &AppState, manager: &TenantManager, tenant: Tenant, usage: TenantUsage) -> TenantView {
    let limits = manager.effective_limits(&tenant.id);
    let policy = state.service.tenant_limits_in_force(&tenant.id);
    let quotas = QuotaView {
        connections: QuotaUsage { limit: limits.max_connections.map(|v| v as u64), used: usage.connections as u64 },
        max_connections_per_user: Some(policy.max_connections_per_user as u64),
        max_subscriptions_per_connection: Some(policy.max_subscriptions_per_connection as u64),
        sends_per_second: limits.sends_per_second,
        send_burst: limits.sends_per_second.map(|per_second| limits.send_burst.unwrap_or(per_second)),
        max_payload_bytes: Some(policy.max_payload_bytes as u64),
        queue_max_per_user: Some(policy.queue_max_per_user as u64),
        queue_ttl_seconds: Some(policy.queue_ttl_seconds),
    };
    TenantView {
        tenant_id: tenant.id.to_string(),
        name: tenant.name,
        status: tenant.status,
        connections: usage.connections,
        users: usage.users,
        channels: usage.channels,
        messages_today: usage.messages_today,
        messages_total: usage.messages_total,
        limits: tenant.limits.into(),
        quotas,
        metadata: tenant.metadata,
        token_keys: tenant
            .token_keys
            .into_iter()
            .map(|k| TokenKeyView { kid: k.kid, algorithm: k.algorithm })
            .collect(),
        created_at: tenant.created_at,
        updated_at: tenant.updated_at,
    }
}
