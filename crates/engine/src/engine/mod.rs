//! The engine handle: opens (replays) the journal, starts the writer, answers grabs — the
//! sold-out fast path from the published read side, everything else through the writer.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::thread::JoinHandle;

use parking_lot::Mutex;
use stampede_core::{CampaignId, GrabOutcome, Ledger, Order, OrderId, UnixMillis};
use stampede_journal::Durability;

use crate::clock::Clock;
use crate::command::Request;
use crate::error::EngineError;
use crate::guard::JournalGuard;
use crate::published::CampaignView;

mod commands;
mod file_journal;
mod open;
mod queue;

pub use crate::shared::Recovered;
pub(crate) use crate::shared::Shared;

/// Most commands waiting for the writer. A full queue answers `overloaded` at once instead of
/// queueing: 65,536 is about 16 full batches, i.e. a few milliseconds of writer work, so a
/// request admitted to the queue is still answered quickly.
pub const MAX_PENDING_COMMANDS: usize = 65_536;

/// How the engine is opened. The journal's circuit breaker and reply timeout are configured
/// apart, in [`crate::JournalGuardConfig`] (given to [`Engine::open_guarded`]; [`Engine::open`]
/// uses its defaults).
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The journal's base path: its first segment (created if missing); later segments and
    /// snapshots are named after it in the same directory.
    pub journal_path: PathBuf,
    /// fsync each batch (default) or leave it to the OS.
    pub durability: Durability,
    /// Seed for order ids and red-packet draws; `None` draws one from the OS.
    pub rng_seed: Option<u64>,
    /// Records between two snapshots of the ledger (start-up reads the newest snapshot and
    /// the records after it); clamped to [`crate::MIN_SNAPSHOT_EVERY_RECORDS`]..=
    /// [`crate::MAX_SNAPSHOT_EVERY_RECORDS`], default [`crate::DEFAULT_SNAPSHOT_EVERY_RECORDS`].
    pub snapshot_every_records: u64,
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
    /// On a cluster follower, where its commands are decided ([`crate::RemoteWriter`]).
    pub(crate) remote: Option<crate::SharedRemote>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// The engine's clock itself (for components that stamp times the same way).
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.shared.clock)
    }

    /// The engine's clock.
    pub fn now(&self) -> UnixMillis {
        self.shared.clock.now()
    }

    /// The shard log's next position as this engine's state stands (records appended by its
    /// writer or applied by its follower).
    pub fn log_position(&self) -> u64 {
        *self.shared.followed.borrow()
    }

    /// On a follower, waits until this node has applied everything the shard's log held when
    /// called; at once elsewhere.
    ///
    /// # Errors
    /// `Unavailable` if the log cannot be read or the wait times out.
    pub async fn catch_up(&self) -> Result<(), EngineError> {
        match &self.remote {
            Some(remote) => remote.catch_up().await,
            None => Ok(()),
        }
    }

    /// Whether this engine decides its commands itself (a single node's, or a cluster shard's
    /// leader's) rather than handing them to the shard's leader.
    pub fn is_writer(&self) -> bool {
        self.remote.is_none()
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
    ///
    /// On a follower, a campaign it does not know whose id says it was created within
    /// [`UNKNOWN_CAMPAIGN_ASK_LEADER_WITHIN`] of now may be one the leader created a moment
    /// ago and this node has not applied yet: that grab goes to the leader (`None`) rather
    /// than being answered `campaign_not_found`. Older (and malformed) ids are answered here.
    pub fn grab_fast_path(&self, campaign: CampaignId, user: &str) -> Option<GrabOutcome> {
        let now = self.shared.clock.now();
        let outcome = self.shared.published.fast_path(campaign, user, now)?;
        if outcome == GrabOutcome::CampaignNotFound
            && self.remote.is_some()
            && created_near(campaign, now)
        {
            return None;
        }
        Some(outcome)
    }

    /// [`Engine::grab_fast_path`] for a grab under an `Idempotency-Key`: when the read side
    /// refuses in a way that could hide the key's own earlier win (`already_won`, `sold_out`,
    /// `ended`: the key may have won the user's order, or the last item, before), the
    /// ledger's keyed wins are asked, through [`Engine::read_durable`], and that win is
    /// answered `won` again. Other refusals (unknown, not started) are answered as they are.
    /// `None` means the writer must decide (and finds the key's win itself if there is one).
    pub async fn keyed_grab_fast_path(
        &self,
        campaign: CampaignId,
        user: &str,
        key: &str,
    ) -> Option<Result<GrabOutcome, EngineError>> {
        let outcome = self.grab_fast_path(campaign, user)?;
        if !matches!(
            outcome,
            GrabOutcome::AlreadyWon(_) | GrabOutcome::SoldOut | GrabOutcome::Ended
        ) {
            return Some(Ok(outcome));
        }
        let keyed = self
            .read_durable(|ledger| ledger.campaign(campaign)?.keyed_win(user, key))
            .await;
        Some(keyed.map(|won| won.map_or(outcome, GrabOutcome::Won)))
    }

    /// Runs `f` over the ledger and answers its result once everything `f` could see is
    /// durable and published. Waits at most `journal_reply_timeout` (then `Degraded`, like a
    /// write that timed out); `Unavailable` once the journal has failed.
    pub async fn read_durable<R>(&self, f: impl FnOnce(&Ledger) -> R) -> Result<R, EngineError> {
        if let Some(remote) = &self.remote {
            remote.catch_up().await?;
        }
        let shared = &self.shared;
        let (ledger, mark, poisoned) = (&shared.ledger, &shared.durable, &shared.poisoned);
        crate::durable_read::read_durable(ledger, mark, poisoned, &self.guard, f).await
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

/// How close to now a campaign id's creation time must be for a follower that does not know
/// the campaign to ask the shard's leader ([`Engine::grab_fast_path`]): 10 s either way, far
/// more than a follower trails its leader while healthy, and it covers clocks a little
/// apart. A client may forge such ids; each such grab is then one forwarded command, behind
/// the same user rules and overload admission as a grab that can win.
pub const UNKNOWN_CAMPAIGN_ASK_LEADER_WITHIN: u64 = 10_000;

/// Whether `campaign`'s id is a UUIDv7 (as the ledger mints them) whose time is within
/// [`UNKNOWN_CAMPAIGN_ASK_LEADER_WITHIN`] of `now`.
fn created_near(campaign: CampaignId, now: UnixMillis) -> bool {
    let version = (campaign.0 >> 76) & 0xf;
    let created = (campaign.0 >> 80) as u64;
    version == 7 && created.abs_diff(now.0) <= UNKNOWN_CAMPAIGN_ASK_LEADER_WITHIN
}
