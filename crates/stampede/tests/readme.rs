//! The README's curl session, run as a new user runs it: `stampede serve` on its embedded
//! defaults in an empty directory, then the session's shell block, unchanged except for the
//! port (a free one instead of 8080), the binary (the one under test instead of `cargo run
//! --release -q --`) and its one `sleep 1` (the test waits for the payment on a condition).
//! The README is the first thing a user runs; a step that fails, a comment with no command or
//! a file left behind is a bug.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The README at the repository root.
const README: &str = include_str!("../../../README.md");
/// The heading of the session's section.
const SESSION_HEADING: &str = "### A session with curl";
/// How long the session's script may run (it only talks to a local server).
const SCRIPT_LIMIT: Duration = Duration::from_secs(60);
/// How long the simulated customer may take to pay (it pays 50 ms after `pay`).
const PAID_WITHIN: Duration = Duration::from_secs(10);

/// The first ```sh block after the session's heading.
fn session_block() -> &'static str {
    let section = &README[README
        .find(SESSION_HEADING)
        .expect("the README has a curl session")..];
    let start = section.find("```sh\n").expect("the session has a sh block") + "```sh\n".len();
    let end = section[start..].find("```").expect("the sh block ends");
    &section[start..start + end]
}

#[test]
fn every_comment_in_the_session_is_followed_by_a_command() {
    let lines: Vec<&str> = session_block().lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if !line.trim_start().starts_with('#') {
            continue;
        }
        let next = lines[i + 1..]
            .iter()
            .find(|l| !l.trim_start().starts_with('#'))
            .map(|l| l.trim());
        assert!(
            next.is_some_and(|l| !l.is_empty()),
            "README session: the comment {line:?} is not followed by a command"
        );
    }
}

#[test]
fn the_readme_links_nothing_outside_the_repository() {
    for (i, line) in README.lines().enumerate() {
        assert!(
            !line.contains("](../") && !line.contains("](/"),
            "README line {}: a link outside the repository: {line}",
            i + 1
        );
    }
}

/// Files and directories directly in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_curl_session_runs_as_written_and_leaves_no_file() {
    if Command::new("curl").arg("--version").output().is_err() {
        panic!("curl is not installed: the README session needs it (apt-get install curl)");
    }
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    // As a new user starts it: no secrets given, the data directory is the default one in the
    // working directory.
    let server = support::Server {
        child: Command::new(support::binary())
            .current_dir(dir.path())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env_remove("STAMPEDE_TOKEN_SECRET")
            .env_remove("STAMPEDE_ADMIN_KEY")
            .env("STAMPEDE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn stampede serve"),
        base: format!("http://127.0.0.1:{port}"),
        port,
    };
    support::wait_until_healthy(&server.base).await;
    let before = entries(dir.path());
    assert_eq!(
        before,
        ["stampede-data"],
        "serve made only its data directory"
    );

    let script = session_block()
        .replace("localhost:8080", &format!("localhost:{port}"))
        .replace(
            "cargo run --release -q --",
            &support::binary().display().to_string(),
        )
        .replace("sleep 1; ", "");
    assert!(
        !script.contains("sleep"),
        "the session waits only where the test knows why"
    );
    let child = Command::new("bash")
        .args(["-eu", "-o", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run bash");
    let output = support::exit_within(child, SCRIPT_LIMIT).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the session failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    for expected in [
        r#""kind":"seckill""#,
        r#""outcome":"won""#,
        r#""outcome":"already_won""#,
        r#""state":"pending_payment""#,
        r#""user_id":"alice""#,
    ] {
        assert!(
            stdout.contains(expected),
            "the session never printed {expected}:\n{stdout}"
        );
    }
    assert_eq!(
        entries(dir.path()),
        before,
        "the session left files in the working directory"
    );

    // The payment the session started completes: the order becomes paid.
    let order = stdout
        .split(r#""order_id":""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the session printed an order id")
        .to_owned();
    let token = std::fs::read_to_string(dir.path().join("stampede-data/token_secret")).unwrap();
    let token = {
        use stampede_engine::Clock as _;
        let expires = stampede_engine::SystemClock::new().now().0 / 1000 + 3_600;
        stampede_api::mint_token(token.trim().as_bytes(), "alice", expires)
    };
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + PAID_WITHIN;
    loop {
        let body = support::send_json(
            client
                .get(format!("{}/v1/orders/{order}", server.base))
                .bearer_auth(&token),
        )
        .await;
        if body["state"] == "paid" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the order the session paid is still {}",
            body["state"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
}
