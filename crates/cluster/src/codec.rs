//! How a shard's log is laid out in its JetStream subject: one message per appended batch
//! (or per part of a batch too large for one message), the records framed inside exactly as
//! the file journal frames them, and the message's place in the record sequence in headers.
//!
//! ```text
//! headers  Stampede-Kind      "records" | "epoch"
//!          Stampede-Position  position of the message's first record (decimal); for an
//!                             epoch message, the position the next record will take
//!          Stampede-Records   records in the message (0 for an epoch message)
//!          Stampede-Epoch     the writer's epoch: the revision at which it took the lease
//!          Stampede-Writer    the writer's node id
//! payload  the records as journal frames (`stampede_journal::frame`: magic, length,
//!          sequence = record position, batch_start = the message's first position, CRC32C
//!          over all of it), back to back; empty for an epoch message
//! ```
//!
//! Positions count records, not messages: a message with `n` records at position `p` holds
//! `p..p + n`, and the next message starts at `p + n`. Decoding checks every frame's CRC,
//! that positions run on without a gap from the header's, and that the count matches; a
//! reader also checks that each message starts where the previous one ended.

use std::ops::Range;

use async_nats::HeaderMap;
use stampede_journal::frame::{self, HEADER_BYTES};
use stampede_journal::{MAX_BATCH_RECORDS, MAX_RECORD_BYTES};

use crate::error::LogDefect;

/// Header naming a message's kind.
pub(crate) const KIND: &str = "Stampede-Kind";
/// Header giving a message's first record position.
pub(crate) const POSITION: &str = "Stampede-Position";
/// Header giving a message's record count.
pub(crate) const RECORDS: &str = "Stampede-Records";
/// Header giving the writer's epoch.
pub(crate) const EPOCH: &str = "Stampede-Epoch";
/// Header giving the writer's node id.
pub(crate) const WRITER: &str = "Stampede-Writer";
/// The JetStream header that fences a publish.
pub(crate) const EXPECTED_LAST_SUBJECT_SEQUENCE: &str = "Nats-Expected-Last-Subject-Sequence";

/// What a log message carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// Records of a batch.
    Records,
    /// A new leader's first publish: no records; it fences every earlier writer.
    Epoch,
}

impl MessageKind {
    /// The header value.
    pub fn code(self) -> &'static str {
        match self {
            Self::Records => "records",
            Self::Epoch => "epoch",
        }
    }
}

/// A log message's headers, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageMeta {
    /// What it carries.
    pub kind: MessageKind,
    /// Position of its first record (for an epoch message, of the next record).
    pub first_position: u64,
    /// Records it holds.
    pub records: u32,
    /// The epoch of the writer that published it.
    pub epoch: u64,
    /// That writer's node id, as written.
    pub writer: String,
}

impl MessageMeta {
    /// The position after this message's records.
    pub fn end_position(&self) -> u64 {
        self.first_position + u64::from(self.records)
    }

    /// The message's headers (without the fencing header, which depends on the try).
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(KIND, self.kind.code());
        headers.insert(POSITION, self.first_position.to_string().as_str());
        headers.insert(RECORDS, self.records.to_string().as_str());
        headers.insert(EPOCH, self.epoch.to_string().as_str());
        headers.insert(WRITER, self.writer.as_str());
        headers
    }

    /// Parses a stored message's headers.
    ///
    /// # Errors
    /// [`LogDefect::Header`] if one is missing or malformed.
    pub fn parse(headers: Option<&HeaderMap>) -> Result<Self, LogDefect> {
        let headers = headers.ok_or(LogDefect::Header("no headers"))?;
        let get = |name: &'static str| {
            headers
                .get(name)
                .map(|value| value.as_str())
                .ok_or(LogDefect::Header(name))
        };
        let number = |name: &'static str| {
            get(name)?
                .parse::<u64>()
                .map_err(|_| LogDefect::Header(name))
        };
        let kind = match get(KIND)? {
            "records" => MessageKind::Records,
            "epoch" => MessageKind::Epoch,
            _ => return Err(LogDefect::Header(KIND)),
        };
        let records = u32::try_from(number(RECORDS)?).map_err(|_| LogDefect::Header(RECORDS))?;
        if records as usize > MAX_BATCH_RECORDS || (kind == MessageKind::Epoch) != (records == 0) {
            return Err(LogDefect::Header(RECORDS));
        }
        Ok(Self {
            kind,
            first_position: number(POSITION)?,
            records,
            epoch: number(EPOCH)?,
            writer: get(WRITER)?.to_string(),
        })
    }
}

/// Framed bytes `records` take in a message.
pub(crate) fn framed_bytes(records: &[&[u8]]) -> usize {
    records
        .iter()
        .map(|record| frame::encoded_bytes(record.len()))
        .sum()
}

/// Splits `records` into consecutive parts of at most `capacity` framed bytes each.
///
/// # Panics
/// If one record's frame exceeds `capacity` (the caller sizes `capacity` above the largest
/// record) or a record exceeds `MAX_RECORD_BYTES`.
pub(crate) fn split(records: &[&[u8]], capacity: usize) -> Vec<Range<usize>> {
    assert!(
        capacity >= HEADER_BYTES + MAX_RECORD_BYTES,
        "a message must hold the largest record"
    );
    let mut parts = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (index, record) in records.iter().enumerate() {
        let framed = frame::encoded_bytes(record.len());
        if bytes + framed > capacity {
            parts.push(start..index);
            start = index;
            bytes = 0;
        }
        bytes += framed;
    }
    if start < records.len() {
        parts.push(start..records.len());
    }
    parts
}

