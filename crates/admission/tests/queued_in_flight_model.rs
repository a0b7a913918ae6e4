//! Property test: the queued in-flight limit matches a FIFO model with slots, a bounded queue
//! and deadlines, on tokio's paused clock, for random (acquire, release, advance) sequences.

use std::collections::VecDeque;
use std::time::Duration;

use proptest::prelude::*;
use stampede_admission::queued_in_flight::{QueueDecision, QueuedInFlight, QueuedInFlightConfig};
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy)]
enum Op {
    Acquire,
    Release,
    AdvanceMillis(u64),
}

/// What a caller ended with: admitted, or the rejection's code.
type Outcome = (usize, &'static str);

/// Free slots, waiters in arrival order with their deadlines.
struct Model {
    free: usize,
    held: usize,
    max_queue: usize,
    max_wait_millis: u64,
    now_millis: u64,
    queue: VecDeque<(usize, u64)>,
}

impl Model {
    fn acquire(&mut self, id: usize) -> Vec<Outcome> {
        if self.free > 0 {
            self.free -= 1;
            self.held += 1;
            vec![(id, "admitted")]
        } else if self.queue.len() < self.max_queue {
            self.queue
                .push_back((id, self.now_millis + self.max_wait_millis));
            vec![]
        } else {
            vec![(id, "queue_full")]
        }
    }

    fn release(&mut self) -> Vec<Outcome> {
        self.held -= 1;
        match self.queue.pop_front() {
            Some((id, _)) => {
                self.held += 1;
                vec![(id, "admitted")]
            }
            None => {
                self.free += 1;
                vec![]
            }
        }
    }

    fn advance(&mut self, millis: u64) -> Vec<Outcome> {
        self.now_millis += millis;
        let now = self.now_millis;
        let (expired, waiting) = self
            .queue
            .drain(..)
            .partition(|&(_, deadline)| deadline <= now);
        self.queue = waiting;
        expired
            .into_iter()
            .map(|(id, _)| (id, "queue_timeout"))
            .collect()
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Acquire),
        3 => Just(Op::Release),
        2 => (0..40_u64).prop_map(Op::AdvanceMillis),
    ]
}

/// Lets every woken task run (time stays paused: the main task never parks).
async fn settle() {
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn matches_fifo_model(
        max_in_flight in 1..4_usize,
        max_queue in 0..4_usize,
        max_wait_millis in 1..50_u64,
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async move {
            let limit = QueuedInFlight::new(QueuedInFlightConfig {
                max_in_flight,
                max_queue,
                max_wait: Duration::from_millis(max_wait_millis),
            });
            let mut model = Model {
                free: max_in_flight,
                held: 0,
                max_queue,
                max_wait_millis,
                now_millis: 0,
                queue: VecDeque::new(),
            };
            let (outcome_tx, mut outcome_rx) = mpsc::unbounded_channel();
            let mut held = VecDeque::new();
            for (id, op) in ops.into_iter().enumerate() {
                let mut expected = match op {
                    Op::Acquire => {
                        let (limit, outcome_tx) = (limit.clone(), outcome_tx.clone());
                        tokio::spawn(async move {
                            let decision = limit.acquire().await;
                            let _ = outcome_tx.send((id, decision));
                        });
                        model.acquire(id)
                    }
                    Op::Release if held.is_empty() => continue,
                    Op::Release => {
                        drop(held.pop_front());
                        model.release()
                    }
                    Op::AdvanceMillis(millis) => {
                        tokio::time::advance(Duration::from_millis(millis)).await;
                        model.advance(millis)
                    }
                };
                settle().await;
                let mut actual = Vec::new();
                while let Ok((id, decision)) = outcome_rx.try_recv() {
                    actual.push((id, decision.code()));
                    if let QueueDecision::Admitted(permit) = decision {
                        held.push_back(permit);
                    }
                }
                expected.sort_unstable();
                actual.sort_unstable();
                prop_assert_eq!(actual, expected, "after op {} {:?}", id, op);
                prop_assert_eq!(limit.in_flight(), model.held);
                prop_assert_eq!(limit.queued(), model.queue.len());
            }
            Ok(())
        })?;
    }
}
