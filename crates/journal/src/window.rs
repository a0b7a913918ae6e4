//! A forward-only read window over [`Storage`], so recovery streams a large journal in
//! `READ_CHUNK_BYTES` reads instead of loading it whole.

use std::io;

use crate::limits::READ_CHUNK_BYTES;
use crate::storage::Storage;

/// Buffered bytes `[start, start + buffer.len())` of a storage whose length is fixed at `end`.
#[derive(Debug)]
pub(crate) struct ReadWindow {
    buffer: Vec<u8>,
    start: u64,
    end: u64,
}

impl ReadWindow {
    /// A window over storage holding `end` bytes (its length when recovery began).
    pub(crate) fn new(end: u64) -> Self {
        Self {
            buffer: Vec::with_capacity(READ_CHUNK_BYTES),
            start: 0,
            end,
        }
    }

    /// The bytes from `offset` on: at least `want` of them, or all up to the end if fewer remain.
    /// May return more than `want`.
    ///
    /// # Panics
    ///
    /// Panics if `offset` is before a previous call's offset (the window only moves forward) or
    /// past the end.
    ///
    /// # Errors
    ///
    /// I/O errors from `storage`, or `UnexpectedEof` if it holds fewer bytes than `end`.
    pub(crate) fn bytes_at<S: Storage>(
        &mut self,
        storage: &mut S,
        offset: u64,
        want: usize,
    ) -> io::Result<&[u8]> {
        assert!(
            offset >= self.start,
            "read window moved backwards: {offset} < {}",
            self.start
        );
        assert!(
            offset <= self.end,
            "read window offset {offset} past end {}",
            self.end
        );
        let remaining = self.end - offset;
        let needed_end = offset + remaining.min(to_u64(want));
        if self.start + to_u64(self.buffer.len()) < needed_end {
            self.refill(storage, offset, want.max(READ_CHUNK_BYTES))?;
        }
        let from = usize::try_from(offset - self.start).expect("window offset fits in usize");
        Ok(&self.buffer[from..])
    }

    /// Moves the window to start at `offset` and reads until it holds `target` bytes or the end.
    fn refill<S: Storage>(
        &mut self,
        storage: &mut S,
        offset: u64,
        target: usize,
    ) -> io::Result<()> {
        let consumed = usize::try_from(offset - self.start)
            .expect("window offset fits in usize")
            .min(self.buffer.len());
        self.buffer.drain(..consumed);
        self.start = offset;
        let remaining = usize::try_from(self.end - offset).unwrap_or(usize::MAX);
        let target = target.min(remaining);
        while self.buffer.len() < target {
            let filled = self.buffer.len();
            self.buffer.resize(target, 0);
            let read = storage.read_at(offset + to_u64(filled), &mut self.buffer[filled..])?;
            self.buffer.truncate(filled + read);
            if read == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "journal storage shrank during recovery",
                ));
            }
        }
        Ok(())
    }
}

fn to_u64(value: usize) -> u64 {
    u64::try_from(value).expect("usize fits in u64")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory_storage::MemoryStorage;

    #[test]
    fn streams_across_chunk_boundaries() {
        let bytes: Vec<u8> = (0..READ_CHUNK_BYTES * 2 + 17)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut storage = MemoryStorage::with_bytes(bytes.clone(), 0);
        let mut window = ReadWindow::new(bytes.len() as u64);
        for offset in (0..bytes.len()).step_by(4093) {
            let got = window
                .bytes_at(&mut storage, offset as u64, 100)
                .expect("read");
            let expected_len = 100.min(bytes.len() - offset);
            assert!(got.len() >= expected_len);
            assert_eq!(&got[..expected_len], &bytes[offset..offset + expected_len]);
        }
        let at_end = window
            .bytes_at(&mut storage, bytes.len() as u64, 100)
            .expect("read");
        assert!(at_end.is_empty());
    }

    #[test]
    fn reports_storage_that_shrank() {
        let mut storage = MemoryStorage::with_bytes(vec![1; 10], 0);
        let mut window = ReadWindow::new(20);
        let error = window
            .bytes_at(&mut storage, 0, 20)
            .expect_err("short storage");
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }
}
