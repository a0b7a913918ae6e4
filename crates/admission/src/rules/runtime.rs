//! Compiled rules: each [`RuleSpec`] becomes a live limiter (keyed by its dimension, bounded),
//! evaluated in order for the requests of its routes. A rule set is immutable once compiled;
//! replacing the rules compiles a new set and swaps it in whole (fresh limiter state).

use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::num::{NonZeroU32, NonZeroU64};
use std::time::Duration;

use metrics::Counter;

use super::spec::{Dimension, LimiterSpec, Route, RuleError, RuleSpec, validate};
use crate::clock::QuantaClock;
use crate::keyed_rate::{KeyedRateConfig, KeyedRateLimiter, RateDecision};
use crate::leaky_bucket::{
    BurstMode, KeyedLeakyBucket, LeakyBucket, LeakyBucketConfig, LeakyBucketPolicy, LeakyDecision,
    Rate, RejectStatus,
};
use crate::policy::{Global, Keyed};
use crate::queued_in_flight::{QueueDecision, QueuedInFlight, QueuedInFlightConfig, QueuedPermit};
use crate::sliding_window::{SlidingWindowConfig, SlidingWindowPolicy};
use crate::token_bucket::{TokenBucket, TokenBucketConfig};
use crate::warm_up::WarmUp;

/// When a rule runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Before the token is checked: global, route, ip and campaign rules.
    BeforeAuth,
    /// After: user and user × campaign rules.
    AfterAuth,
}

/// What a request is keyed by.
#[derive(Clone, Copy, Debug)]
pub struct RequestKeys<'a> {
    /// Its route.
    pub route: Route,
    /// Client address.
    pub ip: Option<IpAddr>,
    /// Authenticated user (after auth).
    pub user: Option<&'a str>,
    /// Campaign id bits, when the route has one.
    pub campaign: Option<u128>,
}

/// Why a request was refused by a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The rule's name.
    pub rule: String,
    /// Its dimension.
    pub dimension: Dimension,
    /// 429 or 503.
    pub status: u16,
    /// The stable code: `rate_limited`, `overloaded` (queue full) or `queue_timeout`.
    pub code: &'static str,
    /// When to come back.
    pub retry_after: Duration,
    /// Whether the rule's rejections count toward automatic bans.
    pub auto_ban: bool,
}

/// A request admitted by every rule; holds concurrency permits until dropped.
#[derive(Debug, Default)]
pub struct Admitted {
    permits: Vec<QueuedPermit>,
}

impl Admitted {
    /// Concurrency permits held.
    pub fn permits(&self) -> usize {
        self.permits.len()
    }
}

enum Limiter {
    Token(TokenBucket<QuantaClock>),
    KeyedToken(KeyedRateLimiter<governor::clock::DefaultClock>),
    Leaky(LeakyBucket<QuantaClock>),
    KeyedLeaky(KeyedLeakyBucket<QuantaClock>),
    Window(Global<SlidingWindowPolicy, QuantaClock>),
    KeyedWindow(Keyed<SlidingWindowPolicy, QuantaClock>),
    Concurrency(QueuedInFlight),
}

/// One outcome of one rule before dry-run and action are applied.
enum Verdict {
    Allow,
    Delay(Duration),
    Reject {
        code: &'static str,
        retry_after: Duration,
        status: Option<u16>,
    },
    Permit(QueuedPermit),
}

struct RuleMetrics {
    allowed: Counter,
    delayed: Counter,
    rejected: Counter,
    dry_run_rejected: Counter,
}

impl RuleMetrics {
    fn register(name: &str) -> Self {
        let counter = |outcome: &'static str| {
            metrics::counter!(
                "stampede_admission_decisions_total",
                "layer" => "rule", "rule" => name.to_owned(), "outcome" => outcome
            )
        };
        Self {
            allowed: counter("allowed"),
            delayed: counter("delayed"),
            rejected: counter("rejected"),
            dry_run_rejected: counter("dry_run_rejected"),
        }
    }
}

struct CompiledRule {
    spec: RuleSpec,
    limiter: Limiter,
    metrics: RuleMetrics,
}

/// A compiled rule set.
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    specs: Vec<RuleSpec>,
    hasher: RandomState,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.specs.len())
            .finish()
    }
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).expect("max(1) is not zero")
}

