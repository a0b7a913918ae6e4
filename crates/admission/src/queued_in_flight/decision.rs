//! [`QueueDecision`] and the [`QueuedPermit`] it carries when admitted.

use tokio::sync::OwnedSemaphorePermit;

/// Outcome of [`QueuedInFlight::acquire`](super::QueuedInFlight::acquire).
#[derive(Debug)]
#[must_use = "an admitted request holds its slot only while the permit lives"]
pub enum QueueDecision {
    /// A slot is held until the permit is dropped.
    Admitted(QueuedPermit),
    /// The queue was full: rejected at once.
    QueueFull,
    /// Waited `max_wait` in the queue without getting a slot.
    QueueTimeout,
}

impl QueueDecision {
    /// Stable code for logs, metrics and JSON errors: `"admitted"`, `"queue_full"` or
    /// `"queue_timeout"`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Admitted(_) => "admitted",
            Self::QueueFull => "queue_full",
            Self::QueueTimeout => "queue_timeout",
        }
    }

    /// The permit, if admitted.
    pub fn permit(self) -> Option<QueuedPermit> {
        match self {
            Self::Admitted(permit) => Some(permit),
            Self::QueueFull | Self::QueueTimeout => None,
        }
    }
}

/// One admitted request; frees its slot, waking the oldest waiter, when dropped.
#[derive(Debug)]
#[must_use = "the slot is released as soon as the permit is dropped"]
pub struct QueuedPermit {
    _permit: OwnedSemaphorePermit,
}

impl QueuedPermit {
    pub(crate) fn new(permit: OwnedSemaphorePermit) -> Self {
        Self { _permit: permit }
    }
}
