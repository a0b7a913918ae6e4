//! The run report: throughput, latency percentiles and outcome counts, overall and per
//! population, plus the per-second timeline; rendered as a text table (JSON via serde).

use crate::latency::LatencySummary;
use crate::node_report::{NodeReport, node_table};
use crate::outcome::Outcome;
use crate::payment_report::PaymentReport;
use crate::population::{Mix, Population};
use crate::recorder::{Recorder, Tally};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One group's numbers.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupReport {
    /// Population name, or "all".
    pub name: String,
    /// Requests completed (any outcome, transport errors included).
    pub requests: u64,
    /// `requests / elapsed`.
    pub throughput_rps: f64,
    /// Latency percentiles.
    pub latency: LatencySummary,
    /// Count by outcome code (zero counts omitted).
    pub outcomes: BTreeMap<String, u64>,
}

impl GroupReport {
    fn of(name: &str, tally: &Tally, elapsed_secs: f64) -> Self {
        let requests = tally.requests();
        Self {
            name: name.to_owned(),
            requests,
            throughput_rps: if elapsed_secs > 0.0 {
                requests as f64 / elapsed_secs
            } else {
                0.0
            },
            latency: LatencySummary::of(tally),
            outcomes: outcome_map(tally),
        }
    }
}

/// One second of the timeline.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SecondReport {
    /// Seconds since the start.
    pub second: u64,
    /// Requests completed in this second.
    pub requests: u64,
    /// Median latency of those.
    pub p50_us: u64,
    /// 99th percentile latency of those.
    pub p99_us: u64,
    /// Count by outcome code.
    pub outcomes: BTreeMap<String, u64>,
}

/// How the run was configured, for the record.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunInfo {
    /// Server address; with several nodes, their addresses separated by commas.
    pub target: String,
    /// Campaign driven.
    pub campaign_id: String,
    /// `closed` or `open`.
    pub mode: String,
    /// Connections.
    pub connections: u32,
    /// Open-loop target rate.
    pub rate_per_sec: Option<u64>,
    /// Duration limit.
    pub duration_limit_secs: u64,
    /// Request limit.
    pub max_requests: u64,
    /// Seed of the mix and jitter.
    pub seed: u64,
    /// Users per population.
    pub mix: Mix,
    /// Source addresses used by the botnet.
    pub botnet_ips: u32,
    /// Source addresses used by clickers and visitors (0: the default address).
    pub clicker_ips: u32,
    /// Source addresses used by scripts (0: the default address).
    pub script_ips: u32,
}

/// One population's share of the users against its share of the wins: fairness at a glance
/// (a defence works when the humans' win share is at least their user share).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WinShare {
    /// Population name.
    pub name: String,
    /// Its users.
    pub users: u64,
    /// `users / all users`.
    pub user_share: f64,
    /// `won` answers its users got.
    pub wins: u64,
    /// `wins / all wins` (0 when nobody won).
    pub win_share: f64,
}

/// The full report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// Configuration.
    pub run: RunInfo,
    /// Wall time from the first send to the last response, seconds.
    pub elapsed_secs: f64,
    /// All requests.
    pub overall: GroupReport,
    /// Per population (populations with no users omitted).
    pub populations: Vec<GroupReport>,
    /// Per population: share of users against share of wins.
    pub win_shares: Vec<WinShare>,
    /// TCP connections opened (reconnects included).
    pub connects: u64,
    /// Open-loop slots with no ready user (the offered rate was not all used).
    pub skipped_slots: u64,
    /// Per second.
    pub timeline: Vec<SecondReport>,
    /// The payment phase (`--pay` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payments: Option<PaymentReport>,
    /// Per node, in `--target` order (only when it names several).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeReport>,
}

fn outcome_map(tally: &Tally) -> BTreeMap<String, u64> {
    Outcome::ALL
        .iter()
        .filter(|outcome| tally.outcomes[outcome.index()] > 0)
        .map(|outcome| (outcome.code().to_owned(), tally.outcomes[outcome.index()]))
        .collect()
}

