//! schemathesis (PyPI) fuzzes the real `stampede serve` through its own `GET /openapi.json`,
//! once with a user token and once with the admin key: every operation, in positive and
//! negative mode, and the stateful phase that chains them. A run fails on a 5xx the operation
//! does not document (only documented 503s, and the claim's 502, are allowed), a response that
//! breaks its schema, an undocumented status or content type, an unsupported method not
//! answered 405, a secured operation that answers without credentials, or a malformed request
//! accepted.
//!
//! Bounded: a few dozen examples per operation and a wall-clock limit per run (see the
//! constants). Needs `schemathesis` (`pip install schemathesis`): skipped loudly without it,
//! a failure under `CI`, where `.ci/run` installs it.

mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Server, admin, output_within, send_json, token};

/// Test cases per operation and phase (`STAMPEDE_FUZZ_EXAMPLES` overrides it for a longer
/// hunt; the run limit grows with it).
const MAX_EXAMPLES: u64 = 25;
/// One run's wall-clock limit (a debug-build server; a run takes 15-30 s on 2 cores).
const RUN_LIMIT: Duration = Duration::from_secs(150);
/// Fixed, so a failure found in CI replays locally (`STAMPEDE_FUZZ_SEED` overrides it).
const SEED: u64 = 20_261_207;
/// How long seeding may wait out the per-user rate limit.
const GRAB_LIMIT: Duration = Duration::from_secs(10);
/// The simulated channel's callback secret, which `schemathesis_hooks.py` signs callbacks with.
const CHANNEL_SECRET: &str = "fuzz-channel-secret-0123456789abcdef";
/// The user whose token the user run carries (it owns some of the seeded orders).
const FUZZ_USER: &str = "fuzz-user";
/// The checks every response is held to (`STAMPEDE_FUZZ_CHECKS` replaces them, e.g. with
/// `all`, for a hunt).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,negative_data_rejection,unsupported_method,\
                      ignored_auth";

/// `schemathesis`, from Python's scripts directory (where pip puts it) or the PATH; `None`
/// after a loud SKIPPED line, a failure under `CI`.
fn schemathesis() -> Option<PathBuf> {
    let scripts = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|dir| PathBuf::from(dir.trim()));
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let found = scripts
        .into_iter()
        .chain(path_dirs)
        .map(|dir| dir.join("schemathesis"))
        .find(|path| path.is_file());
    if found.is_none() {
        let why = "schemathesis not found (pip install schemathesis): the API document was not \
                   fuzzed against the server";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        // Past the harness's capture, so a skipped test is seen.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("\n!!! SKIPPED {why}\n").as_bytes(),
        );
    }
    found
}

/// Campaigns and orders for the fuzzer's path parameters to hit, beside the ids it makes up:
/// (campaign ids, order ids).
async fn seed(base: &str) -> (Vec<String>, Vec<String>) {
    let client = reqwest::Client::new();
    let create = |body: Value| {
        client
            .post(format!("{base}/v1/campaigns"))
            .header("authorization", admin())
            .json(&body)
    };
    let seckill = send_json(create(json!({
        "kind": "seckill", "name": "fuzzed phones", "stock": 1000, "price_cents": 999
    })))
    .await;
    let packets = send_json(create(json!({
        "kind": "red_packet", "name": "fuzzed packets", "total_cents": 100_000, "count": 100
    })))
    .await;
    let campaigns: Vec<String> = [&seckill, &packets]
        .iter()
        .map(|c| c["id"].as_str().expect("a created campaign").to_owned())
        .collect();
    let mut orders = Vec::new();
    for user in [FUZZ_USER, "another-user"] {
        for campaign in &campaigns {
            let grab = || {
                client
                    .post(format!("{base}/v1/campaigns/{campaign}/grab"))
                    .header("authorization", format!("Bearer {}", token(user)))
            };
            // The default per-user rule answers a user's second grab within its window 429:
            // retried until it passes (the rule's window is a second).
            let deadline = tokio::time::Instant::now() + GRAB_LIMIT;
            let won = loop {
                let answer = send_json(grab()).await;
                if answer["error"]["code"] != "rate_limited" {
                    break answer;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "still rate limited after {GRAB_LIMIT:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            let order = won["order_id"].as_str();
            orders.push(
                order
                    .unwrap_or_else(|| panic!("a won grab: {won}"))
                    .to_owned(),
            );
        }
    }
    (campaigns, orders)
}

/// schemathesis's config: per operation, the 5xx statuses its document lists (allowed by
/// `not_a_server_error`), and the seeded ids for its `{id}`, half the time.
fn config(document: &Value, campaigns: &[String], orders: &[String]) -> String {
    let mut toml = String::new();
    let list = |ids: &[String]| {
        ids.iter()
            .map(|id| format!("{id:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // A malformed body is refused 400, or 413 when it is also over 16 KiB (schemathesis's
    // default list of rejections lacks 413).
    let _ = writeln!(
        toml,
        "[checks.negative_data_rejection]\nexpected-statuses = [\"400\", \"401\", \"403\", \
         \"404\", \"405\", \"406\", \"409\", \"413\", \"415\", \"422\", \"428\", \"429\", \"5xx\"]\n"
    );
    let _ = writeln!(
        toml,
        "[dictionaries.campaigns]\nvalues = [{}]\n",
        list(campaigns)
    );
    let _ = writeln!(toml, "[dictionaries.orders]\nvalues = [{}]\n", list(orders));
    let _ = writeln!(toml, "[dictionaries.channels]\nvalues = [\"sim\"]\n");
    let paths = document["paths"]
        .as_object()
        .expect("the document has paths");
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("a path item") {
            let mut expected = vec!["2xx".to_owned(), "3xx".to_owned(), "4xx".to_owned()];
            let responses = operation["responses"].as_object().expect("responses");
            expected.extend(responses.keys().filter(|s| s.starts_with('5')).cloned());
            let _ = writeln!(toml, "[[operations]]");
            let _ = writeln!(toml, "include-name = \"{} {path}\"", method.to_uppercase());
            let _ = writeln!(
                toml,
                "checks.not_a_server_error.expected-statuses = {expected:?}"
            );
            let ids = if path.starts_with("/v1/campaigns/{id}") {
                Some("campaigns")
            } else if path.starts_with("/v1/orders/{id}") {
                Some("orders")
            } else {
                None
            };
            if let Some(ids) = ids {
                let _ = writeln!(
                    toml,
                    "parameters = {{ \"path.id\" = {{ dictionary = \"{ids}\", probability = 0.5 }} }}"
                );
            } else if path == "/v1/payments/callbacks/{channel}" {
                // The configured channel, and the seeded orders in the body (signed by the hooks).
                let _ = writeln!(
                    toml,
                    "parameters = {{ \"path.channel\" = {{ dictionary = \"channels\", probability = 0.8 }}, \
                     \"body.order_id\" = {{ dictionary = \"orders\", probability = 0.5 }} }}"
                );
            }
            toml.push('\n');
        }
    }
    toml
}

/// A number from the environment, or `default`.
fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}: not a number: {v:?}"))
        })
        .unwrap_or(default)
}

