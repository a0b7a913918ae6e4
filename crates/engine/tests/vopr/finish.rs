//! The end of a run: no more faults; every deadline passes, the channel delivers every
//! payment, the refund job refunds and confirms everything owed, every `claiming` packet is
//! settled; then the final books are checked, once more after a last crash.

use std::time::Duration;

use stampede_core::OrderState;

use crate::check;
use crate::sim::{Crash, Queued, Sim};
use crate::workload::LONGEST_WINDOW_SECS;

/// Rounds the drain may take: each round moves past every deadline and delivers, refunds and
/// settles what the previous one opened; three suffice (callbacks open late refunds, the next
/// round refunds them, the one after sees nothing left), the rest is margin.
const MAX_FINISH_ROUNDS: usize = 8;

impl Sim {
    /// Drains the run and checks the settled books.
    pub(crate) fn finish(&mut self) {
        self.faults = false;
        // A restart clears any storage fault still armed (and a stopped writer).
        self.crash(Crash::Restart);
        for _ in 0..MAX_FINISH_ROUNDS {
            if self.settled() {
                break;
            }
            self.clock
                .advance(Duration::from_secs(2 * LONGEST_WINDOW_SECS));
            let mut wave: Vec<Queued> = (self.channel.taken().iter())
                .map(|t| {
                    let (order, payment) = (t.order, t.payment.clone());
                    Queued::decide(stampede_core::Command::RecordPayment { order, payment })
                })
                .collect();
            self.resolve_claims(&mut wave);
            // Everything owed at once: the channel took at most a few payments per order.
            self.refund_pass(usize::MAX, 1.0, &mut wave);
            self.queue.extend(wave);
            while !self.queue.is_empty() {
                let size = self.queue.len().min(self.swarm.max_batch);
                self.run_batch(size, 0.0);
            }
            // An empty batch: its expiry pass runs at the new time.
            self.run_batch(0, 0.0);
        }
        let left = self.unsettled();
        assert!(
            left.is_empty(),
            "not settled in {MAX_FINISH_ROUNDS} rounds: {left:?}"
        );
        self.check_settled();
        self.crash(Crash::Torn);
        self.check_settled();
    }

    /// Whether nothing is left to happen: no order waits for a deadline, a payment, a refund
    /// or a payout result, and every payment's callback was acknowledged.
    fn settled(&self) -> bool {
        self.unsettled().is_empty()
    }

    /// What is left to happen: orders waiting, callbacks not acknowledged, refunds owed.
    fn unsettled(&self) -> Vec<String> {
        let waiting = [
            OrderState::PendingPayment,
            OrderState::Paying,
            OrderState::RefundPending,
            OrderState::Won,
            OrderState::Claiming,
        ];
        let orders = (waiting.iter())
            .flat_map(|&s| self.image.in_state(s))
            .map(|o| format!("{} {:?}", o.id, o.state));
        let callbacks = (self.channel.taken().iter())
            .filter(|t| !t.acknowledged)
            .map(|t| format!("callback of {}", t.payment.txn_id));
        let owed = self.writer().inspect(|l| l.pending_refunds(usize::MAX));
        let refunds = (owed.into_iter()).map(|r| format!("refund of {}", r.payment.txn_id));
        orders.chain(callbacks).chain(refunds).collect()
    }

    fn check_settled(&self) {
        let now = self.clock_now();
        self.writer()
            .inspect(|l| check::settled(l, &self.channel, &self.provider, now));
    }
}
