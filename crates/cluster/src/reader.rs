//! Reading a shard's messages in order from a stream sequence, with bounded memory: an
//! ephemeral pull consumer (no acknowledgements, in memory, one replica) filtered on the
//! shard's subject, fetched [`READ_BATCH_MESSAGES`] / [`READ_BATCH_BYTES`] at a time.
//!
//! A failed fetch drops the consumer; the next fetch makes a new one starting after the last
//! message handed out, so a server dying under the consumer costs a retry, not a replay.
//! [`MAX_READ_FAILURES`] failures in a row end the read with the last error.

use std::time::Duration;

use async_nats::jetstream::consumer::{self, AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::{self, stream};
use futures_util::StreamExt;

use crate::error::NatsError;
use crate::limits::{
    MAX_READ_FAILURES, MAX_RETRY_PAUSE, READ_BATCH_BYTES, READ_BATCH_MESSAGES, READ_WAIT,
};

/// How long the server keeps a reader's consumer after its last fetch: a reader that died
/// leaves nothing behind for long.
const CONSUMER_INACTIVE: Duration = Duration::from_secs(30);

/// A reader of one subject from a stream sequence on.
pub(crate) struct SubjectReader {
    stream: stream::Stream,
    subject: String,
    /// The stream sequence to read next (one after the last message handed out).
    next_seq: u64,
    consumer: Option<consumer::Consumer<pull::Config>>,
    failures: u32,
}

impl SubjectReader {
    /// A reader of `subject` starting at stream sequence `from`.
    pub(crate) fn new(stream: stream::Stream, subject: String, from: u64) -> Self {
        Self {
            stream,
            subject,
            next_seq: from.max(1),
            consumer: None,
            failures: 0,
        }
    }

    /// The stream sequence the next message will have at least.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Starts over at stream sequence `from` with a new consumer.
    pub(crate) fn restart_at(&mut self, from: u64) {
        self.next_seq = from.max(1);
        self.consumer = None;
    }

    /// The next messages (up to the batch limits), waiting at most [`READ_WAIT`] for the
    /// first; empty if none came. Retries failures, up to [`MAX_READ_FAILURES`] in a row.
    pub(crate) async fn next_batch(&mut self) -> Result<Vec<jetstream::Message>, NatsError> {
        loop {
            match self.try_batch().await {
                Ok(messages) => {
                    self.failures = 0;
                    if let Some(last) = messages.last() {
                        let info = last
                            .info()
                            .map_err(|error| NatsError::new("reading message info", error))?;
                        self.next_seq = info.stream_sequence + 1;
                    }
                    return Ok(messages);
                }
                Err(error) => {
                    self.consumer = None;
                    self.failures += 1;
                    if self.failures >= MAX_READ_FAILURES {
                        return Err(error);
                    }
                    tracing::debug!(subject = %self.subject, %error, "log read failed; retrying");
                    tokio::time::sleep(MAX_RETRY_PAUSE).await;
                }
            }
        }
    }

    async fn try_batch(&mut self) -> Result<Vec<jetstream::Message>, NatsError> {
        if self.consumer.is_none() {
            let config = pull::Config {
                filter_subject: self.subject.clone(),
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: self.next_seq,
                },
                ack_policy: AckPolicy::None,
                inactive_threshold: CONSUMER_INACTIVE,
                memory_storage: true,
                num_replicas: 1,
                ..Default::default()
            };
            let created = self
                .stream
                .create_consumer(config)
                .await
                .map_err(|error| NatsError::new("creating a log reader", error))?;
            self.consumer = Some(created);
        }
        let consumer = self.consumer.as_ref().expect("created above");
        let mut batch = consumer
            .batch()
            .max_messages(READ_BATCH_MESSAGES)
            .max_bytes(READ_BATCH_BYTES)
            .expires(READ_WAIT)
            .messages()
            .await
            .map_err(|error| NatsError::new("fetching log messages", error))?;
        let mut messages = Vec::new();
        while let Some(message) = batch.next().await {
            let message =
                message.map_err(|error| NatsError::new("fetching log messages", error))?;
            messages.push(message);
        }
        Ok(messages)
    }
}
