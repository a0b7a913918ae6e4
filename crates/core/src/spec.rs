//! What a campaign is, as its creator asked for it, and the rules a request must pass.

use serde::{Deserialize, Serialize};

use crate::money::{Cents, MAX_CENTS, UnixMillis};

/// Longest campaign name, in bytes. Names are shown in lists; 200 bytes is generous for that
/// and keeps a campaign record far below the journal's record size limit.
pub const MAX_NAME_BYTES: usize = 200;
/// Most campaigns one engine holds. Each campaign carries a metrics series and a published
/// read-side entry; 10,000 is far above any shop's concurrent flash sales and keeps both bounded.
pub const MAX_CAMPAIGNS: usize = 10_000;

/// Most items a seckill campaign may hold (10,000,000, beyond the largest flash sale we
/// plan for). Every item can
/// become an order in memory, so this bounds a campaign's memory.
pub const MAX_STOCK: u64 = 10_000_000;
/// Most packets a red-packet campaign may hold (1,000,000).
pub const MAX_PACKETS: u64 = 1_000_000;
/// Largest per-user limit: a flash sale with more than 100 per user is an ordinary shop.
pub const MAX_PER_USER_LIMIT: u32 = 100;
/// Default per-user limit.
pub const DEFAULT_PER_USER_LIMIT: u32 = 1;
/// Default time to pay a seckill order (15 minutes).
pub const DEFAULT_PAYMENT_WINDOW_SECS: u64 = 900;
/// Longest payment window: one week.
pub const MAX_PAYMENT_WINDOW_SECS: u64 = 7 * 24 * 3600;
/// Default time a red packet may stay unclaimed (one day).
pub const DEFAULT_CLAIM_WINDOW_SECS: u64 = 86_400;
/// Longest claim window: 30 days (unclaimed money should go back to its owner within a month).
pub const MAX_CLAIM_WINDOW_SECS: u64 = 30 * 24 * 3600;
/// Default smallest red packet.
pub const DEFAULT_MIN_CENTS: u64 = 1;

/// A campaign as requested: one variant per kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CampaignSpec {
    /// Discounted items sold at a fixed price.
    Seckill(SeckillSpec),
    /// A pool of money split into packets by the double-mean method.
    RedPacket(RedPacketSpec),
}

/// Fields shared by every kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommonSpec {
    /// Display name.
    pub name: String,
    /// Grabs before this instant answer `not_started`.
    pub starts_at: Option<UnixMillis>,
    /// Grabs at or after this instant answer `ended`.
    pub ends_at: Option<UnixMillis>,
}

/// A seckill (flash sale) campaign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeckillSpec {
    /// Name and time window.
    pub common: CommonSpec,
    /// Items for sale.
    pub stock: u64,
    /// Most wins one user may hold.
    pub per_user_limit: u32,
    /// Price of one item.
    pub price_cents: Cents,
    /// Time an order may stay `pending_payment` before it expires and returns its item.
    pub payment_window_secs: u64,
    /// Whether a user whose order was released (cancelled or expired) may win again. `false`
    /// (the default): the per-user limit counts every order the user ever held in the
    /// campaign, so a release frees the item for someone else, not for the same user. `true`:
    /// only live orders count.
    pub regrab_after_release: bool,
}

/// A red-packet campaign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedPacketSpec {
    /// Name and time window.
    pub common: CommonSpec,
    /// Money in the pool; the packets sum to exactly this.
    pub total_cents: Cents,
    /// Number of packets.
    pub count: u64,
    /// Smallest packet.
    pub min_cents: Cents,
    /// Time a packet may stay `won` (unclaimed) before it expires `claim_expired` and its
    /// amount becomes refundable to the campaign's owner.
    pub claim_window_secs: u64,
}

/// A spec field that breaks a rule: the field's name and what is wrong. Mapped to HTTP 400
/// `bad_request` with the field named in the message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{field}: {problem}")]
pub struct SpecError {
    /// The request field at fault, as the API names it.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

/// Every field a [`SpecError`] names (a cluster node decodes a leader's refusal into one).
const SPEC_FIELDS: [&str; 11] = [
    "name",
    "starts_at",
    "ends_at",
    "price_cents",
    "stock",
    "per_user_limit",
    "payment_window_secs",
    "total_cents",
    "count",
    "min_cents",
    "claim_window_secs",
];

/// A [`SpecError`] as decoded: the field name owned until it is matched to one of
/// [`SPEC_FIELDS`] (`"spec"` for a name this build does not know, a newer node's), so
/// decoding never makes a `'static` string.
#[derive(serde::Deserialize)]
struct SpecErrorRead {
    field: String,
    problem: String,
}

impl<'de> serde::Deserialize<'de> for SpecError {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let read = SpecErrorRead::deserialize(deserializer)?;
        let field = SPEC_FIELDS
            .iter()
            .find(|known| **known == read.field)
            .copied()
            .unwrap_or("spec");
        Ok(Self {
            field,
            problem: read.problem,
        })
    }
}

