//! The reconciliation report: per-campaign and per-channel summaries, the pending refunds,
//! and the discrepancies. A value (serializable, comparable); rendering is in `render.rs`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::channel_name::ChannelName;
use crate::ids::{CampaignId, OrderId};
use crate::money::{Cents, UnixMillis};

use super::discrepancy::Discrepancy;
use super::ser;

/// Most pending refunds listed one by one in a report (the rest are counted): a refund job
/// that fell behind can leave many, and the report stays bounded like the discrepancy list.
pub const MAX_LISTED_PENDING_REFUNDS: usize = 1_000;

/// What a campaign sells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignKind {
    /// Items at a fixed price.
    Seckill,
    /// A pool of money split into packets.
    RedPacket,
}

impl CampaignKind {
    /// The stable name (as the API names campaign kinds).
    pub fn code(self) -> &'static str {
        match self {
            CampaignKind::Seckill => "seckill",
            CampaignKind::RedPacket => "red_packet",
        }
    }
}

/// One campaign, recomputed from its orders and payments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CampaignSummary {
    /// The campaign.
    #[serde(serialize_with = "ser::display")]
    pub campaign_id: CampaignId,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: CampaignKind,
    /// Items or packets in total.
    pub total: u64,
    /// Items or packets not held by an order (the campaign's counter).
    pub remaining: u64,
    /// Orders ever created.
    pub orders: u64,
    /// Orders holding an item now (counted from the orders).
    pub live: u64,
    /// Orders that gave their item back: cancelled, expired, and the refund states reached
    /// from them (counted from the orders).
    pub released: u64,
    /// Orders per state (stable state codes; states without orders are left out).
    pub states: BTreeMap<&'static str, u64>,
    /// Orders `paid`.
    pub paid_orders: u64,
    /// Their amounts.
    pub paid_cents: Cents,
    /// Payments recorded (settling, late and duplicate).
    pub payments: u64,
    /// Their amounts.
    pub payments_cents: Cents,
    /// Payments that reached a closed order.
    pub late_payments: u64,
    /// Payments of an order already paid.
    pub duplicate_payments: u64,
    /// Refunds opened and not yet confirmed by their channel (normal for a while: not a
    /// discrepancy).
    pub refunds_pending: u64,
    /// Their amounts.
    pub refunds_pending_cents: Cents,
    /// Refunds the channel confirmed.
    pub refunded: u64,
    /// Their amounts.
    pub refunded_cents: Cents,
    /// Red packets only: where the money is.
    pub red_packet: Option<RedPacketSummary>,
}

/// A red-packet campaign's money.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RedPacketSummary {
    /// Money in the pool at creation.
    pub total_cents: Cents,
    /// Sum of every packet drawn.
    pub drawn_cents: Cents,
    /// Money still in the pool (`drawn + pool_remaining == total` when clean).
    pub pool_remaining_cents: Cents,
    /// Packets paid out.
    pub claimed: u64,
    /// Their amounts.
    pub claimed_cents: Cents,
    /// Packets whose claim window passed.
    pub claim_expired: u64,
    /// Their amounts: refundable to the campaign's owner.
    pub claim_expired_cents: Cents,
}

/// One channel's statements against the books.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatementSummary {
    /// The channel.
    pub channel: ChannelName,
    /// Statements given for it (checked together).
    pub statements: u64,
    /// Lines checked.
    pub lines: u64,
    /// Their amounts.
    pub statement_cents: Cents,
    /// Lines that match a payment in the books (same transaction, order and amount).
    pub matched: u64,
    /// Their amounts.
    pub matched_cents: Cents,
    /// Payments of this channel in the books (those the statements cover).
    pub books_payments: u64,
    /// Their amounts.
    pub books_cents: Cents,
    /// Lines with no payment in the books.
    pub paid_but_not_opened: u64,
    /// Payments in the books on no line.
    pub opened_but_not_paid: u64,
    /// Lines whose amount differs from the books.
    pub amount_mismatches: u64,
    /// Lines whose order differs from the books.
    pub order_mismatches: u64,
    /// Lines repeating a transaction already seen.
    pub duplicate_lines: u64,
    /// Lines past [`super::MAX_STATEMENT_LINES`], not checked.
    pub unchecked_lines: u64,
    /// The transactions the statements cover, when only some ([`super::Statement::txn_prefix`];
    /// absent when they cover all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub txn_prefix: Option<String>,
    /// Payments of this channel in the books whose transaction the statements do not cover
    /// (another desk's), not compared; absent when none.
    #[serde(skip_serializing_if = "is_zero")]
    pub other_desks_payments: u64,
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}

/// A refund opened and not yet confirmed (listed, not a discrepancy).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PendingRefundLine {
    /// The campaign.
    #[serde(serialize_with = "ser::display")]
    pub campaign_id: CampaignId,
    /// The order it was paid for.
    #[serde(serialize_with = "ser::display")]
    pub order_id: OrderId,
    /// The channel.
    pub channel: ChannelName,
    /// The channel's transaction id.
    pub txn_id: String,
    /// What to refund.
    pub amount_cents: Cents,
    /// `late_payment` or `duplicate_payment`.
    pub kind: &'static str,
    /// When the payment was recorded (the refund has been pending since).
    pub recorded_at: UnixMillis,
}

/// Everything one reconciliation run found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReconciliationReport {
    /// When it ran (the caller's `now`).
    pub generated_at: UnixMillis,
    /// Every campaign, in creation order.
    pub campaigns: Vec<CampaignSummary>,
    /// Every channel given a statement, in the order first given.
    pub statements: Vec<StatementSummary>,
    /// Refunds still pending: the first [`MAX_LISTED_PENDING_REFUNDS`].
    pub pending_refunds: Vec<PendingRefundLine>,
    /// Refunds still pending, all of them.
    pub pending_refunds_total: u64,
    /// Discrepancies found, all of them.
    pub discrepancy_total: u64,
    /// Discrepancies per stable code.
    pub discrepancy_counts: BTreeMap<&'static str, u64>,
    /// The first [`super::MAX_LISTED_DISCREPANCIES`] discrepancies, in the order found.
    pub discrepancies: Vec<Discrepancy>,
}

impl ReconciliationReport {
    /// Whether nothing is wrong (pending refunds are not wrong).
    pub fn is_clean(&self) -> bool {
        self.discrepancy_total == 0
    }
}

/// Collects pending refunds: counts every one, keeps the first [`MAX_LISTED_PENDING_REFUNDS`].
#[derive(Clone, Debug, Default)]
pub(crate) struct PendingRefunds {
    pub listed: Vec<PendingRefundLine>,
    pub total: u64,
}

impl PendingRefunds {
    /// Notes one pending refund; `build` runs only if it is listed.
    pub(crate) fn push(&mut self, build: impl FnOnce() -> PendingRefundLine) {
        self.total += 1;
        if self.listed.len() < MAX_LISTED_PENDING_REFUNDS {
            self.listed.push(build());
        }
    }
}
