//! Who is calling the HTTP API, and for which tenant: the one place where `X-API-Key` and
//! `X-Tenant-Id` are read. [`resolve_caller`] runs on every API route (instead of a bare key check)
//! and leaves a [`Caller`] in the request; handlers take the tenant they act in with [`Acting`], the
//! Tenant API takes [`Admin`].
//!
//! - `API_KEY` acts in the tenant `default` (as before tenants were managed);
//! - `ADMIN_API_KEY` acts in the tenant named by `X-Tenant-Id` (default `default`), and alone may use
//!   the Tenant API;
//! - a tenant API key (`ara_tk_…`, `TENANT_ENABLED`) acts in its own tenant only;
//! - with no `API_KEY` configured (development), a request without a key acts in `default`.
//!
//! Naming another tenant in `X-Tenant-Id` with anything but the admin key is refused (403
//! `TENANT_MISMATCH`), never silently ignored; so is a body's `tenant_id` that is not the acting tenant.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;
use super::state::AppState;
use crate::domain::{Quoted, TenantId};

pub const API_KEY_HEADER: &str = "x-api-key";
pub const TENANT_HEADER: &str = "x-tenant-id";

/// How the caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerKind {
    /// `API_KEY`.
    ApiKey,
    /// `ADMIN_API_KEY`.
    Admin,
    /// One tenant's API key.
    TenantKey,
    /// No key is configured and none was given (development mode).
    Open,
}

/// The resolved caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub kind: CallerKind,
    /// The tenant the request acts in.
    pub tenant: TenantId,
    /// Whether `X-Tenant-Id` named it.
    pub named: bool,
}

impl Caller {
    /// Refuses a body's `tenant_id` that names another tenant than the one acting.
    pub fn check_body_tenant(&self, given: Option<&str>) -> Result<(), ApiError> {
        match given {
            Some(given) if given != self.tenant.as_str() => Err(mismatch(given, &self.tenant)),
            _ => Ok(()),
        }
    }
}

fn mismatch(named: &str, acting: &TenantId) -> ApiError {
    ApiError::Forbidden {
        code: "TENANT_MISMATCH",
        message: format!(
            "this key acts in tenant {} only; tenant {} cannot be named here (only ADMIN_API_KEY may name a tenant, with X-Tenant-Id)",
            Quoted(acting.as_str()),
            Quoted(named),
        ),
    }
}

/// Compares without an early exit, so response timing does not reveal how much of a key matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}

/// Resolves the caller from the headers; `Err` is the refusal to answer with.
pub fn resolve(state: &AppState, parts: &axum::http::HeaderMap) -> Result<Caller, ApiError> {
    let given = parts.get(API_KEY_HEADER).map(|v| v.as_bytes());
    let named = match parts.get(TENANT_HEADER) {
        None => None,
        Some(raw) => {
            let raw = raw.to_str().map_err(|_| ApiError::BadRequest {
                code: "INVALID_TENANT_HEADER",
                message: "X-Tenant-Id must be a tenant id".into(),
            })?;
            Some(TenantId::parse(raw)?)
        }
    };
    let managed = state.service.tenant_directory().is_some();
    // The API key in force now (a reload may change it).
    let api_key = state.live.api_key();
    let matches =
        |expected: Option<&str>| matches!((given, expected), (Some(g), Some(e)) if constant_time_eq(g, e.as_bytes()));
    let (kind, own) = if matches(state.admin_key.as_deref()) {
        (CallerKind::Admin, None)
    } else if matches(api_key.as_deref().map(String::as_str)) {
        (CallerKind::ApiKey, Some(TenantId::default_tenant()))
    } else if let Some(tenant) = given.and_then(|g| tenant_of_key(state, g)) {
        (CallerKind::TenantKey, Some(tenant))
    } else if api_key.is_some() || (state.admin_key.is_some() && managed) {
        // With managed tenants and an admin key, an open API would let anyone act in `default`.
        return Err(if given.is_some() { ApiError::InvalidApiKey } else { ApiError::MissingApiKey });
    } else if given.is_some() && managed {
        // A key that is no tenant's: say so rather than act in `default` with it.
        return Err(ApiError::InvalidApiKey);
    } else {
        // No key configured (development): any request acts in `default`, as before tenants.
        (CallerKind::Open, Some(TenantId::default_tenant()))
    };
    let was_named = named.is_some();
    let tenant = match (own, named) {
        (Some(own), Some(named)) if own != named => return Err(mismatch(named.as_str(), &own)),
        (Some(own), _) => own,
        (None, named) => named.unwrap_or_else(TenantId::default_tenant),
    };
    if state.service.tenant_directory().is_none() && tenant.as_str() != TenantId::DEFAULT {
        return Err(ApiError::FeatureDisabled(
            "tenants are not managed (TENANT_ENABLED=false): the HTTP API acts in tenant `default` only".into(),
        ));
    }
    Ok(Caller { kind, tenant, named: was_named })
}

fn tenant_of_key(state: &AppState, given: &[u8]) -> Option<TenantId> {
    let directory = state.service.tenant_directory()?;
    directory.tenant_of_key(std::str::from_utf8(given).ok()?, chrono::Utc::now())
}

/// Middleware on every API route: resolves the caller or refuses the request.
pub async fn resolve_caller(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let caller = resolve(&state, request.headers())?;
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

fn caller_of(parts: &Parts) -> Result<Caller, ApiError> {
    // The router puts `resolve_caller` on every route that takes these extractors; a route without it
    // is a wiring mistake, answered as an internal error rather than acting for nobody.
    parts
        .extensions
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| ApiError::Internal(Box::new(crate::ports::Garbled("route without caller resolution".into()))))
}

/// The tenant a request acts in: resolved, existing and active.
#[derive(Debug, Clone)]
pub struct Acting(pub Caller);

impl Acting {
    pub fn tenant(&self) -> &TenantId {
        &self.0.tenant
    }
}

impl FromRequestParts<AppState> for Acting {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = caller_of(parts)?;
        state.service.admit_tenant(&caller.tenant)?;
        Ok(Acting(caller))
    }
}

/// A caller holding `ADMIN_API_KEY`, on a server that manages tenants.
#[derive(Debug, Clone)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.service.tenant_directory().is_none() {
            return Err(ApiError::FeatureDisabled(
                "tenants are not managed: set TENANT_ENABLED=true (and ADMIN_API_KEY)".into(),
            ));
        }
        match caller_of(parts)?.kind {
            CallerKind::Admin => Ok(Admin),
            _ => Err(ApiError::Forbidden {
                code: "ADMIN_KEY_REQUIRED",
                message: "the Tenant API takes ADMIN_API_KEY in X-API-Key".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn compares_exactly() {
        assert!(super::constant_time_eq(b"key", b"key"));
        assert!(!super::constant_time_eq(b"key", b"kez"));
        assert!(!super::constant_time_eq(b"key", b"key2"));
    }
}
