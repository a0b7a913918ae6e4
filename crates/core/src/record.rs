//! Journaled facts. Every state change is one of these; replaying them in order rebuilds the
//! ledger exactly, because the live path applies the very same records (decide, then apply).

use serde::{Deserialize, Serialize};

use crate::channel_name::ChannelName;
use crate::claim::PayoutId;
use crate::grab_key::GrabKey;
use crate::ids::{CampaignId, OrderId, UserId};
use crate::money::{Cents, UnixMillis};
use crate::order::OrderState;
use crate::order_key::OrderKey;
use crate::payment::Payment;
use crate::payment::PaymentKind;
use crate::spec::CampaignSpec;

/// A fact in the journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    /// A campaign was created.
    CampaignCreated {
        /// Its id.
        id: CampaignId,
        /// What was asked for.
        spec: CampaignSpec,
        /// When.
        created_at: UnixMillis,
        /// The ledger's order-id key: drawn at the first creation, repeated in every later one
        /// (replay refuses a different one). Never shown through the API.
        order_key: OrderKey,
    },
    /// A user won an item or a packet.
    Won {
        /// The campaign.
        campaign_id: CampaignId,
        /// The new order.
        order_id: OrderId,
        /// The winner.
        user_id: UserId,
        /// Price or packet amount.
        amount_cents: Cents,
        /// When.
        won_at: UnixMillis,
    },
    /// An order moved along the transition table (cancelled, expired). Leaving the live
    /// states returns its item to stock.
    OrderTransitioned {
        /// The campaign.
        campaign_id: CampaignId,
        /// The order.
        order_id: OrderId,
        /// The state it was in (replay refuses the record if the order is elsewhere).
        from: OrderState,
        /// The state it moved to.
        to: OrderState,
        /// When.
        at: UnixMillis,
    },
    /// A claim's payout succeeded: the order moved `Claiming` → `Claimed` under this payout.
    ClaimPaid {
        /// The campaign.
        campaign_id: CampaignId,
        /// The order (also the payout's idempotency key).
        order_id: OrderId,
        /// The provider's payout id, answered to every later claim of the order.
        payout_id: PayoutId,
        /// When.
        at: UnixMillis,
    },
    /// A channel's payment was verified: the order moved `from` (`paying` or `pending_payment`)
    /// to `paid`, and (channel, txn_id) is remembered so a retry changes nothing.
    PaymentRecorded {
        /// The campaign.
        campaign_id: CampaignId,
        /// The order.
        order_id: OrderId,
        /// The state it was in.
        from: OrderState,
        /// Channel, transaction id, amount and the channel's payment time.
        payment: Payment,
        /// When it was recorded.
        at: UnixMillis,
    },
    /// The order's user started paying on `channel`: `from` (`pending_payment`, or `paying`
    /// on other channels) → `paying`. Until the order leaves `paying`, each of its channels is
    /// queried for a payment whose callback never came.
    PaymentStarted {
        /// The campaign.
        campaign_id: CampaignId,
        /// The order.
        order_id: OrderId,
        /// The state it was in.
        from: OrderState,
        /// The channel.
        channel: ChannelName,
        /// When.
        at: UnixMillis,
    },
    /// A verified payment that did not pay the order: `Late` (the order was closed: it moves
    /// to `refund_pending` and stays closed) or `Duplicate` (the order was already paid by
    /// another transaction: it stays `paid`). Either way a refund of it is opened.
    ExtraPaymentRecorded {
        /// The campaign.
        campaign_id: CampaignId,
        /// The order.
        order_id: OrderId,
        /// `Late` or `Duplicate`.
        kind: PaymentKind,
        /// The state the order was in.
        from: OrderState,
        /// Channel, transaction id, amount and the channel's payment time.
        payment: Payment,
        /// When it was recorded.
        at: UnixMillis,
    },
    /// The channel confirmed the refund of a late or duplicate payment.
    RefundConfirmed {
        /// The campaign.
        campaign_id: CampaignId,
        /// The order.
        order_id: OrderId,
        /// The refunded payment's channel.
        channel: ChannelName,
        /// The refunded payment's transaction id.
        txn_id: String,
        /// The channel's refund id.
        refund_id: String,
        /// When.
        at: UnixMillis,
    },
    /// A user won under an `Idempotency-Key`: a [`Record::Won`] that also remembers the key,
    /// so the key's retry answers this order on every node that applied it, and after any
    /// restart or failover (a new variant, at the end: journals written before still decode).
    KeyedWon {
        /// The campaign.
        campaign_id: CampaignId,
        /// The new order.
        order_id: OrderId,
        /// The winner.
        user_id: UserId,
        /// Price or packet amount.
        amount_cents: Cents,
        /// When.
        won_at: UnixMillis,
        /// The grab's key (unique per user in the campaign: replay refuses a second win
        /// under it).
        key: GrabKey,
    },
}
