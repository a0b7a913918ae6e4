//! The payment-callback handling rate through [`Engine::record_payment`], against the
//! grab write path measured in the same run.
//!
//! Run: `cargo run --release -p stampede-engine --example callback_rate [-- SECONDS ROUNDS
//! DURABILITY]` (defaults 2, 5 and `fsync`; `os` leaves the writes to the OS, which takes the
//! disk out and compares the CPU paths).
//!
//! One engine on a journal file, by default with `Durability::Fsync` (one fdatasync per batch).
//! For each round, and in it for each number of concurrent callers N (tokio tasks on 2 worker
//! threads):
//! 1. `grab`: N callers grab as new users for SECONDS: durable wins per second, the baseline;
//! 2. `start`: every order won in 1 moved to `paying` by [`Engine::start_payment`] (the user's
//!    pay click: one `PaymentStarted` record, durable before the answer);
//! 3. `callback`: every `paying` order paid by [`Engine::record_payment`] with a new
//!    transaction (one `PaymentRecorded` record, durable before the answer): the callback
//!    handling rate;
//! 4. `retry`: the same payments again, as a channel retries: `AlreadyRecorded`, no journal
//!    write (checked: the journal does not grow and no fsync runs);
//! 5. `control`: phase 1 again, last. Its distance from phase 1 (an A/A comparison) is the
//!    noise floor of every ratio: on the shared disk an fsync takes 0.2 to 4 ms from one
//!    second to the next.
//!
//! Phases 2–4 go through every order phase 1 won, with the same N callers, so each does the
//! same number of operations as the baseline. The phases alternate in slices of 250 ms of
//! grabbing (grab, start, pay, retry, control, and again) so the shared disk's noise, which
//! comes and goes over seconds, falls on all of them alike. Ratios are against the grab phase
//! of the same round and N. Each phase also reports the writer thread's and the whole
//! process's CPU time per operation (from `/proc`, 10 ms ticks), which the disk's noise moves
//! far less. The HTTP edge (signature, JSON, the order read after recording) is not in these
//! figures.
//!
//! Over 400 lines on purpose: a measurement is read best whole, its phases in the order they
//! run; the helpers are the example's own.

#[allow(dead_code)] // the memory readers are for expire_1m
mod support;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use stampede_core::{
    CampaignId, CampaignSpec, Cents, ChannelName, CommonSpec, GrabOutcome, OrderId, OrderOutcome,
    OrderState, Payment, PaymentOutcome, SeckillSpec, UnixMillis,
};
use stampede_engine::{
    Durability, Engine, EngineConfig, JournalGuard, JournalGuardConfig, ManualClock, WriterCounts,
    stopwatch,
};

const T0: UnixMillis = UnixMillis(1_794_398_400_000);
/// Concurrent callers per measurement.
const CALLERS: [usize; 3] = [1, 16, 64];
/// Grabbing time per slice: phases alternate this often (see [`measure`]).
const SLICE: Duration = Duration::from_millis(250);
/// The channel every payment is recorded on.
const CHANNEL: &str = "sim";

