//! Unit tests of the bench's wiring: the target, the run's description, the campaign body.

use super::*;

#[tokio::test]
async fn target_parsing() {
    let addresses = resolve_targets("http://127.0.0.1:8080/").await.unwrap();
    assert_eq!(addresses, ["127.0.0.1:8080".parse().unwrap()]);
    assert!(resolve_targets("https://127.0.0.1:1").await.is_err());
    assert!(resolve_targets("http://127.0.0.1:1/v1").await.is_err());
}

#[test]
fn run_info_reports_the_plan_and_only_the_sources_a_population_used() {
    let mut args = BenchArgs::for_target("http://127.0.0.1:1");
    (args.botnet_ips, args.clicker_ips, args.script_ips) = (8, 4, 3);
    (args.rate, args.seed, args.duration_secs) = (Some(500), Some(7), 9);
    let servers = vec![
        "127.0.0.1:1".parse().unwrap(),
        "127.0.0.1:2".parse().unwrap(),
    ];
    let no_bots = Mix::new(100, 50, 10, 0).expect("valid mix");
    let secret: Arc<[u8]> = Arc::from(&b"secret"[..]);
    let plan = load_plan(&args, servers, "/p".into(), no_bots, secret, &SystemClock);
    assert!(plan.user_prefix.starts_with("bench-") && !plan.raw);
    let info = run_info(&plan, "c1".into());
    assert_eq!(
        (info.mode.as_str(), info.seed, info.rate_per_sec),
        ("open", 7, Some(500))
    );
    assert_eq!(
        (info.campaign_id.as_str(), info.duration_limit_secs),
        ("c1", 9)
    );
    assert_eq!(info.target, "127.0.0.1:1,127.0.0.1:2", "every node named");
    assert_eq!(
        (info.botnet_ips, info.clicker_ips, info.script_ips),
        (0, 4, 3),
        "no bots, so no botnet addresses"
    );
}

#[test]
fn red_packet_body_has_no_seckill_fields() {
    let mut args = BenchArgs::for_target("http://127.0.0.1:1");
    args.kind = CampaignKind::RedPacket;
    let body = campaign_body(&args);
    assert_eq!(body["kind"], "red_packet");
    assert_eq!(body["count"], 3_000);
    assert!(body.get("per_user_limit").is_none());
    assert!(body.get("stock").is_none());
}
