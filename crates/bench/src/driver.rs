//! The load itself: one task per connection, each working through its shard of users in
//! ready-time order — closed loop (send when the previous answer arrives) or open loop (send
//! at scheduled slots, latency from the slot). With several nodes each worker keeps a
//! connection per node and routes every grab by the node policy (`nodes`, `driver/grab.rs`).

use crate::audit::UserObservation;
use crate::clock::Clock;
use crate::connection::Connection;
use crate::nodes::{NodeCounts, NodeHealth, home_node};
use crate::outcome::Outcome;
use crate::population::{Mix, Next, Population, first_delay, next_action};
use crate::progress::LiveCounters;
use crate::raw_connection::RawConnection;
use crate::recorder::Recorder;
use crate::schedule::{OpenLoopSchedule, latency_since};
use crate::shard::{Sources, UserSeed, shard_users_from};
use crate::shared_recorder::SharedRecorder;
use crate::token::TokenKind;
use grab::{grab, observe, raw_grab};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::{Instant, sleep_until};

/// Pause after a failed connect before the worker tries again, so a dead server costs a
/// bounded number of connect attempts (≤ 100/s per connection) instead of a hot loop.
pub(crate) const CONNECT_RETRY_PAUSE: Duration = Duration::from_millis(10);

/// What to drive.
#[derive(Debug, Clone)]
pub(crate) struct LoadPlan {
    /// The nodes' addresses, in `--target` order (1..=`MAX_TARGETS`; raw mode: one).
    pub servers: Vec<SocketAddr>,
    /// Path every request is POSTed to (`/v1/campaigns/{id}/grab`, or `--raw-path`).
    pub path: String,
    /// Raw mode: every user sends at once and loops regardless of the answer (a saturating
    /// closed loop that only counts responses); see `--raw-path`.
    pub raw: bool,
    /// Token secret.
    pub token_secret: Arc<[u8]>,
    /// Real tokens, or shadow ones (`--shadow`: a rehearsal).
    pub token_kind: TokenKind,
    /// Expiry written into every token.
    pub token_expires_unix: u64,
    /// Prefix of every user id of this run (distinguishes runs on a shared campaign).
    pub user_prefix: String,
    /// Users per population.
    pub mix: Mix,
    /// Source addresses per kind of user.
    pub sources: Sources,
    /// Connections (workers).
    pub connections: u32,
    /// Open-loop rate, or None for closed loop.
    pub rate_per_sec: Option<u64>,
    /// Stop sending after this long.
    pub duration: Duration,
    /// Stop sending after this many requests.
    pub max_requests: u64,
    /// Seed for the first-click times and jitter.
    pub seed: u64,
}

/// What the load produced.
#[derive(Debug)]
pub(crate) struct LoadResult {
    /// Merged measurements.
    pub recorder: Recorder,
    /// What each user saw, for the audit.
    pub users: Vec<UserObservation>,
    /// From start to the last worker finishing.
    pub elapsed: Duration,
    /// Per node, in `LoadPlan::servers` order.
    pub nodes: Vec<NodeCounts>,
}

/// User id of user `index`: the run prefix, a population letter, the index.
pub(crate) fn user_id(prefix: &str, population: Population, index: u64) -> String {
    let letter = match population {
        Population::Clicker => 'c',
        Population::Visitor => 'v',
        Population::Script => 's',
        Population::Bot => 'b',
    };
    format!("{prefix}{letter}{index}")
}

struct VirtualUser {
    population: Population,
    source: Option<IpAddr>,
    /// Index of its home node in `LoadPlan::servers`.
    home: usize,
    /// The node that gave its last answer.
    last_node: Option<usize>,
    observation: UserObservation,
    /// Raw mode's token, minted at the user's first request and kept: a raw user loops for
    /// the whole run, and an HMAC per request would be the generator's own cost, not the
    /// server's. (At most one per user: ~90 bytes each.)
    token: Option<String>,
}

