//! A follower's engine asked to grab a campaign it does not know: one created a moment ago
//! (its UUIDv7 time within `UNKNOWN_CAMPAIGN_ASK_LEADER_WITHIN` of now) may not have reached
//! this node yet, so the grab goes to the shard's leader; an older id, or one the ledger
//! never mints, is answered `campaign_not_found` here, as on the leader itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use stampede_core::{
    CampaignId, Command, GrabOutcome, Ledger, Outcome, UnixMillis, UserId, uuid_v7_bits,
};
use stampede_engine::{
    Engine, Following, JournalGuard, JournalGuardConfig, ManualClock, RemoteDecision, RemoteFuture,
    RemoteWriter, UNKNOWN_CAMPAIGN_ASK_LEADER_WITHIN, Writer,
};

const NOW: UnixMillis = UnixMillis(1_796_000_000_000);

/// The shard's leader: counts what it is asked, and knows the campaign (answers sold out).
#[derive(Default)]
struct Leader {
    asked: AtomicUsize,
}

impl RemoteWriter for Leader {
    fn decide(&self, command: Command) -> RemoteFuture<RemoteDecision> {
        assert!(matches!(command, Command::Grab { .. }), "{command:?}");
        self.asked.fetch_add(1, Ordering::SeqCst);
        Box::pin(std::future::ready(Ok(RemoteDecision {
            outcome: Outcome::Grab(GrabOutcome::SoldOut),
            log_position: 0,
        })))
    }

    fn catch_up(&self) -> RemoteFuture<()> {
        Box::pin(std::future::ready(Ok(())))
    }
}

#[tokio::test]
async fn only_a_recent_unknown_campaign_is_asked_of_the_leader() {
    let clock = Arc::new(ManualClock::new(NOW));
    let writer = Writer::new(Following(0), Ledger::new(), clock.clone(), Some(1));
    let guard = || JournalGuard::new(JournalGuardConfig::default(), clock.clone()).unwrap();
    let leader = Arc::new(Leader::default());
    let follower = Engine::follower(&writer, guard(), Some(leader.clone()));
    let user = UserId::parse("u1").unwrap();
    let made_at = |ms: u64| CampaignId(uuid_v7_bits(ms, 0x5eed));
    let window = UNKNOWN_CAMPAIGN_ASK_LEADER_WITHIN;

    for recent in [NOW.0, NOW.0 - window, NOW.0 + window] {
        let outcome = follower.grab(made_at(recent), &user).await.unwrap();
        assert_eq!(outcome, GrabOutcome::SoldOut, "the leader's answer");
    }
    assert_eq!(leader.asked.load(Ordering::SeqCst), 3);

    for unknown in [
        made_at(NOW.0 - window - 1),
        made_at(NOW.0 + window + 1),
        CampaignId(42),
    ] {
        let outcome = follower.grab(unknown, &user).await.unwrap();
        assert_eq!(outcome, GrabOutcome::CampaignNotFound, "{unknown}");
    }
    assert_eq!(leader.asked.load(Ordering::SeqCst), 3, "answered here");

    // With no leader to ask (the writer's own engine decides), unknown is unknown.
    let alone = Engine::follower(&writer, guard(), None);
    assert_eq!(
        alone.grab_fast_path(made_at(NOW.0), "u1"),
        Some(GrabOutcome::CampaignNotFound)
    );
}
