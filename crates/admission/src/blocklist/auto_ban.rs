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
/// Minimum gap between two inline sweeps of one shard, run when a new key meets it full.
///
/// A flood of new offenders against a full shard would otherwise sweep the whole shard (up to
/// `MAX_AUTO_BAN_TRACKED_KEYS / SHARDS` = 250,000 counters) under its mutex on every
/// rejection. Ten sweeps a second per shard bound that work, as keyed rate limits bound theirs
/// ([`MIN_INLINE_EVICTION_GAP`](crate::keyed_rate::MIN_INLINE_EVICTION_GAP)); the periodic
/// [`AutoBan::sweep`] frees room within its own interval anyway.
pub const MIN_INLINE_SWEEP_GAP: Duration = Duration::from_millis(100);

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

/// One shard of the counters.
#[derive(Debug, Default)]
struct Shard {
    windows: HashMap<BanKey, Window>,
    /// When expired windows were last dropped (inline or by [`AutoBan::sweep`]), Unix ms.
    last_sweep_ms: Option<u64>,
}

impl Shard {
    /// Drops the windows that have passed.
    fn sweep(&mut self, now_ms: u64, window_ms: u64) {
        self.windows
            .retain(|_, w| now_ms.saturating_sub(w.started_ms) < window_ms);
        self.last_sweep_ms = Some(now_ms);
    }

    /// Whether an inline sweep may run: none ran within [`MIN_INLINE_SWEEP_GAP`].
    fn inline_sweep_due(&self, now_ms: u64) -> bool {
        let gap_ms = u64::try_from(MIN_INLINE_SWEEP_GAP.as_millis()).unwrap_or(u64::MAX);
        self.last_sweep_ms
            .is_none_or(|last| now_ms.saturating_sub(last) >= gap_ms)
    }
}

/// The rejection counters.
#[derive(Debug)]
pub struct AutoBan {
    config: AutoBanConfig,
    shards: Vec<Mutex<Shard>>,
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
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
        }
    }

    /// The rule.
    pub fn config(&self) -> AutoBanConfig {
        self.config
    }

    fn shard(&self, key: BanKey) -> &Mutex<Shard> {
        let (BanKey::User(h) | BanKey::Ip(h)) = key;
        &self.shards[(h as usize) % SHARDS]
    }

    /// Counts one rejection of `key`; returns `true` exactly once per window, when the count
    /// goes past the threshold (ban it now).
    ///
    /// A new key meeting a full shard first sweeps it (at most once per
    /// [`MIN_INLINE_SWEEP_GAP`]); if still full, the key is not tracked (fail-open).
    pub fn record_rejection(&self, key: BanKey, now_ms: u64) -> bool {
        let window_ms = self.window_ms();
        let per_shard = (self.config.max_keys / SHARDS).max(1);
        let mut shard = self.shard(key).lock();
        if !shard.windows.contains_key(&key) && shard.windows.len() >= per_shard {
            if shard.inline_sweep_due(now_ms) {
                shard.sweep(now_ms, window_ms);
            }
            if shard.windows.len() >= per_shard {
                return false;
            }
        }
        debug_assert!(
            shard.windows.len() <= per_shard,
            "auto-ban shard over its bound"
        );
        let window = shard.windows.entry(key).or_insert(Window {
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
        let window_ms = self.window_ms();
        for shard in &self.shards {
            shard.lock().sweep(now_ms, window_ms);
        }
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().windows.len()).sum()
    }

    fn window_ms(&self) -> u64 {
        u64::try_from(self.config.window.as_millis()).unwrap_or(u64::MAX)
    }

    #[cfg(test)]
    fn tracks(&self, key: BanKey) -> bool {
        self.shard(key).lock().windows.contains_key(&key)
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
    fn a_full_shard_is_swept_inline_at_most_once_per_gap() {
        // Two keys per shard; keys that are multiples of SHARDS share shard 0.
        let bans = rule(SHARDS * 2);
        let key = |n: u64| BanKey::Ip(n * SHARDS as u64);
        let gap = u64::try_from(MIN_INLINE_SWEEP_GAP.as_millis()).unwrap();
        bans.record_rejection(key(0), 0);
        bans.record_rejection(key(1), 500);
        // Full, and nothing has expired yet: the sweep runs and frees nothing.
        bans.record_rejection(key(2), 9_990);
        assert!(!bans.tracks(key(2)));
        // key(0)'s window has passed, but a sweep ran less than the gap ago: no sweep, and
        // the new key is still refused (the bound holds).
        let soon = 9_990 + gap / 2;
        assert!(soon >= 10_000);
        bans.record_rejection(key(3), soon);
        assert!(!bans.tracks(key(3)));
        assert!(bans.tracks(key(0)), "no sweep ran within the gap");
        // Once the gap has passed, the next new key sweeps key(0) out and takes its place.
        bans.record_rejection(key(3), 9_990 + gap);
        assert!(bans.tracks(key(3)));
        assert!(!bans.tracks(key(0)));
        assert_eq!(bans.len(), 2);
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
