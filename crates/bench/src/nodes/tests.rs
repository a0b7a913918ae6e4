//! Unit tests of the node policy: homes, down-time, routing and resending.

use super::*;

#[test]
fn a_home_is_stable_and_homes_spread_evenly() {
    let ids: Vec<String> = (0..30_000)
        .map(|index| format!("bench-0123abcd-c{index}"))
        .collect();
    for nodes in [1, 2, 3, 5, 16] {
        let mut homed = vec![0u64; nodes];
        for id in &ids {
            let home = home_node(id, nodes);
            assert_eq!(home, home_node(id, nodes), "deterministic");
            homed[home] += 1;
        }
        let even = ids.len() as u64 / nodes as u64;
        for (node, count) in homed.iter().enumerate() {
            assert!(
                count.abs_diff(even) * 10 <= even,
                "{nodes} nodes: node {node} homes {count}, not within 10% of {even}: {homed:?}"
            );
        }
    }
    // Pinned: the same id has the same home in every build, so runs compare node for node.
    let pinned = [
        ("alice", [1, 2, 12]),
        ("bob", [0, 1, 6]),
        ("bench-0123abcd-c1", [0, 1, 7]),
    ];
    for (id, homes) in pinned {
        let got = [2, 3, 16].map(|nodes| home_node(id, nodes));
        assert_eq!(got, homes, "{id}");
    }
    assert_eq!(home_node("", 1), 0);
}

#[test]
fn a_user_fails_over_in_order_and_goes_home_when_its_down_time_expires() {
    let health = NodeHealth::new(3);
    let at = Duration::from_millis;
    assert_eq!(health.route(1, at(0)), 1, "home while up");

    health.mark_down(1, at(100));
    assert_eq!(health.route(1, at(100)), 2, "home + 1");
    assert_eq!(health.route(0, at(100)), 0, "others keep their home");
    health.mark_down(2, at(200));
    assert_eq!(health.route(1, at(200)), 0, "home + 2, wrapping");

    let back = at(100) + NODE_DOWN_FOR;
    assert_eq!(health.route(1, back - at(1)), 0, "still down just before");
    assert_eq!(
        health.route(1, back),
        1,
        "home again once its down-time expired"
    );

    health.mark_down(0, at(300));
    health.mark_down(1, at(300));
    health.mark_down(2, at(300));
    assert_eq!(health.route(1, at(300)), 1, "everything down: home anyway");
}

#[test]
fn a_later_failure_extends_the_down_time_and_an_earlier_one_does_not_shorten_it() {
    let health = NodeHealth::new(2);
    let at = Duration::from_millis;
    health.mark_down(0, at(1_000));
    health.mark_down(0, at(500));
    assert_eq!(health.route(0, at(500) + NODE_DOWN_FOR), 1);
    assert_eq!(health.route(0, at(1_000) + NODE_DOWN_FOR), 0);
}

#[test]
fn a_grab_is_resent_once_to_the_next_node_up_and_never_to_the_one_that_failed() {
    let health = NodeHealth::new(3);
    let now = Duration::from_secs(5);
    health.mark_down(0, now);
    assert_eq!(health.resend_to(0, 0, now), Some(1));
    health.mark_down(1, now);
    assert_eq!(
        health.resend_to(0, 1, now),
        Some(2),
        "failover node failed too"
    );
    health.mark_down(2, now);
    assert_eq!(health.resend_to(0, 2, now), None, "nothing left up");

    let single = NodeHealth::new(1);
    single.mark_down(0, now);
    assert_eq!(
        single.resend_to(0, 0, now),
        None,
        "one target: never resent"
    );
    assert_eq!(single.route(0, now), 0);
}

#[test]
fn requests_count_on_their_node_and_failovers_on_the_home() {
    let mut counts = vec![NodeCounts::default(); 2];
    count_request(&mut counts, 0, 0);
    count_request(&mut counts, 0, 1);
    count_request(&mut counts, 1, 1);
    assert_eq!((counts[0].requests, counts[0].failovers), (1, 1));
    assert_eq!((counts[1].requests, counts[1].failovers), (2, 0));
    let mut total = NodeCounts::default();
    total.merge(&counts[0]);
    total.merge(&counts[1]);
    assert_eq!((total.requests, total.failovers), (3, 1));
}
