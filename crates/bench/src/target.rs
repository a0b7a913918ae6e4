//! `--target`: the server's URL, or a comma-separated list of a cluster's nodes, to socket
//! addresses. [`parse_targets`] checks the list's shape (pure, so `BenchArgs::validate` can
//! refuse a bad list before any I/O); [`resolve_targets`] then looks the names up.

use std::net::SocketAddr;

use anyhow::Context;

/// Most nodes one bench drives. Every load worker keeps a keep-alive socket per node it has
/// sent to (per source address), so the client's sockets grow with this number; 16 is a
/// cluster of one node per shard at the cluster's default shard count, which is as far as
/// spreading users over nodes needs to go on a test machine.
pub(crate) const MAX_TARGETS: usize = 16;

/// One `--target` entry, checked: `http://host:port` with no path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TargetUrl {
    /// `host:port`, as given.
    pub authority: String,
}

/// Splits `list` on commas and checks every entry: none empty, each `http://host:port` (a
/// trailing `/` allowed, no path, no TLS), no entry twice (host compared case-insensitively),
/// at most [`MAX_TARGETS`]. The error names the entry.
pub(crate) fn parse_targets(list: &str) -> Result<Vec<TargetUrl>, String> {
    let entries: Vec<&str> = list.split(',').map(str::trim).collect();
    if entries.len() > MAX_TARGETS {
        return Err(format!(
            "{} URLs given, at most {MAX_TARGETS} nodes",
            entries.len()
        ));
    }
    let mut targets: Vec<TargetUrl> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let number = index + 1;
        if entry.is_empty() {
            return Err(format!(
                "entry {number} of {list:?} is empty (URLs are separated by single commas)"
            ));
        }
        let target = parse_one(entry).map_err(|reason| format!("entry {number}: {reason}"))?;
        if let Some(earlier) = targets
            .iter()
            .position(|seen| seen.authority.eq_ignore_ascii_case(&target.authority))
        {
            return Err(format!(
                "entry {number} ({entry:?}) repeats entry {}: each node once",
                earlier + 1
            ));
        }
        targets.push(target);
    }
    Ok(targets)
}

/// `http://host:port[/]`.
fn parse_one(url: &str) -> Result<TargetUrl, String> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(format!("{url:?} must start with http:// (no TLS support)"));
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#', '@']) || authority.chars().any(char::is_whitespace) {
        return Err(format!(
            "{url:?} must be http://host:port with no path, query or user"
        ));
    }
    let port = authority
        .rsplit_once(':')
        .filter(|(host, _)| !host.is_empty())
        .and_then(|(_, port)| port.parse::<u16>().ok())
        .filter(|port| *port > 0);
    if port.is_none() {
        return Err(format!("{url:?} must name a host and a port 1..=65535"));
    }
    Ok(TargetUrl {
        authority: authority.to_owned(),
    })
}

/// [`parse_targets`], then each entry resolved to its first address; two entries that resolve
/// to one address are refused (the same node twice would skew the spread).
pub(crate) async fn resolve_targets(list: &str) -> anyhow::Result<Vec<SocketAddr>> {
    let targets = parse_targets(list).map_err(|reason| anyhow::anyhow!("--target: {reason}"))?;
    let mut addresses: Vec<SocketAddr> = Vec::with_capacity(targets.len());
    for target in &targets {
        let authority = &target.authority;
        let address = tokio::net::lookup_host(authority.as_str())
            .await
            .with_context(|| format!("--target: resolving {authority:?}"))?
            .next()
            .with_context(|| format!("--target: {authority:?} resolved to nothing"))?;
        if addresses.contains(&address) {
            anyhow::bail!("--target: {authority:?} is {address}, given already");
        }
        addresses.push(address);
    }
    Ok(addresses)
}

/// The targets as the report names them: `address[,address…]`.
pub(crate) fn describe(servers: &[SocketAddr]) -> String {
    servers
        .iter()
        .map(SocketAddr::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(list: &str) -> String {
        parse_targets(list).expect_err(list)
    }

    #[test]
    fn one_or_several_urls_parse() {
        let one = parse_targets("http://127.0.0.1:8080/").unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].authority, "127.0.0.1:8080");
        let several = parse_targets("http://a:1, http://b:2,http://[::1]:3").unwrap();
        let authorities: Vec<&str> = several.iter().map(|t| t.authority.as_str()).collect();
        assert_eq!(authorities, ["a:1", "b:2", "[::1]:3"]);
        let most = (1..=MAX_TARGETS)
            .map(|port| format!("http://127.0.0.1:{port}"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(parse_targets(&most).unwrap().len(), MAX_TARGETS);
    }

    #[test]
    fn each_bad_list_is_refused_naming_what_is_wrong() {
        assert!(reason("http://a:1,,http://b:2").contains("entry 2"));
        assert!(reason("http://a:1,").contains("entry 2"));
        assert!(reason("").contains("entry 1"));
        assert!(reason("http://a:1,http://b:2,http://A:1").contains("repeats entry 1"));
        assert!(reason("http://a:1,https://b:2").contains("http://"));
        assert!(reason("http://a:1/v1").contains("no path"));
        assert!(reason("http://a").contains("port"));
        assert!(reason("http://a:0").contains("port"));
        assert!(reason("http://:80").contains("host"));
        assert!(reason("http://a:99999").contains("port"));
        assert!(reason("http://u@a:1").contains("user"));
        let too_many = (1..=MAX_TARGETS + 1)
            .map(|port| format!("http://127.0.0.1:{port}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(reason(&too_many).contains(&format!("at most {MAX_TARGETS}")));
    }

    #[tokio::test]
    async fn names_resolve_and_one_address_twice_is_refused() {
        let addresses = resolve_targets("http://127.0.0.1:8080/,http://127.0.0.1:8081")
            .await
            .unwrap();
        assert_eq!(
            addresses,
            [
                "127.0.0.1:8080".parse().unwrap(),
                "127.0.0.1:8081".parse().unwrap()
            ]
        );
        assert_eq!(describe(&addresses), "127.0.0.1:8080,127.0.0.1:8081");
        let twice = resolve_targets("http://127.0.0.1:8080,http://127.1:8080").await;
        assert!(twice.is_err(), "{twice:?}");
        assert!(resolve_targets("https://127.0.0.1:1").await.is_err());
    }
}
