//! A grab's `Idempotency-Key`, as the ledger keeps it: a win made under a key is remembered
//! with its order ([`crate::Record::KeyedWon`]), so the key's retry gets the same order back
//! wherever and whenever it is decided — on another node, after a failover, after a restart.

use serde::{Deserialize, Serialize};

/// Longest key: 128 bytes. Clients send UUIDs (36 characters); 128 leaves room and bounds
/// what each keyed win adds to the ledger.
pub const MAX_GRAB_KEY_BYTES: usize = 128;

/// A validated key: 1 to [`MAX_GRAB_KEY_BYTES`] printable ASCII characters, no spaces.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GrabKey(Box<str>);

/// Why bytes are not a valid [`GrabKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GrabKeyError {
    /// Empty, or longer than [`MAX_GRAB_KEY_BYTES`].
    #[error("Idempotency-Key: must be 1 to {MAX_GRAB_KEY_BYTES} characters")]
    Length,
    /// A byte outside printable ASCII (`!` to `~`).
    #[error("Idempotency-Key: must be printable ASCII without spaces")]
    BadCharacter,
}

impl GrabKey {
    /// Checks `bytes` without allocating; the rule [`GrabKey::parse`] applies. Answers the
    /// key as a string slice.
    pub fn validate(bytes: &[u8]) -> Result<&str, GrabKeyError> {
        if bytes.is_empty() || bytes.len() > MAX_GRAB_KEY_BYTES {
            return Err(GrabKeyError::Length);
        }
        if !bytes.iter().all(u8::is_ascii_graphic) {
            return Err(GrabKeyError::BadCharacter);
        }
        // All printable ASCII, so valid UTF-8.
        std::str::from_utf8(bytes).map_err(|_| GrabKeyError::BadCharacter)
    }

    /// A key from its bytes as read (a request header), checked once.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, GrabKeyError> {
        Self::validate(bytes).map(|key| Self(Box::from(key)))
    }

    /// Parses and validates a key.
    pub fn parse(s: &str) -> Result<Self, GrabKeyError> {
        Self::validate(s.as_bytes())?;
        Ok(Self(Box::from(s)))
    }

    /// The key as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for GrabKey {
    type Error = GrabKeyError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::validate(s.as_bytes())?;
        Ok(Self(s.into_boxed_str()))
    }
}

impl From<GrabKey> for String {
    fn from(key: GrabKey) -> Self {
        key.0.into_string()
    }
}

impl std::fmt::Debug for GrabKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GrabKey({:?})", &*self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_to_128_printable_ascii_bytes() {
        assert!(GrabKey::parse("a").is_ok());
        assert!(GrabKey::parse(&"k".repeat(MAX_GRAB_KEY_BYTES)).is_ok());
        assert_eq!(GrabKey::parse(""), Err(GrabKeyError::Length));
        let long = "k".repeat(MAX_GRAB_KEY_BYTES + 1);
        assert_eq!(GrabKey::parse(&long), Err(GrabKeyError::Length));
        assert_eq!(GrabKey::parse("a b"), Err(GrabKeyError::BadCharacter));
        assert_eq!(GrabKey::parse("é"), Err(GrabKeyError::BadCharacter));
        assert_eq!(GrabKey::validate(b"\x7f"), Err(GrabKeyError::BadCharacter));
    }

    #[test]
    fn decoding_checks_the_rule() {
        let bad: Result<GrabKey, _> = serde_json::from_str("\"a b\"");
        assert!(bad.is_err());
        let good: GrabKey = serde_json::from_str("\"0f3a-retry\"").unwrap();
        assert_eq!(good.as_str(), "0f3a-retry");
    }
}
