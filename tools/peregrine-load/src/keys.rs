//! Key patterns: which key number each command addresses.
//!
//! The letters are memtier_benchmark's `--key-pattern` letters:
//!
//! | letter | pattern | key numbers |
//! |---|---|---|
//! | `R` | uniform random | every key in the range equally likely |
//! | `G` | Gaussian | mean at the middle of the range, standard deviation range/6 (memtier's defaults), clamped to the range |
//! | `Z` | Zipf | rank `r` (key `minimum + r`) drawn with weight `1 / (r + 1)^0.99` |
//! | `P` | sequential | each connection walks its own contiguous slice, wrapping; one request per key covers the range exactly once |
//!
//! Draws come from the connection's own [`Prng`], so a seed fixes every key of a run.

use std::fmt;
use std::str::FromStr;

use crate::prng::Prng;

/// The Zipf exponent of pattern `Z`.
pub const ZIPF_EXPONENT: f64 = 0.99;

/// Largest key range pattern `Z` accepts: its table holds one `f64` per key.
pub const ZIPF_MAX_KEYS: u64 = 10_000_000;

/// How key numbers are drawn (memtier's `--key-pattern` letters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPattern {
    /// `R`: uniform over the range.
    Uniform,
    /// `G`: normal distribution centred on the range, clamped to it.
    Gaussian,
    /// `Z`: Zipf with exponent [`ZIPF_EXPONENT`]; the lowest key numbers are the hottest.
    Zipf,
    /// `P`: sequential, for preloading every key once.
    Sequential,
}

impl FromStr for KeyPattern {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        match text {
            "R" | "r" => Ok(Self::Uniform),
            "G" | "g" => Ok(Self::Gaussian),
            "Z" | "z" => Ok(Self::Zipf),
            "P" | "p" => Ok(Self::Sequential),
            _ => Err(()),
        }
    }
}

impl fmt::Display for KeyPattern {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letter = match self {
            Self::Uniform => "R",
            Self::Gaussian => "G",
            Self::Zipf => "Z",
            Self::Sequential => "P",
        };
        formatter.write_str(letter)
    }
}

/// An inclusive range of key numbers, `minimum..=maximum`, never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRange {
    minimum: u64,
    maximum: u64,
}

impl KeyRange {
    /// The range `minimum..=maximum`; `None` when `maximum < minimum`.
    pub fn new(minimum: u64, maximum: u64) -> Option<Self> {
        (minimum <= maximum).then_some(Self { minimum, maximum })
    }

    /// How many keys the range holds (saturates at `u64::MAX` for the full range).
    pub fn count(&self) -> u64 {
        (self.maximum - self.minimum).saturating_add(1)
    }
}

/// Everything a connection needs to draw keys; shared read-only by all connections.
#[derive(Debug)]
pub struct KeySampler {
    range: KeyRange,
    pattern: KeyPattern,
    /// Pattern `Z` only: `cdf[r]` is the probability of a rank `<= r`; the last entry is 1.
    zipf_cdf: Vec<f64>,
}

impl KeySampler {
    /// A sampler for `pattern` over `range`; `None` for pattern `Z` over more than
    /// [`ZIPF_MAX_KEYS`] keys.
    pub fn new(pattern: KeyPattern, range: KeyRange) -> Option<Self> {
        let zipf_cdf = match pattern {
            KeyPattern::Zipf => zipf_cdf(range.count(), ZIPF_EXPONENT)?,
            KeyPattern::Uniform | KeyPattern::Gaussian | KeyPattern::Sequential => Vec::new(),
        };
        Some(Self {
            range,
            pattern,
            zipf_cdf,
        })
    }

    /// The next key number for one connection: `prng` is its generator and `cursor`
    /// its position for pattern `P` (an offset into the range, advanced here).
    pub fn next_key(&self, prng: &mut Prng, cursor: &mut u64) -> u64 {
        let range = self.range;
        match self.pattern {
            KeyPattern::Uniform => range.minimum + prng.below(range.count()),
            KeyPattern::Gaussian => self.gaussian(prng),
            KeyPattern::Zipf => {
                let draw = prng.unit();
                // The first rank whose cumulative probability exceeds the draw.
                let rank = self
                    .zipf_cdf
                    .partition_point(|&cumulative| cumulative <= draw);
                let last = self.zipf_cdf.len().saturating_sub(1);
                range.minimum + rank.min(last) as u64
            }
            KeyPattern::Sequential => {
                let key = range.minimum + *cursor % range.count();
                *cursor = cursor.wrapping_add(1);
                key
            }
        }
    }

