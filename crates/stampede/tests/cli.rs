//! The command line: `serve --help` lists every setting with its default, bad config exits
//! non-zero before binding and names the field, `token` prints a token the server accepts.

mod support;

use std::net::TcpListener;
use std::process::Command;

use support::{Server, binary, free_port, token};

/// Every field of the config struct, as a flag.
const SETTINGS: &[&str] = &[
    "--config",
    "--listen",
    "--data-dir",
    "--durability",
    "--token-secret",
    "--admin-key",
    "--sim-channel-secret",
    "--grab-rate-per-second",
    "--grab-rate-burst",
    "--max-tracked-users",
    "--max-in-flight",
    "--max-connections",
    "--header-read-timeout-secs",
    "--body-read-timeout-secs",
    "--body-read-min-bytes-per-sec",
    "--max-token-ttl-secs",
    "--idempotency-ttl-secs",
    "--idempotency-max-entries",
    "--worker-threads",
    "--rng-seed",
    "--log",
    "--log-format",
    "--access-log-every",
    "--trusted-proxies",
    "--max-connections-per-ip",
    "--auto-ban-threshold",
    "--auto-ban-window-secs",
    "--auto-ban-secs",
    "--journal-reply-timeout-ms",
    "--adaptive-overload",
    "--overload-p99-target-ms",
    "--rules-enabled",
    "--payment-query-after-secs",
    "--payment-call-timeout-ms",
    "--reconcile-interval-secs",
    "--reconcile-grace-secs",
    "--payout-latency-ms",
    "--journal",
    "--nats-url",
    "--node-id",
    "--cluster-name",
    "--shards",
    "--stream-replicas",
    "--leader-lease-ms",
    "--nats-user",
    "--nats-password",
    "--nats-creds",
    "--advertise",
    "--snapshot-every-records",
];

/// Settings that only the config file (and the admin API) carry: tables, not flags.
const FILE_ONLY: &[&str] = &["rules", "switches", "channels"];

#[test]
fn serve_help_lists_every_setting() {
    let help = serve_help();
    for flag in SETTINGS {
        assert!(help.contains(flag), "serve --help does not list {flag}");
    }
    // The config struct and this list agree: a TOML key per flag.
    let toml = toml_keys();
    for key in &toml {
        let flag = format!("--{}", key.replace('_', "-"));
        assert!(
            SETTINGS.contains(&flag.as_str()) || FILE_ONLY.contains(&key.as_str()),
            "config key {key} has no flag listed here"
        );
    }
    assert_eq!(
        toml.len() + 1,
        SETTINGS.len() + FILE_ONLY.len(),
        "config fields and flags differ: {toml:?}"
    );
}

