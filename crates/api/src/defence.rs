//! The layered defences in front of the engine, wired from config: client address, blocklist,
//! rules (with automatic bans), degrade switches and adaptive overload protection. Every
//! decision is counted in `stampede_admission_decisions_total{layer, rule, outcome}`.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::http::{HeaderMap, HeaderValue};
use metrics::Counter;
use stampede_admission::blocklist::{
    AutoBan, AutoBanConfig, BanKey, Blocklist, Entry, ListKind, Origin, Subject, Verdict,
};
use stampede_admission::client_ip::{TrustedProxies, client_ip};
use stampede_admission::clock::SharedClock;
use stampede_admission::overload::{AdaptiveConfig, AdaptiveLimiter, AdaptivePermit, Admission};
use stampede_admission::rules::{
    Admitted, Dimension, LimiterSpec, RequestKeys, RuleError, RuleSet, RuleSpec, Stage,
};
use stampede_admission::switches::{Switch, Switches};
use stampede_admission::{retry_after_secs, rules};

use crate::config::Config;
use crate::error::AppError;
use crate::exposition::Tally;

/// File in the data directory holding the blocklist (manual entries and bans).
pub const BLOCKLIST_FILE: &str = "blocklist.json";

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

/// The blocklist's file. Written on the blocking pool, never on an async worker: a write
/// ends in two fsyncs, which would stall every grab scheduled on that worker meanwhile.
#[derive(Debug)]
struct BlocklistFile {
    path: PathBuf,
    /// Held for a whole snapshot-and-write, so two saves (the upkeep's and an admin's) never
    /// write the temporary file at once, and the file written last holds the latest snapshot.
    writing: Mutex<()>,
}

