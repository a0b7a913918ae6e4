//! How long reconciliation takes over 1,000,000 paid orders and a 1,000,000-line statement.
//!
//! ```text
//! cargo run --release -p stampede-core --example reconcile_1m [ORDERS]
//! ```
//!
//! Builds the ledger through the public API (one seckill campaign, one grab and one payment
//! per user), then times `reconcile` best of three, with and without the statement, and prints
//! milliseconds, nanoseconds per order and the peak resident memory (`VmHWM`, Linux only).

// A benchmark measures wall time; the core itself never reads a clock.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use stampede_core::*;

/// Orders when no count is given: 1,000,000 winners, the largest sale reconciliation must
/// handle in one pass.
const DEFAULT_ORDERS: u64 = 1_000_000;
/// Timed runs of each measurement; the best is reported (the machine is shared).
const RUNS: usize = 3;

fn main() {
    let orders: u64 = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("ORDERS is a whole number"))
        .unwrap_or(DEFAULT_ORDERS);
    let now = UnixMillis(1_700_000_000_000);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut ledger = Ledger::new();
    let spec = CampaignSpec::Seckill(SeckillSpec {
        common: CommonSpec {
            name: "reconcile bench".into(),
            starts_at: None,
            ends_at: None,
        },
        stock: orders,
        per_user_limit: 1,
        price_cents: Cents(990),
        payment_window_secs: 900,
        regrab_after_release: false,
    });
    let built = Instant::now();
    let Record::CampaignCreated { id, .. } =
        ledger.create_campaign(spec, now, &mut rng).record.unwrap()
    else {
        unreachable!("a creation records a creation")
    };
    let sim = ChannelName::parse("sim").expect("a valid name");
    let mut lines = Vec::with_capacity(orders as usize);
    for i in 0..orders {
        let user = UserId::parse(&format!("user-{i}")).unwrap();
        let GrabOutcome::Won(ticket) = ledger.grab(id, &user, now, &mut rng).outcome else {
            panic!("grab {i} did not win")
        };
        let payment = Payment {
            channel: sim.clone(),
            txn_id: format!("txn-{i:010}"),
            amount_cents: ticket.amount_cents,
            paid_at: now,
        };
        let Decision { outcome, record: _ } =
            ledger.record_payment(ticket.order_id, payment.clone(), now);
        assert!(matches!(outcome, PaymentOutcome::Recorded { .. }));
        lines.push(StatementLine {
            txn_id: payment.txn_id,
            order_id: ticket.order_id,
            amount_cents: payment.amount_cents,
            at: now,
        });
    }
    let statement = Statement {
        covers_until: None,
        txn_prefix: None,
        channel: sim,
        lines,
    };
    println!(
        "built {orders} paid orders and a {orders}-line statement in {} ms; peak RSS {}",
        built.elapsed().as_millis(),
        peak_rss()
    );

    let books_only = best_of(|| reconcile(&ledger, &[], now));
    let statements = std::slice::from_ref(&statement);
    let with_statement = best_of(|| reconcile(&ledger, statements, now));
    for (what, elapsed) in [
        ("books only", books_only),
        ("books + 1 statement", with_statement),
    ] {
        println!(
            "reconcile ({what}): best of {RUNS} {:.1} ms, {:.0} ns/order",
            elapsed.as_secs_f64() * 1e3,
            elapsed.as_nanos() as f64 / orders as f64
        );
    }
    println!("peak RSS after reconciling: {}", peak_rss());
}

/// Runs `f` [`RUNS`] times; the shortest time. Each report must be clean and cover every order.
fn best_of(f: impl Fn() -> ReconciliationReport) -> Duration {
    (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            let report = f();
            let elapsed = started.elapsed();
            assert!(report.is_clean(), "{report}");
            assert_eq!(report.campaigns[0].paid_orders, report.campaigns[0].orders);
            elapsed
        })
        .min()
        .expect("at least one run")
}

/// Peak resident set size from `/proc/self/status`, or "n/a" off Linux.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().to_owned()))
        })
        .unwrap_or_else(|| "n/a".into())
}
