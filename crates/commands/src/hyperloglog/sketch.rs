//! Redis's HyperLogLog representation and algorithm, byte for byte.
//!
//! A HLL is a string value. It starts with a 16-byte header:
//!
//! ```text
//! +------+---+-----+----------------------------------+
//! | HYLL | E | N/U | cached cardinality (8 bytes, LE)  |
//! +------+---+-----+----------------------------------+
//! ```
//!
//! `E` is the encoding (0 dense, 1 sparse); the three unused bytes are zero; the most
//! significant bit of the cardinality's last byte set means "cache invalid".
//!
//! Dense: 16384 registers of 6 bits, packed from the least significant bit of each byte
//! up (12288 bytes). Sparse: a run-length code of three opcodes, `ZERO` `00xxxxxx` (1 to
//! 64 zero registers), `XZERO` `01xxxxxx yyyyyyyy` (1 to 16384 zero registers) and `VAL`
//! `1vvvvvxx` (1 to 4 registers of value 1 to 32). A sparse HLL becomes dense when a
//! register needs a value above 32 or the representation would grow past
//! `hll-sparse-max-bytes`.
//!
//! Elements are hashed with MurmurHash64A (seed `0xadc83b19`); the low 14 bits choose the
//! register and the run of zeros after them (plus one) is the candidate value. The
//! cardinality is Otmar Ertl's improved estimator over the register histogram, as Redis 7.
//!
//! Every reader treats a byte past the end as zero, as Redis reads the terminator of its
//! strings: a truncated `XZERO` at the very end counts as Redis counts it.

/// Bytes of the header.
pub const HEADER_SIZE: usize = 16;
/// Number of registers (2^14).
pub const REGISTERS: usize = 1 << P;
/// Bytes of a dense HLL, header included.
pub const DENSE_SIZE: usize = HEADER_SIZE + (REGISTERS * BITS).div_ceil(8);
/// The encoding byte of a dense HLL.
pub const DENSE: u8 = 0;
/// The encoding byte of a sparse HLL.
pub const SPARSE: u8 = 1;

/// Register index bits.
const P: usize = 14;
/// Bits of the hash left for the run of zeros.
const Q: usize = 64 - P;
/// Bits per dense register.
const BITS: usize = 6;
const REGISTER_MAX: u64 = (1 << BITS) - 1;
const HASH_SEED: u32 = 0xadc8_3b19;
/// 0.5 / ln(2).
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

const XZERO_BIT: u8 = 0x40;
const VAL_BIT: u8 = 0x80;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;

/// The HLL's registers or opcodes do not add up: Redis's `INVALIDOBJ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Corrupt;

/// Redis's MurmurHash64A (endian-neutral variant).
pub fn murmur_hash64a(key: &[u8], seed: u32) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut hash = u64::from(seed) ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = chunk
            .iter()
            .rev()
            .fold(0u64, |word, &byte| (word << 8) | u64::from(byte));
        word = word.wrapping_mul(M);
        word ^= word >> R;
        word = word.wrapping_mul(M);
        hash ^= word;
        hash = hash.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (position, &byte) in tail.iter().enumerate() {
            hash ^= u64::from(byte) << (8 * position);
        }
        hash = hash.wrapping_mul(M);
    }
    hash ^= hash >> R;
    hash = hash.wrapping_mul(M);
    hash ^= hash >> R;
    hash
}

