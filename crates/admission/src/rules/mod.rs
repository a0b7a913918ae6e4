//! Rules: `(dimension, limiter, action)` triples, validated whole, compiled into live limiters
//! and swapped in atomically.

mod runtime;
mod spec;

pub use runtime::{Admitted, Rejection, RequestKeys, RuleSet, Stage};
pub use spec::{
    Action, Dimension, LimiterSpec, MAX_RULE_KEYS, MAX_RULE_NAME_BYTES, MAX_RULES, Route,
    RuleError, RuleSpec, validate,
};
