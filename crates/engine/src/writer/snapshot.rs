//! The writer's snapshots: every `snapshot_every_records` records, between two batches, the
//! ledger is encoded ([`stampede_core::Ledger::snapshot`]) and handed to the log
//! ([`Log::store_snapshot`]), which keeps it and drops what it no longer needs. The batch
//! path is untouched: the check after a step is one comparison.
//!
//! Taking a snapshot holds the writer (and the ledger lock, while encoding) for as long as
//! encoding and the file's write and fsync take: ~0.2 s encoding at 1,000,000 orders (see
//! BENCHMARKS.md). A failed snapshot is logged and tried again an interval later; the
//! journal is untouched by it.

use stampede_journal::Log;

use super::Writer;
use crate::clock::stopwatch;

/// Fewest records between two snapshots: fewer would spend the writer's time encoding the
/// whole ledger for little start-up gained.
pub const MIN_SNAPSHOT_EVERY_RECORDS: u64 = 1_000;
/// Most records between two snapshots: start-up replays at most this many records after the
/// newest snapshot (~4–5 s a million); 100 million would be minutes.
pub const MAX_SNAPSHOT_EVERY_RECORDS: u64 = 100_000_000;
/// Records between two snapshots unless configured: a start-up replays at most about a
/// million records (a few seconds) after loading the newest snapshot, and a stampede of a
/// million wins takes one snapshot.
pub const DEFAULT_SNAPSHOT_EVERY_RECORDS: u64 = 1_000_000;

/// When the writer takes its next snapshot.
#[derive(Clone, Copy, Debug)]
pub(super) struct SnapshotSchedule {
    every_records: u64,
    next_at: u64,
}

impl<L: Log> Writer<L> {
    /// Takes a snapshot every `every_records` records (clamped to
    /// [`MIN_SNAPSHOT_EVERY_RECORDS`]..=[`MAX_SNAPSHOT_EVERY_RECORDS`]), the first once the
    /// log reaches `last_snapshot + every_records` (`last_snapshot`: the position of the
    /// snapshot the writer was opened from, or 0).
    pub fn schedule_snapshots(&mut self, every_records: u64, last_snapshot: u64) {
        let every_records =
            every_records.clamp(MIN_SNAPSHOT_EVERY_RECORDS, MAX_SNAPSHOT_EVERY_RECORDS);
        self.snapshots = Some(SnapshotSchedule {
            every_records,
            next_at: last_snapshot.saturating_add(every_records),
        });
    }

    /// Takes a snapshot if one is due (between batches; never on a poisoned writer).
    pub(super) fn snapshot_if_due(&mut self) {
        let poisoned = self.is_poisoned();
        let Some(schedule) = &mut self.snapshots else {
            return;
        };
        let position = self.log.next_position();
        if position < schedule.next_at || poisoned {
            return;
        }
        schedule.next_at = position.saturating_add(schedule.every_records);
        let started = stopwatch();
        let bytes = self.shared.ledger.lock().snapshot();
        let encoded = started.elapsed();
        match self.log.store_snapshot(position, &bytes) {
            Ok(stored) => tracing::info!(
                position,
                bytes = bytes.len(),
                encode_ms = encoded.as_millis() as u64,
                total_ms = started.elapsed().as_millis() as u64,
                stored,
                "snapshot taken"
            ),
            Err(error) => tracing::warn!(
                position,
                %error,
                "snapshot failed; the journal is intact, the next one is due an interval later"
            ),
        }
        metrics::histogram!("stampede_snapshot_seconds").record(started.elapsed().as_secs_f64());
    }
}
