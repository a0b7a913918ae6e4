//! Orders and their state machine.
//!
//! A seckill win creates an order in `PendingPayment`; a red-packet win creates one in `Won`.
//! The transition table below already covers payment, expiry, cancellation, refund and claim,
//! so the order lifecycle can grow without reshaping the type. Today the grab path reaches the
//! creation states, cancellation and expiry move `PendingPayment` to `Cancelled` / `Expired`
//! (see [`crate::Ledger::cancel`] and [`crate::Ledger::expire_due`]), and a red-packet claim
//! moves `Won` → `Claiming` → `Claimed` (or back to `Won` when the payout definitely failed),
//! while an unclaimed packet expires `Won` → `ClaimExpired` (see [`crate::Ledger::start_claim`]).

use serde::{Deserialize, Serialize};

use crate::ids::{CampaignId, OrderId, UserId};
use crate::money::{Cents, UnixMillis};

/// Where an order is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrderState {
    /// Seckill order waiting for payment; holds one item.
    PendingPayment,
    /// A payment was started on a channel; still holds its item.
    Paying,
    /// Paid: the item is sold.
    Paid,
    /// Cancelled by its user before payment; the item went back to stock.
    Cancelled,
    /// Not paid within the payment window; the item went back to stock.
    Expired,
    /// A refund was opened (e.g. duplicate or late payment).
    RefundPending,
    /// The refund was confirmed by the channel.
    Refunded,
    /// Red packet won, not yet claimed.
    Won,
    /// A claim was journaled and its payout started; the payout's result is not known yet.
    Claiming,
    /// Red packet paid out to its winner.
    Claimed,
    /// Red packet not claimed within its window; its amount is refundable to the campaign's
    /// owner (it never goes back into the pool).
    ClaimExpired,
}

impl OrderState {
    /// Every state, for exhaustive tests and documentation.
    pub const ALL: [OrderState; 11] = [
        OrderState::PendingPayment,
        OrderState::Paying,
        OrderState::Paid,
        OrderState::Cancelled,
        OrderState::Expired,
        OrderState::RefundPending,
        OrderState::Refunded,
        OrderState::Won,
        OrderState::Claiming,
        OrderState::Claimed,
        OrderState::ClaimExpired,
    ];

    /// The stable name used in the API.
    pub fn code(self) -> &'static str {
        match self {
            OrderState::PendingPayment => "pending_payment",
            OrderState::Paying => "paying",
            OrderState::Paid => "paid",
            OrderState::Cancelled => "cancelled",
            OrderState::Expired => "expired",
            OrderState::RefundPending => "refund_pending",
            OrderState::Refunded => "refunded",
            OrderState::Won => "won",
            OrderState::Claiming => "claiming",
            OrderState::Claimed => "claimed",
            OrderState::ClaimExpired => "claim_expired",
        }
    }

    /// Whether the order still holds its item (counts against stock and the per-user limit).
    /// Every red-packet state is live: a drawn packet never goes back into the pool (an
    /// expired claim's amount is refunded to the campaign's owner instead).
    pub fn is_live(self) -> bool {
        matches!(
            self,
            OrderState::PendingPayment
                | OrderState::Paying
                | OrderState::Paid
                | OrderState::Won
                | OrderState::Claiming
                | OrderState::Claimed
                | OrderState::ClaimExpired
        )
    }

    /// The transition table: the states each state may move to. Anything else is
    /// `invalid_transition` and changes nothing.
    pub fn allowed_next(self) -> &'static [OrderState] {
        use OrderState::*;
        match self {
            PendingPayment => &[Paying, Paid, Cancelled, Expired],
            Paying => &[Paid, Expired, Cancelled],
            Paid => &[RefundPending],
            Cancelled | Expired => &[RefundPending],
            RefundPending => &[Refunded],
            // Another late payment reaches an order whose refunds were all confirmed.
            Refunded => &[RefundPending],
            Won => &[Claiming, ClaimExpired],
            // `Won` again only when the payout definitely did not happen.
            Claiming => &[Claimed, Won],
            Claimed | ClaimExpired => &[],
        }
    }

    /// Checks one transition against the table.
    pub fn can_move_to(self, next: OrderState) -> bool {
        self.allowed_next().contains(&next)
    }

    /// Whether a [`crate::Record::OrderTransitioned`] may carry the move to `next`: exactly
    /// the moves the ledger decides with one — cancellation and expiry of an unpaid order, a
    /// packet's claim start, its definite failure and its expiry. Every other move in the
    /// table comes with its own record (payments and refunds with the payment records,
    /// `claimed` with [`crate::Record::ClaimPaid`] and its payout), so replay refuses it here.
    pub(crate) fn moves_by_transition_record(self, next: OrderState) -> bool {
        use OrderState::*;
        matches!(
            (self, next),
            (PendingPayment | Paying, Cancelled | Expired)
                | (Won, Claiming | ClaimExpired)
                | (Claiming, Won)
        )
    }
}

