//! Which address a request comes from: the socket peer, or — only when the peer is a
//! configured trusted proxy — the first untrusted hop of `X-Forwarded-For`, read from the right
//! (nginx `real_ip_recursive on`). A client cannot spoof its address by sending the header
//! itself: from an untrusted peer the header is ignored.
//!
//! Every `X-Forwarded-For` line counts: several lines of one field are one comma-separated list
//! in the order they came (RFC 9110 §5.3), and a proxy such as HAProxy appends a line of its own
//! rather than extending the client's. Reading only the first line would let a client choose its
//! address by sending a line before the proxy's.
//!
//! `Forwarded` (RFC 7239) is not read, on purpose: a proxy that sets `X-Forwarded-For` passes a
//! client's own `Forwarded` through untouched, so believing it would hand the address back to
//! the client. Configure the proxies to set `X-Forwarded-For` (nginx, HAProxy, Envoy and the
//! cloud load balancers do).

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

/// The client address for a request from `peer` whose `X-Forwarded-For` lines are
/// `forwarded_for`, in the order they came (every line of the field, as bytes; none when the
/// header is absent). Allocates nothing; examines at most [`MAX_FORWARDED_HOPS`] hops.
pub fn client_ip<'a, I>(peer: IpAddr, forwarded_for: I, trusted: &TrustedProxies) -> IpAddr
where
    I: IntoIterator<Item = &'a [u8]>,
    I::IntoIter: DoubleEndedIterator,
{
    let peer = canonical(peer);
    if trusted.is_empty() || !trusted.contains(peer) {
        return peer;
    }
    // Right to left across the lines: the last line's last hop was appended last.
    let hops = forwarded_for
        .into_iter()
        .rev()
        .flat_map(|line| line.rsplit(|byte| *byte == b','))
        .take(MAX_FORWARDED_HOPS);
    let mut last_trusted = peer;
    for hop in hops {
        let hop = trim_whitespace(hop);
        if hop.is_empty() {
            // An empty list element (`a, , b`, or an empty line) counts for nothing (RFC 9110
            // §5.6.1); it still counts toward the hops examined.
            continue;
        }
        let Some(ip) = parse_ip(hop) else {
            // A malformed hop: stop believing the chain; the last hop we could verify is it.
            return last_trusted;
        };
        if !trusted.contains(ip) {
            return ip;
        }
        last_trusted = ip;
    }
    last_trusted
}

