//! [`Store`]: the simulated channel's own books on disk, so that, like a real channel (another
//! company, with its own database), it remembers its payments and refunds when our server
//! restarts: a refund asked again after a restart answers the first receipt, and its
//! statement still lists every payment for reconciliation.
//!
//! One line per event, appended and written (not fsynced: a process crash does not lose it,
//! and the simulator does not model a power cut), tab-separated (ids never hold control
//! characters): `p order txn amount_cents paid_at_ms` and `r key txn refund_id`. A torn last
//! line (the process died mid-write) is cut on open.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use stampede_core::{Cents, ChannelName, OrderId, Payment, UnixMillis};

use crate::channel::RefundReceipt;

/// What the file held.
#[derive(Debug, Default)]
pub(super) struct Loaded {
    /// Payments in the order made.
    pub(super) payments: Vec<(OrderId, Payment)>,
    /// Refunds in the order made: (idempotency key, txn id, receipt).
    pub(super) refunds: Vec<(String, String, RefundReceipt)>,
}

/// The append-only file.
#[derive(Debug)]
pub(super) struct Store {
    file: File,
}

impl Store {
    /// Opens (or creates) the file, cuts a torn last line and reads what it holds.
    pub(super) fn open(path: &Path, channel: &ChannelName) -> io::Result<(Self, Loaded)> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        let complete = text.rfind('\n').map_or(0, |end| end + 1);
        if complete < text.len() {
            tracing::warn!(path = %path.display(), cut = text.len() - complete,
                "sim channel store: torn last line cut");
            file.set_len(complete as u64)?;
        }
        let loaded = parse_complete_lines(&text[..complete], path, channel)?;
        Ok((Self { file }, loaded))
    }

    /// Reads what the file at `path` holds without creating or changing it (its channel may
    /// be appending to it now): a torn last line is left out, not cut.
    pub(super) fn read(path: &Path, channel: &ChannelName) -> io::Result<Loaded> {
        let text = std::fs::read_to_string(path)?;
        let complete = text.rfind('\n').map_or(0, |end| end + 1);
        parse_complete_lines(&text[..complete], path, channel)
    }

    /// Appends a payment.
    pub(super) fn payment(&mut self, order: OrderId, payment: &Payment) {
        let line = format!(
            "p\t{order}\t{}\t{}\t{}\n",
            payment.txn_id, payment.amount_cents.0, payment.paid_at.0
        );
        self.append(&line);
    }

    /// Appends a refund.
    pub(super) fn refund(&mut self, key: &str, txn_id: &str, receipt: &RefundReceipt) {
        self.append(&format!("r\t{key}\t{txn_id}\t{}\n", receipt.refund_id));
    }

    fn append(&mut self, line: &str) {
        if let Err(error) = self.file.write_all(line.as_bytes()) {
            // The simulator's own disk failing is not the engine's problem; it is logged and
            // the event stays in memory.
            tracing::error!(%error, "sim channel store: append failed");
        }
    }
}

fn parse_complete_lines(text: &str, path: &Path, channel: &ChannelName) -> io::Result<Loaded> {
    let mut loaded = Loaded::default();
    for (number, line) in text.lines().enumerate() {
        parse_line(line, channel, &mut loaded).map_err(|why| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}:{}: {why}", path.display(), number + 1),
            )
        })?;
    }
    Ok(loaded)
}

fn parse_line(line: &str, channel: &ChannelName, loaded: &mut Loaded) -> Result<(), String> {
    let fields: Vec<&str> = line.split('\t').collect();
    match fields.as_slice() {
        ["p", order, txn, amount, at] => {
            let order = OrderId::parse(order).ok_or("bad order id")?;
            let amount = amount.parse().map_err(|_| "bad amount")?;
            let at = at.parse().map_err(|_| "bad time")?;
            loaded.payments.push((
                order,
                Payment {
                    channel: channel.clone(),
                    txn_id: (*txn).to_owned(),
                    amount_cents: Cents(amount),
                    paid_at: UnixMillis(at),
                },
            ));
            Ok(())
        }
        ["r", key, txn, refund_id] => {
            loaded.refunds.push((
                (*key).to_owned(),
                (*txn).to_owned(),
                RefundReceipt {
                    refund_id: (*refund_id).to_owned(),
                },
            ));
            Ok(())
        }
        _ => Err(format!("unreadable line {line:?}")),
    }
}
