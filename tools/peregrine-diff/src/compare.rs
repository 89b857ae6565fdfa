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
//!    of the same command counts as equal.
//! 6. **Unordered pairs** ([`Comparison::UnorderedPairs`]): HGETALL, HRANDFIELD
//!    WITHVALUES and ZRANDMEMBER WITHSCORES list field-value (member-score) pairs
//!    in hash-table order. Arrays of even length are compared as sorted lists of
//!    pairs, so a field stays tied to its value ([`sorted_pairs`]).
//! 7. **Full HSCAN / SSCAN / ZSCAN loops** ([`Comparison::ScanMembers`],
//!    [`Comparison::ScanPairs`]): as rule 3, with the cursor after the key; the
//!    result is the sorted, de-duplicated members or pairs ([`scan_elements`]).
//! 8. **Encodings that 7.2 added** ([`Comparison::Encoding`]): Redis 7.0 reports
//!    every list as `quicklist` and every set of strings as `hashtable`; 7.2
//!    reports small ones as `listpack`. The runner asks the same server for the
//!    key's TYPE and [`encoding_result`] merges exactly those two pairs; every
//!    other encoding (intset, skiplist, hash listpack/hashtable, ...) must match. In
//!    crash-restart mode `raw`, `embstr` and `int` strings are one encoding too
//!    ([`restarted_string_encoding`]): a restart reloads short strings as embstr, and
//!    integer-looking ones as int.
//! 9. **Score formatting** ([`scores_equivalent`]): Redis 7.0 prints doubles with
//!    `%.17g`, 7.2 with the shortest text that reads back to the same double; in the
//!    replies of sorted-set commands, and of scripts (a double reply a script got under
//!    `redis.setresp(3)`, such as a GEO coordinate, is printed the same way when the
//!    script returns it), bulk strings that parse to the same double match.
//! 10. **UNSUBSCRIBE without names** ([`Comparison::UnsubscribeAll`]): the
//!     confirmations come in the order of the client's own hash table of names, each
//!     with the count left after it. The frames are compared as the set of
//!     (kind, name) pairs plus the sequence of counts ([`unsubscribed_all`]).
//! 11. **Subscriber streams** ([`streams_match`]): the frames a subscriber received
//!     between two sync messages are compared byte for byte, in order, first. A
//!     difference in order alone is accepted ([`StreamVerdict::SameUpToOrder`]):
//!     Redis delivers the `pmessage` frames of several matching patterns in the
//!     order of its pattern hash table, and Peregrine runs a multi-key command on
//!     each shard of its keys, so the keyspace events of keys on different shards
//!     may come in another order. A missing, extra or different frame is a mismatch.
//! 12. **Generated stream IDs** ([`Comparison::StreamId`]): `XADD key *` makes the ID
//!     from each server's clock. Two bulk strings of the form `digits-digits` match
//!     ([`is_stream_id`]); any other reply (nil, errors) must match exactly.
//! 13. **Idle times of pending entries** ([`Comparison::PendingIdle`]): each entry of
//!     an extended XPENDING reply is `[id, consumer, idle ms, deliveries]`; the idle
//!     time depends on when each server delivered the entry, so it is masked on both
//!     sides ([`pending_idle_masked`]) and the rest compared exactly.
//! 14. **Stream and group introspection** ([`Comparison::StreamInfo`]): XINFO replies
//!     carry clock readings and layout details, masked on both sides
//!     ([`stream_info_masked`]): in every field-value list, the fields `idle` (XINFO
//!     CONSUMERS), `inactive` (7.2 only), `seen-time` (XINFO STREAM FULL) and
//!     `active-time` (7.2 only) are dropped, so 7.0's replies and 7.2's longer ones
//!     compare; and in a `pending` list of entries (XINFO STREAM FULL:
//!     `[id, consumer, delivery time, deliveries]` per group, `[id, delivery time,
//!     deliveries]` per consumer) the delivery time, an absolute clock reading, is
//!     masked. Everything else (lengths, IDs, counters, lag, names, delivery counts,
//!     entries, and `radix-tree-keys` and `radix-tree-nodes`: Peregrine cuts streams
//!     into nodes where Redis does, so approximate trims remove the same entries) must
//!     match exactly.
//!
//! Nothing else is forgiven.

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
    /// Arrays compare as sorted lists of pairs; see rule 6.
    UnorderedPairs,
    /// The command is an SSCAN whose full cursor loop is compared as a member set; see rule 7.
    ScanMembers,
    /// The command is an HSCAN or ZSCAN whose full cursor loop is compared as a pair set; see rule 7.
    ScanPairs,
    /// The command is OBJECT ENCODING, compared up to 7.2's new encodings; see rule 8.
    Encoding,
    /// The frames of an UNSUBSCRIBE (PUNSUBSCRIBE, SUNSUBSCRIBE) without names; see rule 10.
    UnsubscribeAll,
    /// An ID made from the server's clock (`XADD key *`), compared by shape; see rule 12.
    StreamId,
    /// An extended XPENDING reply, compared with idle times masked; see rule 13.
    PendingIdle,
    /// An XINFO reply, compared with clock readings and layout details masked; see rule 14.
    StreamInfo,
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
/// The string, key and connection commands have none. The blocking commands
/// have one: a timeout of `inf` overflows to "negative" in 7.0.15 (checked on
/// the live server), while 7.2 checks the range first (redis/redis#11338,
/// merged for 7.2; `getTimeoutFromObjectOrReply` in 7.2's timeout.c). Add a
/// row only for a difference confirmed against both versions.
pub const VERSION_DIFFERENCES: &[VersionDifference] = &[
    timeout_out_of_range("BLPOP"),
    timeout_out_of_range("BRPOP"),
    timeout_out_of_range("BLMOVE"),
    timeout_out_of_range("BRPOPLPUSH"),
    timeout_out_of_range("BLMPOP"),
    timeout_out_of_range("BZPOPMIN"),
    timeout_out_of_range("BZPOPMAX"),
    timeout_out_of_range("BZMPOP"),
];

