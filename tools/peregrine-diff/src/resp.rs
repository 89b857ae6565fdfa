//! A tiny RESP2 client: encodes commands, reads exactly one full reply as raw bytes
//! (or, for a pipelined batch, one per command).
//!
//! The reader keeps the bytes of each reply exactly as they came off the wire
//! ([`RawReply::raw`]) so that the comparison can be byte for byte, and also parses
//! them ([`Reply`]) so that normalization rules and people can look inside.
//!
//! The parser is strict, because the other side is the server under test: an
//! integer with a `+` sign or a leading zero, a bulk string without its trailing
//! CRLF, or a RESP3 type byte is a [`ProtocolError`], not something to be lenient
//! about. "Need more bytes" is `Ok(None)`, never an error. Nesting is limited to
//! [`MAX_DEPTH`] so that a hostile reply cannot overflow the stack.
//!
//! Only the subscriber streams (`stream`) speak RESP3 ([`Protocol::Resp3`], after
//! `HELLO 3`): there the RESP3 types are read too, folded into the nearest
//! [`Reply`] variant (push, set and map into [`Reply::Array`], null into
//! [`Reply::Nil`], double, big number and verbatim string into [`Reply::Bulk`],
//! boolean into [`Reply::Integer`], blob error into [`Reply::Error`]); the raw
//! bytes keep the exact type, and comparisons use them.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

/// Deepest array nesting accepted in a reply.
pub const MAX_DEPTH: usize = 64;

/// Largest bulk string accepted (Redis's default `proto-max-bulk-len`).
pub const MAX_BULK_LENGTH: usize = 512 * 1024 * 1024;

/// How long a read may wait for the next bytes of a reply before giving up.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// One parsed RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reply {
    /// `+text`
    Simple(Vec<u8>),
    /// `-text`
    Error(Vec<u8>),
    /// `:number`
    Integer(i64),
    /// `$length` followed by the bytes.
    Bulk(Vec<u8>),
    /// `$-1`
    Nil,
    /// `*count` followed by the elements.
    Array(Vec<Reply>),
    /// `*-1`
    NilArray,
}

impl Reply {
    /// A one-line, printable rendering that tells every variant apart:
    /// `+OK`, `-ERR ...`, `:5`, `"bulk"` (escaped), `(nil)`, `[a, b]`, `(nil array)`.
    pub fn printable(&self) -> String {
        match self {
            Reply::Simple(text) => format!("+{}", escape_unquoted(text)),
            Reply::Error(text) => format!("-{}", escape_unquoted(text)),
            Reply::Integer(number) => format!(":{number}"),
            Reply::Bulk(bytes) => quote(bytes),
            Reply::Nil => "(nil)".to_owned(),
            Reply::Array(items) => {
                let parts: Vec<String> = items.iter().map(Reply::printable).collect();
                format!("[{}]", parts.join(", "))
            }
            Reply::NilArray => "(nil array)".to_owned(),
        }
    }

    /// Encodes the reply in RESP2, the inverse of [`parse_reply_in`] for RESP2.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Simple(text) => {
                out.push(b'+');
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Error(text) => {
                out.push(b'-');
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Integer(number) => out.extend_from_slice(format!(":{number}\r\n").as_bytes()),
            Reply::Bulk(bytes) => {
                out.extend_from_slice(format!("${}\r\n", bytes.len()).as_bytes());
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
            Reply::Array(items) => {
                out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
                for item in items {
                    item.encode_into(out);
                }
            }
            Reply::NilArray => out.extend_from_slice(b"*-1\r\n"),
        }
    }
}

/// A reply together with the exact bytes it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawReply {
    /// The bytes of this one reply, exactly as received.
    pub raw: Vec<u8>,
    /// The parsed form of `raw`.
    pub value: Reply,
}

impl RawReply {
    /// Builds a raw reply from a value by encoding it; used for replies the
    /// tester synthesizes after normalization.
    pub fn from_value(value: Reply) -> Self {
        Self {
            raw: value.encode(),
            value,
        }
    }
}

/// The bytes received are not valid RESP2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    /// What was wrong, in words.
    pub reason: String,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "protocol error: {}", self.reason)
    }
}

impl std::error::Error for ProtocolError {}

fn protocol_error(reason: impl Into<String>) -> ProtocolError {
    ProtocolError {
        reason: reason.into(),
    }
}

/// The protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, the default; every other type byte is an error.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

