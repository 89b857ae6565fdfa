//! What a subscriber connection receives, parsed without copying or allocating:
//! message pushes, subscribe confirmations and PING's answer, as RESP2 arrays
//! (`*3 message`, `*4 pmessage`) or RESP3 pushes (`>3`, `>4`), and the payload format
//! of the messages this tool publishes.
//!
//! [`parse_push`] reads the common shapes directly and hands anything else (a reply
//! to HELLO, an error) to [`scan_reply_resp3`], so it never mistakes one frame for
//! another. [`PushReader`] reads a connection in large chunks and parses every
//! complete frame of each chunk; a frame split across reads waits for its end.

use std::io::{self, Read};

use crate::resp::{scan_reply_resp3, ProtocolError, ReplyKind};

/// Bytes of the header at the start of every payload: `p` and the publisher (6 hex
/// digits), `:` and the sequence number (10 hex digits).
pub const PAYLOAD_HEADER: usize = 18;

/// Largest publisher number the header holds.
pub const MAX_PUBLISHER: u32 = 0xff_ffff;

/// Largest sequence number the header holds.
pub const MAX_SEQUENCE: u64 = 0xff_ffff_ffff;

/// One frame received by a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push<'a> {
    /// A published message: `message` (pattern `None`) or `pmessage`.
    Message {
        /// The matching pattern, for `pmessage`.
        pattern: Option<&'a [u8]>,
        /// The channel it was published to.
        channel: &'a [u8],
        /// What was published.
        payload: &'a [u8],
    },
    /// The confirmation of SUBSCRIBE (`pattern` false) or PSUBSCRIBE.
    Subscribed {
        /// Whether it confirms a PSUBSCRIBE.
        pattern: bool,
        /// The channel or pattern.
        channel: &'a [u8],
        /// Subscriptions the connection now holds.
        count: i64,
    },
    /// PING's answer in subscribed mode: `*2 pong ""` in RESP2, `+PONG` in RESP3.
    Pong,
    /// Anything else, whole, with its kind: a reply to HELLO, an error.
    Other {
        /// Its kind.
        kind: ReplyKind,
        /// Its bytes.
        bytes: &'a [u8],
    },
}

/// The first complete frame of `buffer` and its length, or `Ok(None)` when the buffer
/// ends before the frame does.
pub fn parse_push(buffer: &[u8]) -> Result<Option<(Push<'_>, usize)>, ProtocolError> {
    match parse_known(buffer) {
        Parsed::Frame(push, length) => Ok(Some((push, length))),
        Parsed::Incomplete => Ok(None),
        Parsed::Unknown => Ok(scan_reply_resp3(buffer)?.map(|(kind, length)| {
            let bytes = buffer.get(..length).unwrap_or_default();
            let push = if kind == ReplyKind::Simple && bytes == b"+PONG\r\n" {
                Push::Pong
            } else {
                Push::Other { kind, bytes }
            };
            (push, length)
        })),
    }
}

/// The outcome of the fast path.
enum Parsed<'a> {
    Frame(Push<'a>, usize),
    Incomplete,
    /// Not one of the shapes it knows (or malformed): left to the general scanner.
    Unknown,
}

