//! Shared test support: a real three-server NATS JetStream cluster.
#![allow(dead_code)] // each test binary uses a different part

pub mod nats_cluster;
mod server_binary;

pub use nats_cluster::NatsCluster;
