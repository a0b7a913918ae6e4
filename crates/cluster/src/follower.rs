//! A follower: tails one shard's log from a known tip and hands every message to a callback
//! (the engine applies its records through the same `apply` as replay), tracking how far it
//! applied and how far the log is known to go.
//!
//! It runs as a tokio task until stopped or until the log fails it (a gap, damage, NATS
//! failing past the reader's retry budget, the callback refusing); [`Follower::stop`] hands
//! back the tip it reached, which is what a node that takes the shard's lease passes to
//! `NatsLog::begin`.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::stream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::{LogDefect, ReadError};
use crate::locate::{self, Tip};
use crate::reader::SubjectReader;
use crate::shard::ShardId;
use crate::walk::{LogMessage, Walk};

/// How far a follower got, for `/v1/admin/cluster`, lag metrics and durable reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Stream sequence of the last message applied (0: none yet) and the position after its
    /// records.
    pub applied: Tip,
    /// The highest stream sequence known on the shard's subject (from the server's pending
    /// counts; at least `applied.last_seq`).
    pub last_seq: u64,
    /// The epoch of the last writer seen (0: none yet).
    pub leader_epoch: u64,
}

/// What the follower hands each message to: `Err` stops the follower.
pub type OnMessage = Box<dyn FnMut(ShardId, &LogMessage<'_>) -> Result<(), String> + Send>;

/// A running follower of one shard.
pub struct Follower {
    shard: ShardId,
    stream: stream::Stream,
    subject: String,
    progress: watch::Receiver<Progress>,
    stop: Arc<tokio::sync::Notify>,
    task: JoinHandle<Result<Tip, ReadError>>,
}

impl Follower {
    /// Starts following `shard` (subject `subject` of `stream`) after `from`, the tip the
    /// caller's state already holds (from a snapshot, a replay, or `Tip::default()` for an
    /// empty state).
    pub fn start(
        stream: stream::Stream,
        subject: String,
        shard: ShardId,
        from: Tip,
        mut on_message: OnMessage,
    ) -> Self {
        let (sender, progress) = watch::channel(Progress {
            applied: from,
            last_seq: from.last_seq,
            leader_epoch: 0,
        });
        let stop = Arc::new(tokio::sync::Notify::new());
        let stopped = Arc::clone(&stop);
        let mut reader = SubjectReader::new(stream.clone(), subject.clone(), from.last_seq + 1);
        let task = tokio::spawn(async move {
            let mut walk = Walk {
                expected: Some(from.next_position),
            };
            let mut applied = from;
            let mut restarted = true;
            loop {
                let messages = tokio::select! {
                    () = stopped.notified() => return Ok(applied),
                    messages = reader.next_batch() => messages?,
                };
                let mut last_seq = sender.borrow().last_seq.max(applied.last_seq);
                let mut leader_epoch = sender.borrow().leader_epoch;
                for message in &messages {
                    let decoded = match walk.decode(message) {
                        Ok(decoded) => decoded,
                        // A message missing between two fetches (a consumer lost on a dying
                        // server can skip what it had in flight): read again from after the
                        // last applied message, once; a gap a fresh reader sees is real.
                        Err(ReadError::Defect(LogDefect::Gap { .. })) if !restarted => {
                            reader.restart_at(applied.last_seq + 1);
                            walk.expected = Some(applied.next_position);
                            restarted = true;
                            break;
                        }
                        Err(error) => return Err(error),
                    };
                    restarted = false;
                    on_message(shard, &decoded).map_err(|message| ReadError::Apply {
                        position: decoded.meta.first_position,
                        message,
                    })?;
                    applied = Tip {
                        last_seq: decoded.sequence,
                        next_position: decoded.meta.end_position(),
                    };
                    leader_epoch = leader_epoch.max(decoded.meta.epoch);
                    let pending = message.info().map(|info| info.pending).unwrap_or(0);
                    // Pending counts messages on this subject still to come; with none the
                    // last known sequence is this one.
                    last_seq = last_seq.max(decoded.sequence);
                    if pending > 0 {
                        last_seq = last_seq.max(decoded.sequence + 1);
                    }
                }
                sender.send_replace(Progress {
                    applied,
                    last_seq: last_seq.max(applied.last_seq),
                    leader_epoch,
                });
            }
        });
        Self {
            shard,
            stream,
            subject,
            progress,
            stop,
            task,
        }
    }

    /// The shard followed.
    pub fn shard(&self) -> ShardId {
        self.shard
    }

    /// How far it got, as a watch that moves with every message applied.
    pub fn watch(&self) -> watch::Receiver<Progress> {
        self.progress.clone()
    }

    /// How far it got.
    pub fn progress(&self) -> Progress {
        *self.progress.borrow()
    }

    /// Waits until every message the log held when this was called is applied (the
    /// "durable read" wait), or `timeout` passes (answers `false`; the caller answers 503).
    ///
    /// # Errors
    /// [`ReadError`] if the log's tip cannot be read.
    pub async fn catch_up(&self, timeout: Duration) -> Result<bool, ReadError> {
        let tip = locate::tip(&self.stream, &self.subject).await?;
        let mut progress = self.progress.clone();
        let reached = tokio::time::timeout(
            timeout,
            progress.wait_for(|progress| progress.applied.last_seq >= tip.last_seq),
        )
        .await;
        Ok(matches!(reached, Ok(Ok(_))))
    }

    /// Whether the follower stopped by itself (an error); [`Follower::stop`] tells which.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops following and answers the tip reached: everything up to it was handed to the
    /// callback.
    ///
    /// # Errors
    /// The [`ReadError`] that stopped the follower earlier, if one did.
    pub async fn stop(self) -> Result<Tip, ReadError> {
        self.stop.notify_one();
        match self.task.await {
            Ok(result) => result,
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }
}
