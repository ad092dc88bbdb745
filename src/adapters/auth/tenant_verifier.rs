//! Client tokens of managed tenants, each verified with its tenant's own key set.
//!
//! The token's `tenant_id` claim is read unverified only to pick whose keys to try; the verifier of
//! that tenant then requires the claim to be that tenant ([`TenantRule::Fixed`]), so a token signed
//! with tenant A's key never acts in tenant B: claiming B selects B's keys, which A's signature does not
//! match. A tenant without keys of its own takes the server's (`JWT_*`), which only the operator holds.
//! Each tenant's verifier is built once per change of its keys and reused.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use parking_lot::RwLock;

use super::{ClaimRules, KeyAlgorithm, KeySet, KeySetVerifier, KeySpec, TenantRule};
use crate::domain::{ErrorChain, TenantId, TokenKey, VerifiedToken};
use crate::ports::{AuthError, DynTenantDirectory, DynTokenVerifier, TokenVerifier};

pub struct TenantTokenVerifier {
    /// The server's key set, for tenants without their own.
    server: DynTokenVerifier,
    directory: DynTenantDirectory,
    rules: ClaimRules,
    /// Per tenant: the fingerprint of the keys it was built from, and the verifier.
    built: RwLock<HashMap<TenantId, (u64, Arc<KeySetVerifier>)>>,
}

/// The key set of a tenant's stored keys.
pub fn key_set(keys: &[TokenKey]) -> Result<KeySet, String> {
    let mut set = KeySet::default();
    for (i, key) in keys.iter().enumerate() {
        let algorithm = KeyAlgorithm::from_name(&key.algorithm)
            .ok_or_else(|| format!("key {}: algorithm must be HS256, RS256, ES256 or EdDSA", i + 1))?;
        set.keys.push(match algorithm {
            KeyAlgorithm::Hs256 => KeySpec::hs256(key.kid.as_deref(), key.key.clone()),
            public => KeySpec::public(key.kid.as_deref(), public, key.key.clone()),
        });
    }
    Ok(set)
}

/// A verifier of `tenant`'s tokens with `keys`; the error says which key is wrong, never its value.
pub fn tenant_verifier(tenant: &TenantId, keys: &[TokenKey], rules: &ClaimRules) -> Result<KeySetVerifier, String> {
    let rules = ClaimRules { tenant: TenantRule::Fixed(tenant.clone()), ..rules.clone() };
    KeySetVerifier::new(&key_set(keys)?, &rules).map_err(|e| e.to_string())
}

fn fingerprint(keys: &[TokenKey]) -> u64 {
    let mut hasher = DefaultHasher::new();
    for key in keys {
        (&key.kid, &key.algorithm, &key.key).hash(&mut hasher);
    }
    hasher.finish()
}

/// The `tenant_id` claim, read without verifying anything; `default` when absent.
fn claimed_tenant(token: &str) -> Result<TenantId, AuthError> {
    let payload = token.split('.').nth(1).ok_or_else(|| AuthError::Malformed("not a JWT".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| AuthError::Malformed("the claims are not base64url".into()))?;
    let claims: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed("the claims are not JSON".into()))?;
    match claims.get("tenant_id") {
        None | Some(serde_json::Value::Null) => Ok(TenantId::default_tenant()),
        Some(serde_json::Value::String(raw)) => {
            TenantId::parse(raw).map_err(|e| AuthError::BadClaims(format!("tenant_id: {e}")))
        }
        Some(_) => Err(AuthError::BadClaims("tenant_id must be a string".into())),
    }
}

impl TenantTokenVerifier {
    pub fn new(server: DynTokenVerifier, directory: DynTenantDirectory, rules: ClaimRules) -> Self {
        Self { server, directory, rules, built: RwLock::new(HashMap::new()) }
    }

    fn verifier_of(&self, tenant: &TenantId, keys: &[TokenKey]) -> Result<Arc<KeySetVerifier>, AuthError> {
        let print = fingerprint(keys);
        if let Some((seen, verifier)) = self.built.read().get(tenant) {
            if *seen == print {
                return Ok(verifier.clone());
            }
        }
        let verifier = tenant_verifier(tenant, keys, &self.rules).map_err(|why| {
            // Keys are checked when they are set; one that still fails to load is the operator's to fix.
            tracing::error!(tenant = %tenant, error = %why, "a tenant's token keys do not load");
            AuthError::KeysUnavailable
        })?;
        let verifier = Arc::new(verifier);
        self.built.write().insert(tenant.clone(), (print, verifier.clone()));
        Ok(verifier)
    }
}

#[async_trait]
impl TokenVerifier for TenantTokenVerifier {
    async fn verify(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        let tenant = claimed_tenant(token)?;
        let keys = self.directory.token_keys(&tenant);
        if keys.is_empty() {
            return self.server.verify(token).await;
        }
        let verifier = self.verifier_of(&tenant, &keys)?;
        let verified = verifier.verify(token).await;
        if let Err(e) = &verified {
            tracing::debug!(tenant = %tenant, error = %ErrorChain(e), "token refused by the tenant's keys");
        }
        verified
    }
}
