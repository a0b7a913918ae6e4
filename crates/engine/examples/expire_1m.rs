//! 1,000,000 pending orders expiring (a large sale whose payment window closes at once): what
//! the expiry timer costs per order, and the memory a pending order holds.
//!
//! Run: `cargo run --release -p stampede-engine --example expire_1m [-- ORDERS]` (default and
//! most 1,000,000).
//!
//! Every stage runs in a process of its own (this binary started again with the stage's name),
//! so memory one stage freed, which the allocator keeps, does not show in the next one's RSS:
//! 1. `core`: a bare [`Ledger`] with one seckill campaign and ORDERS winners, all
//!    `pending_payment`. Prints the RSS they hold, the cost of an expiry pass with nothing due
//!    (the writer's idle tick; also with the pending orders spread over 10,000 campaigns, the
//!    most a ledger holds) and `Ledger::expire_due` draining them all in batches of
//!    [`MAX_EXPIRIES_PER_BATCH`].
//! 2. `build`: the same ORDERS wins grabbed through an [`Engine`] into a journal file
//!    (`Durability::Os`: only the state is wanted here, the grab path is measured elsewhere).
//! 3. `engine`: a copy of that journal opened (replayed) by an [`Engine`] on a [`ManualClock`];
//!    the RSS the pending orders hold; the writer's CPU while it ticks over them for 2 s; then
//!    the clock is moved past their payment deadline and the wall time is taken until the read
//!    side shows every item back in stock. The read side is published only after the batch is
//!    durable, so that is the time until every expiry is durable. Two ways to drive it: `timer`
//!    (nothing but the writer's own [`EXPIRY_TICK`], as in a server) and `driven` (one caller
//!    sending [`Engine::expire_due`] back to back: the writer's expiry throughput without the
//!    tick's wait).
//!
//! The writer's CPU is read from `/proc/self/task/*/stat` (10 ms ticks: `CLK_TCK` = 100). Uses
//! the system allocator (the server binary uses mimalloc).
//!
//! Over 400 lines on purpose: each stage runs in a process of its own and the stages share
//! their setup; read whole, the example is the measurement's protocol.

#[allow(dead_code)] // process_cpu is for callback_rate
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use stampede_core::{
    CampaignId, CampaignSpec, Cents, CommonSpec, GrabOutcome, Ledger, OrderState, Record,
    SeckillSpec, UnixMillis, UserId,
};
use stampede_engine::{
    Durability, EXPIRY_TICK, Engine, EngineConfig, JournalGuard, JournalGuardConfig,
    MAX_EXPIRIES_PER_BATCH, ManualClock, stopwatch,
};
use support::{memory, mib, writer_cpu};

const T0: UnixMillis = UnixMillis(1_794_398_400_000);
/// The payment window of the campaign: every order falls due at `T0 + WINDOW_SECS`.
const WINDOW_SECS: u64 = 60;
/// Most orders: a large sale's winners all left unpaid, and a bound on the run's memory and
/// time.
const MAX_ORDERS: u64 = 1_000_000;
/// Grabs in flight at once while building the journal.
const GRABS_IN_FLIGHT: u64 = 4_096;
/// Idle expiry passes timed at the core level (averaged), with one campaign and with
/// [`CAMPAIGNS_SPREAD`] (each pass visits every campaign).
const IDLE_PASSES: u32 = 1_000_000;
const IDLE_PASSES_SPREAD: u32 = 1_000;
/// The most campaigns a ledger holds (`stampede_core::MAX_CAMPAIGNS`): the idle pass visits each.
const CAMPAIGNS_SPREAD: u64 = 10_000;
/// How long the engine ticks over the pending orders before they fall due.
const IDLE_WINDOW: Duration = Duration::from_secs(2);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("core") => core(orders_arg(&args[1])),
        Some("build") => build(orders_arg(&args[1]), Path::new(&args[2])),
        Some("engine") => engine(
            &args[1],
            &args[2],
            orders_arg(&args[3]),
            Path::new(&args[4]),
        ),
        first => {
            let orders = first.map_or(MAX_ORDERS, orders_arg);
            all(orders);
        }
    }
}