struct Shared {
    plan: LoadPlan,
    grab_path: String,
    clock: Arc<dyn Clock>,
    live: Arc<LiveCounters>,
    recorder: SharedRecorder,
    health: NodeHealth,
    sent: AtomicU64,
    start: Instant,
    deadline: Instant,
}

impl Shared {
    /// Takes one request from the budget; false once `max_requests` are spent.
    fn take_request(&self) -> bool {
        self.sent.fetch_add(1, Ordering::Relaxed) < self.plan.max_requests
    }

    /// Now, as the node policy counts time: since the run's start.
    fn since_start(&self) -> Duration {
        self.clock.now().saturating_duration_since(self.start)
    }
}

/// Runs the load to completion: until every user stopped, the duration passed, or the request
/// budget is spent (responses in flight at that point are awaited, up to the request timeout).
pub(crate) async fn drive(
    plan: LoadPlan,
    clock: Arc<dyn Clock>,
    live: Arc<LiveCounters>,
) -> LoadResult {
    let shards = shard_users_from(&plan.mix, plan.connections, plan.sources);
    let start = clock.now();
    let shared = Arc::new(Shared {
        grab_path: plan.path.clone(),
        health: NodeHealth::new(plan.servers.len()),
        deadline: start + plan.duration,
        plan,
        clock: clock.clone(),
        live,
        recorder: SharedRecorder::new(),
        sent: AtomicU64::new(0),
        start,
    });
    let mut tasks = tokio::task::JoinSet::new();
    for (worker, shard) in shards.into_iter().enumerate() {
        tasks.spawn(run_worker(shared.clone(), worker, shard));
    }
    let mut users = Vec::new();
    let mut nodes = vec![NodeCounts::default(); shared.health.len()];
    while let Some(joined) = tasks.join_next().await {
        // A worker panic is a bench bug: surface it rather than report partial numbers.
        let (observed, counted) = joined.expect("load worker panicked");
        users.extend(observed);
        for (total, worker) in nodes.iter_mut().zip(&counted) {
            total.merge(worker);
        }
    }
    LoadResult {
        recorder: shared.recorder.finish(),
        users,
        elapsed: clock.now() - start,
        nodes,
    }
}

/// A worker's users in the order they are ready to send. Raw mode's closed loop re-queues
/// every user the moment its answer arrives, so its order is plain rotation: a cursor over
/// the users instead of a heap (whose sift, over the run's 256 heaps, was a tenth of the
/// generator's CPU).
enum ReadyQueue {
    /// Users by ready time.
    Heap(BinaryHeap<Reverse<(Instant, usize)>>),
    /// Every user always ready, served in turn (raw mode, closed loop).
    Rotation {
        /// The next user to serve.
        next: usize,
        /// Users in the rotation.
        len: usize,
        /// When they all became ready (the run's start).
        ready_at: Option<Instant>,
    },
}

impl ReadyQueue {
    fn new(rotation: bool, capacity: usize) -> Self {
        if rotation {
            ReadyQueue::Rotation {
                next: 0,
                len: 0,
                ready_at: None,
            }
        } else {
            ReadyQueue::Heap(BinaryHeap::with_capacity(capacity))
        }
    }

    fn peek(&self) -> Option<(Instant, usize)> {
        match self {
            ReadyQueue::Heap(heap) => heap.peek().map(|Reverse(entry)| *entry),
            ReadyQueue::Rotation {
                next,
                len,
                ready_at,
            } => ready_at.filter(|_| *len > 0).map(|at| (at, *next)),
        }
    }

    fn pop(&mut self) {
        match self {
            ReadyQueue::Heap(heap) => {
                heap.pop();
            }
            ReadyQueue::Rotation { next, len, .. } => *next = (*next + 1) % *len,
        }
    }

    /// Queues `slot` ready at `at`; in a rotation the first push of each user adds it and
    /// later ones change nothing (it comes round again by itself).
    fn push(&mut self, at: Instant, slot: usize) {
        match self {
            ReadyQueue::Heap(heap) => heap.push(Reverse((at, slot))),
            ReadyQueue::Rotation { len, ready_at, .. } => {
                if slot == *len {
                    *len += 1;
                    ready_at.get_or_insert(at);
                }
            }
        }
    }
}

