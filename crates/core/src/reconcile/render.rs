//! The report for a person: a few lines per campaign and per channel, then the pending
//! refunds and the discrepancies. Amounts print as units and cents (`12.34`), computed in
//! integers.

use std::fmt;

use crate::money::Cents;
use crate::order::OrderState;

use super::discrepancy::Discrepancy;
use super::report::{CampaignSummary, ReconciliationReport, StatementSummary};

/// Cents shown as `units.cents`.
struct Money(Cents);

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0.0 / 100, self.0.0 % 100)
    }
}

impl fmt::Display for ReconciliationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Stampede reconciliation at {} (unix ms)",
            self.generated_at.0
        )?;
        if self.is_clean() {
            writeln!(f, "Result: CLEAN")?;
        } else {
            writeln!(f, "Result: {} DISCREPANCIES", self.discrepancy_total)?;
        }
        writeln!(f, "\nCampaigns ({})", self.campaigns.len())?;
        for campaign in &self.campaigns {
            write_campaign(f, campaign)?;
        }
        if !self.statements.is_empty() {
            writeln!(f, "\nStatements ({} channels)", self.statements.len())?;
            for statement in &self.statements {
                write_statement(f, statement)?;
            }
        }
        if self.pending_refunds_total > 0 {
            writeln!(
                f,
                "\nPending refunds ({}; not discrepancies: opened, not yet confirmed by the channel)",
                self.pending_refunds_total
            )?;
            for r in &self.pending_refunds {
                writeln!(
                    f,
                    "  {} {}/{} {} {} since {}",
                    r.order_id,
                    r.channel,
                    r.txn_id,
                    Money(r.amount_cents),
                    r.kind,
                    r.recorded_at.0
                )?;
            }
            write_more(f, self.pending_refunds_total, self.pending_refunds.len())?;
        }
        if !self.is_clean() {
            writeln!(f, "\nDiscrepancies ({})", self.discrepancy_total)?;
            for (code, count) in &self.discrepancy_counts {
                writeln!(f, "  {code}: {count}")?;
            }
            writeln!(f)?;
            for d in &self.discrepancies {
                write_discrepancy(f, d)?;
            }
            write_more(f, self.discrepancy_total, self.discrepancies.len())?;
        }
        Ok(())
    }
}

fn write_more(f: &mut fmt::Formatter<'_>, total: u64, listed: usize) -> fmt::Result {
    let unlisted = total.saturating_sub(listed as u64);
    if unlisted > 0 {
        writeln!(f, "  ... and {unlisted} more (counted, not listed)")?;
    }
    Ok(())
}

fn write_campaign(f: &mut fmt::Formatter<'_>, c: &CampaignSummary) -> fmt::Result {
    writeln!(f, "  {} {:?} ({})", c.campaign_id, c.name, c.kind.code())?;
    writeln!(
        f,
        "    stock: total {} = remaining {} + live {}; orders {} = live {} + released {}",
        c.total, c.remaining, c.live, c.orders, c.live, c.released
    )?;
    let states: Vec<String> = OrderState::ALL
        .iter()
        .filter_map(|s| c.states.get(s.code()).map(|n| format!("{} {n}", s.code())))
        .collect();
    if !states.is_empty() {
        writeln!(f, "    orders by state: {}", states.join(", "))?;
    }
    if c.payments > 0 || c.paid_orders > 0 {
        writeln!(
            f,
            "    paid orders {} ({}); payments {} ({}): late {}, duplicate {}",
            c.paid_orders,
            Money(c.paid_cents),
            c.payments,
            Money(c.payments_cents),
            c.late_payments,
            c.duplicate_payments
        )?;
        writeln!(
            f,
            "    refunds: pending {} ({}), refunded {} ({})",
            c.refunds_pending,
            Money(c.refunds_pending_cents),
            c.refunded,
            Money(c.refunded_cents)
        )?;
    }
    if let Some(r) = &c.red_packet {
        writeln!(
            f,
            "    money: total {} = drawn {} + pool {}; claimed {} ({}), claim expired {} ({} refundable)",
            Money(r.total_cents),
            Money(r.drawn_cents),
            Money(r.pool_remaining_cents),
            r.claimed,
            Money(r.claimed_cents),
            r.claim_expired,
            Money(r.claim_expired_cents)
        )?;
    }
    Ok(())
}

fn write_statement(f: &mut fmt::Formatter<'_>, s: &StatementSummary) -> fmt::Result {
    writeln!(
        f,
        "  {}: {} statement(s), {} lines ({}); matched {} ({}); books {} payments ({})",
        s.channel,
        s.statements,
        s.lines,
        Money(s.statement_cents),
        s.matched,
        Money(s.matched_cents),
        s.books_payments,
        Money(s.books_cents)
    )?;
    writeln!(
        f,
        "    paid but not opened {}, opened but not paid {}, amount mismatches {}, order \
         mismatches {}, duplicate lines {}, unchecked lines {}",
        s.paid_but_not_opened,
        s.opened_but_not_paid,
        s.amount_mismatches,
        s.order_mismatches,
        s.duplicate_lines,
        s.unchecked_lines
    )
}

fn write_discrepancy(f: &mut fmt::Formatter<'_>, d: &Discrepancy) -> fmt::Result {
    write!(f, "  [{}]", d.code)?;
    if let Some(id) = d.campaign_id {
        write!(f, " campaign {id}")?;
    }
    if let Some(id) = d.order_id {
        write!(f, " order {id}")?;
    }
    if let (Some(channel), Some(txn)) = (&d.channel, &d.txn_id) {
        write!(f, " txn {channel}/{txn}")?;
    } else if let Some(channel) = &d.channel {
        write!(f, " channel {channel}")?;
    }
    writeln!(f, ": {}", d.detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_integer_units_and_cents() {
        assert_eq!(Money(Cents(0)).to_string(), "0.00");
        assert_eq!(Money(Cents(5)).to_string(), "0.05");
        assert_eq!(Money(Cents(123_456)).to_string(), "1234.56");
        assert_eq!(Money(Cents(u64::MAX)).to_string(), "184467440737095516.15");
    }
}