fn orders_arg(s: &str) -> u64 {
    let orders: u64 = s.parse().expect("ORDERS is a number");
    assert!(
        (1..=MAX_ORDERS).contains(&orders),
        "ORDERS is 1..={MAX_ORDERS}"
    );
    orders
}

/// Runs every stage, each in a child process.
fn all(orders: u64) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let built = dir.path().join("built.journal");
    println!(
        "{orders} pending orders, one seckill campaign, payment window {WINDOW_SECS} s, \
         MAX_EXPIRIES_PER_BATCH {MAX_EXPIRIES_PER_BATCH}, EXPIRY_TICK {} ms\n",
        EXPIRY_TICK.as_millis()
    );
    stage(&["core", &orders.to_string()]);
    stage(&["build", &orders.to_string(), path_str(&built)]);
    println!(
        "\n| engine run | RSS before open | RSS with {orders} pending | per pending order | \
         peak (VmHWM) | writer CPU idle {} s | drain wall time | ns/order (wall) | writer CPU | \
         ns/order (writer CPU) | expiries/s | fsyncs | records/fsync | journal B/expiry | \
         RSS after |",
        IDLE_WINDOW.as_secs()
    );
    println!("|{}", " --- |".repeat(15));
    for (durability, drive) in [("fsync", "timer"), ("fsync", "driven"), ("os", "driven")] {
        let copy = dir.path().join(format!("{durability}-{drive}.journal"));
        std::fs::copy(&built, &copy).expect("copy the journal");
        stage(&[
            "engine",
            durability,
            drive,
            &orders.to_string(),
            path_str(&copy),
        ]);
        std::fs::remove_file(&copy).expect("remove the copy");
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

fn stage(args: &[&str]) {
    let me = std::env::current_exe().expect("this binary's path");
    let status = Command::new(me).args(args).status().expect("start a stage");
    assert!(status.success(), "stage {args:?} failed: {status}");
}

fn spec(stock: u64) -> CampaignSpec {
    CampaignSpec::Seckill(SeckillSpec {
        common: CommonSpec {
            name: "expire-1m".into(),
            starts_at: None,
            ends_at: None,
        },
        stock,
        per_user_limit: 1,
        price_cents: Cents(990),
        payment_window_secs: WINDOW_SECS,
        regrab_after_release: false,
    })
}

/// Bench-shaped user id of user `i` (as `stampede bench` names them).
fn name(i: u64) -> String {
    format!("bench-0123abcd-c{i}")
}

/// A ledger with `campaigns` campaigns sharing `orders` winners, every order pending.
fn pending_ledger(campaigns: u64, orders: u64) -> Ledger {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut ledger = Ledger::new();
    let per_campaign = orders.div_ceil(campaigns);
    let ids: Vec<CampaignId> = (0..campaigns)
        .map(|_| {
            let record = ledger
                .create_campaign(spec(per_campaign), T0, &mut rng)
                .record
                .expect("a valid campaign");
            let Record::CampaignCreated { id, .. } = record else {
                unreachable!("a creation record")
            };
            id
        })
        .collect();
    for i in 0..orders {
        let user = UserId::parse(&name(i)).expect("a valid user id");
        let grab = ledger.grab(ids[(i % campaigns) as usize], &user, T0, &mut rng);
        assert!(matches!(grab.outcome, GrabOutcome::Won(_)));
    }
    ledger
}

/// Average time of one expiry pass when nothing is due, over `passes` passes.
fn idle_pass(ledger: &mut Ledger, passes: u32) -> Duration {
    let started = stopwatch();
    for _ in 0..passes {
        let records = ledger.expire_due(std::hint::black_box(T0), MAX_EXPIRIES_PER_BATCH);
        assert!(records.is_empty());
    }
    started.elapsed() / passes
}

fn core(orders: u64) {
    let (start, _) = memory();
    let mut ledger = pending_ledger(1, orders);
    let (pending, _) = memory();
    let idle = idle_pass(&mut ledger, IDLE_PASSES);

    let due = UnixMillis(T0.0 + WINDOW_SECS * 1000);
    let mut batches = Vec::new();
    let mut expired = 0;
    let started = stopwatch();
    loop {
        let batch_started = stopwatch();
        let records = ledger.expire_due(due, MAX_EXPIRIES_PER_BATCH);
        if records.is_empty() {
            break;
        }
        batches.push(batch_started.elapsed());
        expired += records.len() as u64;
    }
    let drain = started.elapsed();
    // Read before the checks below: `assert_invariants` allocates (and frees) tables of its own.
    let (after, peak) = memory();
    assert_eq!(expired, orders);
    let campaign = ledger.campaigns().next().expect("one campaign");
    assert_eq!(campaign.remaining(), orders);
    assert!(
        campaign
            .winners_page(0, 10)
            .0
            .iter()
            .all(|o| o.state == OrderState::Expired)
    );
    ledger.assert_invariants();
    batches.sort();
    let median = batches[batches.len() / 2];
    let slowest = batches[batches.len() - 1];

    // The idle pass visits every campaign: the same orders over the most campaigns a ledger
    // holds. (RSS is not read after this: the first ledger's memory is still held.)
    drop(ledger);
    let mut spread = pending_ledger(CAMPAIGNS_SPREAD, orders);
    let idle_spread = idle_pass(&mut spread, IDLE_PASSES_SPREAD);

    println!("| core (`Ledger`, no I/O) | figure |");
    println!("| --- | --- |");
    println!(
        "| RSS with {orders} pending | {} ({} → {}) = **{:.1} B per pending order** |",
        mib(pending - start),
        mib(start),
        mib(pending),
        (pending - start) as f64 / orders as f64
    );
    println!(
        "| idle expiry pass, {orders} pending, 1 campaign (mean of {IDLE_PASSES}) | **{:.1} ns** |",
        idle.as_nanos() as f64
    );
    println!(
        "| idle expiry pass, {orders} pending over {CAMPAIGNS_SPREAD} campaigns (mean of \
         {IDLE_PASSES_SPREAD}) | **{:.1} µs** |",
        idle_spread.as_nanos() as f64 / 1000.0
    );
    println!(
        "| `expire_due` draining {orders} in {} batches of ≤ {MAX_EXPIRIES_PER_BATCH} | {:.1} ms = \
         **{:.1} ns/order**, {:.1} M orders/s |",
        batches.len(),
        drain.as_secs_f64() * 1000.0,
        drain.as_nanos() as f64 / orders as f64,
        orders as f64 / drain.as_secs_f64() / 1e6
    );
    println!(
        "| one batch of {MAX_EXPIRIES_PER_BATCH}: median, slowest | {:.0} µs, {:.0} µs |",
        median.as_secs_f64() * 1e6,
        slowest.as_secs_f64() * 1e6
    );
    println!(
        "| RSS after the drain, peak (VmHWM) | {}, {} |",
        mib(after),
        mib(peak)
    );
}

/// The longest journal reply timeout, and no slow-call trips: thousands of commands in flight
/// wait for each other's batches (queued, not failing), and every answer is unwrapped.
fn patient_guard() -> JournalGuard {
    JournalGuard::new(
        JournalGuardConfig {
            journal_reply_timeout: stampede_engine::guard::MAX_JOURNAL_REPLY_TIMEOUT,
            breaker: stampede_admission::BreakerConfig {
                slow_call_threshold: stampede_engine::guard::MAX_JOURNAL_REPLY_TIMEOUT,
                ..stampede_admission::BreakerConfig::default()
            },
        },
        Arc::new(stampede_admission::SystemClock::new()),
    )
    .expect("a valid guard config")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn open(journal: &Path, durability: Durability, clock: &ManualClock) -> Engine {
    let config = EngineConfig {
        journal_path: PathBuf::from(journal),
        durability,
        rng_seed: Some(1),
        snapshot_every_records: stampede_engine::DEFAULT_SNAPSHOT_EVERY_RECORDS,
    };
    let (engine, _) = Engine::open_guarded(&config, patient_guard(), Arc::new(clock.clone()))
        .expect("the engine opens");
    engine
}

fn build(orders: u64, journal: &Path) {
    let engine = open(journal, Durability::Os, &ManualClock::new(T0));
    let rt = runtime();
    let campaign = rt
        .block_on(engine.create_campaign(spec(orders)))
        .expect("the campaign is created")
        .created()
        .expect("a valid campaign")
        .id;
    let started = stopwatch();
    rt.block_on(async {
        let mut next = 0;
        while next < orders {
            let mut tasks = tokio::task::JoinSet::new();
            for i in next..(next + GRABS_IN_FLIGHT).min(orders) {
                let engine = engine.clone();
                tasks.spawn(async move {
                    engine
                        .grab(campaign, &stampede_core::UserId::parse(&name(i)).unwrap())
                        .await
                });
            }
            next += GRABS_IN_FLIGHT;
            while let Some(outcome) = tasks.join_next().await {
                let outcome = outcome.expect("a grab task").expect("a grab answer");
                assert!(matches!(outcome, GrabOutcome::Won(_)), "{outcome:?}");
            }
        }
    });
    let elapsed = started.elapsed();
    assert_eq!(engine.campaign(campaign).map(|c| c.remaining()), Some(0));
    engine.shutdown();
    println!(
        "\nbuild: {orders} wins grabbed through the engine (Durability::Os, {GRABS_IN_FLIGHT} in \
         flight) in {:.1} s ({:.0} wins/s); journal {:.1} MB",
        elapsed.as_secs_f64(),
        orders as f64 / elapsed.as_secs_f64(),
        std::fs::metadata(journal).expect("the journal").len() as f64 / 1e6
    );
}

fn engine(durability_name: &str, drive: &str, orders: u64, journal: &Path) {
    let durability = match durability_name {
        "fsync" => Durability::Fsync,
        "os" => Durability::Os,
        other => panic!("durability is fsync or os, not {other}"),
    };
    assert!(
        matches!(drive, "timer" | "driven"),
        "drive is timer or driven"
    );
    let (before, _) = memory();
    let clock = ManualClock::new(T0);
    let engine = open(journal, durability, &clock);
    let (opened, peak_open) = memory();
    let campaign = engine.campaign_ids()[0];
    let view = engine.campaign(campaign).expect("the campaign");
    assert_eq!(view.remaining(), 0);
    assert_eq!(engine.inspect(|l| l.order_count()) as u64, orders);

    let idle_started = writer_cpu();
    std::thread::sleep(IDLE_WINDOW);
    let idle_cpu = writer_cpu() - idle_started;

    let counts_before = engine.writer_counts();
    let bytes_before = std::fs::metadata(journal).expect("the journal").len();
    let cpu_before = writer_cpu();
    let started = stopwatch();
    clock.advance(Duration::from_secs(WINDOW_SECS));
    if drive == "timer" {
        while view.remaining() < orders {
            std::thread::sleep(Duration::from_millis(1));
        }
    } else {
        // Until the read side shows them all: the writer's own tick may take a batch too.
        runtime().block_on(async {
            while view.remaining() < orders {
                engine.expire_due().await.expect("an expiry pass");
            }
        });
    }
    let wall = started.elapsed();
    let cpu = writer_cpu() - cpu_before;
    assert_eq!(view.remaining(), orders);
    let counts = engine.writer_counts();
    let records = counts.journal_records - counts_before.journal_records;
    let fsyncs = counts.fsyncs - counts_before.fsyncs;
    let batches = counts.journal_batches - counts_before.journal_batches;
    assert_eq!(records, orders, "one record per expiry");
    let bytes = std::fs::metadata(journal).expect("the journal").len() - bytes_before;
    engine.shutdown();
    let (after, _) = memory();
    let per_fsync = if fsyncs == 0 {
        format!("— ({batches} batches)")
    } else {
        format!("{:.0}", records as f64 / fsyncs as f64)
    };
    println!(
        "| {durability_name}, {drive} | {} | {} | **{:.1} B** | {} | {} ms | **{:.2} s** | {:.0} | \
         {} ms | **{:.0}** | {:.0} | {fsyncs} | {per_fsync} | {:.1} | {} |",
        mib(before),
        mib(opened),
        (opened - before) as f64 / orders as f64,
        mib(peak_open),
        idle_cpu.as_millis(),
        wall.as_secs_f64(),
        wall.as_nanos() as f64 / orders as f64,
        cpu.as_millis(),
        cpu.as_nanos() as f64 / orders as f64,
        orders as f64 / wall.as_secs_f64(),
        bytes as f64 / orders as f64,
        mib(after),
    );
}
