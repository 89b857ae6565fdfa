//! Stream entry IDs: `<milliseconds>-<sequence>`, ordered as 128-bit numbers.

use std::fmt;

/// A stream entry ID. Ordered by milliseconds, then sequence, as Redis compares them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    /// The milliseconds part.
    pub ms: u64,
    /// The sequence part.
    pub seq: u64,
}

impl StreamId {
    /// `0-0`: smaller than every entry ID (no entry may have it).
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The largest ID there is.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// An ID from its two parts.
    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// True for `0-0`.
    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// The next ID, or `None` after [`StreamId::MAX`] (Redis's `streamIncrID`).
    pub fn successor(self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (u64::MAX, u64::MAX) => None,
            (ms, u64::MAX) => Some(StreamId::new(ms + 1, 0)),
            (ms, seq) => Some(StreamId::new(ms, seq + 1)),
        }
    }

    /// The previous ID, or `None` before `0-0` (Redis's `streamDecrID`).
    pub fn predecessor(self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (0, 0) => None,
            (ms, 0) => Some(StreamId::new(ms - 1, u64::MAX)),
            (ms, seq) => Some(StreamId::new(ms, seq - 1)),
        }
    }

    /// Parses `<ms>-<seq>` or `<ms>` (the sequence is then `missing_seq`), as Redis's
    /// `streamGenericParseIDOrReply` without the special `-` and `+` forms. Digits only
    /// (no sign, no spaces), each part a `u64`, at most 127 bytes in all.
    pub fn parse(text: &[u8], missing_seq: u64) -> Option<StreamId> {
        if text.len() > 127 {
            return None;
        }
        match text.iter().position(|&byte| byte == b'-') {
            Some(dash) => Some(StreamId::new(
                parse_u64(&text[..dash])?,
                parse_u64(&text[dash + 1..])?,
            )),
            None => Some(StreamId::new(parse_u64(text)?, missing_seq)),
        }
    }
}

/// Redis's `string2ull`: the canonical form of a non-negative `i64`, or else whatever
/// C's `strtoull` accepts in full (leading blanks, a sign, leading zeros; a `-` negates
/// modulo 2^64, as C does).
fn parse_u64(text: &[u8]) -> Option<u64> {
    if let Some(value) = crate::value::canonical_integer(text) {
        return u64::try_from(value).ok();
    }
    let start = text
        .iter()
        .position(|&byte| !matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    let (negative, digits) = match &text[start..] {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        rest => (false, rest),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: u64 = 0;
    for &digit in digits {
        value = value
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
    }
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

impl fmt::Display for StreamId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}-{}", self.ms, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_wrap_as_redis() {
        assert_eq!(StreamId::new(1, 5).successor(), Some(StreamId::new(1, 6)));
        assert_eq!(
            StreamId::new(1, u64::MAX).successor(),
            Some(StreamId::new(2, 0))
        );
        assert_eq!(StreamId::MAX.successor(), None);
        assert_eq!(
            StreamId::new(2, 0).predecessor(),
            Some(StreamId::new(1, u64::MAX))
        );
        assert_eq!(StreamId::MIN.predecessor(), None);
    }

    #[test]
    fn parses_full_and_partial_ids() {
        assert_eq!(StreamId::parse(b"12-3", 0), Some(StreamId::new(12, 3)));
        assert_eq!(StreamId::parse(b"12", 7), Some(StreamId::new(12, 7)));
        // strtoull's leniency, as Redis inherits it.
        assert_eq!(StreamId::parse(b"+1-01", 0), Some(StreamId::new(1, 1)));
        assert_eq!(StreamId::parse(b" 5", 0), Some(StreamId::new(5, 0)));
        for bad in [
            &b""[..],
            b"-",
            b"1-",
            b"-1",
            b"a-1",
            b"1-b",
            b"1-2-3",
            b"1--5",
        ] {
            assert_eq!(StreamId::parse(bad, 0), None, "{bad:?}");
        }
        assert_eq!(
            StreamId::parse(b"18446744073709551615-18446744073709551615", 0),
            Some(StreamId::MAX)
        );
        assert_eq!(StreamId::parse(b"18446744073709551616", 0), None);
    }
}
