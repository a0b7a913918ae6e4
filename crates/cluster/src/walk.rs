//! Handing a shard's messages to a callback, checked: each message must start where the
//! previous one ended, and its records must decode at their positions.

use async_nats::jetstream;

use crate::codec::{self, MessageMeta};
use crate::error::{LogDefect, NatsError, ReadError};

/// One message of a shard's log as read, decoded.
pub struct LogMessage<'a> {
    /// Its stream sequence.
    pub sequence: u64,
    /// Its headers.
    pub meta: MessageMeta,
    /// Its records, the first at `meta.first_position`.
    pub records: Vec<&'a [u8]>,
}

/// Walks a shard's messages in order, checking that positions run on.
pub(crate) struct Walk {
    /// The position the next message must start at; `None` before the first message of a
    /// read that started at a located message (which may start before the position asked).
    pub expected: Option<u64>,
}

impl Walk {
    /// Decodes `message` and checks its place; the caller then hands it on.
    pub(crate) fn decode<'m>(
        &mut self,
        message: &'m jetstream::Message,
    ) -> Result<LogMessage<'m>, ReadError> {
        let sequence = message
            .info()
            .map_err(|error| NatsError::new("reading message info", error))?
            .stream_sequence;
        let meta = MessageMeta::parse(message.headers.as_ref())?;
        if let Some(expected) = self.expected
            && meta.first_position != expected
        {
            return Err(LogDefect::Gap {
                sequence,
                expected,
                found: meta.first_position,
            }
            .into());
        }
        let mut records = Vec::with_capacity(meta.records as usize);
        codec::decode_records(&meta, &message.payload, |_, record| {
            records.push(record);
            Ok::<_, LogDefect>(())
        })?;
        self.expected = Some(meta.end_position());
        Ok(LogMessage {
            sequence,
            meta,
            records,
        })
    }
}
