//! One grab of one user: routed to a node by the node policy (`crate::nodes`), sent once more
//! to the next node up when it failed before any of it was written; and what the answer tells
//! the audit about the user.

use super::{Shared, VirtualUser};
use crate::audit::{AcknowledgedWin, UserObservation};
use crate::connection::Connection;
use crate::nodes::{NodeCounts, count_request};
use crate::outcome::{GrabResult, Outcome, classify, classify_parsed};
use crate::raw_connection::RawConnection;
use crate::token::mint_token_of;
use http::Method;

/// Grabs for `user` on the node the policy routes it to (`connections` and `counts` are per
/// node). A request that got no HTTP answer marks its node down; if none of it was written it
/// is sent once more, to the user's next node up. A request that may have reached a server is
/// never sent again: its timeout or transport error stands (the audit's unresolved user).
pub(super) async fn grab(
    shared: &Shared,
    connections: &mut [Connection],
    user: &mut VirtualUser,
    counts: &mut [NodeCounts],
) -> GrabResult {
    let plan = &shared.plan;
    let token = mint_token_of(
        plan.token_kind,
        &plan.token_secret,
        &user.observation.user_id,
        plan.token_expires_unix,
    );
    let home = user.home;
    let mut node = shared.health.route(home, shared.since_start());
    let mut resent = false;
    loop {
        count_request(counts, home, node);
        let sent = connections[node]
            .send(
                user.source,
                Method::POST,
                &shared.grab_path,
                Some(&token),
                None,
            )
            .await;
        let error = match sent {
            Ok(response) => {
                user.last_node = Some(node);
                return classify(
                    response.status.as_u16(),
                    response.retry_after.as_deref(),
                    &response.body,
                );
            }
            Err(error) => error,
        };
        counts[node].connection_failures += 1;
        let now = shared.since_start();
        shared.health.mark_down(node, now);
        let next = shared.health.resend_to(home, node, now);
        match next {
            Some(next) if !resent && error.never_sent() => {
                node = next;
                resent = true;
            }
            _ => return GrabResult::bare(Outcome::from_transport(&error)),
        }
    }
}

/// Raw mode's grab: the user's kept token, the lean connection.
pub(super) async fn raw_grab(
    shared: &Shared,
    raw: &mut RawConnection,
    user: &mut VirtualUser,
) -> GrabResult {
    let plan = &shared.plan;
    let token = user.token.get_or_insert_with(|| {
        mint_token_of(
            plan.token_kind,
            &plan.token_secret,
            &user.observation.user_id,
            plan.token_expires_unix,
        )
    });
    match raw.post(&shared.grab_path, token).await {
        Ok(response) => classify_parsed(
            response.status,
            response.retry_after_secs,
            raw.body(&response),
        ),
        Err(error) => GrabResult::bare(Outcome::from_transport(&error)),
    }
}

/// Folds one result into what the audit knows about the user.
pub(super) fn observe(observation: &mut UserObservation, result: &GrabResult) {
    if result.outcome.reached_stock() {
        observation.reached_stock = true;
    }
    if result.outcome.is_unresolved() {
        observation.unresolved = true;
    }
    if matches!(result.outcome, Outcome::Won | Outcome::AlreadyWon)
        && let (Some(order_id), Some(amount_cents)) = (&result.order_id, result.amount_cents)
        && !observation
            .acknowledged
            .iter()
            .any(|known| &known.order_id == order_id)
    {
        observation.acknowledged.push(AcknowledgedWin {
            order_id: order_id.clone(),
            amount_cents,
        });
    }
}
