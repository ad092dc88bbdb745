//! The key set against real keys: each algorithm's happy path, algorithm confusion, `kid` rules,
//! rotation through a JWKS file that changes, and the tenant rule.

use std::time::Duration;

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::*;
use crate::domain::TenantId;
use crate::ports::{AuthError, TokenVerifier};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt/", $name))
    };
}

const RSA1_KEY: &str = fixture!("rsa1.key.pem");
const RSA1_PUB: &str = fixture!("rsa1.pub.pem");
const RSA2_KEY: &str = fixture!("rsa2.key.pem");
const EC1_KEY: &str = fixture!("ec1.key.pem");
const EC1_PUB: &str = fixture!("ec1.pub.pem");
const ED1_KEY: &str = fixture!("ed1.key.pem");
const ED1_PUB: &str = fixture!("ed1.pub.pem");

fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

fn claims(user: &str) -> Value {
    json!({"sub": user, "exp": now() + 300, "iat": now(), "jti": "t-1", "tenant_id": "acme", "channels": ["private-a", "private-team-*"]})
}

fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, key).expect("signs")
}

fn rsa(pem: &str) -> EncodingKey {
    EncodingKey::from_rsa_pem(pem.as_bytes()).expect("RSA private key")
}

fn verifier(keys: Vec<KeySpec>) -> KeySetVerifier {
    KeySetVerifier::new(&KeySet { keys, jwks: vec![] }, &ClaimRules::default()).expect("key set builds")
}

#[tokio::test]
async fn rs256_es256_and_eddsa_tokens_verify_with_their_public_keys() {
    let v = verifier(vec![
        KeySpec::public(Some("rsa1"), KeyAlgorithm::Rs256, RSA1_PUB),
        KeySpec::public(Some("ec1"), KeyAlgorithm::Es256, EC1_PUB),
        KeySpec::public(Some("ed1"), KeyAlgorithm::EdDsa, ED1_PUB),
    ]);
    let ec = EncodingKey::from_ec_pem(EC1_KEY.as_bytes()).unwrap();
    let ed = EncodingKey::from_ed_pem(ED1_KEY.as_bytes()).unwrap();
    for (alg, kid, key) in
        [(Algorithm::RS256, "rsa1", rsa(RSA1_KEY)), (Algorithm::ES256, "ec1", ec), (Algorithm::EdDSA, "ed1", ed)]
    {
        let token = sign(alg, Some(kid), &key, &claims("alice"));
        let verified = v.verify(&token).await.unwrap_or_else(|e| panic!("{kid}: {e}"));
        assert_eq!(verified.identity.user.as_str(), "alice");
        assert_eq!(verified.identity.tenant.as_str(), "acme");
        assert_eq!(verified.key_id.as_deref(), Some(kid));
        assert_eq!(verified.jti.as_deref(), Some("t-1"));
        assert_eq!(verified.channels, vec!["private-a".to_owned(), "private-team-*".to_owned()]);
        assert!(verified.issued_at.is_some());
        assert_eq!(verified.expires_at.timestamp() as u64, claims("x")["exp"].as_u64().unwrap());
    }
    // A valid signature by another key of the same algorithm is still a bad signature.
    let forged = sign(Algorithm::RS256, Some("rsa1"), &rsa(RSA2_KEY), &claims("alice"));
    assert_eq!(v.verify(&forged).await, Err(AuthError::BadSignature));
}

#[tokio::test]
async fn an_hs256_token_against_an_rsa_key_is_algorithm_confusion_and_refused() {
    let v = verifier(vec![KeySpec::public(Some("rsa1"), KeyAlgorithm::Rs256, RSA1_PUB)]);
    // The classic attack: HMAC keyed with the (public) PEM bytes, naming the RSA key.
    let hmac = EncodingKey::from_secret(RSA1_PUB.as_bytes());
    for kid in [Some("rsa1"), None] {
        let token = sign(Algorithm::HS256, kid, &hmac, &claims("mallory"));
        let refused = v.verify(&token).await;
        assert!(
            matches!(refused, Err(AuthError::BadAlgorithm(_)) | Err(AuthError::UnknownKey(_))),
            "{kid:?}: {refused:?}"
        );
        assert!(refused.is_err());
    }
    let named = sign(Algorithm::HS256, Some("rsa1"), &hmac, &claims("mallory"));
    assert!(matches!(v.verify(&named).await, Err(AuthError::BadAlgorithm(m)) if m.contains("RS256")));
    // An ES256 token naming the RSA key, and alg: none.
    let ec = EncodingKey::from_ec_pem(EC1_KEY.as_bytes()).unwrap();
    let token = sign(Algorithm::ES256, Some("rsa1"), &ec, &claims("mallory"));
    assert!(matches!(v.verify(&token).await, Err(AuthError::BadAlgorithm(_))));
    let none = "eyJhbGciOiJub25lIiwia2lkIjoicnNhMSJ9.eyJzdWIiOiJ1IiwiZXhwIjo0MTAyNDQ0ODAwfQ.";
    assert!(matches!(v.verify(none).await, Err(AuthError::BadAlgorithm(_))));
    // And the other way: an RS256 token against a set with only an HS256 secret.
    let hs = verifier(vec![KeySpec::hs256(None, "a-shared-secret")]);
    let token = sign(Algorithm::RS256, None, &rsa(RSA1_KEY), &claims("mallory"));
    assert!(matches!(hs.verify(&token).await, Err(AuthError::BadAlgorithm(_))));
}

