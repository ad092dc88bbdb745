//! Keys ready to verify with: built from a [`KeySpec`], or read from a JWKS document.

use std::sync::Arc;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm as JwkAlgorithm, PublicKeyUse};
use jsonwebtoken::DecodingKey;

use super::keyset::{KeyAlgorithm, KeyMaterial, KeySetError, KeySpec};

/// One key, decoded. The algorithm is fixed here, once, from the configuration or the JWK — never
/// from the token being checked.
pub struct LoadedKey {
    pub kid: Option<String>,
    pub algorithm: KeyAlgorithm,
    pub(crate) decoding: DecodingKey,
}

impl std::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedKey").field("kid", &self.kid).field("algorithm", &self.algorithm).finish()
    }
}

pub type Keys = Arc<Vec<Arc<LoadedKey>>>;

impl LoadedKey {
    pub fn from_spec(spec: &KeySpec, index: usize) -> Result<Self, KeySetError> {
        let bad = |reason: String| KeySetError::bad_key(spec, index, reason);
        let decoding = match (&spec.material, spec.algorithm) {
            (KeyMaterial::Secret(secret), KeyAlgorithm::Hs256) => {
                if secret.is_empty() {
                    return Err(bad("empty secret".into()));
                }
                DecodingKey::from_secret(secret.as_bytes())
            }
            (KeyMaterial::Secret(_), alg) => return Err(bad(format!("{alg} needs a PEM public key, not a secret"))),
            (KeyMaterial::PublicPem(_), KeyAlgorithm::Hs256) => {
                return Err(bad("HS256 needs a secret, not a public key".into()))
            }
            (KeyMaterial::PublicPem(pem), alg) => {
                let pem = pem.as_bytes();
                let parsed = match alg {
                    KeyAlgorithm::Rs256 => DecodingKey::from_rsa_pem(pem),
                    KeyAlgorithm::Es256 => DecodingKey::from_ec_pem(pem),
                    KeyAlgorithm::EdDsa => DecodingKey::from_ed_pem(pem),
                    KeyAlgorithm::Hs256 => unreachable_hs256(),
                };
                parsed.map_err(|e| bad(format!("not a {alg} public key in PEM: {e}")))?
            }
        };
        Ok(Self { kid: spec.kid.clone(), algorithm: spec.algorithm, decoding })
    }

    /// An HS256 key from any bytes, empty included (only [`super::JwtAuth`] needs that).
    pub(crate) fn hs256_unchecked(secret: &[u8]) -> Self {
        Self { kid: None, algorithm: KeyAlgorithm::Hs256, decoding: DecodingKey::from_secret(secret) }
    }

    /// The keys of a JWKS document that can verify signatures, and why each other one was skipped
    /// (for the log). Symmetric (`oct`) keys are skipped: a published secret is no secret.
    pub fn from_jwks(document: &[u8]) -> Result<(Vec<Self>, Vec<String>), String> {
        let doc: serde_json::Value = serde_json::from_slice(document).map_err(|e| format!("not JSON: {e}"))?;
        let list = doc.get("keys").and_then(|k| k.as_array()).ok_or("no \"keys\" array")?;
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        for (i, raw) in list.iter().enumerate() {
            let name = raw.get("kid").and_then(|k| k.as_str()).map_or_else(|| format!("#{}", i + 1), str::to_owned);
            match jwk_key(raw) {
                Ok(key) => keys.push(key),
                Err(reason) => skipped.push(format!("key {name}: {reason}")),
            }
        }
        Ok((keys, skipped))
    }
}

fn unreachable_hs256() -> jsonwebtoken::errors::Result<DecodingKey> {
    // Matched above; kept as an error rather than a panic should the match ever change.
    Err(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into())
}

fn jwk_key(raw: &serde_json::Value) -> Result<LoadedKey, String> {
    let jwk: Jwk = serde_json::from_value(raw.clone()).map_err(|e| format!("not a JWK Ara can read: {e}"))?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return Err("its use is enc, not sig".into());
    }
    // Without `alg`, the key type says it: Ara verifies one algorithm per key type.
    let implied = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => KeyAlgorithm::Rs256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => KeyAlgorithm::Es256,
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => KeyAlgorithm::EdDsa,
        AlgorithmParameters::OctetKey(_) => return Err("symmetric (oct) keys are not accepted from a JWKS".into()),
        _ => return Err("key type or curve not supported (RSA, EC P-256, OKP Ed25519)".into()),
    };
    let algorithm = match jwk.common.key_algorithm {
        None => implied,
        Some(JwkAlgorithm::RS256) if implied == KeyAlgorithm::Rs256 => implied,
        Some(JwkAlgorithm::ES256) if implied == KeyAlgorithm::Es256 => implied,
        Some(JwkAlgorithm::EdDSA) if implied == KeyAlgorithm::EdDsa => implied,
        Some(other) => return Err(format!("alg {other:?} is not accepted for this key type")),
    };
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| format!("unusable key material: {e}"))?;
    Ok(LoadedKey { kid: jwk.common.key_id.clone(), algorithm, decoding })
}

/// Builds every static key, refusing two keys with one `kid`.
pub fn load_static(specs: &[KeySpec]) -> Result<Vec<Arc<LoadedKey>>, KeySetError> {
    let mut seen = std::collections::HashSet::new();
    let mut keys = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        if let Some(kid) = &spec.kid {
            if !seen.insert(kid.clone()) {
                return Err(KeySetError::DuplicateKid(kid.clone()));
            }
        }
        keys.push(Arc::new(LoadedKey::from_spec(spec, i)?));
    }
    Ok(keys)
}
