//! What reconciliation reads of a campaign, as a trait: the ledger's [`Campaign`] implements
//! it, and the checks' unit tests implement it over plain vectors, so every check can be fed
//! books that the ledger's own guards would never let exist.

use crate::campaign::Campaign;
use crate::channel_name::ChannelName;
use crate::ids::{CampaignId, OrderId};
use crate::money::Cents;
use crate::order::OrderState;
use crate::payment_book::PaymentEntry;
use crate::spec::CampaignSpec;

use super::report::CampaignKind;

/// A red-packet pool as the campaign keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PoolFigures {
    /// Money in the pool at creation.
    pub total_cents: Cents,
    /// Money the pool says is left.
    pub remaining_cents: Cents,
    /// Packets the pool says are left.
    pub remaining_count: u64,
    /// The campaign's running sum of `claim_expired` packets.
    pub refundable_cents: u64,
}

/// The campaign-wide figures, as the campaign keeps them (the checks recompute them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CampaignFigures {
    pub id: CampaignId,
    pub name: String,
    pub kind: CampaignKind,
    /// Items or packets in total.
    pub total: u64,
    /// The campaign's counter of items or packets not won.
    pub remaining: u64,
    /// Red packets only.
    pub pool: Option<PoolFigures>,
}

/// One campaign's books, read-only.
pub(crate) trait CampaignBooks {
    /// The campaign-wide figures.
    fn figures(&self) -> CampaignFigures;
    /// The campaign's id (cheaper than [`CampaignBooks::figures`]).
    fn campaign_id(&self) -> CampaignId;
    /// Orders ever created.
    fn order_count(&self) -> u32;
    /// State and amount of the order at `index` (`index < order_count()`).
    fn order(&self, index: u32) -> (OrderState, Cents);
    /// Id of the order at `index` (`index < order_count()`).
    fn order_id(&self, index: u32) -> OrderId;
    /// Whether the order at `index` has a payout id.
    fn has_payout(&self, index: u32) -> bool;
    /// Every payment, in record order.
    fn payments(&self) -> &[PaymentEntry];
    /// The position in [`CampaignBooks::payments`] of the payment of (channel, txn_id), from
    /// the campaign's own index.
    fn payment_position(&self, channel: &ChannelName, txn_id: &str) -> Option<usize>;
}

impl<T: CampaignBooks> CampaignBooks for &T {
    fn figures(&self) -> CampaignFigures {
        (**self).figures()
    }
    fn campaign_id(&self) -> CampaignId {
        (**self).campaign_id()
    }
    fn order_count(&self) -> u32 {
        (**self).order_count()
    }
    fn order(&self, index: u32) -> (OrderState, Cents) {
        (**self).order(index)
    }
    fn order_id(&self, index: u32) -> OrderId {
        (**self).order_id(index)
    }
    fn has_payout(&self, index: u32) -> bool {
        (**self).has_payout(index)
    }
    fn payments(&self) -> &[PaymentEntry] {
        (**self).payments()
    }
    fn payment_position(&self, channel: &ChannelName, txn_id: &str) -> Option<usize> {
        (**self).payment_position(channel, txn_id)
    }
}

impl CampaignBooks for Campaign {
    fn figures(&self) -> CampaignFigures {
        let pool = match (self.spec(), self.pool()) {
            (CampaignSpec::RedPacket(spec), Some(pool)) => Some(PoolFigures {
                total_cents: spec.total_cents,
                remaining_cents: pool.remaining_cents,
                remaining_count: pool.remaining_count,
                refundable_cents: self.refundable_cents(),
            }),
            _ => None,
        };
        CampaignFigures {
            id: self.id(),
            name: self.spec().common().name.clone(),
            kind: match self.spec() {
                CampaignSpec::Seckill(_) => CampaignKind::Seckill,
                CampaignSpec::RedPacket(_) => CampaignKind::RedPacket,
            },
            total: self.total(),
            remaining: self.remaining(),
            pool,
        }
    }

    fn campaign_id(&self) -> CampaignId {
        self.id()
    }

    fn order_count(&self) -> u32 {
        u32::try_from(Campaign::order_count(self)).expect("orders bounded by MAX_STOCK")
    }

    fn order(&self, index: u32) -> (OrderState, Cents) {
        self.state_and_amount(index)
            .expect("reconciliation reads orders below order_count")
    }

    fn order_id(&self, index: u32) -> OrderId {
        assert!(
            (index as usize) < Campaign::order_count(self),
            "reconciliation reads orders below order_count"
        );
        Campaign::order_id(self, index)
    }

    fn has_payout(&self, index: u32) -> bool {
        self.payout_of(index).is_some()
    }

    fn payments(&self) -> &[PaymentEntry] {
        Campaign::payments(self)
    }

    fn payment_position(&self, channel: &ChannelName, txn_id: &str) -> Option<usize> {
        Campaign::payment_position(self, channel, txn_id)
    }
}

/// Plain books for the checks' tests: whatever a test writes, consistent or not.
#[cfg(test)]
pub(crate) mod plain {
    use super::*;

    /// A campaign as plain data.
    #[derive(Clone, Debug)]
    pub(crate) struct PlainBooks {
        pub figures: CampaignFigures,
        pub orders: Vec<(OrderState, Cents)>,
        pub payouts: Vec<bool>,
        pub payments: Vec<PaymentEntry>,
    }

    impl PlainBooks {
        /// A seckill campaign of `total` items with these orders, `remaining` as kept.
        pub(crate) fn seckill(total: u64, remaining: u64, orders: &[(OrderState, u64)]) -> Self {
            Self {
                figures: CampaignFigures {
                    id: CampaignId(7),
                    name: "plain".into(),
                    kind: CampaignKind::Seckill,
                    total,
                    remaining,
                    pool: None,
                },
                orders: orders.iter().map(|&(s, c)| (s, Cents(c))).collect(),
                payouts: vec![false; orders.len()],
                payments: Vec::new(),
            }
        }
    }

    impl CampaignBooks for PlainBooks {
        fn figures(&self) -> CampaignFigures {
            self.figures.clone()
        }
        fn campaign_id(&self) -> CampaignId {
            self.figures.id
        }
        fn order_count(&self) -> u32 {
            self.orders.len() as u32
        }
        fn order(&self, index: u32) -> (OrderState, Cents) {
            self.orders[index as usize]
        }
        fn order_id(&self, index: u32) -> OrderId {
            OrderId(1000 + u128::from(index))
        }
        fn has_payout(&self, index: u32) -> bool {
            self.payouts[index as usize]
        }
        fn payments(&self) -> &[PaymentEntry] {
            &self.payments
        }
        fn payment_position(&self, channel: &ChannelName, txn_id: &str) -> Option<usize> {
            self.payments
                .iter()
                .position(|e| e.payment.channel == *channel && e.payment.txn_id == txn_id)
        }
    }
}
