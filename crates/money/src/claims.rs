//! Red-packet claims: journal `claiming`, pay outside the writer, journal the result.
//!
//! Exactly one payout per packet, across crashes: the payout's idempotency key is the order
//! id, and `claiming` is durable before the provider is called. A claim that finds the order
//! `claiming` with nobody in this process paying (a crash, or a lost payout answer) resolves
//! it by asking the provider about that key ([`Payout::query`]), never by paying blind.
//!
//! Concurrent claims of one order in this process: the first takes the order's entry in
//! [`Claims`]; the others wait (polling, at most [`CLAIM_WAIT`]) and then answer the first
//! one's result (`claimed`, same payout id), or `InProgress` if it is still running.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use stampede_core::{
    ClaimStart, InvalidTransition, Order, OrderId, PayoutId, PayoutResult, UserId,
};
use stampede_engine::{Engine, EngineError};
use tokio::time::timeout;

use crate::payout::{Payout, PayoutError};

/// Longest wait for another claim of the same order in this process before answering
/// `InProgress`: a payout slower than this is also cut off by [`PAYOUT_TIMEOUT`].
pub const CLAIM_WAIT: Duration = Duration::from_secs(5);
/// How often a waiting claim looks again.
const CLAIM_POLL: Duration = Duration::from_millis(5);
/// Longest payout call; past it the outcome is unknown and the order stays `claiming` until a
/// later claim (or a restart) resolves it through `query`.
pub const PAYOUT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a cluster shard's new leader lets the claims it finds `claiming` be before
/// settling them: a claim started through another node may still be calling its payout
/// (at most [`PAYOUT_TIMEOUT`], after waiting at most [`CLAIM_WAIT`] for its turn), and
/// settling it meanwhile would race that call.
pub const LEADER_CLAIM_QUIET: Duration =
    Duration::from_secs(PAYOUT_TIMEOUT.as_secs() + CLAIM_WAIT.as_secs() + 1);
/// Most claims handled at once in this process; more answer `overloaded`. One per in-flight
/// request at most, so the in-flight request limit is usually lower.
pub const MAX_CLAIMS_IN_FLIGHT: usize = 10_000;

/// What a claim came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// Paid out (now or by an earlier claim): the order and its payout.
    Claimed(Order, PayoutId),
    /// The provider declined: nothing paid, the order is `won` again.
    Declined(Order, String),
    /// Another claim of this order is still running after [`CLAIM_WAIT`].
    InProgress,
    /// No such order, or not the requester's.
    NotFound,
    /// Not a red packet, or its claim expired.
    InvalidTransition(InvalidTransition),
}

/// Red-packet claims in this process: the engine to journal through, the payout provider,
/// and the orders whose claim is being handled here.
#[derive(Clone)]
pub struct Claims {
    engine: Engine,
    payout: Arc<dyn Payout>,
    in_flight: Arc<Mutex<HashSet<OrderId>>>,
}

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claims")
            .field("in_flight", &self.in_flight.lock().len())
            .finish_non_exhaustive()
    }
}

/// This process's hold on one order's claim; released on drop.
struct ClaimEntry {
    claims: Arc<Mutex<HashSet<OrderId>>>,
    order: OrderId,
}

impl Drop for ClaimEntry {
    fn drop(&mut self) {
        self.claims.lock().remove(&self.order);
    }
}

impl Claims {
    /// Claims paid out through `payout`, journaled through `engine`.
    pub fn new(engine: Engine, payout: Arc<dyn Payout>) -> Self {
        Self {
            engine,
            payout,
            in_flight: Arc::default(),
        }
    }

    /// The payout provider.
    pub fn payout(&self) -> &Arc<dyn Payout> {
        &self.payout
    }

    /// Claims a red packet for `by` (`None`: the admin) and pays it out. Idempotent: a
    /// repeated or concurrent claim answers the first one's payout.
    ///
    /// The payout runs on its own task, so a client that goes away mid-claim does not leave
    /// the order `claiming`.
    pub async fn claim(
        &self,
        order: OrderId,
        by: Option<UserId>,
    ) -> Result<ClaimOutcome, EngineError> {
        let Some(entry) = self.enter_claim(order).await? else {
            return Ok(ClaimOutcome::InProgress);
        };
        let claims = self.clone();
        tokio::spawn(async move {
            let _entry = entry;
            claims.claim_held(order, by).await
        })
        .await
        .map_err(|e| EngineError::Unavailable(format!("claim task failed: {e}")))?
    }

    /// Resolves every order left `claiming` (run at start-up, before serving): paid under its
    /// key → `claimed`; definitely not paid → `won`. Answers how many were resolved; an
    /// unknown answer leaves the order `claiming` for a later claim to resolve.
    pub async fn resolve_claims(&self) -> Result<usize, EngineError> {
        let claiming = self.engine.inspect(|ledger| ledger.claiming_orders());
        self.resolve_orders(claiming).await
    }

    /// Resolves the orders left `claiming` when a cluster node becomes the shard's leader,
    /// once `quiet` has passed (see [`LEADER_CLAIM_QUIET`]) and only those still `claiming`
    /// then: a claim that was in flight on a live node has ended by itself by then; what is
    /// left was stranded by a crash or a lost payout answer. Answers how many were resolved.
    pub async fn resolve_claims_after(&self, quiet: Duration) -> Result<usize, EngineError> {
        let claiming = self.engine.inspect(|ledger| ledger.claiming_orders());
        if claiming.is_empty() {
            return Ok(0);
        }
        tokio::time::sleep(quiet).await;
        self.resolve_orders(claiming).await
    }

