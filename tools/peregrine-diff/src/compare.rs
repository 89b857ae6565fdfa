//! How two replies are judged equal: the normalization rules.
//!
//! The default is byte-for-byte equality of the raw RESP2 replies. Each exception
//! below is tied to a reason the two servers may legitimately answer differently,
//! and is chosen by the generator per command ([`Comparison`]), never by looking
//! at a command's name here:
//!
//! 1. **Time to live** ([`Comparison::IntegerWithin`]): TTL, PTTL, EXPIRETIME and
//!    PEXPIRETIME depend on the millisecond at which each server ran the command
//!    that set the expiry and the one that reads it. Two non-negative integer
//!    replies are equal when they differ by at most the tolerance (TTL and
//!    EXPIRETIME ±1, PTTL and PEXPIRETIME ±1500). The negative answers (`-1`: no
//!    expiry, `-2`: no key) and every other reply must still match exactly.
//! 2. **Unordered collections** ([`Comparison::Unordered`]): KEYS returns keys in
//!    hash-table order, which is an implementation detail. Arrays are compared
//!    after sorting their elements; anything else (errors) exactly.
//! 3. **Full SCAN loops** ([`Comparison::ScanKeys`]): cursors and page boundaries
//!    are implementation details, and SCAN may return a key twice. The runner
//!    follows the cursor to the end on each server and turns the result into
//!    one sorted, de-duplicated array ([`scan_result`]); an error on the first
//!    call is kept as it is. The results are then compared exactly.
//! 4. **RANDOMKEY** ([`Comparison::RandomKey`]): which key comes back is random.
//!    The runner asks the same server whether the returned key exists, and
//!    [`random_key_result`] reduces the reply to "nil", "an existing key" or
//!    "a missing key"; those are compared exactly.
//! 5. **Redis 7.0 versus 7.2 wording** ([`VERSION_DIFFERENCES`]): the oracle here
//!    is redis-server 7.0 while Peregrine follows 7.2. An error reply listed in
//!    that table as 7.0 text on the Redis side and 7.2 text on the Peregrine side
//!    of the same command counts as equal. Nothing else is forgiven.

use crate::resp::{RawReply, Reply};

/// How the replies to one command are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// Raw bytes must be identical.
    Exact,
    /// Non-negative integers may differ by at most this much; see rule 1.
    IntegerWithin(i64),
    /// Arrays compare as sorted multisets; see rule 2.
    Unordered,
    /// The command is a SCAN whose full cursor loop is compared as a key set; see rule 3.
    ScanKeys,
    /// The command is RANDOMKEY, compared by outcome; see rule 4.
    RandomKey,
}

/// Tolerance for TTL and EXPIRETIME, in seconds.
pub const SECONDS_TOLERANCE: i64 = 1;

/// Tolerance for PTTL and PEXPIRETIME, in milliseconds.
pub const MILLISECONDS_TOLERANCE: i64 = 1500;

/// One reply that Redis 7.0 and Redis 7.2 word differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionDifference {
    /// The command, upper case, as it appears in coverage.
    pub command: &'static str,
    /// The full error line as redis-server 7.0 sends it, without `-` and CRLF.
    pub redis_7_0: &'static str,
    /// The full error line as Redis 7.2 sends it, without `-` and CRLF.
    pub redis_7_2: &'static str,
}

/// Error replies known to differ between Redis 7.0 (the oracle) and 7.2
/// (Peregrine's target) for the commands this tester generates.
///
/// Empty: for the string, key and connection commands generated today, every
/// error text we checked reads the same in 7.0.15 and 7.2. Add a row only for
/// a difference confirmed against both versions' sources.
pub const VERSION_DIFFERENCES: &[VersionDifference] = &[];

