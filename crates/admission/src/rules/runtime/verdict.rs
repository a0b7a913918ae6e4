//! One rule's answer to one request, from whichever limiter the rule runs, before its dry-run
//! flag and action are applied.

use std::time::Duration;

use crate::keyed_rate::RateDecision;
use crate::leaky_bucket::LeakyDecision;
use crate::queued_in_flight::{QueueDecision, QueuedPermit};
use crate::rules::request::RejectionKind;

/// One outcome of one rule before dry-run and action are applied.
pub(super) enum Verdict {
    Allow,
    Delay(Duration),
    /// Refused; `kind: None` is a rate limit answered as the rule's action says.
    Reject {
        kind: Option<RejectionKind>,
        retry_after: Duration,
    },
    Permit(QueuedPermit),
}

pub(super) fn rate_verdict(decision: RateDecision) -> Verdict {
    match decision {
        RateDecision::Allowed => Verdict::Allow,
        RateDecision::Limited { retry_after } => Verdict::Reject {
            kind: None,
            retry_after,
        },
    }
}

pub(super) fn leaky_verdict(decision: LeakyDecision) -> Verdict {
    match decision {
        LeakyDecision::Allow => Verdict::Allow,
        LeakyDecision::Delay(wait) => Verdict::Delay(wait),
        LeakyDecision::Reject { retry_after } => Verdict::Reject {
            kind: None,
            retry_after,
        },
    }
}

pub(super) fn concurrency_verdict(decision: QueueDecision) -> Verdict {
    match decision {
        QueueDecision::Admitted(permit) => Verdict::Permit(permit),
        QueueDecision::QueueFull => Verdict::Reject {
            kind: Some(RejectionKind::QueueFull),
            retry_after: Duration::from_secs(1),
        },
        QueueDecision::QueueTimeout => Verdict::Reject {
            kind: Some(RejectionKind::QueueTimeout),
            retry_after: Duration::from_secs(1),
        },
    }
}