/// Parses one reply from the start of `buffer`.
///
/// Returns `Ok(Some((reply, consumed)))` when a whole reply is there,
/// `Ok(None)` when more bytes are needed, and an error when the bytes cannot
/// be the start of a valid RESP2 reply.
#[cfg(test)]
pub fn parse_reply(buffer: &[u8]) -> Result<Option<(Reply, usize)>, ProtocolError> {
    parse_at(buffer, 0, 0, Protocol::Resp2)
}

/// [`parse_reply`] for a connection speaking `protocol`.
pub fn parse_reply_in(
    buffer: &[u8],
    protocol: Protocol,
) -> Result<Option<(Reply, usize)>, ProtocolError> {
    parse_at(buffer, 0, 0, protocol)
}

fn parse_at(
    buffer: &[u8],
    start: usize,
    depth: usize,
    protocol: Protocol,
) -> Result<Option<(Reply, usize)>, ProtocolError> {
    if depth > MAX_DEPTH {
        return Err(protocol_error("arrays nested too deeply"));
    }
    let Some(&type_byte) = buffer.get(start) else {
        return Ok(None);
    };
    let Some((line, after_line)) = read_line(buffer, start.saturating_add(1))? else {
        return Ok(None);
    };
    let unexpected = || {
        Err(protocol_error(format!(
            "unexpected type byte {}",
            quote(&[type_byte])
        )))
    };
    match (type_byte, protocol) {
        (b'+', _) => Ok(Some((Reply::Simple(line.to_vec()), after_line))),
        (b'-', _) => Ok(Some((Reply::Error(line.to_vec()), after_line))),
        (b':', _) => Ok(Some((Reply::Integer(parse_integer(line)?), after_line))),
        (b'$', _) => parse_bulk(buffer, line, after_line),
        (b'*', _) => parse_array(buffer, line, after_line, depth, protocol, 1),
        (_, Protocol::Resp2) => unexpected(),
        (b'>' | b'~', Protocol::Resp3) => parse_array(buffer, line, after_line, depth, protocol, 1),
        (b'%', Protocol::Resp3) => parse_array(buffer, line, after_line, depth, protocol, 2),
        (b'_', Protocol::Resp3) if line.is_empty() => Ok(Some((Reply::Nil, after_line))),
        (b',' | b'(', Protocol::Resp3) => Ok(Some((Reply::Bulk(line.to_vec()), after_line))),
        (b'#', Protocol::Resp3) => match line {
            b"t" => Ok(Some((Reply::Integer(1), after_line))),
            b"f" => Ok(Some((Reply::Integer(0), after_line))),
            _ => Err(protocol_error(format!("invalid boolean {}", quote(line)))),
        },
        (b'=' | b'!', Protocol::Resp3) => {
            let blob = parse_bulk(buffer, line, after_line)?;
            Ok(blob.map(|(reply, end)| match reply {
                Reply::Bulk(bytes) if type_byte == b'!' => (Reply::Error(bytes), end),
                other => (other, end),
            }))
        }
        (_, Protocol::Resp3) => unexpected(),
    }
}

fn parse_bulk(
    buffer: &[u8],
    header: &[u8],
    body_start: usize,
) -> Result<Option<(Reply, usize)>, ProtocolError> {
    let length = parse_integer(header)?;
    if length == -1 {
        return Ok(Some((Reply::Nil, body_start)));
    }
    let length = usize::try_from(length)
        .ok()
        .filter(|length| *length <= MAX_BULK_LENGTH)
        .ok_or_else(|| protocol_error(format!("invalid bulk length {length}")))?;
    let body_end = body_start
        .checked_add(length)
        .ok_or_else(|| protocol_error("bulk length overflows"))?;
    let reply_end = body_end
        .checked_add(2)
        .ok_or_else(|| protocol_error("bulk length overflows"))?;
    let Some(terminator) = buffer.get(body_end..reply_end) else {
        return Ok(None);
    };
    if terminator != b"\r\n" {
        return Err(protocol_error("bulk string not followed by CRLF"));
    }
    let body = buffer
        .get(body_start..body_end)
        .ok_or_else(|| protocol_error("bulk body out of bounds"))?;
    Ok(Some((Reply::Bulk(body.to_vec()), reply_end)))
}

