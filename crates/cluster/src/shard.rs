//! The shard map: which shard a campaign belongs to.
//!
//! `shard_of(campaign, shards) = crc32c(campaign id as 16 big-endian bytes) mod shards`.
//!
//! CRC-32C (Castagnoli, the polynomial of iSCSI, RFC 3720) is fixed by a standard, so the
//! map is the same on every node, platform and version. It must never change: a campaign's
//! records live in its shard's log, and a node computing another shard would neither find
//! them nor fence the right writer. The tests pin known values. Campaign ids carry 74 random
//! bits (UUIDv7), so campaigns spread evenly. Changing the number of shards of a running
//! cluster moves most campaigns and is not supported.

use std::fmt;
use std::num::NonZeroU32;

use stampede_core::CampaignId;

use crate::limits::MAX_SHARDS;

/// A shard's number, `0..shards`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardId(u32);

impl ShardId {
    /// Shard number `n`.
    pub const fn new(n: u32) -> Self {
        Self(n)
    }

    /// The shard's number.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shard {}", self.0)
    }
}

/// How many shards a cluster has: 1..=[`MAX_SHARDS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardCount(NonZeroU32);

/// A shard count of 0 or over [`MAX_SHARDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the number of shards must be 1 to {MAX_SHARDS}, not {0}")]
pub struct ShardCountError(pub u32);

impl ShardCount {
    /// The default: 16 shards spread a hot sale's campaigns over the nodes' writers while
    /// keeping the per-shard cost (a consumer per shard on every node) small.
    pub const DEFAULT: Self = Self(NonZeroU32::new(16).expect("16 is not zero"));

    /// `count` shards.
    ///
    /// # Errors
    /// [`ShardCountError`] if `count` is 0 or over [`MAX_SHARDS`].
    pub fn new(count: u32) -> Result<Self, ShardCountError> {
        match NonZeroU32::new(count) {
            Some(count) if count.get() <= MAX_SHARDS => Ok(Self(count)),
            _ => Err(ShardCountError(count)),
        }
    }

    /// The count.
    pub fn get(self) -> u32 {
        self.0.get()
    }

    /// Every shard, in order.
    pub fn all(self) -> impl Iterator<Item = ShardId> {
        (0..self.get()).map(ShardId)
    }
}

/// The shard holding `campaign`'s records; see the module docs for the formula, which never
/// changes.
pub fn shard_of(campaign: CampaignId, shards: ShardCount) -> ShardId {
    ShardId(stampede_core::shard_index(campaign, shards.get()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pinned values, computed by an independent bit-by-bit CRC-32C (reflected polynomial
    /// 0x82F63B78; its check value for "123456789" is 0xe3069283): if one of these changes,
    /// the shard map changed and every existing cluster would look for campaigns in the
    /// wrong log.
    #[test]
    fn the_map_never_changes() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        let sixteen = ShardCount::DEFAULT;
        let cases = [
            (0_u128, 0x4270_9aea_u32),
            (1, 0xb01b_19e9),
            (0x0193_0000_0001_7000_8000_0000_0000_0001, 0xa94c_8763),
            (u128::MAX, 0xef2f_4c10),
        ];
        for (id, crc) in cases {
            assert_eq!(crc32c::crc32c(&id.to_be_bytes()), crc, "crc32c of {id:#x}");
            assert_eq!(shard_of(CampaignId(id), sixteen), ShardId(crc % 16));
        }
    }

    #[test]
    fn campaigns_spread_over_the_shards() {
        let shards = ShardCount::new(8).unwrap();
        let mut counts = [0_u32; 8];
        let mut id = 0x0193_0000_0001_7000_8000_0000_0000_0000_u128;
        for _ in 0..8_000 {
            id = id
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            counts[shard_of(CampaignId(id), shards).get() as usize] += 1;
        }
        assert!(
            counts.iter().all(|&n| (800..1_200).contains(&n)),
            "{counts:?}"
        );
    }

    #[test]
    fn shard_counts_are_bounded() {
        assert_eq!(ShardCount::new(0), Err(ShardCountError(0)));
        assert_eq!(
            ShardCount::new(MAX_SHARDS + 1),
            Err(ShardCountError(MAX_SHARDS + 1))
        );
        assert_eq!(
            ShardCount::new(MAX_SHARDS).unwrap().all().count(),
            MAX_SHARDS as usize
        );
        assert_eq!(ShardCount::DEFAULT.get(), 16);
    }
}
