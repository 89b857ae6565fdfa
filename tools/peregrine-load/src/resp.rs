//! Just enough RESP for a load generator: encoding commands (SET and GET without
//! building an argument list), and finding where each reply ends and what kind it is.
//!
//! [`scan_reply`] reads RESP2 only and refuses RESP3's types; [`scan_reply_resp3`]
//! accepts them too (after `HELLO 3`). The scanners never copy a reply and never
//! allocate. "Need more bytes" is `Ok(None)`; bytes that are not RESP are a
//! [`ProtocolError`]. They read server bytes, so they use checked arithmetic and `get`
//! rather than indexing.

use std::fmt;

/// Deepest array nesting accepted in a reply.
const MAX_DEPTH: usize = 32;

/// Largest bulk string accepted (Redis's default `proto-max-bulk-len`).
const MAX_BULK_LENGTH: usize = 512 * 1024 * 1024;

/// What a reply was, as far as counting hits and errors needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    /// `+...`, such as SET's `+OK`.
    Simple,
    /// `-...`: the server refused the command.
    Error,
    /// `:n`
    Integer,
    /// `$n` with its bytes: a GET hit.
    Bulk,
    /// `$-1` (or `*-1`, `_` is not RESP2): a GET miss.
    Nil,
    /// `*n` with its elements (and in RESP3 `%n` maps and `~n` sets).
    Array,
    /// RESP3 only: `>n`, an out-of-band push such as a pub/sub message.
    Push,
    /// RESP3 only: a boolean, double or big number.
    Scalar,
}

/// Which protocol a reply is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Resp2,
    Resp3,
}

/// The server's bytes are not a RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "malformed reply: {}", self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// Appends `SET key value` to `out`.
pub fn encode_set(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    out.extend_from_slice(b"*3\r\n$3\r\nSET\r\n");
    encode_bulk(out, key);
    encode_bulk(out, value);
}

/// Appends `GET key` to `out`.
pub fn encode_get(out: &mut Vec<u8>, key: &[u8]) {
    out.extend_from_slice(b"*2\r\n$3\r\nGET\r\n");
    encode_bulk(out, key);
}

