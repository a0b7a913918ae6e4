//! Reads figures back out of the metrics registry's own exposition: the grab path records
//! into pre-registered handles that cannot be read, so the snapshot reads what `/metrics`
//! renders (the same numbers, no second count on the grab path). A small parser of the
//! Prometheus text format, for the families the registry writes: `name{labels} value` lines
//! and histograms as cumulative `_bucket{le="…"}` lines plus `_count`.

use serde::Serialize;

/// One sample line: its name, its label block (without braces) and its value.
fn samples(text: &str) -> impl Iterator<Item = (&str, &str, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let value = value.parse::<f64>().ok()?;
            match series.split_once('{') {
                Some((name, labels)) => Some((name, labels.strip_suffix('}')?, value)),
                None => Some((series, "", value)),
            }
        })
}

/// The value of `key` in a label block such as `a="1",outcome="won"` (values here are codes
/// and numbers: no escaped quotes to unescape).
fn label<'a>(labels: &'a str, key: &str) -> Option<&'a str> {
    labels.split(',').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name.trim() == key).then(|| value.trim().trim_matches('"'))
    })
}

/// Each value of `label_key` in the counter family `name`, with its count, in the order the
/// exposition lists them.
pub fn counter_by_label(text: &str, name: &str, label_key: &str) -> Vec<(String, u64)> {
    samples(text)
        .filter(|(sample, _, _)| *sample == name)
        .filter_map(|(_, labels, value)| {
            // Counters are whole numbers written as floats; a count past 2^53 is not a concern.
            Some((label(labels, label_key)?.to_owned(), value as u64))
        })
        .collect()
}

/// A histogram family without labels other than `le`, as the registry holds it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Histogram {
    /// Observations so far.
    pub count: u64,
    /// Sum of the observations, in the family's unit.
    pub sum: f64,
    /// `(upper bound, cumulative count)` of each finite bucket, ascending (the `+Inf` bucket
    /// is [`Histogram::count`]).
    pub buckets: Vec<(f64, u64)>,
}

impl Histogram {
    /// Reads the histogram family `name` (an absent family reads as empty).
    pub fn read(text: &str, name: &str) -> Self {
        let bucket_name = format!("{name}_bucket");
        let count_name = format!("{name}_count");
        let sum_name = format!("{name}_sum");
        let mut histogram = Histogram::default();
        for (sample, labels, value) in samples(text) {
            if sample == bucket_name {
                if let Some(bound) = label(labels, "le").and_then(|le| le.parse::<f64>().ok())
                    && bound.is_finite()
                {
                    histogram.buckets.push((bound, value as u64));
                }
            } else if sample == count_name {
                histogram.count = value as u64;
            } else if sample == sum_name {
                histogram.sum = value;
            }
        }
        histogram.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        histogram
    }

    /// The `q` quantile (0 < q ≤ 1) estimated as Prometheus' `histogram_quantile` does:
    /// linear within the bucket that holds the rank, the largest finite bound when the rank
    /// falls in the `+Inf` bucket; `None` with no observation.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = q * self.count as f64;
        let mut lower = (0.0, 0_u64);
        for &(bound, cumulative) in &self.buckets {
            if cumulative as f64 >= rank {
                let in_bucket = (cumulative - lower.1) as f64;
                if in_bucket == 0.0 {
                    return Some(bound);
                }
                let fraction = (rank - lower.1 as f64) / in_bucket;
                return Some(lower.0 + (bound - lower.0) * fraction);
            }
            lower = (bound, cumulative);
        }
        Some(lower.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# HELP stampede_grab_outcomes_total Grabs.
# TYPE stampede_grab_outcomes_total counter
stampede_grab_outcomes_total{outcome=\"won\"} 3
stampede_grab_outcomes_total{outcome=\"sold_out\"} 40
stampede_other_total{outcome=\"won\"} 9
# TYPE stampede_grab_latency_seconds histogram
stampede_grab_latency_seconds_bucket{le=\"0.001\"} 2
stampede_grab_latency_seconds_bucket{le=\"0.01\"} 8
stampede_grab_latency_seconds_bucket{le=\"0.1\"} 10
stampede_grab_latency_seconds_bucket{le=\"+Inf\"} 10
stampede_grab_latency_seconds_sum 0.2
stampede_grab_latency_seconds_count 10
";

    #[test]
    fn counters_are_read_by_label() {
        assert_eq!(
            counter_by_label(TEXT, "stampede_grab_outcomes_total", "outcome"),
            [("won".to_owned(), 3), ("sold_out".to_owned(), 40)]
        );
        assert!(counter_by_label(TEXT, "stampede_missing_total", "outcome").is_empty());
    }

    #[test]
    fn a_histogram_reads_its_buckets_and_quantiles_interpolate() {
        let h = Histogram::read(TEXT, "stampede_grab_latency_seconds");
        assert_eq!(h.count, 10);
        assert_eq!(h.buckets, [(0.001, 2), (0.01, 8), (0.1, 10)]);
        // Rank 5 of 10 lies half-way through the (0.001, 0.01] bucket's six observations.
        let p50 = h.quantile(0.5).unwrap();
        assert!((p50 - 0.0055).abs() < 1e-12, "{p50}");
        // Rank 9.9 lies in (0.01, 0.1]: 0.95 of its way.
        let p99 = h.quantile(0.99).unwrap();
        assert!((p99 - 0.0955).abs() < 1e-12, "{p99}");
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn a_rank_in_the_infinite_bucket_reads_the_largest_finite_bound() {
        let h = Histogram {
            count: 4,
            sum: 40.0,
            buckets: vec![(1.0, 1), (5.0, 1)],
        };
        assert_eq!(h.quantile(0.99), Some(5.0));
    }
}
