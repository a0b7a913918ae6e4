//! The baseline server answers every request with its fixed body over keep-alive and stops on
//! shutdown.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use stampede_bench::baseline;

#[tokio::test]
async fn answers_fixed_body_on_one_connection_then_shuts_down() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(baseline::serve(listener, async {
        let _ = stopped.await;
    }));

    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    for _ in 0..3 {
        let request = http::Request::builder()
            .uri("/anything")
            .header("host", address.to_string())
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, baseline::BODY.as_bytes());
    }

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