/// Appends the command `arguments` (its name first) to `out`.
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, arguments: &[A]) {
    out.push(b'*');
    out.extend_from_slice(arguments.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for argument in arguments {
        encode_bulk(out, argument.as_ref());
    }
}

fn encode_bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(bytes.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// A reply (or any server bytes) as text for a message: its first 200 bytes, lossily,
/// without the trailing CRLF.
pub fn describe(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes.get(..200).unwrap_or(bytes))
        .trim_end()
        .to_owned()
}

/// The value of a complete integer reply `:n\r\n`, or `None` for any other reply.
pub fn integer_reply(reply: &[u8]) -> Option<i64> {
    let digits = reply.strip_prefix(b":")?.strip_suffix(b"\r\n")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The first complete RESP2 reply in `buffer`: its kind and its length in bytes, or
/// `Ok(None)` when the buffer ends before the reply does.
pub fn scan_reply(buffer: &[u8]) -> Result<Option<(ReplyKind, usize)>, ProtocolError> {
    scan_at(buffer, 0, 0, Protocol::Resp2)
}

/// [`scan_reply`] for a connection that switched to RESP3: maps, sets, pushes, nulls,
/// booleans, doubles, big numbers, verbatim strings and blob errors as well. An
/// attribute (`|n`) is skipped together with the reply it annotates, whose kind is
/// returned.
pub fn scan_reply_resp3(buffer: &[u8]) -> Result<Option<(ReplyKind, usize)>, ProtocolError> {
    scan_at(buffer, 0, 0, Protocol::Resp3)
}

/// Scans the reply starting at `start`; returns its kind and the offset just past it.
fn scan_at(
    buffer: &[u8],
    start: usize,
    depth: usize,
    protocol: Protocol,
) -> Result<Option<(ReplyKind, usize)>, ProtocolError> {
    let Some(line_end) = find_crlf(buffer, start) else {
        return Ok(None);
    };
    let Some((&type_byte, line)) = buffer
        .get(start..line_end)
        .and_then(|header| header.split_first())
    else {
        return Err(ProtocolError("empty line".to_owned()));
    };
    let after_line = line_end + 2;
    match type_byte {
        b'+' => Ok(Some((ReplyKind::Simple, after_line))),
        b'-' => Ok(Some((ReplyKind::Error, after_line))),
        b':' => {
            parse_integer(line)?;
            Ok(Some((ReplyKind::Integer, after_line)))
        }
        b'$' | b'=' | b'!' if type_byte == b'$' || protocol == Protocol::Resp3 => {
            let length = parse_integer(line)?;
            if length == -1 && type_byte == b'$' {
                return Ok(Some((ReplyKind::Nil, after_line)));
            }
            let length = usize::try_from(length)
                .ok()
                .filter(|&length| length <= MAX_BULK_LENGTH)
                .ok_or_else(|| ProtocolError(format!("bulk length {length}")))?;
            let end = after_line
                .checked_add(length)
                .and_then(|end| end.checked_add(2))
                .ok_or_else(|| ProtocolError(format!("bulk length {length}")))?;
            let kind = if type_byte == b'!' {
                ReplyKind::Error
            } else {
                ReplyKind::Bulk
            };
            match buffer.get(end - 2..end) {
                None => Ok(None),
                Some(b"\r\n") => Ok(Some((kind, end))),
                Some(_) => Err(ProtocolError("bulk string without its CRLF".to_owned())),
            }
        }
        b'*' | b'%' | b'~' | b'>' | b'|' if type_byte == b'*' || protocol == Protocol::Resp3 => {
            let count = parse_integer(line)?;
            if count == -1 && type_byte == b'*' {
                return Ok(Some((ReplyKind::Nil, after_line)));
            }
            let count =
                u64::try_from(count).map_err(|_| ProtocolError(format!("array length {count}")))?;
            // A map or an attribute holds a key and a value per entry.
            let elements = match type_byte {
                b'%' | b'|' => count.checked_mul(2),
                _ => Some(count),
            }
            .ok_or_else(|| ProtocolError(format!("map length {count}")))?;
            if depth >= MAX_DEPTH {
                return Err(ProtocolError("arrays nested too deep".to_owned()));
            }
            let mut offset = after_line;
            for _ in 0..elements {
                match scan_at(buffer, offset, depth + 1, protocol)? {
                    Some((_, next)) => offset = next,
                    None => return Ok(None),
                }
            }
            match type_byte {
                b'|' => scan_at(buffer, offset, depth + 1, protocol),
                b'>' => Ok(Some((ReplyKind::Push, offset))),
                _ => Ok(Some((ReplyKind::Array, offset))),
            }
        }
        b'_' if protocol == Protocol::Resp3 && line.is_empty() => {
            Ok(Some((ReplyKind::Nil, after_line)))
        }
        b'#' if protocol == Protocol::Resp3 && matches!(line, b"t" | b"f") => {
            Ok(Some((ReplyKind::Scalar, after_line)))
        }
        b',' | b'(' if protocol == Protocol::Resp3 && !line.is_empty() => {
            Ok(Some((ReplyKind::Scalar, after_line)))
        }
        other => Err(ProtocolError(format!("unexpected type byte {other:#04x}"))),
    }
}

/// The offset of the first `\r\n` at or after `start`.
fn find_crlf(buffer: &[u8], start: usize) -> Option<usize> {
    let rest = buffer.get(start..)?;
    rest.windows(2)
        .position(|pair| pair == b"\r\n")
        .map(|position| start + position)
}

/// A signed decimal with no sign but `-`, as RESP writes lengths and integers.
fn parse_integer(text: &[u8]) -> Result<i64, ProtocolError> {
    std::str::from_utf8(text)
        .ok()
        .filter(|digits| !digits.starts_with('+'))
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| ProtocolError(format!("bad integer {:?}", String::from_utf8_lossy(text))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_set_and_get_as_resp_arrays() {
        let mut out = Vec::new();
        encode_set(&mut out, b"memtier-7", b"xyz");
        encode_get(&mut out, b"k");
        assert_eq!(
            out,
            b"*3\r\n$3\r\nSET\r\n$9\r\nmemtier-7\r\n$3\r\nxyz\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
        );
    }

    #[test]
    fn encodes_any_command_as_a_resp_array() {
        let mut out = Vec::new();
        encode_command(&mut out, &["EVALSHA", "ab", "1", ""]);
        encode_command::<&str>(&mut out, &[]);
        assert_eq!(
            out,
            b"*4\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$1\r\n1\r\n$0\r\n\r\n*0\r\n"
        );
    }

    #[test]
    fn scans_each_reply_type() {
        assert_eq!(scan_reply(b"+OK\r\n"), Ok(Some((ReplyKind::Simple, 5))));
        assert_eq!(scan_reply(b"-ERR no\r\n"), Ok(Some((ReplyKind::Error, 9))));
        assert_eq!(scan_reply(b":-12\r\n"), Ok(Some((ReplyKind::Integer, 6))));
        assert_eq!(scan_reply(b"$3\r\nabc\r\n"), Ok(Some((ReplyKind::Bulk, 9))));
        assert_eq!(scan_reply(b"$0\r\n\r\n"), Ok(Some((ReplyKind::Bulk, 6))));
        assert_eq!(scan_reply(b"$-1\r\n"), Ok(Some((ReplyKind::Nil, 5))));
        assert_eq!(scan_reply(b"*-1\r\n"), Ok(Some((ReplyKind::Nil, 5))));
        assert_eq!(
            scan_reply(b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n+next\r\n"),
            Ok(Some((ReplyKind::Array, 19)))
        );
    }

    #[test]
    fn scans_resp3_types_only_when_asked() {
        for (reply, kind) in [
            (&b"%1\r\n+a\r\n:1\r\n"[..], ReplyKind::Array),
            (b"~2\r\n:1\r\n:2\r\n", ReplyKind::Array),
            (
                b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nx\r\n",
                ReplyKind::Push,
            ),
            (b"_\r\n", ReplyKind::Nil),
            (b"#t\r\n", ReplyKind::Scalar),
            (b",1.5\r\n", ReplyKind::Scalar),
            (b"(12345678901234567890\r\n", ReplyKind::Scalar),
            (b"=7\r\ntxt:abc\r\n", ReplyKind::Bulk),
            (b"!5\r\nERR x\r\n", ReplyKind::Error),
            (b"|1\r\n+ttl\r\n:3\r\n:42\r\n", ReplyKind::Integer),
        ] {
            let text = String::from_utf8_lossy(reply);
            assert_eq!(
                scan_reply_resp3(reply),
                Ok(Some((kind, reply.len()))),
                "{text:?}"
            );
            assert!(scan_reply(reply).is_err(), "RESP2 accepted {text:?}");
            for cut in 0..reply.len() {
                assert_eq!(
                    scan_reply_resp3(&reply[..cut]),
                    Ok(None),
                    "{text:?} cut at {cut}"
                );
            }
        }
        // RESP2 stays readable with the RESP3 scanner.
        assert_eq!(
            scan_reply_resp3(b"*1\r\n$-1\r\n"),
            Ok(Some((ReplyKind::Array, 9)))
        );
        for bad in [&b"#x\r\n"[..], b"_1\r\n", b",\r\n", b"=-1\r\n", b"%-1\r\n"] {
            assert!(
                scan_reply_resp3(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn integer_replies_and_descriptions() {
        assert_eq!(integer_reply(b":42\r\n"), Some(42));
        assert_eq!(integer_reply(b":-1\r\n"), Some(-1));
        for other in [&b"+42\r\n"[..], b":42", b":x\r\n", b"$2\r\n42\r\n"] {
            assert_eq!(integer_reply(other), None);
        }
        assert_eq!(describe(b"-ERR no\r\n"), "-ERR no");
        assert_eq!(describe(&[b'x'; 300]).len(), 200);
        assert_eq!(describe(b"\xff\r\n"), "\u{fffd}");
    }

    #[test]
    fn a_bulk_string_may_contain_crlf() {
        assert_eq!(
            scan_reply(b"$4\r\n\r\n\r\n\r\n"),
            Ok(Some((ReplyKind::Bulk, 10)))
        );
    }

    #[test]
    fn incomplete_replies_need_more_bytes() {
        let whole = b"*2\r\n$5\r\nhello\r\n$-1\r\n";
        for cut in 0..whole.len() {
            assert_eq!(scan_reply(&whole[..cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(scan_reply(whole), Ok(Some((ReplyKind::Array, whole.len()))));
    }

    #[test]
    fn rejects_what_is_not_resp2() {
        for bad in [
            &b"OK\r\n"[..],
            b"\r\n",
            b"$abc\r\n",
            b"$+3\r\nabc\r\n",
            b"$-2\r\n",
            b"$3\r\nabcd\r\n",
            b"*-5\r\n",
            b"%1\r\n",
            b":1.5\r\n",
        ] {
            assert!(
                scan_reply(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "*1\r\n".repeat(MAX_DEPTH + 1);
        assert!(scan_reply(deep.as_bytes()).is_err());
        assert!(scan_reply(b"$9223372036854775807\r\n").is_err());
    }
}
