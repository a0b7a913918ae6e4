//! The signers that check each payment channel's callbacks, one per channel (a callback body
//! names no channel, so its channel's own secret is what binds it; the server loads the
//! secrets).

use stampede_core::ChannelName;

use crate::signer::Signer;

/// One signer per channel, keyed once. At most `MAX_CHANNELS` (8) entries: a linear scan.
#[derive(Debug, Default)]
pub struct CallbackSigners {
    by_channel: Vec<(ChannelName, Signer)>,
}

impl CallbackSigners {
    /// Signers for `(channel, secret)` pairs.
    pub fn new(secrets: &[(ChannelName, String)]) -> Self {
        Self {
            by_channel: secrets
                .iter()
                .map(|(channel, secret)| (channel.clone(), Signer::new(secret.as_bytes())))
                .collect(),
        }
    }

    /// The signer of `channel`, if it is configured.
    pub fn get(&self, channel: &ChannelName) -> Option<&Signer> {
        self.by_channel
            .iter()
            .find(|(name, _)| name == channel)
            .map(|(_, signer)| signer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signer_per_channel() {
        let name = |s| ChannelName::parse(s).unwrap();
        let signers = CallbackSigners::new(&[
            (name("a"), "secret-a-0123456789".into()),
            (name("b"), "secret-b-0123456789".into()),
        ]);
        let mac = signers.get(&name("a")).unwrap().sign_hex(b"body");
        assert!(signers.get(&name("a")).unwrap().verify_hex(&mac, b"body"));
        assert!(!signers.get(&name("b")).unwrap().verify_hex(&mac, b"body"));
        assert!(signers.get(&name("c")).is_none());
    }
}
