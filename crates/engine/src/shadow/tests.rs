use std::sync::Arc;

use stampede_core::{CampaignSpec, Ledger, UnixMillis, UserId};
use stampede_testkit::{red_packet, seckill};

use super::*;

const NOW: UnixMillis = UnixMillis(1_700_000_000_000);

/// A real campaign as the read side publishes it (each with its own id).
fn published(spec: CampaignSpec) -> Arc<CampaignView> {
    static SEED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut ledger = Ledger::new();
    let seed = SEED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let id = match ledger.create_campaign(spec, NOW, &mut rng).outcome {
        stampede_core::CreateOutcome::Created(id) => id,
        other => panic!("{other:?}"),
    };
    Arc::new(CampaignView::new(ledger.campaign(id).unwrap()))
}

fn user(i: usize) -> UserId {
    UserId::parse(&format!("u{i}")).unwrap()
}

#[test]
fn a_copy_sells_its_own_stock_with_the_real_limits() {
    let real = published(seckill(3, 1));
    let shadows = Shadows::new(Some(1));
    let outcomes: Vec<_> = (0..5)
        .map(|i| shadows.grab(&real, &user(i), NOW).unwrap())
        .collect();
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, GrabOutcome::Won(_)))
            .count(),
        3
    );
    assert_eq!(outcomes[4], GrabOutcome::SoldOut);
    assert!(matches!(
        shadows.grab(&real, &user(0), NOW).unwrap(),
        GrabOutcome::AlreadyWon(_)
    ));
    let status = shadows.status(real.id, NOW).unwrap();
    assert_eq!((status.total, status.remaining, status.winners), (3, 0, 3));
    assert_eq!(status.status, CampaignStatus::SoldOut);
    assert_eq!(real.remaining(), 3, "the real view is untouched");
    let (page, next) = shadows.winners_page(real.id, 0, 10).unwrap();
    assert_eq!(page.len(), 3);
    assert_eq!(next, None);
    assert_eq!(shadows.counts(), (1, 3));
}

#[test]
fn a_reset_starts_a_fresh_rehearsal_and_frees_its_orders() {
    let real = published(red_packet(1_000, 10));
    let shadows = Shadows::new(Some(2));
    for i in 0..4 {
        assert!(matches!(
            shadows.grab(&real, &user(i), NOW).unwrap(),
            GrabOutcome::Won(_)
        ));
    }
    assert_eq!(shadows.counts(), (1, 4));
    assert!(shadows.reset(real.id));
    assert!(!shadows.reset(real.id), "nothing left to reset");
    assert_eq!(shadows.counts(), (0, 0));
    assert_eq!(shadows.status(real.id, NOW), None);
    assert!(matches!(
        shadows.grab(&real, &user(0), NOW).unwrap(),
        GrabOutcome::Won(_)
    ));
    assert_eq!(shadows.status(real.id, NOW).unwrap().remaining, 9);
}

#[test]
fn the_copy_keeps_the_real_window() {
    let mut spec = seckill(5, 1);
    if let CampaignSpec::Seckill(s) = &mut spec {
        s.common.starts_at = Some(UnixMillis(NOW.0 + 60_000));
    }
    let real = published(spec);
    let shadows = Shadows::new(Some(3));
    assert_eq!(
        shadows.grab(&real, &user(0), NOW).unwrap(),
        GrabOutcome::NotStarted
    );
    assert!(matches!(
        shadows
            .grab(&real, &user(0), UnixMillis(NOW.0 + 60_000))
            .unwrap(),
        GrabOutcome::Won(_)
    ));
}

#[test]
fn at_the_campaign_bound_a_new_copy_is_refused_until_one_is_reset() {
    let shadows = Shadows::with_limits(Some(4), 2, 100);
    let reals: Vec<_> = (0..3).map(|_| published(seckill(5, 1))).collect();
    assert!(shadows.grab(&reals[0], &user(0), NOW).is_ok());
    assert!(shadows.grab(&reals[1], &user(0), NOW).is_ok());
    assert_eq!(
        shadows.grab(&reals[2], &user(0), NOW),
        Err(ShadowFull::Campaigns)
    );
    assert_eq!(shadows.status(reals[2].id, NOW), None, "nothing made");
    // Copies already made go on.
    assert!(shadows.grab(&reals[0], &user(1), NOW).is_ok());
    assert!(shadows.reset(reals[0].id));
    assert!(shadows.grab(&reals[2], &user(0), NOW).is_ok());
}

#[test]
fn at_the_order_bound_a_grab_that_could_win_is_refused_and_others_are_answered() {
    let shadows = Shadows::with_limits(Some(5), 8, 3);
    let open = published(seckill(10, 1));
    let small = published(seckill(1, 1));
    assert!(matches!(
        shadows.grab(&small, &user(0), NOW),
        Ok(GrabOutcome::Won(_))
    ));
    assert!(matches!(
        shadows.grab(&open, &user(0), NOW),
        Ok(GrabOutcome::Won(_))
    ));
    assert!(matches!(
        shadows.grab(&open, &user(1), NOW),
        Ok(GrabOutcome::Won(_))
    ));
    assert_eq!(shadows.counts(), (2, 3));
    assert_eq!(shadows.grab(&open, &user(2), NOW), Err(ShadowFull::Orders));
    assert_eq!(
        shadows.status(open.id, NOW).unwrap().remaining,
        8,
        "nothing changed"
    );
    // A sold-out copy still answers sold_out.
    assert_eq!(
        shadows.grab(&small, &user(1), NOW),
        Ok(GrabOutcome::SoldOut)
    );
    // Resetting a copy frees its orders.
    assert!(shadows.reset(small.id));
    assert!(matches!(
        shadows.grab(&open, &user(2), NOW),
        Ok(GrabOutcome::Won(_))
    ));
}
