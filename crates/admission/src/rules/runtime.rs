//! Compiled rules: each [`RuleSpec`] becomes a live limiter (keyed by its dimension, bounded).
//! A rule set is immutable once compiled; replacing the rules compiles a new set and swaps it
//! in whole (fresh limiter state). The evaluation order is in the [module docs](super).

use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use self::plan::{Plan, plan, route_index};
use self::verdict::{Verdict, concurrency_verdict, leaky_verdict, rate_verdict};
use super::counts::{RuleCounts, RuleDecision};
use super::limiter::{Limiter, LimiterConfig};
use super::request::{Admitted, LimitAnswer, Rejection, RejectionKind, RequestKeys, Stage};
use super::spec::{Dimension, Route, RuleError, RuleSpec, validate};
use crate::clock::SharedClock;

mod plan;
mod verdict;
struct CompiledRule {
    spec: RuleSpec,
    /// `spec.name`, shared with every [`Rejection`] of this rule.
    name: Arc<str>,
    limiter: Limiter,
    /// Shared with the rule of the same name in the set this one replaced, if any.
    counts: Arc<RuleCounts>,
}

/// A compiled rule set.
pub struct RuleSet {
    /// In configured order.
    rules: Vec<CompiledRule>,
    /// The rules each (route, stage) runs, in evaluation order (module docs).
    plan: Plan,
    hasher: RandomState,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules.len())
            .finish()
    }
}

impl RuleSet {
    /// Validates and compiles `specs`, every limiter deciding on `clock`; nothing in a set
    /// that passes [`validate`] can panic here (each limiter's configuration was checked by
    /// its own `validate`).
    pub fn compile(specs: Vec<RuleSpec>, clock: &SharedClock) -> Result<RuleSet, RuleError> {
        validate(&specs)?;
        let configs = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| LimiterConfig::from_spec(spec, i))
            .collect::<Result<Vec<_>, _>>()?;
        let rules: Vec<CompiledRule> = specs
            .into_iter()
            .zip(configs)
            .map(|(spec, config)| CompiledRule {
                name: Arc::from(spec.name.as_str()),
                limiter: Limiter::new(config, Arc::clone(clock)),
                counts: Arc::default(),
                spec,
            })
            .collect();
        let plan = plan(&rules);
        Ok(RuleSet {
            rules,
            plan,
            hasher: RandomState::new(),
        })
    }

    /// An empty set.
    pub fn empty() -> RuleSet {
        RuleSet {
            plan: plan(&[]),
            rules: Vec::new(),
            hasher: RandomState::new(),
        }
    }

    /// The rules as configured, in configured order.
    pub fn specs(&self) -> impl ExactSizeIterator<Item = &RuleSpec> {
        self.rules.iter().map(|rule| &rule.spec)
    }

    /// The rules `route` runs at `stage`, in evaluation order.
    fn planned(&self, route: Route, stage: Stage) -> &[usize] {
        &self.plan[route_index(route)][stage.index()]
    }

    /// Whether any rule applies to `route` at `stage` (a lookup: a cheap skip for the common
    /// case).
    pub fn applies(&self, route: Route, stage: Stage) -> bool {
        !self.planned(route, stage).is_empty()
    }

    fn key(&self, dimension: Dimension, keys: &RequestKeys<'_>) -> Option<u64> {
        // Every key is a hash with this set's secret seed: keyed tables hash keys no further.
        Some(match dimension {
            Dimension::Global => 0,
            Dimension::Route => self.hasher.hash_one(route_index(keys.route)),
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

    /// Runs every rule of `stage` that applies to the request's route, in evaluation order
    /// (module docs). The longest delay is slept once, after every rate rule admitted (nginx
    /// `limit_req` semantics); concurrency permits are held by the returned [`Admitted`].
    /// The first enforcing rule that rejects ends the evaluation; dry-run rules only count
    /// what they would reject or delay.
    pub async fn admit(&self, stage: Stage, keys: &RequestKeys<'_>) -> Result<Admitted, Rejection> {
        let mut admitted = Admitted::default();
        let mut delay = Duration::ZERO;
        for &index in self.planned(keys.route, stage) {
            let rule = &self.rules[index];
            let spec = &rule.spec;
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
                Limiter::Concurrency(l) => {
                    // Concurrency rules run last: every rate rule has admitted, so the
                    // delay is served now, before a slot is taken.
                    sleep_once(&mut delay).await;
                    concurrency_verdict(l.acquire().await)
                }
            };
            match verdict {
                Verdict::Allow => rule.counts.count(RuleDecision::Allowed),
                Verdict::Permit(permit) => {
                    rule.counts.count(RuleDecision::Allowed);
                    admitted.permits.push(permit);
                }
                Verdict::Delay(wait) => {
                    rule.counts.count(RuleDecision::Delayed);
                    if !spec.dry_run {
                        delay = delay.max(wait);
                    }
                }
                Verdict::Reject { kind, retry_after } => {
                    if spec.dry_run {
                        rule.counts.count(RuleDecision::DryRunRejected);
                        continue;
                    }
                    rule.counts.count(RuleDecision::Rejected);
                    return Err(Rejection {
                        rule: Arc::clone(&rule.name),
                        dimension: spec.dimension,
                        kind: kind.unwrap_or(RejectionKind::RateLimited(LimitAnswer::of_status(
                            spec.action.status,
                        ))),
                        retry_after,
                        auto_ban: spec.auto_ban,
                    });
                }
            }
        }
        sleep_once(&mut delay).await;
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

    /// Takes over the counts of every rule of `previous` whose name this set has too, so a
    /// rule that survives a replacement keeps counting from where it was (its counters stay
    /// monotonic); the counts of rules this set dropped go with `previous`.
    pub fn carry_counts_from(&mut self, previous: &RuleSet) {
        for rule in &mut self.rules {
            if let Some(old) = previous.rules.iter().find(|old| old.name == rule.name) {
                rule.counts = Arc::clone(&old.counts);
            }
        }
    }

    /// Each rule's name with what it decided so far, in configured order.
    pub fn decision_counts(
        &self,
    ) -> impl Iterator<Item = (&str, [(RuleDecision, u64); RuleDecision::ALL.len()])> {
        self.rules
            .iter()
            .map(|rule| (rule.spec.name.as_str(), rule.counts.snapshot()))
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

/// Sleeps for `delay` if it is positive, and leaves it zero.
async fn sleep_once(delay: &mut Duration) {
    let wait = std::mem::take(delay);
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests;
