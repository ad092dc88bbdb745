//! Starts the real server in-process on a random port and talks to it over real HTTP and WebSocket.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ara::adapters::auth::{JwtAuth, JwtSettings};
use ara::app::{logging, Application, ConfigError, Settings};
use futures_util::{SinkExt, StreamExt};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// How long a client waits for a frame it expects before failing the test.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(5);
/// How long polling for a state change may take before failing the test.
pub const POLL_DEADLINE: Duration = Duration::from_secs(10);

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub api_key: Option<String>,
    pub jwt_secret: String,
    jwt: JwtAuth,
    shutdown: CancellationToken,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

/// Builds and starts the application with `SERVER_HOST=127.0.0.1`, `SERVER_PORT=0` plus `pairs`.
/// Rate limiting is off unless `pairs` sets `RATELIMIT_ENABLED=true`: every test client is 127.0.0.1.
pub async fn spawn_app(pairs: &[(&str, &str)]) -> TestApp {
    spawn_app_from(test_settings(pairs)).await
}

/// Builds and starts the application with exactly `settings`.
pub async fn spawn_app_from(settings: Settings) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        logging::init(&settings.log);
    }
    let jwt_secret = settings.jwt_secret().to_owned();
    let jwt = JwtAuth::new(JwtSettings {
        secret: jwt_secret.clone(),
        issuer: settings.jwt.issuer.clone(),
        audience: settings.jwt.audience.clone(),
    });
    let api_key = settings.api_key().map(str::to_owned);
    let app = Application::build(settings).await.expect("the application builds");
    let addr = app.local_addr();
    let shutdown = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped());
    TestApp { addr, client: reqwest::Client::new(), api_key, jwt_secret, jwt, shutdown, server: Some(server) }
}

fn test_settings(pairs: &[(&str, &str)]) -> Settings {
    let base = [("SERVER_HOST", "127.0.0.1"), ("SERVER_PORT", "0")];
    let with =
        |extra: &[(&'static str, &'static str)]| Settings::from_pairs(base.iter().chain(extra).chain(pairs).copied());
    match with(&[("RATELIMIT_ENABLED", "false")]) {
        Ok(settings) => settings,
        // A build without the rate limiter does not know the setting.
        Err(ConfigError::Invalid { setting, .. }) if setting == "RATELIMIT_ENABLED" => {
            with(&[]).expect("test settings are valid")
        }
        Err(e) => panic!("test settings are invalid: {e}"),
    }
}

/// An HTTP response with its body parsed as JSON (`Null` when it is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    async fn from(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("response body is readable");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self { status, headers, body, text }
    }

    /// `error.code` of an error body.
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error body: {} {}", self.status, self.text))
    }

    /// Asserts an error response with this status and code, in the documented shape.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        assert_eq!(self.error_code(), code, "unexpected error code; body: {}", self.text);
        let message = self.body["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "error message must not be empty: {}", self.text);
    }
}

/// The body of a successful send.
#[derive(Debug, serde::Deserialize)]
pub struct SendReply {
    pub success: bool,
    pub notification_id: String,
    pub delivered_to: usize,
    pub offline_users: usize,
    pub queued: usize,
}

/// Why a WebSocket upgrade was refused.
#[derive(Debug)]
pub struct Refusal {
    pub status: u16,
    pub body: Value,
}