#[tokio::test]
async fn keys_are_chosen_by_kid_and_an_unknown_kid_is_refused() {
    let v = verifier(vec![
        KeySpec::hs256(None, "default-secret"),
        KeySpec::hs256(Some("2026-a"), "secret-a"),
        KeySpec::hs256(Some("2026-b"), "secret-b"),
    ]);
    let a = EncodingKey::from_secret(b"secret-a");
    let b = EncodingKey::from_secret(b"secret-b");
    assert_eq!(
        v.verify(&sign(Algorithm::HS256, Some("2026-a"), &a, &claims("u"))).await.unwrap().key_id.as_deref(),
        Some("2026-a")
    );
    assert!(v.verify(&sign(Algorithm::HS256, Some("2026-b"), &b, &claims("u"))).await.is_ok());
    // The kid picks the key: secret-a under kid 2026-b is a bad signature, not "try them all".
    assert_eq!(v.verify(&sign(Algorithm::HS256, Some("2026-b"), &a, &claims("u"))).await, Err(AuthError::BadSignature));
    assert!(matches!(
        v.verify(&sign(Algorithm::HS256, Some("2025"), &a, &claims("u"))).await,
        Err(AuthError::UnknownKey(_))
    ));
    // No kid: only the key without one.
    let d = EncodingKey::from_secret(b"default-secret");
    assert_eq!(v.verify(&sign(Algorithm::HS256, None, &d, &claims("u"))).await.unwrap().key_id, None);
    assert_eq!(v.verify(&sign(Algorithm::HS256, None, &a, &claims("u"))).await, Err(AuthError::BadSignature));
    // A set where every key has a kid refuses a token without one.
    let named = verifier(vec![KeySpec::hs256(Some("k"), "secret-a")]);
    assert!(matches!(
        named.verify(&sign(Algorithm::HS256, None, &a, &claims("u"))).await,
        Err(AuthError::UnknownKey(_))
    ));
}

#[tokio::test]
async fn time_window_uses_the_leeway() {
    let rules = ClaimRules { leeway: Duration::from_secs(30), ..ClaimRules::default() };
    let v = KeySetVerifier::new(&KeySet { keys: vec![KeySpec::hs256(None, "s")], jwks: vec![] }, &rules).unwrap();
    let key = EncodingKey::from_secret(b"s");
    let just_expired = json!({"sub": "u", "exp": now() - 10});
    assert!(v.verify(&sign(Algorithm::HS256, None, &key, &just_expired)).await.is_ok(), "within the leeway");
    let long_expired = json!({"sub": "u", "exp": now() - 60});
    assert_eq!(v.verify(&sign(Algorithm::HS256, None, &key, &long_expired)).await, Err(AuthError::Expired));
}

#[tokio::test]
async fn a_fixed_tenant_refuses_tokens_claiming_another() {
    let rules = ClaimRules { tenant: TenantRule::Fixed(TenantId::parse("acme").unwrap()), ..ClaimRules::default() };
    let v = KeySetVerifier::new(
        &KeySet { keys: vec![KeySpec::hs256(Some("acme-1"), "acme-secret")], jwks: vec![] },
        &rules,
    )
    .unwrap();
    let key = EncodingKey::from_secret(b"acme-secret");
    let own = v.verify(&sign(Algorithm::HS256, Some("acme-1"), &key, &claims("u"))).await.unwrap();
    assert_eq!(own.identity.tenant.as_str(), "acme");
    let unclaimed = json!({"sub": "u", "exp": now() + 60});
    assert_eq!(
        v.verify(&sign(Algorithm::HS256, Some("acme-1"), &key, &unclaimed)).await.unwrap().identity.tenant.as_str(),
        "acme"
    );
    let other = json!({"sub": "u", "exp": now() + 60, "tenant_id": "globex"});
    assert_eq!(v.verify(&sign(Algorithm::HS256, Some("acme-1"), &key, &other)).await, Err(AuthError::WrongTenant));
}

