//! One shard on this node, and its role changes. A shard is followed (its state applied from
//! the log, commands forwarded to the leader) until the node takes its lease; then the same
//! state becomes the writer's, on a log fenced for this node's epoch. On losing the lease, or
//! on an append the log refused, the writer stops and the shard is followed again from a
//! fresh state (the old one may hold decisions the log does not).

use std::sync::Arc;

use parking_lot::Mutex;
use stampede_api::state::Services;
use stampede_cluster::{AppendError, Follower, NatsLog, ShardId, Tip};
use stampede_core::{CampaignShard, Ledger};
use stampede_engine::{Engine, Following, Writer};
use tokio::task::JoinHandle;

use crate::batcher::Batcher;
use crate::context::Context;
use crate::remote::{FORWARD_MARGIN, NatsRemote};
use crate::serve::CommandServer;

/// A follower's writer, shared with the follower task that applies the log to it; taken out
/// when the node leads the shard.
type FollowedWriter = Arc<Mutex<Option<Writer<Following>>>>;

/// What a shard is on this node now.
pub(crate) enum Role {
    /// Applying the leader's log.
    Following(Followed),
    /// Writing the shard.
    Leading(Led),
    /// Between roles (a change failed half-way; the next watchdog round rebuilds it).
    Empty,
}

pub(crate) struct Followed {
    /// The state, applied by `follower`.
    writer: FollowedWriter,
    /// Boxed: a follower holds the stream's description (over a kilobyte).
    follower: Box<Follower>,
    pub(crate) engine: Engine,
    /// The follower's background work ([`crate::ServiceFactory::follower_jobs`]), stopped
    /// when this role ends (dropped, stopped, or turned into the writer).
    jobs: Jobs,
}

/// Background tasks of one role, aborted when dropped.
#[derive(Default)]
pub(crate) struct Jobs(Vec<JoinHandle<()>>);

impl Drop for Jobs {
    fn drop(&mut self) {
        for job in &self.0 {
            job.abort();
        }
    }
}

pub(crate) struct Led {
    pub(crate) engine: Engine,
    server: CommandServer,
    pub(crate) epoch: u64,
    jobs: Vec<JoinHandle<()>>,
}

/// Follows `shard` from its newest snapshot (then the log after it), or from an empty state
/// and the log's start when it has none (or none that restores: the log's start may then be
/// gone, and the follower fails on the gap, to be rebuilt by the watchdog).
pub(crate) async fn follow_from_start(context: &Context, shard: ShardId) -> Followed {
    let (ledger, from) = match context.snapshots.latest(shard).await {
        Ok(Some(snapshot)) => match Ledger::restore(&snapshot.state) {
            Ok(ledger) => {
                metrics::counter!("stampede_cluster_snapshot_restores_total").increment(1);
                tracing::info!(%shard, last_seq = snapshot.tip.last_seq, "shard state restored from its snapshot");
                (ledger, snapshot.tip)
            }
            Err(error) => {
                tracing::error!(%shard, %error, "the shard's snapshot does not restore; following from the log's start");
                (Ledger::new(), Tip::default())
            }
        },
        Ok(None) => (Ledger::new(), Tip::default()),
        Err(error) => {
            tracing::warn!(%shard, %error, "the shard's snapshot could not be read; following from the log's start");
            (Ledger::new(), Tip::default())
        }
    };
    let mut writer = Writer::new(
        Following(from.next_position),
        ledger,
        Arc::clone(&context.clock),
        context.rng_seed,
    );
    writer.set_campaign_shard(CampaignShard {
        index: shard.get(),
        count: context.shards.get(),
    });
    follow_on(context, shard, Arc::new(Mutex::new(Some(writer))), from)
}

/// Follows `shard` with `writer`, whose state holds the log up to `from`.
fn follow_on(context: &Context, shard: ShardId, writer: FollowedWriter, from: Tip) -> Followed {
    let applying = Arc::clone(&writer);
    let follower = Follower::start(
        context.stream.clone(),
        context.names().log_subject(shard),
        shard,
        from,
        Box::new(move |_, message| {
            let mut writer = applying.lock();
            let writer = writer
                .as_mut()
                .ok_or_else(|| "the shard's state was handed to its writer".to_owned())?;
            let end = message.meta.end_position();
            writer
                .apply_followed(end, message.records.iter().copied())
                .map(drop)
        }),
    );
    let remote = NatsRemote {
        batcher: Arc::new(Batcher::start(
            context.connection.client().clone(),
            context.names().command_subject(shard),
            context.guard.journal_reply_timeout + FORWARD_MARGIN,
        )),
        stream: context.stream.clone(),
        log_subject: context.names().log_subject(shard),
        progress: follower.watch(),
        catch_up_timeout: context.catch_up_timeout,
    };
    let engine = {
        let held = writer.lock();
        let held = held.as_ref().expect("a followed writer is held until led");
        Engine::follower(held, context.journal_guard(), Some(Arc::new(remote)))
    };
    Followed {
        writer,
        follower: Box::new(follower),
        engine,
        jobs: Jobs::default(),
    }
}

