//! The `stampede bench` flags and their validation.

use crate::target::parse_targets;
use clap::{Args, Parser, ValueEnum};
use std::path::PathBuf;

/// Longest run allowed, seconds: a bench is a bounded experiment, not a soak test.
pub(crate) const MAX_DURATION_SECS: u64 = 600;
/// Most connections: each is a socket and a task; beyond this the client, not the server, is
/// what gets measured (and default fd limits are 1024–65536).
pub(crate) const MAX_CONNECTIONS: u32 = 10_000;
/// Most users: per-user state is ~100 bytes, so this bounds client memory to ~1 GB.
pub(crate) const MAX_USERS: u64 = 10_000_000;
/// Most botnet source addresses: 127.1.y.z with y, z in 1..=254.
pub(crate) const MAX_BOTNET_IPS: u32 = 254 * 254;
/// Highest open-loop rate accepted, requests per second (far above one machine's ceiling).
pub(crate) const MAX_RATE_PER_SEC: u64 = 10_000_000;
/// Longest wait for paid orders to settle, seconds: the simulated channel pays in ~50 ms and a
/// lost callback is found by the server's query job within `payment_query_after_secs` (10 s
/// by default), so two minutes is generous without letting a stuck server hang the bench.
pub(crate) const MAX_PAY_SETTLE_SECS: u64 = 120;

/// Which kind of campaign to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CampaignKind {
    /// Fixed-price items (`"kind":"seckill"`).
    Seckill,
    /// Random split of a sum (`"kind":"red_packet"`).
    RedPacket,
}

