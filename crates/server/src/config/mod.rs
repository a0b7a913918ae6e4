//! The one documented config struct (STYLE §13).
//!
//! Every setting is declared once in the `settings!` list below, which generates both the
//! serde [`Config`] (read from a TOML file) and the clap [`ConfigArgs`] (flags, each also
//! readable from its `STAMPEDE_*` environment variable). Precedence: flag > environment >
//! file > built-in default. [`Config::validate`] names the offending field; `serve` calls it
//! before binding a port.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Hard ceiling on `max_connections`: each connection holds buffers (~16 KiB) and a task.
pub const MAX_CONNECTIONS_CEILING: usize = 1_000_000;
/// Hard ceiling on `max_in_flight`.
pub const MAX_IN_FLIGHT_CEILING: usize = 1_000_000;
/// Hard ceiling on `max_tracked_users` (rate-limiter keys, ~100 bytes each).
pub const MAX_TRACKED_USERS_CEILING: usize = 50_000_000;
/// Hard ceiling on `idempotency_max_entries` (each holds a response of ~100 bytes).
pub const MAX_IDEMPOTENCY_ENTRIES_CEILING: usize = 10_000_000;
/// Longest `body_read_timeout_secs`: a body is at most 16 KiB, so a longer wait only lets a
/// stalled client hold its connection longer.
pub const MAX_BODY_READ_TIMEOUT_SECS: u64 = 300;
/// Highest `body_read_min_bytes_per_sec`: a megabyte a second would already refuse ordinary
/// mobile clients.
pub const MAX_BODY_READ_MIN_BYTES_PER_SEC: u64 = 1_000_000;

/// Hard ceiling on `max_token_ttl_secs`: one year. Past that a token is as good as permanent.
pub const MAX_TOKEN_TTL_CEILING_SECS: u64 = 365 * 86_400;

/// Where the journal lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum JournalKind {
    /// A file in `data_dir`: one node (the default).
    File,
    /// The shards' replicated logs on NATS JetStream: a cluster node.
    Nats,
}

/// Whether a win waits for fsync before it is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DurabilityMode {
    /// fsync every batch before answering (default): an answered win survives power loss.
    Fsync,
    /// write() without fsync: survives a process crash, not a power loss.
    Os,
}

impl From<DurabilityMode> for stampede_engine::Durability {
    fn from(mode: DurabilityMode) -> Self {
        match mode {
            DurabilityMode::Fsync => stampede_engine::Durability::Fsync,
            DurabilityMode::Os => stampede_engine::Durability::Os,
        }
    }
}

