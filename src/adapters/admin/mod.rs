//! The admin dashboard at `/admin`: a login form for `ADMIN_API_KEY`, a session cookie, the dashboard's
//! static files (compiled in), and the one endpoint of its own (the connection inspector). The panels
//! read and send through the public HTTP API: a request with a valid session cookie and CSRF token is
//! given the server's API key by [`session_as_api_key`] before the key check, so the dashboard can do
//! exactly what an API client can, and no more.

mod assets;
mod error;
mod inspector;
mod login;
pub mod openapi;
mod session;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::adapters::http::{rate_limit, AppState};
pub use error::AdminError;
use session::Sessions;

const API_KEY_HEADER: &str = "x-api-key";

/// The dashboard's key and its live logins; `None` in the state when `ADMIN_API_KEY` is unset.
pub struct AdminConsole {
    key: Box<str>,
    sessions: Sessions,
}

impl AdminConsole {
    pub fn new(key: &str, session_ttl: Duration) -> Self {
        Self { key: key.into(), sessions: Sessions::new(session_ttl) }
    }

    fn key_matches(&self, given: &str) -> bool {
        crate::adapters::http::caller::constant_time_eq(given.as_bytes(), self.key.as_bytes())
    }
}

impl std::fmt::Debug for AdminConsole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminConsole(***)")
    }
}

/// What the dashboard's handlers share. It builds on the HTTP API's state: its requests act through
/// that API, and logins draw on its rate limit.
#[derive(Clone)]
pub struct AdminState(Arc<AdminShared>);

pub struct AdminShared {
    /// `None` when `ADMIN_API_KEY` is unset: the routes then answer that the dashboard is off.
    pub console: Option<Arc<AdminConsole>>,
    pub api: AppState,
}

impl AdminState {
    pub fn new(shared: AdminShared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AdminState {
    type Target = AdminShared;
    fn deref(&self) -> &AdminShared {
        &self.0
    }
}

/// The dashboard's routes.
pub fn router(state: AdminState) -> Router {
    // Logins draw on the API's rate limit (per client IP), so the key cannot be guessed at speed.
    let login = Router::new()
        .route("/admin/login", get(login::form).post(login::submit))
        .route_layer(middleware::from_fn_with_state(state.api.clone(), rate_limit::limit_api));
    Router::new()
        .merge(login)
        .route("/admin", get(assets::dashboard))
        .route("/admin/", get(assets::dashboard))
        .route("/admin/logout", post(login::logout))
        .route("/admin/assets/{file}", get(assets::asset))
        .route("/admin/api/session", get(login::session_info))
        .route("/admin/api/connections", get(inspector::connections))
        .with_state(state)
}

/// Put around the whole server, so that it runs before the API key check: a request that carries no key but a dashboard session and its CSRF token
/// acts with the server's key. The key for tenant, cluster and audit routes is the admin key (those
/// routes take it once they exist); every other route gets `API_KEY`.
pub async fn session_as_api_key(State(state): State<AdminState>, mut request: Request, next: Next) -> Response {
    if !request.headers().contains_key(API_KEY_HEADER) {
        if let Some(admin) = state.console.as_deref() {
            if admin.sessions.authorize(request.headers()).is_some() {
                let path = request.uri().path();
                let admin_route =
                    ["/api/v1/tenants", "/api/v1/cluster", "/api/v1/audit"].iter().any(|p| path.starts_with(p));
                let api_key = state.api.live.api_key();
                let key = if admin_route { Some(&*admin.key) } else { api_key.as_deref().map(String::as_str) };
                if let Some(value) = key.and_then(|k| HeaderValue::from_str(k).ok()) {
                    request.headers_mut().insert(API_KEY_HEADER, value);
                }
            }
        }
    }
    next.run(request).await
}

/// The console, or the answer that the dashboard is off.
fn console(state: &AdminState) -> Result<&Arc<AdminConsole>, AdminError> {
    state.console.as_ref().ok_or(AdminError::Disabled)
}
