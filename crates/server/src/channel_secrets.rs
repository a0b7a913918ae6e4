//! Each payment channel's callback secret (the API's `CallbackSigners` check callbacks with them).
//!
//! A callback body names no channel, so the secret is what binds it to one: were the secret
//! shared, a genuine callback signed for one channel could be re-posted to another's URL and be
//! recorded as a payment there. So every `[[channels]]` entry has its own secret:
//! 1. its `secret` key, when set;
//! 2. for the channel named `sim` only, `sim_channel_secret` / `STAMPEDE_SIM_CHANNEL_SECRET`,
//!    else `<data-dir>/sim_channel_secret` (the name it has always had, so an existing data
//!    directory keeps its secret);
//! 3. else `<data-dir>/channel-<name>.secret`, generated on first start (256 random bits,
//!    mode 0600) like the other secrets ([`crate::secrets`]).

use stampede_core::ChannelName;

use crate::config::Config;
use crate::secrets::{SecretSource, load_or_generate};

/// The file holding the generated secret of a channel that has none configured.
pub fn secret_file(channel: &str) -> String {
    if channel == SIM_CHANNEL {
        crate::SIM_CHANNEL_SECRET_FILE.to_owned()
    } else {
        format!("channel-{channel}.secret")
    }
}

/// The channel `sim_channel_secret` belongs to.
pub const SIM_CHANNEL: &str = "sim";

/// Reads (or generates) every configured channel's callback secret: `(channel, secret)` in
/// the configured order.
pub fn load(config: &Config) -> anyhow::Result<Vec<(ChannelName, String)>> {
    let random = || {
        let mut bytes = [0u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut bytes);
        bytes
    };
    config
        .payment_channels()
        .into_iter()
        .map(|channel| {
            let configured = if !channel.secret.is_empty() {
                &channel.secret
            } else if channel.name == SIM_CHANNEL {
                &config.sim_channel_secret
            } else {
                ""
            };
            let file = secret_file(channel.name.as_str());
            let (secret, source) = load_or_generate(configured, &config.data_dir, &file, random)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "callback secret of channel {}: {}: {e}",
                        channel.name,
                        config.data_dir.join(&file).display()
                    )
                })?;
            let path = config.data_dir.join(&file);
            match source {
                SecretSource::Configured => {
                    tracing::info!(channel = %channel.name, "callback secret: from config/environment")
                }
                SecretSource::Stored => {
                    tracing::info!(channel = %channel.name, "callback secret: read from {}", path.display())
                }
                SecretSource::Generated => {
                    tracing::info!(channel = %channel.name, "callback secret: generated into {}", path.display())
                }
            }
            Ok((channel.name.clone(), secret))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(name: &str, secret: &str) -> stampede_money::SimChannelConfig {
        stampede_money::SimChannelConfig {
            name: ChannelName::parse(name).unwrap(),
            secret: secret.into(),
            ..Default::default()
        }
    }

    #[test]
    fn each_channel_has_its_own_secret_generated_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            channels: vec![
                channel("alipay", ""),
                channel("wechat", ""),
                channel("sim", ""),
                channel("card", "configured-card-secret-0123"),
            ],
            ..Config::default()
        };
        let first = load(&config).unwrap();
        let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["alipay", "wechat", "sim", "card"]);
        assert_ne!(first[0].1, first[1].1, "generated secrets differ");
        assert_ne!(first[0].1, first[2].1);
        assert_eq!(first[3].1, "configured-card-secret-0123");
        for file in [
            "channel-alipay.secret",
            "channel-wechat.secret",
            "sim_channel_secret",
        ] {
            let path = dir.path().join(file);
            assert!(path.exists(), "{file}");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{file}");
            }
        }
        assert!(!dir.path().join("channel-card.secret").exists());
        assert_eq!(load(&config).unwrap(), first, "read back, not regenerated");
        // `sim_channel_secret` is the `sim` channel's, and only its.
        let config = Config {
            sim_channel_secret: "the-old-sim-secret-0123".into(),
            ..config
        };
        let again = load(&config).unwrap();
        assert_eq!(again[2].1, "the-old-sim-secret-0123");
        assert_eq!(again[0].1, first[0].1);
    }
}
