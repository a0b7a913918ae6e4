//! What reconciliation found wrong: one stable code per kind of discrepancy, and a collector
//! that counts every finding but lists only the first [`MAX_LISTED_DISCREPANCIES`], so a run
//! over a badly broken ledger (a million mismatches) still produces a bounded report.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::channel_name::ChannelName;
use crate::ids::{CampaignId, OrderId};

use super::ser;

/// Most discrepancies listed one by one in a report; the rest are only counted (per code).
/// 1,000 is more than anyone reads, and keeps the JSON of a million-mismatch run under a
/// megabyte.
pub const MAX_LISTED_DISCREPANCIES: usize = 1_000;

/// Longest `detail` text kept for one discrepancy, in bytes: details quote at most a few ids
/// and amounts, so 512 bytes never cuts a real one; it bounds a listed entry whatever the input.
pub const MAX_DETAIL_BYTES: usize = 512;

/// Every kind of discrepancy, each with a stable code (the JSON `code` and the key of the
/// per-code counts). Codes are never renamed: scripts and alerts match on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscrepancyCode {
    /// Stock does not add up: `total != remaining + live`, or `remaining != total − created +
    /// released` (see the docs of module [`mod@crate::reconcile`]).
    StockMismatch,
    /// A `paid` order without a settling payment.
    PaidWithoutPayment,
    /// A payment whose order cannot hold it: a settling payment of an order that is not
    /// `paid`, a duplicate of an order that was never paid, a late payment of an order that is
    /// still open, or any payment of a red packet.
    PaymentWithoutPaidOrder,
    /// One order settled by two payments.
    OrderSettledTwice,
    /// A payment naming an order the campaign does not have.
    PaymentUnknownOrder,
    /// A late or duplicate payment without a refund (or a settling payment with one).
    ExtraPaymentWithoutRefund,
    /// A payment whose amount differs from its order's.
    AmountMismatch,
    /// An order whose state says "refund pending" without a pending refund, or "refunded"
    /// with one still pending.
    RefundStateMismatch,
    /// Red packets: drawn packets plus the pool's remaining money differ from the total, or
    /// the pool's count differs from the remaining packets.
    RedPacketSumMismatch,
    /// Red packets: the refundable sum differs from the sum of `claim_expired` packets.
    RefundableMismatch,
    /// Red packets: a `claimed` packet without a payout id, or a payout on an unclaimed one.
    ClaimPayoutMismatch,
    /// On the channel's statement, not in our books: the channel took money we never
    /// recorded (or for an order that is not ours).
    PaidButNotOpened,
    /// In our books for the channel, not on its statement: we recorded money the channel does
    /// not show.
    OpenedButNotPaid,
    /// On the statement and in our books with different amounts.
    StatementAmountMismatch,
    /// On the statement and in our books for different orders.
    StatementOrderMismatch,
    /// One txn_id twice on a channel's statements.
    StatementDuplicateTxn,
    /// Lines past [`super::MAX_STATEMENT_LINES`] in one statement: not checked.
    StatementTooLong,
}

impl DiscrepancyCode {
    /// Every code, in the order reports list them.
    pub const ALL: [DiscrepancyCode; 17] = [
        DiscrepancyCode::StockMismatch,
        DiscrepancyCode::PaidWithoutPayment,
        DiscrepancyCode::PaymentWithoutPaidOrder,
        DiscrepancyCode::OrderSettledTwice,
        DiscrepancyCode::PaymentUnknownOrder,
        DiscrepancyCode::ExtraPaymentWithoutRefund,
        DiscrepancyCode::AmountMismatch,
        DiscrepancyCode::RefundStateMismatch,
        DiscrepancyCode::RedPacketSumMismatch,
        DiscrepancyCode::RefundableMismatch,
        DiscrepancyCode::ClaimPayoutMismatch,
        DiscrepancyCode::PaidButNotOpened,
        DiscrepancyCode::OpenedButNotPaid,
        DiscrepancyCode::StatementAmountMismatch,
        DiscrepancyCode::StatementOrderMismatch,
        DiscrepancyCode::StatementDuplicateTxn,
        DiscrepancyCode::StatementTooLong,
    ];

    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            DiscrepancyCode::StockMismatch => "stock_mismatch",
            DiscrepancyCode::PaidWithoutPayment => "paid_without_payment",
            DiscrepancyCode::PaymentWithoutPaidOrder => "payment_without_paid_order",
            DiscrepancyCode::OrderSettledTwice => "order_settled_twice",
            DiscrepancyCode::PaymentUnknownOrder => "payment_unknown_order",
            DiscrepancyCode::ExtraPaymentWithoutRefund => "extra_payment_without_refund",
            DiscrepancyCode::AmountMismatch => "amount_mismatch",
            DiscrepancyCode::RefundStateMismatch => "refund_state_mismatch",
            DiscrepancyCode::RedPacketSumMismatch => "red_packet_sum_mismatch",
            DiscrepancyCode::RefundableMismatch => "refundable_mismatch",
            DiscrepancyCode::ClaimPayoutMismatch => "claim_payout_mismatch",
            DiscrepancyCode::PaidButNotOpened => "paid_but_not_opened",
            DiscrepancyCode::OpenedButNotPaid => "opened_but_not_paid",
            DiscrepancyCode::StatementAmountMismatch => "statement_amount_mismatch",
            DiscrepancyCode::StatementOrderMismatch => "statement_order_mismatch",
            DiscrepancyCode::StatementDuplicateTxn => "statement_duplicate_txn",
            DiscrepancyCode::StatementTooLong => "statement_too_long",
        }
    }
}

