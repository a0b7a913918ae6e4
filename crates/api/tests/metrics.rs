//! `GET /metrics` after a realistic run (campaigns created, grabs won, sold out and rate
//! limited, a payment and its duplicate refunded, rules replaced, an address blocked): every
//! family has one `# HELP`, one `# TYPE` and one label set, checked here by a small parser and,
//! where it is installed, by `promtool check metrics`; series of ended campaigns and of
//! replaced rules leave the scrape.
//!
//! Over 400 lines on purpose: one realistic run feeds every check, and the small exposition
//! parser the checks read it with lives here too.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use stampede_api::exposition::MAX_CAMPAIGN_SERIES;
use stampede_core::{OrderId, OrderState};
use support::{TestServer, expect_error, read_json};

/// A server whose simulated customer pays every order twice, so a payment, a duplicate
/// payment and its refund all happen.
async fn paying_server() -> TestServer {
    TestServer::start_with(|config| {
        config.channels = vec![stampede_money::SimChannelConfig {
            pay_delay_ms: 10,
            duplicate_payment_rate_ppm: 1_000_000,
            ..Default::default()
        }];
    })
    .await
}

async fn admin(server: &TestServer, method: Method, path: &str, body: Value) -> Value {
    let (status, json) = read_json(
        server
            .request(method, path)
            .header("authorization", server.admin())
            .json(&body)
            .send()
            .await
            .expect("request sent"),
    )
    .await;
    assert!(status.is_success(), "{path}: {status} {json}");
    json
}

async fn put_rules(server: &TestServer, rules: Value) {
    admin(
        server,
        Method::PUT,
        "/v1/admin/rules",
        json!({ "rules": rules }),
    )
    .await;
}

async fn metrics_text(server: &TestServer) -> String {
    let response = server.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.expect("metrics body")
}

