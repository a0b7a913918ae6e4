//! User bearer tokens: `v1.<user_id>.<expires_unix>.<hex(HMAC-SHA256(secret, payload))>`, and
//! shadow tokens (a rehearsal's, `--shadow`): the same with `s1.`, the marker inside the
//! signed payload.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Which token the bench's users carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TokenKind {
    /// `v1.`: real grabs.
    #[default]
    Real,
    /// `s1.`: shadow grabs, decided against the campaign's shadow copy (`--shadow`).
    Shadow,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            TokenKind::Real => "v1",
            TokenKind::Shadow => "s1",
        }
    }
}

/// Mints the bearer token (without the `Bearer ` prefix) the server accepts for `user_id`
/// until `expires_unix`. The MAC covers `v1.<user_id>.<expires_unix>`; hex is lowercase.
pub fn mint_token(secret: &[u8], user_id: &str, expires_unix: u64) -> String {
    mint_token_of(TokenKind::Real, secret, user_id, expires_unix)
}

/// [`mint_token`] for a real or a shadow token.
pub fn mint_token_of(kind: TokenKind, secret: &[u8], user_id: &str, expires_unix: u64) -> String {
    let payload = format!("{}.{user_id}.{expires_unix}", kind.prefix());
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    let tag = hex::encode(mac.finalize().into_bytes());
    format!("{payload}.{tag}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_hand_computed_vector() {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"s3cret").unwrap();
        mac.update(b"v1.alice_01.1700000000");
        let expected = format!(
            "v1.alice_01.1700000000.{}",
            hex::encode(mac.finalize().into_bytes())
        );
        assert_eq!(mint_token(b"s3cret", "alice_01", 1_700_000_000), expected);
    }

    #[test]
    fn matches_a_pinned_vector() {
        // HMAC-SHA256(key = "key", "v1.u.1") and ("s1.u.1"), computed independently
        // (Python's hmac module) and pinned, so a change in payload layout (separator, order,
        // hex case, marker) is caught.
        assert_eq!(
            mint_token(b"key", "u", 1),
            "v1.u.1.726922f8129bfa843c56b3e019c78b7160eb479d271e527fd69ea9e94ca184f0"
        );
        assert_eq!(
            mint_token_of(TokenKind::Shadow, b"key", "u", 1),
            "s1.u.1.f94cbf16b27eb5c7c24a039046e839a9e286107ec4df43d720e5d68d598c3220"
        );
    }
}