/// Whether the Redis and Peregrine replies to `command` count as equal under `comparison`.
pub fn replies_match(
    comparison: Comparison,
    command: &str,
    redis: &RawReply,
    peregrine: &RawReply,
) -> bool {
    if redis.raw == peregrine.raw {
        return true;
    }
    if version_equivalent(VERSION_DIFFERENCES, command, &redis.value, &peregrine.value) {
        return true;
    }
    match comparison {
        Comparison::Exact | Comparison::ScanKeys | Comparison::RandomKey => false,
        Comparison::IntegerWithin(tolerance) => {
            integers_within(&redis.value, &peregrine.value, tolerance)
        }
        Comparison::Unordered => sorted(&redis.value) == sorted(&peregrine.value),
    }
}

/// Rule 1: both replies are non-negative integers at most `tolerance` apart.
pub fn integers_within(redis: &Reply, peregrine: &Reply, tolerance: i64) -> bool {
    match (redis, peregrine) {
        (Reply::Integer(left), Reply::Integer(right)) if *left >= 0 && *right >= 0 => {
            left.abs_diff(*right) <= tolerance.unsigned_abs()
        }
        _ => false,
    }
}

/// Rule 2: an array with its elements sorted; any other reply unchanged.
pub fn sorted(reply: &Reply) -> Reply {
    match reply {
        Reply::Array(items) => {
            let mut items = items.clone();
            items.sort();
            Reply::Array(items)
        }
        other => other.clone(),
    }
}

/// Rule 3: the canonical form of a finished SCAN loop: all keys, sorted, without duplicates.
pub fn scan_result(mut keys: Vec<Vec<u8>>) -> RawReply {
    keys.sort();
    keys.dedup();
    RawReply::from_value(Reply::Array(keys.into_iter().map(Reply::Bulk).collect()))
}

/// Rule 4: the canonical form of a RANDOMKEY reply.
///
/// `key_exists` is the server's own answer to `EXISTS key` for the key it
/// returned (ignored unless the reply is a bulk string).
pub fn random_key_result(reply: &RawReply, key_exists: bool) -> RawReply {
    match (&reply.value, key_exists) {
        (Reply::Bulk(_), true) => {
            RawReply::from_value(Reply::Simple(b"(an existing key)".to_vec()))
        }
        (Reply::Bulk(key), false) => {
            let mut text = b"(a key that does not exist: ".to_vec();
            text.extend_from_slice(crate::resp::escape_unquoted(key).as_bytes());
            text.push(b')');
            RawReply::from_value(Reply::Simple(text))
        }
        _ => reply.clone(),
    }
}

