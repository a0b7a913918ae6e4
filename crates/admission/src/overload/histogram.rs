//! [`LatencyHistogram`]: fixed log-linear buckets, 8 per power of two, in microseconds.
//!
//! Chosen over `hdrhistogram` because the limiter keeps one per window bucket and merges them
//! once per bucket: a fixed array merges with a plain loop and never allocates. Resolution:
//! a bin is at most 1/8 of its lower bound wide, so a quantile is over-stated by < 12.5%
//! (it reports the bin's upper bound, erring towards shedding).

use std::time::Duration;

/// Sub-bins per power of two.
const SUB_BINS: u64 = 8;
/// log2(SUB_BINS).
const SUB_BITS: u32 = 3;
/// Largest power of two kept: 2^36 µs is 19 hours; anything longer lands in the last bin.
const MAX_EXPONENT: u32 = 36;

/// Number of bins: exact bins for 0..8 µs, then 8 per power of two up to 2^36 µs.
pub const LATENCY_BINS: usize =
    (SUB_BINS + (MAX_EXPONENT - SUB_BITS + 1) as u64 * SUB_BINS) as usize;

/// Counts of latencies per bin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LatencyHistogram {
    bins: Box<[u32; LATENCY_BINS]>,
    total: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            bins: Box::new([0; LATENCY_BINS]),
            total: 0,
        }
    }
}

impl LatencyHistogram {
    pub(crate) fn record(&mut self, latency: Duration) {
        let bin = bin_of(latency);
        self.bins[bin] = self.bins[bin].saturating_add(1);
        self.total += 1;
    }

    pub(crate) fn clear(&mut self) {
        self.bins.fill(0);
        self.total = 0;
    }

    pub(crate) fn merge(&mut self, other: &Self) {
        for (mine, theirs) in self.bins.iter_mut().zip(other.bins.iter()) {
            *mine = mine.saturating_add(*theirs);
        }
        self.total += other.total;
    }

    /// The upper bound of the bin holding the `quantile` (in `[0, 1]`); `None` if empty.
    pub(crate) fn quantile(&self, quantile: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        // The rank of the quantile sample, 1-based: ceil(q × n), at least 1.
        let rank = ((quantile * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0_u64;
        for (bin, count) in self.bins.iter().enumerate() {
            seen += u64::from(*count);
            if seen >= rank {
                return Some(Duration::from_micros(upper_bound_us(bin)));
            }
        }
        unreachable!("histogram total exceeds its bins")
    }
}

fn bin_of(latency: Duration) -> usize {
    let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    if micros < SUB_BINS {
        return micros as usize;
    }
    let exponent = (63 - micros.leading_zeros()).min(MAX_EXPONENT);
    if exponent == MAX_EXPONENT && micros >= (1 << (MAX_EXPONENT + 1)) {
        return LATENCY_BINS - 1;
    }
    let sub = (micros >> (exponent - SUB_BITS)) & (SUB_BINS - 1);
    (SUB_BINS + u64::from(exponent - SUB_BITS) * SUB_BINS + sub) as usize
}

fn upper_bound_us(bin: usize) -> u64 {
    let bin = bin as u64;
    if bin < SUB_BINS {
        return bin + 1;
    }
    let exponent = (bin - SUB_BINS) / SUB_BINS + u64::from(SUB_BITS);
    let sub = (bin - SUB_BINS) % SUB_BINS;
    let step = 1_u64 << (exponent - u64::from(SUB_BITS));
    ((SUB_BINS + sub) << (exponent - u64::from(SUB_BITS))) + step
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_cover_their_values_within_an_eighth() {
        for micros in [0_u64, 1, 7, 8, 9, 15, 16, 100, 999, 1_000, 123_456, 1 << 35] {
            let bin = bin_of(Duration::from_micros(micros));
            let upper = upper_bound_us(bin);
            assert!(
                micros < upper,
                "{micros} µs is under its bin's upper bound {upper}"
            );
            assert!(
                upper as f64 <= (micros as f64 * 1.125).max(micros as f64 + 1.0) + 1.0,
                "{micros} µs: bin upper bound {upper} is within 12.5%"
            );
        }
        assert_eq!(bin_of(Duration::from_secs(1_000_000)), LATENCY_BINS - 1);
    }

    #[test]
    fn quantiles() {
        let mut histogram = LatencyHistogram::default();
        assert_eq!(histogram.quantile(0.99), None);
        for millis in 1..=100 {
            histogram.record(Duration::from_millis(millis));
        }
        let p99 = histogram.quantile(0.99).unwrap();
        assert!(p99 >= Duration::from_millis(99) && p99 <= Duration::from_micros(112_000));
        let p50 = histogram.quantile(0.5).unwrap();
        assert!(p50 >= Duration::from_millis(50) && p50 <= Duration::from_micros(57_000));
    }
}
