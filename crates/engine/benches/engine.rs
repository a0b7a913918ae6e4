//! Engine benchmarks: what one grab costs in the core and through the writer.
//! Run: `cargo bench -p stampede-engine --bench engine`.
//!
//! - `core_grab/single_thread`: the pure decision (`Ledger::grab`, new user each time).
//! - `engine_grab/2_threads`: two threads grabbing through the writer (Durability::Os on
//!   memory, so the queue + batch + apply path is measured, not the disk).
//! - `engine_grab/256_tasks_limit_2`: 256 tasks on two runtime threads, each user grabbing
//!   twice under a per-user limit of 2 (Durability::Os on memory): full batches, so the
//!   writer's cost per win (decide, encode, publish the holder) is measured rather than the
//!   round trip of one grab. Also prints the writer thread's own CPU time per win (Linux):
//!   on a shared machine that figure moves far less with other load than the wall clock.
//! - `engine_grab/256_tasks_limit_2_10k_campaigns`: the same with `MAX_CAMPAIGNS` campaigns in
//!   the ledger (the grabs go to one of them): what the rest of the ledger costs each batch.
//! - `fast_path/sold_out_2_threads`: the lock-free sold-out answer from two threads.
//! - `group_commit/fsync_64_clients`: durable wins on a real file with fsync, 64 concurrent
//!   clients; prints records per fsync.
//! - `replay/1m_wins`: opening a journal that holds 1,000,000 wins.

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use stampede_core::{
    CampaignId, CampaignSpec, Cents, CommonSpec, Ledger, Record, SeckillSpec, UnixMillis, UserId,
};
use stampede_engine::{
    Durability, Engine, EngineConfig, JournalGuard, JournalGuardConfig, ManualClock, stopwatch,
};
use stampede_journal::MemoryStorage;

const T0: UnixMillis = UnixMillis(1_794_398_400_000);

fn spec(stock: u64) -> CampaignSpec {
    spec_limited(stock, 1)
}

fn spec_limited(stock: u64, per_user_limit: u32) -> CampaignSpec {
    CampaignSpec::Seckill(SeckillSpec {
        common: CommonSpec {
            name: "bench".into(),
            starts_at: None,
            ends_at: None,
        },
        stock,
        per_user_limit,
        price_cents: Cents(990),
        payment_window_secs: 900,
        regrab_after_release: false,
    })
}

