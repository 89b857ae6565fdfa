//! The two stream replies the consumers read for their content: XREADGROUP's entries
//! (only the IDs are kept, as ranges into the reply, to be sent back in XACK) and
//! XPENDING's summary count.
//!
//! Both functions take one complete RESP2 reply, already delimited by
//! [`scan_reply`](crate::resp::scan_reply), so a shape they do not expect is a
//! [`ReadReply::Unexpected`] or `None`, never "need more bytes". They read server
//! bytes, so they use checked arithmetic and `get` rather than indexing.
//!
//! XREADGROUP's RESP2 reply to one stream, as Redis 7 sends it:
//!
//! ```text
//! *1                      one stream
//!   *2
//!     $<n> <key>
//!     *<k>                k entries
//!       *2
//!         $<n> <ms>-<seq> the ID
//!         *<2f> ...       f field-value pairs (nil for an entry deleted since)
//! ```
//!
//! and `*-1` (nil) when the group has nothing new. It is not a general stream client:
//! no RESP3 maps, no reply naming several streams.

use std::fmt;
use std::ops::Range;

use crate::resp::scan_reply;

/// A stream entry ID, `<milliseconds>-<sequence>`; IDs order by both, in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EntryId {
    /// The millisecond part.
    pub milliseconds: u64,
    /// The sequence number within the millisecond.
    pub sequence: u64,
}

impl EntryId {
    /// Parses `MS-SEQ`, two decimal numbers without signs; `None` for anything else.
    pub fn parse(text: &[u8]) -> Option<Self> {
        let dash = text.iter().position(|&byte| byte == b'-')?;
        let milliseconds = decimal(text.get(..dash)?)?;
        let sequence = decimal(text.get(dash + 1..)?)?;
        Some(Self {
            milliseconds,
            sequence,
        })
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}-{}", self.milliseconds, self.sequence)
    }
}

/// A non-empty run of ASCII digits as a `u64`, or `None` (also on overflow).
fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |value, &digit| {
        if !digit.is_ascii_digit() {
            return None;
        }
        value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    })
}

/// What one XREADGROUP answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadReply {
    /// Entries of the stream asked for, at least one; their IDs were appended to the
    /// caller's list.
    Entries,
    /// Nil or an empty array: the group has no entry left to deliver.
    Empty,
    /// An error reply, such as `-NOGROUP ...` or an unknown command.
    Error,
    /// A valid reply of another shape, described.
    Unexpected(&'static str),
}

/// Reads the complete XREADGROUP reply `reply` to a read of the one stream `key`:
/// appends the ID of every entry, with its place in `reply`, to `ids` (on
/// [`ReadReply::Entries`] only; on any other answer `ids` is left as it was).
pub fn parse_read_reply(
    reply: &[u8],
    key: &[u8],
    ids: &mut Vec<(EntryId, Range<usize>)>,
) -> ReadReply {
    let kept = ids.len();
    let answer = read_entries(reply, key, ids);
    if answer != ReadReply::Entries {
        ids.truncate(kept);
    }
    answer
}

fn read_entries(reply: &[u8], key: &[u8], ids: &mut Vec<(EntryId, Range<usize>)>) -> ReadReply {
    match reply.first() {
        Some(b'-') => return ReadReply::Error,
        Some(b'*') => {}
        _ => return ReadReply::Unexpected("not an array"),
    }
    let mut cursor = Cursor { reply, at: 0 };
    match cursor.header(b'*') {
        Some(-1 | 0) => return ReadReply::Empty,
        Some(1) => {}
        Some(_) => return ReadReply::Unexpected("entries of several streams"),
        None => return ReadReply::Unexpected("a malformed array header"),
    }
    if cursor.header(b'*') != Some(2) {
        return ReadReply::Unexpected("a stream that is not a [name, entries] pair");
    }
    match cursor.bulk() {
        Some(name) if reply.get(name.clone()) == Some(key) => {}
        Some(_) => return ReadReply::Unexpected("entries of another stream"),
        None => return ReadReply::Unexpected("a stream name that is not a bulk string"),
    }
    let entries = match cursor.header(b'*') {
        Some(0) => return ReadReply::Empty,
        Some(count) if count > 0 => count,
        _ => return ReadReply::Unexpected("an entry list that is not an array"),
    };
    for _ in 0..entries {
        if cursor.header(b'*') != Some(2) {
            return ReadReply::Unexpected("an entry that is not an [ID, fields] pair");
        }
        let Some(range) = cursor.bulk() else {
            return ReadReply::Unexpected("an entry ID that is not a bulk string");
        };
        let Some(id) = reply.get(range.clone()).and_then(EntryId::parse) else {
            return ReadReply::Unexpected("an entry ID that is not MS-SEQ");
        };
        ids.push((id, range));
        if cursor.skip().is_none() {
            return ReadReply::Unexpected("an entry without its fields");
        }
    }
    if cursor.at != reply.len() {
        return ReadReply::Unexpected("bytes after the entries");
    }
    ReadReply::Entries
}

