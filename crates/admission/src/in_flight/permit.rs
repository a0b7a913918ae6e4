//! The shared in-flight counter and its RAII permit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Shared count of requests in flight, with a fixed maximum.
///
/// Cloning is cheap (an `Arc`); all clones share one counter, so one `InFlight` can guard
/// several routes or services together.
#[derive(Debug, Clone)]
pub struct InFlight {
    state: Arc<State>,
}

#[derive(Debug)]
struct State {
    /// Requests holding a permit now; never above `max` (kept by the CAS in `try_acquire`).
    current: AtomicUsize,
    max: usize,
}

impl InFlight {
    /// Creates a counter that admits at most `max` requests at once.
    ///
    /// # Panics
    /// If `max` is zero: a limit of zero would reject every request, which is a
    /// configuration error rather than a load-shedding decision.
    pub fn new(max: usize) -> Self {
        assert!(max > 0, "InFlight::new: max must be at least 1 (got 0)");
        Self {
            state: Arc::new(State {
                current: AtomicUsize::new(0),
                max,
            }),
        }
    }

    /// Takes a permit if fewer than `max` are held; `None` means "reject now".
    ///
    /// Never waits. The permit is given back when it is dropped.
    pub fn try_acquire(&self) -> Option<InFlightPermit> {
        let max = self.state.max;
        // A CAS loop (not fetch_add then undo) so a failed attempt never makes the count
        // overshoot `max`, which would wrongly reject a concurrent caller.
        self.state
            .current
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
                (current < max).then_some(current + 1)
            })
            .ok()
            .map(|_| InFlightPermit {
                state: Arc::clone(&self.state),
            })
    }

    /// Number of permits held now (a snapshot; it may change at once).
    pub fn current(&self) -> usize {
        self.state.current.load(Ordering::Acquire)
    }

    /// The maximum number of permits held at once.
    pub fn max(&self) -> usize {
        self.state.max
    }
}

/// One admitted request; gives its slot back when dropped (including on cancellation).
#[derive(Debug)]
#[must_use = "the slot is released as soon as the permit is dropped"]
pub struct InFlightPermit {
    state: Arc<State>,
}

impl Drop for InFlightPermit {
    fn drop(&mut self) {
        let previous = self.state.current.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(
            previous > 0,
            "InFlightPermit dropped with no permit counted"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquires_up_to_max_then_rejects() {
        let in_flight = InFlight::new(2);
        let first = in_flight.try_acquire().expect("first permit");
        let _second = in_flight.try_acquire().expect("second permit");
        assert!(in_flight.try_acquire().is_none());
        assert_eq!(in_flight.current(), 2);
        drop(first);
        assert_eq!(in_flight.current(), 1);
        assert!(in_flight.try_acquire().is_some());
        assert_eq!(in_flight.current(), 1, "the temporary permit was dropped");
    }

    #[test]
    #[should_panic(expected = "max must be at least 1")]
    fn zero_max_panics() {
        let _ = InFlight::new(0);
    }

    #[test]
    fn never_exceeds_max_under_contention() {
        const MAX: usize = 3;
        const ROUNDS: usize = 20_000;
        let in_flight = InFlight::new(MAX);
        std::thread::scope(|scope| {
            for _ in 0..2 {
                let in_flight = in_flight.clone();
                scope.spawn(move || {
                    for _ in 0..ROUNDS {
                        let permit = in_flight.try_acquire();
                        assert!(in_flight.current() <= MAX);
                        drop(permit);
                    }
                });
            }
        });
        assert_eq!(in_flight.current(), 0);
    }
}
