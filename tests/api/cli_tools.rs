//! The operator's subcommands of the `ara` binary: `checktoken`, `config` and `healthcheck`.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::helpers::{now_secs, sign, spawn_app};

const SECRET: &str = "cli-tools-secret-that-is-long-enough";

/// Runs `ara` with only `PATH` and `env` set, in `dir` (so only a `.env` put there is picked up).
pub(crate) async fn ara_in(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ara"));
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).current_dir(dir).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("the ara binary runs");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).await.expect("write stdin");
    }
    drop(input);
    tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("ara finishes within 20 s")
        .expect("ara runs")
}

pub(crate) async fn ara(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    ara_in(dir.path(), args, env, None).await
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn token(claims: Value) -> String {
    sign(&claims, SECRET, jsonwebtoken::Algorithm::HS256)
}

#[tokio::test]
async fn checktoken_says_who_which_tenant_until_when_or_why_not() {
    let env = [("JWT_SECRET", SECRET)];
    let now = now_secs();
    let good = token(json!({"sub": "u1", "tenant_id": "acme", "exp": now + 3600, "iat": now}));
    let out = ara(&["checktoken", &good], &env).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.starts_with("accepted"), "{text}");
    assert!(text.contains("user:     u1") && text.contains("tenant:   acme"), "{text}");
    let expires = chrono::DateTime::from_timestamp((now + 3600) as i64, 0).unwrap().to_rfc3339();
    assert!(text.contains(&format!("expires:  {expires} (in ")), "{text}");

    // A pasted `Authorization` value, from standard input.
    let dir = tempfile::tempdir().unwrap();
    let piped = ara_in(dir.path(), &["checktoken", "-"], &env, Some(&format!("Bearer {good}\n"))).await;
    assert_eq!(piped.status.code(), Some(0), "{}", stdout(&piped));

    let refusals = [
        (token(json!({"sub": "u1", "exp": now - 600})), &env[..], "refused: TOKEN_EXPIRED", "ago)"),
        (
            sign(&json!({"sub": "u1", "exp": now + 60}), "another-secret", jsonwebtoken::Algorithm::HS256),
            &env[..],
            "refused: INVALID_SIGNATURE",
            "not signed with this JWT_SECRET",
        ),
        (
            token(json!({"sub": "u1", "exp": now + 60, "iss": "someone-else"})),
            &[("JWT_SECRET", SECRET), ("JWT_ISSUER", "ara-auth")][..],
            "refused: INVALID_ISSUER",
            "JWT_ISSUER is ara-auth, the token's iss is someone-else",
        ),
        (
            token(json!({"sub": "u1", "exp": now + 60, "aud": ["x", "y"]})),
            &[("JWT_SECRET", SECRET), ("JWT_AUDIENCE", "ara-clients")][..],
            "refused: INVALID_AUDIENCE",
            "JWT_AUDIENCE is ara-clients",
        ),
        ("not-a-token".to_owned(), &env[..], "refused: INVALID_TOKEN", ""),
    ];
    for (token, env, verdict, detail) in refusals {
        let out = ara(&["checktoken", &token], env).await;
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "refused means exit 1: {text}");
        assert!(text.starts_with(verdict) && text.contains(detail), "want {verdict} / {detail}: {text}");
    }
    let out = ara(&["checktoken", "  "], &env).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[tokio::test]