impl Report {
    /// Builds the report from the merged recorder.
    pub(crate) fn new(run: RunInfo, recorder: &Recorder, elapsed_secs: f64) -> Self {
        let overall = GroupReport::of("all", &recorder.overall(), elapsed_secs);
        let populations: Vec<GroupReport> = Population::ALL
            .iter()
            .filter(|population| population_size(&run.mix, **population) > 0)
            .map(|population| {
                GroupReport::of(
                    population.name(),
                    &recorder.by_population[population.index()],
                    elapsed_secs,
                )
            })
            .collect();
        let timeline = recorder
            .timeline
            .iter()
            .enumerate()
            .map(|(second, tally)| {
                let latency = LatencySummary::of(tally);
                SecondReport {
                    second: second as u64,
                    requests: tally.requests(),
                    p50_us: latency.p50_us,
                    p99_us: latency.p99_us,
                    outcomes: outcome_map(tally),
                }
            })
            .collect();
        let wins = |group: &GroupReport| group.outcomes.get("won").copied().unwrap_or(0);
        let all_wins = wins(&overall);
        let all_users = run.mix.total();
        let win_shares = populations
            .iter()
            .map(|group: &GroupReport| {
                let users = Population::ALL
                    .iter()
                    .find(|p| p.name() == group.name)
                    .map_or(0, |p| population_size(&run.mix, *p));
                let share = |part: u64, whole: u64| {
                    if whole == 0 {
                        0.0
                    } else {
                        part as f64 / whole as f64
                    }
                };
                WinShare {
                    name: group.name.clone(),
                    users,
                    user_share: share(users, all_users),
                    wins: wins(group),
                    win_share: share(wins(group), all_wins),
                }
            })
            .collect();
        Self {
            run,
            elapsed_secs,
            overall,
            populations,
            win_shares,
            connects: recorder.connects,
            skipped_slots: recorder.skipped_slots,
            timeline,
            payments: None,
            nodes: Vec::new(),
        }
    }

    /// A readable table.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let run = &self.run;
        let _ = writeln!(
            out,
            "stampede bench: {} campaign {} | {} loop, {} connections{} | seed {}",
            run.target,
            run.campaign_id,
            run.mode,
            run.connections,
            run.rate_per_sec
                .map(|rate| format!(", target {rate} req/s"))
                .unwrap_or_default(),
            run.seed
        );
        let _ = writeln!(
            out,
            "users: {} clickers, {} visitors, {} scripts, {} bots over {} IPs (humans over {}, scripts over {}; 0: 127.0.0.1) | {:.2} s, {} connects, {} skipped open-loop slots",
            run.mix.clickers,
            run.mix.visitors,
            run.mix.scripts,
            run.mix.bots,
            run.botnet_ips,
            run.clicker_ips,
            run.script_ips,
            self.elapsed_secs,
            self.connects,
            self.skipped_slots
        );
        let _ = writeln!(
            out,
            "\n{:<8} {:>10} {:>11} {:>9} {:>9} {:>9} {:>9} {:>10}",
            "group", "requests", "req/s", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs"
        );
        for group in std::iter::once(&self.overall).chain(&self.populations) {
            let latency = &group.latency;
            let _ = writeln!(
                out,
                "{:<8} {:>10} {:>11.1} {:>9} {:>9} {:>9} {:>9} {:>10}",
                group.name,
                group.requests,
                group.throughput_rps,
                latency.p50_us,
                latency.p90_us,
                latency.p99_us,
                latency.p999_us,
                latency.max_us
            );
        }
        if self.overall.outcomes.get("won").copied().unwrap_or(0) > 0 {
            let _ = writeln!(out, "\nshare of users -> share of wins:");
            for share in &self.win_shares {
                let _ = writeln!(
                    out,
                    "  {:<8} {:>6.1} % -> {:>6.1} % ({} wins)",
                    share.name,
                    share.user_share * 100.0,
                    share.win_share * 100.0,
                    share.wins
                );
            }
        }
        let _ = writeln!(out, "\noutcomes:");
        let mut header = format!("  {:<20}", "code");
        for group in std::iter::once(&self.overall).chain(&self.populations) {
            let _ = write!(header, " {:>10}", group.name);
        }
        let _ = writeln!(out, "{header}");
        for outcome in Outcome::ALL {
            let code = outcome.code();
            if self.overall.outcomes.get(code).copied().unwrap_or(0) == 0 {
                continue;
            }
            let mut line = format!("  {code:<20}");
            for group in std::iter::once(&self.overall).chain(&self.populations) {
                let _ = write!(
                    line,
                    " {:>10}",
                    group.outcomes.get(code).copied().unwrap_or(0)
                );
            }
            let _ = writeln!(out, "{line}");
        }
        if !self.nodes.is_empty() {
            let _ = write!(out, "\n{}", node_table(&self.nodes));
        }
        if let Some(payments) = &self.payments {
            let _ = write!(out, "\n{}", payments.to_table());
        }
        out
    }
}

fn population_size(mix: &Mix, population: Population) -> u64 {
    match population {
        Population::Clicker => mix.clickers,
        Population::Visitor => mix.visitors,
        Population::Script => mix.scripts,
        Population::Bot => mix.bots,
    }
}

#[cfg(test)]
mod tests;
