//! Unit tests of the in-memory storage: what a crash keeps, injected failures and stalls.

use super::*;

#[test]
fn crash_keeps_synced_bytes_and_a_prefix_of_the_rest() {
    for seed in 0..50 {
        let storage = MemoryStorage::new(seed);
        let mut handle = storage.clone();
        handle.append(b"synced").expect("append");
        handle.sync().expect("sync");
        handle.append(b"unsynced").expect("append");
        let report = storage.crash();
        let bytes = storage.bytes();
        let kept = usize::try_from(report.kept_unsynced_bytes).expect("small");
        assert_eq!(&bytes[..6 + kept], &b"syncedunsynced"[..6 + kept]);
        assert_eq!(report.kept_unsynced_bytes + report.lost_unsynced_bytes, 8);
        assert_eq!(report.hole_bytes, 0);
        assert_eq!(
            to_u64(bytes.len()),
            6 + report.kept_unsynced_bytes + report.garbage_bytes
        );
        assert_eq!(storage.synced_len(), to_u64(bytes.len()));
    }
}

#[test]
fn out_of_order_crash_keeps_synced_bytes_and_whole_pages_of_the_rest() {
    let unsynced: Vec<u8> = (1..=255).collect();
    let mut later_page_outlived_earlier = false;
    for seed in 0..200 {
        let storage = MemoryStorage::new(seed);
        let mut handle = storage.clone();
        handle.append(&[0xee; 40]).expect("append");
        handle.sync().expect("sync");
        handle.append(&unsynced).expect("append");
        let report = storage.crash_out_of_order();
        let bytes = storage.bytes();
        assert_eq!(
            &bytes[..40],
            &[0xee; 40],
            "seed {seed}: synced bytes changed"
        );
        assert_eq!(
            bytes.len() as u64,
            40 + report.kept_unsynced_bytes + report.hole_bytes
        );
        assert_eq!(report.kept_unsynced_bytes + report.lost_unsynced_bytes, 255);
        assert_eq!(report.garbage_bytes, 0);
        assert_eq!(storage.synced_len(), bytes.len() as u64);
        // Each page is either intact or entirely a hole; record whether an intact page
        // followed a hole.
        let mut seen_hole = false;
        let mut kept = 0;
        let mut start = 40;
        while start < bytes.len() {
            let end = ((start / SIMULATED_PAGE_BYTES + 1) * SIMULATED_PAGE_BYTES).min(bytes.len());
            if bytes[start..end] == unsynced[start - 40..end - 40] {
                kept += end - start;
                later_page_outlived_earlier |= seen_hole;
            } else {
                seen_hole = true;
            }
            start = end;
        }
        assert!(kept as u64 >= report.kept_unsynced_bytes, "seed {seed}");
    }
    assert!(later_page_outlived_earlier, "no seed reordered writeback");
}

#[test]
fn injected_failures_fire_once() {
    let storage = MemoryStorage::new(1);
    let mut handle = storage.clone();
    storage.fail_next_sync();
    handle.append(b"abc").expect("append");
    assert!(handle.sync().is_err());
    assert_eq!(storage.synced_len(), 0);
    handle.sync().expect("second sync succeeds");
    assert_eq!(storage.synced_len(), 3);
    storage.fail_next_append();
    assert!(handle.append(b"defg").is_err());
    assert!(storage.bytes().len() <= 7);
    handle.append(b"h").expect("append succeeds again");
}

#[test]
fn stalled_sync_blocks_until_resumed() {
    let storage = MemoryStorage::new(1);
    let mut handle = storage.clone();
    handle.append(b"abc").expect("append");
    storage.stall_syncs();
    let syncer = std::thread::spawn(move || handle.sync());
    // Wait until the sync is inside its stalled wait (a bounded poll on that condition).
    let mut polls = 0;
    while storage.syncs_blocked() == 0 {
        polls += 1;
        assert!(polls < 5_000, "the sync never reached the stall");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(!syncer.is_finished(), "sync returned during a stall");
    assert_eq!(storage.synced_len(), 0, "other calls are not blocked");
    storage.resume_syncs();
    syncer
        .join()
        .expect("syncer")
        .expect("sync succeeds once resumed");
    assert_eq!(storage.synced_len(), 3);
}

#[test]
fn crash_keeping_is_exact() {
    let storage = MemoryStorage::with_bytes(b"abc".to_vec(), 0);
    let mut handle = storage.clone();
    handle.append(b"defgh").expect("append");
    let report = storage.crash_keeping(2, b"ZZ");
    assert_eq!(storage.bytes(), b"abcdeZZ");
    assert_eq!(report.lost_unsynced_bytes, 3);
}

#[test]
fn read_at_past_end_reads_nothing() {
    let mut storage = MemoryStorage::with_bytes(b"abc".to_vec(), 0);
    let mut buf = [0; 4];
    assert_eq!(storage.read_at(1, &mut buf).expect("read"), 2);
    assert_eq!(storage.read_at(99, &mut buf).expect("read"), 0);
}

#[test]
fn truncate_drops_bytes_and_sync_mark() {
    let mut storage = MemoryStorage::with_bytes(b"abcdef".to_vec(), 0);
    storage.truncate(2).expect("truncate");
    assert_eq!(storage.bytes(), b"ab");
    assert_eq!(storage.synced_len(), 2);
}
