//! [`ResponseFuture`]: the admitted inner future plus its permit, or a ready rejection.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::permit::InFlightPermit;

pin_project! {
    /// Response future of [`InFlightLimit`](super::InFlightLimit).
    ///
    /// When admitted, it owns the [`InFlightPermit`] and drops it as soon as the inner future
    /// completes, or when this future is dropped (cancellation), whichever comes first.
    #[derive(Debug)]
    pub struct ResponseFuture<F, Response> {
        #[pin]
        kind: Kind<F, Response>,
    }
}

pin_project! {
    #[project = KindProjection]
    #[derive(Debug)]
    enum Kind<F, Response> {
        Admitted {
            #[pin]
            inner: F,
            // `Some` until the inner future completes.
            permit: Option<InFlightPermit>,
        },
        Rejected {
            // `Some` until polled once.
            response: Option<Response>,
        },
    }
}

impl<F, Response> ResponseFuture<F, Response> {
    pub(crate) fn admitted(inner: F, permit: InFlightPermit) -> Self {
        Self {
            kind: Kind::Admitted {
                inner,
                permit: Some(permit),
            },
        }
    }

    pub(crate) fn rejected(response: Response) -> Self {
        Self {
            kind: Kind::Rejected {
                response: Some(response),
            },
        }
    }
}

impl<F, Response, Error> Future for ResponseFuture<F, Response>
where
    F: Future<Output = Result<Response, Error>>,
{
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProjection::Admitted { inner, permit } => {
                let output = std::task::ready!(inner.poll(cx));
                // Free the slot now, not when the caller gets round to dropping us.
                drop(permit.take());
                Poll::Ready(output)
            }
            KindProjection::Rejected { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after it completed"))),
        }
    }
}
