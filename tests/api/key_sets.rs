//! Key sets on the real server: RS256/ES256/EdDSA tokens verified by public keys from `JWT_KEYS` and
//! from a JWKS served over HTTPS (by a local server of the test's own CA) that rotates while Ara runs;
//! algorithm confusion, unknown `kid`s, a key server that cannot be reached or trusted.

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::helpers::{now_secs, spawn_app, TestApp, POLL_DEADLINE};
use crate::jwks_server::{jwks_of, JwksServer};
use crate::tls_support::{path_str, Pki};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/jwt/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).expect("fixture")
}

fn fixture_path(name: &str) -> String {
    format!("{}/tests/fixtures/jwt/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A token for `user` signed by the fixture key `kid` (`rsa1`, `rsa2`, `ec1`, `ed1`).
fn token_by(kid: &str, user: &str) -> String {
    let pem = fixture(&format!("{kid}.key.pem"));
    let (alg, key) = match &kid[..2] {
        "rs" => (Algorithm::RS256, EncodingKey::from_rsa_pem(pem.as_bytes())),
        "ec" => (Algorithm::ES256, EncodingKey::from_ec_pem(pem.as_bytes())),
        _ => (Algorithm::EdDSA, EncodingKey::from_ed_pem(pem.as_bytes())),
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    let claims = json!({"sub": user, "exp": now_secs() + 300, "tenant_id": "acme"});
    jsonwebtoken::encode(&header, &claims, &key.expect("fixture key")).expect("signs")
}

fn hs256(kid: Option<&str>, secret: &[u8], claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("signs")
}

async fn refused(app: &TestApp, token: &str) -> (u16, String) {
    let refusal = app.try_connect_ws(Some(token)).await.err().expect("refused");
    (refusal.status, refusal.body["error"]["code"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn public_keys_from_jwt_keys_verify_rs256_es256_and_eddsa_over_websocket_and_sse() {
    let keys = format!(
        "rsa1=RS256:@{},ec1=ES256:{},ed1=EdDSA:@{},hs-2026=HS256:another-secret-for-kid-hs-2026",
        fixture_path("rsa1.pub.pem"),
        fixture_path("ec1.pub.pem"),
        fixture_path("ed1.pub.pem")
    );
    let app = spawn_app(&[("JWT_SECRET", "the-simple-case-secret-stays-valid"), ("JWT_KEYS", &keys)]).await;
    for kid in ["rsa1", "ec1", "ed1"] {
        let client = app.connect_ws(&token_by(kid, &format!("user-{kid}"))).await;
        assert_eq!((client.user_id.as_str(), client.tenant_id.as_str()), (format!("user-{kid}").as_str(), "acme"));
        let sse = app.try_connect_sse(&format!("token={}", token_by(kid, "sse-user")), None).await;
        assert_eq!(sse.unwrap_or_else(|r| panic!("{kid} over SSE: {}", r.text)).user_id, "sse-user");
    }
    let exp = now_secs() + 60;
    let by_kid = hs256(Some("hs-2026"), b"another-secret-for-kid-hs-2026", &json!({"sub": "h", "exp": exp}));
    assert_eq!(app.connect_ws(&by_kid).await.user_id, "h");
    // JWT_SECRET still verifies tokens without a kid.
    let simple = hs256(None, b"the-simple-case-secret-stays-valid", &json!({"sub": "s", "exp": exp}));
    assert_eq!(app.connect_ws(&simple).await.user_id, "s");
    // Algorithm confusion: HS256 keyed with the RSA public key's PEM, naming the RSA key.
    let confused = hs256(Some("rsa1"), fixture("rsa1.pub.pem").as_bytes(), &json!({"sub": "m", "exp": exp}));
    assert_eq!(refused(&app, &confused).await, (401, "INVALID_ALGORITHM".into()));
    // A kid nobody configured; rsa2's real signature under rsa1's kid.
    let mut unknown = Header::new(Algorithm::HS256);
    unknown.kid = Some("2019".into());
    let token =
        jsonwebtoken::encode(&unknown, &json!({"sub": "m", "exp": exp}), &EncodingKey::from_secret(b"x")).unwrap();
    assert_eq!(refused(&app, &token).await, (401, "UNKNOWN_KEY".into()));
    let forged = token_by("rsa2", "m").replace(
        &token_by("rsa2", "m").split('.').next().unwrap().to_owned(),
        token_by("rsa1", "m").split('.').next().unwrap(),
    );
    assert_eq!(refused(&app, &forged).await.0, 401);
}

#[tokio::test]
async fn a_key_set_turns_the_development_secret_off() {
    let keys = format!("rsa1=RS256:@{}", fixture_path("rsa1.pub.pem"));
    let app = spawn_app(&[("JWT_KEYS", &keys)]).await;
    // Anyone can read the development secret in the source: it must not sign tokens here.
    let dev = hs256(None, ara::app::config::DEV_JWT_SECRET.as_bytes(), &json!({"sub": "m", "exp": now_secs() + 60}));
    assert_eq!(refused(&app, &dev).await, (401, "UNKNOWN_KEY".into()));
    assert_eq!(app.connect_ws(&token_by("rsa1", "alice")).await.user_id, "alice");
}

#[tokio::test]
async fn a_jwks_url_that_changes_rotates_keys_on_a_live_server() {
    let pki = Pki::new();
    let jwks = JwksServer::start(&pki, jwks_of(&["rsa1", "ec1"])).await;
    let app = spawn_app(&[
        ("JWT_JWKS_URL", &jwks.url),
        ("JWT_JWKS_CA_CERT", path_str(&pki.ca)),
        ("JWT_JWKS_REFRESH_SECONDS", "1"),
        ("JWT_JWKS_MIN_REFRESH_SECONDS", "0"),
    ])
    .await;
    assert_eq!(jwks.hits(), 1, "fetched once at start");
    assert_eq!(app.connect_ws(&token_by("rsa1", "alice")).await.user_id, "alice");
    assert_eq!(app.connect_ws(&token_by("ec1", "bob")).await.user_id, "bob");
    assert_eq!(refused(&app, &token_by("rsa2", "carol")).await, (401, "UNKNOWN_KEY".into()));
    // rsa2 published: its first token makes Ara fetch again, and is accepted.
    jwks.serve(jwks_of(&["rsa1", "rsa2"]));
    assert_eq!(app.connect_ws(&token_by("rsa2", "carol")).await.user_id, "carol");
    // rsa1 retired: refused once the periodic refresh has picked the change up.
    jwks.serve(jwks_of(&["rsa2"]));
    let deadline = Instant::now() + POLL_DEADLINE;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        match app.try_connect_ws(Some(&token_by("rsa1", "alice"))).await {
            Err(r) if r.status == 401 => {
                r.assert(401, "UNKNOWN_KEY");
                break;
            }
            _ => assert!(Instant::now() < deadline, "rsa1 still accepted after its removal"),
        }
    }
    assert_eq!(app.connect_ws(&token_by("rsa2", "carol")).await.user_id, "carol");
    // Confusion against a JWKS key too.
    let confused =
        hs256(Some("rsa2"), fixture("rsa2.pub.pem").as_bytes(), &json!({"sub": "m", "exp": now_secs() + 60}));
    assert_eq!(refused(&app, &confused).await, (401, "INVALID_ALGORITHM".into()));
}

#[tokio::test]
async fn made_up_kids_do_not_make_ara_hammer_the_key_server() {
    let pki = Pki::new();
    let jwks = JwksServer::start(&pki, jwks_of(&["rsa1"])).await;
    let app = spawn_app(&[("JWT_JWKS_URL", &jwks.url), ("JWT_JWKS_CA_CERT", path_str(&pki.ca))]).await;
    for i in 0..20 {
        let token = hs256(Some(&format!("made-up-{i}")), b"x", &json!({"sub": "m", "exp": now_secs() + 60}));
        assert_eq!(refused(&app, &token).await, (401, "UNKNOWN_KEY".into()));
    }
    // One fetch at start, at most one more within JWT_JWKS_MIN_REFRESH_SECONDS (10 s by default).
    assert!(jwks.hits() <= 2, "{} fetches for 20 unknown kids", jwks.hits());
    assert_eq!(app.connect_ws(&token_by("rsa1", "alice")).await.user_id, "alice");
}

#[tokio::test]
async fn a_key_server_that_cannot_be_reached_or_trusted_makes_keys_unavailable() {
    let pki = Pki::new();
    // Signed by a CA Ara was not told to trust.
    let jwks = JwksServer::start(&pki, jwks_of(&["rsa1"])).await;
    let app = spawn_app(&[
        ("JWT_JWKS_URL", &jwks.url),
        ("JWT_JWKS_CA_CERT", path_str(&pki.other_ca)),
        ("JWT_JWKS_MIN_REFRESH_SECONDS", "0"),
    ])
    .await;
    assert_eq!(refused(&app, &token_by("rsa1", "alice")).await, (503, "KEYS_UNAVAILABLE".into()));
    assert_eq!(jwks.hits(), 0, "the TLS handshake failed before any request");
    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("https://127.0.0.1:{closed}/jwks.json");
    let app = spawn_app(&[("JWT_JWKS_URL", &url), ("JWT_JWKS_TIMEOUT_MS", "500")]).await;
    assert_eq!(refused(&app, &token_by("rsa1", "alice")).await, (503, "KEYS_UNAVAILABLE".into()));
}

#[tokio::test]
async fn jwks_settings_are_checked_at_start() {
    use ara::app::Settings;
    let err = |pairs: &[(&str, &str)]| Settings::from_pairs(pairs.iter().copied()).err().map(|e| e.to_string());
    assert!(err(&[("JWT_JWKS_URL", "http://keys.example.com/jwks")]).unwrap().contains("https://"));
    assert!(err(&[("JWT_JWKS_CA_CERT", "/ca.pem")]).unwrap().contains("JWT_JWKS_URL"));
    assert!(err(&[("JWT_KEYS", "k=HS512:x")]).unwrap().contains("JWT_KEYS"));
    let secret_entry = err(&[("JWT_KEYS", "a-secret-without-an-algorithm")]).unwrap();
    assert!(!secret_entry.contains("a-secret-without"), "the entry is not echoed: {secret_entry}");
    assert!(err(&[("RUN_MODE", "production"), ("API_KEY", "k"), ("JWT_KEYS", "k=HS256:short")])
        .unwrap()
        .contains("32 characters"));
    // Production accepts a key set instead of JWT_SECRET.
    let keys = format!("rsa1=RS256:@{}", fixture_path("rsa1.pub.pem"));
    assert!(err(&[("RUN_MODE", "production"), ("API_KEY", "k"), ("JWT_KEYS", &keys)]).is_none());
    // A PEM that is not the algorithm's stops the build with the setting's name.
    let wrong = format!("rsa1=ES256:@{}", fixture_path("rsa1.pub.pem"));
    let settings = Settings::from_pairs([("JWT_KEYS", wrong.as_str())]).unwrap();
    let e = ara::app::Application::build(settings).await.err().expect("refused").to_string();
    assert!(e.contains("JWT_KEYS") && e.contains("rsa1"), "{e}");
    let missing = Settings::from_pairs([("JWT_JWKS_FILE", "/nonexistent/jwks.json")]).unwrap();
    let e = ara::app::Application::build(missing).await.err().expect("refused").to_string();
    assert!(e.contains("JWT_JWKS_FILE"), "{e}");
}

#[tokio::test]
async fn checktoken_uses_the_key_set_and_names_the_key() {
    use crate::cli_tools::{ara, stdout};
    let keys = format!("rsa1=RS256:@{},ec1=ES256:@{}", fixture_path("rsa1.pub.pem"), fixture_path("ec1.pub.pem"));
    let env = [("JWT_KEYS", keys.as_str())];
    let out = ara(&["checktoken", &token_by("rsa1", "alice")], &env).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("user:     alice") && text.contains("key:      rsa1"), "{text}");
    let out = ara(&["checktoken", &token_by("rsa2", "alice")], &env).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.starts_with("refused: UNKNOWN_KEY") && text.contains("kid rsa2"), "{text}");
    assert!(text.contains("rsa1 RS256") && text.contains("ec1 ES256"), "{text}");
}
