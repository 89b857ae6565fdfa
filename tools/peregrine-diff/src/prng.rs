//! A small seeded pseudo-random generator.
//!
//! SplitMix64 (Steele, Lea and Flood, 2014): one 64-bit word of state, a fixed
//! increment and a bit mixer. It is not cryptographic; it is here so that a seed
//! names exactly one command sequence on every platform and every run, without
//! pulling in a dependency whose output could change between versions.

/// A SplitMix64 generator. The same seed always yields the same numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prng {
    state: u64,
}

/// The SplitMix64 increment: the odd integer closest to 2^64 divided by the golden ratio.
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

impl Prng {
    /// A generator whose sequence is fully determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 uniformly distributed bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        let mut mixed = self.state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// A number in `0..bound`; `0` when `bound` is `0`.
    ///
    /// Uses the multiply-high reduction, whose bias is below 2^-32 for the small
    /// bounds this tool uses.
    pub fn below(&mut self, bound: u64) -> u64 {
        let wide = u128::from(self.next_u64()) * u128::from(bound);
        // The high half of a 64x64-bit product always fits in 64 bits.
        u64::try_from(wide >> 64).unwrap_or(0)
    }

    /// An index in `0..length`; `0` when `length` is `0`.
    pub fn index(&mut self, length: usize) -> usize {
        let bound = u64::try_from(length).unwrap_or(u64::MAX);
        usize::try_from(self.below(bound)).unwrap_or(0)
    }

    /// A number in `low..=high` (the bounds are swapped if given in the wrong order).
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        let (low, high) = if low <= high {
            (low, high)
        } else {
            (high, low)
        };
        let span = high.abs_diff(low);
        match span.checked_add(1) {
            Some(count) => low.wrapping_add_unsigned(self.below(count)),
            // The full i64 range: every 64-bit pattern is a valid answer.
            None => i64::from_ne_bytes(self.next_u64().to_ne_bytes()),
        }
    }

    /// `true` with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One element of a non-empty slice, uniformly.
    ///
    /// Only called on this crate's own constant tables, which are never empty;
    /// an empty slice is a bug in this crate and panics.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let position = self.index(items.len());
        &items[position]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_same_sequence() {
        let mut first = Prng::new(42);
        let mut second = Prng::new(42);
        let a: Vec<u64> = (0..100).map(|_| first.next_u64()).collect();
        let b: Vec<u64> = (0..100).map(|_| second.next_u64()).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn different_seeds_give_different_sequences() {
        let mut first = Prng::new(1);
        let mut second = Prng::new(2);
        let a: Vec<u64> = (0..8).map(|_| first.next_u64()).collect();
        let b: Vec<u64> = (0..8).map(|_| second.next_u64()).collect();
        assert_ne!(a, b);
    }

    #[test]
    fn matches_the_reference_splitmix64_output() {
        // Reference values of SplitMix64 seeded with 1234567 (the C reference
        // implementation by Sebastiano Vigna).
        let mut generator = Prng::new(1_234_567);
        assert_eq!(generator.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(generator.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(generator.next_u64(), 9_817_491_932_198_370_423);
    }

    #[test]
    fn bounded_helpers_stay_in_range() {
        let mut generator = Prng::new(7);
        for _ in 0..10_000 {
            assert!(generator.below(10) < 10);
            assert!(generator.index(3) < 3);
            let value = generator.between(-5, 5);
            assert!((-5..=5).contains(&value));
        }
        assert_eq!(generator.below(0), 0);
        assert_eq!(generator.index(0), 0);
        assert_eq!(generator.between(9, 9), 9);
        // The full range must not overflow.
        let _ = generator.between(i64::MIN, i64::MAX);
    }

    #[test]
    fn chance_respects_its_extremes() {
        let mut generator = Prng::new(3);
        assert!((0..1000).all(|_| !generator.chance(0)));
        assert!((0..1000).all(|_| generator.chance(100)));
    }
}
