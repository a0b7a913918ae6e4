//! A channel's statement file: CSV with a header row naming `txn_id`, `order_id`,
//! `amount_cents` and `time` (in any order, no other column), one payment per line. `time` is
//! RFC 3339 (`2026-11-11T12:00:00Z`, any offset) or Unix milliseconds. Every bad line is an
//! error naming the file, its line number and the field; nothing is half-read.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use stampede_core::{
    Cents, ChannelName, MAX_CENTS, MAX_TXN_ID_BYTES, OrderId, Statement, StatementLine, UnixMillis,
    validate_txn_id,
};

pub(crate) use stampede_core::reconcile::MAX_STATEMENT_LINES;

/// Largest statement file read, in bytes: [`MAX_STATEMENT_LINES`] lines of about 200 bytes
/// (a 128-byte transaction id, an order id, an amount, an RFC 3339 time). Past it the file is
/// refused rather than read into memory.
pub(crate) const MAX_STATEMENT_FILE_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// The columns a statement must have.
const COLUMNS: [&str; 4] = ["txn_id", "order_id", "amount_cents", "time"];

/// Why a statement file cannot be used.
#[derive(Debug)]
pub(crate) struct StatementError {
    /// The file.
    pub source_name: String,
    /// The line at fault (1-based, the header is line 1), when it is one line.
    pub line: Option<u64>,
    /// What is wrong, naming the field when it is one field.
    pub problem: String,
}

impl fmt::Display for StatementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}: line {line}: {}", self.source_name, self.problem),
            None => write!(f, "{}: {}", self.source_name, self.problem),
        }
    }
}

impl std::error::Error for StatementError {}

/// Reads the statement of `channel` from the file at `path`.
pub(crate) fn read_statement(
    channel: &ChannelName,
    path: &Path,
) -> Result<Statement, StatementError> {
    let source_name = path.display().to_string();
    let fail = |problem: String| StatementError {
        source_name: source_name.clone(),
        line: None,
        problem,
    };
    let file = File::open(path).map_err(|e| fail(format!("cannot open: {e}")))?;
    parse_statement(channel, &source_name, file)
}

/// Parses a statement of `channel` from `input` (named `source_name` in errors).
pub(crate) fn parse_statement(
    channel: &ChannelName,
    source_name: &str,
    input: impl Read,
) -> Result<Statement, StatementError> {
    let fail = |line: Option<u64>, problem: String| StatementError {
        source_name: source_name.to_owned(),
        line,
        problem,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(Capped::new(input, MAX_STATEMENT_FILE_BYTES));
    let headers = reader
        .headers()
        .map_err(|e| fail(Some(1), csv_problem(&e)))?
        .clone();
    let at = column_positions(&headers).map_err(|problem| fail(Some(1), problem))?;
    let mut lines = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map(|p| p.line());
                return Err(fail(line, csv_problem(&e)));
            }
        }
        let line_number = record.position().map_or(0, |p| p.line());
        if lines.len() >= MAX_STATEMENT_LINES {
            return Err(fail(
                Some(line_number),
                format!("more than {MAX_STATEMENT_LINES} lines"),
            ));
        }
        let line = parse_line(&record, &at).map_err(|problem| fail(Some(line_number), problem))?;
        lines.push(line);
    }
    Ok(Statement {
        covers_until: None,
        txn_prefix: None,
        channel: channel.clone(),
        lines,
    })
}

fn csv_problem(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Io(e) => format!("cannot read: {e}"),
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        _ => error.to_string(),
    }
}

/// Where each of [`COLUMNS`] is in the header.
fn column_positions(headers: &csv::StringRecord) -> Result<[usize; 4], String> {
    let expected = COLUMNS.join(",");
    let mut at = [usize::MAX; 4];
    for (position, name) in headers.iter().enumerate() {
        let Some(column) = COLUMNS.iter().position(|c| *c == name) else {
            return Err(format!(
                "header: unknown column {name:?} (expected {expected})"
            ));
        };
        if at[column] != usize::MAX {
            return Err(format!("header: column {name:?} twice"));
        }
        at[column] = position;
    }
    if let Some(missing) = (0..COLUMNS.len()).find(|&c| at[c] == usize::MAX) {
        return Err(format!(
            "header: no {:?} column (expected {expected})",
            COLUMNS[missing]
        ));
    }
    Ok(at)
}

fn parse_line(record: &csv::StringRecord, at: &[usize; 4]) -> Result<StatementLine, String> {
    let field = |i: usize| record.get(at[i]).unwrap_or("");
    let txn_id = field(0);
    // The rule a callback's txn_id is held to; the message keeps this file's `field: ...` form.
    validate_txn_id(txn_id).map_err(|_| {
        format!("txn_id: must be 1..={MAX_TXN_ID_BYTES} bytes without control characters")
    })?;
    let order = field(1);
    let order_id = OrderId::parse(order)
        .ok_or_else(|| format!("order_id: {order:?} is not an order id (o_ and 32 hex digits)"))?;
    let amount = field(2);
    let amount_cents = digits(amount)
        .filter(|&cents| cents <= MAX_CENTS)
        .map(Cents)
        .ok_or_else(|| {
            format!("amount_cents: {amount:?} is not a whole number of cents up to {MAX_CENTS}")
        })?;
    let at = parse_time(field(3))?;
    Ok(StatementLine {
        txn_id: txn_id.to_owned(),
        order_id,
        amount_cents,
        at,
    })
}

