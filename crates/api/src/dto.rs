//! Request and response shapes of the HTTP API.

use serde::{Deserialize, Serialize};
use stampede_core::{
    CampaignSpec, Cents, ChannelName, CommonSpec, DEFAULT_CLAIM_WINDOW_SECS, DEFAULT_MIN_CENTS,
    DEFAULT_PAYMENT_WINDOW_SECS, DEFAULT_PER_USER_LIMIT, Order, RedPacketSpec, SeckillSpec,
    UnixMillis,
};
use stampede_engine::CampaignView;
use utoipa::ToSchema;

use crate::error::AppError;
use crate::timefmt::{format_rfc3339, parse_rfc3339};

/// `POST /v1/campaigns`. Flat so that every parse error names its field; which fields a kind
/// accepts is checked in [`CreateCampaign::into_spec`].
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCampaign {
    /// `seckill` or `red_packet`.
    #[schema(pattern = "^(seckill|red_packet)$")]
    kind: String,
    /// At most 200 bytes, something visible, no control or format characters.
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// When grabs open (RFC 3339); absent: at once.
    #[schema(format = DateTime)]
    starts_at: Option<String>,
    /// When grabs close (RFC 3339); absent: never.
    #[schema(format = DateTime)]
    ends_at: Option<String>,
    // seckill
    stock: Option<u64>,
    per_user_limit: Option<u32>,
    price_cents: Option<u64>,
    payment_window_secs: Option<u64>,
    regrab_after_release: Option<bool>,
    // red_packet
    total_cents: Option<u64>,
    count: Option<u64>,
    min_cents: Option<u64>,
    claim_window_secs: Option<u64>,
}

fn bad(message: impl Into<String>) -> AppError {
    AppError::BadRequest(message.into())
}

fn required<T>(field: &str, value: Option<T>, kind: &str) -> Result<T, AppError> {
    value.ok_or_else(|| bad(format!("{field}: required for a {kind} campaign")))
}

fn forbid<T>(field: &str, value: &Option<T>, kind: &str) -> Result<(), AppError> {
    match value {
        Some(_) => Err(bad(format!("{field}: not a field of a {kind} campaign"))),
        None => Ok(()),
    }
}

impl CreateCampaign {
    /// Checks kind-specific fields and converts to a core spec (which validates ranges).
    pub fn into_spec(self) -> Result<CampaignSpec, AppError> {
        let parse_time =
            |field: &str, v: &Option<String>| -> Result<Option<UnixMillis>, AppError> {
                v.as_deref()
                    .map(|s| parse_rfc3339(field, s).map_err(bad))
                    .transpose()
            };
        let common = CommonSpec {
            name: self.name,
            starts_at: parse_time("starts_at", &self.starts_at)?,
            ends_at: parse_time("ends_at", &self.ends_at)?,
        };
        let spec = match self.kind.as_str() {
            "seckill" => {
                let kind = "seckill";
                forbid("total_cents", &self.total_cents, kind)?;
                forbid("count", &self.count, kind)?;
                forbid("min_cents", &self.min_cents, kind)?;
                forbid("claim_window_secs", &self.claim_window_secs, kind)?;
                CampaignSpec::Seckill(SeckillSpec {
                    common,
                    stock: required("stock", self.stock, kind)?,
                    per_user_limit: self.per_user_limit.unwrap_or(DEFAULT_PER_USER_LIMIT),
                    price_cents: Cents(required("price_cents", self.price_cents, kind)?),
                    payment_window_secs: self
                        .payment_window_secs
                        .unwrap_or(DEFAULT_PAYMENT_WINDOW_SECS),
                    regrab_after_release: self.regrab_after_release.unwrap_or(false),
                })
            }
            "red_packet" => {
                let kind = "red_packet";
                forbid("stock", &self.stock, kind)?;
                forbid("per_user_limit", &self.per_user_limit, kind)?;
                forbid("price_cents", &self.price_cents, kind)?;
                forbid("payment_window_secs", &self.payment_window_secs, kind)?;
                forbid("regrab_after_release", &self.regrab_after_release, kind)?;
                CampaignSpec::RedPacket(RedPacketSpec {
                    common,
                    total_cents: Cents(required("total_cents", self.total_cents, kind)?),
                    count: required("count", self.count, kind)?,
                    min_cents: Cents(self.min_cents.unwrap_or(DEFAULT_MIN_CENTS)),
                    claim_window_secs: self.claim_window_secs.unwrap_or(DEFAULT_CLAIM_WINDOW_SECS),
                })
            }
            other => {
                return Err(bad(format!(
                    "kind: must be \"seckill\" or \"red_packet\", got {:?}",
                    truncate(other)
                )));
            }
        };
        spec.validate_new().map_err(|e| bad(e.to_string()))?;
        Ok(spec)
    }
}

/// Echo at most 40 characters of a bad value back to the client.
fn truncate(s: &str) -> &str {
    s.char_indices().nth(40).map_or(s, |(i, _)| &s[..i])
}