/// Load-generate against a Stampede server, then audit the result.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Server to drive, e.g. http://127.0.0.1:8080 (exclusive with --spawn); or a cluster's
    /// nodes, comma-separated (at most 16): each user then sticks to a home node picked by a
    /// hash of its id, and fails over to the next node while its home is down; admin calls go
    /// to the first live node.
    #[arg(long, conflicts_with = "spawn", required_unless_present = "spawn")]
    pub target: Option<String>,
    /// Start the server as a child (free port, temporary data dir, random secrets) and stop it
    /// at the end.
    #[arg(long)]
    pub spawn: bool,
    /// Server binary for --spawn (default: this executable).
    #[arg(long, requires = "spawn")]
    pub server_bin: Option<PathBuf>,
    /// Extra argument for the spawned server (repeatable), e.g. --server-arg=--durability=os.
    #[arg(long = "server-arg", allow_hyphen_values = true, requires = "spawn")]
    pub server_args: Vec<String>,
    /// Secret used to mint user tokens (with --target).
    #[arg(long, env = "STAMPEDE_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<String>,
    /// Admin bearer key (with --target).
    #[arg(long, env = "STAMPEDE_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,

    /// Use this existing campaign instead of creating one.
    #[arg(long)]
    pub campaign: Option<String>,
    /// RAW MODE (for comparing against `stampede baseline` or any HTTP server): POST this
    /// path (e.g. /v1/campaigns/ID/grab) with the same request shape (Bearer token of the
    /// next user, empty body), counting responses only. Every user loops like a script that
    /// never stops (no populations, no first-click spread), no campaign is created or read,
    /// no admin key is needed and nothing is audited. --token-secret defaults to empty.
    /// Its lean HTTP/1.1 client reads answers with a Content-Length (not chunked ones).
    #[arg(long, conflicts_with_all = ["spawn", "campaign"], requires = "target")]
    pub raw_path: Option<String>,
    /// Kind of campaign to create.
    #[arg(long, value_enum, default_value = "seckill")]
    pub kind: CampaignKind,
    /// Items (seckill) or packets (red packet) in the created campaign.
    #[arg(long, default_value_t = 3_000)]
    pub stock: u64,
    /// Wins allowed per user (seckill only).
    #[arg(long, default_value_t = 1)]
    pub per_user_limit: u64,
    /// Item price in cents (seckill).
    #[arg(long, default_value_t = 990)]
    pub price_cents: u64,
    /// Sum split over the packets, in cents (red packet).
    #[arg(long, default_value_t = 100_000)]
    pub total_cents: u64,
    /// Smallest packet in cents (red packet).
    #[arg(long, default_value_t = 1)]
    pub min_cents: u64,

    /// Distinct users in total (scripts and bots included).
    #[arg(long, default_value_t = 100_000)]
    pub users: u64,
    /// Percent of the human users (users - scripts - bots) who click again a few times; the
    /// rest click once.
    #[arg(long, default_value_t = 70, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub clickers_pct: u8,
    /// Users that loop as fast as they can, ignoring Retry-After.
    #[arg(long, default_value_t = 20)]
    pub scripts: u64,
    /// Users that belong to the botnet.
    #[arg(long, default_value_t = 2_000)]
    pub botnet_users: u64,
    /// Distinct loopback source addresses the botnet uses (127.1.y.z).
    #[arg(long, default_value_t = 200)]
    pub botnet_ips: u32,
    /// Distinct loopback source addresses the clickers and visitors use (127.2.y.z), so that
    /// per-address rules see households, not one machine; 0: they all leave from the default
    /// address (127.0.0.1).
    #[arg(long, default_value_t = 0)]
    pub clicker_ips: u32,
    /// Distinct loopback source addresses the scripts use (127.3.y.z); 0: the default address.
    #[arg(long, default_value_t = 0)]
    pub script_ips: u32,

    /// Concurrent keep-alive connections (closed loop: each sends as soon as it gets an answer).
    #[arg(long, default_value_t = 256)]
    pub connections: u32,
    /// Open loop: target arrivals per second over all connections; latency is measured from the
    /// intended send time.
    #[arg(long)]
    pub rate: Option<u64>,
    /// Stop sending after this many seconds.
    #[arg(long = "duration", default_value_t = 30)]
    pub duration_secs: u64,
    /// Stop sending after this many requests.
    #[arg(long, default_value_t = 10_000_000)]
    pub max_requests: u64,
    /// Seed for the user mix and jitter (default: random, printed in the report).
    #[arg(long)]
    pub seed: Option<u64>,

    /// After the grab phase, pay every order this run's users were told they won (seckill
    /// only): `POST /v1/orders/{id}/pay {}` with the winner's token, then wait for the orders
    /// to settle and audit the payments (`payments_settled`, `paid_amounts`).
    #[arg(long, conflicts_with = "raw_path")]
    pub pay: bool,

    /// REHEARSAL: every user carries a shadow token (`s1.`), so every grab is decided against
    /// the campaign's shadow copy and nothing is sold. The copy is reset first (a fresh
    /// rehearsal); the audit checks the copy (stock, per-user limit, every win listed) and
    /// that the real campaign's remaining stock and winners did not change (so nobody else
    /// should grab it for real during the run).
    #[arg(long, conflicts_with_all = ["raw_path", "pay"])]
    pub shadow: bool,
    /// With --pay: how long paid orders get to leave `pending_payment`/`paying` after the last
    /// pay answer, seconds (1..=120).
    #[arg(long, default_value_t = 15)]
    pub pay_settle_secs: u64,

    /// Write the report and audit as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report to this file.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// No per-second progress on stderr.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Parser)]
struct DefaultsOnly {
    #[command(flatten)]
    args: BenchArgs,
}

impl BenchArgs {
    /// The CLI defaults with `target` set (reads the same env vars the CLI would).
    pub fn for_target(target: impl Into<String>) -> Self {
        let mut args = DefaultsOnly::parse_from(["bench", "--spawn"]).args;
        args.spawn = false;
        args.target = Some(target.into());
        args
    }