/// [`CHANNEL`], checked (one allocation, as the `String` it replaced).
fn channel() -> ChannelName {
    ChannelName::parse(CHANNEL).expect("a valid channel name")
}
/// Longest phase and most rounds accepted: keeps a run within a couple of minutes.
const MAX_SECONDS: u64 = 30;
const MAX_ROUNDS: usize = 10;

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map_or(2, |s| s.parse().expect("SECONDS"));
    let rounds: usize = args.next().map_or(5, |s| s.parse().expect("ROUNDS"));
    let durability = match args.next().as_deref() {
        None | Some("fsync") => Durability::Fsync,
        Some("os") => Durability::Os,
        Some(other) => panic!("DURABILITY is fsync or os, not {other}"),
    };
    assert!(
        (1..=MAX_SECONDS).contains(&seconds),
        "SECONDS is 1..={MAX_SECONDS}"
    );
    assert!(
        (1..=MAX_ROUNDS).contains(&rounds),
        "ROUNDS is 1..={MAX_ROUNDS}"
    );

    let dir = tempfile::tempdir().expect("a temporary directory");
    let journal = dir.path().join("journal.log");
    let config = EngineConfig {
        journal_path: journal.clone(),
        durability,
        rng_seed: Some(1),
        snapshot_every_records: stampede_engine::DEFAULT_SNAPSHOT_EVERY_RECORDS,
    };
    let (engine, _) =
        Engine::open_guarded(&config, patient_guard(), Arc::new(ManualClock::new(T0)))
            .expect("the engine opens");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let campaign = runtime
        .block_on(engine.create_campaign(spec()))
        .expect("the campaign is created")
        .created()
        .expect("a valid campaign")
        .id;

    println!(
        "Durability::{durability:?}, journal on {}, {seconds} s of grabs per measurement, \
         {rounds} rounds. Each cell: operations/s (records per fsync, writer CPU µs per \
         operation)\n",
        dir.path().display()
    );
    println!(
        "| round | callers | grab wins/s | start_payment/s | callback payments/s | \
         callback ÷ grab | retry/s | retry ÷ grab | control: grab again/s | control ÷ grab | \
         bytes/record: win, start, payment |"
    );
    println!("|{}", " --- |".repeat(11));
    let mut all: Vec<(usize, Measurement)> = Vec::new();
    for round in 1..=rounds {
        for callers in CALLERS {
            let m = runtime.block_on(measure(
                &engine,
                &journal,
                campaign,
                &format!("r{round}n{callers}"),
                callers,
                Duration::from_secs(seconds),
            ));
            println!(
                "| {round} | {callers} | {} | {} | {} | **{:.2}** | {} | {:.1} | {} | {:.2} | \
                 {:.0}, {:.0}, {:.0} |",
                m.grab.cell(),
                m.start.cell(),
                m.callback.cell(),
                m.callback.rate() / m.grab.rate(),
                m.retry.cell(),
                m.retry.rate() / m.grab.rate(),
                m.control.cell(),
                m.control.rate() / m.grab.rate(),
                m.grab.bytes_per_record(),
                m.start.bytes_per_record(),
                m.callback.bytes_per_record(),
            );
            all.push((callers, m));
        }
    }
    println!(
        "\nOver the rounds: medians of the per-round figures, and pooled figures (every \
         round's operations over every round's time):\n"
    );
    println!(
        "| callers | grab wins/s | callback payments/s | callback ÷ grab | pooled callback ÷ \
         grab | pooled control ÷ grab | records/fsync: grab, callback | ms per fsync: grab, \
         callback | writer CPU µs per op: grab, callback, retry | process CPU µs per op: grab, \
         callback, retry | retry/s | retry ÷ grab |"
    );
    println!("|{}", " --- |".repeat(12));
    for callers in CALLERS {
        let of_callers = || all.iter().filter(|(c, _)| *c == callers).map(|(_, m)| m);
        let median = |pick: &dyn Fn(&Measurement) -> f64| {
            let mut v: Vec<f64> = of_callers().map(pick).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let mut pooled = Measurement::default();
        for m in of_callers() {
            pooled.grab.add(&m.grab);
            pooled.callback.add(&m.callback);
            pooled.retry.add(&m.retry);
            pooled.control.add(&m.control);
        }
        let (grab, callback) = (&pooled.grab, &pooled.callback);
        println!(
            "| {callers} | {:.0} | {:.0} | **{:.2}** | **{:.2}** | {:.2} | {}, {} | {}, {} | {:.1}, \
             {:.1}, {:.1} | {:.1}, {:.1}, {:.1} | {:.0} | {:.1} |",
            median(&|m| m.grab.rate()),
            median(&|m| m.callback.rate()),
            median(&|m| m.callback.rate() / m.grab.rate()),
            callback.rate() / grab.rate(),
            pooled.control.rate() / grab.rate(),
            grab.records_per_fsync(),
            callback.records_per_fsync(),
            grab.millis_per_fsync(),
            callback.millis_per_fsync(),
            grab.writer_micros_per_operation(),
            callback.writer_micros_per_operation(),
            pooled.retry.writer_micros_per_operation(),
            grab.process_micros_per_operation(),
            callback.process_micros_per_operation(),
            pooled.retry.process_micros_per_operation(),
            median(&|m| m.retry.rate()),
            median(&|m| m.retry.rate() / m.grab.rate()),
        );
    }
    engine.shutdown();
}

fn spec() -> CampaignSpec {
    CampaignSpec::Seckill(SeckillSpec {
        common: CommonSpec {
            name: "callback-rate".into(),
            starts_at: None,
            ends_at: None,
        },
        stock: stampede_core::MAX_STOCK,
        per_user_limit: 1,
        price_cents: Cents(990),
        // The clock does not move: nothing expires during the run.
        payment_window_secs: stampede_core::DEFAULT_PAYMENT_WINDOW_SECS,
        regrab_after_release: false,
    })
}

