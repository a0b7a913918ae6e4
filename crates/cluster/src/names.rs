//! Names: the cluster's name, node ids, and every stream, subject, bucket and key derived from
//! them. Everything a cluster creates in NATS starts with its name, so two clusters can share
//! one NATS; nothing else in the crate spells a NATS name.

use std::fmt;

use crate::shard::ShardId;

/// Longest cluster name or node id, in characters.
pub const MAX_NAME_CHARS: usize = 32;

/// Why a string is not a valid [`ClusterName`] or [`NodeId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty, or longer than [`MAX_NAME_CHARS`].
    #[error("must be 1 to {MAX_NAME_CHARS} characters")]
    Length,
    /// A character outside `[a-z0-9-]`.
    #[error("may contain only a-z, 0-9 and '-'")]
    Character,
}

/// 1–32 characters of `[a-z0-9-]`: valid in a subject token, a stream name, a bucket name and
/// a key-value key as it is.
fn check(name: &str) -> Result<(), NameError> {
    if name.is_empty() || name.len() > MAX_NAME_CHARS {
        return Err(NameError::Length);
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(NameError::Character);
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Checks and wraps `name`.
            ///
            /// # Errors
            /// [`NameError`] if it is not 1–32 characters of `[a-z0-9-]`.
            pub fn parse(name: &str) -> Result<Self, NameError> {
                check(name)?;
                Ok(Self(name.to_string()))
            }

            /// The name as given.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

name_type!(
    /// A cluster's name (default `stampede`): the prefix of everything it creates in NATS.
    ClusterName
);
name_type!(
    /// One node's id, unique in its cluster.
    NodeId
);

impl Default for ClusterName {
    fn default() -> Self {
        Self("stampede".to_string())
    }
}

/// Every NATS name one cluster uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    cluster: ClusterName,
}

impl Names {
    /// The names of cluster `cluster`.
    pub fn new(cluster: ClusterName) -> Self {
        Self { cluster }
    }

    /// The cluster's name.
    pub fn cluster(&self) -> &ClusterName {
        &self.cluster
    }

    /// The one stream holding every shard's log (one subject per shard): `<cluster>_log`.
    pub fn log_stream(&self) -> String {
        format!("{}_log", self.cluster)
    }

    /// The subjects of [`Names::log_stream`]: `<cluster>.log.*`.
    pub fn log_subjects(&self) -> String {
        format!("{}.log.*", self.cluster)
    }

    /// Shard `shard`'s log subject: `<cluster>.log.<shard>`.
    pub fn log_subject(&self, shard: ShardId) -> String {
        format!("{}.log.{}", self.cluster, shard.get())
    }

    /// The key-value bucket of shard leases: `<cluster>_leases`.
    pub fn lease_bucket(&self) -> String {
        format!("{}_leases", self.cluster)
    }

    /// Shard `shard`'s key in the lease bucket: `shard-<shard>`.
    pub fn lease_key(shard: ShardId) -> String {
        format!("shard-{}", shard.get())
    }

    /// The key-value bucket of live nodes (one key per node, expiring unless refreshed):
    /// `<cluster>_nodes`.
    pub fn node_bucket(&self) -> String {
        format!("{}_nodes", self.cluster)
    }

    /// The key-value bucket of channel transactions claimed by orders: `<cluster>_txns`.
    pub fn txn_bucket(&self) -> String {
        format!("{}_txns", self.cluster)
    }

    /// The object store of shard snapshots: `<cluster>_snapshots`.
    pub fn snapshot_bucket(&self) -> String {
        format!("{}_snapshots", self.cluster)
    }

    /// The subject on which shard `shard`'s leader takes forwarded commands:
    /// `<cluster>.command.<shard>`.
    pub fn command_subject(&self, shard: ShardId) -> String {
        format!("{}.command.{}", self.cluster, shard.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(ClusterName::parse("stampede-2").is_ok());
        assert_eq!(ClusterName::parse(""), Err(NameError::Length));
        assert_eq!(NodeId::parse(&"a".repeat(33)), Err(NameError::Length));
        assert!(NodeId::parse(&"a".repeat(32)).is_ok());
        for bad in ["A", "a.b", "a b", "a*", "a>", "a_b", "é"] {
            assert_eq!(NodeId::parse(bad), Err(NameError::Character), "{bad}");
        }
    }

    #[test]
    fn everything_is_prefixed_by_the_cluster() {
        let names = Names::new(ClusterName::parse("east").unwrap());
        let shard = ShardId::new(7);
        assert_eq!(names.log_stream(), "east_log");
        assert_eq!(names.log_subjects(), "east.log.*");
        assert_eq!(names.log_subject(shard), "east.log.7");
        assert_eq!(names.lease_bucket(), "east_leases");
        assert_eq!(Names::lease_key(shard), "shard-7");
        assert_eq!(names.node_bucket(), "east_nodes");
        assert_eq!(names.snapshot_bucket(), "east_snapshots");
        assert_eq!(names.command_subject(shard), "east.command.7");
        assert_eq!(ClusterName::default().as_str(), "stampede");
    }
}
