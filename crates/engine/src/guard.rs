//! The journal's circuit breaker: a stalled or failing disk makes requests that
//! need the writer answer [`EngineError::Degraded`] within `journal_reply_timeout` instead of
//! piling up behind an fsync that does not return, and the breaker closes again once probes
//! find the disk answering.
//!
//! How a writer-bound request flows (see [`crate::Engine::grab`]):
//! 1. `JournalGuard::admit`: the breaker refuses at once while open (no command enters the
//!    writer queue), or hands out a permit.
//! 2. The command is queued; `JournalGuard::await_reply` waits for the writer's reply at
//!    most `journal_reply_timeout`, and records the call on the permit: a reply is a success
//!    (the breaker marks it slow itself when it took `slow_call_threshold` or more), a timeout
//!    or a journal failure is a failure.
//!
//! `degraded` means "outcome unknown, a retry is safe". The writer skips a command whose
//! requester already gave up (its reply receiver is closed), so most timed-out grabs are never
//! decided. One race remains: a grab decided just before its requester timed out stands once
//! its batch is durable; the requester was told `degraded`, and its retry answers
//! `already_won` (with a per-user limit above one, a retry without a key may win a second
//! item: the first was never answered). Never more wins than the limit: the one writer
//! decides it. A grab carrying an `Idempotency-Key` keeps its reply receiver past the timeout
//! ([`crate::Engine::grab_keeping_late_outcome`]), so its command is always decided and the
//! API stores what it came to for the key's retry.
//!
//! Time for the breaker comes from the admission crate's monotonic [`Clock`], kept apart from
//! the engine's business clock (unix milliseconds for campaign windows and orders). The reply
//! timeout runs on tokio's clock.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use stampede_admission::breaker::{
    BreakerConfig, BreakerConfigError, BreakerState, CallOutcome, CallPermit, CircuitBreaker,
};
use stampede_admission::clock::{Clock, SystemClock};
use tokio::sync::oneshot;
use tokio::time::timeout;

use crate::error::EngineError;

/// Default [`JournalGuardConfig::journal_reply_timeout`]: 250 ms. A healthy batch (decide plus
/// one fsync) takes a few milliseconds; a hundred times that is a disk in trouble (an fsync
/// under heavy load on a shared disk was seen at ~2 ms here), and a user still gets an answer
/// well inside a second. Only the first `min_calls` grabs of an outage wait this long: then the
/// breaker opens and the rest are answered at once.
pub const DEFAULT_JOURNAL_REPLY_TIMEOUT: Duration = Duration::from_millis(250);

/// Longest allowed `journal_reply_timeout`: 10 s. Longer, and requests pile up behind a
/// stalled disk, which is what the breaker exists to prevent.
pub const MAX_JOURNAL_REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Default breaker window: the last 50 writer-bound calls (a few milliseconds of a stampede,
/// seconds of quiet traffic).
pub const DEFAULT_BREAKER_WINDOW_CALLS: u32 = 50;
/// Default minimum calls before the breaker may trip: 20, so a handful of slow start-up
/// fsyncs do not open it.
pub const DEFAULT_BREAKER_MIN_CALLS: u32 = 20;
/// Default failure ratio that trips the breaker: half the window timed out or failed.
pub const DEFAULT_BREAKER_FAILURE_RATIO: f64 = 0.5;
/// Default slow-call threshold: the reply timeout itself (250 ms). Measured on the 2-core
/// machine: with the writer sharing a saturated core, healthy replies took over 100 ms and a
/// 100 ms threshold tripped the breaker on a disk that was fine. A reply that slow is
/// queueing for CPU, which the overload layers handle; the breaker is for a disk in trouble.
pub const DEFAULT_BREAKER_SLOW_CALL_THRESHOLD: Duration = DEFAULT_JOURNAL_REPLY_TIMEOUT;
/// Default slow-call ratio that trips the breaker: 80% of the window slow.
pub const DEFAULT_BREAKER_SLOW_CALL_RATIO: f64 = 0.8;
/// Default open period before probing: 1 s.
pub const DEFAULT_BREAKER_OPEN_FOR: Duration = Duration::from_secs(1);
/// Default probes let through at once when half-open, and fast successes needed to close: 3.
pub const DEFAULT_BREAKER_HALF_OPEN_PROBES: u32 = 3;

/// How the engine guards its journal. Defaults: the `DEFAULT_*` constants of this module.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalGuardConfig {
    /// How long a grab or campaign creation waits for the writer's reply before answering
    /// [`EngineError::Degraded`] (default [`DEFAULT_JOURNAL_REPLY_TIMEOUT`], 250 ms; at most
    /// [`MAX_JOURNAL_REPLY_TIMEOUT`]).
    pub journal_reply_timeout: Duration,
    /// The breaker (defaults: window 50 calls, min 20 calls, failure ratio 0.5, slow call
    /// 250 ms, slow ratio 0.8, open 1 s, 3 half-open probes, 3 successes to close).
    pub breaker: BreakerConfig,
}

