//! Rules as configured: `(dimension, limiter, action)`, read from the config file or
//! `PUT /v1/admin/rules`, validated whole (the first broken field is named) before they
//! replace the rules in force.

use serde::{Deserialize, Serialize};

use super::limiter::LimiterConfig;

/// Most rules in force: each evaluates on every matching request; 64 is far more than any
/// sane defence needs and bounds the per-request cost.
pub const MAX_RULES: usize = 64;
/// Longest rule name.
pub const MAX_RULE_NAME_BYTES: usize = 64;
/// Highest rate a rule may set (per second): above this a rule is not a limit. The same
/// number as the leaky bucket's own bound (asserted where limiters are built).
pub(super) const MAX_RATE_PER_SEC: u32 = 10_000_000;
/// Most keys one keyed rule tracks (each ~40–100 bytes): the keyed limiters' own bound.
pub const MAX_RULE_KEYS: usize = crate::keyed_rate::MAX_TRACKED_KEYS;

/// What a rule counts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Everything the rule's routes receive, as one key.
    Global,
    /// One key per route.
    Route,
    /// One key per user id (after authentication).
    User,
    /// One key per client IP (the socket peer, or X-Forwarded-For from a trusted proxy).
    Ip,
    /// One key per campaign (hot-item limits).
    Campaign,
    /// One key per (user, campaign).
    UserCampaign,
}

impl Dimension {
    /// Whether the key is known before authentication (such rules run first, in front of the
    /// token check, so floods are refused before any HMAC is computed).
    pub fn before_auth(self) -> bool {
        matches!(
            self,
            Dimension::Global | Dimension::Route | Dimension::Ip | Dimension::Campaign
        )
    }
}

/// The routes a rule can apply to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// `POST /v1/campaigns/{id}/grab`.
    Grab,
    /// `GET /v1/campaigns/{id}`.
    CampaignDetail,
    /// `GET /v1/orders/{id}`.
    Order,
}

impl Route {
    /// Every route.
    pub const ALL: [Route; 3] = [Route::Grab, Route::CampaignDetail, Route::Order];

    /// The stable name.
    pub fn name(self) -> &'static str {
        match self {
            Route::Grab => "grab",
            Route::CampaignDetail => "campaign_detail",
            Route::Order => "order",
        }
    }
}

fn default_routes() -> Vec<Route> {
    vec![Route::Grab]
}

/// Which algorithm a rule uses, with its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LimiterSpec {
    /// GCRA token bucket: `rate_per_sec` with `burst`, optionally warming up from cold.
    TokenBucket {
        /// Sustained rate.
        rate_per_sec: u32,
        /// Requests allowed at once above the rate.
        burst: u32,
        /// Seconds to ramp from a third of the rate to the full rate (0: no warm-up). At most
        /// [`MAX_WARM_UP_PERIOD`](crate::warm_up::MAX_WARM_UP_PERIOD); global rules only.
        #[serde(default)]
        warmup_secs: u64,
    },
    /// nginx `limit_req`: leak at `rate_per_sec`, queue up to `burst`; the first `delay`
    /// excess requests pass at once, the rest of the burst is delayed, beyond it rejected;
    /// `nodelay` passes the whole burst at once.
    LeakyBucket {
        /// Leak rate.
        rate_per_sec: u32,
        /// Excess requests held; at most [`MAX_BURST`](crate::leaky_bucket::MAX_BURST).
        burst: u32,
        /// Excess requests passed without delay (nginx `delay=`).
        #[serde(default)]
        delay: u32,
        /// Pass the whole burst without delay (nginx `nodelay`).
        #[serde(default)]
        nodelay: bool,
    },
    /// At most `limit` requests per sliding `window_secs`.
    SlidingWindow {
        /// Requests per window.
        limit: u32,
        /// Window length; 1 to [`MAX_WINDOW`](crate::sliding_window::MAX_WINDOW).
        window_secs: u64,
    },
    /// At most `max` at once; up to `queue` more wait at most `max_wait_ms`. Global
    /// dimension only: one rule is one limit.
    Concurrency {
        /// Requests in flight.
        max: u32,
        /// Requests waiting (0: reject at once); at most
        /// [`MAX_QUEUE_LENGTH`](crate::queued_in_flight::MAX_QUEUE_LENGTH).
        #[serde(default)]
        queue: u32,
        /// Longest wait in the queue; at most
        /// [`MAX_QUEUE_WAIT`](crate::queued_in_flight::MAX_QUEUE_WAIT).
        #[serde(default)]
        max_wait_ms: u64,
    },
}

