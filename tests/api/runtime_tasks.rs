//! `ara_runtime_alive_tasks` follows connections: up while clients are connected, back to where it
//! was once they are gone (a connection leaves no task behind).

use std::time::{Duration, Instant};

use crate::helpers::{spawn_app, TestApp};

async fn alive_tasks(app: &TestApp) -> f64 {
    let reply = app.get("/metrics").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let line = reply.text.lines().find(|l| l.starts_with("ara_runtime_alive_tasks ")).expect("the gauge is exported");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("a number")
}

/// Connects `n` clients, checks the gauge rose by at least `n`, closes them, and returns the gauge
/// once it has stopped falling.
async fn connect_and_close(app: &TestApp, n: usize) -> f64 {
    let before = alive_tasks(app).await;
    let mut clients = Vec::new();
    for i in 0..n {
        clients.push(app.connect_user(&format!("tasks-{i}"), "default").await);
    }
    let connected = alive_tasks(app).await;
    assert!(connected >= before + n as f64, "{n} connections, tasks {before} → {connected}");
    for client in clients {
        client.close().await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = connected;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = alive_tasks(app).await;
        if now == last && now < connected {
            return now;
        }
        assert!(Instant::now() < deadline, "tasks still changing 10s after the clients left: {now}");
        last = now;
    }
}

#[tokio::test]
async fn alive_tasks_rise_with_connections_and_return_when_they_close() {
    let app = spawn_app(&[]).await;
    // The first connections start what the server starts once (this test shares its runtime, too).
    let baseline = connect_and_close(&app, 5).await;
    assert!(baseline > 0.0, "the server runs tasks of its own: {baseline}");
    for round in 1..=2 {
        let after = connect_and_close(&app, 20).await;
        assert!(after <= baseline, "round {round}: 20 connections left tasks behind: {baseline} → {after}");
    }
}
