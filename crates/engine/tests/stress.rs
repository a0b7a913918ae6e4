//! Many threads grabbing at once: never oversell, per-user limits exact, every acknowledged
//! win in the ledger.

use stampede_testkit as support;

use std::collections::HashMap;
use std::sync::{Arc, Barrier};

use stampede_core::{GrabOutcome, OrderId};
use stampede_engine::Durability;
use stampede_journal::MemoryStorage;
use support::{open_memory, red_packet, runtime, seckill};

const THREADS: usize = 8;
const USERS_PER_THREAD: usize = 400;
/// Every user clicks this many times (concurrently with everyone else).
const CLICKS: usize = 3;

fn stampede(spec: stampede_core::CampaignSpec, stock: u64, limit: u32) {
    let storage = MemoryStorage::new(7);
    let engine = open_memory(&storage, Durability::Os, 11);
    let campaign = runtime()
        .block_on(engine.create_campaign(spec))
        .unwrap()
        .created()
        .unwrap()
        .id;
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let engine = engine.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let rt = runtime();
                barrier.wait();
                let mut won = Vec::new();
                for click in 0..CLICKS {
                    for u in 0..USERS_PER_THREAD {
                        // Users overlap across threads: user ids repeat between neighbours.
                        let user = format!("u{}", (t * USERS_PER_THREAD + u + click * 37) % 2000);
                        match rt.block_on(
                            engine.grab(campaign, &stampede_core::UserId::parse(&user).unwrap()),
                        ) {
                            Ok(GrabOutcome::Won(ticket)) => won.push((user, ticket.order_id)),
                            Ok(GrabOutcome::AlreadyWon(_) | GrabOutcome::SoldOut) => {}
                            Ok(other) => panic!("unexpected outcome {other:?}"),
                            Err(e) => panic!("engine error {e}"),
                        }
                    }
                }
                won
            })
        })
        .collect();
    let won: Vec<(String, OrderId)> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("thread"))
        .collect();

    let mut per_user: HashMap<&str, u32> = HashMap::new();
    for (user, _) in &won {
        *per_user.entry(user.as_str()).or_default() += 1;
    }
    assert!(
        won.len() as u64 <= stock,
        "oversold: {} wins for {stock} items",
        won.len()
    );
    // 2000 distinct users × limit ≥ stock here, so everything sells.
    assert_eq!(won.len() as u64, stock, "stock left unsold");
    assert!(
        per_user.values().all(|&n| n <= limit),
        "a user won above the limit"
    );
    engine.inspect(|ledger| {
        ledger.assert_invariants();
        let campaign = ledger.campaign(campaign).unwrap();
        assert_eq!(campaign.remaining(), 0);
        for (user, order) in &won {
            let stored = ledger
                .order(*order)
                .expect("acknowledged win in the ledger");
            assert_eq!(stored.user_id.as_str(), user);
        }
    });
    engine.shutdown();
}

#[test]
fn seckill_never_oversells_under_eight_threads() {
    stampede(seckill(1_500, 1), 1_500, 1);
}

#[test]
fn per_user_limit_is_exact_under_contention() {
    stampede(seckill(3_000, 2), 3_000, 2);
}

#[test]
fn red_packets_never_over_pay_under_contention() {
    stampede(red_packet(1_000_000, 1_000), 1_000, 1);
}
