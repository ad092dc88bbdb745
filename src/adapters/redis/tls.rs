//! The Redis client, with TLS when the URL is `rediss://`: the server's certificate is checked
//! against the system's trust store, or only against the given CA file (a private CA, as managed
//! Redis services hand out); a client certificate is presented when the server asks for one
//! (`tls-auth-clients yes`). Files are read and checked here, at start-up, so a wrong path or a file
//! that is not PEM stops Ara with the setting's name instead of failing every connection later.

use std::path::{Path, PathBuf};

use redis::{ClientTlsConfig, ConnectionAddr, IntoConnectionInfo, TlsCertificates};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;

use super::connection::ClusterSeeds;

/// Where the TLS material is; every path is optional.
#[derive(Debug, Clone, Default)]
pub struct RedisTls {
    /// `REDIS_TLS_CA_CERT`
    pub ca_cert: Option<PathBuf>,
    /// `REDIS_TLS_CLIENT_CERT`
    pub client_cert: Option<PathBuf>,
    /// `REDIS_TLS_CLIENT_KEY`
    pub client_key: Option<PathBuf>,
}

impl RedisTls {
    fn is_empty(&self) -> bool {
        self.ca_cert.is_none() && self.client_cert.is_none() && self.client_key.is_none()
    }
}

#[derive(Debug, Error)]
pub enum RedisTlsError {
    #[error("{setting} is set but REDIS_URL is not a rediss:// URL")]
    NotTls { setting: &'static str },
    #[error("REDIS_TLS_CLIENT_CERT and REDIS_TLS_CLIENT_KEY go together; only {given} is set")]
    HalfClientIdentity { given: &'static str },
    #[error("{setting}: cannot read {path}: {source}")]
    Read {
        setting: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{setting}: {path} holds no usable PEM {what}")]
    NotPem { setting: &'static str, path: String, what: &'static str },
    #[error("invalid Redis TLS configuration: {0}")]
    Client(#[source] redis::RedisError),
}

/// The client for `url`. A plain `redis://` URL with TLS files set is refused rather than sent in
/// clear text: whoever set the files expected TLS.
pub fn client(url: &str, tls: &RedisTls) -> Result<redis::Client, super::RedisConnectError> {
    let info = url.into_connection_info().map_err(super::RedisConnectError::InvalidUrl)?;
    let is_tls = matches!(info.addr, ConnectionAddr::TcpTls { .. });
    if !is_tls || tls.is_empty() {
        if let Some(setting) = first_set(tls).filter(|_| !is_tls) {
            return Err(RedisTlsError::NotTls { setting }.into());
        }
        install_crypto_provider();
        return redis::Client::open(info).map_err(super::RedisConnectError::InvalidUrl);
    }
    install_crypto_provider();
    let certificates = certificates(tls)?;
    redis::Client::build_with_tls(info, certificates).map_err(|e| RedisTlsError::Client(e).into())
}

/// The seed nodes of a Redis Cluster from `urls` (comma-separated), with the same TLS rules as
/// [`client`]: every seed `rediss://` or none, and TLS files only with `rediss://`. The crate uses
/// the first seed's TLS mode, user and password for every node it discovers.
pub fn cluster_seeds(urls: &str, tls: &RedisTls) -> Result<ClusterSeeds, super::RedisConnectError> {
    let nodes = urls
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(|url| url.into_connection_info().map_err(super::RedisConnectError::InvalidUrl))
        .collect::<Result<Vec<_>, _>>()?;
    let tls_nodes = nodes.iter().filter(|n| matches!(n.addr, ConnectionAddr::TcpTls { .. })).count();
    if nodes.is_empty() || (tls_nodes != 0 && tls_nodes != nodes.len()) {
        let why = if nodes.is_empty() { "names no seed node" } else { "mixes redis:// and rediss:// seeds" };
        return Err(super::RedisConnectError::InvalidUrl(redis::RedisError::from((
            redis::ErrorKind::InvalidClientConfig,
            "the Redis Cluster URL list",
            why.to_owned(),
        ))));
    }
    install_crypto_provider();
    if tls_nodes == 0 {
        if let Some(setting) = first_set(tls) {
            return Err(RedisTlsError::NotTls { setting }.into());
        }
        return Ok(ClusterSeeds { nodes, certs: None });
    }
    let certs = if tls.is_empty() { None } else { Some(certificates(tls)?) };
    Ok(ClusterSeeds { nodes, certs })
}

/// The CA and client identity files, read and checked.
fn certificates(tls: &RedisTls) -> Result<TlsCertificates, RedisTlsError> {
    let root_cert = match &tls.ca_cert {
        Some(path) => Some(read_certificates("REDIS_TLS_CA_CERT", path)?),
        None => None,
    };
    let client_tls = match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => Some(ClientTlsConfig {
            client_cert: read_certificates("REDIS_TLS_CLIENT_CERT", cert)?,
            client_key: read_key(key)?,
        }),
        (Some(_), None) => return Err(RedisTlsError::HalfClientIdentity { given: "REDIS_TLS_CLIENT_CERT" }),
        (None, Some(_)) => return Err(RedisTlsError::HalfClientIdentity { given: "REDIS_TLS_CLIENT_KEY" }),
        (None, None) => None,
    };
    Ok(TlsCertificates { client_tls, root_cert })
}

fn first_set(tls: &RedisTls) -> Option<&'static str> {
    [
        ("REDIS_TLS_CA_CERT", &tls.ca_cert),
        ("REDIS_TLS_CLIENT_CERT", &tls.client_cert),
        ("REDIS_TLS_CLIENT_KEY", &tls.client_key),
    ]
    .into_iter()
    .find_map(|(name, value)| value.as_ref().map(|_| name))
}

/// The redis crate builds its TLS configuration with rustls' process-wide provider; naming ring
/// here keeps that working should another dependency ever enable a second provider.
fn install_crypto_provider() {
    // An error only means a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn read(setting: &'static str, path: &Path) -> Result<Vec<u8>, RedisTlsError> {
    std::fs::read(path).map_err(|source| RedisTlsError::Read { setting, path: path.display().to_string(), source })
}

fn read_certificates(setting: &'static str, path: &Path) -> Result<Vec<u8>, RedisTlsError> {
    let pem = read(setting, path)?;
    let certificates: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
    match certificates {
        Ok(list) if !list.is_empty() => Ok(pem),
        _ => Err(RedisTlsError::NotPem { setting, path: path.display().to_string(), what: "certificate" }),
    }
}

fn read_key(path: &Path) -> Result<Vec<u8>, RedisTlsError> {
    let setting = "REDIS_TLS_CLIENT_KEY";
    let pem = read(setting, path)?;
    match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(_) => Ok(pem),
        Err(_) => Err(RedisTlsError::NotPem { setting, path: path.display().to_string(), what: "private key" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(urls: &str, tls: &RedisTls) -> String {
        match cluster_seeds(urls, tls) {
            Ok(_) => panic!("{urls} was accepted"),
            Err(e) => crate::domain::ErrorChain(&e).to_string(),
        }
    }

    #[test]
    fn cluster_seeds_are_a_list_of_one_scheme() {
        let seeds = cluster_seeds(" redis://10.0.0.1:7000, redis://10.0.0.2:7000 ,", &RedisTls::default()).unwrap();
        assert_eq!(seeds.addrs(), "10.0.0.1:7000,10.0.0.2:7000");
        assert!(seeds.certs.is_none());
        assert!(refusal("redis://a:1,rediss://b:2", &RedisTls::default()).contains("mixes"));
        assert!(refusal(" , ", &RedisTls::default()).contains("no seed node"));
        let with_ca = RedisTls { ca_cert: Some("/nonexistent.pem".into()), ..RedisTls::default() };
        assert!(refusal("redis://a:1", &with_ca).contains("REDIS_TLS_CA_CERT"));
        assert!(refusal("rediss://a:1", &with_ca).contains("/nonexistent.pem"));
    }
}
