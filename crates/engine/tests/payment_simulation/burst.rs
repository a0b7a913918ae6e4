//! A burst: a random mix of grabs, payment starts, customers paying at the channel, channel
//! callbacks (first deliveries, retries of the same transaction, forged amounts), cancels, a
//! query pass over overdue `paying` orders and a refund pass, all sent to the engine at once;
//! then what each answer says is checked and noted in the [`Model`](super::model::Model).

use rand::Rng;
use rand::seq::SliceRandom;
use stampede_core::{
    Cents, GrabOutcome, OrderOutcome, OrderState, Payment, PaymentOutcome, refund_key,
};
use stampede_engine::{ChannelError, Engine, EngineError, PaymentChannel};

use super::Sim;
use super::action::{Action, Answer, Fault, run_all};
use super::model::{BurstPayments, Won};

/// Most requests in a burst besides the passes.
const MAX_BURST_REQUESTS: usize = 16;
/// Most payments a customer makes at the channel for one order: one settles it, the rest are
/// duplicates or late, well under `MAX_EXTRA_PAYMENTS_PER_ORDER` so each is recorded.
const MAX_PAYMENTS_PER_ORDER: usize = 4;
/// Most refunds and stale orders one pass takes.
const MAX_PER_PASS: usize = 8;
/// A `paying` order is queried after this long without a callback.
const QUERY_AFTER_MS: u64 = 60_000;
const USERS: u32 = 40;

impl Sim {
    /// One burst against `engine`: draw, run concurrently (with `fault` injected into it),
    /// check the answers.
    pub fn burst(&mut self, engine: &Engine, fault: Option<Fault>) {
        let mut actions = self.draw_requests();
        if self.rng.random_bool(0.2) {
            actions.extend(self.query_pass(engine));
        }
        if self.rng.random_bool(0.3) {
            actions.extend(self.refund_pass(engine, 0.8));
        }
        actions.shuffle(&mut self.rng);
        let fault = fault.map(|kind| (&self.storage, kind));
        let answers = run_all(&self.rt, engine, actions, fault);
        self.settle(answers);
    }

    fn random_win(&mut self) -> Option<&Won> {
        let wins = &self.model.wins;
        (!wins.is_empty()).then(|| &wins[self.rng.random_range(0..wins.len())])
    }

    fn draw_requests(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        for _ in 0..self.rng.random_range(1..=MAX_BURST_REQUESTS) {
            let roll = self.rng.random_range(0..12);
            if roll < 3 || self.model.wins.is_empty() {
                let campaigns = &self.model.campaigns;
                if campaigns.is_empty() {
                    continue;
                }
                let campaign = campaigns[self.rng.random_range(0..campaigns.len())];
                let user = format!("u{}", self.rng.random_range(0..USERS));
                actions.push(Action::Grab { campaign, user });
                continue;
            }
            let alt = self.rng.random_bool(0.1);
            let win = self.random_win().expect("some win");
            let (order, user, amount) = (win.order, win.user.clone(), win.amount);
            match roll {
                3 | 4 => actions.push(Action::StartPayment {
                    order,
                    user,
                    channel: if alt { "alt" } else { "sim" },
                }),
                5 | 6 => actions.extend(self.customer_pays(order, amount)),
                // A double click: two transactions for one order in one burst.
                7 => {
                    actions.extend(self.customer_pays(order, amount));
                    actions.extend(self.customer_pays(order, amount));
                }
                8 | 9 => actions.extend(self.channel_retry(false)),
                10 => actions.push(Action::Cancel { order, user }),
                _ => actions.extend(self.channel_retry(true)),
            }
        }
        actions
    }

    /// The customer pays `order` at the channel (whatever the order's state: before or after
    /// starting, again after paying, after a cancel or an expiry); the channel delivers the
    /// callback, sometimes twice at once, sometimes not now (a retry or the query finds it).
    fn customer_pays(&mut self, order: stampede_core::OrderId, amount: Cents) -> Vec<Action> {
        if self.model.payments_at_channel(order) >= MAX_PAYMENTS_PER_ORDER {
            return Vec::new();
        }
        let payment = self
            .channel
            .pay_now(order, amount)
            .expect("channel has room");
        self.model.paid_at_channel(order, &payment);
        let deliveries = match self.rng.random_range(0..10) {
            0 | 1 => 0,
            2 => 2,
            _ => 1,
        };
        let callback = Action::Callback { order, payment };
        vec![callback; deliveries]
    }

    /// The channel delivers the callback of a payment it took again; `forged`: with another
    /// amount (an attacker's replay), which must change nothing.
    fn channel_retry(&mut self, forged: bool) -> Option<Action> {
        let at_channel = &self.model.at_channel;
        if at_channel.is_empty() {
            return None;
        }
        let (order, mut payment) = at_channel[self.rng.random_range(0..at_channel.len())].clone();
        if forged {
            payment.amount_cents = Cents(payment.amount_cents.0 + 1);
        }
        Some(Action::Callback { order, payment })
    }

