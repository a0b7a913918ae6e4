//! HTTP of Stampede (axum): [`app`] builds the router over [`AppState`]; extractors, handlers,
//! wire types and the one [`AppError`]. Nothing here reads a config file or decides business
//! rules: the server crate wires the services, the handlers turn their outcomes into answers.

pub mod access_log;
pub mod app;
pub mod auth;
pub mod body_read;
pub mod callback_signers;
pub mod cluster;
pub mod defence;
pub mod dto;
pub mod error;
pub mod exposition;
pub mod handlers;
pub mod idempotency;
pub mod json;
pub mod lane;
pub mod metrics;
pub mod openapi;
pub mod shards;
pub mod signer;
pub mod state;
pub mod stats;
pub mod tally;
pub mod timefmt;

pub use app::app;
pub use auth::{Auth, mint_token};
pub use callback_signers::CallbackSigners;
pub use error::AppError;
pub use state::{AppState, HttpSettings, Services};
