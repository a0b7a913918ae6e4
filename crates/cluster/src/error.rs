//! The cluster layer's errors.

use stampede_journal::FrameDefect;

/// A log message that is not what the writer wrote: damaged, misplaced or malformed. Never
/// produced by a healthy log; a reader stops at it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogDefect {
    /// A header is missing or malformed.
    #[error("log message header {0} missing or malformed")]
    Header(&'static str),
    /// A record's frame does not decode.
    #[error("record at position {position}: {defect}")]
    Frame {
        /// The position the record should have.
        position: u64,
        /// What is wrong with its frame.
        defect: FrameDefect,
    },
    /// A frame carries another position than the one expected there.
    #[error("record at position {found} where {expected} was expected")]
    Misplaced {
        /// The position expected.
        expected: u64,
        /// The position the frame carries.
        found: u64,
    },
    /// The frames do not match the header's record count.
    #[error("message claims {header} records but holds {found}")]
    Count {
        /// The header's count.
        header: u32,
        /// The frames found.
        found: u64,
    },
    /// A message does not start where the previous one ended (a gap: the log was trimmed
    /// past the reader's position, or a message is missing).
    #[error(
        "log message at stream sequence {sequence} starts at position {found}, expected {expected}"
    )]
    Gap {
        /// Its stream sequence.
        sequence: u64,
        /// The position the reader expected.
        expected: u64,
        /// The position it starts at.
        found: u64,
    },
}

/// A NATS operation failed (connection, request, timeout, server error), with what was being
/// done.
#[derive(Debug, thiserror::Error)]
#[error("NATS {operation} failed: {source}")]
pub struct NatsError {
    /// What was being done.
    pub operation: &'static str,
    /// The client's error.
    #[source]
    pub source: async_nats::Error,
}

impl NatsError {
    /// Wraps `source`, an error of `operation`.
    pub fn new(operation: &'static str, source: impl Into<async_nats::Error>) -> Self {
        Self {
            operation,
            source: source.into(),
        }
    }
}

/// Why reading a shard's log failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// NATS failed more than the reader's retry budget allows.
    #[error(transparent)]
    Nats(#[from] NatsError),
    /// A message is damaged or out of place.
    #[error("shard log damaged: {0}")]
    Defect(#[from] LogDefect),
    /// The position asked for was trimmed away (below the oldest message kept): load a
    /// snapshot instead.
    #[error("position {asked} was trimmed from the log; it now starts at {first}")]
    Trimmed {
        /// The position asked for.
        asked: u64,
        /// The first position the log still holds.
        first: u64,
    },
    /// The record callback refused a record.
    #[error("applying record {position} failed: {message}")]
    Apply {
        /// The record's position.
        position: u64,
        /// The callback's error.
        message: String,
    },
}
