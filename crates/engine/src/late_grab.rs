//! A grab whose outcome is still learned after the journal reply timeout answered
//! `degraded` ([`crate::Engine::grab_keeping_late_outcome`]): for a grab under an
//! `Idempotency-Key`, whose retry must get the first decision rather than make a second.

use stampede_core::{GrabOutcome, Outcome};
use tokio::sync::oneshot;

use crate::error::{EngineError, mismatched};

/// What [`crate::Engine::grab_keeping_late_outcome`] came to.
#[derive(Debug)]
pub enum GrabReply {
    /// The answer [`crate::Engine::grab`] would give.
    Answered(Result<GrabOutcome, EngineError>),
    /// The writer did not answer within `journal_reply_timeout`.
    Late {
        /// The answer to give now (`degraded`: outcome unknown).
        answer: EngineError,
        /// The grab's outcome, once the writer decides it.
        outcome: LateGrab,
    },
}

/// A grab the writer has not answered yet. Holding it keeps the grab wanted (the writer
/// decides it instead of skipping it); dropping it gives the grab up.
#[derive(Debug)]
pub struct LateGrab(pub(crate) oneshot::Receiver<Result<Outcome, EngineError>>);

impl LateGrab {
    /// The outcome once the writer answers: `Won` only once durable, or the failure that
    /// stopped it (the journal failed, the engine shut down).
    pub async fn outcome(self) -> Result<GrabOutcome, EngineError> {
        match self.0.await {
            Ok(Ok(Outcome::Grab(outcome))) => Ok(outcome),
            Ok(Ok(other)) => Err(mismatched("grab", &other)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(EngineError::Unavailable("the writer stopped".into())),
        }
    }
}
