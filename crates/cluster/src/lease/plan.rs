//! The lease decisions, pure: which free shards to try to take and which held ones to give
//! up, from what the node last saw. The manager (`manager.rs`) does the I/O around it.
//!
//! Leadership spreads over the live nodes by two rules:
//! - **fair share**: a node holds at most `ceil(shards / live nodes)`; it takes free shards
//!   only below that, and above it gives up one shard per round (the one it ranks lowest),
//!   so a node that joins a running cluster gets its share within a few rounds;
//! - **rendezvous preference**: every shard ranks the live nodes by
//!   `crc32c(node id ++ shard number)`; the first-ranked live node tries a free shard at
//!   once, the node ranked `k` only after the shard has been seen free for `k` ×
//!   `stagger`, so nodes rarely race for one key (a race is harmless: create-if-absent lets
//!   one win).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use crate::names::NodeId;
use crate::shard::{ShardCount, ShardId};

/// What the node saw this round.
#[derive(Debug)]
pub struct View<'a> {
    /// This node.
    pub me: &'a NodeId,
    /// Every live node, this one included.
    pub live: &'a BTreeSet<NodeId>,
    /// Shards this node holds.
    pub held: &'a BTreeSet<ShardId>,
    /// Shards without a lease, each with when it was first seen free.
    pub free_since: &'a BTreeMap<ShardId, Instant>,
    /// Now.
    pub now: Instant,
}

/// What to do this round.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Free shards to try to take, best first.
    pub acquire: Vec<ShardId>,
    /// A held shard to give up.
    pub release: Option<ShardId>,
}

/// The lease rules for a cluster of `shards`, with `stagger` between rendezvous ranks.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// The cluster's shards.
    pub shards: ShardCount,
    /// Wait per rendezvous rank before trying a free shard.
    pub stagger: Duration,
}

impl Rules {
    /// Most shards one node should hold with `live` nodes up.
    pub fn fair_share(&self, live: usize) -> usize {
        (self.shards.get() as usize).div_ceil(live.max(1))
    }

    /// Decides this round.
    pub fn plan(&self, view: &View<'_>) -> Plan {
        let fair = self.fair_share(view.live.len());
        if view.held.len() > fair {
            let release = view
                .held
                .iter()
                .copied()
                .max_by_key(|shard| (rank(view.me, view.live, *shard), shard.get()));
            return Plan {
                acquire: Vec::new(),
                release,
            };
        }
        let room = fair - view.held.len();
        let mut ready: Vec<(usize, ShardId)> = view
            .free_since
            .iter()
            .filter_map(|(shard, since)| {
                let rank = rank(view.me, view.live, *shard);
                let wait = self
                    .stagger
                    .saturating_mul(u32::try_from(rank).unwrap_or(u32::MAX));
                (view.now.saturating_duration_since(*since) >= wait).then_some((rank, *shard))
            })
            .collect();
        ready.sort_unstable();
        Plan {
            acquire: ready
                .into_iter()
                .take(room)
                .map(|(_, shard)| shard)
                .collect(),
            release: None,
        }
    }
}

/// Where `me` ranks among the live nodes for `shard` (0: first), by rendezvous hashing.
/// A node missing from `live` (its heartbeat not yet seen) ranks after all of them.
pub fn rank(me: &NodeId, live: &BTreeSet<NodeId>, shard: ShardId) -> usize {
    let mine = score(me, shard);
    live.iter()
        .filter(|node| *node != me)
        .filter(|node| (score(node, shard), node.as_str()) > (mine, me.as_str()))
        .count()
}

fn score(node: &NodeId, shard: ShardId) -> u32 {
    crc32c::crc32c_append(
        crc32c::crc32c(node.as_str().as_bytes()),
        &shard.get().to_be_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(names: &[&str]) -> BTreeSet<NodeId> {
        names
            .iter()
            .map(|name| NodeId::parse(name).unwrap())
            .collect()
    }

    fn rules(shards: u32) -> Rules {
        Rules {
            shards: ShardCount::new(shards).unwrap(),
            stagger: Duration::from_millis(500),
        }
    }

    #[test]
    fn every_shard_has_exactly_one_first_ranked_node() {
        let live = nodes(&["a", "b", "c"]);
        for shard in ShardCount::new(64).unwrap().all() {
            let ranks: BTreeSet<usize> = live.iter().map(|node| rank(node, &live, shard)).collect();
            assert_eq!(ranks, BTreeSet::from([0, 1, 2]), "{shard:?}");
        }
    }

    #[test]
    fn the_first_ranked_node_takes_at_once_the_others_after_their_stagger() {
        let live = nodes(&["a", "b", "c"]);
        let rules = rules(1);
        let shard = ShardId::new(0);
        let now = Instant::now();
        let free = BTreeMap::from([(shard, now)]);
        let held = BTreeSet::new();
        for node in &live {
            let rank = rank(node, &live, shard);
            let at = |now| {
                rules.plan(&View {
                    me: node,
                    live: &live,
                    held: &held,
                    free_since: &free,
                    now,
                })
            };
            assert_eq!(at(now).acquire.is_empty(), rank > 0, "rank {rank} at once");
            let later = now + rules.stagger * u32::try_from(rank).unwrap();
            assert_eq!(
                at(later).acquire,
                vec![shard],
                "rank {rank} after its stagger"
            );
        }
    }

    #[test]
    fn a_node_takes_no_more_than_its_fair_share() {
        let live = nodes(&["a", "b"]);
        let rules = rules(16);
        let me = NodeId::parse("a").unwrap();
        let now = Instant::now();
        let long_ago = now.checked_sub(Duration::from_secs(60)).unwrap_or(now);
        let free: BTreeMap<_, _> = rules.shards.all().map(|shard| (shard, long_ago)).collect();
        let held = BTreeSet::new();
        let plan = rules.plan(&View {
            me: &me,
            live: &live,
            held: &held,
            free_since: &free,
            now,
        });
        assert_eq!(plan.acquire.len(), 8);
        assert_eq!(plan.release, None);
    }

    #[test]
    fn a_node_over_its_share_gives_up_its_lowest_ranked_shard() {
        let live = nodes(&["a", "b", "c"]);
        let rules = rules(16);
        let me = NodeId::parse("a").unwrap();
        let held: BTreeSet<ShardId> = rules.shards.all().collect();
        let now = Instant::now();
        let plan = rules.plan(&View {
            me: &me,
            live: &live,
            held: &held,
            free_since: &BTreeMap::new(),
            now,
        });
        let released = plan.release.expect("over its share of 6");
        assert!(plan.acquire.is_empty());
        let worst = held
            .iter()
            .map(|shard| rank(&me, &live, *shard))
            .max()
            .unwrap();
        assert_eq!(rank(&me, &live, released), worst);
        assert_eq!(rules.fair_share(3), 6);
    }
}
