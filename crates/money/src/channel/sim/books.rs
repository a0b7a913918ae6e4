//! A simulated channel's books as a file in the data directory, `channel-<name>.log`, read by
//! someone other than the channel: `stampede reconcile` checks the journal against them as the
//! server's reconciliation job checks it against the open channel's statement.

use std::io;
use std::path::Path;

use stampede_core::{ChannelName, StatementLine};

use super::MAX_SIM_TRANSACTIONS;
use super::book::Book;
use super::store::Store;

/// The name of the books file of the simulated channel `channel` in a data directory.
pub fn books_file_name(channel: &ChannelName) -> String {
    format!("channel-{channel}.log")
}

/// The channel whose books `file_name` would be, if it is named like [`books_file_name`]
/// makes (the name is not validated here).
pub fn channel_of_books_file(file_name: &str) -> Option<&str> {
    file_name
        .strip_prefix("channel-")?
        .strip_suffix(".log")
        .filter(|channel| !channel.is_empty())
}

/// The statement the books at `path` give for `channel`: every payment it took, refunded
/// ones included, in time order — what [`SimChannel::statement`](super::SimChannel::statement)
/// answers once the channel has opened them. Read only: the file is neither created nor
/// changed, and a torn last line (a write in progress) is left out.
///
/// # Errors
/// The file cannot be read, holds a line that does not parse (naming the file and line), or
/// more than [`MAX_SIM_TRANSACTIONS`] payments.
pub fn read_books_statement(path: &Path, channel: &ChannelName) -> io::Result<Vec<StatementLine>> {
    let loaded = Store::read(path, channel)?;
    if loaded.payments.len() > MAX_SIM_TRANSACTIONS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{}: more than MAX_SIM_TRANSACTIONS payments",
                path.display()
            ),
        ));
    }
    let mut book = Book::new(MAX_SIM_TRANSACTIONS);
    for (order, payment) in loaded.payments {
        book.restore_payment(order, payment);
    }
    for (key, txn, receipt) in loaded.refunds {
        book.restore_refund(key, txn, receipt);
    }
    Ok(book.statement())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip() {
        assert_eq!(
            books_file_name(&ChannelName::parse("sim").unwrap()),
            "channel-sim.log"
        );
        assert_eq!(channel_of_books_file("channel-sim.log"), Some("sim"));
        assert_eq!(channel_of_books_file("channel-.log"), None);
        assert_eq!(channel_of_books_file("journal.log"), None);
        assert_eq!(channel_of_books_file("channel-sim.log.tmp"), None);
    }
}
