//! Who is calling: the socket's peer address, or the client named in `X-Forwarded-For` when (and
//! only when) the peer is one of the `TRUSTED_PROXIES`. Anyone can write that header, so believing
//! it from an untrusted peer would let a client pick its own rate-limit key.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::domain::Quoted;

const FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address. `peer` is `None` only when the server runs without connection info.
///
/// With a trusted peer the `X-Forwarded-For` hops are read right to left (the nearest first),
/// skipping further trusted proxies; the first untrusted one is the client. A header that cannot be
/// read makes the peer itself the client.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer.map(|ip| ip.to_canonical())?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut hops = Vec::new();
    for value in headers.get_all(FORWARDED_FOR) {
        let Ok(text) = value.to_str() else { return Some(peer) };
        for hop in text.split(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => hops.push(ip.to_canonical()),
                Err(_) => return Some(peer),
            }
        }
    }
    // Every hop trusted: the leftmost is as close to the client as this request tells.
    let client = hops.iter().rev().find(|ip| !is_trusted(ip)).or(hops.first()).copied();
    Some(client.unwrap_or(peer))
}

/// Parses `TRUSTED_PROXIES`: comma-separated addresses (`10.0.0.1`) or networks (`10.0.0.0/8`).
pub fn parse_trusted_proxies(raw: &str) -> Result<Vec<IpNet>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{} is not an IP address or network (like 10.0.0.0/8)", Quoted(s)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(FORWARDED_FOR, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn ignores_the_header_from_untrusted_peers() {
        let trusted = parse_trusted_proxies("10.0.0.0/8").unwrap();
        assert_eq!(client_ip(Some(ip("1.2.3.4")), &xff("9.9.9.9"), &trusted), Some(ip("1.2.3.4")));
        assert_eq!(client_ip(Some(ip("1.2.3.4")), &xff("9.9.9.9"), &[]), Some(ip("1.2.3.4")));
    }

    #[test]
    fn believes_trusted_proxies_right_to_left() {
        let trusted = parse_trusted_proxies("10.0.0.0/8, 192.168.1.1").unwrap();
        let peer = Some(ip("10.0.0.5"));
        assert_eq!(client_ip(peer, &xff("6.6.6.6, 5.5.5.5, 192.168.1.1"), &trusted), Some(ip("5.5.5.5")));
        assert_eq!(client_ip(peer, &xff("10.1.1.1"), &trusted), Some(ip("10.1.1.1")));
        assert_eq!(client_ip(peer, &HeaderMap::new(), &trusted), peer);
        assert_eq!(client_ip(peer, &xff("garbage, 5.5.5.5"), &trusted), peer);
    }

    #[test]
    fn maps_ipv4_in_ipv6_peers() {
        assert_eq!(client_ip(Some(ip("::ffff:1.2.3.4")), &HeaderMap::new(), &[]), Some(ip("1.2.3.4")));
    }

    #[test]
    fn parses_the_setting() {
        assert_eq!(parse_trusted_proxies("").unwrap(), vec![]);
        assert_eq!(parse_trusted_proxies("127.0.0.1,::1").unwrap().len(), 2);
        assert!(parse_trusted_proxies("10.0.0.0/33").is_err());
        assert!(parse_trusted_proxies("proxy.local").is_err());
    }
}
