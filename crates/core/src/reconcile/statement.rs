//! A payment channel's statement: what the channel says it took, line by line. Parsed at the
//! edge (the binary reads CSV files); the core only compares.

use serde::Serialize;

use crate::channel_name::ChannelName;
use crate::ids::OrderId;
use crate::money::{Cents, UnixMillis};

use super::ser;

/// Most lines one statement may carry. A campaign holds at most [`crate::MAX_STOCK`] (10^7)
/// orders and a channel's daily statement covers one payment per order in practice, so 10^7
/// lines covers the largest campaign while bounding memory (about 100 bytes a line). Parsers
/// refuse longer files; [`super::reconcile`] checks only this many lines of a longer one and
/// reports the rest as `statement_too_long`.
pub const MAX_STATEMENT_LINES: usize = 10_000_000;

/// One payment the channel reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatementLine {
    /// The channel's transaction id.
    pub txn_id: String,
    /// The order the channel says the money was for.
    #[serde(serialize_with = "ser::display")]
    pub order_id: OrderId,
    /// What the channel took.
    pub amount_cents: Cents,
    /// When the channel says it took it.
    pub at: UnixMillis,
}

/// Everything one channel reported for a period.
///
/// A statement is taken to cover every payment of its channel in the ledger (or, with a
/// `txn_prefix`, every payment whose transaction id starts with it): a covered payment of the
/// channel that is not on it is reported as `opened_but_not_paid`. Statements naming the same
/// channel are checked together, as one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// The channel (as payments record it, e.g. `sim`).
    pub channel: ChannelName,
    /// Its lines, in the file's order.
    pub lines: Vec<StatementLine>,
    /// The last moment the statement covers, if it stops before the books do: payments the
    /// books hold with a later `paid_at` are not expected on it (a statement drawn while
    /// payments still arrive). `None`: it covers every payment of the channel.
    pub covers_until: Option<crate::UnixMillis>,
    /// The transactions it covers, when it covers only some of the channel's: those whose id
    /// starts with this (a cluster node's desk sees only the payments made through it, and
    /// its simulated channels put the desk in their ids). Payments of the channel with other
    /// ids are counted apart (`other_desks_payments`), not compared. `None`: all of them.
    pub txn_prefix: Option<String>,
}
