//! Business outcomes of a grab: values with stable codes, not errors (STYLE §3).

use crate::ids::{CampaignId, OrderId};
use crate::money::Cents;
use crate::order::{InvalidTransition, Order};
use crate::spec::SpecError;

/// The order a grab won (or had already won).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderTicket {
    /// The order.
    pub order_id: OrderId,
    /// Price (seckill) or packet amount (red packet).
    pub amount_cents: Cents,
}

/// What a grab came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum GrabOutcome {
    /// A new win; its record must be durable before the user is told.
    Won(OrderTicket),
    /// The user already holds `per_user_limit` live orders; this is their latest.
    AlreadyWon(OrderTicket),
    /// Nothing left.
    SoldOut,
    /// Before `starts_at`.
    NotStarted,
    /// At or after `ends_at`.
    Ended,
    /// No such campaign.
    CampaignNotFound,
}

impl GrabOutcome {
    /// Every code [`GrabOutcome::code`] answers, one per variant: what metrics pre-register.
    /// `code` reads its answer from here, so a new variant's code cannot be missing.
    pub const CODES: [&'static str; 6] = [
        "won",
        "already_won",
        "sold_out",
        "not_started",
        "ended",
        "campaign_not_found",
    ];

    /// The stable code the API and metrics use.
    pub fn code(&self) -> &'static str {
        let at = match self {
            GrabOutcome::Won(_) => 0,
            GrabOutcome::AlreadyWon(_) => 1,
            GrabOutcome::SoldOut => 2,
            GrabOutcome::NotStarted => 3,
            GrabOutcome::Ended => 4,
            GrabOutcome::CampaignNotFound => 5,
        };
        Self::CODES[at]
    }
}

/// What a campaign creation came to.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CreateOutcome {
    /// Created, under this id.
    Created(CampaignId),
    /// A field breaks a rule; nothing changed.
    Invalid(SpecError),
    /// [`crate::MAX_CAMPAIGNS`] reached; nothing changed.
    TooManyCampaigns,
}

impl CreateOutcome {
    /// The stable code the API and metrics use.
    pub fn code(&self) -> &'static str {
        match self {
            CreateOutcome::Created(_) => "created",
            CreateOutcome::Invalid(_) => "invalid_campaign",
            CreateOutcome::TooManyCampaigns => "too_many_campaigns",
        }
    }
}

/// What a request to move an order (cancel) came to.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OrderOutcome {
    /// The order moved; this is it afterwards. Its record must be durable before the user is
    /// told.
    Moved(Order),
    /// No such order, or not the requester's (ids are not confirmed to strangers).
    NotFound,
    /// The table does not allow it (e.g. the order is already closed); nothing changed.
    InvalidTransition(InvalidTransition),
}

impl OrderOutcome {
    /// The stable code the API and metrics use.
    pub fn code(&self) -> &'static str {
        match self {
            OrderOutcome::Moved(_) => "moved",
            OrderOutcome::NotFound => "order_not_found",
            OrderOutcome::InvalidTransition(_) => "invalid_transition",
        }
    }
}

/// A campaign's status, derived from the clock and the stock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CampaignStatus {
    /// Before `starts_at`.
    Scheduled,
    /// Open and stock left.
    Active,
    /// Open and nothing left.
    SoldOut,
    /// At or after `ends_at`.
    Ended,
}

impl CampaignStatus {
    /// The stable code the API uses.
    pub fn code(self) -> &'static str {
        match self {
            CampaignStatus::Scheduled => "scheduled",
            CampaignStatus::Active => "active",
            CampaignStatus::SoldOut => "sold_out",
            CampaignStatus::Ended => "ended",
        }
    }

    /// Derives the status. Time wins over stock: a sold-out campaign past its end is `Ended`.
    pub fn derive(
        now: crate::UnixMillis,
        starts_at: Option<crate::UnixMillis>,
        ends_at: Option<crate::UnixMillis>,
        remaining: u64,
    ) -> Self {
        if starts_at.is_some_and(|s| now < s) {
            CampaignStatus::Scheduled
        } else if ends_at.is_some_and(|e| now >= e) {
            CampaignStatus::Ended
        } else if remaining == 0 {
            CampaignStatus::SoldOut
        } else {
            CampaignStatus::Active
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grab_outcome_has_its_own_stable_code() {
        let ticket = OrderTicket {
            order_id: OrderId(1),
            amount_cents: Cents(1),
        };
        let outcomes = [
            GrabOutcome::Won(ticket),
            GrabOutcome::AlreadyWon(ticket),
            GrabOutcome::SoldOut,
            GrabOutcome::NotStarted,
            GrabOutcome::Ended,
            GrabOutcome::CampaignNotFound,
        ];
        let codes: Vec<&str> = outcomes.iter().map(GrabOutcome::code).collect();
        assert_eq!(
            codes,
            GrabOutcome::CODES,
            "each variant answers its own code"
        );
    }
}
