//! The README's worked example config, and `rules_enabled = false`.

use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::json;
use stampede_admission::rules::RuleSet;
use stampede_server::Config;

use crate::support::{TestServer, expect_error};
use crate::{expect_rate_limited, install_rules, roomy_campaign, rule_names};

fn example_config() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/defend-a-campaign.toml")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worked_example_config_loads_validates_and_serves() {
    let path = example_config();
    let config = Config::from_file(&path).expect("the example parses");
    config.validate().expect("the example validates");
    let names: Vec<&str> = config.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "grab-ceiling",
            "per-ip",
            "per-user",
            "user-campaign",
            "detail-per-ip"
        ]
    );
    assert_eq!(config.switches.get("winners"), Some(&false));
    RuleSet::compile(
        config.rules.clone(),
        &stampede_admission::clock::system_shared(),
    )
    .expect("the example's rules compile");

    let server = TestServer::start_with(|c| {
        c.rules = config.rules.clone();
        c.switches = config.switches.clone();
        c.max_connections_per_ip = config.max_connections_per_ip;
        c.auto_ban_threshold = config.auto_ban_threshold;
    })
    .await;
    assert_eq!(rule_names(&server).await, names);
    let campaign = server.create_seckill(5).await;
    server.win(&campaign, "alice").await;
    expect_error(
        server
            .get_as_admin(&format!("/v1/campaigns/{campaign}/winners"))
            .await,
        StatusCode::SERVICE_UNAVAILABLE,
        "degraded",
    )
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_enabled_false_runs_no_rule_at_all() {
    let example = Config::from_file(&example_config()).unwrap();
    let server = TestServer::start_with(|c| {
        c.rules = example.rules.clone();
        c.rules_enabled = false;
    })
    .await;
    assert!(rule_names(&server).await.is_empty());
    let campaign = roomy_campaign(&server).await;
    // The default per-user rule (1/s) would refuse the second of these.
    for _ in 0..5 {
        server.win(&campaign, "eager").await;
    }
    // The admin API can still install rules.
    install_rules(
        &server,
        json!([{ "name": "late", "dimension": "user",
                 "limiter": { "kind": "sliding_window", "limit": 1, "window_secs": 60 } }]),
    )
    .await;
    server.win(&campaign, "eager").await;
    expect_rate_limited(server.grab(&campaign, "eager").await).await;
    server.shutdown().await;
}