fn fail(field: &'static str, problem: impl Into<String>) -> Result<(), SpecError> {
    Err(SpecError {
        field,
        problem: problem.into(),
    })
}

impl CommonSpec {
    fn validate(&self) -> Result<(), SpecError> {
        if self.name.trim().is_empty() {
            return fail("name", "must not be empty");
        }
        if self.name.len() > MAX_NAME_BYTES {
            return fail("name", format!("must be at most {MAX_NAME_BYTES} bytes"));
        }
        if self.name.chars().any(char::is_control) {
            return fail("name", "must not contain control characters");
        }
        if let (Some(start), Some(end)) = (self.starts_at, self.ends_at)
            && end <= start
        {
            return fail("ends_at", "must be after starts_at");
        }
        Ok(())
    }
}

impl CampaignSpec {
    /// Checks a campaign being created now: every rule of [`CampaignSpec::validate`], and the
    /// rules added since campaigns were first journaled, which replay must not apply to
    /// campaigns an older version accepted (so they live here, not in `validate`):
    /// - a seckill's price is at least 1 cent: a free item's order could never be paid (no
    ///   channel takes 0 cents) and would hold its item until the payment deadline; a
    ///   giveaway is a red packet;
    /// - the name shows something and carries no format character ([`crate::name`]).
    pub fn validate_new(&self) -> Result<(), SpecError> {
        self.validate()?;
        if let CampaignSpec::Seckill(s) = self
            && s.price_cents.0 == 0
        {
            return fail(
                "price_cents",
                "must be at least 1: a free item can never be paid (a giveaway is a red packet)",
            );
        }
        crate::name::check_shown_name(&self.common().name).or_else(|problem| fail("name", problem))
    }

    /// Checks every rule a journaled campaign obeys (replay checks this; a new campaign
    /// [`CampaignSpec::validate_new`]); the first broken one is returned with its field name.
    pub fn validate(&self) -> Result<(), SpecError> {
        match self {
            CampaignSpec::Seckill(s) => {
                s.common.validate()?;
                if !(1..=MAX_STOCK).contains(&s.stock) {
                    return fail("stock", format!("must be between 1 and {MAX_STOCK}"));
                }
                if !(1..=MAX_PER_USER_LIMIT).contains(&s.per_user_limit) {
                    return fail(
                        "per_user_limit",
                        format!("must be between 1 and {MAX_PER_USER_LIMIT}"),
                    );
                }
                if s.price_cents.0 > MAX_CENTS {
                    return fail("price_cents", format!("must be at most {MAX_CENTS}"));
                }
                if !(1..=MAX_PAYMENT_WINDOW_SECS).contains(&s.payment_window_secs) {
                    return fail(
                        "payment_window_secs",
                        format!("must be between 1 and {MAX_PAYMENT_WINDOW_SECS}"),
                    );
                }
                Ok(())
            }
            CampaignSpec::RedPacket(r) => {
                r.common.validate()?;
                if !(1..=MAX_PACKETS).contains(&r.count) {
                    return fail("count", format!("must be between 1 and {MAX_PACKETS}"));
                }
                if !(1..=MAX_CENTS).contains(&r.total_cents.0) {
                    return fail("total_cents", format!("must be between 1 and {MAX_CENTS}"));
                }
                if !(1..=MAX_CLAIM_WINDOW_SECS).contains(&r.claim_window_secs) {
                    return fail(
                        "claim_window_secs",
                        format!("must be between 1 and {MAX_CLAIM_WINDOW_SECS}"),
                    );
                }
                if r.min_cents.0 == 0 {
                    return fail("min_cents", "must be at least 1");
                }
                // count <= 10^6 and min <= total <= 10^12 so this cannot overflow, but be exact.
                match r.count.checked_mul(r.min_cents.0) {
                    Some(floor) if floor <= r.total_cents.0 => Ok(()),
                    _ => fail(
                        "count",
                        "count × min_cents exceeds total_cents: not every packet can get its minimum",
                    ),
                }
            }
        }
    }

