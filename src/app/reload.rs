//! Hot reload: on SIGHUP, or when the config file changes, the settings are read again from every
//! source (defaults, the file, the environment — which still wins over the file) and the ones that
//! can change while Ara runs are put in force:
//!
//! - connection limits and tuning (`WEBSOCKET_*` but the cleanup interval), queue size and ttl, and the
//!   rate-limit budgets — through the policy source, which every check asks when it applies a limit;
//! - `API_KEY` and `CORS_ORIGINS` (also checked on WebSocket and SSE handshakes) — from the next
//!   request on;
//! - `LOG_LEVEL` — unless `RUST_LOG` is set;
//! - the tenants' configured limits (`TENANT_DEFAULT_*`, `[tenant.overrides.*]`) — at each lookup.
//!
//! Settings that would need a restart (listen address, backends, URLs, secrets of the stores…) keep
//! their values; those that differ are named in the log. New settings that do not validate are
//! refused as a whole with the reason logged, and the ones in force stay.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::config::{ConfigError, Settings, TenantSettings};
use super::config_report::{env_name, flatten};
use super::policies::{ReloadablePolicies, StaticPolicies};
use crate::adapters::http::{LiveHttp, OriginRule, TlsAcceptor};
use crate::domain::audit::AuditRecord;
use crate::domain::TenantId;
use crate::service::NotificationService;

/// Editors write a file in several steps; they are taken as one change once quiet this long.
const SETTLE: Duration = Duration::from_millis(250);

/// What a reload changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reloaded {
    pub generation: u64,
    /// Settings put in force (environment names).
    pub applied: Vec<String>,
    /// Settings that differ but need a restart; their old values stay.
    pub need_restart: Vec<String>,
}

/// What a reload changes in the running server.
pub struct Reloadables {
    pub policies: Arc<ReloadablePolicies>,
    pub http: Arc<LiveHttp>,
    /// Where managed tenants read their configured limits (`TENANT_DEFAULT_*`,
    /// `[tenant.overrides.*]`), when tenants are managed.
    pub tenant_limits: Option<Arc<ArcSwap<TenantSettings>>>,
    /// The TLS listener, whose files SIGHUP reads again too (they are also watched on their own).
    pub tls: Option<Arc<TlsAcceptor>>,
    /// Where reloads are recorded in the audit log.
    pub audit: Option<Arc<NotificationService>>,
}

pub struct Reloader {
    /// What Ara started with: the reference for the settings that cannot change.
    started: Settings,
    in_force: Mutex<Settings>,
    parts: Reloadables,
}

impl Reloader {
    pub fn new(started: &Settings, parts: Reloadables) -> Arc<Self> {
        Arc::new(Self { started: started.clone(), in_force: Mutex::new(started.clone()), parts })
    }

    /// Reads the settings again and applies them, or refuses them all.
    pub fn reload(&self) -> Result<Reloaded, ConfigError> {
        let read = Settings::load(self.started.file.as_deref())?;
        Ok(self.apply(read))
    }

    /// Puts the changeable part of `read` (already validated) in force.
    pub fn apply(&self, read: Settings) -> Reloaded {
        let effective = changeable_from(&self.started, &read);
        let mut in_force = self.in_force.lock();
        let applied = differing(&in_force, &effective);
        let need_restart = differing(&effective, &read);
        self.parts.policies.replace(StaticPolicies::from_settings(&effective));
        if let Some(limits) = &self.parts.tenant_limits {
            limits.store(Arc::new(effective.tenant.clone()));
        }
        let generation = self
            .parts
            .http
            .apply(effective.api_key().map(str::to_owned), OriginRule::from_list(effective.cors.origin_list()));
        if in_force.log.level != effective.log.level {
            if let Err(reason) = super::logging::set_level(&effective.log.level) {
                tracing::warn!(%reason, "LOG_LEVEL was reloaded but cannot be applied");
            }
        }
        *in_force = effective;
        Reloaded { generation, applied, need_restart }
    }

