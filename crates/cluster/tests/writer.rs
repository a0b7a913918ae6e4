//! The engine's writer, unchanged, on a shard's replicated log: wins are answered once
//! JetStream holds them, a new leader replays them through the same `apply` as a file
//! journal's replay, and a deposed leader's batch is refused by the log — its clients hear
//! `Unavailable`, never a win the log does not hold. And the whole engine (`Engine::start`
//! around such a writer) serves grabs on it, its read side answering the fast path.

mod support;

use std::sync::Arc;

use stampede_cluster::{NatsLog, ShardId, Tip, current_tip};
use stampede_core::{
    CampaignId, Command, CreateOutcome, GrabOutcome, Ledger, OrderId, Outcome, UnixMillis, UserId,
};
use stampede_engine::{Clock, Engine, EngineError, JournalGuard, ManualClock, Request, Writer};

use support::{NatsCluster, begin, connect, node};

const SHARD: ShardId = ShardId::new(5);
/// Items in the test campaign.
const STOCK: u64 = 10;

type Answer = Result<Outcome, EngineError>;

/// Steps `writer` once with `commands` as one batch (on a blocking thread: the log waits for
/// JetStream's acknowledgement on the runtime) and answers each command's reply.
async fn step(
    mut writer: Writer<NatsLog>,
    commands: Vec<Command>,
) -> (Writer<NatsLog>, Vec<Answer>) {
    tokio::task::spawn_blocking(move || {
        let mut batch = Vec::new();
        let mut answers = Vec::new();
        for command in commands {
            let (request, answer) = Request::decide(command);
            batch.push(request);
            answers.push(answer);
        }
        writer.step(&mut batch);
        let answered = answers
            .into_iter()
            .map(|mut answer| {
                answer
                    .try_recv()
                    .expect("every request answered by the step")
            })
            .collect();
        (writer, answered)
    })
    .await
    .expect("writer thread")
}

fn grabs(campaign: CampaignId, users: impl IntoIterator<Item = String>) -> Vec<Command> {
    users
        .into_iter()
        .map(|user| Command::Grab {
            campaign,
            user: UserId::parse(&user).expect("valid user id"),
            key: None,
        })
        .collect()
}

fn won(answer: &Answer) -> Option<OrderId> {
    match answer {
        Ok(Outcome::Grab(GrabOutcome::Won(ticket))) => Some(ticket.order_id),
        _ => None,
    }
}

/// Becomes the shard's writer for `writer_node` in `epoch`, fenced on the log's current tip,
/// and replays the whole shard into a fresh ledger.
async fn take_over(
    connection: &stampede_cluster::Connection,
    stream: &async_nats::jetstream::stream::Stream,
    writer_node: &str,
    epoch: u64,
    clock: Arc<dyn Clock>,
) -> Writer<NatsLog> {
    let tip = current_tip(stream, connection, SHARD)
        .await
        .expect("the shard's tip");
    let log = begin(connection, stream, SHARD, node(writer_node), epoch, tip)
        .await
        .expect("begin the new epoch");
    tokio::task::spawn_blocking(move || {
        let (writer, recovered) =
            Writer::replay(log, Ledger::new(), 0, clock, Some(epoch)).expect("replay the shard");
        assert_eq!(recovered.truncated_tail_bytes, 0);
        writer
    })
    .await
    .expect("replay thread")
}

