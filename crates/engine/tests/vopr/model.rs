//! What must survive: every fact acknowledged to a requester ([`Acked`]), and the ledger as of
//! the last step whose batch was made durable ([`Image`]). Both are held against the writer's
//! ledger after every step and against the ledger replayed after every crash: a fact may move
//! on (an acknowledged win may be cancelled later) but only along the order state machine,
//! never back, never lost, never with another user or amount.

use std::collections::{BTreeMap, BTreeSet};

use stampede_core::{
    CampaignId, CampaignSpec, Cents, GrabKey, Ledger, Order, OrderId, OrderState, PaymentKind,
    PayoutId, RefundStatus, UserId,
};

/// An acknowledged win.
#[derive(Clone, Debug)]
pub(crate) struct Won {
    pub campaign: CampaignId,
    pub user: UserId,
    pub amount: Cents,
    pub red_packet: bool,
}

/// Everything acknowledged to a requester (answered `Ok` with a change).
#[derive(Debug, Default)]
pub(crate) struct Acked {
    /// Campaigns whose creation was acknowledged, with their spec.
    pub campaigns: Vec<(CampaignId, CampaignSpec)>,
    /// Acknowledged wins; `win_ids` lists them in the order won (for drawing one).
    pub wins: BTreeMap<OrderId, Won>,
    pub win_ids: Vec<OrderId>,
    /// The state each order was last acknowledged in (a win, a cancel, a payment, ...).
    pub states: BTreeMap<OrderId, OrderState>,
    /// txn id → (order, what it came to), for every payment acknowledged.
    pub payments: BTreeMap<String, (OrderId, PaymentKind)>,
    /// txn id → (order, refund id), for every refund confirmation acknowledged.
    pub refunds: BTreeMap<String, (OrderId, String)>,
    /// Packets whose payout was acknowledged (`claimed`), with the payout.
    pub payouts: BTreeMap<OrderId, PayoutId>,
    /// (user, campaign, key) → the order a grab under that key was acknowledged to win: every
    /// later grab under it must answer that win again.
    pub keyed: BTreeMap<(UserId, CampaignId, GrabKey), OrderId>,
}

impl Acked {
    /// Notes that `order` was acknowledged in `state`.
    pub(crate) fn state(&mut self, order: OrderId, state: OrderState) {
        self.states.insert(order, state);
    }

    /// Every acknowledged fact is in `ledger`, exactly, or moved on along the state machine.
    pub(crate) fn check(&self, ledger: &Ledger) {
        for (id, spec) in &self.campaigns {
            let campaign =
                (ledger.campaign(*id)).unwrap_or_else(|| panic!("acknowledged campaign {id} lost"));
            assert_eq!(campaign.spec(), spec, "campaign {id} changed its spec");
        }
        for (id, won) in &self.wins {
            let order =
                (ledger.order(*id)).unwrap_or_else(|| panic!("acknowledged win lost: {won:?}"));
            assert_eq!(order.user_id, won.user, "{id}: winner changed");
            assert_eq!(order.amount_cents, won.amount, "{id}: amount changed");
            assert_eq!(order.campaign_id, won.campaign, "{id}: campaign changed");
        }
        for (id, &acked) in &self.states {
            let now = ledger.order(*id).map(|o| o.state);
            assert!(
                now.is_some_and(|now| reachable(acked, now)),
                "{id} was acknowledged {acked:?} and is now {now:?}"
            );
        }
        for (txn, &(order, kind)) in &self.payments {
            let entries = ledger.payments_of(order);
            let entry = (entries.iter().find(|e| e.payment.txn_id == *txn))
                .unwrap_or_else(|| panic!("acknowledged payment {txn} of {order} lost"));
            assert_eq!(entry.kind, kind, "{txn} changed what it came to");
        }
        for (txn, (order, refund_id)) in &self.refunds {
            let refund = (ledger.payments_of(*order).into_iter())
                .find(|e| e.payment.txn_id == *txn)
                .and_then(|e| e.refund);
            let kept = matches!(&refund, Some(RefundStatus::Refunded { refund_id: id, .. })
                if id == refund_id);
            assert!(kept, "acknowledged refund of {txn} lost: {refund:?}");
        }
        for (order, payout) in &self.payouts {
            assert_eq!(
                ledger.payout_id(*order).as_ref(),
                Some(payout),
                "acknowledged payout of {order} lost"
            );
        }
    }
}

/// Whether an order in state `from` may be in state `to` later (the transition table's
/// closure, `from` included).
pub(crate) fn reachable(from: OrderState, to: OrderState) -> bool {
    let mut seen = BTreeSet::from([from.code()]);
    let mut frontier = vec![from];
    while let Some(state) = frontier.pop() {
        if state == to {
            return true;
        }
        for &next in state.allowed_next() {
            if seen.insert(next.code()) {
                frontier.push(next);
            }
        }
    }
    false
}

