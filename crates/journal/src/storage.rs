//! The byte device under the journal. A trait so tests and the simulator can inject faults.

use std::io;

/// An append-only byte device: the journal reads it from the start on open, then only appends.
///
/// Implementations: [`crate::FileStorage`] (a real file) and [`crate::MemoryStorage`] (in memory,
/// with seeded fault injection).
pub trait Storage: Send + 'static {
    /// Where the bytes are, for error messages: a file's path, or a name for a device that has
    /// none. Called only when something failed.
    fn location(&self) -> String;

    /// Current length of the stored bytes.
    ///
    /// # Errors
    ///
    /// Any I/O error from the device.
    fn len_bytes(&mut self) -> io::Result<u64>;

    /// Reads up to `buf.len()` bytes starting at `offset`; returns how many were read, 0 only at
    /// or past the end.
    ///
    /// # Errors
    ///
    /// Any I/O error from the device.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;

    /// Appends all of `bytes` at the end. Not durable until [`Storage::sync`] returns `Ok`.
    ///
    /// # Errors
    ///
    /// Any I/O error; some prefix of `bytes` may have been written.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;

    /// Makes every byte appended so far (and any truncation) durable.
    ///
    /// # Errors
    ///
    /// Any I/O error; afterwards the durable state of unsynced bytes is unknown.
    fn sync(&mut self) -> io::Result<()>;

    /// Shortens the stored bytes to `len` bytes. Not durable until [`Storage::sync`].
    ///
    /// # Errors
    ///
    /// Any I/O error from the device.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}
