//! Graceful shutdown: connected clients are told (close 1001) and `run_until_stopped` returns.

use std::time::Duration;

use crate::helpers::{spawn_app, RECV_TIMEOUT};

#[tokio::test]
async fn cancelling_the_token_closes_clients_with_1001_and_stops_the_server() {
    let mut app = spawn_app(&[("SERVER_SHUTDOWN_TIMEOUT_SECONDS", "5")]).await;
    let mut alice = app.connect_user("alice", "default").await;
    let mut bob = app.connect_user("bob", "acme").await;
    bob.subscribe(&["news"]).await;
    // Keep-alive HTTP connections must not hold the shutdown either.
    assert_eq!(app.get("/health").await.status, 200);

    app.shutdown_token().cancel();
    for client in [&mut alice, &mut bob] {
        let (close, frames) = client.recv_close(RECV_TIMEOUT).await;
        assert!(frames.is_empty(), "nothing but the close: {frames:?}");
        assert_eq!(close, Some((1001, "server shutting down".to_owned())));
    }

    let result = app.stop(Duration::from_secs(8)).await;
    assert!(result.is_ok(), "run_until_stopped returned {result:?}");
    // The listener is gone.
    let refused = reqwest::Client::new().get(app.url("/health")).send().await;
    assert!(refused.is_err(), "server still answers after stopping: {refused:?}");
}

#[tokio::test]
async fn shutdown_without_connections_returns_promptly() {
    let mut app = spawn_app(&[]).await;
    assert_eq!(app.get("/health").await.status, 200);
    let started = std::time::Instant::now();
    app.stop(Duration::from_secs(12)).await.expect("clean stop");
    assert!(started.elapsed() < Duration::from_secs(12));
}
