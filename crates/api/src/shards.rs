//! The services each shard of the campaign space runs on this node. A single node has one
//! shard: every campaign, order and job is its. A cluster node has one per shard of the
//! cluster (`shards`, default 16): the shard's engine is its writer where the node leads the
//! shard, and a follower — answering reads from the state it applies, handing commands to
//! the leader — elsewhere; the node replaces a shard's services when its role changes.
//!
//! Which shard: a campaign's is `stampede_core::shard_index` of its id; an order's is the
//! one whose ledger knows its id (an order id enciphers its place under its shard's key, so
//! only that ledger deciphers it to an order).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;
use stampede_core::{CampaignId, OrderId};

use stampede_engine::Engine;
use stampede_money::{Claims, Payments, Reconciler};

/// The services the HTTP layer fronts for one shard.
#[derive(Clone, Debug)]
pub struct Services {
    /// The engine.
    pub engine: Engine,
    /// The payments service.
    pub payments: Arc<Payments>,
    /// Red-packet claims.
    pub claims: Claims,
    /// Reconciliation against the channels.
    pub reconciler: Arc<Reconciler>,
}

/// Every shard's services on this node.
///
/// A single node's one shard never changes: it is held as is and lent out
/// ([`ShardRef::Fixed`]), so the grab path pays no lock and no reference count for it. A
/// cluster node's shards change roles, so each is an `Arc` behind a lock, swapped whole.
#[derive(Debug)]
pub struct ShardSet {
    /// A single node's services.
    fixed: Option<Services>,
    /// A cluster node's, one per shard.
    shards: Box<[RwLock<Arc<Services>>]>,
    /// Campaigns created through this node: spreads creations over the shards.
    creations: AtomicU64,
}

/// One shard's services, as [`ShardSet`] hands them out.
#[derive(Clone, Debug)]
pub enum ShardRef<'a> {
    /// A single node's (borrowed: they never change).
    Fixed(&'a Services),
    /// A cluster shard's, as they were when asked for (a role change swaps them).
    Current(Arc<Services>),
}

impl std::ops::Deref for ShardRef<'_> {
    type Target = Services;

    fn deref(&self) -> &Services {
        match self {
            ShardRef::Fixed(services) => services,
            ShardRef::Current(services) => services,
        }
    }
}

impl ShardSet {
    /// A single node: one shard, which never changes.
    pub fn single(services: Services) -> Self {
        Self {
            fixed: Some(services),
            shards: Box::new([]),
            creations: AtomicU64::new(0),
        }
    }

    /// A cluster node: one entry per shard, in shard order (at least one).
    pub fn new(shards: Vec<Services>) -> Self {
        assert!(!shards.is_empty(), "a node runs at least one shard");
        Self {
            fixed: None,
            shards: shards
                .into_iter()
                .map(|services| RwLock::new(Arc::new(services)))
                .collect(),
            creations: AtomicU64::new(0),
        }
    }

    /// How many shards.
    pub fn count(&self) -> u32 {
        match self.fixed {
            Some(_) => 1,
            None => self.shards.len() as u32,
        }
    }

    /// Shard `index`'s services (`index < count`).
    pub fn shard(&self, index: u32) -> ShardRef<'_> {
        match &self.fixed {
            Some(services) => ShardRef::Fixed(services),
            None => ShardRef::Current(Arc::clone(&self.shards[index as usize].read())),
        }
    }

    /// Puts `services` in place of shard `index`'s (a cluster node's role change); answers
    /// the old ones.
    ///
    /// # Panics
    /// On a single node, whose one shard never changes.
    pub fn replace(&self, index: u32, services: Services) -> Arc<Services> {
        assert!(
            self.fixed.is_none(),
            "a single node's shard is never replaced"
        );
        std::mem::replace(&mut self.shards[index as usize].write(), Arc::new(services))
    }

    /// The shard of `campaign`.
    pub fn for_campaign(&self, campaign: CampaignId) -> ShardRef<'_> {
        match self.count() {
            1 => self.shard(0),
            count => self.shard(stampede_core::shard_index(campaign, count)),
        }
    }

    /// The shard whose ledger holds order `id` (shard 0's when none does: its engine answers
    /// not found like any other), for a read that must show every write acknowledged before
    /// it began: when no ledger here knows the order, every follower first catches up with
    /// its shard's log, and the shards are looked through again.
    ///
    /// # Errors
    /// A shard's log could not be caught up with in time.
    pub async fn for_order_caught_up<'a>(
        &'a self,
        id: OrderId,
    ) -> Result<ShardRef<'a>, stampede_engine::EngineError> {
        if self.count() == 1 {
            return Ok(self.shard(0));
        }
        let found = |all: Vec<ShardRef<'a>>| {
            all.into_iter()
                .find(|services| services.engine.order(id).is_some())
        };
        if let Some(services) = found(self.all()) {
            return Ok(services);
        }
        for services in self.all() {
            services.engine.catch_up().await?;
        }
        Ok(found(self.all()).unwrap_or_else(|| self.shard(0)))
    }

    /// Where a new campaign is created: a shard this node writes if there is one (the next
    /// of them in turn, so creations spread), else the next shard in turn (its leader
    /// decides, through the follower's engine).
    pub fn for_new_campaign(&self) -> ShardRef<'_> {
        let n = self.creations.fetch_add(1, Ordering::Relaxed);
        let all = self.all();
        let writing: Vec<&ShardRef<'_>> = all.iter().filter(|s| s.engine.is_writer()).collect();
        match writing.len() {
            0 => all[(n % all.len() as u64) as usize].clone(),
            written => writing[(n % written as u64) as usize].clone(),
        }
    }

    /// Shard 0's services: on a single node, the only ones. In a cluster, the node-wide
    /// parts they share (the clock, the payment desk) are read through it.
    pub fn home(&self) -> ShardRef<'_> {
        self.shard(0)
    }

    /// Every shard's services, in shard order.
    pub fn all(&self) -> Vec<ShardRef<'_>> {
        (0..self.count()).map(|index| self.shard(index)).collect()
    }

    /// Whether a journal this node writes has failed: its engine refuses every write until
    /// restarted (a cluster node's fenced writer only until it steps down).
    pub fn journal_failed(&self) -> bool {
        self.all()
            .iter()
            .any(|s| s.engine.is_writer() && s.engine.is_poisoned())
    }
}