/// The status a rejection answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// 429 (default) or 503 (as nginx does).
    #[serde(default = "default_status")]
    pub status: u16,
}

fn default_status() -> u16 {
    429
}

impl Default for Action {
    fn default() -> Self {
        Self {
            status: default_status(),
        }
    }
}

/// One rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique name (metrics label).
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub name: String,
    /// What it counts by.
    pub dimension: Dimension,
    /// Which routes it applies to (default: grab).
    #[serde(default = "default_routes")]
    pub routes: Vec<Route>,
    /// The algorithm.
    pub limiter: LimiterSpec,
    /// What a rejection answers.
    #[serde(default)]
    pub action: Action,
    /// Count what it would reject, reject nothing (nginx `limit_req_dry_run`).
    #[serde(default)]
    pub dry_run: bool,
    /// Whether its rejections count toward automatic bans (user and ip dimensions).
    #[serde(default)]
    pub auto_ban: bool,
    /// Keys tracked at most (keyed dimensions); idle keys are evicted every second.
    #[serde(default = "default_max_keys")]
    pub max_keys: usize,
}

fn default_max_keys() -> usize {
    1_000_000
}

/// A rule set that breaks a rule; `field` is a path like `rules[2].limiter.burst`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct RuleError {
    /// The offending field.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

fn check(ok: bool, index: usize, field: &str, problem: impl Into<String>) -> Result<(), RuleError> {
    if ok {
        Ok(())
    } else {
        Err(RuleError {
            field: format!("rules[{index}].{field}"),
            problem: problem.into(),
        })
    }
}

/// Validates a whole rule set; nothing is applied unless everything passes.
///
/// Each rule's limiter configuration is built and checked by the limiter's own `validate`
/// (a dry run of [`RuleSet::compile`](super::RuleSet::compile)), so a set that passes here
/// always compiles.
pub fn validate(rules: &[RuleSpec]) -> Result<(), RuleError> {
    if rules.len() > MAX_RULES {
        return Err(RuleError {
            field: "rules".into(),
            problem: format!("at most {MAX_RULES} rules"),
        });
    }
    for (i, rule) in rules.iter().enumerate() {
        let name_ok = !rule.name.is_empty()
            && rule.name.len() <= MAX_RULE_NAME_BYTES
            && rule
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        check(
            name_ok,
            i,
            "name",
            format!("1-{MAX_RULE_NAME_BYTES} characters of A-Z a-z 0-9 _ -"),
        )?;
        check(
            !rules[..i].iter().any(|r| r.name == rule.name),
            i,
            "name",
            format!("duplicate rule name {:?}", rule.name),
        )?;
        check(!rule.routes.is_empty(), i, "routes", "at least one route")?;
        check(
            matches!(rule.action.status, 429 | 503),
            i,
            "action.status",
            "must be 429 or 503",
        )?;
        check(
            (1..=MAX_RULE_KEYS).contains(&rule.max_keys),
            i,
            "max_keys",
            format!("1 to {MAX_RULE_KEYS}"),
        )?;
        check(
            !rule.auto_ban || matches!(rule.dimension, Dimension::User | Dimension::Ip),
            i,
            "auto_ban",
            "only user and ip rules can ban",
        )?;
        // The limiter's own bounds, as a dry run of compiling it.
        LimiterConfig::from_spec(rule, i)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