    /// Name, start and end.
    pub fn common(&self) -> &CommonSpec {
        match self {
            CampaignSpec::Seckill(s) => &s.common,
            CampaignSpec::RedPacket(r) => &r.common,
        }
    }

    /// Items or packets in the campaign.
    pub fn total(&self) -> u64 {
        match self {
            CampaignSpec::Seckill(s) => s.stock,
            CampaignSpec::RedPacket(r) => r.count,
        }
    }

    /// Most wins per user (red packets: always one).
    pub fn per_user_limit(&self) -> u32 {
        match self {
            CampaignSpec::Seckill(s) => s.per_user_limit,
            CampaignSpec::RedPacket(_) => 1,
        }
    }

    /// Whether released orders stop counting against the per-user limit (red packets: never).
    pub fn regrab_after_release(&self) -> bool {
        match self {
            CampaignSpec::Seckill(s) => s.regrab_after_release,
            CampaignSpec::RedPacket(_) => false,
        }
    }

    /// How long a new order may stay in its creation state before it expires, in
    /// milliseconds: the payment window (seckill) or the claim window (red packet).
    pub fn deadline_window_millis(&self) -> u64 {
        match self {
            CampaignSpec::Seckill(s) => s.payment_window_secs.saturating_mul(1000),
            CampaignSpec::RedPacket(r) => r.claim_window_secs.saturating_mul(1000),
        }
    }

    /// The stable name of the kind, as the API spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            CampaignSpec::Seckill(_) => "seckill",
            CampaignSpec::RedPacket(_) => "red_packet",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn common() -> CommonSpec {
        CommonSpec {
            name: "n".into(),
            starts_at: None,
            ends_at: None,
        }
    }

    fn seckill(stock: u64) -> CampaignSpec {
        CampaignSpec::Seckill(SeckillSpec {
            common: common(),
            stock,
            per_user_limit: 1,
            price_cents: Cents(100),
            payment_window_secs: DEFAULT_PAYMENT_WINDOW_SECS,
            regrab_after_release: false,
        })
    }

    fn packets(total: u64, count: u64, min: u64) -> CampaignSpec {
        CampaignSpec::RedPacket(RedPacketSpec {
            common: common(),
            total_cents: Cents(total),
            count,
            min_cents: Cents(min),
            claim_window_secs: DEFAULT_CLAIM_WINDOW_SECS,
        })
    }

    #[test]
    fn stock_bounds() {
        assert_eq!(seckill(0).validate().unwrap_err().field, "stock");
        assert!(seckill(1).validate().is_ok());
        assert!(seckill(MAX_STOCK).validate().is_ok());
        assert_eq!(
            seckill(MAX_STOCK + 1).validate().unwrap_err().field,
            "stock"
        );
    }

    #[test]
    fn red_packet_floor() {
        assert!(packets(100, 100, 1).validate().is_ok());
        assert_eq!(packets(99, 100, 1).validate().unwrap_err().field, "count");
        assert_eq!(packets(100, 0, 1).validate().unwrap_err().field, "count");
        assert_eq!(
            packets(100, 10, 0).validate().unwrap_err().field,
            "min_cents"
        );
        assert_eq!(
            packets(100, MAX_PACKETS + 1, 1)
                .validate()
                .unwrap_err()
                .field,
            "count"
        );
        let CampaignSpec::RedPacket(mut r) = packets(100, 10, 1) else {
            unreachable!()
        };
        r.claim_window_secs = 0;
        let field = CampaignSpec::RedPacket(r.clone())
            .validate()
            .unwrap_err()
            .field;
        assert_eq!(field, "claim_window_secs");
        r.claim_window_secs = MAX_CLAIM_WINDOW_SECS + 1;
        assert!(CampaignSpec::RedPacket(r).validate().is_err());
    }

    #[test]
    fn window_and_name() {
        let mut c = common();
        c.starts_at = Some(UnixMillis(10));
        c.ends_at = Some(UnixMillis(10));
        assert_eq!(c.validate().unwrap_err().field, "ends_at");
        c.name = " ".into();
        assert_eq!(c.validate().unwrap_err().field, "name");
        c.name = "x".repeat(MAX_NAME_BYTES + 1);
        assert_eq!(c.validate().unwrap_err().field, "name");
    }
}
