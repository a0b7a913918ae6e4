//! Which connection serves which user, and from which source address.
//!
//! Each connection (worker) owns a fixed shard of users, so a user's attempts are sequential
//! and per-user state needs no locks. Botnet users get connections of their own (in proportion
//! to their share of users) because their requests leave from other source addresses (a bot
//! worker keeps a keep-alive socket per address, see `connection`).

use crate::population::{Mix, Population};
use std::net::{IpAddr, Ipv4Addr};

/// One user as placed on a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserSeed {
    /// Index in the mix (`0..mix.total()`).
    pub index: u64,
    /// Its population.
    pub population: Population,
    /// Source address to connect from (bots), or None for the default.
    pub source: Option<IpAddr>,
}

/// The `ordinal`-th botnet source address: 127.1.y.z with y, z in 1..=254 (avoids .0/.255 and
/// 127.0.0.1, which the other users use by default).
///
/// # Panics
/// If `ordinal >= 254 * 254`.
pub(crate) fn botnet_ip(ordinal: u32) -> Ipv4Addr {
    loopback_ip(1, ordinal)
}

/// The `ordinal`-th source address of the humans (`--clicker-ips`): 127.2.y.z.
///
/// # Panics
/// If `ordinal >= 254 * 254`.
pub(crate) fn human_ip(ordinal: u32) -> Ipv4Addr {
    loopback_ip(2, ordinal)
}

/// The `ordinal`-th source address of the scripts (`--script-ips`): 127.3.y.z.
///
/// # Panics
/// If `ordinal >= 254 * 254`.
pub(crate) fn script_ip(ordinal: u32) -> Ipv4Addr {
    loopback_ip(3, ordinal)
}

fn loopback_ip(second: u8, ordinal: u32) -> Ipv4Addr {
    assert!(
        ordinal < 254 * 254,
        "source ip ordinal {ordinal} out of range"
    );
    let third = u8::try_from(ordinal / 254 + 1).expect("< 255");
    let fourth = u8::try_from(ordinal % 254 + 1).expect("< 255");
    Ipv4Addr::new(127, second, third, fourth)
}

/// How many distinct source addresses each kind of user leaves from (0: the OS default,
/// 127.0.0.1, for humans and scripts; bots always have their own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Sources {
    /// Botnet addresses (127.1.y.z).
    pub botnet_ips: u32,
    /// Clicker and visitor addresses (127.2.y.z).
    pub clicker_ips: u32,
    /// Script addresses (127.3.y.z).
    pub script_ips: u32,
}

/// How many of `connections` serve bots: proportional to the bot share, at least one when there
/// are bots, and leaving at least one for everybody else when there is anybody else.
pub(crate) fn bot_connections(mix: &Mix, connections: u32) -> u32 {
    let total = mix.total();
    if mix.bots == 0 || total == 0 {
        return 0;
    }
    if mix.bots == total {
        return connections;
    }
    if connections < 2 {
        return 0; // one connection serves everyone, switching source address as needed
    }
    let share = (u64::from(connections) * mix.bots).div_ceil(total);
    u32::try_from(share)
        .unwrap_or(connections)
        .clamp(1, connections - 1)
}

/// Source address ordinal of the `nth` bot on bot worker `slot`: the addresses are dealt out
/// to bot workers (address `i` to worker `i % bot_workers`) and each worker cycles through its
/// own, so a worker keeps few idle sockets and every address is used.
fn bot_ip_ordinal(slot: usize, nth: usize, bot_workers: usize, botnet_ips: u32) -> usize {
    let ips = botnet_ips as usize;
    if ips <= slot {
        return slot % ips; // fewer addresses than bot workers: share
    }
    let owned = (ips - slot - 1) / bot_workers + 1;
    slot + bot_workers * (nth % owned)
}

/// Places every user of `mix` on one of `connections` workers.
///
/// # Panics
/// If `connections` is zero, or there are bots and `botnet_ips` is zero.
#[cfg(test)]
pub(crate) fn shard_users(mix: &Mix, connections: u32, botnet_ips: u32) -> Vec<Vec<UserSeed>> {
    shard_users_from(
        mix,
        connections,
        Sources {
            botnet_ips,
            ..Sources::default()
        },
    )
}

