//! What arrives at the writer's queue before a step: client requests (creations, grabs,
//! cancels, payment starts, claims, reads that expire), the channel's callbacks, the payout
//! provider's results, and the jobs' work (queries, refunds, claim settlement, expiry passes),
//! drawn from the seed and shuffled into one arrival order.

use rand::Rng;
use rand::seq::SliceRandom;
use stampede_core::{
    CampaignId, CampaignSpec, Cents, Command, CommonSpec, GrabKey, OrderId, OrderState, Payment,
    PayoutResult, RedPacketSpec, SeckillSpec, UnixMillis, UserId,
};

use crate::model::Won;
use crate::sim::{Queued, Sim, Waiting};
use crate::swarm::Kind;
use crate::world::MAX_PAYMENTS_PER_ORDER;

/// Most campaigns one run creates: enough for grabs to spread, few enough to sell out.
const MAX_CAMPAIGNS: usize = 6;
/// Idempotency keys a user draws from: few, so a key is often retried.
const KEYS_PER_USER: u32 = 3;
/// Most orders one query or refund pass takes (the real jobs take batches too).
const MAX_PER_PASS: usize = 8;
/// Longest payment or claim window the workload draws, in seconds.
pub(crate) const LONGEST_WINDOW_SECS: u64 = 300;

impl Sim {
    /// Draws this step's arrivals and queues them in a random order.
    pub(crate) fn arrivals(&mut self) {
        let mut wave = self.pay_started_claims();
        for _ in 0..self.rng.random_range(0..=self.swarm.max_arrivals) {
            let kind = self.swarm.kind(&mut self.rng);
            self.draw(kind, &mut wave);
        }
        wave.shuffle(&mut self.rng);
        self.queue.extend(wave);
    }

    fn draw(&mut self, kind: Kind, wave: &mut Vec<Queued>) {
        match kind {
            Kind::Create => {
                let pending = (self.queue.iter())
                    .filter(|q| {
                        matches!(
                            &q.waiting,
                            Waiting::Decide(Command::CreateCampaign { .. }, _)
                        )
                    })
                    .count();
                if self.acked.campaigns.len() + pending < MAX_CAMPAIGNS {
                    let spec = self.draw_spec();
                    wave.push(Queued::decide(Command::CreateCampaign { spec }));
                }
            }
            Kind::Grab => {
                let campaigns = &self.acked.campaigns;
                let campaign = if campaigns.is_empty() || self.rng.random_ratio(1, 50) {
                    CampaignId(self.rng.random())
                } else {
                    campaigns[self.rng.random_range(0..campaigns.len())].0
                };
                let user = self.users[self.rng.random_range(0..self.users.len())].clone();
                // A third of grabs carry an Idempotency-Key from a small set, so keys are
                // retried (before and after crashes) and their first win must come back.
                let key = self.rng.random_ratio(1, 3).then(|| {
                    let key = format!("k{}", self.rng.random_range(0..KEYS_PER_USER));
                    GrabKey::parse(&key).expect("a valid key")
                });
                wave.push(Queued::decide(Command::Grab {
                    campaign,
                    user,
                    key,
                }));
            }
            Kind::Cancel => {
                if let Some((order, won)) = self.pick_win(|_| true) {
                    let by = self.requester(&won.user);
                    wave.push(Queued::decide(Command::Cancel { order, by }));
                }
            }
            Kind::Expire => {
                if let Some((order, _)) = self.pick_win(|_| true) {
                    wave.push(Queued::decide(Command::Expire { order }));
                }
            }
            Kind::StartPayment => {
                if let Some((order, won)) = self.pick_win(|w| !w.red_packet) {
                    let by = self.requester(&won.user).unwrap_or(won.user);
                    let channel = if self.rng.random_ratio(1, 8) {
                        "alt"
                    } else {
                        "sim"
                    };
                    let channel = stampede_core::ChannelName::parse(channel).unwrap();
                    wave.push(Queued::decide(Command::StartPayment { order, by, channel }));
                }
            }
            Kind::Pay => self.customer_pays(wave),
            Kind::Redeliver => self.redeliver(wave),
            Kind::Query => {
                let paying: Vec<OrderId> = (self.image.in_state(OrderState::Paying))
                    .map(|o| o.id)
                    .take(MAX_PER_PASS)
                    .collect();
                for order in paying {
                    for payment in self.channel.payments_of(order) {
                        wave.push(Queued::decide(Command::RecordPayment { order, payment }));
                    }
                }
            }
            Kind::Refund => self.refund_pass(MAX_PER_PASS, 0.8, wave),
            Kind::Claim => {
                if let Some((order, won)) = self.pick_win(|w| w.red_packet) {
                    let by = self.requester(&won.user);
                    wave.push(Queued::decide(Command::StartClaim { order, by }));
                }
            }
            Kind::ResolveClaims => self.resolve_claims(wave),
            Kind::ExpirePass => wave.push(Queued::expire_pass()),
            Kind::Shutdown => wave.push(Queued::shutdown()),
        }
    }

