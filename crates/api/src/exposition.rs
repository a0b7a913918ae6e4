//! The metric families `/metrics` renders from live state instead of the metrics registry.
//! The registry (metrics-exporter-prometheus) cannot forget one series: its only removal is an
//! idle timeout per metric kind, which would also drop the registered handles the hot paths
//! hold (they would keep counting into a detached cell). So a family keyed by something that
//! comes and goes is rendered at each scrape from what exists now, and its series end with
//! what they describe:
//!
//! - `stampede_campaign_remaining{campaign}`: items or packets not yet won (durable state) of
//!   every campaign that has not ended, at most [`MAX_CAMPAIGN_SERIES`] of them, the most
//!   recently created first. A campaign's series goes at the first scrape after it ends.
//! - `stampede_admission_decisions_total{layer,rule,outcome}`: the fixed layers' decisions
//!   (`rule=""`) and those of each rule in force; a rule replaced away takes its series with
//!   it, one kept by name keeps counting.
//! - `stampede_rule_tracked_keys{rule}`: keys each keyed rule in force holds.

use std::fmt::Write as _;

use stampede_core::{CampaignStatus, UnixMillis};

use crate::state::AppState;

/// Most `stampede_campaign_remaining` series one scrape carries. A shop runs a handful of
/// sales at once; 256 is ample for a dashboard while keeping the scrape and the time-series
/// database small however many campaigns the journal holds (the fuzzing that found the leak
/// left 578). Past it the campaigns created longest ago are left out of the scrape; each still
/// answers `GET /v1/campaigns/{id}`.
pub const MAX_CAMPAIGN_SERIES: usize = 256;

/// The families rendered here (the registry's are listed in [`crate::metrics::FAMILIES`]).
pub const LIVE_FAMILIES: &[&str] = &[
    "stampede_campaign_remaining",
    "stampede_admission_decisions_total",
    "stampede_rule_tracked_keys",
    "stampede_journal_failed",
];

/// Appends every live family to `out` (Prometheus text format 0.0.4).
pub fn render_live(state: &AppState, out: &mut String) {
    campaign_remaining(state, out);
    admission_decisions(state, out);
    rule_tracked_keys(state, out);
    journal_failed(state, out);
}

/// 1 while a journal this node writes has failed (the engine refuses every write until
/// restarted), else 0. A cluster node that was fenced or lost its log steps down and follows
/// again within the watchdog's period, so there the 1 lasts a moment; the alert waits 30 s.
fn journal_failed(state: &AppState, out: &mut String) {
    let failed = state.shards.journal_failed();
    let mut family = Family::start(
        out,
        "stampede_journal_failed",
        "gauge",
        "1 while a journal this node writes has failed and its writes are refused, else 0.",
    );
    family.sample(&[], u64::from(failed));
}

fn campaign_remaining(state: &AppState, out: &mut String) {
    let now = UnixMillis(state.now_ms());
    let mut live: Vec<_> = state
        .campaign_views()
        .into_iter()
        .filter(|view| view.status(now) != CampaignStatus::Ended)
        .collect();
    // Creation order: the time, then the ledger's place (ids created in one millisecond
    // are ordered by their random bits, not by when they were made).
    live.sort_unstable_by_key(|view| std::cmp::Reverse((view.created_at, view.slot, view.id)));
    live.truncate(MAX_CAMPAIGN_SERIES);
    let help = format!(
        "Items or red packets not yet won, per campaign that has not ended \
         (the {MAX_CAMPAIGN_SERIES} created last)."
    );
    let mut family = Family::start(out, "stampede_campaign_remaining", "gauge", &help);
    for view in live {
        let id = view.id.to_string();
        family.sample(&[("campaign", &id)], view.remaining());
    }
}

fn admission_decisions(state: &AppState, out: &mut String) {
    let rules = state.defence.rule_set();
    let mut family = Family::start(
        out,
        "stampede_admission_decisions_total",
        "counter",
        "Decisions of each admission layer (rule=\"\") and of each rule in force, by outcome.",
    );
    for (layer, outcome, count) in state.defence.layer_decision_counts() {
        family.sample(
            &[("layer", layer), ("rule", ""), ("outcome", outcome)],
            count,
        );
    }
    for (rule, counts) in rules.decision_counts() {
        for (decision, count) in counts {
            let labels = [
                ("layer", "rule"),
                ("rule", rule),
                ("outcome", decision.code()),
            ];
            family.sample(&labels, count);
        }
    }
}

fn rule_tracked_keys(state: &AppState, out: &mut String) {
    let rules = state.defence.rule_set();
    let mut family = Family::start(
        out,
        "stampede_rule_tracked_keys",
        "gauge",
        "Keys (users, addresses, campaigns) each keyed rule in force tracks now.",
    );
    for (rule, keys) in rules.key_counts() {
        family.sample(&[("rule", rule)], keys as u64);
    }
}

/// One family being written: its `# HELP` and `# TYPE` lines first, then its samples.
struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
}

impl<'a> Family<'a> {
    fn start(out: &'a mut String, name: &'static str, kind: &str, help: &str) -> Self {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        Self { out, name }
    }

    fn sample(&mut self, labels: &[(&str, &str)], value: u64) {
        self.out.push_str(self.name);
        for (i, (label, value)) in labels.iter().enumerate() {
            self.out.push(if i == 0 { '{' } else { ',' });
            self.out.push_str(label);
            self.out.push_str("=\"");
            escape_label_value(value, self.out);
            self.out.push('"');
        }
        if !labels.is_empty() {
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

/// A label value as the text format wants it: backslash, double quote and newline escaped.
fn escape_label_value(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_writes_help_type_and_escaped_samples() {
        let mut out = String::new();
        let mut family = Family::start(&mut out, "stampede_x", "gauge", "An x.");
        family.sample(&[("a", "1"), ("b", "q\"\\\nz")], 7);
        family.sample(&[], 0);
        assert_eq!(
            out,
            "# HELP stampede_x An x.\n# TYPE stampede_x gauge\n\
             stampede_x{a=\"1\",b=\"q\\\"\\\\\\nz\"} 7\nstampede_x 0\n"
        );
    }
}
