//! Runs the real `stampede` binary for end-to-end tests.
#![allow(dead_code, missing_docs)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub(crate) const TOKEN_SECRET: &str = "e2e-token-secret-0123456789abcdef";
pub(crate) const ADMIN_KEY: &str = "e2e-admin-key-0123456789abcdef";
/// How long a started server may take to answer /healthz (a debug build replaying a journal).
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_stampede"))
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) struct Server {
    pub child: Child,
    pub base: String,
    pub port: u16,
}

/// `stampede serve` on `data_dir` listening on `127.0.0.1:port`, with the test secrets; stdout
/// discarded, stderr inherited (override it to read it).
pub(crate) fn serve_command(data_dir: &Path, port: u16, extra: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .env("STAMPEDE_TOKEN_SECRET", TOKEN_SECRET)
        .env("STAMPEDE_ADMIN_KEY", ADMIN_KEY)
        .env("STAMPEDE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    command
}

/// Waits for `child` to exit, polling until `limit`, and returns its output (pipe what you
/// want to read). A child still running at `limit` is killed and the test fails.
pub(crate) async fn exit_within(mut child: Child, limit: Duration) -> Output {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if child.try_wait().expect("poll child").is_some() {
            return child.wait_with_output().expect("collect child output");
        }
        if tokio::time::Instant::now() >= deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("collect child output");
            panic!(
                "still running after {limit:?}; stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Server {
    /// Starts `stampede serve` on `data_dir` and waits until /healthz answers.
    pub(crate) async fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let port = free_port();
        let child = serve_command(data_dir, port, extra)
            .spawn()
            .expect("spawn stampede serve");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
        };
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(r) = client.get(format!("{}/healthz", server.base)).send().await
                && r.status().is_success()
            {
                return server;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "server did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown hook runs, unsynced data is at the kernel's mercy.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A token for `user`, valid for an hour (the server refuses tokens that expire more than
/// `max_token_ttl_secs` ahead).
pub(crate) fn token(user: &str) -> String {
    use stampede_engine::Clock as _;
    let expires = stampede_engine::SystemClock::new().now().0 / 1000 + 3_600;
    stampede_api::mint_token(TOKEN_SECRET.as_bytes(), user, expires)
}

pub(crate) fn admin() -> String {
    format!("Bearer {ADMIN_KEY}")
}

/// Every winner of a campaign, paging to the end: (user_id, order_id).
pub(crate) async fn winners(
    client: &reqwest::Client,
    base: &str,
    campaign: &str,
) -> Vec<(String, String)> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/campaigns/{campaign}/winners?limit=1000");
        if let Some(cursor) = &after {
            url.push_str(&format!("&after={cursor}"));
        }
        let page: serde_json::Value = client
            .get(url)
            .header("authorization", admin())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for w in page["winners"].as_array().unwrap() {
            all.push((
                w["user_id"].as_str().unwrap().to_owned(),
                w["order_id"].as_str().unwrap().to_owned(),
            ));
        }
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => return all,
        }
    }
}
