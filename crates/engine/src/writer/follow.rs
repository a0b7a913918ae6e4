//! A follower's writer: the state of a shard that another node writes, kept current by
//! applying the records of the shard's log in order — the same `apply` as replay — and
//! publishing them to the read side, so a follower answers the fast path (sold out, already
//! won, not started, unknown) and durable reads from memory. It decides nothing: no command,
//! no expiry. When the node takes the shard's lease, [`Writer::lead`] turns it into the
//! shard's writer on the new log without replaying anything.

use std::sync::atomic::Ordering;

use stampede_journal::{BatchStats, JournalError, Log, OnRecord, OpenError};

use super::Writer;
use super::effects::publish;
use crate::codec;

/// The log of a writer that only follows: it holds nothing itself (the records it applies
/// come from the leader's log) and refuses every append. A follower's writer never runs a
/// writer thread, so nothing appends to it; the refusal is the last line, not the rule.
/// It holds the log position the follower's state starts at (0, or a snapshot's).
#[derive(Clone, Copy, Debug, Default)]
pub struct Following(pub u64);

impl Log for Following {
    fn append_batch(&mut self, _records: &[&[u8]]) -> Result<BatchStats, JournalError> {
        Err(JournalError::Append {
            location: "a follower's log".into(),
            source: std::io::Error::other("this node follows the shard: it appends nothing"),
        })
    }

    fn next_position(&self) -> u64 {
        self.0
    }

    fn read_from(
        &mut self,
        from: u64,
        _on_record: &mut OnRecord<'_>,
    ) -> Result<u64, OpenError<String>> {
        Ok(from)
    }
}

impl<L: Log> Writer<L> {
    /// Applies records the shard's log already holds (a follower's step): each is decoded and
    /// applied to the ledger in order, then the read side is published and durable reads
    /// waiting for them are released, as after a batch of the writer's own; `log_position` is the
    /// log's position after them (what forwarded commands wait for).
    /// Answers how many were applied.
    ///
    /// # Errors
    /// A record that does not decode or apply: the state stops at the record before it (the
    /// caller must drop this state and rebuild it from the log).
    pub fn apply_followed<'a>(
        &mut self,
        log_position: u64,
        payloads: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<usize, String> {
        let shared = &self.shared;
        let effects = &mut self.effects;
        let mut applied = 0;
        let mut failed = None;
        {
            let mut ledger = shared.ledger.lock();
            for payload in payloads {
                let record = match codec::decode(payload) {
                    Ok(record) => record,
                    Err(error) => {
                        failed = Some(format!("undecodable record: {error}"));
                        break;
                    }
                };
                if let Err(error) = ledger.apply(&record) {
                    failed = Some(error.to_string());
                    break;
                }
                effects.note(&record, &ledger);
                applied += 1;
            }
            if !effects.bounds.is_empty() {
                effects.number = Some(shared.durable.decided());
            }
        }
        publish(effects, shared);
        if let Some(number) = effects.number {
            shared.durable.announce(number);
        }
        effects.clear();
        match failed {
            None => {
                shared.followed.send_if_modified(|followed| {
                    let moved = log_position > *followed;
                    *followed = (*followed).max(log_position);
                    moved
                });
                Ok(applied)
            }
            Some(error) => {
                shared.poisoned.store(true, Ordering::Release);
                shared.durable.wake_after_failure();
                Err(error)
            }
        }
    }

    /// The same state, now written through `log` (which must hold exactly the records the
    /// state was built from): a follower becoming the shard's leader. Nothing is replayed;
    /// the deadlines the follower noted are the new writer's.
    pub fn lead<M: Log>(self, log: M) -> Writer<M> {
        Writer {
            log,
            shared: self.shared,
            rng: self.rng,
            effects: self.effects,
            expiry_backlog: false,
            metrics: self.metrics,
            snapshots: self.snapshots,
        }
    }
}

impl<L: Log> Writer<L> {
    /// Makes this writer's ledger a cluster shard's: campaigns it creates get ids that land
    /// on `shard` (see [`stampede_core::CampaignShard`]).
    pub fn set_campaign_shard(&mut self, shard: stampede_core::CampaignShard) {
        self.shared.ledger.lock().set_campaign_shard(shard);
    }
}
