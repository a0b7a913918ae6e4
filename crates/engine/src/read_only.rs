//! A ledger rebuilt from a journal without touching the journal: for tools (`stampede
//! reconcile`) that run beside a server that may be appending to it. The same decoding and
//! `Ledger::apply` as [`crate::Engine::open`]; a torn tail is ignored and reported, never
//! truncated, and nothing is written.

use std::path::Path;

use stampede_core::Ledger;
use stampede_journal::SegmentedJournal;
#[cfg(test)]
use stampede_journal::Storage;

use crate::clock::stopwatch;
use crate::codec;
use crate::error::OpenError;

/// What a read-only replay found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayInfo {
    /// Records replayed.
    pub records: u64,
    /// Bytes of valid records replayed.
    pub valid_bytes: u64,
    /// Bytes after them that were ignored (a torn last batch, or one a running server was
    /// writing when the replay started); 0 when the journal ended cleanly.
    pub ignored_tail_bytes: u64,
    /// Why the tail was ignored, when it was.
    pub tail_defect: Option<String>,
    /// Campaigns rebuilt.
    pub campaigns: usize,
    /// Orders rebuilt.
    pub orders: usize,
    /// Replay time in milliseconds.
    pub replay_millis: u128,
}

impl ReplayInfo {
    /// What a read-only replay that began at `started` came to, and the ledger it built.
    fn of(
        replay: stampede_journal::ReadOnlyReplay,
        ledger: &Ledger,
        started: std::time::Instant,
    ) -> Self {
        Self {
            records: replay.records,
            valid_bytes: replay.bytes,
            ignored_tail_bytes: replay.ignored_tail_bytes,
            tail_defect: replay.tail_defect.map(|d| d.to_string()),
            campaigns: ledger.campaigns().count(),
            orders: ledger.order_count(),
            replay_millis: started.elapsed().as_millis(),
        }
    }
}

/// Rebuilds the ledger from the journal file at `journal_path`, reading only: the file is
/// opened read-only and never created, written, truncated or synced.
///
/// The ledger's full invariant check (`Ledger::assert_invariants`, which panics) is not run:
/// the caller is expected to reconcile the ledger, which reports the same facts instead.
///
/// # Errors
/// [`OpenError::Io`] if the file cannot be opened or read; [`OpenError::Recovery`] if the
/// journal is corrupt in the middle, forked by two writers, or holds a record the ledger refuses.
pub fn replay_read_only(journal_path: &Path) -> Result<(Ledger, ReplayInfo), OpenError> {
    let started = stopwatch();
    let io_error = |source| OpenError::Io {
        path: journal_path.display().to_string(),
        source,
    };
    let positions = SegmentedJournal::snapshot_positions(journal_path).map_err(io_error)?;
    for position in positions.into_iter().chain([0]) {
        let restored = if position == 0 {
            Ok(Ledger::new())
        } else {
            SegmentedJournal::read_snapshot(journal_path, position)
                .map_err(|e| e.to_string())
                .and_then(|bytes| Ledger::restore(&bytes).map_err(|e| e.to_string()))
        };
        let mut ledger = match restored {
            Ok(ledger) => ledger,
            Err(error) => {
                tracing::warn!(position, %error, "snapshot unusable; trying an older one");
                continue;
            }
        };
        let replay = SegmentedJournal::replay_read_only(journal_path, position, |_, payload| {
            codec::apply_payload(&mut ledger, payload)
        });
        let replay = match replay {
            Ok(replay) => replay,
            Err(stampede_journal::OpenError::Layout(why)) if position > 0 => {
                tracing::warn!(position, %why, "snapshot cannot be continued; trying an older one");
                continue;
            }
            Err(stampede_journal::OpenError::Io(source)) => return Err(io_error(source)),
            Err(other) => return Err(codec::recovery_error(other)),
        };
        let info = ReplayInfo::of(replay, &ledger, started);
        return Ok((ledger, info));
    }
    unreachable!("the full replay (position 0) answers or returns an error")
}

/// Applies one journaled record (its bytes, as a log holds them) to `ledger`, as replay does:
/// for a ledger rebuilt read-only from a log other than a journal file (a cluster shard's, on
/// NATS), nothing written.
///
/// # Errors
/// The record does not decode, or the ledger refuses it.
pub fn apply_record(ledger: &mut Ledger, payload: &[u8]) -> Result<(), String> {
    codec::apply_payload(ledger, payload)
}