/// The longest journal reply timeout, and no slow-call trips: 64 callers wait for each other's
/// batches (queued, not failing), and every answer is unwrapped.
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

/// One phase: operations done, wall time, and what the writer and the journal did meanwhile.
#[derive(Default)]
struct Phase {
    operations: usize,
    wall: Duration,
    records: u64,
    fsyncs: u64,
    journal_bytes: u64,
    writer_cpu: Duration,
    /// The whole process: callers, runtime and writer.
    process_cpu: Duration,
}

impl Phase {
    fn add(&mut self, other: &Phase) {
        self.operations += other.operations;
        self.wall += other.wall;
        self.records += other.records;
        self.fsyncs += other.fsyncs;
        self.journal_bytes += other.journal_bytes;
        self.writer_cpu += other.writer_cpu;
        self.process_cpu += other.process_cpu;
    }
    fn rate(&self) -> f64 {
        self.operations as f64 / self.wall.as_secs_f64()
    }
    fn writer_micros_per_operation(&self) -> f64 {
        self.writer_cpu.as_secs_f64() * 1e6 / self.operations as f64
    }
    fn process_micros_per_operation(&self) -> f64 {
        self.process_cpu.as_secs_f64() * 1e6 / self.operations as f64
    }
    fn records_per_fsync(&self) -> String {
        if self.fsyncs == 0 {
            return "—".to_owned();
        }
        format!("{:.1}", self.records as f64 / self.fsyncs as f64)
    }
    /// Wall time per fsync: what the phase spent per group commit, fsync and all.
    fn millis_per_fsync(&self) -> String {
        if self.fsyncs == 0 {
            return "—".to_owned();
        }
        format!(
            "{:.2}",
            self.wall.as_secs_f64() * 1000.0 / self.fsyncs as f64
        )
    }
    fn cell(&self) -> String {
        format!(
            "{:.0} ({}, {:.1})",
            self.rate(),
            self.records_per_fsync(),
            self.writer_micros_per_operation()
        )
    }
    fn bytes_per_record(&self) -> f64 {
        self.journal_bytes as f64 / self.records.max(1) as f64
    }
}

#[derive(Default)]
struct Measurement {
    grab: Phase,
    start: Phase,
    callback: Phase,
    retry: Phase,
    /// The grab phase again, last: the noise floor.
    control: Phase,
}

/// A won order, with what paying it needs.
#[derive(Clone)]
struct Won {
    order: OrderId,
    user: stampede_core::UserId,
    amount: Cents,
}

/// The four phases with `callers` callers, interleaved in slices of [`SLICE`] of grabbing
/// (each slice: grab, then start, pay and retry what it won) until `grab_for` of grabbing is
/// done, so disk noise that comes and goes over seconds falls on every phase alike.
async fn measure(
    engine: &Engine,
    journal: &Path,
    campaign: CampaignId,
    prefix: &str,
    callers: usize,
    grab_for: Duration,
) -> Measurement {
    let mut total = Measurement::default();
    for slice in 0..grab_for.as_millis().div_ceil(SLICE.as_millis()) {
        let m = measure_slice(
            engine,
            journal,
            campaign,
            format!("{prefix}s{slice}"),
            callers,
            SLICE,
        )
        .await;
        total.grab.add(&m.grab);
        total.start.add(&m.start);
        total.callback.add(&m.callback);
        total.retry.add(&m.retry);
        total.control.add(&m.control);
    }
    total
}

