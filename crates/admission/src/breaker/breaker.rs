//! [`CircuitBreaker`]: the thread-safe handle around the state machine, and its
//! [`CallPermit`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use super::config::BreakerConfig;
use super::state::{BreakerOpen, BreakerState, Machine, SuccessRatio, Ticket};
use crate::clock::to_nanos;

/// `closed_generation` while the breaker is not closed.
const NOT_CLOSED: u64 = u64::MAX;

/// How an admitted call went, as the caller classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// The dependency did its job.
    Success,
    /// The dependency failed (an error, a timeout); counts towards `failure_ratio`.
    Failure,
}

/// A circuit breaker. Cheap to clone; all clones share one state.
///
/// # Concurrency
/// The state machine sits behind a `parking_lot::Mutex`, held only for a few comparisons.
/// Two atomics mirror it so the common cases take no lock:
/// - `open_until_nanos`: while open, [`is_open`](Self::is_open) and
///   [`try_acquire`](Self::try_acquire) reject from this alone;
/// - `closed_generation`: while closed, `try_acquire` admits from this alone.
///
/// So a closed call costs one lock (its `record`) and an open rejection none. A call admitted
/// by the lock-free closed path just as another thread trips the breaker is stale, and its
/// result is ignored (see [`CallPermit`]).
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    machine: Mutex<Machine>,
    /// Clock nanoseconds until which the breaker is open; 0 when not open.
    open_until_nanos: AtomicU64,
    /// The machine's generation while closed, else [`NOT_CLOSED`].
    closed_generation: AtomicU64,
}

impl CircuitBreaker {
    /// A closed breaker.
    ///
    /// # Panics
    /// If `config` fails [`BreakerConfig::validate`]; validate config at load time to report
    /// it as an error instead.
    pub fn new(config: BreakerConfig) -> Self {
        if let Err(error) = config.validate() {
            panic!("CircuitBreaker::new: {error}");
        }
        let machine = Machine::new(config);
        let shared = Shared {
            closed_generation: AtomicU64::new(machine.generation()),
            open_until_nanos: AtomicU64::new(0),
            machine: Mutex::new(machine),
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// Admits a call at clock time `now`, or says how long to wait.
    ///
    /// Record the call's result on the returned permit; see [`CallPermit`].
    pub fn try_acquire(&self, now: Duration) -> Result<CallPermit, BreakerOpen> {
        let shared = &self.shared;
        let now_nanos = to_nanos(now);
        let open_until = shared.open_until_nanos.load(Ordering::Acquire);
        if now_nanos < open_until {
            return Err(BreakerOpen {
                retry_after: Duration::from_nanos(open_until - now_nanos),
            });
        }
        let generation = shared.closed_generation.load(Ordering::Acquire);
        let ticket = if generation == NOT_CLOSED {
            let mut machine = shared.machine.lock();
            let ticket = machine.acquire(now);
            shared.publish(&machine);
            ticket?
        } else {
            Ticket {
                generation,
                started: now,
            }
        };
        Ok(CallPermit {
            shared: Some(Arc::clone(shared)),
            ticket,
        })
    }

    /// Whether the breaker is open at `now`: one atomic load, for hot paths that want to
    /// refuse before doing any work. `false` does not promise admission (half-open may have
    /// every probe slot taken); call [`try_acquire`](Self::try_acquire) for that.
    pub fn is_open(&self, now: Duration) -> bool {
        to_nanos(now) < self.shared.open_until_nanos.load(Ordering::Acquire)
    }

    /// The current state (a snapshot). An `Open` whose `until` has passed moves to
    /// `HalfOpen` at the next `try_acquire`.
    pub fn state(&self) -> BreakerState {
        self.shared.machine.lock().state()
    }

    /// Good calls (neither failed nor slow) over the calls in the sliding window, while
    /// closed; `None` while open or half-open. One lock, like [`state`](Self::state). The
    /// window starts afresh each time the breaker closes, so a recovered dependency is judged
    /// on its calls since.
    pub fn success_ratio(&self) -> Option<SuccessRatio> {
        self.shared.machine.lock().success_ratio()
    }
}

impl Shared {
    /// Mirrors the machine into the atomics; called with the lock held after every change.
    fn publish(&self, machine: &Machine) {
        let (open_until, closed_generation) = match machine.state() {
            BreakerState::Closed => (0, machine.generation()),
            BreakerState::Open { until } => (to_nanos(until), NOT_CLOSED),
            BreakerState::HalfOpen { .. } => (0, NOT_CLOSED),
        };
        debug_assert_ne!(machine.generation(), NOT_CLOSED);
        self.open_until_nanos.store(open_until, Ordering::Release);
        self.closed_generation
            .store(closed_generation, Ordering::Release);
    }

    /// Records one outcome and answers the state it left, read under the same lock.
    fn record(&self, ticket: Ticket, outcome: CallOutcome, elapsed: Duration) -> BreakerState {
        let mut machine = self.machine.lock();
        machine.record(ticket, outcome == CallOutcome::Failure, elapsed);
        self.publish(&machine);
        machine.state()
    }
}

/// One admitted call. Report how it went with [`record`](Self::record).
///
/// - **Dropped without `record`** (the caller was cancelled, panicked or forgot), it counts
///   as a [`CallOutcome::Failure`] that took no time: an unknown result must not close a
///   half-open breaker, and must free its probe slot.
/// - **Stale**: a permit admitted in an earlier state episode (closed before a trip, or a
///   previous half-open) is ignored when recorded; only the current episode's calls decide.
#[derive(Debug)]
#[must_use = "record the call's outcome; a dropped permit counts as a failure"]
pub struct CallPermit {
    /// `None` once recorded.
    shared: Option<Arc<Shared>>,
    ticket: Ticket,
}

impl CallPermit {
    /// Records the call's outcome and how long it took (`elapsed >= slow_call_threshold`
    /// makes it a slow call, whatever the outcome), and answers the breaker's state right
    /// after, read under the lock the record takes anyway (a caller that reports the state
    /// needs no second lock; ignoring it is fine).
    pub fn record(mut self, outcome: CallOutcome, elapsed: Duration) -> BreakerState {
        let shared = (self.shared.take())
            .expect("CallPermit: `shared` is taken only by record, release or drop");
        shared.record(self.ticket, outcome, elapsed)
    }

    /// Gives the permit back without a call having been made (the caller found, before
    /// calling, that there was nothing to call for): nothing is recorded, and a half-open
    /// probe slot comes free without deciding anything.
    pub fn release(mut self) {
        if let Some(shared) = self.shared.take() {
            let mut machine = shared.machine.lock();
            machine.release(self.ticket);
            shared.publish(&machine);
        }
    }

    /// When the call was admitted (the `now` given to `try_acquire`), to measure `elapsed`.
    pub fn started(&self) -> Duration {
        self.ticket.started
    }
}

impl Drop for CallPermit {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.record(self.ticket, CallOutcome::Failure, Duration::ZERO);
        }
    }
}
