//! Client authentication: JWTs for connections, verified against a key set (HS256 secrets,
//! RS256/ES256/EdDSA public keys, JWKS files and `https://` URLs), and the API key for the HTTP API.
//!
//! [`KeySet`] is plain data; [`KeySetVerifier`] is the [`crate::ports::TokenVerifier`] built from it.
//! [`JwtAuth`] is the one-secret HS256 case, which can also mint.

mod claims;
mod https_get;
mod jwks;
mod jwt;
mod keys;
mod keyset;
mod tenant_verifier;
mod verifier;

#[cfg(test)]
mod keyset_tests;

pub use claims::{Audience, Claims, RawHeader};
pub use jwt::{AuthError, JwtAuth, JwtSettings};
pub use keyset::{
    parse_key_entry, ClaimRules, JwksSource, JwksSpec, KeyAlgorithm, KeyMaterial, KeySet, KeySetError, KeySpec,
    TenantRule,
};
pub use tenant_verifier::{tenant_verifier, TenantTokenVerifier};
pub use verifier::KeySetVerifier;
