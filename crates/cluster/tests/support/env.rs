//! Connecting the cluster layer to a test cluster, and small polling helpers.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::stream;
use stampede_cluster::{
    AppendError, ClusterName, Connection, Credentials, Names, NatsConfig, NatsLog, NodeId, ShardId,
    Tip,
};
use tokio::runtime::Handle;

use super::NatsCluster;

/// Replicas of every test stream and bucket: all three servers.
pub(crate) const REPLICAS: usize = 3;
/// Longest a test waits for a condition before failing (a loaded 2-core machine runs
/// several three-server clusters at once).
pub(crate) const PATIENCE: Duration = Duration::from_secs(60);
/// Pause between two looks at a condition.
const POLL_EVERY: Duration = Duration::from_millis(20);

/// A connection to the cluster as node `node`, and its log stream.
pub(crate) async fn connect(cluster: &NatsCluster, node: &str) -> (Connection, stream::Stream) {
    let config = NatsConfig {
        urls: cluster.urls(),
        credentials: Credentials::None,
        client_name: node.to_string(),
    };
    let names = Names::new(ClusterName::default());
    let connection = Connection::connect(&config, names).await.expect("connect");
    // Creating a replicated stream needs the JetStream meta leader, which a loaded machine's
    // cluster may still be electing (or re-electing): retried until it answers.
    let stream = eventually("the log stream", || async {
        match connection.log_stream(REPLICAS).await {
            Ok(stream) => Some(stream),
            Err(error) => {
                eprintln!("log stream not ready yet: {error}");
                None
            }
        }
    })
    .await;
    (connection, stream)
}

/// `writer` becomes `shard`'s writer in `epoch`, fenced on `tip` (the log as the caller's state
/// was built from it): [`NatsLog::begin`] on the test's runtime.
pub(crate) async fn begin(
    connection: &Connection,
    stream: &stream::Stream,
    shard: ShardId,
    writer: NodeId,
    epoch: u64,
    tip: Tip,
) -> Result<NatsLog, AppendError> {
    NatsLog::begin(
        Handle::current(),
        connection.clone(),
        stream.clone(),
        shard,
        writer,
        epoch,
        tip,
    )
    .await
}

/// A node id.
pub(crate) fn node(id: &str) -> NodeId {
    NodeId::parse(id).expect("valid node id")
}

/// Polls `check` until it answers `Some`, failing the test after [`PATIENCE`] with `what`.
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {PATIENCE:?} waiting for {what}"
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}
