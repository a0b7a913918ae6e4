//! The limiter in front of a model server on a fake clock, and the tower service.
//!
//! The model is a processor-sharing server with `workers` workers: each request needs
//! `work` of service; with `n` in flight each progresses at `min(1, workers / n)`. Its knee
//! is `workers` in flight: below it latency is `work`, above it latency grows with `n` and
//! throughput stays `workers / work`.

use std::time::Duration;

use super::*;
use crate::clock::ManualClock;

const TICK: Duration = Duration::from_millis(1);
const WORKERS: f64 = 50.0;
/// Service time of one request, in ticks (5 ms).
const WORK_TICKS: f64 = 5.0;

fn config() -> AdaptiveConfig {
    AdaptiveConfig {
        in_flight_floor: 8,
        ..AdaptiveConfig::default()
    }
}

#[derive(Default, Debug)]
struct Run {
    admitted: u64,
    shed_capacity: u64,
    shed_latency: u64,
    completed: u64,
    /// Sum of in-flight samples (one per tick) and their count, after warm-up.
    in_flight_sum: u64,
    samples: u64,
    max_in_flight: u64,
}

impl Run {
    fn mean_in_flight(&self) -> f64 {
        self.in_flight_sum as f64 / self.samples.max(1) as f64
    }
}

struct Model {
    clock: ManualClock,
    limiter: AdaptiveLimiter<ManualClock>,
    /// (work left in ticks, permit)
    requests: Vec<(f64, AdaptivePermit<ManualClock>)>,
}

impl Model {
    fn new(config: AdaptiveConfig) -> Self {
        let clock = ManualClock::at_monotonic(Duration::from_secs(1_000));
        let limiter = AdaptiveLimiter::new(config, clock.clone());
        Self {
            clock,
            limiter,
            requests: Vec::new(),
        }
    }

    /// Runs `ticks` ms with `per_tick` arrivals each; samples in flight after `warm_up` ticks.
    fn run(&mut self, ticks: u64, per_tick: u64, warm_up: u64) -> Run {
        let mut run = Run::default();
        for tick in 0..ticks {
            self.clock.advance(TICK);
            let rate = (WORKERS / self.requests.len().max(1) as f64).min(1.0);
            for (left, _) in &mut self.requests {
                *left -= rate;
            }
            let before = self.requests.len();
            self.requests.retain(|(left, _)| *left > 1e-9); // dropping the permit finishes it
            run.completed += (before - self.requests.len()) as u64;
            for _ in 0..per_tick {
                match self.limiter.try_admit() {
                    Admission::Admit(permit) => {
                        run.admitted += 1;
                        self.requests.push((WORK_TICKS, permit));
                    }
                    Admission::Shed {
                        reason: ShedReason::Capacity,
                    } => run.shed_capacity += 1,
                    Admission::Shed {
                        reason: ShedReason::LatencyTarget,
                    } => run.shed_latency += 1,
                }
            }
            assert_eq!(self.limiter.in_flight(), self.requests.len() as u64);
            if tick >= warm_up {
                run.in_flight_sum += self.requests.len() as u64;
                run.samples += 1;
                run.max_in_flight = run.max_in_flight.max(self.requests.len() as u64);
            }
        }
        run
    }
}

#[test]
fn admits_everything_at_low_load() {
    let mut model = Model::new(config());
    // 2 per ms × 5 ms = 10 in flight, a fifth of the knee.
    let run = model.run(5_000, 2, 0);
    assert_eq!(run.shed_capacity + run.shed_latency, 0, "{run:?}");
    assert!(run.mean_in_flight() < 12.0, "{run:?}");
}

#[test]
fn bursts_under_the_knee_are_not_shed() {
    let mut model = Model::new(config());
    let quiet = model.run(3_000, 1, 0);
    // Jump to 8 per ms (40 in flight, under the knee of 50): Little's law on the quiet
    // period says 5, but latency stays flat, so nothing is shed.
    let burst = model.run(3_000, 8, 0);
    assert_eq!(quiet.shed_capacity + burst.shed_capacity, 0, "{burst:?}");
}

