//! [`Storage`] in memory, with seeded fault injection for tests and deterministic simulation.

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::storage::Storage;

/// Most garbage bytes [`MemoryStorage::crash`] appends after the torn tail.
///
/// 256 bytes is more than a frame header plus a small payload, so garbage can masquerade as a
/// partial frame, yet stays small enough that simulations run thousands of crashes quickly.
pub const MAX_CRASH_GARBAGE_BYTES: usize = 256;

/// Size of the pages [`MemoryStorage::crash_out_of_order`] writes back independently.
///
/// Real page-cache pages are 4 KiB, but simulated batches are a few hundred bytes; 64-byte pages
/// make one batch span several pages (so a later page can survive an earlier lost one) while
/// still holding a whole 28-byte frame header, as a real page holds many.
pub const SIMULATED_PAGE_BYTES: usize = 64;

/// Longest a [`Storage::sync`] blocks under [`MemoryStorage::stall_syncs`] before failing.
///
/// A stall models a disk that hangs for a while; tests resume it within milliseconds. 30 s is
/// far beyond any such test yet ends a test that forgot `resume_syncs` instead of hanging it.
pub const MAX_SYNC_STALL: Duration = Duration::from_secs(30);

/// In-memory storage that tracks which bytes were synced, so a simulated crash can lose exactly
/// what a real crash may lose.
///
/// Clones share the same bytes (an `Arc<Mutex<..>>`): a test keeps one handle, gives a clone to
/// the journal, calls [`MemoryStorage::crash`], then reopens a journal on another clone. Every
/// random choice comes from a `ChaCha8` RNG seeded at construction, so a seed replays a run.
///
/// Truncation is modelled as immediately durable; the journal syncs after truncating anyway.
#[derive(Debug, Clone)]
pub struct MemoryStorage {
    inner: Arc<Mutex<Inner>>,
    /// Signalled by [`MemoryStorage::resume_syncs`] to wake syncs blocked by a stall.
    resumed: Arc<Condvar>,
}

#[derive(Debug)]
struct Inner {
    bytes: Vec<u8>,
    /// Bytes `[0, synced_len)` survive any crash.
    synced_len: usize,
    rng: ChaCha8Rng,
    fail_next_append: bool,
    fail_next_sync: bool,
    /// While set, [`Storage::sync`] blocks (at most [`MAX_SYNC_STALL`]).
    syncs_stalled: bool,
    /// Syncs blocked by the stall right now.
    syncs_blocked: usize,
}

/// What a simulated crash kept and added.
///
/// Afterwards the storage holds `synced + kept_unsynced_bytes + hole_bytes + garbage_bytes`
/// bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashReport {
    /// Unsynced bytes that survived intact (for [`MemoryStorage::crash`], a prefix of what was
    /// appended: a torn write).
    pub kept_unsynced_bytes: u64,
    /// Unsynced bytes whose content was lost (cut off, or left as a hole).
    pub lost_unsynced_bytes: u64,
    /// Lost unsynced bytes still inside the file: pages that never reached storage before a
    /// later page did, now zeros or stale bytes. Only [`MemoryStorage::crash_out_of_order`]
    /// leaves holes.
    pub hole_bytes: u64,
    /// Random garbage bytes appended after the kept bytes.
    pub garbage_bytes: u64,
}

