//! The engine on the segmented file journal with snapshots: start-up reads the newest
//! snapshot and the records after it; and every state a crash can leave on disk opens to the
//! same ledger — a torn newest snapshot (the older one is used, or the whole history while it
//! is kept), a crash between a snapshot's write and the deletion it allows, a crash in the
//! middle of starting a new segment.

use stampede_testkit as support;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use stampede_core::{GrabOutcome, UserId};
use stampede_engine::{Durability, Engine, EngineConfig, ManualClock, Recovered};
use support::{T0, runtime, seckill};

/// The smallest interval the engine allows: two snapshots in a test of a few thousand wins.
const EVERY: u64 = stampede_engine::MIN_SNAPSHOT_EVERY_RECORDS;

fn config(dir: &Path) -> EngineConfig {
    EngineConfig {
        journal_path: dir.join("journal.log"),
        // Each batch still goes to the file; the snapshots are fsynced either way.
        durability: Durability::Os,
        rng_seed: Some(7),
        snapshot_every_records: EVERY,
    }
}

fn open(dir: &Path) -> Result<(Engine, Recovered), stampede_engine::OpenError> {
    Engine::open(&config(dir), Arc::new(ManualClock::new(T0)))
}

/// What an engine holds: its ledger's snapshot bytes (equal ledgers, equal bytes).
fn state(engine: &Engine) -> Vec<u8> {
    engine.inspect(stampede_core::Ledger::snapshot)
}

/// Creates a campaign and lets `users` distinct users win, in concurrent waves (batches).
fn stampede(dir: &Path, users: usize) -> Vec<u8> {
    runtime().block_on(async {
        let (engine, _) = open(dir).unwrap();
        let engine = Arc::new(engine);
        let view = engine
            .create_campaign(seckill(100_000, 1))
            .await
            .unwrap()
            .created()
            .unwrap();
        let campaign = view.id;
        for wave in 0..users.div_ceil(500) {
            let grabs: Vec<_> = (wave * 500..((wave + 1) * 500).min(users))
                .map(|i| {
                    let engine = Arc::clone(&engine);
                    tokio::spawn(async move {
                        let user = UserId::parse(&format!("u{i}")).unwrap();
                        engine.grab(campaign, &user).await.unwrap()
                    })
                })
                .collect();
            for grab in grabs {
                assert!(matches!(grab.await.unwrap(), GrabOutcome::Won(_)));
            }
        }
        let state = state(&engine);
        engine.shutdown();
        state
    })
}

fn reopened(dir: &Path) -> (Vec<u8>, Recovered) {
    let (engine, recovered) = open(dir).unwrap();
    let state = state(&engine);
    engine.shutdown();
    (state, recovered)
}

fn files(dir: &Path, part: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().contains(part))
        .collect();
    found.sort();
    found
}

fn snapshots(dir: &Path) -> Vec<PathBuf> {
    files(dir, ".snapshot.")
}

fn tear(path: &Path) {
    let len = fs::metadata(path).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
}

#[test]
fn start_up_reads_the_newest_snapshot_and_the_records_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let before = stampede(dir.path(), 2_600);
    assert_eq!(snapshots(dir.path()).len(), 2, "two snapshots kept");
    assert!(
        !dir.path().join("journal.log").exists(),
        "the first segment lies below the older kept snapshot: deleted"
    );
    let (after, recovered) = reopened(dir.path());
    assert!(after == before, "the same ledger");
    assert!(
        recovered.records < EVERY,
        "only the tail is replayed: {}",
        recovered.records
    );
    assert_eq!(recovered.orders, 2_600);
    // Reconciliation's read-only replay reads the same snapshot and tail.
    let (ledger, info) =
        stampede_engine::replay_read_only(&dir.path().join("journal.log")).unwrap();
    assert_eq!(ledger.order_count(), 2_600);
    assert_eq!(
        info.records, 2_601,
        "every record of the history is covered"
    );
}

