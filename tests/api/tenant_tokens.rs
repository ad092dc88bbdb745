//! Client tokens of managed tenants, each verified with its tenant's own keys: a token signed by
//! tenant A's key never acts in tenant B (whatever it claims), the server's keys do not reach a tenant
//! that has its own, keys rotate by kid, RS256 and ES256 public keys, HS256-against-RS256 confusion.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{now_secs, TestApp};
use crate::tenants::{admin, spawn_tenants};

const SECRET_A: &str = "tenant-a-secret-0123456789abcdef-xyz";
const SECRET_A2: &str = "tenant-a-second-secret-0123456789abcdef";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/jwt/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture")
}

fn claims(user: &str, tenant: Option<&str>) -> Value {
    let mut c = json!({"sub": user, "exp": now_secs() + 300});
    if let Some(t) = tenant {
        c["tenant_id"] = json!(t);
    }
    c
}

fn hs256(kid: Option<&str>, secret: &[u8], claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("signs")
}

fn signed_by(fixture_key: &str, kid: &str, claims: &Value) -> String {
    let pem = fixture(&format!("{fixture_key}.key.pem"));
    let (alg, key) = match &fixture_key[..2] {
        "rs" => (Algorithm::RS256, EncodingKey::from_rsa_pem(pem.as_bytes())),
        _ => (Algorithm::ES256, EncodingKey::from_ec_pem(pem.as_bytes())),
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key.expect("fixture key")).expect("signs")
}

async fn refused(app: &TestApp, token: &str) -> (u16, String) {
    let refusal = app.try_connect_ws(Some(token)).await.err().expect("the token is refused");
    (refusal.status, refusal.body["error"]["code"].as_str().unwrap_or_default().to_owned())
}

async fn accepted(app: &TestApp, token: &str, tenant: &str) {
    let client = app.connect_ws(token).await;
    assert_eq!(client.tenant_id, tenant);
}

async fn with_keys(app: &TestApp, tenant: &str, keys: Value) {
    let created =
        admin(app, Method::POST, "/api/v1/tenants", Some(&json!({"tenant_id": tenant, "token_keys": keys}))).await;
    assert_eq!(created.status, 201, "{}", created.text);
}

#[tokio::test]
async fn a_tenants_keys_verify_its_own_tokens_only() {
    let app = spawn_tenants(&[]).await;
    with_keys(&app, "tenant-a", json!([{"kid": "a-1", "algorithm": "HS256", "key": SECRET_A}])).await;
    with_keys(
        &app,
        "tenant-b",
        json!([{"kid": "b-rsa", "algorithm": "RS256", "key": fixture("rsa1.pub.pem")},
               {"kid": "b-ec", "algorithm": "ES256", "key": fixture("ec1.pub.pem")}]),
    )
    .await;
    admin(&app, Method::POST, "/api/v1/tenants", Some(&json!({"tenant_id": "tenant-c"}))).await;

    accepted(&app, &hs256(Some("a-1"), SECRET_A.as_bytes(), &claims("alice", Some("tenant-a"))), "tenant-a").await;
    accepted(&app, &signed_by("rsa1", "b-rsa", &claims("bob", Some("tenant-b"))), "tenant-b").await;
    accepted(&app, &signed_by("ec1", "b-ec", &claims("bob", Some("tenant-b"))), "tenant-b").await;
    let sse = app
        .try_connect_sse(&format!("token={}", signed_by("ec1", "b-ec", &claims("bob", Some("tenant-b")))), None)
        .await;
    assert_eq!(sse.map(|s| s.tenant_id).ok().as_deref(), Some("tenant-b"));

    // Signed by A, claiming B: B's keys decide, and none of them is A's.
    let a_claims_b = hs256(Some("a-1"), SECRET_A.as_bytes(), &claims("mallory", Some("tenant-b")));
    assert_eq!(refused(&app, &a_claims_b).await, (401, "UNKNOWN_KEY".into()));
    let a_claims_b_no_kid = hs256(None, SECRET_A.as_bytes(), &claims("mallory", Some("tenant-b")));
    assert_eq!(refused(&app, &a_claims_b_no_kid).await.0, 401);
    // B's RSA key does not act in A.
    assert_eq!(refused(&app, &signed_by("rsa1", "b-rsa", &claims("bob", Some("tenant-a")))).await.0, 401);
    // A's key claiming a tenant without keys of its own meets the server's keys, not A's.
    let a_claims_c = hs256(Some("a-1"), SECRET_A.as_bytes(), &claims("mallory", Some("tenant-c")));
    assert_eq!(refused(&app, &a_claims_c).await.0, 401);
    // The server's own secret does not reach a tenant with its own keys, but still acts elsewhere.
    assert_eq!(refused(&app, &app.token("alice", "tenant-a")).await.0, 401);
    accepted(&app, &app.token("carol", "tenant-c"), "tenant-c").await;
    accepted(&app, &app.token("dave", "default"), "default").await;
    // HS256 signed with B's public RSA key as its secret, against B's RS256 kid: algorithm confusion.
    let confused = hs256(Some("b-rsa"), fixture("rsa1.pub.pem").as_bytes(), &claims("mallory", Some("tenant-b")));
    assert_eq!(refused(&app, &confused).await, (401, "INVALID_ALGORITHM".into()));
    // An unknown kid.
    let unknown = hs256(Some("a-9"), SECRET_A.as_bytes(), &claims("alice", Some("tenant-a")));
    assert_eq!(refused(&app, &unknown).await, (401, "UNKNOWN_KEY".into()));
    // An unknown tenant.
    assert_eq!(refused(&app, &hs256(Some("a-1"), SECRET_A.as_bytes(), &claims("x", Some("nobody")))).await.0, 401);

    // Keys are listed without their secret.
    let view = admin(&app, Method::GET, "/api/v1/tenants/tenant-a", None).await;
    assert_eq!(view.body["token_keys"], json!([{"kid": "a-1", "algorithm": "HS256"}]));
    assert!(!view.text.contains(SECRET_A), "{}", view.text);
}

