//! The sold-out fast path allocates nothing: token check, campaign-id parse and the engine's
//! published-state answer (`sold_out` and `already_won`) are measured with a counting global
//! allocator; nor does the lane, from the request's bytes to the response's (but for the
//! latency histogram's sample blocks). Hyper and axum allocate, for the requests the lane
//! leaves to them.
//! Nor does a rule's rejection that trips no ban, nor reading the client address from several
//! `X-Forwarded-For` lines.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use stampede_admission::rules::{RequestKeys, Route, Stage};
use stampede_api::defence::Defence;
use stampede_api::{AppError, Auth, lane};
use stampede_core::{CampaignId, GrabOutcome, UnixMillis, UserId};
use stampede_engine::{Durability, Engine, ManualClock};
use stampede_journal::MemoryStorage;
use stampede_server::Config;

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
    let spec = stampede_testkit::seckill(1, 1);
    let campaign = rt
        .block_on(engine.create_campaign(spec))
        .unwrap()
        .created()
        .unwrap()
        .id;
    assert!(matches!(
        rt.block_on(engine.grab(campaign, &stampede_core::UserId::parse("winner").unwrap()))
            .unwrap(),
        GrabOutcome::Won(_)
    ));

    let auth = Auth::new(b"0123456789abcdef0123456789abcdef", b"admin-key-0123456789");
    let token = auth.mint(&UserId::parse("loser").unwrap(), 1_000 + 3_600);
    let path_id = campaign.to_string();

    // Warm up thread-locals (papaya's epoch reservation) before measuring.
    let _ = engine.grab_fast_path(campaign, "loser");
    let info = allocation_counter::measure(|| {
        for _ in 0..10_000 {
            let user = auth.verify_user(&token, 1_000).unwrap();
            let id = CampaignId::parse(&path_id).unwrap();
            assert_eq!(
                engine.grab_fast_path(id, user.as_str()),
                Some(GrabOutcome::SoldOut)
            );
            assert!(matches!(
                engine.grab_fast_path(id, "winner"),
                Some(GrabOutcome::AlreadyWon(_))
            ));
        }
    });
    assert_eq!(info.count_total, 0, "the sold-out path allocated: {info:?}");
    engine.shutdown();
}

/// Polls a future that must be ready at once (no rule here sleeps or queues).
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the rules had to wait"),
    }
}

#[test]
fn a_rule_rejection_that_trips_no_ban_does_not_allocate() {
    let dir = tempfile::tempdir().unwrap();
    // The default rules: a per-user token bucket (1/s, burst 1) whose rejections count
    // toward a ban, with a threshold this test stays below.
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        auto_ban_threshold: 1_000_000,
        ..Config::default()
    };
    config.validate().unwrap();
    let now_ms = 1_794_398_400_000;
    let clock = Arc::new(ManualClock::new(UnixMillis(now_ms)));
    let defence = Defence::new(config.defence().unwrap(), clock).unwrap();
    let keys = RequestKeys {
        route: Route::Grab,
        ip: None,
        user: Some("looper"),
        campaign: Some(7),
    };
    let rejected = || {
        matches!(
            ready(defence.admit(Stage::AfterAuth, &keys, now_ms)),
            Err(AppError::RuleLimited {
                unavailable: false,
                ..
            })
        )
    };
    assert!(ready(defence.admit(Stage::AfterAuth, &keys, now_ms)).is_ok());
    // The first rejection starts the user's ban counter (and warms papaya's thread-locals).
    assert!(rejected());
    let info = allocation_counter::measure(|| {
        for _ in 0..10_000 {
            assert!(rejected());
        }
    });
    assert_eq!(info.count_total, 0, "a rejection allocated: {info:?}");
}

#[test]
fn the_client_address_from_several_forwarded_lines_does_not_allocate() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        trusted_proxies: "10.0.0.0/8".into(),
        ..Config::default()
    };
    config.validate().unwrap();
    let clock = Arc::new(ManualClock::new(UnixMillis(1_794_398_400_000)));
    let defence = Defence::new(config.defence().unwrap(), clock).unwrap();
    let mut headers = axum::http::HeaderMap::new();
    for line in ["198.51.100.1, 1.2.3.4", "5.6.7.8, 10.0.0.3", "10.0.0.2"] {
        headers.append("x-forwarded-for", line.parse().unwrap());
    }
    let peer = Some("10.0.0.1:4000".parse().unwrap());
    let client: std::net::IpAddr = "5.6.7.8".parse().unwrap();
    assert_eq!(defence.client_ip(peer, &headers), Some(client));
    let info = allocation_counter::measure(|| {
        for _ in 0..10_000 {
            assert_eq!(defence.client_ip(peer, &headers), Some(client));
        }
    });
    assert_eq!(
        info.count_total, 0,
        "reading the address allocated: {info:?}"
    );
}

/// The lane end to end: a sold-out grab from the request's bytes to the response's bytes
/// (head parse, in-flight permit, switches, client address, rules, token, fast path, metrics,
/// response written into the connection's reused buffer) allocates nothing but the latency
/// histogram's sample blocks.
#[test]
fn the_lane_answers_sold_out_from_bytes_to_bytes_without_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        token_secret: "0123456789abcdef0123456789abcdef".into(),
        admin_key: "admin-key-0123456789".into(),
        ..Config::default()
    };
    config.validate().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _entered = rt.enter();
    let now = UnixMillis(1_794_398_400_000);
    let state = stampede_server::build(&config, Arc::new(ManualClock::new(now))).unwrap();
    let spec = stampede_testkit::seckill(1, 1);
    let campaign = rt
        .block_on(state.shards.home().engine.create_campaign(spec))
        .unwrap()
        .created()
        .unwrap()
        .id;
    let winner = UserId::parse("winner").unwrap();
    assert!(matches!(
        rt.block_on(state.shards.home().engine.grab(campaign, &winner))
            .unwrap(),
        GrabOutcome::Won(_)
    ));
    let token = state
        .auth
        .mint(&UserId::parse("loser").unwrap(), now.0 / 1000 + 3_600);
    let request = format!(
        "POST /v1/campaigns/{campaign}/grab HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\n\r\n"
    );
    let peer = "127.0.0.1:4000".parse().unwrap();
    let mut date = lane::DateCache::default();
    let mut out = Vec::with_capacity(512);
    let mut answer = |out: &mut Vec<u8>| {
        let lane::Head::Grab(head) = lane::parse(request.as_bytes()) else {
            panic!("the lane takes a plain grab")
        };
        out.clear();
        ready(lane::answer(&state, &head, peer, false, &mut date, out));
        assert!(out.starts_with(b"HTTP/1.1 410 Gone\r\n"));
    };
    // Warm up: thread-locals, the date, the histogram's first block.
    for _ in 0..1_000 {
        answer(&mut out);
    }
    let info = allocation_counter::measure(|| {
        for _ in 0..10_000 {
            answer(&mut out);
        }
    });
    // The one allocation is the latency histogram's: the exporter's sample buffer (metrics-util
    // `AtomicBucket`) takes a block for every 64 samples, freed when upkeep drains it into
    // the buckets. Everything else on the path allocates nothing.
    const SAMPLES_PER_BLOCK: u64 = 64;
    assert!(
        info.count_total <= 10_000 / SAMPLES_PER_BLOCK + 1,
        "the lane allocated more than the histogram's blocks: {info:?}"
    );
    state.shards.home().engine.shutdown();
}
