//! The dashboard's cluster panel in a real browser (headless Chromium over WebDriver, as in
//! `tests/dashboard/`): on a node of a three-node cluster it lists the live nodes and every
//! shard with its leader; when a node is killed, the shards it led show other leaders,
//! read after read of the page; a screenshot goes to `target/tmp/dashboard-cluster.png`.
//! Skipped loudly without chromium and chromedriver (failed
//! under `CI`).

use std::time::Duration;

use serde_json::{Value, json};

use crate::nodes::{Cluster, SHARDS};
use crate::support::{ADMIN_KEY, installed_or_skip};
use crate::webdriver::ChromeDriver;

/// How long the page may take to show what the test waits for (it polls once a second; a
/// failover takes about the lease).
const PAGE_LIMIT: Duration = Duration::from_secs(30);

/// Reads the cluster panel: the note, and each shard row's cells.
const READ_PANEL: &str = r#"
    if (document.getElementById("board").hidden) return null;
    const table = document.getElementById("cluster-shards");
    const rows = [...table.querySelectorAll("tbody tr")]
        .map((tr) => [...tr.children].map((td) => td.textContent));
    return { note: document.getElementById("cluster-note").textContent, hidden: table.hidden, rows };
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_cluster_and_its_leaders_move() {
    const TEST: &str = "the_dashboard_shows_the_cluster_and_its_leaders_move";
    let install = "apt-get install chromium chromium-driver";
    let Some(chromium) = installed_or_skip(TEST, &["chromium", "chromium-browser"], install) else {
        return;
    };
    let Some(chromedriver) = installed_or_skip(TEST, &["chromedriver"], install) else {
        return;
    };
    let Some(mut cluster) = Cluster::start(TEST).await else {
        return;
    };
    let profile = tempfile::tempdir().expect("a browser profile directory");
    let driver = ChromeDriver::start(&chromedriver).await;
    let page = driver.session(&chromium, profile.path()).await;
    page.open(&format!("{}/dashboard", cluster.base(0))).await;
    page.type_into("#key", ADMIN_KEY).await;
    page.click("#watch").await;

    // The panel: three live nodes, every shard with a leader, node-3 leading some.
    let read = || async { page.script(READ_PANEL, json!([])).await };
    let leaders = |panel: &Value| -> Vec<String> {
        panel["rows"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|row| row[1].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let shown = wait(&read, "every shard and its leader", |panel| {
        let leaders = leaders(panel);
        panel["hidden"] == false
            && ["node-1", "node-2", "node-3"]
                .iter()
                .all(|n| panel["note"].as_str().is_some_and(|t| t.contains(n)))
            && leaders.len() == SHARDS as usize
            && leaders.iter().all(|l| l.starts_with("node-"))
            && leaders.iter().any(|l| l == "node-3")
    })
    .await;
    eprintln!("cluster panel before: {shown}");

    // node-3 dies: once its leases run out, the panel shows every shard led by the others.
    cluster.kill(2);
    let after = wait(
        &read,
        "the killed node's shards under new leaders",
        |panel| {
            let leaders = leaders(panel);
            leaders.len() == SHARDS as usize
                && leaders.iter().all(|l| l == "node-1" || l == "node-2")
        },
    )
    .await;
    eprintln!("cluster panel after: {after}");
    let png = page.screenshot().await;
    let saved = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-cluster.png");
    std::fs::write(&saved, png).expect("the screenshot written");
    eprintln!("cluster dashboard screenshot: {}", saved.display());
    page.quit().await;
    drop(driver);
}

/// Reads the page until `done` holds for what it shows, at most [`PAGE_LIMIT`].
async fn wait<F, Fut>(read: &F, what: &str, done: impl Fn(&Value) -> bool) -> Value
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let deadline = tokio::time::Instant::now() + PAGE_LIMIT;
    loop {
        let panel = read().await;
        if !panel.is_null() && done(&panel) {
            return panel;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the page did not show {what} within {PAGE_LIMIT:?}: {panel}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
