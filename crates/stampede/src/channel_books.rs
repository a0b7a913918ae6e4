//! The simulated channels' own books (`<data-dir>/channel-<name>.log`) as statements for
//! `stampede reconcile`, drawn as the server's reconciliation job draws them: every payment
//! the channel took up to a cut-off `reconcile_grace_secs` (the server's default) ago, since
//! a running server may hold younger payments the journal has not reached yet.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use stampede_core::{ChannelName, Statement, UnixMillis};
use stampede_money::channel::{channel_of_books_file, read_books_statement};

/// Whether the file at `path` is a simulated channel's books rather than a CSV statement: its
/// first line is a payment (`p<TAB>…`) or a refund (`r<TAB>…`), or it is empty (a channel
/// that took nothing yet). A CSV statement starts with its header.
pub(crate) fn is_channel_books(path: &Path) -> io::Result<bool> {
    let mut start = [0u8; 2];
    let mut file = std::fs::File::open(path)?;
    let mut read = 0;
    while read < start.len() {
        match file.read(&mut start[read..])? {
            0 => break,
            n => read += n,
        }
    }
    Ok(read == 0 || matches!(&start[..read], b"p\t" | b"r\t"))
}

/// The statement of `channel` from its books at `path`, covering payments up to `cutoff`.
pub(crate) fn read_books(
    channel: &ChannelName,
    path: &Path,
    cutoff: UnixMillis,
) -> Result<Statement, String> {
    let mut lines = read_books_statement(path, channel)
        .map_err(|e| format!("{}: channel books: {e}", path.display()))?;
    lines.retain(|line| line.at <= cutoff);
    Ok(Statement {
        channel: channel.clone(),
        lines,
        covers_until: Some(cutoff),
        txn_prefix: None,
    })
}

/// Every simulated channel's books in `data_dir`, as `(channel, path)` sorted by channel.
/// Files named like books but for an invalid channel name are skipped with a warning.
pub(crate) fn books_in(data_dir: &Path) -> Result<Vec<(ChannelName, PathBuf)>, String> {
    let entries = std::fs::read_dir(data_dir)
        .map_err(|e| format!("{}: cannot list: {e}", data_dir.display()))?;
    let mut books = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: cannot list: {e}", data_dir.display()))?;
        let name = entry.file_name();
        let Some(channel) = name.to_str().and_then(channel_of_books_file) else {
            continue;
        };
        let channel = match ChannelName::parse(channel) {
            Ok(channel) => channel,
            Err(e) => {
                eprintln!(
                    "warning: {} is not a channel's books ({e}); skipped",
                    entry.path().display()
                );
                continue;
            }
        };
        books.push((channel, entry.path()));
    }
    books.sort();
    Ok(books)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn books_are_told_from_csv_statements() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let books = file("channel-sim.log", "p\to_1\tsim-1\t100\t5\n");
        let refund_first = file("channel-alt.log", "r\tk\tsim-1\tsimr-1\n");
        let empty = file("channel-new.log", "");
        let csv = file("sim.csv", "txn_id,order_id,amount_cents,time\n");
        for books in [&books, &refund_first, &empty] {
            assert!(is_channel_books(books).unwrap(), "{}", books.display());
        }
        assert!(!is_channel_books(&csv).unwrap());
        file("channel-Bad.log", "");
        file("journal.log", "");
        let found: Vec<String> = books_in(dir.path())
            .unwrap()
            .into_iter()
            .map(|(channel, _)| channel.to_string())
            .collect();
        assert_eq!(found, ["alt", "new", "sim"]);
    }
}
