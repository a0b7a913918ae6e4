//! The cluster settings (`journal = "nats"`): checked with the rest by `Config::validate`,
//! and turned into the node's own config.

use std::time::Duration;

use stampede_cluster::{ClusterName, Credentials, Names, NatsConfig, NodeId, ShardCount};

use super::validate::{in_ranges, invalid};
use super::{Config, ConfigError, JournalKind};

/// Most NATS URLs a node is given.
pub(super) const MAX_NATS_URLS: usize = 16;
/// Shortest and longest `leader_lease_ms`: under 500 ms a garbage-collection-free pause of
/// the NATS round trip can cost a healthy leader its lease; over a minute a dead leader
/// stops its shards for too long.
pub(super) const LEADER_LEASE_MS_RANGE: (u64, u64) = (500, 60_000);
/// Most `stream_replicas` (JetStream's own maximum).
pub(super) const MAX_STREAM_REPLICAS: usize = 5;

impl Config {
    /// The cluster settings, when `journal = "nats"` (the others are ignored otherwise).
    pub(super) fn validate_cluster(&self) -> Result<(), ConfigError> {
        if self.journal != JournalKind::Nats {
            return Ok(());
        }
        let urls = self.nats_urls();
        if urls.is_empty() {
            invalid("nats_url", "required with journal = \"nats\"")?;
        }
        if urls.len() > MAX_NATS_URLS {
            invalid("nats_url", format!("at most {MAX_NATS_URLS} URLs"))?;
        }
        for url in &urls {
            let rest = url.strip_prefix("nats://").unwrap_or(url);
            if rest.is_empty() || rest.contains('/') || !rest.contains(':') {
                invalid("nats_url", format!("{url:?} is not nats://host:port"))?;
            }
        }
        NodeId::parse(&self.node_id).map_err(|e| ConfigError::Invalid {
            field: "node_id",
            problem: e.to_string(),
        })?;
        ClusterName::parse(&self.cluster_name).map_err(|e| ConfigError::Invalid {
            field: "cluster_name",
            problem: e.to_string(),
        })?;
        ShardCount::new(self.shards).map_err(|e| ConfigError::Invalid {
            field: "shards",
            problem: e.to_string(),
        })?;
        in_ranges(&[
            (
                "stream_replicas",
                self.stream_replicas as u64,
                1,
                MAX_STREAM_REPLICAS as u64,
            ),
            (
                "leader_lease_ms",
                self.leader_lease_ms,
                LEADER_LEASE_MS_RANGE.0,
                LEADER_LEASE_MS_RANGE.1,
            ),
        ])?;
        if self.nats_user.is_empty() != self.nats_password.is_empty() {
            invalid("nats_password", "nats_user and nats_password go together")?;
        }
        if !self.nats_user.is_empty() && !self.nats_creds.is_empty() {
            invalid(
                "nats_creds",
                "either nats_user and nats_password, or nats_creds",
            )?;
        }
        // Every node must verify every other node's tokens and admin calls: secrets generated
        // into one node's data directory would differ from node to node.
        if self.token_secret.is_empty() {
            invalid(
                "token_secret",
                "must be set, the same on every node, with journal = \"nats\"",
            )?;
        }
        if self.admin_key.is_empty() {
            invalid(
                "admin_key",
                "must be set, the same on every node, with journal = \"nats\"",
            )?;
        }
        Ok(())
    }

    fn nats_urls(&self) -> Vec<String> {
        self.nats_url
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The node's config (`validate` passed, `journal = "nats"`).
    pub fn node(&self) -> stampede_node::NodeConfig {
        let credentials = if !self.nats_user.is_empty() {
            Credentials::UserPassword {
                user: self.nats_user.clone(),
                password: self.nats_password.clone(),
            }
        } else if !self.nats_creds.is_empty() {
            Credentials::File(self.nats_creds.clone().into())
        } else {
            Credentials::None
        };
        let node = NodeId::parse(&self.node_id).expect("validated node_id");
        let cluster = ClusterName::parse(&self.cluster_name).expect("validated cluster_name");
        stampede_node::NodeConfig {
            nats: NatsConfig {
                urls: self.nats_urls(),
                credentials,
                client_name: format!("stampede-{}", node.as_str()),
            },
            node,
            names: Names::new(cluster),
            shards: ShardCount::new(self.shards).expect("validated shards"),
            replicas: self.stream_replicas,
            lease: Duration::from_millis(self.leader_lease_ms),
            address: if self.advertise.is_empty() {
                self.listen.to_string()
            } else {
                self.advertise.clone()
            },
            guard: stampede_engine::JournalGuardConfig {
                journal_reply_timeout: Duration::from_millis(self.journal_reply_timeout_ms),
                ..stampede_engine::JournalGuardConfig::default()
            },
            rng_seed: (self.rng_seed != 0).then_some(self.rng_seed),
            snapshot_every_records: self.snapshot_every_records,
        }
    }
}
