//! stampede bench: load generator and auditor for a Stampede server.
//!
//! [`run`] creates (or reuses) a campaign, drives it with a mix of user populations over raw
//! keep-alive HTTP/1.1 connections, then audits the server's books against what the clients
//! were told. [`baseline::serve`] is the machine's HTTP ceiling to compare against.
//!
//! - **Populations** (`--users` in total): `--scripts` looping users (ignore Retry-After, stop
//!   on already_won / sold_out / ended), `--botnet-users` bots spread over `--botnet-ips`
//!   loopback source addresses (retry every 20–200 ms, up to 20 attempts), and the remaining
//!   humans: `--clickers-pct` percent clickers (up to 4 clicks, honour Retry-After, 100–800 ms
//!   jitter) and the rest visitors (one click). Humans first click within 1 s of the start,
//!   bots within 100 ms, scripts at once.
//! - **Load**: `--connections` workers, each with one request in flight and its own shard of
//!   users; closed loop by default, open loop with `--rate` (latency from the intended send
//!   time). A user's first request on a connection includes the TCP connect.
//! - **Nodes** (`--target URL,URL…`, a cluster): each user's grabs go to its home node (a
//!   hash of its id) while it is up, and fail over in `--target` order when it fails; admin
//!   calls go to the first live node; the report adds a per-node table (`nodes.rs`).
//! - **Bounds**: sending stops at `--duration` or `--max-requests`, whichever first, or earlier
//!   when every user has stopped; in-flight requests are awaited (≤ 10 s timeout).
//! - **Payments** (`--pay`, seckill only): after the grabs, every order this run's users were
//!   told they won is paid (`POST /v1/orders/{id}/pay {}`), the bench waits up to
//!   `--pay-settle-secs` for the orders to settle and reads paid orders back; the steps are in
//!   `payments.rs`, the checks in [`audit::payments`].
//! - **Rehearsal** (`--shadow`): every user carries a shadow token, so nothing is sold; the
//!   audit reads the campaign's shadow copy and checks the real campaign did not move
//!   (`rehearsal.rs`).
//! - **Audit**: see [`audit`] for the exact definitions. With `--campaign` it
//!   assumes nobody else grabs from that campaign during the run.

mod admin;
mod args;
pub mod audit;
pub mod baseline;
mod campaign;
mod clock;
mod connection;
mod driver;
mod fan_out;
mod html;
mod latency;
mod node_report;
mod nodes;
mod outcome;
mod payment_report;
mod payments;
mod plan;
mod population;
mod progress;
mod raw_connection;
mod recorder;
mod rehearsal;
mod report;
mod schedule;
mod shard;
mod shared_recorder;
mod spawn;
mod target;
mod token;

pub use admin::{CampaignView, OrderView, PaymentView, Winner};
pub use args::{ArgsError, BenchArgs, CampaignKind};
pub use audit::{Audit, AuditSummary, CheckResult};
pub use latency::LatencySummary;
pub use node_report::NodeReport;
pub use nodes::NodeCounts;
pub use outcome::Outcome;
pub use payment_report::PaymentReport;
pub use population::{Mix, Population};
pub use report::{GroupReport, Report, RunInfo, SecondReport};
pub use token::{TokenKind, mint_token, mint_token_of};

use admin::AdminClient;
use anyhow::{Context, bail};
use audit::AuditInput;
use campaign::{campaign_body, red_packet_terms};
use clock::{Clock, SystemClock};
use driver::LoadPlan;
use node_report::node_reports;
use payments::PayPlan;
use plan::{TOKEN_VALIDITY_MARGIN_SECS, load_plan, run_info, run_user_prefix};
use progress::LiveCounters;
use rand::Rng;
use serde::Serialize;
use shard::Sources;
use spawn::SpawnedServer;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use target::resolve_targets;

