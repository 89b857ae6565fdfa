//! Reply values and their encoding in RESP2 and RESP3.

use bytes::Bytes;
use std::borrow::Cow;
use std::fmt::Write;

/// The protocol version a connection speaks (chosen with `HELLO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2: the default of every new connection.
    #[default]
    Resp2,
    /// RESP3: maps, sets, doubles, booleans, nulls and push messages.
    Resp3,
}

/// A reply as a value. Shards produce replies; only the connection encodes them, because
/// only it knows which protocol the client speaks.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `+OK`.
    Ok,
    /// A simple string (`+text`), e.g. `PONG` or a type name.
    Status(Cow<'static, str>),
    /// An error (`-text`); the text includes its code, e.g. `ERR syntax error`.
    Error(Cow<'static, str>),
    /// An error whose text is not valid UTF-8 (it echoes client bytes); same wire form.
    BinaryError(Bytes),
    /// An integer (`:n`).
    Integer(i64),
    /// A bulk string (`$n`).
    Bulk(Bytes),
    /// The null bulk string: `$-1` in RESP2, `_` in RESP3.
    Nil,
    /// The null array: `*-1` in RESP2, `_` in RESP3.
    NilArray,
    /// An array (`*n`).
    Array(Vec<Reply>),
    /// A map (`%n` in RESP3, a flat array of pairs in RESP2).
    Map(Vec<(Reply, Reply)>),
    /// Keyed records (XREAD's streams, LMPOP-style results): a map in RESP3, an array
    /// of two-element arrays in RESP2.
    Records(Vec<(Reply, Reply)>),
    /// A set (`~n` in RESP3, an array in RESP2).
    Set(Vec<Reply>),
    /// Pairs (ZRANGE WITHSCORES, HRANDFIELD WITHVALUES): an array of two-element arrays in
    /// RESP3, one flat array in RESP2.
    Pairs(Vec<(Reply, Reply)>),
    /// A double (`,x` in RESP3, a bulk string in RESP2).
    Double(f64),
    /// A double written as Redis's `addReplyHumanLongDouble` writes it (GEOPOS and
    /// WITHCOORD coordinates): `%.17Lf` without trailing zeros ([`format_human_double`]),
    /// as a `,` line in RESP3 and a bulk string in RESP2.
    HumanDouble(f64),
    /// A boolean (`#t`/`#f` in RESP3, `:1`/`:0` in RESP2).
    Bool(bool),
    /// Verbatim text with its three-letter format (`=n` in RESP3, a bulk in RESP2).
    Verbatim(&'static str, Bytes),
    /// Out-of-band data (`>n` in RESP3, an array in RESP2), e.g. pub/sub messages.
    Push(Vec<Reply>),
    /// Bytes already encoded, sent as they are (e.g. a reply relayed verbatim).
    Raw(Bytes),
}

impl Reply {
    /// A bulk reply holding a copy of `bytes`.
    pub fn bulk(bytes: impl AsRef<[u8]>) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(bytes.as_ref()))
    }

    /// A simple-string reply from a static text.
    pub fn status(text: &'static str) -> Reply {
        Reply::Status(Cow::Borrowed(text))
    }

    /// An error reply; `text` starts with the error code (`ERR ...`, `WRONGTYPE ...`).
    pub fn error(text: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Error(text.into())
    }

    /// An array of bulk strings, encoded at once into one buffer (arrays of bulk strings
    /// read the same in RESP2 and RESP3): the reply of LRANGE and count pops, without a
    /// `Reply` and a shared-buffer handle per element.
    pub fn bulk_array<'a>(elements: impl Iterator<Item = &'a [u8]> + Clone) -> Reply {
        let (count, bytes) = elements
            .clone()
            .fold((0usize, 0usize), |(count, bytes), element| {
                (count + 1, bytes + element.len())
            });
        let mut out = Vec::with_capacity(16 + count * 16 + bytes);
        let mut digits = itoa::Buffer::new();
        out.push(b'*');
        out.extend_from_slice(digits.format(count).as_bytes());
        out.extend_from_slice(b"\r\n");
        for element in elements {
            out.push(b'$');
            out.extend_from_slice(digits.format(element.len()).as_bytes());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(element);
            out.extend_from_slice(b"\r\n");
        }
        Reply::Raw(Bytes::from(out))
    }

    /// A HELP reply: one simple string per line, as Redis's `addReplyHelp`.
    pub fn help(lines: &[&'static str]) -> Reply {
        Reply::Array(lines.iter().map(|line| Reply::status(line)).collect())
    }

    /// True for error replies (used by statistics and by `CLIENT REPLY`).
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_) | Reply::BinaryError(_))
    }

    /// Appends this reply's bytes in `protocol` to `out`.
    pub fn encode(&self, protocol: Protocol, out: &mut Vec<u8>) {
        let resp3 = protocol == Protocol::Resp3;
        match self {
            Reply::Ok => out.extend_from_slice(b"+OK\r\n"),
            Reply::Status(text) => line(out, b'+', text.as_bytes()),
            Reply::Error(text) => line(out, b'-', text.as_bytes()),
            Reply::BinaryError(text) => line(out, b'-', text),
            Reply::Integer(value) => integer_line(out, b':', *value),
            Reply::Bulk(bytes) => bulk(out, bytes),
            Reply::Nil if resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
            Reply::NilArray if resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::NilArray => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(items) => {
                integer_line(out, b'*', items.len() as i64);
                items.iter().for_each(|item| item.encode(protocol, out));
            }
            Reply::Map(pairs) => {
                if resp3 {
                    integer_line(out, b'%', pairs.len() as i64);
                } else {
                    integer_line(out, b'*', 2 * pairs.len() as i64);
                }
                for (key, value) in pairs {
                    key.encode(protocol, out);
                    value.encode(protocol, out);
                }
            }
            Reply::Pairs(pairs) => {
                let flat = if resp3 { 1 } else { 2 };
                integer_line(out, b'*', flat * pairs.len() as i64);
                for (first, second) in pairs {
                    if resp3 {
                        out.extend_from_slice(b"*2\r\n");
                    }
                    first.encode(protocol, out);
                    second.encode(protocol, out);
                }
            }
            Reply::Records(pairs) => {
                integer_line(out, if resp3 { b'%' } else { b'*' }, pairs.len() as i64);
                for (key, value) in pairs {
                    if !resp3 {
                        out.extend_from_slice(b"*2\r\n");
                    }
                    key.encode(protocol, out);
                    value.encode(protocol, out);
                }
            }
            Reply::Set(items) => {
                integer_line(out, if resp3 { b'~' } else { b'*' }, items.len() as i64);
                items.iter().for_each(|item| item.encode(protocol, out));
            }
            Reply::Push(items) => {
                integer_line(out, if resp3 { b'>' } else { b'*' }, items.len() as i64);
                items.iter().for_each(|item| item.encode(protocol, out));
            }
            Reply::Double(value) => {
                let text = format_double(*value);
                if resp3 {
                    line(out, b',', text.as_bytes());
                } else {
                    bulk(out, text.as_bytes());
                }
            }
            Reply::HumanDouble(value) => {
                let mut buffer = HumanDoubleText::default();
                let text = buffer.format(*value);
                if resp3 {
                    line(out, b',', text);
                } else {
                    bulk(out, text);
                }
            }
            Reply::Bool(value) if resp3 => {
                out.extend_from_slice(if *value { b"#t\r\n" } else { b"#f\r\n" })
            }
            Reply::Bool(value) => integer_line(out, b':', i64::from(*value)),
            Reply::Verbatim(format, text) if resp3 => {
                integer_line(out, b'=', text.len() as i64 + 4);
                out.extend_from_slice(format.as_bytes());
                out.push(b':');
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Verbatim(_, text) => bulk(out, text),
            Reply::Raw(bytes) => out.extend_from_slice(bytes),
        }
    }

    /// This reply encoded in `protocol`, as a fresh buffer (handy in tests).
    pub fn to_bytes(&self, protocol: Protocol) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(protocol, &mut out);
        out
    }
}

