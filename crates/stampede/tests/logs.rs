//! Logs: `--log-format json` writes one JSON object a line (the start-up lines and the sampled
//! access log alike), and `--access-log-every 1` logs every request with its route and status.

mod support;

use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use support::free_port;

#[tokio::test]
async fn json_logs_are_one_object_a_line_and_the_access_log_names_each_request() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = support::serve_command(
        dir.path(),
        port,
        &["--log-format", "json", "--access-log-every", "1"],
    )
    .env("STAMPEDE_LOG", "info")
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn stampede serve");
    let base = format!("http://127.0.0.1:{port}");
    support::wait_until_healthy(&base).await;
    let client = reqwest::Client::new();
    let missing = client
        .get(format!(
            "{base}/v1/campaigns/c_00000000000000000000000000000000"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    // SIGTERM: a graceful stop flushes the log writer's queue.
    let pid = child.id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let output = support::exit_within(child, Duration::from_secs(30)).await;
    let mut stderr = String::new();
    output
        .stderr
        .as_slice()
        .read_to_string(&mut stderr)
        .unwrap();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["level"] == "INFO"
            && l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("stampede listening"))),
        "{stderr}"
    );
    let access = lines
        .iter()
        .find(|l| l["target"] == "access" && l["fields"]["route"] == "/v1/campaigns/{id}")
        .unwrap_or_else(|| panic!("no access line for the campaign read: {stderr}"));
    assert_eq!(access["fields"]["status"], 404);
    assert_eq!(access["fields"]["method"], "GET");
}
