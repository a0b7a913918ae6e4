//! Grabs under an `Idempotency-Key`: a key's win is journaled with it, so its retry answers
//! the same order on the ledger that decided it, on one rebuilt from the records (another
//! node, a restart) and on one restored from a snapshot; with a per-user limit above one, a
//! retry never wins a second item.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use stampede_core::*;

fn seckill(stock: u64, per_user_limit: u32) -> CampaignSpec {
    CampaignSpec::Seckill(SeckillSpec {
        common: CommonSpec {
            name: "keyed".into(),
            starts_at: None,
            ends_at: Some(UnixMillis(10_000)),
        },
        stock,
        per_user_limit,
        price_cents: Cents(990),
        payment_window_secs: 900,
        regrab_after_release: false,
    })
}

fn key(s: &str) -> Option<GrabKey> {
    Some(GrabKey::parse(s).unwrap())
}

struct Run {
    ledger: Ledger,
    records: Vec<Record>,
    rng: ChaCha8Rng,
    campaign: CampaignId,
}

impl Run {
    fn new(spec: CampaignSpec) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut ledger = Ledger::new();
        let created = ledger.create_campaign(spec, UnixMillis(0), &mut rng);
        let CreateOutcome::Created(campaign) = created.outcome else {
            panic!("{:?}", created.outcome)
        };
        Self {
            ledger,
            records: created.record.into_iter().collect(),
            rng,
            campaign,
        }
    }

    fn grab(&mut self, user: &str, key: Option<GrabKey>, at: u64) -> GrabOutcome {
        let user = UserId::parse(user).unwrap();
        let decision =
            self.ledger
                .grab_keyed(self.campaign, &user, key, UnixMillis(at), &mut self.rng);
        self.records.extend(decision.record);
        decision.outcome
    }
}

fn won(outcome: &GrabOutcome) -> OrderTicket {
    match outcome {
        GrabOutcome::Won(ticket) => *ticket,
        other => panic!("not a win: {other:?}"),
    }
}

#[test]
fn a_keys_retry_answers_its_first_win_and_records_nothing() {
    let mut run = Run::new(seckill(10, 2));
    let first = won(&run.grab("alice", key("k1"), 10));
    let records = run.records.len();
    assert!(matches!(
        run.records.last(),
        Some(Record::KeyedWon { key, .. }) if key.as_str() == "k1"
    ));
    // The limit is 2: without the key this retry would win a second item.
    assert_eq!(won(&run.grab("alice", key("k1"), 20)), first);
    assert_eq!(run.records.len(), records, "a replay records nothing");
    assert_eq!(run.ledger.campaign(run.campaign).unwrap().remaining(), 9);
    // Another key is another grab; the same key of another user too.
    let second = won(&run.grab("alice", key("k2"), 30));
    assert_ne!(second, first);
    let bobs = won(&run.grab("bob", key("k1"), 40));
    assert_ne!(bobs, first);
    // At the limit, the first key still answers its own win (not `already_won`).
    assert_eq!(won(&run.grab("alice", key("k1"), 50)), first);
    assert!(matches!(
        run.grab("alice", key("k3"), 60),
        GrabOutcome::AlreadyWon(_)
    ));
}

#[test]
fn the_key_outlives_sold_out_and_the_end_of_the_campaign() {
    let mut run = Run::new(seckill(1, 1));
    let first = won(&run.grab("alice", key("last-item"), 10));
    assert!(matches!(run.grab("bob", None, 20), GrabOutcome::SoldOut));
    assert_eq!(won(&run.grab("alice", key("last-item"), 30)), first);
    assert_eq!(won(&run.grab("alice", key("last-item"), 20_000)), first);
    assert!(matches!(
        run.grab("alice", key("other"), 20_000),
        GrabOutcome::AlreadyWon(_)
    ));
}

#[test]
fn a_rebuilt_or_restored_ledger_answers_the_same_win() {
    let mut run = Run::new(seckill(10, 3));
    let first = won(&run.grab("alice", key("k1"), 10));
    won(&run.grab("alice", None, 20));
    let mut rebuilt = Ledger::new();
    for record in &run.records {
        rebuilt.apply(record).unwrap();
    }
    let mut restored = Ledger::restore(&run.ledger.snapshot()).unwrap();
    let alice = UserId::parse("alice").unwrap();
    for ledger in [&mut rebuilt, &mut restored] {
        let retry = ledger.grab_keyed(
            run.campaign,
            &alice,
            key("k1"),
            UnixMillis(30),
            &mut run.rng,
        );
        assert_eq!(won(&retry.outcome), first);
        assert!(retry.record.is_none());
        let campaign = ledger.campaign(run.campaign).unwrap();
        assert_eq!(campaign.keyed_win("alice", "k1"), Some(first));
        assert_eq!(campaign.keyed_win("bob", "k1"), None);
    }
    assert_eq!(restored.snapshot(), run.ledger.snapshot());
}

#[test]
fn replay_refuses_a_second_win_under_one_key() {
    let mut run = Run::new(seckill(10, 3));
    won(&run.grab("alice", key("k1"), 10));
    let Some(Record::KeyedWon {
        campaign_id,
        user_id,
        amount_cents,
        key,
        ..
    }) = run.records.last().cloned()
    else {
        panic!("a keyed win")
    };
    // A forged second win under the key, for the campaign's next place.
    let mut forger = ChaCha8Rng::seed_from_u64(99);
    let mut probe = Ledger::restore(&run.ledger.snapshot()).unwrap();
    let plain = probe.grab(campaign_id, &user_id, UnixMillis(20), &mut forger);
    let Some(Record::Won {
        order_id, won_at, ..
    }) = plain.record
    else {
        panic!("a plain win")
    };
    let forged = Record::KeyedWon {
        campaign_id,
        order_id,
        user_id,
        amount_cents,
        won_at,
        key,
    };
    let before = run.ledger.snapshot();
    let error = run.ledger.apply(&forged).unwrap_err().to_string();
    assert!(error.contains("idempotency key"), "{error}");
    assert_eq!(
        run.ledger.snapshot(),
        before,
        "a refused record changes nothing"
    );
}
