//! FF1 (NIST SP 800-38G, Algorithms 7 and 8) for exactly the one shape order ids use: radix 2,
//! 48 numerals held in a `u64` (two halves of 24), a 10-byte tweak, AES-128.
//!
//! With those sizes FF1's PRF input is the constant block P followed by one block Q per
//! round, so P's CBC-MAC step is computed once per key and each of the ten rounds costs one
//! AES block, with no allocation and no copy of the key schedule. The general implementation
//! (the `fpe` crate, checked against NIST's vectors) is the reference: a test compares the two
//! on random keys, tweaks and blocks, both ways.

use aes::Aes128;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};

/// Numerals per half (u = v = 24).
const HALF_BITS: u32 = 24;
const HALF_MASK: u64 = (1 << HALF_BITS) - 1;
/// Bytes of the tweak.
pub(super) const TWEAK_BYTES: usize = 10;
/// FF1's rounds.
const ROUNDS: u8 = 10;

/// FF1 keyed once: the cipher and `CIPH_K(P)`.
pub(super) struct Ff1 {
    aes: Aes128,
    p_mac: [u8; 16],
}

impl Ff1 {
    /// FF1 under the AES-128 key `key`.
    pub(super) fn new(key: &[u8; 16]) -> Self {
        let aes = Aes128::new(&Array::from(*key));
        // P = [1]¹ ‖ [2]¹ ‖ [1]¹ ‖ [radix]³ ‖ [10]¹ ‖ [u mod 256]¹ ‖ [n]⁴ ‖ [t]⁴.
        let p: [u8; 16] = [
            1,
            2,
            1,
            0,
            0,
            2,
            10,
            HALF_BITS as u8,
            0,
            0,
            0,
            48,
            0,
            0,
            0,
            TWEAK_BYTES as u8,
        ];
        let mut block = Array::from(p);
        aes.encrypt_block(&mut block);
        Self {
            aes,
            p_mac: block.into(),
        }
    }

    /// `NUM(S)` of round `round` given the other half: the PRF of P ‖ Q, its first 8 bytes.
    fn round_value(&self, tweak: &[u8; TWEAK_BYTES], round: u8, half: u64) -> u64 {
        // Q = T ‖ [0]^((−t−b−1) mod 16) ‖ [i]¹ ‖ [NUM(half)]^b, with t = 10, b = 3: 16 bytes.
        let mut q = [0u8; 16];
        q[..TWEAK_BYTES].copy_from_slice(tweak);
        q[12] = round;
        q[13..].copy_from_slice(&half.to_be_bytes()[5..]);
        for (q, p) in q.iter_mut().zip(self.p_mac) {
            *q ^= p;
        }
        let mut block = Array::from(q);
        self.aes.encrypt_block(&mut block);
        let r: [u8; 16] = block.into();
        u64::from_be_bytes(r[..8].try_into().expect("8 bytes"))
    }

    /// Enciphers the 48 numerals in `x` (most significant first).
    pub(super) fn encrypt(&self, tweak: &[u8; TWEAK_BYTES], x: u64) -> u64 {
        let (mut a, mut b) = (x >> HALF_BITS & HALF_MASK, x & HALF_MASK);
        for round in 0..ROUNDS {
            let c = a.wrapping_add(self.round_value(tweak, round, b)) & HALF_MASK;
            (a, b) = (b, c);
        }
        a << HALF_BITS | b
    }

    /// Deciphers what [`Self::encrypt`] made.
    pub(super) fn decrypt(&self, tweak: &[u8; TWEAK_BYTES], x: u64) -> u64 {
        let (mut a, mut b) = (x >> HALF_BITS & HALF_MASK, x & HALF_MASK);
        for round in (0..ROUNDS).rev() {
            let c = b.wrapping_sub(self.round_value(tweak, round, a)) & HALF_MASK;
            (a, b) = (c, a);
        }
        a << HALF_BITS | b
    }
}
