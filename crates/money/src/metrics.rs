//! Per-channel payment counters, registered once when the payment desk is built, so counting a
//! callback, a query or a refund is a lookup among at most
//! [`MAX_CHANNELS`](stampede_money::channel::router::MAX_CHANNELS) names and an atomic add:
//! no registry lookup, no label `String`.
//!
//! The metric names and labels are those the README documents:
//! `stampede_payment_callbacks_total{channel, outcome}`,
//! `stampede_payment_amount_mismatch_total{channel}`,
//! `stampede_payment_queries_failed_total{channel}`,
//! `stampede_payments_found_by_query_total{channel}` and
//! `stampede_refunds_total{channel, outcome}`. Registered counters show as 0 until used.
//!
//! A channel that is not configured (a payment journaled under a channel since removed from
//! the config, still owed a refund) is counted through the registry as before: rare, and its
//! name was validated when it was journaled.

use crate::channel::router::MAX_CHANNELS;
use metrics::Counter;
use stampede_core::ChannelName;

/// Every code [`stampede_core::PaymentOutcome::code`] answers; each gets a counter per channel.
pub const CALLBACK_OUTCOMES: &[&str] = &[
    "paid",
    "late_payment",
    "duplicate_payment",
    "already_recorded",
    "order_not_found",
    "amount_mismatch",
    "invalid_transition",
    "txn_conflict",
    "too_many_payments",
    "invalid_payment",
];

/// What a refund attempt came to, as counted in `stampede_refunds_total{outcome}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundCount {
    /// The channel refunded and the confirmation is journaled.
    Refunded,
    /// The channel declined the refund.
    Declined,
    /// The channel could not be reached (out of rotation, down, timed out).
    Unavailable,
    /// The channel answered with a refund id the ledger refuses (empty, too long, control
    /// characters): not confirmed, retried with backoff.
    InvalidReceipt,
}

impl RefundCount {
    const ALL: [RefundCount; 4] = [
        RefundCount::Refunded,
        RefundCount::Declined,
        RefundCount::Unavailable,
        RefundCount::InvalidReceipt,
    ];

    /// The `outcome` label.
    pub fn code(self) -> &'static str {
        match self {
            RefundCount::Refunded => "refunded",
            RefundCount::Declined => "declined",
            RefundCount::Unavailable => "unavailable",
            RefundCount::InvalidReceipt => "invalid_receipt",
        }
    }
}

/// One channel's counters.
struct ChannelCounters {
    name: ChannelName,
    /// Indexed like [`CALLBACK_OUTCOMES`].
    callbacks: Vec<Counter>,
    amount_mismatch: Counter,
    queries_failed: Counter,
    found_by_query: Counter,
    /// Indexed like [`RefundCount::ALL`].
    refunds: [Counter; 4],
}

/// The payment counters of every configured channel.
pub struct PaymentMetrics {
    channels: Vec<ChannelCounters>,
}

impl std::fmt::Debug for PaymentMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentMetrics")
            .field("channels", &self.channels.len())
            .finish_non_exhaustive()
    }
}

impl PaymentMetrics {
    /// Registers the counters of each channel in `names` with the installed recorder (install
    /// it first, or they count nowhere).
    ///
    /// # Panics
    /// If `names` holds more than [`MAX_CHANNELS`] names (the router refuses that many).
    pub fn register<'a>(names: impl IntoIterator<Item = &'a ChannelName>) -> Self {
        let channels: Vec<ChannelCounters> = names
            .into_iter()
            .map(|name| ChannelCounters {
                name: name.clone(),
                callbacks: CALLBACK_OUTCOMES
                    .iter()
                    .map(|&outcome| callback_counter(name, outcome))
                    .collect(),
                amount_mismatch: amount_mismatch_counter(name),
                queries_failed: queries_failed_counter(name),
                found_by_query: found_by_query_counter(name),
                refunds: RefundCount::ALL.map(|outcome| refund_counter(name, outcome)),
            })
            .collect();
        assert!(
            channels.len() <= MAX_CHANNELS,
            "PaymentMetrics::register: {} channels, at most {MAX_CHANNELS}",
            channels.len()
        );
        Self { channels }
    }

    fn channel(&self, name: &ChannelName) -> Option<&ChannelCounters> {
        self.channels.iter().find(|c| c.name == *name)
    }

    /// Counts a recorded (or refused) payment of `channel` by its outcome code.
    pub fn callback(&self, channel: &ChannelName, outcome: &'static str) {
        let registered = self.channel(channel).and_then(|c| {
            let at = CALLBACK_OUTCOMES.iter().position(|&o| o == outcome)?;
            Some(&c.callbacks[at])
        });
        debug_assert!(
            registered.is_some() || self.channel(channel).is_none(),
            "outcome {outcome:?} missing from CALLBACK_OUTCOMES"
        );
        match registered {
            Some(counter) => counter.increment(1),
            None => callback_counter(channel, outcome).increment(1),
        }
    }

    /// Counts a payment whose amount differed from its order's.
    pub fn amount_mismatch(&self, channel: &ChannelName) {
        match self.channel(channel) {
            Some(c) => c.amount_mismatch.increment(1),
            None => amount_mismatch_counter(channel).increment(1),
        }
    }

    /// Counts a failed query of `channel`.
    pub fn query_failed(&self, channel: &ChannelName) {
        match self.channel(channel) {
            Some(c) => c.queries_failed.increment(1),
            None => queries_failed_counter(channel).increment(1),
        }
    }

    /// Counts a payment a query of `channel` found and recorded.
    pub fn found_by_query(&self, channel: &ChannelName) {
        match self.channel(channel) {
            Some(c) => c.found_by_query.increment(1),
            None => found_by_query_counter(channel).increment(1),
        }
    }

    /// Counts a refund attempt on `channel`.
    pub fn refund(&self, channel: &ChannelName, outcome: RefundCount) {
        match self.channel(channel) {
            Some(c) => c.refunds[outcome as usize].increment(1),
            None => refund_counter(channel, outcome).increment(1),
        }
    }
}

