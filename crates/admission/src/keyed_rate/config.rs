//! [`KeyedRateConfig`], the limits it may take, and why.

use std::num::NonZeroU32;
use std::time::Duration;

/// Upper bound on [`KeyedRateConfig::max_keys`].
///
/// About 36 bytes per tracked key were measured (see the module docs), so ten million keys is
/// roughly 360 MB: the most one node should spend on rate-limit state. Real traffic needs far
/// fewer, since idle keys are evicted every [`IDLE_EVICTION_INTERVAL`].
pub const MAX_TRACKED_KEYS: usize = 10_000_000;

/// How often the server should call
/// [`KeyedRateLimiter::evict_idle`](super::KeyedRateLimiter::evict_idle) in the background.
///
/// One second keeps the table close to "keys seen in the last second or so" while a full pass
/// (measured about 2 ms per million live keys, so about 20 ms at [`MAX_TRACKED_KEYS`]; see
/// `examples/bytes_per_key.rs`) stays a small fraction of one core.
pub const IDLE_EVICTION_INTERVAL: Duration = Duration::from_secs(1);

/// Minimum gap between two inline evictions run by `check` when the table is full.
///
/// A flood of new keys against a full table would otherwise run a full eviction pass on every
/// request. At most ten passes a second bounds that work (about 2% of a core per million keys)
/// while still reclaiming idle keys within a tenth of a second once they become evictable.
pub const MIN_INLINE_EVICTION_GAP: Duration = Duration::from_millis(100);

/// `retry_after` answered to a new key while the table is full.
///
/// One second is the smallest value the HTTP `Retry-After` header can express and matches
/// [`IDLE_EVICTION_INTERVAL`], after which room has most likely been made.
pub const FULL_TABLE_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Quota and memory bound of a [`KeyedRateLimiter`](super::KeyedRateLimiter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyedRateConfig {
    /// Sustained decisions allowed per second, per key.
    pub per_second: NonZeroU32,
    /// Decisions a key may make at once after being idle.
    pub burst: NonZeroU32,
    /// Most keys tracked at once; new keys beyond it are limited (see the module docs).
    /// Must be in `1..=MAX_TRACKED_KEYS`.
    pub max_keys: usize,
}

/// Why a [`KeyedRateConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyedRateConfigError {
    /// `max_keys` was zero, which would limit every key.
    #[error("max_keys must be at least 1")]
    MaxKeysZero,
    /// `max_keys` was above [`MAX_TRACKED_KEYS`].
    #[error("max_keys is {max_keys}, above the limit of {MAX_TRACKED_KEYS}")]
    MaxKeysTooLarge {
        /// The value given.
        max_keys: usize,
    },
}

impl KeyedRateConfig {
    /// Checks the bounds documented on each field.
    pub fn validate(&self) -> Result<(), KeyedRateConfigError> {
        match self.max_keys {
            0 => Err(KeyedRateConfigError::MaxKeysZero),
            max_keys if max_keys > MAX_TRACKED_KEYS => {
                Err(KeyedRateConfigError::MaxKeysTooLarge { max_keys })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(max_keys: usize) -> KeyedRateConfig {
        KeyedRateConfig {
            per_second: NonZeroU32::MIN,
            burst: NonZeroU32::MIN,
            max_keys,
        }
    }

    #[test]
    fn validate_bounds_max_keys() {
        assert_eq!(config(0).validate(), Err(KeyedRateConfigError::MaxKeysZero));
        assert_eq!(config(1).validate(), Ok(()));
        assert_eq!(config(MAX_TRACKED_KEYS).validate(), Ok(()));
        assert_eq!(
            config(MAX_TRACKED_KEYS + 1).validate(),
            Err(KeyedRateConfigError::MaxKeysTooLarge {
                max_keys: MAX_TRACKED_KEYS + 1
            })
        );
    }
}