/// The register `element` falls in and the length of its `000..1` pattern (1 to 51).
pub fn pattern_length(element: &[u8]) -> (usize, u8) {
    let hash = murmur_hash64a(element, HASH_SEED);
    let index = (hash as usize) & (REGISTERS - 1);
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// A new, empty, sparse HLL: the header and one `XZERO` of 16384 registers.
pub fn new_sparse() -> Vec<u8> {
    let mut hll = Vec::with_capacity(64);
    hll.extend_from_slice(b"HYLL");
    hll.extend_from_slice(&[SPARSE, 0, 0, 0]);
    hll.extend_from_slice(&[0; 8]);
    let length = XZERO_MAX_LEN - 1;
    hll.push((length >> 8) as u8 | XZERO_BIT);
    hll.push((length & 0xff) as u8);
    hll
}

/// Whether `bytes` passes Redis's `isHLLObjectOrReply`: long enough for the header, the
/// magic, a known encoding, and the exact length when dense.
pub fn is_valid(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER_SIZE
        && bytes.starts_with(b"HYLL")
        && match bytes.get(4) {
            Some(&DENSE) => bytes.len() == DENSE_SIZE,
            Some(&SPARSE) => true,
            _ => false,
        }
}

/// The encoding byte of a valid HLL.
pub fn encoding(hll: &[u8]) -> u8 {
    hll.get(4).copied().unwrap_or(DENSE)
}

/// The cached cardinality, if the cache is valid.
pub fn cached_cardinality(hll: &[u8]) -> Option<u64> {
    let card: [u8; 8] = hll.get(8..16)?.try_into().ok()?;
    (card[7] & 0x80 == 0).then(|| u64::from_le_bytes(card))
}

/// Stores `cardinality` in the cache (which makes it valid).
pub fn set_cached_cardinality(hll: &mut [u8], cardinality: u64) {
    if let Some(card) = hll.get_mut(8..16) {
        card.copy_from_slice(&cardinality.to_le_bytes());
    }
}

/// Marks the cached cardinality invalid.
pub fn invalidate_cache(hll: &mut [u8]) {
    if let Some(last) = hll.get_mut(15) {
        *last |= 0x80;
    }
}

/// The byte at `at`, or 0 past the end (Redis's string terminator).
#[inline]
fn byte_at(bytes: &[u8], at: usize) -> u8 {
    bytes.get(at).copied().unwrap_or(0)
}

/// One sparse opcode, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opcode {
    /// `length` zero registers (ZERO or XZERO, `width` bytes).
    Zero { length: usize, width: usize },
    /// `length` registers of `value`.
    Val { value: u8, length: usize },
}

impl Opcode {
    /// Decodes the opcode at `at`.
    #[inline]
    fn at(bytes: &[u8], at: usize) -> Opcode {
        let first = byte_at(bytes, at);
        if first & VAL_BIT != 0 {
            Opcode::Val {
                value: ((first >> 2) & 0x1f) + 1,
                length: usize::from(first & 0x3) + 1,
            }
        } else if first & 0xc0 == XZERO_BIT {
            let length =
                ((usize::from(first & 0x3f) << 8) | usize::from(byte_at(bytes, at + 1))) + 1;
            Opcode::Zero { length, width: 2 }
        } else {
            Opcode::Zero {
                length: usize::from(first & 0x3f) + 1,
                width: 1,
            }
        }
    }

    /// Registers it covers.
    fn length(self) -> usize {
        match self {
            Opcode::Zero { length, .. } | Opcode::Val { length, .. } => length,
        }
    }

    /// Bytes it takes.
    fn width(self) -> usize {
        match self {
            Opcode::Zero { width, .. } => width,
            Opcode::Val { .. } => 1,
        }
    }
}

fn val_opcode(value: u8, length: usize) -> u8 {
    ((value - 1) << 2) | (length as u8 - 1) | VAL_BIT
}

/// Appends a ZERO or XZERO of `length` registers to `sequence`.
fn push_zeros(sequence: &mut Vec<u8>, length: usize) {
    if length > ZERO_MAX_LEN {
        let encoded = length - 1;
        sequence.push((encoded >> 8) as u8 | XZERO_BIT);
        sequence.push((encoded & 0xff) as u8);
    } else {
        sequence.push(length as u8 - 1);
    }
}

