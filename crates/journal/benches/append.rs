//! Journal benchmarks: group-commit append throughput to a real file with `fdatasync`, and
//! open+replay time of a 1,000,000-record journal.
//!
//! Run: `cargo bench -p stampede-journal`. Figures depend on the disk's fsync latency; replay
//! reads a file that is in the page cache after the first sample.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput};
use stampede_journal::{Durability, FileStorage, Journal};

/// Payload size of a benchmark record: a typical encoded grab.
const RECORD_BYTES: usize = 64;
/// Batch sizes measured: from no grouping to a large group commit.
const BATCH_SIZES: [usize; 4] = [1, 16, 256, 1024];
/// Records in the replay benchmark's journal (~80 MB with headers).
const REPLAY_RECORDS: usize = 1_000_000;
/// Payload size of a replay benchmark record.
const REPLAY_RECORD_BYTES: usize = 60;

fn open_empty(path: &std::path::Path) -> Journal<FileStorage> {
    let storage = FileStorage::open(path).expect("open storage");
    let (journal, _) =
        Journal::open(storage, Durability::Fsync, |_, _| Ok::<_, String>(())).expect("open");
    journal
}

fn append(criterion: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut group = criterion.benchmark_group("append_batch_fsync");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let payload = [0xab_u8; RECORD_BYTES];
    for batch_size in BATCH_SIZES {
        let mut journal = open_empty(&dir.path().join(format!("append-{batch_size}.log")));
        let records = vec![&payload[..]; batch_size];
        group.throughput(Throughput::Elements(batch_size as u64));
        group.bench_function(format!("{batch_size}x{RECORD_BYTES}B"), |bencher| {
            bencher.iter(|| journal.append_batch(black_box(&records)).expect("append"));
        });
    }
    group.finish();
}

fn replay(criterion: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("replay.log");
    {
        let mut journal = open_empty(&path);
        let payload = [0x5a_u8; REPLAY_RECORD_BYTES];
        let records = vec![&payload[..]; 1000];
        for _ in 0..REPLAY_RECORDS / records.len() {
            journal
                .append_batch(&records)
                .expect("build replay journal");
        }
    }
    let mut group = criterion.benchmark_group("replay");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(REPLAY_RECORDS as u64));
    group.bench_function(
        format!("open_{REPLAY_RECORDS}x{REPLAY_RECORD_BYTES}B"),
        |bencher| {
            bencher.iter_batched(
                || FileStorage::open(&path).expect("open storage"),
                |storage| {
                    let mut replayed_bytes = 0_usize;
                    let (journal, recovery) =
                        Journal::open(storage, Durability::Fsync, |_, payload| {
                            replayed_bytes += payload.len();
                            Ok::<_, String>(())
                        })
                        .expect("open");
                    assert_eq!(recovery.records, REPLAY_RECORDS as u64);
                    black_box((journal, replayed_bytes))
                },
                BatchSize::PerIteration,
            );
        },
    );
    group.finish();
}

// Spelled out rather than `criterion_group!`, whose generated `pub fn` has no docs.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    append(&mut criterion);
    replay(&mut criterion);
    criterion.final_summary();
}