    /// Checks cross-field rules clap cannot express; the message names the flag.
    pub fn validate(&self) -> Result<(), ArgsError> {
        let fail = |flag: &'static str, reason: String| Err(ArgsError { flag, reason });
        if self.target.is_none() && !self.spawn {
            return fail("--target", "give --target URL or --spawn".into());
        }
        if let Some(list) = &self.target {
            let targets = parse_targets(list).map_err(|reason| ArgsError {
                flag: "--target",
                reason,
            })?;
            if self.raw_path.is_some() && targets.len() > 1 {
                return fail(
                    "--raw-path",
                    "raw mode drives one server: give one --target URL".into(),
                );
            }
        }
        if let Some(path) = &self.raw_path
            && !path.starts_with('/')
        {
            return fail("--raw-path", format!("{path:?} must start with /"));
        }
        if self.raw_path.is_none()
            && self.target.is_some()
            && (self.token_secret.is_none() || self.admin_key.is_none())
        {
            return fail(
                "--token-secret/--admin-key",
                "both are required with --target (or set STAMPEDE_TOKEN_SECRET / STAMPEDE_ADMIN_KEY)".into(),
            );
        }
        if self.duration_secs == 0 || self.duration_secs > MAX_DURATION_SECS {
            return fail(
                "--duration",
                format!("must be 1..={MAX_DURATION_SECS} seconds"),
            );
        }
        if self.max_requests == 0 {
            return fail("--max-requests", "must be at least 1".into());
        }
        if self.connections == 0 || self.connections > MAX_CONNECTIONS {
            return fail("--connections", format!("must be 1..={MAX_CONNECTIONS}"));
        }
        if let Some(rate) = self.rate
            && (rate == 0 || rate > MAX_RATE_PER_SEC)
        {
            return fail(
                "--rate",
                format!("must be 1..={MAX_RATE_PER_SEC} per second"),
            );
        }
        if self.users == 0 || self.users > MAX_USERS {
            return fail("--users", format!("must be 1..={MAX_USERS}"));
        }
        if self.scripts.saturating_add(self.botnet_users) > self.users {
            return fail(
                "--scripts/--botnet-users",
                format!("scripts + botnet users exceed --users {}", self.users),
            );
        }
        if self.botnet_users > 0 && (self.botnet_ips == 0 || self.botnet_ips > MAX_BOTNET_IPS) {
            return fail("--botnet-ips", format!("must be 1..={MAX_BOTNET_IPS}"));
        }
        if self.clicker_ips > MAX_BOTNET_IPS {
            return fail("--clicker-ips", format!("must be 0..={MAX_BOTNET_IPS}"));
        }
        if self.script_ips > MAX_BOTNET_IPS {
            return fail("--script-ips", format!("must be 0..={MAX_BOTNET_IPS}"));
        }
        if self.pay_settle_secs == 0 || self.pay_settle_secs > MAX_PAY_SETTLE_SECS {
            return fail(
                "--pay-settle-secs",
                format!("must be 1..={MAX_PAY_SETTLE_SECS} seconds"),
            );
        }
        if self.pay && self.raw_path.is_some() {
            return fail("--pay", "raw mode has no orders to pay".into());
        }
        if self.shadow && self.target.is_some() && self.campaign.is_none() {
            return fail(
                "--campaign",
                "a rehearsal against a live server rehearses an existing campaign: give \
                 --campaign ID (creating one would open a real sale)"
                    .into(),
            );
        }
        if self.shadow && (self.pay || self.raw_path.is_some()) {
            return fail(
                "--shadow",
                "a rehearsal pays nothing and needs a campaign (no --pay, no --raw-path)".into(),
            );
        }
        if self.campaign.is_none() && self.raw_path.is_none() {
            self.validate_new_campaign()?;
        }
        Ok(())
    }

    fn validate_new_campaign(&self) -> Result<(), ArgsError> {
        let fail = |flag: &'static str, reason: String| Err(ArgsError { flag, reason });
        if self.stock == 0 {
            return fail("--stock", "must be at least 1".into());
        }
        if self.per_user_limit == 0 {
            return fail("--per-user-limit", "must be at least 1".into());
        }
        if self.kind == CampaignKind::RedPacket {
            if self.pay {
                return fail(
                    "--pay",
                    "red packets are claimed, not paid: use --pay with --kind seckill".into(),
                );
            }
            if self.min_cents == 0 {
                return fail("--min-cents", "must be at least 1".into());
            }
            if self.stock.saturating_mul(self.min_cents) > self.total_cents {
                return fail(
                    "--total-cents",
                    format!(
                        "{} cents cannot give {} packets of at least {} cents",
                        self.total_cents, self.stock, self.min_cents
                    ),
                );
            }
        }
        Ok(())
    }
}

/// A flag combination that cannot run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{flag}: {reason}")]
pub struct ArgsError {
    /// The offending flag(s).
    pub flag: &'static str,
    /// Why.
    pub reason: String,
}

#[cfg(test)]
mod tests;
