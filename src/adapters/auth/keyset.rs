//! A key set as plain data: which keys may sign client tokens, and the rules every token must pass.
//!
//! Nothing here reads files or the network. `app` builds a [`KeySet`] from `JWT_SECRET`, `JWT_KEYS`
//! and `JWT_JWKS_*`; a tenant store can build one per tenant from rows it holds. Either hands it to
//! [`super::KeySetVerifier::new`].

use std::fmt;
use std::time::Duration;

use thiserror::Error;

use crate::domain::TenantId;

/// The algorithms Ara verifies. Each key has exactly one, and a token is checked only with a key
/// of its header's `alg`: an HS256 token is never checked against an RSA key's public bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    Hs256,
    Rs256,
    Es256,
    EdDsa,
}

impl KeyAlgorithm {
    pub const ALL: [KeyAlgorithm; 4] = [Self::Hs256, Self::Rs256, Self::Es256, Self::EdDsa];

    /// The JOSE name, as in a token header (`HS256`, `RS256`, `ES256`, `EdDSA`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// From the JOSE name, exactly (a header saying `hs256` is not HS256).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    pub(crate) fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::Hs256 => jsonwebtoken::Algorithm::HS256,
            Self::Rs256 => jsonwebtoken::Algorithm::RS256,
            Self::Es256 => jsonwebtoken::Algorithm::ES256,
            Self::EdDsa => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a key is made of. An HS256 secret never shows in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// HS256: the shared secret's bytes (as text, as `JWT_SECRET` is).
    Secret(String),
    /// RS256 / ES256 / EdDSA: a public key as PEM (`-----BEGIN PUBLIC KEY-----`, SPKI; RSA also
    /// `BEGIN RSA PUBLIC KEY`).
    PublicPem(String),
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("Secret(***)"),
            Self::PublicPem(_) => f.write_str("PublicPem(..)"),
        }
    }
}

/// One configured key. Without a `kid` it verifies only tokens whose header has none (as
/// `JWT_SECRET` always has); with one, only tokens naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    pub kid: Option<String>,
    pub algorithm: KeyAlgorithm,
    pub material: KeyMaterial,
}

impl KeySpec {
    pub fn hs256(kid: Option<&str>, secret: impl Into<String>) -> Self {
        Self {
            kid: kid.map(str::to_owned),
            algorithm: KeyAlgorithm::Hs256,
            material: KeyMaterial::Secret(secret.into()),
        }
    }

    /// A public key: `algorithm` must not be HS256.
    pub fn public(kid: Option<&str>, algorithm: KeyAlgorithm, pem: impl Into<String>) -> Self {
        Self { kid: kid.map(str::to_owned), algorithm, material: KeyMaterial::PublicPem(pem.into()) }
    }
}

/// Where a JWKS (RFC 7517 `{"keys":[…]}`) comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// Read at build (a missing or unreadable file is a build error), then again as it refreshes.
    File(std::path::PathBuf),
    /// An `https://` URL; plain `http://` is refused. `ca_pem`: PEM CA certificates to check the
    /// server with instead of the system's trust store.
    Url { url: String, ca_pem: Option<String> },
}

/// A JWKS and how its cached copy is kept fresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksSpec {
    pub source: JwksSource,
    /// Fetched again this long after the last success, in the background (tokens keep being
    /// checked with the cached keys meanwhile). A failed fetch keeps the last good keys.
    pub refresh: Duration,
    /// A token naming an unknown `kid` triggers a fetch at once, but at most once per this: a
    /// stream of made-up `kid`s cannot turn Ara into a load generator against the key server.
    pub min_refresh: Duration,
    /// One fetch's deadline (connect, TLS, response).
    pub timeout: Duration,
}

impl JwksSpec {
    pub const DEFAULT_REFRESH: Duration = Duration::from_secs(300);
    pub const DEFAULT_MIN_REFRESH: Duration = Duration::from_secs(10);
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    pub fn new(source: JwksSource) -> Self {
        Self {
            source,
            refresh: Self::DEFAULT_REFRESH,
            min_refresh: Self::DEFAULT_MIN_REFRESH,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }
}

/// Every key that may sign a token: static keys plus any number of JWKS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySet {
    pub keys: Vec<KeySpec>,
    pub jwks: Vec<JwksSpec>,
}