/// A blocking command's infinite timeout: "negative" in 7.0, "out of range" in 7.2.
const fn timeout_out_of_range(command: &'static str) -> VersionDifference {
    VersionDifference {
        command,
        redis_7_0: "ERR timeout is negative",
        redis_7_2: "ERR timeout is out of range",
    }
}

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
    if prints_doubles(command) && scores_equivalent(&redis.value, &peregrine.value) {
        return true;
    }
    match comparison {
        Comparison::Exact
        | Comparison::ScanKeys
        | Comparison::RandomKey
        | Comparison::ScanMembers
        | Comparison::ScanPairs
        | Comparison::Encoding => false,
        Comparison::IntegerWithin(tolerance) => {
            integers_within(&redis.value, &peregrine.value, tolerance)
        }
        Comparison::Unordered => sorted(&redis.value) == sorted(&peregrine.value),
        Comparison::UnorderedPairs => sorted_pairs(&redis.value) == sorted_pairs(&peregrine.value),
        Comparison::UnsubscribeAll => {
            unsubscribed_all(&redis.value) == unsubscribed_all(&peregrine.value)
        }
        Comparison::StreamId => is_stream_id(&redis.value) && is_stream_id(&peregrine.value),
        Comparison::PendingIdle => {
            pending_idle_masked(&redis.value) == pending_idle_masked(&peregrine.value)
        }
        Comparison::StreamInfo => {
            stream_info_masked(&redis.value) == stream_info_masked(&peregrine.value)
        }
    }
}

/// Rule 12: whether `reply` is a bulk string `<digits>-<digits>`, the form of a stream ID.
pub fn is_stream_id(reply: &Reply) -> bool {
    let Reply::Bulk(text) = reply else {
        return false;
    };
    let digits = |part: &[u8]| !part.is_empty() && part.iter().all(u8::is_ascii_digit);
    let mut parts = text.splitn(2, |byte| *byte == b'-');
    match (parts.next(), parts.next()) {
        (Some(milliseconds), Some(sequence)) => digits(milliseconds) && digits(sequence),
        _ => false,
    }
}

/// What a masked value is replaced with (rules 13 and 14).
fn masked(what: &str) -> Reply {
    Reply::Simple(format!("({what} masked)").into_bytes())
}

