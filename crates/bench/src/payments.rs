//! The payment phase (`--pay`), after the grab phase: pay every order this run's users were
//! told they won, wait for the orders to settle, read the paid ones back. All I/O; the verdict
//! is the pure [`crate::audit::payments`] checks over what this gathers.
//!
//! 1. **Pay**: `POST /v1/orders/{id}/pay` with `{}` (the server's router picks the channel)
//!    and the winner's token, exactly one request per order (so the total is bounded by the
//!    run's wins), over [`PAY_CONNECTIONS`] keep-alive connections; each answer's code is kept.
//!    No retries: a refused pay is a result to report, not something to hide.
//! 2. **Settle**: poll the winners list (admin) every [`SETTLE_POLL_INTERVAL`] until none of
//!    the orders whose pay was answered 200 (or not answered at all) is `pending_payment` or
//!    `paying`, or until the settle limit has passed since the last pay answer.
//! 3. **Read back**: `GET /v1/orders/{id}` (admin) for the `paid` orders (all, or an evenly
//!    spaced sample of [`MAX_PAID_ORDER_READS`]) and for every order in a refund state (up to
//!    [`MAX_REFUND_ORDER_READS`]).

use crate::admin::{AdminClient, AdminError, Winner, percent_encode};
use crate::audit::payments::{
    MAX_PAID_ORDER_READS, PAID, REFUND_STATES, UNSETTLED_STATES, sample_evenly, state_in,
};
use crate::audit::{OrderRead, PaymentsInput, UserObservation};
use crate::clock::Clock;
use crate::connection::{Connection, Response, TransportError};
use crate::fan_out::fan_out;
use crate::latency::LatencySummary;
use crate::outcome::{Outcome, error_code};
use crate::payment_report::PaymentReport;
use crate::recorder::{SIGNIFICANT_FIGURES, new_histogram};
use crate::token::mint_token;
use bytes::Bytes;
use http::Method;
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Connections paying (and reading back) at once: enough to keep a server's pay path busy
/// (each pay is a journal write plus a channel call), few enough that the phase measures the
/// server rather than a connection storm, and far under the server's per-address limit.
pub(crate) const PAY_CONNECTIONS: usize = 32;
/// Winners-list polling interval while waiting for orders to settle: the simulated channel
/// pays ~50 ms after `pay`, so 100 ms resolves the settle time to about a tenth of a second
/// while a poll (one page per 1,000 orders) stays a small load.
pub(crate) const SETTLE_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Orders in a refund state read back: beyond this many the rest count as unverified refunds
/// (the default simulated channel produces none, so thousands already mean a broken server).
pub(crate) const MAX_REFUND_ORDER_READS: usize = 10_000;

/// Where and as whom to pay.
#[derive(Debug, Clone)]
pub(crate) struct PayPlan {
    /// Server address.
    pub server: SocketAddr,
    /// Admin key (winners list, order reads).
    pub admin_key: String,
    /// The campaign whose orders are paid.
    pub campaign_id: String,
    /// Secret to mint the winners' tokens with.
    pub token_secret: Arc<[u8]>,
    /// Expiry written into those tokens.
    pub token_expires_unix: u64,
    /// How long orders get to settle after the last pay answer.
    pub settle_limit: Duration,
}

/// One order to pay, as the grab phase acknowledged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PayOrder {
    /// The winner.
    pub user_id: String,
    /// The order.
    pub order_id: String,
}

/// What the phase gathered: the report section and the audit's input.
#[derive(Debug, Clone)]
pub(crate) struct PaymentPhase {
    /// For the report.
    pub report: PaymentReport,
    /// For the `payments_settled` and `paid_amounts` checks.
    pub audit: PaymentsInput,
}

/// The code recorded for a pay answered 200.
pub(crate) const OK_CODE: &str = "ok";