/// One run; its failures as the report to fail with.
fn run(
    program: &Path,
    dir: &Path,
    base: &str,
    config: &Path,
    who: &str,
    authorization: &str,
) -> Result<(), String> {
    let examples = knob("STAMPEDE_FUZZ_EXAMPLES", MAX_EXAMPLES);
    let limit = RUN_LIMIT * u32::try_from(examples.div_ceil(MAX_EXAMPLES)).unwrap_or(u32::MAX);
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis_hooks.py");
    let mut command = Command::new(program);
    command
        .current_dir(dir)
        .env("SCHEMATHESIS_HOOKS", hooks)
        .env("STAMPEDE_FUZZ_CHANNEL_SECRET", CHANNEL_SECRET)
        .arg("--config-file")
        .arg(config)
        .args(["--no-color", "run"])
        .arg(format!("{base}/openapi.json"))
        .args(["--header", &format!("Authorization: {authorization}")])
        .args([
            "--checks",
            &std::env::var("STAMPEDE_FUZZ_CHECKS").unwrap_or(CHECKS.into()),
        ])
        .args(["--max-examples", &examples.to_string()])
        .args(["--seed", &knob("STAMPEDE_FUZZ_SEED", SEED).to_string()])
        // One worker: hypothesis parses lambdas' source with `ast.parse`, which CPython 3.11
        // can fail from two threads at once ("AST constructor recursion depth mismatch").
        .args(["--workers", "1", "--request-timeout", "10"]);
    let out = output_within(&mut command, limit);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // From the first failure or error on: its first 12,000 characters (a failing
        // request's body can be huge) and the summary.
        let from = ["=== FAILURES", "=== ERRORS"]
            .iter()
            .filter_map(|marker| stdout.find(marker))
            .min()
            .unwrap_or(0);
        let report = &stdout[from..];
        let head_end = (12_000.min(report.len())..=report.len())
            .find(|&i| report.is_char_boundary(i))
            .unwrap_or(report.len());
        let summary = report
            .rfind("=== SUMMARY")
            .unwrap_or(report.len())
            .max(head_end);
        let report = format!("{}\n[…]\n{}", &report[..head_end], &report[summary..]);
        return Err(format!(
            "schemathesis as {who} found failures ({}):\n{}\n{}",
            out.status,
            report,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // The closing lines: how much was tested.
    let summary: Vec<&str> = stdout.lines().rev().take(8).collect();
    eprintln!("schemathesis as {who}: {}", summary.join(" | "));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_as_a_user_or_as_the_admin() {
    let Some(program) = schemathesis() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data directory");
    // The admin run flips switches and replaces rules hundreds of times, each logged as a
    // warning: errors only.
    let port = support::free_port();
    let mut command = support::serve_command(&data, port, &["--log", "error"]);
    command.env("STAMPEDE_SIM_CHANNEL_SECRET", CHANNEL_SECRET);
    let server = Server::start_command(command, port).await;
    let (campaigns, orders) = seed(&server.base).await;
    let document: Value =
        send_json(reqwest::Client::new().get(format!("{}/openapi.json", server.base))).await;
    let config_path = dir.path().join("schemathesis.toml");
    std::fs::write(&config_path, config(&document, &campaigns, &orders)).expect("write config");
    let base = server.base.clone();
    let user = format!("Bearer {}", token(FUZZ_USER));
    // The user first: the admin run may switch features off, replace the rules or block
    // addresses, which would hide the user's operations behind documented refusals.
    let runs = tokio::task::spawn_blocking(move || {
        let config = config_path.as_path();
        let result = run(&program, dir.path(), &base, config, "a user", &user)
            .and_then(|()| run(&program, dir.path(), &base, config, "the admin", &admin()));
        (result, dir)
    });
    let (result, _dir) = runs.await.expect("the runs finish");
    let metrics = reqwest::get(format!("{}/metrics", server.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    server.kill();
    if let Err(report) = result {
        panic!("{report}");
    }
    // The hooks' signatures worked: fuzzed callbacks got past the signature check.
    let callbacks: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("stampede_http_requests_total{") && l.contains("callbacks"))
        .collect();
    eprintln!("callbacks answered: {callbacks:#?}");
    assert!(
        callbacks.iter().any(|l| !l.contains("status=\"401\"")),
        "every fuzzed callback was refused 401: schemathesis_hooks.py did not sign them"
    );
}
