//! A real NATS JetStream cluster for tests: three `nats-server` processes on loopback ports
//! ([`NatsCluster`]), found where `.ci/run` installs them ([`server_binary`]).

mod cluster;
pub mod server_binary;

pub use cluster::{NatsCluster, SERVERS};
