//! Unit tests of the bench's payment phase.

use super::*;

#[test]
fn every_acknowledged_win_is_paid_with_its_winner() {
    use crate::audit::AcknowledgedWin;
    let win = |order: &str| AcknowledgedWin {
        order_id: order.into(),
        amount_cents: 990,
    };
    let users = [
        UserObservation {
            user_id: "a".into(),
            acknowledged: vec![win("o1"), win("o2")],
            ..UserObservation::default()
        },
        UserObservation {
            user_id: "b".into(),
            ..UserObservation::default()
        },
        UserObservation {
            user_id: "c".into(),
            acknowledged: vec![win("o3")],
            ..UserObservation::default()
        },
    ];
    let orders = acknowledged_orders(&users);
    let pairs: Vec<(&str, &str)> = orders
        .iter()
        .map(|order| (order.user_id.as_str(), order.order_id.as_str()))
        .collect();
    assert_eq!(pairs, [("a", "o1"), ("a", "o2"), ("c", "o3")]);
}

#[test]
fn pay_codes_come_from_the_contract() {
    assert_eq!(pay_code(200, b"{\"state\":\"paying\"}"), OK_CODE);
    assert_eq!(
        pay_code(
            503,
            br#"{"error":{"code":"channel_unavailable","message":"x"}}"#
        ),
        "channel_unavailable"
    );
    assert_eq!(pay_code(502, b"<html>bad gateway</html>"), "http_502");
}

#[test]
fn only_a_pay_that_got_no_answer_is_unresolved() {
    let answered = Response {
        status: http::StatusCode::SERVICE_UNAVAILABLE,
        retry_after: None,
        body: Bytes::from_static(br#"{"error":{"code":"channel_unavailable","message":""}}"#),
    };
    let record = PayRecord::of(Ok(answered), Duration::from_millis(3));
    assert_eq!(
        (record.code.as_str(), record.unresolved),
        ("channel_unavailable", false)
    );
    let timed_out = PayRecord::of(
        Err(TransportError::Timeout(Duration::from_secs(10))),
        Duration::ZERO,
    );
    assert_eq!(
        (timed_out.code.as_str(), timed_out.unresolved),
        ("timeout", true)
    );
    let refused = TransportError::Connect {
        address: "127.0.0.1:1".parse().expect("address"),
        source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
    };
    let refused = PayRecord::of(Err(refused), Duration::ZERO);
    assert_eq!(
        (refused.code.as_str(), refused.unresolved),
        ("connect_error", false),
        "a refused connect sent nothing"
    );
}