async fn measure_slice(
    engine: &Engine,
    journal: &Path,
    campaign: CampaignId,
    prefix: String,
    callers: usize,
    grab_for: Duration,
) -> Measurement {
    let (won, grab) = grab_phase(
        engine,
        journal,
        campaign,
        format!("{prefix}g"),
        callers,
        grab_for,
    )
    .await;
    let won = Arc::new(won);

    let (e, w) = (engine.clone(), Arc::clone(&won));
    let (_, start) = phase(engine, journal, callers, won.len(), None, move |i| {
        let (engine, won) = (e.clone(), w[i].clone());
        async move {
            let outcome = engine
                .start_payment(won.order, &won.user, &channel())
                .await
                .expect("a start answer");
            assert!(
                matches!(&outcome, OrderOutcome::Moved(o) if o.state == OrderState::Paying),
                "start_payment answered {outcome:?}"
            );
        }
    })
    .await;

    let pay = |e: Engine, w: Arc<Vec<Won>>, retry: bool| {
        move |i: usize| {
            let (engine, won) = (e.clone(), w[i].clone());
            async move {
                let payment = Payment {
                    channel: channel(),
                    txn_id: format!("{CHANNEL}-{:032x}", won.order.0),
                    amount_cents: won.amount,
                    paid_at: engine.now(),
                };
                let outcome = engine
                    .record_payment(won.order, payment)
                    .await
                    .expect("a payment answer");
                match (&outcome, retry) {
                    (PaymentOutcome::Recorded { order, .. }, false)
                    | (PaymentOutcome::AlreadyRecorded { order, .. }, true)
                        if order.state == OrderState::Paid => {}
                    _ => panic!("record_payment (retry: {retry}) answered {outcome:?}"),
                }
            }
        }
    };
    let (_, callback) = phase(
        engine,
        journal,
        callers,
        won.len(),
        None,
        pay(engine.clone(), Arc::clone(&won), false),
    )
    .await;
    let (_, retry) = phase(
        engine,
        journal,
        callers,
        won.len(),
        None,
        pay(engine.clone(), Arc::clone(&won), true),
    )
    .await;
    assert_eq!(retry.records, 0, "a retried payment writes nothing");
    assert_eq!(retry.fsyncs, 0, "a retried payment syncs nothing");
    assert_eq!(retry.journal_bytes, 0, "a retried payment writes nothing");
    // The control: the baseline again, after the other phases. How far it lands from the first
    // grab phase is the noise floor of every ratio here.
    let (_, control) = grab_phase(
        engine,
        journal,
        campaign,
        format!("{prefix}c"),
        callers,
        grab_for,
    )
    .await;
    Measurement {
        grab,
        start,
        callback,
        retry,
        control,
    }
}

/// `callers` callers grabbing as new users named `{prefix}-{i}` for `grab_for`.
async fn grab_phase(
    engine: &Engine,
    journal: &Path,
    campaign: CampaignId,
    prefix: String,
    callers: usize,
    grab_for: Duration,
) -> (Vec<Won>, Phase) {
    let e = engine.clone();
    phase(
        engine,
        journal,
        callers,
        usize::MAX,
        Some(grab_for),
        move |i| {
            let engine = e.clone();
            let user = stampede_core::UserId::parse(&format!("{prefix}-{i}")).expect("a user id");
            async move {
                match engine.grab(campaign, &user).await.expect("a grab answer") {
                    GrabOutcome::Won(ticket) => Won {
                        order: ticket.order_id,
                        user,
                        amount: ticket.amount_cents,
                    },
                    other => panic!("grab answered {other:?}"),
                }
            }
        },
    )
    .await
}

/// Runs `op(0)`, `op(1)`, … from `callers` concurrent tasks, each taking the next index, until
/// `limit` indices are taken or `duration` has passed; returns the results in index order and
/// the phase's figures.
async fn phase<T, F, Fut>(
    engine: &Engine,
    journal: &Path,
    callers: usize,
    limit: usize,
    duration: Option<Duration>,
    op: F,
) -> (Vec<T>, Phase)
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let counts_before = engine.writer_counts();
    let bytes_before = journal_len(journal);
    let cpu_before = support::writer_cpu();
    let process_before = support::process_cpu();
    let started = stopwatch();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..callers {
        let (op, next) = (Arc::clone(&op), Arc::clone(&next));
        tasks.spawn(async move {
            let mut done = Vec::new();
            while duration.is_none_or(|d| started.elapsed() < d) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= limit {
                    break;
                }
                done.push((i, op(i).await));
            }
            done
        });
    }
    let mut results = Vec::new();
    while let Some(done) = tasks.join_next().await {
        results.extend(done.expect("a caller task"));
    }
    let wall = started.elapsed();
    let writer_cpu = support::writer_cpu() - cpu_before;
    let process_cpu = support::process_cpu() - process_before;
    let counts: WriterCounts = engine.writer_counts();
    results.sort_by_key(|(i, _)| *i);
    let phase = Phase {
        operations: results.len(),
        wall,
        records: counts.journal_records - counts_before.journal_records,
        fsyncs: counts.fsyncs - counts_before.fsyncs,
        journal_bytes: journal_len(journal) - bytes_before,
        writer_cpu,
        process_cpu,
    };
    (results.into_iter().map(|(_, t)| t).collect(), phase)
}

fn journal_len(journal: &Path) -> u64 {
    std::fs::metadata(journal).expect("the journal").len()
}
