//! What a seed decides before its run starts: the run's length, its users, how big batches
//! get, how often storage fails and the process crashes, how often requesters give up, and
//! which kinds of request the clients send and how often ("swarm testing": a seed that turns
//! some kinds off, or never injects a fault, drives the others harder than an even mix would,
//! so different seeds reach different corners).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A kind of request the clients, the channel, the payout provider or the jobs send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A campaign creation (sometimes an invalid spec).
    Create,
    /// A grab by a user.
    Grab,
    /// A cancel by the owner, another user or the admin.
    Cancel,
    /// A read that expires an overdue order on the spot (passive expiry).
    Expire,
    /// A payment start on a channel.
    StartPayment,
    /// A customer pays at the channel; its callback is delivered zero, one or two times.
    Pay,
    /// The channel delivers a callback again (a retry, or a forged amount).
    Redeliver,
    /// The query job asks the channel about `paying` orders.
    Query,
    /// The refund job refunds what the durable ledger owes and confirms the receipts.
    Refund,
    /// A red-packet claim (its payout follows once the claim is durable).
    Claim,
    /// Settles `claiming` packets nobody is paying through the provider's query.
    ResolveClaims,
    /// An explicit expiry pass.
    ExpirePass,
    /// A shutdown request: the writer stops after its batch and the process restarts.
    Shutdown,
}

const KINDS: [Kind; 13] = [
    Kind::Create,
    Kind::Grab,
    Kind::Cancel,
    Kind::Expire,
    Kind::StartPayment,
    Kind::Pay,
    Kind::Redeliver,
    Kind::Query,
    Kind::Refund,
    Kind::Claim,
    Kind::ResolveClaims,
    Kind::ExpirePass,
    Kind::Shutdown,
];

/// Longest run, in steps: long enough for campaigns to sell out, orders to expire and
/// several crashes to happen; short enough that 1,000 seeds run in seconds.
const MAX_STEPS: usize = 160;
/// Most users: few enough that users collide on per-user limits and sold-out campaigns.
const MAX_USERS: u32 = 24;
/// Most requests the writer takes in one step (the real bound, `MAX_BATCH_COMMANDS`, is far
/// larger; small batches make more batch boundaries, and so more crash points, per seed).
const MAX_BATCH: usize = 24;
/// Most requests that arrive in one step.
const MAX_ARRIVALS: usize = 12;

/// The parameters one seed runs under.
#[derive(Debug)]
pub(crate) struct Swarm {
    /// Steps before the final drain.
    pub steps: usize,
    /// Users `u0` .. `u{users-1}`.
    pub users: u32,
    /// Most requests in one batch.
    pub max_batch: usize,
    /// Most new requests arriving before one step.
    pub max_arrivals: usize,
    /// Chance that the next append fails (writing a random prefix), armed before a step.
    pub append_fault: f64,
    /// Chance that the next fsync fails, armed before a step.
    pub sync_fault: f64,
    /// Chance of a crash before a step (the process dies; storage keeps what a power cut may
    /// keep).
    pub crash: f64,
    /// Chance that a requester gives up (drops its receiver) before its batch is decided.
    pub abandon: f64,
    /// Largest ordinary clock advance before a step, in milliseconds.
    pub max_advance_ms: u64,
    /// Chance of a long clock jump (tens of seconds to minutes: deadlines pass).
    pub jump: f64,
    /// Each kind's weight (0: the kind is off for this seed).
    weights: Vec<(Kind, u32)>,
}

impl Swarm {
    /// Draws the parameters of a seed.
    pub(crate) fn draw(rng: &mut ChaCha8Rng) -> Self {
        let faulty = rng.random_bool(0.8);
        let fault = |rng: &mut ChaCha8Rng| {
            if faulty {
                rng.random_range(0.0..0.06)
            } else {
                0.0
            }
        };
        let append_fault = fault(rng);
        let sync_fault = fault(rng);
        let weights = KINDS
            .iter()
            .map(|&kind| {
                let weight = match kind {
                    // The run needs campaigns and wins to be about anything.
                    Kind::Create => rng.random_range(1..=3),
                    Kind::Grab => rng.random_range(10..=30),
                    Kind::Shutdown => rng.random_range(0..=1),
                    _ if rng.random_bool(0.15) => 0,
                    _ => rng.random_range(1..=8),
                };
                (kind, weight)
            })
            .collect();
        Self {
            steps: rng.random_range(MAX_STEPS / 2..=MAX_STEPS),
            users: rng.random_range(2..=MAX_USERS),
            max_batch: rng.random_range(1..=MAX_BATCH),
            max_arrivals: rng.random_range(1..=MAX_ARRIVALS),
            append_fault,
            sync_fault,
            crash: rng.random_range(0.0..0.05),
            abandon: if rng.random_bool(0.3) {
                0.0
            } else {
                rng.random_range(0.0..0.25)
            },
            max_advance_ms: rng.random_range(0..=5_000),
            jump: rng.random_range(0.0..0.1),
            weights,
        }
    }

    /// Draws the kind of the next request.
    pub(crate) fn kind(&self, rng: &mut ChaCha8Rng) -> Kind {
        let total: u32 = self.weights.iter().map(|(_, w)| w).sum();
        let mut roll = rng.random_range(0..total);
        for &(kind, weight) in &self.weights {
            if roll < weight {
                return kind;
            }
            roll -= weight;
        }
        unreachable!("the roll is below the total weight")
    }
}