/// The number of pending entries in the complete reply to `XPENDING key group` (the
/// summary form: `*4`, the count first), or `None` for any other reply.
pub fn pending_count(reply: &[u8]) -> Option<u64> {
    let mut cursor = Cursor { reply, at: 0 };
    if cursor.header(b'*')? != 4 {
        return None;
    }
    u64::try_from(cursor.header(b':')?).ok()
}

/// Walks the elements of one complete reply.
struct Cursor<'a> {
    reply: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    /// The number on a `<type_byte><number>\r\n` line at the cursor, which it passes.
    fn header(&mut self, type_byte: u8) -> Option<i64> {
        let rest = self.reply.get(self.at..)?;
        if rest.first() != Some(&type_byte) {
            return None;
        }
        let end = rest.windows(2).position(|pair| pair == b"\r\n")?;
        let text = std::str::from_utf8(rest.get(1..end)?).ok()?;
        let value = text.parse().ok()?;
        self.at = self.at.checked_add(end)?.checked_add(2)?;
        Some(value)
    }

    /// The place of the bytes of the bulk string at the cursor, which it passes.
    fn bulk(&mut self) -> Option<Range<usize>> {
        let length = usize::try_from(self.header(b'$')?).ok()?;
        let start = self.at;
        let end = start.checked_add(length)?;
        if self.reply.get(end..end.checked_add(2)?)? != b"\r\n" {
            return None;
        }
        self.at = end + 2;
        Some(start..end)
    }

    /// Passes the element at the cursor, whatever it is.
    fn skip(&mut self) -> Option<()> {
        let (_, length) = scan_reply(self.reply.get(self.at..)?).ok()??;
        self.at = self.at.checked_add(length)?;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Redis 7.0's reply to `XREADGROUP GROUP g c1 COUNT 10 STREAMS s >` on a stream of
    /// two entries `f v1` and `f v2`, byte for byte.
    const TWO_ENTRIES: &[u8] = b"*1\r\n*2\r\n$1\r\ns\r\n*2\r\n\
        *2\r\n$15\r\n1796555251659-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv1\r\n\
        *2\r\n$15\r\n1796555251675-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv2\r\n";

    fn ids_of(reply: &[u8], key: &[u8]) -> (ReadReply, Vec<(EntryId, String)>) {
        let mut ids = Vec::new();
        let answer = parse_read_reply(reply, key, &mut ids);
        let texts = ids
            .into_iter()
            .map(|(id, range)| (id, String::from_utf8(reply[range].to_vec()).expect("ascii")))
            .collect();
        (answer, texts)
    }

    fn id(milliseconds: u64, sequence: u64) -> EntryId {
        EntryId {
            milliseconds,
            sequence,
        }
    }

    #[test]
    fn entry_ids_parse_and_order() {
        assert_eq!(
            EntryId::parse(b"1796555251659-0"),
            Some(id(1796555251659, 0))
        );
        assert_eq!(EntryId::parse(b"0-1"), Some(id(0, 1)));
        assert_eq!(
            EntryId::parse(b"18446744073709551615-18446744073709551615"),
            Some(id(u64::MAX, u64::MAX))
        );
        for bad in [
            &b""[..],
            b"-",
            b"1-",
            b"-1",
            b"1",
            b"1-2-3",
            b"+1-2",
            b"1-x",
            b" 1-2",
            b"18446744073709551616-0",
        ] {
            assert_eq!(
                EntryId::parse(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(id(1, 5) < id(2, 0));
        assert_eq!(id(1796555251659, 7).to_string(), "1796555251659-7");
        assert!(id(2, 0) < id(2, 1));
    }

    #[test]
    fn reads_the_ids_of_redis_s_reply() {
        let (answer, ids) = ids_of(TWO_ENTRIES, b"s");
        assert_eq!(answer, ReadReply::Entries);
        assert_eq!(
            ids,
            [
                (id(1796555251659, 0), "1796555251659-0".to_owned()),
                (id(1796555251675, 0), "1796555251675-0".to_owned()),
            ]
        );
    }

    #[test]
    fn appends_to_the_ids_already_there() {
        let mut ids = vec![(id(1, 1), 0..0)];
        assert_eq!(
            parse_read_reply(TWO_ENTRIES, b"s", &mut ids),
            ReadReply::Entries
        );
        assert_eq!(ids.len(), 3);
        // A refused read leaves the list as it was, even after a partial walk.
        let mut bad = TWO_ENTRIES.to_vec();
        let last_id = bad.len() - 40;
        bad[last_id..last_id + 2].copy_from_slice(b"xx");
        assert!(matches!(
            parse_read_reply(&bad, b"s", &mut ids),
            ReadReply::Unexpected(_)
        ));
        assert_eq!(ids.len(), 3);
    }

    #[test]
    fn nothing_new_is_empty() {
        assert_eq!(ids_of(b"*-1\r\n", b"s"), (ReadReply::Empty, vec![]));
        assert_eq!(ids_of(b"*0\r\n", b"s"), (ReadReply::Empty, vec![]));
        assert_eq!(
            ids_of(b"*1\r\n*2\r\n$1\r\ns\r\n*0\r\n", b"s"),
            (ReadReply::Empty, vec![])
        );
    }

    #[test]
    fn an_entry_deleted_since_keeps_its_id() {
        let reply = b"*1\r\n*2\r\n$3\r\nkey\r\n*1\r\n*2\r\n$3\r\n5-7\r\n*-1\r\n";
        assert_eq!(
            ids_of(reply, b"key"),
            (ReadReply::Entries, vec![(id(5, 7), "5-7".to_owned())])
        );
    }

    #[test]
    fn errors_and_other_shapes_are_told_apart() {
        let nogroup =
            b"-NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option\r\n";
        assert_eq!(ids_of(nogroup, b"s").0, ReadReply::Error);
        for (reply, why) in [
            (&b":1\r\n"[..], "not an array"),
            (b"$-1\r\n", "not an array"),
            (TWO_ENTRIES, "entries of another stream"),
            (
                b"*2\r\n*2\r\n$1\r\ns\r\n*0\r\n*2\r\n$1\r\nt\r\n*0\r\n",
                "entries of several streams",
            ),
            (
                b"*1\r\n*3\r\n$1\r\ns\r\n*0\r\n:1\r\n",
                "a stream that is not",
            ),
            (b"*1\r\n*2\r\n:1\r\n*0\r\n", "a stream name"),
            (b"*1\r\n*2\r\n$1\r\ns\r\n$-1\r\n", "an entry list"),
            (
                b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*1\r\n$3\r\n1-1\r\n",
                "an entry that is not",
            ),
            (
                b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n:11\r\n*0\r\n",
                "an entry ID that is not a bulk",
            ),
            (
                b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\nabc\r\n*0\r\n",
                "an entry ID that is not MS-SEQ",
            ),
            (
                b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n",
                "an entry without",
            ),
        ] {
            let key: &[u8] = if reply == TWO_ENTRIES { b"t" } else { b"s" };
            let (answer, ids) = ids_of(reply, key);
            assert!(ids.is_empty());
            match answer {
                ReadReply::Unexpected(text) => assert!(
                    text.starts_with(why),
                    "{:?}: {text:?}",
                    String::from_utf8_lossy(reply)
                ),
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(reply)),
            }
        }
        let mut longer = TWO_ENTRIES.to_vec();
        longer.extend_from_slice(b"+OK\r\n");
        assert_eq!(
            ids_of(&longer, b"s").0,
            ReadReply::Unexpected("bytes after the entries")
        );
    }

    #[test]
    fn every_cut_of_a_reply_is_refused_not_misread() {
        // The caller hands over complete replies only; a shorter one must not yield IDs.
        for cut in 0..TWO_ENTRIES.len() {
            let (answer, ids) = ids_of(&TWO_ENTRIES[..cut], b"s");
            assert!(
                ids.is_empty() && answer != ReadReply::Entries,
                "cut at {cut}: {answer:?}"
            );
        }
    }

    #[test]
    fn reads_xpending_s_count() {
        // Redis 7.0's summary replies, with entries pending and without.
        assert_eq!(
            pending_count(
                b"*4\r\n:2\r\n$15\r\n1796555251659-0\r\n$15\r\n1796555251675-0\r\n\
                  *1\r\n*2\r\n$2\r\nc1\r\n$1\r\n2\r\n"
            ),
            Some(2)
        );
        assert_eq!(pending_count(b"*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n"), Some(0));
        for other in [
            &b"-NOGROUP No such key\r\n"[..],
            b":0\r\n",
            b"*3\r\n:0\r\n$-1\r\n$-1\r\n",
            b"*4\r\n:-1\r\n$-1\r\n$-1\r\n*-1\r\n",
            b"*4\r\n$1\r\n0\r\n$-1\r\n$-1\r\n*-1\r\n",
        ] {
            assert_eq!(
                pending_count(other),
                None,
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
    }
}
