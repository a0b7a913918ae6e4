use super::*;

fn valid() -> BenchArgs {
    let mut args = BenchArgs::for_target("http://127.0.0.1:1");
    args.token_secret = Some("t".into());
    args.admin_key = Some("a".into());
    args
}

#[test]
fn flags_parse_as_documented() {
    use clap::CommandFactory;
    DefaultsOnly::command().debug_assert();
    let args = DefaultsOnly::try_parse_from([
        "bench",
        "--spawn",
        "--server-arg=--durability",
        "--server-arg",
        "os",
        "--kind",
        "red-packet",
        "--rate",
        "5000",
        "--duration",
        "10",
        "--botnet-users",
        "10",
    ])
    .unwrap()
    .args;
    assert_eq!(args.server_args, ["--durability", "os"]);
    assert_eq!(args.kind, CampaignKind::RedPacket);
    assert_eq!(args.rate, Some(5_000));
    assert_eq!(args.duration_secs, 10);
    assert!(
        DefaultsOnly::try_parse_from(["bench"]).is_err(),
        "needs --target or --spawn"
    );
    assert!(DefaultsOnly::try_parse_from(["bench", "--spawn", "--target", "http://x:1"]).is_err());
    let paying =
        DefaultsOnly::try_parse_from(["bench", "--spawn", "--pay", "--pay-settle-secs", "30"])
            .unwrap()
            .args;
    assert!(paying.pay);
    assert_eq!(paying.pay_settle_secs, 30);
    let rehearsing = DefaultsOnly::try_parse_from(["bench", "--spawn", "--shadow"])
        .unwrap()
        .args;
    assert!(rehearsing.shadow);
    assert!(
        DefaultsOnly::try_parse_from(["bench", "--spawn", "--shadow", "--pay"]).is_err(),
        "a rehearsal pays nothing"
    );
    let mut both = rehearsing;
    both.pay = true;
    assert_eq!(both.validate().unwrap_err().flag, "--shadow");
    let mut live = BenchArgs::for_target("http://127.0.0.1:1");
    (live.token_secret, live.admin_key) = (Some("t".into()), Some("k".into()));
    live.shadow = true;
    assert_eq!(
        live.validate().unwrap_err().flag,
        "--campaign",
        "a rehearsal on a live server never creates a campaign"
    );
    live.campaign = Some("c_1".into());
    assert_eq!(live.validate(), Ok(()));
}

#[test]
fn defaults_are_the_seed_scenario() {
    let args = valid();
    assert_eq!(args.users, 100_000);
    assert_eq!(args.stock, 3_000);
    assert_eq!(args.connections, 256);
    assert!(args.duration_secs <= 60);
    assert!(
        !args.pay,
        "paying is opt-in, so existing comparisons are unchanged"
    );
    assert_eq!(args.pay_settle_secs, 15);
    assert_eq!(args.validate(), Ok(()));
}

#[test]
fn rejects_named_bad_fields() {
    let mut args = valid();
    args.duration_secs = MAX_DURATION_SECS + 1;
    assert_eq!(args.validate().unwrap_err().flag, "--duration");

    let mut args = valid();
    args.scripts = args.users;
    args.botnet_users = 1;
    assert_eq!(
        args.validate().unwrap_err().flag,
        "--scripts/--botnet-users"
    );

    let mut args = valid();
    args.clicker_ips = MAX_BOTNET_IPS + 1;
    assert_eq!(args.validate().unwrap_err().flag, "--clicker-ips");

    let mut args = valid();
    args.kind = CampaignKind::RedPacket;
    args.total_cents = args.stock - 1;
    assert_eq!(args.validate().unwrap_err().flag, "--total-cents");

    let mut args = valid();
    args.pay = true;
    args.kind = CampaignKind::RedPacket;
    assert_eq!(args.validate().unwrap_err().flag, "--pay");

    let mut args = valid();
    args.pay_settle_secs = MAX_PAY_SETTLE_SECS + 1;
    assert_eq!(args.validate().unwrap_err().flag, "--pay-settle-secs");

    let mut args = valid();
    args.admin_key = None;
    assert_eq!(
        args.validate().unwrap_err().flag,
        "--token-secret/--admin-key"
    );
}

#[test]
fn raw_mode_needs_no_keys_and_a_rooted_path() {
    let mut args = BenchArgs::for_target("http://127.0.0.1:1");
    args.token_secret = None;
    args.admin_key = None;
    args.raw_path = Some("/v1/campaigns/x/grab".into());
    assert_eq!(args.validate(), Ok(()));
    args.raw_path = Some("v1".into());
    assert_eq!(args.validate().unwrap_err().flag, "--raw-path");
    assert!(
        DefaultsOnly::try_parse_from(["bench", "--spawn", "--raw-path", "/x"]).is_err(),
        "raw mode drives an existing target"
    );
}

#[test]
fn target_takes_a_list_of_nodes_checked_before_any_io() {
    let mut args = valid();
    args.target = Some("http://127.0.0.1:1,http://127.0.0.1:2".into());
    assert_eq!(args.validate(), Ok(()));
    for bad in [
        "http://127.0.0.1:1,,http://127.0.0.1:2",
        "http://127.0.0.1:1,http://127.0.0.1:1",
        "http://127.0.0.1:1,ftp://127.0.0.1:2",
    ] {
        args.target = Some(bad.into());
        let error = args.validate().unwrap_err();
        assert_eq!(error.flag, "--target", "{bad}");
        assert!(error.reason.contains("entry"), "{error}");
    }
    args.target = Some("http://127.0.0.1:1,http://127.0.0.1:2".into());
    args.raw_path = Some("/x".into());
    assert_eq!(
        args.validate().unwrap_err().flag,
        "--raw-path",
        "raw mode drives one server"
    );
}
