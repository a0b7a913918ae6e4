//! Unit tests of the bench report's figures and rendering.

use super::*;
use std::time::Duration;

fn run_info() -> RunInfo {
    RunInfo {
        target: "127.0.0.1:1".into(),
        campaign_id: "c1".into(),
        mode: "closed".into(),
        connections: 1,
        rate_per_sec: None,
        duration_limit_secs: 1,
        max_requests: 10,
        seed: 7,
        mix: Mix::new(10, 100, 0, 0).unwrap(),
        botnet_ips: 0,
        clicker_ips: 0,
        script_ips: 0,
    }
}

#[test]
fn percentiles_come_from_the_histogram() {
    let mut recorder = Recorder::new();
    // 1..=1000 ms, one each: p50 ≈ 500 ms, p99 ≈ 990 ms, max ≈ 1000 ms (0.1% precision).
    for millis in 1..=1_000u64 {
        recorder.record(
            Population::Clicker,
            Outcome::SoldOut,
            Duration::from_millis(millis),
            Duration::ZERO,
        );
    }
    let report = Report::new(run_info(), &recorder, 2.0);
    let latency = &report.overall.latency;
    let near = |value: u64, expected: u64| value.abs_diff(expected) <= expected / 500;
    assert!(near(latency.p50_us, 500_000), "{latency:?}");
    assert!(near(latency.p90_us, 900_000), "{latency:?}");
    assert!(near(latency.p99_us, 990_000), "{latency:?}");
    assert!(near(latency.p999_us, 999_000), "{latency:?}");
    assert!(near(latency.max_us, 1_000_000), "{latency:?}");
    assert_eq!(report.overall.throughput_rps, 500.0);
    assert_eq!(report.overall.outcomes.get("sold_out"), Some(&1_000));
    assert_eq!(
        report.populations.len(),
        1,
        "only clickers exist in this mix"
    );
    let table = report.to_table();
    assert!(table.contains("sold_out"));
    assert!(table.contains("clicker"));
    assert_eq!(report.win_shares.len(), 1);
    assert_eq!(report.win_shares[0].user_share, 1.0);
    assert_eq!(report.win_shares[0].wins, 0);
}

#[test]
fn empty_report_is_all_zero() {
    let report = Report::new(run_info(), &Recorder::new(), 0.0);
    assert_eq!(report.overall.requests, 0);
    assert_eq!(report.overall.latency.max_us, 0);
    assert_eq!(report.overall.throughput_rps, 0.0);
}
