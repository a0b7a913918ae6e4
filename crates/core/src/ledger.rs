//! The ledger: every campaign and every order, the pure state machine the engine drives.
//!
//! Each operation is "decide, then apply": a grab decides (stock, limits, a packet amount, a new
//! order id) and produces a [`Record`]; [`Ledger::apply`] applies that record. Journal replay
//! calls the same `apply`, so what was answered and what is rebuilt cannot differ.

use std::collections::HashMap;

use rand::Rng;

use crate::campaign::Campaign;
use crate::ids::{CampaignId, OrderId, UserId, uuid_v7_bits};
use crate::money::UnixMillis;
use crate::order::Order;
use crate::outcome::{GrabOutcome, OrderTicket};
use crate::record::Record;
use crate::spec::{CampaignSpec, SpecError};

/// Most campaigns one engine holds. Each campaign carries a metrics series and a published
/// read-side entry; 10,000 is far above any shop's concurrent flash sales and keeps both bounded.
pub const MAX_CAMPAIGNS: usize = 10_000;

/// Most attempts at drawing an unused 128-bit id before declaring the RNG broken: a collision
/// among 74 random bits within one millisecond is practically impossible, twice in a row
/// means the RNG is not random.
const MAX_ID_DRAWS: usize = 8;

/// Why a campaign could not be created.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CreateError {
    /// A field breaks a rule.
    #[error(transparent)]
    Invalid(#[from] SpecError),
    /// [`MAX_CAMPAIGNS`] reached.
    #[error("at most {MAX_CAMPAIGNS} campaigns")]
    TooManyCampaigns,
}

/// A record that cannot be applied: the journal holds something this ledger never wrote.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("journal record cannot be applied: {0}")]
pub struct ApplyError(pub String);

/// Where an order lives.
#[derive(Clone, Copy, Debug)]
struct OrderLocation {
    campaign: u32,
    index: u32,
}

/// The result of a grab: the outcome to answer, and the record to journal before answering
/// (only for a new win).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grab {
    /// What to tell the user.
    pub outcome: GrabOutcome,
    /// The fact to make durable first, if any.
    pub record: Option<Record>,
}

/// All campaigns and orders.
#[derive(Debug, Default)]
pub struct Ledger {
    campaigns: Vec<Campaign>,
    by_id: HashMap<CampaignId, u32>,
    orders: HashMap<OrderId, OrderLocation>,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decides a campaign creation and applies it; returns the record to journal.
    pub fn create_campaign(
        &mut self,
        spec: CampaignSpec,
        now: UnixMillis,
        rng: &mut impl Rng,
    ) -> Result<Record, CreateError> {
        spec.validate()?;
        if self.campaigns.len() >= MAX_CAMPAIGNS {
            return Err(CreateError::TooManyCampaigns);
        }
        let id = (0..MAX_ID_DRAWS)
            .map(|_| CampaignId(uuid_v7_bits(now.0, rng.random())))
            .find(|id| !self.by_id.contains_key(id))
            .expect("RNG produced colliding campaign ids repeatedly");
        let record = Record::CampaignCreated {
            id,
            spec,
            created_at: now,
        };
        self.apply(&record)
            .expect("a freshly decided campaign applies");
        Ok(record)
    }

