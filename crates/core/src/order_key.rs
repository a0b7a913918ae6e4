//! Self-locating order ids: an order id carries where its order lives (campaign slot, index in
//! win order), enciphered under the ledger's secret [`OrderKey`], so the ledger needs no
//! id → order map (that map was 66 MiB at 1,000,000 orders).
//!
//! An id keeps the UUIDv7 layout ([`uuid_v7_bits`]): 48 bits of unix milliseconds, the version
//! and variant bits, and 74 bits that look random. Those 74 bits are a 26-bit nonce drawn from
//! the caller's RNG and a 48-bit block, `slot << 32 | index`, enciphered with FF1 (NIST SP
//! 800-38G format-preserving encryption, radix 2, 48 numerals) under AES-128 keyed by the
//! ledger key, with the time and the nonce as FF1's tweak. Without the key an id reveals
//! neither volume nor sequence (S0.4): consecutive orders get unrelated blocks. Lookup
//! deciphers the block and compares the stored order's id, so a forged or unknown id answers
//! not found. The key is journaled (in every `CampaignCreated` record), so replay rebuilds the
//! same ids; it is never shown through the API.
//!
//! FF1 is [`ff1`]: the algorithm for exactly this shape (a 48-bit block in a `u64`, a 10-byte
//! tweak), one AES block per round; [`tests`] checks it against the `fpe` crate's general
//! implementation (Zcash's, checked there against NIST's vectors) on random blocks, keys and
//! tweaks.

mod ff1;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ids::{OrderId, uuid_v7_bits};
use crate::money::UnixMillis;
use crate::spec::MAX_CAMPAIGNS;

/// Bits of RNG nonce in an order id (the 74 free bits less the 48-bit block).
pub(crate) const NONCE_BITS: u32 = 26;
const NONCE_MASK: u32 = (1 << NONCE_BITS) - 1;
/// Bits of the enciphered block: a 16-bit campaign slot and a 32-bit order index.
const BLOCK_BITS: u32 = 48;
const BLOCK_MASK: u64 = (1 << BLOCK_BITS) - 1;
const SLOT_BITS: u32 = 16;
const _: () = assert!(
    MAX_CAMPAIGNS <= 1 << SLOT_BITS,
    "a campaign slot fits 16 bits"
);

/// The ledger's secret for order ids: an AES-128 key. Drawn once from the RNG at the first
/// campaign creation and journaled with every creation; never shown through the API.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderKey(pub u128);

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

/// The part of a caller's nonce an order id carries (what [`OrderCipher::decode`] gives back).
pub(crate) fn carried_nonce(nonce: u32) -> u32 {
    nonce & NONCE_MASK
}

/// FF1 keyed by an [`OrderKey`]: the AES key schedule is computed once per ledger and shared
/// by its campaigns.
pub(crate) struct OrderCipher {
    key: OrderKey,
    ff1: ff1::Ff1,
}

impl std::fmt::Debug for OrderCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OrderCipher(…)")
    }
}

impl OrderCipher {
    /// The cipher for `key`.
    pub(crate) fn new(key: OrderKey) -> Arc<Self> {
        let ff1 = ff1::Ff1::new(&key.0.to_be_bytes());
        Arc::new(Self { key, ff1 })
    }

    /// The key this cipher was made from.
    pub(crate) fn key(&self) -> OrderKey {
        self.key
    }

    /// The id of order `index` of the campaign in `slot`, won at `won_at`, with `nonce`
    /// (its low [`NONCE_BITS`] bits are used).
    pub(crate) fn encode(&self, won_at: UnixMillis, slot: u32, index: u32, nonce: u32) -> OrderId {
        debug_assert!(slot < 1 << SLOT_BITS);
        let nonce = carried_nonce(nonce);
        let block = (u64::from(slot) << 32) | u64::from(index);
        let cipher = self.ff1.encrypt(&tweak(won_at.0, nonce), block);
        // rand_a (12 bits) = nonce's high 12; rand_b (62 bits) = nonce's low 14 | the block.
        let random = (u128::from(nonce >> 14) << 64)
            | (u128::from(nonce & 0x3fff) << 48)
            | u128::from(cipher);
        OrderId(uuid_v7_bits(won_at.0, random))
    }