impl KeySet {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.jwks.is_empty()
    }
}

/// Which tenant a verified token belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TenantRule {
    /// The `tenant_id` claim, or `default` without one: one key set for every tenant.
    #[default]
    FromClaim,
    /// The key set belongs to this tenant: a token without `tenant_id` is this tenant's, and one
    /// naming another tenant is refused with `WrongTenant` — a token signed with tenant A's key never
    /// acts in tenant B.
    Fixed(TenantId),
}

/// What every token must satisfy besides its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRules {
    /// `JWT_ISSUER`: when set, `iss` must be present and equal.
    pub issuer: Option<String>,
    /// `JWT_AUDIENCE`: when set, `aud` must be present and contain it.
    pub audience: Option<String>,
    /// `JWT_LEEWAY_SECONDS`: clock skew forgiven on `exp` and `nbf`.
    pub leeway: Duration,
    pub tenant: TenantRule,
}

impl ClaimRules {
    pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
}

impl Default for ClaimRules {
    fn default() -> Self {
        Self { issuer: None, audience: None, leeway: Self::DEFAULT_LEEWAY, tenant: TenantRule::FromClaim }
    }
}

/// Why a key set could not be built. Names the key (`kid`, or its position) and never shows
/// material.
#[derive(Debug, Error)]
pub enum KeySetError {
    #[error("key {key}: {reason}")]
    BadKey { key: String, reason: String },
    #[error("two keys have kid {0}; each kid must name one key")]
    DuplicateKid(String),
    #[error("JWKS {source_name}: {reason}")]
    BadJwks { source_name: String, reason: String },
    #[error("the key set is empty: no token could ever be accepted")]
    Empty,
}

impl KeySetError {
    pub(crate) fn bad_key(spec: &KeySpec, index: usize, reason: impl Into<String>) -> Self {
        let key = match &spec.kid {
            Some(kid) => format!("{kid} ({})", spec.algorithm),
            None => format!("#{} ({}, no kid)", index + 1, spec.algorithm),
        };
        Self::BadKey { key, reason: reason.into() }
    }
}

/// Parses one entry of `JWT_KEYS` (a comma-separated list): `[kid=]ALG:value`, where `value` is the
/// secret for HS256 and a PEM file's path for the others (the app reads it). Only the first `:`
/// splits, so a secret may contain `:` and `=`; it may not contain `,`.
pub fn parse_key_entry(entry: &str) -> Result<(Option<String>, KeyAlgorithm, String), String> {
    let (head, value) = entry.split_once(':').ok_or("expected [kid=]ALG:value")?;
    let (kid, alg) = match head.split_once('=') {
        Some((kid, alg)) => (Some(kid.trim()), alg.trim()),
        None => (None, head.trim()),
    };
    if kid.is_some_and(str::is_empty) {
        return Err("empty kid before =".into());
    }
    let algorithm = KeyAlgorithm::from_name(alg)
        .ok_or_else(|| format!("algorithm {alg:?} is not one of HS256, RS256, ES256, EdDSA"))?;
    if value.trim().is_empty() {
        return Err("empty key value".into());
    }
    Ok((kid.map(str::to_owned), algorithm, value.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_name_kid_algorithm_and_value() {
        assert_eq!(
            parse_key_entry("k1=HS256:abc:def=g"),
            Ok((Some("k1".into()), KeyAlgorithm::Hs256, "abc:def=g".into()))
        );
        assert_eq!(parse_key_entry(" RS256:@/k.pem"), Ok((None, KeyAlgorithm::Rs256, "@/k.pem".into())));
        assert!(parse_key_entry("k=hs256:x").is_err(), "algorithm names are exact");
        assert!(parse_key_entry("k=none:x").is_err());
        assert!(parse_key_entry("=HS256:x").is_err());
        assert!(parse_key_entry("HS256:").is_err());
        assert!(parse_key_entry("secret-without-alg").is_err());
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let spec = KeySpec::hs256(Some("k"), "very-secret-value");
        assert!(!format!("{spec:?}").contains("very-secret"));
    }
}