    /// Decides one grab by `user` at `now` and applies it if it wins.
    pub fn grab(
        &mut self,
        campaign_id: CampaignId,
        user: &UserId,
        now: UnixMillis,
        rng: &mut impl Rng,
    ) -> Grab {
        let rejected = |outcome| Grab {
            outcome,
            record: None,
        };
        let Some(&slot) = self.by_id.get(&campaign_id) else {
            return rejected(GrabOutcome::CampaignNotFound);
        };
        let campaign = &self.campaigns[slot as usize];
        if let Some(ticket) = campaign.holding_limit(user.as_str()) {
            return rejected(GrabOutcome::AlreadyWon(ticket));
        }
        let common = campaign.spec().common();
        if common.starts_at.is_some_and(|s| now < s) {
            return rejected(GrabOutcome::NotStarted);
        }
        if common.ends_at.is_some_and(|e| now >= e) {
            return rejected(GrabOutcome::Ended);
        }
        let Some(amount_cents) = campaign.next_amount(rng) else {
            return rejected(GrabOutcome::SoldOut);
        };
        let order_id = (0..MAX_ID_DRAWS)
            .map(|_| OrderId(uuid_v7_bits(now.0, rng.random())))
            .find(|id| !self.orders.contains_key(id))
            .expect("RNG produced colliding order ids repeatedly");
        let record = Record::Won {
            campaign_id,
            order_id,
            user_id: user.clone(),
            amount_cents,
            won_at: now,
        };
        self.apply(&record).expect("a freshly decided win applies");
        Grab {
            outcome: GrabOutcome::Won(OrderTicket {
                order_id,
                amount_cents,
            }),
            record: Some(record),
        }
    }

    /// Applies a record (live or replayed). Checks it fully first, so an error changes nothing.
    pub fn apply(&mut self, record: &Record) -> Result<(), ApplyError> {
        match record {
            Record::CampaignCreated {
                id,
                spec,
                created_at,
            } => {
                spec.validate()
                    .map_err(|e| ApplyError(format!("campaign {id}: {e}")))?;
                if self.by_id.contains_key(id) {
                    return Err(ApplyError(format!("campaign {id} created twice")));
                }
                if self.campaigns.len() >= MAX_CAMPAIGNS {
                    return Err(ApplyError("more than MAX_CAMPAIGNS campaigns".into()));
                }
                let slot = u32::try_from(self.campaigns.len()).expect("bounded by MAX_CAMPAIGNS");
                self.campaigns
                    .push(Campaign::new(*id, spec.clone(), *created_at));
                self.by_id.insert(*id, slot);
                Ok(())
            }
            Record::Won {
                campaign_id,
                order_id,
                user_id,
                amount_cents,
                won_at,
            } => {
                let &slot = self
                    .by_id
                    .get(campaign_id)
                    .ok_or_else(|| ApplyError(format!("win in unknown campaign {campaign_id}")))?;
                if self.orders.contains_key(order_id) {
                    return Err(ApplyError(format!("order {order_id} created twice")));
                }
                let campaign = &mut self.campaigns[slot as usize];
                campaign
                    .check_win(user_id, *amount_cents)
                    .map_err(|why| ApplyError(format!("order {order_id}: {why}")))?;
                let index = campaign.apply_win(*order_id, user_id, *amount_cents, *won_at);
                self.orders.insert(
                    *order_id,
                    OrderLocation {
                        campaign: slot,
                        index,
                    },
                );
                Ok(())
            }
        }
    }

    /// A campaign by id.
    pub fn campaign(&self, id: CampaignId) -> Option<&Campaign> {
        self.by_id
            .get(&id)
            .map(|&slot| &self.campaigns[slot as usize])
    }

    /// Every campaign, in creation order.
    pub fn campaigns(&self) -> impl Iterator<Item = &Campaign> {
        self.campaigns.iter()
    }

    /// An order by id.
    pub fn order(&self, id: OrderId) -> Option<Order> {
        let loc = self.orders.get(&id)?;
        self.campaigns[loc.campaign as usize].order_at(loc.index)
    }

    /// Number of orders across all campaigns.
    pub fn order_count(&self) -> usize {
        self.orders.len()
    }

    /// Checks every invariant of every campaign (O(orders)); run after replay and in tests.
    pub fn assert_invariants(&self) {
        assert_eq!(
            self.by_id.len(),
            self.campaigns.len(),
            "campaign index out of step"
        );
        let mut orders = 0;
        for c in &self.campaigns {
            c.assert_invariants();
            orders += c.order_count();
        }
        assert_eq!(orders, self.orders.len(), "order index out of step");
    }
}
