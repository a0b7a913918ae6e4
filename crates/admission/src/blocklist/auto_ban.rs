//! Automatic bans: a key rejected by its rate rule more than `threshold` times within `window`
//! is banned for `ban_for`. This module only counts; the caller turns a trip into a
//! [`super::Entry`] with [`super::Origin::AutoBan`] (it knows the subject), so the ban
//! expires by itself, is listed with its reason and expiry, and can be lifted like any other.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;

/// Hard ceiling on keys tracked at once (rejected users and IPs within one window). Each costs
/// ~32 bytes; 4,000,000 is ~128 MB at worst.
pub const MAX_AUTO_BAN_TRACKED_KEYS: usize = 4_000_000;
/// Shards of the counter table: rejections come from every worker thread at once.
const SHARDS: usize = 16;

/// Which dimension a key counts in (kept apart so a user id never collides with an address).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BanKey {
    /// A user, by the secret-seeded 64-bit hash of its id.
    User(u64),
    /// A client address, by the same kind of hash.
    Ip(u64),
}

/// N, W and T of the rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutoBanConfig {
    /// Rejections tolerated within `window`; one more trips the ban.
    pub threshold: u32,
    /// The counting window.
    pub window: Duration,
    /// How long a ban lasts.
    pub ban_for: Duration,
    /// Keys tracked at most; when full, new keys are not tracked until windows expire
    /// (fail-open: their rate limit still applies, they are only not banned).
    pub max_keys: usize,
}

#[derive(Clone, Copy, Debug)]
struct Window {
    started_ms: u64,
    rejections: u32,
    tripped: bool,
}

/// The rejection counters.
#[derive(Debug)]
pub struct AutoBan {
    config: AutoBanConfig,
    shards: Vec<Mutex<HashMap<BanKey, Window>>>,
}

impl AutoBan {
    /// Counters for `config`.
    ///
    /// # Panics
    /// If `threshold` is 0, a duration is zero, or `max_keys` is 0 or above the ceiling.
    pub fn new(config: AutoBanConfig) -> Self {
        assert!(
            config.threshold > 0,
            "auto-ban threshold must be at least 1"
        );
        assert!(
            !config.window.is_zero() && !config.ban_for.is_zero(),
            "auto-ban durations must be positive"
        );
        assert!(
            (1..=MAX_AUTO_BAN_TRACKED_KEYS).contains(&config.max_keys),
            "auto-ban max_keys out of range"
        );
        Self {
            config,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// The rule.
    pub fn config(&self) -> AutoBanConfig {
        self.config
    }

    fn shard(&self, key: BanKey) -> &Mutex<HashMap<BanKey, Window>> {
        let (BanKey::User(h) | BanKey::Ip(h)) = key;
        &self.shards[(h as usize) % SHARDS]
    }

    /// Counts one rejection of `key`; returns `true` exactly once per window, when the count
    /// goes past the threshold (ban it now).
    pub fn record_rejection(&self, key: BanKey, now_ms: u64) -> bool {
        let window_ms = u64::try_from(self.config.window.as_millis()).unwrap_or(u64::MAX);
        let per_shard = (self.config.max_keys / SHARDS).max(1);
        let mut shard = self.shard(key).lock();
        if !shard.contains_key(&key) && shard.len() >= per_shard {
            shard.retain(|_, w| now_ms.saturating_sub(w.started_ms) < window_ms);
            if shard.len() >= per_shard {
                return false;
            }
        }
        let window = shard.entry(key).or_insert(Window {
            started_ms: now_ms,
            rejections: 0,
            tripped: false,
        });
        if now_ms.saturating_sub(window.started_ms) >= window_ms {
            *window = Window {
                started_ms: now_ms,
                rejections: 0,
                tripped: false,
            };
        }
        window.rejections = window.rejections.saturating_add(1);
        if window.rejections > self.config.threshold && !window.tripped {
            window.tripped = true;
            return true;
        }
        false
    }

    /// Drops counters whose window has passed (call periodically).
    pub fn sweep(&self, now_ms: u64) {
        let window_ms = u64::try_from(self.config.window.as_millis()).unwrap_or(u64::MAX);
        for shard in &self.shards {
            shard
                .lock()
                .retain(|_, w| now_ms.saturating_sub(w.started_ms) < window_ms);
        }
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(max_keys: usize) -> AutoBan {
        AutoBan::new(AutoBanConfig {
            threshold: 3,
            window: Duration::from_secs(10),
            ban_for: Duration::from_secs(60),
            max_keys,
        })
    }

    #[test]
    fn trips_once_after_threshold_within_window() {
        let bans = rule(100);
        let key = BanKey::Ip(7);
        let trips: Vec<bool> = (0..6)
            .map(|i| bans.record_rejection(key, 1_000 + i))
            .collect();
        assert_eq!(trips, [false, false, false, true, false, false]);
        // A new window counts afresh.
        assert!(!bans.record_rejection(key, 11_000));
        assert!((0..3).any(|i| bans.record_rejection(key, 11_001 + i)));
    }

    #[test]
    fn slow_offenders_are_not_banned() {
        let bans = rule(100);
        let key = BanKey::User(1);
        for i in 0..20 {
            assert!(
                !bans.record_rejection(key, i * 4_000),
                "3 per 10 s is tolerated"
            );
        }
    }

    #[test]
    fn bounded_and_fail_open_when_full() {
        let bans = rule(SHARDS * 2);
        for k in 0..1_000 {
            bans.record_rejection(BanKey::Ip(k), 0);
        }
        assert!(bans.len() <= SHARDS * 2);
        bans.sweep(20_000);
        assert!(bans.is_empty());
    }
}
