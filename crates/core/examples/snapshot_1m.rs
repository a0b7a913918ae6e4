//! How big a ledger snapshot of 1,000,000 orders is, and how long it takes to write and to
//! restore.
//!
//! ```text
//! cargo run --release -p stampede-core --example snapshot_1m [ORDERS]
//! ```
//!
//! Builds the ledger through the public API (one seckill campaign, one grab per user, every
//! other order paid on the simulated channel), then times `Ledger::snapshot` and
//! `Ledger::restore` (which checks every invariant) best of three, and prints the size.

// A benchmark measures wall time; the core itself never reads a clock.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use stampede_core::*;

/// Orders when no count is given: the 1,000,000-winner sale start-up must stay bounded for.
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
            name: "snapshot bench".into(),
            starts_at: None,
            ends_at: None,
        },
        stock: orders,
        per_user_limit: 1,
        price_cents: Cents(990),
        payment_window_secs: 900,
        regrab_after_release: false,
    });
    let Record::CampaignCreated { id, .. } =
        ledger.create_campaign(spec, now, &mut rng).record.unwrap()
    else {
        unreachable!("a creation records a creation")
    };
    let sim = ChannelName::parse("sim").expect("a valid name");
    for i in 0..orders {
        let user = UserId::parse(&format!("user-{i}")).unwrap();
        let GrabOutcome::Won(ticket) = ledger.grab(id, &user, now, &mut rng).outcome else {
            panic!("grab {i} did not win")
        };
        if i % 2 == 0 {
            let payment = Payment {
                channel: sim.clone(),
                txn_id: format!("txn-{i:010}"),
                amount_cents: ticket.amount_cents,
                paid_at: now,
            };
            let paid = ledger.record_payment(ticket.order_id, payment, now).outcome;
            assert!(matches!(paid, PaymentOutcome::Recorded { .. }));
        }
    }
    let check = best_of(|| ledger.check_invariants().expect("holds"));
    println!("check_invariants {:.0} ms", check.as_secs_f64() * 1e3);
    let mut bytes = Vec::new();
    let encode = best_of(|| bytes = ledger.snapshot());
    let mut restored = None;
    let decode = best_of(|| restored = Some(Ledger::restore(&bytes).expect("restores")));
    let restored = restored.expect("restored");
    assert_eq!(restored.order_count(), ledger.order_count());
    assert!(restored.snapshot() == bytes, "restore changed the ledger");
    println!(
        "{orders} orders ({} paid): snapshot {} bytes ({:.1} bytes/order); encode best of {RUNS} \
         {:.0} ms; restore (invariants checked) best of {RUNS} {:.0} ms",
        orders.div_ceil(2),
        bytes.len(),
        bytes.len() as f64 / orders as f64,
        encode.as_secs_f64() * 1e3,
        decode.as_secs_f64() * 1e3,
    );
}

/// Runs `f` [`RUNS`] times; the shortest time.
fn best_of(mut f: impl FnMut()) -> Duration {
    (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .min()
        .expect("at least one run")
}