/// Each setting's help shows its built-in default, the value `Config::default()` holds.
#[test]
fn serve_help_shows_each_default() {
    let help = serve_help();
    let defaults = serde_json::to_value(stampede_server::Config::default()).unwrap();
    let mut checked = 0;
    for (key, value) in defaults.as_object().unwrap() {
        if FILE_ONLY.contains(&key.as_str()) {
            continue;
        }
        let flag = format!("      --{} <", key.replace('_', "-"));
        let start = help
            .find(&flag)
            .unwrap_or_else(|| panic!("{flag} missing:\n{help}"));
        // The flag's block runs to the next flag.
        let block = &help[start + flag.len()..];
        let block = &block[..block.find("\n      --").unwrap_or(block.len())];
        let shown = match value {
            serde_json::Value::String(text) if text.is_empty() => "\"\"".to_owned(),
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        assert!(
            block.contains(&format!("[default: {shown}]")),
            "--{key} does not show its default {shown}:{block}"
        );
        checked += 1;
    }
    assert_eq!(checked + 1, SETTINGS.len(), "every flag but --config");
}

fn serve_help() -> String {
    let out = Command::new(binary())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

fn toml_keys() -> Vec<String> {
    let config = stampede_server::Config::default();
    let value = serde_json::to_value(&config).unwrap();
    value.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn invalid_config_exits_before_binding_and_names_the_field() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--max-in-flight", "0"], "max_in_flight"),
        (&["--grab-rate-per-second", "0"], "grab_rate_per_second"),
        (&["--token-secret", "short"], "token_secret"),
        (&["--durability", "sometimes"], "durability"),
        (&["--listen", "not-an-address"], "listen"),
    ];
    for (args, field) in cases {
        let out = Command::new(binary())
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(dir.path())
            .args(*args)
            .env_remove("STAMPEDE_TOKEN_SECRET")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(field),
            "{args:?}: stderr does not name {field}: {stderr}"
        );
        // Nothing bound the port.
        TcpListener::bind(("127.0.0.1", port)).expect("port still free");
    }
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "max_connections = 0\n").unwrap();
    let out = Command::new(binary())
        .arg("serve")
        .arg("--config")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_connections"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_command_signs_with_the_server_secret() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]).await;
    let printed = token_from_cli(dir.path(), &[]);
    assert!(printed.starts_with("v1.alice."));
    let client = reqwest::Client::new();
    let order = client
        .get(format!(
            "{}/v1/orders/o_00000000000000000000000000000000",
            server.base
        ))
        .header("authorization", format!("Bearer {printed}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        order.status(),
        404,
        "a valid token reaches the lookup (not 401)"
    );
    let forged = client
        .get(format!(
            "{}/v1/orders/o_00000000000000000000000000000000",
            server.base
        ))
        .header(
            "authorization",
            format!("Bearer {}x", &printed[..printed.len() - 1]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let _ = token("unused");
    let bad = Command::new(binary())
        .args(["token", "--user", "a.b"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_command_mints_a_shadow_token_for_grabs_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]).await;
    let printed = token_from_cli(dir.path(), &["--shadow"]);
    assert!(printed.starts_with("s1.alice."), "{printed}");
    let client = reqwest::Client::new();
    let campaign = support::create_seckill(&client, &server.base, 1).await;
    let grab = |authorization: String| {
        client
            .post(format!("{}/v1/campaigns/{campaign}/grab", server.base))
            .header("authorization", authorization)
    };
    let rehearsed = support::send_json(grab(format!("Bearer {printed}"))).await;
    assert_eq!(rehearsed["outcome"], "won", "{rehearsed}");
    // The one real item is still there for a real buyer.
    let real = support::send_json(grab(format!("Bearer {}", token("bob")))).await;
    assert_eq!(real["outcome"], "won", "{real}");
    // A shadow token reads no order.
    let order = rehearsed["order_id"].as_str().unwrap();
    let read = client
        .get(format!("{}/v1/orders/{order}", server.base))
        .header("authorization", format!("Bearer {printed}"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 401);
}

/// `stampede token --user alice --ttl 60` plus `extra`, reading the secret the same way `serve`
/// does (here: the environment); the token printed.
fn token_from_cli(data_dir: &std::path::Path, extra: &[&str]) -> String {
    let out = Command::new(binary())
        .args(["token", "--user", "alice", "--ttl", "60"])
        .args(extra)
        .env("STAMPEDE_TOKEN_SECRET", support::TOKEN_SECRET)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn token_command_refuses_a_ttl_the_server_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let mint = |ttl: &str, extra: &[&str]| {
        Command::new(binary())
            .args(["token", "--user", "alice", "--ttl", ttl])
            .args(extra)
            .env("STAMPEDE_TOKEN_SECRET", support::TOKEN_SECRET)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap()
    };
    // 30 days is the default maximum; one second more is refused, naming the setting.
    assert!(mint("2592000", &[]).status.success());
    for ttl in ["2592001", "18446744073709551615", "0"] {
        let out = mint(ttl, &[]);
        assert!(!out.status.success(), "--ttl {ttl} minted a token");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--ttl") && stderr.contains("max_token_ttl_secs"),
            "{stderr}"
        );
        assert!(out.stdout.is_empty(), "no token printed");
    }
    // The maximum follows the setting.
    assert!(!mint("61", &["--max-token-ttl-secs", "60"]).status.success());
    assert!(mint("60", &["--max-token-ttl-secs", "60"]).status.success());
}
