//! Unit tests of the driver: user ids, the ready queue, what a user observed.

use super::*;
use crate::outcome::GrabResult;

#[test]
fn a_rotation_serves_every_user_in_turn_and_a_heap_by_ready_time() {
    let start = Instant::now();
    let mut rotation = ReadyQueue::new(true, 3);
    assert_eq!(rotation.peek(), None);
    for slot in 0..3 {
        rotation.push(start, slot);
    }
    let mut served = Vec::new();
    for _ in 0..7 {
        let (at, slot) = rotation.peek().unwrap();
        assert_eq!(at, start);
        served.push(slot);
        rotation.pop();
        rotation.push(start + Duration::from_secs(1), slot);
    }
    assert_eq!(served, [0, 1, 2, 0, 1, 2, 0]);

    let mut heap = ReadyQueue::new(false, 3);
    heap.push(start + Duration::from_secs(2), 0);
    heap.push(start + Duration::from_secs(1), 1);
    assert_eq!(heap.peek(), Some((start + Duration::from_secs(1), 1)));
    heap.pop();
    assert_eq!(heap.peek(), Some((start + Duration::from_secs(2), 0)));
    heap.pop();
    assert_eq!(heap.peek(), None);
}

#[test]
fn user_ids_fit_the_contract() {
    let id = user_id("bench-0123abcd-", Population::Bot, 9_999_999);
    assert!(id.len() <= 64);
    assert!(
        id.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    );
}

#[test]
fn observe_keeps_each_acknowledged_order_once() {
    let mut observation = UserObservation::default();
    let won = GrabResult {
        outcome: Outcome::Won,
        order_id: Some("o1".into()),
        amount_cents: Some(3),
        retry_after: None,
    };
    observe(&mut observation, &won);
    observe(
        &mut observation,
        &GrabResult {
            outcome: Outcome::AlreadyWon,
            ..won.clone()
        },
    );
    observe(&mut observation, &GrabResult::bare(Outcome::Timeout));
    assert!(observation.reached_stock);
    assert!(observation.unresolved);
    assert_eq!(observation.acknowledged.len(), 1);
}
