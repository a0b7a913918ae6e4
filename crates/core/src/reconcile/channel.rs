//! Channel statements against the books, one channel at a time. Each line names its order,
//! whose id says where the order lives, so the line's payment is found in that campaign's own
//! (channel, txn_id) index: no index is built on the common path. A line whose payment is not
//! there (another order's campaign, or unknown) is looked up in an index of every payment of
//! the channel, built once on the first such line. Every payment no line claimed is reported.
//! O(lines + payments) time; one byte per payment of scratch (plus that index when needed).
//!
//! The ledger records a transaction for one order in the whole ledger (its transaction index
//! refuses the same (channel, txn_id) in a second campaign, live and on replay), so a line
//! matches one payment at most; books that broke that rule anyway would see the second record
//! reported `opened_but_not_paid`.

use std::collections::{HashMap, HashSet};

use crate::channel_name::ChannelName;
use crate::ids::OrderId;
use crate::money::Cents;
use crate::payment::PaymentKind;

use super::books::CampaignBooks;
use super::discrepancy::{Discrepancy, DiscrepancyCode, Findings};
use super::report::StatementSummary;
use super::statement::{MAX_STATEMENT_LINES, Statement, StatementLine};

/// Where an order lives: (position in the campaign list, index in the campaign).
pub(crate) type Place = (usize, u32);

/// Checks every statement (statements naming the same channel together, in the order each
/// channel is first named); `locate` says where an order id lives, if it is one of ours.
pub(crate) fn check_statements<B: CampaignBooks>(
    campaigns: &[B],
    statements: &[Statement],
    locate: impl Fn(OrderId) -> Option<Place>,
    findings: &mut Findings,
) -> Vec<StatementSummary> {
    let mut groups: Vec<(&ChannelName, Vec<&Statement>)> = Vec::new();
    let mut group_of: HashMap<&ChannelName, usize> = HashMap::new();
    for statement in statements {
        let at = *group_of.entry(&statement.channel).or_insert_with(|| {
            groups.push((&statement.channel, Vec::new()));
            groups.len() - 1
        });
        groups[at].1.push(statement);
    }
    groups
        .into_iter()
        .map(|(channel, statements)| {
            ChannelCheck::new(campaigns, channel, &statements, &locate, findings).run(&statements)
        })
        .collect()
}

/// One channel's statements against its payments.
struct ChannelCheck<'a, 'f, B, L> {
    campaigns: &'a [B],
    channel: &'a ChannelName,
    locate: &'f L,
    findings: &'f mut Findings,
    /// Per campaign, per payment: whether a line claimed it.
    seen: Vec<Vec<bool>>,
    /// Every payment of the channel by txn_id, (campaign, payment) positions; built on the
    /// first line not found through its order. The first campaign wins a txn recorded twice.
    everywhere: Option<HashMap<&'a str, (usize, usize)>>,
    /// txn_ids of lines found nowhere (to tell a repeated one).
    unknown: HashSet<&'a str>,
    summary: StatementSummary,
    /// The latest moment the channel's statements cover (`None`: everything).
    covers_until: Option<crate::UnixMillis>,
    /// The transaction-id prefixes the statements cover (`None`: every transaction).
    txn_prefixes: Option<Vec<&'a str>>,
}

/// Whether `txn_id` is one the statements cover (`prefixes` `None`: all are).
fn covered(prefixes: Option<&[&str]>, txn_id: &str) -> bool {
    prefixes.is_none_or(|prefixes| prefixes.iter().any(|p| txn_id.starts_with(p)))
}