/// Rule 5: both replies are errors listed as the same 7.0 / 7.2 pair for `command`.
pub fn version_equivalent(
    table: &[VersionDifference],
    command: &str,
    redis: &Reply,
    peregrine: &Reply,
) -> bool {
    let (Reply::Error(redis_text), Reply::Error(peregrine_text)) = (redis, peregrine) else {
        return false;
    };
    table.iter().any(|difference| {
        difference.command.eq_ignore_ascii_case(command)
            && difference.redis_7_0.as_bytes() == redis_text.as_slice()
            && difference.redis_7_2.as_bytes() == peregrine_text.as_slice()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn integer(value: i64) -> RawReply {
        RawReply::from_value(Reply::Integer(value))
    }

    fn bulk(text: &str) -> Reply {
        Reply::Bulk(text.as_bytes().to_vec())
    }

    fn array(items: &[&str]) -> RawReply {
        RawReply::from_value(Reply::Array(items.iter().map(|item| bulk(item)).collect()))
    }

    #[test]
    fn exact_requires_identical_bytes() {
        let simple = RawReply::from_value(Reply::Simple(b"OK".to_vec()));
        let bulk_ok = RawReply::from_value(bulk("OK"));
        assert!(replies_match(
            Comparison::Exact,
            "SET",
            &simple,
            &simple.clone()
        ));
        assert!(!replies_match(Comparison::Exact, "SET", &simple, &bulk_ok));
        assert!(!replies_match(
            Comparison::Exact,
            "TTL",
            &integer(5),
            &integer(6)
        ));
    }

    #[test]
    fn ttl_tolerance_accepts_close_values_only() {
        let within = Comparison::IntegerWithin(SECONDS_TOLERANCE);
        assert!(replies_match(within, "TTL", &integer(100), &integer(99)));
        assert!(replies_match(within, "TTL", &integer(99), &integer(100)));
        assert!(!replies_match(within, "TTL", &integer(100), &integer(98)));
        let millis = Comparison::IntegerWithin(MILLISECONDS_TOLERANCE);
        assert!(replies_match(
            millis,
            "PTTL",
            &integer(100_000),
            &integer(98_500)
        ));
        assert!(!replies_match(
            millis,
            "PTTL",
            &integer(100_000),
            &integer(98_499)
        ));
    }

    #[test]
    fn ttl_tolerance_keeps_special_values_exact() {
        let within = Comparison::IntegerWithin(SECONDS_TOLERANCE);
        assert!(replies_match(within, "TTL", &integer(-1), &integer(-1)));
        assert!(!replies_match(within, "TTL", &integer(-1), &integer(-2)));
        assert!(!replies_match(within, "TTL", &integer(-1), &integer(0)));
        assert!(!replies_match(within, "TTL", &integer(0), &integer(-1)));
        let error = RawReply::from_value(Reply::Error(b"ERR x".to_vec()));
        assert!(!replies_match(within, "TTL", &integer(1), &error));
    }

    #[test]
    fn unordered_ignores_order_but_not_content() {
        let first = array(&["k1", "k2", "k3"]);
        let second = array(&["k3", "k1", "k2"]);
        let missing = array(&["k3", "k1"]);
        let doubled = array(&["k3", "k1", "k1"]);
        assert!(replies_match(
            Comparison::Unordered,
            "KEYS",
            &first,
            &second
        ));
        assert!(!replies_match(
            Comparison::Unordered,
            "KEYS",
            &first,
            &missing
        ));
        assert!(!replies_match(
            Comparison::Unordered,
            "KEYS",
            &first,
            &doubled
        ));
        let error = RawReply::from_value(Reply::Error(b"ERR x".to_vec()));
        assert!(!replies_match(
            Comparison::Unordered,
            "KEYS",
            &first,
            &error
        ));
    }

    #[test]
    fn scan_results_are_sorted_sets() {
        let one = scan_result(vec![b"b".to_vec(), b"a".to_vec(), b"b".to_vec()]);
        let two = scan_result(vec![b"a".to_vec(), b"b".to_vec()]);
        let three = scan_result(vec![b"a".to_vec()]);
        assert_eq!(one, two);
        assert!(replies_match(Comparison::ScanKeys, "SCAN", &one, &two));
        assert!(!replies_match(Comparison::ScanKeys, "SCAN", &one, &three));
    }

    #[test]
    fn random_key_compares_outcomes() {
        let some = RawReply::from_value(bulk("k1"));
        let other = RawReply::from_value(bulk("k7"));
        let nil = RawReply::from_value(Reply::Nil);
        assert_eq!(
            random_key_result(&some, true),
            random_key_result(&other, true)
        );
        assert_ne!(
            random_key_result(&some, true),
            random_key_result(&other, false)
        );
        assert_ne!(
            random_key_result(&some, true),
            random_key_result(&nil, false)
        );
        assert_eq!(random_key_result(&nil, true), nil);
    }

    #[test]
    fn version_table_forgives_listed_pairs_only() {
        let table = [VersionDifference {
            command: "SET",
            redis_7_0: "ERR old text",
            redis_7_2: "ERR new text",
        }];
        let old = Reply::Error(b"ERR old text".to_vec());
        let new = Reply::Error(b"ERR new text".to_vec());
        let other = Reply::Error(b"ERR other".to_vec());
        assert!(version_equivalent(&table, "set", &old, &new));
        assert!(!version_equivalent(&table, "SET", &new, &old));
        assert!(!version_equivalent(&table, "GET", &old, &new));
        assert!(!version_equivalent(&table, "SET", &old, &other));
        assert!(!version_equivalent(&table, "SET", &Reply::Nil, &new));
    }
}
