//! The journal's circuit breaker: a stalled disk makes grabs answer `degraded`
//! within the reply timeout instead of piling up; once open, the breaker refuses without
//! touching the writer queue; when the disk recovers, probes close it and grabs win again.
//! Acknowledged wins survive, a `degraded` grab retried is `won` or `already_won` (never a
//! second win), and a failed journal stays fail-stop `unavailable`.
//!
//! The breaker decides on a `ManualClock` the test moves, so `open_for` has passed exactly
//! when the test says so. The reply timeout runs on tokio's clock, real here because the
//! writer is a real thread that no paused clock would wait for; it is short, and the timing
//! assertions on it are generous and only catch "piled up for seconds".
//!
//! A little over 400 lines: every case drives the same stalled storage and breaker clock, set up
//! once above them.

use stampede_testkit as support;

use std::future::Future;
use std::num::NonZeroU32;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use stampede_admission::clock::ManualClock;
use stampede_core::{CampaignId, GrabOutcome};
use stampede_engine::{
    BreakerConfig, BreakerState, Durability, Engine, EngineError, JournalGuard, JournalGuardConfig,
    stopwatch,
};
use stampede_journal::MemoryStorage;
use support::{open_memory_guarded, runtime, seckill};

const REPLY_TIMEOUT: Duration = Duration::from_millis(40);
const OPEN_FOR: Duration = Duration::from_millis(200);
/// Grabs fired at the stalled disk at once.
const STALLED_GRABS: usize = 30;
/// Far above the reply timeout, far below "piled up": a grab answered later than this hung.
const ANSWER_BOUND: Duration = Duration::from_secs(1);
/// How long a retry loop keeps trying before the test fails.
const RETRY_DEADLINE: Duration = Duration::from_secs(5);

/// A guard whose breaker decides on `clock`.
fn guard(clock: &ManualClock) -> JournalGuard {
    let config = JournalGuardConfig {
        journal_reply_timeout: REPLY_TIMEOUT,
        breaker: BreakerConfig {
            window_calls: NonZeroU32::new(10).unwrap(),
            min_calls: NonZeroU32::new(5).unwrap(),
            open_for: OPEN_FOR,
            ..JournalGuardConfig::default().breaker
        },
    };
    JournalGuard::new(config, Arc::new(clock.clone())).unwrap()
}

/// An engine on `storage` and the clock its journal breaker decides on.
fn open(storage: &MemoryStorage) -> (Engine, ManualClock) {
    let clock = ManualClock::at_monotonic(Duration::from_secs(1));
    let engine = open_memory_guarded(storage, Durability::Fsync, 3, guard(&clock));
    (engine, clock)
}

