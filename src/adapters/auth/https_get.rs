//! One HTTPS GET, for a JWKS: rustls on ring, the system's trust store or a given CA, a deadline on
//! the whole exchange, a size cap on the body, no redirects followed, no proxy.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use thiserror::Error;

/// A JWKS of a few dozen keys is a few tens of KiB; anything far larger is not one.
const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Error)]
pub enum GetError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(#[source] std::io::Error),
    #[error("TLS handshake failed: {0}")]
    Tls(#[source] std::io::Error),
    #[error("HTTP exchange failed: {0}")]
    Http(#[source] hyper::Error),
    #[error("answered {0}, not 200")]
    Status(u16),
    #[error("body unreadable or larger than {MAX_BODY_BYTES} bytes")]
    Body,
}

/// A URL checked once, with the TLS client that will fetch it.
pub struct HttpsGet {
    url: url::Url,
    host: String,
    port: u16,
    server_name: ServerName<'static>,
    tls: tokio_rustls::TlsConnector,
}

impl HttpsGet {
    /// Refuses anything but an `https://` URL with a host, and CA PEM that holds no certificate.
    pub fn new(raw: &str, ca_pem: Option<&str>) -> Result<Self, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
        if url.scheme() != "https" {
            return Err("must be an https:// URL".into());
        }
        let host = url.host_str().ok_or("has no host")?.trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let server_name = ServerName::try_from(host.clone()).map_err(|_| format!("{host} is not a valid TLS name"))?;
        let mut roots = rustls::RootCertStore::empty();
        match ca_pem {
            Some(pem) => {
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
                    .collect::<Result<_, _>>()
                    .map_err(|_| "the CA file is not PEM certificates".to_owned())?;
                if certs.is_empty() {
                    return Err("the CA file holds no certificate".into());
                }
                for cert in certs {
                    roots.add(cert).map_err(|e| format!("unusable CA certificate: {e}"))?;
                }
            }
            None => {
                // Unreadable system certificates are skipped, as every rustls client does.
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
            }
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS set-up: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self { url, host, port, server_name, tls: tokio_rustls::TlsConnector::from(Arc::new(config)) })
    }

    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The body of a `200` answer, within `timeout` for the whole exchange.
    pub async fn get(&self, timeout: Duration) -> Result<Vec<u8>, GetError> {
        tokio::time::timeout(timeout, self.exchange()).await.map_err(|_| GetError::Timeout(timeout))?
    }

    async fn exchange(&self) -> Result<Vec<u8>, GetError> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port)).await.map_err(GetError::Connect)?;
        let tls = self.tls.connect(self.server_name.clone(), tcp).await.map_err(GetError::Tls)?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(GetError::Http)?;
        // The connection task ends with the exchange (or with this future, when it times out).
        let driver = tokio::spawn(connection);
        let path = match self.url.query() {
            Some(q) => format!("{}?{q}", self.url.path()),
            None => self.url.path().to_owned(),
        };
        let authority = match self.url.port() {
            Some(port) => format!("{}:{port}", self.url.host_str().unwrap_or_default()),
            None => self.url.host_str().unwrap_or_default().to_owned(),
        };
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::ACCEPT, "application/json, application/jwk-set+json")
            .header(hyper::header::USER_AGENT, concat!("ara/", env!("CARGO_PKG_VERSION")))
            .body(Empty::<bytes::Bytes>::new())
            .map_err(|_| GetError::Body)?;
        let result = async {
            let response = sender.send_request(request).await.map_err(GetError::Http)?;
            if response.status() != hyper::StatusCode::OK {
                return Err(GetError::Status(response.status().as_u16()));
            }
            let body =
                Limited::new(response.into_body(), MAX_BODY_BYTES).collect().await.map_err(|_| GetError::Body)?;
            Ok(body.to_bytes().to_vec())
        }
        .await;
        driver.abort();
        result
    }
}
