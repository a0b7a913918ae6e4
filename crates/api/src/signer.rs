//! One keyed HMAC-SHA256, shared by everything that signs or checks a lowercase hex MAC: user
//! tokens ([`crate::auth`]) and payment callbacks' `X-Signature`
//! ([`crate::handlers::payments`]).
//!
//! The key is set up once ([`Signer::new`]); each use clones the keyed state (no re-keying).
//! Checking allocates nothing: the hex is decoded into a stack array and compared in constant
//! time. Only lowercase hex of exactly [`MAC_HEX_LEN`] characters is accepted, as the API
//! documents and as [`Signer::sign_hex`] writes it.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use stampede_core::hex_digit::lowercase;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of an HMAC-SHA256.
pub const MAC_BYTES: usize = 32;
/// Characters of its hex form.
pub const MAC_HEX_LEN: usize = 2 * MAC_BYTES;

/// Signs and checks messages under one secret.
#[derive(Clone)]
pub struct Signer {
    mac: HmacSha256,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { .. }")
    }
}

impl Signer {
    /// A signer keyed with `secret` (any length; HMAC hashes keys longer than a block).
    pub fn new(secret: &[u8]) -> Self {
        Self {
            mac: HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length"),
        }
    }

    /// The MAC of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; MAC_BYTES] {
        let mut mac = self.mac.clone();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    /// The MAC of `message` as lowercase hex ([`MAC_HEX_LEN`] characters).
    pub fn sign_hex(&self, message: &[u8]) -> String {
        hex::encode(self.sign(message))
    }

    /// Whether `given` is the MAC of `message` (constant time in the MAC's bytes).
    pub fn verify(&self, given: &[u8; MAC_BYTES], message: &[u8]) -> bool {
        bool::from(self.sign(message).ct_eq(given))
    }

    /// Whether `given_hex` is the lowercase hex MAC of `message`. Allocates nothing; anything
    /// but [`MAC_HEX_LEN`] lowercase hex digits is refused before the MAC is computed.
    pub fn verify_hex(&self, given_hex: &str, message: &[u8]) -> bool {
        decode_mac_hex(given_hex).is_some_and(|given| self.verify(&given, message))
    }
}

/// Decodes a MAC written as exactly [`MAC_HEX_LEN`] lowercase hex digits; `None` for anything
/// else (uppercase included).
pub fn decode_mac_hex(hex_text: &str) -> Option<[u8; MAC_BYTES]> {
    let digits = hex_text.as_bytes();
    if digits.len() != MAC_HEX_LEN {
        return None;
    }
    let mut mac = [0u8; MAC_BYTES];
    for (byte, pair) in mac.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = lowercase(pair[0])? << 4 | lowercase(pair[1])?;
    }
    Some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HMAC-SHA256(key="key", "v1.bob.99"): the MAC of `auth`'s known-vector token.
    const TOKEN_VECTOR: &str = "7abac7ffd0382b4744698a7e37950621875760893ed6a6be29f8c392cd8d0a05";
    /// HMAC-SHA256(key="key", "The quick brown fox jumps over the lazy dog"), the textbook one.
    const FOX_VECTOR: &str = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";
    const FOX: &[u8] = b"The quick brown fox jumps over the lazy dog";

    #[test]
    fn known_vectors() {
        let signer = Signer::new(b"key");
        assert_eq!(signer.sign_hex(b"v1.bob.99"), TOKEN_VECTOR);
        assert_eq!(signer.sign_hex(FOX), FOX_VECTOR);
        assert!(signer.verify_hex(TOKEN_VECTOR, b"v1.bob.99"));
        assert!(signer.verify_hex(FOX_VECTOR, FOX));
        // A clone signs the same; signing twice does not disturb the keyed state.
        assert_eq!(signer.clone().sign_hex(FOX), FOX_VECTOR);
    }

    #[test]
    fn wrong_mac_message_or_key_is_refused() {
        let signer = Signer::new(b"key");
        assert!(!signer.verify_hex(FOX_VECTOR, b"v1.bob.99"));
        assert!(!Signer::new(b"other").verify_hex(FOX_VECTOR, FOX));
        let mut flipped = FOX_VECTOR.to_owned();
        flipped.replace_range(63.., "9");
        assert!(!signer.verify_hex(&flipped, FOX));
    }

    #[test]
    fn only_lowercase_hex_of_the_right_length_is_read() {
        let signer = Signer::new(b"key");
        let upper = FOX_VECTOR.to_ascii_uppercase();
        for bad in [
            "",
            &FOX_VECTOR[..62],
            &format!("{FOX_VECTOR}00"),
            upper.as_str(),
            &FOX_VECTOR.replacen('f', "g", 1),
            &FOX_VECTOR.replacen('f', " ", 1),
            &format!("é{}", &FOX_VECTOR[2..]),
        ] {
            assert_eq!(decode_mac_hex(bad), None, "{bad:?}");
            assert!(!signer.verify_hex(bad, FOX), "{bad:?}");
        }
        assert_eq!(
            decode_mac_hex(FOX_VECTOR).map(hex::encode).as_deref(),
            Some(FOX_VECTOR)
        );
    }
}
