//! Reading one body: frame by frame, each wait bounded by what [`BodyPace`](super::BodyPace)
//! still allows, into memory of at most [`MAX_BODY_BYTES`].

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

use super::BodyReads;
use crate::error::AppError;
use crate::json::MAX_BODY_BYTES;

impl BodyReads {
    /// The request with its whole body in memory, or why not (counted by reason): 408 past
    /// the pace, 413 over [`MAX_BODY_BYTES`], 400 when the body breaks off or is malformed.
    pub(super) async fn read(&self, request: Request) -> Result<Request, AppError> {
        let refusal = match self.collect(request).await {
            Ok(request) => return Ok(request),
            Err(refusal) => refusal,
        };
        let counter = match refusal {
            AppError::RequestTimeout => &self.metrics.timeout,
            AppError::PayloadTooLarge => &self.metrics.too_large,
            _ => &self.metrics.unreadable,
        };
        counter.increment(1);
        Err(refusal)
    }

    async fn collect(&self, request: Request) -> Result<Request, AppError> {
        let (parts, mut body) = request.into_parts();
        if body.size_hint().lower() > MAX_BODY_BYTES as u64 {
            return Err(AppError::PayloadTooLarge);
        }
        let _waiting = self.wait();
        let started = tokio::time::Instant::now();
        let mut collected = Collected::default();
        loop {
            let deadline = started + self.pace.allowance(collected.len());
            let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
                Err(_elapsed) => return Err(AppError::RequestTimeout),
                Ok(None) => break,
                Ok(Some(Err(error))) => {
                    return Err(AppError::BadRequest(format!(
                        "body: could not be read: {error}"
                    )));
                }
                Ok(Some(Ok(frame))) => frame,
            };
            // Trailers carry nothing a route reads; only data frames count.
            if let Ok(data) = frame.into_data() {
                collected.push(data)?;
            }
        }
        Ok(Request::from_parts(
            parts,
            Body::from(collected.into_bytes()),
        ))
    }
}

/// A body's bytes so far: the first chunk as it came (most bodies arrive in one), copied into
/// one buffer only when a second arrives.
#[derive(Default)]
enum Collected {
    #[default]
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl Collected {
    fn len(&self) -> usize {
        match self {
            Collected::Empty => 0,
            Collected::One(bytes) => bytes.len(),
            Collected::Many(buffer) => buffer.len(),
        }
    }

    /// Adds a chunk; 413 past [`MAX_BODY_BYTES`].
    fn push(&mut self, chunk: Bytes) -> Result<(), AppError> {
        if self.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(AppError::PayloadTooLarge);
        }
        *self = match std::mem::take(self) {
            Collected::Empty => Collected::One(chunk),
            Collected::One(first) => {
                let mut buffer = BytesMut::with_capacity(first.len() + chunk.len());
                buffer.extend_from_slice(&first);
                buffer.extend_from_slice(&chunk);
                Collected::Many(buffer)
            }
            Collected::Many(mut buffer) => {
                buffer.extend_from_slice(&chunk);
                Collected::Many(buffer)
            }
        };
        Ok(())
    }

    fn into_bytes(self) -> Bytes {
        match self {
            Collected::Empty => Bytes::new(),
            Collected::One(bytes) => bytes,
            Collected::Many(buffer) => buffer.freeze(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_joined_in_order_and_bounded() {
        let mut collected = Collected::default();
        assert_eq!(collected.len(), 0);
        collected.push(Bytes::from_static(b"{\"a\"")).unwrap();
        collected.push(Bytes::from_static(b":1")).unwrap();
        collected.push(Bytes::from_static(b"}")).unwrap();
        assert_eq!(collected.into_bytes(), Bytes::from_static(b"{\"a\":1}"));

        let mut collected = Collected::default();
        collected
            .push(Bytes::from(vec![b' '; MAX_BODY_BYTES]))
            .unwrap();
        assert_eq!(
            collected.push(Bytes::from_static(b" ")),
            Err(AppError::PayloadTooLarge)
        );
    }
}
