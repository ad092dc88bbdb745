//! The HTTP server's own defences, driven by raw TCP clients: header-read, idle keep-alive and
//! request-body timeouts, the per-IP connection cap, and that WebSocket and SSE connections are left
//! alone by all of them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use crate::helpers::{spawn_app, TestApp, POLL_DEADLINE};

/// Slack on top of a configured timeout before a test calls it missed.
const SLACK: Duration = Duration::from_secs(4);

async fn connect_from(addr: SocketAddr, from: Ipv4Addr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(IpAddr::V4(from), 0)).expect("bind a loopback source address");
    socket.connect(addr).await.expect("TCP connect")
}

async fn connect(app: &TestApp) -> TcpStream {
    connect_from(app.addr, Ipv4Addr::LOCALHOST).await
}

/// Reads until the server ends the connection (EOF or reset) and returns what came before; `None`
/// if it is still open after `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// One response read off a keep-alive connection: the status and the body (by Content-Length).
async fn read_response(stream: &mut TcpStream) -> (u16, Value) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + SLACK;
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_string();
            let length = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
                let body = serde_json::from_slice(&got[end + 4..end + 4 + length]).unwrap_or(Value::Null);
                return (status, body);
            }
        }
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .expect("a response in time")
            .expect("the connection is readable");
        assert!(n > 0, "the connection closed before a whole response; got {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
}

async fn get_health(stream: &mut TcpStream) -> u16 {
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: ara\r\n\r\n").await.expect("request written");
    read_response(stream).await.0
}

/// `GET path` on a fresh connection from `from`, answered and closed.
async fn get_from(app: &TestApp, from: Ipv4Addr, path: &str) -> (u16, String) {
    let mut stream = connect_from(app.addr, from).await;
    let request = format!("GET {path} HTTP/1.1\r\nHost: ara\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("request written");
    let raw = read_until_closed(&mut stream, SLACK).await.expect("the server answers and closes");
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_header_read_timeout() {
    let app = spawn_app(&[("SERVER_HEADER_READ_TIMEOUT_SECONDS", "1")]).await;
    let mut silent = connect(&app).await;
    let started = Instant::now();
    let got = read_until_closed(&mut silent, Duration::from_secs(1) + SLACK).await;
    assert_eq!(got, Some(vec![]), "a connection that sends nothing is closed, without an answer");
    assert!(started.elapsed() >= Duration::from_millis(900), "closed before the timeout: {:?}", started.elapsed());
}

#[tokio::test]
async fn half_sent_and_trickled_headers_are_closed_after_the_header_read_timeout() {
    let app = spawn_app(&[("SERVER_HEADER_READ_TIMEOUT_SECONDS", "2")]).await;
    let mut half = connect(&app).await;
    half.write_all(b"GET /health HTTP/1.1\r\nHost: ara\r\n").await.unwrap();

    // A byte every 300 ms: new bytes must not restart the clock.
    let mut trickle = connect(&app).await;
    let started = Instant::now();
    let trickler = tokio::spawn(async move {
        for byte in b"GET /health HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
            if trickle.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        trickle
    });
    let got = read_until_closed(&mut half, Duration::from_secs(2) + SLACK).await;
    assert!(got.is_some_and(|g| !String::from_utf8_lossy(&g).contains(" 200 ")), "half-sent headers are not served");
    let mut trickle = trickler.await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2) + SLACK,
        "the trickled connection was still accepting bytes after {:?}",
        started.elapsed()
    );
    assert!(read_until_closed(&mut trickle, SLACK).await.is_some(), "the trickled connection is closed");
}

