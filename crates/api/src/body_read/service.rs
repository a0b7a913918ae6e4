//! [`ReadBodyLayer`] and [`ReadBody`]: the tower middleware that reads a declared body in full
//! (see the module docs for why it sits outside the in-flight limit).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::HttpBody;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::BodyReads;

/// Wraps each route in a [`ReadBody`] sharing one [`BodyReads`].
#[derive(Clone, Debug)]
pub struct ReadBodyLayer {
    reads: BodyReads,
}

impl ReadBodyLayer {
    /// Bodies are read as `reads` says and counted there.
    pub fn new(reads: BodyReads) -> Self {
        Self { reads }
    }
}

impl<S> Layer<S> for ReadBodyLayer {
    type Service = ReadBody<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ReadBody {
            inner,
            reads: self.reads.clone(),
        }
    }
}

/// Reads a request's body into memory before calling `inner`, or answers 408/413/400 itself.
#[derive(Clone, Debug)]
pub struct ReadBody<S> {
    inner: S,
    reads: BodyReads,
}

impl<S> Service<Request> for ReadBody<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if request.body().is_end_stream() {
            // No body (every grab and GET): nothing to wait for, nothing boxed.
            let inner = self.inner.call(request);
            return ResponseFuture {
                kind: Kind::Direct { inner },
            };
        }
        // The service readied by `poll_ready` goes with the request; a clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let reads = self.reads.clone();
        let after_body: AfterBody = Box::pin(async move {
            match reads.read(request).await {
                Ok(request) => inner.call(request).await,
                Err(refusal) => Ok(refusal.into_response()),
            }
        });
        ResponseFuture {
            kind: Kind::AfterBody { inner: after_body },
        }
    }
}

/// A request that read its body first: the read and the call, boxed.
type AfterBody = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

pin_project! {
    /// Response future of [`ReadBody`]: the inner call itself when there was no body to read
    /// (no allocation), else the boxed read-then-call.
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProjection]
    enum Kind<F> {
        // No body: the inner service's future.
        Direct { #[pin] inner: F },
        // A body to read first: the read, then the inner call.
        AfterBody { inner: AfterBody },
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProjection::Direct { inner } => inner.poll(cx),
            KindProjection::AfterBody { inner } => inner.as_mut().poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use tower::service_fn;

    use super::*;
    use crate::body_read::BodyPace;

    #[test]
    fn only_a_request_with_a_body_is_boxed() {
        let reads = BodyReads::new(BodyPace {
            timeout: Duration::from_secs(1),
            min_bytes_per_sec: 0,
        });
        let inner =
            service_fn(|_: Request| async { Ok::<_, Infallible>(Response::new(Body::empty())) });
        let mut service = ReadBodyLayer::new(reads).layer(inner);
        let direct = service.call(Request::new(Body::empty()));
        assert!(matches!(direct.kind, Kind::Direct { .. }));
        let after_body = service.call(Request::new(Body::from("{}")));
        assert!(matches!(after_body.kind, Kind::AfterBody { .. }));
    }
}
