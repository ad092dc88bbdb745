//! HS256 with one shared secret: minting (`ara token`, tests, the load generator) and the simple
//! case of verification, `JWT_SECRET` alone. Verification is the key set's, with this one key.

use std::sync::Arc;

use async_trait::async_trait;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};

pub use super::claims::{Audience, Claims};
use super::keys::LoadedKey;
use super::keyset::{ClaimRules, KeySpec};
use super::verifier::{verify_with, Rules};
use crate::domain::{Identity, VerifiedToken};
pub use crate::ports::AuthError;
use crate::ports::TokenVerifier;

#[derive(Debug, Clone, Default)]
pub struct JwtSettings {
    pub secret: String,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

#[derive(Clone)]
pub struct JwtAuth {
    key: Arc<LoadedKey>,
    rules: Arc<Rules>,
    encoding: EncodingKey,
    settings: JwtSettings,
}

impl JwtAuth {
    /// With the default leeway ([`ClaimRules::DEFAULT_LEEWAY`]).
    pub fn new(settings: JwtSettings) -> Self {
        Self::with_rules(settings, ClaimRules::default())
    }

    /// `rules.issuer` and `rules.audience` are taken from `settings`; the leeway and tenant rule from
    /// `rules`.
    pub fn with_rules(settings: JwtSettings, rules: ClaimRules) -> Self {
        let rules = ClaimRules { issuer: settings.issuer.clone(), audience: settings.audience.clone(), ..rules };
        // An empty secret (only ever in a test) still gets a key: nothing verifies against it but
        // tokens signed with the same empty secret, as before.
        let key = LoadedKey::from_spec(&KeySpec::hs256(None, settings.secret.clone()), 0)
            .unwrap_or_else(|_| LoadedKey::hs256_unchecked(settings.secret.as_bytes()));
        Self {
            key: Arc::new(key),
            rules: Arc::new(Rules::new(&rules)),
            encoding: EncodingKey::from_secret(settings.secret.as_bytes()),
            settings,
        }
    }

    /// Verifies `token` and returns who it belongs to.
    pub fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        self.verify_token(token).map(|t| t.identity)
    }

    /// Verifies `token` and returns all it says.
    pub fn verify_token(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        verify_with(token, std::slice::from_ref(&self.key), &self.rules)
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
            jti: Some(uuid::Uuid::now_v7().to_string()),
            channels: None,
            channel: None,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Signs arbitrary claims with this secret (HS256, no `kid`).
    pub fn sign(&self, claims: &serde_json::Value) -> Result<String, jsonwebtoken::errors::Error> {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }
}

#[async_trait]
impl TokenVerifier for JwtAuth {
    async fn verify(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        self.verify_token(token)
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
        let expired = Claims {
            sub: "u".into(),
            exp: 1000,
            nbf: None,
            iat: None,
            iss: None,
            aud: None,
            tenant_id: None,
            jti: None,
            channels: None,
            channel: None,
        };
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
        assert!(matches!(a.verify(none), Err(AuthError::BadAlgorithm(_))));
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
