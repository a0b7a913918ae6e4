//! `stampede bench --spawn` against the real server: a small bounded stampede (seconds,
//! thousands of requests) of every population, then the audit must pass — for a seckill and for
//! a red-packet campaign, and for a seckill whose winners then pay (`--pay`, the default
//! simulated channel). The auditor's ability to catch violations is tested against fake
//! overselling servers in crates/bench/tests/audit.rs.

mod support;

use std::process::Command;

use support::{bench_succeeds, binary};

fn run_bench(extra: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let html = dir.path().join("report.html");
    let stdout = bench_succeeds(
        Command::new(binary())
            .args([
                "bench", "--spawn", "--quiet", "--users", "3000", "--stock", "300",
            ])
            .args([
                "--scripts",
                "5",
                "--botnet-users",
                "300",
                "--botnet-ips",
                "20",
            ])
            .args([
                "--connections",
                "32",
                "--duration",
                "10",
                "--max-requests",
                "20000",
            ])
            .args(["--server-arg=--grab-rate-per-second", "--server-arg=5"])
            .arg("--json")
            .arg(&json)
            .arg("--html")
            .arg(&html)
            .args(extra),
    );
    assert!(stdout.contains("audit: PASSED"), "{stdout}");
    let page = std::fs::read_to_string(&html).unwrap();
    // Self-contained: inline SVG, nothing fetched (the SVG namespace URI is not a fetch).
    assert!(page.contains("<svg"), "no inline SVG plot");
    for fetch in ["src=\"http", "href=\"http", "<link", "url(http", "import "] {
        assert!(
            !page.contains(fetch),
            "the HTML report fetches something: {fetch}"
        );
    }
    serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap()
}

#[test]
fn seckill_stampede_passes_the_audit() {
    let report = run_bench(&[]);
    assert_all_checks_passed(&report);
}

#[test]
fn red_packet_stampede_passes_the_audit() {
    let report = run_bench(&["--kind", "red-packet", "--total-cents", "30000"]);
    assert_all_checks_passed(&report);
}

#[test]
fn seckill_stampede_that_pays_passes_the_payment_audit() {
    let report = run_bench(&["--pay", "--pay-settle-secs", "10"]);
    assert_all_checks_passed(&report);
    let names: Vec<&str> = report["audit"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|check| check["name"].as_str())
        .collect();
    assert!(names.contains(&"payments_settled"), "{names:?}");
    assert!(names.contains(&"paid_amounts"), "{names:?}");
    let payments = &report["report"]["payments"];
    let acknowledged = &report["audit"]["summary"]["acknowledged_wins"];
    assert_eq!(&payments["orders"], acknowledged, "{payments:#}");
    assert_eq!(payments["paid_ok"], payments["orders"], "{payments:#}");
    assert_eq!(
        payments["final_states"]["paid"], payments["paid_ok"],
        "{payments:#}"
    );
    assert_eq!(
        payments["amount_reads"], payments["paid_ok"],
        "{payments:#}"
    );
    assert!(payments["settled_secs"].is_number(), "{payments:#}");
}

fn assert_all_checks_passed(report: &serde_json::Value) {
    let checks = report["audit"]["checks"]
        .as_array()
        .expect("audit checks in the JSON report");
    assert!(
        checks.len() >= 7,
        "expected every audit check, got {checks:?}"
    );
    for check in checks {
        assert_eq!(check["passed"], true, "audit check failed: {check:#}");
    }
    let summary = &report["audit"]["summary"];
    assert_eq!(
        summary["run_winners_distinct"], summary["total"],
        "stock left unsold: {summary}"
    );
}

/// `stampede bench --shadow --target URL --campaign ID` rehearses a live campaign that has
/// already sold a few items for real: the audit passes on the shadow copy (sold out to the
/// bench's users, within the per-user limit), and the real campaign keeps its stock and its
/// real winners.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rehearsal_against_a_live_server_sells_nothing() {
    const STOCK: u64 = 200;
    let dir = tempfile::tempdir().unwrap();
    let server = support::Server::start(dir.path(), &[]).await;
    let client = reqwest::Client::new();
    let campaign = support::create_seckill(&client, &server.base, STOCK).await;
    for user in ["early-1", "early-2", "early-3"] {
        let won = support::send_json(
            client
                .post(format!("{}/v1/campaigns/{campaign}/grab", server.base))
                .header("authorization", format!("Bearer {}", support::token(user))),
        )
        .await;
        assert_eq!(won["outcome"], "won", "{won}");
    }
    let real_winners = support::winners(&client, &server.base, &campaign).await;

    let (stdout, report) = bench_live(&server.base, &["--shadow", "--campaign", &campaign]);
    assert!(stdout.contains("[ok] real_untouched"), "{stdout}");
    let summary = &report["audit"]["summary"];
    assert_eq!(summary["total"], STOCK, "{summary}");
    assert_eq!(
        summary["available_before"], STOCK,
        "the copy starts whole: {summary}"
    );
    assert_eq!(summary["remaining_after"], 0, "{summary}");

    // Nothing was sold for real; the shadow copy holds the rehearsal's orders.
    let real =
        support::send_json(client.get(format!("{}/v1/campaigns/{campaign}", server.base))).await;
    assert_eq!(real["remaining"], STOCK - 3, "{real}");
    assert_eq!(
        support::winners(&client, &server.base, &campaign).await,
        real_winners
    );
    let copy = support::send_json(
        client
            .get(format!(
                "{}/v1/admin/shadow/campaigns/{campaign}",
                server.base
            ))
            .header("authorization", support::admin()),
    )
    .await;
    assert_eq!(
        (copy["remaining"].as_u64(), copy["winners"].as_u64()),
        (Some(0), Some(STOCK))
    );
    server.kill();
}

