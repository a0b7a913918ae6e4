//! Open-loop pacing (wrk2 style): requests have *intended* send times fixed in advance, and
//! latency is measured from the intended time, so a stalled server cannot hide its stall by
//! slowing the client down (coordinated omission).

use std::time::Duration;
use tokio::time::Instant;

/// The arrival schedule of one connection's share of a global rate.
///
/// With `connections` connections sharing `rate_per_sec`, connection `c`'s `k`-th slot is at
/// `start + (k * connections + c) / rate_per_sec` seconds: the connections interleave, so the
/// union of all slots is exactly one arrival every `1 / rate_per_sec`.
#[derive(Debug, Clone)]
pub(crate) struct OpenLoopSchedule {
    start: Instant,
    rate_per_sec: u64,
    connections: u64,
    connection: u64,
    next_slot: u64,
}

impl OpenLoopSchedule {
    /// Schedule for connection `connection` of `connections`.
    ///
    /// # Panics
    /// If `rate_per_sec` or `connections` is zero, or `connection >= connections`.
    pub(crate) fn new(
        start: Instant,
        rate_per_sec: u64,
        connections: u64,
        connection: u64,
    ) -> Self {
        assert!(rate_per_sec > 0, "open loop needs a positive rate");
        assert!(
            connection < connections,
            "connection {connection} of {connections}"
        );
        Self {
            start,
            rate_per_sec,
            connections,
            connection,
            next_slot: 0,
        }
    }

    /// Intended send time of slot `slot` (pure).
    pub(crate) fn intended_time(&self, slot: u64) -> Instant {
        let arrival = u128::from(slot) * u128::from(self.connections) + u128::from(self.connection);
        let nanos = arrival * 1_000_000_000 / u128::from(self.rate_per_sec);
        self.start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Takes the next slot whose intended time is not before `not_before`; returns its time
    /// and how many earlier slots were skipped because no user was ready for them.
    pub(crate) fn take_slot(&mut self, not_before: Instant) -> (Instant, u64) {
        let mut skipped = 0;
        loop {
            let intended = self.intended_time(self.next_slot);
            self.next_slot += 1;
            if intended >= not_before {
                return (intended, skipped);
            }
            skipped += 1;
        }
    }
}

/// Latency as reported: from the intended send time (open loop) or the actual send time
/// (closed loop, where the two are equal) to the response.
pub(crate) fn latency_since(intended: Instant, completed: Instant) -> Duration {
    completed.saturating_duration_since(intended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slots_of_all_connections_tile_the_rate() {
        let start = Instant::now();
        let rate = 1_000;
        let connections = 4;
        let mut all: Vec<Duration> = Vec::new();
        for connection in 0..connections {
            let schedule = OpenLoopSchedule::new(start, rate, connections, connection);
            for slot in 0..250 {
                all.push(schedule.intended_time(slot) - start);
            }
        }
        all.sort();
        // 1000 req/s for one second: exactly one arrival per millisecond.
        assert_eq!(all.len(), 1_000);
        for (index, offset) in all.iter().enumerate() {
            assert_eq!(*offset, Duration::from_millis(index as u64));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn take_slot_skips_slots_before_a_user_is_ready() {
        let start = Instant::now();
        let mut schedule = OpenLoopSchedule::new(start, 10, 1, 0);
        assert_eq!(schedule.take_slot(start), (start, 0));
        let ready = start + Duration::from_millis(350);
        let (slot, skipped) = schedule.take_slot(ready);
        assert_eq!(slot, start + Duration::from_millis(400));
        assert_eq!(skipped, 3, "slots at 100, 200 and 300 ms had no ready user");
    }

    #[tokio::test(start_paused = true)]
    async fn latency_counts_from_intended_time_not_send_time() {
        let start = Instant::now();
        let schedule = OpenLoopSchedule::new(start, 100, 1, 0);
        let intended = schedule.intended_time(5); // 50 ms
        // The client only managed to send at 80 ms (the previous response was slow) and the
        // answer took 5 ms: the user waited 35 ms, not 5.
        let completed = start + Duration::from_millis(85);
        assert_eq!(
            latency_since(intended, completed),
            Duration::from_millis(35)
        );
        assert_eq!(latency_since(completed, intended), Duration::ZERO);
    }
}
