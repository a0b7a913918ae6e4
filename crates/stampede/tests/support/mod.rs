//! Runs the real `stampede` binary for end-to-end tests.
#![allow(dead_code, missing_docs)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use stampede_engine::stopwatch;

pub(crate) mod nginx;

pub(crate) const TOKEN_SECRET: &str = "e2e-token-secret-0123456789abcdef";
pub(crate) const ADMIN_KEY: &str = "e2e-admin-key-0123456789abcdef";
/// How long a started server may take to answer /healthz (a debug build replaying a journal).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a whole `stampede bench` run may take (a debug build: start-up, its seconds of
/// load, the audit) before the test fails instead of hanging.
const BENCH_TIMEOUT: Duration = Duration::from_secs(180);
/// Pause between two looks at a condition or a child process being waited for.
const POLL_EVERY: Duration = Duration::from_millis(20);

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
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Runs `command` to its end as `Command::output` does (stdin closed, stdout and stderr
/// captured), at most `limit`: a child still running then is killed and the test fails. The pipes are drained while it runs, so a child
/// that writes a lot cannot block on a full pipe.
pub(crate) fn output_within(command: &mut Command, limit: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the child");
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = stopwatch();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll child") {
            break status;
        }
        if started.elapsed() >= limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "still running after {limit:?}; stderr: {}",
                String::from_utf8_lossy(&stderr.join().unwrap_or_default())
            );
        }
        std::thread::sleep(POLL_EVERY);
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout drained"),
        stderr: stderr.join().expect("stderr drained"),
    }
}

/// Runs a `stampede bench` command that must succeed, at most [`BENCH_TIMEOUT`]; its stdout.
pub(crate) fn bench_succeeds(command: &mut Command) -> String {
    let out = output_within(command, BENCH_TIMEOUT);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The first of `candidates` (absolute paths, or names looked up on `PATH`) that exists, or
/// `None` after a loud `SKIPPED` line naming `test` and how to `install` it. Under `CI`
/// (`.ci/run` installs every program the tests run) a missing program fails the test instead.
pub(crate) fn installed_or_skip(test: &str, candidates: &[&str], install: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = candidates.iter().find_map(|candidate| {
        let candidate = Path::new(candidate);
        if candidate.is_absolute() {
            return candidate.is_file().then(|| candidate.to_path_buf());
        }
        std::env::split_paths(&path)
            .map(|dir| dir.join(candidate))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        let why = format!("{test}: none of {candidates:?} is installed ({install})");
        assert!(std::env::var_os("CI").is_none(), "{why}");
        // Past the harness's capture, so a skipped test is seen.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("SKIPPED {why}\n").as_bytes(),
        );
    }
    found
}

/// Polls `condition` until it holds; fails the test after `limit`.
pub(crate) async fn wait_for(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Waits until the server at `base` answers `/healthz` with a success, at most
/// [`START_TIMEOUT`].
pub(crate) async fn wait_until_healthy(base: &str) {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "server did not start"
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Sends `request` and reads its body as JSON.
pub(crate) async fn send_json(request: reqwest::RequestBuilder) -> serde_json::Value {
    request
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("a JSON body")
}

impl Server {
    /// Starts `stampede serve` on `data_dir` and waits until /healthz answers.
    pub(crate) async fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let port = free_port();
        Self::start_command(serve_command(data_dir, port, extra), port).await
    }

    /// Starts `command` (a [`serve_command`] on `port`, adjusted) and waits until /healthz
    /// answers.
    pub(crate) async fn start_command(mut command: Command, port: u16) -> Server {
        let child = command.spawn().expect("spawn stampede serve");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
        };
        wait_until_healthy(&server.base).await;
        server
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
    stampede_api::mint_token(TOKEN_SECRET.as_bytes(), user, token_expiry())
}

/// An hour from now, in Unix seconds: the expiry [`token`] writes.
pub(crate) fn token_expiry() -> u64 {
    use stampede_engine::Clock as _;
    stampede_engine::SystemClock::new().now().0 / 1000 + 3_600
}

pub(crate) fn admin() -> String {
    format!("Bearer {ADMIN_KEY}")
}

/// Creates an active seckill campaign of `stock` items at 9.90 (limit 1) as the admin; its id.
pub(crate) async fn create_seckill(client: &reqwest::Client, base: &str, stock: u64) -> String {
    let created = send_json(
        client
            .post(format!("{base}/v1/campaigns"))
            .header("authorization", admin())
            .json(&serde_json::json!({
                "kind": "seckill", "name": "test sale", "stock": stock, "price_cents": 990
            })),
    )
    .await;
    created["id"]
        .as_str()
        .expect("a created campaign")
        .to_owned()
}

/// Longest [`winners`] asks a page again while it answers 503: a cluster node's durable read
/// does while it cannot reach its shard's log tip (a NATS server just died) or catch up.
const WINNERS_PATIENCE: Duration = Duration::from_secs(30);

/// Every winner of a campaign, paging to the end: (user_id, order_id). A page answered 503
/// (a durable read that could not catch up yet) is asked again, for at most
/// [`WINNERS_PATIENCE`]; any other answer without a winners list fails the test.
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
        let started = stopwatch();
        let page = loop {
            let response = client
                .get(&url)
                .header("authorization", admin())
                .send()
                .await
                .expect("request sent");
            let status = response.status();
            let page: serde_json::Value = response.json().await.expect("a JSON body");
            if status != 503 {
                break page;
            }
            assert!(
                started.elapsed() < WINNERS_PATIENCE,
                "{base}'s winners still 503 after {WINNERS_PATIENCE:?}: {page}"
            );
            tokio::time::sleep(POLL_EVERY).await;
        };
        let listed = page["winners"]
            .as_array()
            .unwrap_or_else(|| panic!("{base}: a winners page, got {page}"));
        for w in listed {
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
