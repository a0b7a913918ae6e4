//! [`NatsLog`]: one shard's log on JetStream behind the journal's [`Log`] trait, for the
//! engine's synchronous writer thread.
//!
//! The writer thread is a plain thread, so the log holds a handle to the process's tokio
//! runtime and blocks on each NATS call (`Handle::block_on`). The connection's own tasks keep
//! running on that runtime's workers between appends (pings, reconnects, other shards'
//! followers), which a small runtime owned by the log would only drive while an append
//! blocks on it. The catch: the methods must not be called from a runtime thread (tokio
//! panics, naming the misuse); the writer's thread and `spawn_blocking` are fine.
//!
//! # Fencing
//!
//! [`NatsLog::begin`] publishes the epoch message, fenced on the tip the caller's state was
//! built from; once it is stored, every writer of an earlier epoch is refused on its next
//! publish. Each append is one message (or several, for a batch over the message size, each
//! fenced on the one before). After a refusal or an unsettled publish the log is poisoned:
//! the writer must step down, and its state, which may hold decisions the log does not, be
//! rebuilt from the log.

use std::io;

use async_nats::jetstream::stream;
use bytes::Bytes;
use stampede_journal::{
    BatchStats, JournalError, Log, MAX_BATCH_BYTES, MAX_BATCH_RECORDS, MAX_RECORD_BYTES, OnRecord,
    OpenError, PoisonCause,
};
use tokio::runtime::Handle;

use crate::append::{Published, publish_fenced};
use crate::codec::{self, MessageKind, MessageMeta};
use crate::connection::Connection;
use crate::error::{NatsError, ReadError};
use crate::limits::{HEADER_ALLOWANCE_BYTES, MAX_MESSAGE_BYTES, MAX_PARTS_PER_BATCH};
use crate::locate::{self, Tip};
use crate::names::NodeId;
use crate::read::read_records;
use crate::shard::ShardId;

/// Why an append (or the epoch message) was not stored.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Another writer appended after the last message this writer knows: a newer leader (or,
    /// at [`NatsLog::begin`], a log that moved on past the caller's state). Nothing of this
    /// batch after `parts_stored` parts is stored; the writer must step down.
    #[error(
        "fenced on {subject}: another writer appended after stream sequence {expected} \
         (at {intruder:?}); {parts_stored} part(s) of this batch were stored before"
    )]
    Fenced {
        /// The shard's subject.
        subject: String,
        /// The last sequence this writer knew.
        expected: u64,
        /// The other writer's message, if it could be read.
        intruder: Option<u64>,
        /// Parts of a split batch stored before the refusal (0 for a one-message batch).
        parts_stored: usize,
    },
    /// No decision within the retry budget: the message may or may not be stored.
    #[error("append unsettled ({parts_stored} part(s) stored before): {reason}")]
    Unsettled {
        /// Parts stored before the unsettled one.
        parts_stored: usize,
        /// The last failure.
        reason: String,
    },
    /// An earlier append failed; this log accepts nothing more.
    #[error("log poisoned by an earlier failure: {0}")]
    Poisoned(String),
    /// The batch breaks a journal limit; nothing was published and the log stays usable.
    #[error(transparent)]
    Limit(JournalError),
}

impl AppendError {
    /// Whether this is [`AppendError::Fenced`].
    pub fn is_fenced(&self) -> bool {
        matches!(self, Self::Fenced { .. })
    }
}

/// A fenced append refused through the [`Log`] trait arrives as [`JournalError::Append`]
/// whose I/O error wraps this; [`fenced_in`] finds it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FencedAppend(pub String);

/// The [`FencedAppend`] inside `error`, if the append was fenced (another writer appended;
/// the caller must step down rather than retry).
pub fn fenced_in(error: &JournalError) -> Option<&FencedAppend> {
    match error {
        JournalError::Append { source, .. } => source.get_ref()?.downcast_ref(),
        _ => None,
    }
}

/// One shard's log, written by the holder of one epoch.
pub struct NatsLog {
    runtime: Handle,
    connection: Connection,
    stream: stream::Stream,
    shard: ShardId,
    subject: String,
    writer: NodeId,
    epoch: u64,
    tip: Tip,
    poisoned: Option<String>,
    /// Where [`Log::store_snapshot`] keeps the writer's snapshots (none: it keeps none).
    snapshots: Option<crate::snapshot::SnapshotStore>,
    /// Most framed bytes of records per message.
    message_capacity: usize,
    buffer: Vec<u8>,
}

