//! A campaign to and from its snapshot image ([`crate::snapshot`]): the orders, the deadline
//! queue, payouts and the payment book as they are; every count and index rebuilt from them.

use std::borrow::Cow;
use std::sync::Arc;

use super::{Campaign, OrderSlot};
use crate::claim::PayoutId;
use crate::ids::UserId;
use crate::money::Cents;
use crate::order::OrderState;
use crate::order_key::{OrderCipher, carried_nonce};
use crate::payment_book::PaymentBook;
use crate::snapshot::image::{CampaignImage, OrderImage};
use crate::spec::CampaignSpec;

impl Campaign {
    /// This campaign's image, borrowing from it.
    pub(crate) fn image(&self) -> CampaignImage<'_> {
        let mut payouts: Vec<(u32, Cow<'_, str>)> = self
            .payouts
            .iter()
            .map(|(&index, payout)| (index, Cow::Borrowed(payout.as_str())))
            .collect();
        payouts.sort_unstable_by_key(|&(index, _)| index);
        CampaignImage {
            id: self.id,
            spec: Cow::Borrowed(&self.spec),
            created_at: self.created_at,
            orders: self
                .orders
                .iter()
                .map(|slot| OrderImage {
                    user_id: Cow::Borrowed(slot.user_id.as_str()),
                    amount_cents: slot.amount_cents,
                    created_at: slot.created_at,
                    nonce: slot.nonce,
                    state: slot.state,
                })
                .collect(),
            deadlines: Cow::Borrowed(&self.deadlines),
            payouts,
            book: self.book.image(),
        }
    }

    /// The campaign an image describes, kept by the ledger in `slot` under `cipher`; its
    /// counts, pool and indexes rebuilt from the orders. Every field is checked, so no image
    /// makes this (or a later call on the campaign) panic; the caller then checks the
    /// invariants ([`Campaign::check_invariants`]).
    pub(crate) fn from_image(
        image: CampaignImage<'_>,
        slot: u32,
        cipher: Arc<OrderCipher>,
    ) -> Result<Self, String> {
        let id = image.id;
        image
            .spec
            .validate()
            .map_err(|e| format!("campaign {id}: {e}"))?;
        let mut campaign =
            Campaign::new(id, image.spec.into_owned(), image.created_at, slot, cipher);
        // Released items are won again, so orders may outnumber the stock; their indices
        // are u32s.
        ensure!(
            u32::try_from(image.orders.len()).is_ok(),
            "campaign {id}: more orders than an order id can place"
        );
        campaign.orders.reserve_exact(image.orders.len());
        // Sized once: growing it order by order rehashes every user id ~20 times.
        campaign.by_user = hashbrown::HashTable::with_capacity(image.orders.len());
        for (index, order) in (0_u32..).zip(image.orders) {
            campaign.restore_order(index, order)?;
        }
        campaign.remaining = campaign
            .total()
            .checked_sub(campaign.live_orders)
            .ok_or_else(|| format!("campaign {id}: more live orders than stock"))?;
        campaign.restore_pool()?;
        let orders = campaign.orders.len();
        ensure!(
            image
                .deadlines
                .iter()
                .zip(image.deadlines.iter().skip(1))
                .all(|(a, b)| a < b)
                && image.deadlines.iter().all(|&i| (i as usize) < orders),
            "campaign {id}: deadline queue out of order or naming no order"
        );
        campaign.deadlines = image.deadlines.into_owned();
        ensure!(
            image.payouts.windows(2).all(|w| w[0].0 < w[1].0),
            "campaign {id}: payouts out of order"
        );
        for (index, payout) in image.payouts {
            ensure!(
                (index as usize) < orders,
                "campaign {id}: payout of no order"
            );
            let payout =
                PayoutId::parse(payout.into_owned()).map_err(|e| format!("campaign {id}: {e}"))?;
            campaign.payouts.insert(index, payout);
        }
        campaign.book = PaymentBook::from_image(image.book, orders)
            .map_err(|e| format!("campaign {id}: {e}"))?;
        Ok(campaign)
    }

    /// Appends the order at `index` from its image: checked, counted and indexed.
    fn restore_order(&mut self, index: u32, order: OrderImage<'_>) -> Result<(), String> {
        let id = self.id;
        let user_id = UserId::parse(&order.user_id).map_err(|e| format!("campaign {id}: {e}"))?;
        ensure!(
            order.nonce == carried_nonce(order.nonce),
            "campaign {id}: order {index} carries a nonce wider than an id holds"
        );
        let amount_fits = match &self.spec {
            CampaignSpec::Seckill(s) => order.amount_cents == s.price_cents,
            CampaignSpec::RedPacket(r) => order.amount_cents >= r.min_cents,
        };
        ensure!(
            amount_fits,
            "campaign {id}: order {index} has an impossible amount"
        );
        let live = order.state.is_live();
        if order.state == OrderState::ClaimExpired {
            self.refundable_cents = self
                .refundable_cents
                .checked_add(order.amount_cents.0)
                .ok_or_else(|| format!("campaign {id}: refundable sum overflows"))?;
        }
        let hash = self.user_hash(user_id.as_str());
        self.orders.push(OrderSlot {
            user_id,
            amount_cents: order.amount_cents,
            created_at: order.created_at,
            nonce: order.nonce,
            state: order.state,
        });
        self.index_user_order(hash, index, live);
        self.live_orders += u64::from(live);
        Ok(())
    }

    /// A red-packet pool as the orders leave it: every packet drawn is out of it for good.
    fn restore_pool(&mut self) -> Result<(), String> {
        let id = self.id;
        let (CampaignSpec::RedPacket(r), Some(pool)) = (&self.spec, &mut self.pool) else {
            return Ok(());
        };
        let drawn = self
            .orders
            .iter()
            .try_fold(0_u64, |sum, o| sum.checked_add(o.amount_cents.0))
            .ok_or_else(|| format!("campaign {id}: packets sum overflows"))?;
        let left = r.total_cents.0.checked_sub(drawn);
        let count = r.count.checked_sub(self.orders.len() as u64);
        let (Some(left), Some(count)) = (left, count) else {
            return Err(format!(
                "campaign {id}: more packets drawn than the pool held"
            ));
        };
        let floor_holds = count
            .checked_mul(r.min_cents.0)
            .is_some_and(|floor| floor <= left);
        ensure!(
            floor_holds && (count > 0 || left == 0),
            "campaign {id}: packet pool breaks its floor"
        );
        pool.remaining_cents = Cents(left);
        pool.remaining_count = count;
        Ok(())
    }
}