/// Why a read-only replay of some storage failed.
#[cfg(test)]
#[derive(Debug)]
enum ReadOnlyError {
    Io(#[allow(dead_code)] std::io::Error),
    Open(OpenError),
}

/// [`replay_read_only`] over any storage (which is only read).
#[cfg(test)]
fn replay_storage_read_only<S: Storage>(
    storage: &mut S,
) -> Result<(Ledger, ReplayInfo), ReadOnlyError> {
    let started = stopwatch();
    let mut ledger = Ledger::new();
    let replay = stampede_journal::replay_read_only(storage, |_, payload| {
        codec::apply_payload(&mut ledger, payload)
    })
    .map_err(|e| match e {
        stampede_journal::OpenError::Io(source) => ReadOnlyError::Io(source),
        other => ReadOnlyError::Open(codec::recovery_error(other)),
    })?;
    let info = ReplayInfo::of(replay, &ledger, started);
    Ok((ledger, info))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use stampede_core::{
        CampaignSpec, Cents, CommonSpec, GrabOutcome, OrderState, Payment, SeckillSpec, UnixMillis,
    };
    use stampede_journal::MemoryStorage;

    use super::*;
    use crate::{Durability, Engine, EngineConfig, ManualClock};

    fn spec() -> CampaignSpec {
        CampaignSpec::Seckill(SeckillSpec {
            common: CommonSpec {
                name: "read-only".into(),
                starts_at: None,
                ends_at: None,
            },
            stock: 10,
            per_user_limit: 1,
            price_cents: Cents(100),
            payment_window_secs: 60,
            regrab_after_release: false,
        })
    }

    /// A journal with one campaign, two wins and one payment, at `path`.
    fn write_journal(path: &Path) {
        let config = EngineConfig {
            journal_path: path.to_path_buf(),
            durability: Durability::Fsync,
            rng_seed: Some(5),
            snapshot_every_records: crate::DEFAULT_SNAPSHOT_EVERY_RECORDS,
        };
        let clock = Arc::new(ManualClock::new(UnixMillis(1_000)));
        let (engine, _) = Engine::open(&config, clock).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let view = engine
                .create_campaign(spec())
                .await
                .unwrap()
                .created()
                .unwrap();
            let mut orders = Vec::new();
            for user in ["alice", "bob"] {
                match engine
                    .grab(view.id, &stampede_core::UserId::parse(user).unwrap())
                    .await
                    .unwrap()
                {
                    GrabOutcome::Won(ticket) => orders.push(ticket.order_id),
                    other => panic!("{other:?}"),
                }
            }
            let payment = Payment {
                channel: stampede_core::ChannelName::parse("sim").unwrap(),
                txn_id: "t1".into(),
                amount_cents: Cents(100),
                paid_at: UnixMillis(1_001),
            };
            engine.record_payment(orders[0], payment).await.unwrap();
        });
        engine.shutdown();
    }

    #[test]
    fn a_torn_tail_is_read_and_the_file_is_left_byte_identical() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.log");
        write_journal(&path);
        let clean = std::fs::read(&path).unwrap();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(b"StJ2 half a frame").unwrap();
        drop(file);
        let torn = std::fs::read(&path).unwrap();

        let (ledger, info) = replay_read_only(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), torn, "byte-identical");
        assert_eq!((info.records, info.campaigns, info.orders), (4, 1, 2));
        assert_eq!(info.valid_bytes, clean.len() as u64);
        assert_eq!(info.ignored_tail_bytes, 17);
        assert!(info.tail_defect.is_some());
        let paid = ledger
            .campaigns()
            .flat_map(|c| (0..c.order_count() as u32).filter_map(|i| c.order_at(i)))
            .filter(|o| o.state == OrderState::Paid)
            .count();
        assert_eq!(paid, 1);
        ledger.assert_invariants();
    }

    #[test]
    fn a_clean_journal_reports_no_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.log");
        write_journal(&path);
        let (_, info) = replay_read_only(&path).unwrap();
        assert_eq!((info.ignored_tail_bytes, info.tail_defect), (0, None));
    }

    #[test]
    fn a_missing_journal_is_an_error_and_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.log");
        assert!(matches!(replay_read_only(&path), Err(OpenError::Io { .. })));
        assert!(!path.exists());
    }

    #[test]
    fn a_record_the_ledger_refuses_is_a_recovery_error() {
        let mut bytes = Vec::new();
        stampede_journal::frame::encode_into(&mut bytes, 0, 0, b"not a record");
        let mut storage = MemoryStorage::with_bytes(bytes.clone(), 0);
        assert!(matches!(
            replay_storage_read_only(&mut storage),
            Err(ReadOnlyError::Open(OpenError::Recovery(_)))
        ));
        assert_eq!(storage.bytes(), bytes);
    }
}
