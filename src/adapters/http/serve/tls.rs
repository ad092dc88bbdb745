//! The optional TLS listener (`SERVER_TLS_CERT`/`SERVER_TLS_KEY`, and `SERVER_TLS_CLIENT_CA` for
//! client certificates), with certificates that reload when their files change.
//!
//! - One [`ServerConfig`] is current at a time; each accepted connection takes the one current then,
//!   so a reload never touches a handshake in progress and needs no restart.
//! - A reload builds the whole configuration (certificate, key and client CA) from the files and
//!   swaps it in only if every part is valid; a half-written or wrong file leaves the old one serving
//!   and is logged with its reason. Kubernetes replaces mounted secrets by swapping a symlink in the
//!   directory, so the directories are watched rather than the files.
//! - With a client CA, a certificate is asked for but not demanded at the handshake: browsers open
//!   WebSockets without one. What a connection presented is passed to each of its requests as
//!   [`ClientCertificate`], and the HTTP API refuses requests without it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use thiserror::Error;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Changes to one file arrive as several events (truncate, write, close, rename); they are taken
/// together once the files have been quiet this long.
const SETTLE: Duration = Duration::from_millis(250);

/// Where the TLS material is.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// `SERVER_TLS_CERT`: the certificate chain, leaf first.
    pub cert: PathBuf,
    /// `SERVER_TLS_KEY`: its private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// `SERVER_TLS_CLIENT_CA`: CA certificates that client certificates must chain to.
    pub client_ca: Option<PathBuf>,
}

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("{setting}: cannot read {path}: {source}")]
    Read {
        setting: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{setting}: {path} holds no usable PEM {what}")]
    NotPem { setting: &'static str, path: String, what: &'static str },
    #[error("SERVER_TLS_CLIENT_CA: {0}")]
    ClientCa(String),
    #[error("SERVER_TLS_CERT and SERVER_TLS_KEY do not make a usable identity: {0}")]
    Identity(#[source] rustls::Error),
    #[error("cannot watch the TLS files for changes: {0}")]
    Watch(#[source] notify::Error),
}

/// That the connection's client presented a certificate which chains to `SERVER_TLS_CLIENT_CA`
/// (rustls refuses the handshake otherwise). In the extensions of every request of such a connection.
#[derive(Debug, Clone, Copy)]
pub struct ClientCertificate;

/// The TLS configuration in force, replaced when its files change.
pub struct TlsAcceptor {
    files: TlsFiles,
    current: ArcSwap<ServerConfig>,
    /// How many configurations have been loaded, the first included.
    generation: AtomicU64,
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor").field("files", &self.files).field("generation", &self.generation()).finish()
    }
}

impl TlsAcceptor {
    /// Loads the files; any problem is a start-up error naming the setting.
    pub fn load(files: TlsFiles) -> Result<Arc<Self>, TlsError> {
        let config = build(&files)?;
        Ok(Arc::new(Self { files, current: ArcSwap::from(config), generation: AtomicU64::new(1) }))
    }

    pub fn requires_client_certificates(&self) -> bool {
        self.files.client_ca.is_some()
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    /// The acceptor for the next handshake.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.current.load_full())
    }

    /// Rebuilds from the files; on failure the configuration in force stays.
    pub fn reload(&self) -> Result<u64, TlsError> {
        let config = build(&self.files)?;
        self.current.store(config);
        Ok(self.generation.fetch_add(1, Relaxed) + 1)
    }

    /// Reloads whenever a file changes, until `stop`. The watcher is set up before this returns, so
    /// a change made after it cannot be missed.
    pub fn watch(self: &Arc<Self>, stop: CancellationToken) -> Result<tokio::task::JoinHandle<()>, TlsError> {
        let (changed, mut changes) = mpsc::channel::<()>(1);
        let mut watcher = RecommendedWatcher::new(
            move |event: notify::Result<notify::Event>| {
                if event.is_ok() {
                    // Full means a reload is already due: one is enough.
                    let _ = changed.try_send(());
                }
            },
            notify::Config::default(),
        )
        .map_err(TlsError::Watch)?;
        for dir in self.directories() {
            watcher.watch(&dir, RecursiveMode::NonRecursive).map_err(TlsError::Watch)?;
        }
        let this = self.clone();
        Ok(tokio::spawn(async move {
            let _watcher = watcher;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    change = changes.recv() => if change.is_none() { return },
                }
                // Let the writer finish; whatever else arrives meanwhile is part of this change.
                tokio::time::sleep(SETTLE).await;
                while changes.try_recv().is_ok() {}
                match this.reload() {
                    Ok(generation) => tracing::info!(generation, "reloaded the TLS certificate"),
                    Err(e) => {
                        tracing::warn!(error = %e, "a TLS file changed but cannot be used; the previous certificate stays in force")
                    }
                }
            }
        }))
    }

    fn directories(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = [Some(&self.files.cert), Some(&self.files.key), self.files.client_ca.as_ref()]
            .into_iter()
            .flatten()
            .map(|file| match file.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                _ => PathBuf::from("."),
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }
}

fn build(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = certificates("SERVER_TLS_CERT", &files.cert)?;
    let key = private_key(&files.key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Identity)?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for ca in certificates("SERVER_TLS_CLIENT_CA", path)? {
                roots.add(ca).map_err(|e| TlsError::ClientCa(e.to_string()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::ClientCa(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(TlsError::Identity)?;
    // The server speaks HTTP/1.1 only (WebSocket upgrades need it).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read(setting: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read { setting, path: path.display().to_string(), source })
}

fn certificates(setting: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(setting, path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok).collect();
    if certs.is_empty() {
        return Err(TlsError::NotPem { setting, path: path.display().to_string(), what: "certificate" });
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read("SERVER_TLS_KEY", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| TlsError::NotPem {
        setting: "SERVER_TLS_KEY",
        path: path.display().to_string(),
        what: "private key",
    })
}
