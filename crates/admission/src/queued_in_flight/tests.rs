//! Queue full vs timeout, FIFO hand-over, permits and places released on drop (paused time).

use std::time::Duration;

use tokio::time::Instant;

use super::*;

const MAX_WAIT: Duration = Duration::from_millis(100);

fn limit(max_in_flight: usize, max_queue: usize) -> QueuedInFlight {
    QueuedInFlight::new(QueuedInFlightConfig {
        max_in_flight,
        max_queue,
        max_wait: MAX_WAIT,
    })
}

#[tokio::test(start_paused = true)]
async fn admits_at_once_up_to_max_and_permits_come_back_on_drop() {
    let limit = limit(2, 1);
    let first = limit.acquire().await.permit().expect("first slot");
    let second = limit.acquire().await.permit().expect("second slot");
    assert_eq!(limit.in_flight(), 2);
    drop(first);
    assert_eq!(limit.in_flight(), 1);
    let third = limit.acquire().await;
    assert_eq!(third.code(), "admitted");
    drop((second, third));
    assert_eq!(limit.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn full_queue_rejects_at_once_and_a_waiter_times_out_after_max_wait() {
    let limit = limit(1, 1);
    let _held = limit.acquire().await.permit().unwrap();

    let waiter = tokio::spawn({
        let limit = limit.clone();
        async move {
            let began = Instant::now();
            (limit.acquire().await.code(), began.elapsed())
        }
    });
    tokio::task::yield_now().await;
    assert_eq!(limit.queued(), 1);

    let began = Instant::now();
    assert_eq!(limit.acquire().await.code(), "queue_full");
    assert_eq!(began.elapsed(), Duration::ZERO, "rejected without waiting");

    let (code, waited) = waiter.await.unwrap();
    assert_eq!(code, "queue_timeout");
    assert_eq!(waited, MAX_WAIT);
    assert_eq!(limit.queued(), 0, "the timed-out waiter left the queue");
}

#[tokio::test(start_paused = true)]
async fn a_freed_slot_goes_to_the_oldest_waiter() {
    let limit = limit(1, 2);
    let held = limit.acquire().await.permit().unwrap();
    let (order_tx, mut order_rx) = tokio::sync::mpsc::unbounded_channel();
    for name in ["first", "second"] {
        let (limit, order_tx) = (limit.clone(), order_tx.clone());
        tokio::spawn(async move {
            let permit = limit.acquire().await.permit().expect("admitted in time");
            order_tx.send(name).unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
            drop(permit);
        });
        tokio::task::yield_now().await;
    }
    assert_eq!(limit.queued(), 2);
    tokio::time::sleep(Duration::from_millis(30)).await;
    drop(held);
    assert_eq!(order_rx.recv().await, Some("first"));
    assert_eq!(order_rx.recv().await, Some("second"));
    assert!(limit.acquire().await.permit().is_some());
}

#[tokio::test(start_paused = true)]
async fn a_dropped_waiter_gives_back_its_place() {
    let limit = limit(1, 1);
    let _held = limit.acquire().await.permit().unwrap();
    {
        let waiting = limit.acquire();
        let mut waiting = std::pin::pin!(waiting);
        let polled = tokio::time::timeout(Duration::from_millis(1), &mut waiting).await;
        assert!(polled.is_err(), "still waiting");
        assert_eq!(limit.queued(), 1);
    }
    assert_eq!(limit.queued(), 0, "the client went away");
    assert_eq!(limit.in_flight(), 1);
}

#[tokio::test(start_paused = true)]
async fn zero_queue_rejects_at_once() {
    let limit = limit(1, 0);
    let _held = limit.acquire().await.permit().unwrap();
    assert_eq!(limit.acquire().await.code(), "queue_full");
}

#[test]
fn validate_bounds() {
    let config = |max_in_flight, max_queue, max_wait| QueuedInFlightConfig {
        max_in_flight,
        max_queue,
        max_wait,
    };
    assert_eq!(
        config(1, MAX_QUEUE_LENGTH, MAX_QUEUE_WAIT).validate(),
        Ok(())
    );
    assert_eq!(
        config(0, 0, MAX_WAIT).validate(),
        Err(QueuedInFlightConfigError::MaxInFlightZero)
    );
    assert!(matches!(
        config(1, MAX_QUEUE_LENGTH + 1, MAX_WAIT).validate(),
        Err(QueuedInFlightConfigError::QueueTooLong { .. })
    ));
    assert!(matches!(
        config(1, 0, MAX_QUEUE_WAIT + Duration::from_millis(1)).validate(),
        Err(QueuedInFlightConfigError::WaitTooLong { .. })
    ));
}
