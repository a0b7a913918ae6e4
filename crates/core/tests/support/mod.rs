//! Helpers shared by the core's integration tests.
#![allow(dead_code)]

use rand_chacha::ChaCha8Rng;
use stampede_core::*;

pub(crate) const WINDOW_SECS: u64 = 10;
pub(crate) const WINDOW_MS: u64 = WINDOW_SECS * 1000;

pub(crate) fn seckill(stock: u64, limit: u32, regrab: bool) -> CampaignSpec {
    CampaignSpec::Seckill(SeckillSpec {
        common: CommonSpec {
            name: "life".into(),
            starts_at: None,
            ends_at: None,
        },
        stock,
        per_user_limit: limit,
        price_cents: Cents(100),
        payment_window_secs: WINDOW_SECS,
        regrab_after_release: regrab,
    })
}

pub(crate) fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

pub(crate) fn channel(name: &str) -> ChannelName {
    ChannelName::parse(name).unwrap()
}

/// A ledger with one campaign; returns it, the campaign id and the records so far.
pub(crate) fn ledger_with(
    spec: CampaignSpec,
    rng: &mut ChaCha8Rng,
) -> (Ledger, CampaignId, Vec<Record>) {
    let mut ledger = Ledger::new();
    let record = ledger
        .create_campaign(spec, UnixMillis(0), rng)
        .record
        .unwrap();
    let Record::CampaignCreated { id, .. } = record else {
        unreachable!()
    };
    (ledger, id, vec![record])
}

pub(crate) fn win(
    ledger: &mut Ledger,
    id: CampaignId,
    who: &str,
    now: u64,
    rng: &mut ChaCha8Rng,
) -> (OrderId, Record) {
    let grab = ledger.grab(id, &user(who), UnixMillis(now), rng);
    let GrabOutcome::Won(ticket) = grab.outcome else {
        panic!("{who} did not win: {:?}", grab.outcome)
    };
    (ticket.order_id, grab.record.unwrap())
}

pub(crate) fn replay(records: &[Record]) -> Ledger {
    let mut ledger = Ledger::new();
    for r in records {
        ledger.apply(r).unwrap();
    }
    ledger.assert_invariants();
    ledger
}