    /// The query job: asks the channel about overdue `paying` orders; each payment it holds
    /// is delivered like a callback.
    fn query_pass(&mut self, engine: &Engine) -> Vec<Action> {
        let mut actions = Vec::new();
        for stale in engine.take_stale_paying(QUERY_AFTER_MS, MAX_PER_PASS) {
            if !stale.channels.iter().any(|c| c == "sim") {
                continue;
            }
            let order = stale.order_id;
            match self.rt.block_on(self.channel.query(order)) {
                Ok(payments) => actions.extend(
                    (payments.into_iter()).map(|payment| Action::Callback { order, payment }),
                ),
                Err(ChannelError::Unavailable(_)) => {}
                Err(e) => panic!("seed {}: query declined: {e}", self.seed),
            }
        }
        actions
    }

    /// The refund job: takes the pending refunds, refunds each at the channel under its
    /// refund key, and confirms each receipt (a receipt is lost, as if the job died before
    /// confirming, with probability `1 - confirm`).
    pub fn refund_pass(&mut self, engine: &Engine, confirm: f64) -> Vec<Action> {
        let mut actions = Vec::new();
        let pending = match self.rt.block_on(engine.pending_refunds(MAX_PER_PASS)) {
            Ok(pending) => pending,
            Err(e) => {
                tolerate(self.seed, e);
                return actions;
            }
        };
        for refund in pending {
            let key = refund_key(&refund.payment);
            let before = self.channel.refund_count();
            let result = self.rt.block_on(self.channel.refund(&refund.payment, &key));
            let after = self.channel.refund_count();
            self.model
                .note_refund(&refund.payment, before, &result, after);
            if let Ok(receipt) = result
                && self.rng.random_bool(confirm)
            {
                actions.push(Action::ConfirmRefund {
                    order: refund.order_id,
                    payment: refund.payment,
                    refund_id: receipt.refund_id,
                });
            }
        }
        actions
    }

    /// Checks every answer against what the request was, and notes what was acknowledged.
    pub fn settle(&mut self, answers: Vec<(Action, Answer)>) {
        let seed = self.seed;
        let mut payments = BurstPayments::default();
        for (action, answer) in answers {
            match (action, answer) {
                (Action::Grab { campaign, user }, Answer::Grab(result)) => match result {
                    Ok(GrabOutcome::Won(ticket)) => self.model.wins.push(Won {
                        order: ticket.order_id,
                        campaign,
                        user,
                        amount: ticket.amount_cents,
                    }),
                    Ok(_) => {}
                    Err(e) => tolerate(seed, e),
                },
                (Action::StartPayment { order, .. }, Answer::StartPayment(result)) => {
                    match result {
                        Ok(OrderOutcome::Moved(after)) => {
                            assert_eq!(after.state, OrderState::Paying, "seed {seed}: {order}")
                        }
                        Ok(OrderOutcome::InvalidTransition(_)) => {}
                        Ok(other) => panic!("seed {seed}: owner's payment start: {other:?}"),
                        Err(e) => tolerate(seed, e),
                    }
                }
                (Action::Callback { order, payment }, Answer::Callback(result)) => {
                    self.settle_callback(&mut payments, order, &payment, result)
                }
                (Action::Cancel { order, .. }, Answer::Cancel(result)) => match result {
                    Ok(OrderOutcome::Moved(after)) => {
                        assert_eq!(after.state, OrderState::Cancelled, "seed {seed}");
                        self.model.note_released(order);
                    }
                    Ok(OrderOutcome::InvalidTransition(_)) => {}
                    Ok(other) => panic!("seed {seed}: owner's cancel: {other:?}"),
                    Err(e) => tolerate(seed, e),
                },
                (Action::ConfirmRefund { payment, .. }, Answer::ConfirmRefund(result)) => {
                    match result {
                        Ok(_) => {
                            self.model.confirmed.insert(payment.txn_id);
                        }
                        Err(e) => tolerate(seed, e),
                    }
                }
                (action, answer) => unreachable!("{action:?} answered {answer:?}"),
            }
        }
        self.model.merge(payments);
    }

    fn settle_callback(
        &mut self,
        payments: &mut BurstPayments,
        order: stampede_core::OrderId,
        payment: &Payment,
        result: Result<PaymentOutcome, EngineError>,
    ) {
        let seed = self.seed;
        let genuine = (self.model.at_channel.iter()).any(|(o, p)| *o == order && p == payment);
        let txn = &payment.txn_id;
        match result {
            Ok(PaymentOutcome::Recorded { order: after, kind }) if genuine => {
                (self.model).note_recorded(payments, order, payment, kind, after.state)
            }
            Ok(PaymentOutcome::AlreadyRecorded { kind, .. }) if genuine => {
                self.model.note_already(payments, order, payment, kind)
            }
            Ok(PaymentOutcome::AmountMismatch { .. }) if !genuine => {}
            Ok(other) => panic!("seed {seed}: callback of {txn} (genuine: {genuine}): {other:?}"),
            Err(e) => tolerate(seed, e),
        }
    }
}

/// The only operating failure a burst may see: the journal failed (fail-stop until restart).
fn tolerate(seed: u64, error: EngineError) {
    match error {
        EngineError::Unavailable(_) => {}
        other => panic!("seed {seed}: unexpected engine error {other}"),
    }
}
