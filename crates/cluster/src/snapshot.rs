//! Shard snapshots in the JetStream object store, and trimming the log below them.
//!
//! A snapshot is opaque bytes (the engine's state of one shard) plus the log tip it covers:
//! loading it and then reading the log after that tip gives the shard's state. Each is one
//! object named `shard-<shard, 5 digits>/<next position, 20 digits>` (so names sort by
//! position), holding:
//!
//! ```text
//! magic u32 = "StS1" | shard u32 | last_seq u64 | next_position u64 | length u64 |
//! crc32c u32 (over the 32 bytes before it, then the payload) | payload
//! ```
//!
//! little-endian. The object store checks its own SHA-256 digest too; the CRC and the fields
//! make a snapshot self-describing and tell a damaged or misnamed one. At most
//! [`SNAPSHOTS_KEPT`] are kept per shard; [`SnapshotStore::prune`] deletes older ones and
//! purges the shard's log below the oldest kept, keeping that snapshot's last message (the
//! writer's next publish is fenced on the subject's last sequence, which a purge of every
//! message would reset).

use async_nats::jetstream::object_store::{ObjectMetadata, ObjectStore};
use async_nats::jetstream::stream;
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;

use crate::connection::Connection;
use crate::error::NatsError;
use crate::limits::{MAX_SNAPSHOT_BYTES, SNAPSHOTS_KEPT};
use crate::locate::Tip;
use crate::shard::ShardId;

const MAGIC: u32 = u32::from_le_bytes(*b"StS1");
/// Envelope bytes before the payload.
const HEADER_BYTES: usize = 36;

/// Why a snapshot could not be stored or loaded.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// NATS failed.
    #[error(transparent)]
    Nats(#[from] NatsError),
    /// Over [`MAX_SNAPSHOT_BYTES`].
    #[error("snapshot of {bytes} bytes is over the {MAX_SNAPSHOT_BYTES}-byte limit")]
    TooLarge {
        /// Its size.
        bytes: usize,
    },
    /// The stored object is not a valid snapshot of what its name says.
    #[error("snapshot {name} is damaged: {why}")]
    Damaged {
        /// The object's name.
        name: String,
        /// What is wrong.
        why: &'static str,
    },
}

/// A loaded snapshot.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The log tip it covers.
    pub tip: Tip,
    /// The state, as the engine wrote it.
    pub state: Vec<u8>,
}

/// What [`SnapshotStore::prune`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Snapshots deleted.
    pub snapshots: usize,
    /// Log messages purged.
    pub messages: u64,
}

/// The snapshots of a cluster's shards.
#[derive(Clone)]
pub struct SnapshotStore {
    store: ObjectStore,
    log: stream::Stream,
    connection: Connection,
}

impl SnapshotStore {
    /// Opens (creating if needed) the snapshot store of `connection`'s cluster, beside its log
    /// stream.
    ///
    /// # Errors
    /// [`NatsError`] if the store cannot be opened.
    pub async fn open(
        connection: &Connection,
        log: stream::Stream,
        replicas: usize,
    ) -> Result<Self, NatsError> {
        Ok(Self {
            store: connection.snapshot_store(replicas).await?,
            log,
            connection: connection.clone(),
        })
    }

    /// Stores `state` as `shard`'s snapshot covering the log up to `tip`.
    ///
    /// # Errors
    /// [`SnapshotError::TooLarge`] over the limit (nothing stored); NATS failures.
    pub async fn put(&self, shard: ShardId, tip: Tip, state: &[u8]) -> Result<(), SnapshotError> {
        if state.len() > MAX_SNAPSHOT_BYTES {
            return Err(SnapshotError::TooLarge { bytes: state.len() });
        }
        let bytes = encode(shard, tip, state);
        let name = object_name(shard, tip.next_position);
        self.store
            .put(ObjectMetadata::from(name.as_str()), &mut bytes.as_slice())
            .await
            .map_err(|error| NatsError::new("storing a snapshot", error))?;
        Ok(())
    }

    /// The newest snapshot of `shard`, if any.
    ///
    /// # Errors
    /// [`SnapshotError::Damaged`] if it does not check; NATS failures.
    pub async fn latest(&self, shard: ShardId) -> Result<Option<Snapshot>, SnapshotError> {
        let Some(name) = self.names(shard).await?.pop() else {
            return Ok(None);
        };
        let mut object = self
            .store
            .get(&name)
            .await
            .map_err(|error| NatsError::new("loading a snapshot", error))?;
        let size = object.info().size;
        if size > HEADER_BYTES + MAX_SNAPSHOT_BYTES {
            return Err(SnapshotError::TooLarge { bytes: size });
        }
        let mut bytes = Vec::with_capacity(size);
        (&mut object)
            .take((HEADER_BYTES + MAX_SNAPSHOT_BYTES) as u64 + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|error| NatsError::new("reading a snapshot", error))?;
        let snapshot = decode(shard, &bytes).map_err(|why| SnapshotError::Damaged {
            name: name.clone(),
            why,
        })?;
        if object_name(shard, snapshot.tip.next_position) != name {
            return Err(SnapshotError::Damaged {
                name,
                why: "its position is not the one in its name",
            });
        }
        Ok(Some(snapshot))
    }