impl Refusal {
    pub fn assert(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.body["error"]["code"].as_str()),
            (status, Some(code)),
            "refusal body: {}",
            self.body
        );
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// A valid token for `user` in `tenant`, signed like the server expects (secret, issuer, audience).
    pub fn token(&self, user: &str, tenant: &str) -> String {
        self.jwt.mint(user, Some(tenant), 300).expect("token signs")
    }

    /// Signs arbitrary claims with the server's secret (HS256).
    pub fn sign(&self, claims: &Value) -> String {
        sign(claims, &self.jwt_secret, jsonwebtoken::Algorithm::HS256)
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.get_with_key(path, self.api_key.as_deref()).await
    }

    pub async fn get_with_key(&self, path: &str, api_key: Option<&str>) -> Reply {
        let mut request = self.client.get(self.url(path));
        if let Some(key) = api_key {
            request = request.header("x-api-key", key);
        }
        Reply::from(request.send().await.expect("GET reaches the server")).await
    }

    /// POSTs `body` as JSON, with the API key when the app has one.
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.post_with_key(path, body, self.api_key.as_deref()).await
    }

    pub async fn post_with_key(&self, path: &str, body: &Value, api_key: Option<&str>) -> Reply {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(key) = api_key {
            request = request.header("x-api-key", key);
        }
        Reply::from(request.send().await.expect("POST reaches the server")).await
    }

    /// Any request, with `headers` (e.g. `x-api-key`, `x-tenant-id`) and a JSON body when given.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        Reply::from(request.send().await.expect("the request reaches the server")).await
    }

    /// POSTs raw bytes with the given content type (or none).
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>, content_type: Option<&str>) -> Reply {
        let mut request = self.client.post(self.url(path)).body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        if let Some(key) = &self.api_key {
            request = request.header("x-api-key", key);
        }
        Reply::from(request.send().await.expect("POST reaches the server")).await
    }

    /// POSTs a send request that must succeed, and returns its report.
    pub async fn send(&self, path: &str, body: &Value) -> SendReply {
        let reply = self.post(path, body).await;
        assert_eq!(reply.status, StatusCode::OK, "send to {path} failed: {}", reply.text);
        let report: SendReply = serde_json::from_value(reply.body).expect("send response has the documented shape");
        assert!(report.success);
        report
    }

    pub async fn send_to_user(&self, user: &str, event_type: &str, payload: Value) -> SendReply {
        self.send(
            "/api/v1/notifications/send",
            &json!({"target_user_id": user, "event_type": event_type, "payload": payload}),
        )
        .await
    }

    pub async fn broadcast(&self, event_type: &str, payload: Value) -> SendReply {
        self.send("/api/v1/notifications/broadcast", &json!({"event_type": event_type, "payload": payload})).await
    }

    pub async fn send_to_channel(&self, channel: &str, event_type: &str, payload: Value) -> SendReply {
        self.send(
            "/api/v1/notifications/channel",
            &json!({"channel": channel, "event_type": event_type, "payload": payload}),
        )
        .await
    }

    pub async fn stats(&self) -> Value {
        let reply = self.get("/stats").await;
        assert_eq!(reply.status, StatusCode::OK, "GET /stats failed: {}", reply.text);
        reply.body
    }

    /// Polls `/stats` until `field` satisfies `pred`; fails after [`POLL_DEADLINE`].
    pub async fn wait_for_stat(&self, field: &str, what: &str, pred: impl Fn(u64) -> bool) -> Value {
        let deadline = Instant::now() + POLL_DEADLINE;
        loop {
            let stats = self.stats().await;
            let value = stats[field].as_u64().unwrap_or_else(|| panic!("/stats has no number {field}: {stats}"));
            if pred(value) {
                return stats;
            }
            assert!(Instant::now() < deadline, "/stats {field} never became {what}; last: {stats}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Opens a WebSocket with `?token=`, which must succeed.
    pub async fn connect_ws(&self, token: &str) -> WsClient {
        let request = format!("{}?token={token}", self.ws_url()).into_client_request().expect("valid ws url");
        self.connect_request(request).await.unwrap_or_else(|r| panic!("websocket refused: {} {}", r.status, r.body))
    }

    /// Connects `user` of `tenant` with a fresh token.
    pub async fn connect_user(&self, user: &str, tenant: &str) -> WsClient {
        let ws = self.connect_ws(&self.token(user, tenant)).await;
        assert_eq!((ws.user_id.as_str(), ws.tenant_id.as_str()), (user, tenant));
        ws
    }

    /// Opens a WebSocket for `user` over a socket with a small receive buffer, so that a client that
    /// stops reading blocks the server's writes soon.
    pub async fn connect_user_small_buffer(&self, user: &str, tenant: &str) -> WsClient {
        let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF can be set");
        let stream = socket.connect(self.addr).await.expect("the server accepts");
        let request = format!("{}?token={}", self.ws_url(), self.token(user, tenant))
            .into_client_request()
            .expect("valid ws url");
        let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
            .await
            .expect("the WebSocket upgrade succeeds");
        WsClient::greeted(ws).await
    }

    /// Tries a WebSocket upgrade with `?token=` (none when `None`).
    pub async fn try_connect_ws(&self, token: Option<&str>) -> Result<WsClient, Refusal> {
        let url = match token {
            Some(t) => format!("{}?token={t}", self.ws_url()),
            None => self.ws_url(),
        };
        self.connect_request(url.into_client_request().expect("valid ws url")).await
    }

    /// Tries a WebSocket upgrade with `Authorization: Bearer`.
    pub async fn try_connect_ws_bearer(&self, token: &str) -> Result<WsClient, Refusal> {
        let mut request = self.ws_url().into_client_request().expect("valid ws url");
        let value = HeaderValue::from_str(&format!("Bearer {token}")).expect("header value");
        request.headers_mut().insert("authorization", value);
        self.connect_request(request).await
    }

    /// Tries a WebSocket upgrade with `?token=` as a browser on the page `origin` would.
    pub async fn try_connect_ws_from(&self, token: &str, origin: &str) -> Result<WsClient, Refusal> {
        let mut request = format!("{}?token={token}", self.ws_url()).into_client_request().expect("valid ws url");
        request.headers_mut().insert("origin", HeaderValue::from_str(origin).expect("header value"));
        self.connect_request(request).await
    }

    async fn connect_request(&self, request: Request) -> Result<WsClient, Refusal> {
        let ws = match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => ws,
            Err(tungstenite::Error::Http(response)) => {
                let body = response.body().as_deref().and_then(|b| serde_json::from_slice(b).ok());
                return Err(Refusal { status: response.status().as_u16(), body: body.unwrap_or(Value::Null) });
            }
            Err(e) => panic!("websocket connect failed: {e}"),
        };
        Ok(WsClient::greeted(ws).await)
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Cancels the shutdown token and waits for `run_until_stopped` to return (at most `limit`).
    pub async fn stop(&mut self, limit: Duration) -> std::io::Result<()> {
        self.shutdown.cancel();
        let server = self.server.take().expect("server still running");
        tokio::time::timeout(limit, server)
            .await
            .unwrap_or_else(|_| panic!("run_until_stopped did not return within {limit:?}"))
            .expect("server task did not panic")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Signs `claims` with `secret` using `alg` (an HMAC algorithm).
pub fn sign(claims: &Value, secret: &str, alg: jsonwebtoken::Algorithm) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("token signs")
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_secs()
}

/// What a client read next.
#[derive(Debug)]
pub enum Incoming {
    Json(Value),
    /// A close frame: code and reason.
    Close(Option<(u16, String)>),
    /// The stream ended without a close frame (or with a transport error).
    Ended(Option<String>),
}

pub struct WsClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub connection_id: u64,
    pub user_id: String,
    pub tenant_id: String,
    pings: usize,
}

impl WsClient {
    /// Reads the `connected` frame every connection starts with.
    async fn greeted(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Self {
        let mut client = WsClient { ws, connection_id: 0, user_id: String::new(), tenant_id: String::new(), pings: 0 };
        let hello = client.recv_json().await;
        assert_eq!(hello["type"], "connected", "the first frame must be `connected`: {hello}");
        client.connection_id = hello["connection_id"].as_u64().expect("connection_id is a number");
        client.user_id = hello["user_id"].as_str().expect("user_id").to_owned();
        client.tenant_id = hello["tenant_id"].as_str().expect("tenant_id").to_owned();
        client
    }

    /// Server pings read so far.
    pub fn pings_seen(&self) -> usize {
        self.pings
    }

    pub async fn send_json(&mut self, value: &Value) {
        self.send_text(&value.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("client frame sent");
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.ws.send(Message::binary(bytes)).await.expect("client frame sent");
    }

    /// Sends a text frame whose payload is `bytes` as they are, valid UTF-8 or not.
    pub async fn send_raw_text(&mut self, bytes: Vec<u8>) {
        use tungstenite::protocol::frame::coding::{Data, OpCode};
        let frame = tungstenite::protocol::frame::Frame::message(bytes, OpCode::Data(Data::Text), true);
        self.ws.send(Message::Frame(frame)).await.expect("client frame sent");
    }

    /// The next data frame, close or end within `limit`; `None` on timeout. Pings are answered (by
    /// tungstenite, on the next read) and skipped.
    pub async fn next_within(&mut self, limit: Duration) -> Option<Incoming> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next()).await.ok()?;
            return Some(match next {
                None => Incoming::Ended(None),
                Some(Err(e)) => Incoming::Ended(Some(e.to_string())),
                Some(Ok(Message::Text(text))) => Incoming::Json(
                    serde_json::from_str(text.as_str())
                        .unwrap_or_else(|e| panic!("server sent non-JSON {text:?}: {e}")),
                ),
                Some(Ok(Message::Close(frame))) => {
                    Incoming::Close(frame.map(|f| (u16::from(f.code), f.reason.to_string())))
                }
                Some(Ok(Message::Ping(_))) => {
                    self.pings += 1;
                    continue;
                }
                Some(Ok(Message::Pong(_))) => continue,
                Some(Ok(other)) => panic!("server sent an unexpected frame: {other:?}"),
            });
        }
    }

    /// The next JSON frame; fails the test on timeout, close or end.
    pub async fn recv_json(&mut self) -> Value {
        match self.next_within(RECV_TIMEOUT).await {
            Some(Incoming::Json(v)) => v,
            None => panic!("no frame within {RECV_TIMEOUT:?} (connection {})", self.connection_id),
            Some(other) => panic!("expected a JSON frame, got {other:?} (connection {})", self.connection_id),
        }
    }

    /// The next frame, which must have `"type": kind`.
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        let frame = self.recv_json().await;
        assert_eq!(frame["type"], kind, "expected a `{kind}` frame, got {frame}");
        frame
    }

    pub async fn recv_notification(&mut self) -> Value {
        self.recv_type("notification").await
    }

    /// The next frame must be an `error` with this code.
    pub async fn recv_error(&mut self, code: &str) -> Value {
        let frame = self.recv_type("error").await;
        assert_eq!(frame["code"], code, "unexpected error frame: {frame}");
        assert!(frame["message"].as_str().is_some_and(|m| !m.is_empty()), "error frame without message: {frame}");
        frame
    }

    /// Fails if any data frame, close or end arrives within `limit`.
    pub async fn expect_no_message(&mut self, limit: Duration) {
        if let Some(got) = self.next_within(limit).await {
            panic!("expected nothing on connection {}, got {got:?}", self.connection_id);
        }
    }

    /// Reads until a close frame or the end of the stream, skipping data frames; returns the close and
    /// the data frames read before it.
    pub async fn recv_close(&mut self, limit: Duration) -> (Option<(u16, String)>, Vec<Value>) {
        let deadline = Instant::now() + limit;
        let mut frames = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_within(left).await {
                Some(Incoming::Json(v)) => frames.push(v),
                Some(Incoming::Close(close)) => return (close, frames),
                Some(Incoming::Ended(why)) => {
                    panic!("connection ended without a close frame ({why:?}) after {} frames", frames.len())
                }
                None => panic!("no close within {limit:?}; read {} frames", frames.len()),
            }
        }
    }

    /// Subscribes and waits for `subscribed` listing exactly `channels`.
    pub async fn subscribe(&mut self, channels: &[&str]) {
        self.send_json(&json!({"type": "Subscribe", "payload": {"channels": channels}})).await;
        let reply = self.recv_type("subscribed").await;
        assert_eq!(reply["channels"], json!(channels), "subscribed lists the requested channels");
    }

    pub async fn unsubscribe(&mut self, channels: &[&str]) {
        self.send_json(&json!({"type": "Unsubscribe", "payload": {"channels": channels}})).await;
        let reply = self.recv_type("unsubscribed").await;
        assert_eq!(reply["channels"], json!(channels), "unsubscribed lists the requested channels");
    }

    pub async fn ping(&mut self) {
        self.send_json(&json!({"type": "Ping"})).await;
        assert_eq!(self.recv_json().await, json!({"type": "pong"}));
    }

    /// Starts a clean close from the client side.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

