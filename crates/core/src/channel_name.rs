//! A payment channel's name, checked once where it enters (a request, a config, a statement
//! file) and carried typed from there, so nothing below the edge handles a name that breaks
//! the rule.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Longest channel name, in bytes: names are short identifiers (`sim`, `wechat`).
pub const MAX_CHANNEL_BYTES: usize = 32;

/// A channel name: 1..=[`MAX_CHANNEL_BYTES`] bytes of `[a-z0-9_-]`.
///
/// Serialized as the plain string, so a journal written before the type existed reads the
/// same. Cheap to clone (shared `Arc<str>`): every payment and paying order holds one.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChannelName(Arc<str>);

/// Why a string is not a valid [`ChannelName`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("channel must be 1..={MAX_CHANNEL_BYTES} bytes of [a-z0-9_-]")]
pub struct ChannelNameError;

impl ChannelName {
    /// Checks `s` without allocating; the rule [`ChannelName::parse`] applies.
    pub fn validate(s: &str) -> Result<(), ChannelNameError> {
        let valid = !s.is_empty()
            && s.len() <= MAX_CHANNEL_BYTES
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if valid { Ok(()) } else { Err(ChannelNameError) }
    }

    /// Parses and validates a channel name.
    pub fn parse(s: &str) -> Result<Self, ChannelNameError> {
        Self::validate(s)?;
        Ok(Self(Arc::from(s)))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for ChannelName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ChannelName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for ChannelName {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for ChannelName {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl std::str::FromStr for ChannelName {
    type Err = ChannelNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for ChannelName {
    type Error = ChannelNameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ChannelName> for String {
    fn from(name: ChannelName) -> Self {
        name.0.to_string()
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Like the plain string's (quoted), so logs and messages that show a name with `{:?}` read as
/// they did when it was a `String`.
impl fmt::Debug for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        for good in ["sim", "we-chat_2", &"a".repeat(MAX_CHANNEL_BYTES)] {
            assert_eq!(ChannelName::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "Sim", "a b", "é", &"a".repeat(MAX_CHANNEL_BYTES + 1)] {
            assert_eq!(ChannelName::parse(bad), Err(ChannelNameError), "{bad:?}");
        }
    }

    #[test]
    fn serializes_as_the_plain_string_and_refuses_a_bad_one() {
        let name = ChannelName::parse("sim").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"sim\"");
        assert_eq!(
            serde_json::from_str::<ChannelName>("\"sim\"").unwrap(),
            name
        );
        assert!(serde_json::from_str::<ChannelName>("\"SIM\"").is_err());
        assert_eq!(format!("{name:?} {name}"), "\"sim\" sim");
    }
}
