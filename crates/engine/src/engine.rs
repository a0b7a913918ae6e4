//! The engine handle: opens (replays) the journal, starts the writer, answers grabs — the
//! sold-out fast path from the published read side, everything else through the writer.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use parking_lot::Mutex;
use stampede_admission::breaker::CallPermit;
use stampede_core::{
    CampaignId, CampaignSpec, ChannelName, ClaimStart, Command, CreateOutcome, GrabOutcome, Ledger,
    Order, OrderId, OrderOutcome, Outcome, PaymentEntry, PayoutResult, UnixMillis, UserId,
};
use stampede_journal::{Durability, FileStorage, Storage};
use tokio::sync::oneshot;

use crate::clock::Clock;
use crate::command::Request;
use crate::durable_read::DurableMark;
use crate::error::{EngineError, JOURNAL_FAILED_EARLIER, OpenError};
use crate::guard::JournalGuard;
use crate::late_grab::{GrabReply, LateGrab};
use crate::published::{CampaignView, Published};
use crate::writer::{self, Writer};

/// Most commands waiting for the writer. A full queue answers `overloaded` at once instead of
/// queueing: 65,536 is about 16 full batches, i.e. a few milliseconds of writer work, so a
/// request admitted to the queue is still answered quickly.
pub const MAX_PENDING_COMMANDS: usize = 65_536;

/// How the engine is opened. The journal's circuit breaker and reply timeout are configured
/// apart, in [`crate::JournalGuardConfig`] (given to [`Engine::open_guarded`]; [`Engine::open`]
/// uses its defaults).
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The journal file (created if missing).
    pub journal_path: PathBuf,
    /// fsync each batch (default) or leave it to the OS.
    pub durability: Durability,
    /// Seed for order ids and red-packet draws; `None` draws one from the OS.
    pub rng_seed: Option<u64>,
}

/// What a campaign creation came to.
#[derive(Clone, Debug)]
pub enum Creation {
    /// Created and durable: its published view.
    Created(Arc<CampaignView>),
    /// A field breaks a rule; nothing changed.
    Invalid(stampede_core::SpecError),
    /// [`stampede_core::MAX_CAMPAIGNS`] reached; nothing changed.
    TooManyCampaigns,
}

impl Creation {
    /// The created campaign's view; `None` if the creation was refused.
    pub fn created(self) -> Option<Arc<CampaignView>> {
        match self {
            Creation::Created(view) => Some(view),
            Creation::Invalid(_) | Creation::TooManyCampaigns => None,
        }
    }
}

/// What the engine found on open.
#[derive(Clone, Debug)]
pub struct Recovered {
    /// Records replayed.
    pub records: u64,
    /// Bytes cut from a torn tail.
    pub truncated_tail_bytes: u64,
    /// Campaigns rebuilt.
    pub campaigns: usize,
    /// Orders rebuilt.
    pub orders: usize,
    /// Replay time in milliseconds.
    pub replay_millis: u128,
}

/// State shared by handlers and the writer.
pub(crate) struct Shared {
    pub(crate) ledger: Mutex<Ledger>,
    pub(crate) published: Published,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) poisoned: AtomicBool,
    pub(crate) stats: WriterStats,
    /// Batch numbers decided and durable, for [`Engine::read_durable`].
    pub(crate) durable: DurableMark,
    /// Woken by the writer once a batch that opened a refund is durable, so the refund job
    /// runs at once (see [`crate::payments`]).
    pub(crate) refunds_wake: tokio::sync::Notify,
}

impl Shared {
    /// The state around a replayed `ledger` and the read side rebuilt from it.
    pub(crate) fn new(ledger: Ledger, published: Published, clock: Arc<dyn Clock>) -> Self {
        Self {
            ledger: Mutex::new(ledger),
            published,
            clock,
            poisoned: AtomicBool::new(false),
            stats: WriterStats::default(),
            durable: DurableMark::default(),
            refunds_wake: tokio::sync::Notify::new(),
        }
    }
}

