//! What the simulated clients, customers and channel were told, and the checkers that hold the
//! engine to it: after every restart ([`Model::check_restart`]) and at the end, once every
//! deadline passed and every refund was confirmed ([`Model::check_end`]).

use std::collections::{HashMap, HashSet};

use stampede_core::{
    Campaign, CampaignId, Cents, Ledger, OrderId, OrderState, Payment, PaymentKind, RefundStatus,
};
use stampede_engine::{ChannelError, Engine, RefundReceipt, SimChannel};

/// An acknowledged win.
#[derive(Debug)]
pub struct Won {
    pub order: OrderId,
    pub campaign: CampaignId,
    pub user: String,
    pub amount: Cents,
}

/// Everything acknowledged so far. The channel's side (`at_channel`, `receipts`) is the
/// channel's own memory: it survives the engine's crashes, as another company's books would.
#[derive(Debug, Default)]
pub struct Model {
    pub seed: u64,
    /// Seckill campaigns whose creation was acknowledged.
    pub campaigns: Vec<CampaignId>,
    pub wins: Vec<Won>,
    /// Orders whose cancellation or expiry was acknowledged.
    pub released: HashSet<OrderId>,
    /// Every payment the channel took, in the order made, with the order it paid for.
    pub at_channel: Vec<(OrderId, Payment)>,
    /// txn id → the order it paid for (every payment at the channel).
    pub order_of_txn: HashMap<String, OrderId>,
    /// txn id → what it came to, for every payment acknowledged (`Recorded` or
    /// `AlreadyRecorded` answered `Ok`).
    pub acked_payments: HashMap<String, (OrderId, PaymentKind)>,
    /// txn id → the refund id the channel answered for the payment's refund key.
    pub receipts: HashMap<String, String>,
    /// txn ids whose refund confirmation was acknowledged (`confirm_refund` answered `Ok`).
    pub confirmed: HashSet<String>,
}

/// The answers of one burst to payment callbacks, merged into the model together: two
/// deliveries of one transaction in a burst may be answered in any order.
#[derive(Debug, Default)]
pub struct BurstPayments {
    recorded: HashMap<String, (OrderId, PaymentKind)>,
    already: Vec<(String, OrderId, PaymentKind)>,
}

