//! Rules: `(dimension, limiter, action)` triples, validated whole, compiled into live limiters
//! and swapped in atomically.
//!
//! # Evaluation order
//! [`RuleSet::compile`] precomputes, for each (route, stage), the rules that apply, in this
//! order (stable: rules of one class keep their configured order):
//! 1. rate rules keyed per client: `user`, `user_campaign`, `ip`;
//! 2. rate rules keyed per campaign;
//! 3. rate rules shared by everyone: `route`, `global`;
//! 4. concurrency rules (global only), which hold a permit until the response.
//!
//! A rule counts every request it admits, even one a later rule then rejects, so the narrow
//! rules run first: a client refused by its own limit does not spend the budget everyone
//! shares. The first enforcing rule that rejects ends the evaluation. Delays (leaky buckets)
//! are not slept one by one: the longest is slept once, after every rate rule admitted and
//! before any concurrency slot is taken (as nginx runs `limit_conn` after `limit_req`'s
//! delay), so a delayed request holds no slot while it waits.
//!
//! Rules before authentication (`global`, `route`, `ip`, `campaign`) still run before those
//! after it (`user`, `user_campaign`): floods are refused before any token is checked.

mod counts;
mod limiter;
mod request;
mod runtime;
mod spec;

pub use counts::RuleDecision;
pub use request::{Admitted, LimitAnswer, Rejection, RejectionKind, RequestKeys, Stage};
pub use runtime::RuleSet;
pub use spec::{
    Action, Dimension, LimiterSpec, MAX_RULE_KEYS, MAX_RULE_NAME_BYTES, MAX_RULES, Route,
    RuleError, RuleSpec, validate,
};
