//! Helpers the engine's and the money crate's integration tests share (a dev-dependency only):
//! campaign specs, engines on in-memory storage with a manual clock, a patient journal guard.

pub mod nats;

use std::sync::Arc;

use stampede_clock::SystemClock;
use stampede_core::{CampaignSpec, Cents, CommonSpec, RedPacketSpec, SeckillSpec, UnixMillis};
use stampede_engine::{Durability, Engine, JournalGuard, JournalGuardConfig, ManualClock};
use stampede_journal::MemoryStorage;

/// 2026-11-11T12:00:00Z: a fixed "now" so runs are reproducible.
pub const T0: UnixMillis = UnixMillis(1_794_398_400_000);

/// A seckill campaign of `stock` items at 9.90, `per_user_limit` each, a 900 s payment window.
pub fn seckill(stock: u64, per_user_limit: u32) -> CampaignSpec {
    CampaignSpec::Seckill(SeckillSpec {
        common: CommonSpec {
            name: "test".into(),
            starts_at: None,
            ends_at: None,
        },
        stock,
        per_user_limit,
        price_cents: Cents(990),
        payment_window_secs: 900,
        regrab_after_release: false,
    })
}

/// A red-packet campaign of `count` packets sharing `total_cents` (at least 1 cent each).
pub fn red_packet(total_cents: u64, count: u64) -> CampaignSpec {
    CampaignSpec::RedPacket(RedPacketSpec {
        common: CommonSpec {
            name: "packets".into(),
            starts_at: None,
            ends_at: None,
        },
        total_cents: Cents(total_cents),
        count,
        min_cents: Cents(1),
        claim_window_secs: stampede_core::DEFAULT_CLAIM_WINDOW_SECS,
    })
}

/// An engine on in-memory storage with a manual clock and a fixed RNG seed, its journal guard
/// [`patient_guard`].
pub fn open_memory(storage: &MemoryStorage, durability: Durability, seed: u64) -> Engine {
    open_memory_guarded(storage, durability, seed, patient_guard())
}

/// [`open_memory`] on `clock` (kept across restarts by the caller, so time moves on).
pub fn open_memory_at(
    storage: &MemoryStorage,
    durability: Durability,
    seed: u64,
    clock: &ManualClock,
) -> Engine {
    let (engine, _) = Engine::open_storage_guarded(
        storage.clone(),
        durability,
        Some(seed),
        Arc::new(clock.clone()),
        patient_guard(),
    )
    .expect("engine opens");
    engine
}

/// [`open_memory`] with the journal guarded by `guard`.
pub fn open_memory_guarded(
    storage: &MemoryStorage,
    durability: Durability,
    seed: u64,
    guard: JournalGuard,
) -> Engine {
    let clock = ManualClock::new(T0);
    let (engine, _) = Engine::open_storage_guarded(
        storage.clone(),
        durability,
        Some(seed),
        Arc::new(clock),
        guard,
    )
    .expect("engine opens");
    engine
}

/// The journal guard for tests that are not about it: the longest reply timeout (10 s), so a
/// busy test machine never turns a slow reply into `degraded` and seeded runs stay
/// deterministic. `tests/breaker.rs` tests the guard itself.
pub fn patient_guard() -> JournalGuard {
    let config = JournalGuardConfig {
        journal_reply_timeout: stampede_engine::guard::MAX_JOURNAL_REPLY_TIMEOUT,
        ..JournalGuardConfig::default()
    };
    JournalGuard::new(config, Arc::new(SystemClock::new())).expect("valid guard config")
}

/// A current-thread tokio runtime with timers and I/O.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}