/// Walks the sparse opcodes of `hll` (after the header), calling `each(first register,
/// opcode)` while the registers stay within 16384. Fails when they overflow or do not
/// reach exactly 16384.
fn walk_sparse(hll: &[u8], mut each: impl FnMut(usize, Opcode)) -> Result<(), Corrupt> {
    let (mut at, mut index) = (HEADER_SIZE, 0usize);
    while at < hll.len() {
        let opcode = Opcode::at(hll, at);
        if index + opcode.length() > REGISTERS {
            return Err(Corrupt);
        }
        each(index, opcode);
        index += opcode.length();
        at += opcode.width();
    }
    if index == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// The dense register `index` of `registers` (the bytes after the header).
#[inline]
fn dense_get(registers: &[u8], index: usize) -> u8 {
    let at = index * BITS / 8;
    let shift = (index * BITS) & 7;
    let low = u64::from(byte_at(registers, at));
    let high = u64::from(byte_at(registers, at + 1));
    (((low >> shift) | (high << (8 - shift))) & REGISTER_MAX) as u8
}

/// Sets the dense register `index` of `registers` to `value`.
#[inline]
fn dense_put(registers: &mut [u8], index: usize, value: u8) {
    let at = index * BITS / 8;
    let shift = (index * BITS) & 7;
    let value = u64::from(value);
    if let Some(low) = registers.get_mut(at) {
        *low &= !((REGISTER_MAX << shift) as u8);
        *low |= (value << shift) as u8;
    }
    if let Some(high) = registers.get_mut(at + 1) {
        *high &= !((REGISTER_MAX >> (8 - shift)) as u8);
        *high |= (value >> (8 - shift)) as u8;
    }
}

/// Raises dense register `index` to `count`; true when it changed.
fn dense_set(registers: &mut [u8], index: usize, count: u8) -> bool {
    if count > dense_get(registers, index) {
        dense_put(registers, index, count);
        true
    } else {
        false
    }
}

/// Converts a sparse HLL to dense in place (nothing to do when already dense). The header,
/// cached cardinality included, is kept; fails, leaving `hll` alone, when corrupt.
pub fn sparse_to_dense(hll: &mut Vec<u8>) -> Result<(), Corrupt> {
    if encoding(hll) == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HEADER_SIZE].copy_from_slice(&hll[..HEADER_SIZE]);
    dense[4] = DENSE;
    let registers = &mut dense[HEADER_SIZE..];
    walk_sparse(hll, |first, opcode| {
        if let Opcode::Val { value, length } = opcode {
            for index in first..first + length {
                dense_put(registers, index, value);
            }
        }
    })?;
    *hll = dense;
    Ok(())
}