/// Polls `future` once: `Some` if it finished without waiting for anything.
fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// Waits (on tokio's clock) until `condition` holds, or fails after `RETRY_DEADLINE`.
async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let started = stopwatch();
    while !condition() {
        assert!(
            started.elapsed() < RETRY_DEADLINE,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Grabs until the answer is not `degraded`, moving the breaker's clock by `retry_after`
/// between tries (at least a millisecond, so a zero `retry_after` cannot spin in place).
async fn grab_until_decided(
    engine: &Engine,
    clock: &ManualClock,
    campaign: CampaignId,
    user: &str,
) -> GrabOutcome {
    let started = stopwatch();
    loop {
        match engine
            .grab(campaign, &stampede_core::UserId::parse(user).unwrap())
            .await
        {
            Ok(outcome) => return outcome,
            Err(EngineError::Degraded { retry_after }) => {
                assert!(started.elapsed() < RETRY_DEADLINE, "{user}: still degraded");
                clock.advance(retry_after.clamp(Duration::from_millis(1), OPEN_FOR));
                tokio::task::yield_now().await;
            }
            Err(e) => panic!("{user}: unexpected engine error {e}"),
        }
    }
}

/// Fires `users` at once; each answer with how long it took.
async fn grab_all(
    engine: &Engine,
    campaign: CampaignId,
    users: impl IntoIterator<Item = String>,
) -> Vec<(String, Result<GrabOutcome, EngineError>, Duration)> {
    let mut set = tokio::task::JoinSet::new();
    for user in users {
        let engine = engine.clone();
        set.spawn(async move {
            let started = stopwatch();
            let answer = engine
                .grab(campaign, &stampede_core::UserId::parse(&user).unwrap())
                .await;
            (user, answer, started.elapsed())
        });
    }
    set.join_all().await
}

#[test]
fn stalled_disk_degrades_fast_refuses_without_queueing_and_recovers() {
    let storage = MemoryStorage::new(1);
    let (engine, clock) = open(&storage);
    let rt = runtime();
    rt.block_on(async {
        let campaign = engine
            .create_campaign(seckill(1_000, 1))
            .await
            .unwrap()
            .created()
            .unwrap()
            .id;
        let mut acknowledged = Vec::new();
        for i in 0..5 {
            let user = format!("early{i}");
            match engine
                .grab(campaign, &stampede_core::UserId::parse(&user).unwrap())
                .await
            {
                Ok(GrabOutcome::Won(ticket)) => acknowledged.push((user, ticket.order_id)),
                other => panic!("{user}: expected a win, got {other:?}"),
            }
        }
        assert_eq!(engine.journal_breaker_state(), BreakerState::Closed);

        // (1) Stall the disk. The first grab reaches the writer, which blocks in its fsync;
        // every later one waits in the queue. All answer `degraded` within the timeout.
        storage.stall_syncs();
        let before = engine.writer_counts();
        let first = {
            let engine = engine.clone();
            tokio::spawn(async move {
                let started = stopwatch();
                (
                    engine
                        .grab(campaign, &stampede_core::UserId::parse("stalled0").unwrap())
                        .await,
                    started.elapsed(),
                )
            })
        };
        wait_until("the writer takes the first stalled grab", || {
            engine.writer_counts().commands > before.commands
        })
        .await;
        let rest = grab_all(
            &engine,
            campaign,
            (1..STALLED_GRABS).map(|i| format!("stalled{i}")),
        )
        .await;
        let (first_answer, first_elapsed) = first.await.unwrap();
        let answers = std::iter::once(("stalled0".to_owned(), first_answer, first_elapsed))
            .chain(rest)
            .collect::<Vec<_>>();
        for (user, answer, elapsed) in &answers {
            assert!(
                matches!(answer, Err(EngineError::Degraded { .. })),
                "{user}: expected degraded, got {answer:?}"
            );
            assert!(
                elapsed < &ANSWER_BOUND,
                "{user}: answered after {elapsed:?}"
            );
        }
        assert!(matches!(
            engine.journal_breaker_state(),
            BreakerState::Open { .. }
        ));

        // Once open, a grab is refused on its first poll — it waits for nothing — and no
        // command enters the writer queue (counted below, once the writer drains it).
        for i in 0..100 {
            let user = format!("refused{i}");
            match poll_once(engine.grab(campaign, &stampede_core::UserId::parse(&user).unwrap())) {
                Some(Err(EngineError::Degraded { retry_after })) => {
                    assert!(retry_after <= OPEN_FOR, "retry_after {retry_after:?}");
                }
                other => panic!("{user}: expected an immediate degraded, got {other:?}"),
            }
        }
        // The fast path needs no disk: a winner is still told `already_won`.
        assert!(matches!(
            poll_once(engine.grab(campaign, &stampede_core::UserId::parse("early0").unwrap())),
            Some(Ok(GrabOutcome::AlreadyWon(_)))
        ));

        // (2) The disk recovers. The writer finishes the stalled batch (so `stalled0`, decided
        // before its requester gave up, did win), then skips the abandoned grabs.
        storage.resume_syncs();
        let submitted = u64::try_from(STALLED_GRABS).unwrap();
        wait_until("the writer drains the stalled grabs", || {
            engine.writer_counts().commands >= before.commands + submitted
        })
        .await;
        let after = engine.writer_counts();
        assert_eq!(
            after.commands - before.commands,
            submitted,
            "only the stalled grabs entered the writer queue, none of the refused ones"
        );
        assert_eq!(
            after.abandoned_commands - before.abandoned_commands,
            submitted - 1,
            "every grab queued behind the stalled fsync was skipped undecided"
        );

        // After `open_for`, half-open probes succeed and close the breaker; grabs win again.
        let mut recovered = Vec::new();
        for i in 0..5 {
            let user = format!("late{i}");
            match grab_until_decided(&engine, &clock, campaign, &user).await {
                GrabOutcome::Won(ticket) => recovered.push((user, ticket.order_id)),
                other => panic!("{user}: expected a win, got {other:?}"),
            }
        }
        assert_eq!(engine.journal_breaker_state(), BreakerState::Closed);
        acknowledged.extend(recovered);

        // (4) A `degraded` grab retried answers `won` or `already_won`, never a second win:
        // `stalled0` was decided before its timeout (`already_won`), the rest never were.
        for (user, _, _) in &answers {
            let outcome = grab_until_decided(&engine, &clock, campaign, user).await;
            match (user.as_str(), outcome) {
                ("stalled0", GrabOutcome::AlreadyWon(_)) => {}
                ("stalled0", other) => panic!("stalled0: expected already_won, got {other:?}"),
                (_, GrabOutcome::Won(ticket)) => acknowledged.push((user.clone(), ticket.order_id)),
                (user, other) => panic!("{user}: expected a win, got {other:?}"),
            }
            assert!(matches!(
                grab_until_decided(&engine, &clock, campaign, user).await,
                GrabOutcome::AlreadyWon(_)
            ));
        }

        // (3) Every acknowledged win is in the ledger with its user; no user won twice; the
        // ledger's invariants hold.
        engine.inspect(|ledger| {
            ledger.assert_invariants();
            for (user, order) in &acknowledged {
                let order = ledger.order(*order).expect("acknowledged win kept");
                assert_eq!(order.user_id.as_str(), user);
            }
        });
        let (orders, _) = engine
            .winners_page(campaign, 0, 1_000)
            .await
            .expect("durable read")
            .unwrap();
        let mut winners: Vec<&str> = orders.iter().map(|o| o.user_id.as_str()).collect();
        let total = winners.len();
        winners.sort_unstable();
        winners.dedup();
        assert_eq!(winners.len(), total, "a user won twice");
        assert_eq!(
            total,
            acknowledged.len() + 1,
            "acknowledged wins plus stalled0"
        );
    });
    engine.shutdown();
}

#[test]
fn half_open_probe_on_a_still_stalled_disk_reopens() {
    let storage = MemoryStorage::new(2);
    let (engine, clock) = open(&storage);
    let rt = runtime();
    rt.block_on(async {
        let campaign = engine
            .create_campaign(seckill(100, 1))
            .await
            .unwrap()
            .created()
            .unwrap()
            .id;
        storage.stall_syncs();
        let answers = grab_all(&engine, campaign, (0..10).map(|i| format!("a{i}"))).await;
        assert!(
            answers
                .iter()
                .all(|(_, a, _)| matches!(a, Err(EngineError::Degraded { .. })))
        );
        assert!(matches!(
            engine.journal_breaker_state(),
            BreakerState::Open { .. }
        ));
        clock.advance(OPEN_FOR);

        // Half-open: at most 3 probes are let through; they time out, and the breaker reopens.
        let probes = grab_all(&engine, campaign, (0..6).map(|i| format!("b{i}"))).await;
        assert!(
            probes
                .iter()
                .all(|(_, a, _)| matches!(a, Err(EngineError::Degraded { .. })))
        );
        let waited = probes
            .iter()
            .filter(|(_, _, elapsed)| *elapsed >= REPLY_TIMEOUT)
            .count();
        assert!(
            (1..=3).contains(&waited),
            "{waited} probes waited for the disk"
        );
        assert!(matches!(
            engine.journal_breaker_state(),
            BreakerState::Open { .. }
        ));

        storage.resume_syncs();
        assert!(matches!(
            grab_until_decided(&engine, &clock, campaign, "c0").await,
            GrabOutcome::Won(_)
        ));
        engine.inspect(|ledger| ledger.assert_invariants());
    });
    engine.shutdown();
}

#[test]
fn failed_journal_stays_unavailable_not_degraded() {
    let storage = MemoryStorage::new(3);
    let (engine, _breaker_clock) = open(&storage);
    let rt = runtime();
    rt.block_on(async {
        let campaign = engine
            .create_campaign(seckill(100, 1))
            .await
            .unwrap()
            .created()
            .unwrap()
            .id;
        storage.fail_next_sync();
        let failed = engine
            .grab(campaign, &stampede_core::UserId::parse("u0").unwrap())
            .await;
        assert!(
            matches!(failed, Err(EngineError::Unavailable(_))),
            "{failed:?}"
        );
        assert!(engine.is_poisoned());
        // Fail-stop: every later writer-bound request is `unavailable` (a retry will not
        // help), never `degraded`, however many there are.
        for i in 1..50 {
            let answer = engine
                .grab(
                    campaign,
                    &stampede_core::UserId::parse(&format!("u{i}")).unwrap(),
                )
                .await;
            assert!(
                matches!(answer, Err(EngineError::Unavailable(_))),
                "{answer:?}"
            );
        }
        assert!(matches!(
            engine.create_campaign(seckill(1, 1)).await,
            Err(EngineError::Unavailable(_))
        ));
    });
    engine.shutdown();
}

/// A full disk (`/dev/full` answers every write with ENOSPC): the failure the writer logs and
/// answers names the journal's path and the operating system's error, not only "poisoned".
#[test]
fn a_full_disk_is_reported_with_the_path_and_the_os_error() {
    let full = std::path::Path::new("/dev/full");
    if !full.exists() {
        eprintln!(
            "\n!!! SKIPPED a_full_disk_is_reported_with_the_path_and_the_os_error: this system \
             has no /dev/full\n"
        );
        return;
    }
    let config = stampede_engine::EngineConfig {
        journal_path: full.to_path_buf(),
        durability: Durability::Fsync,
        rng_seed: Some(1),
        snapshot_every_records: stampede_engine::DEFAULT_SNAPSHOT_EVERY_RECORDS,
    };
    let (engine, _) = Engine::open(&config, Arc::new(stampede_engine::SystemClock::new()))
        .expect("an empty journal");
    let failed = runtime().block_on(engine.create_campaign(seckill(1, 1)));
    match failed {
        Err(EngineError::Unavailable(why)) => {
            assert!(why.contains("/dev/full"), "{why}");
            assert!(why.contains("No space left on device"), "{why}");
        }
        other => panic!("a full disk must answer unavailable, got {other:?}"),
    }
    assert!(engine.is_poisoned());
    engine.shutdown();
}