/// [`shard_users`] with humans and scripts on their own addresses too: the humans' addresses
/// are dealt out to the non-bot workers like the bots' (each address used by one worker, so
/// one socket per address), each script takes address `script % script_ips`.
///
/// # Panics
/// If `connections` is zero, or there are bots and `botnet_ips` is zero.
pub(crate) fn shard_users_from(
    mix: &Mix,
    connections: u32,
    sources: Sources,
) -> Vec<Vec<UserSeed>> {
    let botnet_ips = sources.botnet_ips;
    assert!(connections > 0, "at least one connection");
    assert!(
        mix.bots == 0 || botnet_ips > 0,
        "bots need source addresses"
    );
    let connections = connections as usize;
    let bot_workers = bot_connections(mix, connections as u32) as usize;
    let other_workers = connections - bot_workers;
    let mut shards = vec![Vec::new(); connections];
    let (mut bots_seen, mut others_seen) = (0usize, 0usize);
    let mut humans_on = vec![0usize; other_workers.max(1)];
    let mut scripts_seen = 0u32;
    for index in 0..mix.total() {
        let population = mix.population_of(index);
        let (worker, source) = if population == Population::Bot {
            let (worker, ip) = if bot_workers == 0 {
                (bots_seen % connections, bots_seen % botnet_ips as usize)
            } else {
                let slot = bots_seen % bot_workers;
                let ip = bot_ip_ordinal(slot, bots_seen / bot_workers, bot_workers, botnet_ips);
                (other_workers + slot, ip)
            };
            bots_seen += 1;
            let ip = botnet_ip(u32::try_from(ip).expect("ordinal < botnet_ips"));
            (worker, Some(IpAddr::V4(ip)))
        } else {
            let worker = others_seen % other_workers.max(1);
            others_seen += 1;
            let source = match population {
                Population::Script if sources.script_ips > 0 => {
                    let ip = script_ip(scripts_seen % sources.script_ips);
                    scripts_seen += 1;
                    Some(IpAddr::V4(ip))
                }
                Population::Clicker | Population::Visitor if sources.clicker_ips > 0 => {
                    let nth = humans_on[worker];
                    humans_on[worker] += 1;
                    let ordinal =
                        bot_ip_ordinal(worker, nth, other_workers.max(1), sources.clicker_ips);
                    Some(IpAddr::V4(human_ip(
                        u32::try_from(ordinal).expect("ordinal < clicker_ips"),
                    )))
                }
                _ => None,
            };
            (worker, source)
        };
        shards[worker].push(UserSeed {
            index,
            population,
            source,
        });
    }
    shards
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn botnet_ips_are_distinct_loopback_addresses() {
        assert_eq!(botnet_ip(0), Ipv4Addr::new(127, 1, 1, 1));
        assert_eq!(botnet_ip(253), Ipv4Addr::new(127, 1, 1, 254));
        assert_eq!(botnet_ip(254), Ipv4Addr::new(127, 1, 2, 1));
        let last = botnet_ip(254 * 254 - 1);
        assert_eq!(last, Ipv4Addr::new(127, 1, 254, 254));
        assert!(last.is_loopback());
    }

    #[test]
    fn every_user_is_placed_once_and_bots_use_their_own_connections() {
        let mix = Mix::new(1_000, 50, 10, 100).unwrap();
        let shards = shard_users(&mix, 20, 7);
        let bot_workers = bot_connections(&mix, 20) as usize;
        assert_eq!(bot_workers, 2, "10% bots -> 2 of 20 connections");
        let mut indexes: Vec<u64> = shards.iter().flatten().map(|seed| seed.index).collect();
        indexes.sort_unstable();
        assert_eq!(indexes, (0..1_000).collect::<Vec<_>>());
        for (worker, shard) in shards.iter().enumerate() {
            let bots_here = worker >= 20 - bot_workers;
            for seed in shard {
                assert_eq!(seed.population == Population::Bot, bots_here);
                assert_eq!(seed.source.is_some(), bots_here);
            }
        }
        let ips: std::collections::HashSet<_> = shards
            .iter()
            .flatten()
            .filter_map(|seed| seed.source)
            .collect();
        assert_eq!(ips.len(), 7);
    }

    #[test]
    fn bot_workers_own_disjoint_address_sets() {
        let mix = Mix::new(100_000, 70, 20, 2_000).unwrap();
        let shards = shard_users(&mix, 256, 200);
        let mut owner = std::collections::HashMap::new();
        for (worker, shard) in shards.iter().enumerate() {
            for source in shard.iter().filter_map(|seed| seed.source) {
                assert_eq!(*owner.entry(source).or_insert(worker), worker);
            }
        }
        assert_eq!(owner.len(), 200, "every address is used");
        let few = shard_users(&Mix::new(10, 0, 0, 10).unwrap(), 4, 2);
        let used: std::collections::HashSet<_> = few
            .iter()
            .flatten()
            .filter_map(|seed| seed.source)
            .collect();
        assert_eq!(used.len(), 2);
    }

    #[test]
    fn humans_and_scripts_can_have_their_own_addresses() {
        assert_eq!(human_ip(0), Ipv4Addr::new(127, 2, 1, 1));
        assert_eq!(script_ip(254), Ipv4Addr::new(127, 3, 2, 1));
        let mix = Mix::new(10_000, 70, 20, 2_000).unwrap();
        let sources = Sources {
            botnet_ips: 100,
            clicker_ips: 1_000,
            script_ips: 20,
        };
        let shards = shard_users_from(&mix, 64, sources);
        let mut owner = std::collections::HashMap::new();
        let mut by_population: std::collections::HashMap<_, std::collections::HashSet<_>> =
            std::collections::HashMap::new();
        for (worker, shard) in shards.iter().enumerate() {
            for seed in shard {
                let source = seed.source.expect("everyone has an address");
                by_population
                    .entry(seed.population)
                    .or_default()
                    .insert(source);
                if matches!(seed.population, Population::Clicker | Population::Visitor) {
                    assert_eq!(*owner.entry(source).or_insert(worker), worker);
                    assert_eq!(source.to_string().split('.').nth(1), Some("2"));
                }
            }
        }
        assert_eq!(by_population[&Population::Bot].len(), 100);
        assert_eq!(by_population[&Population::Script].len(), 20);
        let humans: std::collections::HashSet<_> = by_population[&Population::Clicker]
            .union(&by_population[&Population::Visitor])
            .collect();
        assert_eq!(humans.len(), 1_000, "every human address is used");
    }

    #[test]
    fn one_connection_serves_everyone() {
        let mix = Mix::new(10, 100, 1, 3).unwrap();
        let shards = shard_users(&mix, 1, 2);
        assert_eq!(shards.len(), 1);
        assert_eq!(shards[0].len(), 10);
        let only_bots = Mix::new(5, 0, 0, 5).unwrap();
        assert_eq!(bot_connections(&only_bots, 3), 3);
    }
}
