//! Operating failures of the engine. Business outcomes are values ([`stampede_core::GrabOutcome`]);
//! these are for "could not do the work at all".

use stampede_core::Outcome;

/// What every write, and every durable read that would have to wait, answers once the journal
/// has failed: the engine is fail-stop until restarted.
pub(crate) const JOURNAL_FAILED_EARLIER: &str = "journal failed earlier; restart the server";

/// Why the engine did not decide a request. Serialisable: a cluster node hands the shard
/// leader's answer to a forwarded command back to its client as if decided here.
#[derive(Debug, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum EngineError {
    /// The writer queue is full ([`crate::MAX_PENDING_COMMANDS`]): shed at once, do not queue.
    #[error("the engine is overloaded; try again shortly")]
    Overloaded,
    /// The journal failed (the engine is fail-stop until restarted) or the engine shut down.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The journal is not answering in time: the breaker is open, or the writer's reply took
    /// longer than `journal_reply_timeout`. The outcome is unknown and a retry is safe (a grab
    /// that did win answers `already_won`).
    #[error("the journal is degraded; retry in {retry_after:?}")]
    Degraded {
        /// How long until a retry may be admitted.
        retry_after: std::time::Duration,
    },
}

/// Why the engine could not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The data directory or journal file could not be used.
    #[error("cannot open the journal at {path}: {source}")]
    Io {
        /// The journal path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Recovery refused the journal (corruption in the middle, a history forked by two writers,
    /// or a record the ledger rejects).
    #[error("journal recovery failed: {0}")]
    Recovery(String),
}

/// The writer answered a command with an outcome of another kind: a bug in the writer, not
/// a client's doing. Answered `Unavailable` (and logged) rather than a panic in a handler.
pub(crate) fn mismatched(what: &str, outcome: &Outcome) -> EngineError {
    tracing::error!(
        ?outcome,
        "the writer answered a {what} with the wrong kind of outcome"
    );
    EngineError::Unavailable(format!("internal error: unexpected answer to a {what}"))
}
