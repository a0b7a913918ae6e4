//! Which shard of a cluster a campaign belongs to, and the rule a shard's ledger follows
//! when it mints a campaign id: the id must land on the shard that minted it.
//!
//! `shard_index(campaign, count) = crc32c(campaign id as 16 big-endian bytes) mod count`.
//! CRC-32C (Castagnoli, RFC 3720) is fixed by a standard, so the map is the same on every
//! node, platform and version; it must never change (the cluster crate's tests pin values).

use crate::ids::CampaignId;

/// The shard `campaign` belongs to among `count` (> 0) shards.
pub fn shard_index(campaign: CampaignId, count: u32) -> u32 {
    assert!(count > 0, "a cluster has at least one shard");
    crc32c::crc32c(&campaign.0.to_be_bytes()) % count
}

/// The shard a ledger writes: campaign ids it mints land on it. Not journaled (the ids it
/// minted are); set by the engine that runs the shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CampaignShard {
    /// This shard, `< count`.
    pub index: u32,
    /// Shards in the cluster.
    pub count: u32,
}

impl CampaignShard {
    /// Whether `campaign` belongs to this shard.
    pub fn holds(self, campaign: CampaignId) -> bool {
        shard_index(campaign, self.count) == self.index
    }
}
