//! Block and allow lists by user id and by IP/CIDR, with expiry, plus automatic bans.
//!
//! Reads are lock-free (papaya maps for users and single IPs; an immutable snapshot swapped on
//! change for CIDR networks, which only operators add). Expired entries answer as absent at
//! once and are removed by [`Blocklist::sweep`]. Persisting the list is the caller's job:
//! [`Blocklist::entries`] is the serialisable state and [`Blocklist::restore`] loads it.

mod auto_ban;
mod entry;
mod file;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ipnet::IpNet;
use parking_lot::Mutex;

pub use auto_ban::{
    AutoBan, AutoBanConfig, BanKey, MAX_AUTO_BAN_TRACKED_KEYS, MIN_INLINE_SWEEP_GAP,
};
pub use entry::{Entry, ListKind, MAX_REASON_BYTES, Origin, Subject};
pub use file::{BlocklistFile, BlocklistFileError, write_atomically};

/// Most entries across both lists. Auto-bans of a large botnet are the biggest source; at
/// ~200 bytes an entry, 1,000,000 entries is ~200 MB — the ceiling we accept.
pub const MAX_ENTRIES: usize = 1_000_000;
/// Most CIDR networks (prefix shorter than a full address). Operators add these by hand; each
/// lookup probes one map per distinct prefix length, so the count itself stays cheap.
pub const MAX_NETWORKS: usize = 10_000;

/// The verdict for one dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// On the allow list: skip blocks and auto-bans.
    Allowed,
    /// Blocked: answer 403 `blocked`.
    Blocked {
        /// Why.
        reason: String,
        /// Until when (Unix ms), if it lapses.
        until_ms: Option<u64>,
    },
    /// On neither list.
    Clear,
}

/// Why an entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlocklistError {
    /// [`MAX_ENTRIES`] or [`MAX_NETWORKS`] reached.
    #[error("the blocklist is full")]
    Full,
    /// The reason is longer than [`MAX_REASON_BYTES`].
    #[error("reason: at most {MAX_REASON_BYTES} bytes")]
    ReasonTooLong,
}

/// Networks (prefix shorter than a full address), rebuilt on change.
#[derive(Debug, Default, Clone)]
struct Networks {
    entries: Vec<Entry>,
}

impl Networks {
    fn lookup(&self, list: ListKind, ip: IpAddr, now_ms: u64) -> Option<&Entry> {
        self.entries.iter().find(|e| {
            e.list == list
                && e.in_force(now_ms)
                && matches!(&e.subject, Subject::Ip(net) if net.contains(&ip))
        })
    }
}

/// One list's exact entries: users by id, single addresses by address. Keys borrow as `&str`
/// and `IpAddr`, so a check allocates nothing.
#[derive(Debug, Default)]
struct Exact {
    users: papaya::HashMap<String, Entry>,
    ips: papaya::HashMap<IpAddr, Entry>,
}

/// The lists.
#[derive(Debug, Default)]
pub struct Blocklist {
    block: Exact,
    allow: Exact,
    networks: arc_swap::ArcSwap<Networks>,
    /// Serialises writers of `networks` (readers never take it).
    networks_write: Mutex<()>,
    /// Entries held, for the "nothing to check" fast path and the bound.
    count: AtomicUsize,
}

fn is_single(net: &IpNet) -> bool {
    net.prefix_len() == net.max_prefix_len()
}

fn verdict(entry: Option<&Entry>, now_ms: u64) -> Option<Verdict> {
    entry.filter(|e| e.in_force(now_ms)).map(|e| match e.list {
        ListKind::Allow => Verdict::Allowed,
        ListKind::Block => Verdict::Blocked {
            reason: e.reason.clone(),
            until_ms: e.expires_at_ms,
        },
    })
}

impl Blocklist {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    fn list(&self, list: ListKind) -> &Exact {
        match list {
            ListKind::Block => &self.block,
            ListKind::Allow => &self.allow,
        }
    }