impl<'a, 'f, B: CampaignBooks, L: Fn(OrderId) -> Option<Place>> ChannelCheck<'a, 'f, B, L> {
    fn new(
        campaigns: &'a [B],
        channel: &'a ChannelName,
        statements: &[&'a Statement],
        locate: &'f L,
        findings: &'f mut Findings,
    ) -> Self {
        // One statement covering every transaction makes the group cover them all.
        let txn_prefixes: Option<Vec<&str>> =
            statements.iter().map(|s| s.txn_prefix.as_deref()).collect();
        let mut summary = StatementSummary {
            channel: channel.to_owned(),
            statements: 0,
            lines: 0,
            statement_cents: Cents::ZERO,
            matched: 0,
            matched_cents: Cents::ZERO,
            books_payments: 0,
            books_cents: Cents::ZERO,
            paid_but_not_opened: 0,
            opened_but_not_paid: 0,
            amount_mismatches: 0,
            order_mismatches: 0,
            duplicate_lines: 0,
            unchecked_lines: 0,
            txn_prefix: txn_prefixes.as_ref().map(|p| p.join(",")),
            other_desks_payments: 0,
        };
        for entry in campaigns.iter().flat_map(|c| c.payments()) {
            if entry.payment.channel != *channel {
                continue;
            }
            if !covered(txn_prefixes.as_deref(), &entry.payment.txn_id) {
                summary.other_desks_payments += 1;
            } else {
                summary.books_payments += 1;
                summary.books_cents = summary
                    .books_cents
                    .saturating_add(entry.payment.amount_cents);
            }
        }
        Self {
            campaigns,
            channel,
            locate,
            findings,
            seen: campaigns
                .iter()
                .map(|c| vec![false; c.payments().len()])
                .collect(),
            everywhere: None,
            covers_until: None,
            txn_prefixes,
            unknown: HashSet::new(),
            summary,
        }
    }

    fn run(mut self, statements: &[&'a Statement]) -> StatementSummary {
        self.covers_until = statements
            .iter()
            .map(|s| s.covers_until)
            .collect::<Option<Vec<_>>>()
            .and_then(|untils| untils.into_iter().max());
        for statement in statements {
            self.summary.statements += 1;
            let checked = statement.lines.len().min(MAX_STATEMENT_LINES);
            for line in &statement.lines[..checked] {
                self.check_line(line);
            }
            let unchecked = statement.lines.len() - checked;
            if unchecked > 0 {
                self.summary.unchecked_lines += unchecked as u64;
                let code = DiscrepancyCode::StatementTooLong;
                let channel = self.channel;
                self.findings.push(code, || {
                    let mut d = Discrepancy::new(
                        code,
                        format!(
                            "{unchecked} lines past the {MAX_STATEMENT_LINES}-line limit not checked"
                        ),
                    );
                    d.channel = Some(channel.to_owned());
                    d
                });
            }
        }
        self.report_unmatched_payments();
        self.summary
    }

    /// The (campaign, payment) positions of the line's transaction: in its order's campaign
    /// first, else anywhere.
    fn find(&mut self, line: &StatementLine, place: Option<Place>) -> Option<(usize, usize)> {
        if let Some((c, _)) = place
            && let Some(p) = self.campaigns[c].payment_position(self.channel, &line.txn_id)
        {
            return Some((c, p));
        }
        let (campaigns, channel) = (self.campaigns, self.channel);
        let everywhere = self.everywhere.get_or_insert_with(|| {
            let mut index = HashMap::new();
            for (c, campaign) in campaigns.iter().enumerate() {
                for (p, entry) in campaign.payments().iter().enumerate() {
                    if entry.payment.channel == *channel {
                        index.entry(entry.payment.txn_id.as_str()).or_insert((c, p));
                    }
                }
            }
            index
        });
        everywhere.get(line.txn_id.as_str()).copied()
    }

    fn check_line(&mut self, line: &'a StatementLine) {
        self.summary.lines += 1;
        self.summary.statement_cents = self
            .summary
            .statement_cents
            .saturating_add(line.amount_cents);
        let channel = self.channel;
        let about_line = |code, detail: String| {
            Discrepancy::new(code, detail)
                .order(line.order_id)
                .txn(channel, &line.txn_id)
        };
        let place = (self.locate)(line.order_id);
        let Some((c, p)) = self.find(line, place) else {
            self.not_in_books(line, place);
            return;
        };
        if std::mem::replace(&mut self.seen[c][p], true) {
            self.summary.duplicate_lines += 1;
            let code = DiscrepancyCode::StatementDuplicateTxn;
            self.findings.push(code, || {
                about_line(code, "transaction on the statement twice".into())
            });
            return;
        }
        let campaign = &self.campaigns[c];
        let entry = &campaign.payments()[p];
        let campaign_id = campaign.campaign_id();
        let mut clean = true;
        if place != Some((c, entry.order_index)) {
            clean = false;
            self.summary.order_mismatches += 1;
            let code = DiscrepancyCode::StatementOrderMismatch;
            self.findings.push(code, || {
                let books = if entry.order_index < campaign.order_count() {
                    campaign.order_id(entry.order_index).to_string()
                } else {
                    "no order".to_owned()
                };
                about_line(code, format!("the books record this payment for {books}"))
                    .campaign(campaign_id)
            });
        }
        if entry.payment.amount_cents != line.amount_cents {
            clean = false;
            self.summary.amount_mismatches += 1;
            let code = DiscrepancyCode::StatementAmountMismatch;
            self.findings.push(code, || {
                about_line(
                    code,
                    format!(
                        "statement says {} cents, the books {} cents",
                        line.amount_cents, entry.payment.amount_cents
                    ),
                )
                .campaign(campaign_id)
            });
        }
        if clean {
            self.summary.matched += 1;
            self.summary.matched_cents =
                self.summary.matched_cents.saturating_add(line.amount_cents);
        }
    }

    /// A line whose transaction no campaign recorded: `paid_but_not_opened`, or a repeat.
    fn not_in_books(&mut self, line: &'a StatementLine, place: Option<Place>) {
        let channel = self.channel;
        let about_line = |code, detail: String| {
            Discrepancy::new(code, detail)
                .order(line.order_id)
                .txn(channel, &line.txn_id)
        };
        if !self.unknown.insert(line.txn_id.as_str()) {
            self.summary.duplicate_lines += 1;
            let code = DiscrepancyCode::StatementDuplicateTxn;
            self.findings.push(code, || {
                about_line(code, "transaction on the statement twice".into())
            });
            return;
        }
        self.summary.paid_but_not_opened += 1;
        let code = DiscrepancyCode::PaidButNotOpened;
        let campaigns = self.campaigns;
        self.findings.push(code, || match place {
            Some((c, _)) => about_line(
                code,
                format!(
                    "the channel took {} cents for this order; the books hold no such payment",
                    line.amount_cents
                ),
            )
            .campaign(campaigns[c].campaign_id()),
            None => about_line(
                code,
                format!(
                    "the channel took {} cents for an order that is not ours",
                    line.amount_cents
                ),
            ),
        });
    }

    /// Every payment of the channel no line claimed: `opened_but_not_paid`.
    fn report_unmatched_payments(&mut self) {
        for (campaign, seen) in self.campaigns.iter().zip(&self.seen) {
            for (entry, _) in campaign
                .payments()
                .iter()
                .zip(seen)
                .filter(|(e, seen)| !**seen && e.payment.channel == *self.channel)
                .filter(|(e, _)| {
                    self.covers_until
                        .is_none_or(|until| e.payment.paid_at <= until)
                })
                .filter(|(e, _)| covered(self.txn_prefixes.as_deref(), &e.payment.txn_id))
            {
                self.summary.opened_but_not_paid += 1;
                let code = DiscrepancyCode::OpenedButNotPaid;
                self.findings.push(code, || {
                    let kind = match entry.kind {
                        PaymentKind::Settled => "settling",
                        PaymentKind::Late => "late",
                        PaymentKind::Duplicate => "duplicate",
                    };
                    let d = Discrepancy::new(
                        code,
                        format!(
                            "the books record a {kind} payment of {} cents the statement does not show",
                            entry.payment.amount_cents
                        ),
                    )
                    .campaign(campaign.campaign_id())
                    .txn(&entry.payment.channel, &entry.payment.txn_id);
                    if entry.order_index < campaign.order_count() {
                        d.order(campaign.order_id(entry.order_index))
                    } else {
                        d
                    }
                });
            }
        }
    }
}

#[cfg(test)]
mod tests;