impl Model {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }

    /// Payments the channel took for `order` so far.
    pub fn payments_at_channel(&self, order: OrderId) -> usize {
        self.at_channel.iter().filter(|(o, _)| *o == order).count()
    }

    /// Notes a payment the customer made at the channel.
    pub fn paid_at_channel(&mut self, order: OrderId, payment: &Payment) {
        let seed = self.seed;
        let before = self.order_of_txn.insert(payment.txn_id.clone(), order);
        assert!(before.is_none(), "seed {seed}: the channel reused a txn id");
        self.at_channel.push((order, payment.clone()));
    }

    /// Notes a `Recorded` answer of this burst, checking what it says about the order.
    pub fn note_recorded(
        &self,
        burst: &mut BurstPayments,
        order: OrderId,
        payment: &Payment,
        kind: PaymentKind,
        state: OrderState,
    ) {
        let seed = self.seed;
        let txn = &payment.txn_id;
        let expected_state = match kind {
            PaymentKind::Settled | PaymentKind::Duplicate => OrderState::Paid,
            PaymentKind::Late => OrderState::RefundPending,
        };
        assert_eq!(
            state, expected_state,
            "seed {seed}: {txn} recorded {kind:?}"
        );
        if let Some(acked) = self.acked_payments.get(txn) {
            panic!("seed {seed}: acknowledged payment {txn} {acked:?} lost: recorded again as new");
        }
        if kind == PaymentKind::Settled && self.receipts.contains_key(txn) {
            panic!("seed {seed}: payment {txn}, already refunded at the channel, settled an order");
        }
        let first = burst.recorded.insert(txn.clone(), (order, kind));
        assert!(
            first.is_none(),
            "seed {seed}: {txn} recorded twice in one burst"
        );
    }

    /// Notes an `AlreadyRecorded` answer of this burst.
    pub fn note_already(
        &self,
        burst: &mut BurstPayments,
        order: OrderId,
        payment: &Payment,
        kind: PaymentKind,
    ) {
        burst.already.push((payment.txn_id.clone(), order, kind));
    }

    /// Merges a burst's payment answers: each is acknowledged, with one kind for ever.
    pub fn merge(&mut self, burst: BurstPayments) {
        let seed = self.seed;
        self.acked_payments.extend(burst.recorded);
        for (txn, order, kind) in burst.already {
            let acked = *self
                .acked_payments
                .entry(txn.clone())
                .or_insert((order, kind));
            assert_eq!(
                acked,
                (order, kind),
                "seed {seed}: {txn} changed what it came to"
            );
        }
        // No order both paid and released.
        for (txn, (order, kind)) in &self.acked_payments {
            if *kind == PaymentKind::Settled {
                assert!(
                    !self.released.contains(order),
                    "seed {seed}: order {order} both released and paid (by {txn})"
                );
            }
        }
    }

    /// Notes an acknowledged cancellation.
    pub fn note_released(&mut self, order: OrderId) {
        let seed = self.seed;
        assert!(self.released.insert(order), "seed {seed}: released twice");
    }

    /// Checks one refund call at the channel: a new refund key refunds once, a repeated key
    /// refunds nothing more and answers the first receipt, a refund is never declined (the
    /// payment exists and its amount matches: a decline means a second refund under another
    /// key, or a refund of money the channel never took).
    pub fn note_refund(
        &mut self,
        payment: &Payment,
        count_before: usize,
        result: &Result<RefundReceipt, ChannelError>,
        count_after: usize,
    ) {
        let seed = self.seed;
        let txn = &payment.txn_id;
        match result {
            Ok(receipt) => match self.receipts.get(txn) {
                Some(first) => {
                    assert_eq!(
                        &receipt.refund_id, first,
                        "seed {seed}: the channel answered {txn}'s refund key with another receipt"
                    );
                    assert_eq!(
                        count_after, count_before,
                        "seed {seed}: a repeated refund of {txn} refunded again at the channel"
                    );
                }
                None => {
                    assert_eq!(
                        count_after,
                        count_before + 1,
                        "seed {seed}: one refund of {txn} made {} refunds at the channel",
                        count_after - count_before
                    );
                    self.receipts.insert(txn.clone(), receipt.refund_id.clone());
                }
            },
            Err(ChannelError::Unavailable(_)) => assert_eq!(count_after, count_before),
            Err(ChannelError::Declined(why)) => {
                panic!("seed {seed}: the channel declined the refund of {txn}: {why}")
            }
        }
    }

    /// Every acknowledged fact survived: wins, releases, payments (with what they came to),
    /// refund confirmations; paid orders have exactly one settling payment; the ledger holds
    /// only payments the channel took, each for the order it was made for.
    pub fn check_restart(&self, engine: &Engine) {
        engine.inspect(|ledger| {
            ledger.assert_invariants();
            self.check_wins(ledger);
            self.check_payments(ledger);
        });
    }

    fn check_wins(&self, ledger: &Ledger) {
        let seed = self.seed;
        for win in &self.wins {
            let order = (ledger.order(win.order))
                .unwrap_or_else(|| panic!("seed {seed}: acknowledged win lost: {win:?}"));
            assert_eq!(
                order.user_id.as_str(),
                win.user,
                "seed {seed}: winner changed"
            );
            assert_eq!(
                order.amount_cents, win.amount,
                "seed {seed}: amount changed"
            );
            assert_eq!(order.campaign_id, win.campaign, "seed {seed}");
            let settling = (ledger.payments_of(win.order).iter())
                .filter(|e| e.kind == PaymentKind::Settled)
                .count();
            let paid = usize::from(order.state == OrderState::Paid);
            assert_eq!(
                settling, paid,
                "seed {seed}: order {} is {:?} with {settling} settling payments",
                win.order, order.state
            );
        }
        for order in &self.released {
            let state = ledger.order(*order).map(|o| o.state);
            assert!(
                matches!(
                    state,
                    Some(
                        OrderState::Cancelled
                            | OrderState::Expired
                            | OrderState::RefundPending
                            | OrderState::Refunded
                    )
                ),
                "seed {seed}: acknowledged release lost (or paid after it): {order} is {state:?}"
            );
        }
    }

    fn check_payments(&self, ledger: &Ledger) {
        let seed = self.seed;
        for (txn, &(order, kind)) in &self.acked_payments {
            let entries = ledger.payments_of(order);
            let entry = (entries.iter().find(|e| e.payment.txn_id == *txn))
                .unwrap_or_else(|| panic!("seed {seed}: acknowledged payment {txn} lost"));
            assert_eq!(
                entry.kind, kind,
                "seed {seed}: {txn} changed what it came to"
            );
        }
        for txn in &self.confirmed {
            let order = self.order_of_txn[txn];
            let entries = ledger.payments_of(order);
            let entry = (entries.iter().find(|e| e.payment.txn_id == *txn))
                .unwrap_or_else(|| panic!("seed {seed}: refunded payment {txn} lost"));
            match &entry.refund {
                Some(RefundStatus::Refunded { refund_id, .. }) => assert_eq!(
                    refund_id, &self.receipts[txn],
                    "seed {seed}: {txn} confirmed under another refund id than the channel's"
                ),
                other => panic!("seed {seed}: acknowledged refund of {txn} lost: {other:?}"),
            }
        }
        for campaign in ledger.campaigns() {
            for entry in campaign.payments() {
                let txn = &entry.payment.txn_id;
                let order = campaign.order_at(entry.order_index).expect("exists").id;
                assert_eq!(
                    self.order_of_txn.get(txn),
                    Some(&order),
                    "seed {seed}: the ledger holds {txn}, which the channel never took for {order}"
                );
            }
        }
    }

    /// After every deadline passed, every payment was delivered and every refund confirmed:
    /// stock came back exactly once, every paid order has exactly one settling payment, money
    /// balances in the ledger and at the channel, every late or duplicate payment was refunded
    /// once at the channel, and no settling payment was.
    pub fn check_end(&self, engine: &Engine, channel: &SimChannel) {
        let seed = self.seed;
        self.check_restart(engine);
        let mut totals = Totals::default();
        engine.inspect(|ledger| {
            for campaign in ledger.campaigns() {
                self.check_campaign_end(campaign, &mut totals);
            }
        });
        assert_eq!(
            totals.recorded_cents - totals.refunded_cents,
            totals.paid_cents,
            "seed {seed}: the ledger's money does not balance"
        );
        // The channel's books tell the same story.
        assert_eq!(
            totals.recorded,
            self.at_channel.len(),
            "seed {seed}: a payment the channel took is not recorded"
        );
        assert_eq!(
            channel.payment_count(),
            self.at_channel.len(),
            "seed {seed}"
        );
        assert_eq!(
            channel.refund_count(),
            self.receipts.len(),
            "seed {seed}: the channel refunded something nobody was told of"
        );
        let taken: u64 = self.at_channel.iter().map(|(_, p)| p.amount_cents.0).sum();
        let given_back: u64 = (self.at_channel.iter())
            .filter(|(_, p)| self.receipts.contains_key(&p.txn_id))
            .map(|(_, p)| p.amount_cents.0)
            .sum();
        assert_eq!(
            given_back, totals.refunded_cents,
            "seed {seed}: the ledger's refunds differ from the channel's"
        );
        assert_eq!(
            taken - given_back,
            totals.paid_cents,
            "seed {seed}: the channel kept other money than the paid orders'"
        );
    }

    fn check_campaign_end(&self, campaign: &Campaign, totals: &mut Totals) {
        let seed = self.seed;
        let mut paid_orders = 0;
        for index in 0..campaign.order_count() as u32 {
            let order = campaign.order_at(index).expect("exists");
            assert!(
                !matches!(order.state, OrderState::PendingPayment | OrderState::Paying),
                "seed {seed}: {} still {:?} after every deadline",
                order.id,
                order.state
            );
            let paid = order.state == OrderState::Paid;
            assert_eq!(
                campaign.settled_payment_of(index).is_some(),
                paid,
                "seed {seed}: {} is {:?}",
                order.id,
                order.state
            );
            if paid {
                assert!(
                    !self.released.contains(&order.id),
                    "seed {seed}: paid and released"
                );
                paid_orders += 1;
                totals.paid_cents += order.amount_cents.0;
            }
        }
        assert_eq!(
            campaign.remaining() + paid_orders,
            campaign.total(),
            "seed {seed}: stock not returned exactly once"
        );
        for entry in campaign.payments() {
            let txn = &entry.payment.txn_id;
            totals.recorded += 1;
            totals.recorded_cents += entry.payment.amount_cents.0;
            match (&entry.refund, entry.kind) {
                (None, PaymentKind::Settled) => assert!(
                    !self.receipts.contains_key(txn),
                    "seed {seed}: settling payment {txn} was refunded at the channel"
                ),
                (Some(RefundStatus::Refunded { refund_id, .. }), _) => {
                    assert_eq!(Some(refund_id), self.receipts.get(txn), "seed {seed}");
                    totals.refunded_cents += entry.payment.amount_cents.0;
                }
                (refund, kind) => {
                    panic!("seed {seed}: {kind:?} payment {txn} ends with {refund:?}")
                }
            }
        }
    }
}

/// What the ledger holds at the end, summed over campaigns.
#[derive(Debug, Default)]
struct Totals {
    /// Payments recorded.
    recorded: usize,
    recorded_cents: u64,
    refunded_cents: u64,
    /// What the paid orders cost.
    paid_cents: u64,
}
