//! The rules and the blocklist as the admin API and the upkeep change them; the blocklist is
//! persisted on the blocking pool.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use stampede_admission::blocklist::{Entry, ListKind, Subject};
use stampede_admission::rules::{RuleError, RuleSet, RuleSpec};

use super::Defence;
use crate::error::AppError;

impl Defence {
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

    pub(super) fn load_blocklist(&self, now_ms: u64) -> anyhow::Result<()> {
        let count = self.blocklist_file.load(&self.blocklist, now_ms)?;
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
#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use stampede_admission::blocklist::{AutoBanConfig, Origin};
    use stampede_admission::rules::{self, RequestKeys, Stage};

    use super::*;
    use crate::defence::{BLOCKLIST_FILE, DefenceConfig};

    const NOW_MS: u64 = 1_794_398_400_000;

    fn defence(dir: &Path, threshold: u32) -> Defence {
        let config = DefenceConfig {
            rules: vec![per_user_rule()],
            trusted_proxies: Default::default(),
            adaptive: None,
            auto_ban: AutoBanConfig {
                threshold,
                window: Duration::from_secs(10),
                ban_for: Duration::from_secs(300),
                max_keys: 1_000,
            },
            blocklist_file: dir.join(BLOCKLIST_FILE),
            switches: Default::default(),
        };
        let clock = stampede_admission::ManualClock::new(stampede_core::UnixMillis(NOW_MS));
        Defence::new(config, Arc::new(clock)).unwrap()
    }

    /// The default per-user grab rule: one a second, burst one, counting toward bans.
    fn per_user_rule() -> RuleSpec {
        RuleSpec {
            name: "per-user".into(),
            dimension: rules::Dimension::User,
            routes: vec![rules::Route::Grab],
            limiter: rules::LimiterSpec::TokenBucket {
                rate_per_sec: 1,
                burst: 1,
                warmup_secs: 0,
            },
            action: rules::Action::default(),
            dry_run: false,
            auto_ban: true,
            max_keys: 1_000,
        }
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
