//! Who is grabbing: the population mix and how each kind of user behaves after a response.

use crate::outcome::Outcome;
use rand::Rng;
use serde::Serialize;
use std::time::Duration;

/// At most this many clicks per human clicker: "clicks again a few times" before giving up.
pub(crate) const CLICKER_MAX_CLICKS: u32 = 4;
/// A visitor clicks once and leaves (the casual shopper).
pub(crate) const VISITOR_MAX_CLICKS: u32 = 1;
/// A bot retries up to this many times: persistent, but not an infinite loop like a script.
pub(crate) const BOT_MAX_ATTEMPTS: u32 = 20;
/// Human reaction jitter between clicks, milliseconds (100–800 ms per the scenario).
pub(crate) const HUMAN_JITTER_MS: (u64, u64) = (100, 800);
/// Bot retry delay, milliseconds: fast-ish, well under a human but not a hot loop.
pub(crate) const BOT_RETRY_MS: (u64, u64) = (20, 200);
/// Humans first click within this window after the sale opens (people are not synchronised).
pub(crate) const HUMAN_FIRST_CLICK_SPREAD_MS: u64 = 1_000;
/// Bots fire within this window after the opening (they are close to synchronised).
pub(crate) const BOT_FIRST_SHOT_SPREAD_MS: u64 = 100;
/// Retry-After assumed when a 429 arrives without the header (the server default is 1 s).
pub(crate) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// A kind of user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Population {
    /// Human who clicks again a few times, honouring Retry-After.
    Clicker,
    /// Human who clicks once.
    Visitor,
    /// One user id looping as fast as it can, ignoring Retry-After.
    Script,
    /// Many user ids over many source IPs, retrying fast-ish.
    Bot,
}

impl Population {
    /// Every population, in report order.
    pub const ALL: [Population; 4] = [
        Population::Clicker,
        Population::Visitor,
        Population::Script,
        Population::Bot,
    ];

    /// Stable name for reports and user ids.
    pub fn name(self) -> &'static str {
        match self {
            Population::Clicker => "clicker",
            Population::Visitor => "visitor",
            Population::Script => "script",
            Population::Bot => "bot",
        }
    }

    /// Position in [`Population::ALL`].
    pub fn index(self) -> usize {
        match self {
            Population::Clicker => 0,
            Population::Visitor => 1,
            Population::Script => 2,
            Population::Bot => 3,
        }
    }
}

/// How many users of each population take part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Mix {
    /// Repeat-clicking humans.
    pub clickers: u64,
    /// One-click humans.
    pub visitors: u64,
    /// Looping scripts.
    pub scripts: u64,
    /// Botnet users.
    pub bots: u64,
}

impl Mix {
    /// Splits `users` in total: `scripts` and `botnet_users` are taken out first, then
    /// `clickers_pct` percent of the remaining humans are clickers and the rest visitors.
    ///
    /// Returns `None` when scripts + bots exceed the total or the percentage is above 100.
    pub fn new(users: u64, clickers_pct: u8, scripts: u64, botnet_users: u64) -> Option<Self> {
        if clickers_pct > 100 {
            return None;
        }
        let humans = users.checked_sub(scripts)?.checked_sub(botnet_users)?;
        let clickers = humans * u64::from(clickers_pct) / 100;
        Some(Self {
            clickers,
            visitors: humans - clickers,
            scripts,
            bots: botnet_users,
        })
    }

    /// Total users.
    pub fn total(&self) -> u64 {
        self.clickers + self.visitors + self.scripts + self.bots
    }

    /// Population of user number `index` (0-based, `< total()`). Layout: scripts, bots,
    /// clickers, visitors — contiguous ranges, so a user's population is a pure function.
    pub fn population_of(&self, index: u64) -> Population {
        assert!(index < self.total(), "user index {index} outside the mix");
        if index < self.scripts {
            Population::Script
        } else if index < self.scripts + self.bots {
            Population::Bot
        } else if index < self.scripts + self.bots + self.clickers {
            Population::Clicker
        } else {
            Population::Visitor
        }
    }
}

/// What a user does after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Try again after this delay.
    RetryAfter(Duration),
    /// Leave.
    Stop,
}

/// Delay before a user's first attempt, after the run starts.
pub(crate) fn first_delay(population: Population, rng: &mut impl Rng) -> Duration {
    match population {
        Population::Script => Duration::ZERO,
        Population::Bot => Duration::from_millis(rng.random_range(0..=BOT_FIRST_SHOT_SPREAD_MS)),
        Population::Clicker | Population::Visitor => {
            Duration::from_millis(rng.random_range(0..=HUMAN_FIRST_CLICK_SPREAD_MS))
        }
    }
}