#[tokio::test]
async fn keys_rotate_by_kid_and_a_rotated_out_key_stops_working() {
    let app = spawn_tenants(&[]).await;
    with_keys(&app, "acme", json!([{"kid": "k1", "algorithm": "HS256", "key": SECRET_A}])).await;
    let old = hs256(Some("k1"), SECRET_A.as_bytes(), &claims("alice", Some("acme")));
    let new = hs256(Some("k2"), SECRET_A2.as_bytes(), &claims("alice", Some("acme")));
    accepted(&app, &old, "acme").await;
    assert_eq!(refused(&app, &new).await, (401, "UNKNOWN_KEY".into()));
    let both = json!({"token_keys": [{"kid": "k1", "algorithm": "HS256", "key": SECRET_A},
                                     {"kid": "k2", "algorithm": "HS256", "key": SECRET_A2}]});
    assert_eq!(admin(&app, Method::PUT, "/api/v1/tenants/acme", Some(&both)).await.status, 200);
    accepted(&app, &old, "acme").await;
    accepted(&app, &new, "acme").await;
    let only_new = json!({"token_keys": [{"kid": "k2", "algorithm": "HS256", "key": SECRET_A2}]});
    assert_eq!(admin(&app, Method::PUT, "/api/v1/tenants/acme", Some(&only_new)).await.status, 200);
    assert_eq!(refused(&app, &old).await, (401, "UNKNOWN_KEY".into()), "the rotated-out key");
    accepted(&app, &new, "acme").await;
    // Back to the server's keys.
    assert_eq!(admin(&app, Method::PUT, "/api/v1/tenants/acme", Some(&json!({"token_keys": []}))).await.status, 200);
    accepted(&app, &app.token("alice", "acme"), "acme").await;
    assert_eq!(refused(&app, &new).await.0, 401);
}

#[tokio::test]
async fn keys_that_would_not_load_are_refused_when_set() {
    let app = spawn_tenants(&[]).await;
    for keys in [
        json!([{"kid": "x", "algorithm": "RS256", "key": "not a pem"}]),
        json!([{"kid": "x", "algorithm": "none", "key": "whatever"}]),
        json!([{"kid": "x", "algorithm": "HS256", "key": SECRET_A}, {"kid": "x", "algorithm": "HS256", "key": SECRET_A2}]),
    ] {
        let reply =
            admin(&app, Method::POST, "/api/v1/tenants", Some(&json!({"tenant_id": "acme", "token_keys": keys}))).await;
        reply.assert_error(400, "VALIDATION_ERROR");
        assert!(!reply.text.contains(SECRET_A), "the error never shows a secret: {}", reply.text);
    }
    let unknown = admin(
        &app,
        Method::POST,
        "/api/v1/tenants",
        Some(&json!({"tenant_id": "acme", "token_keys": [{"algorithm": "HS256", "key": SECRET_A, "x": 1}]})),
    )
    .await;
    unknown.assert_error(400, "UNKNOWN_FIELD");
}
