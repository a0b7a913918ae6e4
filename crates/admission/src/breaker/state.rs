//! The breaker's pure state machine: [`BreakerState`] plus the window, with no lock, no
//! clock and no I/O. Every method takes the time it needs as an argument.
//!
//! Allowed transitions (each match arm below names the ones it may take):
//!
//! ```text
//!   Closed ──(window over a ratio, ≥ min_calls)──▶ Open
//!   Open ──(now ≥ until, on the next acquire)──▶ HalfOpen
//!   HalfOpen ──(a probe fails, is slow, or is dropped)──▶ Open
//!   HalfOpen ──(successes_to_close fast successes)──▶ Closed
//! ```

use std::time::Duration;

use super::config::BreakerConfig;
use super::window::OutcomeWindow;

/// Where the breaker is. An explicit enum (STYLE §6): no flags to combine wrongly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow; outcomes fill the sliding window.
    Closed,
    /// Calls are rejected until `until` (clock time); the first acquire at or after it
    /// moves the breaker to half-open.
    Open {
        /// When probing may start.
        until: Duration,
    },
    /// At most `half_open_probes` trial calls at once decide whether to close or reopen.
    HalfOpen {
        /// Probes admitted and not yet recorded.
        probes_in_flight: u32,
        /// Probes that succeeded fast so far.
        successes: u32,
    },
}

impl BreakerState {
    /// A stable name for metrics and logs: `closed`, `open` or `half_open`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open { .. } => "open",
            Self::HalfOpen { .. } => "half_open",
        }
    }
}

/// The closed state's window seen as good calls (neither failed nor slow) out of the calls in
/// it: for a caller that shares load by health (a router down-weighting a struggling channel
/// before its breaker trips). See [`CircuitBreaker::success_ratio`](super::CircuitBreaker::success_ratio).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuccessRatio {
    /// Calls in the window that neither failed nor were slow.
    pub good_calls: u32,
    /// Calls in the window (at most `window_calls`).
    pub calls: u32,
}

impl SuccessRatio {
    /// `good_calls / calls`, in `[0, 1]`; 1 for an empty window (nothing has gone wrong yet).
    pub fn as_f64(self) -> f64 {
        if self.calls == 0 {
            1.0
        } else {
            f64::from(self.good_calls) / f64::from(self.calls)
        }
    }
}

/// Why a call was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker open; retry after {retry_after:?}")]
pub struct BreakerOpen {
    /// How long until the breaker may admit again (for `Retry-After`).
    pub retry_after: Duration,
}

/// What an admitted call carries back to `record`: which state episode admitted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    /// The machine's generation when admitted; a result from an older generation is stale.
    pub(crate) generation: u64,
    /// When the call was admitted.
    pub(crate) started: Duration,
}

/// The state, the window and the generation counter.
#[derive(Debug)]
pub(crate) struct Machine {
    config: BreakerConfig,
    state: BreakerState,
    /// Bumped by every transition. Permits remember it, so a call admitted while closed that
    /// finishes during half-open is not mistaken for a probe, and vice versa.
    generation: u64,
    window: OutcomeWindow,
}

impl Machine {
    pub(crate) fn new(config: BreakerConfig) -> Self {
        let window = OutcomeWindow::new(config.window_calls.get());
        Self {
            config,
            state: BreakerState::Closed,
            generation: 0,
            window,
        }
    }

