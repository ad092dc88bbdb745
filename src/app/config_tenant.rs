//! The `TENANT_*` settings (`[tenant]` in TOML): whether tenants are managed, their default limits,
//! and per-tenant overrides.
//!
//! A tenant id maps to a variable stem with [`env_stem`]: upper-cased, `-` and `.` → `_`, so
//! `acme-corp` is `TENANT_ACME_CORP_MAX_CONNECTIONS` and `TENANT_ACME_CORP_MAX_CONNECTIONS_PER_USER`.
//! In TOML the id is written as it is: `[tenant.overrides.acme-corp]`. Two ids of one stem are refused
//! at start (and when created over the API), and so is any id whose stem is `DEFAULT`:
//! `TENANT_DEFAULT_*` are always the defaults for every tenant, never the limits of a tenant named
//! `default` (which takes the defaults unless its limits are set over the API).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Settings};
use crate::domain::tenant::{env_stem, stem_conflict};
use crate::domain::{TenantId, TenantLimits};

/// Where managed tenants and their keys are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantBackend {
    #[default]
    Memory,
    Postgres,
}

/// One tenant's configured limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantOverride {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections_per_user: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    /// `TENANT_ENABLED`: off (the default), there is one tenant `default` for the HTTP API and
    /// nothing else of this section applies.
    pub enabled: bool,
    /// `TENANT_DEFAULT_MAX_CONNECTIONS`: live connections per tenant on one node.
    pub default_max_connections: usize,
    /// `TENANT_DEFAULT_MAX_CONNECTIONS_PER_USER`.
    pub default_max_connections_per_user: usize,
    /// `TENANT_BACKEND`: `memory` or `postgres` (`DATABASE_URL`).
    pub backend: TenantBackend,
    /// `TENANT_CACHE_REFRESH_SECONDS`: how often a node rereads the store, so that changes made on
    /// another node reach it (changes made on this one apply at once).
    pub cache_refresh_seconds: u64,
    /// `TENANT_METRICS_LABEL`: Prometheus series get a `tenant` label (off: label cardinality).
    pub metrics_label: bool,
    /// `[tenant.overrides.<id>]` in TOML.
    pub overrides: BTreeMap<String, TenantOverride>,
    /// `TENANT_<STEM>_MAX_CONNECTIONS[_PER_USER]` from the environment, by lower-case stem.
    #[serde(skip_serializing)]
    pub env_overrides: BTreeMap<String, TenantOverride>,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            default_max_connections: 1000,
            default_max_connections_per_user: 5,
            backend: TenantBackend::Memory,
            cache_refresh_seconds: 5,
            metrics_label: false,
            overrides: BTreeMap::new(),
            env_overrides: BTreeMap::new(),
        }
    }
}

/// The per-tenant variable suffixes, longest first so that `_PER_USER` is not read as part of a stem.
const OVERRIDE_FIELDS: [(&str, &str); 2] =
    [("_max_connections_per_user", "max_connections_per_user"), ("_max_connections", "max_connections")];

/// `tenant_acme_corp_max_connections` → `tenant.env_overrides.acme_corp.max_connections`; `None` for
/// anything else (the defaults and the section's own settings included).
pub(super) fn override_path(lower_key: &str) -> Option<String> {
    let rest = lower_key.strip_prefix("tenant_")?;
    if rest.starts_with("default_") {
        return None;
    }
    OVERRIDE_FIELDS.iter().find_map(|(suffix, field)| {
        let stem = rest.strip_suffix(suffix)?;
        let valid = !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        valid.then(|| format!("tenant.env_overrides.{stem}.{field}"))
    })
}

impl TenantSettings {
    /// The configured limits of `tenant` (TOML for its id, then the environment for its stem, which
    /// wins), over the defaults for every tenant.
    pub fn configured_limits(&self, tenant: &TenantId) -> TenantLimits {
        let stem = env_stem(tenant).to_ascii_lowercase();
        let from_toml = self.overrides.get(tenant.as_str()).copied().unwrap_or_default();
        let from_env = self.env_overrides.get(&stem).copied().unwrap_or_default();
        TenantLimits {
            max_connections: from_env
                .max_connections
                .or(from_toml.max_connections)
                .or(Some(self.default_max_connections)),
            max_connections_per_user: from_env
                .max_connections_per_user
                .or(from_toml.max_connections_per_user)
                .or(Some(self.default_max_connections_per_user)),
            ..TenantLimits::default()
        }
    }
}

