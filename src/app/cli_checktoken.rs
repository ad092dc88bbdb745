//! `ara checktoken TOKEN`: whether this server would accept a client's token, and if not, why —
//! checked exactly as a connection's token is (the same key set: `JWT_SECRET`, `JWT_KEYS`, the JWKS;
//! algorithm, `exp`/`nbf` with the leeway, issuer, audience, claims), with what the token says about
//! itself printed either way.

use std::io::Read;

use base64::Engine;
use serde_json::Value;

use super::config::Settings;
use crate::adapters::auth::{AuthError, RawHeader};
use crate::ports::TokenVerifier;

/// Prints the verdict; exit code 0 when accepted, 1 when refused, 2 when no token could be read or
/// the key set could not be built.
pub async fn run(settings: &Settings, token: &str) -> i32 {
    let token = match read_token(token) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ara: checktoken: {e}");
            return 2;
        }
    };
    let verifier = match super::auth::verifier(settings) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("ara: checktoken: {e}");
            return 2;
        }
    };
    let claims = unverified_claims(&token);
    let header = RawHeader::read(&token);
    let now = chrono::Utc::now().timestamp();
    let code = match verifier.verify(&token).await {
        Ok(verified) => {
            println!("accepted");
            println!("  user:     {}", verified.identity.user.as_str());
            println!("  tenant:   {}", verified.identity.tenant.as_str());
            println!("  key:      {}", verified.key_id.as_deref().unwrap_or("(no kid)"));
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
            if let Some(header) = &header {
                println!("  header:   alg {}, kid {}", header.alg, header.kid.as_deref().unwrap_or("(none)"));
            }
            if matches!(e, AuthError::UnknownKey(_) | AuthError::BadAlgorithm(_)) {
                let keys: Vec<String> = verifier
                    .describe()
                    .into_iter()
                    .map(|(kid, alg)| format!("{} {alg}", kid.as_deref().unwrap_or("(no kid)")))
                    .collect();
                println!("  keys:     {}", keys.join(", "));
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
        AuthError::BadSignature if settings.jwt.secret.is_none() && !settings.jwt.has_key_set() => {
            "not signed with the development secret (JWT_SECRET is not set here)".into()
        }
        AuthError::BadSignature if !settings.jwt.has_key_set() => "not signed with this JWT_SECRET".into(),
        AuthError::BadSignature => {
            "not signed with the key it names (JWT_SECRET without a kid, JWT_KEYS, the JWKS)".into()
        }
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
        AuthError::BadAlgorithm(_) => "its alg must be the algorithm of the key it names".into(),
        AuthError::UnknownKey(_) => "no configured key has its kid (JWT_KEYS, JWT_JWKS_URL, JWT_JWKS_FILE)".into(),
        AuthError::Expired => {
            format!(
                "its exp has passed ({} s of clock skew are allowed, JWT_LEEWAY_SECONDS)",
                settings.jwt.leeway_seconds
            )
        }
        AuthError::NotYetValid => {
            format!("its nbf is in the future ({} s of clock skew are allowed)", settings.jwt.leeway_seconds)
        }
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
