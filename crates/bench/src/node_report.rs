//! The per-node section of the report, shown when `--target` names several nodes: how the
//! users spread and where connections failed (the policy is in `nodes`).

use crate::nodes::NodeCounts;
use serde::Serialize;
use std::fmt::Write as _;
use std::net::SocketAddr;

/// One node's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeReport {
    /// The node's address, as `--target` resolved it.
    pub target: String,
    /// What the run's workers counted for it.
    #[serde(flatten)]
    pub counts: NodeCounts,
}

/// The section for `servers` and their `counts` (same order); empty with one server, whose
/// report stays as it always was.
pub(crate) fn node_reports(servers: &[SocketAddr], counts: &[NodeCounts]) -> Vec<NodeReport> {
    if servers.len() < 2 {
        return Vec::new();
    }
    servers
        .iter()
        .zip(counts)
        .map(|(server, counts)| NodeReport {
            target: server.to_string(),
            counts: *counts,
        })
        .collect()
}

/// A readable table of `nodes`.
pub(crate) fn node_table(nodes: &[NodeReport]) -> String {
    let mut out = String::from("nodes (a user's grabs go to its home node while it is up):\n");
    let _ = writeln!(
        out,
        "  {:<22} {:>12} {:>12} {:>10} {:>12} {:>10}",
        "target", "users homed", "users ended", "requests", "conn. fails", "failovers"
    );
    for node in nodes {
        let counts = &node.counts;
        let _ = writeln!(
            out,
            "  {:<22} {:>12} {:>12} {:>10} {:>12} {:>10}",
            node.target,
            counts.users_homed,
            counts.users_last_served,
            counts.requests,
            counts.connection_failures,
            counts.failovers
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_target_has_no_section_and_several_have_a_line_each() {
        let one: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let two: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let counts = NodeCounts {
            users_homed: 7,
            users_last_served: 0,
            requests: 9,
            connection_failures: 9,
            failovers: 12,
        };
        assert!(node_reports(&[one], &[counts]).is_empty());
        let nodes = node_reports(&[one, two], &[counts, NodeCounts::default()]);
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].target, "127.0.0.1:1");
        let table = node_table(&nodes);
        assert!(table.contains("127.0.0.1:2"), "{table}");
        let first = table.lines().nth(2).unwrap();
        let figures: Vec<&str> = first.split_whitespace().skip(1).collect();
        assert_eq!(figures, ["7", "0", "9", "9", "12"], "{table}");
        let json = serde_json::to_value(&nodes[0]).unwrap();
        assert_eq!(json["target"], "127.0.0.1:1");
        assert_eq!(json["failovers"], 12, "counts flattened: {json}");
    }
}