/// `bytes` without the spaces and tabs around it (optional whitespace in a list).
fn trim_whitespace(bytes: &[u8]) -> &[u8] {
    let blank = |byte: &u8| *byte == b' ' || *byte == b'\t';
    let start = bytes.iter().position(|b| !blank(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// An address, canonical, if `hop` is exactly one.
fn parse_ip(hop: &[u8]) -> Option<IpAddr> {
    std::str::from_utf8(hop)
        .ok()?
        .parse::<IpAddr>()
        .ok()
        .map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The lines of one `X-Forwarded-For` field, as a request carries them.
    fn lines<'a>(lines: &'a [&'a str]) -> impl DoubleEndedIterator<Item = &'a [u8]> {
        lines.iter().map(|line| line.as_bytes())
    }

    fn from(peer: &str, header: &[&str], trusted: &TrustedProxies) -> IpAddr {
        client_ip(ip(peer), lines(header), trusted)
    }

    #[test]
    fn header_from_untrusted_peer_is_ignored() {
        let trusted = TrustedProxies::parse(["10.0.0.0/8"]).unwrap();
        assert_eq!(
            from("203.0.113.9", &["1.2.3.4"], &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(from("10.1.1.1", &[], &trusted), ip("10.1.1.1"));
        assert_eq!(
            from("1.1.1.1", &["2.2.2.2"], &TrustedProxies::default()),
            ip("1.1.1.1")
        );
    }

    #[test]
    fn first_untrusted_hop_from_the_right() {
        let trusted = TrustedProxies::parse(["10.0.0.0/8", "192.168.1.1"]).unwrap();
        // client, spoofed-by-client, then our proxies
        let header = "6.6.6.6, 198.51.100.7, 192.168.1.1, 10.0.0.2";
        assert_eq!(from("10.0.0.1", &[header], &trusted), ip("198.51.100.7"));
        assert_eq!(from("10.0.0.1", &["10.0.0.3"], &trusted), ip("10.0.0.3"));
        assert_eq!(
            from("10.0.0.1", &["junk, 10.0.0.3"], &trusted),
            ip("10.0.0.3")
        );
        assert_eq!(
            from("::ffff:10.0.0.1", &["7.7.7.7"], &trusted),
            ip("7.7.7.7")
        );
    }

    #[test]
    fn every_line_counts_as_one_list_in_order() {
        let trusted = TrustedProxies::parse(["10.0.0.0/8"]).unwrap();
        // The client sent the first line; our proxy appended the second.
        assert_eq!(
            from("10.0.0.1", &["1.2.3.4", "5.6.7.8"], &trusted),
            ip("5.6.7.8")
        );
        assert_eq!(
            from("10.0.0.1", &["1.2.3.4, 5.6.7.8"], &trusted),
            ip("5.6.7.8")
        );
        // Proxy hops at the end of the last line and in a line of their own are skipped.
        assert_eq!(
            from(
                "10.0.0.1",
                &["9.9.9.9, 1.2.3.4", "5.6.7.8, 10.0.0.9", "10.0.0.8"],
                &trusted
            ),
            ip("5.6.7.8")
        );
        // Only proxies: the left-most of them.
        assert_eq!(
            from("10.0.0.1", &["10.0.0.3", "10.0.0.2"], &trusted),
            ip("10.0.0.3")
        );
    }

    #[test]
    fn empty_elements_are_skipped_and_junk_stops_the_chain() {
        let trusted = TrustedProxies::parse(["10.0.0.0/8"]).unwrap();
        assert_eq!(
            from("10.0.0.1", &["5.6.7.8", "", " , \t10.0.0.2 ,"], &trusted),
            ip("5.6.7.8")
        );
        // A hop that is not an address ends the walk at the last verified proxy.
        assert_eq!(
            from(
                "10.0.0.1",
                &["1.2.3.4", "10.0.0.2, nonsense", "10.0.0.3"],
                &trusted
            ),
            ip("10.0.0.3")
        );
        // Bytes that are not UTF-8 (obs-text) are junk too.
        let junk: [&[u8]; 2] = [b"1.2.3.4", b"\xff\xfe"];
        assert_eq!(client_ip(ip("10.0.0.1"), junk, &trusted), ip("10.0.0.1"));
        // Only the trusted peer's header is read, whatever its lines say.
        assert_eq!(
            from("203.0.113.9", &["1.2.3.4", "5.6.7.8"], &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn at_most_max_forwarded_hops_are_examined() {
        let trusted = TrustedProxies::parse(["10.0.0.0/8"]).unwrap();
        let proxies: Vec<String> = (0..MAX_FORWARDED_HOPS)
            .map(|i| format!("10.0.1.{i}"))
            .collect();
        // The client one hop beyond the limit, in a line before the proxies' lines: the walk
        // stops at the left-most proxy it examined.
        let mut header = vec!["1.2.3.4".to_owned()];
        header.extend(proxies.iter().cloned());
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        assert_eq!(from("10.0.0.1", &header, &trusted), ip("10.0.1.0"));
        // One proxy fewer and the client is found.
        assert_eq!(
            from("10.0.0.1", &header[..header.len() - 1], &trusted),
            ip("1.2.3.4")
        );
        // Empty elements count toward the limit, so a header of commas costs no more.
        let commas = format!("1.2.3.4{}", ",".repeat(10_000));
        assert_eq!(from("10.0.0.1", &[&commas], &trusted), ip("10.0.0.1"));
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
