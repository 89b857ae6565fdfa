//! Shared workloads for Peregrine's benchmarks.
//!
//! The criterion micro-benchmarks live in `benches/benches/` (`resp_parse`, `resp_encode`,
//! `keyspace`) and the side-by-side load script against redis-server in
//! `benches/side_by_side.sh`. This library only builds their inputs, so that every
//! benchmark measures the same keys and requests and the inputs themselves are tested.
//!
//! Invariants: inputs are deterministic (no clock, no OS randomness), so two runs measure
//! the same work; every key is [`KEY_LEN`] bytes, `key:%012d` as in the load script.
//!
//! It is not: a place for timing assertions (benchmarks are run by hand, DESIGN §7), or a
//! dependency of any crate outside `benches/`.

use std::io::Write;

/// Length of every benchmark key: `key:` and twelve digits.
pub const KEY_LEN: usize = 16;

/// Length of every benchmark value.
pub const VALUE_LEN: usize = 16;

/// The key numbered `index`: `key:%012d`, as the load script's memory test writes it.
pub fn key(index: u64) -> [u8; KEY_LEN] {
    let mut out = [0u8; KEY_LEN];
    let mut cursor = &mut out[..];
    // Twelve digits fit every index below 10^12; larger ones are reduced, never truncated
    // mid-write, so the key is always exactly KEY_LEN bytes.
    let _ = write!(cursor, "key:{:012}", index % 1_000_000_000_000);
    out
}

/// A [`VALUE_LEN`]-byte value derived from `index`; it is never a canonical integer, so the
/// keyspace stores it as a short string (Redis's embstr), as a 16-byte client value would.
pub fn value(index: u64) -> [u8; VALUE_LEN] {
    let mut out = [0u8; VALUE_LEN];
    let mut cursor = &mut out[..];
    let _ = write!(cursor, "v-{:014x}", index & 0x00ff_ffff_ffff_ffff);
    out
}

/// Appends one request as a RESP multibulk array of bulk strings, as clients send it.
pub fn push_request(out: &mut Vec<u8>, args: &[&[u8]]) {
    let _ = write!(out, "*{}\r\n", args.len());
    for arg in args {
        let _ = write!(out, "${}\r\n", arg.len());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// A pipeline of `count` `SET key value` requests followed by `count` `GET key` requests on
/// the same keys, starting at key number 123 (`key:000000000123`).
pub fn set_get_pipeline(count: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for index in 123..123 + count {
        push_request(&mut out, &[b"SET", &key(index), &value(index)]);
    }
    for index in 123..123 + count {
        push_request(&mut out, &[b"GET", &key(index)]);
    }
    out
}

/// The `step`-th index of a fixed permutation of `0..len` (`len` a power of two): an odd
/// multiplier visits every index once per `len` steps while defeating the prefetcher.
pub fn scattered_index(step: u64, len: u64) -> u64 {
    debug_assert!(len.is_power_of_two());
    step.wrapping_mul(0x9e37_79b9_7f4a_7c15) & (len - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_resp::RequestParser;

    #[test]
    fn keys_and_values_have_fixed_lengths() {
        assert_eq!(&key(123), b"key:000000000123");
        assert_eq!(&key(999_999_999_999), b"key:999999999999");
        assert_eq!(key(1_000_000_000_123), key(123));
        assert_eq!(&value(255), b"v-000000000000ff");
        assert_eq!(
            peregrine_keyspace::Value::string(&value(7)).encoding_name(),
            "embstr"
        );
    }

    #[test]
    fn pipeline_parses_into_sets_then_gets() {
        let bytes = set_get_pipeline(16);
        let batch = RequestParser::default().parse_batch(&bytes);
        assert_eq!(batch.consumed, bytes.len());
        assert!(batch.error.is_none());
        assert_eq!(batch.commands.len(), 32);
        let first = &batch.commands[0];
        assert_eq!(first.len(), 3);
        assert_eq!(&first[0][..], b"SET");
        assert_eq!(&first[1][..], b"key:000000000123");
        let last = &batch.commands[31];
        assert_eq!(&last[0][..], b"GET");
        assert_eq!(&last[1][..], b"key:000000000138");
    }

    #[test]
    fn scattered_index_is_a_permutation() {
        let len = 1 << 12;
        let mut seen = vec![false; len as usize];
        for step in 0..len {
            let index = scattered_index(step, len) as usize;
            assert!(!seen[index], "index {index} visited twice");
            seen[index] = true;
        }
    }
}
