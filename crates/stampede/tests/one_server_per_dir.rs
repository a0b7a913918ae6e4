//! Servers that collide, with the real binary: a second `serve` on a data directory another
//! server holds is refused (naming the directory and the holder) before it binds its port, until
//! the holder dies; `reconcile` still reads the directory beside a running server; a journal two
//! writers forked stops both `serve` and `reconcile`; a listen address another process holds is
//! named in the error.

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use stampede_core::{CampaignSpec, Cents, CommonSpec, SeckillSpec, UnixMillis};
use stampede_engine::{Durability, Engine, EngineConfig, ManualClock};
use support::{Server, admin, binary, exit_within, free_port, serve_command, token};

/// How long a refused `serve` may take to exit: it is refused before it replays anything, so
/// this only bounds a debug build's start; a server that does not exit fails the test here.
const EXIT_LIMIT: Duration = Duration::from_secs(20);

/// Runs `stampede serve` on `data_dir` and `port`, which must exit non-zero within
/// [`EXIT_LIMIT`]; returns its standard error.
async fn refused_serve(data_dir: &Path, port: u16) -> String {
    let serve = serve_command(data_dir, port, &[])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = exit_within(serve, EXIT_LIMIT).await;
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "serve ran: {stderr}");
    stderr
}

/// Runs `stampede reconcile` on `data_dir` to the end.
fn reconcile(data_dir: &Path) -> Output {
    Command::new(binary())
        .arg("reconcile")
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("STAMPEDE_DATA_DIR")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Creates a seckill campaign through `server`; returns its id.
async fn create_campaign(client: &reqwest::Client, server: &Server) -> String {
    let response = client
        .post(format!("{}/v1/campaigns", server.base))
        .header("authorization", admin())
        .json(&json!({"kind": "seckill", "name": "collide", "stock": 10, "price_cents": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    created["id"].as_str().unwrap().to_owned()
}

async fn campaign_status(client: &reqwest::Client, server: &Server, campaign: &str) -> u16 {
    client
        .get(format!("{}/v1/campaigns/{campaign}", server.base))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn lock_holder(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join(stampede_server::LOCK_FILE))
        .unwrap()
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_data_directory_is_refused_until_the_first_dies() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let first = Server::start(dir.path(), &[]).await;
    let first_pid = first.child.id();
    let campaign = create_campaign(&client, &first).await;

    let second_port = free_port();
    let stderr = refused_serve(dir.path(), second_port).await;
    assert!(
        stderr.contains(&dir.path().display().to_string()),
        "the directory is not named: {stderr}"
    );
    assert!(
        stderr.contains(&format!("process {first_pid}")),
        "the holder is not named: {stderr}"
    );
    TcpListener::bind(("127.0.0.1", second_port)).expect("the refused server bound nothing");

    // The first is untouched: still serving its campaign, still named in the lock file.
    assert_eq!(campaign_status(&client, &first, &campaign).await, 200);
    assert_eq!(lock_holder(dir.path()), first_pid.to_string());

    // SIGKILL runs no clean-up: the kernel releases the lock, and the next server starts.
    first.kill();
    let third = Server::start(dir.path(), &[]).await;
    assert_eq!(lock_holder(dir.path()), third.child.id().to_string());
    assert_eq!(campaign_status(&client, &third, &campaign).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_reads_the_directory_beside_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let server = Server::start(dir.path(), &[]).await;
    let campaign = create_campaign(&client, &server).await;
    let grab = client
        .post(format!("{}/v1/campaigns/{campaign}/grab", server.base))
        .header("authorization", format!("Bearer {}", token("alice")))
        .send()
        .await
        .unwrap();
    assert_eq!(grab.status(), 200);

    let out = reconcile(dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("replayed 2 records"), "{stderr}");
    assert!(text(&out.stdout).contains("Result: CLEAN"));
    assert_eq!(campaign_status(&client, &server, &campaign).await, 200);
}

fn spec(name: &str) -> CampaignSpec {
    CampaignSpec::Seckill(SeckillSpec {
        common: CommonSpec {
            name: name.into(),
            starts_at: None,
            ends_at: None,
        },
        stock: 10,
        per_user_limit: 1,
        price_cents: Cents(100),
        payment_window_secs: 600,
        regrab_after_release: false,
    })
}

/// What two servers on one directory wrote before the lock existed: two engines on one journal,
/// each acknowledging records under sequences the other also used.
async fn write_forked_journal(data_dir: &Path) {
    let config = EngineConfig {
        journal_path: data_dir.join(stampede_server::JOURNAL_FILE),
        durability: Durability::Fsync,
        rng_seed: Some(3),
        snapshot_every_records: stampede_engine::DEFAULT_SNAPSHOT_EVERY_RECORDS,
    };
    let clock = Arc::new(ManualClock::new(UnixMillis(1_700_000_000_000)));
    let (first, _) = Engine::open(&config, clock.clone()).unwrap();
    let (second, _) = Engine::open(&config, clock).unwrap();
    let sale = first
        .create_campaign(spec("first"))
        .await
        .unwrap()
        .created()
        .unwrap();
    second.create_campaign(spec("second")).await.unwrap();
    let alice = stampede_core::UserId::parse("alice").unwrap();
    first.grab(sale.id, &alice).await.unwrap();
    first.shutdown();
    second.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forked_journal_stops_serve_and_fails_reconcile() {
    let dir = tempfile::tempdir().unwrap();
    write_forked_journal(dir.path()).await;
    let journal = dir.path().join(stampede_server::JOURNAL_FILE);
    let written = std::fs::read(&journal).unwrap();

    let out = reconcile(dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "reconcile: {stderr}");
    assert!(stderr.contains("history forks"), "{stderr}");

    let stderr = refused_serve(dir.path(), free_port()).await;
    assert!(stderr.contains("history forks"), "{stderr}");
    assert_eq!(
        std::fs::read(&journal).unwrap(),
        written,
        "nothing truncated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listen_address_in_use_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let stderr = refused_serve(dir.path(), address.port()).await;
    assert!(
        stderr.contains(&address.to_string()),
        "the address is not named: {stderr}"
    );
}