#[test]
fn a_torn_newest_snapshot_is_ignored_for_the_older_one() {
    let dir = tempfile::tempdir().unwrap();
    let before = stampede(dir.path(), 2_600);
    let kept = snapshots(dir.path());
    tear(&kept[1]);
    let (after, recovered) = reopened(dir.path());
    assert!(after == before, "the same ledger");
    assert!(
        recovered.records >= EVERY && recovered.records < 2 * EVERY,
        "replayed from the older snapshot: {}",
        recovered.records
    );
    // Opened from the older one, the writer found a snapshot overdue and took one at the
    // journal's end; the torn file, not known good, went.
    let now_kept = snapshots(dir.path());
    assert_eq!(now_kept.len(), 2);
    assert_eq!(now_kept[0], kept[0]);
    assert!(!kept[1].exists() || now_kept[1] == kept[1]);
    let (again, recovered) = reopened(dir.path());
    assert!(again == before, "the same ledger");
    assert_eq!(recovered.records, 0, "the newest covers every record");
    // Both torn, the history below the older one deleted: a clear error, nothing changed.
    now_kept.iter().for_each(|path| tear(path));
    let Err(error) = open(dir.path()) else {
        panic!("opened with nothing to start from");
    };
    let error = error.to_string();
    assert!(error.contains("first segment starts at"), "{error}");
}

#[test]
fn a_torn_only_snapshot_falls_back_to_the_whole_history() {
    let dir = tempfile::tempdir().unwrap();
    let before = stampede(dir.path(), 1_500);
    let kept = snapshots(dir.path());
    assert_eq!(kept.len(), 1);
    assert!(
        dir.path().join("journal.log").exists(),
        "one snapshot deletes nothing"
    );
    tear(&kept[0]);
    let (after, recovered) = reopened(dir.path());
    assert!(after == before, "the same ledger");
    assert_eq!(recovered.records, 1_501, "the whole history replayed");
}

#[test]
fn a_crash_between_a_snapshot_and_the_deletions_it_allows_opens_the_same() {
    let dir = tempfile::tempdir().unwrap();
    stampede(dir.path(), 1_500);
    // Keep what the second snapshot will delete: the first segment and, with a third, the
    // first snapshot. Put it back afterwards: the files a crash before the deletion leaves.
    let saved = tempfile::tempdir().unwrap();
    let first_segment = dir.path().join("journal.log");
    fs::copy(&first_segment, saved.path().join("journal.log")).unwrap();
    let (engine, _) = open(dir.path()).unwrap();
    runtime().block_on(async {
        let campaign = engine.campaign_ids()[0];
        for i in 0..1_200 {
            let user = UserId::parse(&format!("late{i}")).unwrap();
            engine.grab(campaign, &user).await.unwrap();
        }
    });
    let before = state(&engine);
    engine.shutdown();
    assert!(
        !first_segment.exists(),
        "the second snapshot allowed deleting it"
    );
    fs::copy(saved.path().join("journal.log"), &first_segment).unwrap();
    let (after, recovered) = reopened(dir.path());
    assert!(after == before, "the same ledger");
    assert!(recovered.records < EVERY, "{}", recovered.records);
}

#[test]
fn a_crash_in_the_middle_of_starting_a_segment_opens_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let before = stampede(dir.path(), 1_500);
    let (_, recovered) = reopened(dir.path());
    let end = 1_501;
    // The new segment's file was created, and then the power went: empty, or with a torn
    // first batch in it.
    let next = dir.path().join(format!("journal.log.{end:020}"));
    let segments_before = files(dir.path(), "journal.log").len();
    fs::write(&next, b"").unwrap();
    let (after, again) = reopened(dir.path());
    assert!(after == before, "the same ledger");
    assert_eq!(again.records, recovered.records);
    fs::write(
        &next,
        b"StJ2 torn first frame of a batch never acknowledged",
    )
    .unwrap();
    let (after, torn) = reopened(dir.path());
    assert!(after == before, "the same ledger");
    assert!(torn.truncated_tail_bytes > 0, "the torn batch was cut");
    assert_eq!(fs::metadata(&next).unwrap().len(), 0);
    assert_eq!(files(dir.path(), "journal.log").len(), segments_before + 1);
}
