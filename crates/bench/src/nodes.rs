//! Which node serves which user when `--target` names several: the policy, pure (time is a
//! `Duration` since the run's start, passed in).
//!
//! - **Home.** A stable hash of the user id picks the user's home node ([`home_node`]), so
//!   users spread evenly and a user's grabs all reach one node while it is up.
//! - **Down.** A request that fails at the connection level (refused, reset, timed out: any
//!   `TransportError`, never an HTTP answer) marks its node down for [`NODE_DOWN_FOR`], for
//!   every worker at once ([`NodeHealth`]).
//! - **Route.** A grab goes to the first node up in the fixed order home, home + 1, …
//!   (wrapping), so a user sticks to its failover node until its home's down-time expires;
//!   with every node down it goes home anyway (down is advice, not a ban).
//! - **Resend.** A grab whose request failed is sent again — once, to the next node up — only
//!   when none of it was written (`TransportError::never_sent`: the connect was refused or
//!   timed out, or a kept-alive connection closed before the request went out). The bench's
//!   grabs carry no `Idempotency-Key`, so a grab that may have reached a server is never sent
//!   twice: it stays a timeout or transport error, an unresolved user (a possible win) in the
//!   audit.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long a node that failed a connection is left alone. Long enough that a dead node
/// costs each worker about one failed connect per period instead of one per grab; short
/// enough that a node back from a restart gets its users back within a couple of seconds of
/// a bench that lasts tens.
pub(crate) const NODE_DOWN_FOR: Duration = Duration::from_secs(2);

/// The home node of `user_id` among `nodes`: FNV-1a over the id's bytes, finished with
/// SplitMix64's mixer (so ids differing in their last digit land apart), mapped onto
/// `0..nodes` by multiply-shift. The same id always gets the same node for the same count.
///
/// # Panics
/// If `nodes` is zero.
pub(crate) fn home_node(user_id: &str, nodes: usize) -> usize {
    assert!(nodes > 0, "a user needs at least one node");
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in user_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^= hash >> 31;
    let scaled = (u128::from(hash) * nodes as u128) >> 64;
    usize::try_from(scaled).expect("below nodes")
}

/// Which nodes are down, shared by every worker of a run: per node, the time (milliseconds
/// since the run's start) until which it is down; 0 when it never failed.
#[derive(Debug)]
pub(crate) struct NodeHealth {
    down_until_ms: Vec<AtomicU64>,
}

impl NodeHealth {
    /// `nodes` nodes, all up.
    ///
    /// # Panics
    /// If `nodes` is zero.
    pub(crate) fn new(nodes: usize) -> Self {
        assert!(nodes > 0, "at least one node");
        Self {
            down_until_ms: (0..nodes).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.down_until_ms.len()
    }

    fn is_up(&self, node: usize, now: Duration) -> bool {
        millis(now) >= self.down_until_ms[node].load(Ordering::Relaxed)
    }

    /// `node` failed a connection at `now`: down until `now + NODE_DOWN_FOR` (a later failure
    /// only ever extends it).
    pub(crate) fn mark_down(&self, node: usize, now: Duration) {
        self.down_until_ms[node].fetch_max(millis(now + NODE_DOWN_FOR), Ordering::Relaxed);
    }

    /// The first node up at `now` in the order `home`, `home + 1`, … (wrapping), if any.
    fn first_up(&self, home: usize, now: Duration) -> Option<usize> {
        let nodes = self.len();
        (0..nodes)
            .map(|step| (home + step) % nodes)
            .find(|node| self.is_up(*node, now))
    }

    /// Where a grab of a user homed on `home` goes at `now`: the first node up from its home,
    /// or its home when every node is down.
    pub(crate) fn route(&self, home: usize, now: Duration) -> usize {
        self.first_up(home, now).unwrap_or(home)
    }

    /// Where to send once more a grab of a user homed on `home` that `failed` (just marked
    /// down) never wrote: the next node up in the user's order, or None when none is left.
    pub(crate) fn resend_to(&self, home: usize, failed: usize, now: Duration) -> Option<usize> {
        self.first_up(home, now).filter(|node| *node != failed)
    }
}

fn millis(at: Duration) -> u64 {
    u64::try_from(at.as_millis()).unwrap_or(u64::MAX)
}

/// What one node saw of a run (summed over the workers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NodeCounts {
    /// Users whose home this node is.
    pub users_homed: u64,
    /// Users whose last answered grab came from this node.
    pub users_last_served: u64,
    /// Requests sent to this node (a grab sent again after a failed connection counts on both
    /// nodes).
    pub requests: u64,
    /// Requests to this node that got no HTTP answer (refused, reset, timed out).
    pub connection_failures: u64,
    /// Requests of users homed here that went to another node (sent again after a failed
    /// connection, or routed away while this node was down).
    pub failovers: u64,
}

impl NodeCounts {
    /// Adds `other` into `self`.
    pub(crate) fn merge(&mut self, other: &NodeCounts) {
        self.users_homed += other.users_homed;
        self.users_last_served += other.users_last_served;
        self.requests += other.requests;
        self.connection_failures += other.connection_failures;
        self.failovers += other.failovers;
    }
}

/// Counts one request of a user homed on `home` sent to `node`.
pub(crate) fn count_request(counts: &mut [NodeCounts], home: usize, node: usize) {
    counts[node].requests += 1;
    if node != home {
        counts[home].failovers += 1;
    }
}

#[cfg(test)]
mod tests;