/// The code of a pay answer: [`OK_CODE`] for 200, else the contract's error code, else
/// `http_<status>`.
pub(crate) fn pay_code(status: u16, body: &[u8]) -> String {
    if status == 200 {
        return OK_CODE.to_owned();
    }
    error_code(body).unwrap_or_else(|| format!("http_{status}"))
}

#[derive(Debug, Clone)]
struct PayRecord {
    /// [`pay_code`] of the answer, or the transport outcome's code when none came.
    code: String,
    /// No answer arrived, so whether the server acted is open ([`Outcome::is_unresolved`]).
    unresolved: bool,
    latency: Duration,
}

impl PayRecord {
    fn of(answer: Result<Response, TransportError>, latency: Duration) -> Self {
        let (code, unresolved) = match answer {
            Ok(response) => (pay_code(response.status.as_u16(), &response.body), false),
            Err(error) => {
                let outcome = Outcome::from_transport(&error);
                (outcome.code().to_owned(), outcome.is_unresolved())
            }
        };
        Self {
            code,
            unresolved,
            latency,
        }
    }
}

/// The progress line printed before paying.
pub(crate) fn announce(plan: &PayPlan) -> String {
    format!(
        "paying the run's won orders over {PAY_CONNECTIONS} connections, then waiting up to {} s for them to settle",
        plan.settle_limit.as_secs()
    )
}

/// Every order `users` were told they won, with its winner.
pub(crate) fn acknowledged_orders(users: &[UserObservation]) -> Vec<PayOrder> {
    users
        .iter()
        .flat_map(|user| {
            user.acknowledged.iter().map(|win| PayOrder {
                user_id: user.user_id.clone(),
                order_id: win.order_id.clone(),
            })
        })
        .collect()
}

/// Runs the phase for the wins `users` (this run's users) were told about; their ids pick
/// this run's orders out of the winners list.
///
/// # Errors
/// The winners list cannot be read (an order read that fails is a recorded result instead).
pub(crate) async fn run(
    plan: &PayPlan,
    users: &[UserObservation],
    clock: Arc<dyn Clock>,
) -> Result<PaymentPhase, AdminError> {
    let orders = acknowledged_orders(users);
    let run_users: HashSet<&str> = users.iter().map(|user| user.user_id.as_str()).collect();
    let started = clock.now();
    let records = pay_all(plan, orders.clone(), clock.clone()).await;
    let paid_at = clock.now();
    let awaited: HashSet<&str> = orders
        .iter()
        .zip(&records)
        .filter(|(_, record)| record.code == OK_CODE || record.unresolved)
        .map(|(order, _)| order.order_id.as_str())
        .collect();

    let mut admin = AdminClient::new(plan.server, plan.admin_key.clone());
    let deadline = paid_at + plan.settle_limit;
    let mut settle_polls = 0u64;
    let (final_orders, settled_secs) = loop {
        let winners = admin.all_winners(&plan.campaign_id).await?;
        settle_polls += 1;
        let run_orders: Vec<Winner> = winners
            .into_iter()
            .filter(|winner| run_users.contains(winner.user_id.as_str()))
            .collect();
        let now = clock.now();
        let waiting = run_orders.iter().any(|order| {
            awaited.contains(order.order_id.as_str())
                && state_in(order.state.as_deref(), &UNSETTLED_STATES)
        });
        if !waiting {
            break (run_orders, Some((now - started).as_secs_f64()));
        }
        if now >= deadline {
            break (run_orders, None);
        }
        tokio::time::sleep(SETTLE_POLL_INTERVAL.min(deadline - now)).await;
    };

    let paid: Vec<String> = final_orders
        .iter()
        .filter(|order| order.state.as_deref() == Some(PAID))
        .map(|order| order.order_id.clone())
        .collect();
    let refunding: Vec<String> = final_orders
        .iter()
        .filter(|order| state_in(order.state.as_deref(), &REFUND_STATES))
        .take(MAX_REFUND_ORDER_READS)
        .map(|order| order.order_id.clone())
        .collect();
    let paid_reads = read_all(plan, sample_evenly(&paid, MAX_PAID_ORDER_READS)).await;
    let refund_reads = read_all(plan, refunding).await;

    let timing = Timing {
        pay_secs: (paid_at - started).as_secs_f64(),
        settled_secs,
        settle_polls,
        amount_reads: paid_reads.len() as u64,
    };
    let report = report(plan, &records, &final_orders, timing);
    let paid_ok = orders
        .iter()
        .zip(&records)
        .filter(|(_, record)| record.code == OK_CODE)
        .map(|(order, _)| order.order_id.clone())
        .collect();
    Ok(PaymentPhase {
        report,
        audit: PaymentsInput {
            paid_ok,
            final_orders,
            settle_limit_secs: plan.settle_limit.as_secs(),
            paid_reads,
            refund_reads,
        },
    })
}

