//! Token verification against a key set: the key is chosen by the header's `kid`, the header's `alg`
//! must be that key's algorithm, then the signature, time window, issuer and audience are checked.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, Validation};

use super::claims::{Claims, RawHeader};
use super::jwks::JwksCache;
use super::keys::{load_static, LoadedKey};
use super::keyset::{ClaimRules, KeyAlgorithm, KeySet, KeySetError, TenantRule};
use crate::domain::{Identity, TenantId, UserId, VerifiedToken};
use crate::ports::{AuthError, TokenVerifier};

/// The checks besides the signature, one JWT-library validation per algorithm.
pub(crate) struct Rules {
    validations: [(KeyAlgorithm, Validation); 4],
    tenant: TenantRule,
}

impl Rules {
    pub(crate) fn new(rules: &ClaimRules) -> Self {
        let validation = |alg: KeyAlgorithm| {
            let mut v = Validation::new(alg.jwt());
            v.leeway = rules.leeway.as_secs();
            v.validate_nbf = true;
            let mut required = vec!["exp", "sub"];
            match &rules.issuer {
                Some(iss) => {
                    v.set_issuer(&[iss]);
                    required.push("iss");
                }
                None => v.iss = None,
            }
            match &rules.audience {
                Some(aud) => {
                    v.set_audience(&[aud]);
                    required.push("aud");
                }
                None => v.validate_aud = false,
            }
            v.set_required_spec_claims(&required);
            (alg, v)
        };
        Self { validations: KeyAlgorithm::ALL.map(validation), tenant: rules.tenant.clone() }
    }

    fn validation(&self, alg: KeyAlgorithm) -> &Validation {
        // Every algorithm has its entry; the first is only a fallback the types ask for.
        self.validations.iter().find(|(a, _)| *a == alg).map_or(&self.validations[0].1, |(_, v)| v)
    }
}

/// Verifies `token` with one of `keys`. Never tries a key of another algorithm than the header's.
pub(crate) fn verify_with(token: &str, keys: &[Arc<LoadedKey>], rules: &Rules) -> Result<VerifiedToken, AuthError> {
    let header = RawHeader::read(token)
        .ok_or_else(|| AuthError::Malformed("the header is not base64url JSON with an alg".into()))?;
    let alg = KeyAlgorithm::from_name(&header.alg)
        .ok_or_else(|| AuthError::BadAlgorithm(format!("{} is not one of HS256, RS256, ES256, EdDSA", header.alg)))?;
    let candidates: Vec<&Arc<LoadedKey>> = match &header.kid {
        Some(kid) => {
            let named: Vec<_> = keys.iter().filter(|k| k.kid.as_deref() == Some(kid.as_str())).collect();
            if named.is_empty() {
                return Err(AuthError::UnknownKey(format!("no key has kid {kid:?}")));
            }
            if let Some(other) = named.iter().find(|k| k.algorithm != alg) {
                return Err(AuthError::BadAlgorithm(format!(
                    "the token says {alg} but key {kid:?} is {}",
                    other.algorithm
                )));
            }
            named
        }
        None => {
            let unnamed: Vec<_> = keys.iter().filter(|k| k.kid.is_none()).collect();
            let same: Vec<_> = unnamed.iter().copied().filter(|k| k.algorithm == alg).collect();
            if same.is_empty() {
                return Err(if unnamed.is_empty() {
                    AuthError::UnknownKey("the token has no kid and every key has one".into())
                } else {
                    AuthError::BadAlgorithm(format!("no key without a kid is {alg}"))
                });
            }
            same
        }
    };
    let validation = rules.validation(alg);
    let mut last = AuthError::BadSignature;
    for key in candidates {
        match decode::<Claims>(token, &key.decoding, validation) {
            Ok(data) => return accepted(data.claims, key, &rules.tenant),
            Err(e) => {
                let e = map_error(&e);
                // Any error but the signature's means the signature held: that is the answer.
                if e != AuthError::BadSignature {
                    return Err(e);
                }
                last = e;
            }
        }
    }
    Err(last)
}

fn map_error(e: &jsonwebtoken::errors::Error) -> AuthError {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            AuthError::BadAlgorithm("not the key's algorithm".into())
        }
        ErrorKind::InvalidAudience => AuthError::BadAudience,
        ErrorKind::InvalidIssuer => AuthError::BadIssuer,
        ErrorKind::MissingRequiredClaim(c) if c == "aud" => AuthError::BadAudience,
        ErrorKind::MissingRequiredClaim(c) if c == "iss" => AuthError::BadIssuer,
        ErrorKind::MissingRequiredClaim(c) => AuthError::BadClaims(format!("missing claim {c}")),
        ErrorKind::Json(_) => AuthError::BadClaims("claims are not the expected JSON".into()),
        // ring refuses a signature of the wrong length or an unusable key the same way.
        ErrorKind::Crypto(_) => AuthError::BadSignature,
        _ => AuthError::Malformed(e.to_string()),
    }
}