/// A campaign as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignJson {
    id: String,
    kind: &'static str,
    name: String,
    status: &'static str,
    total: u64,
    remaining: u64,
    per_user_limit: u32,
    created_at: String,
    starts_at: Option<String>,
    ends_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    price_cents: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_window_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    regrab_after_release: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_cents: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remaining_cents: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_cents: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    claim_window_secs: Option<u64>,
    /// Sum of the packets whose claim expired: refundable to the campaign's owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    refundable_cents: Option<u64>,
    /// On a cluster node: the shard the campaign belongs to (its leader decides its grabs).
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<u32>,
}

impl CampaignJson {
    /// Renders a published campaign at `now`.
    pub fn new(view: &CampaignView, now: UnixMillis) -> Self {
        let common = view.spec.common();
        let mut json = Self {
            id: view.id.to_string(),
            kind: view.spec.kind(),
            name: common.name.clone(),
            status: view.status(now).code(),
            total: view.spec.total(),
            remaining: view.remaining(),
            per_user_limit: view.spec.per_user_limit(),
            created_at: format_rfc3339(view.created_at),
            starts_at: common.starts_at.map(format_rfc3339),
            ends_at: common.ends_at.map(format_rfc3339),
            price_cents: None,
            payment_window_secs: None,
            regrab_after_release: None,
            total_cents: None,
            remaining_cents: None,
            min_cents: None,
            claim_window_secs: None,
            refundable_cents: None,
            shard: None,
        };
        match &view.spec {
            CampaignSpec::Seckill(s) => {
                json.price_cents = Some(s.price_cents.0);
                json.payment_window_secs = Some(s.payment_window_secs);
                json.regrab_after_release = Some(s.regrab_after_release);
            }
            CampaignSpec::RedPacket(r) => {
                json.total_cents = Some(r.total_cents.0);
                json.remaining_cents = Some(view.remaining_cents());
                json.min_cents = Some(r.min_cents.0);
                json.claim_window_secs = Some(r.claim_window_secs);
                json.refundable_cents = Some(view.refundable_cents());
            }
        }
        json
    }

    /// Names the campaign's shard, on a node of a cluster of `shards` shards (a single node,
    /// one shard, names none).
    pub fn in_shard_of(mut self, shards: u32) -> Self {
        if shards > 1 {
            let id = stampede_core::CampaignId::parse(&self.id).expect("rendered from an id");
            self.shard = Some(stampede_core::shard_index(id, shards));
        }
        self
    }
}

/// `200` answer of a grab.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrabJson {
    /// `won` or `already_won`.
    pub outcome: &'static str,
    /// The order.
    pub order_id: String,
    /// Price or packet amount.
    pub amount_cents: u64,
}

/// An order as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderJson {
    order_id: String,
    campaign_id: String,
    user_id: String,
    state: &'static str,
    amount_cents: u64,
    created_at: String,
    /// When a `pending_payment` order expires if unpaid, or a `won` red packet if unclaimed
    /// (absent in other states).
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    /// The provider's payout id of a `claimed` red packet (claim answers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    payout_id: Option<String>,
    /// Every payment recorded for the order (order reads and payment answers only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    payments: Vec<PaymentEntryJson>,
}

/// One recorded payment of an order, with its refund if it did not pay the order.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentEntryJson {
    #[schema(value_type = String)]
    channel: ChannelName,
    txn_id: String,
    amount_cents: u64,
    paid_at: String,
    /// `paid`, `late_payment` or `duplicate_payment`.
    kind: &'static str,
    /// `refund_pending` or `refunded` for a late or duplicate payment.
    #[serde(skip_serializing_if = "Option::is_none")]
    refund: Option<&'static str>,
    /// The channel's refund id once refunded.
    #[serde(skip_serializing_if = "Option::is_none")]
    refund_id: Option<String>,
}

impl From<&stampede_core::PaymentEntry> for PaymentEntryJson {
    fn from(e: &stampede_core::PaymentEntry) -> Self {
        Self {
            channel: e.payment.channel.clone(),
            txn_id: e.payment.txn_id.clone(),
            amount_cents: e.payment.amount_cents.0,
            paid_at: format_rfc3339(e.payment.paid_at),
            kind: e.kind.code(),
            refund: e.refund.as_ref().map(stampede_core::RefundStatus::code),
            refund_id: match &e.refund {
                Some(stampede_core::RefundStatus::Refunded { refund_id, .. }) => {
                    Some(refund_id.clone())
                }
                _ => None,
            },
        }
    }
}

impl OrderJson {
    /// The order with its recorded payments.
    pub fn with_payments(mut self, payments: &[stampede_core::PaymentEntry]) -> Self {
        self.payments = payments.iter().map(PaymentEntryJson::from).collect();
        self
    }

    /// The order with its payout id, as a claim answers it.
    pub fn with_payout(mut self, payout_id: &stampede_core::PayoutId) -> Self {
        self.payout_id = Some(payout_id.to_string());
        self
    }
}