/// What an operator's first hour does to the server.
async fn realistic_run(server: &TestServer) {
    let campaign = server.create_seckill(2).await;
    let (order, _) = server.win(&campaign, "alice").await;
    server.win(&campaign, "bob").await;
    expect_error(
        server.grab(&campaign, "carol").await,
        StatusCode::GONE,
        "sold_out",
    )
    .await;
    let roomy = server
        .create_seckill_with(json!({ "stock": 100, "per_user_limit": 10 }))
        .await;
    server.win(&roomy, "dave").await;
    expect_error(
        server.grab(&roomy, "dave").await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    server.create_red_packet(1_000, 10, 1).await;

    let (status, json) = read_json(
        server
            .request(Method::POST, &format!("/v1/orders/{order}/pay"))
            .header("authorization", server.token("alice"))
            .json(&json!({}))
            .send()
            .await
            .expect("request sent"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let id = OrderId::parse(&order).expect("order id");
    server
        .wait_until(
            "the order is paid and its duplicate payment refunded",
            |s| {
                s.shards
                    .home()
                    .engine
                    .order(id)
                    .is_some_and(|o| o.state == OrderState::Paid)
                    && s.shards
                        .home()
                        .payments
                        .desk()
                        .sim(&stampede_core::ChannelName::parse("sim").unwrap())
                        .is_some_and(|c| c.refund_count() == 1)
            },
        )
        .await;

    admin(
        server,
        Method::POST,
        "/v1/admin/blocklist",
        json!({ "kind": "user", "value": "mallory", "reason": "test" }),
    )
    .await;
    expect_error(
        server.grab(&roomy, "mallory").await,
        StatusCode::FORBIDDEN,
        "blocked",
    )
    .await;
    put_rules(
        server,
        json!([{ "name": "per-ip", "dimension": "ip",
                 "limiter": { "kind": "sliding_window", "limit": 1000, "window_secs": 60 } }]),
    )
    .await;
    server.win(&roomy, "erin").await;
    server.get("/healthz").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_family_has_help_type_and_one_label_set_after_a_realistic_run() {
    let server = paying_server().await;
    realistic_run(&server).await;
    let text = metrics_text(&server).await;
    let families = match check_exposition(&text) {
        Ok(families) => families,
        Err(problems) => panic!("{}\n--- exposition:\n{text}", problems.join("\n")),
    };
    // The run reached the families it is meant to exercise.
    for name in [
        "stampede_http_requests_total",
        "stampede_grab_outcomes_total",
        "stampede_grab_latency_seconds",
        "stampede_campaign_remaining",
        "stampede_admission_decisions_total",
        "stampede_rule_tracked_keys",
        "stampede_payment_callbacks_total",
        "stampede_refunds_total",
        "stampede_journal_fsync_seconds",
        "stampede_breaker_state",
    ] {
        assert!(families.contains_key(name), "{name} missing:\n{text}");
    }
    // The registry is shared by every server of this test binary: at least this run's counts.
    for series in [
        r#"stampede_grab_outcomes_total{outcome="rate_limited"}"#,
        r#"stampede_grab_outcomes_total{outcome="sold_out"}"#,
        r#"stampede_refunds_total{channel="sim",outcome="refunded"}"#,
    ] {
        let value = text
            .lines()
            .find_map(|l| l.strip_prefix(series))
            .and_then(|v| v.trim().parse::<f64>().ok());
        assert!(
            value.is_some_and(|v| v >= 1.0),
            "{series} not counted:\n{text}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_finds_nothing_to_say_about_the_exposition() {
    let server = paying_server().await;
    realistic_run(&server).await;
    let text = metrics_text(&server).await;
    server.shutdown().await;
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            // .ci/run installs promtool, so CI must never take this branch.
            assert!(
                std::env::var_os("CI").is_none(),
                "promtool is not installed in CI: .ci/run must install the prometheus package"
            );
            eprintln!(
                "\n!!! SKIPPED promtool_finds_nothing_to_say_about_the_exposition: promtool is \
                 not installed (apt-get install prometheus). The pure-Rust exposition check \
                 still ran.\n"
            );
            return;
        }
        Err(error) => panic!("promtool did not start: {error}"),
    };
    child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(text.as_bytes())
        .expect("exposition written to promtool");
    let output = child.wait_with_output().expect("promtool ran");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && said.trim().is_empty(),
        "promtool check metrics: {}\n{said}\n--- exposition:\n{text}",
        output.status
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_campaign_leaves_the_scrape() {
    // The server's clock moves only when the test moves it: the campaign ends when it does.
    let server = TestServer::start_manual(|_| {}).await;
    let ending = server
        .create_seckill_with(json!({ "stock": 5, "ends_at": server.rfc3339_from_now(2) }))
        .await;
    let lasting = server.create_seckill(5).await;
    let series = |id: &str| format!("stampede_campaign_remaining{{campaign=\"{id}\"}} 5");
    let text = metrics_text(&server).await;
    assert!(text.contains(&series(&ending)), "{text}");
    assert!(text.contains(&series(&lasting)), "{text}");
    // `ends_at` is whole seconds, at most 2 s ahead: past it, the series leaves the scrape
    // (once the server has seen the end; polled, bounded) while the other one stays.
    server.advance(Duration::from_millis(2_001));
    support::eventually(
        "the ended campaign's series to leave the scrape",
        || async {
            let text = metrics_text(&server).await;
            assert!(text.contains(&series(&lasting)), "{text}");
            !text.contains(&series(&ending))
        },
    )
    .await;
    assert_eq!(server.campaign(&ending).await["status"], "ended");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_the_newest_campaigns_are_exported() {
    let server = TestServer::start_with(|config| {
        config.durability = stampede_server::config::DurabilityMode::Os;
    })
    .await;
    let mut ids = Vec::new();
    for _ in 0..MAX_CAMPAIGN_SERIES + 3 {
        ids.push(server.create_seckill(1).await);
    }
    let text = metrics_text(&server).await;
    let families = check_exposition(&text).expect("a valid exposition");
    assert_eq!(
        families["stampede_campaign_remaining"].samples,
        MAX_CAMPAIGN_SERIES
    );
    for (i, id) in ids.iter().enumerate() {
        let exported = text.contains(&format!("campaign=\"{id}\""));
        assert_eq!(exported, i >= 3, "campaign #{i} {id}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_rule_leaves_the_scrape_and_a_kept_one_keeps_counting() {
    let server = TestServer::start().await;
    let campaign = server
        .create_seckill_with(json!({ "stock": 100, "per_user_limit": 10 }))
        .await;
    let window = |name: &str, dimension: &str| {
        json!({ "name": name, "dimension": dimension,
                "limiter": { "kind": "sliding_window", "limit": 1000, "window_secs": 60 } })
    };
    put_rules(
        &server,
        json!([window("kept", "ip"), window("replaced", "user")]),
    )
    .await;
    server.win(&campaign, "alice").await;
    put_rules(
        &server,
        json!([window("kept", "ip"), window("added", "user")]),
    )
    .await;
    server.win(&campaign, "bob").await;

    let text = metrics_text(&server).await;
    check_exposition(&text).expect("a valid exposition");
    let allowed = |rule: &str| {
        format!(
            "stampede_admission_decisions_total{{layer=\"rule\",rule=\"{rule}\",outcome=\"allowed\"}}"
        )
    };
    assert!(text.contains(&format!("{} 2", allowed("kept"))), "{text}");
    assert!(text.contains(&format!("{} 1", allowed("added"))), "{text}");
    assert!(!text.contains("rule=\"replaced\""), "{text}");
    assert!(!text.contains("rule=\"per-user\""), "{text}");
    assert!(
        text.contains("stampede_rule_tracked_keys{rule=\"added\"} 1"),
        "{text}"
    );
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// A reader of the text format (0.0.4), as strict as a scraper about what these tests promise.

/// What the exposition says about one family.
#[derive(Debug)]
struct FamilySeen {
    kind: String,
    /// Label names of its samples (`le` and `quantile` aside).
    labels: Option<BTreeSet<String>>,
    samples: usize,
}

/// Checks that every family has exactly one `# HELP` and one `# TYPE`, both before its
/// samples; that its samples are contiguous; and that they all carry the same label names.
/// Answers each family by name, or every problem found.
fn check_exposition(text: &str) -> Result<BTreeMap<String, FamilySeen>, Vec<String>> {
    let mut problems = Vec::new();
    let mut helps = BTreeSet::new();
    let mut families: BTreeMap<String, FamilySeen> = BTreeMap::new();
    let mut finished = BTreeSet::new();
    let mut current: Option<String> = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or_default().to_owned();
            if !helps.insert(name.clone()) {
                problems.push(format!("{name}: a second # HELP"));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().unwrap_or_default().to_owned();
            let kind = parts.next().unwrap_or_default().to_owned();
            if families.contains_key(&name) {
                problems.push(format!("{name}: a second # TYPE"));
            }
            families.insert(
                name,
                FamilySeen {
                    kind,
                    labels: None,
                    samples: 0,
                },
            );
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (name, labels) = match parse_sample(line) {
            Ok(parsed) => parsed,
            Err(why) => {
                problems.push(format!("{line:?}: {why}"));
                continue;
            }
        };
        let Some(family) = family_of(&name, &families) else {
            problems.push(format!("{name}: a sample before any # TYPE"));
            continue;
        };
        if current.as_deref() != Some(family.as_str()) {
            if let Some(previous) = current.replace(family.clone()) {
                finished.insert(previous);
            }
            if finished.contains(&family) {
                problems.push(format!("{family}: samples not contiguous"));
            }
        }
        let seen = families.get_mut(&family).expect("family_of found it");
        let names: BTreeSet<String> = labels
            .into_iter()
            .filter(|l| l != "le" && l != "quantile")
            .collect();
        match &seen.labels {
            None => seen.labels = Some(names),
            Some(first) if *first != names => problems.push(format!(
                "{family}: label sets {first:?} and {names:?} in one family"
            )),
            Some(_) => {}
        }
        seen.samples += 1;
    }
    for name in families.keys() {
        if !helps.contains(name) {
            problems.push(format!("{name}: no # HELP"));
        }
    }
    if problems.is_empty() {
        Ok(families)
    } else {
        Err(problems)
    }
}

/// The family a sample belongs to: its own name, or a histogram's or summary's name for its
/// `_bucket`, `_sum` and `_count` lines.
fn family_of(name: &str, families: &BTreeMap<String, FamilySeen>) -> Option<String> {
    if families.contains_key(name) {
        return Some(name.to_owned());
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let base = name.strip_suffix(suffix)?;
        let family = families.get(base)?;
        matches!(family.kind.as_str(), "histogram" | "summary").then(|| base.to_owned())
    })
}

/// `name{a="x",b="y"} value` → the name and the label names.
fn parse_sample(line: &str) -> Result<(String, Vec<String>), String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = line[..name_end].to_owned();
    let mut labels = Vec::new();
    let mut rest = &line[name_end..];
    if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = inner.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = inner.find("=\"").ok_or("label without =\"")?;
            labels.push(inner[..eq].to_owned());
            let value = &inner[eq + 2..];
            let close = closing_quote(value).ok_or("unclosed label value")?;
            inner = &value[close + 1..];
            inner = inner.strip_prefix(',').unwrap_or(inner);
        }
    }
    let value = rest.trim().split(' ').next().unwrap_or_default();
    if value.parse::<f64>().is_err() {
        return Err(format!("value {value:?} is not a number"));
    }
    Ok((name, labels))
}

/// Where a label value that starts `s` ends (its closing quote), minding escapes.
fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

#[test]
fn the_reader_refuses_what_a_scraper_would() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\\\"}\",y=\"\"} 3\n\
                # HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 2\nh_count 1\n";
    let families = check_exposition(good).expect("good exposition");
    assert_eq!(families["a_total"].samples, 1);
    assert_eq!(families["h"].samples, 3);
    for (bad, problem) in [
        ("# TYPE a counter\na 1\n", "a: no # HELP"),
        (
            "# HELP a A.\n# TYPE a counter\na{x=\"1\"} 1\na{y=\"1\"} 1\n",
            "label sets",
        ),
        (
            "# HELP a A.\n# TYPE a counter\n# HELP b B.\n# TYPE b counter\na 1\nb 1\na 2\n",
            "not contiguous",
        ),
        ("b 1\n", "before any # TYPE"),
        (
            "# HELP a A.\n# TYPE a counter\n# HELP a A.\n# TYPE a counter\na 1\n",
            "a second # TYPE",
        ),
    ] {
        let problems = check_exposition(bad).expect_err(bad);
        assert!(
            problems.iter().any(|p| p.contains(problem)),
            "{bad:?}: {problems:?}"
        );
    }
}