fn compile_limiter(spec: &RuleSpec) -> Limiter {
    let keyed = !matches!(spec.dimension, Dimension::Global);
    let clock = QuantaClock::new();
    match &spec.limiter {
        LimiterSpec::TokenBucket {
            rate_per_sec,
            burst,
            warmup_secs,
        } => {
            if keyed {
                Limiter::KeyedToken(KeyedRateLimiter::new(
                    KeyedRateConfig {
                        per_second: nonzero(*rate_per_sec),
                        burst: nonzero(*burst),
                        max_keys: spec.max_keys,
                    },
                    governor::clock::DefaultClock::default(),
                ))
            } else {
                let mut config = TokenBucketConfig::new(nonzero(*rate_per_sec), nonzero(*burst));
                if *warmup_secs > 0 {
                    config.warm_up = Some(WarmUp::over(Duration::from_secs(*warmup_secs)));
                }
                Limiter::Token(TokenBucket::new(config, clock))
            }
        }
        LimiterSpec::LeakyBucket {
            rate_per_sec,
            burst,
            delay,
            nodelay,
        } => {
            let rate =
                Rate::per_second(NonZeroU64::new(u64::from(*rate_per_sec).max(1)).expect("max(1)"));
            let mut config = LeakyBucketConfig::new(rate, *burst);
            config.mode = if *nodelay {
                BurstMode::Nodelay
            } else if *delay > 0 {
                BurstMode::TwoStage { undelayed: *delay }
            } else {
                BurstMode::Delayed
            };
            config.rejected_status = if spec.action.status == 503 {
                RejectStatus::ServiceUnavailable
            } else {
                RejectStatus::TooManyRequests
            };
            let policy = LeakyBucketPolicy::new(config, &clock);
            if keyed {
                Limiter::KeyedLeaky(Keyed::new(policy, spec.max_keys, clock))
            } else {
                Limiter::Leaky(Global::new(policy, clock))
            }
        }
        LimiterSpec::SlidingWindow { limit, window_secs } => {
            let policy = SlidingWindowPolicy::new(SlidingWindowConfig {
                limit: nonzero(*limit),
                window: Duration::from_secs(*window_secs),
            });
            if keyed {
                Limiter::KeyedWindow(Keyed::new(policy, spec.max_keys, clock))
            } else {
                Limiter::Window(Global::new(policy, clock))
            }
        }
        LimiterSpec::Concurrency {
            max,
            queue,
            max_wait_ms,
        } => Limiter::Concurrency(QueuedInFlight::new(QueuedInFlightConfig {
            max_in_flight: *max as usize,
            max_queue: *queue as usize,
            max_wait: Duration::from_millis(*max_wait_ms),
        })),
    }
}

fn rate_verdict(decision: RateDecision) -> Verdict {
    match decision {
        RateDecision::Allowed => Verdict::Allow,
        RateDecision::Limited { retry_after } => Verdict::Reject {
            code: "rate_limited",
            retry_after,
            status: None,
        },
    }
}

impl RuleSet {
    /// Validates and compiles `specs`.
    pub fn compile(specs: Vec<RuleSpec>) -> Result<RuleSet, RuleError> {
        validate(&specs)?;
        let rules = specs
            .iter()
            .map(|spec| CompiledRule {
                limiter: compile_limiter(spec),
                metrics: RuleMetrics::register(&spec.name),
                spec: spec.clone(),
            })
            .collect();
        Ok(RuleSet {
            rules,
            specs,
            hasher: RandomState::new(),
        })
    }

    /// An empty set.
    pub fn empty() -> RuleSet {
        RuleSet {
            rules: Vec::new(),
            specs: Vec::new(),
            hasher: RandomState::new(),
        }
    }

    /// The rules as configured.
    pub fn specs(&self) -> &[RuleSpec] {
        &self.specs
    }

    /// Whether any rule applies to `route` at `stage` (a cheap skip for the common case).
    pub fn applies(&self, route: Route, stage: Stage) -> bool {
        self.rules
            .iter()
            .any(|r| r.spec.routes.contains(&route) && stage_of(r.spec.dimension) == stage)
    }

    fn key(&self, dimension: Dimension, keys: &RequestKeys<'_>) -> Option<u64> {
        Some(match dimension {
            Dimension::Global => 0,
            Dimension::Route => keys.route as u64,
            Dimension::User => self.hasher.hash_one(keys.user?),
            Dimension::Ip => self.hasher.hash_one(crate::client_ip::canonical(keys.ip?)),
            Dimension::Campaign => self.hasher.hash_one(keys.campaign?),
            Dimension::UserCampaign => self.hasher.hash_one((keys.user?, keys.campaign?)),
        })
    }

    /// The hash a user or address is counted under (for automatic bans).
    pub fn hash_user(&self, user: &str) -> u64 {
        self.hasher.hash_one(user)
    }

