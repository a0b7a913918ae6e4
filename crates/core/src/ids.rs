//! Identifiers: newtypes so a user id can never be passed where an order id is expected.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The longest user id accepted, in bytes (ASCII only). 64 covers every id scheme we know
/// (UUIDs, snowflakes, e-mail hashes) while keeping per-user memory small and bounded.
pub const MAX_USER_ID_BYTES: usize = 64;

/// Longest id a channel or payout provider hands back (transaction, refund or payout id), in
/// bytes: providers use ids of 32–64 characters; 128 bounds the journal records and the maps
/// that keep them.
pub const MAX_PROVIDER_ID_BYTES: usize = 128;

/// Whether `id` is 1..=[`MAX_PROVIDER_ID_BYTES`] bytes without control characters: the one
/// rule for the ids a channel or payout provider hands back (transaction, refund and payout
/// ids). Such an id reaches the journal as given, so the ledger checks it before deciding.
pub fn is_provider_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_PROVIDER_ID_BYTES && !id.chars().any(char::is_control)
}

/// A user id: 1..=[`MAX_USER_ID_BYTES`] characters of `[A-Za-z0-9_-]`.
///
/// Cheap to clone (shared `Arc<str>`): a winner's id is stored once and referenced by both the
/// order list and the per-user index.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(Arc<str>);

/// Why a string is not a valid [`UserId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UserIdError {
    /// Empty string.
    #[error("user id is empty")]
    Empty,
    /// Longer than [`MAX_USER_ID_BYTES`].
    #[error("user id is longer than {MAX_USER_ID_BYTES} characters")]
    TooLong,
    /// Contains a character outside `[A-Za-z0-9_-]`.
    #[error("user id may contain only A-Z, a-z, 0-9, '_' and '-'")]
    BadCharacter,
}

impl UserId {
    /// Checks `s` without allocating; the same rule [`UserId::parse`] applies.
    pub fn validate(s: &str) -> Result<(), UserIdError> {
        if s.is_empty() {
            return Err(UserIdError::Empty);
        }
        if s.len() > MAX_USER_ID_BYTES {
            return Err(UserIdError::TooLong);
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(UserIdError::BadCharacter);
        }
        Ok(())
    }

    /// Parses and validates a user id.
    pub fn parse(s: &str) -> Result<Self, UserIdError> {
        Self::validate(s)?;
        Ok(Self(Arc::from(s)))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user id validated where it was read (a token) and still borrowed from there: what
/// authentication hands out, so the sold-out fast path needs no allocation. [`UserRef::to_owned`]
/// makes the owned [`UserId`] the engine journals, without checking again.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserRef<'a>(&'a str);

impl<'a> UserRef<'a> {
    /// Checks `s` by [`UserId::validate`]'s rule.
    pub fn parse(s: &'a str) -> Result<Self, UserIdError> {
        UserId::validate(s)?;
        Ok(Self(s))
    }

    /// The id as a string slice.
    pub fn as_str(self) -> &'a str {
        self.0
    }

    /// The owned id (one allocation, no second check).
    pub fn to_owned(self) -> UserId {
        UserId(Arc::from(self.0))
    }
}

impl fmt::Debug for UserRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserRef({})", self.0)
    }
}

impl fmt::Display for UserRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl UserId {
    /// The id borrowed, as authentication hands it out.
    pub fn as_ref(&self) -> UserRef<'_> {
        UserRef(&self.0)
    }
}

impl std::borrow::Borrow<str> for UserId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = UserIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> Self {
        id.0.to_string()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", &self.0)
    }
}

/// Defines a 128-bit id newtype printed as 32 lowercase hex digits with a short prefix
/// (`c_…` for campaigns, `o_…` for orders) so ids of different kinds are never confused in logs.
macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(pub u128);

        impl $name {
            /// The printed prefix of this id kind.
            pub const PREFIX: &'static str = $prefix;
            /// Length of the printed form: prefix plus 32 hex digits.
            pub const PRINTED_LEN: usize = $prefix.len() + 32;

            /// Parses the printed form without allocating.
            pub fn parse(s: &str) -> Option<Self> {
                let hex = s.strip_prefix($prefix)?;
                if hex.len() != 32 {
                    return None;
                }
                let mut value = 0u128;
                for &byte in hex.as_bytes() {
                    value = value << 4 | u128::from($crate::hex_digit::any_case(byte)?);
                }
                Some(Self(value))
            }

            /// Writes the printed form into a stack buffer (no heap allocation).
            pub fn encode(self, buf: &mut [u8; $prefix.len() + 32]) -> &str {
                const DIGITS: &[u8; 16] = b"0123456789abcdef";
                buf[..$prefix.len()].copy_from_slice($prefix.as_bytes());
                for i in 0..32 {
                    let nibble = (self.0 >> (124 - 4 * i)) & 0xf;
                    buf[$prefix.len() + i] = DIGITS[nibble as usize];
                }
                // Every byte written above is ASCII.
                std::str::from_utf8(buf).expect("ASCII hex id")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{:032x}", $prefix, self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                Self::parse(s).ok_or(())
            }
        }
    };
}

hex_id!(
    /// A campaign id (UUIDv7 bits: time-ordered, with random bits so ids do not reveal volume).
    CampaignId,
    "c_"
);
hex_id!(
    /// An order id (UUIDv7 bits: time-ordered, with random bits so ids do not reveal volume, S0.4).
    OrderId,
    "o_"
);

/// Builds UUIDv7-layout bits from a unix-millisecond time and 80 random bits.
///
/// The core draws no randomness itself: the caller passes bits from its injected RNG.
pub fn uuid_v7_bits(unix_ms: u64, random: u128) -> u128 {
    let ms = u128::from(unix_ms & 0xffff_ffff_ffff);
    let rand_a = (random >> 64) & 0xfff; // 12 bits
    let rand_b = random & ((1u128 << 62) - 1); // 62 bits
    (ms << 80) | (0x7u128 << 76) | (rand_a << 64) | (0b10u128 << 62) | rand_b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_id_rules() {
        assert!(UserId::parse("alice_01-x").is_ok());
        assert_eq!(UserId::parse(""), Err(UserIdError::Empty));
        assert_eq!(UserId::parse(&"a".repeat(65)), Err(UserIdError::TooLong));
        assert!(UserId::parse(&"a".repeat(64)).is_ok());
        assert_eq!(UserId::parse("a.b"), Err(UserIdError::BadCharacter));
        assert_eq!(UserId::parse("é"), Err(UserIdError::BadCharacter));
    }

    #[test]
    fn hex_ids_round_trip() {
        let id = OrderId(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
        let printed = id.to_string();
        assert_eq!(printed, "o_0123456789abcdef0011223344556677");
        assert_eq!(OrderId::parse(&printed), Some(id));
        let mut buf = [0u8; OrderId::PRINTED_LEN];
        assert_eq!(id.encode(&mut buf), printed);
        assert_eq!(OrderId::parse("c_0123456789abcdef0011223344556677"), None);
        assert_eq!(OrderId::parse("o_0123"), None);
        assert_eq!(OrderId::parse("o_0123456789abcdef001122334455667g"), None);
        assert_eq!(
            CampaignId::parse("c_+123456789abcdef0011223344556677"),
            None
        );
    }

    #[test]
    fn uuid_v7_layout() {
        let bits = uuid_v7_bits(0x0193_0000_0001, u128::MAX);
        assert_eq!((bits >> 76) & 0xf, 7, "version nibble");
        assert_eq!((bits >> 62) & 0b11, 0b10, "variant bits");
        assert_eq!(bits >> 80, 0x0193_0000_0001);
    }
}