impl TestApp {
    /// Polls `/stats` until `pred` holds for the whole body (for nested fields such as
    /// `queue.queued_messages`); fails after [`POLL_DEADLINE`].
    pub async fn wait_for_stats(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + POLL_DEADLINE;
        loop {
            let stats = self.stats().await;
            if pred(&stats) {
                return stats;
            }
            assert!(Instant::now() < deadline, "/stats never showed {what}; last: {stats}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Opens `GET /sse?token=…` for `user` of `tenant`, which must succeed; `channels` is the
    /// comma-separated `channels=` parameter when given.
    pub async fn connect_sse(&self, user: &str, tenant: &str, channels: Option<&str>) -> SseClient {
        let mut query = format!("token={}", self.token(user, tenant));
        if let Some(channels) = channels {
            query.push_str(&format!("&channels={channels}"));
        }
        let sse = self.try_connect_sse(&query, None).await.unwrap_or_else(|r| panic!("SSE refused: {r:?}"));
        assert_eq!((sse.user_id.as_str(), sse.tenant_id.as_str()), (user, tenant));
        sse
    }

    /// Tries `GET /sse?{query}` (with `Last-Event-ID` when given); a refusal is returned as the
    /// HTTP reply. A stream must start with a `connected` event, which is read here.
    pub async fn try_connect_sse(&self, query: &str, last_event_id: Option<&str>) -> Result<SseClient, Reply> {
        let mut request = self.client.get(self.url(&format!("/sse?{query}"))).header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.expect("GET /sse reaches the server");
        if response.status() != StatusCode::OK {
            return Err(Reply::from(response).await);
        }
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(content_type.starts_with("text/event-stream"), "SSE content type: {content_type:?}");
        let mut client = SseClient {
            response,
            buffer: Vec::new(),
            connection_id: 0,
            user_id: String::new(),
            tenant_id: String::new(),
            channels: Value::Null,
            heartbeats: 0,
        };
        let hello = client.recv_any().await;
        assert_eq!(hello.event, "connected", "the first SSE event must be `connected`: {hello:?}");
        let data = hello.json();
        client.connection_id = data["connection_id"].as_u64().expect("connection_id is a number");
        client.user_id = data["user_id"].as_str().expect("user_id").to_owned();
        client.tenant_id = data["tenant_id"].as_str().expect("tenant_id").to_owned();
        client.channels = data["channels"].clone();
        Ok(client)
    }
}

/// One Server-Sent Event: its `event:`, `id:` and (joined) `data:` lines.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("SSE data is not JSON ({e}): {self:?}"))
    }

    fn parse(block: &str) -> Self {
        let mut event = SseEvent { event: "message".into(), id: None, data: String::new() };
        let mut data = Vec::new();
        for line in block.lines() {
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => event.event = value.to_owned(),
                "id" => event.id = Some(value.to_owned()),
                "data" => data.push(value),
                _ => {}
            }
        }
        event.data = data.join("\n");
        event
    }
}