/// Reads `*n`/`>n` frames whose first element names a pub/sub frame kind.
fn parse_known(buffer: &[u8]) -> Parsed<'_> {
    let Some(&kind_byte) = buffer.first() else {
        return Parsed::Incomplete;
    };
    if kind_byte != b'*' && kind_byte != b'>' {
        return Parsed::Unknown;
    }
    let mut cursor = Cursor { buffer, at: 0 };
    let count = match cursor.header(kind_byte) {
        Field::Value(count) => count,
        Field::Incomplete => return Parsed::Incomplete,
        Field::Unknown => return Parsed::Unknown,
    };
    let name = match cursor.bulk() {
        Field::Value(name) => name,
        Field::Incomplete => return Parsed::Incomplete,
        Field::Unknown => return Parsed::Unknown,
    };
    let push = match (name, count) {
        (b"message", 3) => cursor.bulk().and_then(|channel| {
            cursor.bulk().map(|payload| Push::Message {
                pattern: None,
                channel,
                payload,
            })
        }),
        (b"pmessage", 4) => cursor.bulk().and_then(|pattern| {
            cursor.bulk().and_then(|channel| {
                cursor.bulk().map(|payload| Push::Message {
                    pattern: Some(pattern),
                    channel,
                    payload,
                })
            })
        }),
        (b"subscribe" | b"psubscribe", 3) => cursor.bulk().and_then(|channel| {
            cursor.integer().map(|count| Push::Subscribed {
                pattern: name == b"psubscribe",
                channel,
                count,
            })
        }),
        (b"pong", 2) => cursor.bulk().map(|_| Push::Pong),
        _ => Field::Unknown,
    };
    match push {
        Field::Value(push) => Parsed::Frame(push, cursor.at),
        Field::Incomplete => Parsed::Incomplete,
        Field::Unknown => Parsed::Unknown,
    }
}

/// One field of a frame.
enum Field<T> {
    Value(T),
    Incomplete,
    Unknown,
}

impl<T> Field<T> {
    fn and_then<U>(self, next: impl FnOnce(T) -> Field<U>) -> Field<U> {
        match self {
            Self::Value(value) => next(value),
            Self::Incomplete => Field::Incomplete,
            Self::Unknown => Field::Unknown,
        }
    }

    fn map<U>(self, convert: impl FnOnce(T) -> U) -> Field<U> {
        self.and_then(|value| Field::Value(convert(value)))
    }
}

/// A read position in a frame.
struct Cursor<'a> {
    buffer: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// A `TYPE<digits>\r\n` line: its non-negative number.
    fn header(&mut self, type_byte: u8) -> Field<u64> {
        let Some(rest) = self.buffer.get(self.at..) else {
            return Field::Incomplete;
        };
        match rest.first() {
            None => return Field::Incomplete,
            Some(&byte) if byte != type_byte => return Field::Unknown,
            Some(_) => {}
        }
        let mut value: u64 = 0;
        for (offset, &byte) in rest.iter().enumerate().skip(1) {
            match byte {
                b'0'..=b'9' => {
                    let Some(next) = value
                        .checked_mul(10)
                        .and_then(|value| value.checked_add(u64::from(byte - b'0')))
                    else {
                        return Field::Unknown;
                    };
                    value = next;
                }
                b'\r' if offset > 1 => {
                    return match rest.get(offset + 1) {
                        None => Field::Incomplete,
                        Some(b'\n') => {
                            self.at += offset + 2;
                            Field::Value(value)
                        }
                        Some(_) => Field::Unknown,
                    };
                }
                _ => return Field::Unknown,
            }
        }
        Field::Incomplete
    }

    /// A bulk string `$n\r\n<n bytes>\r\n`.
    fn bulk(&mut self) -> Field<&'a [u8]> {
        let length = match self.header(b'$') {
            Field::Value(length) => length,
            other => return other.map(|_| &[][..]),
        };
        let Some(end) = usize::try_from(length)
            .ok()
            .and_then(|length| self.at.checked_add(length))
        else {
            return Field::Unknown;
        };
        let (Some(bytes), Some(terminator)) = (
            self.buffer.get(self.at..end),
            self.buffer.get(end..end.saturating_add(2)),
        ) else {
            return Field::Incomplete;
        };
        if terminator != b"\r\n" {
            return Field::Unknown;
        }
        self.at = end + 2;
        Field::Value(bytes)
    }

    /// An integer `:n\r\n` (not negative: a subscription count).
    fn integer(&mut self) -> Field<i64> {
        self.header(b':')
            .and_then(|value| i64::try_from(value).map_or(Field::Unknown, Field::Value))
    }
}

