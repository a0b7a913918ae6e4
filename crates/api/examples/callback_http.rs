//! Payment callbacks over HTTP against durable grabs over HTTP, in the same run.
//!
//! `cargo run --release -p stampede-api --example callback_http [ORDERS] [CONNECTIONS]`
//! (defaults 20,000 and 64): starts a server in this process on a temporary data directory
//! (fsync durability, the simulated channel not paying by itself), then
//! 1. **grab**: ORDERS users each `POST /v1/campaigns/{id}/grab` once (new durable wins: the
//!    baseline), over CONNECTIONS keep-alive connections;
//! 2. **callback**: one signed `POST /v1/payments/callbacks/sim` per won order
//!    (`pending_payment` → `paid`, durable before the 200);
//! 3. **retry**: the same callbacks again (the channel retrying: 200, no second effect).
//!
//! Prints requests/s per phase and callback ÷ grab. The load generator shares the machine's
//! cores with the server, the same way for every phase, so the ratio is the figure to read.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use stampede_api::handlers::payments::sign;
use stampede_server::Config;
use tokio::sync::Semaphore;

const SECRET: &str = "example-sim-secret-0123456789";
const TOKEN_SECRET: &str = "example-token-secret-0123456789";
const ADMIN: &str = "example-admin-key-0123456789";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers"))
        .collect();
    let orders = args.first().copied().unwrap_or(20_000);
    let connections = args.get(1).copied().unwrap_or(64);
    let dir = tempfile::tempdir()?;
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        token_secret: TOKEN_SECRET.into(),
        admin_key: ADMIN.into(),
        sim_channel_secret: SECRET.into(),
        log: "error".into(),
        grab_rate_per_second: 1_000_000,
        grab_rate_burst: 1_000_000,
        journal_reply_timeout_ms: 10_000,
        reconcile_interval_secs: 0,
        channels: vec![stampede_money::SimChannelConfig {
            auto_pay: false,
            ..Default::default()
        }],
        ..Config::default()
    };
    config.validate()?;
    let state = stampede_server::build_state(&config)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let served = Arc::clone(&state);
    let served_config = config.clone();
    tokio::spawn(async move {
        stampede_server::serve_on(listener, served, &served_config, std::future::pending()).await
    });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let campaign: serde_json::Value = client
        .post(format!("{base}/v1/campaigns"))
        .bearer_auth(ADMIN)
        .json(&json!({"kind": "seckill", "name": "callbacks", "stock": orders, "price_cents": 990}))
        .send()
        .await?
        .json()
        .await?;
    let campaign = campaign["id"].as_str().expect("campaign id").to_owned();
    let expires = stampede_api::state::AppState::now_unix_secs(&state) + 3_600;

    // 1. Grab: one durable win per user.
    let grabs: Vec<(String, String)> = (0..orders)
        .map(|i| {
            let user = format!("u{i}");
            let token = stampede_api::auth::mint_token(TOKEN_SECRET.as_bytes(), &user, expires);
            (format!("{base}/v1/campaigns/{campaign}/grab"), token)
        })
        .collect();
    let (grab_secs, won) = run(&client, connections, grabs, |client, (url, token)| {
        client.post(url).bearer_auth(token)
    })
    .await;
    let order_ids: Vec<String> = won
        .iter()
        .filter_map(|body| {
            let v: serde_json::Value = serde_json::from_str(body).ok()?;
            v["order_id"].as_str().map(str::to_owned)
        })
        .collect();
    assert_eq!(order_ids.len(), orders, "every grab won");

    // 2. Callbacks, then 3. the same again.
    let callbacks: Vec<(String, Vec<u8>)> = order_ids
        .iter()
        .enumerate()
        .map(|(i, order)| {
            let body = serde_json::to_vec(&json!({"order_id": order, "txn_id": format!("t{i}"),
                "amount_cents": 990, "paid_at": "2026-11-22T00:00:00Z"}))
            .expect("json");
            (format!("{base}/v1/payments/callbacks/sim"), body)
        })
        .collect();
    let send = |client: &reqwest::Client, (url, body): (String, Vec<u8>)| {
        let signature = sign(SECRET.as_bytes(), &body);
        client
            .post(url)
            .header("content-type", "application/json")
            .header("x-signature", signature)
            .body(body)
    };
    let (callback_secs, paid) = run(&client, connections, callbacks.clone(), send).await;
    assert!(
        paid.iter().all(|b| b.contains("\"recorded\":\"paid\"")),
        "every callback paid"
    );
    let records = state.shards.home().engine.writer_counts().journal_records;
    let (retry_secs, again) = run(&client, connections, callbacks, send).await;
    assert!(again.iter().all(|b| b.contains("\"recorded\":\"paid\"")));
    assert_eq!(
        state.shards.home().engine.writer_counts().journal_records,
        records,
        "a retry writes nothing"
    );

    let rate = |secs: f64| orders as f64 / secs;
    println!(
        "{orders} orders, {connections} connections, fsync, server and generator in one process"
    );
    println!("| phase | requests/s | ÷ grab |");
    println!("| --- | --- | --- |");
    println!("| grab (durable win) | {:.0} | 1.00 |", rate(grab_secs));
    println!(
        "| callback (durable payment) | {:.0} | {:.2} |",
        rate(callback_secs),
        grab_secs / callback_secs
    );
    println!(
        "| callback retry (no write) | {:.0} | {:.2} |",
        rate(retry_secs),
        grab_secs / retry_secs
    );
    state.shards.home().engine.shutdown();
    Ok(())
}

/// Sends every request, at most `connections` at once; answers the seconds taken and the
/// bodies. Panics on a non-200 answer (the figure would be meaningless).
async fn run<T: Send + 'static>(
    client: &reqwest::Client,
    connections: usize,
    requests: Vec<T>,
    build: impl Fn(&reqwest::Client, T) -> reqwest::RequestBuilder,
) -> (f64, Vec<String>) {
    let permits = Arc::new(Semaphore::new(connections));
    let started = stampede_engine::stopwatch();
    let mut tasks = Vec::with_capacity(requests.len());
    for request in requests {
        let permit = Arc::clone(&permits).acquire_owned().await.expect("open");
        let sent = build(client, request)
            .timeout(Duration::from_secs(30))
            .send();
        tasks.push(tokio::spawn(async move {
            let response = sent.await.expect("answered");
            let status = response.status();
            let body = response.text().await.expect("body");
            drop(permit);
            assert_eq!(status, 200, "{body}");
            body
        }));
    }
    let mut bodies = Vec::with_capacity(tasks.len());
    for task in tasks {
        bodies.push(task.await.expect("task"));
    }
    (started.elapsed().as_secs_f64(), bodies)
}
