//! Pure, synchronous domain core of Stampede: campaigns, inventory, the red-packet split,
//! orders, money and outcomes.
//!
//! No I/O, no clock reads, no threads: every operation takes `now` and an RNG from its caller
//! and returns values. The engine crate owns the only [`Ledger`] and feeds it batches; the
//! journal makes its [`Record`]s durable; replay applies the same records.

#[macro_use]
mod ensure;

mod campaign;
mod channel_name;
mod claim;
mod command;
mod decision;
mod grab_key;
pub mod hex_digit;
mod ids;
mod ledger;
mod money;
mod name;
mod order;
mod order_key;
mod outcome;
mod payment;
mod payment_book;
mod promotion;
pub mod reconcile;
mod record;
mod red_packet;
mod shard;
mod snapshot;
mod spec;

pub use campaign::Campaign;
pub use channel_name::{ChannelName, ChannelNameError, MAX_CHANNEL_BYTES};
pub use claim::{ClaimStart, MAX_PAYOUT_ID_BYTES, PayoutId, PayoutIdError, PayoutResult};
pub use command::{Command, Outcome};
pub use decision::Decision;
pub use grab_key::{GrabKey, GrabKeyError, MAX_GRAB_KEY_BYTES};
pub use ids::{
    CampaignId, MAX_PROVIDER_ID_BYTES, MAX_USER_ID_BYTES, OrderId, UserId, UserIdError, UserRef,
    is_provider_id, uuid_v7_bits,
};
pub use ledger::{ApplyError, Ledger, PendingRefund, StalePaying};
pub use money::{Cents, MAX_CENTS, UnixMillis};
pub use order::{InvalidTransition, Order, OrderState};
pub use order_key::OrderKey;
pub use outcome::{CampaignStatus, CreateOutcome, GrabOutcome, OrderOutcome, OrderTicket};
pub use payment::{
    MAX_TXN_ID_BYTES, Payment, PaymentError, PaymentKind, PaymentOutcome, validate_txn_id,
};
pub use payment_book::{
    MAX_CHANNELS_PER_ORDER, MAX_EXTRA_PAYMENTS_PER_ORDER, MAX_REFUND_ID_BYTES, PaymentEntry,
    RefundIdError, RefundStatus, refund_key, validate_refund_id,
};
pub use promotion::{
    AppliedPromotions, BASIS_POINTS_PER_WHOLE, MAX_LINES, MAX_PROMOTIONS, MAX_QUANTITY, OrderLine,
    PricedLine, PricedOrder, PricingError, Promotion, PromotionError, PromotionId, PromotionKind,
    PromotionRule, Sku, apportion, price_order,
};
pub use reconcile::{ReconciliationReport, Statement, StatementLine, reconcile};
pub use record::Record;
pub use red_packet::PacketPool;
pub use shard::{CampaignShard, shard_index};
pub use snapshot::{SNAPSHOT_FORMAT, SNAPSHOT_MAGIC, SnapshotError};
pub use spec::{
    CampaignSpec, CommonSpec, DEFAULT_CLAIM_WINDOW_SECS, DEFAULT_MIN_CENTS,
    DEFAULT_PAYMENT_WINDOW_SECS, DEFAULT_PER_USER_LIMIT, MAX_CAMPAIGNS, MAX_CLAIM_WINDOW_SECS,
    MAX_NAME_BYTES, MAX_PACKETS, MAX_PAYMENT_WINDOW_SECS, MAX_PER_USER_LIMIT, MAX_STOCK,
    RedPacketSpec, SeckillSpec, SpecError,
};