/// Users of a [`bench_live`] run.
const LIVE_BENCH_USERS: u64 = 2_000;

/// `stampede bench --target TARGET` (the test secrets) with a small bounded stampede of every
/// population and `extra` flags, which must pass its audit: its stdout and JSON report.
fn bench_live(target: &str, extra: &[&str]) -> (String, serde_json::Value) {
    let reports = tempfile::tempdir().unwrap();
    let json = reports.path().join("report.json");
    let stdout = bench_succeeds(
        Command::new(binary())
            .args(["bench", "--quiet", "--target", target])
            .args(["--users", &LIVE_BENCH_USERS.to_string(), "--scripts", "5"])
            .args(["--botnet-users", "200", "--botnet-ips", "20"])
            .args(["--connections", "16", "--duration", "10"])
            .args(["--max-requests", "20000"])
            .args(extra)
            .env("STAMPEDE_TOKEN_SECRET", support::TOKEN_SECRET)
            .env("STAMPEDE_ADMIN_KEY", support::ADMIN_KEY)
            .arg("--json")
            .arg(&json),
    );
    assert!(stdout.contains("audit: PASSED"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_all_checks_passed(&report);
    (stdout, report)
}

/// `http://127.0.0.1:PORT` where nothing listens: a listener bound, its port taken, dropped.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// Runs `stampede bench --target DEAD,LIVE` with `extra` flags (a closed port first, so admin
/// calls must move on too) and checks what every such run must show: the audit passed, every
/// user ended on the live node, the dead node's users were failed over and counted.
fn bench_over_a_dead_and_a_live_node(live: &str, extra: &[&str]) -> serde_json::Value {
    let dead = closed_port_url();
    let (stdout, report) = bench_live(&format!("{dead},{live}"), extra);
    assert!(stdout.contains("nodes ("), "a per-node table: {stdout}");

    let nodes = report["report"]["nodes"]
        .as_array()
        .expect("per-node report");
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    let (down, up) = (&nodes[0], &nodes[1]);
    let count = |node: &serde_json::Value, field: &str| node[field].as_u64().expect(field);
    assert_eq!(
        down["target"].as_str().map(|t| format!("http://{t}")),
        Some(dead),
        "{down}"
    );
    assert_eq!(
        count(down, "users_homed") + count(up, "users_homed"),
        LIVE_BENCH_USERS,
        "{nodes:?}"
    );
    assert!(
        count(down, "users_homed") > 0 && count(up, "users_homed") > 0,
        "users spread over both: {nodes:?}"
    );
    // Every request the dead node was sent failed to connect, and was sent again to the live
    // node; no user got its last answer there, and no connect error reached a user.
    assert!(count(down, "requests") > 0, "{down}");
    assert_eq!(
        count(down, "requests"),
        count(down, "connection_failures"),
        "{down}"
    );
    assert_eq!(count(down, "users_last_served"), 0, "{down}");
    assert_eq!(count(up, "users_last_served"), LIVE_BENCH_USERS, "{up}");
    assert!(
        count(down, "failovers") >= count(down, "users_homed"),
        "each of the dead node's users was served elsewhere at least once: {down}"
    );
    assert_eq!(
        (count(up, "connection_failures"), count(up, "failovers")),
        (0, 0),
        "{up}"
    );
    let outcomes = &report["report"]["overall"]["outcomes"];
    assert!(outcomes.get("connect_error").is_none(), "{outcomes}");
    report
}

/// Two targets, one of them a closed port: a real sale whose winners then pay (the campaign
/// created, the winners read and the orders paid on the first live node).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bench_over_two_targets_fails_over_from_the_dead_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = support::Server::start(dir.path(), &[]).await;
    let report = bench_over_a_dead_and_a_live_node(
        &server.base,
        &["--stock", "200", "--pay", "--pay-settle-secs", "10"],
    );
    let summary = &report["audit"]["summary"];
    assert_eq!(summary["total"], 200, "{summary}");
    let payments = &report["report"]["payments"];
    assert_eq!(
        payments["paid_ok"], summary["acknowledged_wins"],
        "{payments:#}"
    );
    server.kill();
}

/// `--shadow` over the same two targets: the rehearsal fails over the same way and sells
/// nothing for real.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rehearsal_over_two_targets_fails_over_from_the_dead_one() {
    const STOCK: u64 = 150;
    let dir = tempfile::tempdir().unwrap();
    let server = support::Server::start(dir.path(), &[]).await;
    let client = reqwest::Client::new();
    let campaign = support::create_seckill(&client, &server.base, STOCK).await;
    let report =
        bench_over_a_dead_and_a_live_node(&server.base, &["--shadow", "--campaign", &campaign]);
    assert_eq!(report["audit"]["summary"]["total"], STOCK);
    let real =
        support::send_json(client.get(format!("{}/v1/campaigns/{campaign}", server.base))).await;
    assert_eq!(real["remaining"], STOCK, "nothing sold for real: {real}");
    server.kill();
}
