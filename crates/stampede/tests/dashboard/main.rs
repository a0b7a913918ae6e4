//! The live dashboard in a real browser: a server (the real binary), three campaigns, headless
//! Chromium driven over WebDriver (`chromedriver`). A wrong admin key is refused on the page;
//! with the right one the figures appear; a small stampede (`stampede bench` at a bounded
//! rate) runs against one campaign while the page is watched, and its remaining stock must
//! fall and its grab count rise between two reads; once the stampede ends the page shows the
//! server's own figures. The key is never stored by the page. A screenshot is written to
//! `target/tmp/dashboard.png`, and to `docs/dashboard.png` (the README's) with
//! `UPDATE_SCREENSHOT=1`.
//!
//! Needs `chromium` and `chromedriver` (`apt-get install chromium chromium-driver`): skipped
//! loudly without them, failed under `CI`.

#[path = "../support/mod.rs"]
mod support;
mod webdriver;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::{ADMIN_KEY, Server, TOKEN_SECRET, admin, binary, installed_or_skip, send_json};
use webdriver::{ChromeDriver, Session};

/// How long the page may take to show what the test waits for: the page polls once a second;
/// a debug build beside Chromium on a loaded 2-core machine is slow.
const PAGE_LIMIT: Duration = Duration::from_secs(20);
/// How long the stampede may run, audit included, before the test fails.
const STAMPEDE_LIMIT: Duration = Duration::from_secs(60);
/// Stock of the campaign the stampede drives: at the stampede's 200 grabs a second it cannot
/// sell out within the seconds the test watches it fall.
const PHONE_STOCK: u64 = 2_000;

/// How many times in a row the page must show the stock fall and the grabs rise while the
/// stampede runs (about a second each: the page polls once a second).
const MOVES_WATCHED: usize = 4;

/// What the page shows of one campaign and of the grabs.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Figures {
    remaining: u64,
    grabs: u64,
}

/// Reads the page: `null` until the board shows `campaign`'s row.
const READ_FIGURES: &str = r#"
    if (document.getElementById("board").hidden) return null;
    const row = document.querySelector(`tr[data-campaign="${arguments[0]}"] .remaining`);
    const grabs = document.getElementById("grabs-total").dataset.value;
    if (!row || !grabs) return null;
    return { remaining: Number(row.dataset.value), grabs: Number(grabs) };
"#;

async fn figures(page: &Session<'_>, campaign: &str) -> Option<Figures> {
    let read = page.script(READ_FIGURES, json!([campaign])).await;
    Some(Figures {
        remaining: read["remaining"].as_u64()?,
        grabs: read["grabs"].as_u64()?,
    })
}

