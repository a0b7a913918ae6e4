//! `stampede reconcile` on a journal written by the engine in-process: clean statements exit
//! 0, a statement missing a payment and carrying an unknown one exits 1 and names both, bad
//! input exits 2 naming the line and field, the journal is never modified, and the simulated
//! channels' own books are checked as the server's reconciliation checks them.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use stampede_core::{
    CampaignSpec, Cents, CommonSpec, GrabOutcome, OrderId, Payment, PaymentOutcome, SeckillSpec,
    UnixMillis,
};
use stampede_engine::{Durability, Engine, EngineConfig, ManualClock};
use support::binary;

/// (txn_id, order) of each payment recorded, all on channel `sim`, 100 cents each.
type Paid = Vec<(String, OrderId)>;

/// Writes a journal into `data_dir`: three winners, two paid, one cancelled and paid late.
async fn write_journal(data_dir: &Path) -> Paid {
    let config = EngineConfig {
        journal_path: data_dir.join(stampede_server::JOURNAL_FILE),
        durability: Durability::Fsync,
        rng_seed: Some(11),
        snapshot_every_records: stampede_engine::DEFAULT_SNAPSHOT_EVERY_RECORDS,
    };
    let clock = Arc::new(ManualClock::new(UnixMillis(1_700_000_000_000)));
    let (engine, _) = Engine::open(&config, clock).unwrap();
    let spec = CampaignSpec::Seckill(SeckillSpec {
        common: CommonSpec {
            name: "reconcile".into(),
            starts_at: None,
            ends_at: None,
        },
        stock: 5,
        per_user_limit: 1,
        price_cents: Cents(100),
        payment_window_secs: 600,
        regrab_after_release: false,
    });
    let view = engine
        .create_campaign(spec)
        .await
        .unwrap()
        .created()
        .unwrap();
    let mut orders = Vec::new();
    for user in ["alice", "bob", "carol"] {
        match engine
            .grab(view.id, &stampede_core::UserId::parse(user).unwrap())
            .await
            .unwrap()
        {
            GrabOutcome::Won(ticket) => orders.push(ticket.order_id),
            other => panic!("{other:?}"),
        }
    }
    engine
        .cancel(
            orders[2],
            Some(&stampede_core::UserId::parse("carol").unwrap()),
        )
        .await
        .unwrap();
    let mut paid = Vec::new();
    for (txn, order) in [("t1", orders[0]), ("t2", orders[1]), ("t3", orders[2])] {
        let payment = Payment {
            channel: stampede_core::ChannelName::parse("sim").unwrap(),
            txn_id: txn.into(),
            amount_cents: Cents(100),
            paid_at: UnixMillis(1_700_000_000_001),
        };
        let outcome = engine.record_payment(order, payment).await.unwrap();
        assert!(
            matches!(outcome, PaymentOutcome::Recorded { .. }),
            "{outcome:?}"
        );
        paid.push((txn.to_owned(), order));
    }
    engine.shutdown();
    paid
}

fn statement_csv(lines: &[(String, OrderId)]) -> String {
    let mut csv = String::from("txn_id,order_id,amount_cents,time\n");
    for (i, (txn, order)) in lines.iter().enumerate() {
        let time = if i % 2 == 0 {
            "1700000000001".to_owned()
        } else {
            "2023-11-14T22:13:20.001Z".to_owned()
        };
        csv.push_str(&format!("{txn},{order},100,{time}\n"));
    }
    csv
}

fn reconcile(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(binary())
        .arg("reconcile")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("STAMPEDE_DATA_DIR")
        .output()
        .unwrap()
}

