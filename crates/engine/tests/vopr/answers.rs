//! What the requesters of one batch were told, checked against what they asked, and noted
//! in the model when it acknowledges a change. Every requester still waiting gets exactly one
//! answer: all `Ok` for a durable batch, all `Unavailable` for a batch whose append or fsync
//! failed (or that reached a writer already stopped by such a failure).

use std::fmt::Write;

use stampede_core::{
    ClaimStart, Command, CreateOutcome, GrabOutcome, OrderId, OrderOutcome, OrderState, Outcome,
    PaymentKind, PaymentOutcome, PayoutResult,
};
use stampede_engine::EngineError;
use tokio::sync::oneshot::error::TryRecvError;

use crate::model::Won;
use crate::sim::{Sim, Waiting};

/// How a batch was answered.
#[derive(Debug, Default)]
pub(crate) struct Answered {
    /// Answers `Ok`.
    pub ok: usize,
    /// Answers `Won`.
    pub wins: usize,
}

impl Sim {
    /// Reads every answer of a stepped batch (`failed`: its journal append failed, or the
    /// writer was stopped already), checks it and notes it; appends it to the trace `line`.
    pub(crate) fn settle(
        &mut self,
        waiting: Vec<Waiting>,
        failed: bool,
        keyed_before: &[OrderId],
        line: &mut String,
    ) -> Answered {
        let mut answered = Answered::default();
        let mut new_orders = std::collections::HashSet::new();
        for waiting in waiting {
            match waiting {
                Waiting::Decide(command, mut answer) => {
                    let answer = answer.try_recv();
                    let _ = write!(line, "[{command:?} => {answer:?}]");
                    match answer {
                        Ok(Ok(outcome)) => {
                            assert!(
                                !failed,
                                "{command:?} answered {outcome:?} by a failed batch"
                            );
                            answered.ok += 1;
                            // A key retried in the same batch answers the order its
                            // first grab made there: counted once.
                            if let Outcome::Grab(GrabOutcome::Won(ticket)) = &outcome
                                && !keyed_before.contains(&ticket.order_id)
                                && new_orders.insert(ticket.order_id)
                            {
                                answered.wins += 1;
                            }
                            self.note(command, outcome);
                        }
                        Ok(Err(error)) => unavailable(failed, &error),
                        Err(TryRecvError::Empty) => panic!("{command:?} was not answered"),
                        Err(TryRecvError::Closed) => panic!("{command:?} was dropped unanswered"),
                    }
                }
                Waiting::ExpirePass(mut answer) => {
                    let answer = answer.try_recv();
                    let _ = write!(line, "[expire pass => {answer:?}]");
                    match answer {
                        Ok(Ok(_)) => {
                            assert!(!failed, "an expiry pass answered by a failed batch");
                            answered.ok += 1;
                        }
                        Ok(Err(error)) => unavailable(failed, &error),
                        Err(e) => panic!("an expiry pass was not answered: {e:?}"),
                    }
                }
                Waiting::Shutdown => line.push_str("[shutdown]"),
                Waiting::Abandoned(command) => {
                    self.stats.abandoned += 1;
                    let _ = write!(line, "[abandoned {command:?}]");
                }
            }
        }
        answered
    }

