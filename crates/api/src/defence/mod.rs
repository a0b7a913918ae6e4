//! The layered defences in front of the engine: client address, blocklist, rules (with
//! automatic bans), degrade switches and adaptive overload protection, built from a
//! [`DefenceConfig`]. Every decision is counted in
//! `stampede_admission_decisions_total{layer, rule, outcome}`.
//!
//! - this file: the [`Defence`] and how it is built;
//! - `checks`: the checks a request meets, in order (front door, token holder, rules, write
//!   admission);
//! - `lists`: the rules and the blocklist as the admin API and the upkeep change them.

mod checks;
mod lists;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use arc_swap::ArcSwap;
use metrics::Counter;
use stampede_admission::blocklist::{AutoBan, AutoBanConfig, Blocklist, BlocklistFile};
use stampede_admission::client_ip::TrustedProxies;
use stampede_admission::clock::{Clock as _, SharedClock};
use stampede_admission::overload::{AdaptiveConfig, AdaptiveLimiter};
use stampede_admission::rules::{RuleSet, RuleSpec};
use stampede_admission::switches::{Switch, Switches};

use crate::tally::Tally;

/// File in the data directory holding the blocklist (manual entries and bans).
pub const BLOCKLIST_FILE: &str = "blocklist.json";

/// What the defences are built from (the server's config, validated).
#[derive(Clone, Debug)]
pub struct DefenceConfig {
    /// The admission rules in force at start.
    pub rules: Vec<RuleSpec>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
    /// Adaptive overload protection of the write path, if on.
    pub adaptive: Option<AdaptiveConfig>,
    /// Automatic bans for rules with `auto_ban`.
    pub auto_ban: AutoBanConfig,
    /// Where the blocklist is kept.
    pub blocklist_file: PathBuf,
    /// Degrade switches to set at start (by name; unlisted ones are on).
    pub switches: BTreeMap<String, bool>,
}

/// The fixed layers' decision counters. Rendered at each scrape with the rules' own counts
/// into `stampede_admission_decisions_total` ([`crate::exposition`]), so that family comes
/// from one place and a replaced rule's series leave it.
struct LayerMetrics {
    blocked_ip: Tally,
    blocked_user: Tally,
    switched_off: Tally,
    shed_capacity: Tally,
    shed_latency: Tally,
    auto_bans: Counter,
}

impl LayerMetrics {
    fn register() -> Self {
        Self {
            blocked_ip: Tally::default(),
            blocked_user: Tally::default(),
            switched_off: Tally::default(),
            shed_capacity: Tally::default(),
            shed_latency: Tally::default(),
            auto_bans: metrics::counter!("stampede_auto_bans_total"),
        }
    }

    /// `(layer, outcome, count)` of each fixed layer's decisions.
    fn counts(&self) -> [(&'static str, &'static str, u64); 5] {
        [
            ("blocklist", "blocked_ip", self.blocked_ip.get()),
            ("blocklist", "blocked_user", self.blocked_user.get()),
            ("switch", "off", self.switched_off.get()),
            ("overload", "shed_capacity", self.shed_capacity.get()),
            ("overload", "shed_latency", self.shed_latency.get()),
        ]
    }
}

/// Every defence, shared by the handlers.
pub struct Defence {
    rules: ArcSwap<RuleSet>,
    /// Block and allow lists (persisted in `blocklist.json`); shared with the blocking task
    /// that writes the file.
    pub blocklist: Arc<Blocklist>,
    auto_ban: AutoBan,
    /// Degrade switches.
    pub switches: Switches,
    trusted: TrustedProxies,
    adaptive: Option<AdaptiveLimiter<SharedClock>>,
    /// The clock every limiter decides on (rules compiled later too).
    clock: SharedClock,
    blocklist_file: Arc<BlocklistFile>,
    dirty: AtomicBool,
    metrics: LayerMetrics,
}

impl std::fmt::Debug for Defence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Defence")
            .field("blocklist", &self.blocklist.len())
            .finish_non_exhaustive()
    }
}

impl Defence {
    /// Builds the defences, deciding on `clock`, and loads the persisted blocklist.
    pub fn new(config: DefenceConfig, clock: SharedClock) -> anyhow::Result<Self> {
        let now_ms = clock.now().0;
        let rules = RuleSet::compile(config.rules, &clock).map_err(|e| anyhow::anyhow!("{e}"))?;
        let adaptive = config
            .adaptive
            .map(|adaptive| AdaptiveLimiter::new(adaptive, Arc::clone(&clock)));
        let defence = Self {
            rules: ArcSwap::from_pointee(rules),
            blocklist: Arc::new(Blocklist::new()),
            auto_ban: AutoBan::new(config.auto_ban),
            switches: Switches::default(),
            trusted: config.trusted_proxies,
            adaptive,
            clock,
            blocklist_file: Arc::new(BlocklistFile::new(config.blocklist_file)),
            dirty: AtomicBool::new(false),
            metrics: LayerMetrics::register(),
        };
        defence.apply_switches(&config.switches, "config", now_ms);
        defence.load_blocklist(now_ms)?;
        Ok(defence)
    }

    /// Sets the switches named in `switches` (others keep their state).
    pub fn apply_switches(&self, switches: &BTreeMap<String, bool>, who: &str, now_ms: u64) {
        for (name, on) in switches {
            if let Some(switch) = Switch::from_name(name)
                && self.switches.is_on(switch) != *on
            {
                self.switches.set(switch, *on, who, now_ms);
                tracing::warn!(switch = name, on, who, "degrade switch flipped");
            }
        }
    }
}