#[test]
fn a_bad_key_set_is_refused_with_the_key_named() {
    let build =
        |keys| KeySetVerifier::new(&KeySet { keys, jwks: vec![] }, &ClaimRules::default()).err().map(|e| e.to_string());
    assert!(matches!(KeySetVerifier::new(&KeySet::default(), &ClaimRules::default()), Err(KeySetError::Empty)));
    let twice = build(vec![KeySpec::hs256(Some("k"), "a"), KeySpec::hs256(Some("k"), "b")]).unwrap();
    assert!(twice.contains("two keys have kid k"), "{twice}");
    // An EC key declared RS256, an RSA key declared EdDSA, garbage PEM.
    let wrong = build(vec![KeySpec::public(Some("ec"), KeyAlgorithm::Rs256, EC1_PUB)]).unwrap();
    assert!(wrong.contains("key ec (RS256)"), "{wrong}");
    assert!(build(vec![KeySpec::public(Some("r"), KeyAlgorithm::EdDsa, RSA1_PUB)]).is_some());
    assert!(build(vec![KeySpec::public(None, KeyAlgorithm::Es256, "not pem")]).is_some());
    // A secret given as a public key's material and the other way round.
    assert!(build(vec![KeySpec {
        kid: None,
        algorithm: KeyAlgorithm::Rs256,
        material: KeyMaterial::Secret("x".into())
    }])
    .is_some());
    let secret = build(vec![KeySpec::hs256(Some("k"), "")]).unwrap();
    assert!(!secret.contains("Secret("), "{secret}");
}

fn jwks(keys: &[&str]) -> String {
    let list: Vec<Value> = keys.iter().map(|k| serde_json::from_str(k).unwrap()).collect();
    json!({ "keys": list }).to_string()
}

#[tokio::test]
async fn a_jwks_file_that_changes_rotates_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks(&[fixture!("rsa1.jwk.json"), fixture!("ec1.jwk.json"), fixture!("ed1.jwk.json")]))
        .unwrap();
    let spec = JwksSpec {
        refresh: Duration::from_millis(200),
        min_refresh: Duration::from_millis(0),
        ..JwksSpec::new(JwksSource::File(path.clone()))
    };
    let v = KeySetVerifier::new(&KeySet { keys: vec![], jwks: vec![spec] }, &ClaimRules::default()).unwrap();
    let old = sign(Algorithm::RS256, Some("rsa1"), &rsa(RSA1_KEY), &claims("u"));
    let new = sign(Algorithm::RS256, Some("rsa2"), &rsa(RSA2_KEY), &claims("u"));
    assert!(v.verify(&old).await.is_ok());
    let ed = EncodingKey::from_ed_pem(ED1_KEY.as_bytes()).unwrap();
    assert!(v.verify(&sign(Algorithm::EdDSA, Some("ed1"), &ed, &claims("u"))).await.is_ok());
    assert!(matches!(v.verify(&new).await, Err(AuthError::UnknownKey(_))));
    // rsa2 published: the unknown kid fetches the file again at once.
    std::fs::write(&path, jwks(&[fixture!("rsa1.jwk.json"), fixture!("rsa2.jwk.json")])).unwrap();
    assert!(v.verify(&new).await.is_ok(), "a new kid is found by refetching");
    // rsa1 retired: refused once the periodic refresh has run (in the background).
    std::fs::write(&path, jwks(&[fixture!("rsa2.jwk.json")])).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        match v.verify(&old).await {
            Err(AuthError::UnknownKey(_)) => break,
            other => assert!(std::time::Instant::now() < deadline, "rsa1 still {other:?}"),
        }
    }
    assert!(v.verify(&new).await.is_ok());
    // A broken document keeps the keys held.
    std::fs::write(&path, "{\"keys\": []}").unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(v.verify(&new).await.is_ok(), "an empty JWKS is refused, the last good keys kept");
}

#[test]
fn jwks_documents_keep_only_signing_keys_of_known_types() {
    let oct = r#"{"kty":"oct","kid":"s","k":"c2VjcmV0"}"#;
    let enc = r#"{"kty":"RSA","kid":"e","use":"enc","n":"AQAB","e":"AQAB"}"#;
    let p384 = r#"{"kty":"EC","kid":"p","crv":"P-384","x":"AA","y":"AA"}"#;
    let odd_alg = r#"{"kty":"RSA","kid":"ps","alg":"PS256","n":"AQAB","e":"AQAB"}"#;
    let doc = jwks(&[fixture!("rsa1.jwk.json"), oct, enc, p384, odd_alg]);
    let (keys, skipped) = super::keys::LoadedKey::from_jwks(doc.as_bytes()).unwrap();
    assert_eq!(keys.iter().map(|k| k.kid.clone().unwrap()).collect::<Vec<_>>(), vec!["rsa1"]);
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    assert!(super::keys::LoadedKey::from_jwks(b"[]").is_err());
    // Without alg, the key type decides.
    let no_alg = fixture!("ec1.jwk.json").replace(",\"alg\":\"ES256\"", "");
    let (keys, _) = super::keys::LoadedKey::from_jwks(jwks(&[&no_alg]).as_bytes()).unwrap();
    assert_eq!(keys[0].algorithm, KeyAlgorithm::Es256);
}
