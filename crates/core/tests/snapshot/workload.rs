//! A seeded random workload over every kind of ledger change: campaign creations (seckill
//! with and without regrab, red packets), grabs, cancels, passive and batch expiry, payment
//! starts, payments (settling, late, duplicate, conflicting, wrong amounts), refund
//! confirmations, red-packet claims paid and declined, and the query schedule's soft state.
//! Each step reads the ledger to aim at orders that exist, so most commands change something.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stampede_core::*;

/// Most campaigns the workload creates: enough for several of each kind in one ledger.
const MAX_WORKLOAD_CAMPAIGNS: usize = 6;
/// Users the workload grabs as: few, so per-user limits are met often.
const USERS: u32 = 12;
/// Transaction ids the workload draws from: few, so duplicates and conflicts happen.
const TXN_IDS: u32 = 40;

/// One thing to do to a ledger at a time.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    /// [`Ledger::decide`].
    Decide(Command, UnixMillis),
    /// [`Ledger::expire_due`] (the writer's expiry pass).
    ExpireDue(UnixMillis),
    /// [`Ledger::take_stale_paying`] (soft state: no record).
    TakeStale(UnixMillis),
}

/// What a step came to: the decision's outcome and record, or the expiry pass's records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Done {
    Decided(Box<(Outcome, Option<Record>)>),
    Expired(Vec<Record>),
    Stale(Vec<StalePaying>),
}

impl Step {
    /// Does the step to `ledger`, drawing from `rng` (order ids, packets) as the writer does.
    pub(crate) fn run(self, ledger: &mut Ledger, rng: &mut ChaCha8Rng) -> Done {
        match self {
            Step::Decide(command, now) => {
                let decision = ledger.decide(command, now, rng);
                Done::Decided(Box::new((decision.outcome, decision.record)))
            }
            Step::ExpireDue(now) => Done::Expired(ledger.expire_due(now, 16)),
            Step::TakeStale(now) => Done::Stale(ledger.take_stale_paying(now, 3_000, 8)),
        }
    }
}

impl Done {
    /// The records the step produced, to journal.
    pub(crate) fn records(&self) -> Vec<Record> {
        match self {
            Done::Decided(decided) => decided.1.iter().cloned().collect(),
            Done::Expired(records) => records.clone(),
            Done::Stale(_) => Vec::new(),
        }
    }
}

/// Draws steps.
pub(crate) struct Workload {
    rng: ChaCha8Rng,
    now: u64,
}

fn common() -> CommonSpec {
    CommonSpec {
        name: "snapshot".into(),
        starts_at: None,
        ends_at: None,
    }
}

impl Workload {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            now: 1_700_000_000_000,
        }
    }

    fn spec(&mut self) -> CampaignSpec {
        let r = &mut self.rng;
        if r.random_bool(0.6) {
            CampaignSpec::Seckill(SeckillSpec {
                common: common(),
                stock: r.random_range(1..30),
                per_user_limit: r.random_range(1..4),
                price_cents: Cents(r.random_range(1..1_000)),
                payment_window_secs: r.random_range(5..30),
                regrab_after_release: r.random_bool(0.5),
            })
        } else {
            let count = r.random_range(1..20);
            let min = r.random_range(1..5);
            CampaignSpec::RedPacket(RedPacketSpec {
                common: common(),
                total_cents: Cents(count * min + r.random_range(0..2_000)),
                count,
                min_cents: Cents(min),
                claim_window_secs: r.random_range(5..30),
            })
        }
    }

    /// A random existing order: its id, user and amount.
    fn order(&mut self, ledger: &Ledger) -> Option<Order> {
        let campaigns: Vec<&Campaign> = ledger.campaigns().collect();
        if campaigns.is_empty() {
            return None;
        }
        let campaign = campaigns[self.rng.random_range(0..campaigns.len())];
        if campaign.order_count() == 0 {
            return None;
        }
        let index = self.rng.random_range(0..campaign.order_count()) as u32;
        campaign.order_at(index)
    }

    fn channel(&mut self) -> ChannelName {
        let name = if self.rng.random_bool(0.7) {
            "sim"
        } else {
            "alt"
        };
        ChannelName::parse(name).unwrap()
    }

    fn payment(&mut self, amount: Cents) -> Payment {
        let amount = if self.rng.random_bool(0.05) {
            Cents(amount.0 + 1)
        } else {
            amount
        };
        Payment {
            channel: self.channel(),
            txn_id: format!("t{}", self.rng.random_range(0..TXN_IDS)),
            amount_cents: amount,
            paid_at: UnixMillis(self.now),
        }
    }

    /// The next step for `ledger`.
    pub(crate) fn next(&mut self, ledger: &Ledger) -> Step {
        self.now += self.rng.random_range(0..2_500);
        let now = UnixMillis(self.now);
        let campaigns = ledger.campaigns().count();
        let kind = self.rng.random_range(0..100);
        if campaigns == 0 || (kind < 4 && campaigns < MAX_WORKLOAD_CAMPAIGNS) {
            let spec = self.spec();
            return Step::Decide(Command::CreateCampaign { spec }, now);
        }
        if kind < 8 {
            return Step::ExpireDue(now);
        }
        if kind < 11 {
            return Step::TakeStale(now);
        }
        if kind < 50 {
            let ids: Vec<CampaignId> = ledger.campaigns().map(Campaign::id).collect();
            let campaign = ids[self.rng.random_range(0..ids.len())];
            let user = UserId::parse(&format!("u{}", self.rng.random_range(0..USERS))).unwrap();
            // Some grabs carry a key from a small set, so snapshots hold keyed wins and
            // restored ledgers must answer their retries as the original does.
            let key = self
                .rng
                .random_ratio(1, 3)
                .then(|| GrabKey::parse(&format!("k{}", self.rng.random_range(0..3))).unwrap());
            return Step::Decide(
                Command::Grab {
                    campaign,
                    user,
                    key,
                },
                now,
            );
        }
        let Some(order) = self.order(ledger) else {
            return Step::ExpireDue(now);
        };
        let owner = Some(order.user_id.clone());
        let command = match kind {
            50..56 => Command::Cancel {
                order: order.id,
                by: if self.rng.random_bool(0.8) {
                    owner
                } else {
                    None
                },
            },
            56..60 => Command::Expire { order: order.id },
            60..66 => Command::StartClaim {
                order: order.id,
                by: owner,
            },
            66..72 => Command::FinishClaim {
                order: order.id,
                result: if self.rng.random_bool(0.7) {
                    PayoutResult::Paid(PayoutId::parse(format!("p{}", self.now)).unwrap())
                } else {
                    PayoutResult::NotPaid
                },
            },
            72..84 => Command::StartPayment {
                order: order.id,
                by: order.user_id.clone(),
                channel: self.channel(),
            },
            84..96 => Command::RecordPayment {
                order: order.id,
                payment: self.payment(order.amount_cents),
            },
            _ => {
                let refunds = ledger.pending_refunds(8);
                let Some(refund) = refunds.first() else {
                    return Step::ExpireDue(now);
                };
                Command::ConfirmRefund {
                    order: refund.order_id,
                    payment: refund.payment.clone(),
                    refund_id: format!("r{}", self.now),
                }
            }
        };
        Step::Decide(command, now)
    }
}
