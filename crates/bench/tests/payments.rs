//! `--pay` against the in-memory fake: an honest fake's payments settle and pass the audit; a
//! fake whose payments never settle, or record the wrong amount, fails the payment checks with
//! the order named. No assertion on speed.

mod support;

use stampede_bench::{BenchArgs, CampaignKind, run};
use support::{ADMIN_KEY, FakeConfig, Fault, TOKEN_SECRET};

/// A small bounded stampede that pays its wins: a few thousand requests, a few seconds.
fn paying_args(url: String) -> BenchArgs {
    let mut args = BenchArgs::for_target(url);
    args.token_secret = Some(TOKEN_SECRET.into());
    args.admin_key = Some(ADMIN_KEY.into());
    args.users = 1_000;
    args.scripts = 5;
    args.botnet_users = 50;
    args.botnet_ips = 4;
    args.stock = 120;
    args.connections = 16;
    args.duration_secs = 8;
    args.max_requests = 5_000;
    args.seed = Some(7);
    args.quiet = true;
    args.pay = true;
    args.pay_settle_secs = 1;
    args
}

async fn fake(fault: Fault) -> support::FakeServer {
    support::start(FakeConfig {
        fault,
        ..FakeConfig::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_payments_settle_and_pass() {
    let fake = fake(Fault::None).await;
    let directory = tempfile::tempdir().unwrap();
    let mut args = paying_args(fake.url());
    args.json = Some(directory.path().join("report.json"));
    let outcome = run(args).await.expect("bench runs");

    assert!(outcome.audit.passed(), "{}", outcome.audit.to_text());
    let payments = outcome
        .report
        .payments
        .as_ref()
        .expect("a payments section");
    assert_eq!(payments.orders, 120);
    assert_eq!(payments.paid_ok, 120);
    assert!(payments.failures.is_empty(), "{:?}", payments.failures);
    assert_eq!(payments.final_states.get("paid"), Some(&120));
    assert_eq!(payments.amount_reads, 120);
    assert!(payments.settled_secs.is_some());
    assert!(outcome.report.to_table().contains("payments: 120 orders"));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(directory.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["report"]["payments"]["paid_ok"], 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_that_never_settle_are_caught_within_the_settle_time() {
    let fake = fake(Fault::PayStuck).await;
    let outcome = run(paying_args(fake.url())).await.expect("bench runs");
    assert_eq!(outcome.audit.failed_checks(), vec!["payments_settled"]);
    let payments = outcome.report.payments.as_ref().unwrap();
    assert_eq!(payments.settled_secs, None);
    assert_eq!(payments.final_states.get("paying"), Some(&120));
    let text = outcome.audit.to_text();
    assert!(
        text.contains("was answered 200 on pay but is paying 1 s"),
        "{text}"
    );
    assert!(
        text.contains("… and 100 more"),
        "violations are capped: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_paid_amount_is_caught() {
    let fake = fake(Fault::PaidAmountOff).await;
    let outcome = run(paying_args(fake.url())).await.expect("bench runs");
    assert_eq!(outcome.audit.failed_checks(), vec!["paid_amounts"]);
    assert!(
        outcome.audit.to_text().contains(
            "order ord1 costs 990 cents but its paid payment (sim txn txn-ord1) is 991 cents"
        ),
        "{}",
        outcome.audit.to_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pay_nothing_is_paid_and_no_payment_check_runs() {
    let fake = fake(Fault::PayStuck).await;
    let mut args = paying_args(fake.url());
    args.pay = false;
    let outcome = run(args).await.expect("bench runs");
    assert!(outcome.audit.passed(), "{}", outcome.audit.to_text());
    assert!(outcome.report.payments.is_none());
    assert_eq!(outcome.audit.checks.len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_on_an_existing_red_packet_campaign_is_skipped() {
    let fake = fake(Fault::None).await;
    let mut create = paying_args(fake.url());
    create.pay = false;
    create.kind = CampaignKind::RedPacket;
    create.total_cents = 12_000;
    let created = run(create).await.expect("bench runs");
    let mut args = paying_args(fake.url());
    args.campaign = Some(created.report.run.campaign_id.clone());
    let outcome = run(args).await.expect("bench runs");
    assert!(outcome.report.payments.is_none());
    assert!(outcome.audit.passed(), "{}", outcome.audit.to_text());
}
