//! What a run drives and how the report describes it: the [`LoadPlan`] built from the flags,
//! the run's user-id prefix, the [`RunInfo`] the report starts with.

use crate::args::BenchArgs;
use crate::clock::Clock;
use crate::driver::LoadPlan;
use crate::population::Mix;
use crate::report::RunInfo;
use crate::shard::Sources;
use crate::target::describe;
use crate::token::TokenKind;
use rand::Rng;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Tokens stay valid this long past the run's end, so none expires mid-run on a slow start.
pub(crate) const TOKEN_VALIDITY_MARGIN_SECS: u64 = 3_600;

/// The load a bench drives against `servers` (the `--target` nodes): `mix` users POSTing to
/// `path`, their tokens signed with `token_secret`, from the source addresses and at the pace
/// and limits the flags give. Raw mode overrides what differs (see `bench_raw`).
pub(crate) fn load_plan(
    args: &BenchArgs,
    servers: Vec<SocketAddr>,
    path: String,
    mix: Mix,
    token_secret: Arc<[u8]>,
    clock: &dyn Clock,
) -> LoadPlan {
    LoadPlan {
        servers,
        path,
        raw: false,
        token_secret,
        token_kind: if args.shadow {
            TokenKind::Shadow
        } else {
            TokenKind::Real
        },
        token_expires_unix: clock.unix_now_secs() + args.duration_secs + TOKEN_VALIDITY_MARGIN_SECS,
        user_prefix: run_user_prefix("bench"),
        mix,
        sources: Sources {
            botnet_ips: args.botnet_ips,
            clicker_ips: args.clicker_ips,
            script_ips: args.script_ips,
        },
        connections: args.connections,
        rate_per_sec: args.rate,
        duration: Duration::from_secs(args.duration_secs),
        max_requests: args.max_requests,
        seed: args.seed.unwrap_or_else(|| rand::rng().random()),
    }
}

/// `{mode}-{random tag}-`: this run's user ids, apart from other runs' on a shared campaign.
pub(crate) fn run_user_prefix(mode: &str) -> String {
    let run_tag: u32 = rand::rng().random();
    format!("{mode}-{run_tag:08x}-")
}

/// What the report says was driven: `plan` as given, with only the source addresses that a
/// population of the mix used.
pub(crate) fn run_info(plan: &LoadPlan, campaign_id: String) -> RunInfo {
    let (mix, sources) = (plan.mix, plan.sources);
    let used = |population_users: u64, ips: u32| if population_users > 0 { ips } else { 0 };
    RunInfo {
        target: describe(&plan.servers),
        campaign_id,
        mode: if plan.rate_per_sec.is_some() {
            "open"
        } else {
            "closed"
        }
        .to_owned(),
        connections: plan.connections,
        rate_per_sec: plan.rate_per_sec,
        duration_limit_secs: plan.duration.as_secs(),
        max_requests: plan.max_requests,
        seed: plan.seed,
        mix,
        botnet_ips: used(mix.bots, sources.botnet_ips),
        clicker_ips: used(mix.clickers + mix.visitors, sources.clicker_ips),
        script_ips: used(mix.scripts, sources.script_ips),
    }
}
