//! One fenced publish: a message with `Nats-Expected-Last-Subject-Sequence` set to the last
//! stream sequence the writer knows on its shard's subject, retried (bounded) while the
//! answer is not a decision, and turned into exactly one of three outcomes.
//!
//! - `Stored(seq)`: JetStream acknowledged it (stored on a quorum of replicas).
//! - `Fenced`: the server refused it because another message follows the expected one on the
//!   subject: another writer appended. That message is checked first: if it is this very
//!   message (an earlier try was stored but its acknowledgement was lost), the outcome is
//!   `Stored` with its sequence.
//! - `Err(Unsettled)`: no decision within [`MAX_PUBLISH_WAIT`]: the message may or may not be
//!   stored. The caller must treat the batch as failed (answer no client a win) and rebuild
//!   from the log.
//!
//! Not decisions, retried: a timeout, a lost connection, no responders (no stream leader for
//! a moment), and JetStream's "wrong last sequence" *without* a sequence (code 10164) or
//! "temporarily unavailable" (10163), which a clustered stream answers while the subject's
//! previous message is still in process on its leader (measured: a writer's next publish
//! right after an ack sometimes meets it). A wrong last sequence *with* the actual sequence
//! (10071) is a decision.

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::{self, stream};
use bytes::Bytes;

use crate::codec::{EXPECTED_LAST_SUBJECT_SEQUENCE, MessageMeta};
use crate::error::NatsError;
use crate::limits::{MAX_PUBLISH_TRIES, MAX_PUBLISH_WAIT, MAX_RETRY_PAUSE, PUBLISH_RETRY_PAUSE};

/// JetStream's "wrong last sequence" without the sequence: the subject has a message in
/// process, so the check could not be made.
const WRONG_LAST_SEQUENCE_IN_PROCESS: u64 = 10164;
/// JetStream's "expected last sequence per subject temporarily unavailable".
const EXPECTED_LAST_SEQUENCE_NOT_READY: u64 = 10163;

/// What became of one fenced publish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Published {
    /// Stored at this stream sequence.
    Stored(u64),
    /// Refused: another writer's message follows `expected` on the subject (at
    /// `intruder`, if it could be read).
    Fenced {
        /// The sequence that was expected last.
        expected: u64,
        /// The stream sequence of the message that follows it, if read.
        intruder: Option<u64>,
    },
}

/// The publish got no decision within the retry budget: it may or may not be stored.
#[derive(Debug, thiserror::Error)]
#[error("publish to {subject} unsettled after {tries} tries: {last}")]
pub(crate) struct Unsettled {
    pub subject: String,
    pub tries: u32,
    pub last: String,
}

/// Publishes `payload` with `meta`'s headers to `subject`, fenced on `expected` (the last
/// stream sequence the writer knows on the subject; 0 for an empty subject).
pub(crate) async fn publish_fenced(
    jetstream: &jetstream::Context,
    stream: &stream::Stream,
    subject: &str,
    expected: u64,
    meta: &MessageMeta,
    payload: Bytes,
) -> Result<Published, Unsettled> {
    let mut last = String::new();
    let deadline = tokio::time::Instant::now() + MAX_PUBLISH_WAIT;
    let mut pause = PUBLISH_RETRY_PAUSE;
    let mut attempt = 0;
    while attempt < MAX_PUBLISH_TRIES && (attempt == 0 || tokio::time::Instant::now() < deadline) {
        attempt += 1;
        if attempt > 1 {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_RETRY_PAUSE);
        }
        let mut headers = meta.headers();
        headers.insert(
            EXPECTED_LAST_SUBJECT_SEQUENCE,
            expected.to_string().as_str(),
        );
        let acked = match jetstream
            .publish_with_headers(subject.to_string(), headers, payload.clone())
            .await
        {
            Ok(ack) => ack.await,
            Err(error) => Err(error),
        };
        match acked {
            Ok(PublishAck { sequence, .. }) => return Ok(Published::Stored(sequence)),
            Err(error) if error.kind() == PublishErrorKind::WrongLastSequence => {
                match follower_of(stream, subject, expected).await {
                    Ok(Some((sequence, found))) if is_same(&found, meta) => {
                        return Ok(Published::Stored(sequence));
                    }
                    Ok(found) => {
                        return Ok(Published::Fenced {
                            expected,
                            intruder: found.map(|(sequence, _)| sequence),
                        });
                    }
                    // Refused, but who follows could not be read: try again, the next
                    // answer settles it.
                    Err(error) => last = error.to_string(),
                }
            }
            Err(error) if error.kind() == PublishErrorKind::MaxPayloadExceeded => {
                // The caller sized the message under max_payload; reaching this is a bug,
                // but no try will do better.
                return Err(Unsettled {
                    subject: subject.to_string(),
                    tries: attempt,
                    last: error.to_string(),
                });
            }
            Err(error) => {
                // Everything else is retried: a timeout or lost connection (maybe stored,
                // the next try's answer settles it), no stream leader for a moment, the
                // subject's previous message in process. A refusal with another code is
                // logged; if it persists the budget runs out.
                let code = jetstream_code(&error);
                if code.is_some_and(|code| {
                    code != WRONG_LAST_SEQUENCE_IN_PROCESS
                        && code != EXPECTED_LAST_SEQUENCE_NOT_READY
                }) {
                    tracing::warn!(%subject, %error, attempt, "publish refused; retrying");
                }
                last = error.to_string();
            }
        }
    }
    Err(Unsettled {
        subject: subject.to_string(),
        tries: attempt,
        last,
    })
}

/// The first message on `subject` after stream sequence `expected`, with its headers.
async fn follower_of(
    stream: &stream::Stream,
    subject: &str,
    expected: u64,
) -> Result<Option<(u64, Option<MessageMeta>)>, NatsError> {
    match stream
        .raw_message_builder()
        .sequence(expected + 1)
        .next_by_subject(subject.to_string())
        .send()
        .await
    {
        Ok(message) => Ok(Some((
            message.sequence,
            MessageMeta::parse(Some(&message.headers)).ok(),
        ))),
        Err(error) if error.kind() == stream::RawMessageErrorKind::NoMessageFound => Ok(None),
        Err(error) => Err(NatsError::new(
            "reading the message after a refused publish",
            error,
        )),
    }
}

/// Whether a stored message is the one being published: same epoch (one writer per epoch),
/// same kind and place.
fn is_same(found: &Option<MessageMeta>, meta: &MessageMeta) -> bool {
    found.as_ref().is_some_and(|found| {
        found.epoch == meta.epoch
            && found.kind == meta.kind
            && found.first_position == meta.first_position
            && found.records == meta.records
    })
}

/// The JetStream error code inside a publish error, if the server sent one.
fn jetstream_code(error: &jetstream::context::PublishError) -> Option<u64> {
    std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<jetstream::Error>())
        .map(|error| error.error_code().0)
}
