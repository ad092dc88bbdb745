//! The `ara` binary's `token` command, and its start-up errors.

use std::process::Output;

use tokio::process::Command;

use crate::helpers::spawn_app;

const SECRET: &str = "cli-test-secret-that-is-long-enough";

/// Runs `ara` with only `PATH` and `env` set, in an empty directory (so no `.env` is picked up).
async fn ara(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ara"));
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).current_dir(dir.path()).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().await.expect("the ara binary runs")
}

#[tokio::test]
async fn token_command_prints_a_token_the_server_accepts() {
    let out = ara(&["token", "--user", "u1", "--tenant", "acme", "--ttl", "10m"], &[("JWT_SECRET", SECRET)]).await;
    assert!(out.status.success(), "ara token failed: {}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).expect("utf-8").trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");

    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<serde_json::Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()),
        &validation,
    )
    .expect("signed with JWT_SECRET")
    .claims;
    assert_eq!((claims["sub"].as_str(), claims["tenant_id"].as_str()), (Some("u1"), Some("acme")));
    let ttl = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(ttl, 600, "--ttl 10m: {claims}");

    let app = spawn_app(&[("JWT_SECRET", SECRET)]).await;
    let client = app.connect_ws(&token).await;
    assert_eq!((client.user_id.as_str(), client.tenant_id.as_str()), ("u1", "acme"));

    // A server with another secret refuses it.
    let other = spawn_app(&[("JWT_SECRET", "some-other-secret-of-enough-length")]).await;
    other.try_connect_ws(Some(&token)).await.err().expect("refused").assert(401, "INVALID_SIGNATURE");
}

#[tokio::test]
async fn token_command_honours_issuer_and_audience() {
    let env = [("JWT_SECRET", SECRET), ("JWT_ISSUER", "ara-auth"), ("JWT_AUDIENCE", "ara-clients")];
    let out = ara(&["token", "--user", "u2"], &env).await;
    assert!(out.status.success(), "ara token failed: {}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).expect("utf-8").trim().to_owned();
    let app = spawn_app(&env).await;
    let client = app.connect_ws(&token).await;
    assert_eq!((client.user_id.as_str(), client.tenant_id.as_str()), ("u2", "default"));
}

#[tokio::test]
async fn numeric_looking_secrets_are_used_verbatim() {
    // Environment values are text: a secret with leading zeros must not be read as the number 12345.
    let out = ara(&["token", "--user", "u1"], &[("JWT_SECRET", "0012345")]).await;
    assert!(out.status.success(), "ara token failed: {}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).expect("utf-8").trim().to_owned();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_aud = false;
    let verify = |secret: &str| {
        jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
            &validation,
        )
        .is_ok()
    };
    assert!(verify("0012345"), "the token must be signed with JWT_SECRET as given, not with {:?}", "12345");
}

#[tokio::test]
async fn invalid_configuration_fails_naming_the_setting() {
    let out = ara(&["token", "--user", "x"], &[("SERVER_PORT", "abc")]).await;
    assert!(!out.status.success(), "must fail with SERVER_PORT=abc");
    assert!(out.stdout.is_empty(), "no token printed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SERVER_PORT"), "the error names SERVER_PORT: {stderr}");
}

#[tokio::test]
async fn invalid_token_arguments_fail() {
    let out = ara(&["token", "--user", "x", "--tenant", "a/b"], &[]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tenant"));
    let out = ara(&["token", "--user", "x", "--ttl", "soon"], &[]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ttl"));
}

#[tokio::test]
async fn a_log_filter_that_crashed_the_filter_parser_is_a_configuration_error() {
    // Found by the `settings` fuzz target: tracing-subscriber's directive parser panicked on it.
    let out = ara(&["token", "--user", "x"], &[("LOG_LEVEL", "   _r~\u{fffd}=weke\u{fffd}")]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
    assert!(!out.status.success() && stderr.contains("LOG_LEVEL"), "the error names LOG_LEVEL: {stderr}");
}