fn line(out: &mut Vec<u8>, marker: u8, text: &[u8]) {
    out.push(marker);
    // A status or error line must not break the framing: Redis replaces newlines.
    if text.iter().any(|&byte| byte == b'\r' || byte == b'\n') {
        out.extend(text.iter().map(|&byte| match byte {
            b'\r' | b'\n' => b' ',
            other => other,
        }));
    } else {
        out.extend_from_slice(text);
    }
    out.extend_from_slice(b"\r\n");
}

fn integer_line(out: &mut Vec<u8>, marker: u8, value: i64) {
    out.push(marker);
    let mut buffer = itoa::Buffer::new();
    out.extend_from_slice(buffer.format(value).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    integer_line(out, b'$', bytes.len() as i64);
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// Appends `bytes` as a bulk string (the same in RESP2 and RESP3): for replies encoded
/// piece by piece instead of built as a [`Reply`].
pub fn encode_bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    bulk(out, bytes);
}

/// Appends the header of an aggregate of `count` elements: `marker` is `*` (array), `~`
/// (RESP3 set), `%` (RESP3 map) or `>` (RESP3 push). For replies encoded piece by piece.
pub fn encode_header(out: &mut Vec<u8>, marker: u8, count: usize) {
    integer_line(out, marker, count as i64);
}

/// Formats a double as Redis 7.2 does in replies: the shortest text that reads back as the
/// same value, in `%g` style (exponent form below 1e-4 and from 1e17 on), `inf`, `-inf`,
/// `nan`.
pub fn format_double(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if !(-4..17).contains(&exponent) {
        let mut out = String::with_capacity(24);
        let _ = write!(
            out,
            "{mantissa}e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.abs()
        );
        out
    } else {
        format!("{value}")
    }
}

/// Formats a double as Redis's `ld2string(LD_STR_HUMAN)` does for a value that is exactly
/// a double: `%.17f` (exact, ties to even), then trailing zeros and a trailing dot removed,
/// `-0` written `0`; `inf`, `-inf`, `nan` for the others.
pub fn format_human_double(value: f64) -> String {
    let mut buffer = HumanDoubleText::default();
    String::from_utf8_lossy(buffer.format(value)).into_owned()
}

/// A stack buffer for [`format_human_double`]'s text: no allocation for the values
/// coordinates take (up to 32 bytes; longer texts go to the heap).
#[derive(Default)]
struct HumanDoubleText {
    text: Vec<u8>,
    inline: [u8; 32],
    length: usize,
}

impl HumanDoubleText {
    fn format(&mut self, value: f64) -> &[u8] {
        use std::io::Write as _;
        if value.is_nan() {
            return b"nan";
        }
        if value.is_infinite() {
            return if value > 0.0 { b"inf" } else { b"-inf" };
        }
        let mut cursor = std::io::Cursor::new(&mut self.inline[..]);
        let text: &mut [u8] = if write!(cursor, "{value:.17}").is_ok() {
            self.length = cursor.position() as usize;
            &mut self.inline[..self.length]
        } else {
            self.text = format!("{value:.17}").into_bytes();
            &mut self.text[..]
        };
        let mut end = text.len();
        while end > 0 && text[end - 1] == b'0' {
            end -= 1;
        }
        if end > 0 && text[end - 1] == b'.' {
            end -= 1;
        }
        if &text[..end] == b"-0" {
            return b"0";
        }
        &text[..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_both_protocols() {
        let reply = Reply::Map(vec![(Reply::bulk("a"), Reply::Integer(1))]);
        assert_eq!(reply.to_bytes(Protocol::Resp2), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(reply.to_bytes(Protocol::Resp3), b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(Reply::Nil.to_bytes(Protocol::Resp2), b"$-1\r\n");
        assert_eq!(Reply::Nil.to_bytes(Protocol::Resp3), b"_\r\n");
        assert_eq!(
            Reply::Double(1.5).to_bytes(Protocol::Resp2),
            b"$3\r\n1.5\r\n"
        );
        assert_eq!(Reply::Double(1.5).to_bytes(Protocol::Resp3), b",1.5\r\n");
        assert_eq!(Reply::Bool(true).to_bytes(Protocol::Resp2), b":1\r\n");
        let pairs = Reply::Pairs(vec![(Reply::bulk("m"), Reply::Double(2.0))]);
        assert_eq!(
            pairs.to_bytes(Protocol::Resp2),
            b"*2\r\n$1\r\nm\r\n$1\r\n2\r\n"
        );
        assert_eq!(
            pairs.to_bytes(Protocol::Resp3),
            b"*1\r\n*2\r\n$1\r\nm\r\n,2\r\n"
        );
        assert_eq!(
            Reply::error("ERR x\ny").to_bytes(Protocol::Resp2),
            b"-ERR x y\r\n"
        );
    }

    #[test]
    fn human_doubles_format_like_redis() {
        assert_eq!(
            format_human_double(13.361389338970184),
            "13.36138933897018433"
        );
        assert_eq!(format_human_double(180.0), "180");
        assert_eq!(format_human_double(-0.0), "0");
        assert_eq!(format_human_double(-1e-30), "0");
        assert_eq!(format_human_double(0.5), "0.5");
        assert_eq!(format_human_double(2f64.powi(-18)), "0.00000381469726562");
        assert_eq!(format_human_double(1e300).len(), 301);
        assert_eq!(
            Reply::HumanDouble(0.5).to_bytes(Protocol::Resp2),
            b"$3\r\n0.5\r\n"
        );
        assert_eq!(
            Reply::HumanDouble(0.5).to_bytes(Protocol::Resp3),
            b",0.5\r\n"
        );
    }

    #[test]
    fn doubles_format_like_redis() {
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(0.1), "0.1");
        assert_eq!(format_double(1e17), "1e+17");
        assert_eq!(format_double(1.5e-5), "1.5e-05");
        assert_eq!(format_double(123456.789), "123456.789");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
    }
}
