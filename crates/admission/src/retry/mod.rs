//! Shared retry and timeout utilities for every outbound call (journal excepted: a local
//! append is not retried, it is guarded by the [breaker](crate::breaker)).
//!
//! - [`policy`]: [`RetryPolicy`] (max attempts and max total time as named bounds,
//!   exponential backoff with full jitter) and [`Idempotency`].
//! - [`run`]: [`retry`] / [`retry_with`] (seeded RNG, retryable-error filter) and
//!   [`RetryError`].
//! - [`timeout`]: [`with_timeout`] and [`TimeoutError`].
//!
//! ```
//! use stampede_admission::retry::{Idempotency, RetryPolicy, retry};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let value = retry(&RetryPolicy::default(), Idempotency::Idempotent, || async {
//!     Ok::<_, std::io::Error>(42)
//! })
//! .await;
//! assert_eq!(value.unwrap(), 42);
//! # }
//! ```

pub mod policy;
pub mod run;
pub mod timeout;

pub use policy::{Idempotency, MAX_ATTEMPTS, MAX_TOTAL, RetryPolicy, RetryPolicyError};
pub use run::{RetryError, retry, retry_with};
pub use timeout::{TimeoutError, with_timeout};

#[cfg(test)]
mod tests;
