//! `stampede reconcile`: reads the given channel statements and the simulated channels' own
//! books found in the data directory (as the server's reconciliation job reads them: see
//! [`crate::channel_books`]), replays the journal in the data directory read-only (a server
//! may be running on it), reconciles the ledger against itself and the statements
//! ([`stampede_money::reconciliation::reconcile_journal`], the step the server's job takes too),
//! and prints the report. A `--statement` file may be a CSV statement or a channel's books.
//!
//! Exit status: 0 clean; 1 discrepancies found (listed in the report); 2 usage or I/O errors
//! (bad arguments, unreadable journal or statement, a statement line that does not parse).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use stampede_core::{ChannelName, ReconciliationReport, Statement, UnixMillis};
use stampede_engine::{Clock, SystemClock};
use stampede_money::reconciliation::reconcile_journal;

use crate::channel_books::{books_in, is_channel_books, read_books};
use crate::statement_csv::read_statement;

/// Exit status of a clean run.
const EXIT_CLEAN: u8 = 0;
/// Exit status when the report lists discrepancies.
const EXIT_DISCREPANCIES: u8 = 1;
/// Exit status of a usage or I/O error (clap uses 2 for usage errors too).
const EXIT_ERROR: u8 = 2;

/// Arguments of `stampede reconcile`.
#[derive(clap::Args, Debug)]
pub(crate) struct ReconcileArgs {
    /// The server's data directory; its journal (journal.log) is read, never modified.
    #[arg(long, env = "STAMPEDE_DATA_DIR", default_value = "stampede-data")]
    pub data_dir: PathBuf,
    /// A channel's statement, as CHANNEL=PATH: a CSV file with the header
    /// `txn_id,order_id,amount_cents,time` (time in RFC 3339 or Unix milliseconds), or a
    /// simulated channel's books (`<data-dir>/channel-<name>.log`). Repeat once per channel.
    /// Without one, a channel whose books are in the data directory is checked against them
    /// (as the server does); other channels are not compared.
    #[arg(long = "statement", value_name = "CHANNEL=PATH", value_parser = parse_statement_arg)]
    pub statements: Vec<StatementArg>,
    /// Also write the report as JSON to PATH (`-`: standard output, and the text report goes
    /// to standard error).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
}

/// One `--statement CHANNEL=PATH`.
#[derive(Clone, Debug)]
pub(crate) struct StatementArg {
    channel: ChannelName,
    path: PathBuf,
}

fn parse_statement_arg(value: &str) -> Result<StatementArg, String> {
    let (channel, path) = value
        .split_once('=')
        .ok_or_else(|| format!("{value:?} is not CHANNEL=PATH"))?;
    let channel = ChannelName::parse(channel).map_err(|e| format!("{channel:?}: {e}"))?;
    if path.is_empty() {
        return Err(format!("{value:?}: the path is empty"));
    }
    Ok(StatementArg {
        channel,
        path: PathBuf::from(path),
    })
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("stampede reconcile: {message}");
    ExitCode::from(EXIT_ERROR)
}

