//! `--target`: the server's URL to a socket address.

use std::net::SocketAddr;

use anyhow::{Context, bail};

/// `http://host:port[/]` to a socket address.
pub(crate) async fn resolve_target(target: &str) -> anyhow::Result<SocketAddr> {
    let Some(rest) = target.strip_prefix("http://") else {
        bail!("--target: {target:?} must start with http:// (no TLS support)");
    };
    let authority = rest.trim_end_matches('/');
    if authority.contains('/') {
        bail!("--target: {target:?} must be http://host:port with no path");
    }
    tokio::net::lookup_host(authority)
        .await
        .with_context(|| format!("--target: resolving {authority:?}"))?
        .next()
        .with_context(|| format!("--target: {authority:?} resolved to nothing"))
}
