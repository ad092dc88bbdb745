use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::routing::get;
use axum::{Extension, Router};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::ports::{LatencyRecorder, TransportMetrics};

/// The serve loop's reports go nowhere here; what it reports is checked end to end (`/metrics`).
struct Unreported;

impl TransportMetrics for Unreported {
    fn client_frame(&self, _: &'static str) {}
    fn ack(&self, _: &'static str, _: Option<Duration>) {}
    fn batch(&self, _: usize) {}
    fn rate_limit(&self, _: &'static str, _: &'static str) {}
    fn latency_recorder(&self) -> Box<dyn LatencyRecorder> {
        struct Nothing;
        impl LatencyRecorder for Nothing {
            fn record_written(&mut self, _: &[i64]) {}
            fn flush(&mut self) {}
        }
        Box::new(Nothing)
    }
    fn connection_refused(&self, _: &'static str) {}
    fn connection_timed_out(&self, _: &'static str) {}
}

async fn start(router: Router, max_connections_per_ip: usize) -> (std::net::SocketAddr, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let config = ServeConfig {
        timeouts: Timeouts { header_read: Duration::from_secs(30), idle: Duration::from_secs(30) },
        max_connections_per_ip,
        uncapped: vec![],
        tls: None,
    };
    tokio::spawn(serve(listener, router, config, Arc::new(Unreported), stop.clone().cancelled_owned()));
    (addr, stop)
}

/// Reads until EOF or reset; `None` if the connection is still open after `limit`.
async fn read_to_end(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// A stream that sends one chunk and then waits forever, as a stalled SSE client's stream would.
async fn stalled_stream(Extension(abort): Extension<ConnectionAbort>) -> Body {
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        abort.abort();
    });
    let first = futures_util::stream::once(async { Ok::<_, Infallible>(Bytes::from_static(b"first")) });
    Body::from_stream(futures_util::StreamExt::chain(first, futures_util::stream::pending()))
}

#[tokio::test]
async fn connection_abort_drops_the_connection_of_a_stream_that_never_ends() {
    let router = Router::new().route("/stream", get(stalled_stream)).route("/", get(|| async { "ok" }));
    let (addr, _stop) = start(router, 0).await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    let got = read_to_end(&mut client, Duration::from_secs(5)).await.expect("the aborted connection ends");
    assert!(got.starts_with("HTTP/1.1 200 OK"), "{got:?}");
    assert!(got.contains("first"), "what was sent before the abort arrived: {got:?}");
    assert!(!got.ends_with("0\r\n\r\n"), "the stream was cut, not finished: {got:?}");

    // Other connections are untouched.
    let mut other = TcpStream::connect(addr).await.unwrap();
    other.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").await.unwrap();
    let got = read_to_end(&mut other, Duration::from_secs(5)).await.expect("answered");
    assert!(got.starts_with("HTTP/1.1 200 OK") && got.ends_with("ok"), "{got:?}");
}

#[tokio::test]
async fn over_the_cap_a_client_reads_a_429_and_the_end() {
    let (addr, _stop) = start(Router::new(), 1).await;
    let _held = TcpStream::connect(addr).await.unwrap();
    let mut over = TcpStream::connect(addr).await.unwrap();
    let got = read_to_end(&mut over, Duration::from_secs(5)).await.expect("closed at once");
    let (head, body) = got.split_once("\r\n\r\n").expect("a whole response");
    assert!(head.starts_with("HTTP/1.1 429 "), "{got:?}");
    assert!(head.contains(&format!("content-length: {}", body.len())), "{got:?}");
    let body: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
    assert_eq!(body["error"]["code"], "IP_CONNECTION_LIMIT");
}

#[tokio::test]
async fn stopping_closes_the_listener_and_returns() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = ServeConfig {
        timeouts: Timeouts { header_read: Duration::from_secs(30), idle: Duration::from_secs(30) },
        max_connections_per_ip: 0,
        uncapped: vec![],
        tls: None,
    };
    let stop = CancellationToken::new();
    let served =
        tokio::spawn(serve(listener, Router::new(), config, Arc::new(Unreported), stop.clone().cancelled_owned()));
    // An idle keep-alive connection does not hold the shutdown.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 256];
    assert!(idle.read(&mut buf).await.unwrap() > 0);
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), served).await.expect("serve returns").unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed");
}

#[test]
fn the_log_throttle_lets_one_line_through_per_period_and_counts_the_rest() {
    let start = Instant::now();
    let mut throttle = LogThrottle::default();
    assert_eq!(throttle.tick(start), Some(0));
    assert_eq!((throttle.tick(start + LOG_EVERY / 2), throttle.tick(start + LOG_EVERY / 2)), (None, None));
    assert_eq!(throttle.tick(start + LOG_EVERY), Some(2));
    assert_eq!(throttle.tick(start + LOG_EVERY), None);
}