async fn run_worker(
    shared: Arc<Shared>,
    worker: usize,
    shard: Vec<UserSeed>,
) -> (Vec<UserObservation>, Vec<NodeCounts>) {
    let plan = &shared.plan;
    let mut counts = vec![NodeCounts::default(); plan.servers.len()];
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
    rng.set_stream(worker as u64);
    let mut queue = ReadyQueue::new(plan.raw && plan.rate_per_sec.is_none(), shard.len());
    let mut users = Vec::with_capacity(shard.len());
    for (slot, seed) in shard.into_iter().enumerate() {
        let delay = if plan.raw {
            Duration::ZERO
        } else {
            first_delay(seed.population, &mut rng)
        };
        queue.push(shared.start + delay, slot);
        let id = user_id(&plan.user_prefix, seed.population, seed.index);
        let home = home_node(&id, plan.servers.len());
        counts[home].users_homed += 1;
        users.push(VirtualUser {
            population: seed.population,
            source: seed.source,
            home,
            last_node: None,
            observation: UserObservation {
                user_id: id,
                ..UserObservation::default()
            },
            token: None,
        });
    }
    let mut schedule = plan.rate_per_sec.map(|rate| {
        OpenLoopSchedule::new(
            shared.start,
            rate,
            u64::from(plan.connections),
            worker as u64,
        )
    });
    // One connection per node, opened at its first request.
    let mut connections: Vec<Connection> = plan
        .servers
        .iter()
        .map(|server| Connection::new(*server))
        .collect();
    // Raw mode sends to one server from the default address only: its own lean connection.
    let mut raw = plan.raw.then(|| RawConnection::new(plan.servers[0]));
    let recorder = &shared.recorder;

    while let Some((ready_at, slot)) = queue.peek() {
        let now = shared.clock.now();
        if now >= shared.deadline {
            break;
        }
        let intended = match schedule.as_mut() {
            None if ready_at > now => {
                sleep_until(ready_at.min(shared.deadline)).await;
                continue;
            }
            None => now,
            Some(schedule) => {
                let (intended, skipped) = schedule.take_slot(ready_at);
                recorder.add_skipped_slots(skipped);
                if intended >= shared.deadline {
                    break;
                }
                sleep_until(intended).await;
                intended
            }
        };
        if !shared.take_request() {
            break;
        }
        queue.pop();
        let user = &mut users[slot];
        user.observation.attempts += 1;
        let result = match raw.as_mut() {
            Some(raw) => raw_grab(&shared, raw, user).await,
            None => grab(&shared, &mut connections, user, &mut counts).await,
        };
        let completed = shared.clock.now();
        recorder.record(
            worker,
            user.population,
            result.outcome,
            latency_since(intended, completed),
            completed - shared.start,
        );
        shared.live.count(result.outcome);
        observe(&mut user.observation, &result);
        let attempts = user.observation.attempts;
        if plan.raw {
            queue.push(completed, slot);
        } else {
            match next_action(
                user.population,
                attempts,
                result.outcome,
                result.retry_after,
                &mut rng,
            ) {
                Next::RetryAfter(delay) => queue.push(completed + delay, slot),
                Next::Stop => {}
            }
        }
        if result.outcome == Outcome::ConnectError {
            tokio::time::sleep(CONNECT_RETRY_PAUSE).await;
        }
    }
    let connects: u64 = connections.iter().map(Connection::connects).sum();
    recorder.add_connects(connects + raw.as_ref().map_or(0, RawConnection::connects));
    for node in users.iter().filter_map(|user| user.last_node) {
        counts[node].users_last_served += 1;
    }
    let observed = users.into_iter().map(|user| user.observation).collect();
    (observed, counts)
}

mod grab;

#[cfg(test)]
mod tests;