/// Raises sparse register `index` to `count`, as Redis's `hllSparseSet`: splits the opcode
/// that covers it, merges equal neighbouring VALs, and turns the HLL dense when the value
/// does not fit a VAL or the result would exceed `max_bytes`. True when a register changed.
fn sparse_set(
    hll: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(hll, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let (mut at, mut first, mut previous) = (HEADER_SIZE, 0usize, None);
    let mut found = None;
    while at < hll.len() {
        let opcode = Opcode::at(hll, at);
        if index < first + opcode.length() {
            found = Some(opcode);
            break;
        }
        previous = Some(at);
        at += opcode.width();
        first += opcode.length();
    }
    let Some(opcode) = found else {
        return Err(Corrupt);
    };
    let last = first + opcode.length() - 1;

    // Step 2: update in place when trivial, otherwise build the replacement sequence.
    match opcode {
        Opcode::Val { value, .. } if value >= count => return Ok(false),
        Opcode::Val { length: 1, .. }
        | Opcode::Zero {
            length: 1,
            width: 1,
        } => {
            hll[at] = val_opcode(count, 1);
        }
        _ => {
            let mut sequence = Vec::with_capacity(5);
            match opcode {
                Opcode::Zero { .. } => {
                    if index != first {
                        push_zeros(&mut sequence, index - first);
                    }
                    sequence.push(val_opcode(count, 1));
                    if index != last {
                        push_zeros(&mut sequence, last - index);
                    }
                }
                Opcode::Val { value, .. } => {
                    if index != first {
                        sequence.push(val_opcode(value, index - first));
                    }
                    sequence.push(val_opcode(count, 1));
                    if index != last {
                        sequence.push(val_opcode(value, last - index));
                    }
                }
            }
            // Step 3: substitute the sequence for the opcode.
            let old_width = opcode.width();
            let grows = sequence.len() > old_width;
            if grows && hll.len() + sequence.len() - old_width > max_bytes {
                return promote(hll, index, count);
            }
            let next = at + old_width;
            if next < hll.len() {
                hll.splice(at..next, sequence);
            } else {
                // The last opcode (possibly an XZERO cut short): Redis writes the sequence
                // at `at` and moves the end by the difference in widths.
                let new_length = hll.len() + sequence.len() - old_width;
                hll.truncate(at);
                hll.extend_from_slice(&sequence);
                hll.truncate(new_length);
            }
        }
    }

    // Step 4: merge adjacent VALs of equal value, scanning up to 5 opcodes from the
    // previous one.
    let mut at = previous.unwrap_or(HEADER_SIZE);
    let mut budget = 5;
    while at < hll.len() && budget > 0 {
        budget -= 1;
        match Opcode::at(hll, at) {
            Opcode::Zero { width, .. } => {
                at += width;
                continue;
            }
            Opcode::Val { value, length } => {
                if at + 1 < hll.len() {
                    if let Opcode::Val {
                        value: next_value,
                        length: next_length,
                    } = Opcode::at(hll, at + 1)
                    {
                        if value == next_value && length + next_length <= VAL_MAX_LEN {
                            hll[at + 1] = val_opcode(value, length + next_length);
                            hll.remove(at);
                            continue;
                        }
                    }
                }
            }
        }
        at += 1;
    }
    invalidate_cache(hll);
    Ok(true)
}

/// Turns a sparse HLL dense and raises register `index` to `count` there.
fn promote(hll: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    sparse_to_dense(hll)?;
    dense_set(&mut hll[HEADER_SIZE..], index, count);
    Ok(true)
}

/// Raises register `index` to `count` in either encoding; true when it changed.
pub fn set_register(
    hll: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<bool, Corrupt> {
    match encoding(hll) {
        DENSE => Ok(dense_set(&mut hll[HEADER_SIZE..], index, count)),
        SPARSE => sparse_set(hll, index, count, max_bytes),
        _ => Err(Corrupt),
    }
}

/// Adds `element`; true when a register changed (Redis's `hllAdd`).
pub fn add(hll: &mut Vec<u8>, element: &[u8], max_bytes: usize) -> Result<bool, Corrupt> {
    let (index, count) = pattern_length(element);
    set_register(hll, index, count, max_bytes)
}

/// Raises each of `max`'s registers to the HLL's (Redis's `hllMerge`).
pub fn merge_into(max: &mut [u8; REGISTERS], hll: &[u8]) -> Result<(), Corrupt> {
    if encoding(hll) == DENSE {
        let registers = &hll[HEADER_SIZE.min(hll.len())..];
        for (index, slot) in max.iter_mut().enumerate() {
            *slot = (*slot).max(dense_get(registers, index));
        }
        return Ok(());
    }
    walk_sparse(hll, |first, opcode| {
        if let Opcode::Val { value, length } = opcode {
            for slot in &mut max[first..first + length] {
                *slot = (*slot).max(value);
            }
        }
    })
}

/// The registers of a HLL in either encoding, one byte each.
pub fn registers(hll: &[u8]) -> Result<Box<[u8; REGISTERS]>, Corrupt> {
    let mut all = Box::new([0u8; REGISTERS]);
    merge_into(&mut all, hll)?;
    Ok(all)
}

/// The cardinality estimate of a valid HLL (Redis's `hllCount`), or `Corrupt` for a
/// sparse one whose opcodes do not cover exactly 16384 registers.
pub fn count(hll: &[u8]) -> Result<u64, Corrupt> {
    let mut histogram = [0u32; 64];
    if encoding(hll) == DENSE {
        let registers = &hll[HEADER_SIZE.min(hll.len())..];
        for index in 0..REGISTERS {
            histogram[usize::from(dense_get(registers, index))] += 1;
        }
    } else {
        walk_sparse(hll, |_, opcode| match opcode {
            Opcode::Zero { length, .. } => histogram[0] += length as u32,
            Opcode::Val { value, length } => histogram[usize::from(value)] += length as u32,
        })?;
    }
    Ok(estimate(&histogram))
}

/// The cardinality estimate of raw registers (one byte each, as [`merge_into`] fills).
pub fn count_registers(registers: &[u8; REGISTERS]) -> u64 {
    let mut histogram = [0u32; 64];
    for &register in registers.iter() {
        histogram[usize::from(register & 63)] += 1;
    }
    estimate(&histogram)
}

/// Ertl's estimator over the register histogram, as Redis computes it.
fn estimate(histogram: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(histogram[Q + 1])) / m);
    for j in (1..=Q).rev() {
        z += f64::from(histogram[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histogram[0]) / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// Ertl's sigma function.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        if previous == z {
            return z;
        }
    }
}