impl NatsLog {
    /// Becomes `shard`'s writer in `epoch`: publishes the epoch message fenced on `tip`, the
    /// log as the caller's state was built from it (replayed or followed up to there).
    ///
    /// # Errors
    /// [`AppendError::Fenced`] if the log holds messages after `tip` (catch up and try
    /// again, if the lease is still held); [`AppendError::Unsettled`] if NATS gave no answer.
    #[allow(clippy::too_many_arguments)] // each is one fact of the writer's place
    pub async fn begin(
        runtime: Handle,
        connection: Connection,
        stream: stream::Stream,
        shard: ShardId,
        writer: NodeId,
        epoch: u64,
        tip: Tip,
    ) -> Result<Self, AppendError> {
        let message_capacity =
            MAX_MESSAGE_BYTES.min(connection.max_payload() - HEADER_ALLOWANCE_BYTES);
        let subject = connection.names().log_subject(shard);
        let mut log = Self {
            runtime,
            connection,
            stream,
            shard,
            subject,
            writer,
            epoch,
            tip,
            poisoned: None,
            snapshots: None,
            message_capacity,
            buffer: Vec::new(),
        };
        log.publish(MessageKind::Epoch, 0..0, &[], 0).await?;
        Ok(log)
    }

    /// Keeps the writer's snapshots in `store` ([`Log::store_snapshot`]).
    pub fn with_snapshots(mut self, store: crate::snapshot::SnapshotStore) -> Self {
        self.snapshots = Some(store);
        self
    }

    /// The shard this log writes.
    pub fn shard(&self) -> ShardId {
        self.shard
    }

    /// This writer's epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The tip as this writer knows it: its last stored message and the next position.
    pub fn tip(&self) -> Tip {
        self.tip
    }

    /// Appends `records` as one batch (one message, or consecutive fenced messages for a
    /// batch over the message size) and returns once JetStream stored all of it on a quorum.
    ///
    /// # Errors
    /// [`AppendError`]; after `Fenced` or `Unsettled` the log is poisoned.
    pub async fn append(&mut self, records: &[&[u8]]) -> Result<BatchStats, AppendError> {
        if let Some(why) = &self.poisoned {
            return Err(AppendError::Poisoned(why.clone()));
        }
        check_limits(records).map_err(AppendError::Limit)?;
        let first_position = self.tip.next_position;
        let parts = codec::split(records, self.message_capacity);
        assert!(
            parts.len() <= MAX_PARTS_PER_BATCH,
            "limits.rs bounds the parts of a batch"
        );
        for (stored, part) in parts.iter().enumerate() {
            self.publish(MessageKind::Records, part.clone(), records, stored)
                .await?;
        }
        Ok(BatchStats {
            first_position,
            records: records.len(),
            bytes: codec::framed_bytes(records),
            synced: !records.is_empty(),
        })
    }

    /// Publishes one message (`records[part]`, or an epoch message) fenced on the tip, and
    /// moves the tip on; poisons the log on failure.
    async fn publish(
        &mut self,
        kind: MessageKind,
        part: std::ops::Range<usize>,
        records: &[&[u8]],
        parts_stored: usize,
    ) -> Result<(), AppendError> {
        let part = &records[part];
        let meta = MessageMeta {
            kind,
            first_position: self.tip.next_position,
            records: u32::try_from(part.len()).expect("MAX_BATCH_RECORDS fits in u32"),
            epoch: self.epoch,
            writer: self.writer.to_string(),
        };
        self.buffer.clear();
        codec::encode_records(&mut self.buffer, meta.first_position, part);
        let payload = Bytes::copy_from_slice(&self.buffer);
        let jetstream = self.connection.jetstream();
        let outcome = publish_fenced(
            jetstream,
            &self.stream,
            &self.subject,
            self.tip.last_seq,
            &meta,
            payload,
        )
        .await;
        let error = match outcome {
            Ok(Published::Stored(sequence)) => {
                assert!(sequence > self.tip.last_seq, "stream sequences only grow");
                self.tip = Tip {
                    last_seq: sequence,
                    next_position: meta.end_position(),
                };
                return Ok(());
            }
            Ok(Published::Fenced { expected, intruder }) => {
                // A batch refused because a later writer appended: this writer was deposed.
                // (An epoch message refused is a state behind the log, caught up and tried
                // again by the node: not counted.)
                if kind == MessageKind::Records {
                    metrics::counter!("stampede_cluster_fenced_total").increment(1);
                }
                AppendError::Fenced {
                    subject: self.subject.clone(),
                    expected,
                    intruder,
                    parts_stored,
                }
            }
            Err(unsettled) => AppendError::Unsettled {
                parts_stored,
                reason: unsettled.to_string(),
            },
        };
        tracing::warn!(shard = %self.shard, epoch = self.epoch, %error, "shard log append failed; this writer must step down");
        self.poisoned = Some(error.to_string());
        Err(error)
    }

