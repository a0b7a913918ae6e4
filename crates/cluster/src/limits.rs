//! Named limits. Every bound the cluster layer enforces lives here, with the reason for its
//! number and what happens at it.

use std::time::Duration;

/// Most bytes one log message's payload may carry (its framed records), before headers.
///
/// NATS refuses messages over the server's `max_payload` (1 MiB by default; the client
/// learns the real value when it connects). A batch whose framed records exceed the smaller
/// of this and `max_payload - HEADER_ALLOWANCE_BYTES` is split over several messages, each
/// fenced on the one before (see `append.rs`). 1 MiB keeps one message's replication and
/// fsync short even where a server allows more.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// Bytes kept free under the server's `max_payload` for a message's headers (a handful of
/// short `Stampede-*` and `Nats-*` headers take about 200).
pub const HEADER_ALLOWANCE_BYTES: usize = 1024;

/// Smallest server `max_payload` the cluster accepts (connecting to a smaller one fails): a
/// message must hold the largest record (`MAX_RECORD_BYTES`, 64 KiB, plus its frame header)
/// with room for headers, and a maximal batch must fit in [`MAX_PARTS_PER_BATCH`] messages.
pub const MIN_SERVER_MAX_PAYLOAD: usize = 128 * 1024;

/// Most messages one batch may be split into. Parts end between records, so every part but
/// the last is more than full minus one maximal record: with the smallest accepted message
/// (127 KiB of records) over 63 KiB, and `MAX_BATCH_BYTES` (8 MiB) needs at most 131 parts;
/// 256 is a round bound over that (checked below), asserted per batch.
pub const MAX_PARTS_PER_BATCH: usize = 256;

/// Longest one publish keeps trying while the answer is not a decision (a timeout, a lost
/// connection, no stream leader for a moment, the subject's previous message still "in
/// process"). Killing the stream leader of a three-server cluster on this machine left the
/// stream without a leader for a few seconds (the client reconnects, the replicas elect);
/// 10 s covers that with room. Past it the append fails (outcome unknown) and the writer must
/// step down and rebuild from the log. Retrying past the lease is safe: if another node took
/// over meanwhile, its epoch message fences the retry.
pub const MAX_PUBLISH_WAIT: Duration = Duration::from_secs(10);

/// Most tries of one publish within [`MAX_PUBLISH_WAIT`] (a bound on the loop even if every
/// try failed at once).
pub const MAX_PUBLISH_TRIES: u32 = 100;

/// Pause after the first failed try; it doubles per try up to [`MAX_RETRY_PAUSE`].
pub const PUBLISH_RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Longest pause between two tries.
pub const MAX_RETRY_PAUSE: Duration = Duration::from_millis(500);

/// How long one publish waits for JetStream's acknowledgement: a quorum fsync takes
/// milliseconds; a stream without a leader answers nothing, and the next try goes out after
/// 2 s.
pub const PUBLISH_ACK_TIMEOUT: Duration = Duration::from_secs(2);

/// Most messages one pull request fetches when reading a shard's log. With
/// [`MAX_MESSAGE_BYTES`] per message this bounds a reader's buffered bytes to 64 MiB in the
/// worst case (typical messages are a few KiB, so a few hundred KiB).
pub const READ_BATCH_MESSAGES: usize = 64;

/// Most bytes one pull request fetches (the server stops a batch at this size; a single
/// larger message still comes alone).
pub const READ_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// How long a read waits for the next message before it answers none: a follower at the tip
/// looks up from its log this often (to stop, to report its progress).
pub const READ_WAIT: Duration = Duration::from_millis(500);

/// Consecutive failed reads (pull errors, consumer recreation failures) after which a reader
/// gives up and reports the error; each failure waits [`MAX_RETRY_PAUSE`] first, so a reader
/// rides out 25 s of trouble (a server dying under its consumer costs one or two).
pub const MAX_READ_FAILURES: u32 = 50;

/// Most probes of the binary search from a record position to the message holding it: 64
/// covers every `u64` stream sequence.
pub const MAX_LOCATE_PROBES: u32 = 64;

/// Most bytes of one snapshot. A shard's state at ten million orders of ~100 bytes is about
/// 1 GiB; a larger object is refused when stored and when loaded (never allocated).
pub const MAX_SNAPSHOT_BYTES: usize = 1024 * 1024 * 1024;

/// Snapshots kept per shard: the newest and one before it, so a snapshot being read while the
/// next is stored stays there; older ones are deleted, and the log is trimmed below the
/// oldest one kept.
pub const SNAPSHOTS_KEPT: usize = 2;

/// Most shards a cluster may have: every node follows every shard (one consumer each) and
/// the lease table scans them all each renewal.
pub const MAX_SHARDS: u32 = 1024;

/// Most nodes the membership table tracks; a bucket with more live keys is read only this
/// far (the rest are not counted for the fair share).
pub const MAX_NODES: usize = 256;

const _: () = assert!(MAX_MESSAGE_BYTES > HEADER_ALLOWANCE_BYTES);
const _: () = assert!(
    MIN_SERVER_MAX_PAYLOAD - HEADER_ALLOWANCE_BYTES
        >= stampede_journal::frame::HEADER_BYTES + stampede_journal::MAX_RECORD_BYTES,
    "the largest record must fit in one message"
);
const _: () = assert!(
    stampede_journal::MAX_BATCH_BYTES
        <= (MAX_PARTS_PER_BATCH - 1)
            * (MIN_SERVER_MAX_PAYLOAD
                - HEADER_ALLOWANCE_BYTES
                - stampede_journal::frame::HEADER_BYTES
                - stampede_journal::MAX_RECORD_BYTES),
    "a maximal batch must fit in MAX_PARTS_PER_BATCH messages, each full but for one record"
);

/// How long the cluster remembers which order a channel transaction paid
/// ([`crate::TxnClaims`]): 30 days, longer than any channel retries a callback or answers a
/// query for. Past it the entry expires; a callback of the transaction after that is still
/// checked against its own shard's ledger, only no longer against the other shards'.
pub const TXN_CLAIM_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// Most bytes the transaction-claims bucket holds: 512 MiB, about four million payments of
/// ~130 bytes (key, order id, overhead) within [`TXN_CLAIM_MAX_AGE`]. At the bound a new
/// claim is refused (the bucket discards new writes), so the payment is answered 503 and its
/// channel retries; nothing already claimed is dropped.
pub const TXN_CLAIMS_MAX_BYTES: i64 = 512 * 1024 * 1024;

/// Tries of one transaction claim: a create, and once more if the entry it collided with
/// expired before it could be read.
pub const TXN_CLAIM_TRIES: usize = 2;