    /// Notes an `Ok` answer to `command`, checking it against what was asked.
    fn note(&mut self, command: Command, outcome: Outcome) {
        let owner = |sim: &Sim, order| sim.acked.wins.get(&order).map(|w| w.user.clone());
        match (command, outcome) {
            (Command::CreateCampaign { spec }, Outcome::Created(created)) => match created {
                CreateOutcome::Created(id) => {
                    assert_eq!(spec.validate(), Ok(()), "an invalid spec was created");
                    self.acked.campaigns.push((id, spec));
                }
                CreateOutcome::Invalid(_) => {
                    assert!(spec.validate().is_err(), "valid spec refused")
                }
                CreateOutcome::TooManyCampaigns => panic!("too many campaigns in a small run"),
            },
            (
                Command::Grab {
                    campaign,
                    user,
                    key,
                },
                Outcome::Grab(grab),
            ) => {
                let known = self.acked.campaigns.iter().find(|(id, _)| *id == campaign);
                let scope = key.map(|key| (user.clone(), campaign, key));
                if let Some(first) = scope.as_ref().and_then(|s| self.acked.keyed.get(s)) {
                    assert!(
                        matches!(&grab, GrabOutcome::Won(t) if t.order_id == *first),
                        "a retry under {scope:?} answered {grab:?}, not its first win {first}"
                    );
                    self.stats.keyed_replays += 1;
                    return;
                }
                match grab {
                    GrabOutcome::Won(ticket) => {
                        if let Some(scope) = scope {
                            self.acked.keyed.insert(scope, ticket.order_id);
                        }
                        let (_, spec) = known.expect("a win in an acknowledged campaign");
                        let red_packet = spec.kind() == "red_packet";
                        let won = Won {
                            campaign,
                            user,
                            amount: ticket.amount_cents,
                            red_packet,
                        };
                        let order = ticket.order_id;
                        assert!(
                            self.acked.wins.insert(order, won).is_none(),
                            "{order} won twice"
                        );
                        self.acked.win_ids.push(order);
                        let state = if red_packet {
                            OrderState::Won
                        } else {
                            OrderState::PendingPayment
                        };
                        self.acked.state(order, state);
                        self.stats.wins += 1;
                    }
                    GrabOutcome::AlreadyWon(ticket) => {
                        let order = self.writer().inspect(|l| l.order(ticket.order_id));
                        assert!(
                            order.is_some_and(|o| o.user_id == user && o.campaign_id == campaign),
                            "already_won names {ticket:?}, not an order of {user:?}"
                        );
                    }
                    GrabOutcome::CampaignNotFound => {
                        assert!(known.is_none(), "an acknowledged campaign was not found")
                    }
                    GrabOutcome::SoldOut | GrabOutcome::NotStarted | GrabOutcome::Ended => {}
                }
            }
            (Command::Cancel { order, by }, Outcome::Order(moved)) => {
                let owner = owner(self, order);
                let stranger = by.is_some() && by != owner;
                match moved {
                    OrderOutcome::Moved(after) => {
                        assert!(!stranger, "{order} cancelled by another user");
                        assert_eq!(after.state, OrderState::Cancelled, "{order}");
                        self.assert_pending(order, "cancelled");
                        self.acked.state(order, OrderState::Cancelled);
                        self.stats.cancels += 1;
                    }
                    OrderOutcome::NotFound => {
                        assert!(stranger, "the owner's cancel of {order} found nothing")
                    }
                    OrderOutcome::InvalidTransition(_) => {
                        assert!(!stranger, "{order}: a stranger saw its state")
                    }
                }
            }
            (Command::StartPayment { order, by, .. }, Outcome::Order(moved)) => {
                let stranger = Some(by) != owner(self, order);
                match moved {
                    OrderOutcome::Moved(after) => {
                        assert!(!stranger, "{order}: payment started by another user");
                        assert_eq!(after.state, OrderState::Paying, "{order}");
                        self.acked.state(order, OrderState::Paying);
                    }
                    OrderOutcome::NotFound => {
                        assert!(stranger, "the owner's payment of {order} found nothing")
                    }
                    OrderOutcome::InvalidTransition(_) => {
                        assert!(!stranger, "{order}: a stranger saw its state")
                    }
                }
            }
            (Command::Expire { order }, Outcome::Expired(expired)) => {
                if expired {
                    self.assert_pending(order, "expired");
                    let red_packet = self.acked.wins.get(&order).is_some_and(|w| w.red_packet);
                    let state = if red_packet {
                        OrderState::ClaimExpired
                    } else {
                        OrderState::Expired
                    };
                    self.acked.state(order, state);
                    self.stats.read_expiries += 1;
                }
            }
            (Command::RecordPayment { order, payment }, Outcome::Payment(outcome)) => {
                let genuine = self.channel.is_genuine(order, &payment);
                let txn = payment.txn_id.clone();
                match outcome {
                    PaymentOutcome::Recorded { order: after, kind } if genuine => {
                        let expected = match kind {
                            PaymentKind::Settled | PaymentKind::Duplicate => OrderState::Paid,
                            PaymentKind::Late => OrderState::RefundPending,
                        };
                        assert_eq!(after.state, expected, "{txn} recorded {kind:?}");
                        let before = self.acked.payments.insert(txn.clone(), (order, kind));
                        assert_eq!(
                            before, None,
                            "acknowledged payment {txn} recorded again as new"
                        );
                        self.acked.state(order, after.state);
                        self.channel.acknowledge(&txn);
                        self.stats.count_payment(kind);
                    }
                    PaymentOutcome::AlreadyRecorded { kind, .. } if genuine => {
                        let acked = *self
                            .acked
                            .payments
                            .entry(txn.clone())
                            .or_insert((order, kind));
                        assert_eq!(acked, (order, kind), "{txn} changed what it came to");
                        self.channel.acknowledge(&txn);
                    }
                    PaymentOutcome::AmountMismatch { .. } if !genuine => {}
                    other => panic!("callback of {txn} (genuine: {genuine}) answered {other:?}"),
                }
            }
            (
                Command::ConfirmRefund {
                    order,
                    payment,
                    refund_id,
                },
                Outcome::RefundConfirmed(done),
            ) => {
                if done {
                    let receipt = self.channel.refunded(&payment.txn_id);
                    assert_eq!(
                        receipt,
                        Some(refund_id.as_str()),
                        "confirmed another receipt"
                    );
                    self.acked
                        .refunds
                        .insert(payment.txn_id, (order, refund_id));
                    self.stats.refunds += 1;
                }
            }
            (Command::StartClaim { order, by }, Outcome::ClaimStarted(start)) => {
                let stranger = by.is_some() && by != owner(self, order);
                match start {
                    ClaimStart::Started(after) => {
                        assert!(!stranger, "{order} claimed by another user");
                        assert_eq!(after.state, OrderState::Claiming, "{order}");
                        self.acked.state(order, OrderState::Claiming);
                        // Durable `claiming`: the payout may be called now.
                        self.to_pay.push(order);
                    }
                    ClaimStart::Claimed(_, payout) => {
                        assert!(!stranger, "{order}: a stranger saw its payout");
                        assert_eq!(Some(payout), self.provider.query(order), "{order}");
                    }
                    ClaimStart::NotFound => {
                        assert!(stranger, "the owner's claim of {order} found nothing")
                    }
                    ClaimStart::InFlight(_) | ClaimStart::InvalidTransition(_) => {
                        assert!(!stranger, "{order}: a stranger saw its state")
                    }
                }
            }
            (Command::FinishClaim { order, result }, Outcome::ClaimFinished(done)) => {
                if done {
                    match result {
                        PayoutResult::Paid(payout) => {
                            self.acked.state(order, OrderState::Claimed);
                            self.acked.payouts.insert(order, payout);
                            self.stats.claims_paid += 1;
                        }
                        PayoutResult::NotPaid => {
                            self.acked.state(order, OrderState::Won);
                            self.stats.claims_declined += 1;
                        }
                    }
                }
            }
            (command, outcome) => panic!("{command:?} answered with another kind: {outcome:?}"),
        }
    }
}

impl Sim {
    /// `order` was still waiting for payment or a claim (a release or an expiry of it was just
    /// acknowledged): neither acknowledged nor durable in a state that already left it, so
    /// nothing is released or expired twice.
    fn assert_pending(&self, order: stampede_core::OrderId, what: &str) {
        // `claiming` too: a declined payout, decided in this batch (its answer maybe unseen:
        // it is decided even if its requester gave up), puts a packet back to `won`.
        let pending = |state: OrderState| {
            matches!(
                state,
                OrderState::PendingPayment
                    | OrderState::Paying
                    | OrderState::Won
                    | OrderState::Claiming
            )
        };
        let acked = self.acked.states.get(&order).copied();
        let durable = self.image.orders.get(&order).map(|o| o.state);
        assert!(
            acked.is_none_or(pending) && durable.is_none_or(pending),
            "{order} {what} twice: acknowledged {acked:?}, durable {durable:?} before"
        );
    }
}

/// An error answer: only a failed batch may give one, and only `Unavailable`.
fn unavailable(failed: bool, error: &EngineError) {
    assert!(failed, "a durable batch answered an error: {error}");
    assert!(
        matches!(error, EngineError::Unavailable(_)),
        "unexpected error {error}"
    );
}
