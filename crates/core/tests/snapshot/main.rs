//! Ledger snapshots: a restored ledger decides exactly as the original; a snapshot plus the
//! records after it rebuilds exactly what all the records do; damaged bytes are an error.

mod workload;

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stampede_core::*;
use workload::Workload;

/// Runs `steps` steps of the workload seeded `seed` on a fresh ledger; answers the ledger
/// and the records it produced, in order.
fn run(seed: u64, steps: usize) -> (Ledger, Vec<Record>) {
    let mut ledger = Ledger::new();
    let mut workload = Workload::new(seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    let mut records = Vec::new();
    for _ in 0..steps {
        let step = workload.next(&ledger);
        records.extend(step.run(&mut ledger, &mut rng).records());
    }
    (ledger, records)
}

fn replay(records: &[Record]) -> Ledger {
    let mut ledger = Ledger::new();
    for record in records {
        ledger.apply(record).expect("a decided record applies");
    }
    ledger
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Snapshot a live ledger at a random step, restore it, then give both the same further
    /// steps with the same RNG: every decision (outcome and record) is the same, and so are
    /// the final snapshots.
    #[test]
    fn a_restored_ledger_decides_exactly_as_the_original(
        seed in any::<u64>(),
        before in 0usize..400,
        after in 1usize..300,
    ) {
        let mut original = Ledger::new();
        let mut workload = Workload::new(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..before {
            let step = workload.next(&original);
            step.run(&mut original, &mut rng);
        }
        let bytes = original.snapshot();
        let mut restored = Ledger::restore(&bytes).expect("a snapshot restores");
        restored.assert_invariants();
        prop_assert_eq!(restored.order_count(), original.order_count());
        prop_assert!(restored.snapshot() == bytes, "restore then snapshot changes the bytes");
        let mut restored_rng = rng.clone();
        let mut changes = 0;
        for _ in 0..after {
            let step = workload.next(&original);
            let done = step.clone().run(&mut original, &mut rng);
            let again = step.run(&mut restored, &mut restored_rng);
            changes += done.records().len();
            prop_assert_eq!(&done, &again);
        }
        restored.assert_invariants();
        prop_assert!(original.snapshot() == restored.snapshot(), "ledgers diverged after {} records", changes);
    }

    /// Snapshot the ledger replayed up to a random record, restore it and apply the rest:
    /// the same bytes as replaying every record.
    #[test]
    fn a_snapshot_and_the_tail_rebuild_what_every_record_does(
        seed in any::<u64>(),
        steps in 1usize..500,
        cut in any::<prop::sample::Index>(),
    ) {
        let (live, records) = run(seed, steps);
        let cut = cut.index(records.len() + 1);
        let head = replay(&records[..cut]);
        let mut restored = Ledger::restore(&head.snapshot()).expect("a snapshot restores");
        for record in &records[cut..] {
            restored.apply(record).expect("the tail applies after the snapshot");
        }
        restored.assert_invariants();
        let full = replay(&records);
        prop_assert!(restored.snapshot() == full.snapshot(), "snapshot + tail != full replay");
        prop_assert_eq!(restored.order_count(), live.order_count());
    }
}

/// A ledger with something of everything in it, and its snapshot.
fn busy_snapshot() -> (Ledger, Vec<u8>) {
    let (ledger, records) = run(7, 600);
    assert!(records.len() > 100, "the workload changed the ledger");
    let kinds: std::collections::HashSet<_> = records.iter().map(std::mem::discriminant).collect();
    assert!(kinds.len() >= 7, "most kinds of record: {}", kinds.len());
    let bytes = ledger.snapshot();
    (ledger, bytes)
}

#[test]
fn every_truncation_and_bit_flip_is_refused() {
    let (_, bytes) = busy_snapshot();
    for len in 0..bytes.len() {
        let error = Ledger::restore(&bytes[..len]).expect_err("a truncated snapshot restores");
        if len >= 9 {
            assert!(
                matches!(error, SnapshotError::Checksum { .. }),
                "{len}: {error}"
            );
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for _ in 0..2_000 {
        let mut damaged = bytes.clone();
        let at = rng.random_range(0..damaged.len());
        damaged[at] ^= 1 << rng.random_range(0..8);
        assert!(Ledger::restore(&damaged).is_err(), "flip at {at} restored");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Ledger::restore(&longer).is_err());
}

/// Damage behind a valid checksum (a snapshot written by a buggy build, or crafted): restore
/// answers an error or a ledger whose invariants hold, never a panic.
#[test]
fn damage_behind_a_valid_checksum_never_panics() {
    let (_, bytes) = busy_snapshot();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (mut refused, mut restored) = (0, 0);
    for _ in 0..3_000 {
        let mut damaged = bytes.clone();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(9..damaged.len());
            damaged[at] = rng.random();
        }
        let checksum = crc32c::crc32c(&damaged[9..]);
        damaged[5..9].copy_from_slice(&checksum.to_le_bytes());
        match Ledger::restore(&damaged) {
            Ok(ledger) => {
                ledger.assert_invariants();
                restored += 1;
            }
            Err(SnapshotError::Decode(_) | SnapshotError::Invalid(_)) => refused += 1,
            Err(other) => panic!("a resealed snapshot refused as {other}"),
        }
    }
    assert!(
        refused > 1_000,
        "most damage is refused: {refused} of {}",
        refused + restored
    );
}

#[test]
fn foreign_bytes_and_other_formats_are_refused_by_name() {
    assert!(matches!(
        Ledger::restore(b""),
        Err(SnapshotError::NotASnapshot(0))
    ));
    assert!(matches!(
        Ledger::restore(b"StJ2 not a snapshot"),
        Err(SnapshotError::NotASnapshot(_))
    ));
    let (_, mut bytes) = busy_snapshot();
    assert_eq!(bytes[..4], SNAPSHOT_MAGIC);
    assert_eq!(bytes[4], SNAPSHOT_FORMAT);
    bytes[4] = SNAPSHOT_FORMAT + 1;
    let error = Ledger::restore(&bytes).unwrap_err().to_string();
    let named = format!("snapshot format {}", SNAPSHOT_FORMAT + 1);
    assert!(error.contains(&named), "{error}");
}

/// A snapshot the build before keyed wins wrote (format 1: `fixtures/format1.snapshot`, with
/// the records that made it, written by commit 596c70a from `run(7, 600)`) still restores,
/// to the ledger its records rebuild, and what it is written as now restores too.
#[test]
fn a_format_1_snapshot_still_restores() {
    let bytes = include_bytes!("fixtures/format1.snapshot");
    assert_eq!(bytes[4], 1, "the fixture is format 1");
    let records: Vec<Record> =
        serde_json::from_slice(include_bytes!("fixtures/format1.records.json")).unwrap();
    let restored = Ledger::restore(bytes).unwrap();
    let rebuilt = replay(&records);
    assert!(restored.order_count() > 50, "{}", restored.order_count());
    // The fixture is the live ledger's snapshot, which differs from a replay's only in soft
    // state (the query schedule): compare what the records carry, campaign by campaign.
    let same = |a: &Ledger, b: &Ledger| {
        assert_eq!(a.order_count(), b.order_count());
        for (x, y) in a.campaigns().zip(b.campaigns()) {
            assert_eq!((x.id(), x.remaining()), (y.id(), y.remaining()));
            assert_eq!(x.payments(), y.payments(), "{}", x.id());
            for index in 0..=x.order_count() as u32 {
                assert_eq!(x.order_at(index), y.order_at(index), "{} #{index}", x.id());
            }
        }
    };
    same(&restored, &rebuilt);
    same(&Ledger::restore(&restored.snapshot()).unwrap(), &rebuilt);
}

#[test]
fn an_empty_ledger_round_trips() {
    let bytes = Ledger::new().snapshot();
    let restored = Ledger::restore(&bytes).unwrap();
    assert_eq!(restored.campaigns().count(), 0);
    assert_eq!(restored.snapshot(), bytes);
}

#[test]
fn equal_ledgers_write_equal_bytes() {
    let (live, records) = run(21, 400);
    // The live ledger and its replay differ only in soft state the records do not carry
    // (the query schedule after `take_stale_paying`); two replays are byte-identical.
    assert_eq!(replay(&records).snapshot(), replay(&records).snapshot());
    assert_eq!(
        Ledger::restore(&live.snapshot()).unwrap().order_count(),
        live.order_count()
    );
}
