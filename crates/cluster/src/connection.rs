//! The connection to NATS every part of the cluster layer shares, and the JetStream
//! resources it creates: the log stream, the lease and node buckets, the snapshot store.

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, kv, object_store, stream};

use crate::error::NatsError;
use crate::limits::{MIN_SERVER_MAX_PAYLOAD, PUBLISH_ACK_TIMEOUT};
use crate::names::Names;

/// How long connecting to one server may take before the next URL is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How a node authenticates to NATS.
#[derive(Clone, Debug, Default)]
pub enum Credentials {
    /// No authentication (a NATS reachable only by the cluster's nodes).
    #[default]
    None,
    /// A user name and password.
    UserPassword {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// A `.creds` file (JWT and nkey seed).
    File(PathBuf),
}

/// Where NATS is and how to log in.
#[derive(Clone, Debug)]
pub struct NatsConfig {
    /// Server URLs (`nats://host:port`); the client fails over between them.
    pub urls: Vec<String>,
    /// Authentication.
    pub credentials: Credentials,
    /// This client's name, shown in the server's connection list (the node id).
    pub client_name: String,
}

/// A connection to NATS with its JetStream context, for one cluster.
#[derive(Clone)]
pub struct Connection {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    names: Names,
}

impl Connection {
    /// Connects to NATS, reconnecting forever in the background after a loss.
    ///
    /// # Errors
    /// [`NatsError`] if no server answers, the credentials are refused, or the server's
    /// `max_payload` is under [`MIN_SERVER_MAX_PAYLOAD`].
    pub async fn connect(config: &NatsConfig, names: Names) -> Result<Self, NatsError> {
        let options = match &config.credentials {
            Credentials::None => async_nats::ConnectOptions::new(),
            Credentials::UserPassword { user, password } => {
                async_nats::ConnectOptions::with_user_and_password(user.clone(), password.clone())
            }
            Credentials::File(path) => async_nats::ConnectOptions::with_credentials_file(path)
                .await
                .map_err(|error| NatsError::new("reading the credentials file", error))?,
        };
        let client = options
            .name(&config.client_name)
            .connection_timeout(CONNECT_TIMEOUT)
            .connect(config.urls.as_slice())
            .await
            .map_err(|error| NatsError::new("connect", error))?;
        let max_payload = client.server_info().max_payload;
        if max_payload < MIN_SERVER_MAX_PAYLOAD {
            return Err(NatsError::new(
                "connect",
                format!(
                    "the server's max_payload is {max_payload} bytes; the cluster needs at least \
                     {MIN_SERVER_MAX_PAYLOAD}"
                ),
            ));
        }
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(PUBLISH_ACK_TIMEOUT)
            .build(client.clone());
        Ok(Self {
            client,
            jetstream,
            names,
        })
    }

    /// The core NATS client.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The JetStream context.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    /// The cluster's names.
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// The largest message the connected server accepts, payload and headers together.
    pub fn max_payload(&self) -> usize {
        self.client.server_info().max_payload
    }

    /// The log stream, created with `replicas` replicas if it does not exist (an existing
    /// stream is used as it is).
    ///
    /// One stream holds every shard, a subject each: measured on this machine (three servers,
    /// three replicas, `sync_interval: always`) one stream took 2,184 fenced messages/s from
    /// 16 writers against 958/s for a stream per shard, since one replication group shares
    /// each fsync among all shards' messages (`examples/stream_layout.rs`). The stream keeps
    /// everything (no limits): only snapshots trim it, by a purge per shard subject.
    ///
    /// # Errors
    /// [`NatsError`] if JetStream refuses or does not answer.
    pub async fn log_stream(&self, replicas: usize) -> Result<stream::Stream, NatsError> {
        self.jetstream
            .get_or_create_stream(stream::Config {
                name: self.names.log_stream(),
                subjects: vec![self.names.log_subjects()],
                num_replicas: replicas,
                storage: stream::StorageType::File,
                retention: stream::RetentionPolicy::Limits,
                // Records are only ever appended, and trimmed by purge.
                deny_delete: true,
                allow_direct: true,
                ..Default::default()
            })
            .await
            .map_err(|error| NatsError::new("creating the log stream", error))
    }

    /// The lease bucket: one key per shard, whose value is the leader's node id. Every
    /// entry expires `lease` after its last write (the bucket's `max_age`), which is what
    /// ends the lease of a node that stopped renewing.
    ///
    /// # Errors
    /// [`NatsError`] if JetStream refuses or does not answer.
    pub async fn lease_bucket(
        &self,
        lease: Duration,
        replicas: usize,
    ) -> Result<kv::Store, NatsError> {
        self.expiring_bucket(self.names.lease_bucket(), lease, replicas)
            .await
    }

    /// The node bucket: one key per live node, expiring `ttl` after its last refresh.
    ///
    /// # Errors
    /// [`NatsError`] if JetStream refuses or does not answer.
    pub async fn node_bucket(
        &self,
        ttl: Duration,
        replicas: usize,
    ) -> Result<kv::Store, NatsError> {
        self.expiring_bucket(self.names.node_bucket(), ttl, replicas)
            .await
    }

    async fn expiring_bucket(
        &self,
        bucket: String,
        max_age: Duration,
        replicas: usize,
    ) -> Result<kv::Store, NatsError> {
        if let Ok(store) = self.jetstream.get_key_value(&bucket).await {
            return Ok(store);
        }
        self.jetstream
            .create_key_value(kv::Config {
                bucket,
                history: 1,
                max_age,
                num_replicas: replicas,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|error| NatsError::new("creating a key-value bucket", error))
    }

    /// The snapshot object store.
    ///
    /// # Errors
    /// [`NatsError`] if JetStream refuses or does not answer.
    pub async fn snapshot_store(
        &self,
        replicas: usize,
    ) -> Result<object_store::ObjectStore, NatsError> {
        let bucket = self.names.snapshot_bucket();
        if let Ok(store) = self.jetstream.get_object_store(&bucket).await {
            return Ok(store);
        }
        self.jetstream
            .create_object_store(object_store::Config {
                bucket,
                num_replicas: replicas,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|error| NatsError::new("creating the snapshot store", error))
    }
}
