//! Unit tests of the compiled rule set: keyed and shared rules, dry runs, replacement,
//! concurrency queues, delays and the per-route plan.

use super::*;
use crate::rules::spec::{Action, LimiterSpec};

/// Compiles on the real clock (these tests do not move time).
fn compile(specs: Vec<RuleSpec>) -> Result<RuleSet, RuleError> {
    RuleSet::compile(specs, &crate::clock::system_shared())
}

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
    let set = compile(vec![rule(
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
        (&*refused.rule, refused.kind),
        (
            "per-user",
            RejectionKind::RateLimited(LimitAnswer::TooManyRequests)
        )
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
    let set = compile(vec![spec]).unwrap();
    for _ in 0..5 {
        set.admit(Stage::BeforeAuth, &keys(None, "2.2.2.2"))
            .await
            .unwrap();
    }
    let counts: Vec<_> = set.decision_counts().collect();
    assert_eq!(
        counts,
        [(
            "shadow",
            [
                (RuleDecision::Allowed, 1),
                (RuleDecision::Delayed, 0),
                (RuleDecision::Rejected, 0),
                (RuleDecision::DryRunRejected, 4),
            ]
        )]
    );
}

#[tokio::test]
async fn a_replacement_keeps_the_counts_of_kept_names_and_drops_the_rest() {
    let window = || LimiterSpec::SlidingWindow {
        limit: 100,
        window_secs: 60,
    };
    let old = compile(vec![
        rule("kept", Dimension::Ip, window()),
        rule("dropped", Dimension::Ip, window()),
    ])
    .unwrap();
    old.admit(Stage::BeforeAuth, &keys(None, "4.4.4.4"))
        .await
        .unwrap();
    let mut new = compile(vec![
        rule("added", Dimension::Ip, window()),
        rule("kept", Dimension::Ip, window()),
    ])
    .unwrap();
    new.carry_counts_from(&old);
    new.admit(Stage::BeforeAuth, &keys(None, "4.4.4.4"))
        .await
        .unwrap();
    let allowed: Vec<(&str, u64)> = new
        .decision_counts()
        .map(|(name, counts)| (name, counts[0].1))
        .collect();
    assert_eq!(allowed, [("added", 1), ("kept", 2)]);
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
    let set = compile(vec![spec]).unwrap();
    set.admit(Stage::BeforeAuth, &keys(None, "3.3.3.3"))
        .await
        .unwrap();
    let refused = set
        .admit(Stage::BeforeAuth, &keys(None, "3.3.3.3"))
        .await
        .unwrap_err();
    assert_eq!(
        refused.kind,
        RejectionKind::RateLimited(LimitAnswer::Unavailable)
    );
    let other_route = RequestKeys {
        route: Route::Order,
        ..keys(None, "3.3.3.3")
    };
    set.admit(Stage::BeforeAuth, &other_route).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn concurrency_rule_queues_then_times_out() {
    let set = compile(vec![rule(
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
    assert_eq!(refused.kind, RejectionKind::QueueTimeout);
    assert_eq!(refused.kind.code(), "queue_timeout");
    drop(first);
    set.admit(Stage::BeforeAuth, &keys(None, "4.4.4.4"))
        .await
        .unwrap();
}

fn window(limit: u32) -> LimiterSpec {
    LimiterSpec::SlidingWindow {
        limit,
        window_secs: 60,
    }
}

#[tokio::test]
async fn keyed_rules_run_before_shared_ones_whatever_the_configured_order() {
    // The shared ceiling is listed first; the per-ip rule must still run before it, so a
    // request the per-ip rule rejects does not spend the ceiling.
    let set = compile(vec![
        rule("ceiling", Dimension::Global, window(3)),
        rule("per-ip", Dimension::Ip, window(1)),
    ])
    .unwrap();
    set.admit(Stage::BeforeAuth, &keys(None, "5.5.5.1"))
        .await
        .unwrap();
    let mut names = Vec::new();
    for _ in 0..5 {
        let refused = set
            .admit(Stage::BeforeAuth, &keys(None, "5.5.5.1"))
            .await
            .unwrap_err();
        names.push(refused.rule);
    }
    assert!(names.iter().all(|name| &**name == "per-ip"), "{names:?}");
    // A rejection shares the rule's name instead of allocating one.
    assert!(Arc::ptr_eq(&names[0], &names[4]));
    // The ceiling has counted one request: two more addresses pass, the third meets it.
    for ip in ["5.5.5.2", "5.5.5.3"] {
        set.admit(Stage::BeforeAuth, &keys(None, ip)).await.unwrap();
    }
    let refused = set
        .admit(Stage::BeforeAuth, &keys(None, "5.5.5.4"))
        .await
        .unwrap_err();
    assert_eq!(&*refused.rule, "ceiling");
    // `specs` keeps the configured order.
    let names: Vec<&str> = set.specs().map(|spec| spec.name.as_str()).collect();
    assert_eq!(names, ["ceiling", "per-ip"]);
}

#[tokio::test(start_paused = true)]
async fn a_request_refused_by_a_rate_rule_takes_no_concurrency_slot() {
    let set = compile(vec![
        rule(
            "slots",
            Dimension::Global,
            LimiterSpec::Concurrency {
                max: 1,
                queue: 0,
                max_wait_ms: 0,
            },
        ),
        rule("per-ip", Dimension::Ip, window(1)),
    ])
    .unwrap();
    let first = set
        .admit(Stage::BeforeAuth, &keys(None, "6.6.6.6"))
        .await
        .unwrap();
    assert_eq!(first.permits(), 1);
    let refused = set
        .admit(Stage::BeforeAuth, &keys(None, "6.6.6.6"))
        .await
        .unwrap_err();
    assert_eq!(
        (&*refused.rule, refused.kind.code()),
        ("per-ip", "rate_limited")
    );
}

#[tokio::test(start_paused = true)]
async fn delays_are_not_summed_the_longest_is_slept_once() {
    let leaky = || LimiterSpec::LeakyBucket {
        rate_per_sec: 1,
        burst: 5,
        delay: 0,
        nodelay: false,
    };
    let set = compile(vec![
        rule("leaky-global", Dimension::Global, leaky()),
        rule("leaky-ip", Dimension::Ip, leaky()),
    ])
    .unwrap();
    set.admit(Stage::BeforeAuth, &keys(None, "7.7.7.7"))
        .await
        .unwrap();
    // Both rules now delay the next request by about a second.
    let started = tokio::time::Instant::now();
    set.admit(Stage::BeforeAuth, &keys(None, "7.7.7.7"))
        .await
        .unwrap();
    let slept = started.elapsed();
    assert!(
        slept >= Duration::from_millis(900) && slept < Duration::from_millis(1_500),
        "slept {slept:?}"
    );
}

#[test]
fn the_plan_is_a_lookup_per_route_and_stage() {
    let mut order_only = rule("order-ip", Dimension::Ip, window(1));
    order_only.routes = vec![Route::Order, Route::Order];
    let set = compile(vec![
        rule("user", Dimension::User, window(1)),
        order_only,
        rule("global", Dimension::Global, window(1)),
        rule("campaign", Dimension::Campaign, window(1)),
    ])
    .unwrap();
    assert_eq!(set.planned(Route::Grab, Stage::BeforeAuth), [3, 2]);
    assert_eq!(set.planned(Route::Grab, Stage::AfterAuth), [0]);
    assert_eq!(set.planned(Route::Order, Stage::BeforeAuth), [1]);
    assert!(!set.applies(Route::CampaignDetail, Stage::BeforeAuth));
    assert!(!RuleSet::empty().applies(Route::Grab, Stage::BeforeAuth));
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
    let err = compile(vec![good, bad]).unwrap_err();
    assert_eq!(err.field, "rules[1].limiter.limit");
}