/// Every order of `campaign` in `writer`'s ledger, by user.
fn orders_by_user(writer: &Writer<NatsLog>, ids: &[OrderId]) -> Vec<(String, OrderId)> {
    writer.inspect(|ledger| {
        let mut orders: Vec<(String, OrderId)> = ids
            .iter()
            .filter_map(|id| ledger.order(*id))
            .map(|order| (order.user_id.as_str().to_owned(), order.id))
            .collect();
        orders.sort();
        orders
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_commits_to_the_replicated_log_and_a_deposed_one_never_acknowledges() {
    let Some(cluster) = NatsCluster::start(
        "the_writer_commits_to_the_replicated_log_and_a_deposed_one_never_acknowledges",
    )
    .await
    else {
        return;
    };
    let (connection, stream) = connect(&cluster, "a").await;
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(UnixMillis(1_800_000_000_000)));

    // Node a leads epoch 1: a campaign and six wins out of eight grabs (a per-user limit of 1:
    // the two repeats are already_won), in three group commits.
    let log = begin(&connection, &stream, SHARD, node("a"), 1, Tip::default())
        .await
        .expect("begin epoch 1");
    let a = Writer::new(log, Ledger::new(), Arc::clone(&clock), Some(1));
    let (a, created) = step(
        a,
        vec![Command::CreateCampaign {
            spec: stampede_testkit::seckill(STOCK, 1),
        }],
    )
    .await;
    let campaign = match &created[0] {
        Ok(Outcome::Created(CreateOutcome::Created(id))) => *id,
        other => panic!("campaign not created: {other:?}"),
    };
    let mut acknowledged = Vec::new();
    let (a, first) = step(a, grabs(campaign, (0..3).map(|i| format!("user-{i}")))).await;
    let (a, second) = step(a, grabs(campaign, (3..6).map(|i| format!("user-{i}")))).await;
    let (a, repeats) = step(a, grabs(campaign, ["user-0".into(), "user-5".into()])).await;
    acknowledged.extend(first.iter().chain(&second).filter_map(won));
    assert_eq!(acknowledged.len(), 6, "{first:?} {second:?}");
    for answer in &repeats {
        assert!(
            matches!(answer, Ok(Outcome::Grab(GrabOutcome::AlreadyWon(_)))),
            "{answer:?}"
        );
    }
    let expected = orders_by_user(&a, &acknowledged);
    assert_eq!(expected.len(), 6);

    // Node b takes over in epoch 2 (node a paused, say): it replays exactly what a answered.
    let b = take_over(&connection, &stream, "b", 2, Arc::clone(&clock)).await;
    assert_eq!(orders_by_user(&b, &acknowledged), expected);
    b.inspect(|ledger| {
        assert_eq!(ledger.order_count(), 6);
        assert_eq!(ledger.campaign(campaign).unwrap().remaining(), STOCK - 6);
    });

    // The deposed a wakes and grabs for a new user: the log refuses its batch, so the user
    // hears Unavailable (a 503), not a win; a is poisoned and keeps nothing.
    let (a, late) = step(a, grabs(campaign, ["late".into()])).await;
    assert!(
        matches!(late[0], Err(EngineError::Unavailable(_))),
        "a deposed writer answered {:?}",
        late[0]
    );
    assert!(a.is_poisoned(), "a fenced writer stops");
    drop(a);

    // The same user grabs through b, the leader: one win, and the stock it takes is the
    // seventh item, not an eighth.
    let (b, through_b) = step(b, grabs(campaign, ["late".into()])).await;
    let late_order = won(&through_b[0]).expect("the leader's grab wins");
    acknowledged.push(late_order);
    drop(b);

    // A third node replays the shard: every acknowledged win, once, and nothing else.
    let c = take_over(&connection, &stream, "c", 3, Arc::clone(&clock)).await;
    let replayed = orders_by_user(&c, &acknowledged);
    assert_eq!(replayed.len(), 7);
    assert_eq!(
        replayed.iter().filter(|(user, _)| user == "late").count(),
        1,
        "one order for the late user: {replayed:?}"
    );
    c.inspect(|ledger| {
        assert_eq!(
            ledger.order_count(),
            7,
            "no order the log was not asked to hold"
        );
        assert_eq!(ledger.campaign(campaign).unwrap().remaining(), STOCK - 7);
        ledger.assert_invariants();
    });
}

/// The whole engine — its writer thread, journal guard, published read side and fast path —
/// on a shard's replicated log, through the same async API the HTTP handlers call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_serves_grabs_on_the_replicated_log() {
    let Some(cluster) = NatsCluster::start("the_engine_serves_grabs_on_the_replicated_log").await
    else {
        return;
    };
    let (connection, stream) = connect(&cluster, "a").await;
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(UnixMillis(1_800_000_000_000)));
    let writer = take_over(&connection, &stream, "a", 1, Arc::clone(&clock)).await;
    let engine = Engine::start(writer, JournalGuard::default()).expect("engine starts");

    let view = engine
        .create_campaign(stampede_testkit::seckill(3, 1))
        .await
        .expect("the log answers")
        .created()
        .expect("created");
    let mut won = Vec::new();
    for i in 0..5 {
        let user = UserId::parse(&format!("buyer-{i}")).unwrap();
        match engine.grab(view.id, &user).await.expect("the log answers") {
            GrabOutcome::Won(ticket) => won.push((user, ticket.order_id)),
            GrabOutcome::SoldOut => {}
            other => panic!("buyer-{i}: {other:?}"),
        }
    }
    assert_eq!(won.len(), 3, "three items, three wins");
    // The read side answers from memory: sold out for a newcomer, already won for a winner.
    let newcomer = UserId::parse("newcomer").unwrap();
    assert_eq!(
        engine.grab_fast_path(view.id, newcomer.as_str()),
        Some(GrabOutcome::SoldOut)
    );
    assert!(matches!(
        engine.grab_fast_path(view.id, won[0].0.as_str()),
        Some(GrabOutcome::AlreadyWon(_))
    ));
    assert_eq!(engine.campaign(view.id).unwrap().remaining(), 0);
    engine.shutdown();

    // What the engine acknowledged is what the log holds: a new leader replays it.
    let replayed = take_over(&connection, &stream, "b", 2, clock).await;
    let ids: Vec<OrderId> = won.iter().map(|(_, id)| *id).collect();
    let mut expected: Vec<(String, OrderId)> = won
        .iter()
        .map(|(user, id)| (user.as_str().to_owned(), *id))
        .collect();
    expected.sort();
    assert_eq!(orders_by_user(&replayed, &ids), expected);
}
