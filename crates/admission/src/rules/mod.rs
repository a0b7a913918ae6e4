//! Rules: `(dimension, limiter, action)` triples, validated whole and swapped in atomically.

mod spec;

pub use spec::{
    Action, Dimension, LimiterSpec, MAX_RULE_KEYS, MAX_RULE_NAME_BYTES, MAX_RULES, Route,
    RuleError, RuleSpec, validate,
};
