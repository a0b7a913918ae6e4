//! JSON in and out. Requests are parsed with `serde_path_to_error` so a 400 names the field;
//! unknown fields are rejected by the request types (`deny_unknown_fields`).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// Largest request body accepted, in bytes. The biggest legitimate body (a campaign) is a few
/// hundred bytes; 16 KiB leaves room and bounds what a client can make us buffer.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A JSON request body whose parse errors become `400 bad_request` naming the field.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json_type {
            return Err(AppError::UnsupportedMediaType);
        }
        let RawBody(bytes) = RawBody::from_request(request, state).await?;
        parse(&bytes).map(JsonBody)
    }
}

/// A request body as bytes, unparsed (a signed callback is verified over its raw bytes
/// before it is parsed). A body over [`MAX_BODY_BYTES`] answers `413 payload_too_large`, one
/// that cannot be read `400 bad_request` — JSON with a stable code, not axum's plain text.
/// It does not look at `Content-Type`.
#[derive(Debug)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(request, state)
            .await
            .map(RawBody)
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge
                } else {
                    AppError::BadRequest(format!("body: {}", rejection.body_text()))
                }
            })
    }
}

/// Parses JSON, naming the field at fault.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            AppError::BadRequest(format!("body: {inner}"))
        } else {
            AppError::BadRequest(format!("{path}: {inner}"))
        }
    })
}

/// A JSON response with a status.
pub fn respond<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut response = (status, body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        // Our response types always serialise; answer honestly if one ever does not.
        Err(e) => AppError::Unavailable(format!("response encoding failed: {e}")).into_response(),
    }
}
