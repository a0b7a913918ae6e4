//! Unit tests of rule specs: parsing, defaults and the checks that refuse a bad rule.

use super::*;

fn rule(toml_text: &str) -> Vec<RuleSpec> {
    #[derive(Deserialize)]
    struct File {
        rules: Vec<RuleSpec>,
    }
    toml::from_str::<File>(toml_text).unwrap().rules
}

#[test]
fn a_valid_set() {
    let rules = rule(
        r#"
        [[rules]]
        name = "per-ip"
        dimension = "ip"
        limiter = { kind = "leaky_bucket", rate_per_sec = 5, burst = 10, delay = 3 }
        action = { status = 503 }
        auto_ban = true
        [[rules]]
        name = "global"
        dimension = "global"
        routes = ["grab", "campaign_detail"]
        limiter = { kind = "token_bucket", rate_per_sec = 50000, burst = 5000, warmup_secs = 10 }
        dry_run = true
        "#,
    );
    validate(&rules).unwrap();
    assert_eq!(rules[0].routes, vec![Route::Grab]);
    assert_eq!(rules[1].action.status, 429);
}

#[test]
fn errors_name_the_field() {
    let mut rules = rule(
        r#"
        [[rules]]
        name = "a"
        dimension = "user"
        limiter = { kind = "token_bucket", rate_per_sec = 0, burst = 1 }
        "#,
    );
    assert_eq!(
        validate(&rules).unwrap_err().field,
        "rules[0].limiter.rate_per_sec"
    );
    rules[0].limiter = LimiterSpec::TokenBucket {
        rate_per_sec: 1,
        burst: 1,
        warmup_secs: 0,
    };
    rules.push(rules[0].clone());
    assert_eq!(validate(&rules).unwrap_err().field, "rules[1].name");
    rules.pop();
    rules[0].action.status = 418;
    assert_eq!(
        validate(&rules).unwrap_err().field,
        "rules[0].action.status"
    );
    rules[0].action.status = 429;
    rules[0].dimension = Dimension::Campaign;
    rules[0].auto_ban = true;
    assert_eq!(validate(&rules).unwrap_err().field, "rules[0].auto_ban");
}

fn one(dimension: Dimension, limiter: LimiterSpec) -> Vec<RuleSpec> {
    vec![RuleSpec {
        name: "r".into(),
        dimension,
        routes: vec![Route::Grab],
        limiter,
        action: Action::default(),
        dry_run: false,
        auto_ban: false,
        max_keys: 1_000,
    }]
}

fn token(warmup_secs: u64) -> LimiterSpec {
    LimiterSpec::TokenBucket {
        rate_per_sec: 10,
        burst: 10,
        warmup_secs,
    }
}

fn leaky(burst: u32) -> LimiterSpec {
    LimiterSpec::LeakyBucket {
        rate_per_sec: 10,
        burst,
        delay: 0,
        nodelay: false,
    }
}

fn concurrency(queue: u32, max_wait_ms: u64) -> LimiterSpec {
    LimiterSpec::Concurrency {
        max: 1,
        queue,
        max_wait_ms,
    }
}

/// Refused by `validate` and by `compile` (which used to panic on these), naming `field`.
fn refused(rules: Vec<RuleSpec>, field: &str) {
    assert_eq!(validate(&rules).unwrap_err().field, field, "{rules:?}");
    assert_eq!(
        crate::rules::RuleSet::compile(rules, &crate::clock::system_shared())
            .unwrap_err()
            .field,
        field
    );
}

#[test]
fn the_limiters_own_bounds_are_refused_naming_the_field() {
    use crate::leaky_bucket::MAX_BURST;
    use crate::queued_in_flight::{MAX_QUEUE_LENGTH, MAX_QUEUE_WAIT};
    use crate::warm_up::MAX_WARM_UP_PERIOD;

    let ramp = MAX_WARM_UP_PERIOD.as_secs();
    let queue = u32::try_from(MAX_QUEUE_LENGTH).unwrap();
    let wait = u64::try_from(MAX_QUEUE_WAIT.as_millis()).unwrap();
    let field = |f: &str| format!("rules[0].limiter.{f}");
    for warmup in [ramp + 1, 86_400, u64::MAX] {
        refused(one(Dimension::Global, token(warmup)), &field("warmup_secs"));
    }
    for burst in [MAX_BURST + 1, u32::MAX] {
        refused(one(Dimension::Global, leaky(burst)), &field("burst"));
        refused(one(Dimension::Ip, leaky(burst)), &field("burst"));
    }
    refused(
        one(Dimension::Global, concurrency(queue + 1, 100)),
        &field("queue"),
    );
    for max_wait_ms in [wait + 1, 60_000, u64::MAX] {
        refused(
            one(Dimension::Global, concurrency(1, max_wait_ms)),
            &field("max_wait_ms"),
        );
    }
    // The bounds themselves pass, and compile.
    for rules in [
        one(Dimension::Global, token(ramp)),
        one(Dimension::Global, leaky(MAX_BURST)),
        one(Dimension::Ip, leaky(MAX_BURST)),
        one(Dimension::Global, concurrency(queue, wait)),
    ] {
        crate::rules::RuleSet::compile(rules, &crate::clock::system_shared()).unwrap();
    }
}

#[test]
fn warm_up_is_for_global_rules_only() {
    for dimension in [
        Dimension::Route,
        Dimension::User,
        Dimension::Ip,
        Dimension::Campaign,
        Dimension::UserCampaign,
    ] {
        refused(one(dimension, token(10)), "rules[0].limiter.warmup_secs");
        validate(&one(dimension, token(0))).unwrap();
    }
    validate(&one(Dimension::Global, token(10))).unwrap();
}

#[test]
fn concurrency_is_for_the_global_dimension_only() {
    for dimension in [
        Dimension::Route,
        Dimension::User,
        Dimension::Ip,
        Dimension::Campaign,
        Dimension::UserCampaign,
    ] {
        let rules = one(dimension, concurrency(0, 0));
        let error = validate(&rules).unwrap_err();
        assert_eq!(error.field, "rules[0].limiter.kind");
        assert!(error.problem.contains("global"), "{error}");
        refused(rules, "rules[0].limiter.kind");
    }
    validate(&one(Dimension::Global, concurrency(0, 0))).unwrap();
}

#[test]
fn unknown_fields_are_refused() {
    let bad = r#"
        [[rules]]
        name = "a"
        dimension = "user"
        limiter = { kind = "token_bucket", rate_per_sec = 1, burst = 1, brust = 2 }
    "#;
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct File {
        rules: Vec<RuleSpec>,
    }
    assert!(toml::from_str::<File>(bad).is_err());
}
