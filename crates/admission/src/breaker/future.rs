//! [`ResponseFuture`]: the admitted inner future plus its permit, or a ready rejection.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::breaker::{CallOutcome, CallPermit};
use crate::clock::Clock;

pin_project! {
    /// Response future of [`BreakerService`](super::BreakerService).
    #[derive(Debug)]
    pub struct ResponseFuture<F, Response, C, K> {
        #[pin]
        kind: Kind<F, Response, C, K>,
    }
}

pin_project! {
    #[project = KindProjection]
    #[derive(Debug)]
    enum Kind<F, Response, C, K> {
        Admitted {
            #[pin]
            inner: F,
            // `Some` until the inner future completes; dropping it records a failure.
            permit: Option<CallPermit>,
            clock: C,
            classify: K,
        },
        Rejected {
            // `Some` until polled once.
            response: Option<Response>,
        },
    }
}

impl<F, Response, C, K> ResponseFuture<F, Response, C, K> {
    pub(crate) fn admitted(inner: F, permit: CallPermit, clock: C, classify: K) -> Self {
        Self {
            kind: Kind::Admitted {
                inner,
                permit: Some(permit),
                clock,
                classify,
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

impl<F, Response, Error, C, K> Future for ResponseFuture<F, Response, C, K>
where
    F: Future<Output = Result<Response, Error>>,
    C: Clock,
    K: Fn(&Result<Response, Error>) -> CallOutcome,
{
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProjection::Admitted {
                inner,
                permit,
                clock,
                classify,
            } => {
                let output = std::task::ready!(inner.poll(cx));
                let permit = permit
                    .take()
                    .expect("ResponseFuture polled after it completed");
                let elapsed = clock.now().saturating_sub(permit.started());
                permit.record(classify(&output), elapsed);
                Poll::Ready(output)
            }
            KindProjection::Rejected { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after it completed"))),
        }
    }
}