/// One campaign as of a durable step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CampaignImage {
    pub spec: CampaignSpec,
    pub remaining: u64,
    pub pool_cents: Option<Cents>,
    pub refundable_cents: u64,
}

/// One payment as of a durable step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PaymentImage {
    pub order: OrderId,
    pub amount: Cents,
    pub kind: PaymentKind,
    pub refund: Option<RefundStatus>,
}

/// The ledger as of the last durable step (or the last reopen): what every later crash must
/// keep. Compared whole after a crash that kept none of the unsynced bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Image {
    /// Records in the journal.
    pub records: u64,
    pub campaigns: BTreeMap<CampaignId, CampaignImage>,
    pub orders: BTreeMap<OrderId, Order>,
    /// Keyed by "channel/txn".
    pub payments: BTreeMap<String, PaymentImage>,
    pub payouts: BTreeMap<OrderId, PayoutId>,
}

impl Image {
    /// The image of `ledger`, whose journal holds `records` records.
    pub(crate) fn of(ledger: &Ledger, records: u64) -> Self {
        let mut image = Image {
            records,
            ..Image::default()
        };
        for campaign in ledger.campaigns() {
            image.campaigns.insert(
                campaign.id(),
                CampaignImage {
                    spec: campaign.spec().clone(),
                    remaining: campaign.remaining(),
                    pool_cents: campaign.pool().map(|p| p.remaining_cents),
                    refundable_cents: campaign.refundable_cents(),
                },
            );
            for order in orders(campaign) {
                if let Some(payout) = ledger.payout_id(order.id) {
                    image.payouts.insert(order.id, payout);
                }
                image.orders.insert(order.id, order);
            }
            for entry in campaign.payments() {
                let order = campaign.order_at(entry.order_index).expect("paid order").id;
                let key = format!("{}/{}", entry.payment.channel, entry.payment.txn_id);
                let payment = PaymentImage {
                    order,
                    amount: entry.payment.amount_cents,
                    kind: entry.kind,
                    refund: entry.refund.clone(),
                };
                image.payments.insert(key, payment);
            }
        }
        image
    }

    /// Everything in the image is in `ledger`: every campaign with its spec, every order with
    /// its user, amount and time and a state reachable from its state here, every payment with
    /// what it came to, every confirmed refund and every payout.
    pub(crate) fn check_kept(&self, ledger: &Ledger) {
        for (id, campaign) in &self.campaigns {
            let now =
                (ledger.campaign(*id)).unwrap_or_else(|| panic!("durable campaign {id} lost"));
            assert_eq!(now.spec(), &campaign.spec, "{id}: spec changed");
        }
        for (id, order) in &self.orders {
            let now =
                (ledger.order(*id)).unwrap_or_else(|| panic!("durable order lost: {order:?}"));
            let same = (
                now.campaign_id,
                &now.user_id,
                now.amount_cents,
                now.created_at,
            ) == (
                order.campaign_id,
                &order.user_id,
                order.amount_cents,
                order.created_at,
            );
            assert!(same, "durable order changed: {order:?} is now {now:?}");
            assert!(
                reachable(order.state, now.state),
                "{id} was durable {:?} and is now {:?}",
                order.state,
                now.state
            );
        }
        let now = Image::of(ledger, self.records);
        for (key, payment) in &self.payments {
            let kept =
                (now.payments.get(key)).unwrap_or_else(|| panic!("durable payment {key} lost"));
            let same = (kept.order, kept.amount, kept.kind)
                == (payment.order, payment.amount, payment.kind);
            assert!(
                same,
                "durable payment {key} changed: {payment:?} is now {kept:?}"
            );
            if let Some(RefundStatus::Refunded { .. }) = &payment.refund {
                assert_eq!(kept.refund, payment.refund, "durable refund of {key} lost");
            }
        }
        for (order, payout) in &self.payouts {
            assert_eq!(
                now.payouts.get(order),
                Some(payout),
                "durable payout of {order} lost"
            );
        }
    }

    /// Orders in `state`, as of this image.
    pub(crate) fn in_state(&self, state: OrderState) -> impl Iterator<Item = &Order> {
        self.orders.values().filter(move |o| o.state == state)
    }
}

/// Every order of a campaign, in win order.
pub(crate) fn orders(campaign: &stampede_core::Campaign) -> impl Iterator<Item = Order> + '_ {
    (0..campaign.order_count() as u32).filter_map(|i| campaign.order_at(i))
}
