//! The global and keyed homes with a toy policy: "at most 2 per key, forgotten after 1 s".

use std::time::Duration;

use super::*;
use crate::clock::ManualClock;
use crate::keyed_rate::{MAX_TRACKED_KEYS, MIN_INLINE_EVICTION_GAP};

const SECOND: u64 = 1_000_000_000;

/// Admits two requests per key, then rejects until one second after the last admission.
#[derive(Debug)]
struct TwoPerSecond;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Toy {
    Yes,
    No,
    Full,
}

impl Policy for TwoPerSecond {
    type State = (u8, u64);
    type Decision = Toy;

    fn decide(&self, state: Option<&(u8, u64)>, now: u64) -> (Toy, Option<(u8, u64)>) {
        match state {
            Some(&(count, last)) if !self.is_idle(&(count, last), now) => {
                if count < 2 {
                    (Toy::Yes, Some((count + 1, now)))
                } else {
                    (Toy::No, None)
                }
            }
            _ => (Toy::Yes, Some((1, now))),
        }
    }

    fn is_idle(&self, state: &(u8, u64), now: u64) -> bool {
        now.saturating_sub(state.1) >= SECOND
    }

    fn table_full(&self) -> Toy {
        Toy::Full
    }
}

#[test]
fn global_shares_one_state() {
    let clock = ManualClock::default();
    let global = Global::new(TwoPerSecond, clock.clone());
    assert_eq!(global.check(), Toy::Yes);
    assert_eq!(global.check(), Toy::Yes);
    assert_eq!(global.check(), Toy::No);
    clock.advance(Duration::from_secs(1));
    assert_eq!(global.check(), Toy::Yes);
}

#[test]
fn keyed_full_table_rejects_new_keys_only_and_evicts_idle() {
    let clock = ManualClock::default();
    let keyed = Keyed::new(TwoPerSecond, 2, clock.clone());
    assert_eq!(keyed.check(1), Toy::Yes);
    assert_eq!(keyed.check(2), Toy::Yes);
    assert_eq!(keyed.check(3), Toy::Full, "new key, table full");
    assert_eq!(keyed.len(), 2, "a rejected new key is not stored");
    assert_eq!(keyed.check(1), Toy::Yes, "tracked keys keep working");
    assert_eq!(keyed.check(1), Toy::No);

    clock.advance(Duration::from_millis(500));
    assert_eq!(
        keyed.check(3),
        Toy::Full,
        "inline eviction ran, nothing idle"
    );
    clock.advance(Duration::from_millis(600));
    assert!(MIN_INLINE_EVICTION_GAP <= Duration::from_millis(600));
    assert_eq!(keyed.check(3), Toy::Yes, "inline eviction made room");
    assert_eq!(keyed.len(), 1);

    clock.advance(Duration::from_secs(1));
    keyed.evict_idle();
    assert!(keyed.is_empty());
}

#[test]
fn validate_max_keys_bounds() {
    assert_eq!(validate_max_keys(0), Err(MaxKeysError::Zero));
    assert_eq!(validate_max_keys(MAX_TRACKED_KEYS), Ok(()));
    assert_eq!(
        validate_max_keys(MAX_TRACKED_KEYS + 1),
        Err(MaxKeysError::TooLarge {
            max_keys: MAX_TRACKED_KEYS + 1
        })
    );
}

#[test]
#[should_panic(expected = "invalid max_keys")]
fn keyed_new_panics_on_zero_keys() {
    let _ = Keyed::new(TwoPerSecond, 0, ManualClock::default());
}
