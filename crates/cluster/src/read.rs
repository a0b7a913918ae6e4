//! Reading a shard's records from a position up to the tip as it is when the read starts.

use async_nats::jetstream::stream;
use stampede_journal::OnRecord;

use crate::error::{NatsError, ReadError};
use crate::limits::MAX_READ_FAILURES;
use crate::locate::{self, locate};
use crate::reader::SubjectReader;
use crate::walk::Walk;

/// Calls `on_record(position, payload)` for every record at `from` or later, up to the tip as
/// the read starts, and answers the position after the last record (at least `from`).
///
/// # Errors
/// [`ReadError::Trimmed`] if `from` is below what the log still holds; [`ReadError::Apply`]
/// if `on_record` fails; other [`ReadError`]s for NATS failures or damage.
pub async fn read_records(
    stream: &stream::Stream,
    subject: &str,
    from: u64,
    on_record: &mut OnRecord<'_>,
) -> Result<u64, ReadError> {
    let tip = locate::tip(stream, subject).await?;
    if from >= tip.next_position {
        return Ok(from);
    }
    let Some(start) = locate(stream, subject, from, tip).await? else {
        return Ok(from);
    };
    let mut reader = SubjectReader::new(stream.clone(), subject.to_string(), start);
    let mut walk = Walk { expected: None };
    let mut empty_fetches = 0;
    while reader.next_seq() <= tip.last_seq {
        let messages = reader.next_batch().await?;
        if messages.is_empty() {
            // The messages up to the tip exist (or were trimmed meanwhile): a reader that
            // keeps getting nothing is stuck, not early.
            empty_fetches += 1;
            if empty_fetches >= MAX_READ_FAILURES {
                return Err(NatsError::new(
                    "reading the log",
                    format!(
                        "no message after stream sequence {} though the tip is {}",
                        reader.next_seq(),
                        tip.last_seq
                    ),
                )
                .into());
            }
            continue;
        }
        empty_fetches = 0;
        for message in messages {
            let decoded = walk.decode(&message)?;
            for (position, record) in (decoded.meta.first_position..).zip(&decoded.records) {
                if position >= from {
                    on_record(position, record)
                        .map_err(|message| ReadError::Apply { position, message })?;
                }
            }
        }
    }
    Ok(walk.expected.unwrap_or(from).max(from))
}
