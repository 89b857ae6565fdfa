//! A fixed-size latency histogram with bounded relative error.
//!
//! Log-linear buckets in the manner of HdrHistogram: values below 128 ns have a
//! bucket each; above that, every power of two is split into 64 equal buckets, so a
//! reported percentile is at most 1/64 (1.6%) above the true value, whatever the
//! number of samples. Memory is constant (3,776 counters), and histograms of several
//! threads merge by adding counters.

use std::time::Duration;

/// Values below this many nanoseconds get a bucket each.
const EXACT_LIMIT: u64 = 128;

/// Buckets per power of two above [`EXACT_LIMIT`].
const SUB_BUCKETS: u64 = 64;

/// log2 of [`SUB_BUCKETS`].
const SUB_BUCKET_BITS: u32 = 6;

/// 128 exact buckets, then 64 for each power of two from 2^7 to 2^63.
const BUCKETS: usize = 128 + 57 * 64;

/// Counts of latencies, in nanoseconds.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    maximum: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
            maximum: 0,
        }
    }
}

impl Histogram {
    /// Records one latency (saturating at 2^64 - 1 ns, some 584 years).
    pub fn record(&mut self, latency: Duration) {
        let nanoseconds = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        if let Some(count) = self.counts.get_mut(bucket_of(nanoseconds)) {
            *count += 1;
        }
        self.total += 1;
        self.maximum = self.maximum.max(nanoseconds);
    }

    /// Adds every sample of `other` to this histogram.
    pub fn merge(&mut self, other: &Histogram) {
        for (count, more) in self.counts.iter_mut().zip(&other.counts) {
            *count += more;
        }
        self.total += other.total;
        self.maximum = self.maximum.max(other.maximum);
    }

    /// How many latencies were recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// The latency at or below which `quantile` (0 to 1) of the samples lie: the
    /// highest value of the bucket holding that sample, never above the largest
    /// sample. Zero for an empty histogram.
    pub fn percentile(&self, quantile: f64) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        // The rank of the sample asked for, 1-based: ceil(quantile * total), at least 1.
        let rank =
            ((quantile.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (bucket, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Duration::from_nanos(highest_in_bucket(bucket).min(self.maximum));
            }
        }
        Duration::from_nanos(self.maximum)
    }
}

/// The bucket of a value in nanoseconds.
fn bucket_of(nanoseconds: u64) -> usize {
    if nanoseconds < EXACT_LIMIT {
        return nanoseconds as usize;
    }
    // Keep the top 7 significant bits: 64..128 after the shift.
    let highest_bit = 63 - nanoseconds.leading_zeros();
    let shift = highest_bit - SUB_BUCKET_BITS;
    let top = nanoseconds >> shift;
    (EXACT_LIMIT + u64::from(shift - 1) * SUB_BUCKETS + (top - SUB_BUCKETS)) as usize
}

/// The largest value that falls into `bucket`.
fn highest_in_bucket(bucket: usize) -> u64 {
    let bucket = bucket as u64;
    if bucket < EXACT_LIMIT {
        return bucket;
    }
    let above = bucket - EXACT_LIMIT;
    let shift = above / SUB_BUCKETS + 1;
    let top = above % SUB_BUCKETS + SUB_BUCKETS;
    // top < 128 and shift <= 57, so neither step overflows.
    (top << shift) + ((1 << shift) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(127), 127);
        assert_eq!(bucket_of(128), 128);
        assert_eq!(bucket_of(129), 128);
        assert_eq!(bucket_of(130), 129);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        assert_eq!(highest_in_bucket(BUCKETS - 1), u64::MAX);
        for bucket in 0..BUCKETS - 1 {
            let highest = highest_in_bucket(bucket);
            assert_eq!(bucket_of(highest), bucket);
            assert_eq!(bucket_of(highest + 1), bucket + 1);
        }
    }

    #[test]
    fn relative_error_stays_under_two_percent() {
        for value in (0..64)
            .map(|bit| 1u64 << bit)
            .chain([1_000, 12_345, 987_654_321])
        {
            for value in [value, value.saturating_add(value / 3)] {
                let highest = highest_in_bucket(bucket_of(value));
                assert!(highest >= value);
                assert!(
                    (highest - value) as f64 <= value as f64 / 64.0,
                    "{value} -> {highest}"
                );
            }
        }
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut histogram = Histogram::default();
        for micros in 1..=1_000 {
            histogram.record(Duration::from_micros(micros));
        }
        assert_eq!(histogram.len(), 1_000);
        let within = |quantile: f64, micros: f64| {
            let got = histogram.percentile(quantile).as_secs_f64() * 1e6;
            assert!(
                got >= micros && got <= micros * 1.016,
                "p{quantile}: {got} vs {micros}"
            );
        };
        within(0.5, 500.0);
        within(0.99, 990.0);
        within(0.999, 999.0);
        assert_eq!(histogram.percentile(1.0), Duration::from_micros(1_000));
        within(0.0, 1.0);
    }

    #[test]
    fn merging_adds_samples() {
        let mut fast = Histogram::default();
        let mut slow = Histogram::default();
        for _ in 0..99 {
            fast.record(Duration::from_micros(10));
        }
        slow.record(Duration::from_millis(50));
        fast.merge(&slow);
        assert_eq!(fast.len(), 100);
        assert!(fast.percentile(0.99) <= Duration::from_nanos(10_160));
        assert_eq!(fast.percentile(0.999), Duration::from_millis(50));
        assert_eq!(Histogram::default().percentile(0.5), Duration::ZERO);
    }
}
