//! What a request brings to the rules (its keys, the stage it is at) and what it takes away:
//! an [`Admitted`] holding its concurrency permits, or a [`Rejection`] saying why and for how
//! long. Nothing here is HTTP: the API answers each kind its own way.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::spec::{Dimension, Route};
use crate::queued_in_flight::QueuedPermit;

/// When a rule runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Before the token is checked: global, route, ip and campaign rules.
    BeforeAuth,
    /// After: user and user × campaign rules.
    AfterAuth,
}

impl Stage {
    /// Every stage, in the order a request meets them.
    pub(super) const ALL: [Stage; 2] = [Stage::BeforeAuth, Stage::AfterAuth];

    pub(super) fn index(self) -> usize {
        match self {
            Stage::BeforeAuth => 0,
            Stage::AfterAuth => 1,
        }
    }
}

/// What a request is keyed by.
#[derive(Clone, Copy, Debug)]
pub struct RequestKeys<'a> {
    /// Its route.
    pub route: Route,
    /// Client address.
    pub ip: Option<IpAddr>,
    /// Authenticated user (after auth).
    pub user: Option<&'a str>,
    /// Campaign id bits, when the route has one.
    pub campaign: Option<u128>,
}

/// Why a request was refused by a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The rule's name (shared with the compiled rule: a rejection allocates nothing).
    pub rule: Arc<str>,
    /// Its dimension.
    pub dimension: Dimension,
    /// What kind of refusal it is.
    pub kind: RejectionKind,
    /// When to come back.
    pub retry_after: Duration,
    /// Whether the rule's rejections count toward automatic bans.
    pub auto_ban: bool,
}

/// Why a rule refused a request. The API answers each its own way; nothing here is HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectionKind {
    /// Over a rate limit, to be answered as the rule's action says.
    RateLimited(LimitAnswer),
    /// A concurrency rule's queue is full.
    QueueFull,
    /// A concurrency rule's queue wait ran out.
    QueueTimeout,
}

impl RejectionKind {
    /// The stable code: `rate_limited`, `overloaded` (queue full) or `queue_timeout`.
    pub fn code(self) -> &'static str {
        match self {
            RejectionKind::RateLimited(_) => "rate_limited",
            RejectionKind::QueueFull => "overloaded",
            RejectionKind::QueueTimeout => "queue_timeout",
        }
    }
}

/// How a rate-limited request is answered (a rule's `action.status`, named after nginx's
/// `limit_req_status`): as too many requests from this client (429, the default), or as the
/// service being unavailable (503, what nginx answers by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitAnswer {
    /// "Too many requests": the client should slow down.
    TooManyRequests,
    /// "Service unavailable": the service is full.
    Unavailable,
}

impl LimitAnswer {
    /// The answer a rule's validated `action.status` (429 or 503) names.
    pub fn of_status(status: u16) -> Self {
        if status == 503 {
            LimitAnswer::Unavailable
        } else {
            LimitAnswer::TooManyRequests
        }
    }
}

/// A request admitted by every rule; holds concurrency permits until dropped.
#[derive(Debug, Default)]
pub struct Admitted {
    pub(super) permits: Vec<QueuedPermit>,
}

impl Admitted {
    /// Concurrency permits held.
    pub fn permits(&self) -> usize {
        self.permits.len()
    }
}
