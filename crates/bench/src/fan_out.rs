//! Bounded concurrency for the after-phases (pay, order reads): `workers` tasks, each with its
//! own connection-like state, take the next item from a shared index until none is left. A
//! worker owns its state between items, so "workers" means requests in flight, exactly like the
//! load's connections.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `work` over every item with at most `workers` at once and returns the results in item
/// order. `new_state` makes each worker's state (e.g. a connection); `work` takes it and gives
/// it back with the result, so no borrow crosses an await.
///
/// # Panics
/// If `workers` is zero, or a worker panicked (a bench bug, surfaced rather than hidden).
pub(crate) async fn fan_out<T, R, S, F, Fut>(
    items: Vec<T>,
    workers: usize,
    new_state: impl Fn() -> S,
    work: F,
) -> Vec<R>
where
    T: Clone + Send + Sync + 'static,
    R: Send + 'static,
    S: Send + 'static,
    F: Fn(S, T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = (S, R)> + Send,
{
    assert!(workers > 0, "fan_out needs at least one worker");
    let items: Arc<[T]> = items.into();
    let next = Arc::new(AtomicUsize::new(0));
    let work = Arc::new(work);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers.min(items.len()) {
        let (items, next, work) = (items.clone(), next.clone(), work.clone());
        let mut state = new_state();
        tasks.spawn(async move {
            let mut done = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(index) else {
                    return done;
                };
                let (returned, result) = work(state, item.clone()).await;
                state = returned;
                done.push((index, result));
            }
        });
    }
    let mut results: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    while let Some(joined) = tasks.join_next().await {
        for (index, result) in joined.expect("fan_out worker panicked") {
            results[index] = Some(result);
        }
    }
    results
        .into_iter()
        .map(|result| result.expect("every item is taken exactly once"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn every_item_once_in_order_and_at_most_workers_at_once() {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (counter, high) = (in_flight.clone(), peak.clone());
        let results = fan_out(
            (0..100u64).collect(),
            7,
            || 0u32,
            move |served, item| {
                let (counter, high) = (counter.clone(), high.clone());
                async move {
                    let now = counter.fetch_add(1, Ordering::SeqCst) + 1;
                    high.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(item % 5)).await;
                    counter.fetch_sub(1, Ordering::SeqCst);
                    (served + 1, item * 2)
                }
            },
        )
        .await;
        assert_eq!(
            results,
            (0..100u64).map(|item| item * 2).collect::<Vec<_>>()
        );
        assert!(peak.load(Ordering::SeqCst) <= 7);
        assert!(peak.load(Ordering::SeqCst) > 1, "it ran concurrently");
    }

    #[tokio::test]
    async fn no_items_no_work() {
        let results: Vec<u8> = fan_out(
            Vec::<u8>::new(),
            3,
            || (),
            |state, item| async move { (state, item) },
        )
        .await;
        assert!(results.is_empty());
    }
}
