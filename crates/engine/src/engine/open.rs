//! Opening the engine: replay the journal (its newest snapshot and the records after it), start the writer thread, guard the journal; on the
//! journal file of a config, on any storage (tests inject a faulty one), or around a writer
//! already opened on any log.

use std::sync::Arc;
use std::sync::mpsc::sync_channel;

use parking_lot::Mutex;
use stampede_journal::{Durability, Log, Storage};

use super::{Engine, EngineConfig, MAX_PENDING_COMMANDS, Recovered};
use crate::clock::Clock;
use crate::error::OpenError;
use crate::guard::JournalGuard;
use crate::writer::{self, Writer};

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
        let (writer, recovered) = super::file_journal::open_writer(config, clock)?;
        Ok((Self::start(writer, guard)?, recovered))
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
        Ok((Self::start(writer, guard)?, recovered))
    }

    /// Runs `writer` — opened on any [`Log`]: the file journal here, a shard's replicated log
    /// in a cluster ([`Writer::replay`]) — on its own thread, with `guard` around its journal.
    ///
    /// # Errors
    /// [`OpenError::Io`] if the writer thread cannot be started.
    pub fn start<L: Log>(writer: Writer<L>, guard: JournalGuard) -> Result<Self, OpenError> {
        let shared = Arc::clone(writer.shared());
        let (commands, queue) = sync_channel(MAX_PENDING_COMMANDS);
        let writer = std::thread::Builder::new()
            .name("stampede-writer".into())
            .spawn(move || writer::run(writer, queue))
            .map_err(|source| OpenError::Io {
                path: "writer thread".into(),
                source,
            })?;
        Ok(Self {
            shared,
            commands,
            writer: Arc::new(Mutex::new(Some(writer))),
            guard: Arc::new(guard),
            remote: None,
        })
    }
}

impl Engine {
    /// A handle on `writer`'s state with no writer thread: a follower's engine. It answers
    /// everything read from the published side and the ledger (the fast path, campaigns,
    /// orders, durable reads) as `writer` applies the leader's records; every command
    /// goes to `remote`, the shard's leader (with none, every command answers
    /// `Unavailable`). When the node leads the shard, [`Engine::start`] on
    /// [`Writer::lead`]'s writer gives the writing engine over the same state.
    pub fn follower<L: Log>(
        writer: &Writer<L>,
        guard: JournalGuard,
        remote: Option<crate::SharedRemote>,
    ) -> Self {
        let shared = Arc::clone(writer.shared());
        // No receiver: every command is refused as from a stopped engine.
        let (commands, _) = sync_channel(0);
        Self {
            shared,
            commands,
            writer: Arc::new(Mutex::new(None)),
            guard: Arc::new(guard),
            remote,
        }
    }
}