    fn draw_spec(&mut self) -> CampaignSpec {
        let now = self.clock_now();
        let rng = &mut self.rng;
        let at = |rng: &mut rand_chacha::ChaCha8Rng, from: u64, to: u64| {
            rng.random_bool(0.15)
                .then(|| UnixMillis(now.0 + rng.random_range(from..=to)))
        };
        let common = CommonSpec {
            name: "vopr".into(),
            starts_at: at(rng, 0, 120_000),
            ends_at: at(rng, 60_000, 900_000),
        };
        let window = rng.random_range(20..=LONGEST_WINDOW_SECS);
        if rng.random_bool(0.6) {
            CampaignSpec::Seckill(SeckillSpec {
                common,
                // One spec in twelve is invalid (no stock): refused, nothing changes.
                stock: if rng.random_ratio(1, 12) {
                    0
                } else {
                    rng.random_range(1..=8)
                },
                per_user_limit: rng.random_range(1..=3),
                price_cents: Cents(rng.random_range(1..=5_000)),
                payment_window_secs: window,
                regrab_after_release: rng.random_bool(0.3),
            })
        } else {
            let count = rng.random_range(1..=8);
            let min = rng.random_range(1..=20);
            CampaignSpec::RedPacket(RedPacketSpec {
                common,
                total_cents: Cents(count * min + rng.random_range(0..=500)),
                count,
                min_cents: Cents(min),
                claim_window_secs: window,
            })
        }
    }

    /// A random acknowledged win that `filter` accepts.
    fn pick_win(&mut self, filter: impl Fn(&Won) -> bool) -> Option<(OrderId, Won)> {
        let wins: Vec<OrderId> = (self.acked.win_ids.iter())
            .filter(|id| filter(&self.acked.wins[id]))
            .copied()
            .collect();
        let order = *wins.get(self.rng.random_range(0..wins.len().max(1)))?;
        Some((order, self.acked.wins[&order].clone()))
    }

    /// Who asks about an order of `owner`: mostly the owner, sometimes the admin (`None`),
    /// sometimes another user.
    fn requester(&mut self, owner: &UserId) -> Option<UserId> {
        match self.rng.random_range(0..8) {
            0 => None,
            1 => {
                let other = &self.users[self.rng.random_range(0..self.users.len())];
                Some(other.clone())
            }
            _ => Some(owner.clone()),
        }
    }

    /// A customer pays an acknowledged seckill order at the channel (whatever its state: it
    /// may be paid already, cancelled or expired); the channel delivers the callback now
    /// zero, one or two times.
    fn customer_pays(&mut self, wave: &mut Vec<Queued>) {
        let Some((order, won)) = self.pick_win(|w| !w.red_packet) else {
            return;
        };
        if self.channel.payments_of(order).len() >= MAX_PAYMENTS_PER_ORDER {
            return;
        }
        let payment = self.channel.pay(order, won.amount, self.clock_now());
        let deliveries = match self.rng.random_range(0..10) {
            0 | 1 => 0,
            2 => 2,
            _ => 1,
        };
        for _ in 0..deliveries {
            let payment = payment.clone();
            wave.push(Queued::decide(Command::RecordPayment { order, payment }));
        }
    }

