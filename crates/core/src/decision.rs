//! The one shape every ledger decision takes: an outcome to answer, and the record to make
//! durable before answering it (none when nothing changed).
//!
//! A decision has already been applied to the ledger when it is returned ("decide, then
//! apply": the record goes through [`crate::Ledger::apply`], the very function replay runs),
//! so the caller's only duty is to journal `record` before it tells anyone `outcome`.

use crate::record::Record;

/// What a decision came to, and what to journal first.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a decision's record must be journaled before its outcome is answered"]
pub struct Decision<O> {
    /// What to tell the requester.
    pub outcome: O,
    /// The fact to make durable before `outcome` is told, if anything changed.
    pub record: Option<Record>,
}

impl<O> Decision<O> {
    /// A decision that changed nothing: `outcome` may be answered at once.
    pub fn unchanged(outcome: O) -> Self {
        Self {
            outcome,
            record: None,
        }
    }

    /// A decision that changed the ledger by `record`.
    pub fn recorded(outcome: O, record: Record) -> Self {
        Self {
            outcome,
            record: Some(record),
        }
    }

    /// The same decision with its outcome mapped (the record is kept).
    pub fn map<P>(self, f: impl FnOnce(O) -> P) -> Decision<P> {
        Decision {
            outcome: f(self.outcome),
            record: self.record,
        }
    }
}