/// The result of a bench run: the measurements and the audit verdict. The caller should exit
/// non-zero when `audit.passed()` is false.
#[derive(Debug, Clone, Serialize)]
pub struct BenchOutcome {
    /// Throughput, latency, outcomes.
    pub report: Report,
    /// The audit verdict.
    pub audit: Audit,
}

/// Runs a bench as configured by `args`: prints progress to stderr (unless `--quiet`), the
/// report and audit to stdout, and writes `--json` / `--html` if asked.
///
/// # Errors
/// Invalid flags, a server that cannot be started or reached, admin calls that fail, or report
/// files that cannot be written. A failed audit is not an error: see [`Audit::passed`].
pub async fn run(args: BenchArgs) -> anyhow::Result<BenchOutcome> {
    args.validate()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut os_rng = rand::rng();
    if !args.spawn {
        let target = args.target.as_deref().unwrap_or_default();
        let servers = resolve_targets(target).await?;
        let secret = args.token_secret.clone().unwrap_or_default();
        if let Some(path) = &args.raw_path {
            // `validate` allows raw mode one target only.
            return bench_raw(&args, servers[0], path, secret, clock).await;
        }
        let admin_key = args.admin_key.clone().unwrap_or_default();
        return bench(&args, servers, secret, admin_key, clock).await;
    }
    let binary = match &args.server_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe().context("locating this executable for --spawn")?,
    };
    let secret = hex::encode(os_rng.random::<[u8; 32]>());
    let admin_key = hex::encode(os_rng.random::<[u8; 32]>());
    let server =
        SpawnedServer::start(binary, &args.server_args, secret, admin_key, clock.as_ref()).await?;
    // Ctrl-C must not orphan the child: turn it into an error so the stop below still runs.
    let result = tokio::select! {
        result = bench(
            &args,
            vec![server.address],
            server.token_secret.clone(),
            server.admin_key.clone(),
            clock,
        ) => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    if result.is_err() {
        eprintln!("server log tail:\n{}", server.log_tail());
    }
    // Stop the child on every path; a failed stop is reported but does not mask the result.
    if let Err(error) = server.stop().await {
        eprintln!("warning: {error:#}");
    }
    result
}

