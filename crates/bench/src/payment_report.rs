//! The "payments" section of the report (`--pay`): how paying went and where the orders ended.

use crate::latency::LatencySummary;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What the payment phase measured.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PaymentReport {
    /// Orders paid for: every won order this run's users were told about.
    pub orders: u64,
    /// Pay requests answered 200 (the order moved to `paying`).
    pub paid_ok: u64,
    /// Pay requests not answered 200, by error code: the server's code, `http_<status>` when
    /// the body had none, or `timeout` / `transport_error` / `connect_error` when no answer
    /// came.
    pub failures: BTreeMap<String, u64>,
    /// First pay sent to last pay answered, seconds.
    pub pay_secs: f64,
    /// Pay requests per second over `pay_secs`.
    pub pay_requests_per_sec: f64,
    /// Pay request latency.
    pub pay_latency: LatencySummary,
    /// How long the orders had to settle after the last pay answer, seconds.
    pub settle_limit_secs: u64,
    /// First pay sent to the first winners list showing none of the orders answered 200 (or
    /// not answered) still `pending_payment`/`paying`, seconds; None when that did not happen
    /// within the settle limit. Resolution: one winners-list poll.
    pub settled_secs: Option<f64>,
    /// Winners-list polls made while settling.
    pub settle_polls: u64,
    /// States of this run's orders after settling (all of them, paid for or not).
    pub final_states: BTreeMap<String, u64>,
    /// `paid` orders read back for the `paid_amounts` check.
    pub amount_reads: u64,
}

impl PaymentReport {
    /// A readable block for the text report.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let failed: u64 = self.failures.values().sum();
        let latency = &self.pay_latency;
        let _ = writeln!(
            out,
            "payments: {} orders, {} pay answered 200, {failed} failed | {:.2} s, {:.1} pay req/s, p50 {} µs, p99 {} µs, max {} µs",
            self.orders,
            self.paid_ok,
            self.pay_secs,
            self.pay_requests_per_sec,
            latency.p50_us,
            latency.p99_us,
            latency.max_us,
        );
        let _ = writeln!(
            out,
            "  settled: {} (limit {} s after the last pay answer, {} winners-list polls)",
            match self.settled_secs {
                Some(secs) => format!("{secs:.2} s after the first pay"),
                None => "NOT within the limit".to_owned(),
            },
            self.settle_limit_secs,
            self.settle_polls,
        );
        let _ = writeln!(out, "  final states: {}", join_counts(&self.final_states));
        if !self.failures.is_empty() {
            let _ = writeln!(out, "  pay failures: {}", join_counts(&self.failures));
        }
        let _ = writeln!(
            out,
            "  amounts read back: {} paid orders",
            self.amount_reads
        );
        out
    }
}

fn join_counts(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "none".to_owned();
    }
    counts
        .iter()
        .map(|(name, count)| format!("{name} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> PaymentReport {
        PaymentReport {
            orders: 300,
            paid_ok: 298,
            failures: BTreeMap::from([("channel_unavailable".to_owned(), 2)]),
            pay_secs: 0.5,
            pay_requests_per_sec: 600.0,
            pay_latency: LatencySummary {
                p50_us: 900,
                p90_us: 1_500,
                p99_us: 4_000,
                p999_us: 5_000,
                max_us: 6_000,
                mean_us: 1_000.0,
            },
            settle_limit_secs: 15,
            settled_secs: Some(0.75),
            settle_polls: 4,
            final_states: BTreeMap::from([
                ("paid".to_owned(), 298),
                ("pending_payment".to_owned(), 2),
            ]),
            amount_reads: 298,
        }
    }

    #[test]
    fn the_table_shows_counts_failures_and_states() {
        let table = report().to_table();
        assert!(
            table.contains("300 orders, 298 pay answered 200, 2 failed"),
            "{table}"
        );
        assert!(table.contains("600.0 pay req/s"), "{table}");
        assert!(
            table.contains("settled: 0.75 s after the first pay"),
            "{table}"
        );
        assert!(table.contains("paid 298, pending_payment 2"), "{table}");
        assert!(table.contains("channel_unavailable 2"), "{table}");
    }

    #[test]
    fn an_unsettled_run_says_so() {
        let mut report = report();
        report.settled_secs = None;
        report.failures.clear();
        let table = report.to_table();
        assert!(table.contains("NOT within the limit"), "{table}");
        assert!(!table.contains("pay failures"), "{table}");
    }
}
