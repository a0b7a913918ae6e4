//! The simulator: one writer stepped by hand on one thread, the writer's queue, the storage
//! under it, the clock, and the world. Every random choice comes from the seed's RNG, in a
//! fixed order, so a seed replays the same run bit for bit.

use std::collections::VecDeque;
use std::hash::{DefaultHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stampede_core::{Command, UserId};
use stampede_engine::{
    Durability, EngineError, ManualClock, OutcomeReceiver, Request, Stepped, Writer,
};
use stampede_journal::{CrashReport, Journal, MemoryStorage, Storage};
use tokio::sync::oneshot;

use crate::Stats;
use crate::check;
use crate::model::{Acked, Image};
use crate::read_side::ReadSide;
use crate::support::T0;
use crate::swarm::Swarm;
use crate::world::{Channel, Provider};

/// A request in the writer's queue, and how its requester waits for the answer.
pub(crate) struct Queued {
    pub request: Request,
    pub waiting: Waiting,
}

/// How a requester waits.
pub(crate) enum Waiting {
    Decide(Command, OutcomeReceiver),
    ExpirePass(oneshot::Receiver<Result<usize, EngineError>>),
    Shutdown,
    /// The requester gave up before the step (dropped its receiver): the writer skips the
    /// request unless it records money that already moved.
    Abandoned(Option<Command>),
}

impl Queued {
    /// A request to decide `command`.
    pub(crate) fn decide(command: Command) -> Self {
        let (request, answer) = Request::decide(command.clone());
        Self {
            request,
            waiting: Waiting::Decide(command, answer),
        }
    }

    /// A request for an expiry pass.
    pub(crate) fn expire_pass() -> Self {
        let (request, answer) = Request::expire_pass();
        Self {
            request,
            waiting: Waiting::ExpirePass(answer),
        }
    }

    /// A shutdown request.
    pub(crate) fn shutdown() -> Self {
        Self {
            request: Request::Shutdown,
            waiting: Waiting::Shutdown,
        }
    }
}

/// How the process goes down before a reopen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Crash {
    /// A clean restart: every byte written stays (the OS flushed its cache).
    Restart,
    /// Power loss: a random prefix of the unsynced bytes stays, then maybe garbage.
    Torn,
    /// Power loss with out-of-order writeback: unsynced pages survive independently.
    OutOfOrder,
}

/// One seed's run.
pub(crate) struct Sim {
    pub rng: ChaCha8Rng,
    pub swarm: Swarm,
    pub storage: MemoryStorage,
    pub clock: ManualClock,
    pub writer: Option<Writer<Journal<MemoryStorage>>>,
    /// The writer's queue, FIFO, as the engine's bounded channel is.
    pub queue: VecDeque<Queued>,
    pub users: Vec<UserId>,
    pub channel: Channel,
    pub provider: Provider,
    /// Claims acknowledged `started` whose payout this process has not called yet.
    pub to_pay: Vec<stampede_core::OrderId>,
    pub acked: Acked,
    /// The ledger as of the last durable step.
    pub image: Image,
    /// The read side as of the last durable step.
    pub read: ReadSide,
    /// One hash per step and per reopen: what was decided, answered and stored.
    pub trace: Vec<u64>,
    pub stats: Stats,
    pub step: u64,
    /// Whether storage faults and crashes may still be injected (off for the final drain).
    pub faults: bool,
    /// Print every step's trace line (`VOPR_LOG=1`).
    log: bool,
}

impl Sim {
    /// A fresh run of `seed`: empty storage, the clock at [`T0`], an open writer.
    pub(crate) fn new(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let swarm = Swarm::draw(&mut rng);
        let users = (0..swarm.users)
            .map(|i| UserId::parse(&format!("u{i}")).expect("valid user id"))
            .collect();
        let storage = MemoryStorage::new(rng.random());
        let mut sim = Self {
            rng,
            swarm,
            storage,
            clock: ManualClock::new(T0),
            writer: None,
            queue: VecDeque::new(),
            users,
            channel: Channel::default(),
            provider: Provider::default(),
            to_pay: Vec::new(),
            acked: Acked::default(),
            image: Image::default(),
            read: ReadSide::default(),
            trace: Vec::new(),
            stats: Stats::default(),
            step: 0,
            faults: true,
            log: std::env::var_os("VOPR_LOG").is_some(),
        };
        sim.reopen(None);
        sim
    }

    /// The open writer.
    pub(crate) fn writer(&self) -> &Writer<Journal<MemoryStorage>> {
        self.writer.as_ref().expect("the writer is open")
    }