macro_rules! settings {
    ($( $(#[doc = $doc:literal])* $name:ident : $ty:ty = $default:expr, env = $env:literal; )*) => {
        /// Every server setting. Read from `--config FILE` (TOML, these field names), then the
        /// environment, then flags.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct Config {
            $( $(#[doc = $doc])* pub $name: $ty, )*
            /// Admission rules (`[[rules]]` tables; file and admin API only). Empty: the
            /// default rule set (one per-user token bucket from `grab_rate_*`).
            pub rules: Vec<stampede_admission::rules::RuleSpec>,
            /// Payment channels (`[[channels]]` tables; file only), each a simulated channel
            /// (see `SimChannelConfig`: name, weight, latency, failure and callback rates).
            /// Empty: one well-behaved channel named `sim` whose customers pay 50 ms after
            /// `pay`. Each channel's callbacks are signed with its own `secret` (see
            /// `crate::channel_secrets`).
            pub channels: Vec<stampede_money::SimChannelConfig>,
            /// Initial degrade switches (`[switches]` table: `grab`, `campaign_detail`,
            /// `winners` = true/false; file and admin API only). Unlisted switches are on.
            pub switches: std::collections::BTreeMap<String, bool>,
            /// The file this config was read from (for hot reload of rules and switches).
            #[serde(skip)]
            pub source_file: Option<PathBuf>,
        }

        impl Default for Config {
            fn default() -> Self {
                Self { $( $name: $default, )* rules: Vec::new(), channels: Vec::new(), switches: Default::default(), source_file: None }
            }
        }

        /// The same settings as flags (each also read from its environment variable).
        #[derive(clap::Args, Clone, Debug, Default)]
        pub struct ConfigArgs {
            /// TOML file with any of these settings (flags and environment override it).
            #[arg(long, env = "STAMPEDE_CONFIG")]
            pub config: Option<PathBuf>,
            $(
                $(#[doc = $doc])*
                #[arg(long, env = $env, help = help_with_default(&[$($doc),*], &Config::default().$name))]
                pub $name: Option<$ty>,
            )*
        }

        impl ConfigArgs {
            fn overlay(self, config: &mut Config) {
                $( if let Some(value) = self.$name { config.$name = value; } )*
            }
        }
    };
}

/// A flag's help: its doc comment as clap shows one (lines joined, no final period) and the
/// built-in default, rendered from the value [`Config::default`] holds. The flags are
/// `Option`s, so that a flag left out leaves the file's or the environment's value alone;
/// clap's own `default_value` would override them, hence the text.
fn help_with_default(doc: &[&str], default: &impl Serialize) -> String {
    let text = doc
        .split(|line| line.trim().is_empty())
        .map(|paragraph| {
            let lines: Vec<&str> = paragraph.iter().map(|line| line.trim()).collect();
            lines.join(" ")
        })
        .filter(|paragraph| !paragraph.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    let text = text.strip_suffix('.').unwrap_or(&text);
    format!("{text} [default: {}]", shown_default(default))
}

/// A default as a user types it: `127.0.0.1:8080`, `fsync`, `16384`, `""` for an empty string.
fn shown_default(default: &impl Serialize) -> String {
    match serde_json::to_value(default) {
        Ok(serde_json::Value::String(text)) if text.is_empty() => "\"\"".to_owned(),
        Ok(serde_json::Value::String(text)) => text,
        Ok(other) => other.to_string(),
        // Every setting is a plain value; a type serde cannot show would be a bug here.
        Err(error) => format!("<{error}>"),
    }
}

settings! {
    /// Address to listen on.
    listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8080)), env = "STAMPEDE_LISTEN";
    /// `file` (default): one node, its journal in `data_dir`. `nats`: a node of a cluster
    /// whose shards' logs are replicated by NATS JetStream (see the README's "Run a
    /// cluster"; then `nats_url` and `node_id` are required, and `token_secret` and
    /// `admin_key` must be set, the same on every node).
    journal: JournalKind = JournalKind::File, env = "STAMPEDE_JOURNAL";
    /// NATS server URLs, comma-separated (`nats://host:port`), for `journal = "nats"`.
    nats_url: String = String::new(), env = "STAMPEDE_NATS_URL";
    /// This node's id in the cluster: 1–32 characters of `[a-z0-9-]`, unique among the nodes.
    node_id: String = String::new(), env = "STAMPEDE_NODE_ID";
    /// The cluster's name: prefixes every stream, subject and bucket, so two clusters can
    /// share one NATS (1–32 characters of `[a-z0-9-]`).
    cluster_name: String = "stampede".to_owned(), env = "STAMPEDE_CLUSTER_NAME";
    /// Shards of the campaign space (the same on every node; never changed once the cluster
    /// holds campaigns): each has one writer at a time.
    shards: u32 = 16, env = "STAMPEDE_SHARDS";
    /// Replicas JetStream keeps of the shards' log, the lease and node buckets (1–5; 3
    /// survives one NATS server's loss).
    stream_replicas: usize = 3, env = "STAMPEDE_STREAM_REPLICAS";
    /// Milliseconds a shard leader's lease lasts unrenewed: after a leader dies, another node
    /// takes the shard within about this long.
    leader_lease_ms: u64 = 3_000, env = "STAMPEDE_LEADER_LEASE_MS";
    /// NATS user name (with `nats_password`; empty: none).
    nats_user: String = String::new(), env = "STAMPEDE_NATS_USER";
    /// NATS password.
    nats_password: String = String::new(), env = "STAMPEDE_NATS_PASSWORD";
    /// NATS credentials file (JWT and nkey seed; empty: none).
    nats_creds: String = String::new(), env = "STAMPEDE_NATS_CREDS";
    /// The HTTP address other nodes and operators are told this node serves on (empty: the
    /// `listen` address).
    advertise: String = String::new(), env = "STAMPEDE_ADVERTISE";
    /// Directory for the journal and generated secrets (created if missing).
    data_dir: PathBuf = PathBuf::from("stampede-data"), env = "STAMPEDE_DATA_DIR";
    /// `fsync` (default): a win is answered only after fsync. `os`: write without fsync.
    durability: DurabilityMode = DurabilityMode::Fsync, env = "STAMPEDE_DURABILITY";
    /// HMAC secret for user tokens. Empty: read or generate `<data-dir>/token_secret`.
    token_secret: String = String::new(), env = "STAMPEDE_TOKEN_SECRET";
    /// HMAC-SHA256 secret of the callbacks of the payment channel named `sim` (only that
    /// channel; each other channel has its own `secret`). Empty: read or generate
    /// `<data-dir>/sim_channel_secret`.
    sim_channel_secret: String = String::new(), env = "STAMPEDE_SIM_CHANNEL_SECRET";
    /// Seconds an order may stay `paying` without a callback before its channels are asked
    /// about it (then again every as many seconds while it stays `paying`).
    payment_query_after_secs: u64 = 10, env = "STAMPEDE_PAYMENT_QUERY_AFTER_SECS";
    /// Longest wait for a payment channel's `pay`, `query` or `refund` call, in milliseconds;
    /// past it the call counts as failed for the channel's health.
    payment_call_timeout_ms: u64 = 2_000, env = "STAMPEDE_PAYMENT_CALL_TIMEOUT_MS";
    /// Seconds between reconciliations of the durable books against the channels'
    /// statements (0: none; `POST /v1/admin/reconciliation` still runs one).
    reconcile_interval_secs: u64 = 60, env = "STAMPEDE_RECONCILE_INTERVAL_SECS";
    /// Payments younger than this many seconds are left out of a reconciliation (they may
    /// still be on their way from the channel to the books).
    reconcile_grace_secs: u64 = 60, env = "STAMPEDE_RECONCILE_GRACE_SECS";
    /// Milliseconds the simulated payout provider takes to pay a red packet out (0–60,000;
    /// past the 5 s payout timeout a claim's outcome is unknown and its order stays
    /// `claiming` until it is settled: a rehearsal of a slow provider).
    payout_latency_ms: u64 = 0, env = "STAMPEDE_PAYOUT_LATENCY_MS";
    /// Admin bearer key. Empty: read or generate `<data-dir>/admin_key`.
    admin_key: String = String::new(), env = "STAMPEDE_ADMIN_KEY";
    /// Grabs per second allowed per user (GCRA rate).
    grab_rate_per_second: u32 = 1, env = "STAMPEDE_GRAB_RATE_PER_SECOND";
    /// Grabs a user may burst above the rate.
    grab_rate_burst: u32 = 1, env = "STAMPEDE_GRAB_RATE_BURST";
    /// Most users tracked by the rate limiter; idle ones are evicted every second, and when
    /// full a new user is answered 429 until room frees up.
    max_tracked_users: usize = 2_000_000, env = "STAMPEDE_MAX_TRACKED_USERS";
    /// Most requests handled at once; the next is answered 503 `overloaded` at once.
    max_in_flight: usize = 16_384, env = "STAMPEDE_MAX_IN_FLIGHT";
    /// Most open client connections; further connections are closed at accept.
    max_connections: usize = 16_384, env = "STAMPEDE_MAX_CONNECTIONS";
    /// Seconds a client has to send a request's headers before its connection is closed.
    header_read_timeout_secs: u64 = 10, env = "STAMPEDE_HEADER_READ_TIMEOUT_SECS";
    /// Seconds a client has, once its headers are in, to send the whole body; past it the
    /// request is answered 408 `request_timeout` and the connection closed. A body is read
    /// before the request takes an in-flight permit.
    body_read_timeout_secs: u64 = 5, env = "STAMPEDE_BODY_READ_TIMEOUT_SECS";
    /// Least average rate of a request body, in bytes a second, after a 2 s grace (0: none);
    /// a slower body is answered 408 `request_timeout` before the deadline.
    body_read_min_bytes_per_sec: u64 = 1_024, env = "STAMPEDE_BODY_READ_MIN_BYTES_PER_SEC";
    /// Longest token life accepted, in seconds: a token expiring further ahead than this is
    /// refused 401 (a bearer token cannot be revoked, so a leaked one must die on its own).
    /// `stampede token --ttl` mints no longer.
    max_token_ttl_secs: u64 = stampede_api::auth::DEFAULT_MAX_TOKEN_TTL_SECS, env = "STAMPEDE_MAX_TOKEN_TTL_SECS";
    /// Seconds an `Idempotency-Key` response is replayed for.
    idempotency_ttl_secs: u64 = 600, env = "STAMPEDE_IDEMPOTENCY_TTL_SECS";
    /// Most stored `Idempotency-Key` responses (least recently used evicted first).
    idempotency_max_entries: usize = 200_000, env = "STAMPEDE_IDEMPOTENCY_MAX_ENTRIES";
    /// Tokio worker threads (0: one per core).
    worker_threads: usize = 0, env = "STAMPEDE_WORKER_THREADS";
    /// Seed for order ids and red-packet draws (0: draw one from the OS).
    rng_seed: u64 = 0, env = "STAMPEDE_RNG_SEED";
    /// Log filter (tracing-subscriber EnvFilter syntax).
    log: String = "info".to_owned(), env = "STAMPEDE_LOG";
    /// Log lines as `text` or `json` (one object a line); either way written by a background
    /// thread from a bounded queue, so logging never makes a request wait.
    log_format: crate::logging::LogFormat = crate::logging::LogFormat::Text, env = "STAMPEDE_LOG_FORMAT";
    /// Write an access-log line (target `access`) for one request in this many (0: none).
    access_log_every: u64 = 0, env = "STAMPEDE_ACCESS_LOG_EVERY";
    /// Comma-separated IPs/CIDRs of trusted proxies whose X-Forwarded-For is believed.
    trusted_proxies: String = String::new(), env = "STAMPEDE_TRUSTED_PROXIES";
    /// Most open connections from one client address (nginx limit_conn; 0: no per-address
    /// limit); one more is answered 503 `too_many_connections` and closed.
    max_connections_per_ip: usize = 1_024, env = "STAMPEDE_MAX_CONNECTIONS_PER_IP";
    /// Automatic ban: a user or address rejected by an `auto_ban` rule more than this many
    /// times within `auto_ban_window_secs` is banned for `auto_ban_secs`.
    auto_ban_threshold: u32 = 20, env = "STAMPEDE_AUTO_BAN_THRESHOLD";
    /// Automatic ban counting window.
    auto_ban_window_secs: u64 = 10, env = "STAMPEDE_AUTO_BAN_WINDOW_SECS";
    /// Automatic ban length.
    auto_ban_secs: u64 = 300, env = "STAMPEDE_AUTO_BAN_SECS";
    /// Milliseconds a grab waits for the journal before answering 503 `degraded`; timeouts
    /// and slow fsyncs trip the journal's circuit breaker, which then answers at once.
    journal_reply_timeout_ms: u64 = 250, env = "STAMPEDE_JOURNAL_REPLY_TIMEOUT_MS";
    /// Records between two snapshots of the ledger in the journal's directory: start-up loads
    /// the newest snapshot and replays at most about this many records after it; journal
    /// segments below the older of the two kept snapshots are deleted.
    snapshot_every_records: u64 = stampede_engine::DEFAULT_SNAPSHOT_EVERY_RECORDS, env = "STAMPEDE_SNAPSHOT_EVERY_RECORDS";
    /// Adaptive overload protection on the write path (sheds new grabs with 503 `overloaded`
    /// when in-flight work exceeds the measured capacity). Off by default: under a saturating
    /// closed-loop load it turns queueing into fast 503s (measured: 790 k of 1.1 M requests
    /// shed in the 1 M-winner run), which an operator should choose knowingly.
    adaptive_overload: bool = false, env = "STAMPEDE_ADAPTIVE_OVERLOAD";
    /// Admission rules on (default). `false`: no rule runs at all, neither the `[[rules]]` of
    /// the file nor the default per-user rule (`rules = []` means the default set) — for
    /// measuring what the rules cost, or an emergency. Blocklist, switches and shedding stay;
    /// `PUT /v1/admin/rules` still installs rules. Needs a restart.
    rules_enabled: bool = true, env = "STAMPEDE_RULES_ENABLED";
    /// Adaptive overload: also shed when the write path's recent p99 exceeds this (0: off).
    overload_p99_target_ms: u64 = 0, env = "STAMPEDE_OVERLOAD_P99_TARGET_MS";
}

impl Config {
    /// Builds the config: defaults, then the file, then environment and flags.
    pub fn load(args: ConfigArgs) -> Result<Config, ConfigError> {
        let mut config = match &args.config {
            Some(path) => Self::from_file(path)?,
            None => Config::default(),
        };
        config.source_file = args.config.clone();
        args.overlay(&mut config);
        config.validate()?;
        Ok(config)
    }

    /// Reads a config file (no environment or flags).
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: shown,
            message: e.to_string(),
        })
    }

    /// The payment channels to run: the configured ones, or the default `sim`.
    pub fn payment_channels(&self) -> Vec<stampede_money::SimChannelConfig> {
        if self.channels.is_empty() {
            vec![stampede_money::SimChannelConfig::default()]
        } else {
            self.channels.clone()
        }
    }
}

mod cluster;
mod validate;

pub use validate::ConfigError;

#[cfg(test)]
mod tests;