#[test]
fn holds_in_flight_near_the_knee_under_overload() {
    let mut model = Model::new(config());
    model.run(1_000, 2, 0); // learn the uncongested latency
    // 20 per ms is twice what 50 workers at 5 ms each can serve.
    let run = model.run(10_000, 20, 2_000);
    println!(
        "overload run: mean in flight {:.1}, {run:?}",
        run.mean_in_flight()
    );
    let knee = WORKERS;
    assert!(run.shed_capacity > 0, "{run:?}");
    assert!(
        run.mean_in_flight() > 0.8 * knee && run.mean_in_flight() < 1.6 * knee,
        "mean in flight {} should sit near the knee {knee}: {run:?}",
        run.mean_in_flight()
    );
    assert!(run.max_in_flight < 3 * knee as u64, "{run:?}");
    // Throughput stays at the server's capacity (10 per ms) within 10%.
    let per_ms = run.completed as f64 / 10_000.0;
    assert!(per_ms > 9.0, "throughput {per_ms}/ms: {run:?}");
    let estimate = model.limiter.estimate();
    assert_eq!(estimate.min_latency, Some(Duration::from_millis(5)));
    assert!(
        estimate.capacity.is_some_and(|c| (40..=80).contains(&c)),
        "{estimate:?}"
    );

    // Load falls back under the knee: shedding stops.
    model.run(2_000, 4, 0);
    let after = model.run(3_000, 4, 0);
    assert_eq!(after.shed_capacity, 0, "{after:?}");
}

#[test]
fn latency_target_sheds_then_recovers() {
    let mut model = Model::new(AdaptiveConfig {
        // Effectively no capacity rule: this test is about the p99 target alone.
        congestion_ratio: 1e9,
        latency_target_p99: Some(Duration::from_millis(20)),
        ..config()
    });
    model.run(500, 2, 0);
    // 15 per ms is 1.5× capacity: unshed, latency would grow without bound.
    let overload = model.run(5_000, 15, 1_000);
    println!(
        "p99 run: mean in flight {:.1}, {overload:?}",
        overload.mean_in_flight()
    );
    assert!(overload.shed_latency > 0, "{overload:?}");
    assert_eq!(overload.shed_capacity, 0);
    // Unshed, in flight would grow by 5 per ms to 25,000. Held near 10 per ms × 20 ms = 200
    // (the in flight that gives 20 ms here), with overshoot: p99 is seen only as requests
    // complete.
    assert!(overload.mean_in_flight() < 300.0, "{overload:?}");
    assert!(overload.max_in_flight < 600, "{overload:?}");
    assert!(
        overload.completed as f64 / 5_000.0 > 9.0,
        "throughput kept: {overload:?}"
    );
    // Back to light load: once the window forgets the slow buckets, nothing is shed.
    model.run(2_000, 2, 0);
    let recovered = model.run(3_000, 2, 0);
    assert_eq!(recovered.shed_latency, 0, "{recovered:?}");
    let p99 = model.limiter.estimate().latency_p99.expect("measured");
    assert!(p99 <= Duration::from_millis(20), "p99 {p99:?}");
}

#[test]
fn a_stall_sheds_above_the_floor() {
    let clock = ManualClock::at_monotonic(Duration::from_secs(1));
    let limiter = AdaptiveLimiter::new(config(), clock.clone());
    for _ in 0..100 {
        let Admission::Admit(permit) = limiter.try_admit() else {
            panic!("light load is admitted")
        };
        clock.advance(TICK);
        permit.finish();
    }
    // The dependency stalls: nothing completes. Within two buckets (one to see an empty
    // bucket, one of slack for the bucket the last completion fell in) everything is shed.
    let mut stuck = Vec::new();
    for tick in 0..500 {
        clock.advance(TICK);
        match limiter.try_admit() {
            Admission::Admit(permit) => {
                assert!(tick < 200, "admitted into a stall at tick {tick}");
                stuck.push(permit);
            }
            Admission::Shed { reason } => assert_eq!(reason, ShedReason::Capacity),
        }
    }
    assert!(limiter.estimate().congested);
}

#[test]
fn invalid_config_names_the_field() {
    let bad = AdaptiveConfig {
        min_latency_window_buckets: 5,
        ..AdaptiveConfig::default()
    };
    assert_eq!(
        bad.validate().unwrap_err().field,
        "min_latency_window_buckets"
    );
    let bad = AdaptiveConfig {
        congestion_ratio: 0.5,
        ..AdaptiveConfig::default()
    };
    assert_eq!(bad.validate().unwrap_err().field, "congestion_ratio");
}