/// The behaviour table: after `attempts` attempts (including this one) ended with `outcome`
/// (and maybe a Retry-After), does the user try again, and when?
pub(crate) fn next_action(
    population: Population,
    attempts: u32,
    outcome: Outcome,
    retry_after: Option<Duration>,
    rng: &mut impl Rng,
) -> Next {
    // Answers after which nobody has a reason to retry.
    let final_for_everyone = matches!(
        outcome,
        Outcome::AlreadyWon
            | Outcome::SoldOut
            | Outcome::Ended
            | Outcome::CampaignNotFound
            | Outcome::Unauthorized
            | Outcome::BadRequest
    );
    if final_for_everyone {
        return Next::Stop;
    }
    match population {
        // A script keeps going after a win too (it wants more than its limit): the server must
        // answer already_won, which stops it.
        Population::Script => Next::RetryAfter(Duration::ZERO),
        Population::Clicker | Population::Visitor => {
            // A banned person cannot do anything about it; scripts and bots keep trying.
            if outcome == Outcome::Blocked {
                return Next::Stop;
            }
            let max_clicks = if population == Population::Clicker {
                CLICKER_MAX_CLICKS
            } else {
                VISITOR_MAX_CLICKS
            };
            if outcome == Outcome::Won || attempts >= max_clicks {
                return Next::Stop;
            }
            let jitter =
                Duration::from_millis(rng.random_range(HUMAN_JITTER_MS.0..=HUMAN_JITTER_MS.1));
            let wait = if outcome == Outcome::RateLimited {
                retry_after.unwrap_or(DEFAULT_RETRY_AFTER)
            } else {
                Duration::ZERO
            };
            Next::RetryAfter(wait + jitter)
        }
        Population::Bot => {
            if outcome == Outcome::Won || attempts >= BOT_MAX_ATTEMPTS {
                return Next::Stop;
            }
            Next::RetryAfter(Duration::from_millis(
                rng.random_range(BOT_RETRY_MS.0..=BOT_RETRY_MS.1),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn mix_splits_humans_by_percentage() {
        let mix = Mix::new(100_000, 70, 20, 2_000).unwrap();
        assert_eq!(mix.scripts, 20);
        assert_eq!(mix.bots, 2_000);
        assert_eq!(mix.clickers, 97_980 * 70 / 100);
        assert_eq!(mix.total(), 100_000);
        assert_eq!(mix.population_of(0), Population::Script);
        assert_eq!(mix.population_of(20), Population::Bot);
        assert_eq!(mix.population_of(2_020), Population::Clicker);
        assert_eq!(mix.population_of(99_999), Population::Visitor);
    }

    #[test]
    fn mix_rejects_impossible_splits() {
        assert!(Mix::new(10, 50, 6, 5).is_none());
        assert!(Mix::new(10, 101, 0, 0).is_none());
        assert_eq!(Mix::new(10, 100, 0, 0).unwrap().visitors, 0);
    }

    #[test]
    fn every_index_has_exactly_the_counted_population() {
        let mix = Mix::new(1_000, 33, 7, 50).unwrap();
        let mut counts = [0u64; 4];
        for index in 0..mix.total() {
            counts[mix.population_of(index).index()] += 1;
        }
        assert_eq!(counts, [mix.clickers, mix.visitors, mix.scripts, mix.bots]);
    }

    #[test]
    fn clickers_honour_retry_after_and_give_up() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let retry = Some(Duration::from_secs(2));
        match next_action(
            Population::Clicker,
            1,
            Outcome::RateLimited,
            retry,
            &mut rng,
        ) {
            Next::RetryAfter(delay) => {
                assert!(delay >= Duration::from_millis(2_000 + HUMAN_JITTER_MS.0));
                assert!(delay <= Duration::from_millis(2_000 + HUMAN_JITTER_MS.1));
            }
            Next::Stop => panic!("clicker should retry"),
        }
        let last = next_action(
            Population::Clicker,
            CLICKER_MAX_CLICKS,
            Outcome::Overloaded,
            None,
            &mut rng,
        );
        assert_eq!(last, Next::Stop);
        for stop in [
            Outcome::Won,
            Outcome::AlreadyWon,
            Outcome::SoldOut,
            Outcome::Ended,
        ] {
            assert_eq!(
                next_action(Population::Clicker, 1, stop, None, &mut rng),
                Next::Stop
            );
        }
    }

    #[test]
    fn scripts_ignore_retry_after_and_bots_are_bounded() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let retry = Some(Duration::from_secs(5));
        assert_eq!(
            next_action(
                Population::Script,
                900,
                Outcome::RateLimited,
                retry,
                &mut rng
            ),
            Next::RetryAfter(Duration::ZERO)
        );
        assert_eq!(
            next_action(Population::Script, 3, Outcome::Won, None, &mut rng),
            Next::RetryAfter(Duration::ZERO)
        );
        match next_action(Population::Bot, 1, Outcome::RateLimited, retry, &mut rng) {
            Next::RetryAfter(delay) => assert!(delay <= Duration::from_millis(BOT_RETRY_MS.1)),
            Next::Stop => panic!("bot should retry"),
        }
        assert_eq!(
            next_action(
                Population::Bot,
                BOT_MAX_ATTEMPTS,
                Outcome::Timeout,
                None,
                &mut rng
            ),
            Next::Stop
        );
        assert_eq!(
            next_action(Population::Visitor, 1, Outcome::Overloaded, None, &mut rng),
            Next::Stop
        );
    }
}
