//! Bit-level primitives over byte strings, as Redis's `bitops.c` defines them: bit 0 is
//! the most significant bit of the first byte, and bytes past the end read as zero.
//!
//! Pure functions over slices; they know nothing of keys, replies or commands.

/// Number of set bits in `bytes`, counted a 64-bit word at a time (the `popcnt`
/// instruction when the processor has it).
pub fn popcount(bytes: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if bytes.len() >= 64 && std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the processor supports `popcnt`, the only feature the function
            // is compiled for; it is otherwise safe code.
            return unsafe { popcount_with_popcnt(bytes) };
        }
    }
    popcount_words(bytes)
}

/// [`popcount_words`] compiled with the `popcnt` instruction.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn popcount_with_popcnt(bytes: &[u8]) -> u64 {
    popcount_words(bytes)
}

/// Counts 32 bytes per step in four independent accumulators, then the tail.
#[inline(always)]
fn popcount_words(bytes: &[u8]) -> u64 {
    let word = |chunk: &[u8]| {
        let mut buffer = [0u8; 8];
        buffer.copy_from_slice(chunk);
        u64::from(u64::from_ne_bytes(buffer).count_ones())
    };
    let mut blocks = bytes.chunks_exact(32);
    let mut counts = [0u64; 4];
    for block in &mut blocks {
        for (count, chunk) in counts.iter_mut().zip(block.chunks_exact(8)) {
            *count += word(chunk);
        }
    }
    let mut total: u64 = counts.iter().sum();
    let mut words = blocks.remainder().chunks_exact(8);
    for chunk in &mut words {
        total += word(chunk);
    }
    total
        + words
            .remainder()
            .iter()
            .map(|byte| u64::from(byte.count_ones()))
            .sum::<u64>()
}

/// Redis's `redisBitpos`: the position of the first bit equal to `bit` in `bytes`,
/// skipping whole words that cannot hold it. When there is none: -1 when looking for
/// a 1, and the bit length when looking for a 0 (the string is taken as zero-padded).
pub fn first_bit(bytes: &[u8], bit: bool) -> i64 {
    let skip_word = if bit { 0 } else { u64::MAX };
    let mut words = bytes.chunks_exact(8);
    let mut position: i64 = 0;
    for chunk in &mut words {
        let mut buffer = [0u8; 8];
        buffer.copy_from_slice(chunk);
        let word = u64::from_be_bytes(buffer);
        if word != skip_word {
            let wanted = if bit { word } else { !word };
            return position + i64::from(wanted.leading_zeros());
        }
        position += 64;
    }
    for &byte in words.remainder() {
        let wanted = if bit { byte } else { !byte };
        if wanted != 0 {
            return position + i64::from(wanted.leading_zeros());
        }
        position += 8;
    }
    if bit {
        -1
    } else {
        position
    }
}

/// The bit at `offset` (0 when past the end).
pub fn get_bit(bytes: &[u8], offset: u64) -> bool {
    let byte = usize::try_from(offset >> 3).unwrap_or(usize::MAX);
    bytes
        .get(byte)
        .is_some_and(|value| value & (0x80 >> (offset & 7)) != 0)
}

/// The `bits`-wide (1 to 64) unsigned field at bit `offset`, bytes past the end read as
/// zero.
pub fn get_unsigned(bytes: &[u8], offset: u64, bits: u32) -> u64 {
    let first = usize::try_from(offset >> 3).unwrap_or(usize::MAX);
    let mut window: u128 = 0;
    for index in 0..9 {
        let byte = first
            .checked_add(index)
            .and_then(|at| bytes.get(at))
            .copied()
            .unwrap_or(0);
        window = (window << 8) | u128::from(byte);
    }
    // The 72-bit window holds the field at bit `offset & 7` from its top.
    let shift = 72 - (offset & 7) as u32 - bits;
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    (window >> shift) as u64 & mask
}

/// The `bits`-wide field at bit `offset` read as a two's complement signed integer.
pub fn get_signed(bytes: &[u8], offset: u64, bits: u32) -> i64 {
    let value = get_unsigned(bytes, offset, bits);
    if bits < 64 && value & (1 << (bits - 1)) != 0 {
        (value | (u64::MAX << bits)) as i64
    } else {
        value as i64
    }
}

/// Writes the low `bits` bits of `value` at bit `offset`. The bytes the field covers
/// must exist (the caller grows the string first).
pub fn set_unsigned(bytes: &mut [u8], offset: u64, bits: u32, value: u64) {
    let first = usize::try_from(offset >> 3).unwrap_or(usize::MAX);
    let Some(window_bytes) = bytes.get_mut(first..) else {
        return;
    };
    let length = window_bytes.len().min(9);
    let mut window: u128 = 0;
    for index in 0..9 {
        let byte = window_bytes.get(index).filter(|_| index < length);
        window = (window << 8) | u128::from(byte.copied().unwrap_or(0));
    }
    let shift = 72 - (offset & 7) as u32 - bits;
    let mask = if bits == 64 {
        u128::from(u64::MAX)
    } else {
        (1u128 << bits) - 1
    };
    window = (window & !(mask << shift)) | ((u128::from(value) & mask) << shift);
    for (index, byte) in window_bytes.iter_mut().take(length).enumerate() {
        *byte = (window >> (64 - 8 * index as u32)) as u8;
    }
}

/// What BITFIELD does when a SET or INCRBY leaves the field's range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Wrap around (modulo for unsigned, two's complement for signed).
    Wrap,
    /// Saturate at the minimum or maximum.
    Saturate,
    /// Do nothing and reply nil.
    Fail,
}