    /// The hash an address is counted under.
    pub fn hash_ip(&self, ip: IpAddr) -> u64 {
        self.hasher.hash_one(crate::client_ip::canonical(ip))
    }

    /// Runs every rule of `stage` that applies to the request's route, in order. Delays are
    /// slept here (nginx `limit_req` semantics); concurrency permits are held by the returned
    /// [`Admitted`]. The first enforcing rule that rejects ends the evaluation; dry-run rules
    /// only count what they would reject.
    pub async fn admit(&self, stage: Stage, keys: &RequestKeys<'_>) -> Result<Admitted, Rejection> {
        let mut admitted = Admitted::default();
        for rule in &self.rules {
            let spec = &rule.spec;
            if stage_of(spec.dimension) != stage || !spec.routes.contains(&keys.route) {
                continue;
            }
            // A keyed rule whose key is missing (e.g. no campaign on this route) does not apply.
            let Some(key) = self.key(spec.dimension, keys) else {
                continue;
            };
            let verdict = match &rule.limiter {
                Limiter::Token(l) => rate_verdict(l.check()),
                Limiter::KeyedToken(l) => rate_verdict(l.check(key)),
                Limiter::Leaky(l) => leaky_verdict(l.check()),
                Limiter::KeyedLeaky(l) => leaky_verdict(l.check(key)),
                Limiter::Window(l) => rate_verdict(l.check()),
                Limiter::KeyedWindow(l) => rate_verdict(l.check(key)),
                Limiter::Concurrency(l) => match l.acquire().await {
                    QueueDecision::Admitted(permit) => Verdict::Permit(permit),
                    QueueDecision::QueueFull => Verdict::Reject {
                        code: "overloaded",
                        retry_after: Duration::from_secs(1),
                        status: Some(503),
                    },
                    QueueDecision::QueueTimeout => Verdict::Reject {
                        code: "queue_timeout",
                        retry_after: Duration::from_secs(1),
                        status: Some(503),
                    },
                },
            };
            match verdict {
                Verdict::Allow => rule.metrics.allowed.increment(1),
                Verdict::Permit(permit) => {
                    rule.metrics.allowed.increment(1);
                    admitted.permits.push(permit);
                }
                Verdict::Delay(wait) => {
                    rule.metrics.delayed.increment(1);
                    if !spec.dry_run {
                        tokio::time::sleep(wait).await;
                    }
                }
                Verdict::Reject {
                    code,
                    retry_after,
                    status,
                } => {
                    if spec.dry_run {
                        rule.metrics.dry_run_rejected.increment(1);
                        continue;
                    }
                    rule.metrics.rejected.increment(1);
                    return Err(Rejection {
                        rule: spec.name.clone(),
                        dimension: spec.dimension,
                        status: status.unwrap_or(spec.action.status),
                        code,
                        retry_after,
                        auto_ban: spec.auto_ban,
                    });
                }
            }
        }
        Ok(admitted)
    }

    /// Evicts idle keys of every keyed rule (call every second).
    pub fn evict_idle(&self) {
        for rule in &self.rules {
            match &rule.limiter {
                Limiter::KeyedToken(l) => l.evict_idle(),
                Limiter::KeyedLeaky(l) => l.evict_idle(),
                Limiter::KeyedWindow(l) => l.evict_idle(),
                _ => {}
            }
        }
    }

    /// Keys tracked per keyed rule, for metrics.
    pub fn key_counts(&self) -> Vec<(&str, usize)> {
        self.rules
            .iter()
            .filter_map(|rule| {
                let n = match &rule.limiter {
                    Limiter::KeyedToken(l) => l.len(),
                    Limiter::KeyedLeaky(l) => l.len(),
                    Limiter::KeyedWindow(l) => l.len(),
                    _ => return None,
                };
                Some((rule.spec.name.as_str(), n))
            })
            .collect()
    }
}

fn stage_of(dimension: Dimension) -> Stage {
    if dimension.before_auth() {
        Stage::BeforeAuth
    } else {
        Stage::AfterAuth
    }
}

