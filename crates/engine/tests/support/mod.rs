//! Shared helpers for the engine's integration tests.
#![allow(dead_code, missing_docs)]

use std::sync::Arc;

use stampede_core::{CampaignSpec, Cents, CommonSpec, RedPacketSpec, SeckillSpec, UnixMillis};
use stampede_engine::{Durability, Engine, ManualClock};
use stampede_journal::MemoryStorage;

/// 2026-11-11T12:00:00Z: a fixed "now" so runs are reproducible.
pub const T0: UnixMillis = UnixMillis(1_794_398_400_000);

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
    })
}

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
    })
}

/// An engine on in-memory storage with a manual clock and a fixed RNG seed.
pub fn open_memory(storage: &MemoryStorage, durability: Durability, seed: u64) -> Engine {
    let clock = ManualClock::new(T0);
    let (engine, _) =
        Engine::open_storage(storage.clone(), durability, Some(seed), Arc::new(clock))
            .expect("engine opens");
    engine
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}
