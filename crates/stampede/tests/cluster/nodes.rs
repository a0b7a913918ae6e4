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

/// One cluster at a time in this test binary: each is three nats-servers and three or four
/// nodes, and two at once on a 2-core machine time each other's failovers out.
static ONE_AT_A_TIME: std::sync::LazyLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
    std::sync::LazyLock::new(Default::default);

/// The nodes and the NATS cluster under them; every process killed on drop.
pub(crate) struct Cluster {
    /// Held while the cluster lives ([`ONE_AT_A_TIME`]); dropped after the processes.
    _turn: tokio::sync::OwnedMutexGuard<()>,
    /// Held for its processes (killed on drop); the failure tests stop its servers.
    #[allow(dead_code)]
    pub(crate) nats: NatsCluster,
    pub(crate) nodes: Vec<Option<Server>>,
    pub(crate) ids: Vec<String>,
    dirs: Vec<TempDir>,
    /// Flags every node gets on top of the cluster's own.
    extra: Vec<String>,
}

impl Cluster {
    /// Starts NATS and three nodes, and waits until every shard has a leader; `None` after a
    /// loud SKIPPED line where no usable nats-server is installed (CI fails instead).
    pub(crate) async fn start(test: &str) -> Option<Self> {
        Self::start_with(test, &[]).await
    }

    /// [`Cluster::start`], each node with `extra` flags too.
    pub(crate) async fn start_with(test: &str, extra: &[&str]) -> Option<Self> {
        let turn = std::sync::Arc::clone(&ONE_AT_A_TIME).lock_owned().await;
        let nats = NatsCluster::start(test).await?;
        let mut cluster = Self {
            _turn: turn,
            nats,
            nodes: Vec::new(),
            ids: Vec::new(),
            dirs: Vec::new(),
            extra: extra.iter().map(|flag| (*flag).to_owned()).collect(),
        };
        for _ in 0..3 {
            cluster.add_node().await;
        }
        cluster.wait_for_leaders().await;
        Some(cluster)
    }

    /// Starts one more node (`node-<n>`); answers its index.
    pub(crate) async fn add_node(&mut self) -> usize {
        let dir = tempfile::tempdir().expect("a data directory");
        let id = format!("node-{}", self.nodes.len() + 1);
        let node = start_node(dir.path(), &id, &self.nats.urls().join(","), &self.extra).await;
        self.nodes.push(Some(node));
        self.ids.push(id);
        self.dirs.push(dir);
        self.nodes.len() - 1
    }

    /// Starts node `i` again (after [`Cluster::kill`]), on its data directory.
    pub(crate) async fn restart(&mut self, i: usize) {
        assert!(self.nodes[i].is_none(), "node {i} is running");
        let urls = self.nats.urls().join(",");
        let node = start_node(self.dirs[i].path(), &self.ids[i], &urls, &self.extra).await;
        self.nodes[i] = Some(node);
    }

    /// Node `i`'s data directory.
    pub(crate) fn dir(&self, i: usize) -> &Path {
        self.dirs[i].path()
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

    /// The shard of `campaign` and the node leading it, as node 0 sees it.
    pub(crate) async fn campaign_leader(&self, campaign: &str) -> (u32, usize) {
        let id = stampede_core::CampaignId::parse(campaign).expect("a campaign id");
        let shard = stampede_core::shard_index(id, SHARDS);
        let leader = self.leader_of(0, shard).await;
        (shard, leader.expect("the shard has a leader"))
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

/// One node on `urls`, with `extra` flags.
async fn start_node(dir: &Path, id: &str, urls: &str, extra: &[String]) -> Server {
    let port = free_port();
    let shards = SHARDS.to_string();
    let lease = LEASE_MS.to_string();
    let mut flags = vec![
        "--journal",
        "nats",
        "--nats-url",
        urls,
        "--node-id",
        id,
        "--shards",
        &shards,
        "--leader-lease-ms",
        &lease,
        "--stream-replicas",
        "3",
        // Correctness, not latency: a commit slower than the default 250 ms (three nats-servers
        // fsyncing on a loaded 2-core machine) must not turn a grab into `degraded`. Not much
        // longer either: a command forwarded to a leader that just died waits this long (plus
        // a second) before it is answered `degraded`, which would stall the failure tests'
        // clients through the whole failover.
        "--journal-reply-timeout-ms",
        "1500",
        // Each test user grabs a few times within a second, across nodes.
        "--grab-rate-per-second",
        "1000",
        "--grab-rate-burst",
        "1000",
    ];
    flags.extend(extra.iter().map(String::as_str));
    let mut command = serve_command(dir, port, &flags);
    command.stderr(Stdio::inherit());
    Server::start_command(command, port).await
}
