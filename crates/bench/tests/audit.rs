//! The bench against an in-memory fake server: an honest fake passes the audit, a broken one
//! (oversell, lost win) fails it with the violation named. No assertion on speed.

mod support;

use stampede_bench::{BenchArgs, CampaignKind, run};
use support::{ADMIN_KEY, FakeConfig, Fault, TOKEN_SECRET};

/// A small bounded stampede: a few thousand requests at most, a few seconds at most.
fn small_args(url: String) -> BenchArgs {
    let mut args = BenchArgs::for_target(url);
    args.token_secret = Some(TOKEN_SECRET.into());
    args.admin_key = Some(ADMIN_KEY.into());
    args.users = 1_500;
    args.scripts = 5;
    args.botnet_users = 100;
    args.botnet_ips = 8;
    args.stock = 200;
    args.connections = 16;
    args.duration_secs = 8;
    args.max_requests = 6_000;
    args.seed = Some(42);
    args.quiet = true;
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_server_passes_the_audit() {
    let fake = support::start(FakeConfig::default()).await;
    let directory = tempfile::tempdir().unwrap();
    let mut args = small_args(fake.url());
    args.json = Some(directory.path().join("report.json"));
    args.html = Some(directory.path().join("report.html"));
    let outcome = run(args).await.expect("bench runs");

    assert!(outcome.audit.passed(), "{}", outcome.audit.to_text());
    let overall = &outcome.report.overall;
    assert!(overall.requests > 0);
    assert_eq!(overall.outcomes.get("won"), Some(&200), "all stock is won");
    assert!(overall.outcomes.contains_key("sold_out"));
    assert!(outcome.report.connects >= 16);
    assert_eq!(outcome.audit.summary.winners_listed, 200);

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(directory.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["report"]["overall"]["outcomes"]["won"], 200);
    assert!(json["audit"]["checks"].as_array().unwrap().len() >= 7);
    let html = std::fs::read_to_string(directory.path().join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("audit passed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_packets_open_loop_sum_exactly() {
    let fake = support::start(FakeConfig::default()).await;
    let mut args = small_args(fake.url());
    args.kind = CampaignKind::RedPacket;
    args.stock = 150;
    args.total_cents = 10_007;
    args.rate = Some(1_500);
    let outcome = run(args).await.expect("bench runs");
    assert!(outcome.audit.passed(), "{}", outcome.audit.to_text());
    assert_eq!(outcome.report.run.mode, "open");
    assert_eq!(outcome.audit.summary.amount_sum_cents, 10_007);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversell_is_caught() {
    let fake = support::start(FakeConfig {
        fault: Fault::Oversell(5),
        ..FakeConfig::default()
    })
    .await;
    let outcome = run(small_args(fake.url())).await.expect("bench runs");
    let failed = outcome.audit.failed_checks();
    assert!(!outcome.audit.passed());
    assert!(failed.contains(&"stock_conserved"), "{failed:?}");
    assert!(failed.contains(&"winner_count"), "{failed:?}");
    assert!(
        outcome
            .audit
            .to_text()
            .contains("winners listed 205 + remaining 0")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_acknowledged_win_is_caught() {
    let fake = support::start(FakeConfig {
        fault: Fault::DropFirstWinner,
        ..FakeConfig::default()
    })
    .await;
    let outcome = run(small_args(fake.url())).await.expect("bench runs");
    let failed = outcome.audit.failed_checks();
    assert!(failed.contains(&"no_lost_win"), "{failed:?}");
    assert!(outcome.audit.to_text().contains("order ord1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_target_is_an_error_not_a_hang() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let error = run(small_args(format!("http://{address}")))
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains("connect"), "{error:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_server_that_dies_is_reported() {
    let mut args = BenchArgs::for_target("unused");
    args.target = None;
    args.spawn = true;
    args.server_bin = Some("/bin/false".into());
    args.quiet = true;
    let error = run(args).await.unwrap_err();
    assert!(
        format!("{error:#}").contains("exited"),
        "expected a clear startup failure, got {error:#}"
    );
}