    /// Reloads on SIGHUP and on changes of the config file, until `stop`. `None` when the settings
    /// were not read from the process's sources (there is nothing to read again).
    pub fn spawn(self: &Arc<Self>, stop: CancellationToken) -> std::io::Result<Option<tokio::task::JoinHandle<()>>> {
        if !self.started.reloadable {
            return Ok(None);
        }
        let (changed, mut changes) = mpsc::channel::<()>(1);
        let watcher = match &self.started.file {
            Some(file) => Some(watch(file, changed).map_err(std::io::Error::other)?),
            None => None,
        };
        let mut watching = watcher.is_some();
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let this = self.clone();
        Ok(Some(tokio::spawn(async move {
            let _watcher = watcher;
            loop {
                let cause = tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = hangups.recv() => {
                        if let Some(tls) = &this.parts.tls {
                            match tls.reload() {
                                Ok(generation) => tracing::info!(generation, "reloaded the TLS certificate on SIGHUP"),
                                Err(e) => tracing::warn!(error = %e, "the TLS files cannot be used; the previous certificate stays in force"),
                            }
                        }
                        "SIGHUP"
                    }
                    change = changes.recv(), if watching => {
                        if change.is_none() {
                            // The watcher is gone (it is held above, so only if it failed): SIGHUP still works.
                            watching = false;
                            tracing::warn!("the config file is no longer watched; reload with SIGHUP");
                            continue;
                        }
                        tokio::time::sleep(SETTLE).await;
                        while changes.try_recv().is_ok() {}
                        "config file changed"
                    }
                };
                let outcome = this.reload();
                this.log(cause, &outcome);
                this.record(cause, &outcome).await;
            }
        })))
    }

    async fn record(&self, cause: &str, outcome: &Result<Reloaded, ConfigError>) {
        let Some(service) = &self.parts.audit else { return };
        let (action, details) = match outcome {
            Ok(r) => (
                "settings.reload",
                serde_json::json!({"cause": cause, "generation": r.generation, "applied": r.applied, "need_restart": r.need_restart}),
            ),
            Err(e) => ("settings.reload_refused", serde_json::json!({"cause": cause, "error": e.to_string()})),
        };
        let target = match &self.started.file {
            Some(file) => file.display().to_string(),
            None => "environment".to_owned(),
        };
        service
            .record_audit(AuditRecord {
                at: chrono::Utc::now(),
                actor: "system".into(),
                tenant: TenantId::default_tenant(),
                action: action.into(),
                target,
                details,
                source_ip: None,
                request_id: None,
            })
            .await;
    }

    fn log(&self, cause: &str, outcome: &Result<Reloaded, ConfigError>) {
        match outcome {
            Ok(reloaded) => {
                if !reloaded.need_restart.is_empty() {
                    tracing::warn!(cause, settings = ?reloaded.need_restart,
                        "these settings changed but take effect only after a restart; their old values stay");
                }
                tracing::info!(cause, generation = reloaded.generation, applied = ?reloaded.applied, "settings reloaded");
            }
            Err(e) => tracing::warn!(cause, error = %e, "new settings refused; the ones in force stay"),
        }
    }
}

