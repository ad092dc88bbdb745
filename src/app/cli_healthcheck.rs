//! `ara healthcheck`: asks the server on this host whether it is alive, for a container's
//! `HEALTHCHECK` or an exec probe, so that an image needs no curl. It asks `GET /health/live` and,
//! on a server that does not have that route (404), `GET /health`; 2xx means healthy (exit 0),
//! anything else — another status, no answer within the timeout, no connection — exit 1. With
//! `SERVER_TLS_CERT` set it asks over TLS, trusting exactly that certificate.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::config::Settings;

/// The liveness route, and the route older servers answer instead.
pub const LIVE_PATH: &str = "/health/live";
pub const FALLBACK_PATH: &str = "/health";

/// Exit code 0 when healthy, 1 when not, 2 for a `--url` that cannot be used.
pub async fn run(settings: &Settings, url: Option<&str>, timeout: Duration) -> i32 {
    let target = match url {
        Some(url) => match Target::parse(url) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("ara: healthcheck: --url: {e}");
                return 2;
            }
        },
        None => match Target::local(settings) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("unhealthy: {e}");
                return 1;
            }
        },
    };
    let check = async {
        let mut answer = get(&target, &target.path).await;
        if url.is_none() && matches!(answer, Ok((StatusCode::NOT_FOUND, _))) {
            answer = get(&target, FALLBACK_PATH).await;
            return (FALLBACK_PATH, answer);
        }
        (target.path.as_str(), answer)
    };
    let (path, answer) = match tokio::time::timeout(timeout, check).await {
        Ok(done) => done,
        Err(_) => {
            eprintln!("unhealthy: {} did not answer within {}", target.authority, humantime::format_duration(timeout));
            return 1;
        }
    };
    match answer {
        Ok((status, _)) if status.is_success() => {
            println!("healthy: GET {path} on {}: {status}", target.authority);
            0
        }
        Ok((status, body)) => {
            let body: String = body.chars().take(300).collect();
            eprintln!("unhealthy: GET {path} on {}: {status} {body}", target.authority);
            1
        }
        Err(e) => {
            eprintln!("unhealthy: cannot ask {}: {e}", target.authority);
            1
        }
    }
}

struct Target {
    /// `host:port` to connect to and to send as `Host`.
    authority: String,
    path: String,
    /// Over TLS, with this client configuration.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Target {
    /// The server these settings start: a wildcard `SERVER_HOST` is reached on loopback.
    fn local(settings: &Settings) -> Result<Self, String> {
        let host = match settings.server.host.as_str() {
            "0.0.0.0" | "" => "127.0.0.1".to_owned(),
            "::" | "[::]" => "[::1]".to_owned(),
            h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
            h => h.to_owned(),
        };
        let tls = match &settings.server.tls_cert {
            Some(cert) => Some(super::cli_healthcheck_tls::pinned_client(std::path::Path::new(cert))?),
            None => None,
        };
        Ok(Self { authority: format!("{host}:{}", settings.server.port), path: LIVE_PATH.into(), tls })
    }

    fn parse(raw: &str) -> Result<Self, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("{raw}: {e}"))?;
        if url.scheme() != "http" {
            return Err(format!("{raw}: only http:// URLs are supported"));
        }
        let host = url.host_str().ok_or_else(|| format!("{raw}: no host"))?;
        let port = url.port_or_known_default().unwrap_or(80);
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        Ok(Self { authority: format!("{host}:{port}"), path, tls: None })
    }
}

#[derive(Debug, thiserror::Error)]
enum AskError {
    #[error("{0}")]
    Connect(#[source] std::io::Error),
    #[error("{0}")]
    Http(#[source] hyper::Error),
    #[error("{0}")]
    Request(#[source] hyper::http::Error),
    #[error("TLS: {0}")]
    Tls(#[source] std::io::Error),
}

/// One HTTP/1.1 GET on a fresh connection; the status and the body as text.
async fn get(target: &Target, path: &str) -> Result<(StatusCode, String), AskError> {
    // `[::1]:8080` and `host:8080` both resolve as they are.
    let stream = TcpStream::connect(&target.authority).await.map_err(AskError::Connect)?;
    let mut sender = match &target.tls {
        None => {
            let (sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(AskError::Http)?;
            tokio::spawn(connection);
            sender
        }
        Some(config) => {
            // The pinned verifier ignores the name; any valid one will do.
            let name = rustls::pki_types::ServerName::try_from("localhost")
                .map_err(|e| AskError::Tls(std::io::Error::other(e)))?;
            let tls =
                tokio_rustls::TlsConnector::from(config.clone()).connect(name, stream).await.map_err(AskError::Tls)?;
            let (sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(AskError::Http)?;
            tokio::spawn(connection);
            sender
        }
    };
    let request = Request::get(path)
        .header(hyper::header::HOST, &target.authority)
        .header(hyper::header::USER_AGENT, "ara-healthcheck")
        .body(Empty::<Bytes>::new())
        .map_err(AskError::Request)?;
    let response = sender.send_request(request).await.map_err(AskError::Http)?;
    let status = response.status();
    let body = response.into_body().collect().await.map_err(AskError::Http)?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