    /// Reads every record at `from` or later, as the log holds them now.
    ///
    /// # Errors
    /// [`ReadError`].
    pub async fn read(&self, from: u64, on_record: &mut OnRecord<'_>) -> Result<u64, ReadError> {
        read_records(&self.stream, &self.subject, from, on_record).await
    }
}

/// The journal's limits, so a batch either journal takes the other takes too.
fn check_limits(records: &[&[u8]]) -> Result<(), JournalError> {
    if records.len() > MAX_BATCH_RECORDS {
        return Err(JournalError::TooManyRecords {
            records: records.len(),
        });
    }
    if let Some((index, record)) = records
        .iter()
        .enumerate()
        .find(|(_, record)| record.len() > MAX_RECORD_BYTES)
    {
        return Err(JournalError::RecordTooLarge {
            index,
            bytes: record.len(),
        });
    }
    let bytes = codec::framed_bytes(records);
    if bytes > MAX_BATCH_BYTES {
        return Err(JournalError::BatchTooLarge { bytes });
    }
    Ok(())
}

impl Log for NatsLog {
    /// [`NatsLog::append`], blocking. A fenced append is [`JournalError::Append`] wrapping a
    /// [`FencedAppend`] ([`fenced_in`] tells); an unsettled one is `Append` too; after either
    /// the log answers [`JournalError::Poisoned`].
    fn append_batch(&mut self, records: &[&[u8]]) -> Result<BatchStats, JournalError> {
        let runtime = self.runtime.clone();
        runtime.block_on(self.append(records)).map_err(|error| {
            let location = format!("NATS subject {}", self.subject);
            match error {
                AppendError::Limit(limit) => limit,
                AppendError::Poisoned(failure) => JournalError::Poisoned {
                    cause: PoisonCause::Append,
                    failure,
                },
                fenced @ AppendError::Fenced { .. } => JournalError::Append {
                    location,
                    source: io::Error::other(FencedAppend(fenced.to_string())),
                },
                unsettled @ AppendError::Unsettled { .. } => JournalError::Append {
                    location,
                    source: io::Error::new(io::ErrorKind::TimedOut, unsettled.to_string()),
                },
            }
        })
    }

    fn next_position(&self) -> u64 {
        self.tip.next_position
    }

    /// Hands the snapshot, with the tip it covers (`position` is the tip's: the writer takes
    /// it between batches), to a task on the runtime that stores it in the object store and
    /// then prunes: the writer does not wait for the upload. Answers `true` once handed over;
    /// a failed upload is logged (the log is untouched, the next snapshot comes an interval
    /// later).
    fn store_snapshot(&mut self, position: u64, snapshot: &[u8]) -> io::Result<bool> {
        let Some(store) = self.snapshots.clone() else {
            return Ok(false);
        };
        if position != self.tip.next_position {
            return Err(io::Error::other(format!(
                "a snapshot at position {position} is not at the log's tip ({})",
                self.tip.next_position
            )));
        }
        let (shard, tip, state) = (self.shard, self.tip, snapshot.to_vec());
        self.runtime.spawn(async move {
            let stored = match store.put(shard, tip, &state).await {
                Ok(()) => store.prune(shard).await.map(drop),
                Err(error) => Err(error),
            };
            match stored {
                Ok(()) => {
                    metrics::counter!("stampede_cluster_snapshots_stored_total").increment(1);
                    tracing::info!(%shard, last_seq = tip.last_seq, bytes = state.len(), "shard snapshot stored");
                }
                Err(error) => tracing::warn!(%shard, %error, "shard snapshot not stored; the log is intact"),
            }
        });
        Ok(true)
    }

    /// Reads the shard's log from the server (not this writer's cache), blocking.
    fn read_from(
        &mut self,
        from: u64,
        on_record: &mut OnRecord<'_>,
    ) -> Result<u64, OpenError<String>> {
        let runtime = self.runtime.clone();
        runtime
            .block_on(self.read(from, on_record))
            .map_err(|error| match error {
                ReadError::Apply { position, message } => OpenError::Apply {
                    sequence: position,
                    source: message,
                },
                other => OpenError::Io(io::Error::other(other)),
            })
    }
}

/// The tip of `shard`'s log as the server has it now.
///
/// # Errors
/// [`ReadError`] if NATS fails.
pub async fn current_tip(
    stream: &stream::Stream,
    connection: &Connection,
    shard: ShardId,
) -> Result<Tip, ReadError> {
    locate::tip(stream, &connection.names().log_subject(shard)).await
}

impl From<NatsError> for AppendError {
    fn from(error: NatsError) -> Self {
        Self::Unsettled {
            parts_stored: 0,
            reason: error.to_string(),
        }
    }
}
