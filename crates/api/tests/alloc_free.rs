//! The sold-out fast path allocates nothing: token check, campaign-id parse and the engine's
//! published-state answer (`sold_out` and `already_won`) are measured with a counting global
//! allocator. Only HTTP parsing and response building (hyper/axum) allocate on that path.

use std::sync::Arc;

use stampede_api::Auth;
use stampede_core::{
    CampaignId, CampaignSpec, Cents, CommonSpec, GrabOutcome, SeckillSpec, UnixMillis, UserId,
};
use stampede_engine::{Durability, Engine, ManualClock};
use stampede_journal::MemoryStorage;

#[test]
fn sold_out_fast_path_does_not_allocate() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let clock = ManualClock::new(UnixMillis(1_794_398_400_000));
    let (engine, _) = Engine::open_storage(
        MemoryStorage::new(1),
        Durability::Os,
        Some(1),
        Arc::new(clock),
    )
    .unwrap();
    let spec = CampaignSpec::Seckill(SeckillSpec {
        common: CommonSpec {
            name: "x".into(),
            starts_at: None,
            ends_at: None,
        },
        stock: 1,
        per_user_limit: 1,
        price_cents: Cents(1),
        payment_window_secs: 900,
        regrab_after_release: false,
    });
    let campaign = rt.block_on(engine.create_campaign(spec)).unwrap().id;
    assert!(matches!(
        rt.block_on(engine.grab(campaign, "winner")).unwrap(),
        GrabOutcome::Won(_)
    ));

    let auth = Auth::new(b"0123456789abcdef0123456789abcdef", b"admin-key-0123456789");
    let token = auth.mint(&UserId::parse("loser").unwrap(), u64::MAX / 2);
    let path_id = campaign.to_string();

    // Warm up thread-locals (papaya's epoch reservation) before measuring.
    let _ = engine.grab_fast_path(campaign, "loser");
    let info = allocation_counter::measure(|| {
        for _ in 0..10_000 {
            let user = auth.verify_user(&token, 1_000).unwrap();
            let id = CampaignId::parse(&path_id).unwrap();
            assert_eq!(engine.grab_fast_path(id, user), Some(GrabOutcome::SoldOut));
            assert!(matches!(
                engine.grab_fast_path(id, "winner"),
                Some(GrabOutcome::AlreadyWon(_))
            ));
        }
    });
    assert_eq!(info.count_total, 0, "the sold-out path allocated: {info:?}");
    engine.shutdown();
}