fn leaky_verdict(decision: LeakyDecision) -> Verdict {
    match decision {
        LeakyDecision::Allow => Verdict::Allow,
        LeakyDecision::Delay(wait) => Verdict::Delay(wait),
        LeakyDecision::Reject { retry_after } => Verdict::Reject {
            code: "rate_limited",
            retry_after,
            status: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::spec::Action;

    fn rule(name: &str, dimension: Dimension, limiter: LimiterSpec) -> RuleSpec {
        RuleSpec {
            name: name.into(),
            dimension,
            routes: vec![Route::Grab],
            limiter,
            action: Action::default(),
            dry_run: false,
            auto_ban: false,
            max_keys: 1000,
        }
    }

    fn keys<'a>(user: Option<&'a str>, ip: &str) -> RequestKeys<'a> {
        RequestKeys {
            route: Route::Grab,
            ip: Some(ip.parse().unwrap()),
            user,
            campaign: Some(7),
        }
    }

    #[tokio::test]
    async fn keyed_rules_limit_each_key_separately() {
        let set = RuleSet::compile(vec![rule(
            "per-user",
            Dimension::User,
            LimiterSpec::SlidingWindow {
                limit: 2,
                window_secs: 60,
            },
        )])
        .unwrap();
        assert!(set.applies(Route::Grab, Stage::AfterAuth));
        assert!(!set.applies(Route::Grab, Stage::BeforeAuth));
        for _ in 0..2 {
            set.admit(Stage::AfterAuth, &keys(Some("a"), "1.1.1.1"))
                .await
                .unwrap();
        }
        let refused = set
            .admit(Stage::AfterAuth, &keys(Some("a"), "1.1.1.1"))
            .await
            .unwrap_err();
        assert_eq!(
            (refused.rule.as_str(), refused.status, refused.code),
            ("per-user", 429, "rate_limited")
        );
        assert!(refused.retry_after > Duration::ZERO);
        set.admit(Stage::AfterAuth, &keys(Some("b"), "1.1.1.1"))
            .await
            .unwrap();
        // The before-auth stage does not run after-auth rules.
        set.admit(Stage::BeforeAuth, &keys(Some("a"), "1.1.1.1"))
            .await
            .unwrap();
        assert_eq!(set.key_counts(), vec![("per-user", 2)]);
    }

    #[tokio::test]
    async fn dry_run_counts_but_rejects_nothing() {
        let mut spec = rule(
            "shadow",
            Dimension::Ip,
            LimiterSpec::SlidingWindow {
                limit: 1,
                window_secs: 60,
            },
        );
        spec.dry_run = true;
        let set = RuleSet::compile(vec![spec]).unwrap();
        for _ in 0..5 {
            set.admit(Stage::BeforeAuth, &keys(None, "2.2.2.2"))
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn action_status_and_route_filter() {
        let mut spec = rule(
            "per-ip",
            Dimension::Ip,
            LimiterSpec::LeakyBucket {
                rate_per_sec: 1,
                burst: 0,
                delay: 0,
                nodelay: true,
            },
        );
        spec.action.status = 503;
        let set = RuleSet::compile(vec![spec]).unwrap();
        set.admit(Stage::BeforeAuth, &keys(None, "3.3.3.3"))
            .await
            .unwrap();
        let refused = set
            .admit(Stage::BeforeAuth, &keys(None, "3.3.3.3"))
            .await
            .unwrap_err();
        assert_eq!(refused.status, 503);
        let other_route = RequestKeys {
            route: Route::Order,
            ..keys(None, "3.3.3.3")
        };
        set.admit(Stage::BeforeAuth, &other_route).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_rule_queues_then_times_out() {
        let set = RuleSet::compile(vec![rule(
            "global-concurrency",
            Dimension::Global,
            LimiterSpec::Concurrency {
                max: 1,
                queue: 1,
                max_wait_ms: 100,
            },
        )])
        .unwrap();
        let first = set
            .admit(Stage::BeforeAuth, &keys(None, "4.4.4.4"))
            .await
            .unwrap();
        assert_eq!(first.permits(), 1);
        let refused = set
            .admit(Stage::BeforeAuth, &keys(None, "4.4.4.4"))
            .await
            .unwrap_err();
        assert_eq!((refused.status, refused.code), (503, "queue_timeout"));
        drop(first);
        set.admit(Stage::BeforeAuth, &keys(None, "4.4.4.4"))
            .await
            .unwrap();
    }

    #[test]
    fn invalid_sets_are_refused_whole() {
        let good = rule(
            "a",
            Dimension::User,
            LimiterSpec::SlidingWindow {
                limit: 1,
                window_secs: 1,
            },
        );
        let bad = rule(
            "b",
            Dimension::User,
            LimiterSpec::SlidingWindow {
                limit: 0,
                window_secs: 1,
            },
        );
        let err = RuleSet::compile(vec![good, bad]).unwrap_err();
        assert_eq!(err.field, "rules[1].limiter.limit");
    }
}