fn watch(file: &std::path::Path, changed: mpsc::Sender<()>) -> notify::Result<RecommendedWatcher> {
    let name = file.file_name().map(ToOwned::to_owned);
    let mut watcher = RecommendedWatcher::new(
        move |event: notify::Result<notify::Event>| {
            let ours =
                event.is_ok_and(|e| e.paths.is_empty() || e.paths.iter().any(|p| p.file_name() == name.as_deref()));
            if ours {
                let _ = changed.try_send(());
            }
        },
        notify::Config::default(),
    )?;
    // The directory, not the file: editors and Kubernetes replace the file rather than write it.
    let dir = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

/// `started` with the settings that may change taken from `read`.
fn changeable_from(started: &Settings, read: &Settings) -> Settings {
    let mut s = started.clone();
    s.api_key = read.api_key.clone();
    s.cors = read.cors.clone();
    s.log.level = read.log.level.clone();
    s.websocket = read.websocket.clone();
    s.websocket.cleanup_interval_seconds = started.websocket.cleanup_interval_seconds;
    s.queue.max_size_per_user = read.queue.max_size_per_user;
    s.queue.message_ttl_seconds = read.queue.message_ttl_seconds;
    s.ratelimit.http_requests_per_second = read.ratelimit.http_requests_per_second;
    s.ratelimit.http_burst_size = read.ratelimit.http_burst_size;
    s.ratelimit.ws_connections_per_minute = read.ratelimit.ws_connections_per_minute;
    s.tenant.default_max_connections = read.tenant.default_max_connections;
    s.tenant.default_max_connections_per_user = read.tenant.default_max_connections_per_user;
    s.tenant.overrides = read.tenant.overrides.clone();
    s
}

/// The environment names of the settings whose values differ. Secrets serialize masked, so they are
/// compared apart.
fn differing(a: &Settings, b: &Settings) -> Vec<String> {
    // By path, not by position: maps (`[tenant.overrides.*]`) may hold other keys on each side.
    let left: BTreeMap<String, Value> = flatten(&serde_json::to_value(a).unwrap_or(Value::Null)).into_iter().collect();
    let right: BTreeMap<String, Value> = flatten(&serde_json::to_value(b).unwrap_or(Value::Null)).into_iter().collect();
    let mut names: Vec<String> = left
        .keys()
        .chain(right.keys())
        .filter(|path| left.get(*path) != right.get(*path))
        .map(|path| env_name(path))
        .collect();
    let secret = |s: &Option<super::config::Secret>| s.as_ref().map(|s| s.expose().to_owned());
    for (name, x, y) in [
        ("API_KEY", secret(&a.api_key), secret(&b.api_key)),
        ("JWT_SECRET", secret(&a.jwt.secret), secret(&b.jwt.secret)),
        ("ADMIN_API_KEY", secret(&a.admin.api_key), secret(&b.admin.api_key)),
    ] {
        if x != y {
            names.push(name.to_owned());
        }
    }
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_pairs(pairs.iter().copied()).expect("valid settings")
    }

    #[test]
    fn changeable_settings_apply_and_the_others_are_named() {
        let started = settings(&[("API_KEY", "one"), ("SERVER_PORT", "8080")]);
        let policies = Arc::new(ReloadablePolicies::new(StaticPolicies::from_settings(&started)));
        let http = LiveHttp::new(started.api_key().map(str::to_owned), OriginRule::Any);
        let parts =
            Reloadables { policies: policies.clone(), http: http.clone(), tenant_limits: None, tls: None, audit: None };
        let reloader = Reloader::new(&started, parts);
        let read = settings(&[
            ("API_KEY", "two"),
            ("SERVER_PORT", "9090"),
            ("WEBSOCKET_MAX_CONNECTIONS_PER_USER", "9"),
            ("CORS_ORIGINS", "https://app.example.com"),
        ]);
        let reloaded = reloader.apply(read);
        assert_eq!(reloaded.generation, 2);
        assert_eq!(reloaded.applied, ["API_KEY", "CORS_ORIGINS", "WEBSOCKET_MAX_CONNECTIONS_PER_USER"]);
        assert_eq!(reloaded.need_restart, ["SERVER_PORT"]);
        assert_eq!(http.api_key().as_deref().map(String::as_str), Some("two"));
        use crate::ports::PolicySource;
        assert_eq!(policies.limits(&crate::domain::TenantId::default_tenant()).max_connections_per_user, 9);
        assert!(!http.allows_origin(&axum::http::HeaderValue::from_static("https://evil.test")));

        // The same settings again: nothing to apply, the port still named.
        let again = reloader.apply(settings(&[
            ("API_KEY", "two"),
            ("SERVER_PORT", "9090"),
            ("WEBSOCKET_MAX_CONNECTIONS_PER_USER", "9"),
            ("CORS_ORIGINS", "https://app.example.com"),
        ]));
        assert!(again.applied.is_empty(), "{again:?}");
        assert_eq!(again.need_restart, ["SERVER_PORT"]);
    }

    #[test]
    fn a_tenant_override_added_by_a_reload_is_named_and_nothing_else() {
        let started = settings(&[]);
        let policies = Arc::new(ReloadablePolicies::new(StaticPolicies::from_settings(&started)));
        let http = LiveHttp::new(None, OriginRule::Any);
        let reloader =
            Reloader::new(&started, Reloadables { policies, http, tenant_limits: None, tls: None, audit: None });
        let mut read = settings(&[]);
        read.tenant.overrides.insert("acme".into(), Default::default());
        read.tenant.overrides.get_mut("acme").expect("inserted").max_connections = Some(7);
        let reloaded = reloader.apply(read);
        assert_eq!(reloaded.applied, ["TENANT_OVERRIDES_ACME_MAX_CONNECTIONS"], "{reloaded:?}");
        assert!(reloaded.need_restart.is_empty(), "{reloaded:?}");
    }
}
