//! `ara checktoken TOKEN`: whether this server would accept a client's token, and if not, why —
//! checked exactly as a connection's token is (secret, algorithm, `exp`/`nbf`, issuer, audience,
//! claims), with what the token says about itself printed either way.

use std::io::Read;

use base64::Engine;
use serde_json::Value;

use super::config::Settings;
use crate::adapters::auth::{AuthError, JwtAuth, JwtSettings};

/// Prints the verdict; exit code 0 when accepted, 1 when refused, 2 when no token could be read.
pub fn run(settings: &Settings, token: &str) -> i32 {
    let token = match read_token(token) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ara: checktoken: {e}");
            return 2;
        }
    };
    let jwt = JwtAuth::new(JwtSettings {
        secret: settings.jwt_secret().to_owned(),
        issuer: settings.jwt.issuer.clone(),
        audience: settings.jwt.audience.clone(),
    });
    let claims = unverified_claims(&token);
    let now = chrono::Utc::now().timestamp();
    let code = match jwt.verify(&token) {
        Ok(identity) => {
            println!("accepted");
            println!("  user:     {}", identity.user.as_str());
            println!("  tenant:   {}", identity.tenant.as_str());
            0
        }
        Err(e) => {
            println!("refused: {} ({e})", e.code());
            if let Some(hint) = hint(&e, settings, claims.as_ref()) {
                println!("  why:      {hint}");
            }
            if let Some(sub) = claims.as_ref().and_then(|c| c.get("sub")).and_then(Value::as_str) {
                println!("  user:     {sub} (claimed)");
            }
            if let Some(claims) = &claims {
                let tenant = claims.get("tenant_id").and_then(Value::as_str).unwrap_or("default");
                println!("  tenant:   {tenant} (claimed)");
            }
            1
        }
    };
    if let Some(claims) = &claims {
        for (claim, label) in [("exp", "expires"), ("nbf", "valid from"), ("iat", "issued")] {
            if let Some(at) = claims.get(claim).and_then(Value::as_i64) {
                println!("  {:<9} {}", format!("{label}:"), describe_time(at, now));
            }
        }
        for (claim, label) in [("iss", "issuer"), ("aud", "audience")] {
            if let Some(value) = claims.get(claim) {
                let shown = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
                println!("  {:<9} {shown}", format!("{label}:"));
            }
        }
    }
    code
}

/// The token as given, `-` for standard input; a pasted `Bearer ` prefix is dropped.
fn read_token(arg: &str) -> Result<String, String> {
    let raw = if arg == "-" {
        let mut buf = String::new();
        std::io::stdin().read_to_string(&mut buf).map_err(|e| format!("cannot read the token from stdin: {e}"))?;
        buf
    } else {
        arg.to_owned()
    };
    let token = raw.trim();
    let token = token.strip_prefix("Bearer ").or_else(|| token.strip_prefix("bearer ")).unwrap_or(token).trim();
    if token.is_empty() {
        return Err("no token given".into());
    }
    Ok(token.to_owned())
}

/// The payload as the token states it, before any check: for showing, never for deciding.
fn unverified_claims(token: &str) -> Option<serde_json::Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// What to look at, where the error alone does not say.
fn hint(e: &AuthError, settings: &Settings, claims: Option<&serde_json::Map<String, Value>>) -> Option<String> {
    let claim = |name: &str| claims.and_then(|c| c.get(name)).map(|v| v.as_str().map_or(v.to_string(), str::to_owned));
    let none = || "none".to_owned();
    Some(match e {
        AuthError::BadSignature if settings.jwt.secret.is_none() => {
            "not signed with the development secret (JWT_SECRET is not set here)".into()
        }
        AuthError::BadSignature => "not signed with this JWT_SECRET".into(),
        AuthError::BadIssuer => format!(
            "JWT_ISSUER is {}, the token's iss is {}",
            settings.jwt.issuer.as_deref().unwrap_or("unset"),
            claim("iss").unwrap_or_else(none)
        ),
        AuthError::BadAudience => format!(
            "JWT_AUDIENCE is {}, the token's aud is {}",
            settings.jwt.audience.as_deref().unwrap_or("unset"),
            claim("aud").unwrap_or_else(none)
        ),
        AuthError::BadAlgorithm => "only HS256 tokens are accepted".into(),
        AuthError::Expired => "its exp has passed (5 s of clock skew are allowed)".into(),
        AuthError::NotYetValid => "its nbf is in the future (5 s of clock skew are allowed)".into(),
        _ => return None,
    })
}

/// `2026-05-01T12:00:00Z (in 59m 58s)` or `… (3m ago)`.
fn describe_time(at: i64, now: i64) -> String {
    let when = chrono::DateTime::from_timestamp(at, 0).map_or_else(|| at.to_string(), |t| t.to_rfc3339());
    let delta = at - now;
    let span = humantime::format_duration(std::time::Duration::from_secs(delta.unsigned_abs()));
    if delta > 0 {
        format!("{when} (in {span})")
    } else {
        format!("{when} ({span} ago)")
    }
}