    /// Resolves each of `claiming` that is still `claiming` (and not being claimed in this
    /// process).
    async fn resolve_orders(&self, claiming: Vec<OrderId>) -> Result<usize, EngineError> {
        let mut resolved = 0;
        for id in claiming {
            let Some(_entry) = self.enter_claim(id).await? else {
                continue;
            };
            let Some(order) = self.engine.order(id) else {
                continue;
            };
            if order.state == stampede_core::OrderState::Claiming {
                self.resolve(&order).await?;
                resolved += 1;
            }
        }
        Ok(resolved)
    }

    /// Takes this process's hold on `order`'s claim, waiting up to [`CLAIM_WAIT`] for another
    /// holder; `None` if it is still held then.
    async fn enter_claim(&self, order: OrderId) -> Result<Option<ClaimEntry>, EngineError> {
        let polls = CLAIM_WAIT.as_millis() / CLAIM_POLL.as_millis();
        for _ in 0..polls {
            {
                let mut claims = self.in_flight.lock();
                if !claims.contains(&order) {
                    if claims.len() >= MAX_CLAIMS_IN_FLIGHT {
                        return Err(EngineError::Overloaded);
                    }
                    claims.insert(order);
                    return Ok(Some(ClaimEntry {
                        claims: Arc::clone(&self.in_flight),
                        order,
                    }));
                }
            }
            tokio::time::sleep(CLAIM_POLL).await;
        }
        Ok(None)
    }

    /// The claim, with this process's hold on the order taken.
    async fn claim_held(
        &self,
        id: OrderId,
        by: Option<UserId>,
    ) -> Result<ClaimOutcome, EngineError> {
        // Twice at most: a `claiming` order resolved back to `won` is then claimed afresh.
        for _ in 0..2 {
            match self.engine.start_claim(id, by.clone()).await? {
                ClaimStart::NotFound => return Ok(ClaimOutcome::NotFound),
                ClaimStart::InvalidTransition(t) => return Ok(ClaimOutcome::InvalidTransition(t)),
                ClaimStart::Claimed(order, payout_id) => {
                    return Ok(ClaimOutcome::Claimed(order, payout_id));
                }
                ClaimStart::Started(order) => return self.pay(&order).await,
                ClaimStart::InFlight(order) => {
                    if let Some(outcome) = self.resolve(&order).await? {
                        return Ok(outcome);
                    }
                }
            }
        }
        Err(EngineError::Unavailable(
            "the claim could not be settled; retry".into(),
        ))
    }

    /// Pays a `claiming` order out and journals the result.
    async fn pay(&self, order: &Order) -> Result<ClaimOutcome, EngineError> {
        let key = order.id.to_string();
        let paid = timeout(
            PAYOUT_TIMEOUT,
            self.payout
                .pay(order.id, &order.user_id, order.amount_cents, &key),
        )
        .await
        .unwrap_or_else(|e| Err(PayoutError::Unknown(format!("payout {e}"))));
        match paid {
            Ok(receipt) => {
                self.settled(order.id, PayoutResult::Paid(receipt.payout_id))
                    .await
            }
            Err(PayoutError::Declined(why)) => {
                self.engine
                    .finish_claim(order.id, PayoutResult::NotPaid)
                    .await?;
                let (order, _) = self.claim_state(order.id).await?;
                Ok(ClaimOutcome::Declined(order, why))
            }
            Err(unknown @ PayoutError::Unknown(_)) => Err(EngineError::Unavailable(format!(
                "{unknown}; the claim is settled by the next claim"
            ))),
        }
    }

    /// Settles a `claiming` order nobody is paying by asking the provider about its key:
    /// `Some(claimed)` if it was paid, `None` (order back to `won`) if it definitely was not.
    async fn resolve(&self, order: &Order) -> Result<Option<ClaimOutcome>, EngineError> {
        let key = order.id.to_string();
        let found = timeout(PAYOUT_TIMEOUT, self.payout.query(&key))
            .await
            .unwrap_or_else(|e| Err(PayoutError::Unknown(format!("payout query {e}"))))
            .map_err(|e| EngineError::Unavailable(format!("cannot settle the claim: {e}")))?;
        match found {
            Some(receipt) => self
                .settled(order.id, PayoutResult::Paid(receipt.payout_id))
                .await
                .map(Some),
            None => {
                self.engine
                    .finish_claim(order.id, PayoutResult::NotPaid)
                    .await?;
                Ok(None)
            }
        }
    }

    /// Journals a payout and answers the order as claimed.
    async fn settled(
        &self,
        id: OrderId,
        result: PayoutResult,
    ) -> Result<ClaimOutcome, EngineError> {
        self.engine.finish_claim(id, result).await?;
        let (order, payout_id) = self.claim_state(id).await?;
        let payout_id = payout_id
            .ok_or_else(|| EngineError::Unavailable("the payout was not recorded".into()))?;
        Ok(ClaimOutcome::Claimed(order, payout_id))
    }

    /// The order and its payout id as shown to the claimant once the claim's result is
    /// journaled: durable state only ([`Engine::read_durable`]; the raw ledger may already
    /// show a later batch the journal could still lose).
    async fn claim_state(&self, id: OrderId) -> Result<(Order, Option<PayoutId>), EngineError> {
        self.engine
            .read_durable(|ledger| ledger.order(id).map(|order| (order, ledger.payout_id(id))))
            .await?
            .ok_or_else(vanished)
    }
}

fn vanished() -> EngineError {
    EngineError::Unavailable("a claimed order vanished".into())
}
