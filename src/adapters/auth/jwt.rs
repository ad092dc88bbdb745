//! HS256 JWT verification and minting. Only HS256 is accepted, so `alg: none` and algorithm
//! confusion are rejected before any claim is read.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::{Identity, TenantId, UserId};
pub use crate::ports::AuthError;
use crate::ports::TokenVerifier;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    /// Not before. Declared so that a value that is not a number is refused rather than skipped
    /// (the JWT library ignores an `nbf` it cannot read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

/// `aud` is one string or an array of them (RFC 7519 §4.1.3; Keycloak and Auth0 issue arrays). The
/// JWT library checks it against `JWT_AUDIENCE`: any member matching is enough.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

/// Whether the token's header names an algorithm other than HS256 — including ones the JWT library
/// does not know, such as `none`, which it would otherwise report as an unreadable header.
fn foreign_algorithm(token: &str) -> bool {
    use base64::Engine;
    let alg = token
        .split('.')
        .next()
        .and_then(|h| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h.trim_end_matches('=')).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|header| header.get("alg").and_then(|a| a.as_str()).map(str::to_owned));
    alg.is_some_and(|alg| alg != "HS256")
}

#[derive(Debug, Clone, Default)]
pub struct JwtSettings {
    pub secret: String,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

#[derive(Clone)]
pub struct JwtAuth {
    decoding: DecodingKey,
    encoding: EncodingKey,
    validation: Validation,
    settings: JwtSettings,
}

impl JwtAuth {
    pub fn new(settings: JwtSettings) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Clock skew allowed on `exp` and on `nbf` alike.
        validation.leeway = 5;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        match &settings.issuer {
            Some(iss) => {
                validation.set_issuer(&[iss]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match &settings.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        Self {
            decoding: DecodingKey::from_secret(settings.secret.as_bytes()),
            encoding: EncodingKey::from_secret(settings.secret.as_bytes()),
            validation,
            settings,
        }
    }

    /// Verifies `token` and returns who it belongs to.
    pub fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        use jsonwebtoken::errors::ErrorKind;
        if foreign_algorithm(token) {
            return Err(AuthError::BadAlgorithm);
        }
        let data = decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::ImmatureSignature => AuthError::NotYetValid,
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => AuthError::BadAlgorithm,
            ErrorKind::InvalidAudience => AuthError::BadAudience,
            ErrorKind::InvalidIssuer => AuthError::BadIssuer,
            ErrorKind::MissingRequiredClaim(c) if c == "aud" => AuthError::BadAudience,
            ErrorKind::MissingRequiredClaim(c) if c == "iss" => AuthError::BadIssuer,
            ErrorKind::MissingRequiredClaim(c) => AuthError::BadClaims(format!("missing claim {c}")),
            ErrorKind::Json(_) => AuthError::BadClaims("claims are not the expected JSON".into()),
            _ => AuthError::Malformed(e.to_string()),
        })?;
        let claims = data.claims;
        let user = UserId::parse(&claims.sub).map_err(|e| AuthError::BadClaims(format!("sub: {e}")))?;
        let tenant = match claims.tenant_id.as_deref() {
            None => TenantId::default_tenant(),
            Some(t) => TenantId::parse(t).map_err(|e| AuthError::BadClaims(format!("tenant_id: {e}")))?,
        };
        Ok(Identity { tenant, user })
    }

