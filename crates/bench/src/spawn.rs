//! `--spawn`: run the server as a child on a free port with a temporary data dir and fresh
//! secrets, wait until it is healthy, and always kill it at the end (drop kills it too, so an
//! error path cannot leak the process).

use crate::admin::AdminClient;
use crate::clock::Clock;
use anyhow::{Context, bail};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// How long the server gets to answer /healthz: journal recovery on an empty dir is fast, and
/// a debug build on a loaded two-core machine can still take a few seconds to start.
pub(crate) const HEALTH_WAIT: Duration = Duration::from_secs(30);
/// Poll interval while waiting for /healthz.
pub(crate) const HEALTH_POLL: Duration = Duration::from_millis(50);
/// Bytes of the server log shown when it fails to start.
pub(crate) const LOG_TAIL_BYTES: usize = 4_096;

/// A running child server. Field order matters: the child is killed before the data dir is
/// removed.
pub(crate) struct SpawnedServer {
    child: Child,
    /// Where it listens.
    pub address: SocketAddr,
    /// Token secret it was given.
    pub token_secret: String,
    /// Admin key it was given.
    pub admin_key: String,
    log_path: PathBuf,
    _data_dir: tempfile::TempDir,
}

impl SpawnedServer {
    /// Starts `binary serve --listen 127.0.0.1:PORT --data-dir TMP [extra…]` and waits for it to
    /// be healthy.
    pub(crate) async fn start(
        binary: PathBuf,
        extra_args: &[String],
        token_secret: String,
        admin_key: String,
        clock: &dyn Clock,
    ) -> anyhow::Result<Self> {
        let address = free_port().context("picking a free port")?;
        let data_dir = tempfile::Builder::new()
            .prefix("stampede-bench-")
            .tempdir()
            .context("creating the data dir")?;
        // The server's data lives in a subdirectory so its log can sit beside it.
        let server_data = data_dir.path().join("data");
        std::fs::create_dir(&server_data).context("creating the server data dir")?;
        let log_path = data_dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).context("creating the server log")?;
        let child = Command::new(&binary)
            .arg("serve")
            .arg("--listen")
            .arg(address.to_string())
            .arg("--data-dir")
            .arg(&server_data)
            .args(extra_args)
            .env("STAMPEDE_TOKEN_SECRET", &token_secret)
            .env("STAMPEDE_ADMIN_KEY", &admin_key)
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                log.try_clone().context("cloning the log handle")?,
            ))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut server = Self {
            child,
            address,
            token_secret,
            admin_key,
            log_path,
            _data_dir: data_dir,
        };
        server.wait_healthy(clock).await?;
        Ok(server)
    }

    async fn wait_healthy(&mut self, clock: &dyn Clock) -> anyhow::Result<()> {
        let deadline = clock.now() + HEALTH_WAIT;
        let mut client = AdminClient::new(self.address, self.admin_key.clone());
        while clock.now() < deadline {
            if let Some(status) = self.child.try_wait().context("polling the server")? {
                bail!(
                    "server exited with {status} before it was healthy:\n{}",
                    self.log_tail()
                );
            }
            if client.healthy().await {
                return Ok(());
            }
            tokio::time::sleep(HEALTH_POLL).await;
        }
        bail!(
            "server not healthy on {} within {HEALTH_WAIT:?}:\n{}",
            self.address,
            self.log_tail()
        )
    }

    /// The end of the server's combined stdout/stderr.
    pub(crate) fn log_tail(&self) -> String {
        let log = std::fs::read(&self.log_path).unwrap_or_default();
        let start = log.len().saturating_sub(LOG_TAIL_BYTES);
        String::from_utf8_lossy(&log[start..]).into_owned()
    }

    /// Kills the server and waits for it to exit.
    pub(crate) async fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().await.context("killing the server")
    }
}

/// A port that was free a moment ago (bind to :0, read it, release it). Racy by nature; the
/// health wait reports a clear error if someone else took it.
fn free_port() -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    listener.local_addr()
}