#[tokio::test]
async fn a_half_sent_body_gets_408_within_the_request_timeout() {
    let app = spawn_app(&[("SERVER_REQUEST_TIMEOUT_SECONDS", "1"), ("SERVER_HEADER_READ_TIMEOUT_SECONDS", "30")]).await;
    let mut alice = app.connect_user("alice", "default").await;
    let body = json!({"target_user_id": "alice", "event_type": "never", "payload": {}}).to_string();
    let head = format!(
        "POST /api/v1/notifications/send HTTP/1.1\r\nHost: ara\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );

    let mut half = connect(&app).await;
    half.write_all(head.as_bytes()).await.unwrap();
    half.write_all(&body.as_bytes()[..10]).await.unwrap();

    // The rest a byte at a time, slower than the whole body may take.
    let mut trickle = connect(&app).await;
    trickle.write_all(head.as_bytes()).await.unwrap();
    let trickler = tokio::spawn(async move {
        for byte in body.as_bytes().iter().take(body.len() - 1) {
            if trickle.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        trickle
    });

    let (status, reply) = read_response(&mut half).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (408, Some("REQUEST_TIMEOUT")), "half-sent: {reply}");
    assert!(read_until_closed(&mut half, SLACK).await.is_some(), "the connection is closed after the 408");
    let mut trickle = trickler.await.unwrap();
    let (status, reply) = read_response(&mut trickle).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (408, Some("REQUEST_TIMEOUT")), "trickled: {reply}");
    alice.expect_no_message(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout_and_an_active_one_is_not() {
    let app = spawn_app(&[("SERVER_HEADER_READ_TIMEOUT_SECONDS", "1"), ("SERVER_IDLE_TIMEOUT_SECONDS", "3")]).await;
    let mut idle = connect(&app).await;
    assert_eq!(get_health(&mut idle).await, 200);
    let active = connect(&app).await;
    let activity = tokio::spawn(async move {
        let mut active = active;
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            assert_eq!(get_health(&mut active).await, 200, "an active connection keeps being served");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        active
    });

    // Longer than the header-read timeout: waiting for the next request is governed by the idle one.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    assert_eq!(get_health(&mut idle).await, 200, "a keep-alive connection survives the header-read timeout");
    let went_idle = Instant::now();
    let got = read_until_closed(&mut idle, Duration::from_secs(3) + SLACK).await;
    assert_eq!(got, Some(vec![]), "an idle keep-alive connection is closed after the idle timeout");
    assert!(went_idle.elapsed() >= Duration::from_millis(2500), "closed too early: {:?}", went_idle.elapsed());

    let mut active = activity.await.expect("the active connection was served throughout");
    assert_eq!(get_health(&mut active).await, 200);
}

#[tokio::test]
async fn the_per_ip_cap_refuses_the_next_connection_but_not_other_addresses() {
    let app = spawn_app(&[("SERVER_MAX_CONNECTIONS_PER_IP", "2"), ("SERVER_HEADER_READ_TIMEOUT_SECONDS", "30")]).await;
    // An upgraded WebSocket still holds its address's slot.
    let mut ws = app.connect_user("alice", "default").await;
    let silent = connect(&app).await;

    let mut over = connect(&app).await;
    let refused = read_until_closed(&mut over, SLACK).await.expect("the connection over the cap is closed at once");
    let text = String::from_utf8_lossy(&refused).to_string();
    assert!(text.starts_with("HTTP/1.1 429 "), "a minimal 429: {text:?}");
    let body: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap_or_default()).expect("a JSON body");
    assert_eq!(body["error"]["code"], "IP_CONNECTION_LIMIT", "{body}");

    let other = Ipv4Addr::new(127, 0, 0, 2);
    let (status, _) = get_from(&app, other, "/health").await;
    assert_eq!(status, 200, "another address is not affected");
    let (_, metrics) = get_from(&app, other, "/metrics").await;
    assert!(
        metrics.lines().any(|l| l == r#"ara_tcp_connections_refused_total{reason="per_ip_limit"} 1"#),
        "the refusal is counted: {}",
        metrics.lines().filter(|l| l.contains("refused")).collect::<Vec<_>>().join("\n")
    );

    // A closed connection gives its slot back.
    drop(silent);
    let deadline = Instant::now() + POLL_DEADLINE;
    loop {
        let (status, _) = get_from(&app, Ipv4Addr::LOCALHOST, "/health").await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the closed connection's slot never came back (last status {status})");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ws.ping().await;
}

#[tokio::test]
async fn websocket_and_sse_outlive_every_http_timeout() {
    let app = spawn_app(&[
        ("SERVER_HEADER_READ_TIMEOUT_SECONDS", "1"),
        ("SERVER_IDLE_TIMEOUT_SECONDS", "1"),
        ("SERVER_REQUEST_TIMEOUT_SECONDS", "1"),
    ])
    .await;
    let mut ws = app.connect_user("alice", "default").await;
    let mut sse = app.connect_sse("alice", "default", None).await;
    // Two periods of every timeout, with nothing sent either way.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let report = app.send_to_user("alice", "still.here", json!({})).await;
    assert_eq!(report.delivered_to, 2, "both connections are still registered");
    assert_eq!(ws.recv_notification().await["event_type"], "still.here");
    assert_eq!(sse.recv_notification().await.1["event_type"], "still.here");
    ws.ping().await;
}
