//! Hot reload from the config file: connection limits, the API key and the allowed origins change
//! without a restart; a file that does not validate is refused and the settings in force stay; a
//! setting that needs a restart keeps its old value.

use std::path::Path;
use std::time::{Duration, Instant};

use ara::app::Settings;
use serde_json::json;

use crate::helpers::{spawn_app_from, TestApp, POLL_DEADLINE};

fn write_config(path: &Path, api_key: &str, per_user: usize, origin: &str, port: u16) {
    let toml = format!(
        "api_key = \"{api_key}\"\n\n[server]\nhost = \"127.0.0.1\"\nport = {port}\n\n[ratelimit]\nenabled = false\n\n\
         [websocket]\nmax_connections_per_user = {per_user}\n\n[cors]\norigins = \"{origin}\"\n"
    );
    // Written aside and renamed, as editors and Kubernetes do, so no reader sees half a file.
    let aside = path.with_extension("tmp");
    std::fs::write(&aside, toml).expect("write config");
    std::fs::rename(&aside, path).expect("replace config");
}

async fn generation(app: &TestApp) -> u64 {
    app.get("/health").await.body["config_generation"].as_u64().expect("config_generation in /health")
}

async fn wait_for_generation(app: &TestApp, wanted: u64) {
    let deadline = Instant::now() + POLL_DEADLINE;
    while generation(app).await != wanted {
        assert!(Instant::now() < deadline, "config generation {wanted} not reached within {POLL_DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_changed_config_file_applies_without_a_restart_and_a_bad_one_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("ara.toml");
    write_config(&file, "first-key", 1, "https://one.example", 0);
    let settings = Settings::load(Some(&file)).expect("the file is valid");
    let app = spawn_app_from(settings).await;
    assert_eq!(generation(&app).await, 1);
    let body = json!({"target_user_id": "alice", "event_type": "reload"});
    let send = "/api/v1/notifications/send";

    let _first = app.connect_user("alice", "default").await;
    let token = app.token("alice", "default");
    app.try_connect_ws(Some(&token)).await.err().expect("one per user").assert(429, "USER_CONNECTION_LIMIT");

    write_config(&file, "second-key", 2, "https://two.example", 0);
    wait_for_generation(&app, 2).await;
    app.post_with_key(send, &body, Some("first-key")).await.assert_error(401, "INVALID_API_KEY");
    let accepted = app.post_with_key(send, &body, Some("second-key")).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    let _second = app.try_connect_ws(Some(&token)).await.expect("the new per-user limit applies");
    app.try_connect_ws_from(&app.token("bob", "default"), "https://one.example")
        .await
        .err()
        .expect("the old origin is no longer allowed")
        .assert(403, "ORIGIN_NOT_ALLOWED");
    app.try_connect_ws_from(&app.token("bob", "default"), "https://two.example").await.expect("the new origin");

    // Not valid (a limit of 0): refused as a whole, everything stays.
    write_config(&file, "third-key", 0, "https://three.example", 0);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(generation(&app).await, 2, "a refused file is not a new generation");
    let still = app.post_with_key(send, &body, Some("second-key")).await;
    assert_eq!(still.status, 200, "the key in force stays: {}", still.text);

    // The listen port cannot change live: the rest applies, the server stays where it is.
    write_config(&file, "fourth-key", 2, "https://two.example", 1);
    wait_for_generation(&app, 3).await;
    let moved = app.post_with_key(send, &body, Some("fourth-key")).await;
    assert_eq!(moved.status, 200, "{}", moved.text);
}

/// `kill -HUP` rereads the settings (here unchanged: a new generation, nothing else) and does not
/// stop the server, whose default reaction to SIGHUP would be to die.
#[tokio::test]
async fn sighup_reloads_the_running_binary() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let file = dir.path().join("ara.toml");
    write_config(&file, "hup-key", 3, "https://one.example", port);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ara"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir.path())
        .args(["serve", "--config", file.to_str().expect("UTF-8 path")])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("ara starts");
    let client = reqwest::Client::new();
    let health = format!("http://127.0.0.1:{port}/health");
    let generation = || async {
        let reply = client.get(&health).send().await.ok()?;
        reply.json::<serde_json::Value>().await.ok()?["config_generation"].as_u64()
    };
    let deadline = Instant::now() + POLL_DEADLINE;
    while generation().await != Some(1) {
        assert!(Instant::now() < deadline, "ara did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = child.id().expect("running") as i32;
    unsafe { libc::kill(pid, libc::SIGHUP) };
    while generation().await != Some(2) {
        assert!(child.try_wait().expect("status").is_none(), "SIGHUP must not stop ara");
        assert!(Instant::now() < deadline, "SIGHUP did not reload within {POLL_DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
}

fn write_tenant_config(path: &Path, per_user: usize) {
    let toml = format!(
        "[server]\nhost = \"127.0.0.1\"\nport = 0\n\n[ratelimit]\nenabled = false\n\n\
         [admin]\napi_key = \"reload-admin-key\"\n\n[tenant]\nenabled = true\ndefault_max_connections_per_user = {per_user}\n"
    );
    let aside = path.with_extension("tmp");
    std::fs::write(&aside, toml).expect("write config");
    std::fs::rename(&aside, path).expect("replace config");
}

#[tokio::test]
async fn tenant_default_limits_reload_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("ara.toml");
    write_tenant_config(&file, 1);
    let app = spawn_app_from(Settings::load(Some(&file)).expect("the file is valid")).await;
    let _first = app.connect_user("carol", "default").await;
    let token = app.token("carol", "default");
    let refused = app.try_connect_ws(Some(&token)).await.err().expect("one per user in the tenant");
    assert_eq!(refused.status, 429, "{:?}", refused.body);

    write_tenant_config(&file, 2);
    wait_for_generation(&app, 2).await;
    app.try_connect_ws(Some(&token)).await.expect("the tenant's new per-user limit applies");
}