    /// One step of the run: maybe a crash, new arrivals, maybe a storage fault armed, the
    /// clock moved, one batch stepped and checked.
    pub(crate) fn step_once(&mut self) {
        let poisoned = self.writer().is_poisoned();
        if self.faults
            && (self.rng.random_bool(self.swarm.crash) || poisoned && self.rng.random_bool(0.3))
        {
            let crash = match self.rng.random_range(0..10) {
                0..3 => Crash::Restart,
                3..7 => Crash::Torn,
                _ => Crash::OutOfOrder,
            };
            self.crash(crash);
        }
        self.arrivals();
        if self.faults && self.rng.random_bool(self.swarm.append_fault) {
            self.storage.fail_next_append();
            self.stats.armed_faults += 1;
        }
        if self.faults && self.rng.random_bool(self.swarm.sync_fault) {
            self.storage.fail_next_sync();
            self.stats.armed_faults += 1;
        }
        self.clock.advance(Duration::from_millis(
            self.rng.random_range(0..=self.swarm.max_advance_ms),
        ));
        if self.rng.random_bool(self.swarm.jump) {
            let jump = self.rng.random_range(20_000..=400_000);
            self.clock.advance(Duration::from_millis(jump));
        }
        let size = self
            .rng
            .random_range(0..=self.queue.len().min(self.swarm.max_batch));
        let abandon = if self.faults { self.swarm.abandon } else { 0.0 };
        self.run_batch(size, abandon);
    }

    /// Takes `size` requests off the queue (each abandoned with probability `abandon`), steps
    /// the writer over them and checks everything.
    pub(crate) fn run_batch(&mut self, size: usize, abandon: f64) -> Stepped {
        self.step += 1;
        crate::at_step(self.step);
        let mut requests = Vec::with_capacity(size);
        let mut waiting = Vec::with_capacity(size);
        for mut queued in self.queue.drain(..size) {
            if self.rng.random_bool(abandon) {
                queued.waiting = match queued.waiting {
                    Waiting::Decide(command, _) => Waiting::Abandoned(Some(command)),
                    Waiting::ExpirePass(_) => Waiting::Abandoned(None),
                    other => other,
                };
            }
            requests.push(queued.request);
            waiting.push(queued.waiting);
        }
        let writer = self.writer.as_mut().expect("the writer is open");
        let was_poisoned = writer.is_poisoned();
        let orders_before = writer.inspect(|l| l.order_count());
        // The wins this batch's keyed grabs may answer again (won under their key before,
        // acknowledged or not): such an answer is a replay, not a new order.
        let keyed_before = writer.inspect(|l| keyed_wins(l, &waiting));
        let stepped = writer.step(&mut requests);
        assert!(requests.is_empty(), "the step left requests in the batch");
        let failed = writer.is_poisoned();
        assert!(
            !was_poisoned || failed,
            "a poisoned writer came back without a restart"
        );
        let mut line = format!("step {} now {:?} ", self.step, self.clock_now());
        let answered = self.settle(waiting, failed, &keyed_before, &mut line);
        let (len, synced) = self.storage_lens();
        line.push_str(&format!(" -> {stepped:?} storage {len}/{synced}"));
        if answered.ok > 0 {
            // Nothing is answered before it is durable: when any answer left, every byte the
            // journal wrote was synced.
            assert_eq!(
                len,
                synced,
                "answered while {} bytes were not synced",
                len - synced
            );
        }
        if failed {
            assert_eq!(stepped.records, 0, "a failed step reported durable records");
            self.stats.failed_steps += u64::from(!was_poisoned);
        } else {
            let orders_after = self.writer().inspect(|l| l.order_count());
            assert_eq!(
                orders_after - orders_before,
                answered.wins,
                "orders created other than by answered wins (an abandoned grab decided?)"
            );
            if stepped.records > 0 {
                let records = self.image.records + stepped.records as u64;
                let users = &self.users;
                let (image, read) = self
                    .writer()
                    .inspect(|l| (Image::of(l, records), ReadSide::of(l, users)));
                self.image = image;
                self.read = read;
            }
        }
        self.check(!failed, failed);
        self.record(line);
        if stepped.shutdown {
            self.stats.shutdowns += 1;
            self.crash(Crash::Restart);
        }
        stepped
    }