/// An SSE stream read with `Response::chunk`, split into events at blank lines.
pub struct SseClient {
    response: reqwest::Response,
    buffer: Vec<u8>,
    pub connection_id: u64,
    pub user_id: String,
    pub tenant_id: String,
    /// `channels` of the `connected` event.
    pub channels: Value,
    heartbeats: usize,
}

impl SseClient {
    /// `heartbeat` events skipped so far by the readers that skip them.
    pub fn heartbeats_seen(&self) -> usize {
        self.heartbeats
    }

    /// The next event of any kind within `limit`; `None` on timeout. Fails if the stream ends.
    pub async fn next_any_within(&mut self, limit: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let block = String::from_utf8(block).expect("SSE is UTF-8");
                let block = block.trim_matches('\n');
                if block.is_empty() || block.lines().all(|l| l.starts_with(':')) {
                    continue;
                }
                return Some(SseEvent::parse(block));
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await.ok()?;
            match chunk {
                Ok(Some(bytes)) => self.buffer.extend(bytes.iter().filter(|&&b| b != b'\r')),
                Ok(None) => panic!("the SSE stream ended (connection {})", self.connection_id),
                Err(e) => panic!("the SSE stream failed (connection {}): {e}", self.connection_id),
            }
        }
    }

    /// The next event that is not a `heartbeat`, within `limit`.
    pub async fn next_within(&mut self, limit: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = self.next_any_within(left).await?;
            if event.event == "heartbeat" {
                self.heartbeats += 1;
                continue;
            }
            return Some(event);
        }
    }

    /// The next event of any kind; fails after [`RECV_TIMEOUT`].
    pub async fn recv_any(&mut self) -> SseEvent {
        match self.next_any_within(RECV_TIMEOUT).await {
            Some(event) => event,
            None => panic!("no SSE event within {RECV_TIMEOUT:?} (connection {})", self.connection_id),
        }
    }

    /// The next non-heartbeat event, which must be a `notification` whose `id:` is the notification
    /// id; returns the `id:` and the data.
    pub async fn recv_notification(&mut self) -> (String, Value) {
        let event = match self.next_within(RECV_TIMEOUT).await {
            Some(event) => event,
            None => panic!("no SSE notification within {RECV_TIMEOUT:?} (connection {})", self.connection_id),
        };
        assert_eq!(event.event, "notification", "expected a notification event: {event:?}");
        let data = event.json();
        let id = event.id.clone().unwrap_or_else(|| panic!("a notification event carries an id: {event:?}"));
        assert_eq!(data["id"], id.as_str(), "the event id is the notification id: {event:?}");
        assert_eq!(data["type"], "notification", "{event:?}");
        (id, data)
    }

    /// Every non-heartbeat event until the stream ends, which must happen within `limit`.
    pub async fn recv_until_end(&mut self, limit: Duration) -> Vec<SseEvent> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut events = Vec::new();
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let block = String::from_utf8(block).expect("SSE is UTF-8");
                let block = block.trim_matches('\n');
                if !(block.is_empty() || block.lines().all(|l| l.starts_with(':'))) {
                    let event = SseEvent::parse(block);
                    if event.event != "heartbeat" {
                        events.push(event);
                    }
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await;
            match chunk {
                Err(_) => panic!("the SSE stream did not end within {limit:?}; read {events:?}"),
                Ok(Ok(Some(bytes))) => self.buffer.extend(bytes.iter().filter(|&&b| b != b'\r')),
                Ok(Ok(None)) | Ok(Err(_)) => return events,
            }
        }
    }

    /// Fails if any event other than a heartbeat arrives within `limit`.
    pub async fn expect_no_event(&mut self, limit: Duration) {
        if let Some(event) = self.next_within(limit).await {
            panic!("expected no SSE event on connection {}, got {event:?}", self.connection_id);
        }
    }
}