/// Runs the command; see the module docs for the exit status.
pub(crate) fn run(args: ReconcileArgs) -> ExitCode {
    let mut channels: Vec<&ChannelName> = args.statements.iter().map(|s| &s.channel).collect();
    channels.sort_unstable();
    if let Some(twice) = channels.windows(2).find(|w| w[0] == w[1]) {
        return fail(format!(
            "--statement: channel {:?} given twice (one statement file per channel)",
            twice[0]
        ));
    }
    // Statements first, as the server's job draws them: a bad file fails before the replay.
    let now = SystemClock::new().now();
    let statements = match draw_statements(&args, now) {
        Ok(statements) => statements,
        Err(e) => return fail(e),
    };
    let journal = args.data_dir.join(stampede_server::JOURNAL_FILE);
    let (report, info) = match reconcile_journal(&journal, &statements, now) {
        Ok(reconciled) => reconciled,
        Err(e) => return fail(e),
    };
    eprintln!(
        "replayed {} records ({} bytes, {} campaigns, {} orders) from {} in {} ms",
        info.records,
        info.valid_bytes,
        info.campaigns,
        info.orders,
        journal.display(),
        info.replay_millis
    );
    if let Some(defect) = &info.tail_defect {
        eprintln!(
            "warning: ignored {} bytes after the last valid record ({defect}): a torn last \
             batch, or one a running server is writing; the journal was not modified",
            info.ignored_tail_bytes
        );
    }
    if let Err(e) = print(&report, args.json.as_deref()) {
        return fail(e);
    }
    if report.is_clean() {
        ExitCode::from(EXIT_CLEAN)
    } else {
        ExitCode::from(EXIT_DISCREPANCIES)
    }
}

/// The statements to check against: each `--statement` (a CSV statement or a channel's
/// books), then the books in the data directory of every other channel.
fn draw_statements(args: &ReconcileArgs, now: UnixMillis) -> Result<Vec<Statement>, String> {
    // The server's default grace: payments younger than that may not be journaled yet.
    let grace_ms = stampede_server::Config::default()
        .reconcile_grace_secs
        .saturating_mul(1_000);
    let cutoff = UnixMillis(now.0.saturating_sub(grace_ms));
    let mut statements: Vec<Statement> = Vec::with_capacity(args.statements.len());
    for arg in &args.statements {
        let books = is_channel_books(&arg.path)
            .map_err(|e| format!("{}: cannot open: {e}", arg.path.display()))?;
        statements.push(if books {
            read_books(&arg.channel, &arg.path, cutoff)?
        } else {
            read_statement(&arg.channel, &arg.path).map_err(|e| e.to_string())?
        });
    }
    if !args.data_dir.is_dir() {
        // The replay names the missing journal.
        return Ok(statements);
    }
    for (channel, path) in books_in(&args.data_dir)? {
        if args.statements.iter().any(|arg| arg.channel == channel) {
            continue;
        }
        eprintln!(
            "checking channel {channel} against its books {} (payments up to {} s ago)",
            path.display(),
            grace_ms / 1_000
        );
        statements.push(read_books(&channel, &path, cutoff)?);
    }
    Ok(statements)
}

/// Prints the text report (to stdout, or stderr when the JSON goes to stdout) and writes the
/// JSON if asked.
fn print(report: &ReconciliationReport, json: Option<&Path>) -> Result<(), String> {
    let json_to_stdout = json.is_some_and(|p| p == Path::new("-"));
    let text = report.to_string();
    // Written, not `print!`ed: a closed pipe (`| head`) is an error to report, not a panic.
    let written = if json_to_stdout {
        std::io::stderr().lock().write_all(text.as_bytes())
    } else {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
    };
    written.map_err(|e| format!("writing the report: {e}"))?;
    let Some(path) = json else {
        return Ok(());
    };
    let mut encoded =
        serde_json::to_vec_pretty(report).map_err(|e| format!("encoding the report: {e}"))?;
    encoded.push(b'\n');
    if json_to_stdout {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(&encoded)
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("writing the JSON report: {e}"))
    } else {
        std::fs::write(path, encoded)
            .map_err(|e| format!("writing the JSON report to {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_arguments_are_checked() {
        let arg = parse_statement_arg("sim=/tmp/a=b.csv").unwrap();
        assert_eq!(arg.channel, "sim");
        assert_eq!(arg.path, PathBuf::from("/tmp/a=b.csv"));
        assert!(
            parse_statement_arg("sim")
                .unwrap_err()
                .contains("CHANNEL=PATH")
        );
        assert!(
            parse_statement_arg("Sim=x").is_err(),
            "channel names are lowercase"
        );
        assert!(parse_statement_arg("sim=").is_err());
    }
}
