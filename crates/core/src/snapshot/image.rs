//! The snapshot's contents as serde types: the primary data of a ledger and nothing derived
//! from it. Encoding borrows from the live ledger (`Cow::Borrowed`); decoding borrows the user
//! ids from the snapshot's bytes until each is checked and made a [`crate::UserId`].
//!
//! What is left out is rebuilt on restore, from this data alone: the campaign index
//! (campaign id → slot), the order cipher (from the key), every per-user index, the live and
//! remaining counts, red-packet pools, refundable sums, the payment books' indexes (by
//! transaction, settling and extra payments per order, pending refunds) and the ledger-wide
//! transaction index. Hash maps are written sorted by key, so two equal ledgers write equal
//! bytes.
//!
//! How this may evolve: any change to these types changes what the bytes mean, so it bumps
//! [`super::SNAPSHOT_FORMAT`]; a snapshot of a format this build does not read is refused by
//! name (the engine then falls back to an older snapshot or to replaying the journal). A
//! field added last to [`LedgerImage`] can keep the older format readable (format 1 is read
//! so: see [`super::unseal`]).

use std::borrow::Cow;
use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::ids::CampaignId;
use crate::money::{Cents, UnixMillis};
use crate::order::OrderState;
use crate::order_key::OrderKey;
use crate::payment_book::BookImage;
use crate::spec::CampaignSpec;

/// A whole ledger.
#[derive(Serialize, Deserialize)]
pub(crate) struct LedgerImage<'a> {
    /// The order-id key, drawn by the first campaign creation.
    pub(crate) order_key: Option<OrderKey>,
    /// Every campaign, in slot (creation) order.
    #[serde(borrow)]
    pub(crate) campaigns: Vec<CampaignImage<'a>>,
    /// Wins made under an idempotency key, by (campaign slot, order index). The last field
    /// on purpose: a format-1 body is this image without it ([`super::SNAPSHOT_FORMAT`]).
    #[serde(borrow)]
    pub(crate) keyed_wins: Vec<KeyedWinImage<'a>>,
}

/// One win made under an idempotency key: the order at `index` of the campaign at `slot`.
#[derive(Serialize, Deserialize)]
pub(crate) struct KeyedWinImage<'a> {
    pub(crate) slot: u32,
    pub(crate) index: u32,
    #[serde(borrow)]
    pub(crate) key: Cow<'a, str>,
}

/// One campaign: its spec, its orders in win order, its deadline queue, payouts and money.
#[derive(Serialize, Deserialize)]
pub(crate) struct CampaignImage<'a> {
    pub(crate) id: CampaignId,
    pub(crate) spec: Cow<'a, CampaignSpec>,
    pub(crate) created_at: UnixMillis,
    #[serde(borrow)]
    pub(crate) orders: Vec<OrderImage<'a>>,
    /// Order indices in the deadline queue, front first, strictly increasing (entries that
    /// left `pending_payment` and were not dropped yet included: the queue as it is).
    pub(crate) deadlines: Cow<'a, VecDeque<u32>>,
    /// (order index, payout id) of `claimed` packets, by index.
    pub(crate) payouts: Vec<(u32, Cow<'a, str>)>,
    pub(crate) book: BookImage<'a>,
}

/// One order as the campaign stores it (its id is derived from its place, time and nonce).
#[derive(Serialize, Deserialize)]
pub(crate) struct OrderImage<'a> {
    #[serde(borrow)]
    pub(crate) user_id: Cow<'a, str>,
    pub(crate) amount_cents: Cents,
    pub(crate) created_at: UnixMillis,
    pub(crate) nonce: u32,
    pub(crate) state: OrderState,
}