/// The report names the two discrepancies of a statement that lacks `t2` and holds an
/// unknown `t9`.
fn assert_t2_missing_and_t9_unknown(report: &str) {
    assert!(report.contains("Result: 2 DISCREPANCIES"), "{report}");
    for needle in [
        "opened_but_not_paid",
        "sim/t2",
        "paid_but_not_opened",
        "sim/t9",
    ] {
        assert!(report.contains(needle), "{needle} missing from:\n{report}");
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_books_exit_zero_and_discrepancies_exit_one() {
    let dir = tempfile::tempdir().unwrap();
    let paid = write_journal(dir.path()).await;
    let journal = std::fs::read(dir.path().join(stampede_server::JOURNAL_FILE)).unwrap();

    let clean = dir.path().join("sim-clean.csv");
    std::fs::write(&clean, statement_csv(&paid)).unwrap();
    let statement = format!("sim={}", clean.display());
    let out = reconcile(dir.path(), &["--statement", &statement]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report = text(&out.stdout);
    assert!(report.contains("Result: CLEAN"), "{report}");
    assert!(
        report.contains("Pending refunds (1"),
        "carol's late payment: {report}"
    );
    assert!(
        text(&out.stderr).contains("replayed"),
        "{}",
        text(&out.stderr)
    );

    // t2 missing, t9 unknown.
    let mut lines = paid.clone();
    lines.remove(1);
    lines.push(("t9".to_owned(), paid[0].1));
    let broken = dir.path().join("sim-broken.csv");
    std::fs::write(&broken, statement_csv(&lines)).unwrap();
    let statement = format!("sim={}", broken.display());
    let json_path = dir.path().join("report.json");
    let out = reconcile(
        dir.path(),
        &[
            "--statement",
            &statement,
            "--json",
            json_path.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_t2_missing_and_t9_unknown(&text(&out.stdout));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(json["discrepancy_total"], 2);
    assert_eq!(json["discrepancy_counts"]["opened_but_not_paid"], 1);
    assert_eq!(json["discrepancy_counts"]["paid_but_not_opened"], 1);

    // `--json -`: JSON alone on stdout, the text on stderr.
    let out = reconcile(dir.path(), &["--statement", &statement, "--json", "-"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["statements"][0]["channel"], "sim");
    assert!(text(&out.stderr).contains("DISCREPANCIES"));

    assert_eq!(
        std::fs::read(dir.path().join(stampede_server::JOURNAL_FILE)).unwrap(),
        journal,
        "the journal is only read"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_tail_is_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path()).await;
    let path = dir.path().join(stampede_server::JOURNAL_FILE);
    let mut torn = std::fs::read(&path).unwrap();
    let junk = b"StJ2 and then the power went out";
    torn.extend_from_slice(junk);
    std::fs::write(&path, &torn).unwrap();
    let out = reconcile(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ignored = format!("ignored {} bytes", junk.len());
    assert!(
        text(&out.stderr).contains(&ignored),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(&path).unwrap(), torn, "byte-identical");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_and_input_errors_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let paid = write_journal(dir.path()).await;
    let bad = dir.path().join("bad.csv");
    let mut csv = statement_csv(&paid);
    csv.push_str(&format!("t4,{},12.50,1700000000001\n", paid[0].1));
    std::fs::write(&bad, csv).unwrap();
    let statement = format!("sim={}", bad.display());
    let out = reconcile(dir.path(), &["--statement", &statement]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("line 5") && stderr.contains("amount_cents"),
        "{stderr}"
    );

    let twice = reconcile(
        dir.path(),
        &["--statement", &statement, "--statement", &statement],
    );
    assert_eq!(twice.status.code(), Some(2));
    assert!(text(&twice.stderr).contains("twice"));
    let no_channel = reconcile(dir.path(), &["--statement", "nochannel"]);
    assert_eq!(no_channel.status.code(), Some(2));

    let empty = tempfile::tempdir().unwrap();
    let out = reconcile(empty.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("journal.log"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !empty.path().join(stampede_server::JOURNAL_FILE).exists(),
        "nothing is created"
    );
}

/// The server's reconciliation job checks the journal against each simulated channel's own
/// books (`<data-dir>/channel-<name>.log`). The CLI checks against them too — found in the
/// data directory, or named with `--statement` — so where the server reports a discrepancy,
/// the CLI does as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulated_channels_books_are_checked_as_the_server_checks_them() {
    let dir = tempfile::tempdir().unwrap();
    let paid = write_journal(dir.path()).await;
    // The channel's books hold t1 and t3 as journaled, not t2, and a t9 the journal never saw.
    let books = dir.path().join("channel-sim.log");
    let mut lines = String::new();
    for (txn, order) in [&paid[0], &paid[2]] {
        lines.push_str(&format!("p\t{order}\t{txn}\t100\t1700000000001\n"));
    }
    lines.push_str(&format!("p\t{}\tt9\t100\t1700000000002\n", paid[0].1));
    std::fs::write(&books, lines).unwrap();

    // What the server's own job reports on this directory (its `sim` channel opens the books).
    let config = stampede_server::Config {
        data_dir: dir.path().to_path_buf(),
        log: "warn".into(),
        ..stampede_server::Config::default()
    };
    let state = stampede_server::build_state(&config).unwrap();
    let run = state.shards.home().reconciler.run_once().await.unwrap();
    state.shards.home().engine.shutdown();
    assert_eq!(run.report.discrepancy_total, 2, "{}", run.report);

    let named = format!("sim={}", books.display());
    for args in [&[][..], &["--statement", named.as_str()][..]] {
        let out = reconcile(dir.path(), args);
        let report = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {report}{}",
            text(&out.stderr)
        );
        assert_t2_missing_and_t9_unknown(&report);
    }
}
