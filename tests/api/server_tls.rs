//! The TLS listener: `https://` and `wss://` with a certificate from a CA the test makes, mutual TLS
//! for the HTTP API only, and a certificate replaced on disk taking effect without a restart (a bad
//! file leaving the old one in force).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{spawn_app, TestApp, POLL_DEADLINE, RECV_TIMEOUT};
use crate::tls_support::{path_str, Pki};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path).expect("PEM file").map(|c| c.expect("certificate")).collect()
}

/// A client that trusts `ca`, presenting `identity` (certificate, key) when given.
fn connector(ca: &Path, identity: Option<(&Path, &Path)>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs(ca) {
        roots.add(cert).expect("CA certificate");
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(certs(cert), PrivateKeyDer::from_pem_file(key).expect("key"))
            .expect("client identity"),
    };
    TlsConnector::from(Arc::new(config))
}

async fn handshake(app: &TestApp, connector: &TlsConnector) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(app.addr).await?;
    let name = ServerName::try_from("localhost").expect("server name");
    tokio::time::timeout(RECV_TIMEOUT, connector.connect(name, tcp)).await.expect("the handshake ends in time")
}

/// One HTTP/1.1 request over TLS; the status and the body as JSON. Some servers only refuse a client
/// certificate after the handshake, at the first read: an `Err` covers both.
async fn https(
    app: &TestApp,
    connector: &TlsConnector,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> std::io::Result<(u16, Value)> {
    let mut tls = handshake(app, connector).await?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let key = app.api_key.as_deref().map(|k| format!("x-api-key: {k}\r\n")).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-type: application/json\r\n{key}content-length: {}\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    tokio::time::timeout(RECV_TIMEOUT, tls.read_to_end(&mut response)).await.expect("the response ends in time")?;
    let text = String::from_utf8_lossy(&response);
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let json = text.split_once("\r\n\r\n").and_then(|(_, b)| serde_json::from_str(b).ok()).unwrap_or(Value::Null);
    Ok((status, json))
}

async fn tls_app(pki: &Pki, client_ca: Option<&Path>) -> TestApp {
    let mut pairs = vec![
        ("SERVER_TLS_CERT", path_str(&pki.server_cert)),
        ("SERVER_TLS_KEY", path_str(&pki.server_key)),
        ("API_KEY", "tls-test-key"),
    ];
    if let Some(ca) = client_ca {
        pairs.push(("SERVER_TLS_CLIENT_CA", path_str(ca)));
    }
    spawn_app(&pairs).await
}

#[tokio::test]
async fn serves_https_and_wss_with_the_configured_certificate() {
    let pki = Pki::new();
    let app = tls_app(&pki, None).await;
    let client = connector(&pki.ca, None);

    let (status, health) = https(&app, &client, "GET", "/health/live", None).await.expect("https works");
    assert_eq!(status, 200, "{health}");

    let tls = handshake(&app, &client).await.expect("TLS handshake");
    let url = format!("wss://localhost/ws?token={}", app.token("alice", "default"));
    let (mut ws, _) = tokio_tungstenite::client_async(url, tls).await.expect("wss upgrade");
    let hello = next_json(&mut ws).await;
    assert_eq!(hello["type"], "connected", "{hello}");

    let body = json!({"target_user_id": "alice", "event_type": "over-tls", "payload": {"n": 1}});
    let (status, report) =
        https(&app, &client, "POST", "/api/v1/notifications/send", Some(&body)).await.expect("send over https");
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["delivered_to"], 1, "{report}");
    let notification = next_json(&mut ws).await;
    assert_eq!(notification["type"], "notification", "{notification}");
    assert_eq!(notification["event_type"], "over-tls");

    // Clear text to a TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(app.addr).await.expect("tcp");
    plain.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(RECV_TIMEOUT, plain.read_to_end(&mut answer)).await.expect("closed in time");
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"), "a clear-text request must not be served");
}

