//! [`ResponseFuture`]: the admitted inner future plus its permit, or a ready rejection.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::limiter::AdaptivePermit;
use crate::clock::Clock;

pin_project! {
    /// Response future of [`AdaptiveService`](super::AdaptiveService).
    #[derive(Debug)]
    pub struct ResponseFuture<F, Response, C: Clock> {
        #[pin]
        kind: Kind<F, Response, C>,
    }
}

pin_project! {
    #[project = KindProjection]
    #[derive(Debug)]
    enum Kind<F, Response, C: Clock> {
        Admitted {
            #[pin]
            inner: F,
            // `Some` until the inner future completes; finishing records the latency.
            permit: Option<AdaptivePermit<C>>,
        },
        Rejected {
            // `Some` until polled once.
            response: Option<Response>,
        },
    }
}

impl<F, Response, C: Clock> ResponseFuture<F, Response, C> {
    pub(crate) fn admitted(inner: F, permit: AdaptivePermit<C>) -> Self {
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

impl<F, Response, Error, C> Future for ResponseFuture<F, Response, C>
where
    F: Future<Output = Result<Response, Error>>,
    C: Clock,
{
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProjection::Admitted { inner, permit } => {
                let output = std::task::ready!(inner.poll(cx));
                if let Some(permit) = permit.take() {
                    permit.finish();
                }
                Poll::Ready(output)
            }
            KindProjection::Rejected { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after it completed"))),
        }
    }
}
