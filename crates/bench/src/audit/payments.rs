//! The payment audit (`--pay`): what the server's books say about the orders this run paid.
//! Pure: the pay answers, the winners list read after settling and the order reads are all
//! fetched before these checks run.
//!
//! - `payments_settled`: every order whose pay was answered 200 is `paid` in the winners list
//!   read once the orders settled (no such order `pending_payment`/`paying` any more) or the
//!   settle time (`--pay-settle-secs` after the last pay answer) passed; and no order of this
//!   run is `refund_pending`/`refunded` unless its read shows a `late_payment` or
//!   `duplicate_payment` for it (the default simulated channel produces neither).
//! - `paid_amounts`: every order read back (all `paid` orders of this run, or an evenly spaced
//!   sample of [`MAX_PAID_ORDER_READS`] of them, see [`sample_evenly`]) has exactly one payment
//!   of kind `paid`, its amount is the order's amount, and the order's amount is the one the
//!   winners list shows.

use super::{Check, CheckResult};
use crate::admin::{OrderView, Winner};
use std::collections::HashMap;

/// `paid` orders read back for `paid_amounts`: all of them up to this many, else an evenly
/// spaced sample of this many. A read is one small request, so 10,000 take a second or two
/// at 32 connections while still covering a realistic sale completely.
pub const MAX_PAID_ORDER_READS: usize = 10_000;

/// The state of a paid order, and the kind of the payment that paid it.
pub const PAID: &str = "paid";
/// Order states that mean "payment not finished yet".
pub const UNSETTLED_STATES: [&str; 2] = ["pending_payment", "paying"];
/// Order states that mean money is being (or was) given back.
pub const REFUND_STATES: [&str; 2] = ["refund_pending", "refunded"];
/// Payment kinds that justify a refund: paid after the order closed, or paid twice.
pub const REFUNDABLE_KINDS: [&str; 2] = ["late_payment", "duplicate_payment"];

/// One admin read of an order: its view, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRead {
    /// The order asked for.
    pub order_id: String,
    /// What the server answered.
    pub result: Result<OrderView, String>,
}

/// Everything the payment checks look at.
#[derive(Debug, Clone, Default)]
pub struct PaymentsInput {
    /// Orders whose `POST /v1/orders/{id}/pay` was answered 200.
    pub paid_ok: Vec<String>,
    /// This run's orders as the winners list showed them after settling.
    pub final_orders: Vec<Winner>,
    /// The settle time, seconds (for the messages).
    pub settle_limit_secs: u64,
    /// Admin reads of `paid` orders (all, or a sample: see [`sample_evenly`]).
    pub paid_reads: Vec<OrderRead>,
    /// Admin reads of the orders in a refund state (an order in such a state without a read
    /// cannot be shown to be justified and counts as a violation).
    pub refund_reads: Vec<OrderRead>,
}

/// At most `max` of `items`, evenly spaced and in order (all of them when there are no more
/// than `max`): a deterministic sample that covers early and late winners alike.
pub fn sample_evenly<T: Clone>(items: &[T], max: usize) -> Vec<T> {
    if items.len() <= max {
        return items.to_vec();
    }
    // index i * len / max is strictly increasing because len > max.
    (0..max)
        .map(|i| items[i * items.len() / max].clone())
        .collect()
}

/// Whether `state` is one of `states`.
pub fn state_in(state: Option<&str>, states: &[&str]) -> bool {
    state.is_some_and(|state| states.contains(&state))
}

fn by_order_id(orders: &[Winner]) -> HashMap<&str, &Winner> {
    orders
        .iter()
        .map(|order| (order.order_id.as_str(), order))
        .collect()
}

/// `payments_settled` (see the module docs).
pub(super) fn check_payments_settled(input: &PaymentsInput) -> CheckResult {
    let mut check = Check::new("payments_settled");
    let listed = by_order_id(&input.final_orders);
    for order_id in &input.paid_ok {
        match listed.get(order_id.as_str()).map(|order| order.state.as_deref()) {
            None => check.fail(|| {
                format!("order {order_id} was answered 200 on pay but is not in the winners list")
            }),
            Some(Some(PAID)) => {}
            Some(state) => check.fail(|| {
                format!(
                    "order {order_id} was answered 200 on pay but is {} {} s after the last pay answer",
                    state.unwrap_or("without a state"),
                    input.settle_limit_secs
                )
            }),
        }
    }
    let reads: HashMap<&str, &Result<OrderView, String>> = input
        .refund_reads
        .iter()
        .map(|read| (read.order_id.as_str(), &read.result))
        .collect();
    for order in &input.final_orders {
        let state = order.state.as_deref().unwrap_or_default();
        if !REFUND_STATES.contains(&state) {
            continue;
        }
        let order_id = &order.order_id;
        match reads.get(order_id.as_str()) {
            None => check.fail(|| {
                format!("order {order_id} is {state} and was not read, so no late or duplicate payment justifies it")
            }),
            Some(Err(why)) => check.fail(|| {
                format!("order {order_id} is {state} and reading it failed: {why}")
            }),
            Some(Ok(view))
                if !view
                    .payments
                    .iter()
                    .any(|payment| REFUNDABLE_KINDS.contains(&payment.kind.as_str())) =>
            {
                check.fail(|| {
                    format!("order {order_id} is {state} but the server reports no late or duplicate payment for it")
                })
            }
            Some(Ok(_)) => {}
        }
    }
    check.result
}

/// `paid_amounts` (see the module docs).
pub(super) fn check_paid_amounts(input: &PaymentsInput) -> CheckResult {
    let mut check = Check::new("paid_amounts");
    let listed = by_order_id(&input.final_orders);
    let paid_listed = input
        .final_orders
        .iter()
        .filter(|order| order.state.as_deref() == Some(PAID))
        .count();
    if paid_listed > 0 && input.paid_reads.is_empty() {
        check.fail(|| format!("{paid_listed} orders are paid but none was read back"));
    }
    for read in &input.paid_reads {
        let order_id = &read.order_id;
        let view = match &read.result {
            Ok(view) => view,
            Err(why) => {
                check.fail(|| format!("order {order_id}: reading it failed: {why}"));
                continue;
            }
        };
        let settling: Vec<_> = view
            .payments
            .iter()
            .filter(|payment| payment.kind == PAID)
            .collect();
        match settling.as_slice() {
            [payment] if payment.amount_cents != view.amount_cents => check.fail(|| {
                format!(
                    "order {order_id} costs {} cents but its paid payment ({} txn {}) is {} cents",
                    view.amount_cents, payment.channel, payment.txn_id, payment.amount_cents
                )
            }),
            [_] => {}
            many => check.fail(|| {
                format!(
                    "order {order_id} ({}) has {} payments of kind paid, expected exactly one",
                    view.state,
                    many.len()
                )
            }),
        }
        if let Some(order) = listed.get(order_id.as_str())
            && order.amount_cents != view.amount_cents
        {
            check.fail(|| {
                format!(
                    "order {order_id} is {} cents in the winners list but {} cents when read",
                    order.amount_cents, view.amount_cents
                )
            });
        }
    }
    check.result
}

#[cfg(test)]
mod tests;