/// Writes the payload of `publisher`'s message `sequence` into `payload`, whose
/// length ([`PAYLOAD_HEADER`] or more) is the message size: the header, then filler.
pub fn write_payload(payload: &mut [u8], publisher: u32, sequence: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut header = [0u8; PAYLOAD_HEADER];
    header[0] = b'p';
    for (index, slot) in header[1..7].iter_mut().enumerate() {
        let shift = 4 * (5 - index);
        *slot = DIGITS[((publisher >> shift) & 0xf) as usize];
    }
    header[7] = b':';
    for (index, slot) in header[8..].iter_mut().enumerate() {
        let shift = 4 * (9 - index);
        *slot = DIGITS[((sequence >> shift) & 0xf) as usize];
    }
    for (slot, byte) in payload.iter_mut().zip(header) {
        *slot = byte;
    }
}

/// A payload of `size` bytes: a header to be overwritten, then printable filler.
pub fn payload_template(size: usize) -> Vec<u8> {
    let mut payload: Vec<u8> = b"0123456789abcdefghijklmnopqrstuvwxyz"
        .iter()
        .copied()
        .cycle()
        .take(size)
        .collect();
    write_payload(&mut payload, 0, 0);
    payload
}

/// The publisher and sequence number in a payload's header, or `None` when it has
/// none.
pub fn read_payload(payload: &[u8]) -> Option<(u32, u64)> {
    let header = payload.get(..PAYLOAD_HEADER)?;
    if header.first() != Some(&b'p') || header.get(7) != Some(&b':') {
        return None;
    }
    let publisher = hex(header.get(1..7)?)?;
    let sequence = hex(header.get(8..)?)?;
    Some((u32::try_from(publisher).ok()?, sequence))
}

fn hex(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |value, &digit| {
        let nibble = match digit {
            b'0'..=b'9' => digit - b'0',
            b'a'..=b'f' => digit - b'a' + 10,
            _ => return None,
        };
        Some((value << 4) | u64::from(nibble))
    })
}

/// What one [`PushReader::read_some`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Frames were handled: `frames` of them (0 when a read ended inside a frame).
    Frames(usize),
    /// The read timed out with nothing new.
    TimedOut,
    /// The server closed the connection.
    Closed,
}

/// Reads a subscriber connection in large chunks and hands every complete frame to a
/// handler, keeping a partial frame for the next read.
#[derive(Debug)]
pub struct PushReader<R> {
    source: R,
    buffer: Vec<u8>,
    /// End of the bytes read.
    filled: usize,
    /// End of the bytes parsed.
    parsed: usize,
}

impl<R: Read> PushReader<R> {
    /// A reader of `source` starting with a buffer of `capacity` bytes (it grows to
    /// hold the largest frame).
    pub fn new(source: R, capacity: usize) -> Self {
        Self {
            source,
            buffer: vec![0; capacity.max(64)],
            filled: 0,
            parsed: 0,
        }
    }

    /// The connection, to write commands on it.
    pub fn source_mut(&mut self) -> &mut R {
        &mut self.source
    }

    /// Hands every complete frame already buffered to `handle`; if there was none,
    /// reads once (blocking up to the source's timeout) and hands those.
    pub fn read_some<E>(
        &mut self,
        mut handle: impl FnMut(Push<'_>) -> Result<(), E>,
    ) -> Result<ReadOutcome, E>
    where
        E: From<ProtocolError> + From<io::Error>,
    {
        let frames = self.parse_buffered(&mut handle)?;
        if frames > 0 {
            return Ok(ReadOutcome::Frames(frames));
        }
        self.make_room();
        let spare = self.buffer.get_mut(self.filled..).unwrap_or_default();
        let read = match self.source.read(spare) {
            Ok(0) => return Ok(ReadOutcome::Closed),
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => 0,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(ReadOutcome::TimedOut)
            }
            Err(error) => return Err(error.into()),
        };
        self.filled += read;
        Ok(ReadOutcome::Frames(self.parse_buffered(&mut handle)?))
    }

