//! Shard leadership: one leader per shard by a lease in a JetStream key-value bucket.

mod manager;
mod plan;

pub use manager::{ClusterView, LeaseConfig, LeaseEvent, LeaseManager};
pub use plan::{Plan, Rules, View, rank};
