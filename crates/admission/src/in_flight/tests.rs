//! Service-level tests: max requests run, the next is rejected at once, permits come back.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use tokio::sync::oneshot;
use tower::{Layer, Service, ServiceExt, service_fn};

use super::{InFlight, InFlightLimitLayer};

const MAX: usize = 2;

/// A service whose calls finish only when their oneshot fires.
fn blocking_service(
    in_flight: &InFlight,
) -> impl Service<oneshot::Receiver<()>, Response = &'static str, Error = Infallible, Future: Unpin>
+ Clone {
    let inner = service_fn(|release: oneshot::Receiver<()>| {
        Box::pin(async move {
            let _ = release.await;
            Ok::<_, Infallible>("done")
        })
    });
    InFlightLimitLayer::new(in_flight.clone(), || "overloaded").layer(inner)
}

fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    pin!(future).poll(&mut Context::from_waker(Waker::noop()))
}

#[tokio::test]
async fn rejects_over_max_at_once_and_admits_after_completion() {
    let in_flight = InFlight::new(MAX);
    let mut service = blocking_service(&in_flight);

    let (release_first, first_rx) = oneshot::channel();
    let (_release_second, second_rx) = oneshot::channel();
    let mut first = service.ready().await.unwrap().call(first_rx);
    let mut second = service.ready().await.unwrap().call(second_rx);
    assert!(poll_once(&mut first).is_pending());
    assert!(poll_once(&mut second).is_pending());
    assert_eq!(in_flight.current(), MAX);

    let (_release_third, third_rx) = oneshot::channel();
    let mut third = service.ready().await.unwrap().call(third_rx);
    assert_eq!(poll_once(&mut third), Poll::Ready(Ok("overloaded")));
    assert_eq!(in_flight.current(), MAX, "a rejection holds no permit");

    release_first.send(()).unwrap();
    assert_eq!(first.await, Ok("done"));
    assert_eq!(in_flight.current(), MAX - 1);

    let (release_fourth, fourth_rx) = oneshot::channel();
    release_fourth.send(()).unwrap();
    let fourth = service.clone().oneshot(fourth_rx).await;
    assert_eq!(fourth, Ok("done"), "a freed slot admits a new request");
    assert_eq!(in_flight.current(), MAX - 1);
}

#[tokio::test]
async fn permit_released_when_future_dropped() {
    let in_flight = InFlight::new(1);
    let mut service = blocking_service(&in_flight);

    let (_release, rx) = oneshot::channel();
    let mut pending = service.ready().await.unwrap().call(rx);
    assert!(poll_once(&mut pending).is_pending());
    assert_eq!(in_flight.current(), 1);

    drop(pending); // the client went away
    assert_eq!(in_flight.current(), 0);

    let (release, rx) = oneshot::channel();
    release.send(()).unwrap();
    assert_eq!(service.oneshot(rx).await, Ok("done"));
}

#[tokio::test]
async fn permit_held_from_call_even_before_first_poll() {
    let in_flight = InFlight::new(1);
    let mut service = blocking_service(&in_flight);
    let (_release, rx) = oneshot::channel();
    let not_yet_polled = service.ready().await.unwrap().call(rx);
    assert_eq!(in_flight.current(), 1);
    drop(not_yet_polled);
    assert_eq!(in_flight.current(), 0);
}
