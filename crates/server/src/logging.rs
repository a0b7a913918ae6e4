//! Logging that never slows a request down: lines go through a bounded in-memory queue to a
//! writer thread (tracing-appender's non-blocking writer), and when the queue is full a line is
//! dropped — and counted in `stampede_log_lines_dropped_total` — instead of making the request
//! that logged it wait for stderr. Text for a terminal, JSON (one object a line) for a log
//! shipper.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};

/// Most log lines waiting for the writer thread. A line is at most a few hundred bytes, so
/// this is a few MiB at worst: enough to ride out a burst of warnings (an auto-ban storm) or a
/// slow stderr for a few seconds; past it lines are dropped and counted, never waited for.
pub const MAX_BUFFERED_LOG_LINES: usize = 65_536;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (with colours on a terminal).
    #[default]
    Text,
    /// One JSON object a line (timestamp, level, target, fields).
    Json,
}

/// The lines dropped because the queue was full, for the metrics upkeep.
static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// Keeps the writer thread running; dropping it flushes what is queued.
#[derive(Debug)]
pub struct Logging {
    _guard: WorkerGuard,
}

/// Installs the global subscriber: `filter` (an `EnvFilter` directive; a bad one falls back to
/// `info`), `format`, written to stderr by a non-blocking writer. A second call leaves the
/// first subscriber in place (its lines still go out) and answers a guard of its own.
pub fn init(filter: &str, format: LogFormat) -> Logging {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = non_blocking(std::io::stderr());
    let _ = DROPPED.set(writer.error_counter());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
    };
    Logging { _guard: guard }
}

/// The bounded, lossy, non-blocking writer over `out`.
fn non_blocking<W: std::io::Write + Send + 'static>(
    out: W,
) -> (tracing_appender::non_blocking::NonBlocking, WorkerGuard) {
    NonBlockingBuilder::default()
        .buffered_lines_limit(MAX_BUFFERED_LOG_LINES)
        .lossy(true)
        .thread_name("stampede-log")
        .finish(out)
}

/// Log lines dropped so far because the queue was full (0 before [`init`]).
pub fn dropped_lines() -> u64 {
    DROPPED
        .get()
        .map_or(0, |counter| counter.dropped_lines() as u64)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// An output that never accepts a byte until released (a stalled stderr: a full pipe, a
    /// stuck log shipper).
    struct Stalled(mpsc::Receiver<()>);

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.recv();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_output_drops_and_counts_lines_instead_of_blocking_the_logger() {
        let (release, stalled) = mpsc::channel();
        let (mut writer, guard) = non_blocking(Stalled(stalled));
        let counter = writer.error_counter();
        let lines = MAX_BUFFERED_LOG_LINES + 1_000;
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            for i in 0..lines {
                let _ = writeln!(writer, "line {i}");
            }
            let _ = done.send(());
        });
        // Every write returns although nothing reaches the output: the logger never waits.
        finished
            .recv_timeout(Duration::from_secs(30))
            .expect("logging blocked on a stalled output");
        let dropped = counter.dropped_lines();
        assert!(
            dropped >= lines - MAX_BUFFERED_LOG_LINES - 1,
            "dropped {dropped} of {lines}"
        );
        drop(release);
        drop(guard);
    }
}
