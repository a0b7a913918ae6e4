//! Where the memory of a 1,000,000-winner run goes, by RSS deltas (`/proc/self/statm`).
//!
//! Run: `cargo run --release -p stampede-engine --example memory -- {core|engine} [USERS]`
//!
//! Stages, each printed as an RSS delta and bytes per user:
//! - `core`: the user ids alone (`Vec<UserId>` of bench-shaped ids, `bench-0123abcd-c{i}`),
//!   then a bare [`Ledger`] with one campaign of stock USERS where every user wins once;
//! - `engine` (a separate process: glibc keeps freed memory, so stages cannot share one): the
//!   whole engine on a file journal under `Durability::Os` (the page cache is not RSS), USERS
//!   grabs through the writer, core and published read side together.
//!
//! Not a heap profile: a delta includes allocator slack (size classes, a grown `Vec`'s spare
//! capacity, a hash table's empty buckets), which is what RSS pays.

use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use stampede_core::{
    CampaignSpec, Cents, CommonSpec, GrabOutcome, Ledger, SeckillSpec, UnixMillis, UserId,
};
use stampede_engine::{Durability, Engine, JournalGuard, JournalGuardConfig, ManualClock};
use stampede_journal::FileStorage;

const T0: UnixMillis = UnixMillis(1_794_398_400_000);
const PAGE_BYTES: u64 = 4096;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("statm resident field");
    pages * PAGE_BYTES
}

fn report(stage: &str, before: u64, users: u64) -> u64 {
    let now = rss_bytes();
    let delta = now.saturating_sub(before);
    println!(
        "{stage:<44} RSS {:>7.1} MiB  delta {:>7.1} MiB  {:>6.1} B/user",
        now as f64 / 1048576.0,
        delta as f64 / 1048576.0,
        delta as f64 / users as f64
    );
    now
}

fn spec(stock: u64) -> CampaignSpec {
    CampaignSpec::Seckill(SeckillSpec {
        common: CommonSpec {
            name: "memory".into(),
            starts_at: None,
            ends_at: None,
        },
        stock,
        per_user_limit: 1,
        price_cents: Cents(990),
        payment_window_secs: 900,
        regrab_after_release: false,
    })
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "engine".into());
    let users: u64 = std::env::args()
        .nth(2)
        .map_or(1_000_000, |s| s.parse().expect("USERS is a number"));
    let start = rss_bytes();
    println!(
        "mode {mode}, {users} users, start RSS {:.1} MiB",
        start as f64 / 1048576.0
    );
    match mode.as_str() {
        "core" => core(users, start),
        "engine" => engine(users, start),
        other => panic!("mode is core or engine, not {other}"),
    }
}

/// Bench-shaped user id of user `i` (as `stampede bench` names them).
fn name(i: u64) -> String {
    format!("bench-0123abcd-c{i}")
}

fn core(users: u64, start: u64) {
    let ids: Vec<UserId> = (0..users)
        .map(|i| UserId::parse(&name(i)).unwrap())
        .collect();
    let at = report("1. user ids (UserId + its 16 B Vec slot)", start, users);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut ledger = Ledger::new();
    let record = ledger
        .create_campaign(spec(users), T0, &mut rng)
        .record
        .unwrap();
    let stampede_core::Record::CampaignCreated { id: campaign, .. } = record else {
        unreachable!("a creation record")
    };
    for user in &ids {
        let grab = ledger.grab(campaign, user, T0, &mut rng);
        assert!(matches!(grab.outcome, GrabOutcome::Won(_)));
    }
    report("2. core Ledger, every user won once", at, users);
    ledger.assert_invariants();
}

fn engine(users: u64, start: u64) {
    let dir = std::env::temp_dir().join(format!("stampede-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let storage = FileStorage::open(dir.join("journal")).unwrap();
    let guard = JournalGuard::new(
        JournalGuardConfig {
            journal_reply_timeout: stampede_engine::guard::MAX_JOURNAL_REPLY_TIMEOUT,
            // 4,096 grabs in flight at once wait for each other's batches: not slow, queued.
            breaker: stampede_admission::BreakerConfig {
                slow_call_threshold: stampede_engine::guard::MAX_JOURNAL_REPLY_TIMEOUT,
                ..stampede_admission::BreakerConfig::default()
            },
        },
        Arc::new(stampede_admission::SystemClock::new()),
    )
    .unwrap();
    let (engine, _) = Engine::open_storage_guarded(
        storage,
        Durability::Os,
        Some(1),
        Arc::new(ManualClock::new(T0)),
        guard,
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let campaign = rt
        .block_on(engine.create_campaign(spec(users)))
        .unwrap()
        .created()
        .unwrap()
        .id;
    let at = report("1. engine open, campaign created", start, users);
    rt.block_on(async {
        let mut next = 0;
        while next < users {
            let mut tasks = tokio::task::JoinSet::new();
            for i in next..(next + 4096).min(users) {
                let engine = engine.clone();
                tasks.spawn(async move {
                    engine
                        .grab(campaign, &stampede_core::UserId::parse(&name(i)).unwrap())
                        .await
                        .unwrap()
                });
            }
            next += 4096;
            while let Some(outcome) = tasks.join_next().await {
                assert!(matches!(outcome.unwrap(), GrabOutcome::Won(_)));
            }
        }
    });
    assert_eq!(engine.campaign(campaign).unwrap().remaining(), 0);
    report("2. engine: every user won (core + read side)", at, users);
    engine.shutdown();
    std::fs::remove_dir_all(&dir).unwrap();
}