/// A number of only ASCII digits (no sign, no decimal point, no spaces).
fn digits(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// RFC 3339, or Unix milliseconds.
fn parse_time(value: &str) -> Result<UnixMillis, String> {
    if let Some(millis) = digits(value) {
        return Ok(UnixMillis(millis));
    }
    stampede_api::timefmt::parse_rfc3339("time", value)
        .map_err(|e| format!("{e}, nor Unix milliseconds: {value:?}"))
}

/// A reader that fails once more than `cap` bytes were read, so an oversized (or endless)
/// statement is refused instead of filling memory.
struct Capped<R> {
    inner: R,
    left: u64,
}

impl<R> Capped<R> {
    fn new(inner: R, cap: u64) -> Self {
        Self { inner, left: cap }
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.left = self.left.checked_sub(read as u64).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("file larger than {MAX_STATEMENT_FILE_BYTES} bytes"),
            )
        })?;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = "o_0123456789abcdef0123456789abcdef";

    fn sim() -> ChannelName {
        ChannelName::parse("sim").unwrap()
    }

    fn parse(text: &str) -> Result<Statement, StatementError> {
        parse_statement(&sim(), "s.csv", text.as_bytes())
    }

    #[test]
    fn both_time_forms_and_any_column_order() {
        let text = format!(
            "txn_id,order_id,amount_cents,time\n\
             t1,{ORDER},100,1700000000000\n\
             \"t,2\", {ORDER} ,250,2026-11-11T20:00:00+08:00\n"
        );
        let statement = parse(&text).unwrap();
        assert_eq!(statement.channel, "sim");
        assert_eq!(statement.lines.len(), 2);
        assert_eq!(statement.lines[0].at, UnixMillis(1_700_000_000_000));
        assert_eq!(statement.lines[1].txn_id, "t,2");
        assert_eq!(statement.lines[1].amount_cents, Cents(250));
        assert_eq!(statement.lines[1].at, UnixMillis(1_794_398_400_000));
        let reordered = format!("time,amount_cents,order_id,txn_id\n5,7,{ORDER},t\n");
        let line = &parse(&reordered).unwrap().lines[0];
        assert_eq!((line.at, line.amount_cents), (UnixMillis(5), Cents(7)));
        assert!(
            parse("txn_id,order_id,amount_cents,time\n")
                .unwrap()
                .lines
                .is_empty()
        );
    }

    #[test]
    fn every_bad_line_names_its_line_and_field() {
        let cases = [
            (format!(",{ORDER},1,1"), "txn_id"),
            (
                format!("{},{ORDER},1,1", "t".repeat(MAX_TXN_ID_BYTES + 1)),
                "txn_id",
            ),
            (format!("t\u{1}x,{ORDER},1,1"), "txn_id"),
            (format!("t,{},1,1", "o_12"), "order_id"),
            (format!("t,{ORDER},12.50,1"), "amount_cents"),
            (format!("t,{ORDER},-1,1"), "amount_cents"),
            (format!("t,{ORDER},{},1", MAX_CENTS + 1), "amount_cents"),
            (format!("t,{ORDER},1,yesterday"), "time"),
            (format!("t,{ORDER},1"), "fields where the header has 4"),
        ];
        for (line, field) in cases {
            let text = format!("txn_id,order_id,amount_cents,time\nok,{ORDER},1,1\n{line}\n");
            let error = parse(&text).unwrap_err();
            assert_eq!(error.line, Some(3), "{line}: {error}");
            let message = error.to_string();
            assert!(message.starts_with("s.csv: line 3: "), "{message}");
            assert!(message.contains(field), "{line}: {message}");
        }
    }

    #[test]
    fn the_header_must_name_the_four_columns() {
        for (header, problem) in [
            ("txn_id,order_id,amount_cents", "no \"time\" column"),
            (
                "txn_id,order_id,amount_cents,time,note",
                "unknown column \"note\"",
            ),
            ("txn_id,txn_id,amount_cents,time", "twice"),
        ] {
            let error = parse(&format!("{header}\n")).unwrap_err();
            assert_eq!(error.line, Some(1));
            assert!(error.to_string().contains(problem), "{error}");
        }
    }

    #[test]
    fn oversized_input_is_refused() {
        let mut capped = Capped::new(&b"0123456789"[..], 4);
        let mut buf = [0; 16];
        let error = capped.read(&mut buf).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let error = read_statement(&sim(), Path::new("/nonexistent/s.csv")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("/nonexistent/s.csv: cannot open")
        );
    }
}