/// Rule 13: an extended XPENDING reply with the idle time of each entry (an array
/// `[id, consumer, idle, deliveries]`) masked; any other reply unchanged.
pub fn pending_idle_masked(reply: &Reply) -> Reply {
    let Reply::Array(entries) = reply else {
        return reply.clone();
    };
    let entries = entries
        .iter()
        .map(|entry| match entry {
            Reply::Array(parts) => match parts.as_slice() {
                [id, consumer, Reply::Integer(_), deliveries] => Reply::Array(vec![
                    id.clone(),
                    consumer.clone(),
                    masked("idle time"),
                    deliveries.clone(),
                ]),
                _ => entry.clone(),
            },
            other => other.clone(),
        })
        .collect();
    Reply::Array(entries)
}

/// Fields of XINFO replies that read a clock, dropped with their values (rule 14).
/// `inactive` and `active-time` exist in Redis 7.2 only.
const CLOCK_FIELDS: &[&[u8]] = &[b"idle", b"inactive", b"seen-time", b"active-time"];

/// Rule 14: an XINFO reply with the clock fields dropped and the delivery times of
/// `pending` entry lists masked, at any depth.
pub fn stream_info_masked(reply: &Reply) -> Reply {
    let Reply::Array(items) = reply else {
        return reply.clone();
    };
    let is_field_list = items.len() % 2 == 0
        && items
            .iter()
            .step_by(2)
            .all(|name| matches!(name, Reply::Bulk(_)));
    if !is_field_list {
        return Reply::Array(items.iter().map(stream_info_masked).collect());
    }
    let mut fields = Vec::with_capacity(items.len());
    for pair in items.chunks(2) {
        let [name @ Reply::Bulk(field), value] = pair else {
            continue;
        };
        if CLOCK_FIELDS.contains(&field.as_slice()) {
            continue;
        }
        let value = if field == b"pending" {
            delivery_times_masked(value)
        } else {
            stream_info_masked(value)
        };
        fields.push(name.clone());
        fields.push(value);
    }
    Reply::Array(fields)
}

/// A `pending` list of XINFO STREAM FULL with the delivery time of each entry (the
/// integer before the last element: `[id, consumer, time, deliveries]` or `[id, time,
/// deliveries]`) masked; a count (XINFO GROUPS, XINFO CONSUMERS) unchanged.
fn delivery_times_masked(value: &Reply) -> Reply {
    let Reply::Array(entries) = value else {
        return value.clone();
    };
    let entries = entries
        .iter()
        .map(|entry| {
            let Reply::Array(parts) = entry else {
                return entry.clone();
            };
            let mut parts = parts.clone();
            let time_at = parts.len().checked_sub(2).filter(|_| parts.len() >= 3);
            if let Some(slot) = time_at.and_then(|at| parts.get_mut(at)) {
                if matches!(slot, Reply::Integer(_)) {
                    *slot = masked("delivery time");
                }
            }
            Reply::Array(parts)
        })
        .collect();
    Reply::Array(entries)
}

/// The raw bytes of `frames`, sorted.
fn sorted_raw(frames: &[RawReply]) -> Vec<&[u8]> {
    let mut raw: Vec<&[u8]> = frames.iter().map(|frame| frame.raw.as_slice()).collect();
    raw.sort_unstable();
    raw
}

/// Rule 10: the frames `[word, name, count]` of an UNSUBSCRIBE without names (joined
/// in one array) as `[sorted [word, name] pairs, [counts in order]]`; any other
/// reply unchanged.
pub fn unsubscribed_all(reply: &Reply) -> Reply {
    let Reply::Array(frames) = reply else {
        return reply.clone();
    };
    let mut names = Vec::with_capacity(frames.len());
    let mut counts = Vec::with_capacity(frames.len());
    for frame in frames {
        match frame {
            Reply::Array(parts) => match parts.as_slice() {
                [word, name, count @ Reply::Integer(_)] => {
                    names.push(Reply::Array(vec![word.clone(), name.clone()]));
                    counts.push(count.clone());
                }
                _ => return reply.clone(),
            },
            _ => return reply.clone(),
        }
    }
    names.sort();
    Reply::Array(vec![Reply::Array(names), Reply::Array(counts)])
}

/// How the frames two subscribers received for one command compare (rule 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamVerdict {
    /// The same frames in the same order, byte for byte.
    Same,
    /// The same frames, byte for byte, in another order.
    SameUpToOrder,
    /// A frame is missing, extra or different.
    Different,
}