    fn parse_buffered<E>(
        &mut self,
        handle: &mut impl FnMut(Push<'_>) -> Result<(), E>,
    ) -> Result<usize, E>
    where
        E: From<ProtocolError>,
    {
        let mut frames = 0;
        while let Some((push, length)) = parse_push(
            self.buffer
                .get(self.parsed..self.filled)
                .unwrap_or_default(),
        )? {
            handle(push)?;
            self.parsed += length;
            frames += 1;
        }
        Ok(frames)
    }

    /// Moves a partial frame to the front, and doubles the buffer when it fills it.
    fn make_room(&mut self) {
        if self.parsed > 0 {
            // What is left is at most one partial frame: usually a few bytes.
            self.buffer.copy_within(self.parsed..self.filled, 0);
            self.filled -= self.parsed;
            self.parsed = 0;
        }
        if self.filled == self.buffer.len() {
            self.buffer.resize(self.buffer.len() * 2, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(channel: &str, payload: &str) -> String {
        format!(
            "*3\r\n$7\r\nmessage\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n",
            channel.len(),
            payload.len()
        )
    }

    #[test]
    fn parses_each_frame_kind() {
        let frame = message("ch", "hello");
        assert_eq!(
            parse_push(frame.as_bytes()),
            Ok(Some((
                Push::Message {
                    pattern: None,
                    channel: b"ch",
                    payload: b"hello"
                },
                frame.len()
            )))
        );
        let frame = b">4\r\n$8\r\npmessage\r\n$3\r\nc:*\r\n$3\r\nc:1\r\n$0\r\n\r\n";
        assert_eq!(
            parse_push(frame),
            Ok(Some((
                Push::Message {
                    pattern: Some(b"c:*"),
                    channel: b"c:1",
                    payload: b""
                },
                frame.len()
            )))
        );
        let frame = b"*3\r\n$10\r\npsubscribe\r\n$3\r\nc:*\r\n:1\r\n";
        assert_eq!(
            parse_push(frame),
            Ok(Some((
                Push::Subscribed {
                    pattern: true,
                    channel: b"c:*",
                    count: 1
                },
                frame.len()
            )))
        );
        let frame = b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:12\r\n";
        assert_eq!(
            parse_push(frame),
            Ok(Some((
                Push::Subscribed {
                    pattern: false,
                    channel: b"ch",
                    count: 12
                },
                frame.len()
            )))
        );
        assert_eq!(
            parse_push(b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"),
            Ok(Some((Push::Pong, 20)))
        );
        assert_eq!(parse_push(b"+PONG\r\n"), Ok(Some((Push::Pong, 7))));
    }

    #[test]
    fn other_frames_are_passed_whole() {
        let error = b"-ERR unknown command 'SUBSCRIBE'\r\n";
        assert_eq!(
            parse_push(error),
            Ok(Some((
                Push::Other {
                    kind: ReplyKind::Error,
                    bytes: error
                },
                error.len()
            )))
        );
        // HELLO 3's map, an unknown push and a message with the wrong arity.
        for frame in [
            &b"%1\r\n$6\r\nserver\r\n$5\r\nredis\r\n"[..],
            b">2\r\n$10\r\ninvalidate\r\n*0\r\n",
            b"*2\r\n$7\r\nmessage\r\n$1\r\nc\r\n",
            b"*3\r\n:1\r\n:2\r\n:3\r\n",
        ] {
            let parsed = parse_push(frame).expect("valid").expect("complete");
            assert_eq!(parsed.1, frame.len());
            assert!(
                matches!(parsed.0, Push::Other { .. }),
                "{:?}",
                String::from_utf8_lossy(frame)
            );
        }
        assert!(parse_push(b"*3\r\n$7\r\nmessage\r\n$1\r\ncXY").is_err());
        assert!(parse_push(b"?\r\n").is_err());
    }

    #[test]
    fn a_frame_cut_anywhere_needs_more_bytes() {
        let frames = [
            message("channel:1", "p000001:0000000002 and some filler"),
            ">4\r\n$8\r\npmessage\r\n$3\r\nc:*\r\n$3\r\nc:1\r\n$2\r\nxy\r\n".to_owned(),
            "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n".to_owned(),
            "%1\r\n$6\r\nserver\r\n$5\r\nredis\r\n".to_owned(),
        ];
        for frame in &frames {
            for cut in 0..frame.len() {
                assert_eq!(
                    parse_push(&frame.as_bytes()[..cut]),
                    Ok(None),
                    "{frame:?} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn payloads_carry_publisher_and_sequence() {
        let mut payload = payload_template(32);
        assert_eq!(payload.len(), 32);
        assert_eq!(read_payload(&payload), Some((0, 0)));
        write_payload(&mut payload, 0x12_3456, 0xab_cdef_0123);
        assert_eq!(&payload[..PAYLOAD_HEADER], b"p123456:abcdef0123");
        assert_eq!(&payload[PAYLOAD_HEADER..], b"ijklmnopqrstuv");
        assert_eq!(read_payload(&payload), Some((0x12_3456, 0xab_cdef_0123)));
        let mut exact = payload_template(PAYLOAD_HEADER);
        write_payload(&mut exact, MAX_PUBLISHER, MAX_SEQUENCE);
        assert_eq!(read_payload(&exact), Some((MAX_PUBLISHER, MAX_SEQUENCE)));
        for bad in [
            &b"p123456:abcdef012"[..],
            b"x123456:abcdef0123",
            b"p12345G:abcdef0123",
        ] {
            assert_eq!(read_payload(bad), None);
        }
    }

    /// Hands out `bytes` in the chunk sizes given, repeating the last, then ends.
    struct Chunked {
        bytes: Vec<u8>,
        at: usize,
        sizes: Vec<usize>,
        reads: usize,
    }

    impl Read for Chunked {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let size = self.sizes[self.reads.min(self.sizes.len() - 1)];
            self.reads += 1;
            let end = (self.at + size).min(self.bytes.len());
            let count = (end - self.at).min(out.len());
            out[..count].copy_from_slice(&self.bytes[self.at..self.at + count]);
            self.at += count;
            Ok(count)
        }
    }

    /// Everything `reader` yields until the end, as owned frames.
    fn drain(sizes: Vec<usize>, bytes: &[u8], capacity: usize) -> Vec<(Option<Vec<u8>>, Vec<u8>)> {
        let mut reader = PushReader::new(
            Chunked {
                bytes: bytes.to_vec(),
                at: 0,
                sizes,
                reads: 0,
            },
            capacity,
        );
        let mut seen = Vec::new();
        loop {
            let outcome = reader
                .read_some(|push| -> Result<(), anyhow::Error> {
                    match push {
                        Push::Message {
                            pattern, payload, ..
                        } => seen.push((pattern.map(<[u8]>::to_vec), payload.to_vec())),
                        other => panic!("unexpected {other:?}"),
                    }
                    Ok(())
                })
                .expect("valid frames");
            if outcome == ReadOutcome::Closed {
                return seen;
            }
        }
    }

    #[test]
    fn split_reads_yield_every_message_once_in_order() {
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for sequence in 0..200u64 {
            let mut payload = payload_template(20 + (sequence as usize * 7) % 90);
            write_payload(&mut payload, 3, sequence);
            let text = String::from_utf8(payload.clone()).expect("ascii");
            if sequence % 3 == 0 {
                stream.extend_from_slice(
                    format!(
                        ">4\r\n$8\r\npmessage\r\n$3\r\nc:*\r\n$3\r\nc:1\r\n${}\r\n{text}\r\n",
                        text.len()
                    )
                    .as_bytes(),
                );
                expected.push((Some(b"c:*".to_vec()), payload));
            } else {
                stream.extend_from_slice(message("c:1", &text).as_bytes());
                expected.push((None, payload));
            }
        }
        for (sizes, capacity) in [
            (vec![1], 64),
            (vec![2], 64),
            (vec![7], 100),
            (vec![13, 1, 4096], 64),
            (vec![100_000], 64 * 1024),
            (vec![333], 128),
        ] {
            assert_eq!(
                drain(sizes.clone(), &stream, capacity),
                expected,
                "chunks {sizes:?}, capacity {capacity}"
            );
        }
    }

    #[test]
    fn a_frame_larger_than_the_buffer_grows_it() {
        let payload = "x".repeat(1000);
        let frame = message("c", &payload);
        let seen = drain(vec![50], frame.as_bytes(), 64);
        assert_eq!(seen, [(None, payload.into_bytes())]);
    }
}
