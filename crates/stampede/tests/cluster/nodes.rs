//! Three `stampede serve --journal nats` nodes on a three-server NATS JetStream cluster, for
//! the cluster's end-to-end tests.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use stampede_testkit::nats::NatsCluster;
use tempfile::TempDir;

use crate::support::{Server, admin, free_port, send_json, serve_command};

/// Shards in the test cluster: few, and a multiple of the nodes, so the leases spread two
/// to a node and each node leads some shards and follows the rest.
pub(crate) const SHARDS: u32 = 6;
/// The test cluster's lease: short, so failovers take a few seconds, yet long enough that a
/// healthy leader renews it (every third of it) on a busy 2-core machine.
pub(crate) const LEASE_MS: u64 = 2_000;
/// Longest wait for every shard to have a leader after the nodes start.
const LEADERS_WITHIN: Duration = Duration::from_secs(60);

/// The nodes and the NATS cluster under them; every process killed on drop.
pub(crate) struct Cluster {
    /// Held for its processes (killed on drop); the failure tests stop its servers.
    #[allow(dead_code)]
    pub(crate) nats: NatsCluster,
    pub(crate) nodes: Vec<Option<Server>>,
    pub(crate) ids: Vec<String>,
    _dirs: Vec<TempDir>,
}

impl Cluster {
    /// Starts NATS and three nodes, and waits until every shard has a leader; `None` after a
    /// loud SKIPPED line where no usable nats-server is installed (CI fails instead).
    pub(crate) async fn start(test: &str) -> Option<Self> {
        let nats = NatsCluster::start(test).await?;
        let urls = nats.urls().join(",");
        let mut nodes = Vec::new();
        let mut ids = Vec::new();
        let mut dirs = Vec::new();
        for i in 1..=3 {
            let dir = tempfile::tempdir().expect("a data directory");
            let id = format!("node-{i}");
            nodes.push(Some(start_node(dir.path(), &id, &urls).await));
            ids.push(id);
            dirs.push(dir);
        }
        let cluster = Self {
            nats,
            nodes,
            ids,
            _dirs: dirs,
        };
        cluster.wait_for_leaders().await;
        Some(cluster)
    }

    /// Node `i`'s base URL.
    pub(crate) fn base(&self, i: usize) -> &str {
        &self.nodes[i].as_ref().expect("a running node").base
    }

    /// `GET /v1/admin/cluster` on node `i`.
    pub(crate) async fn view(&self, i: usize) -> serde_json::Value {
        let client = reqwest::Client::new();
        send_json(
            client
                .get(format!("{}/v1/admin/cluster", self.base(i)))
                .header("authorization", admin()),
        )
        .await
    }

    /// The node that leads `shard`, as node `asking` sees it.
    pub(crate) async fn leader_of(&self, asking: usize, shard: u32) -> Option<usize> {
        let view = self.view(asking).await;
        let leader = view["shards"][shard as usize]["leader"]
            .as_str()?
            .to_owned();
        self.ids.iter().position(|id| *id == leader)
    }

    /// SIGKILL node `i`.
    pub(crate) fn kill(&mut self, i: usize) {
        if let Some(server) = self.nodes[i].take() {
            server.kill();
        }
    }

    /// Waits until every running node sees a leader for every shard, and every running node
    /// leads one (the leases have spread: nothing moves after this while every node lives).
    async fn wait_for_leaders(&self) {
        let deadline = tokio::time::Instant::now() + LEADERS_WITHIN;
        loop {
            let mut all = true;
            for i in (0..self.nodes.len()).filter(|i| self.nodes[*i].is_some()) {
                let view = self.view(i).await;
                let shards = view["shards"].as_array().cloned().unwrap_or_default();
                all &= shards.len() == SHARDS as usize
                    && shards.iter().all(|shard| shard["leader"].is_string())
                    && self.nodes.iter().zip(&self.ids).all(|(node, id)| {
                        node.is_none()
                            || shards
                                .iter()
                                .any(|shard| shard["leader"].as_str() == Some(id))
                    });
            }
            if all {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not every shard got a leader within {LEADERS_WITHIN:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// One node on `urls`.
async fn start_node(dir: &Path, id: &str, urls: &str) -> Server {
    let port = free_port();
    let mut command = serve_command(
        dir,
        port,
        &[
            "--journal",
            "nats",
            "--nats-url",
            urls,
            "--node-id",
            id,
            "--shards",
            &SHARDS.to_string(),
            "--leader-lease-ms",
            &LEASE_MS.to_string(),
            "--stream-replicas",
            "3",
            // Each test user grabs a few times within a second, across nodes.
            "--grab-rate-per-second",
            "1000",
            "--grab-rate-burst",
            "1000",
        ],
    );
    command.stderr(Stdio::inherit());
    Server::start_command(command, port).await
}
