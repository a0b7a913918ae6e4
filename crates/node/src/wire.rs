//! What travels on a shard's command subject: a command forwarded by a follower, and the
//! leader's answer. Postcard after a format byte, like the journal's records: a node that
//! reads a format it does not know answers or reports a clear error, never a misread.

use stampede_core::Command;
use stampede_engine::{EngineError, RemoteDecision};

/// The format this build writes and reads.
const FORMAT: u8 = 1;

/// The leader's answer to a forwarded command.
pub(crate) type Answer = Result<RemoteDecision, EngineError>;

/// A forwarded command's bytes.
pub(crate) fn encode_command(command: &Command) -> Vec<u8> {
    encode(command)
}

/// A forwarded command from its bytes.
pub(crate) fn decode_command(bytes: &[u8]) -> Result<Command, String> {
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

/// An answer's bytes.
pub(crate) fn encode_answer(answer: &Answer) -> Vec<u8> {
    encode(answer)
}

/// An answer from its bytes; one that does not decode is the link's failure.
pub(crate) fn decode_answer(bytes: &[u8]) -> Answer {
    decode::<Answer>(bytes).unwrap_or_else(|error| {
        Err(EngineError::Unavailable(format!(
            "the shard leader's answer did not decode: {error}"
        )))
    })
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
    fn a_command_and_its_answer_round_trip() {
        let command = Command::Grab {
            campaign: CampaignId(7),
            user: UserId::parse("alice").unwrap(),
        };
        assert_eq!(decode_command(&encode_command(&command)), Ok(command));
        let answer: Answer = Ok(RemoteDecision {
            outcome: Outcome::Grab(GrabOutcome::SoldOut),
            log_position: 42,
        });
        assert_eq!(
            format!("{:?}", decode_answer(&encode_answer(&answer))),
            format!("{answer:?}")
        );
        let refused: Answer = Err(EngineError::Overloaded);
        assert!(matches!(
            decode_answer(&encode_answer(&refused)),
            Err(EngineError::Overloaded)
        ));
    }

    #[test]
    fn bytes_of_another_format_or_garbage_are_refused_not_misread() {
        assert!(decode_command(&[]).is_err());
        assert!(decode_command(&[9, 1, 2]).is_err());
        assert!(decode_command(&[FORMAT, 0xff, 0xff, 0xff]).is_err());
        assert!(matches!(
            decode_answer(&[FORMAT + 1]),
            Err(EngineError::Unavailable(_))
        ));
    }
}
