//! Opening the engine on the file journal: the newest snapshot that restores, then the
//! records after it ([`stampede_journal::SegmentedJournal`]); an older snapshot if the newest
//! cannot be read, restored or continued; the whole history if none can. Start-up reads one
//! snapshot and at most about `snapshot_every_records` records, however long the history.

use std::sync::Arc;

use stampede_core::Ledger;
use stampede_journal::{SegmentOptions, SegmentedJournal, SegmentedRecovery};

use super::EngineConfig;
use crate::clock::{Clock, stopwatch};
use crate::codec;
use crate::error::OpenError;
use crate::shared::Recovered;
use crate::writer::Writer;

/// Opens the file journal of `config` and returns the writer on it, its snapshots scheduled.
///
/// # Errors
/// [`OpenError`] if the journal cannot be read, no snapshot and no history rebuilds the
/// ledger, or a record after the snapshot does not apply.
pub(crate) fn open_writer(
    config: &EngineConfig,
    clock: Arc<dyn Clock>,
) -> Result<(Writer<SegmentedJournal>, Recovered), OpenError> {
    let started = stopwatch();
    let base = config.journal_path.as_path();
    let io_error = |source| OpenError::Io {
        path: base.display().to_string(),
        source,
    };
    let positions = SegmentedJournal::snapshot_positions(base).map_err(io_error)?;
    let mut opened = None;
    for position in positions {
        let restored = SegmentedJournal::read_snapshot(base, position)
            .map_err(|e| e.to_string())
            .and_then(|bytes| Ledger::restore(&bytes).map_err(|e| e.to_string()));
        let ledger = match restored {
            Ok(ledger) => ledger,
            Err(error) => {
                tracing::warn!(position, %error, "snapshot unusable; trying an older one");
                continue;
            }
        };
        match replay(config, ledger, position) {
            Ok(done) => {
                opened = Some(done);
                break;
            }
            Err(stampede_journal::OpenError::Layout(why)) => {
                tracing::warn!(position, %why, "snapshot cannot be continued; trying an older one");
            }
            Err(other) => return Err(codec::recovery_error(other)),
        }
    }
    let (journal, ledger, recovery) = match opened {
        Some(done) => done,
        None => {
            let (journal, ledger, recovery) =
                replay(config, Ledger::new(), 0).map_err(codec::recovery_error)?;
            // Rebuilt from nothing: every invariant checked, as replay always did. (A
            // restored snapshot was checked whole, and every record after it by `apply`.)
            ledger.assert_invariants();
            (journal, ledger, recovery)
        }
    };
    if recovery.from > 0 {
        tracing::info!(
            snapshot = recovery.from,
            replayed = recovery.end - recovery.from,
            "journal: started from a snapshot"
        );
    }
    let recovered = Recovered {
        records: recovery.end - recovery.from,
        truncated_tail_bytes: recovery.truncated_tail_bytes,
        campaigns: ledger.campaigns().count(),
        orders: ledger.order_count(),
        replay_millis: started.elapsed().as_millis(),
    };
    let mut writer = Writer::new(journal, ledger, clock, config.rng_seed);
    writer.schedule_snapshots(config.snapshot_every_records, recovery.from);
    Ok((writer, recovered))
}

/// Opens the journal replaying every record from `from` on into `ledger`.
fn replay(
    config: &EngineConfig,
    mut ledger: Ledger,
    from: u64,
) -> Result<(SegmentedJournal, Ledger, SegmentedRecovery), stampede_journal::OpenError<String>> {
    let (journal, recovery) = SegmentedJournal::open(
        &config.journal_path,
        config.durability,
        SegmentOptions::default(),
        from,
        |_, payload| codec::apply_payload(&mut ledger, payload),
    )?;
    Ok((journal, ledger, recovery))
}
