//! The dashboard's files, compiled into the binary from `dashboard/`: no CDN, nothing read at run time.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::{console, AdminState};

const INDEX: &str = include_str!("../../../dashboard/index.html");
const LOGIN: &str = include_str!("../../../dashboard/login.html");
const DISABLED: &str = include_str!("../../../dashboard/disabled.html");

/// Served under `/admin/assets/`.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.js", "text/javascript; charset=utf-8", include_str!("../../../dashboard/app.js")),
    ("api.js", "text/javascript; charset=utf-8", include_str!("../../../dashboard/api.js")),
    ("chart.js", "text/javascript; charset=utf-8", include_str!("../../../dashboard/chart.js")),
    ("pages.js", "text/javascript; charset=utf-8", include_str!("../../../dashboard/pages.js")),
    ("style.css", "text/css; charset=utf-8", include_str!("../../../dashboard/style.css")),
];

/// `Referrer-Policy: same-origin`, not `no-referrer`: with the latter a browser sends `Origin: null` on
/// the login form's POST, which the cross-origin check must refuse.
///
/// Only the dashboard's own files run, and no other site may frame it.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub async fn dashboard(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    let Ok(admin) = console(&state) else { return disabled_page() };
    if admin.sessions.find(&headers).is_none() {
        return Redirect::to("/admin/login").into_response();
    }
    page(StatusCode::OK, INDEX.to_owned())
}

pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => {
            let mut response = (*body).into_response();
            let h = response.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            // Revalidated every time: the files change with the binary, and they are small.
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            response
        }
        None => (StatusCode::NOT_FOUND, "no such dashboard file").into_response(),
    }
}

pub fn login_page(status: StatusCode, message: Option<&str>) -> Response {
    let note = message.map(|m| format!("<p class=\"login-error\" role=\"alert\">{m}</p>")).unwrap_or_default();
    page(status, LOGIN.replace("<!--MESSAGE-->", &note))
}

pub fn disabled_page() -> Response {
    page(StatusCode::NOT_FOUND, DISABLED.to_owned())
}

fn page(status: StatusCode, html: String) -> Response {
    let mut response = (status, html).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