impl std::fmt::Display for DiscrepancyCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// One discrepancy, with whatever identifies it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Discrepancy {
    /// What kind it is (serialized as its stable code).
    pub code: DiscrepancyCode,
    /// The campaign, when it is about one.
    #[serde(serialize_with = "ser::display_opt")]
    pub campaign_id: Option<CampaignId>,
    /// The order, when it is about one.
    #[serde(serialize_with = "ser::display_opt")]
    pub order_id: Option<OrderId>,
    /// The payment channel, when it is about a payment or a statement line.
    pub channel: Option<ChannelName>,
    /// The channel's transaction id, when it is about a payment or a statement line.
    pub txn_id: Option<String>,
    /// What is wrong, for a person (at most [`MAX_DETAIL_BYTES`]).
    pub detail: String,
}

impl Discrepancy {
    /// A discrepancy of kind `code` with nothing identified yet.
    pub fn new(code: DiscrepancyCode, detail: impl Into<String>) -> Self {
        let mut detail = detail.into();
        if detail.len() > MAX_DETAIL_BYTES {
            let mut cut = MAX_DETAIL_BYTES;
            while !detail.is_char_boundary(cut) {
                cut -= 1;
            }
            detail.truncate(cut);
        }
        Self {
            code,
            campaign_id: None,
            order_id: None,
            channel: None,
            txn_id: None,
            detail,
        }
    }

    /// Names the campaign.
    pub fn campaign(mut self, id: CampaignId) -> Self {
        self.campaign_id = Some(id);
        self
    }

    /// Names the order.
    pub fn order(mut self, id: OrderId) -> Self {
        self.order_id = Some(id);
        self
    }

    /// Names the payment (channel and transaction).
    pub fn txn(mut self, channel: &ChannelName, txn_id: &str) -> Self {
        self.channel = Some(channel.to_owned());
        self.txn_id = Some(txn_id.to_owned());
        self
    }
}

/// Collects discrepancies: counts every one, keeps the first [`MAX_LISTED_DISCREPANCIES`].
/// Callers pass a closure that builds the entry, so a discrepancy past the cap costs a count
/// and no allocation.
#[derive(Clone, Debug, Default)]
pub(crate) struct Findings {
    listed: Vec<Discrepancy>,
    counts: BTreeMap<DiscrepancyCode, u64>,
    total: u64,
}

impl Findings {
    /// Notes one discrepancy of kind `code`; `build` runs only if it is listed.
    pub(crate) fn push(&mut self, code: DiscrepancyCode, build: impl FnOnce() -> Discrepancy) {
        *self.counts.entry(code).or_default() += 1;
        self.total += 1;
        if self.listed.len() < MAX_LISTED_DISCREPANCIES {
            let entry = build();
            assert_eq!(entry.code, code, "a discrepancy listed under another code");
            self.listed.push(entry);
        }
    }

    /// How many discrepancies of kind `code` were found.
    #[cfg(test)]
    pub(crate) fn count(&self, code: DiscrepancyCode) -> u64 {
        self.counts.get(&code).copied().unwrap_or(0)
    }

    /// The listed entries, the count per code (by stable code) and the total.
    pub(crate) fn into_parts(self) -> (Vec<Discrepancy>, BTreeMap<&'static str, u64>, u64) {
        let counts = self
            .counts
            .into_iter()
            .map(|(code, n)| (code.code(), n))
            .collect();
        (self.listed, counts, self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_match_serde() {
        let mut codes: Vec<_> = DiscrepancyCode::ALL.iter().map(|c| c.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), DiscrepancyCode::ALL.len());
        for code in DiscrepancyCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.code()));
        }
    }

    #[test]
    fn listing_is_bounded_and_counting_is_not() {
        let mut findings = Findings::default();
        let mut built = 0;
        for _ in 0..MAX_LISTED_DISCREPANCIES + 500 {
            findings.push(DiscrepancyCode::OpenedButNotPaid, || {
                built += 1;
                Discrepancy::new(DiscrepancyCode::OpenedButNotPaid, "x")
            });
        }
        findings.push(DiscrepancyCode::StockMismatch, || {
            unreachable!("past the cap")
        });
        assert_eq!(built, MAX_LISTED_DISCREPANCIES);
        assert_eq!(findings.count(DiscrepancyCode::StockMismatch), 1);
        let (listed, counts, total) = findings.into_parts();
        assert_eq!(listed.len(), MAX_LISTED_DISCREPANCIES);
        assert_eq!(counts["opened_but_not_paid"], 1_500);
        assert_eq!(counts["stock_mismatch"], 1);
        assert_eq!(total, 1_501);
    }

    #[test]
    fn long_details_are_cut_on_a_char_boundary() {
        let d = Discrepancy::new(DiscrepancyCode::StockMismatch, "é".repeat(MAX_DETAIL_BYTES));
        assert!(d.detail.len() <= MAX_DETAIL_BYTES);
        assert!(d.detail.chars().all(|c| c == 'é'));
    }
}