async fn pay_all(plan: &PayPlan, orders: Vec<PayOrder>, clock: Arc<dyn Clock>) -> Vec<PayRecord> {
    let (secret, expires) = (plan.token_secret.clone(), plan.token_expires_unix);
    let server = plan.server;
    fan_out(
        orders,
        PAY_CONNECTIONS,
        move || Connection::new(server),
        move |mut connection, order: PayOrder| {
            let token = mint_token(&secret, &order.user_id, expires);
            let clock = clock.clone();
            async move {
                let path = format!("/v1/orders/{}/pay", percent_encode(&order.order_id));
                let sent = clock.now();
                let answer = connection
                    .send(
                        None,
                        Method::POST,
                        &path,
                        Some(&token),
                        Some(Bytes::from_static(b"{}")),
                    )
                    .await;
                let record = PayRecord::of(answer, clock.now() - sent);
                (connection, record)
            }
        },
    )
    .await
}

async fn read_all(plan: &PayPlan, order_ids: Vec<String>) -> Vec<OrderRead> {
    let (server, key) = (plan.server, plan.admin_key.clone());
    fan_out(
        order_ids,
        PAY_CONNECTIONS,
        move || AdminClient::new(server, key.clone()),
        |mut admin, order_id: String| async move {
            let result = admin.order(&order_id).await.map_err(|e| e.to_string());
            (admin, OrderRead { order_id, result })
        },
    )
    .await
}

/// The phase's timings and counts that are not in the records.
struct Timing {
    pay_secs: f64,
    settled_secs: Option<f64>,
    settle_polls: u64,
    amount_reads: u64,
}

fn report(
    plan: &PayPlan,
    records: &[PayRecord],
    final_orders: &[Winner],
    timing: Timing,
) -> PaymentReport {
    let mut failures = BTreeMap::new();
    let mut latency = new_histogram(SIGNIFICANT_FIGURES);
    for record in records {
        if record.code != OK_CODE {
            *failures.entry(record.code.clone()).or_default() += 1;
        }
        let micros = u64::try_from(record.latency.as_micros()).unwrap_or(u64::MAX);
        latency.saturating_record(micros.max(1));
    }
    let mut final_states = BTreeMap::new();
    for order in final_orders {
        let state = order.state.clone().unwrap_or_else(|| "unknown".to_owned());
        *final_states.entry(state).or_default() += 1;
    }
    let requests = records.len() as u64;
    PaymentReport {
        orders: requests,
        paid_ok: records
            .iter()
            .filter(|record| record.code == OK_CODE)
            .count() as u64,
        failures,
        pay_secs: timing.pay_secs,
        pay_requests_per_sec: if timing.pay_secs > 0.0 {
            requests as f64 / timing.pay_secs
        } else {
            0.0
        },
        pay_latency: LatencySummary::of_histogram(&latency),
        settle_limit_secs: plan.settle_limit.as_secs(),
        settled_secs: timing.settled_secs,
        settle_polls: timing.settle_polls,
        final_states,
        amount_reads: timing.amount_reads,
    }
}

#[cfg(test)]
mod tests;