    /// Where `id` says its order lives; `None` if it is not a UUIDv7-shaped id. The caller
    /// must still compare the stored order's id: any 128 bits decode to some place.
    pub(crate) fn decode(&self, id: OrderId) -> Option<OrderPlace> {
        let bits = id.0;
        if (bits >> 76) & 0xf != 7 || (bits >> 62) & 0b11 != 0b10 {
            return None;
        }
        let ms = (bits >> 80) as u64;
        let rand_a = ((bits >> 64) & 0xfff) as u32;
        let rand_b = bits as u64 & ((1 << 62) - 1);
        let nonce = (rand_a << 14) | (rand_b >> 48) as u32;
        let block = self.ff1.decrypt(&tweak(ms, nonce), rand_b & BLOCK_MASK);
        Some(OrderPlace {
            slot: (block >> 32) as u32,
            index: block as u32,
            nonce,
        })
    }
}

/// Whether `id` carries the time `won_at` in its UUIDv7 time field (48 bits, as
/// [`uuid_v7_bits`] writes it).
pub(crate) fn carries_time(id: OrderId, won_at: UnixMillis) -> bool {
    (id.0 >> 80) as u64 == won_at.0 & 0xffff_ffff_ffff
}

/// FF1's tweak: the id's 48-bit time and 26-bit nonce, big-endian in 10 bytes.
fn tweak(unix_ms: u64, nonce: u32) -> [u8; ff1::TWEAK_BYTES] {
    let mut tweak = [0; ff1::TWEAK_BYTES];
    tweak[..6].copy_from_slice(&(unix_ms & 0xffff_ffff_ffff).to_be_bytes()[2..]);
    tweak[6..].copy_from_slice(&nonce.to_be_bytes());
    tweak
}

#[cfg(test)]
mod tests {
    use fpe::ff1::FlexibleNumeralString;
    use rand::{Rng, SeedableRng};

    use super::*;

    #[test]
    fn encode_then_decode_finds_the_place() {
        let cipher = OrderCipher::new(OrderKey(0x0123_4567_89ab_cdef_0011_2233_4455_6677));
        for (slot, index, nonce) in [(0, 0, 0), (9_999, u32::MAX, NONCE_MASK), (7, 123, 42)] {
            let id = cipher.encode(UnixMillis(1_794_398_400_000), slot, index, nonce);
            assert_eq!((id.0 >> 76) & 0xf, 7, "version nibble");
            assert_eq!((id.0 >> 62) & 0b11, 0b10, "variant bits");
            assert_eq!(id.0 >> 80, 1_794_398_400_000);
            let place = cipher.decode(id).unwrap();
            assert_eq!(place, OrderPlace { slot, index, nonce });
        }
    }

    #[test]
    fn consecutive_orders_get_unrelated_ids() {
        let cipher = OrderCipher::new(OrderKey(7));
        let at = UnixMillis(1_794_398_400_000);
        let a = cipher.encode(at, 0, 1, 5).0 & u128::from(BLOCK_MASK);
        let b = cipher.encode(at, 0, 2, 5).0 & u128::from(BLOCK_MASK);
        assert!((a ^ b).count_ones() > 8, "{a:x} vs {b:x}");
        let other = OrderCipher::new(OrderKey(8)).encode(at, 0, 1, 5);
        assert_ne!(other.0, cipher.encode(at, 0, 1, 5).0);
        assert_ne!(cipher.decode(other).unwrap().index, 1);
    }

    #[test]
    fn non_v7_bits_do_not_decode() {
        assert_eq!(OrderCipher::new(OrderKey(1)).decode(OrderId(7)), None);
    }

    /// Our FF1 gives exactly what the `fpe` crate's general FF1 (a vector of numerals,
    /// big-integer arithmetic) gives, both ways.
    #[test]
    fn agrees_with_the_fpe_crate() {
        use aes::Aes128;
        use fpe::ff1::FF1;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for _ in 0..1_000 {
            let key: u128 = rng.random();
            let reference = FF1::<Aes128>::new(&key.to_be_bytes(), 2).unwrap();
            let ours = ff1::Ff1::new(&key.to_be_bytes());
            let block = rng.random::<u64>() & BLOCK_MASK;
            let tweak = tweak(rng.random(), rng.random::<u32>() & NONCE_MASK);
            let numerals: Vec<u16> = (0..BLOCK_BITS)
                .rev()
                .map(|bit| ((block >> bit) & 1) as u16)
                .collect();
            let general: Vec<u16> = reference
                .encrypt(&tweak, &FlexibleNumeralString::from(numerals))
                .unwrap()
                .into();
            let general = general
                .iter()
                .fold(0u64, |acc, &numeral| (acc << 1) | u64::from(numeral));
            let enciphered = ours.encrypt(&tweak, block);
            assert_eq!(enciphered, general, "key {key:x} block {block:x}");
            assert_eq!(ours.decrypt(&tweak, enciphered), block);
        }
    }
}