impl Default for JournalGuardConfig {
    fn default() -> Self {
        let probes = NonZeroU32::new(DEFAULT_BREAKER_HALF_OPEN_PROBES).expect("non-zero");
        Self {
            journal_reply_timeout: DEFAULT_JOURNAL_REPLY_TIMEOUT,
            breaker: BreakerConfig {
                window_calls: NonZeroU32::new(DEFAULT_BREAKER_WINDOW_CALLS).expect("non-zero"),
                min_calls: NonZeroU32::new(DEFAULT_BREAKER_MIN_CALLS).expect("non-zero"),
                failure_ratio: DEFAULT_BREAKER_FAILURE_RATIO,
                slow_call_ratio: DEFAULT_BREAKER_SLOW_CALL_RATIO,
                slow_call_threshold: DEFAULT_BREAKER_SLOW_CALL_THRESHOLD,
                open_for: DEFAULT_BREAKER_OPEN_FOR,
                half_open_probes: probes,
                successes_to_close: probes,
            },
        }
    }
}

/// A [`JournalGuardConfig`] field out of range; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalGuardConfigError {
    /// `journal_reply_timeout` is zero or above [`MAX_JOURNAL_REPLY_TIMEOUT`].
    #[error("`journal_reply_timeout` must be above zero and at most 10 s")]
    ReplyTimeout,
    /// A breaker field is out of range.
    #[error(transparent)]
    Breaker(#[from] BreakerConfigError),
}

impl JournalGuardConfig {
    /// Checks every field's range; the error names the first field at fault.
    pub fn validate(&self) -> Result<(), JournalGuardConfigError> {
        if self.journal_reply_timeout.is_zero()
            || self.journal_reply_timeout > MAX_JOURNAL_REPLY_TIMEOUT
        {
            return Err(JournalGuardConfigError::ReplyTimeout);
        }
        self.breaker.validate()?;
        Ok(())
    }
}

/// The breaker around the journal, its clock, timeout and metrics. Shared by engine clones.
pub struct JournalGuard {
    journal_reply_timeout: Duration,
    breaker: CircuitBreaker,
    clock: Arc<dyn Clock>,
    /// `stampede_breaker_state{breaker="journal"}`: 0 closed, 1 open, 2 half-open.
    state_gauge: metrics::Gauge,
    /// `stampede_engine_degraded_total{reason="breaker_open"}`.
    refused: metrics::Counter,
    /// `stampede_engine_degraded_total{reason="reply_timeout"}`.
    timed_out: metrics::Counter,
}

impl std::fmt::Debug for JournalGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalGuard")
            .field("journal_reply_timeout", &self.journal_reply_timeout)
            .field("state", &self.breaker.state())
            .finish_non_exhaustive()
    }
}

impl Default for JournalGuard {
    /// The default config on the real monotonic clock.
    fn default() -> Self {
        Self::new(JournalGuardConfig::default(), Arc::new(SystemClock::new()))
            .expect("the default journal guard config is valid")
    }
}

