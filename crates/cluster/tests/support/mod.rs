//! Shared test support: a real three-server NATS JetStream cluster (from the testkit).
#![allow(dead_code)] // each test binary uses a different part

pub(crate) mod env;

#[allow(unused_imports)] // each test binary uses a different part
pub(crate) use env::{PATIENCE, REPLICAS, begin, connect, eventually, node};
pub(crate) use stampede_testkit::nats::NatsCluster;
