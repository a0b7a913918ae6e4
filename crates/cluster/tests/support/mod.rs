//! Shared test support: a real three-server NATS JetStream cluster.
#![allow(dead_code)] // each test binary uses a different part

pub mod env;
pub mod nats_cluster;
mod server_binary;

#[allow(unused_imports)] // each test binary uses a different part
pub use env::{PATIENCE, REPLICAS, connect, eventually, node};
pub use nats_cluster::NatsCluster;
