//! Hot reload: the config file's rules and switches take effect once the server's watcher has
//! read the edited file, an invalid edit is refused whole, and nothing changes while the file
//! does not.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use stampede_api::defence::BLOCKLIST_FILE;
use stampede_server::Config;

use crate::support::{TestServer, eventually, expect_error};
use crate::{admin_json, block, expect_rate_limited, roomy_campaign, rule_names};

fn rules_file(name: &str, limit: u32) -> String {
    format!(
        "[[rules]]\nname = \"{name}\"\ndimension = \"ip\"\n\
         limiter = {{ kind = \"sliding_window\", limit = {limit}, window_secs = 60 }}\n"
    )
}

/// Waits until the server's upkeep loop has made two whole passes from now, so the config
/// file as it is now has been read: each pass runs the defence upkeep and then the config
/// watcher. A pass is seen by its one visible effect, sweeping an expired entry out of the
/// blocklist file; seeing one pass's sweep says nothing of the poll that follows it in the
/// same pass, but seeing the next pass's sweep does. Moves the server's (manual) clock 4 s.
async fn two_upkeep_passes(server: &TestServer) {
    let file = server.config.data_dir.join(BLOCKLIST_FILE);
    for pass in 0..2 {
        let mark = format!("upkeep-pass-{pass}");
        block(
            server,
            json!({ "kind": "user", "value": mark, "reason": "marks an upkeep pass", "ttl_secs": 1 }),
        )
        .await;
        assert!(
            std::fs::read_to_string(&file).is_ok_and(|text| text.contains(&mark)),
            "a manual block is saved at once"
        );
        server.advance(Duration::from_secs(2));
        eventually("an upkeep pass to sweep the expired mark", || async {
            std::fs::read_to_string(&file).is_ok_and(|text| !text.contains(&mark))
        })
        .await;
    }
}

/// Who last set switch `name`, from `GET /v1/admin/switches`.
async fn switch_changed_by(server: &TestServer, name: &str) -> serde_json::Value {
    let (status, json) = admin_json(server, Method::GET, "/v1/admin/switches", None).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    json["switches"]
        .as_array()
        .expect("switches")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no switch {name}: {json}"))["changed_by"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_in_the_config_file_reload_and_an_invalid_edit_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stampede.toml");
    std::fs::write(&file, rules_file("file-a", 100)).unwrap();
    let from_file = Config::from_file(&file).unwrap();
    let server = TestServer::start_manual(|c| {
        c.rules = from_file.rules.clone();
        c.source_file = Some(file.clone());
    })
    .await;
    assert_eq!(rule_names(&server).await, ["file-a"]);
    // An untouched file is not applied again: the watcher runs, nothing changes.
    two_upkeep_passes(&server).await;
    assert_eq!(rule_names(&server).await, ["file-a"]);
    assert_eq!(switch_changed_by(&server, "grab").await, "default");

    // A valid edit takes effect once the watcher has read it (polled, bounded).
    std::fs::write(&file, rules_file("file-b", 1)).unwrap();
    eventually("the edited rules", || async {
        rule_names(&server).await == ["file-b"]
    })
    .await;
    let campaign = roomy_campaign(&server).await;
    server.win(&campaign, "alice").await;
    expect_rate_limited(server.grab(&campaign, "bob").await).await;

    // An invalid edit is refused whole: once the watcher has certainly read it, the rules and
    // switches in force are the ones before it (its `grab = false` was not applied either).
    std::fs::write(
        &file,
        rules_file("file-c", 0) + "[switches]\ngrab = false\n",
    )
    .unwrap();
    two_upkeep_passes(&server).await;
    assert_eq!(rule_names(&server).await, ["file-b"]);
    expect_rate_limited(server.grab(&campaign, "carol").await).await;
    assert_eq!(switch_changed_by(&server, "grab").await, "default");

    // Switches reload from the file too; empty rules mean the default set.
    std::fs::write(&file, "[switches]\ngrab = false\n").unwrap();
    eventually("the default rules", || async {
        rule_names(&server).await == ["per-user"]
    })
    .await;
    let response = server.grab(&campaign, "dave").await;
    expect_error(response, StatusCode::SERVICE_UNAVAILABLE, "degraded").await;
    // The switch was turned off by the file, not by anything else.
    assert_eq!(switch_changed_by(&server, "grab").await, "config-file");
    server.shutdown().await;
}