async fn config_shows_effective_values_with_their_sources_and_masks_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ara.toml"), "[server]\nport = 9191\n[websocket]\nmax_connections = 77\n").unwrap();
    std::fs::write(dir.path().join(".env"), "LOG_LEVEL=debug\n").unwrap();
    let secrets = ["jwt-secret-value-of-enough-length-123", "the-api-key-456", "pg-password-789", "redis-pass-000"];
    let db = format!("postgres://ara:{}@db.internal:5432/ara?sslmode=verify-full", secrets[2]);
    let redis = format!("rediss://:{}@cache.internal:6380", secrets[3]);
    let env = [
        ("JWT_SECRET", secrets[0]),
        ("API_KEY", secrets[1]),
        ("DATABASE_URL", db.as_str()),
        ("REDIS_URL", redis.as_str()),
        // The environment wins over the file.
        ("WEBSOCKET_MAX_CONNECTIONS", "88"),
        ("ARA_CONFIG", "ara.toml"),
    ];
    let out = ara_in(dir.path(), &["config"], &env, None).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    for secret in secrets {
        assert!(!text.contains(secret), "{secret} shows in: {text}");
    }
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key} in {text}"))
            .to_owned()
    };
    let squeeze = |l: String| l.split_whitespace().collect::<Vec<_>>().join(" ");
    let port = squeeze(line("SERVER_PORT"));
    assert!(port.starts_with("SERVER_PORT=9191 # file ") && port.ends_with("/ara.toml"), "{port}");
    assert_eq!(squeeze(line("WEBSOCKET_MAX_CONNECTIONS")), "WEBSOCKET_MAX_CONNECTIONS=88 # env");
    assert_eq!(squeeze(line("LOG_LEVEL")), "LOG_LEVEL=debug # .env");
    assert_eq!(squeeze(line("SERVER_HOST")), "SERVER_HOST=0.0.0.0 # default");
    assert_eq!(squeeze(line("JWT_SECRET")), "JWT_SECRET=*** # env");
    assert_eq!(squeeze(line("API_KEY")), "API_KEY=*** # env");
    assert_eq!(
        squeeze(line("DATABASE_URL")),
        "DATABASE_URL=postgres://ara:***@db.internal:5432/ara?sslmode=verify-full # env"
    );
    assert_eq!(squeeze(line("REDIS_URL")), "REDIS_URL=rediss://:***@cache.internal:6380 # env");
    assert_eq!(squeeze(line("JWT_ISSUER")), "JWT_ISSUER= # default (unset)");

    let out = ara_in(dir.path(), &["config", "--json"], &env, None).await;
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    let entry = |key: &str| list.iter().find(|e| e["setting"] == key).cloned().unwrap_or_default();
    let port = entry("SERVER_PORT");
    assert!(port["file"].as_str().unwrap_or_default().ends_with("/ara.toml"), "{port}");
    let mut port = port.as_object().unwrap().clone();
    port.remove("file");
    assert_eq!(
        Value::Object(port),
        json!({"setting": "SERVER_PORT", "toml_key": "server.port", "value": 9191, "source": "file"})
    );
    assert_eq!(entry("JWT_SECRET")["value"], "***");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secrets[0]));

    // A value that does not load is reported with the source that set it.
    std::fs::write(dir.path().join("ara.toml"), "[server]\nport = \"eighty\"\n").unwrap();
    let out = ara_in(dir.path(), &["config"], &[("ARA_CONFIG", "ara.toml")], None).await;
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("SERVER_PORT") && err.contains("/ara.toml)"), "names the file: {err}");
}

#[tokio::test]
async fn healthcheck_exits_zero_only_for_a_healthy_answer() {
    let app = spawn_app(&[]).await;
    let port = app.addr.port().to_string();
    let out = ara(&["healthcheck"], &[("SERVER_PORT", &port)]).await;
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let said = stdout(&out);
    assert!(said.contains("GET /health/live") || said.contains("GET /health "), "{said}");

    let url = format!("http://127.0.0.1:{port}/no-such-route");
    let out = ara(&["healthcheck", "--url", &url], &[]).await;
    assert_eq!(out.status.code(), Some(1), "a 404 is not healthy: {}", stderr(&out));
    assert!(stderr(&out).contains("404"), "{}", stderr(&out));

    // Nothing listening, and a server that never answers.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let out = ara(&["healthcheck"], &[("SERVER_PORT", &closed_port)]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port().to_string();
    let started = Instant::now();
    let out = ara(&["healthcheck", "--timeout", "1s"], &[("SERVER_PORT", &silent_port)]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("did not answer within 1s"), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(10), "bounded by --timeout: {:?}", started.elapsed());
    drop(silent);

    let out = ara(&["healthcheck", "--url", "https://127.0.0.1:1/health"], &[]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[tokio::test]
async fn healthcheck_speaks_tls_to_a_tls_server_and_trusts_only_its_certificate() {
    use crate::tls_support::{path_str, Pki};
    let pki = Pki::new();
    let (cert, key) = (path_str(&pki.server_cert), path_str(&pki.server_key));
    let app = spawn_app(&[("SERVER_TLS_CERT", cert), ("SERVER_TLS_KEY", key)]).await;
    let port = app.addr.port().to_string();
    let env = [("SERVER_PORT", port.as_str()), ("SERVER_TLS_CERT", cert), ("SERVER_TLS_KEY", key)];
    let out = ara(&["healthcheck"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));

    // Another certificate in the file than the one served: not the server we mean.
    let other = Pki::new();
    let env =
        [("SERVER_PORT", port.as_str()), ("SERVER_TLS_CERT", path_str(&other.server_cert)), ("SERVER_TLS_KEY", key)];
    let out = ara(&["healthcheck"], &env).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("SERVER_TLS_CERT"), "{}", stderr(&out));
}
