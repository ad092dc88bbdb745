//! Logging in with `ADMIN_API_KEY` (a plain form, so it works without the dashboard's script), logging
//! out, and the session's CSRF token for the page.

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::{Deserialize, Serialize};

use super::session::COOKIE;
use super::{assets, console, AdminError, AdminState};

#[derive(Deserialize)]
pub struct LoginForm {
    key: String,
}

/// The session's CSRF token, for the `X-CSRF-Token` header of every request that acts.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    csrf_token: String,
    expires_in_seconds: u64,
    /// Whether the HTTP API needs a key (the dashboard's requests get it from the session).
    api_key_configured: bool,
    version: &'static str,
}

/// The login form (HTML); with a live session, a redirect to the dashboard.
#[utoipa::path(get, path = "/admin/login", tag = "admin",
    responses(
        (status = 200, description = "The login form", content_type = "text/html", body = String),
        (status = 303, description = "Already logged in: `Location: /admin`"),
        (status = 404, description = "ADMIN_DISABLED (an HTML page): ADMIN_API_KEY is not set", content_type = "text/html", body = String)))]
pub async fn form(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    let Ok(admin) = console(&state) else { return assets::disabled_page() };
    if admin.sessions.find(&headers).is_some() {
        return Redirect::to("/admin").into_response();
    }
    assets::login_page(StatusCode::OK, None)
}

/// Logs in: on the right key a session cookie and a redirect to the dashboard.
#[utoipa::path(post, path = "/admin/login", tag = "admin",
    request_body(content = super::openapi::LoginFormDoc, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Logged in: `Set-Cookie: ara_admin=…; HttpOnly; SameSite=Strict`, `Location: /admin`"),
        (status = 401, description = "Wrong key: the login form again (HTML)"),
        (status = 403, description = "CROSS_ORIGIN_REQUEST", body = crate::adapters::http::error::Body),
        (status = 404, description = "ADMIN_DISABLED (an HTML page): ADMIN_API_KEY is not set"),
        (status = 429, description = "RATE_LIMIT_EXCEEDED", body = crate::adapters::http::error::Body)))]
pub async fn submit(
    State(state): State<AdminState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(admin) = console(&state) else { return assets::disabled_page() };
    if !same_origin(&headers) {
        return AdminError::CrossOrigin.into_response();
    }
    let given = form.map(|Form(f)| f.key).unwrap_or_default();
    if !admin.key_matches(&given) {
        // Never the key itself, not even the wrong one: it may be a near miss of the right one.
        tracing::warn!("dashboard login refused: wrong ADMIN_API_KEY");
        return assets::login_page(StatusCode::UNAUTHORIZED, Some("Wrong key."));
    }
    let id = match admin.sessions.create() {
        Ok(id) => id,
        Err(e) => return AdminError::from(e).into_response(),
    };
    let secure = headers.get("x-forwarded-proto").is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
    let cookie = format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        admin.sessions.ttl().as_secs(),
        if secure { "; Secure" } else { "" }
    );
    with_cookie(Redirect::to("/admin").into_response(), &cookie)
}

/// Ends the session.
#[utoipa::path(post, path = "/admin/logout", tag = "admin", security(("admin_session" = [])),
    params(("X-CSRF-Token" = String, Header, description = "From GET /admin/api/session")),
    responses(
        (status = 204, description = "Logged out; the cookie is cleared"),
        (status = 403, description = "CSRF_TOKEN_INVALID or CROSS_ORIGIN_REQUEST", body = crate::adapters::http::error::Body),
        (status = 404, description = "ADMIN_DISABLED", body = crate::adapters::http::error::Body)))]
pub async fn logout(State(state): State<AdminState>, headers: HeaderMap) -> Result<Response, AdminError> {
    let admin = console(&state)?;
    if !same_origin(&headers) {
        return Err(AdminError::CrossOrigin);
    }
    admin.sessions.authorize(&headers).ok_or(AdminError::Csrf)?;
    admin.sessions.end(&headers);
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok(with_cookie(StatusCode::NO_CONTENT.into_response(), &cookie))
}

/// The session's CSRF token and expiry, for the dashboard's script.
#[utoipa::path(get, path = "/admin/api/session", tag = "admin", security(("admin_session" = [])),
    responses(
        (status = 200, body = SessionInfo),
        (status = 401, description = "ADMIN_SESSION_REQUIRED", body = crate::adapters::http::error::Body),
        (status = 403, description = "CROSS_ORIGIN_REQUEST", body = crate::adapters::http::error::Body),
        (status = 404, description = "ADMIN_DISABLED", body = crate::adapters::http::error::Body)))]
pub async fn session_info(State(state): State<AdminState>, headers: HeaderMap) -> Result<Response, AdminError> {
    let admin = console(&state)?;
    if !same_origin(&headers) {
        return Err(AdminError::CrossOrigin);
    }
    let session = admin.sessions.find(&headers).ok_or(AdminError::SessionRequired)?;
    let info = SessionInfo {
        csrf_token: session.csrf,
        expires_in_seconds: session.expires.saturating_duration_since(std::time::Instant::now()).as_secs(),
        api_key_configured: state.api.live.api_key().is_some(),
        version: env!("CARGO_PKG_VERSION"),
    };
    let mut response = Json(info).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// False for a browser request sent by another origin: `Sec-Fetch-Site` says so, or `Origin` names
/// another host than `Host`. Requests with neither (curl, scripts) are not a CSRF risk.
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        if !matches!(site.as_bytes(), b"same-origin" | b"none") {
            return false;
        }
    }
    match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            let origin_host = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, rest)| rest);
            matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
        }
    }
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn tells_cross_origin_requests_apart() {
        assert!(same_origin(&headers(&[])));
        assert!(same_origin(&headers(&[("host", "ara:8080"), ("origin", "http://ara:8080")])));
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_origin(&headers(&[("host", "ara:8080"), ("origin", "http://ara:3000")])));
        assert!(!same_origin(&headers(&[("host", "ara:8080"), ("origin", "null")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
    }
}
