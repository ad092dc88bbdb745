//! `ara-load` against an in-process server: the `ws` and `fanout` scenarios in smoke mode pass their
//! thresholds and their JSON report shows every connection made and nothing lost or duplicated; a
//! non-loopback target is refused before any traffic.

use std::process::Command;

use ara::app::{Application, Settings};
use serde_json::Value;

async fn spawn_server() -> (String, tokio_util::sync::CancellationToken) {
    let settings = Settings::from_pairs([
        ("SERVER_HOST", "127.0.0.1"),
        ("SERVER_PORT", "0"),
        ("RATELIMIT_ENABLED", "false"),
        ("ACK_ENABLED", "false"),
        ("QUEUE_ENABLED", "false"),
    ])
    .expect("valid settings");
    let app = Application::build(settings).await.expect("server starts");
    let url = format!("http://{}", app.local_addr());
    let token = app.shutdown_token();
    tokio::spawn(app.run_until_stopped());
    (url, token)
}

/// Runs `ara-load` on a blocking thread (the server keeps serving) and parses its JSON report.
async fn load(args: &[&str]) -> (i32, Value) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_ara-load")).args(&args).output().expect("ara-load runs")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("JSON report expected ({e}); stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&output.stderr))
    });
    (output.status.code().unwrap_or(-1), report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_and_fanout_smoke_runs_pass_with_nothing_lost() {
    let (url, shutdown) = spawn_server().await;

    let (code, ws) = load(&["ws", "--profile", "smoke", "--url", &url, "--duration", "2s", "--json", "-q"]).await;
    assert_eq!(code, 0, "ws smoke failed: {ws:#}");
    assert_eq!(ws["connections"]["attempted"], 10);
    assert_eq!(ws["connections"]["succeeded"], 10);
    assert_eq!(ws["connections"]["closed_by_server"], 0);
    assert!(ws["pong_latency"]["count"].as_u64().unwrap() > 0, "clients pinged: {ws:#}");
    assert_eq!(ws["passed"], true);

    let (code, fanout) =
        load(&["fanout", "--profile", "smoke", "--url", &url, "--messages", "20", "--duration", "3s", "--json", "-q"])
            .await;
    assert_eq!(code, 0, "fanout smoke failed: {fanout:#}");
    let d = &fanout["delivery"];
    assert_eq!(fanout["http"]["ok"], 20);
    assert_eq!(d["expected"], 200, "20 sends × 10 subscribers: {d:#}");
    assert_eq!(d["unique"], 200);
    assert_eq!(d["lost"], 0);
    assert_eq!(d["duplicates"], 0);
    assert_eq!(d["server_delivered"], 200);
    assert!(d["latency"]["p99_ms"].as_f64().unwrap() > 0.0);
    shutdown.cancel();
}

#[test]
fn non_loopback_targets_are_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_ara-load"))
        .args(["ws", "--url", "http://192.0.2.1:8080"])
        .output()
        .expect("ara-load runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("loopback"));
}
