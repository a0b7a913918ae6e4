use std::net::IpAddr;

use super::*;

fn entry(list: ListKind, subject: Subject, expires_at_ms: Option<u64>) -> Entry {
    Entry {
        list,
        subject,
        reason: "test".into(),
        origin: Origin::Manual,
        created_at_ms: 1,
        expires_at_ms,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> Subject {
    Subject::Ip(crate::client_ip::parse_net(s).unwrap())
}

#[test]
fn users_are_blocked_until_expiry() {
    let list = Blocklist::new();
    assert_eq!(list.check_user("bot", 0), Verdict::Clear);
    list.insert(entry(
        ListKind::Block,
        Subject::User("bot".into()),
        Some(100),
    ))
    .unwrap();
    assert!(matches!(
        list.check_user("bot", 99),
        Verdict::Blocked {
            until_ms: Some(100),
            ..
        }
    ));
    assert_eq!(list.check_user("bot", 100), Verdict::Clear);
    assert_eq!(list.check_user("human", 0), Verdict::Clear);
    assert_eq!(list.sweep(100), 1);
    assert!(list.is_empty());
}

#[test]
fn networks_and_single_addresses() {
    let list = Blocklist::new();
    list.insert(entry(ListKind::Block, net("10.0.0.0/8"), None))
        .unwrap();
    list.insert(entry(ListKind::Block, net("192.168.1.7"), None))
        .unwrap();
    assert!(matches!(
        list.check_ip(ip("10.200.3.4"), 0),
        Verdict::Blocked { .. }
    ));
    assert!(matches!(
        list.check_ip(ip("::ffff:10.1.1.1"), 0),
        Verdict::Blocked { .. }
    ));
    assert!(matches!(
        list.check_ip(ip("192.168.1.7"), 0),
        Verdict::Blocked { .. }
    ));
    assert_eq!(list.check_ip(ip("192.168.1.8"), 0), Verdict::Clear);
    // Unaligned CIDR is normalised to its network.
    list.insert(entry(ListKind::Block, net("172.16.5.9/16"), None))
        .unwrap();
    assert!(matches!(
        list.check_ip(ip("172.16.0.1"), 0),
        Verdict::Blocked { .. }
    ));
    assert!(list.remove(ListKind::Block, &net("172.16.0.0/16")));
    assert_eq!(list.check_ip(ip("172.16.0.1"), 0), Verdict::Clear);
    assert_eq!(list.len(), 2);
}

#[test]
fn allow_wins_in_its_dimension() {
    let list = Blocklist::new();
    list.insert(entry(ListKind::Block, net("10.0.0.0/8"), None))
        .unwrap();
    list.insert(entry(ListKind::Allow, net("10.9.9.9"), None))
        .unwrap();
    assert_eq!(list.check_ip(ip("10.9.9.9"), 0), Verdict::Allowed);
    assert!(matches!(
        list.check_ip(ip("10.9.9.8"), 0),
        Verdict::Blocked { .. }
    ));
    list.insert(entry(ListKind::Allow, Subject::User("vip".into()), None))
        .unwrap();
    list.insert(entry(ListKind::Block, Subject::User("vip".into()), None))
        .unwrap();
    assert_eq!(list.check_user("vip", 0), Verdict::Allowed);
}

#[test]
fn entries_round_trip_through_restore() {
    let list = Blocklist::new();
    list.insert(entry(ListKind::Block, Subject::User("a".into()), None))
        .unwrap();
    list.insert(entry(ListKind::Block, net("10.0.0.0/8"), Some(50)))
        .unwrap();
    list.insert(entry(ListKind::Allow, net("::1"), None))
        .unwrap();
    let saved = serde_json::to_string(&list.entries(0)).unwrap();
    let again = Blocklist::new();
    again
        .restore(serde_json::from_str(&saved).unwrap(), 10)
        .unwrap();
    assert_eq!(again.len(), 3);
    let later = Blocklist::new();
    later
        .restore(serde_json::from_str(&saved).unwrap(), 60)
        .unwrap();
    assert_eq!(later.len(), 2, "expired entries are not restored");
    // Replacing an entry does not double count.
    again
        .insert(entry(ListKind::Block, Subject::User("a".into()), Some(9)))
        .unwrap();
    assert_eq!(again.len(), 3);
}

#[test]
fn reason_is_bounded() {
    let list = Blocklist::new();
    let mut e = entry(ListKind::Block, Subject::User("x".into()), None);
    e.reason = "r".repeat(MAX_REASON_BYTES + 1);
    assert_eq!(list.insert(e), Err(BlocklistError::ReasonTooLong));
}
