//! A JetStream cluster of three `nats-server` processes on loopback ports, for tests.
//!
//! Each server has its own store directory (in one temporary directory) and a generated
//! config file with `sync_interval: always` (every write is fsynced before it is
//! acknowledged, as in production), and routes to the other two. [`NatsCluster::start`]
//! returns once the JetStream meta leader is elected (polled, never a fixed sleep). Dropping
//! the cluster kills every server by its PID (during a panic's unwinding too) and removes the
//! directory.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::server_binary;

/// Servers in the test cluster: the smallest that keeps a quorum with one down.
pub const SERVERS: usize = 3;
/// Longest wait for the cluster to elect a JetStream meta leader: a cold start on a loaded
/// 2-core machine takes a few seconds; past this the test fails naming the server logs.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Most attempts at starting a cluster before the test fails.
const START_ATTEMPTS: usize = 3;
/// Pause between readiness polls.
const POLL_EVERY: Duration = Duration::from_millis(50);

/// One server of the cluster.
struct Server {
    name: String,
    client_port: u16,
    config: PathBuf,
    log: PathBuf,
    process: Option<Child>,
}

/// A running three-server JetStream cluster; killed on drop.
pub struct NatsCluster {
    binary: PathBuf,
    servers: Vec<Server>,
    dir: TempDir,
}