/// A transition the table does not allow.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize,
)]
#[error("an order in state {from:?} cannot move to {to:?}")]
pub struct InvalidTransition {
    /// Current state.
    pub from: OrderState,
    /// Requested state.
    pub to: OrderState,
}

/// One order: a win.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Order {
    /// The order's id.
    pub id: OrderId,
    /// The campaign it was won in.
    pub campaign_id: CampaignId,
    /// Its winner.
    pub user_id: UserId,
    /// Price (seckill) or packet amount (red packet).
    pub amount_cents: Cents,
    /// When it was won.
    pub created_at: UnixMillis,
    /// Where it is now.
    pub state: OrderState,
    /// When it expires if still unpaid or unclaimed (`Some` only while `pending_payment` or
    /// `won`).
    pub expires_at: Option<UnixMillis>,
}

impl Order {
    /// Moves the order along the table, or says why it cannot.
    pub fn transition(&mut self, next: OrderState) -> Result<(), InvalidTransition> {
        if !self.state.can_move_to(next) {
            return Err(InvalidTransition {
                from: self.state,
                to: next,
            });
        }
        self.state = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_have_no_exit() {
        for s in [OrderState::Claimed, OrderState::ClaimExpired] {
            assert!(s.allowed_next().is_empty(), "{s:?}");
        }
    }

    #[test]
    fn no_state_moves_to_itself_or_back_to_creation_from_closed() {
        for s in OrderState::ALL {
            assert!(!s.can_move_to(s), "{s:?} loops");
            if s != OrderState::Claiming {
                assert!(!s.can_move_to(OrderState::Won), "{s:?} re-wins");
            }
        }
        assert!(!OrderState::Expired.can_move_to(OrderState::Paid));
    }

    #[test]
    fn invalid_transition_changes_nothing() {
        let mut o = Order {
            id: OrderId(1),
            campaign_id: CampaignId(2),
            user_id: UserId::parse("u").unwrap(),
            amount_cents: Cents(5),
            created_at: UnixMillis(0),
            state: OrderState::Won,
            expires_at: None,
        };
        let err = o.transition(OrderState::Paid).unwrap_err();
        assert_eq!(
            err,
            InvalidTransition {
                from: OrderState::Won,
                to: OrderState::Paid
            }
        );
        assert_eq!(o.state, OrderState::Won);
        assert!(
            o.transition(OrderState::Claimed).is_err(),
            "a claim starts first"
        );
        o.transition(OrderState::Claiming).unwrap();
        o.transition(OrderState::Won).unwrap();
        o.transition(OrderState::Claiming).unwrap();
        o.transition(OrderState::Claimed).unwrap();
        assert_eq!(o.state, OrderState::Claimed);
    }

    #[test]
    fn claim_paths() {
        use OrderState::*;
        assert_eq!(Won.allowed_next(), &[Claiming, ClaimExpired]);
        assert_eq!(Claiming.allowed_next(), &[Claimed, Won]);
        assert!(
            !Claiming.can_move_to(ClaimExpired),
            "a claim in flight never expires"
        );
        for s in [Won, Claiming, Claimed, ClaimExpired] {
            assert!(s.is_live(), "{s:?}: a packet never returns to the pool");
        }
    }

    #[test]
    fn transition_records_carry_only_table_moves() {
        for from in OrderState::ALL {
            for to in OrderState::ALL {
                if from.moves_by_transition_record(to) {
                    assert!(from.can_move_to(to), "{from:?} -> {to:?}");
                }
            }
        }
        assert!(!OrderState::Claiming.moves_by_transition_record(OrderState::Claimed));
        assert!(!OrderState::PendingPayment.moves_by_transition_record(OrderState::Paying));
    }

    #[test]
    fn codes_are_unique() {
        let mut codes: Vec<_> = OrderState::ALL.iter().map(|s| s.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), OrderState::ALL.len());
    }
}
