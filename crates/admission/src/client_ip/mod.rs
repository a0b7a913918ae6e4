//! Which address a request comes from: the socket peer, or — only when the peer is a
//! configured trusted proxy — the first untrusted hop of `X-Forwarded-For`, read from the right
//! (nginx `real_ip_recursive on`). A client cannot spoof its address by sending the header
//! itself: from an untrusted peer the header is ignored.

use std::net::IpAddr;

use ipnet::IpNet;

/// Most trusted-proxy networks: a load-balancer tier has a handful; 256 bounds the scan.
pub const MAX_TRUSTED_PROXIES: usize = 256;
/// Most `X-Forwarded-For` hops examined: a real chain has a few; bounds work on a hostile header.
pub const MAX_FORWARDED_HOPS: usize = 16;

/// Networks whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// A trusted-proxy list that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustedProxiesError {
    /// Not an IP or CIDR.
    #[error("not an IP address or CIDR network: {0:?}")]
    Invalid(String),
    /// More than [`MAX_TRUSTED_PROXIES`].
    #[error("at most {MAX_TRUSTED_PROXIES} trusted proxies")]
    TooMany,
}

/// Parses `"10.0.0.1"` or `"10.0.0.0/8"` (IPv4 or IPv6).
pub fn parse_net(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

impl TrustedProxies {
    /// Parses a list of IPs / CIDRs.
    pub fn parse<'a>(
        items: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, TrustedProxiesError> {
        let mut nets = Vec::new();
        for item in items {
            let net =
                parse_net(item).ok_or_else(|| TrustedProxiesError::Invalid(item.to_owned()))?;
            nets.push(net.trunc());
            if nets.len() > MAX_TRUSTED_PROXIES {
                return Err(TrustedProxiesError::TooMany);
            }
        }
        Ok(Self(nets))
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) are treated as the IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client address for a request from `peer` carrying `forwarded_for`.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &TrustedProxies) -> IpAddr {
    let peer = canonical(peer);
    if trusted.is_empty() || !trusted.contains(peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    let mut last_trusted = peer;
    for hop in header.rsplit(',').take(MAX_FORWARDED_HOPS) {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            // A malformed hop: stop believing the chain; the last hop we could verify is it.
            return last_trusted;
        };
        let ip = canonical(ip);
        if !trusted.contains(ip) {
            return ip;
        }
        last_trusted = ip;
    }
    last_trusted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn header_from_untrusted_peer_is_ignored() {
        let trusted = TrustedProxies::parse(["10.0.0.0/8"]).unwrap();
        assert_eq!(
            client_ip(ip("203.0.113.9"), Some("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(client_ip(ip("10.1.1.1"), None, &trusted), ip("10.1.1.1"));
        assert_eq!(
            client_ip(ip("1.1.1.1"), Some("2.2.2.2"), &TrustedProxies::default()),
            ip("1.1.1.1")
        );
    }

    #[test]
    fn first_untrusted_hop_from_the_right() {
        let trusted = TrustedProxies::parse(["10.0.0.0/8", "192.168.1.1"]).unwrap();
        // client, spoofed-by-client, then our proxies
        let header = "6.6.6.6, 198.51.100.7, 192.168.1.1, 10.0.0.2";
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some(header), &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("10.0.0.3"), &trusted),
            ip("10.0.0.3")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("junk, 10.0.0.3"), &trusted),
            ip("10.0.0.3")
        );
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), Some("7.7.7.7"), &trusted),
            ip("7.7.7.7")
        );
    }

    #[test]
    fn parse_rules() {
        assert!(TrustedProxies::parse(["nonsense"]).is_err());
        assert!(TrustedProxies::parse(["::1", "fd00::/8"]).is_ok());
        let many: Vec<String> = (0..300)
            .map(|i| format!("10.0.{}.{}", i / 256, i % 256))
            .collect();
        assert_eq!(
            TrustedProxies::parse(many.iter().map(String::as_str)),
            Err(TrustedProxiesError::TooMany)
        );
    }
}