impl MemoryStorage {
    /// Empty storage whose fault injection draws from `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self::with_bytes(Vec::new(), seed)
    }

    /// Storage holding `bytes`, all of them synced, whose fault injection draws from `seed`.
    #[must_use]
    pub fn with_bytes(bytes: Vec<u8>, seed: u64) -> Self {
        let inner = Inner {
            synced_len: bytes.len(),
            bytes,
            rng: ChaCha8Rng::seed_from_u64(seed),
            fail_next_append: false,
            fail_next_sync: false,
            syncs_stalled: false,
            syncs_blocked: 0,
        };
        Self {
            inner: Arc::new(Mutex::new(inner)),
            resumed: Arc::new(Condvar::new()),
        }
    }

    /// A copy of the stored bytes, synced or not.
    #[must_use]
    pub fn bytes(&self) -> Vec<u8> {
        self.lock().bytes.clone()
    }

    /// How many leading bytes are synced (survive any crash).
    #[must_use]
    pub fn synced_len(&self) -> u64 {
        to_u64(self.lock().synced_len)
    }

    /// Makes the next [`Storage::append`] write a random prefix of its bytes, then fail.
    pub fn fail_next_append(&self) {
        self.lock().fail_next_append = true;
    }

    /// Makes the next [`Storage::sync`] fail without syncing anything.
    pub fn fail_next_sync(&self) {
        self.lock().fail_next_sync = true;
    }

    /// Makes every [`Storage::sync`] block until [`resume_syncs`](Self::resume_syncs): a
    /// stalled disk. A sync blocked longer than [`MAX_SYNC_STALL`] fails instead (so a test that
    /// forgets to resume fails rather than hangs). Other operations are not blocked.
    pub fn stall_syncs(&self) {
        self.lock().syncs_stalled = true;
    }

    /// Syncs waiting inside [`Storage::sync`] right now (blocked by a stall, or about to find
    /// there is none): a test waits for a caller to be in its fsync by this, not by time.
    pub fn syncs_blocked(&self) -> usize {
        self.lock().syncs_blocked
    }

    /// Ends a stall: blocked syncs complete (and sync), later ones run at once.
    pub fn resume_syncs(&self) {
        self.lock().syncs_stalled = false;
        self.resumed.notify_all();
    }

    /// Simulates power loss: keeps the synced bytes plus a random prefix of the unsynced bytes
    /// (a torn write), then, half the time, up to [`MAX_CRASH_GARBAGE_BYTES`] random bytes.
    /// What remains counts as synced afterwards.
    pub fn crash(&self) -> CrashReport {
        let mut inner = self.lock();
        let unsynced = inner.bytes.len() - inner.synced_len;
        let kept = inner.rng.random_range(0..=unsynced);
        let garbage_len = if inner.rng.random_bool(0.5) {
            inner.rng.random_range(1..=MAX_CRASH_GARBAGE_BYTES)
        } else {
            0
        };
        let mut garbage = vec![0; garbage_len];
        inner.rng.fill(&mut garbage[..]);
        drop(inner);
        self.crash_keeping(kept, &garbage)
    }

    /// Simulates power loss deterministically: keeps the synced bytes plus the first
    /// `kept_unsynced_bytes` unsynced bytes, then appends `garbage`.
    ///
    /// # Panics
    ///
    /// Panics if `kept_unsynced_bytes` exceeds the unsynced byte count.
    pub fn crash_keeping(&self, kept_unsynced_bytes: usize, garbage: &[u8]) -> CrashReport {
        let mut inner = self.lock();
        let unsynced = inner.bytes.len() - inner.synced_len;
        assert!(
            kept_unsynced_bytes <= unsynced,
            "cannot keep {kept_unsynced_bytes} of {unsynced} unsynced bytes"
        );
        let keep = inner.synced_len + kept_unsynced_bytes;
        inner.bytes.truncate(keep);
        inner.bytes.extend_from_slice(garbage);
        inner.synced_len = inner.bytes.len();
        inner.fail_next_append = false;
        inner.fail_next_sync = false;
        CrashReport {
            kept_unsynced_bytes: to_u64(kept_unsynced_bytes),
            lost_unsynced_bytes: to_u64(unsynced - kept_unsynced_bytes),
            hole_bytes: 0,
            garbage_bytes: to_u64(garbage.len()),
        }
    }

    /// Simulates power loss with out-of-order writeback: the file keeps the synced bytes and a
    /// random length of the unsynced ones, and within that length each [`SIMULATED_PAGE_BYTES`]
    /// page (aligned to file offsets, like the page cache) independently either reached storage
    /// or did not. A page that did not is a hole: zeros (unwritten blocks) or, one time in four,
    /// random stale bytes. What remains counts as synced afterwards.
    ///
    /// This is what a crash between a batch's `write` and the end of its `fdatasync` may leave:
    /// the kernel writes dirty pages back in no promised order, so a later page of the batch can
    /// be on disk while an earlier one is not.
    pub fn crash_out_of_order(&self) -> CrashReport {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let synced = inner.synced_len;
        let unsynced = inner.bytes.len() - synced;
        let new_len = synced + inner.rng.random_range(0..=unsynced);
        let mut kept = 0;
        let mut holes = 0;
        let mut page_start = synced;
        while page_start < new_len {
            let page_end =
                ((page_start / SIMULATED_PAGE_BYTES + 1) * SIMULATED_PAGE_BYTES).min(new_len);
            let page = &mut inner.bytes[page_start..page_end];
            if inner.rng.random_bool(0.5) {
                kept += page.len();
            } else {
                holes += page.len();
                if inner.rng.random_ratio(1, 4) {
                    inner.rng.fill(page);
                } else {
                    page.fill(0);
                }
            }
            page_start = page_end;
        }
        inner.bytes.truncate(new_len);
        inner.synced_len = new_len;
        inner.fail_next_append = false;
        inner.fail_next_sync = false;
        CrashReport {
            kept_unsynced_bytes: to_u64(kept),
            lost_unsynced_bytes: to_u64(unsynced - kept),
            hole_bytes: to_u64(holes),
            garbage_bytes: 0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` half-updated in a way that matters
        // to a test that is already failing, so recover the guard rather than panic again.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Storage for MemoryStorage {
    fn location(&self) -> String {
        "memory".to_owned()
    }

    fn len_bytes(&mut self) -> io::Result<u64> {
        Ok(to_u64(self.lock().bytes.len()))
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let inner = self.lock();
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(inner.bytes.len());
        let available = &inner.bytes[start..];
        let count = available.len().min(buf.len());
        buf[..count].copy_from_slice(&available[..count]);
        Ok(count)
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut inner = self.lock();
        if std::mem::take(&mut inner.fail_next_append) {
            let written = inner.rng.random_range(0..=bytes.len());
            inner.bytes.extend_from_slice(&bytes[..written]);
            return Err(io::Error::other("injected append failure"));
        }
        inner.bytes.extend_from_slice(bytes);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut inner = self.lock();
        inner.syncs_blocked += 1;
        let (mut inner, stall) = self
            .resumed
            .wait_timeout_while(inner, MAX_SYNC_STALL, |inner| inner.syncs_stalled)
            .unwrap_or_else(PoisonError::into_inner);
        inner.syncs_blocked -= 1;
        if stall.timed_out() {
            return Err(io::Error::other(format!(
                "sync stalled longer than {MAX_SYNC_STALL:?}"
            )));
        }
        if std::mem::take(&mut inner.fail_next_sync) {
            return Err(io::Error::other("injected sync failure"));
        }
        inner.synced_len = inner.bytes.len();
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let mut inner = self.lock();
        let len = usize::try_from(len).map_err(io::Error::other)?;
        inner.bytes.resize(len, 0);
        inner.synced_len = inner.synced_len.min(len);
        Ok(())
    }
}

fn to_u64(value: usize) -> u64 {
    u64::try_from(value).expect("usize fits in u64")
}

#[cfg(test)]
mod tests;
