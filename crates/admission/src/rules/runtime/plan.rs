//! The evaluation plan of a rule set: for each (route, stage), the rules that run there, in
//! evaluation order (see the [rules module docs](crate::rules)), computed once at compile so a
//! request does a lookup, not a sort.

use super::CompiledRule;
use crate::rules::request::Stage;
use crate::rules::spec::{Dimension, LimiterSpec, Route, RuleSpec};

/// Indices into `RuleSet::rules`, in evaluation order, per route and stage.
pub(super) type Plan = [[Box<[usize]>; Stage::ALL.len()]; Route::ALL.len()];

pub(super) fn route_index(route: Route) -> usize {
    match route {
        Route::Grab => 0,
        Route::CampaignDetail => 1,
        Route::Order => 2,
    }
}

/// The evaluation class of a rule (module docs): lower runs first.
fn evaluation_class(spec: &RuleSpec) -> u8 {
    if matches!(spec.limiter, LimiterSpec::Concurrency { .. }) {
        return 3;
    }
    match spec.dimension {
        Dimension::User | Dimension::UserCampaign | Dimension::Ip => 0,
        Dimension::Campaign => 1,
        Dimension::Route | Dimension::Global => 2,
    }
}

pub(super) fn plan(rules: &[CompiledRule]) -> Plan {
    std::array::from_fn(|r| {
        let route = Route::ALL[r];
        std::array::from_fn(|s| {
            let stage = Stage::ALL[s];
            let mut indices: Vec<usize> = (0..rules.len())
                .filter(|&i| {
                    let spec = &rules[i].spec;
                    spec.routes.contains(&route) && stage_of(spec.dimension) == stage
                })
                .collect();
            // Stable: rules of one class keep their configured order.
            indices.sort_by_key(|&i| evaluation_class(&rules[i].spec));
            indices.into_boxed_slice()
        })
    })
}

fn stage_of(dimension: Dimension) -> Stage {
    if dimension.before_auth() {
        Stage::BeforeAuth
    } else {
        Stage::AfterAuth
    }
}