    /// Signs a token for `user` valid for `ttl_seconds`, with the configured issuer and audience.
    pub fn mint(
        &self,
        user: &str,
        tenant: Option<&str>,
        ttl_seconds: u64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let claims = Claims {
            sub: user.to_owned(),
            exp: now + ttl_seconds,
            nbf: None,
            iat: Some(now),
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone().map(Audience::One),
            tenant_id: tenant.map(str::to_owned),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }
}

impl TokenVerifier for JwtAuth {
    fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        JwtAuth::verify(self, token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(aud: Option<&str>) -> JwtAuth {
        JwtAuth::new(JwtSettings { secret: "s3cret".into(), issuer: None, audience: aud.map(Into::into) })
    }

    #[test]
    fn minted_tokens_verify_with_tenant() {
        let a = auth(None);
        let t = a.mint("u1", Some("acme"), 60).unwrap();
        let id = a.verify(&t).unwrap();
        assert_eq!((id.user.as_str(), id.tenant.as_str()), ("u1", "acme"));
        let t = a.mint("u1", None, 60).unwrap();
        assert_eq!(a.verify(&t).unwrap().tenant.as_str(), "default");
    }

    #[test]
    fn rejects_bad_tokens_with_precise_errors() {
        let a = auth(None);
        let other = JwtAuth::new(JwtSettings { secret: "other".into(), ..Default::default() });
        assert_eq!(a.verify(&other.mint("u", None, 60).unwrap()), Err(AuthError::BadSignature));
        let expired =
            Claims { sub: "u".into(), exp: 1000, nbf: None, iat: None, iss: None, aud: None, tenant_id: None };
        let t = encode(&Header::default(), &expired, &EncodingKey::from_secret(b"s3cret")).unwrap();
        assert_eq!(a.verify(&t), Err(AuthError::Expired));
        let now = chrono::Utc::now().timestamp() as u64;
        let early = serde_json::json!({"sub": "u", "exp": now + 7200, "nbf": now + 3600});
        let t = encode(&Header::default(), &early, &EncodingKey::from_secret(b"s3cret")).unwrap();
        assert_eq!(a.verify(&t), Err(AuthError::NotYetValid));
        assert_eq!(AuthError::NotYetValid.code(), "TOKEN_NOT_YET_VALID");
        // The leeway that forgives a clock behind on `exp` forgives one behind on `nbf`.
        let skewed = serde_json::json!({"sub": "u", "exp": now + 60, "nbf": now + 3});
        let t = encode(&Header::default(), &skewed, &EncodingKey::from_secret(b"s3cret")).unwrap();
        assert!(a.verify(&t).is_ok());
        let unreadable = serde_json::json!({"sub": "u", "exp": now + 60, "nbf": "soon"});
        let t = encode(&Header::default(), &unreadable, &EncodingKey::from_secret(b"s3cret")).unwrap();
        assert!(matches!(a.verify(&t), Err(AuthError::BadClaims(_))));
        // alg: none, built by hand.
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1IiwiZXhwIjo0MTAyNDQ0ODAwfQ.";
        assert_eq!(a.verify(none), Err(AuthError::BadAlgorithm));
        assert!(matches!(a.verify("garbage"), Err(AuthError::Malformed(_))));
        let with_aud = auth(Some("ara"));
        assert_eq!(with_aud.verify(&a.mint("u", None, 60).unwrap()), Err(AuthError::BadAudience));
        let wrong = JwtAuth::new(JwtSettings { secret: "s3cret".into(), issuer: None, audience: Some("other".into()) });
        assert_eq!(with_aud.verify(&wrong.mint("u", None, 60).unwrap()), Err(AuthError::BadAudience));
        assert!(with_aud.verify(&with_aud.mint("u", None, 60).unwrap()).is_ok());
    }

    fn signed(claims: serde_json::Value) -> String {
        encode(&Header::default(), &claims, &EncodingKey::from_secret(b"s3cret")).unwrap()
    }

    #[test]
    fn audience_may_be_a_string_or_an_array() {
        let exp = chrono::Utc::now().timestamp() as u64 + 60;
        let many = signed(serde_json::json!({"sub": "u", "exp": exp, "aud": ["account", "ara"]}));
        let none_matching = signed(serde_json::json!({"sub": "u", "exp": exp, "aud": ["account", "billing"]}));
        let empty = signed(serde_json::json!({"sub": "u", "exp": exp, "aud": []}));
        // Unchecked without JWT_AUDIENCE, in either form.
        for token in [&many, &none_matching, &empty] {
            assert_eq!(auth(None).verify(token).map(|id| id.user.as_str().to_owned()), Ok("u".to_owned()));
        }
        let with_aud = auth(Some("ara"));
        assert!(with_aud.verify(&many).is_ok(), "one member matching is enough");
        assert_eq!(with_aud.verify(&none_matching), Err(AuthError::BadAudience));
        assert_eq!(with_aud.verify(&empty), Err(AuthError::BadAudience));
        let number = signed(serde_json::json!({"sub": "u", "exp": exp, "aud": 7}));
        assert!(matches!(auth(None).verify(&number), Err(AuthError::BadClaims(_))));
    }

    #[test]
    fn minted_audience_is_a_string() {
        use base64::Engine;
        let token = auth(Some("ara")).mint("u", None, 60).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(claims["aud"], "ara");
    }
}