    /// Adds or replaces an entry.
    pub fn insert(&self, mut entry: Entry) -> Result<(), BlocklistError> {
        if entry.reason.len() > MAX_REASON_BYTES {
            return Err(BlocklistError::ReasonTooLong);
        }
        let full = self.count.load(Ordering::Relaxed) >= MAX_ENTRIES;
        let exact = self.list(entry.list);
        let added = match entry.subject.clone() {
            Subject::User(user) => {
                let map = exact.users.pin();
                if full && !map.contains_key(&user) {
                    return Err(BlocklistError::Full);
                }
                map.insert(user, entry).is_none()
            }
            Subject::Ip(net) => {
                let ip = crate::client_ip::canonical(net.addr());
                let net = IpNet::new(ip, net.prefix_len()).map_or(net, |n| n.trunc());
                entry.subject = Subject::Ip(net);
                if is_single(&net) {
                    let map = exact.ips.pin();
                    if full && !map.contains_key(&ip) {
                        return Err(BlocklistError::Full);
                    }
                    map.insert(ip, entry).is_none()
                } else {
                    let _writer = self.networks_write.lock();
                    let mut next: Networks = (**self.networks.load()).clone();
                    let before = next.entries.len();
                    next.entries
                        .retain(|e| !(e.list == entry.list && e.subject == entry.subject));
                    let replaced = next.entries.len() != before;
                    if !replaced && next.entries.len() >= MAX_NETWORKS {
                        return Err(BlocklistError::Full);
                    }
                    next.entries.push(entry);
                    self.networks.store(Arc::new(next));
                    !replaced
                }
            }
        };
        if added {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Removes the entry for `subject` on `list`; whether there was one.
    pub fn remove(&self, list: ListKind, subject: &Subject) -> bool {
        let exact = self.list(list);
        let removed = match subject {
            Subject::User(user) => exact.users.pin().remove(user.as_str()).is_some(),
            Subject::Ip(net) if is_single(net) => exact
                .ips
                .pin()
                .remove(&crate::client_ip::canonical(net.addr()))
                .is_some(),
            Subject::Ip(net) => {
                let net = net.trunc();
                let _writer = self.networks_write.lock();
                let mut next: Networks = (**self.networks.load()).clone();
                let before = next.entries.len();
                next.entries
                    .retain(|e| !(e.list == list && e.subject == Subject::Ip(net)));
                let removed = next.entries.len() != before;
                self.networks.store(Arc::new(next));
                removed
            }
        };
        if removed {
            self.count.fetch_sub(1, Ordering::Relaxed);
        }
        removed
    }

    /// The verdict for a user id (no allocation unless blocked).
    pub fn check_user(&self, user: &str, now_ms: u64) -> Verdict {
        if self.is_empty() {
            return Verdict::Clear;
        }
        verdict(self.allow.users.pin().get(user), now_ms)
            .or_else(|| verdict(self.block.users.pin().get(user), now_ms))
            .unwrap_or(Verdict::Clear)
    }

    /// The verdict for a client address (no allocation unless blocked).
    pub fn check_ip(&self, ip: IpAddr, now_ms: u64) -> Verdict {
        if self.is_empty() {
            return Verdict::Clear;
        }
        let ip = crate::client_ip::canonical(ip);
        let networks = self.networks.load();
        verdict(self.allow.ips.pin().get(&ip), now_ms)
            .or_else(|| verdict(networks.lookup(ListKind::Allow, ip, now_ms), now_ms))
            .or_else(|| verdict(self.block.ips.pin().get(&ip), now_ms))
            .or_else(|| verdict(networks.lookup(ListKind::Block, ip, now_ms), now_ms))
            .unwrap_or(Verdict::Clear)
    }

    /// Whether nothing is listed (one atomic load: the common case costs nothing).
    pub fn is_empty(&self) -> bool {
        self.count.load(Ordering::Relaxed) == 0
    }

    /// Entries held (including expired ones not yet swept).
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Every entry in force at `now_ms`, oldest first.
    pub fn entries(&self, now_ms: u64) -> Vec<Entry> {
        let mut all = Vec::new();
        for exact in [&self.block, &self.allow] {
            all.extend(
                exact
                    .users
                    .pin()
                    .values()
                    .filter(|e| e.in_force(now_ms))
                    .cloned(),
            );
            all.extend(
                exact
                    .ips
                    .pin()
                    .values()
                    .filter(|e| e.in_force(now_ms))
                    .cloned(),
            );
        }
        all.extend(
            self.networks
                .load()
                .entries
                .iter()
                .filter(|e| e.in_force(now_ms))
                .cloned(),
        );
        all.sort_by_key(|e| e.created_at_ms);
        all
    }

    /// Loads entries (e.g. from disk at start-up), skipping expired ones.
    pub fn restore(&self, entries: Vec<Entry>, now_ms: u64) -> Result<(), BlocklistError> {
        for entry in entries.into_iter().filter(|e| e.in_force(now_ms)) {
            self.insert(entry)?;
        }
        Ok(())
    }

    /// Removes expired entries; returns how many.
    pub fn sweep(&self, now_ms: u64) -> usize {
        let mut expired = Vec::new();
        for exact in [&self.block, &self.allow] {
            expired.extend(
                exact
                    .users
                    .pin()
                    .values()
                    .filter(|e| !e.in_force(now_ms))
                    .cloned(),
            );
            expired.extend(
                exact
                    .ips
                    .pin()
                    .values()
                    .filter(|e| !e.in_force(now_ms))
                    .cloned(),
            );
        }
        expired.extend(
            self.networks
                .load()
                .entries
                .iter()
                .filter(|e| !e.in_force(now_ms))
                .cloned(),
        );
        expired
            .iter()
            .filter(|e| self.remove(e.list, &e.subject))
            .count()
    }
}

#[cfg(test)]
mod tests;
