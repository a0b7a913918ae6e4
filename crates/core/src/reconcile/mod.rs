//! Reconciliation: the ledger checked against itself and against the payment channels'
//! statements. Pure: it reads a [`Ledger`] and statements already parsed, and returns a
//! [`ReconciliationReport`] (`Serialize`, and `Display` for people). Callers: the
//! `stampede reconcile` command (over a read-only journal replay) and the server's periodic
//! job. Cost, measured in release on a shared 2-core machine
//! (`cargo run --release -p stampede-core --example reconcile_1m`): the books alone take about 30 ns per order (30 ms for
//! 1,000,000 paid orders), cheap enough to run under the live ledger's lock; each statement
//! line costs about 1 µs more (a few cache misses: its order, the campaign's transaction index,
//! the payment), so a million-line statement is better reconciled against a ledger replayed
//! read-only from the journal (`stampede_engine::replay_read_only`) off the writer's lock.
//!
//! # What is checked, per campaign
//!
//! Every figure is recomputed from the orders and payments themselves, so a counter the
//! ledger keeps (remaining stock, pending refunds, refundable money) that drifted from the
//! facts is found, not trusted:
//!
//! - **Stock.** The naive `total = remaining + live orders + closed-and-returned` counts a
//!   returned item twice: a cancelled or expired order's item is *back in* `remaining`. The
//!   checked equations are
//!   - `total == remaining + live`, with `live` the orders scanned in a live state
//!     ([`crate::OrderState::is_live`]);
//!   - `remaining == total − created + released`, with `created` every order ever won and
//!     `released` every order scanned in a non-live state (cancelled, expired, and the
//!     refund states reached from them; a red packet is never released).
//!
//!   Together they give `created == live + released`: no order lost, none counted twice.
//! - **Orders ↔ payments.** Every `paid` order has exactly one settling payment; every payment
//!   names an existing order, carries that order's amount, and fits its state (settling or
//!   duplicate: the order is `paid`; late: the order is closed; never a red packet); late and
//!   duplicate payments carry a refund (settling ones none); `refund_pending` orders have a
//!   pending refund and `refunded` ones none. Pending refunds are listed, not discrepancies:
//!   they are normal until the channel confirms them.
//! - **Red packets.** The packets drawn plus the pool's remaining money equal the total, the
//!   pool's count equals the remaining packets, the refundable sum equals the `claim_expired`
//!   packets, and exactly the `claimed` packets have a payout id.
//!
//! # What is checked, per channel statement
//!
//! Each statement line is looked up by (channel, txn_id) in its order's campaign, then among
//! the payments of every campaign: missing → `paid_but_not_opened` (the channel took money we have no record of,
//! possibly for an order that is not ours); found for another order →
//! `statement_order_mismatch`; another amount → `statement_amount_mismatch`; a transaction
//! twice → `statement_duplicate_txn`. Every payment of that channel no line names →
//! `opened_but_not_paid`. A statement is taken to cover all of its channel's payments;
//! channels without a statement are not compared.
//!
//! # Bounds
//!
//! Discrepancies are all counted (per code) but only the first
//! [`MAX_LISTED_DISCREPANCIES`] are listed, and the same for pending refunds
//! ([`MAX_LISTED_PENDING_REFUNDS`]); statements are checked up to [`MAX_STATEMENT_LINES`]
//! lines each. Scratch memory: 2 bytes per order of the largest campaign and 1 byte per
//! payment; an index of one channel's payments is built only when a line's payment is not in
//! its order's campaign.
//!
//! The output is deterministic: campaigns in creation order, payments in record order,
//! statement lines in file order; hash maps are only looked up, never iterated.

mod arithmetic;
mod books;
mod campaign_check;
mod channel;
mod discrepancy;
mod render;
mod report;
mod statement;

pub use discrepancy::{Discrepancy, DiscrepancyCode, MAX_DETAIL_BYTES, MAX_LISTED_DISCREPANCIES};
pub use report::{
    CampaignKind, CampaignSummary, MAX_LISTED_PENDING_REFUNDS, PendingRefundLine,
    ReconciliationReport, RedPacketSummary, StatementSummary,
};
pub use statement::{MAX_STATEMENT_LINES, Statement, StatementLine};

use crate::campaign::Campaign;
use crate::ledger::Ledger;
use crate::money::UnixMillis;

use discrepancy::Findings;
use report::PendingRefunds;

/// Reconciles `ledger` against itself and against `statements`; `now` stamps the report.
/// Reads only; O(orders + payments + statement lines).
pub fn reconcile(
    ledger: &Ledger,
    statements: &[Statement],
    now: UnixMillis,
) -> ReconciliationReport {
    let mut findings = Findings::default();
    let mut pending = PendingRefunds::default();
    let campaigns: Vec<&Campaign> = ledger.campaigns().collect();
    let summaries = campaigns
        .iter()
        .map(|campaign| campaign_check::check_campaign(campaign, &mut findings, &mut pending))
        .collect();
    // A campaign's slot in the ledger is its position in `campaigns()`.
    let locate = |id| {
        ledger
            .place_of(id)
            .map(|(slot, index)| (slot as usize, index))
    };
    let statement_summaries =
        channel::check_statements(&campaigns, statements, locate, &mut findings);
    let (discrepancies, discrepancy_counts, discrepancy_total) = findings.into_parts();
    ReconciliationReport {
        generated_at: now,
        campaigns: summaries,
        statements: statement_summaries,
        pending_refunds: pending.listed,
        pending_refunds_total: pending.total,
        discrepancy_total,
        discrepancy_counts,
        discrepancies,
    }
}

/// Serde helpers: ids are written in their printed form (`c_…`, `o_…`), as the API writes
/// them, never as 128-bit numbers.
mod ser {
    use std::fmt::Display;

    use serde::Serializer;

    pub(crate) fn display<T: Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    pub(crate) fn display_opt<T: Display, S: Serializer>(
        value: &Option<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => s.collect_str(value),
            None => s.serialize_none(),
        }
    }
}
