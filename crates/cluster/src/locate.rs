//! Finding things in a shard's log without reading it: its tip (the last message), its first
//! message, and the message holding a record position (a binary search over stream
//! sequences, the `Stampede-Position` header of each probe telling which way to go).
//!
//! Every lookup reads from the stream leader (JetStream's "get message" API, not direct get,
//! which a lagging replica may answer).

use async_nats::jetstream::stream;

use crate::codec::MessageMeta;
use crate::error::{NatsError, ReadError};
use crate::limits::MAX_LOCATE_PROBES;

/// Where a shard's log ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tip {
    /// Stream sequence of the shard's last message; 0 while it has none.
    pub last_seq: u64,
    /// The position the next record will take: the records in the log.
    pub next_position: u64,
}

/// The message at or after stream sequence `from` on `subject`, with its parsed headers.
pub(crate) async fn at_or_after(
    stream: &stream::Stream,
    subject: &str,
    from: u64,
) -> Result<Option<(u64, MessageMeta)>, ReadError> {
    let request = stream
        .raw_message_builder()
        .sequence(from.max(1))
        .next_by_subject(subject.to_string());
    match request.send().await {
        Ok(message) => Ok(Some((
            message.sequence,
            MessageMeta::parse(Some(&message.headers))?,
        ))),
        Err(error) if error.kind() == stream::RawMessageErrorKind::NoMessageFound => Ok(None),
        Err(error) => Err(NatsError::new("reading a log message", error).into()),
    }
}

/// The shard's tip, from its last message.
///
/// # Errors
/// [`ReadError`] if NATS fails or the last message is malformed.
pub async fn tip(stream: &stream::Stream, subject: &str) -> Result<Tip, ReadError> {
    match stream.get_last_raw_message_by_subject(subject).await {
        Ok(message) => {
            let meta = MessageMeta::parse(Some(&message.headers))?;
            Ok(Tip {
                last_seq: message.sequence,
                next_position: meta.end_position(),
            })
        }
        Err(error) if error.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {
            Ok(Tip::default())
        }
        Err(error) => Err(NatsError::new("reading the last log message", error).into()),
    }
}

/// The stream sequence to start reading at so that every record at `position` or later is
/// read (records before `position` in the first message are the reader's to skip); `None`
/// if the log holds no message at all.
///
/// # Errors
/// [`ReadError::Trimmed`] if `position` is below the first record the log still holds;
/// [`ReadError`] if NATS fails or a message is malformed.
pub(crate) async fn locate(
    stream: &stream::Stream,
    subject: &str,
    position: u64,
    tip: Tip,
) -> Result<Option<u64>, ReadError> {
    let Some((first_seq, first)) = at_or_after(stream, subject, 1).await? else {
        return Ok(None);
    };
    if first.first_position > position {
        return Err(ReadError::Trimmed {
            asked: position,
            first: first.first_position,
        });
    }
    // Invariant: `low` is a message whose first position is at most `position`; every
    // message after `high` starts after it. Positions never decrease along the subject.
    let (mut low, mut high) = (first_seq, tip.last_seq.max(first_seq));
    let mut probes = 0;
    while low < high {
        probes += 1;
        assert!(
            probes <= MAX_LOCATE_PROBES,
            "binary search over u64 ends in 64 probes"
        );
        let middle = low + (high - low).div_ceil(2);
        match at_or_after(stream, subject, middle).await? {
            Some((sequence, meta)) if meta.first_position <= position => low = sequence.min(high),
            Some(_) | None => high = middle - 1,
        }
    }
    Ok(Some(low))
}