/// Ertl's tau function.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if previous == z {
            return z / 3.0;
        }
    }
}

/// PFDEBUG DECODE's text of a sparse HLL: `z:N`, `Z:N` and `v:value,length`, by spaces.
pub fn decode_sparse(hll: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut at = HEADER_SIZE;
    while at < hll.len() {
        let opcode = Opcode::at(hll, at);
        parts.push(match opcode {
            Opcode::Zero { length, width: 1 } => format!("z:{length}"),
            Opcode::Zero { length, .. } => format!("Z:{length}"),
            Opcode::Val { value, length } => format!("v:{value},{length}"),
        });
        at += opcode.width();
    }
    parts.join(" ")
}

/// Dense registers of a dense HLL, for PFSELFTEST's first test.
pub fn dense_register(hll: &[u8], index: usize) -> u8 {
    dense_get(&hll[HEADER_SIZE.min(hll.len())..], index)
}

/// Sets a dense register of a dense HLL directly (PFSELFTEST).
pub fn put_dense_register(hll: &mut [u8], index: usize, value: u8) {
    let start = HEADER_SIZE.min(hll.len());
    dense_put(&mut hll[start..], index, value);
}

/// A new, empty, dense HLL.
pub fn new_dense() -> Vec<u8> {
    let mut hll = vec![0u8; DENSE_SIZE];
    hll[..4].copy_from_slice(b"HYLL");
    hll
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_fall_in_the_registers_redis_picks() {
        // redis-server's PFDEBUG DECODE after PFADD h a b c:
        // Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603.
        let mut found: Vec<(usize, u8)> = [&b"a"[..], b"b", b"c"]
            .iter()
            .map(|element| pattern_length(element))
            .collect();
        found.sort_unstable();
        assert_eq!(found, [(8436, 1), (12711, 2), (15780, 1)]);
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut sparse = new_sparse();
        let mut dense = new_dense();
        dense[4] = DENSE;
        for element in 0..5000u32 {
            let bytes = element.to_le_bytes();
            add(&mut sparse, &bytes, 3000).unwrap_or_default();
            add(&mut dense, &bytes, 3000).unwrap_or_default();
            if element % 500 == 0 {
                assert_eq!(count(&sparse), count(&dense));
            }
        }
        assert_eq!(encoding(&sparse), DENSE);
        assert_eq!(sparse[HEADER_SIZE..], dense[HEADER_SIZE..]);
    }

    #[test]
    fn empty_counts_zero_and_truncated_is_corrupt() {
        let empty = new_sparse();
        assert_eq!(count(&empty), Ok(0));
        assert_eq!(decode_sparse(&empty), "Z:16384");
        let truncated = &empty[..HEADER_SIZE + 1];
        // A lone XZERO byte reads the terminator: 1 register, not 16384.
        assert_eq!(count(truncated), Err(Corrupt));
        assert_eq!(count(&empty[..HEADER_SIZE]), Err(Corrupt));
    }
}
