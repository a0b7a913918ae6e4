//! One block or allow entry.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Longest reason kept, in bytes (an operator's note, not an essay).
pub const MAX_REASON_BYTES: usize = 200;

/// Which list an entry is on. An allow entry exempts its subject from blocks and auto-bans of
/// the same dimension (an allowed IP can still carry a blocked user, and vice versa).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListKind {
    /// Requests are refused with 403 `blocked`.
    Block,
    /// Requests are never blocked or auto-banned in this dimension.
    Allow,
}

/// What an entry is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum Subject {
    /// A user id.
    User(String),
    /// An IP address or a CIDR network.
    Ip(IpNet),
}

impl Subject {
    /// The subject of a single IP address.
    pub fn ip(ip: IpAddr) -> Self {
        Subject::Ip(IpNet::from(crate::client_ip::canonical(ip)))
    }

    /// `"user"` or `"ip"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::User(_) => "user",
            Subject::Ip(_) => "ip",
        }
    }

    /// The value as the API shows it (`alice`, `10.0.0.0/8`, `1.2.3.4`).
    pub fn value(&self) -> String {
        match self {
            Subject::User(u) => u.clone(),
            Subject::Ip(net) if net.prefix_len() == net.max_prefix_len() => net.addr().to_string(),
            Subject::Ip(net) => net.to_string(),
        }
    }
}

/// Who put an entry there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// An operator, through the admin API.
    Manual,
    /// The automatic ban rule.
    AutoBan,
}

/// A block or allow entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Block or allow.
    pub list: ListKind,
    /// The user or network.
    pub subject: Subject,
    /// Why.
    pub reason: String,
    /// Who.
    pub origin: Origin,
    /// When it was added (Unix ms).
    pub created_at_ms: u64,
    /// When it lapses (Unix ms); `None` never.
    pub expires_at_ms: Option<u64>,
}

impl Entry {
    /// Whether the entry is in force at `now_ms`.
    pub fn in_force(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_none_or(|t| now_ms < t)
    }
}