/// Rule 11: compares the frames Redis's and Peregrine's subscriber received.
pub fn streams_match(redis: &[RawReply], peregrine: &[RawReply]) -> StreamVerdict {
    if redis.len() == peregrine.len()
        && redis
            .iter()
            .zip(peregrine)
            .all(|(left, right)| left.raw == right.raw)
    {
        return StreamVerdict::Same;
    }
    if sorted_raw(redis) == sorted_raw(peregrine) {
        StreamVerdict::SameUpToOrder
    } else {
        StreamVerdict::Different
    }
}

/// Commands whose replies may carry doubles printed by `addReplyDouble` (rule 9):
/// sorted-set commands and scripts.
fn prints_doubles(command: &str) -> bool {
    let upper = command.to_ascii_uppercase();
    upper.starts_with('Z')
        || upper.starts_with("BZ")
        || upper.starts_with("EVAL")
        || upper.starts_with("FCALL")
}

/// Rule 9: scores are printed with `%.17g` by Redis 7.0 and in the shortest form that
/// reads back exactly by Redis 7.2 (`0.10000000000000001` vs `0.1`, `-0` vs `0`): two
/// replies of the same shape whose bulk strings are equal, or both parse as the same
/// double, are equivalent.
pub fn scores_equivalent(redis: &Reply, peregrine: &Reply) -> bool {
    match (redis, peregrine) {
        (Reply::Array(left), Reply::Array(right)) => {
            left.len() == right.len()
                && left
                    .iter()
                    .zip(right)
                    .all(|(left, right)| scores_equivalent(left, right))
        }
        (Reply::Bulk(left), Reply::Bulk(right)) => left == right || same_double(left, right),
        (left, right) => left == right,
    }
}

fn same_double(left: &[u8], right: &[u8]) -> bool {
    let parse = |bytes: &[u8]| {
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| text.parse::<f64>().ok())
    };
    matches!((parse(left), parse(right)), (Some(left), Some(right)) if left == right)
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

/// Rule 6: an array of even length with its pairs sorted; any other reply unchanged.
pub fn sorted_pairs(reply: &Reply) -> Reply {
    match reply {
        Reply::Array(items) if items.len() % 2 == 0 => {
            let mut pairs: Vec<&[Reply]> = items.chunks(2).collect();
            pairs.sort();
            Reply::Array(pairs.concat())
        }
        other => other.clone(),
    }
}

/// Rule 7: the canonical form of a finished HSCAN / SSCAN / ZSCAN loop: the
/// elements grouped by `group` (1 for members, 2 for pairs), sorted, without
/// duplicate groups. `None` when the elements do not split into whole groups.
pub fn scan_elements(elements: Vec<Vec<u8>>, group: usize) -> Option<RawReply> {
    if group == 0 || !elements.len().is_multiple_of(group) {
        return None;
    }
    let mut groups: Vec<&[Vec<u8>]> = elements.chunks(group).collect();
    groups.sort();
    groups.dedup();
    let items = groups.concat().into_iter().map(Reply::Bulk).collect();
    Some(RawReply::from_value(Reply::Array(items)))
}

/// Rule 8: the canonical form of an OBJECT ENCODING reply, given the key's
/// TYPE on the same server. Only the two encodings 7.2 added are merged.
pub fn encoding_result(reply: &RawReply, key_type: &[u8]) -> RawReply {
    let Reply::Bulk(encoding) = &reply.value else {
        return reply.clone();
    };
    let merged: &[u8] = match (key_type, encoding.as_slice()) {
        (b"list", b"quicklist" | b"listpack") => {
            b"(a list: quicklist in 7.0, listpack or quicklist in 7.2)"
        }
        (b"set", b"hashtable" | b"listpack") => {
            b"(a set: hashtable in 7.0, listpack or hashtable in 7.2)"
        }
        _ => return reply.clone(),
    };
    RawReply::from_value(Reply::Simple(merged.to_vec()))
}

