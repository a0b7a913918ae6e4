//! The config in sections: each component gets its own small config, derived here from the
//! one [`Config`] the operator writes (one flat TOML file, so nothing an operator sees
//! changes), so no component below the server knows the config file exists.

use std::time::Duration;

use stampede_admission::blocklist::AutoBanConfig;
use stampede_admission::client_ip::TrustedProxies;
use stampede_admission::overload::AdaptiveConfig;
use stampede_admission::rules::{self, Dimension, LimiterSpec, RuleSpec};
use stampede_api::HttpSettings;
use stampede_api::body_read::BodyPace;
use stampede_api::defence::{BLOCKLIST_FILE, DefenceConfig};
use stampede_engine::EngineConfig;
use stampede_money::DeskConfig;

use crate::accept::ServerLimits;
use crate::config::Config;

/// The journal's file inside the data directory.
pub const JOURNAL_FILE: &str = "journal.log";

/// Where a cluster node keeps the books of `shard`'s simulated payment channels:
/// `<data-dir>/shard-<shard, 2 digits or more>/`.
pub fn shard_books_dir(data_dir: &std::path::Path, shard: u32) -> std::path::PathBuf {
    data_dir.join(format!("shard-{shard:02}"))
}

/// Most automatic-ban counters kept (one per offending user or address within the window):
/// bounded like every table keyed by a client; when full, new offenders are not counted.
const MAX_AUTO_BAN_KEYS: usize = 1_000_000;

impl Config {
    /// The engine's section: the journal, its durability, the RNG seed.
    pub fn engine(&self) -> EngineConfig {
        EngineConfig {
            journal_path: self.data_dir.join(JOURNAL_FILE),
            durability: self.durability.into(),
            rng_seed: (self.rng_seed != 0).then_some(self.rng_seed),
            snapshot_every_records: self.snapshot_every_records,
        }
    }

    /// The defences' section.
    ///
    /// # Errors
    /// `trusted_proxies` does not parse (validated configs always do).
    pub fn defence(&self) -> anyhow::Result<DefenceConfig> {
        let adaptive = self.adaptive_overload.then(|| {
            let mut adaptive = AdaptiveConfig::default();
            if self.overload_p99_target_ms > 0 {
                adaptive.latency_target_p99 =
                    Some(Duration::from_millis(self.overload_p99_target_ms));
            }
            adaptive
        });
        Ok(DefenceConfig {
            rules: self.configured_rules(),
            trusted_proxies: self.trusted_proxies()?,
            adaptive,
            auto_ban: AutoBanConfig {
                threshold: self.auto_ban_threshold,
                window: Duration::from_secs(self.auto_ban_window_secs),
                ban_for: Duration::from_secs(self.auto_ban_secs),
                max_keys: MAX_AUTO_BAN_KEYS,
            },
            blocklist_file: self.data_dir.join(BLOCKLIST_FILE),
            switches: self.switches.clone(),
        })
    }

    /// How long the simulated payout provider takes to pay out.
    pub fn payout_latency(&self) -> Duration {
        Duration::from_millis(self.payout_latency_ms)
    }

    /// The payment desk's section.
    pub fn desk(&self) -> DeskConfig {
        DeskConfig {
            channels: self.payment_channels(),
            books_dir: self.data_dir.clone(),
            call_timeout: Duration::from_millis(self.payment_call_timeout_ms),
            query_after: Duration::from_secs(self.payment_query_after_secs),
            rng_seed: self.rng_seed,
            txn_scope: None,
        }
    }

    /// A cluster node's payment desk for `shard`: its channels keep their books in the
    /// shard's own directory ([`shard_books_dir`]: one node runs a desk per shard, and two
    /// desks must never share a books file), and mint transaction ids scoped to this node and
    /// shard (`<channel>-<node>.s<shard>-<n>`), unique across the cluster's desks.
    pub fn shard_desk(&self, shard: u32) -> DeskConfig {
        DeskConfig {
            books_dir: shard_books_dir(&self.data_dir, shard),
            txn_scope: Some(format!("{}.s{shard}", self.node_id)),
            ..self.desk()
        }
    }

    /// The HTTP layer's section.
    pub fn http(&self) -> HttpSettings {
        HttpSettings {
            idempotency_max_entries: self.idempotency_max_entries,
            idempotency_ttl: Duration::from_secs(self.idempotency_ttl_secs),
            max_in_flight: self.max_in_flight,
            body_pace: BodyPace {
                timeout: Duration::from_secs(self.body_read_timeout_secs),
                min_bytes_per_sec: self.body_read_min_bytes_per_sec,
            },
            access_log_every: self.access_log_every,
            rng_seed: (self.rng_seed != 0).then_some(self.rng_seed),
        }
    }

    /// The accept loop's section.
    ///
    /// # Errors
    /// `trusted_proxies` does not parse (validated configs always do).
    pub fn limits(&self) -> anyhow::Result<ServerLimits> {
        Ok(ServerLimits {
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            trusted_proxies: self.trusted_proxies()?,
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
        })
    }

    /// The rules the config asks for: its `[[rules]]`, or the default set when it names none,
    /// or none at all when `rules_enabled` is false.
    pub fn configured_rules(&self) -> Vec<RuleSpec> {
        if !self.rules_enabled {
            Vec::new()
        } else if self.rules.is_empty() {
            self.default_rules()
        } else {
            self.rules.clone()
        }
    }

    /// The rule set used when the config names none: one per-user grab limit
    /// (`grab_rate_*`) whose rejections count toward automatic bans.
    pub fn default_rules(&self) -> Vec<RuleSpec> {
        vec![RuleSpec {
            name: "per-user".into(),
            dimension: Dimension::User,
            routes: vec![rules::Route::Grab],
            limiter: LimiterSpec::TokenBucket {
                rate_per_sec: self.grab_rate_per_second,
                burst: self.grab_rate_burst,
                warmup_secs: 0,
            },
            action: rules::Action::default(),
            dry_run: false,
            auto_ban: true,
            max_keys: self.max_tracked_users.min(rules::MAX_RULE_KEYS),
        }]
    }

    fn trusted_proxies(&self) -> anyhow::Result<TrustedProxies> {
        Ok(TrustedProxies::parse(
            self.trusted_proxies
                .split(',')
                .filter(|s| !s.trim().is_empty()),
        )?)
    }
}