impl std::fmt::Debug for Followed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Followed")
            .field("shard", &self.follower.shard())
            .finish_non_exhaustive()
    }
}

/// Why taking the lead did not end with this node writing the shard.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LeadError {
    /// The follower had stopped on an error: its state cannot be trusted.
    #[error("the shard's follower had failed: {0}")]
    Follower(String),
    /// The log moved on past the follower's state (another writer appended after it): the
    /// state is behind. Followed on from where it was; try again while the lease holds.
    #[error("the log moved on past this node's state")]
    Behind(Followed),
    /// NATS did not settle the epoch message, or the writer could not start.
    #[error("{0}")]
    Failed(String),
}

/// Makes this node `shard`'s writer in `epoch`: stops following at the tip the state holds,
/// publishes the epoch message fenced on it, and runs the writer on the state as it is.
pub(crate) async fn lead(
    context: &Context,
    shard: ShardId,
    followed: Followed,
    epoch: u64,
    state: &Arc<stampede_api::state::AppState>,
) -> Result<Led, LeadError> {
    let Followed {
        writer, follower, ..
    } = followed;
    let tip = follower
        .stop()
        .await
        .map_err(|error| LeadError::Follower(error.to_string()))?;
    let begun = NatsLog::begin(
        tokio::runtime::Handle::current(),
        context.connection.clone(),
        context.stream.clone(),
        shard,
        context.node.clone(),
        epoch,
        tip,
    )
    .await;
    let log = match begun {
        Ok(log) => log.with_snapshots(context.snapshots.clone()),
        Err(AppendError::Fenced { .. }) => {
            return Err(LeadError::Behind(follow_on(context, shard, writer, tip)));
        }
        Err(error) => return Err(LeadError::Failed(error.to_string())),
    };
    let mut applied = writer
        .lock()
        .take()
        .expect("a followed writer is held until led");
    applied.schedule_snapshots(context.snapshot_every_records, tip.next_position);
    let engine = Engine::start(applied.lead(log), context.journal_guard())
        .map_err(|error| LeadError::Failed(error.to_string()))?;
    let subject = context.names().command_subject(shard);
    let server = match CommandServer::start(
        context.connection.client().clone(),
        subject,
        engine.clone(),
        Arc::clone(state),
    )
    .await
    {
        Ok(server) => server,
        Err(error) => {
            stop_engine(engine);
            return Err(LeadError::Failed(format!(
                "cannot serve the shard's commands: {error}"
            )));
        }
    };
    Ok(Led {
        engine,
        server,
        epoch,
        jobs: Vec::new(),
    })
}

impl Led {
    /// Starts the leader-only background work on `services` (payment queries, refunds).
    pub(crate) fn start_jobs(&mut self, context: &Context, services: &Services) {
        self.jobs = context.factory.leader_jobs(services);
    }

    /// Stops writing: no more commands served, background work stopped, the writer told to
    /// stop (not waited for: an append in flight may take the publish retry budget).
    pub(crate) fn step_down(self) {
        self.server.stop();
        for job in self.jobs {
            job.abort();
        }
        stop_engine(self.engine);
    }
}

impl Followed {
    /// Starts the follower's background work on `services` (refunds of the payments this
    /// node's desk minted), in place of any it ran.
    pub(crate) fn start_jobs(&mut self, context: &Context, services: &Services) {
        self.jobs = Jobs(context.factory.follower_jobs(services));
    }

    /// Whether the follower stopped on an error (its state must be rebuilt).
    pub(crate) fn failed(&self) -> bool {
        self.follower.is_finished()
    }

    /// How far the follower got.
    pub(crate) fn progress(&self) -> stampede_cluster::Progress {
        self.follower.progress()
    }

    /// Stops following (on shutdown).
    pub(crate) async fn stop(self) {
        let _ = self.follower.stop().await;
    }
}

fn stop_engine(engine: Engine) {
    std::thread::spawn(move || engine.shutdown());
}