    /// Every invariant, after a step or a reopen. `durable`: the last step was made durable
    /// (its expiry pass ran); `behind`: the writer's ledger may hold decisions past the durable
    /// image (a failed step), so the image is checked to be kept in it.
    pub(crate) fn check(&self, durable: bool, behind: bool) {
        let now = self.clock_now();
        let writer = self.writer();
        writer.inspect(|ledger| {
            check::ledger(ledger, &self.channel, &self.provider, now);
            self.acked.check(ledger);
            if behind {
                self.image.check_kept(ledger);
            }
            if durable {
                check::nothing_overdue(ledger, now);
            }
        });
        self.read.check(writer.published(), &self.users, now);
    }

    /// The process goes down (`crash`) and comes back: requests still queued die with it, the
    /// storage keeps what `crash` may keep, and the writer reopens from it.
    pub(crate) fn crash(&mut self, crash: Crash) {
        drop(self.writer.take());
        for queued in self.queue.drain(..) {
            drop(queued.request);
            if let Waiting::Decide(_, mut answer) = queued.waiting {
                assert!(answer.try_recv().is_err(), "a queued request was answered");
            }
        }
        // A claim whose payout this process had not called yet dies with it: the packet stays
        // `claiming` until it is settled through the provider's query.
        self.to_pay.clear();
        let (len, synced) = self.storage_lens();
        let unsynced = usize::try_from(len - synced).expect("small");
        let report = match crash {
            Crash::Restart => self.storage.crash_keeping(unsynced, &[]),
            Crash::Torn => self.storage.crash(),
            Crash::OutOfOrder => self.storage.crash_out_of_order(),
        };
        self.stats.crashes += 1;
        self.stats.crashes_losing_bytes += u64::from(report.lost_unsynced_bytes > 0);
        self.stats.crashes_keeping_unsynced += u64::from(report.kept_unsynced_bytes > 0);
        self.record(format!("crash {crash:?} {report:?}"));
        self.reopen(Some(report));
    }

    /// Opens a writer on the storage (replaying the journal) and checks that everything
    /// acknowledged and everything durable is there; when the crash kept none of the unsynced
    /// bytes, that the ledger is exactly the durable image.
    fn reopen(&mut self, report: Option<CrashReport>) {
        let clock = Arc::new(self.clock.clone());
        let (writer, recovered) = Writer::open(
            self.storage.clone(),
            Durability::Fsync,
            Some(self.rng.random()),
            clock,
        )
        .unwrap_or_else(|e| panic!("reopen failed: {e}"));
        assert!(!writer.is_poisoned());
        assert!(
            recovered.records >= self.image.records,
            "durable records lost: {} replayed, {} durable",
            recovered.records,
            self.image.records
        );
        let users = &self.users;
        let (image, read) =
            writer.inspect(|l| (Image::of(l, recovered.records), ReadSide::of(l, users)));
        if report.is_none_or(|r| r.kept_unsynced_bytes == 0) {
            assert_eq!(
                image, self.image,
                "the replayed ledger is not the durable one"
            );
        }
        self.stats.truncated_tails += u64::from(recovered.truncated_tail_bytes > 0);
        self.writer = Some(writer);
        self.writer().inspect(|l| self.image.check_kept(l));
        self.image = image;
        self.read = read;
        self.check(false, false);
        self.record(format!(
            "reopen records {} truncated {}",
            recovered.records, recovered.truncated_tail_bytes
        ));
    }

    /// The clock's reading.
    pub(crate) fn clock_now(&self) -> stampede_core::UnixMillis {
        stampede_engine::Clock::now(&self.clock)
    }

    /// The storage's length and how much of it is synced.
    fn storage_lens(&self) -> (u64, u64) {
        let len = self.storage.clone().len_bytes().expect("memory storage");
        (len, self.storage.synced_len())
    }

    /// Adds a line to the trace (and prints it under `VOPR_LOG`).
    fn record(&mut self, line: String) {
        if self.log {
            eprintln!("{line}");
        }
        let mut hasher = DefaultHasher::new();
        hasher.write(line.as_bytes());
        self.trace.push(hasher.finish());
    }
}

/// The orders the keyed grabs among `waiting` already won under their keys in `ledger`.
fn keyed_wins(ledger: &stampede_core::Ledger, waiting: &[Waiting]) -> Vec<stampede_core::OrderId> {
    waiting
        .iter()
        .filter_map(|w| match w {
            Waiting::Decide(
                Command::Grab {
                    campaign,
                    user,
                    key: Some(key),
                },
                _,
            ) => ledger
                .campaign(*campaign)?
                .keyed_win(user.as_str(), key.as_str()),
            _ => None,
        })
        .map(|ticket| ticket.order_id)
        .collect()
}