/// Redis's `checkUnsignedBitfieldOverflow`: `Some(stored)` when `value + increment`
/// leaves the range of an unsigned `bits`-wide field, with the value to store under
/// `overflow` (meaningless for [`Overflow::Fail`]); `None` when it fits.
pub fn unsigned_overflow(value: u64, increment: i64, bits: u32, overflow: Overflow) -> Option<u64> {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let max_increment = max.wrapping_sub(value) as i64;
    let min_increment = 0u64.wrapping_sub(value) as i64;
    let wrapped = || {
        let sum = value.wrapping_add(increment as u64);
        if bits == 64 {
            sum
        } else {
            sum & !(u64::MAX << bits)
        }
    };
    if value > max || (increment > 0 && increment > max_increment) {
        Some(match overflow {
            Overflow::Wrap => wrapped(),
            Overflow::Saturate | Overflow::Fail => max,
        })
    } else if increment < 0 && increment < min_increment {
        Some(match overflow {
            Overflow::Wrap => wrapped(),
            Overflow::Saturate | Overflow::Fail => 0,
        })
    } else {
        None
    }
}

/// Redis's `checkSignedBitfieldOverflow`: as [`unsigned_overflow`] for a signed
/// `bits`-wide field, with Redis's exact comparisons (including their corner cases).
pub fn signed_overflow(value: i64, increment: i64, bits: u32, overflow: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_increment = (max as u64).wrapping_sub(value as u64) as i64;
    let min_increment = min.wrapping_sub(value);
    let wrapped = || {
        let mut sum = (value as u64).wrapping_add(increment as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if sum & (1 << (bits - 1)) != 0 {
                sum |= mask;
            } else {
                sum &= !mask;
            }
        }
        sum as i64
    };
    let narrow = bits != 64;
    if value > max
        || (narrow && increment > max_increment)
        || (value >= 0 && increment > 0 && increment > max_increment)
    {
        Some(match overflow {
            Overflow::Wrap => wrapped(),
            Overflow::Saturate | Overflow::Fail => max,
        })
    } else if value < min
        || (narrow && increment < min_increment)
        || (value < 0 && increment < 0 && increment < min_increment)
    {
        Some(match overflow {
            Overflow::Wrap => wrapped(),
            Overflow::Saturate | Overflow::Fail => min,
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_popcount(bytes: &[u8]) -> u64 {
        bytes.iter().map(|byte| u64::from(byte.count_ones())).sum()
    }

    #[test]
    fn popcount_counts_every_length() {
        let bytes: Vec<u8> = (0..300u32).map(|index| (index * 37 + 11) as u8).collect();
        for length in 0..bytes.len() {
            for start in [0, 1, 3] {
                let slice = &bytes[start.min(length)..length];
                assert_eq!(popcount(slice), naive_popcount(slice), "{start}..{length}");
            }
        }
        assert_eq!(popcount(b"foobar"), 26);
    }

    #[test]
    fn first_bit_skips_words_and_pads_with_zeros() {
        assert_eq!(first_bit(&[0xff, 0xf0, 0x00], false), 12);
        assert_eq!(first_bit(&[0x00, 0x00, 0x01], true), 23);
        assert_eq!(first_bit(&[0; 20], true), -1);
        assert_eq!(first_bit(&[0xff; 20], false), 160);
        let mut long = vec![0u8; 40];
        long[33] = 0x20;
        assert_eq!(first_bit(&long, true), 33 * 8 + 2);
        assert_eq!(first_bit(&[], true), -1);
        assert_eq!(first_bit(&[], false), 0);
    }

    #[test]
    fn fields_read_and_write_across_bytes() {
        // Redis's example: u5 23 at offset 7 in zeros gives 00000001 01110000.
        let mut bytes = [0u8; 2];
        set_unsigned(&mut bytes, 7, 5, 23);
        assert_eq!(bytes, [0b0000_0001, 0b0111_0000]);
        assert_eq!(get_unsigned(&bytes, 7, 5), 23);
        let mut wide = [0u8; 9];
        set_unsigned(&mut wide, 3, 64, u64::MAX - 1);
        assert_eq!(get_unsigned(&wide, 3, 64), u64::MAX - 1);
        assert_eq!(get_signed(&wide, 3, 64), -2);
        assert_eq!(get_signed(&wide, 0, 4), 0b0001);
        assert_eq!(get_signed(&[0xf0], 0, 4), -1);
        // Past the end reads zeros; a write touches only the field.
        assert_eq!(get_unsigned(b"a", 4, 16), 0x1000);
        let mut short = [0xffu8; 2];
        set_unsigned(&mut short, 4, 8, 0);
        assert_eq!(short, [0xf0, 0x0f]);
        assert!(get_bit(b"\x40", 1));
        assert!(!get_bit(b"\x40", 100));
    }

    #[test]
    fn overflow_follows_redis() {
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Wrap), Some(4));
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Saturate), Some(255));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Saturate), Some(0));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Wrap), Some(251));
        assert_eq!(unsigned_overflow(5, -5, 8, Overflow::Wrap), None);
        assert_eq!(unsigned_overflow(u64::MAX, 0, 8, Overflow::Wrap), Some(255));
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Wrap), Some(-128));
        assert_eq!(signed_overflow(-128, -1, 8, Overflow::Saturate), Some(-128));
        assert_eq!(signed_overflow(300, 0, 8, Overflow::Wrap), Some(44));
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
            Some(i64::MIN)
        );
        assert_eq!(
            signed_overflow(i64::MIN, -1, 64, Overflow::Saturate),
            Some(i64::MIN)
        );
        assert_eq!(signed_overflow(-5, 3, 64, Overflow::Wrap), None);
    }
}