    /// Box-Muller, one normal deviate per call, scaled to memtier's default median
    /// and standard deviation and clamped to the range.
    fn gaussian(&self, prng: &mut Prng) -> u64 {
        let minimum = self.range.minimum as f64;
        let maximum = self.range.maximum as f64;
        let mean = minimum + (maximum - minimum) / 2.0;
        let deviation = (maximum - minimum) / 6.0;
        // 1 - unit() is in (0, 1], so the logarithm is finite.
        let radius = (-2.0 * (1.0 - prng.unit()).ln()).sqrt();
        let angle = std::f64::consts::TAU * prng.unit();
        let value = (mean + deviation * radius * angle.cos()).round();
        // `as` saturates; the clamp keeps rounding at either end inside the range.
        (value as u64).clamp(self.range.minimum, self.range.maximum)
    }
}

/// The cumulative distribution of ranks `0..count` under Zipf with `exponent`;
/// `None` when `count` exceeds [`ZIPF_MAX_KEYS`].
fn zipf_cdf(count: u64, exponent: f64) -> Option<Vec<f64>> {
    if count > ZIPF_MAX_KEYS {
        return None;
    }
    let length = usize::try_from(count).ok()?;
    let mut cdf = Vec::with_capacity(length);
    let mut total = 0.0;
    for rank in 1..=length {
        total += (rank as f64).powf(-exponent);
        cdf.push(total);
    }
    for cumulative in &mut cdf {
        *cumulative /= total;
    }
    // Rounding may leave the last entry a hair under 1; a draw must never pass it.
    if let Some(last) = cdf.last_mut() {
        *last = 1.0;
    }
    Some(cdf)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DRAWS: usize = 200_000;

    fn sampler(pattern: KeyPattern, minimum: u64, maximum: u64) -> KeySampler {
        let range = KeyRange::new(minimum, maximum).expect("a valid range");
        KeySampler::new(pattern, range).expect("a valid sampler")
    }

    fn draw(sampler: &KeySampler, seed: u64, count: usize) -> Vec<u64> {
        let mut prng = Prng::new(seed);
        let mut cursor = 0;
        (0..count)
            .map(|_| sampler.next_key(&mut prng, &mut cursor))
            .collect()
    }

    #[test]
    fn pattern_letters_round_trip() {
        for pattern in [
            KeyPattern::Uniform,
            KeyPattern::Gaussian,
            KeyPattern::Zipf,
            KeyPattern::Sequential,
        ] {
            assert_eq!(pattern.to_string().parse::<KeyPattern>(), Ok(pattern));
        }
        assert_eq!("z".parse::<KeyPattern>(), Ok(KeyPattern::Zipf));
        assert_eq!("S".parse::<KeyPattern>(), Err(()));
        assert_eq!("RR".parse::<KeyPattern>(), Err(()));
    }

    #[test]
    fn ranges_are_inclusive_and_never_empty() {
        assert_eq!(KeyRange::new(0, 99).map(|range| range.count()), Some(100));
        assert_eq!(KeyRange::new(5, 5).map(|range| range.count()), Some(1));
        assert_eq!(KeyRange::new(6, 5), None);
        assert_eq!(
            KeyRange::new(0, u64::MAX).map(|range| range.count()),
            Some(u64::MAX)
        );
    }

    #[test]
    fn every_pattern_stays_in_range() {
        for pattern in [
            KeyPattern::Uniform,
            KeyPattern::Gaussian,
            KeyPattern::Zipf,
            KeyPattern::Sequential,
        ] {
            let keys = draw(&sampler(pattern, 1_000, 1_999), 5, 50_000);
            assert!(
                keys.iter().all(|key| (1_000..=1_999).contains(key)),
                "{pattern}"
            );
        }
    }

    #[test]
    fn same_seed_draws_the_same_keys() {
        for pattern in [KeyPattern::Uniform, KeyPattern::Gaussian, KeyPattern::Zipf] {
            let sampler = sampler(pattern, 0, 100_000);
            assert_eq!(
                draw(&sampler, 9, 1_000),
                draw(&sampler, 9, 1_000),
                "{pattern}"
            );
            assert_ne!(
                draw(&sampler, 9, 1_000),
                draw(&sampler, 10, 1_000),
                "{pattern}"
            );
        }
    }

    #[test]
    fn sequential_covers_the_range_once_then_wraps() {
        let sampler = sampler(KeyPattern::Sequential, 10, 19);
        let mut prng = Prng::new(0);
        let mut cursor = 7;
        let keys: Vec<u64> = (0..12)
            .map(|_| sampler.next_key(&mut prng, &mut cursor))
            .collect();
        assert_eq!(keys, [17, 18, 19, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
    }

    #[test]
    fn uniform_spreads_evenly() {
        let keys = draw(&sampler(KeyPattern::Uniform, 0, 99), 1, DRAWS);
        let mut counts = [0u32; 100];
        for key in keys {
            counts[key as usize] += 1;
        }
        // 2,000 expected per key; the standard deviation is about 44.
        assert!(
            counts.iter().all(|&count| (1_750..2_250).contains(&count)),
            "{counts:?}"
        );
    }

    #[test]
    fn gaussian_puts_about_68_percent_within_one_deviation() {
        // Range 0..=600_000: mean 300_000, standard deviation 100_000.
        let keys = draw(&sampler(KeyPattern::Gaussian, 0, 600_000), 2, DRAWS);
        let share = |low: u64, high: u64| {
            keys.iter()
                .filter(|key| (low..=high).contains(*key))
                .count() as f64
                / DRAWS as f64
        };
        let one_deviation = share(200_000, 400_000);
        assert!((0.675..0.690).contains(&one_deviation), "{one_deviation}");
        let two_deviations = share(100_000, 500_000);
        assert!((0.950..0.959).contains(&two_deviations), "{two_deviations}");
        // Each half of the range gets half the draws.
        let lower_half = share(0, 299_999);
        assert!((0.495..0.505).contains(&lower_half), "{lower_half}");
        // Clamping piles the 0.27% beyond three deviations onto the two ends.
        let ends = share(0, 0) + share(600_000, 600_000);
        assert!((0.0015..0.0040).contains(&ends), "{ends}");
    }

    #[test]
    fn zipf_concentrates_draws_on_the_lowest_ranks() {
        let keys = draw(&sampler(KeyPattern::Zipf, 0, 99_999), 3, DRAWS);
        let share =
            |below: u64| keys.iter().filter(|&&key| key < below).count() as f64 / DRAWS as f64;
        // Exponent 0.99 over 100,000 keys: rank 0 carries 1/H = 7.8% of the mass, the
        // top 1% of keys 60.5%, the top 10% 80.0%.
        let hottest = share(1);
        assert!((0.073..0.083).contains(&hottest), "{hottest}");
        let top_percent = share(1_000);
        assert!((0.595..0.615).contains(&top_percent), "{top_percent}");
        let top_tenth = share(10_000);
        assert!((0.790..0.810).contains(&top_tenth), "{top_tenth}");
        // Against uniform draws, where the top 1% would get 1%.
        let uniform = draw(&sampler(KeyPattern::Uniform, 0, 99_999), 3, DRAWS);
        let uniform_top = uniform.iter().filter(|&&key| key < 1_000).count() as f64 / DRAWS as f64;
        assert!(uniform_top < 0.012, "{uniform_top}");
    }

    #[test]
    fn zipf_rank_frequencies_fall_as_a_power_law() {
        let keys = draw(&sampler(KeyPattern::Zipf, 0, 99_999), 4, DRAWS);
        let count = |rank: u64| keys.iter().filter(|&&key| key == rank).count() as f64;
        // P(rank 0) / P(rank 1) = 2^0.99 = 1.99; P(rank 0) / P(rank 3) = 4^0.99 = 3.96.
        let first_to_second = count(0) / count(1);
        assert!((1.85..2.15).contains(&first_to_second), "{first_to_second}");
        let first_to_fourth = count(0) / count(3);
        assert!((3.6..4.4).contains(&first_to_fourth), "{first_to_fourth}");
    }

    #[test]
    fn zipf_table_is_a_distribution() {
        let cdf = zipf_cdf(1_000, ZIPF_EXPONENT).expect("a small table");
        assert_eq!(cdf.len(), 1_000);
        assert!(cdf.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(cdf.last(), Some(&1.0));
        assert_eq!(zipf_cdf(1, ZIPF_EXPONENT), Some(vec![1.0]));
        assert_eq!(zipf_cdf(ZIPF_MAX_KEYS + 1, ZIPF_EXPONENT), None);
        let too_wide = KeyRange::new(0, ZIPF_MAX_KEYS).expect("a valid range");
        assert!(KeySampler::new(KeyPattern::Zipf, too_wide).is_none());
        assert!(KeySampler::new(KeyPattern::Uniform, too_wide).is_some());
    }

    #[test]
    fn single_key_ranges_always_draw_that_key() {
        for pattern in [
            KeyPattern::Uniform,
            KeyPattern::Gaussian,
            KeyPattern::Zipf,
            KeyPattern::Sequential,
        ] {
            let keys = draw(&sampler(pattern, 42, 42), 6, 100);
            assert!(keys.iter().all(|&key| key == 42), "{pattern}");
        }
    }
}