/// The longest journal reply timeout: these benchmarks measure the writer's throughput and
/// unwrap every answer, so a slow fsync must not turn into `degraded`.
fn patient_guard() -> JournalGuard {
    let config = JournalGuardConfig {
        journal_reply_timeout: stampede_engine::guard::MAX_JOURNAL_REPLY_TIMEOUT,
        // Hundreds of grabs in flight queue behind each other's batches (and a table resize at
        // ~1 M orders stalls one batch): slow, not failing; the breaker must not open on them.
        breaker: stampede_admission::BreakerConfig {
            slow_call_threshold: stampede_engine::guard::MAX_JOURNAL_REPLY_TIMEOUT,
            ..stampede_admission::BreakerConfig::default()
        },
    };
    JournalGuard::new(config, Arc::new(stampede_admission::SystemClock::new())).unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn memory_engine(stock: u64) -> (Engine, CampaignId) {
    memory_engine_with(spec(stock))
}

fn memory_engine_with(spec: CampaignSpec) -> (Engine, CampaignId) {
    let (engine, _) = Engine::open_storage_guarded(
        MemoryStorage::new(1),
        Durability::Os,
        Some(1),
        Arc::new(ManualClock::new(T0)),
        patient_guard(),
    )
    .unwrap();
    let id = rt()
        .block_on(engine.create_campaign(spec))
        .unwrap()
        .created()
        .unwrap()
        .id;
    (engine, id)
}

fn core_grab(c: &mut Criterion) {
    let users: Vec<UserId> = (0..1_000_000)
        .map(|i| UserId::parse(&format!("u{i}")).unwrap())
        .collect();
    let mut group = c.benchmark_group("core_grab");
    group.throughput(Throughput::Elements(1));
    group.bench_function("single_thread", |b| {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut ledger = Ledger::new();
        let Record::CampaignCreated { id, .. } = ledger
            .create_campaign(spec(10_000_000), T0, &mut rng)
            .record
            .unwrap()
        else {
            unreachable!()
        };
        let mut i = 0usize;
        b.iter(|| {
            let grab = ledger.grab(id, &users[i % users.len()], T0, &mut rng);
            i += 1;
            let _ = black_box(grab);
        });
    });
    group.finish();
}

fn engine_grab(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine_grab");
    group.throughput(Throughput::Elements(2));
    group.sample_size(20);
    let (engine, id) = memory_engine(10_000_000);
    let next = Arc::new(AtomicU64::new(0));
    group.bench_function("2_threads", |b| {
        b.iter_custom(|iters| {
            let started = stopwatch();
            std::thread::scope(|s| {
                for _ in 0..2 {
                    let (engine, next) = (engine.clone(), Arc::clone(&next));
                    s.spawn(move || {
                        let rt = rt();
                        for _ in 0..iters {
                            let user = format!("u{}", next.fetch_add(1, Ordering::Relaxed));
                            black_box(
                                rt.block_on(
                                    engine.grab(id, &stampede_core::UserId::parse(&user).unwrap()),
                                )
                                .unwrap(),
                            );
                        }
                    });
                }
            });
            started.elapsed()
        });
    });
    group.finish();
    engine.shutdown();
    full_batches(c, "256_tasks_limit_2", 1);
    full_batches(
        c,
        "256_tasks_limit_2_10k_campaigns",
        stampede_core::MAX_CAMPAIGNS,
    );
}

/// `engine_grab/256_tasks_limit_2` and `…_10k_campaigns`: see the module doc.
fn full_batches(c: &mut Criterion, name: &str, campaigns: usize) {
    const TASKS: u64 = 256;
    const USERS_PER_TASK: u64 = 8;
    let mut group = c.benchmark_group("engine_grab");
    group.throughput(Throughput::Elements(TASKS * USERS_PER_TASK * 2));
    group.sample_size(20);
    let (engine, id) = memory_engine_with(spec_limited(10_000_000, 2));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for _ in 1..campaigns {
            engine
                .create_campaign(spec(10))
                .await
                .unwrap()
                .created()
                .unwrap();
        }
    });
    let next = Arc::new(AtomicU64::new(0));
    let (records_before, cpu_before) = (engine.writer_counts().journal_records, writer_cpu());
    group.bench_function(name, |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..TASKS {
                    let (engine, next) = (engine.clone(), Arc::clone(&next));
                    set.spawn(async move {
                        for _ in 0..USERS_PER_TASK {
                            let user = format!("u{}", next.fetch_add(1, Ordering::Relaxed));
                            for _ in 0..2 {
                                black_box(
                                    engine
                                        .grab(id, &stampede_core::UserId::parse(&user).unwrap())
                                        .await
                                        .unwrap(),
                                );
                            }
                        }
                    });
                }
                set.join_all().await;
            });
        });
    });
    group.finish();
    let wins = engine.writer_counts().journal_records - records_before;
    if let (Some(before), Some(after)) = (cpu_before, writer_cpu()) {
        println!(
            "engine_grab/{name}: writer on CPU {:.0} ns per win ({wins} wins)",
            (after - before).as_nanos() as f64 / wins.max(1) as f64
        );
    }
    engine.shutdown();
}

/// CPU time the (one live) writer thread has used so far: Linux only, from
/// `/proc/self/task/*/schedstat`.
fn writer_cpu() -> Option<Duration> {
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == "stampede-writer" {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            let nanos = stat.split_whitespace().next()?.parse().ok()?;
            return Some(Duration::from_nanos(nanos));
        }
    }
    None
}