impl JournalGuard {
    /// A closed breaker on `clock` (the admission crate's monotonic clock).
    pub fn new(
        config: JournalGuardConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, JournalGuardConfigError> {
        config.validate()?;
        let degraded = |reason: &'static str| metrics::counter!("stampede_engine_degraded_total", "reason" => reason);
        let guard = Self {
            journal_reply_timeout: config.journal_reply_timeout,
            breaker: CircuitBreaker::new(config.breaker),
            clock,
            state_gauge: metrics::gauge!("stampede_breaker_state", "breaker" => "journal"),
            refused: degraded("breaker_open"),
            timed_out: degraded("reply_timeout"),
        };
        guard.state_gauge.set(gauge_value(BreakerState::Closed));
        Ok(guard)
    }

    /// The breaker's state (a snapshot; takes the breaker's lock).
    pub(crate) fn reply_timeout(&self) -> std::time::Duration {
        self.journal_reply_timeout
    }

    /// The breaker's state (a snapshot; takes the breaker's lock).
    pub fn state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// A permit to send one command to the writer, or `Degraded` while the breaker is open
    /// (or half-open with every probe slot taken).
    pub(crate) fn admit(&self) -> Result<CallPermit, EngineError> {
        let now = self.clock.monotonic();
        self.breaker.try_acquire(now).map_err(|open| {
            self.refused.increment(1);
            // Open, or half-open with its probe slots taken: one atomic load tells which.
            let state = if self.breaker.is_open(now) { 1.0 } else { 2.0 };
            self.state_gauge.set(state);
            EngineError::Degraded {
                retry_after: open.retry_after,
            }
        })
    }

    /// Waits for the writer's reply at most `journal_reply_timeout` and records the call.
    ///
    /// A cancelled wait (the requester went away) drops `permit`, which the breaker counts as
    /// a failure that took no time: an unknown outcome must not close a half-open breaker.
    pub(crate) async fn await_reply<T>(
        &self,
        permit: CallPermit,
        answer: oneshot::Receiver<Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        // On a timeout the receiver is dropped here: the writer skips the command if it has
        // not decided it yet.
        self.await_reply_keeping_late(permit, answer)
            .await
            .map_err(|late| late.answer)?
    }

    /// [`JournalGuard::await_reply`], except that a reply timeout hands the caller the reply
    /// receiver with the `degraded` answer ([`LateReply`]): the command stays wanted, so the
    /// writer decides it rather than skipping it, and the caller can learn what it came to.
    /// The breaker records the timeout exactly as [`JournalGuard::await_reply`] does.
    pub(crate) async fn await_reply_keeping_late<T>(
        &self,
        permit: CallPermit,
        mut answer: oneshot::Receiver<Result<T, EngineError>>,
    ) -> Result<Result<T, EngineError>, LateReply<T>> {
        let reply = timeout(self.journal_reply_timeout, &mut answer).await;
        let timed_out = reply.is_err();
        let now = self.clock.monotonic();
        let elapsed = now.saturating_sub(permit.started());
        let (outcome, result) = match reply {
            Ok(Ok(result)) => {
                // Business refusals (an invalid spec) are the journal working; only a failed
                // journal (fail-stop `Unavailable`) is a failure.
                let failed = matches!(result, Err(EngineError::Unavailable(_)));
                (outcome_of(failed), result)
            }
            Ok(Err(_writer_gone)) => (
                CallOutcome::Failure,
                Err(EngineError::Unavailable("the writer stopped".into())),
            ),
            Err(_timed_out) => (CallOutcome::Failure, Err(self.timeout_answer())),
        };
        // `record` answers the state it left under its own lock: no second lock per grab.
        let state = permit.record(outcome, elapsed);
        self.state_gauge.set(gauge_value(state));
        let result = match (result, state) {
            (Err(EngineError::Degraded { .. }), BreakerState::Open { until }) => {
                Err(EngineError::Degraded {
                    retry_after: until.saturating_sub(now),
                })
            }
            (result, _) => result,
        };
        match result {
            Err(degraded) if timed_out => Err(LateReply {
                answer: degraded,
                receiver: answer,
            }),
            result => Ok(result),
        }
    }

    /// How long a caller waits for the writer.
    pub(crate) fn journal_reply_timeout(&self) -> Duration {
        self.journal_reply_timeout
    }

    /// The answer to a caller that waited `journal_reply_timeout` in vain (counted): retry
    /// after about one more timeout. [`JournalGuard::await_reply`] replaces that by the open
    /// period's remainder when this failure tripped the breaker.
    pub(crate) fn timeout_answer(&self) -> EngineError {
        self.timed_out.increment(1);
        EngineError::Degraded {
            retry_after: self.journal_reply_timeout,
        }
    }
}

/// A writer reply that did not come within `journal_reply_timeout`: the answer to give now
/// (`degraded`) and the receiver on which the writer's answer will still arrive.
pub(crate) struct LateReply<T> {
    pub(crate) answer: EngineError,
    pub(crate) receiver: oneshot::Receiver<Result<T, EngineError>>,
}

fn outcome_of(failed: bool) -> CallOutcome {
    if failed {
        CallOutcome::Failure
    } else {
        CallOutcome::Success
    }
}

/// The gauge's encoding: 0 closed, 1 open, 2 half-open.
fn gauge_value(state: BreakerState) -> f64 {
    match state {
        BreakerState::Closed => 0.0,
        BreakerState::Open { .. } => 1.0,
        BreakerState::HalfOpen { .. } => 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid_and_documented_values() {
        let config = JournalGuardConfig::default();
        config.validate().expect("valid");
        assert_eq!(config.journal_reply_timeout, Duration::from_millis(250));
        assert_eq!(config.breaker.window_calls.get(), 50);
        assert_eq!(config.breaker.min_calls.get(), 20);
        assert_eq!(config.breaker.failure_ratio, 0.5);
        assert_eq!(
            config.breaker.slow_call_threshold,
            Duration::from_millis(250)
        );
        assert_eq!(config.breaker.slow_call_ratio, 0.8);
        assert_eq!(config.breaker.open_for, Duration::from_secs(1));
    }

    #[test]
    fn reply_timeout_out_of_range_is_named() {
        let mut config = JournalGuardConfig {
            journal_reply_timeout: Duration::ZERO,
            ..JournalGuardConfig::default()
        };
        let error = config.validate().unwrap_err();
        assert!(error.to_string().contains("journal_reply_timeout"));
        config.journal_reply_timeout = Duration::from_secs(11);
        assert!(config.validate().is_err());
        config.journal_reply_timeout = Duration::from_millis(50);
        config.breaker.min_calls = NonZeroU32::new(51).expect("non-zero");
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("min_calls")
        );
    }
}
