//! Ids from the path, parsed without allocating. The router already matched the route shape;
//! these read the id segment and validate it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use stampede_core::{CampaignId, OrderId};

use crate::error::AppError;

/// The `{id}` of `/v1/campaigns/{id}[/…]`.
#[derive(Clone, Copy, Debug)]
pub struct CampaignIdPath(pub CampaignId);

/// The `{id}` of `/v1/orders/{id}`.
#[derive(Clone, Copy, Debug)]
pub struct OrderIdPath(pub OrderId);

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