/// Rule 8, in crash-restart mode: a short string that an in-place write (APPEND,
/// SETRANGE, SETBIT ...) made `raw` is reloaded as `embstr` after a restart, and one
/// that looks like an integer as `int` (INCRBYFLOAT's `"2"` is `embstr` until then), as
/// redis-server loads them from an RDB or append-only file; the oracle never restarts,
/// so the three string encodings are one there.
pub fn restarted_string_encoding(reply: &RawReply) -> RawReply {
    match &reply.value {
        Reply::Bulk(encoding)
            if encoding == b"raw" || encoding == b"embstr" || encoding == b"int" =>
        {
            RawReply::from_value(Reply::Simple(
                b"(a string: embstr, raw or int; a restart reloads short strings as embstr, integers as int)"
                    .to_vec(),
            ))
        }
        _ => reply.clone(),
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

    #[test]
    fn restarts_make_raw_embstr_and_int_one_string_encoding() {
        let bulk = |text: &[u8]| RawReply::from_value(Reply::Bulk(text.to_vec()));
        assert_eq!(
            restarted_string_encoding(&bulk(b"raw")),
            restarted_string_encoding(&bulk(b"embstr"))
        );
        // INCRBYFLOAT leaves "2" embstr; a reload makes it int (checked on redis-server
        // 7.0.15 with DEBUG RELOAD).
        assert_eq!(
            restarted_string_encoding(&bulk(b"int")),
            restarted_string_encoding(&bulk(b"embstr"))
        );
        assert_ne!(
            restarted_string_encoding(&bulk(b"listpack")),
            restarted_string_encoding(&bulk(b"raw"))
        );
    }
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
    fn unordered_pairs_keep_fields_with_their_values() {
        let first = array(&["f1", "1", "f2", "2"]);
        let swapped = array(&["f2", "2", "f1", "1"]);
        let crossed = array(&["f1", "2", "f2", "1"]);
        let pairs = Comparison::UnorderedPairs;
        assert!(replies_match(pairs, "HGETALL", &first, &swapped));
        assert!(!replies_match(pairs, "HGETALL", &first, &crossed));
        // Sorting single elements would have called these equal.
        assert!(replies_match(
            Comparison::Unordered,
            "HGETALL",
            &first,
            &crossed
        ));
    }

    #[test]
    fn scan_elements_group_sort_and_deduplicate() {
        let elements = |items: &[&str]| items.iter().map(|item| item.as_bytes().to_vec()).collect();
        let one = scan_elements(elements(&["f2", "b", "f1", "a", "f2", "b"]), 2);
        let two = scan_elements(elements(&["f1", "a", "f2", "b"]), 2);
        assert_eq!(one, two);
        assert_eq!(
            two.map(|reply| reply.value),
            Some(array(&["f1", "a", "f2", "b"]).value)
        );
        let changed = scan_elements(elements(&["f1", "b", "f2", "a"]), 2);
        assert_ne!(changed, scan_elements(elements(&["f1", "a", "f2", "b"]), 2));
        assert_eq!(scan_elements(elements(&["f1"]), 2), None);
        assert!(scan_elements(elements(&["b", "a", "b"]), 1).is_some());
    }

    #[test]
    fn encodings_merge_only_what_7_2_added() {
        let encoding = |name: &str| RawReply::from_value(bulk(name));
        let list = |name| encoding_result(&encoding(name), b"list");
        let set = |name| encoding_result(&encoding(name), b"set");
        assert_eq!(list("quicklist"), list("listpack"));
        assert_eq!(set("hashtable"), set("listpack"));
        assert_ne!(set("intset"), set("listpack"));
        let hash = |name| encoding_result(&encoding(name), b"hash");
        assert_ne!(hash("hashtable"), hash("listpack"));
        let zset = |name| encoding_result(&encoding(name), b"zset");
        assert_ne!(zset("skiplist"), zset("listpack"));
        let missing = RawReply::from_value(Reply::Nil);
        assert_eq!(encoding_result(&missing, b"none"), missing);
    }

    fn frame(parts: &[&str]) -> RawReply {
        array(parts)
    }

    #[test]
    fn streams_compare_exactly_then_up_to_order() {
        let first = frame(&["message", "news", "a"]);
        let second = frame(&["pmessage", "n*", "news", "a"]);
        let third = frame(&["message", "__keyevent@0__:set", "k1"]);
        let redis = [first.clone(), second.clone(), third.clone()];
        assert_eq!(streams_match(&redis, &redis), StreamVerdict::Same);
        assert_eq!(streams_match(&[], &[]), StreamVerdict::Same);
        let reordered = [third.clone(), first.clone(), second.clone()];
        assert_eq!(
            streams_match(&redis, &reordered),
            StreamVerdict::SameUpToOrder
        );
        let missing = [first.clone(), second.clone()];
        assert_eq!(streams_match(&redis, &missing), StreamVerdict::Different);
        let extra = [first.clone(), second.clone(), third.clone(), first.clone()];
        assert_eq!(streams_match(&redis, &extra), StreamVerdict::Different);
        // The same element twice instead of two different ones is no reordering.
        let doubled = [first.clone(), first.clone(), third.clone()];
        assert_eq!(streams_match(&redis, &doubled), StreamVerdict::Different);
        // RESP3 push and RESP2 array of the same elements are different bytes.
        let push = RawReply {
            raw: b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$1\r\na\r\n".to_vec(),
            value: first.value.clone(),
        };
        assert_eq!(streams_match(&[first], &[push]), StreamVerdict::Different);
    }

    #[test]
    fn unsubscribe_all_compares_names_as_a_set_and_counts_in_order() {
        let frames = |items: &[(&str, i64)]| {
            RawReply::from_value(Reply::Array(
                items
                    .iter()
                    .map(|(name, count)| {
                        Reply::Array(vec![
                            bulk("unsubscribe"),
                            bulk(name),
                            Reply::Integer(*count),
                        ])
                    })
                    .collect(),
            ))
        };
        let all = Comparison::UnsubscribeAll;
        let redis = frames(&[("a", 2), ("b", 1), ("c", 0)]);
        let peregrine = frames(&[("c", 2), ("a", 1), ("b", 0)]);
        assert!(replies_match(all, "UNSUBSCRIBE", &redis, &peregrine));
        let wrong_counts = frames(&[("c", 2), ("a", 2), ("b", 0)]);
        assert!(!replies_match(all, "UNSUBSCRIBE", &redis, &wrong_counts));
        let missing = frames(&[("a", 1), ("b", 0)]);
        assert!(!replies_match(all, "UNSUBSCRIBE", &redis, &missing));
        assert!(!replies_match(
            Comparison::Exact,
            "UNSUBSCRIBE",
            &redis,
            &peregrine
        ));
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

    #[test]
    fn generated_stream_ids_compare_by_shape() {
        let id = |text: &str| RawReply::from_value(bulk(text));
        let shape = Comparison::StreamId;
        assert!(replies_match(
            shape,
            "XADD",
            &id("1700000000000-0"),
            &id("1700000000003-1")
        ));
        assert!(!replies_match(shape, "XADD", &id("1-0"), &id("1")));
        assert!(!replies_match(shape, "XADD", &id("1-0"), &id("-0")));
        assert!(!replies_match(shape, "XADD", &id("1-0"), &id("1-0-0")));
        assert!(!replies_match(shape, "XADD", &id("1-0"), &id("1-x")));
        let nil = RawReply::from_value(Reply::Nil);
        assert!(replies_match(shape, "XADD", &nil, &nil.clone()));
        assert!(!replies_match(shape, "XADD", &nil, &id("1-0")));
        let error = RawReply::from_value(Reply::Error(b"ERR x".to_vec()));
        assert!(!replies_match(shape, "XADD", &error, &id("1-0")));
    }

    fn entry(id: &str, consumer: &str, idle: i64, deliveries: i64) -> Reply {
        Reply::Array(vec![
            bulk(id),
            bulk(consumer),
            Reply::Integer(idle),
            Reply::Integer(deliveries),
        ])
    }

    #[test]
    fn pending_entries_compare_without_idle_times() {
        let reply = |entries: Vec<Reply>| RawReply::from_value(Reply::Array(entries));
        let idle = Comparison::PendingIdle;
        let redis = reply(vec![entry("1-0", "c1", 5, 1), entry("2-0", "c2", 0, 3)]);
        let later = reply(vec![entry("1-0", "c1", 9, 1), entry("2-0", "c2", 4, 3)]);
        assert!(replies_match(idle, "XPENDING", &redis, &later));
        let recounted = reply(vec![entry("1-0", "c1", 5, 2), entry("2-0", "c2", 0, 3)]);
        assert!(!replies_match(idle, "XPENDING", &redis, &recounted));
        let other_owner = reply(vec![entry("1-0", "c2", 5, 1), entry("2-0", "c2", 0, 3)]);
        assert!(!replies_match(idle, "XPENDING", &redis, &other_owner));
        // The summary form has no idle time and stays exact.
        let summary = |count| {
            RawReply::from_value(Reply::Array(vec![
                Reply::Integer(count),
                bulk("1-0"),
                bulk("2-0"),
                Reply::NilArray,
            ]))
        };
        assert!(!replies_match(idle, "XPENDING", &summary(2), &summary(3)));
    }

    /// A flat RESP2 field-value list.
    fn fields(pairs: Vec<(&str, Reply)>) -> Reply {
        Reply::Array(
            pairs
                .into_iter()
                .flat_map(|(name, value)| [bulk(name), value])
                .collect(),
        )
    }

    #[test]
    fn consumer_lists_drop_clock_fields_of_either_version() {
        let consumer_7_0 = |pending, idle| {
            fields(vec![
                ("name", bulk("c1")),
                ("pending", Reply::Integer(pending)),
                ("idle", Reply::Integer(idle)),
            ])
        };
        let consumer_7_2 = |pending, idle, inactive| {
            fields(vec![
                ("name", bulk("c1")),
                ("pending", Reply::Integer(pending)),
                ("idle", Reply::Integer(idle)),
                ("inactive", Reply::Integer(inactive)),
            ])
        };
        let info = Comparison::StreamInfo;
        let redis = RawReply::from_value(Reply::Array(vec![consumer_7_0(2, 100)]));
        let peregrine = RawReply::from_value(Reply::Array(vec![consumer_7_2(2, 7, -1)]));
        assert!(replies_match(info, "XINFO CONSUMERS", &redis, &peregrine));
        let more_pending = RawReply::from_value(Reply::Array(vec![consumer_7_2(3, 7, -1)]));
        assert!(!replies_match(
            info,
            "XINFO CONSUMERS",
            &redis,
            &more_pending
        ));
    }

    #[test]
    fn full_stream_info_masks_layout_and_delivery_times_only() {
        let full = |nodes, time, seen, deliveries, extra: bool| {
            let mut consumer = vec![("name", bulk("c1")), ("seen-time", Reply::Integer(seen))];
            if extra {
                consumer.push(("active-time", Reply::Integer(seen)));
            }
            consumer.push(("pel-count", Reply::Integer(1)));
            consumer.push((
                "pending",
                Reply::Array(vec![Reply::Array(vec![
                    bulk("1-0"),
                    Reply::Integer(time),
                    Reply::Integer(deliveries),
                ])]),
            ));
            let group = fields(vec![
                ("name", bulk("g1")),
                ("pel-count", Reply::Integer(1)),
                (
                    "pending",
                    Reply::Array(vec![Reply::Array(vec![
                        bulk("1-0"),
                        bulk("c1"),
                        Reply::Integer(time),
                        Reply::Integer(deliveries),
                    ])]),
                ),
                ("consumers", Reply::Array(vec![fields(consumer)])),
            ]);
            RawReply::from_value(fields(vec![
                ("length", Reply::Integer(1)),
                ("radix-tree-keys", Reply::Integer(1)),
                ("radix-tree-nodes", Reply::Integer(nodes)),
                ("groups", Reply::Array(vec![group])),
            ]))
        };
        let info = Comparison::StreamInfo;
        let redis = full(2, 1_000, 1_000, 1, false);
        assert!(replies_match(
            info,
            "XINFO STREAM",
            &redis,
            &full(2, 2_000, 3_000, 1, true)
        ));
        assert!(!replies_match(
            info,
            "XINFO STREAM",
            &redis,
            &full(5, 1_000, 1_000, 1, false)
        ));
        assert!(!replies_match(
            info,
            "XINFO STREAM",
            &redis,
            &full(2, 1_000, 1_000, 2, false)
        ));
        // The same masks leave a group list's pending count alone.
        let groups = |pending| {
            RawReply::from_value(Reply::Array(vec![fields(vec![
                ("name", bulk("g1")),
                ("pending", Reply::Integer(pending)),
            ])]))
        };
        assert!(!replies_match(info, "XINFO GROUPS", &groups(1), &groups(2)));
        assert_eq!(stream_info_masked(&groups(1).value), groups(1).value);
    }
}
