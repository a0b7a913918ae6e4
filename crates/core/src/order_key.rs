//! Self-locating order ids: an order id carries where its order lives (campaign slot, index in
//! win order), enciphered under the ledger's secret [`OrderKey`], so the ledger needs no
//! id → order map (that map was 66 MiB at 1,000,000 orders).
//!
//! An id keeps the UUIDv7 layout ([`uuid_v7_bits`]): 48 bits of unix milliseconds, the version
//! and variant bits, and 74 bits that look random. Those 74 bits are a 26-bit nonce drawn from
//! the caller's RNG and a 48-bit block, `slot << 32 | index`, enciphered by an 8-round Feistel
//! network keyed by the ledger key and tweaked by the time and the nonce. Without the key an id
//! reveals neither volume nor sequence (S0.4): consecutive orders get unrelated blocks. Lookup
//! deciphers the block and compares the stored order's id, so a forged or unknown id answers
//! not found. The key is journaled (in every `CampaignCreated` record), so replay rebuilds the
//! same ids. It is an obfuscation keyed by 64 secret bits, not a vetted cipher.

use serde::{Deserialize, Serialize};

use crate::ids::{OrderId, uuid_v7_bits};
use crate::ledger::MAX_CAMPAIGNS;
use crate::money::UnixMillis;

/// Bits of RNG nonce in an order id (the 74 free bits less the 48-bit block).
pub(crate) const NONCE_BITS: u32 = 26;
const NONCE_MASK: u32 = (1 << NONCE_BITS) - 1;
const HALF_BITS: u32 = 24;
const HALF_MASK: u64 = (1 << HALF_BITS) - 1;
const SLOT_BITS: u32 = 16;
/// Feistel rounds: 8 is well past the 4 that make a pseudo-random permutation from a
/// pseudo-random round function (Luby–Rackoff), and costs ~10 ns.
const ROUNDS: u64 = 8;
const _: () = assert!(
    MAX_CAMPAIGNS <= 1 << SLOT_BITS,
    "a campaign slot fits 16 bits"
);

/// The ledger's secret for order ids. Drawn once from the RNG at the first campaign creation
/// and journaled with every creation; never shown through the API.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderKey(pub u64);

impl std::fmt::Debug for OrderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OrderKey(…)")
    }
}

/// Where an order id says its order lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OrderPlace {
    pub(crate) slot: u32,
    pub(crate) index: u32,
    pub(crate) nonce: u32,
}

impl OrderKey {
    /// The id of order `index` of the campaign in `slot`, won at `won_at`, with `nonce`
    /// (its low [`NONCE_BITS`] bits are used).
    pub(crate) fn encode(self, won_at: UnixMillis, slot: u32, index: u32, nonce: u32) -> OrderId {
        debug_assert!(slot < 1 << SLOT_BITS);
        let nonce = nonce & NONCE_MASK;
        let tweak = tweak(won_at.0, nonce);
        let block = (u64::from(slot) << 32) | u64::from(index);
        let (mut left, mut right) = (block >> HALF_BITS, block & HALF_MASK);
        for round in 0..ROUNDS {
            (left, right) = (right, left ^ self.round(round, tweak, right));
        }
        let cipher = (left << HALF_BITS) | right;
        // rand_a (12 bits) = nonce's high 12; rand_b (62 bits) = nonce's low 14 | the block.
        let random = (u128::from(nonce >> 14) << 64)
            | (u128::from(nonce & 0x3fff) << 48)
            | u128::from(cipher);
        OrderId(uuid_v7_bits(won_at.0, random))
    }

    /// Where `id` says its order lives; `None` if it is not a UUIDv7-shaped id. The caller
    /// must still compare the stored order's id: any 128 bits decode to some place.
    pub(crate) fn decode(self, id: OrderId) -> Option<OrderPlace> {
        let bits = id.0;
        if (bits >> 76) & 0xf != 7 || (bits >> 62) & 0b11 != 0b10 {
            return None;
        }
        let ms = (bits >> 80) as u64;
        let rand_a = ((bits >> 64) & 0xfff) as u32;
        let rand_b = bits as u64 & ((1 << 62) - 1);
        let nonce = (rand_a << 14) | (rand_b >> 48) as u32;
        let tweak = tweak(ms, nonce);
        let cipher = rand_b & ((1 << 48) - 1);
        let (mut left, mut right) = (cipher >> HALF_BITS, cipher & HALF_MASK);
        for round in (0..ROUNDS).rev() {
            (left, right) = (right ^ self.round(round, tweak, left), left);
        }
        let block = (left << HALF_BITS) | right;
        Some(OrderPlace {
            slot: (block >> 32) as u32,
            index: block as u32,
            nonce,
        })
    }

    /// The round function: a keyed 64-bit mix of the half-block, cut to 24 bits.
    fn round(self, round: u64, tweak: u64, half: u64) -> u64 {
        let round_key = mix(self.0 ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        mix(round_key ^ tweak ^ half) & HALF_MASK
    }
}

/// Whether `id` carries the time `won_at` in its UUIDv7 time field (48 bits, as
/// [`uuid_v7_bits`] writes it).
pub(crate) fn carries_time(id: OrderId, won_at: UnixMillis) -> bool {
    (id.0 >> 80) as u64 == won_at.0 & 0xffff_ffff_ffff
}

fn tweak(unix_ms: u64, nonce: u32) -> u64 {
    mix(((unix_ms & 0xffff_ffff_ffff) << NONCE_BITS) ^ u64::from(nonce))
}

/// The SplitMix64 finalizer: every input bit flips each output bit with probability ~1/2.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode_finds_the_place() {
        let key = OrderKey(0x0123_4567_89ab_cdef);
        for (slot, index, nonce) in [(0, 0, 0), (9_999, u32::MAX, NONCE_MASK), (7, 123, 42)] {
            let id = key.encode(UnixMillis(1_794_398_400_000), slot, index, nonce);
            assert_eq!((id.0 >> 76) & 0xf, 7, "version nibble");
            assert_eq!((id.0 >> 62) & 0b11, 0b10, "variant bits");
            assert_eq!(id.0 >> 80, 1_794_398_400_000);
            let place = key.decode(id).unwrap();
            assert_eq!(place, OrderPlace { slot, index, nonce });
        }
    }

    #[test]
    fn consecutive_orders_get_unrelated_ids() {
        let key = OrderKey(7);
        let at = UnixMillis(1_794_398_400_000);
        let a = key.encode(at, 0, 1, 5).0 & ((1 << 48) - 1);
        let b = key.encode(at, 0, 2, 5).0 & ((1 << 48) - 1);
        assert!((a ^ b).count_ones() > 8, "{a:x} vs {b:x}");
        let other_key = OrderKey(8).encode(at, 0, 1, 5);
        assert_ne!(other_key.0, key.encode(at, 0, 1, 5).0);
        assert_ne!(key.decode(other_key).unwrap().index, 1);
    }

    #[test]
    fn non_v7_bits_do_not_decode() {
        assert_eq!(OrderKey(1).decode(OrderId(7)), None);
    }
}