pub(super) fn validate(s: &Settings) -> Result<(), ConfigError> {
    let t = &s.tenant;
    let invalid = |setting: &str, message: String| Err(ConfigError::Invalid { setting: setting.into(), message });
    for (name, value) in [
        ("TENANT_DEFAULT_MAX_CONNECTIONS", t.default_max_connections),
        ("TENANT_DEFAULT_MAX_CONNECTIONS_PER_USER", t.default_max_connections_per_user),
        ("TENANT_CACHE_REFRESH_SECONDS", t.cache_refresh_seconds as usize),
    ] {
        if value == 0 {
            return invalid(name, "must be greater than 0".into());
        }
    }
    let mut ids = Vec::new();
    for (raw, limits) in &t.overrides {
        let setting = format!("[tenant.overrides.{raw}]");
        let id = match TenantId::parse(raw) {
            Ok(id) => id,
            Err(e) => return invalid(&setting, e.to_string()),
        };
        if id.as_str() == TenantId::DEFAULT {
            return invalid(
                &setting,
                "the tenant `default` takes the [tenant] default_* limits; set those, or its limits over the API"
                    .into(),
            );
        }
        if let Some(conflict) = stem_conflict(&id, &ids) {
            return invalid(&setting, conflict);
        }
        if limits.max_connections == Some(0) || limits.max_connections_per_user == Some(0) {
            return invalid(&setting, "limits must be greater than 0".into());
        }
        ids.push(id);
    }
    for (stem, limits) in &t.env_overrides {
        let upper = stem.to_ascii_uppercase();
        for (field, value) in
            [("MAX_CONNECTIONS", limits.max_connections), ("MAX_CONNECTIONS_PER_USER", limits.max_connections_per_user)]
        {
            if value == Some(0) {
                return invalid(&format!("TENANT_{upper}_{field}"), "must be greater than 0".into());
            }
        }
    }
    if t.enabled && t.backend == TenantBackend::Postgres && s.database_url().is_none() {
        return invalid("DATABASE_URL", "must be set when TENANT_BACKEND is postgres".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(raw: &str) -> TenantId {
        TenantId::parse(raw).unwrap()
    }

    #[test]
    fn per_tenant_variables_map_to_their_stem() {
        assert_eq!(
            override_path("tenant_acme_corp_max_connections").as_deref(),
            Some("tenant.env_overrides.acme_corp.max_connections")
        );
        assert_eq!(
            override_path("tenant_acme_corp_max_connections_per_user").as_deref(),
            Some("tenant.env_overrides.acme_corp.max_connections_per_user")
        );
        assert_eq!(override_path("tenant_default_max_connections"), None, "the defaults stay the defaults");
        assert_eq!(override_path("tenant_enabled"), None);
        assert_eq!(override_path("tenant__max_connections"), None);
        assert_eq!(override_path("tenant_max_connections"), None, "no stem");
    }

    #[test]
    fn variables_and_toml_set_one_tenants_limits() {
        let s = Settings::from_pairs([
            ("TENANT_ENABLED", "true"),
            ("TENANT_DEFAULT_MAX_CONNECTIONS", "100"),
            ("TENANT_ACME_CORP_MAX_CONNECTIONS", "5000"),
            ("TENANT_ACME_CORP_MAX_CONNECTIONS_PER_USER", "10"),
        ])
        .unwrap();
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        let acme = s.tenant.configured_limits(&tenant("acme-corp"));
        assert_eq!((acme.max_connections, acme.max_connections_per_user), (Some(5000), Some(10)));
        let other = s.tenant.configured_limits(&tenant("globex"));
        assert_eq!((other.max_connections, other.max_connections_per_user), (Some(100), Some(5)));
        let home = s.tenant.configured_limits(&tenant("default"));
        assert_eq!(home.max_connections, Some(100), "the default tenant takes the defaults");
    }
}

#[cfg(test)]
mod toml_tests {
    use figment::providers::{Format, Serialized, Toml};
    use figment::Figment;

    use super::*;

    fn from_toml(text: &str) -> Result<Settings, ConfigError> {
        Settings::from_figment(Figment::from(Serialized::defaults(Settings::default())).merge(Toml::string(text)))
    }

    #[test]
    fn toml_overrides_name_tenants_by_id() {
        let s = from_toml("[tenant]\nenabled = true\n[tenant.overrides.acme-corp]\nmax_connections = 7\n").unwrap();
        assert_eq!(s.tenant.configured_limits(&TenantId::parse("acme-corp").unwrap()).max_connections, Some(7));
    }

    #[test]
    fn toml_refuses_colliding_ids_and_the_default_tenant() {
        let both =
            "[tenant.overrides.acme-corp]\nmax_connections = 7\n[tenant.overrides.acme_corp]\nmax_connections = 8\n";
        let e = from_toml(both).unwrap_err().to_string();
        assert!(e.contains("both map to TENANT_ACME_CORP_"), "{e}");
        let e = from_toml("[tenant.overrides.default]\nmax_connections = 7\n").unwrap_err().to_string();
        assert!(e.contains("default_* limits"), "{e}");
        let e = from_toml("[tenant.overrides.DEFAULT]\nmax_connections = 7\n").unwrap_err().to_string();
        assert!(e.contains("TENANT_DEFAULT_*"), "{e}");
    }
}