#[tokio::test]
async fn a_client_ca_guards_the_api_but_not_websockets_or_probes() {
    let pki = Pki::new();
    let app = tls_app(&pki, Some(&pki.ca)).await;
    let anonymous = connector(&pki.ca, None);
    let with_cert = connector(&pki.ca, Some((&pki.client_cert, &pki.client_key)));
    let body = json!({"target_user_id": "bob", "event_type": "mtls"});

    let (status, error) =
        https(&app, &anonymous, "POST", "/api/v1/notifications/send", Some(&body)).await.expect("answered");
    assert_eq!(status, 403, "{error}");
    assert_eq!(error["error"]["code"], "CLIENT_CERTIFICATE_REQUIRED", "{error}");
    let (status, _) = https(&app, &anonymous, "GET", "/health/ready", None).await.expect("probe answered");
    assert_eq!(status, 200, "probes need no certificate");

    let (status, report) =
        https(&app, &with_cert, "POST", "/api/v1/notifications/send", Some(&body)).await.expect("answered");
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["offline_users"], 1, "{report}");

    // A certificate from another CA does not get in at all.
    let strange = Pki::new();
    let foreign = connector(&pki.ca, Some((&strange.client_cert, &strange.client_key)));
    let refused = https(&app, &foreign, "POST", "/api/v1/notifications/send", Some(&body)).await;
    assert!(refused.is_err() || refused.as_ref().is_ok_and(|(s, _)| *s == 0), "{refused:?}");

    // Browsers have no client certificate; their WebSockets still connect.
    let tls = handshake(&app, &anonymous).await.expect("TLS handshake");
    let url = format!("wss://localhost/ws?token={}", app.token("bob", "default"));
    let (mut ws, _) = tokio_tungstenite::client_async(url, tls).await.expect("wss upgrade without a certificate");
    assert_eq!(next_json(&mut ws).await["type"], "connected");
}

#[tokio::test]
async fn a_replaced_certificate_is_served_without_a_restart_and_a_bad_one_is_ignored() {
    let pki = Pki::new();
    let app = tls_app(&pki, None).await;
    let (new_ca, new_cert, new_key) = issue_for_localhost("Rotated CA");
    std::fs::write(pki.dir.path().join("new-ca.pem"), &new_ca).expect("write CA");
    let new_ca_path = pki.dir.path().join("new-ca.pem");

    // A half-written key first: refused, the old certificate stays in force.
    std::fs::write(&pki.server_key, "-----BEGIN PRIVATE KEY-----\nnot a key\n").expect("write");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (status, _) = https(&app, &connector(&pki.ca, None), "GET", "/health/live", None).await.expect("old cert");
    assert_eq!(status, 200);

    std::fs::write(&pki.server_cert, &new_cert).expect("write cert");
    std::fs::write(&pki.server_key, &new_key).expect("write key");
    let deadline = Instant::now() + POLL_DEADLINE;
    loop {
        if let Ok((200, _)) = https(&app, &connector(&new_ca_path, None), "GET", "/health/live", None).await {
            break;
        }
        assert!(Instant::now() < deadline, "the new certificate was not served within {POLL_DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let old = https(&app, &connector(&pki.ca, None), "GET", "/health/live", None).await;
    assert!(old.is_err(), "the old CA must no longer verify the server: {old:?}");
}

/// A new CA and a `localhost` certificate it signed, as PEM: (CA, certificate, key).
fn issue_for_localhost(name: &str) -> (String, String, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA");
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .signed_by(&key, &ca)
        .expect("certificate");
    (ca.pem(), cert.pem(), key.serialize_pem())
}

async fn next_json<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let frame = tokio::time::timeout(RECV_TIMEOUT, ws.next()).await.expect("a frame in time");
        match frame.expect("stream open").expect("frame") {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON frame"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// A client that opens a TLS port and never starts the handshake holds it no longer than a silent
/// clear-text client: the header-read timeout ends it.
#[tokio::test]
async fn a_silent_client_on_the_tls_port_is_dropped_after_the_header_timeout() {
    let pki = Pki::new();
    let app = spawn_app(&[
        ("SERVER_TLS_CERT", path_str(&pki.server_cert)),
        ("SERVER_TLS_KEY", path_str(&pki.server_key)),
        ("SERVER_HEADER_READ_TIMEOUT_SECONDS", "1"),
    ])
    .await;
    let mut silent = TcpStream::connect(app.addr).await.expect("tcp");
    let started = Instant::now();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut byte)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the server closes the socket: {read:?}");
    assert!(started.elapsed() >= Duration::from_millis(900), "not before the timeout: {:?}", started.elapsed());
    // The port still serves others.
    let (status, _) = https(&app, &connector(&pki.ca, None), "GET", "/health/live", None).await.expect("https");
    assert_eq!(status, 200);
}
