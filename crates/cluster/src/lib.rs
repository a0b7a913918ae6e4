//! Stampede's cluster foundation on NATS JetStream: the shard map, one fenced replicated log
//! per shard behind the journal's `Log` trait, leader leases, followers and snapshots.
//!
//! - [`shard_of`]: which shard a campaign belongs to (a stable hash; never changes).
//! - [`Names`]: every stream, subject, bucket and key, prefixed by the cluster's name.
//! - [`NatsLog`]: a shard's log for its leader's writer: each batch one message, fenced
//!   with `Nats-Expected-Last-Subject-Sequence`; a deposed writer's append is refused
//!   ([`AppendError::Fenced`]). Layout of messages and positions: `codec.rs`.
//! - [`LeaseManager`]: takes and renews shard leases in a key-value bucket, spreading them
//!   over the live nodes, and reports [`LeaseEvent`]s.
//! - [`Follower`]: tails a shard's log and hands every message to a callback.
//! - [`SnapshotStore`]: a shard's state with the tip it covers, in the object store; trims
//!   the log below the oldest kept.
//!
//! # How a node uses it
//!
//! 1. Start: for each shard, [`SnapshotStore::latest`] (or an empty state and
//!    `Tip::default()`), then [`Follower::start`] from that tip, applying each message's
//!    records through the same `apply` as replay.
//! 2. [`LeaseEvent::Acquired`]`(shard, epoch)`: [`Follower::stop`] answers the tip the
//!    state holds; [`NatsLog::begin`] with it and the epoch publishes the epoch message,
//!    which fences every earlier writer (`Fenced` there means the state is behind: follow
//!    on and try again while the lease holds); then the writer runs on the `NatsLog`.
//! 3. [`LeaseEvent::Lost`], or an append that is fenced ([`fenced_in`]) or unsettled: stop
//!    the writer, drop the shard's state (it may hold decisions the log does not) and
//!    rebuild it as in 1.
//! 4. The leader stores a snapshot now and then ([`SnapshotStore::put`] with
//!    [`NatsLog::tip`] at a batch boundary), then [`SnapshotStore::prune`].

mod append;
mod codec;
mod connection;
mod error;
mod follower;
mod lease;
pub mod limits;
mod locate;
mod log;
mod names;
mod read;
mod reader;
mod shard;
mod snapshot;
mod txn_claims;
mod walk;

pub use codec::{MessageKind, MessageMeta};
pub use connection::{Connection, Credentials, NatsConfig};
pub use error::{LogDefect, NatsError, ReadError};
pub use follower::{Follower, OnMessage, Progress};
pub use lease::{ClusterView, LeaseConfig, LeaseEvent, LeaseManager, Plan, Rules, View, rank};
pub use locate::{Tip, tip};
pub use log::{AppendError, FencedAppend, NatsLog, current_tip, fenced_in};
pub use names::{ClusterName, MAX_NAME_CHARS, NameError, Names, NodeId};
pub use read::read_records;
pub use shard::{ShardCount, ShardCountError, ShardId, shard_of};
pub use snapshot::{Pruned, Snapshot, SnapshotError, SnapshotStore};
pub use txn_claims::{TxnClaim, TxnClaims};
pub use walk::LogMessage;