fn timestamp(secs: u64, claim: &str) -> Result<DateTime<Utc>, AuthError> {
    i64::try_from(secs)
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or_else(|| AuthError::BadClaims(format!("{claim} is out of range")))
}

fn accepted(claims: Claims, key: &LoadedKey, rule: &TenantRule) -> Result<VerifiedToken, AuthError> {
    let user = UserId::parse(&claims.sub).map_err(|e| AuthError::BadClaims(format!("sub: {e}")))?;
    let claimed = match claims.tenant_id.as_deref() {
        None => None,
        Some(t) => Some(TenantId::parse(t).map_err(|e| AuthError::BadClaims(format!("tenant_id: {e}")))?),
    };
    let tenant = match (rule, claimed) {
        (TenantRule::FromClaim, claimed) => claimed.unwrap_or_else(TenantId::default_tenant),
        (TenantRule::Fixed(own), None) => own.clone(),
        (TenantRule::Fixed(own), Some(claimed)) if &claimed == own => claimed,
        (TenantRule::Fixed(_), Some(_)) => return Err(AuthError::WrongTenant),
    };
    let channels = claims.channels.unwrap_or_default();
    if channels.iter().any(|c| c.is_empty()) {
        return Err(AuthError::BadClaims("channels: an entry is empty".into()));
    }
    Ok(VerifiedToken {
        identity: Identity { tenant, user },
        expires_at: timestamp(claims.exp, "exp")?,
        issued_at: claims.iat.map(|iat| timestamp(iat, "iat")).transpose()?,
        jti: claims.jti.filter(|j| !j.is_empty()),
        channels,
        channel: claims.channel.filter(|c| !c.is_empty()),
        key_id: key.kid.clone(),
    })
}

/// Verifies client tokens with a [`KeySet`]: static keys, plus JWKS documents cached and refreshed.
/// Build one for the whole server, or one per tenant with [`TenantRule::Fixed`].
pub struct KeySetVerifier {
    keys: Vec<Arc<LoadedKey>>,
    jwks: Vec<Arc<JwksCache>>,
    rules: Rules,
}

impl KeySetVerifier {
    /// Decodes every static key and reads every JWKS file now, so that a bad key stops the caller
    /// with its name; JWKS URLs are fetched on first use (or by [`KeySetVerifier::preload`]).
    ///
    /// # Errors
    /// `Empty` for a set with no key and no JWKS; `BadKey`, `DuplicateKid`, `BadJwks` as named.
    pub fn new(set: &KeySet, rules: &ClaimRules) -> Result<Self, KeySetError> {
        if set.is_empty() {
            return Err(KeySetError::Empty);
        }
        let keys = load_static(&set.keys)?;
        let jwks = set.jwks.iter().cloned().map(JwksCache::new).collect::<Result<_, _>>()?;
        Ok(Self { keys, jwks, rules: Rules::new(rules) })
    }

    /// Fetches every JWKS that has not loaded yet; returns, per JWKS that still has no keys, its name.
    /// A server calls it at start to log a key server it cannot reach, without refusing to start.
    pub async fn preload(&self) -> Vec<String> {
        let mut missing = Vec::new();
        for cache in &self.jwks {
            let (_, generation, loaded) = cache.current();
            if !loaded && !cache.refresh_after(Some(generation)).await {
                missing.push(cache.name().to_owned());
            }
        }
        missing
    }

    /// `kid` and algorithm of every key held now (for `ara checktoken` and the log).
    pub fn describe(&self) -> Vec<(Option<String>, KeyAlgorithm)> {
        let mut all: Vec<_> = self.keys.iter().map(|k| (k.kid.clone(), k.algorithm)).collect();
        for cache in &self.jwks {
            all.extend(cache.current().0.iter().map(|k| (k.kid.clone(), k.algorithm)));
        }
        all
    }

    fn snapshot(&self) -> (Vec<Arc<LoadedKey>>, Vec<(u64, bool)>) {
        let mut keys = self.keys.clone();
        let mut seen = Vec::with_capacity(self.jwks.len());
        for cache in &self.jwks {
            let (held, generation, loaded) = cache.current();
            keys.extend(held.iter().cloned());
            seen.push((generation, loaded));
        }
        (keys, seen)
    }
}

#[async_trait]
impl TokenVerifier for KeySetVerifier {
    async fn verify(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        let (keys, seen) = self.snapshot();
        let first = verify_with(token, &keys, &self.rules);
        let Err(AuthError::UnknownKey(_)) = &first else { return first };
        if self.jwks.is_empty() {
            return first;
        }
        // The key may be new: ask each JWKS again (at most once per its min_refresh).
        let mut changed = false;
        for (cache, (generation, _)) in self.jwks.iter().zip(&seen) {
            changed |= cache.refresh_after(Some(*generation)).await;
        }
        if !changed {
            // A JWKS that never loaded may hold the key: say so rather than call the key unknown.
            let unloaded = self.jwks.iter().any(|c| !c.current().2);
            return if unloaded { Err(AuthError::KeysUnavailable) } else { first };
        }
        let (keys, _) = self.snapshot();
        verify_with(token, &keys, &self.rules)
    }
}