    /// The channel delivers a callback again: one not acknowledged yet, or any (a retry of
    /// one already recorded), one time in ten with a forged amount.
    fn redeliver(&mut self, wave: &mut Vec<Queued>) {
        let taken = self.channel.taken();
        let unacknowledged: Vec<usize> = (0..taken.len())
            .filter(|&i| !taken[i].acknowledged)
            .collect();
        let index = if !unacknowledged.is_empty() && self.rng.random_bool(0.7) {
            unacknowledged[self.rng.random_range(0..unacknowledged.len())]
        } else if !taken.is_empty() {
            self.rng.random_range(0..taken.len())
        } else {
            return;
        };
        let (order, mut payment): (OrderId, Payment) =
            (taken[index].order, taken[index].payment.clone());
        if self.rng.random_ratio(1, 10) {
            payment.amount_cents = Cents(payment.amount_cents.0 + 1);
        }
        wave.push(Queued::decide(Command::RecordPayment { order, payment }));
    }

    /// The refund job: reads at most `max` of the refunds the durable ledger owes (only while
    /// the writer is not stopped: a stopped writer's ledger may hold a failed batch), refunds
    /// each at the channel under its refund key, and confirms each receipt with probability
    /// `confirm` (otherwise the job died before confirming; the next pass asks again).
    pub(crate) fn refund_pass(&mut self, max: usize, confirm: f64, wave: &mut Vec<Queued>) {
        if self.writer().is_poisoned() {
            return;
        }
        let pending = self.writer().inspect(|l| l.pending_refunds(max));
        for refund in pending {
            let refund_id = self.channel.refund(refund.order_id, &refund.payment);
            if self.rng.random_bool(confirm) {
                let (order, payment) = (refund.order_id, refund.payment);
                wave.push(Queued::decide(Command::ConfirmRefund {
                    order,
                    payment,
                    refund_id,
                }));
            }
        }
    }

    /// Calls the payout of every claim acknowledged `started` since the last step: paid (the
    /// result is sent), declined (nothing paid; sent), or paid with the answer lost (nothing
    /// sent: the packet stays `claiming` until settled through the provider's query).
    fn pay_started_claims(&mut self) -> Vec<Queued> {
        let mut wave = Vec::new();
        for order in std::mem::take(&mut self.to_pay) {
            let amount = self.acked.wins[&order].amount;
            let result = match self.rng.random_range(0..20) {
                0..3 => match self.provider.query(order) {
                    Some(payout) => PayoutResult::Paid(payout),
                    None => PayoutResult::NotPaid,
                },
                3..6 => {
                    self.provider.pay(order, amount);
                    continue;
                }
                _ => PayoutResult::Paid(self.provider.pay(order, amount)),
            };
            wave.push(Queued::decide(Command::FinishClaim { order, result }));
        }
        wave
    }

    /// Settles durable `claiming` packets that nobody is paying (no result on its way) by the
    /// provider's query, never by paying again: paid → `claimed`, none → `won`.
    pub(crate) fn resolve_claims(&mut self, wave: &mut Vec<Queued>) {
        let finishing: Vec<OrderId> = (self.queue.iter().chain(wave.iter()))
            .filter_map(|q| match &q.waiting {
                Waiting::Decide(Command::FinishClaim { order, .. }, _) => Some(*order),
                _ => None,
            })
            .chain(self.to_pay.iter().copied())
            .collect();
        let claiming: Vec<OrderId> = (self.image.in_state(OrderState::Claiming))
            .map(|o| o.id)
            .filter(|id| !finishing.contains(id))
            .collect();
        for order in claiming {
            let result = match self.provider.query(order) {
                Some(payout) => PayoutResult::Paid(payout),
                None => PayoutResult::NotPaid,
            };
            wave.push(Queued::decide(Command::FinishClaim { order, result }));
        }
    }
}
