//! The campaign a bench runs against: the body it creates one with, and the red-packet terms
//! the auditor checks the packets against.

use crate::admin::CampaignView;
use crate::args::{BenchArgs, CampaignKind};
use crate::audit::RedPacketTerms;

/// The body of `POST /v1/campaigns` for the campaign the flags describe.
pub(crate) fn campaign_body(args: &BenchArgs) -> serde_json::Value {
    let name = format!("stampede bench {}", args.stock);
    match args.kind {
        CampaignKind::Seckill => serde_json::json!({
            "kind": "seckill",
            "name": name,
            "stock": args.stock,
            "per_user_limit": args.per_user_limit,
            "price_cents": args.price_cents,
        }),
        CampaignKind::RedPacket => serde_json::json!({
            "kind": "red_packet",
            "name": name,
            "total_cents": args.total_cents,
            "count": args.stock,
            "min_cents": args.min_cents,
        }),
    }
}

/// Red-packet terms from the campaign, falling back to the flags when we created it and the
/// server does not echo them. None for seckill, or for an existing campaign without them.
pub(crate) fn red_packet_terms(
    args: &BenchArgs,
    campaign: &CampaignView,
) -> Option<RedPacketTerms> {
    if campaign.kind != "red_packet" {
        return None;
    }
    let created_here = args.campaign.is_none();
    let total_cents = campaign
        .total_cents
        .or(created_here.then_some(args.total_cents))?;
    let min_cents = campaign
        .min_cents
        .or(created_here.then_some(args.min_cents))
        .unwrap_or(1);
    Some(RedPacketTerms {
        total_cents,
        min_cents,
    })
}