/// `--raw-path`: the same closed loop against any HTTP server, counting responses only (no
/// campaign, no admin calls, no audit). Every user is a never-stopping script.
async fn bench_raw(
    args: &BenchArgs,
    server: SocketAddr,
    path: &str,
    token_secret: String,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<BenchOutcome> {
    let mix = Mix::new(args.users, 0, args.users, 0).context("--users")?;
    let token_secret = Arc::from(token_secret.into_bytes());
    // Every user a script from the default address, sending at once and never stopping.
    let plan = LoadPlan {
        raw: true,
        user_prefix: run_user_prefix("raw"),
        sources: Sources::default(),
        ..load_plan(
            args,
            vec![server],
            path.to_owned(),
            mix,
            token_secret,
            clock.as_ref(),
        )
    };
    let campaign_id = format!("(raw mode: POST {path}, responses counted, no audit)");
    let run_info = run_info(&plan, campaign_id);
    let load = drive_with_progress(args, plan, clock).await;
    let report = Report::new(run_info, &load.recorder, load.elapsed.as_secs_f64());
    println!("{}", report.to_table());
    println!("audit: SKIPPED (raw mode)");
    let outcome = BenchOutcome {
        report,
        audit: Audit::skipped(),
    };
    write_outputs(args, &outcome)?;
    Ok(outcome)
}

async fn bench(
    args: &BenchArgs,
    servers: Vec<SocketAddr>,
    token_secret: String,
    admin_key: String,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<BenchOutcome> {
    let mix = Mix::new(
        args.users,
        args.clickers_pct,
        args.scripts,
        args.botnet_users,
    )
    .context("--users is smaller than --scripts + --botnet-users")?;
    let loopback = servers.iter().all(|server| server.ip().is_loopback());
    if mix.bots > 0 && !loopback {
        bail!("--botnet-users needs a loopback target (bots bind 127.1.y.z source addresses)");
    }
    if (args.clicker_ips > 0 || args.script_ips > 0) && !loopback {
        bail!(
            "--clicker-ips/--script-ips need a loopback target (they bind 127.2.y.z / 127.3.y.z)"
        );
    }
    let mut admin = AdminClient::over(servers.clone(), admin_key.clone());
    let campaign_id = match &args.campaign {
        Some(id) => id.clone(),
        None => {
            let created = admin.create_campaign(&campaign_body(args)).await?;
            created.id
        }
    };
    let before = admin.campaign(&campaign_id).await?;
    let red_packet = red_packet_terms(args, &before);
    let per_user_limit = before.per_user_limit.unwrap_or(1);
    let pay = args.pay && before.kind == "seckill";
    if args.pay && !pay {
        println!(
            "note: --pay skipped: campaign {campaign_id} is a {} campaign, whose orders are claimed, not paid",
            before.kind
        );
    }

    let rehearsal = if args.shadow {
        Some(rehearsal::start(&mut admin, &before).await?)
    } else {
        None
    };

    let token_secret: Arc<[u8]> = Arc::from(token_secret.into_bytes());
    let path = format!("/v1/campaigns/{campaign_id}/grab");
    let plan = load_plan(
        args,
        servers.clone(),
        path,
        mix,
        token_secret.clone(),
        clock.as_ref(),
    );
    let shown_id = if args.shadow {
        format!("{campaign_id} (rehearsal: its shadow copy)")
    } else {
        campaign_id.clone()
    };
    let run_info = run_info(&plan, shown_id);
    let load = drive_with_progress(args, plan, clock.clone()).await;

    let (before, after, winners, real) = match rehearsal {
        Some(started) => rehearsal::finish(&mut admin, started).await?.into_parts(),
        None => (
            before,
            admin.campaign(&campaign_id).await?,
            admin.all_winners(&campaign_id).await?,
            None,
        ),
    };
    let (payment_report, payment_input) = if pay {
        let plan = PayPlan {
            // Payments are admin-side work: the first live node, as the admin client found it.
            server: admin.node(),
            admin_key,
            campaign_id: campaign_id.clone(),
            token_secret,
            token_expires_unix: clock.unix_now_secs() + TOKEN_VALIDITY_MARGIN_SECS,
            settle_limit: Duration::from_secs(args.pay_settle_secs),
        };
        if !args.quiet {
            eprintln!("{}", payments::announce(&plan));
        }
        let phase = payments::run(&plan, &load.users, clock.clone())
            .await
            .context("payment phase")?;
        (Some(phase.report), Some(phase.audit))
    } else {
        (None, None)
    };
    let audit = audit::audit(&AuditInput {
        before,
        after,
        winners,
        users: load.users,
        per_user_limit,
        red_packet,
        payments: payment_input,
        real,
    });
    let mut report = Report::new(run_info, &load.recorder, load.elapsed.as_secs_f64());
    report.payments = payment_report;
    report.nodes = node_reports(&servers, &load.nodes);
    println!("{}", report.to_table());
    println!("{}", audit.to_text());
    let outcome = BenchOutcome { report, audit };
    write_outputs(args, &outcome)?;
    Ok(outcome)
}

/// Drives `plan` to completion, printing live progress to stderr unless `--quiet`.
async fn drive_with_progress(
    args: &BenchArgs,
    plan: LoadPlan,
    clock: Arc<dyn Clock>,
) -> driver::LoadResult {
    let live = Arc::new(LiveCounters::default());
    let printer = (!args.quiet).then(|| progress::spawn_printer(live.clone(), clock.clone()));
    let load = driver::drive(plan, clock, live).await;
    if let Some(printer) = printer {
        printer.abort();
    }
    load
}

fn write_outputs(args: &BenchArgs, outcome: &BenchOutcome) -> anyhow::Result<()> {
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(outcome).context("serialising the report")?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.html {
        let page = html::render(&outcome.report, &outcome.audit);
        std::fs::write(path, page).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
