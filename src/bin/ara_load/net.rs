//! Where the load goes (a loopback server, nothing else) and where it comes from (several loopback
//! source addresses, so that more connections fit than one address has ephemeral ports).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};

use ara::domain::Quoted;
use tokio::net::{TcpSocket, TcpStream};

/// The server under load.
#[derive(Debug, Clone)]
pub struct Server {
    pub addr: SocketAddr,
    /// `host:port` as written in the URL, for the `Host` header.
    pub authority: String,
}

/// Parses `http://host:port`, `ws://host:port` (a path is ignored) and refuses any host that is not
/// loopback: load tests on this workplace may only target the machine itself.
pub fn parse_server(url: &str) -> Result<Server, String> {
    let rest = ["http://", "ws://"].iter().find_map(|scheme| url.strip_prefix(scheme)).ok_or_else(|| {
        format!("--url {}: expected http://HOST:PORT or ws://HOST:PORT (TLS is not supported)", Quoted(url))
    })?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map(|(h, rest)| (h, rest.strip_prefix(':'))).unwrap_or((v6, None)),
        None => authority.split_once(':').map(|(h, p)| (h, Some(p))).unwrap_or((authority, None)),
    };
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| format!("--url {}: bad port {}", Quoted(url), Quoted(p)))?,
        None => 80,
    };
    let host_clean = host;
    let ip: IpAddr = if host_clean.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host_clean.parse().map_err(|_| refusal(host))?
    };
    if !ip.is_loopback() {
        return Err(refusal(host));
    }
    Ok(Server { addr: SocketAddr::new(ip, port), authority: authority.to_owned() })
}

fn refusal(host: &str) -> String {
    format!(
        "refusing to target {}: ara-load only sends load to loopback addresses (127.0.0.0/8, ::1, \
         localhost) — this workplace forbids load traffic to any other host",
        Quoted(host)
    )
}

/// Hands out local addresses round-robin: 127.0.0.1 ..= 127.0.0.N for an IPv4 server, `::1` for IPv6.
pub struct Sources {
    ips: Vec<IpAddr>,
    next: AtomicUsize,
}

impl Sources {
    pub fn new(server: &Server, count: u8) -> Self {
        let ips = match server.addr {
            SocketAddr::V4(_) => (1..=count.max(1)).map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i))).collect(),
            SocketAddr::V6(_) => vec![IpAddr::V6(Ipv6Addr::LOCALHOST)],
        };
        Self { ips, next: AtomicUsize::new(0) }
    }

    pub fn len(&self) -> usize {
        self.ips.len()
    }

    fn pick(&self) -> IpAddr {
        self.ips[self.next.fetch_add(1, Ordering::Relaxed) % self.ips.len()]
    }

    /// Opens a TCP connection to `server` from the next source address. `recv_buffer` shrinks the
    /// receive buffer (used for clients that never read, so that they back up quickly).
    pub async fn connect(&self, server: &Server, recv_buffer: Option<u32>) -> std::io::Result<TcpStream> {
        let socket = match server.addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size)?;
        }
        socket.bind(SocketAddr::new(self.pick(), 0))?;
        let stream = socket.connect(server.addr).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_are_accepted() {
        assert_eq!(parse_server("http://127.0.0.1:8080").unwrap().addr.port(), 8080);
        assert_eq!(parse_server("ws://localhost:9000/ws").unwrap().addr.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(parse_server("http://127.3.4.5:1").is_ok());
        assert!(parse_server("http://[::1]:8080").unwrap().addr.is_ipv6());
    }

    #[test]
    fn other_hosts_are_refused() {
        for url in ["http://10.0.0.1:80", "http://example.com:80", "http://192.168.1.2", "https://127.0.0.1:1"] {
            assert!(parse_server(url).is_err(), "{url}");
        }
        assert!(parse_server("http://8.8.8.8:80").unwrap_err().contains("loopback"));
    }

    #[test]
    fn errors_read_as_plain_text() {
        assert!(parse_server("http://8.8.8.8:80").unwrap_err().starts_with(r#"refusing to target "8.8.8.8": "#));
        assert!(parse_server("http://127.0.0.1:x").unwrap_err().ends_with(r#"bad port "x""#));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(crate::ws::io_reason(&refused), "connection refused", "not Rust's ConnectionRefused");
    }
}