/// Polls the page until `wanted` holds for `campaign`'s figures; fails after [`PAGE_LIMIT`].
async fn wait_for_figures(
    page: &Session<'_>,
    campaign: &str,
    what: &str,
    wanted: impl Fn(Figures) -> bool,
) -> Figures {
    let deadline = tokio::time::Instant::now() + PAGE_LIMIT;
    loop {
        let seen = figures(page, campaign).await;
        if let Some(seen) = seen
            && wanted(seen)
        {
            return seen;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the page did not show {what} within {PAGE_LIMIT:?}; last seen {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn create(client: &reqwest::Client, base: &str, body: Value) -> String {
    let created = send_json(
        client
            .post(format!("{base}/v1/campaigns"))
            .header("authorization", admin())
            .json(&body),
    )
    .await;
    created["id"]
        .as_str()
        .unwrap_or_else(|| panic!("campaign not created: {created}"))
        .to_owned()
}

/// `stampede bench` against `campaign`: 200 grabs a second for 10 s from 3,000 users (a few
/// scripts and a small botnet among them), then its audit.
fn stampede(base: &str, campaign: &str) -> std::process::Child {
    Command::new(binary())
        .args(["bench", "--target", base, "--campaign", campaign, "--quiet"])
        .args(["--users", "3000", "--scripts", "5"])
        .args(["--botnet-users", "300", "--botnet-ips", "20"])
        .args(["--connections", "16", "--rate", "200", "--duration", "10"])
        .args(["--seed", "13"])
        .env("STAMPEDE_TOKEN_SECRET", TOKEN_SECRET)
        .env("STAMPEDE_ADMIN_KEY", ADMIN_KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stampede bench")
}

fn save_screenshot(png: &[u8]) -> PathBuf {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    std::fs::write(&path, png).expect("write the screenshot");
    if std::env::var_os("UPDATE_SCREENSHOT").is_some_and(|v| v == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/dashboard.png");
        std::fs::write(&docs, png).expect("write docs/dashboard.png");
        eprintln!("dashboard screenshot written to {}", docs.display());
    }
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_a_stampede_live() {
    const TEST: &str = "the_dashboard_shows_a_stampede_live";
    let install = "apt-get install chromium chromium-driver";
    let Some(chromium) = installed_or_skip(TEST, &["chromium", "chromium-browser"], install) else {
        return;
    };
    let Some(chromedriver) = installed_or_skip(TEST, &["chromedriver"], install) else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data_dir = dir.path().join("data");
    let server = Server::start(&data_dir, &[]).await;
    let base = server.base.clone();
    let client = reqwest::Client::new();

    let phone = create(&client, &base, json!({
        "kind": "seckill", "name": "Phone X flash sale", "stock": PHONE_STOCK, "price_cents": 99_900,
    }))
    .await;
    let headphones = create(
        &client,
        &base,
        json!({
            "kind": "seckill", "name": "Headphones", "stock": 20, "price_cents": 4_900,
            "per_user_limit": 5,
        }),
    )
    .await;
    create(&client, &base, json!({
        "kind": "red_packet", "name": "New year red packets", "total_cents": 100_000, "count": 500,
    }))
    .await;
    // A script clicking ten times in a row (up to five headphones each): the per-user rule
    // (one grab a second) refuses most of its clicks. Then 25 users for what is left: the
    // first ones win, the rest find it sold out.
    let grab = |campaign: &str, user: &str| {
        client
            .post(format!("{base}/v1/campaigns/{campaign}/grab"))
            .header("authorization", format!("Bearer {}", support::token(user)))
            .send()
    };
    for _ in 0..10 {
        let answer = grab(&headphones, "looper").await.expect("grab sent");
        assert!(matches!(answer.status().as_u16(), 200 | 429), "{answer:?}");
    }
    for user in 0..25 {
        let answer = grab(&headphones, &format!("h{user}"))
            .await
            .expect("grab sent");
        assert!(matches!(answer.status().as_u16(), 200 | 410), "{answer:?}");
    }

    let driver = ChromeDriver::start(&chromedriver).await;
    let page = driver.session(&chromium, &dir.path().join("profile")).await;
    page.open(&format!("{base}/dashboard")).await;

    // A wrong key: a clear error, no board.
    page.type_into("#key", "not-the-admin-key-0123456789").await;
    page.click("#watch").await;
    let deadline = tokio::time::Instant::now() + PAGE_LIMIT;
    loop {
        let error = page
            .script(
                "return document.getElementById('error').textContent;",
                json!([]),
            )
            .await;
        if error
            .as_str()
            .is_some_and(|e| e.contains("refused this admin key"))
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no error shown for a wrong key: {error}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The right key: the figures appear, the phones untouched, the headphones' 35 grabs counted.
    page.type_into("#key", ADMIN_KEY).await;
    page.click("#watch").await;
    let untouched = wait_for_figures(&page, &phone, "the campaigns", |f| {
        f.remaining == PHONE_STOCK && f.grabs >= 35
    })
    .await;

    // The stampede: the figures move while it runs, read after read.
    let bench = stampede(&base, &phone);
    let mut last = untouched;
    for _ in 0..MOVES_WATCHED {
        let before = last;
        last = wait_for_figures(&page, &phone, "the stock falling", |f| {
            f.remaining < before.remaining && f.grabs > before.grabs
        })
        .await;
    }
    assert!(last.remaining > 0, "sold out too soon to watch: {last:?}");
    let saved = save_screenshot(&page.screenshot().await);
    eprintln!("dashboard screenshot: {}", saved.display());

    let out = support::exit_within(bench, STAMPEDE_LIMIT).await;
    assert!(
        out.status.success(),
        "the stampede's audit failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Once it is over, the page shows the server's own figures.
    let campaign = send_json(client.get(format!("{base}/v1/campaigns/{phone}"))).await;
    let remaining = campaign["remaining"].as_u64().expect("remaining");
    assert!(remaining < last.remaining, "{campaign}");
    wait_for_figures(&page, &phone, "the server's remaining stock", |f| {
        f.remaining == remaining
    })
    .await;

    // The key was kept in memory only.
    let stored = page
        .script(
            "return [localStorage.length, sessionStorage.length, document.cookie];",
            json!([]),
        )
        .await;
    assert_eq!(stored, json!([0, 0, ""]), "the page stored something");
    page.quit().await;
    drop(driver);
    drop(server);
}
