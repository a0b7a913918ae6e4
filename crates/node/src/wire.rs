//! What travels on a shard's command subject: a command forwarded by a follower, and the
//! leader's answer. Postcard after a format byte, like the journal's records: a node that
//! reads a format it does not know answers or reports a clear error, never a misread.

use stampede_core::Command;
use stampede_engine::{EngineError, RemoteDecision};

/// The format this build writes and reads (2: commands and answers in batches).
const FORMAT: u8 = 2;

/// The leader's answer to a forwarded command.
pub(crate) type Answer = Result<RemoteDecision, EngineError>;

/// A forwarded batch's bytes.
pub(crate) fn encode_commands(commands: &[Command]) -> Vec<u8> {
    encode(&commands)
}

/// A forwarded batch from its bytes.
pub(crate) fn decode_commands(bytes: &[u8]) -> Result<Vec<Command>, String> {
    decode(bytes)
}

/// A keyed grab forwarded to the shard's leader: the campaign, the user, the key.
pub(crate) type KeyedGrab = (stampede_core::CampaignId, stampede_core::UserId, String);

/// A forwarded keyed grab's bytes.
pub(crate) fn encode_keyed(grab: &KeyedGrab) -> Vec<u8> {
    encode(grab)
}

/// A forwarded keyed grab from its bytes.
pub(crate) fn decode_keyed(bytes: &[u8]) -> Result<KeyedGrab, String> {
    decode(bytes)
}

/// A keyed grab's answer, to and from bytes.
pub(crate) fn encode_keyed_answer(answer: &stampede_api::cluster::KeyedAnswer) -> Vec<u8> {
    encode(answer)
}

/// A keyed grab's answer from its bytes.
pub(crate) fn decode_keyed_answer(
    bytes: &[u8],
) -> Result<stampede_api::cluster::KeyedAnswer, String> {
    decode(bytes)
}

/// A batch's answers' bytes (one answer a command, in order).
pub(crate) fn encode_answers(answers: &[Answer]) -> Vec<u8> {
    encode(&answers)
}

/// A batch's answers from their bytes.
pub(crate) fn decode_answers(bytes: &[u8]) -> Result<Vec<Answer>, String> {
    decode(bytes)
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![FORMAT];
    // Writing our own types into a Vec does no I/O and meets no unsupported type.
    postcard::to_io(value, &mut out).expect("forwarded values always encode");
    out
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match bytes.split_first() {
        Some((&FORMAT, rest)) => postcard::from_bytes(rest).map_err(|e| e.to_string()),
        Some((other, _)) => Err(format!("format {other}; this build reads format {FORMAT}")),
        None => Err("empty message".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_core::{CampaignId, GrabOutcome, Outcome, UserId};

    #[test]
    fn a_batch_and_its_answers_round_trip() {
        let commands = vec![
            Command::Grab {
                campaign: CampaignId(7),
                user: UserId::parse("alice").unwrap(),
                key: None,
            },
            Command::Grab {
                campaign: CampaignId(7),
                user: UserId::parse("bob").unwrap(),
                key: Some(stampede_core::GrabKey::parse("retry-1").unwrap()),
            },
        ];
        assert_eq!(decode_commands(&encode_commands(&commands)), Ok(commands));
        let answers: Vec<Answer> = vec![
            Ok(RemoteDecision {
                outcome: Outcome::Grab(GrabOutcome::SoldOut),
                log_position: 42,
            }),
            Err(EngineError::Overloaded),
        ];
        assert_eq!(
            format!("{:?}", decode_answers(&encode_answers(&answers))),
            format!("{:?}", Ok::<_, String>(answers))
        );
    }

    #[test]
    fn the_largest_commands_fit_the_batch_bound() {
        let user = UserId::parse(&"u".repeat(stampede_core::MAX_USER_ID_BYTES)).unwrap();
        let grab = Command::Grab {
            campaign: CampaignId(u128::MAX),
            user: user.clone(),
            key: None,
        };
        let one = encode_commands(std::slice::from_ref(&grab)).len();
        assert!(one < 120, "a grab takes {one} bytes");
        let key = "k".repeat(stampede_core::MAX_GRAB_KEY_BYTES);
        let keyed = Command::Grab {
            campaign: CampaignId(u128::MAX),
            user,
            key: Some(stampede_core::GrabKey::parse(&key).unwrap()),
        };
        let one = encode_commands(std::slice::from_ref(&keyed)).len();
        assert!(
            one <= crate::batcher::MAX_COMMAND_BYTES,
            "a keyed grab takes {one} bytes"
        );
    }

    #[test]
    fn bytes_of_another_format_or_garbage_are_refused_not_misread() {
        assert!(decode_commands(&[]).is_err());
        assert!(decode_commands(&[9, 1, 2]).is_err());
        assert!(decode_commands(&[FORMAT, 0xff, 0xff, 0xff]).is_err());
        assert!(decode_answers(&[FORMAT + 1]).is_err());
    }
}
