//! Ids from the path, parsed without allocating. The router already matched the route shape;
//! these read the id segment and validate it. [`PathParams`] reads other named segments
//! (a channel, a switch, a blocklist entry) with a JSON refusal instead of axum's plain text.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use stampede_core::{CampaignId, OrderId};

use crate::error::AppError;

/// The `{id}` of `/v1/campaigns/{id}[/…]`.
#[derive(Clone, Copy, Debug)]
pub struct CampaignIdPath(pub CampaignId);

/// The `{id}` of `/v1/orders/{id}`.
#[derive(Clone, Copy, Debug)]
pub struct OrderIdPath(pub OrderId);

/// How the API document describes a [`CampaignIdPath`].
#[derive(utoipa::IntoParams)]
#[into_params(names("id"), parameter_in = Path)]
#[allow(dead_code)] // Only its parameter description is used (the id is read by [`CampaignIdPath`]).
pub(crate) struct CampaignIdParam(
    /// The campaign's id: `c_` and 32 lowercase hex digits.
    #[param(pattern = "^c_[0-9a-f]{32}$")]
    String,
);

/// How the API document describes an [`OrderIdPath`].
#[derive(utoipa::IntoParams)]
#[into_params(names("id"), parameter_in = Path)]
#[allow(dead_code)] // Only its parameter description is used (the id is read by [`OrderIdPath`]).
pub(crate) struct OrderIdParam(
    /// The order's id: `o_` and 32 lowercase hex digits.
    #[param(pattern = "^o_[0-9a-f]{32}$")]
    String,
);

/// The third segment of `/v1/<resource>/<id>…`.
fn id_segment(parts: &Parts) -> &str {
    parts.uri.path().split('/').nth(3).unwrap_or("")
}

impl<S: Send + Sync> FromRequestParts<S> for CampaignIdPath {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        CampaignId::parse(id_segment(parts))
            .map(Self)
            .ok_or_else(|| {
                AppError::BadRequest("campaign_id: must be \"c_\" followed by 32 hex digits".into())
            })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for OrderIdPath {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        OrderId::parse(id_segment(parts)).map(Self).ok_or_else(|| {
            AppError::BadRequest("order_id: must be \"o_\" followed by 32 hex digits".into())
        })
    }
}

/// The route's named segments, percent-decoded: a `String` for one, a tuple of `String`s for
/// several. axum's `Path` answers a segment that does not decode (e.g. `%FF`, not UTF-8) with a
/// plain-text 400; this answers `400 bad_request` JSON naming the segment.
#[derive(Clone, Debug)]
pub struct PathParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParams<T> {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(params)) => Ok(Self(params)),
            Err(rejection) => {
                if rejection.status().is_server_error() {
                    // The handler asked for segments its route does not have: a wiring bug,
                    // not the client's; still answer JSON, never a 500.
                    tracing::error!(%rejection, path = parts.uri.path(), "path extractor does not fit its route");
                }
                Err(AppError::BadRequest(format!(
                    "path: {}",
                    rejection.body_text()
                )))
            }
        }
    }
}

/// The socket peer of the request, when the accept loop recorded it (tests driving the router
/// without a socket have none).
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub Option<std::net::SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}