    /// Deletes all but the [`SNAPSHOTS_KEPT`] newest snapshots of `shard` and purges its log
    /// below the oldest one kept.
    ///
    /// # Errors
    /// NATS failures; [`SnapshotError::Damaged`] if the oldest kept does not check.
    pub async fn prune(&self, shard: ShardId) -> Result<Pruned, SnapshotError> {
        let names = self.names(shard).await?;
        let excess = names.len().saturating_sub(SNAPSHOTS_KEPT);
        let mut pruned = Pruned::default();
        for name in &names[..excess] {
            self.store
                .delete(name)
                .await
                .map_err(|error| NatsError::new("deleting an old snapshot", error))?;
            pruned.snapshots += 1;
        }
        let Some(oldest) = names.get(excess) else {
            return Ok(pruned);
        };
        let mut object = self
            .store
            .get(oldest)
            .await
            .map_err(|error| NatsError::new("loading a snapshot", error))?;
        let mut header = [0_u8; HEADER_BYTES];
        object
            .read_exact(&mut header)
            .await
            .map_err(|error| NatsError::new("reading a snapshot", error))?;
        let (_, tip, _) = decode_header(shard, &header).map_err(|why| SnapshotError::Damaged {
            name: oldest.clone(),
            why,
        })?;
        if tip.last_seq > 1 {
            let response = self
                .log
                .purge()
                .filter(self.connection.names().log_subject(shard))
                .sequence(tip.last_seq)
                .await
                .map_err(|error| NatsError::new("trimming the log", error))?;
            pruned.messages = response.purged;
        }
        Ok(pruned)
    }

    /// Names of `shard`'s snapshots, oldest first.
    async fn names(&self, shard: ShardId) -> Result<Vec<String>, NatsError> {
        let prefix = format!("{}/", shard_prefix(shard));
        let mut list = self
            .store
            .list()
            .await
            .map_err(|error| NatsError::new("listing snapshots", error))?;
        let mut names = Vec::new();
        while let Some(info) = list.next().await {
            let info = info.map_err(|error| NatsError::new("listing snapshots", error))?;
            if info.name.starts_with(&prefix) {
                names.push(info.name);
            }
        }
        names.sort_unstable();
        Ok(names)
    }
}

fn shard_prefix(shard: ShardId) -> String {
    format!("shard-{:05}", shard.get())
}

fn object_name(shard: ShardId, next_position: u64) -> String {
    format!("{}/{next_position:020}", shard_prefix(shard))
}

fn encode(shard: ShardId, tip: Tip, state: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + state.len());
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&shard.get().to_le_bytes());
    out.extend_from_slice(&tip.last_seq.to_le_bytes());
    out.extend_from_slice(&tip.next_position.to_le_bytes());
    out.extend_from_slice(&(state.len() as u64).to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&out), state);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(state);
    out
}

/// Checks the envelope's fixed fields: answers (length, tip, crc).
fn decode_header(shard: ShardId, bytes: &[u8]) -> Result<(usize, Tip, u32), &'static str> {
    let header = bytes.get(..HEADER_BYTES).ok_or("shorter than its header")?;
    let u32_at = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().expect("4 bytes"));
    let u64_at = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().expect("8 bytes"));
    if u32_at(0) != MAGIC {
        return Err("bad magic");
    }
    if u32_at(4) != shard.get() {
        return Err("it is another shard's");
    }
    let length = usize::try_from(u64_at(24)).map_err(|_| "length overflows")?;
    if length > MAX_SNAPSHOT_BYTES {
        return Err("length over the limit");
    }
    let tip = Tip {
        last_seq: u64_at(8),
        next_position: u64_at(16),
    };
    Ok((length, tip, u32_at(32)))
}

fn decode(shard: ShardId, bytes: &[u8]) -> Result<Snapshot, &'static str> {
    let (length, tip, crc) = decode_header(shard, bytes)?;
    let state = &bytes[HEADER_BYTES..];
    if state.len() != length {
        return Err("length does not match");
    }
    if crc32c::crc32c_append(crc32c::crc32c(&bytes[..HEADER_BYTES - 4]), state) != crc {
        return Err("checksum mismatch");
    }
    Ok(Snapshot {
        tip,
        state: state.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trips_and_detects_damage() {
        let shard = ShardId::new(3);
        let tip = Tip {
            last_seq: 77,
            next_position: 1_000,
        };
        let bytes = encode(shard, tip, b"state");
        assert_eq!(
            decode(shard, &bytes),
            Ok(Snapshot {
                tip,
                state: b"state".to_vec()
            })
        );
        assert_eq!(
            decode(ShardId::new(4), &bytes),
            Err("it is another shard's")
        );
        for index in 0..bytes.len() {
            if (4..8).contains(&index) {
                continue; // the shard field: reported as another shard's above
            }
            let mut damaged = bytes.clone();
            damaged[index] ^= 0x10;
            assert!(
                decode(shard, &damaged).is_err(),
                "flip at {index} undetected"
            );
        }
        assert!(decode(shard, &bytes[..bytes.len() - 1]).is_err());
        assert_eq!(
            object_name(shard, 1_000),
            "shard-00003/00000000000000001000"
        );
    }
}