impl From<&Order> for OrderJson {
    fn from(o: &Order) -> Self {
        Self {
            order_id: o.id.to_string(),
            campaign_id: o.campaign_id.to_string(),
            user_id: o.user_id.to_string(),
            state: o.state.code(),
            amount_cents: o.amount_cents.0,
            created_at: format_rfc3339(o.created_at),
            expires_at: o.expires_at.map(format_rfc3339),
            payout_id: None,
            payments: Vec::new(),
        }
    }
}

/// One entry of the winners list.
#[derive(Debug, Serialize, ToSchema)]
pub struct WinnerJson {
    user_id: String,
    order_id: String,
    amount_cents: u64,
    won_at: String,
    state: &'static str,
}

impl From<&Order> for WinnerJson {
    fn from(o: &Order) -> Self {
        Self {
            user_id: o.user_id.to_string(),
            order_id: o.id.to_string(),
            amount_cents: o.amount_cents.0,
            won_at: format_rfc3339(o.created_at),
            state: o.state.code(),
        }
    }
}

/// `GET /v1/campaigns/{id}/winners` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct WinnersJson {
    /// This page.
    pub winners: Vec<WinnerJson>,
    /// Cursor of the next page, `null` at the end.
    pub next: Option<String>,
}

/// `GET /v1/campaigns/{id}/winners` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WinnersQuery {
    /// Cursor from the previous page.
    #[param(pattern = "^[0-9]{1,18}$")]
    pub after: Option<String>,
    /// Page size (1..=1000, default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
}

/// One payment channel as the admin views show it (`GET /v1/admin/channels`, the stats).
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelJson {
    #[schema(value_type = String)]
    name: stampede_core::ChannelName,
    weight: u32,
    /// The weight a pick uses now: lower while the channel fails or is slow, 0 out of rotation.
    effective_weight: u32,
    /// `closed` (healthy), `open` (out of rotation), `half_open` (being probed).
    state: &'static str,
}

impl ChannelJson {
    /// Each payment channel's health, as the router sees it now.
    pub fn list(payments: &stampede_money::Payments) -> Vec<ChannelJson> {
        (payments.desk().health().into_iter())
            .map(|h| ChannelJson {
                name: h.name,
                weight: h.weight,
                effective_weight: h.effective_weight,
                state: h.state.code(),
            })
            .collect()
    }

    /// Each payment channel's health over several desks (a cluster node's, one per shard;
    /// every desk has the same channels, in the same order): the lowest effective weight
    /// any desk's router gives it and the worst state any desk's breaker is in, so trouble
    /// on one shard shows. One desk: what [`ChannelJson::list`] answers.
    pub fn across(desks: &[&stampede_money::Payments]) -> Vec<ChannelJson> {
        merge(desks.iter().map(|desk| Self::list(desk)))
    }
}

/// Each channel of `desks` (lists of the same channels in the same order) at its lowest
/// effective weight and worst state.
fn merge(mut desks: impl Iterator<Item = Vec<ChannelJson>>) -> Vec<ChannelJson> {
    let Some(mut channels) = desks.next() else {
        return Vec::new();
    };
    for desk in desks {
        for (channel, other) in channels.iter_mut().zip(desk) {
            debug_assert_eq!(channel.name, other.name, "every desk has the same channels");
            channel.effective_weight = channel.effective_weight.min(other.effective_weight);
            if state_rank(other.state) > state_rank(channel.state) {
                channel.state = other.state;
            }
        }
    }
    channels
}

/// How bad a breaker state is: `open` (out of rotation) worst, then `half_open`.
fn state_rank(state: &str) -> u8 {
    match state {
        "open" => 2,
        "half_open" => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(name: &str, effective_weight: u32, state: &'static str) -> ChannelJson {
        ChannelJson {
            name: stampede_core::ChannelName::parse(name).unwrap(),
            weight: 10,
            effective_weight,
            state,
        }
    }

    #[test]
    fn a_channel_over_several_desks_shows_its_lowest_weight_and_worst_state() {
        let merged = merge(
            [
                vec![channel("a", 10, "closed"), channel("b", 10, "half_open")],
                vec![channel("a", 4, "open"), channel("b", 10, "closed")],
                vec![channel("a", 10, "half_open"), channel("b", 7, "closed")],
            ]
            .into_iter(),
        );
        let shown: Vec<_> = merged
            .iter()
            .map(|c| (c.name.as_str(), c.weight, c.effective_weight, c.state))
            .collect();
        assert_eq!(shown, [("a", 10, 4, "open"), ("b", 10, 7, "half_open")]);
        // One desk: as it is; none: nothing.
        let one = merge([vec![channel("a", 3, "half_open")]].into_iter());
        assert_eq!((one[0].effective_weight, one[0].state), (3, "half_open"));
        assert!(merge(std::iter::empty()).is_empty());
    }
}
