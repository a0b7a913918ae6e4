//! [`SimChannelConfig`]: how the simulated channel misbehaves, and the bounds on it.

use serde::{Deserialize, Serialize};
use stampede_core::ChannelName;

/// Parts per million: every `*_rate_ppm` is at most this (always).
pub(crate) const PPM: u32 = 1_000_000;

/// Longest configurable delay of the simulator (`latency_ms`, `pay_delay_ms`,
/// `late_delay_ms`): an hour. A longer one outlives any payment window, so it is a typo.
pub const MAX_SIM_DELAY_MS: u64 = 3_600_000;

/// The simulated channel's configuration (the `[[channels]]` entry of kind `sim`). Every field
/// has a default, so `{}` is a well-behaved channel named `sim` whose customers pay after
/// 50 ms and whose callbacks always arrive once.
///
/// Rates are integer parts per million (`1_000_000` = always): a rate is not money, but
/// integers keep a seeded run identical on every platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimChannelConfig {
    /// The channel's name (`[a-z0-9_-]`, 1 to 32 bytes), checked where the config is read.
    pub name: ChannelName,
    /// The router's weight for this channel (1 to 10,000): its share of new payments while
    /// healthy.
    pub weight: u32,
    /// Seed of the channel's random decisions.
    pub seed: u64,
    /// How long each `pay`, `query` and `refund` call takes, in milliseconds.
    pub latency_ms: u64,
    /// Calls answering `Unavailable` (the channel is down or timed out), in ppm.
    pub failure_rate_ppm: u32,
    /// Whether the simulated customer pays after `pay` (else only the test hooks pay).
    pub auto_pay: bool,
    /// How long after `pay` the customer pays, in milliseconds.
    pub pay_delay_ms: u64,
    /// Customers who never pay, in ppm of `pay` calls.
    pub decline_rate_ppm: u32,
    /// Callbacks delivered twice (the channel retries), in ppm of payments.
    pub duplicate_callback_rate_ppm: u32,
    /// Customers who pay twice (a second transaction with its own id), in ppm of payments.
    pub duplicate_payment_rate_ppm: u32,
    /// Callbacks delivered only `late_delay_ms` after the payment, in ppm of payments.
    pub late_rate_ppm: u32,
    /// Extra delay of a late callback, in milliseconds.
    pub late_delay_ms: u64,
    /// Payments whose callback is never delivered (only `query` finds them), in ppm.
    pub drop_callback_rate_ppm: u32,
    /// The HMAC-SHA256 secret of this channel's signed HTTP callbacks, checked by the HTTP
    /// edge (at least [`MIN_CHANNEL_SECRET_BYTES`]; empty: the server reads or generates one
    /// per channel in its data directory). Each channel has its own, so a callback signed for
    /// one channel is refused on another. The simulator itself delivers its callbacks in
    /// process and signs nothing.
    pub secret: String,
}

/// Shortest configured channel `secret`: 16 bytes, as for the token secret.
pub const MIN_CHANNEL_SECRET_BYTES: usize = 16;

impl Default for SimChannelConfig {
    fn default() -> Self {
        Self {
            name: ChannelName::parse("sim").expect("a valid channel name"),
            weight: 100,
            seed: 0,
            latency_ms: 0,
            failure_rate_ppm: 0,
            auto_pay: true,
            pay_delay_ms: 50,
            decline_rate_ppm: 0,
            duplicate_callback_rate_ppm: 0,
            duplicate_payment_rate_ppm: 0,
            late_rate_ppm: 0,
            late_delay_ms: 5_000,
            drop_callback_rate_ppm: 0,
            secret: String::new(),
        }
    }
}

/// A [`SimChannelConfig`] field out of range; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sim channel config: `{field}` {problem}")]
pub struct SimChannelConfigError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl SimChannelConfig {
    /// Checks every field's range; the error names the first field at fault.
    pub fn validate(&self) -> Result<(), SimChannelConfigError> {
        let fail = |field, problem| Err(SimChannelConfigError { field, problem });
        if !self.secret.is_empty() && self.secret.len() < MIN_CHANNEL_SECRET_BYTES {
            return fail(
                "secret",
                "must be at least 16 bytes (or empty to generate one)",
            );
        }
        if !(1..=10_000).contains(&self.weight) {
            return fail("weight", "must be between 1 and 10000");
        }
        let delays = [
            ("latency_ms", self.latency_ms),
            ("pay_delay_ms", self.pay_delay_ms),
            ("late_delay_ms", self.late_delay_ms),
        ];
        for (field, delay) in delays {
            if delay > MAX_SIM_DELAY_MS {
                return fail(field, "must be at most MAX_SIM_DELAY_MS (3,600,000)");
            }
        }
        let rates = [
            ("failure_rate_ppm", self.failure_rate_ppm),
            ("decline_rate_ppm", self.decline_rate_ppm),
            (
                "duplicate_callback_rate_ppm",
                self.duplicate_callback_rate_ppm,
            ),
            (
                "duplicate_payment_rate_ppm",
                self.duplicate_payment_rate_ppm,
            ),
            ("late_rate_ppm", self.late_rate_ppm),
            ("drop_callback_rate_ppm", self.drop_callback_rate_ppm),
        ];
        for (field, rate) in rates {
            if rate > PPM {
                return fail(field, "must be at most 1,000,000 (parts per million)");
            }
        }
        Ok(())
    }
}
