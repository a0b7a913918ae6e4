//! Request bodies are read in full, against a deadline and a minimum rate, **before** the
//! request takes an in-flight permit.
//!
//! A client that sends complete headers and then its body slowly, or never, holds its
//! connection while it does. If it also held an in-flight permit, a few thousand such clients
//! (under every per-address cap) would hold all `max_in_flight` permits and every other client
//! would be answered 503 `overloaded` for as long as they liked. So [`ReadBodyLayer`] sits
//! outside the in-flight limit: a request that declares a body waits for it here, holding only
//! its connection (bounded by `max_connections` and `max_connections_per_ip`), and takes a
//! permit only once the body is in memory, when its handler can run without waiting on the
//! client again. A request without a body (a grab, every GET) passes straight through, with no
//! allocation and no timer.
//!
//! How long a body may take ([`BodyPace`]): all of it within `body_read_timeout_secs`, and,
//! after a grace of [`BODY_RATE_GRACE`], at least `body_read_min_bytes_per_sec` on average —
//! a stalled body is cut at the grace, not the deadline, and holding a connection for the whole
//! deadline costs a client real bytes. Past either, the answer is 408 `request_timeout` with
//! `Connection: close`. A body over [`MAX_BODY_BYTES`](crate::json::MAX_BODY_BYTES) is 413 as
//! soon as that is known; one that breaks off is 400.

mod read;
mod service;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use metrics::{Counter, Gauge};

pub use service::{ReadBody, ReadBodyLayer, ResponseFuture};

/// How long a body may take before the minimum rate applies: the first bytes behind the
/// headers, with room for a lost segment's retransmission or two (Linux retransmits after
/// 200 ms at the least, doubling each time), so a lossy mobile link is not cut for one loss.
pub const BODY_RATE_GRACE: Duration = Duration::from_secs(2);

/// How long a request body may take to arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyPace {
    /// The whole body must have arrived this long after the headers.
    pub timeout: Duration,
    /// After [`BODY_RATE_GRACE`], at least this many bytes a second on average (0: no rate).
    pub min_bytes_per_sec: u64,
}

impl BodyPace {
    /// How long after the headers the body may go on with `received` bytes and no more: the
    /// rate wants `received ≥ min_bytes_per_sec × (elapsed − grace)`, so each byte received
    /// buys `1 / min_bytes_per_sec` seconds beyond the grace; never past `timeout`.
    pub fn allowance(&self, received: usize) -> Duration {
        if self.min_bytes_per_sec == 0 {
            return self.timeout;
        }
        let received = u64::try_from(received).unwrap_or(u64::MAX);
        let earned = Duration::from_millis(received.saturating_mul(1000) / self.min_bytes_per_sec);
        BODY_RATE_GRACE.saturating_add(earned).min(self.timeout)
    }
}

/// The bodies being waited for now, and what came of them (shared by every route's layer).
#[derive(Clone, Debug)]
pub struct BodyReads {
    pace: BodyPace,
    waiting: Arc<AtomicUsize>,
    metrics: BodyMetrics,
}

#[derive(Clone, Debug)]
struct BodyMetrics {
    waiting: Gauge,
    /// Answered 408: the body did not arrive in time.
    timeout: Counter,
    /// Answered 413: the body is over the limit.
    too_large: Counter,
    /// Answered 400: the body broke off or was malformed.
    unreadable: Counter,
}

impl BodyReads {
    /// Reads bodies at `pace`; registers the metrics.
    pub fn new(pace: BodyPace) -> Self {
        metrics::describe_gauge!(
            "stampede_http_bodies_waiting",
            "Requests whose body is being read (they hold no in-flight permit yet)."
        );
        metrics::describe_counter!(
            "stampede_http_body_refusals_total",
            "Requests refused while their body was read, by reason: timeout (408 \
             request_timeout), too_large (413), unreadable (400)."
        );
        let refusals = |reason: &'static str| metrics::counter!("stampede_http_body_refusals_total", "reason" => reason);
        Self {
            pace,
            waiting: Arc::default(),
            metrics: BodyMetrics {
                waiting: metrics::gauge!("stampede_http_bodies_waiting"),
                timeout: refusals("timeout"),
                too_large: refusals("too_large"),
                unreadable: refusals("unreadable"),
            },
        }
    }

    /// Requests whose body is being read now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    /// Counts one body as being waited for until the guard is dropped.
    fn wait(&self) -> Waiting<'_> {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        self.metrics.waiting.increment(1.0);
        Waiting(self)
    }
}

/// One body being waited for; uncounted on drop (also when the client goes away).
struct Waiting<'a>(&'a BodyReads);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
        self.0.metrics.waiting.decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn without_a_rate_the_deadline_is_all() {
        let pace = BodyPace {
            timeout: 5 * SECOND,
            min_bytes_per_sec: 0,
        };
        assert_eq!(pace.allowance(0), 5 * SECOND);
        assert_eq!(pace.allowance(usize::MAX), 5 * SECOND);
    }

    #[test]
    fn each_byte_buys_time_beyond_the_grace_up_to_the_deadline() {
        let pace = BodyPace {
            timeout: 10 * SECOND,
            min_bytes_per_sec: 1000,
        };
        // Nothing yet, or one byte then a stall: cut at the grace.
        assert_eq!(pace.allowance(0), BODY_RATE_GRACE);
        assert_eq!(
            pace.allowance(1),
            BODY_RATE_GRACE + Duration::from_millis(1)
        );
        // 3,000 bytes in: three more seconds.
        assert_eq!(pace.allowance(3_000), BODY_RATE_GRACE + 3 * SECOND);
        // Never past the deadline, however fast the body came.
        assert_eq!(pace.allowance(1_000_000), 10 * SECOND);
        assert_eq!(pace.allowance(usize::MAX), 10 * SECOND);
    }

    #[test]
    fn a_deadline_shorter_than_the_grace_wins() {
        let pace = BodyPace {
            timeout: SECOND,
            min_bytes_per_sec: 1024,
        };
        assert_eq!(pace.allowance(0), SECOND);
    }

    #[test]
    fn the_waiting_count_follows_its_guards() {
        let reads = BodyReads::new(BodyPace {
            timeout: SECOND,
            min_bytes_per_sec: 0,
        });
        let first = reads.wait();
        let second = reads.wait();
        assert_eq!(reads.waiting(), 2);
        drop(first);
        assert_eq!(reads.waiting(), 1);
        drop(second);
        assert_eq!(reads.waiting(), 0);
    }
}
