//! The async shell around the pure core.
//!
//! One writer thread owns the [`stampede_core::Ledger`] and the journal: it drains a bounded
//! queue of commands in batches, decides them in arrival order, makes each batch durable with
//! one fsync (group commit), publishes the result to a lock-free read side, and replies.
//! Handlers answer the sold-out path from that read side without touching the writer.
//!
//! The engine knows nothing of payment channels or payout providers (the money crate does):
//! it decides and journals what they report, and hands out what is due to them.

mod clock;
mod codec;
pub mod command;
mod deadlines;
mod durable_read;
mod engine;
mod error;
pub mod guard;
mod late_grab;
mod payments;
mod published;
mod read_only;
mod remote;
mod shadow;
mod shared;
mod writer;

pub use clock::{Clock, ManualClock, SystemClock, stopwatch};
pub use command::{OutcomeReceiver, Request};
pub use deadlines::EXPIRY_TICK;
pub use engine::{
    Creation, Engine, EngineConfig, MAX_PENDING_COMMANDS, Recovered,
    UNKNOWN_CAMPAIGN_ASK_LEADER_WITHIN, WriterCounts,
};
pub use error::{EngineError, OpenError};
pub use guard::{
    DEFAULT_JOURNAL_REPLY_TIMEOUT, JournalGuard, JournalGuardConfig, JournalGuardConfigError,
};
pub use late_grab::{GrabReply, LateGrab};
pub use published::{CampaignView, Published};
pub use read_only::{ReplayInfo, apply_record, replay_read_only};
pub use remote::{RemoteDecision, RemoteFuture, RemoteWriter, SharedRemote};
pub use shadow::{MAX_SHADOW_CAMPAIGNS, MAX_SHADOW_ORDERS, ShadowFull, ShadowStatus, Shadows};
pub use stampede_admission::breaker::{BreakerConfig, BreakerState};
pub use stampede_journal::Durability;
pub use writer::{
    DEFAULT_SNAPSHOT_EVERY_RECORDS, Following, MAX_BATCH_COMMANDS, MAX_EXPIRIES_PER_BATCH,
    MAX_SNAPSHOT_EVERY_RECORDS, MIN_SNAPSHOT_EVERY_RECORDS, Stepped, Writer,
};