/// An array (or a RESP3 push, set or map) of `count` groups of `group` elements.
fn parse_array(
    buffer: &[u8],
    header: &[u8],
    mut position: usize,
    depth: usize,
    protocol: Protocol,
    group: usize,
) -> Result<Option<(Reply, usize)>, ProtocolError> {
    let count = parse_integer(header)?;
    if count == -1 {
        return Ok(Some((Reply::NilArray, position)));
    }
    let count = usize::try_from(count)
        .ok()
        .and_then(|count| count.checked_mul(group))
        .ok_or_else(|| protocol_error(format!("invalid array length {count}")))?;
    // Each element takes at least three bytes, so a count larger than what can
    // still arrive is only bounded by memory; grow the vector as elements come.
    let mut items = Vec::new();
    for _ in 0..count {
        match parse_at(buffer, position, depth.saturating_add(1), protocol)? {
            Some((item, next)) => {
                items.push(item);
                position = next;
            }
            None => return Ok(None),
        }
    }
    Ok(Some((Reply::Array(items), position)))
}

/// Finds the line starting at `start`; returns its content and the position after its CRLF.
fn read_line(buffer: &[u8], start: usize) -> Result<Option<(&[u8], usize)>, ProtocolError> {
    let Some(rest) = buffer.get(start..) else {
        return Ok(None);
    };
    let Some(offset) = rest.iter().position(|&byte| byte == b'\n') else {
        return Ok(None);
    };
    let line_with_cr = rest
        .get(..offset)
        .ok_or_else(|| protocol_error("line out of bounds"))?;
    let Some(line) = line_with_cr.strip_suffix(b"\r") else {
        return Err(protocol_error("line ends with LF without CR"));
    };
    if line.contains(&b'\r') {
        return Err(protocol_error("CR inside a line"));
    }
    Ok(Some((line, start.saturating_add(offset).saturating_add(1))))
}

/// Parses a RESP integer strictly: optional `-`, digits, no leading zeros, no `+`.
fn parse_integer(text: &[u8]) -> Result<i64, ProtocolError> {
    let invalid = || protocol_error(format!("invalid integer {}", quote(text)));
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    let canonical = !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        && (digits == b"0" || !digits.starts_with(b"0"))
        && text != b"-0";
    if !canonical {
        return Err(invalid());
    }
    std::str::from_utf8(text)
        .ok()
        .and_then(|text| text.parse::<i64>().ok())
        .ok_or_else(invalid)
}

/// Encodes a command as a RESP2 array of bulk strings.
pub fn encode_command(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Renders bytes as a double-quoted string with `\"`, `\\`, `\r`, `\n`, `\t` and
/// `\xNN` escapes, like `redis-cli`.
pub fn quote(bytes: &[u8]) -> String {
    format!("\"{}\"", escape_unquoted(bytes))
}

/// Renders bytes with the escapes of [`quote`] but without the surrounding quotes.
pub fn escape_unquoted(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(char::from(byte)),
            other => out.push_str(&format!("\\x{other:02x}")),
        }
    }
    out
}

/// Why a reply could not be read.
#[derive(Debug)]
pub enum ClientError {
    /// The socket failed, timed out, or closed before a whole reply arrived.
    Io(io::Error),
    /// The server sent bytes that are not RESP2.
    Protocol(ProtocolError),
}

impl fmt::Display for ClientError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(error) => write!(formatter, "connection error: {error}"),
            ClientError::Protocol(error) => write!(formatter, "{error}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(error: io::Error) -> Self {
        ClientError::Io(error)
    }
}

/// One client connection speaking RESP2 (or, once switched, RESP3) over a plain TCP stream.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
    protocol: Protocol,
}