fn fast_path(c: &mut Criterion) {
    let (engine, id) = memory_engine(1);
    rt().block_on(engine.grab(id, &stampede_core::UserId::parse("winner").unwrap()))
        .unwrap();
    let mut group = c.benchmark_group("fast_path");
    group.throughput(Throughput::Elements(2));
    group.bench_function("sold_out_2_threads", |b| {
        b.iter_custom(|iters| {
            let started = stopwatch();
            std::thread::scope(|s| {
                for t in 0..2 {
                    let engine = engine.clone();
                    s.spawn(move || {
                        let user = format!("loser{t}");
                        for _ in 0..iters {
                            black_box(engine.grab_fast_path(id, &user));
                        }
                    });
                }
            });
            started.elapsed()
        });
    });
    group.finish();
    engine.shutdown();
}

fn group_commit(c: &mut Criterion) {
    const CLIENTS: u64 = 64;
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        journal_path: dir.path().join("journal.log"),
        durability: Durability::Fsync,
        rng_seed: Some(1),
        snapshot_every_records: stampede_engine::DEFAULT_SNAPSHOT_EVERY_RECORDS,
    };
    let (engine, _) =
        Engine::open_guarded(&config, patient_guard(), Arc::new(ManualClock::new(T0))).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let id = runtime
        .block_on(engine.create_campaign(spec(10_000_000)))
        .unwrap()
        .created()
        .unwrap()
        .id;
    let next = Arc::new(AtomicU64::new(0));
    let before = engine.writer_counts();
    let mut group = c.benchmark_group("group_commit");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(CLIENTS * 100));
    group.bench_function("fsync_64_clients", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..CLIENTS {
                    let (engine, next) = (engine.clone(), Arc::clone(&next));
                    set.spawn(async move {
                        for _ in 0..100 {
                            let user = format!("u{}", next.fetch_add(1, Ordering::Relaxed));
                            engine
                                .grab(id, &stampede_core::UserId::parse(&user).unwrap())
                                .await
                                .unwrap();
                        }
                    });
                }
                set.join_all().await;
            });
        });
    });
    group.finish();
    let after = engine.writer_counts();
    let records = after.journal_records - before.journal_records;
    let fsyncs = (after.fsyncs - before.fsyncs).max(1);
    println!(
        "group_commit: {records} durable wins in {fsyncs} fsyncs = {:.1} records per fsync",
        records as f64 / fsyncs as f64
    );
    engine.shutdown();
}

fn replay(c: &mut Criterion) {
    const WINS: u64 = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        journal_path: dir.path().join("journal.log"),
        durability: Durability::Os,
        rng_seed: Some(1),
        snapshot_every_records: stampede_engine::DEFAULT_SNAPSHOT_EVERY_RECORDS,
    };
    {
        let (engine, _) =
            Engine::open_guarded(&config, patient_guard(), Arc::new(ManualClock::new(T0))).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let id = runtime
            .block_on(engine.create_campaign(spec(WINS)))
            .unwrap()
            .created()
            .unwrap()
            .id;
        runtime.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for t in 0..256u64 {
                let engine = engine.clone();
                set.spawn(async move {
                    for n in 0..WINS / 256 + 1 {
                        let _ = engine
                            .grab(
                                id,
                                &stampede_core::UserId::parse(&format!("t{t}n{n}")).unwrap(),
                            )
                            .await
                            .unwrap();
                    }
                });
            }
            set.join_all().await;
        });
        engine.inspect(|l| assert_eq!(l.order_count() as u64, WINS));
        engine.shutdown();
    }
    let bytes = std::fs::metadata(&config.journal_path).unwrap().len();
    println!("replay: journal of {WINS} wins is {} MB", bytes / 1_000_000);
    let mut group = c.benchmark_group("replay");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("1m_wins", |b| {
        b.iter(|| {
            let (engine, recovered) =
                Engine::open_guarded(&config, patient_guard(), Arc::new(ManualClock::new(T0)))
                    .unwrap();
            assert_eq!(recovered.orders as u64, WINS);
            engine.shutdown();
        });
    });
    group.finish();
}

criterion_group!(
    benches,
    core_grab,
    engine_grab,
    fast_path,
    group_commit,
    replay
);
criterion_main!(benches);
