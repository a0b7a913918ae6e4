//! The defences against a realistic attack: a real `stampede serve` running the README's worked example rules
//! (examples/defend-a-campaign.toml, minus its `winners = false` switch, which would hide the
//! winners list the audit reads, and minus its p99 shedding target, which a debug build on a
//! loaded machine would trip at random), driven by `stampede bench` with 10,000 botnet users
//! over 40 addresses, 20 looping scripts on their own addresses and ~4,000 clickers each on
//! their own address. The bots fire first and are close to synchronised, so without the rules
//! they take the stock; with them:
//! - every botnet address is banned automatically (listed with origin `auto_ban`) and the bots'
//!   later requests are answered 403 `blocked`;
//! - the clickers' share of the wins is at least their share of the users;
//! - nothing oversells (the bench's audit passes).
//!
//! Bounded: 5 s of load, at most 200,000 requests. Nothing asserts on speed; the margins (the
//! clickers got about half the wins for under 30 % of the users in development runs) leave
//! room for a slow machine.

mod support;

use std::process::Command;

use support::{ADMIN_KEY, Server, TOKEN_SECRET, admin, bench_succeeds, binary, send_json};

const BOTNET_IPS: u64 = 40;

/// The example config without the lines that would get in the audit's way (see above).
fn scenario_config() -> String {
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/defend-a-campaign.toml"),
    )
    .expect("the worked example exists");
    for rule in ["grab-ceiling", "per-ip", "per-user", "user-campaign"] {
        assert!(
            example.contains(&format!("name = \"{rule}\"")),
            "the example lost rule {rule}"
        );
    }
    example
        .lines()
        .filter(|line| {
            !(line.starts_with("[switches]")
                || line.starts_with("winners")
                || line.starts_with("overload_p99_target_ms"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_are_banned_clickers_win_their_share_and_nothing_oversells() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("defend.toml");
    std::fs::write(&config, scenario_config()).unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[&format!("--config={}", config.display())]).await;

    let json = dir.path().join("report.json");
    let stdout = bench_succeeds(
        Command::new(binary())
            .args(["bench", "--target", &server.base, "--quiet", "--seed", "4"])
            .args([
                "--users",
                "14020",
                "--stock",
                "1000",
                "--clickers-pct",
                "100",
            ])
            .args([
                "--botnet-users",
                "10000",
                "--botnet-ips",
                &BOTNET_IPS.to_string(),
            ])
            .args([
                "--scripts",
                "20",
                "--script-ips",
                "20",
                "--clicker-ips",
                "4000",
            ])
            .args([
                "--connections",
                "64",
                "--duration",
                "5",
                "--max-requests",
                "200000",
            ])
            .arg("--json")
            .arg(&json)
            .env("STAMPEDE_TOKEN_SECRET", TOKEN_SECRET)
            .env("STAMPEDE_ADMIN_KEY", ADMIN_KEY),
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();

    // Nothing oversells: every audit check passed and the stock is gone.
    for check in report["audit"]["checks"].as_array().expect("checks") {
        assert_eq!(
            check["passed"], true,
            "audit check failed: {check:#}\n{stdout}"
        );
    }
    let summary = &report["audit"]["summary"];
    assert_eq!(
        summary["run_winners_distinct"], summary["total"],
        "{stdout}"
    );

    // Fairness: the clickers' share of the wins is at least their share of the users.
    let share = |name: &str| {
        report["report"]["win_shares"]
            .as_array()
            .expect("win_shares")
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no {name} share:\n{stdout}"))
            .clone()
    };
    let clickers = share("clicker");
    let (users, wins) = (
        clickers["user_share"].as_f64().unwrap(),
        clickers["win_share"].as_f64().unwrap(),
    );
    assert!(
        wins >= users,
        "clickers are {:.1} % of the users but got {:.1} % of the wins:\n{stdout}",
        users * 100.0,
        wins * 100.0
    );

    // The bots are banned: their addresses are listed as automatic bans, and their later
    // requests were answered 403 blocked.
    let bots = report["report"]["populations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "bot")
        .expect("bot population")
        .clone();
    let blocked = bots["outcomes"]["blocked"].as_u64().unwrap_or(0);
    assert!(
        blocked > bots["requests"].as_u64().unwrap() / 2,
        "most bot requests should meet a ban: {bots:#}"
    );
    let list = send_json(
        reqwest::Client::new()
            .get(format!("{}/v1/admin/blocklist", server.base))
            .header("authorization", admin()),
    )
    .await;
    let banned_bot_ips = list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["origin"] == "auto_ban"
                && e["kind"] == "ip"
                && e["value"].as_str().unwrap().starts_with("127.1.")
                && e["expires_at"].is_string()
        })
        .count() as u64;
    assert!(
        banned_bot_ips * 10 >= BOTNET_IPS * 9,
        "only {banned_bot_ips} of {BOTNET_IPS} botnet addresses banned: {list:#}"
    );
    // No human address was banned.
    assert!(
        !list["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["value"].as_str().unwrap().starts_with("127.2.")),
        "a clicker's address was banned: {list:#}"
    );
    server.kill();
}