impl Connection {
    /// Connects to `address`, waiting at most `timeout` for the connection.
    pub fn connect(address: SocketAddr, timeout: Duration) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&address, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        stream.set_write_timeout(Some(READ_TIMEOUT))?;
        Ok(Self {
            stream,
            buffer: Vec::new(),
            protocol: Protocol::Resp2,
        })
    }

    /// Reads later replies as `protocol` (after `HELLO 3` was answered).
    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.protocol = protocol;
    }

    /// How long a read waits for the next bytes before failing ([`READ_TIMEOUT`]
    /// until changed).
    pub fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.stream.set_read_timeout(Some(timeout))
    }

    /// Sends one command without waiting for its reply.
    pub fn send(&mut self, args: &[Vec<u8>]) -> io::Result<()> {
        self.stream.write_all(&encode_command(args))
    }

    /// Reads exactly one full reply.
    ///
    /// One command was sent, so bytes already received after the reply mean the
    /// server answered it more than once: a protocol error.
    pub fn read_reply(&mut self) -> Result<RawReply, ClientError> {
        let reply = self.next_reply()?;
        self.expect_nothing_after(&reply)?;
        Ok(reply)
    }

    /// Sends every command of `commands` in one write, then reads one reply
    /// for each, in order. Bytes after the last reply are a protocol error, as
    /// in [`Connection::read_reply`].
    pub fn pipeline(&mut self, commands: &[Vec<Vec<u8>>]) -> Result<Vec<RawReply>, ClientError> {
        let request: Vec<u8> = commands
            .iter()
            .flat_map(|args| encode_command(args))
            .collect();
        self.stream.write_all(&request)?;
        let replies = commands
            .iter()
            .map(|_| self.next_reply())
            .collect::<Result<Vec<RawReply>, ClientError>>()?;
        if let Some(last) = replies.last() {
            self.expect_nothing_after(last)?;
        }
        Ok(replies)
    }

    /// Reads exactly `count` replies (the frames of one command that answers with
    /// several, such as SUBSCRIBE of several channels). Bytes after the last are a
    /// protocol error, as in [`Connection::read_reply`].
    pub fn read_replies(&mut self, count: usize) -> Result<Vec<RawReply>, ClientError> {
        let replies = (0..count)
            .map(|_| self.next_reply())
            .collect::<Result<Vec<RawReply>, ClientError>>()?;
        if let Some(last) = replies.last() {
            self.expect_nothing_after(last)?;
        }
        Ok(replies)
    }

    /// Reads the next frame, whatever follows it: for a connection that receives
    /// pushes (a subscriber), where more frames may already be on their way.
    pub fn next_frame(&mut self) -> Result<RawReply, ClientError> {
        self.next_reply()
    }

    /// Parses the next reply from the buffer, reading from the socket until it is whole.
    fn next_reply(&mut self) -> Result<RawReply, ClientError> {
        let mut chunk = [0_u8; 16 * 1024];
        loop {
            if let Some((value, consumed)) =
                parse_reply_in(&self.buffer, self.protocol).map_err(ClientError::Protocol)?
            {
                let raw: Vec<u8> = self.buffer.drain(..consumed).collect();
                return Ok(RawReply { raw, value });
            }
            let received = self.stream.read(&mut chunk)?;
            if received == 0 {
                return Err(ClientError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed the connection",
                )));
            }
            let bytes = chunk
                .get(..received)
                .ok_or_else(|| io::Error::other("read more bytes than the buffer holds"))?;
            self.buffer.extend_from_slice(bytes);
        }
    }

    /// Errors when bytes arrived after `reply`, the last one expected.
    fn expect_nothing_after(&mut self, reply: &RawReply) -> Result<(), ClientError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let extra = std::mem::take(&mut self.buffer);
        Err(ClientError::Protocol(protocol_error(format!(
            "{} unexpected bytes after the reply {}: {}",
            extra.len(),
            reply.value.printable(),
            quote(&extra)
        ))))
    }

    /// Sends one command and reads its reply.
    pub fn call(&mut self, args: &[Vec<u8>]) -> Result<RawReply, ClientError> {
        self.send(args)?;
        self.read_reply()
    }

    /// Closes the connection from this side first, so that the lingering
    /// TIME_WAIT state stays with the client and never holds the server's port.
    pub fn close(&self) {
        // An error means the connection is already gone, which is what was asked.
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_whole(bytes: &[u8]) -> Reply {
        match parse_reply(bytes) {
            Ok(Some((reply, consumed))) => {
                assert_eq!(consumed, bytes.len(), "reply must use every byte");
                reply
            }
            other => panic!("expected a whole reply, got {other:?}"),
        }
    }

    #[test]
    fn parses_each_scalar_type() {
        assert_eq!(parse_whole(b"+OK\r\n"), Reply::Simple(b"OK".to_vec()));
        assert_eq!(
            parse_whole(b"-ERR bad\r\n"),
            Reply::Error(b"ERR bad".to_vec())
        );
        assert_eq!(parse_whole(b":-42\r\n"), Reply::Integer(-42));
        assert_eq!(parse_whole(b":0\r\n"), Reply::Integer(0));
        assert_eq!(
            parse_whole(b"$5\r\na\r\nb\x00\r\n"),
            Reply::Bulk(b"a\r\nb\x00".to_vec())
        );
        assert_eq!(parse_whole(b"$0\r\n\r\n"), Reply::Bulk(Vec::new()));
    }

    #[test]
    fn resp3_types_parse_only_in_resp3() {
        let parse3 = |bytes: &[u8]| match parse_reply_in(bytes, Protocol::Resp3) {
            Ok(Some((reply, consumed))) if consumed == bytes.len() => reply,
            other => panic!("expected a whole RESP3 reply, got {other:?}"),
        };
        let push = b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$0\r\n\r\n";
        assert_eq!(
            parse3(push),
            Reply::Array(vec![
                Reply::Bulk(b"message".to_vec()),
                Reply::Bulk(b"c".to_vec()),
                Reply::Bulk(Vec::new()),
            ])
        );
        assert_eq!(
            parse3(b"%1\r\n+proto\r\n:3\r\n"),
            Reply::Array(vec![Reply::Simple(b"proto".to_vec()), Reply::Integer(3)])
        );
        assert_eq!(parse3(b"_\r\n"), Reply::Nil);
        assert_eq!(parse3(b"#t\r\n"), Reply::Integer(1));
        assert_eq!(parse3(b",1.5\r\n"), Reply::Bulk(b"1.5".to_vec()));
        assert_eq!(parse3(b"!3\r\nERR\r\n"), Reply::Error(b"ERR".to_vec()));
        assert_eq!(
            parse3(b"=7\r\ntxt:abc\r\n"),
            Reply::Bulk(b"txt:abc".to_vec())
        );
        assert!(parse_reply(push).is_err());
        assert!(parse_reply_in(b"#x\r\n", Protocol::Resp3).is_err());
        assert!(parse_reply_in(b"|1\r\n", Protocol::Resp3).is_err());
    }

    #[test]
    fn parses_nil_replies() {
        assert_eq!(parse_whole(b"$-1\r\n"), Reply::Nil);
        assert_eq!(parse_whole(b"*-1\r\n"), Reply::NilArray);
        assert_eq!(
            parse_whole(b"*2\r\n$-1\r\n:1\r\n"),
            Reply::Array(vec![Reply::Nil, Reply::Integer(1)])
        );
    }

    #[test]
    fn parses_nested_arrays() {
        let bytes = b"*2\r\n$1\r\n0\r\n*3\r\n$2\r\nk1\r\n*0\r\n*1\r\n:7\r\n";
        assert_eq!(
            parse_whole(bytes),
            Reply::Array(vec![
                Reply::Bulk(b"0".to_vec()),
                Reply::Array(vec![
                    Reply::Bulk(b"k1".to_vec()),
                    Reply::Array(Vec::new()),
                    Reply::Array(vec![Reply::Integer(7)]),
                ]),
            ])
        );
    }

    #[test]
    fn every_strict_prefix_needs_more_bytes() {
        let bytes: &[u8] = b"*3\r\n$3\r\nfoo\r\n*1\r\n:12\r\n-ERR x\r\n";
        for cut in 0..bytes.len() {
            let prefix = bytes.get(..cut).unwrap_or_default();
            assert_eq!(parse_reply(prefix), Ok(None), "prefix of length {cut}");
        }
        assert!(matches!(parse_reply(bytes), Ok(Some((_, used))) if used == bytes.len()));
    }

    #[test]
    fn stops_after_the_first_reply() {
        let bytes = b":1\r\n:2\r\n";
        assert_eq!(parse_reply(bytes), Ok(Some((Reply::Integer(1), 4))));
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in [
            &b"%1\r\n"[..],
            b":+1\r\n",
            b":01\r\n",
            b":-0\r\n",
            b":\r\n",
            b":12a\r\n",
            b"$3\r\nabcd\r\n",
            b"$-2\r\n",
            b"*-5\r\n",
            b"+OK\n",
            b"+O\rK\r\n",
        ] {
            assert!(
                parse_reply(bad).is_err(),
                "{} should be rejected",
                quote(bad)
            );
        }
    }

    #[test]
    fn rejects_excessive_nesting() {
        let mut bytes = Vec::new();
        for _ in 0..=MAX_DEPTH + 1 {
            bytes.extend_from_slice(b"*1\r\n");
        }
        bytes.extend_from_slice(b":1\r\n");
        assert!(parse_reply(&bytes).is_err());
    }

    #[test]
    fn encoding_round_trips() {
        let reply = Reply::Array(vec![
            Reply::Simple(b"OK".to_vec()),
            Reply::Error(b"ERR no".to_vec()),
            Reply::Integer(i64::MIN),
            Reply::Bulk(b"\x00\xff".to_vec()),
            Reply::Nil,
            Reply::NilArray,
            Reply::Array(Vec::new()),
        ]);
        let bytes = reply.encode();
        assert_eq!(parse_reply(&bytes), Ok(Some((reply, bytes.len()))));
    }

    #[test]
    fn encodes_commands_as_bulk_arrays() {
        let args = vec![b"SET".to_vec(), b"k".to_vec(), Vec::new()];
        assert_eq!(
            encode_command(&args),
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n".to_vec()
        );
    }

    /// Serves `chunks` to the first client, one write per chunk, after
    /// reading its request; returns the port.
    fn serve_once(chunks: Vec<&'static [u8]>) -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|error| {
            panic!("binding a test listener failed: {error}");
        });
        let port = listener
            .local_addr()
            .map(|address| address.port())
            .unwrap_or(0);
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let mut request = [0_u8; 256];
                let _ = stream.read(&mut request);
                for chunk in chunks {
                    let _ = stream.write_all(chunk);
                    let _ = stream.flush();
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        });
        port
    }

    fn connect(port: u16) -> Connection {
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        Connection::connect(address, Duration::from_secs(2))
            .unwrap_or_else(|error| panic!("connecting to the test listener failed: {error}"))
    }

    #[test]
    fn connection_assembles_a_reply_split_across_reads() {
        let port = serve_once(vec![b"*2\r\n$3\r", b"\nfoo\r\n", b"$-1", b"\r\n"]);
        let mut connection = connect(port);
        let reply = connection.call(&[b"MGET".to_vec()]);
        let Ok(reply) = reply else {
            panic!("expected a reply, got {reply:?}");
        };
        assert_eq!(reply.raw, b"*2\r\n$3\r\nfoo\r\n$-1\r\n".to_vec());
        assert_eq!(
            reply.value,
            Reply::Array(vec![Reply::Bulk(b"foo".to_vec()), Reply::Nil])
        );
    }

    #[test]
    fn connection_rejects_a_second_reply_to_one_command() {
        let port = serve_once(vec![b"+OK\r\n+OK\r\n"]);
        let mut connection = connect(port);
        let reply = connection.call(&[b"SET".to_vec()]);
        assert!(matches!(reply, Err(ClientError::Protocol(_))), "{reply:?}");
    }

    #[test]
    fn connection_reports_a_closed_socket() {
        let port = serve_once(vec![b"+O"]);
        let mut connection = connect(port);
        let reply = connection.call(&[b"PING".to_vec()]);
        assert!(matches!(reply, Err(ClientError::Io(_))), "{reply:?}");
    }

    #[test]
    fn printable_forms_tell_types_apart() {
        assert_eq!(Reply::Simple(b"OK".to_vec()).printable(), "+OK");
        assert_eq!(Reply::Bulk(b"OK".to_vec()).printable(), "\"OK\"");
        assert_eq!(Reply::Nil.printable(), "(nil)");
        assert_eq!(Reply::NilArray.printable(), "(nil array)");
        assert_eq!(
            Reply::Array(vec![
                Reply::Integer(1),
                Reply::Bulk(b"a\x00\r\n\"".to_vec())
            ])
            .printable(),
            "[:1, \"a\\x00\\r\\n\\\"\"]"
        );
    }

    /// A one-connection server on a loopback port that reads `expect` bytes
    /// and answers `answer` in one write.
    fn scripted_server(expect: usize, answer: &'static [u8]) -> io::Result<SocketAddr> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        std::thread::spawn(move || -> io::Result<()> {
            let (mut stream, _) = listener.accept()?;
            let mut request = vec![0_u8; expect];
            stream.read_exact(&mut request)?;
            stream.write_all(answer)
        });
        Ok(address)
    }

    fn args(parts: &[&str]) -> Vec<Vec<u8>> {
        parts.iter().map(|part| part.as_bytes().to_vec()).collect()
    }

    #[test]
    fn a_pipeline_reads_one_reply_per_command_in_order() -> io::Result<()> {
        let commands = vec![args(&["SELECT", "1"]), args(&["KEYS", "*"])];
        let expect = commands
            .iter()
            .map(|command| encode_command(command).len())
            .sum();
        let address = scripted_server(expect, b"+OK\r\n*1\r\n$1\r\nk\r\n")?;
        let mut connection = Connection::connect(address, Duration::from_secs(5))?;
        let replies = connection.pipeline(&commands).map_err(io::Error::other)?;
        let values: Vec<Reply> = replies.into_iter().map(|reply| reply.value).collect();
        assert_eq!(
            values,
            [
                Reply::Simple(b"OK".to_vec()),
                Reply::Array(vec![Reply::Bulk(b"k".to_vec())])
            ]
        );
        Ok(())
    }
}
