//! Can fenced publishes be pipelined? One writer on a three-replica stream keeps `depth`
//! messages in flight, each fenced on the sequence its predecessor is predicted to get:
//! with the stream-level expectation (`Nats-Expected-Last-Sequence`) and with the
//! per-subject one (`Nats-Expected-Last-Subject-Sequence`, what one stream shared by every
//! shard needs). A refused publish resynchronises from the stream's last sequence.
//!
//! `cargo run -p stampede-cluster --release --example pipeline_probe`

#![allow(clippy::disallowed_methods)] // a benchmark measures wall time
#![allow(missing_docs)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use bytes::Bytes;

/// One message: about 50 engine records.
const MESSAGE_BYTES: usize = 8 * 1024;
/// How long each configuration runs.
const RUN: Duration = Duration::from_secs(4);
/// Refusals after which a configuration gives up.
const MAX_REFUSALS: u32 = 1_000;

#[tokio::main]
async fn main() {
    let Some(cluster) = support::NatsCluster::start("pipeline_probe").await else {
        return;
    };
    let client = async_nats::connect(cluster.urls()).await.expect("connect");
    let js = jetstream::new(client);
    for header in [
        "Nats-Expected-Last-Sequence",
        "Nats-Expected-Last-Subject-Sequence",
    ] {
        for depth in [1_usize, 2, 4] {
            let tag = format!(
                "p{depth}{}",
                if header.contains("Subject") { "s" } else { "q" }
            );
            js.create_stream(stream::Config {
                name: tag.clone(),
                subjects: vec![format!("{tag}.log")],
                num_replicas: 3,
                storage: stream::StorageType::File,
                allow_direct: true,
                ..Default::default()
            })
            .await
            .expect("create stream");
            let (acked, latencies, refused) = run(&js, &tag, header, depth).await;
            let at = |q: f64| {
                latencies
                    .get(
                        ((latencies.len() as f64 * q) as usize)
                            .min(latencies.len().saturating_sub(1)),
                    )
                    .copied()
                    .unwrap_or(0)
            };
            println!(
                "{header:>36}, depth {depth}: {:>6.0} msgs/s, ack p50 {:>5} us, p99 {:>6} us, {refused} refused",
                acked as f64 / RUN.as_secs_f64(),
                at(0.5),
                at(0.99),
            );
        }
    }
}

/// Publishes for [`RUN`] keeping `depth` in flight: (messages acked, sorted ack latencies in
/// µs, refusals).
async fn run(
    js: &jetstream::Context,
    tag: &str,
    header: &str,
    depth: usize,
) -> (usize, Vec<u64>, u32) {
    let subject = format!("{tag}.log");
    let payload = Bytes::from(vec![0xa5_u8; MESSAGE_BYTES]);
    let mut next = 1_u64; // the sequence the next message is predicted to get
    let mut in_flight = VecDeque::new();
    let mut latencies = Vec::new();
    let mut refused = 0;
    let started = Instant::now();
    while started.elapsed() < RUN && refused < MAX_REFUSALS {
        while in_flight.len() < depth {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(header, (next - 1).to_string().as_str());
            let ack = js
                .publish_with_headers(subject.clone(), headers, payload.clone())
                .await
                .expect("publish");
            in_flight.push_back((next, Instant::now(), ack));
            next += 1;
        }
        let (expected, sent, ack) = in_flight.pop_front().expect("in flight");
        match ack.await {
            Ok(ack) => {
                assert_eq!(ack.sequence, expected, "the predicted sequence");
                latencies.push(sent.elapsed().as_micros() as u64);
            }
            Err(error) => {
                refused += 1;
                if refused == 1 {
                    println!("  first refusal: {error}");
                }
                for (_, _, ack) in in_flight.drain(..) {
                    let _ = ack.await;
                }
                let mut stream = js.get_stream(tag).await.expect("stream");
                next = stream.info().await.expect("info").state.last_sequence + 1;
            }
        }
    }
    latencies.sort_unstable();
    (latencies.len(), latencies, refused)
}
