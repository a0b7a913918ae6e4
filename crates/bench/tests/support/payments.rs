//! The fake's money side: `POST /v1/orders/{id}/pay` settles at once (the order answers
//! `paying`, then reads `paid`), `GET /v1/orders/{id}` shows the order with its payment.

use super::{Fault, Order, State, error, reply};
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};

fn find<'a>(state: &'a mut State, order_id: &str) -> Option<(&'static str, &'a mut Order)> {
    state.campaigns.values_mut().find_map(|campaign| {
        let kind = campaign.kind;
        campaign
            .orders
            .iter_mut()
            .find(|order| order.order_id == order_id)
            .map(|order| (kind, order))
    })
}

fn view(order: &Order) -> Value {
    let payments: Vec<Value> = order
        .paid_cents
        .map(|cents| {
            json!({
                "channel": "sim",
                "txn_id": format!("txn-{}", order.order_id),
                "amount_cents": cents,
                "paid_at": "2025-01-01T00:00:01Z",
                "kind": "paid",
            })
        })
        .into_iter()
        .collect();
    json!({
        "order_id": order.order_id,
        "user_id": order.user_id,
        "state": order.state,
        "amount_cents": order.amount_cents,
        "payments": payments,
    })
}

/// Pays `order_id` for `user`: 200 with the order `paying`; settled at once unless the fault
/// says otherwise.
pub(super) fn pay(state: &mut State, order_id: &str, user: &str) -> Response<Full<Bytes>> {
    let fault = state.config.fault;
    let Some((kind, order)) = find(state, order_id) else {
        return error(StatusCode::NOT_FOUND, "order_not_found");
    };
    if order.user_id != user {
        return error(StatusCode::NOT_FOUND, "order_not_found");
    }
    if kind != "seckill" || !matches!(order.state, "pending_payment" | "paying") {
        return error(StatusCode::CONFLICT, "invalid_transition");
    }
    let mut answer = view(order);
    answer["state"] = json!("paying");
    match fault {
        Fault::PayStuck => order.state = "paying",
        Fault::PaidAmountOff => {
            order.state = "paid";
            order.paid_cents = Some(order.amount_cents + 1);
        }
        _ => {
            order.state = "paid";
            order.paid_cents = Some(order.amount_cents);
        }
    }
    reply(StatusCode::OK, answer)
}

/// The order with its payments (admin).
pub(super) fn show(state: &State, order_id: &str) -> Response<Full<Bytes>> {
    state
        .campaigns
        .values()
        .flat_map(|campaign| &campaign.orders)
        .find(|order| order.order_id == order_id)
        .map_or_else(
            || error(StatusCode::NOT_FOUND, "order_not_found"),
            |order| reply(StatusCode::OK, view(order)),
        )
}
