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
            .is_some_and(|v| is_json_media_type(v.as_bytes()));
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

/// Whether a `Content-Type` value is `application/json`, optionally followed by parameters
/// (`; charset=utf-8`). Type and subtype compare case-insensitively (RFC 9110 §8.3.1); the
/// parameters are not interpreted (the body must parse as JSON either way). Anything else —
/// `application/jsonfoo`, `application/json-seq`, `text/json` — is another media type.
pub fn is_json_media_type(value: &[u8]) -> bool {
    const JSON: &[u8] = b"application/json";
    let Some((essence, rest)) = value.split_at_checked(JSON.len()) else {
        return false;
    };
    // After the subtype: nothing, or optional whitespace then `;` and the parameters.
    let rest = rest.trim_ascii_start();
    essence.eq_ignore_ascii_case(JSON) && (rest.is_empty() || rest.starts_with(b";"))
}

/// Parses JSON, naming the field at fault. The body must be exactly one JSON value: bytes
/// after it other than whitespace (`{..} xx`, two objects in a row) are refused, so what was
/// parsed is all the client sent (a signed callback is exactly what was signed).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            AppError::BadRequest(format!("body: {inner}"))
        } else {
            AppError::BadRequest(format!("{path}: {inner}"))
        }
    })?;
    deserializer
        .end()
        .map_err(|e| AppError::BadRequest(format!("body: {e} after the JSON value")))?;
    Ok(value)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Body {
        #[allow(dead_code)]
        a: u32,
    }

    #[test]
    fn one_json_value_only() {
        assert!(parse::<Body>(br#"{"a":1}"#).is_ok());
        assert!(
            parse::<Body>(b" {\"a\":1} \n\t").is_ok(),
            "whitespace around is fine"
        );
        for trailing in [
            &br#"{"a":1} xx"#[..],
            br#"{"a":1}{"a":2}"#,
            br#"{"a":1} {"a":2}"#,
            br#"{"a":1},"#,
            b"{\"a\":1}\0",
        ] {
            let Err(AppError::BadRequest(message)) = parse::<Body>(trailing) else {
                panic!("{:?} was accepted", String::from_utf8_lossy(trailing));
            };
            assert!(message.starts_with("body: trailing"), "{message}");
        }
    }

    #[test]
    fn json_media_type_exactly() {
        for good in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/json ; charset=utf-8",
        ] {
            assert!(is_json_media_type(good.as_bytes()), "{good:?}");
        }
        for bad in [
            "",
            "application/jso",
            "application/jsonfoo",
            "application/json-seq",
            "application/json5",
            "application/json x",
            "text/json",
            " application/json",
            "application/x-www-form-urlencoded",
        ] {
            assert!(!is_json_media_type(bad.as_bytes()), "{bad:?}");
        }
    }
}