impl BlocklistFile {
    /// Snapshots the entries in force at `now_ms` and writes them atomically. Blocking.
    fn save(&self, blocklist: &Blocklist, now_ms: u64) -> std::io::Result<()> {
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let entries = blocklist.entries(now_ms);
        let bytes = serde_json::to_vec_pretty(&entries)?;
        write_atomically(&self.path, &bytes)
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

/// The rule set used when the config names none: issue 2's per-user grab limit, whose
/// rejections count toward automatic bans.
pub fn default_rules(config: &Config) -> Vec<RuleSpec> {
    vec![RuleSpec {
        name: "per-user".into(),
        dimension: Dimension::User,
        routes: vec![rules::Route::Grab],
        limiter: LimiterSpec::TokenBucket {
            rate_per_sec: config.grab_rate_per_second,
            burst: config.grab_rate_burst,
            warmup_secs: 0,
        },
        action: rules::Action::default(),
        dry_run: false,
        auto_ban: true,
        max_keys: config.max_tracked_users.min(rules::MAX_RULE_KEYS),
    }]
}

/// The rules the config asks for (the default set when it names none, none at all when
/// `rules_enabled` is false).
pub fn configured_rules(config: &Config) -> Vec<RuleSpec> {
    if !config.rules_enabled {
        Vec::new()
    } else if config.rules.is_empty() {
        default_rules(config)
    } else {
        config.rules.clone()
    }
}

impl Defence {
    /// Builds the defences for a validated config, deciding on `clock`, and loads the
    /// persisted blocklist.
    pub fn new(config: &Config, clock: SharedClock) -> anyhow::Result<Self> {
        let now_ms = clock.now().0;
        let rules = RuleSet::compile(configured_rules(config), &clock)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let trusted = TrustedProxies::parse(
            config
                .trusted_proxies
                .split(',')
                .filter(|s| !s.trim().is_empty()),
        )?;
        let adaptive = config.adaptive_overload.then(|| {
            let mut adaptive = AdaptiveConfig::default();
            if config.overload_p99_target_ms > 0 {
                adaptive.latency_target_p99 =
                    Some(Duration::from_millis(config.overload_p99_target_ms));
            }
            AdaptiveLimiter::new(adaptive, Arc::clone(&clock))
        });
        let defence = Self {
            rules: ArcSwap::from_pointee(rules),
            blocklist: Arc::new(Blocklist::new()),
            auto_ban: AutoBan::new(AutoBanConfig {
                threshold: config.auto_ban_threshold,
                window: Duration::from_secs(config.auto_ban_window_secs),
                ban_for: Duration::from_secs(config.auto_ban_secs),
                max_keys: 1_000_000,
            }),
            switches: Switches::default(),
            trusted,
            adaptive,
            clock,
            blocklist_file: Arc::new(BlocklistFile {
                path: config.data_dir.join(BLOCKLIST_FILE),
                writing: Mutex::new(()),
            }),
            dirty: AtomicBool::new(false),
            metrics: LayerMetrics::register(),
        };
        defence.apply_switches(config, "config", now_ms);
        defence.load_blocklist(now_ms)?;
        Ok(defence)
    }

    /// Sets the switches the config names (others keep their state).
    pub fn apply_switches(&self, config: &Config, who: &str, now_ms: u64) {
        for (name, on) in &config.switches {
            if let Some(switch) = Switch::from_name(name)
                && self.switches.is_on(switch) != *on
            {
                self.switches.set(switch, *on, who, now_ms);
                tracing::warn!(switch = name, on, who, "degrade switch flipped");
            }
        }
    }

    /// The client address: the peer, or X-Forwarded-For from a trusted proxy. Every line of
    /// the header is passed on (a proxy may append a line of its own), borrowed: no allocation.
    pub fn client_ip(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?.ip();
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .map(HeaderValue::as_bytes);
        Some(client_ip(peer, forwarded, &self.trusted))
    }

    /// The front door of a route: client address, blocklist by address, and the rules known
    /// before authentication. Returns the request's keys (no user yet) and the admission to
    /// hold until the response (concurrency rules count the request in flight until then).
    pub async fn front_door<'a>(
        &self,
        route: rules::Route,
        peer: Option<SocketAddr>,
        headers: &HeaderMap,
        campaign: Option<u128>,
        now_ms: u64,
    ) -> Result<(RequestKeys<'a>, Admitted), AppError> {
        let ip = self.client_ip(peer, headers);
        self.check_ip(ip, now_ms)?;
        let keys = RequestKeys {
            route,
            ip,
            user: None,
            campaign,
        };
        let admitted = self.admit(Stage::BeforeAuth, &keys, now_ms).await?;
        Ok((keys, admitted))
    }

    /// 503 `degraded` when `switch` is off.
    pub fn require_on(&self, switch: Switch) -> Result<(), AppError> {
        if self.switches.is_on(switch) {
            return Ok(());
        }
        self.metrics.switched_off.increment(1);
        Err(AppError::SwitchedOff(switch.name()))
    }

    /// 403 `blocked` for a blocked address.
    pub fn check_ip(&self, ip: Option<IpAddr>, now_ms: u64) -> Result<(), AppError> {
        let Some(ip) = ip else { return Ok(()) };
        match self.blocklist.check_ip(ip, now_ms) {
            Verdict::Blocked { reason, until_ms } => {
                self.metrics.blocked_ip.increment(1);
                Err(AppError::Blocked { reason, until_ms })
            }
            Verdict::Allowed | Verdict::Clear => Ok(()),
        }
    }

    /// 403 `blocked` for a blocked user.
    pub fn check_user(&self, user: &str, now_ms: u64) -> Result<(), AppError> {
        match self.blocklist.check_user(user, now_ms) {
            Verdict::Blocked { reason, until_ms } => {
                self.metrics.blocked_user.increment(1);
                Err(AppError::Blocked { reason, until_ms })
            }
            Verdict::Allowed | Verdict::Clear => Ok(()),
        }
    }

    /// Runs the rules of `stage`; a rejection may trip an automatic ban. Which rules run is a
    /// lookup precomputed per (route, stage) when the rules were compiled.
    pub async fn admit(
        &self,
        stage: Stage,
        keys: &RequestKeys<'_>,
        now_ms: u64,
    ) -> Result<Admitted, AppError> {
        let rules = self.rules.load();
        if !rules.applies(keys.route, stage) {
            return Ok(Admitted::default());
        }
        match rules.admit(stage, keys).await {
            Ok(admitted) => Ok(admitted),
            Err(rejection) => {
                if rejection.auto_ban {
                    self.count_toward_ban(&rules, &rejection, keys, now_ms);
                }
                let retry_after_secs = retry_after_secs(rejection.retry_after);
                Err(match rejection.code {
                    "queue_timeout" => AppError::QueueTimeout { retry_after_secs },
                    "overloaded" => AppError::Overloaded,
                    _ => AppError::RuleLimited {
                        status: rejection.status,
                        retry_after_secs,
                    },
                })
            }
        }
    }

    fn count_toward_ban(
        &self,
        rules: &RuleSet,
        rejection: &rules::Rejection,
        keys: &RequestKeys<'_>,
        now_ms: u64,
    ) {
        /// The offender, borrowed: a rejection that trips no ban allocates nothing.
        enum Offender<'k> {
            User(&'k str),
            Ip(IpAddr),
        }
        let (key, offender) = match (rejection.dimension, keys.user, keys.ip) {
            (Dimension::User, Some(user), _) => {
                (BanKey::User(rules.hash_user(user)), Offender::User(user))
            }
            (Dimension::Ip, _, Some(ip)) => (BanKey::Ip(rules.hash_ip(ip)), Offender::Ip(ip)),
            _ => return,
        };
        let verdict = match offender {
            Offender::User(user) => self.blocklist.check_user(user, now_ms),
            Offender::Ip(ip) => self.blocklist.check_ip(ip, now_ms),
        };
        if verdict == Verdict::Allowed || !self.auto_ban.record_rejection(key, now_ms) {
            return;
        }
        // The ban trips (once per window per key): only now is the entry built.
        let subject = match offender {
            Offender::User(user) => Subject::User(user.to_owned()),
            Offender::Ip(ip) => Subject::ip(ip),
        };
        let config = self.auto_ban.config();
        let entry = Entry {
            list: ListKind::Block,
            reason: format!(
                "auto-ban: rule {} rejected more than {} requests within {} s",
                rejection.rule,
                config.threshold,
                config.window.as_secs()
            ),
            subject,
            origin: Origin::AutoBan,
            created_at_ms: now_ms,
            expires_at_ms: Some(
                now_ms
                    .saturating_add(u64::try_from(config.ban_for.as_millis()).unwrap_or(u64::MAX)),
            ),
        };
        tracing::warn!(kind = entry.subject.kind(), value = %entry.subject.value(), reason = %entry.reason, "automatic ban");
        if self.blocklist.insert(entry).is_ok() {
            self.metrics.auto_bans.increment(1);
            self.dirty.store(true, Ordering::Release);
        }
    }

    /// Adaptive overload protection for the write path: a permit to hold while the engine
    /// works, or 503 `overloaded`.
    pub fn admit_write(&self) -> Result<Option<AdaptivePermit<SharedClock>>, AppError> {
        let Some(adaptive) = &self.adaptive else {
            return Ok(None);
        };
        match adaptive.try_admit() {
            Admission::Admit(permit) => Ok(Some(permit)),
            Admission::Shed { reason } => {
                match reason {
                    stampede_admission::ShedReason::Capacity => {
                        self.metrics.shed_capacity.increment(1)
                    }
                    stampede_admission::ShedReason::LatencyTarget => {
                        self.metrics.shed_latency.increment(1)
                    }
                }
                Err(AppError::Overloaded)
            }
        }
    }

    /// The rules in force, in configured order.
    pub fn rules(&self) -> Vec<RuleSpec> {
        self.rules.load().specs().cloned().collect()
    }

    /// Replaces the rules whole (validated and compiled first; on error the old stay).
    pub fn set_rules(&self, specs: Vec<RuleSpec>) -> Result<(), RuleError> {
        let mut compiled = RuleSet::compile(specs, &self.clock)?;
        compiled.carry_counts_from(&self.rules.load());
        self.rules.store(Arc::new(compiled));
        Ok(())
    }

    /// The rules in force (for rendering their decision counts and tracked keys).
    pub fn rule_set(&self) -> Arc<RuleSet> {
        self.rules.load_full()
    }

    /// `(layer, outcome, count)` of each decision of the layers that are not rules.
    pub fn layer_decision_counts(&self) -> [(&'static str, &'static str, u64); 5] {
        self.metrics.counts()
    }

    /// Adds a manual entry and persists the list before returning.
    pub async fn add_entry(&self, entry: Entry, now_ms: u64) -> Result<(), AppError> {
        self.blocklist
            .insert(entry)
            .map_err(|e| AppError::BadRequest(e.to_string()))?;
        self.save_blocklist(now_ms).await
    }

    /// Removes an entry and persists the list; whether it was there.
    pub async fn remove_entry(
        &self,
        list: ListKind,
        subject: &Subject,
        now_ms: u64,
    ) -> Result<bool, AppError> {
        let removed = self.blocklist.remove(list, subject);
        if removed {
            self.save_blocklist(now_ms).await?;
        }
        Ok(removed)
    }

    /// Every second: evict idle limiter keys, drop expired bans and counters, persist new
    /// automatic bans.
    pub async fn upkeep(&self, now_ms: u64) {
        self.rules.load().evict_idle();
        self.auto_ban.sweep(now_ms);
        if self.blocklist.sweep(now_ms) > 0 {
            self.dirty.store(true, Ordering::Release);
        }
        if self.dirty.swap(false, Ordering::AcqRel)
            && let Err(e) = self.save_blocklist(now_ms).await
        {
            tracing::error!(error = ?e, "could not persist the blocklist; will retry");
            self.dirty.store(true, Ordering::Release);
        }
    }

    fn load_blocklist(&self, now_ms: u64) -> anyhow::Result<()> {
        let path = &self.blocklist_file.path;
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let entries: Vec<Entry> =
            serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let count = entries.len();
        self.blocklist.restore(entries, now_ms)?;
        tracing::info!(
            entries = count,
            in_force = self.blocklist.len(),
            "blocklist loaded"
        );
        Ok(())
    }

    /// Persists the list as it is now, on the blocking pool (snapshot, serialisation and the
    /// fsyncs all happen there), and waits for it without holding up this worker.
    async fn save_blocklist(&self, now_ms: u64) -> Result<(), AppError> {
        let file = Arc::clone(&self.blocklist_file);
        let blocklist = Arc::clone(&self.blocklist);
        let failed = |e: &dyn std::fmt::Display| {
            AppError::Unavailable(format!("could not persist the blocklist: {e}"))
        };
        tokio::task::spawn_blocking(move || file.save(&blocklist, now_ms))
            .await
            .map_err(|e| failed(&e))?
            .map_err(|e| failed(&e))
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old or the new file: a
/// temporary file, fsync, rename, fsync of the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: u64 = 1_794_398_400_000;

    fn defence(dir: &Path, threshold: u32) -> Defence {
        let config = Config {
            data_dir: dir.to_path_buf(),
            auto_ban_threshold: threshold,
            ..Config::default()
        };
        config.validate().unwrap();
        Defence::new(
            &config,
            Arc::new(stampede_admission::ManualClock::new(
                stampede_core::UnixMillis(NOW_MS),
            )),
        )
        .unwrap()
    }

    fn saved(dir: &Path) -> Vec<Entry> {
        let text = std::fs::read_to_string(dir.join(BLOCKLIST_FILE)).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn blocked(user: &str) -> Subject {
        Subject::User(user.into())
    }

    #[tokio::test]
    async fn upkeep_persists_an_automatic_ban() {
        let dir = tempfile::tempdir().unwrap();
        let defence = defence(dir.path(), 2);
        let keys = RequestKeys {
            route: rules::Route::Grab,
            ip: None,
            user: Some("looper"),
            campaign: Some(7),
        };
        // The default per-user rule admits one; three rejections pass the threshold of 2.
        let mut admitted = Vec::new();
        for _ in 0..4 {
            let outcome = defence.admit(Stage::AfterAuth, &keys, NOW_MS).await;
            admitted.push(outcome.is_ok());
        }
        assert_eq!(admitted, [true, false, false, false]);
        assert!(!dir.path().join(BLOCKLIST_FILE).exists());
        defence.upkeep(NOW_MS).await;
        let entries = saved(dir.path());
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].subject, blocked("looper"));
        assert_eq!(entries[0].origin, Origin::AutoBan);
        assert!(entries[0].reason.contains("rule per-user"), "{entries:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn overlapping_saves_leave_the_latest_list() {
        let dir = tempfile::tempdir().unwrap();
        let defence = Arc::new(defence(dir.path(), 20));
        let mut saves = tokio::task::JoinSet::new();
        for i in 0..16 {
            let defence = Arc::clone(&defence);
            saves.spawn(async move {
                let entry = Entry {
                    list: ListKind::Block,
                    subject: blocked(&format!("user-{i}")),
                    reason: "test".into(),
                    origin: Origin::Manual,
                    created_at_ms: NOW_MS,
                    expires_at_ms: None,
                };
                defence.add_entry(entry, NOW_MS).await
            });
        }
        while let Some(saved) = saves.join_next().await {
            saved.unwrap().unwrap();
        }
        assert_eq!(saved(dir.path()).len(), 16);
        let removed = defence
            .remove_entry(ListKind::Block, &blocked("user-3"), NOW_MS)
            .await
            .unwrap();
        assert!(removed);
        let entries = saved(dir.path());
        assert_eq!(entries.len(), 15);
        assert!(entries.iter().all(|e| e.subject != blocked("user-3")));
        assert!(!dir.path().join("blocklist.tmp").exists());
    }
}
