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
