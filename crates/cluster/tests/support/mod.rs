//! Shared test support: a real three-server NATS JetStream cluster.
#![allow(dead_code)] // each test binary uses a different part

pub(crate) mod env;
pub(crate) mod nats_cluster;
mod server_binary;

#[allow(unused_imports)] // each test binary uses a different part
pub(crate) use env::{PATIENCE, REPLICAS, begin, connect, eventually, node};
pub(crate) use nats_cluster::NatsCluster;
