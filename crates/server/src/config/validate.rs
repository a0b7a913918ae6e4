//! [`Config::validate`]: every setting checked against its range or rule before a port is
//! bound; the first broken one is named.

use super::{
    Config, MAX_BODY_READ_MIN_BYTES_PER_SEC, MAX_BODY_READ_TIMEOUT_SECS, MAX_CONNECTIONS_CEILING,
    MAX_IDEMPOTENCY_ENTRIES_CEILING, MAX_IN_FLIGHT_CEILING, MAX_TOKEN_TTL_CEILING_SECS,
    MAX_TRACKED_USERS_CEILING,
};

/// A setting that breaks a rule, named.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is not valid TOML for [`Config`] (the message names the field).
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A rule breaks a rule (the message names the field, e.g. `rules[1].limiter.burst`).
    #[error("invalid setting `{0}`")]
    Rules(String),
    /// A value out of range.
    #[error("invalid setting `{field}`: {problem}")]
    Invalid {
        /// The setting.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
}

pub(super) fn invalid(field: &'static str, problem: impl Into<String>) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid {
        field,
        problem: problem.into(),
    })
}

/// Each `(field, value, low, high)` has `low <= value <= high`; the first that does not is
/// named.
pub(super) fn in_ranges(ranges: &[(&'static str, u64, u64, u64)]) -> Result<(), ConfigError> {
    for &(field, value, low, high) in ranges {
        if !(low..=high).contains(&value) {
            invalid(
                field,
                format!("must be between {low} and {high}, got {value}"),
            )?;
        }
    }
    Ok(())
}

impl Config {
    /// Checks every setting; the first broken one is named (in this order: the data
    /// directory, the limits, the secrets, the network, the defences, the timeouts, the
    /// channels, the rules, the switches and the log filter).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            invalid("data_dir", "must not be empty")?;
        }
        self.validate_limits()?;
        self.validate_secrets()?;
        self.validate_cluster()?;
        stampede_admission::client_ip::TrustedProxies::parse(
            self.trusted_proxies
                .split(',')
                .filter(|s| !s.trim().is_empty()),
        )
        .map_err(|e| ConfigError::Invalid {
            field: "trusted_proxies",
            problem: e.to_string(),
        })?;
        self.validate_defences_and_timeouts()?;
        self.validate_channels()?;
        stampede_admission::rules::validate(&self.rules)
            .map_err(|e| ConfigError::Rules(e.to_string()))?;
        for name in self.switches.keys() {
            if stampede_admission::switches::Switch::from_name(name).is_none() {
                invalid(
                    "switches",
                    format!("unknown switch {name:?} (grab, campaign_detail, winners)"),
                )?;
            }
        }
        tracing_subscriber::EnvFilter::try_new(&self.log).map_err(|e| ConfigError::Invalid {
            field: "log",
            problem: e.to_string(),
        })?;
        Ok(())
    }

    /// The request-path limits, sizes and HTTP timeouts, each within its range.
    fn validate_limits(&self) -> Result<(), ConfigError> {
        let ranges: [(&'static str, u64, u64, u64); 12] = [
            (
                "grab_rate_per_second",
                self.grab_rate_per_second.into(),
                1,
                1_000_000,
            ),
            ("grab_rate_burst", self.grab_rate_burst.into(), 1, 1_000_000),
            (
                "max_tracked_users",
                self.max_tracked_users as u64,
                1,
                MAX_TRACKED_USERS_CEILING as u64,
            ),
            (
                "max_in_flight",
                self.max_in_flight as u64,
                1,
                MAX_IN_FLIGHT_CEILING as u64,
            ),
            (
                "max_connections",
                self.max_connections as u64,
                1,
                MAX_CONNECTIONS_CEILING as u64,
            ),
            (
                "header_read_timeout_secs",
                self.header_read_timeout_secs,
                1,
                3600,
            ),
            (
                "body_read_timeout_secs",
                self.body_read_timeout_secs,
                1,
                MAX_BODY_READ_TIMEOUT_SECS,
            ),
            (
                "body_read_min_bytes_per_sec",
                self.body_read_min_bytes_per_sec,
                0,
                MAX_BODY_READ_MIN_BYTES_PER_SEC,
            ),
            (
                "idempotency_ttl_secs",
                self.idempotency_ttl_secs,
                1,
                7 * 24 * 3600,
            ),
            (
                "idempotency_max_entries",
                self.idempotency_max_entries as u64,
                1,
                MAX_IDEMPOTENCY_ENTRIES_CEILING as u64,
            ),
            ("worker_threads", self.worker_threads as u64, 0, 1024),
            (
                "max_token_ttl_secs",
                self.max_token_ttl_secs,
                1,
                MAX_TOKEN_TTL_CEILING_SECS,
            ),
        ];
        in_ranges(&ranges)
    }

    /// The token secret and admin key: empty (generated) or at least 16 bytes; the key
    /// without whitespace (it travels in a header).
    fn validate_secrets(&self) -> Result<(), ConfigError> {
        if !self.token_secret.is_empty() && self.token_secret.len() < 16 {
            invalid(
                "token_secret",
                "must be at least 16 bytes (or empty to generate one)",
            )?;
        }
        if !self.admin_key.is_empty() && self.admin_key.len() < 16 {
            invalid(
                "admin_key",
                "must be at least 16 bytes (or empty to generate one)",
            )?;
        }
        if self
            .admin_key
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            invalid("admin_key", "must not contain whitespace")?;
        }
        Ok(())
    }

    /// Connections per address, automatic bans, adaptive overload, the journal's reply
    /// timeout, the payment desk's timings and the reconciliation job, each within its range.
    fn validate_defences_and_timeouts(&self) -> Result<(), ConfigError> {
        let ranges: [(&'static str, u64, u64, u64); 12] = [
            (
                "max_connections_per_ip",
                self.max_connections_per_ip as u64,
                0,
                MAX_CONNECTIONS_CEILING as u64,
            ),
            (
                "auto_ban_threshold",
                self.auto_ban_threshold.into(),
                1,
                1_000_000,
            ),
            ("auto_ban_window_secs", self.auto_ban_window_secs, 1, 86_400),
            ("auto_ban_secs", self.auto_ban_secs, 1, 30 * 86_400),
            (
                "overload_p99_target_ms",
                self.overload_p99_target_ms,
                0,
                60_000,
            ),
            (
                "journal_reply_timeout_ms",
                self.journal_reply_timeout_ms,
                1,
                10_000,
            ),
            (
                "snapshot_every_records",
                self.snapshot_every_records,
                stampede_engine::MIN_SNAPSHOT_EVERY_RECORDS,
                stampede_engine::MAX_SNAPSHOT_EVERY_RECORDS,
            ),
            (
                "payment_query_after_secs",
                self.payment_query_after_secs,
                1,
                86_400,
            ),
            (
                "payment_call_timeout_ms",
                self.payment_call_timeout_ms,
                1,
                60_000,
            ),
            (
                "reconcile_interval_secs",
                self.reconcile_interval_secs,
                0,
                86_400,
            ),
            ("reconcile_grace_secs", self.reconcile_grace_secs, 0, 86_400),
            (
                "payout_latency_ms",
                self.payout_latency_ms,
                0,
                stampede_money::payout::MAX_SIMULATED_PAYOUT_LATENCY_MS,
            ),
        ];
        in_ranges(&ranges)
    }
    fn validate_channels(&self) -> Result<(), ConfigError> {
        let max = stampede_money::channel::router::MAX_CHANNELS;
        if self.channels.len() > max {
            invalid("channels", format!("at most {max} channels"))?;
        }
        for (i, channel) in self.channels.iter().enumerate() {
            channel.validate().map_err(|e| {
                ConfigError::Rules(format!("channels[{i}].{}: {}", e.field, e.problem))
            })?;
            if self.channels[..i].iter().any(|c| c.name == channel.name) {
                Err(ConfigError::Rules(format!(
                    "channels[{i}].name: {:?} is used twice",
                    channel.name
                )))?;
            }
            // A shared secret would let one channel's callbacks be replayed on another.
            if !channel.secret.is_empty()
                && self.channels[..i]
                    .iter()
                    .any(|c| c.secret == channel.secret)
            {
                Err(ConfigError::Rules(format!(
                    "channels[{i}].secret: the same as another channel's; each channel needs its own"
                )))?;
            }
        }
        self.validate_sim_channel_secret()
    }

    /// `sim_channel_secret` is the secret of the channel named `sim` only: set without such a
    /// channel, or beside that channel's own `secret`, it would not do what it says.
    fn validate_sim_channel_secret(&self) -> Result<(), ConfigError> {
        if self.sim_channel_secret.is_empty() {
            return Ok(());
        }
        if self.sim_channel_secret.len() < stampede_money::channel::MIN_CHANNEL_SECRET_BYTES {
            invalid(
                "sim_channel_secret",
                "must be at least 16 bytes (or empty to generate one)",
            )?;
        }
        match self.payment_channels().iter().find(|c| c.name == "sim") {
            None => invalid(
                "sim_channel_secret",
                "is the callback secret of the channel named `sim`, and no channel has that \
                 name: give each [[channels]] entry its own `secret`",
            ),
            Some(sim) if !sim.secret.is_empty() => invalid(
                "sim_channel_secret",
                "the `sim` channel has its own `secret`; set one or the other",
            ),
            Some(_) => Ok(()),
        }
    }
}