/// Counters the writer keeps (for benchmarks and the start-up log; Prometheus has the
/// histograms). Read from outside through [`Engine::writer_counts`].
#[derive(Debug, Default)]
pub(crate) struct WriterStats {
    /// Batches that carried at least one record.
    pub(crate) journal_batches: AtomicU64,
    /// Records made durable (or written, under `Durability::Os`).
    pub(crate) journal_records: AtomicU64,
    /// fsync calls.
    pub(crate) fsyncs: AtomicU64,
    /// Commands the writer took off its queue (shutdown included).
    pub(crate) commands: AtomicU64,
    /// Grabs and creations skipped undecided because their requester had already given up
    /// (answered `degraded` on a reply timeout).
    pub(crate) abandoned_commands: AtomicU64,
}

/// A snapshot of the writer's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterCounts {
    /// Batches that carried at least one record.
    pub journal_batches: u64,
    /// Records written.
    pub journal_records: u64,
    /// fsync calls.
    pub fsyncs: u64,
    /// Commands the writer took off its queue (shutdown included).
    pub commands: u64,
    /// Commands skipped undecided because their requester had already given up.
    pub abandoned_commands: u64,
}

/// The engine. Cheap to clone; all clones drive the same writer.
#[derive(Clone)]
pub struct Engine {
    pub(crate) shared: Arc<Shared>,
    commands: SyncSender<Request>,
    writer: Arc<Mutex<Option<JoinHandle<()>>>>,
    pub(crate) guard: Arc<JournalGuard>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens the journal file named in `config`, replays it, and starts the writer; the
    /// journal is guarded with the default [`crate::JournalGuardConfig`].
    pub fn open(
        config: &EngineConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<(Self, Recovered), OpenError> {
        Self::open_guarded(config, JournalGuard::default(), clock)
    }

    /// [`open`](Self::open) with the journal guarded by `guard`.
    pub fn open_guarded(
        config: &EngineConfig,
        guard: JournalGuard,
        clock: Arc<dyn Clock>,
    ) -> Result<(Self, Recovered), OpenError> {
        let storage = FileStorage::open(&config.journal_path).map_err(|source| OpenError::Io {
            path: config.journal_path.display().to_string(),
            source,
        })?;
        Self::open_storage_guarded(storage, config.durability, config.rng_seed, clock, guard)
    }

    /// Opens on any storage (tests inject a faulty in-memory one), with the default journal
    /// guard.
    pub fn open_storage<S: Storage>(
        storage: S,
        durability: Durability,
        rng_seed: Option<u64>,
        clock: Arc<dyn Clock>,
    ) -> Result<(Self, Recovered), OpenError> {
        Self::open_storage_guarded(
            storage,
            durability,
            rng_seed,
            clock,
            JournalGuard::default(),
        )
    }

    /// [`open_storage`](Self::open_storage) with the journal guarded by `guard`.
    pub fn open_storage_guarded<S: Storage>(
        storage: S,
        durability: Durability,
        rng_seed: Option<u64>,
        clock: Arc<dyn Clock>,
        guard: JournalGuard,
    ) -> Result<(Self, Recovered), OpenError> {
        let (writer, recovered) = Writer::open(storage, durability, rng_seed, clock)?;
        let shared = Arc::clone(writer.shared());
        let (commands, queue) = sync_channel(MAX_PENDING_COMMANDS);
        let writer = std::thread::Builder::new()
            .name("stampede-writer".into())
            .spawn(move || writer::run(writer, queue))
            .map_err(|source| OpenError::Io {
                path: "writer thread".into(),
                source,
            })?;
        let engine = Self {
            shared,
            commands,
            writer: Arc::new(Mutex::new(Some(writer))),
            guard: Arc::new(guard),
        };
        Ok((engine, recovered))
    }

    /// The engine's clock itself (for components that stamp times the same way).
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.shared.clock)
    }

    /// The engine's clock.
    pub fn now(&self) -> UnixMillis {
        self.shared.clock.now()
    }

    /// Whether a journal failure stopped writes (fail-stop until restart).
    pub fn is_poisoned(&self) -> bool {
        self.shared.poisoned.load(Ordering::Acquire)
    }

    /// Writer counters so far.
    pub fn writer_counts(&self) -> WriterCounts {
        let s = &self.shared.stats;
        WriterCounts {
            journal_batches: s.journal_batches.load(Ordering::Relaxed),
            journal_records: s.journal_records.load(Ordering::Relaxed),
            fsyncs: s.fsyncs.load(Ordering::Relaxed),
            commands: s.commands.load(Ordering::Relaxed),
            abandoned_commands: s.abandoned_commands.load(Ordering::Relaxed),
        }
    }

    /// The journal breaker's state (a snapshot; takes the breaker's lock).
    pub fn journal_breaker_state(&self) -> crate::BreakerState {
        self.guard.state()
    }

    /// Answers from the published read side when that is enough: campaign unknown, not
    /// started, the user already holds the limit (`already_won`), ended, or sold out. No lock,
    /// no allocation, no I/O. `None` means the writer must decide.
    pub fn grab_fast_path(&self, campaign: CampaignId, user: &str) -> Option<GrabOutcome> {
        self.shared
            .published
            .fast_path(campaign, user, self.shared.clock.now())
    }

    /// One grab by `user` (already authenticated and validated by the caller). Answers `Won`
    /// only after the win is durable.
    ///
    /// The fast path needs no disk and is never refused by the journal breaker. Past it, an
    /// open breaker answers [`EngineError::Degraded`] at once, and a reply slower than
    /// `journal_reply_timeout` answers `Degraded` too (outcome unknown, a retry is safe: see
    /// [`crate::guard`]).
    ///
    /// The API runs [`Engine::grab_fast_path`] itself before its per-user rules and overload
    /// admission, and only then calls this, which runs it again: on purpose. Admission may
    /// sleep (a delay rule) or queue (a concurrency rule), and in a stampede the stock sells
    /// out within milliseconds, so the re-check turns what would be a writer round trip (a
    /// queue slot, a breaker permit, a share of a batch) into a lock-free `sold_out` or
    /// `already_won`; when nothing changed it costs two lock-free map lookups and a clock read.
    /// It also keeps this entry point complete for callers without a fast path of their own.
    pub async fn grab(
        &self,
        campaign: CampaignId,
        user: &UserId,
    ) -> Result<GrabOutcome, EngineError> {
        if let Some(outcome) = self.grab_fast_path(campaign, user.as_str()) {
            return Ok(outcome);
        }
        let user = user.clone();
        match self.decide(Command::Grab { campaign, user }).await? {
            Outcome::Grab(outcome) => Ok(outcome),
            other => Err(mismatched("grab", &other)),
        }
    }

    /// [`Engine::grab`] for a caller that must learn what the grab came to even when the
    /// writer is too slow to answer within `journal_reply_timeout` (a grab under an
    /// `Idempotency-Key`, whose retry must get the first decision). On that timeout the answer
    /// is [`GrabReply::Late`]: `degraded` to give now, and the writer's eventual answer. Its
    /// command is never skipped as abandoned while the [`LateGrab`] is held.
    pub async fn grab_keeping_late_outcome(
        &self,
        campaign: CampaignId,
        user: &UserId,
    ) -> GrabReply {
        if let Some(outcome) = self.grab_fast_path(campaign, user.as_str()) {
            return GrabReply::Answered(Ok(outcome));
        }
        let user = user.clone();
        let submitted = self.send(Request::decide(Command::Grab { campaign, user }));
        let (permit, answer) = match submitted {
            Ok(submitted) => submitted,
            Err(e) => return GrabReply::Answered(Err(e)),
        };
        match self.guard.await_reply_keeping_late(permit, answer).await {
            Ok(result) => GrabReply::Answered(result.and_then(|outcome| match outcome {
                Outcome::Grab(outcome) => Ok(outcome),
                other => Err(mismatched("grab", &other)),
            })),
            Err(late) => GrabReply::Late {
                answer: late.answer,
                outcome: LateGrab(late.receiver),
            },
        }
    }

    /// Creates a campaign: its view once the creation is durable, or why it was refused.
    pub async fn create_campaign(&self, spec: CampaignSpec) -> Result<Creation, EngineError> {
        let id = match self.decide(Command::CreateCampaign { spec }).await? {
            Outcome::Created(CreateOutcome::Created(id)) => id,
            Outcome::Created(CreateOutcome::Invalid(invalid)) => {
                return Ok(Creation::Invalid(invalid));
            }
            Outcome::Created(CreateOutcome::TooManyCampaigns) => {
                return Ok(Creation::TooManyCampaigns);
            }
            other => return Err(mismatched("campaign creation", &other)),
        };
        self.campaign(id)
            .map(Creation::Created)
            .ok_or_else(|| EngineError::Unavailable("created campaign not published".into()))
    }

    /// Cancels an order for `by` (`None`: the admin). Answers `Moved` only after the
    /// cancellation is durable and its item is back on the read side.
    pub async fn cancel(
        &self,
        order: OrderId,
        by: Option<&UserId>,
    ) -> Result<OrderOutcome, EngineError> {
        let by = by.cloned();
        self.decide_order(Command::Cancel { order, by }).await
    }

    /// Starts a payment of `order` for its user `by` on `channel`: `pending_payment` →
    /// `paying`, answered once durable. An order already `paying` on that channel answers
    /// `Moved` again (no new record).
    pub async fn start_payment(
        &self,
        order: OrderId,
        by: &UserId,
        channel: &ChannelName,
    ) -> Result<OrderOutcome, EngineError> {
        let by = by.clone();
        let channel = channel.clone();
        self.decide_order(Command::StartPayment { order, by, channel })
            .await
    }

    /// Starts a red-packet claim for `by` (`None`: the admin): `won` → `claiming`, answered
    /// once durable (the payout may be called only then).
    pub async fn start_claim(
        &self,
        order: OrderId,
        by: Option<UserId>,
    ) -> Result<ClaimStart, EngineError> {
        match self.decide(Command::StartClaim { order, by }).await? {
            Outcome::ClaimStarted(start) => Ok(start),
            other => Err(mismatched("claim start", &other)),
        }
    }

    /// Records a claim's payout result (`claiming` → `claimed`, or back to `won`), once
    /// durable; `false`: the order was not `claiming` any more.
    pub async fn finish_claim(
        &self,
        order: OrderId,
        result: PayoutResult,
    ) -> Result<bool, EngineError> {
        match self.decide(Command::FinishClaim { order, result }).await? {
            Outcome::ClaimFinished(recorded) => Ok(recorded),
            other => Err(mismatched("claim result", &other)),
        }
    }

    /// Records a verified channel payment of `order`; a new payment is answered once durable.
    pub async fn record_payment(
        &self,
        order: OrderId,
        payment: stampede_core::Payment,
    ) -> Result<stampede_core::PaymentOutcome, EngineError> {
        match self
            .decide(Command::RecordPayment { order, payment })
            .await?
        {
            Outcome::Payment(outcome) => Ok(outcome),
            other => Err(mismatched("payment", &other)),
        }
    }

    /// Runs an expiry pass now (the writer also runs one every [`crate::EXPIRY_TICK`]);
    /// answers how many orders expired, once they are durable.
    pub async fn expire_due(&self) -> Result<usize, EngineError> {
        self.call(Request::expire_pass()).await
    }

    /// An order by id with its payments, expired on the spot if it is past its payment
    /// deadline (passive expiry: the expiry goes through the writer and is durable before it
    /// is shown). Shows only durable state ([`Engine::read_durable`]).
    pub async fn order_now(
        &self,
        id: OrderId,
    ) -> Result<Option<(Order, Vec<PaymentEntry>)>, EngineError> {
        let overdue = self.order(id).is_some_and(|order| {
            order
                .expires_at
                .is_some_and(|deadline| deadline <= self.now())
        });
        if overdue {
            self.decide(Command::Expire { order: id }).await?;
        }
        self.read_durable(|ledger| {
            ledger
                .order(id)
                .map(|order| (order, ledger.payments_of(id)))
        })
        .await
    }

    /// Has the writer decide `command` and answers its outcome once durable: every
    /// writer-bound command goes through here.
    pub async fn decide(&self, command: Command) -> Result<Outcome, EngineError> {
        self.call(Request::decide(command)).await
    }

    /// [`Engine::decide`] for a command answered by an [`OrderOutcome`].
    pub(crate) async fn decide_order(&self, command: Command) -> Result<OrderOutcome, EngineError> {
        match self.decide(command).await? {
            Outcome::Order(outcome) => Ok(outcome),
            other => Err(mismatched("order move", &other)),
        }
    }

    /// Sends `request` to the writer and waits for the answer on `answer`. Refused at once
    /// when the journal failed earlier or the breaker is open (nothing enters the queue), and
    /// when the queue is full; past that, see [`JournalGuard::await_reply`].
    async fn call<T>(
        &self,
        request: (Request, oneshot::Receiver<Result<T, EngineError>>),
    ) -> Result<T, EngineError> {
        let (permit, answer) = self.send(request)?;
        self.guard.await_reply(permit, answer).await
    }

    /// Queues `request` (refused as [`Engine::call`] says); answers the breaker permit to
    /// record the call on and the reply's receiver.
    fn send<T>(
        &self,
        (request, answer): (Request, oneshot::Receiver<Result<T, EngineError>>),
    ) -> Result<(CallPermit, oneshot::Receiver<Result<T, EngineError>>), EngineError> {
        self.refuse_if_poisoned()?;
        let permit = self.guard.admit()?;
        // A full queue drops the permit: a failure, as the writer is not keeping up.
        self.submit(request)?;
        Ok((permit, answer))
    }

    /// A poisoned journal stays `Unavailable` (fail-stop until restart), whatever the breaker
    /// says: `degraded` would promise that a retry can succeed.
    fn refuse_if_poisoned(&self) -> Result<(), EngineError> {
        if self.is_poisoned() {
            return Err(EngineError::Unavailable(JOURNAL_FAILED_EARLIER.into()));
        }
        Ok(())
    }

    fn submit(&self, request: Request) -> Result<(), EngineError> {
        match self.commands.try_send(request) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(EngineError::Overloaded),
            Err(TrySendError::Disconnected(_)) => {
                Err(EngineError::Unavailable("the engine is shut down".into()))
            }
        }
    }

    /// A campaign's published view.
    pub fn campaign(&self, id: CampaignId) -> Option<Arc<CampaignView>> {
        self.shared.published.campaign(id)
    }

    /// Every campaign id.
    pub fn campaign_ids(&self) -> Vec<CampaignId> {
        self.shared.published.ids()
    }

    /// An order by id, as the ledger has it: possibly decided in a batch that is not durable
    /// yet (what a client is shown goes through [`Engine::read_durable`]).
    pub fn order(&self, id: OrderId) -> Option<Order> {
        self.shared.ledger.lock().order(id)
    }

    /// A page of a campaign's orders in win order (`None`: no such campaign); durable state
    /// only ([`Engine::read_durable`]).
    pub async fn winners_page(
        &self,
        campaign: CampaignId,
        start: usize,
        limit: usize,
    ) -> Result<Option<(Vec<Order>, Option<usize>)>, EngineError> {
        self.read_durable(|ledger| {
            ledger
                .campaign(campaign)
                .map(|c| c.winners_page(start, limit))
        })
        .await
    }

    /// Runs `f` over the ledger (tests and invariant checks; takes the ledger lock).
    pub fn inspect<R>(&self, f: impl FnOnce(&Ledger) -> R) -> R {
        f(&self.shared.ledger.lock())
    }

    /// Finishes queued commands and stops the writer. Later requests answer `Unavailable`.
    pub fn shutdown(&self) {
        let _ = self.commands.send(Request::Shutdown);
        if let Some(handle) = self.writer.lock().take() {
            let _ = handle.join();
        }
    }
}

/// The writer answered a command with an outcome of another kind: a bug in the writer, not
/// a client's doing. Answered `Unavailable` (and logged) rather than a panic in a handler.
pub(crate) fn mismatched(what: &str, outcome: &Outcome) -> EngineError {
    tracing::error!(
        ?outcome,
        "the writer answered a {what} with the wrong kind of outcome"
    );
    EngineError::Unavailable(format!("internal error: unexpected answer to a {what}"))
}
