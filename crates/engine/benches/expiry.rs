//! The expiry timer at the core level, sized for a sale that leaves 1,000,000 orders pending
//! when its payment window closes.
//! Run: `cargo bench -p stampede-engine --bench expiry`.
//!
//! - `expiry_idle/1m_pending`: `Ledger::expire_due` when nothing is due, with 1,000,000
//!   orders pending in one campaign: what the writer's idle tick costs.
//! - `expiry_idle/10k_campaigns`: the same with `MAX_CAMPAIGNS` (10,000) campaigns of one
//!   pending order each: the pass looks at every campaign's queue. The writer skips the pass
//!   while no deadline it knows of has come (`crates/engine/src/deadlines.rs`); this is what
//!   each skipped pass would have cost.
//! - `expiry_drain/batch_of_1m_pending`: one batch of `MAX_EXPIRIES_PER_BATCH` expiries taken
//!   from 1,000,000 due orders (throughput in orders); the ledger is rebuilt, untimed, when
//!   it runs out.
//!
//! `cargo run --release -p stampede-engine --example expire_1m` measures the same in one
//! pass, plus memory and the engine around it.

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use stampede_core::{
    CampaignSpec, Cents, CommonSpec, GrabOutcome, Ledger, Record, SeckillSpec, UnixMillis, UserId,
};
use stampede_engine::{MAX_EXPIRIES_PER_BATCH, stopwatch};

const T0: UnixMillis = UnixMillis(1_794_398_400_000);
const ORDERS: u64 = 1_000_000;
const WINDOW_SECS: u64 = 60;
const DUE: UnixMillis = UnixMillis(T0.0 + WINDOW_SECS * 1000);

/// One seckill campaign with `ORDERS` winners, all `pending_payment` and due at `DUE`.
fn pending_ledger() -> Ledger {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut ledger = Ledger::new();
    let spec = CampaignSpec::Seckill(SeckillSpec {
        common: CommonSpec {
            name: "expiry".into(),
            starts_at: None,
            ends_at: None,
        },
        stock: ORDERS,
        per_user_limit: 1,
        price_cents: Cents(990),
        payment_window_secs: WINDOW_SECS,
        regrab_after_release: false,
    });
    let Record::CampaignCreated { id, .. } =
        ledger.create_campaign(spec, T0, &mut rng).record.unwrap()
    else {
        unreachable!()
    };
    for i in 0..ORDERS {
        let user = UserId::parse(&format!("bench-0123abcd-c{i}")).unwrap();
        let grab = ledger.grab(id, &user, T0, &mut rng);
        assert!(matches!(grab.outcome, GrabOutcome::Won(_)));
    }
    ledger
}

fn idle(c: &mut Criterion) {
    let mut ledger = pending_ledger();
    let mut group = c.benchmark_group("expiry_idle");
    group.bench_function("1m_pending", |b| {
        b.iter(|| black_box(ledger.expire_due(black_box(T0), MAX_EXPIRIES_PER_BATCH)));
    });
    group.finish();
}

/// `MAX_CAMPAIGNS` campaigns, one order pending in each, none due before `DUE`.
fn many_campaigns_ledger() -> Ledger {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut ledger = Ledger::new();
    for i in 0..stampede_core::MAX_CAMPAIGNS {
        let spec = CampaignSpec::Seckill(SeckillSpec {
            common: CommonSpec {
                name: format!("expiry-{i}"),
                starts_at: None,
                ends_at: None,
            },
            stock: 10,
            per_user_limit: 1,
            price_cents: Cents(990),
            payment_window_secs: WINDOW_SECS,
            regrab_after_release: false,
        });
        let Record::CampaignCreated { id, .. } =
            ledger.create_campaign(spec, T0, &mut rng).record.unwrap()
        else {
            unreachable!()
        };
        let user = UserId::parse("bench-0123abcd-c0").unwrap();
        let grab = ledger.grab(id, &user, T0, &mut rng);
        assert!(matches!(grab.outcome, GrabOutcome::Won(_)));
    }
    ledger
}

fn idle_many_campaigns(c: &mut Criterion) {
    let mut ledger = many_campaigns_ledger();
    let mut group = c.benchmark_group("expiry_idle");
    group.bench_function("10k_campaigns", |b| {
        b.iter(|| black_box(ledger.expire_due(black_box(T0), MAX_EXPIRIES_PER_BATCH)));
    });
    group.finish();
}

fn drain(c: &mut Criterion) {
    let mut ledger = pending_ledger();
    let mut group = c.benchmark_group("expiry_drain");
    group.throughput(Throughput::Elements(MAX_EXPIRIES_PER_BATCH as u64));
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("batch_of_1m_pending", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let started = stopwatch();
                let records = ledger.expire_due(DUE, MAX_EXPIRIES_PER_BATCH);
                timed += started.elapsed();
                // The last batch of a ledger is short: start again on a fresh one.
                if records.len() < MAX_EXPIRIES_PER_BATCH {
                    ledger = pending_ledger();
                }
                black_box(records);
            }
            timed
        });
    });
    group.finish();
}

criterion_group!(benches, idle, idle_many_campaigns, drain);
criterion_main!(benches);
