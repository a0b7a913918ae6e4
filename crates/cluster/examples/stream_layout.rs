//! Measures the two stream layouts a sharded log can take on a three-server, three-replica
//! JetStream cluster started on this machine: one stream with a subject per shard, or one
//! stream per shard. Each of `writers` concurrent writers owns one shard and publishes
//! messages of `MESSAGE_BYTES` one at a time, each fenced with
//! `Nats-Expected-Last-Subject-Sequence` and awaited (the shard writer's pattern).
//!
//! `cargo run -p stampede-cluster --release --example stream_layout`

#![allow(clippy::disallowed_methods)] // a benchmark measures wall time
#![allow(missing_docs)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use bytes::Bytes;

/// One message: about 64 engine records of ~64 bytes.
const MESSAGE_BYTES: usize = 4 * 1024;
/// How long each configuration runs.
const RUN: Duration = Duration::from_secs(4);

#[tokio::main]
async fn main() {
    let Some(cluster) = support::NatsCluster::start("stream_layout").await else {
        return;
    };
    let client = async_nats::connect(cluster.urls()).await.expect("connect");
    let js = jetstream::new(client);
    for writers in [1_usize, 4, 16] {
        for one_stream in [true, false] {
            let layout = if one_stream {
                "one stream"
            } else {
                "stream per shard"
            };
            let tag = format!("w{writers}{}", if one_stream { "o" } else { "p" });
            if one_stream {
                create(&js, &tag, &format!("{tag}.*")).await;
            } else {
                for shard in 0..writers {
                    create(&js, &format!("{tag}_{shard}"), &format!("{tag}.{shard}")).await;
                }
            }
            let mut tasks = Vec::new();
            for shard in 0..writers {
                let js = js.clone();
                let subject = format!("{tag}.{shard}");
                tasks.push(tokio::spawn(async move { write(&js, &subject).await }));
            }
            let mut latencies = Vec::new();
            let mut retries = 0;
            for task in tasks {
                let (measured, retried) = task.await.expect("writer");
                latencies.extend(measured);
                retries += retried;
            }
            latencies.sort_unstable();
            let count = latencies.len();
            let at = |q: f64| latencies[((count as f64 * q) as usize).min(count - 1)];
            println!(
                "{layout:>16}, {writers:>2} writers: {:>6.0} msgs/s, ack p50 {:>5} us, p99 {:>6} us, {} in-process retries",
                count as f64 / RUN.as_secs_f64(),
                at(0.5),
                at(0.99),
                retries
            );
        }
    }
}

async fn create(js: &jetstream::Context, name: &str, subject: &str) {
    js.create_stream(stream::Config {
        name: name.to_string(),
        subjects: vec![subject.to_string()],
        num_replicas: 3,
        storage: stream::StorageType::File,
        allow_direct: true,
        ..Default::default()
    })
    .await
    .expect("create stream");
}

async fn write(js: &jetstream::Context, subject: &str) -> (Vec<u64>, u64) {
    let payload = Bytes::from(vec![0xa5_u8; MESSAGE_BYTES]);
    let mut last = 0_u64;
    let mut latencies = Vec::new();
    let mut retries = 0;
    let started = Instant::now();
    while started.elapsed() < RUN {
        let sent = Instant::now();
        loop {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(
                "Nats-Expected-Last-Subject-Sequence",
                last.to_string().as_str(),
            );
            let result = js
                .publish_with_headers(subject.to_string(), headers, payload.clone())
                .await
                .expect("publish")
                .await;
            match result {
                Ok(ack) => {
                    last = ack.sequence;
                    break;
                }
                // "wrong last sequence" without a sequence: the subject's previous message is
                // still in process on the stream leader; not a refusal, retry.
                Err(error) if error.to_string().contains("10164") => retries += 1,
                Err(error) => panic!("ack: {error}"),
            }
        }
        latencies.push(sent.elapsed().as_micros() as u64);
    }
    (latencies, retries)
}