    pub(crate) fn state(&self) -> BreakerState {
        self.state
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The window's success ratio while closed; `None` otherwise (the window then holds the
    /// calls that tripped the breaker, and is cleared when it closes again).
    pub(crate) fn success_ratio(&self) -> Option<SuccessRatio> {
        match self.state {
            BreakerState::Closed => Some(self.window.success_ratio()),
            BreakerState::Open { .. } | BreakerState::HalfOpen { .. } => None,
        }
    }

    /// Admits a call at `now`, or says how long to wait.
    pub(crate) fn acquire(&mut self, now: Duration) -> Result<Ticket, BreakerOpen> {
        match self.state {
            // Closed → Closed.
            BreakerState::Closed => Ok(self.ticket(now)),
            // Open → Open.
            BreakerState::Open { until } if now < until => Err(BreakerOpen {
                retry_after: until - now,
            }),
            // Open → HalfOpen, this call being the first probe.
            BreakerState::Open { .. } => {
                self.transition(BreakerState::HalfOpen {
                    probes_in_flight: 1,
                    successes: 0,
                });
                Ok(self.ticket(now))
            }
            // HalfOpen → HalfOpen with one more probe.
            BreakerState::HalfOpen {
                probes_in_flight,
                successes,
            } if probes_in_flight < self.config.half_open_probes.get() => {
                self.state = BreakerState::HalfOpen {
                    probes_in_flight: probes_in_flight + 1,
                    successes,
                };
                Ok(self.ticket(now))
            }
            // HalfOpen → HalfOpen, every probe slot taken: reject. A probe finishes within a
            // call time, but we cannot know when, so tell the caller one open period.
            BreakerState::HalfOpen { .. } => Err(BreakerOpen {
                retry_after: self.config.open_for,
            }),
        }
    }

    /// Records the outcome of a call admitted with `ticket` that took `elapsed`.
    pub(crate) fn record(&mut self, ticket: Ticket, failed: bool, elapsed: Duration) {
        if ticket.generation != self.generation {
            return; // admitted by an earlier episode: says nothing about this one
        }
        let slow = elapsed >= self.config.slow_call_threshold;
        let finished = ticket.started.saturating_add(elapsed);
        match self.state {
            // Closed → Closed, or Closed → Open when a ratio is reached over enough calls.
            BreakerState::Closed => {
                self.window.push(failed, slow);
                if self.should_trip() {
                    self.open(finished);
                }
            }
            // HalfOpen → Open on a bad probe; HalfOpen → Closed on the last needed success;
            // else HalfOpen → HalfOpen with one probe fewer in flight.
            BreakerState::HalfOpen {
                probes_in_flight,
                successes,
            } => {
                assert!(
                    probes_in_flight > 0,
                    "breaker: probe recorded with no probe in flight"
                );
                if failed || slow {
                    self.open(finished);
                } else if successes + 1 >= self.config.successes_to_close.get() {
                    self.window.clear();
                    self.transition(BreakerState::Closed);
                } else {
                    self.state = BreakerState::HalfOpen {
                        probes_in_flight: probes_in_flight - 1,
                        successes: successes + 1,
                    };
                }
            }
            // Open admits nothing, and entering it bumped the generation, so no current
            // ticket can exist.
            BreakerState::Open { .. } => {
                unreachable!("breaker: a permit of the current generation while open")
            }
        }
    }

    /// Gives back a permit whose call was never made (the caller found nothing to do before
    /// calling): no outcome is recorded, and a half-open probe slot comes free without counting
    /// as a success or a failure.
    pub(crate) fn release(&mut self, ticket: Ticket) {
        if ticket.generation != self.generation {
            return;
        }
        if let BreakerState::HalfOpen {
            probes_in_flight,
            successes,
        } = self.state
        {
            assert!(
                probes_in_flight > 0,
                "breaker: probe released with no probe in flight"
            );
            self.state = BreakerState::HalfOpen {
                probes_in_flight: probes_in_flight - 1,
                successes,
            };
        }
    }

    fn should_trip(&self) -> bool {
        self.window.calls() >= self.config.min_calls.get()
            && (self.window.failure_ratio() >= self.config.failure_ratio
                || self.window.slow_call_ratio() >= self.config.slow_call_ratio)
    }

    fn open(&mut self, from: Duration) {
        self.transition(BreakerState::Open {
            until: from.saturating_add(self.config.open_for),
        });
    }

    fn transition(&mut self, to: BreakerState) {
        self.state = to;
        self.generation += 1;
    }

    fn ticket(&self, now: Duration) -> Ticket {
        Ticket {
            generation: self.generation,
            started: now,
        }
    }
}