/// Frames `records` at positions `first_position..` into `out`.
pub(crate) fn encode_records(out: &mut Vec<u8>, first_position: u64, records: &[&[u8]]) {
    for (offset, record) in (0_u64..).zip(records) {
        frame::encode_into(out, first_position + offset, first_position, record);
    }
}

/// Calls `on_record(position, payload)` for every record of a message, checking each frame
/// against `meta`.
///
/// # Errors
/// [`LogDefect`] if a frame is damaged, out of place, or the count is wrong; the error of
/// `on_record`, which stops the walk.
pub(crate) fn decode_records<'p, E: From<LogDefect>>(
    meta: &MessageMeta,
    payload: &'p [u8],
    mut on_record: impl FnMut(u64, &'p [u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut rest = payload;
    let mut expected = meta.first_position;
    while !rest.is_empty() {
        let frame = frame::decode(rest).map_err(|defect| LogDefect::Frame {
            position: expected,
            defect,
        })?;
        if frame.sequence != expected || frame.batch_start != meta.first_position {
            return Err(LogDefect::Misplaced {
                expected,
                found: frame.sequence,
            }
            .into());
        }
        on_record(frame.sequence, frame.payload)?;
        rest = &rest[frame.encoded_bytes()..];
        expected += 1;
    }
    if expected != meta.end_position() {
        return Err(LogDefect::Count {
            header: meta.records,
            found: expected - meta.first_position,
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(first_position: u64, records: u32) -> MessageMeta {
        MessageMeta {
            kind: if records == 0 {
                MessageKind::Epoch
            } else {
                MessageKind::Records
            },
            first_position,
            records,
            epoch: 9,
            writer: "node-a".to_string(),
        }
    }

    fn decoded(meta: &MessageMeta, payload: &[u8]) -> Result<Vec<(u64, Vec<u8>)>, LogDefect> {
        let mut seen = Vec::new();
        decode_records(meta, payload, |position, record| {
            seen.push((position, record.to_vec()));
            Ok::<_, LogDefect>(())
        })?;
        Ok(seen)
    }

    #[test]
    fn records_round_trip_with_positions() {
        let mut payload = Vec::new();
        encode_records(&mut payload, 40, &[b"a", b"", b"ccc"]);
        let meta = meta(40, 3);
        let parsed = MessageMeta::parse(Some(&meta.headers())).unwrap();
        assert_eq!(parsed, meta);
        assert_eq!(parsed.end_position(), 43);
        assert_eq!(
            decoded(&parsed, &payload).unwrap(),
            vec![(40, b"a".to_vec()), (41, vec![]), (42, b"ccc".to_vec())]
        );
    }

    #[test]
    fn damage_and_misplacement_are_reported() {
        let mut payload = Vec::new();
        encode_records(&mut payload, 40, &[b"a", b"b"]);
        let mut flipped = payload.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(matches!(
            decoded(&meta(40, 2), &flipped),
            Err(LogDefect::Frame { position: 41, .. })
        ));
        assert!(matches!(
            decoded(&meta(39, 2), &payload),
            Err(LogDefect::Misplaced {
                expected: 39,
                found: 40
            })
        ));
        assert_eq!(
            decoded(&meta(40, 3), &payload),
            Err(LogDefect::Count {
                header: 3,
                found: 2
            })
        );
        assert!(matches!(
            decoded(&meta(40, 2), &payload[..payload.len() - 1]),
            Err(LogDefect::Frame { .. })
        ));
    }

    #[test]
    fn bad_headers_are_reported() {
        assert_eq!(
            MessageMeta::parse(None),
            Err(LogDefect::Header("no headers"))
        );
        let mut headers = meta(1, 1).headers();
        headers.insert(POSITION, "x");
        assert_eq!(
            MessageMeta::parse(Some(&headers)),
            Err(LogDefect::Header(POSITION))
        );
        let mut headers = meta(1, 1).headers();
        headers.insert(KIND, "epoch");
        assert_eq!(
            MessageMeta::parse(Some(&headers)),
            Err(LogDefect::Header(RECORDS))
        );
        let mut headers = meta(1, 1).headers();
        headers.insert(RECORDS, (MAX_BATCH_RECORDS + 1).to_string().as_str());
        assert_eq!(
            MessageMeta::parse(Some(&headers)),
            Err(LogDefect::Header(RECORDS))
        );
    }

    #[test]
    fn split_keeps_parts_under_capacity_and_in_order() {
        let big = vec![7_u8; MAX_RECORD_BYTES];
        let small = [1_u8; 100];
        let records: Vec<&[u8]> = vec![&small, &big, &big, &small, &small];
        let capacity = HEADER_BYTES + MAX_RECORD_BYTES + 300;
        let parts = split(&records, capacity);
        assert_eq!(parts, vec![0..2, 2..5]);
        for part in &parts {
            assert!(framed_bytes(&records[part.clone()]) <= capacity);
        }
        assert_eq!(split(&[], capacity), Vec::<Range<usize>>::new());
    }
}
