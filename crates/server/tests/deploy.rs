//! The deployment files under `deploy/`: the Prometheus alert rules pass `promtool check
//! rules` and their unit tests (`promtool test rules`), and every metric the alerts and the
//! Grafana dashboard read is one the server exports (a renamed metric would leave a dashboard
//! panel empty and an alert silent, with nothing else to say so).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `promtool`, or `None` after a loud SKIPPED line (a failure under `CI`, where `.ci/run`
/// installs it).
fn promtool() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("promtool"))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        let message = "SKIPPED: promtool not found (apt-get install prometheus); the alert rules \
                       were not checked";
        assert!(std::env::var_os("CI").is_none(), "{message}");
        eprintln!("{message}");
    }
    found
}

#[test]
fn the_alert_rules_check_and_pass_their_unit_tests() {
    let Some(promtool) = promtool() else {
        return;
    };
    let rules = repository().join("deploy/prometheus");
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts_test.yml"],
    ] {
        let out = Command::new(&promtool)
            .args(args)
            .current_dir(&rules)
            .output()
            .expect("promtool runs");
        assert!(
            out.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every `stampede_*` name in `text`, with a histogram's `_bucket` / `_sum` / `_count`
/// suffix taken off.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("stampede_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let name = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(name);
        names.insert(name.to_owned());
        rest = &tail[end..];
    }
    names
}

#[test]
fn the_alerts_and_the_dashboard_read_only_metrics_the_server_exports() {
    let exported: BTreeSet<&str> = stampede_api::metrics::FAMILIES
        .iter()
        .map(|(name, _, _)| *name)
        .chain(stampede_api::exposition::LIVE_FAMILIES.iter().copied())
        .collect();
    for file in [
        "deploy/prometheus/alerts.yml",
        "deploy/grafana/stampede.json",
    ] {
        let text = std::fs::read_to_string(repository().join(file)).expect(file);
        let names = metric_names(&text);
        assert!(names.len() >= 5, "{file} reads {names:?}");
        let unknown: Vec<&String> = names
            .iter()
            .filter(|name| !exported.contains(name.as_str()))
            .collect();
        assert!(
            unknown.is_empty(),
            "{file} reads metrics nobody exports: {unknown:?}"
        );
    }
    // The dashboard is valid JSON with its panels.
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repository().join("deploy/grafana/stampede.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    assert!(
        dashboard["panels"]
            .as_array()
            .is_some_and(|p| p.len() >= 10)
    );
}