fn callback_counter(channel: &ChannelName, outcome: &'static str) -> Counter {
    metrics::counter!("stampede_payment_callbacks_total", "channel" => channel.to_string(), "outcome" => outcome)
}

fn amount_mismatch_counter(channel: &ChannelName) -> Counter {
    metrics::counter!("stampede_payment_amount_mismatch_total", "channel" => channel.to_string())
}

fn queries_failed_counter(channel: &ChannelName) -> Counter {
    metrics::counter!("stampede_payment_queries_failed_total", "channel" => channel.to_string())
}

fn found_by_query_counter(channel: &ChannelName) -> Counter {
    metrics::counter!("stampede_payments_found_by_query_total", "channel" => channel.to_string())
}

fn refund_counter(channel: &ChannelName, outcome: RefundCount) -> Counter {
    metrics::counter!("stampede_refunds_total", "channel" => channel.to_string(), "outcome" => outcome.code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_exporter_prometheus::PrometheusBuilder;
    use stampede_core::{
        CampaignId, Cents, InvalidTransition, Order, OrderId, OrderState, PaymentKind,
        PaymentOutcome, UnixMillis, UserId,
    };

    fn name(s: &str) -> ChannelName {
        ChannelName::parse(s).unwrap()
    }

    fn order() -> Order {
        Order {
            id: OrderId(1),
            campaign_id: CampaignId(1),
            user_id: UserId::parse("alice").unwrap(),
            amount_cents: Cents(100),
            created_at: UnixMillis(0),
            state: OrderState::Paid,
            expires_at: None,
        }
    }

    #[test]
    fn every_payment_outcome_has_a_registered_counter() {
        let mut outcomes = vec![
            PaymentOutcome::NotFound,
            PaymentOutcome::AmountMismatch { expected: Cents(1) },
            PaymentOutcome::InvalidTransition(InvalidTransition {
                from: OrderState::Paid,
                to: OrderState::Paid,
            }),
            PaymentOutcome::TxnConflict,
            PaymentOutcome::TooManyPayments,
            PaymentOutcome::InvalidPayment(stampede_core::PaymentError::TxnId),
        ];
        for kind in [
            PaymentKind::Settled,
            PaymentKind::Late,
            PaymentKind::Duplicate,
        ] {
            outcomes.push(PaymentOutcome::Recorded {
                order: order(),
                kind,
            });
            outcomes.push(PaymentOutcome::AlreadyRecorded {
                order: order(),
                kind,
            });
        }
        for outcome in outcomes {
            assert!(CALLBACK_OUTCOMES.contains(&outcome.code()), "{outcome:?}");
        }
    }

    #[test]
    fn counts_land_under_the_documented_names_and_labels() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let counters = PaymentMetrics::register(&[name("sim"), name("alt")]);
            counters.callback(&name("sim"), "paid");
            counters.callback(&name("sim"), "paid");
            counters.callback(&name("alt"), "txn_conflict");
            counters.amount_mismatch(&name("sim"));
            counters.query_failed(&name("alt"));
            counters.found_by_query(&name("sim"));
            counters.refund(&name("sim"), RefundCount::Declined);
            // A channel no longer configured still counts, under its own name.
            counters.refund(&name("gone"), RefundCount::Refunded);
        });
        let text = handle.render();
        for line in [
            r#"stampede_payment_callbacks_total{channel="sim",outcome="paid"} 2"#,
            r#"stampede_payment_callbacks_total{channel="alt",outcome="txn_conflict"} 1"#,
            r#"stampede_payment_callbacks_total{channel="alt",outcome="paid"} 0"#,
            r#"stampede_payment_amount_mismatch_total{channel="sim"} 1"#,
            r#"stampede_payment_queries_failed_total{channel="alt"} 1"#,
            r#"stampede_payments_found_by_query_total{channel="sim"} 1"#,
            r#"stampede_refunds_total{channel="sim",outcome="declined"} 1"#,
            r#"stampede_refunds_total{channel="sim",outcome="refunded"} 0"#,
            r#"stampede_refunds_total{channel="gone",outcome="refunded"} 1"#,
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
    }
}