impl NatsCluster {
    /// Starts the cluster and waits until JetStream answers on every server, or answers
    /// `None` after saying loudly on stderr why the calling test is skipped (no usable
    /// `nats-server`; under CI, where `.ci/run` installs it, that fails the test instead).
    ///
    /// # Panics
    /// If no cluster is ready after [`START_ATTEMPTS`] attempts of [`READY_TIMEOUT`] each.
    pub async fn start(test: &str) -> Option<Self> {
        let binary = match server_binary::find() {
            Ok(binary) => binary,
            // CI installs the server (.ci/run): there a missing one is a broken install,
            // not a reason to pass without testing.
            Err(why) if std::env::var_os("CI").is_some() => panic!("{test}: {why}"),
            Err(why) => {
                // Straight to the process's stderr: the test harness captures `eprintln!`
                // of passing tests, and a skip must be seen.
                let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
                return None;
            }
        };
        // A server that cannot bind the port it was given (another process took it between
        // `free_ports` and the server's bind) or a cluster that does not form in time is
        // started again on fresh ports, a bounded number of times.
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match Self::launch(&binary).await {
                Ok(cluster) => return Some(cluster),
                Err(why) => {
                    let _ = writeln!(
                        std::io::stderr(),
                        "{test}: cluster start failed, retrying: {why}"
                    );
                    failures.push(why);
                }
            }
        }
        panic!(
            "{test}: no JetStream cluster after {START_ATTEMPTS} attempts:\n{}",
            failures.join("\n")
        );
    }

    /// One attempt: three servers on fresh ports, ready or an error with their logs.
    async fn launch(binary: &std::path::Path) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("stampede-nats-")
            .tempdir()
            .expect("temporary directory");
        let ports = free_ports(2 * SERVERS);
        let cluster_ports = &ports[SERVERS..];
        let mut servers = Vec::with_capacity(SERVERS);
        for index in 0..SERVERS {
            let name = format!("n{}", index + 1);
            let store = dir.path().join(&name);
            fs::create_dir_all(&store).expect("store directory");
            let routes = cluster_ports
                .iter()
                .enumerate()
                .filter(|(other, _)| *other != index)
                .fold(String::new(), |mut out, (_, port)| {
                    let _ = write!(out, "nats-route://127.0.0.1:{port}, ");
                    out
                });
            let config = format!(
                "server_name: {name}\nlisten: 127.0.0.1:{client}\n\
                 jetstream {{\n  store_dir: \"{store}\"\n  sync_interval: always\n}}\n\
                 cluster {{\n  name: stampede-test\n  listen: 127.0.0.1:{route}\n  \
                 routes: [{routes}]\n}}\n",
                client = ports[index],
                store = store.display(),
                route = cluster_ports[index],
            );
            let config_path = dir.path().join(format!("{name}.conf"));
            fs::write(&config_path, config).expect("server config");
            servers.push(Server {
                log: dir.path().join(format!("{name}.log")),
                name,
                client_port: ports[index],
                config: config_path,
                process: None,
            });
        }
        let mut cluster = Self {
            binary: binary.to_path_buf(),
            servers,
            dir,
        };
        for index in 0..SERVERS {
            cluster.spawn(index);
        }
        cluster.wait_ready().await?;
        Ok(cluster)
    }

    /// `nats://` URLs of every server.
    pub fn urls(&self) -> Vec<String> {
        (0..self.servers.len())
            .map(|index| self.url(index))
            .collect()
    }

    /// The URL of one server.
    pub fn url(&self, index: usize) -> String {
        format!("nats://127.0.0.1:{}", self.servers[index].client_port)
    }

    /// SIGKILLs server `index` (no goodbye to its peers) and reaps it.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.servers[index].process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts server `index` again on its port and store directory.
    pub fn restart(&mut self, index: usize) {
        assert!(
            self.servers[index].process.is_none(),
            "server still running"
        );
        self.spawn(index);
    }

    /// The index of the server leading JetStream stream `stream` (its Raft group's leader),
    /// as a running server answers; `None` if no running server can tell.
    pub async fn stream_leader(&self, stream: &str) -> Option<usize> {
        for index in (0..self.servers.len()).filter(|i| self.servers[*i].process.is_some()) {
            let options = async_nats::ConnectOptions::new()
                .connection_timeout(Duration::from_secs(1))
                .request_timeout(Some(Duration::from_secs(1)));
            let Ok(client) = options.connect(self.url(index)).await else {
                continue;
            };
            let Ok(mut found) = async_nats::jetstream::new(client).get_stream(stream).await else {
                continue;
            };
            let Ok(info) = found.info().await else {
                continue;
            };
            let leader = info
                .cluster
                .as_ref()
                .and_then(|cluster| cluster.leader.clone());
            if let Some(leader) = leader {
                return self.servers.iter().position(|server| server.name == leader);
            }
        }
        None
    }

    /// The last lines of every server's log, for failure messages.
    pub fn log_tails(&self) -> String {
        let mut out = String::new();
        for server in &self.servers {
            let text = fs::read_to_string(&server.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(15)..];
            let _ = writeln!(out, "--- {} ---\n{}", server.name, tail.join("\n"));
        }
        out
    }

    fn spawn(&mut self, index: usize) {
        let server = &mut self.servers[index];
        let log = fs::File::create(&server.log).expect("server log file");
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&server.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn nats-server");
        server.process = Some(child);
    }

    /// Polls every running server until its JetStream answers an account query, which needs
    /// an elected meta leader; an error (with the servers' logs) if one exits or the cluster
    /// is not ready within [`READY_TIMEOUT`].
    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        for index in 0..SERVERS {
            loop {
                if self.jetstream_answers(index).await {
                    break;
                }
                let exited = self.servers.iter_mut().any(|server| {
                    server
                        .process
                        .as_mut()
                        .is_some_and(|child| child.try_wait().ok().flatten().is_some())
                });
                if exited || tokio::time::Instant::now() >= deadline {
                    let why = if exited {
                        "a server exited".to_owned()
                    } else {
                        format!("not ready within {READY_TIMEOUT:?}")
                    };
                    return Err(format!(
                        "{why} in {}:\n{}",
                        self.dir.path().display(),
                        self.log_tails()
                    ));
                }
                tokio::time::sleep(POLL_EVERY).await;
            }
        }
        Ok(())
    }

    async fn jetstream_answers(&self, index: usize) -> bool {
        let options = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(1))
            .request_timeout(Some(Duration::from_secs(1)));
        let Ok(client) = options.connect(self.url(index)).await else {
            return false;
        };
        async_nats::jetstream::new(client)
            .query_account()
            .await
            .is_ok()
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for index in 0..self.servers.len() {
            self.kill(index);
        }
    }
}

/// `count` distinct loopback ports that were free a moment ago (bound together, then
/// released for the servers to take).
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a loopback port"))
        .collect();
    listeners
        .iter()
        .map(|listener| listener.local_addr().expect("local address").port())
        .collect()
}
