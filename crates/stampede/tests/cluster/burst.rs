//! A burst of grabs for the failure tests: client tasks grabbing one campaign as ever new
//! users through given nodes until it sells out (or a deadline), every answer logged with
//! when it was sent and answered; and the check every failure test ends with.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::support::winners;
use crate::{Answer, grab};

/// One grab of a burst.
#[derive(Clone, Debug)]
pub(crate) struct Grabbed {
    pub(crate) sent: Instant,
    pub(crate) answered: Instant,
    pub(crate) user: String,
    pub(crate) answer: Answer,
}

/// How a burst's clients grab.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pace {
    /// Client tasks.
    pub(crate) clients: usize,
    /// Each client's pause after each grab (zero: as fast as answers come).
    pub(crate) pause: Duration,
    /// When the clients stop at the latest.
    pub(crate) limit: Duration,
}

/// Client tasks grabbing until sold out, [`Burst::stop`] or their deadline.
pub(crate) struct Burst {
    wins: Arc<AtomicUsize>,
    done: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Grabbed>>>,
    workers: Vec<JoinHandle<()>>,
}

impl Burst {
    /// `pace.clients` tasks, task `w` grabbing through `bases[w % bases.len()]` as users
    /// `<prefix>-<n>`, until a grab answers `sold_out`, `stock` wins were seen, or
    /// `pace.limit`.
    pub(crate) fn start(
        client: &reqwest::Client,
        bases: &[String],
        campaign: &str,
        stock: usize,
        prefix: &str,
        pace: Pace,
    ) -> Self {
        let next_user = Arc::new(AtomicUsize::new(0));
        let wins = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let deadline = Instant::now() + pace.limit;
        let workers = (0..pace.clients)
            .map(|w| {
                let (client, campaign) = (client.clone(), campaign.to_owned());
                let (base, prefix) = (bases[w % bases.len()].clone(), prefix.to_owned());
                let (next_user, wins, done, log) =
                    (next_user.clone(), wins.clone(), done.clone(), log.clone());
                tokio::spawn(async move {
                    while !done.load(Ordering::Relaxed) && Instant::now() < deadline {
                        let user =
                            format!("{prefix}-{}", next_user.fetch_add(1, Ordering::Relaxed));
                        let sent = Instant::now();
                        let answer = grab(&client, &base, &campaign, &user).await;
                        let sold_out = matches!(&answer, Answer::Lost(code) if code == "sold_out");
                        if sold_out
                            || matches!(answer, Answer::Won(_))
                                && wins.fetch_add(1, Ordering::Relaxed) + 1 >= stock
                        {
                            done.store(true, Ordering::Relaxed);
                        }
                        let answered = Instant::now();
                        log.lock().unwrap().push(Grabbed {
                            sent,
                            answered,
                            user,
                            answer,
                        });
                        if !pace.pause.is_zero() {
                            tokio::time::sleep(pace.pause).await;
                        }
                    }
                })
            })
            .collect();
        Self {
            wins,
            done,
            log,
            workers,
        }
    }

    /// Waits until `wins` wins were acknowledged; fails the test after `within`, naming
    /// the answers seen.
    pub(crate) async fn until_wins(&self, wins: usize, within: Duration) {
        let reached = tokio::time::timeout(within, async {
            while self.wins.load(Ordering::Relaxed) < wins {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        if reached.await.is_err() {
            let mut seen: BTreeMap<String, usize> = BTreeMap::new();
            for grabbed in self.log.lock().unwrap().iter() {
                let answer: String = format!("{:?}", grabbed.answer).chars().take(40).collect();
                *seen.entry(answer).or_default() += 1;
            }
            panic!("{wins} wins not acknowledged within {within:?}; answers: {seen:?}");
        }
    }

    /// Grabs answered so far.
    pub(crate) fn answered(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// Tells the clients to stop after their grab in flight.
    pub(crate) fn stop(&self) {
        self.done.store(true, Ordering::Relaxed);
    }

    /// Waits for every client to finish; every grab, in no particular order.
    pub(crate) async fn finish(self) -> Vec<Grabbed> {
        for worker in self.workers {
            worker.await.expect("a client task");
        }
        self.log.lock().unwrap().clone()
    }
}

/// Every acknowledged win in `grabbed`, user → order.
pub(crate) fn acknowledged(grabbed: &[Grabbed]) -> BTreeMap<String, String> {
    grabbed
        .iter()
        .filter_map(|g| match &g.answer {
            Answer::Won(order) => Some((g.user.clone(), order.clone())),
            _ => None,
        })
        .collect()
}

/// Nothing acknowledged was lost and nothing was oversold, on every node in `bases`: each
/// acknowledged win is in each node's winners list with its order, no list holds more than
/// `stock`, and every listed winner was either told it won or got no definite answer
/// (`degraded`, no answer). Answers the winners list (the same on every node).
pub(crate) async fn assert_no_win_lost(
    client: &reqwest::Client,
    bases: &[String],
    campaign: &str,
    grabbed: &[Grabbed],
    stock: usize,
) -> BTreeMap<String, String> {
    let acknowledged = acknowledged(grabbed);
    let unknown: BTreeSet<&str> = grabbed
        .iter()
        .filter(|g| matches!(g.answer, Answer::Unknown | Answer::Degraded))
        .map(|g| g.user.as_str())
        .collect();
    assert!(
        acknowledged.len() <= stock,
        "oversold: {} acknowledged",
        acknowledged.len()
    );
    let mut lists = Vec::new();
    for base in bases {
        let listed: BTreeMap<String, String> =
            winners(client, base, campaign).await.into_iter().collect();
        assert!(
            listed.len() <= stock,
            "{base} lists {} winners",
            listed.len()
        );
        for (user, order) in &acknowledged {
            assert_eq!(
                listed.get(user),
                Some(order),
                "{base} lost {user}'s acknowledged win"
            );
        }
        for user in listed.keys() {
            let answers: Vec<&Answer> = grabbed
                .iter()
                .filter(|g| g.user == *user)
                .map(|g| &g.answer)
                .collect();
            assert!(
                acknowledged.contains_key(user) || unknown.contains(user.as_str()),
                "{base} lists {user}, who was neither told of a win nor left without an \
                 answer: {answers:?}"
            );
        }
        lists.push(listed);
    }
    for (base, listed) in bases.iter().zip(&lists).skip(1) {
        assert_eq!(
            listed, &lists[0],
            "{base}'s winners differ from {}'s",
            bases[0]
        );
    }
    lists.swap_remove(0)
}

/// Grabs answered 503 (`unavailable`, `overloaded`, `degraded`) among those sent at
/// `from` or later, and the time from the first such answer to the last.
pub(crate) fn unavailable_after(grabbed: &[Grabbed], from: Instant) -> (usize, Duration) {
    let refused: Vec<&Grabbed> = grabbed
        .iter()
        .filter(|g| g.sent >= from && matches!(g.answer, Answer::Refused | Answer::Degraded))
        .collect();
    let first = refused.iter().map(|g| g.answered).min();
    let last = refused.iter().map(|g| g.answered).max();
    let span = match (first, last) {
        (Some(first), Some(last)) => last - first,
        _ => Duration::ZERO,
    };
    (refused.len(), span)
}
