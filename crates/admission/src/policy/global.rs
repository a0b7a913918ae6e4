//! [`Global`]: one policy state shared by every request.

use std::sync::{Mutex, PoisonError};

use super::Policy;
use crate::clock::Clock;

/// One [`Policy`] state for all callers (a global or per-route rule).
///
/// The state sits behind a `std` mutex held only for the pure [`Policy::decide`] call (tens
/// of nanoseconds; see `benches/decision.rs`), as nginx holds its zone lock per decision.
#[derive(Debug)]
pub struct Global<P: Policy, C: Clock> {
    policy: P,
    state: Mutex<Option<P::State>>,
    clock: C,
}

impl<P: Policy, C: Clock> Global<P, C> {
    /// A limiter applying `policy`, deciding on `clock`.
    pub fn new(policy: P, clock: C) -> Self {
        Self {
            policy,
            state: Mutex::new(None),
            clock,
        }
    }

    /// Decides one request now and, if admitted, counts it.
    pub fn check(&self) -> P::Decision {
        let now = self.clock.monotonic_nanos();
        // A policy is pure and cannot leave the state half-written, so a poisoned lock (a
        // panic elsewhere while holding it) still guards a consistent state.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (decision, next) = self.policy.decide(state.as_ref(), now);
        if let Some(next) = next {
            *state = Some(next);
        }
        decision
    }

    /// The policy (and through it the rule's configuration).
    pub fn policy(&self) -> &P {
        &self.policy
    }
}
