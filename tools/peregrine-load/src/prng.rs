//! A small seeded pseudo-random generator.
//!
//! SplitMix64 (Steele, Lea and Flood, 2014): one 64-bit word of state, a fixed
//! increment and a bit mixer. It is not cryptographic; it is here so that a seed
//! names exactly one key sequence on every platform and every run, which is what lets
//! two servers be measured against the very same requests.

/// A SplitMix64 generator. The same seed always yields the same numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prng {
    state: u64,
}

/// The SplitMix64 increment: the odd integer closest to 2^64 divided by the golden ratio.
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// 2^-53: turns the top 53 bits of a draw into a float in `[0, 1)`.
const UNIT_SCALE: f64 = 1.0 / (1u64 << 53) as f64;

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
    /// Multiply-high reduction: the bias is below `bound / 2^64`, far under anything
    /// a benchmark can observe.
    pub fn below(&mut self, bound: u64) -> u64 {
        let wide = u128::from(self.next_u64()) * u128::from(bound);
        // The high half of a 64x64-bit product always fits in 64 bits.
        u64::try_from(wide >> 64).unwrap_or(0)
    }

    /// A float uniformly distributed in `[0, 1)`, with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * UNIT_SCALE
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
        // SplitMix64 seeded with 1234567, from Sebastiano Vigna's C reference.
        let mut generator = Prng::new(1_234_567);
        assert_eq!(generator.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(generator.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(generator.next_u64(), 9_817_491_932_198_370_423);
    }

    #[test]
    fn bounded_draws_stay_in_range() {
        let mut generator = Prng::new(7);
        for _ in 0..10_000 {
            assert!(generator.below(10) < 10);
            let unit = generator.unit();
            assert!((0.0..1.0).contains(&unit), "{unit}");
        }
        assert_eq!(generator.below(0), 0);
        assert_eq!(generator.below(1), 0);
    }

    #[test]
    fn unit_draws_are_roughly_uniform() {
        let mut generator = Prng::new(11);
        let mut deciles = [0u32; 10];
        for _ in 0..100_000 {
            let decile = (generator.unit() * 10.0) as usize;
            deciles[decile.min(9)] += 1;
        }
        for count in deciles {
            assert!((9_500..10_500).contains(&count), "{deciles:?}");
        }
    }
}
