//! Request parsing: RESP multibulk arrays and inline (telnet) commands.

use bytes::Bytes;

/// One command's arguments, the command name first. Each argument is binary-safe.
pub type Argv = Vec<Bytes>;

/// Redis's limit on an inline request or a `*`/`$` header line without its `\r\n`.
const PROTO_INLINE_MAX_SIZE: usize = 64 * 1024;

/// Limits applied while parsing, taken from the server configuration.
#[derive(Clone, Copy, Debug)]
pub struct ParseLimits {
    /// `proto-max-bulk-len`: the largest bulk argument accepted.
    pub max_bulk_len: u64,
    /// The largest number of arguments in one multibulk request (Redis: 1024*1024*1024).
    pub max_multibulk_len: u64,
    /// Whether the client has authenticated; unauthenticated clients get tighter limits
    /// (Redis: 10 arguments of at most 16 KiB) when a password is required.
    pub authenticated: bool,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: 1024 * 1024 * 1024,
            authenticated: true,
        }
    }
}

/// The stream is not valid RESP: the message is sent as an error reply, then the
/// connection is closed. The texts are Redis's, byte for byte.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// An inline request longer than 64 KiB without a newline.
    #[error("Protocol error: too big inline request")]
    TooBigInlineRequest,
    /// A `*` header line longer than 64 KiB.
    #[error("Protocol error: too big mbulk count string")]
    TooBigMultibulkCount,
    /// A `$` header line longer than 64 KiB.
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    /// A `*` count that is not a number or exceeds the limit.
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// A `$` length that is not a number or exceeds `proto-max-bulk-len`.
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// An element of a multibulk that is not a bulk string.
    #[error("Protocol error: expected '$', got '{0}'")]
    ExpectedBulk(char),
    /// An inline request with an unterminated quote.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// Too many arguments before authentication.
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    /// A too large argument before authentication.
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
}

/// What parsing a buffer produced: the complete commands at its front, how many bytes they
/// used, and the protocol error that stopped parsing, if any (commands before the error
/// still run, as in Redis).
#[derive(Debug, Default)]
pub struct ParsedBatch {
    /// Complete commands in arrival order.
    pub commands: Vec<Argv>,
    /// Bytes of the buffer consumed by `commands` (and by ignored empty requests).
    pub consumed: usize,
    /// Set when the bytes after `consumed` are not RESP.
    pub error: Option<ProtocolError>,
    /// When the next command is incomplete: the total buffered bytes it needs at least,
    /// so that a large bulk is not re-parsed on every read.
    pub needed: usize,
}

/// Where an argument lives while its batch is being delimited.
enum ArgSpan {
    /// A range of the input buffer.
    Range(usize, usize),
    /// An argument rebuilt from an inline request (quotes and escapes resolved).
    Owned(Vec<u8>),
}

/// The spans and per-command argument counts of the batch being delimited, kept between
/// batches so that a read costs no allocation for them: parsing never yields, so one
/// pair per thread serves every connection of its core.
#[derive(Default)]
struct Delimited {
    spans: Vec<ArgSpan>,
    counts: Vec<usize>,
}

/// Entries of [`Delimited`]'s vectors kept once a batch is parsed.
const KEPT_SPANS: usize = 4096;

std::thread_local! {
    static DELIMITED: std::cell::RefCell<Delimited> = std::cell::RefCell::default();
}

/// One step of parsing a single request.
enum Step {
    /// A complete command whose arguments were appended to the span list.
    Command {
        end: usize,
        count: usize,
    },
    Skip {
        end: usize,
    },
    Incomplete {
        needed: usize,
    },
}

/// Splits a client's byte stream into commands.
#[derive(Clone, Debug, Default)]
pub struct RequestParser {
    /// The limits in force; the connection updates them (e.g. after AUTH or CONFIG SET).
    pub limits: ParseLimits,
}

impl RequestParser {
    /// A parser with the given limits.
    pub fn new(limits: ParseLimits) -> Self {
        RequestParser { limits }
    }

    /// Parses every complete request at the front of `input`.
    ///
    /// The returned arguments share one copy of the consumed bytes, so a pipeline of many
    /// commands costs one allocation for its data.
    pub fn parse_batch(&self, input: &[u8]) -> ParsedBatch {
        DELIMITED.with(|delimited| match delimited.try_borrow_mut() {
            Ok(mut delimited) => {
                let Delimited { spans, counts } = &mut *delimited;
                spans.clear();
                counts.clear();
                let batch = self.parse_batch_with(input, spans, counts);
                // A request of a million arguments does not keep its megabytes here.
                if spans.capacity() > KEPT_SPANS {
                    *spans = Vec::new();
                }
                if counts.capacity() > KEPT_SPANS {
                    *counts = Vec::new();
                }
                batch
            }
            // Only a parse inside a parse could find it taken; it would get its own.
            Err(_) => self.parse_batch_with(input, &mut Vec::new(), &mut Vec::new()),
        })
    }

    fn parse_batch_with(
        &self,
        input: &[u8],
        spans: &mut Vec<ArgSpan>,
        counts: &mut Vec<usize>,
    ) -> ParsedBatch {
        let mut position = 0;
        let mut batch = ParsedBatch::default();
        while position < input.len() {
            let before = spans.len();
            match self.parse_one(input, position, spans) {
                Ok(Step::Command { end, count }) => {
                    counts.push(count);
                    position = end;
                }
                Ok(Step::Skip { end }) => position = end,
                Ok(Step::Incomplete { needed }) => {
                    spans.truncate(before);
                    batch.needed = needed;
                    break;
                }
                Err(error) => {
                    spans.truncate(before);
                    batch.error = Some(error);
                    break;
                }
            }
        }
        batch.consumed = position;
        if !counts.is_empty() {
            let chunk = Bytes::copy_from_slice(input.get(..position).unwrap_or_default());
            let mut spans = spans.drain(..);
            batch.commands.reserve_exact(counts.len());
            for &count in counts.iter() {
                let mut argv = Vec::with_capacity(count);
                for span in spans.by_ref().take(count) {
                    argv.push(match span {
                        ArgSpan::Range(start, end) => chunk.slice(start..end),
                        ArgSpan::Owned(bytes) => Bytes::from(bytes),
                    });
                }
                batch.commands.push(argv);
            }
        }
        batch
    }

    fn parse_one(
        &self,
        input: &[u8],
        start: usize,
        spans: &mut Vec<ArgSpan>,
    ) -> Result<Step, ProtocolError> {
        match input.get(start) {
            Some(b'*') => self.parse_multibulk(input, start, spans),
            Some(_) => parse_inline(input, start, spans),
            None => Ok(Step::Incomplete { needed: start + 1 }),
        }
    }

    fn parse_multibulk(
        &self,
        input: &[u8],
        start: usize,
        args: &mut Vec<ArgSpan>,
    ) -> Result<Step, ProtocolError> {
        let header = read_header_length(
            input,
            start,
            ProtocolError::TooBigMultibulkCount,
            ProtocolError::InvalidMultibulkLength,
        )?;
        let Some((count, mut position)) = header else {
            return Ok(Step::Incomplete {
                needed: input.len() + 1,
            });
        };
        if count > self.limits.max_multibulk_len as i64 {
            return Err(ProtocolError::InvalidMultibulkLength);
        }
        if !self.limits.authenticated && count > 10 {
            return Err(ProtocolError::UnauthenticatedMultibulkLength);
        }
        if count <= 0 {
            return Ok(Step::Skip { end: position });
        }
        for _ in 0..count {
            let Some(&marker) = input.get(position) else {
                return Ok(Step::Incomplete {
                    needed: position + 1,
                });
            };
            if marker != b'$' {
                return Err(ProtocolError::ExpectedBulk(marker as char));
            }
            let header = read_header_length(
                input,
                position,
                ProtocolError::TooBigBulkCount,
                ProtocolError::InvalidBulkLength,
            )?;
            let Some((length, data_start)) = header else {
                return Ok(Step::Incomplete {
                    needed: input.len() + 1,
                });
            };
            if length < 0 || length as u64 > self.limits.max_bulk_len {
                return Err(ProtocolError::InvalidBulkLength);
            }
            if !self.limits.authenticated && length > 16384 {
                return Err(ProtocolError::UnauthenticatedBulkLength);
            }
            let data_end = data_start + length as usize;
            let needed = data_end + 2;
            if input.len() < needed {
                return Ok(Step::Incomplete { needed });
            }
            args.push(ArgSpan::Range(data_start, data_end));
            position = needed;
        }
        Ok(Step::Command {
            end: position,
            count: count as usize,
        })
    }
}

/// Reads the length after the `*` or `$` at `marker`: the length and the index after its
/// line, `None` while the line is incomplete, `too_long` when an incomplete line is already
/// past Redis's inline limit, `invalid` when the line is not a length. Inlined: it runs
/// for every argument, and a call costs as much as the common one-pass read.
#[inline(always)]
fn read_header_length(
    input: &[u8],
    marker: usize,
    too_long: ProtocolError,
    invalid: ProtocolError,
) -> Result<Option<(i64, usize)>, ProtocolError> {
    if let Some(plain) = read_plain_length(input, marker + 1) {
        return Ok(Some(plain));
    }
    let Some((line, end)) = read_line(input, marker + 1) else {
        if input.len() - marker > PROTO_INLINE_MAX_SIZE {
            return Err(too_long);
        }
        return Ok(None);
    };
    parse_length(line)
        .map(|length| Some((length, end)))
        .ok_or(invalid)
}

/// Reads a length line of the shape every client sends, `<digits>\r\n` with at most 18
/// digits and no leading zero, at `from` in one pass: the length and the index after the
/// line. Anything else (a sign, no digit, more digits, a line not complete yet) gives
/// None and is read by [`read_line`] and [`parse_length`], which agree with this on every
/// line it accepts.
#[inline]
fn read_plain_length(input: &[u8], from: usize) -> Option<(i64, usize)> {
    const MAX_DIGITS: usize = 18;
    let rest = input.get(from..)?;
    // One or two digits: nearly every header a client sends.
    match *rest {
        [digit @ b'0'..=b'9', b'\r', b'\n', ..] => {
            return Some((i64::from(digit - b'0'), from + 3));
        }
        [tens @ b'1'..=b'9', ones @ b'0'..=b'9', b'\r', b'\n', ..] => {
            return Some((
                i64::from(tens - b'0') * 10 + i64::from(ones - b'0'),
                from + 4,
            ));
        }
        _ => {}
    }
    let mut value: i64 = 0;
    for (offset, &byte) in rest.iter().enumerate().take(MAX_DIGITS + 1) {
        if byte.is_ascii_digit() {
            value = value * 10 + i64::from(byte - b'0');
        } else {
            let position = from + offset;
            // A leading zero is only valid as `0` itself.
            let well_formed = offset == 1 || (offset > 1 && input[from] != b'0');
            let complete = byte == b'\r' && input.get(position + 1) == Some(&b'\n');
            return (well_formed && complete).then_some((value, position + 2));
        }
    }
    None
}

/// Finds the length line starting at `from` as Redis does: its content runs to the first
/// `\r`, the line ends one byte after it (Redis skips two bytes without looking), and the
/// index after it is returned. None while incomplete, including when a NUL comes first
/// (Redis's `strchr` stops there).
fn read_line(input: &[u8], from: usize) -> Option<(&[u8], usize)> {
    let rest = input.get(from..)?;
    let carriage_return = find_before_nul(rest, b'\r')?;
    if carriage_return + 2 > rest.len() {
        return None;
    }
    Some((&rest[..carriage_return], from + carriage_return + 2))
}

/// The index of the first `byte` in `bytes`, if no NUL comes before it: Redis finds line
/// ends with `strchr`, which does not look past a NUL.
fn find_before_nul(bytes: &[u8], byte: u8) -> Option<usize> {
    let found = memchr::memchr2(byte, 0, bytes)?;
    (bytes[found] == byte).then_some(found)
}

/// Parses a RESP length as Redis's `string2ll` does: `0`, or an optional minus sign and
/// decimal digits without a leading zero, within `i64`. Anything else (`04`, `-0`, `+4`,
/// spaces) is not a length.
fn parse_length(line: &[u8]) -> Option<i64> {
    if line == b"0" {
        return Some(0);
    }
    let (negative, digits) = match line.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, line),
    };
    if !matches!(digits.first(), Some(b'1'..=b'9')) || digits.len() > 19 {
        return None;
    }
    let mut magnitude: u64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Parses one inline (telnet-style) request: space-separated words with Redis's quoting.
fn parse_inline(
    input: &[u8],
    start: usize,
    spans: &mut Vec<ArgSpan>,
) -> Result<Step, ProtocolError> {
    let rest = input.get(start..).unwrap_or_default();
    let Some(newline) = find_before_nul(rest, b'\n') else {
        if rest.len() > PROTO_INLINE_MAX_SIZE {
            return Err(ProtocolError::TooBigInlineRequest);
        }
        return Ok(Step::Incomplete {
            needed: input.len() + 1,
        });
    };
    let line = rest.get(..newline).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let end = start + newline + 1;
    let words = split_args(line).ok_or(ProtocolError::UnbalancedQuotes)?;
    if words.is_empty() {
        return Ok(Step::Skip { end });
    }
    let count = words.len();
    spans.extend(words.into_iter().map(ArgSpan::Owned));
    Ok(Step::Command { end, count })
}

/// Splits a line into arguments exactly as Redis's `sdssplitargs`: whitespace separates,
/// `"..."` understands `\n \r \t \b \a \\ \" \xHH`, `'...'` understands `\'`, and a closing
/// quote must be followed by whitespace or the end. `None` means unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut words = Vec::new();
    let mut position = 0;
    loop {
        while line
            .get(position)
            .is_some_and(|byte| byte.is_ascii_whitespace())
        {
            position += 1;
        }
        if position >= line.len() {
            return Some(words);
        }
        let mut word = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let current = line.get(position).copied();
            if in_double {
                match current {
                    None => return None,
                    Some(b'\\') => {
                        let next = line.get(position + 1).copied();
                        let hex = (line.get(position + 2), line.get(position + 3));
                        if let (Some(b'x'), (Some(&high), Some(&low))) = (next, hex) {
                            if let (Some(high), Some(low)) = (hex_value(high), hex_value(low)) {
                                word.push(high * 16 + low);
                                position += 4;
                                continue;
                            }
                        }
                        match next {
                            Some(escaped) => {
                                word.push(match escaped {
                                    b'n' => b'\n',
                                    b'r' => b'\r',
                                    b't' => b'\t',
                                    b'b' => 8,
                                    b'a' => 7,
                                    other => other,
                                });
                                position += 2;
                            }
                            None => return None,
                        }
                    }
                    Some(b'"') => {
                        if line
                            .get(position + 1)
                            .is_some_and(|byte| !byte.is_ascii_whitespace())
                        {
                            return None;
                        }
                        position += 1;
                        break;
                    }
                    Some(byte) => {
                        word.push(byte);
                        position += 1;
                    }
                }
            } else if in_single {
                match current {
                    None => return None,
                    Some(b'\\') if line.get(position + 1) == Some(&b'\'') => {
                        word.push(b'\'');
                        position += 2;
                    }
                    Some(b'\'') => {
                        if line
                            .get(position + 1)
                            .is_some_and(|byte| !byte.is_ascii_whitespace())
                        {
                            return None;
                        }
                        position += 1;
                        break;
                    }
                    Some(byte) => {
                        word.push(byte);
                        position += 1;
                    }
                }
            } else {
                match current {
                    None => break,
                    Some(byte) if byte.is_ascii_whitespace() => break,
                    Some(b'"') => {
                        in_double = true;
                        position += 1;
                    }
                    Some(b'\'') => {
                        in_single = true;
                        position += 1;
                    }
                    Some(byte) => {
                        word.push(byte);
                        position += 1;
                    }
                }
            }
        }
        words.push(word);
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|value| value as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8]) -> ParsedBatch {
        RequestParser::default().parse_batch(input)
    }

    fn strings(batch: &ParsedBatch) -> Vec<Vec<&[u8]>> {
        batch
            .commands
            .iter()
            .map(|argv| argv.iter().map(|arg| arg.as_ref()).collect())
            .collect()
    }

    #[test]
    fn parses_a_pipeline_of_multibulks() {
        let input = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n";
        let batch = parse(input);
        assert_eq!(batch.consumed, input.len());
        assert_eq!(
            strings(&batch),
            vec![vec![&b"GET"[..], b"k"], vec![&b"SET"[..], b"k", b""]]
        );
        assert!(batch.error.is_none());
    }

    #[test]
    fn every_split_point_is_incomplete_not_an_error() {
        let input = b"*2\r\n$4\r\nECHO\r\n$5\r\nhe\r\no\r\n";
        for cut in 0..input.len() {
            let batch = parse(&input[..cut]);
            assert!(batch.commands.is_empty(), "cut at {cut}");
            assert_eq!(batch.consumed, 0);
            assert!(batch.error.is_none());
        }
        let batch = parse(input);
        assert_eq!(strings(&batch), vec![vec![&b"ECHO"[..], b"he\r\no"]]);
    }

    #[test]
    fn large_bulk_reports_bytes_needed() {
        let batch = parse(b"*1\r\n$100\r\nabc");
        assert_eq!(batch.needed, 4 + 6 + 102);
    }

    #[test]
    fn inline_commands_follow_sdssplitargs() {
        let batch = parse(b"set \"a b\" 'c\\'d' \"\\x41\\n\"\r\n\r\nPING\n");
        assert_eq!(
            strings(&batch),
            vec![
                vec![&b"set"[..], b"a b", b"c'd", b"A\n"],
                vec![&b"PING"[..]]
            ]
        );
        assert_eq!(
            parse(b"set \"abc\r\n").error,
            Some(ProtocolError::UnbalancedQuotes)
        );
        assert_eq!(
            parse(b"set \"abc\"x\r\n").error,
            Some(ProtocolError::UnbalancedQuotes)
        );
    }

    #[test]
    fn protocol_errors_carry_redis_texts() {
        let cases: [(&[u8], &str); 5] = [
            (b"*x\r\n", "Protocol error: invalid multibulk length"),
            (b"*1\r\n$-2\r\n", "Protocol error: invalid bulk length"),
            (b"*1\r\n+OK\r\n", "Protocol error: expected '$', got '+'"),
            (
                b"*2000000000\r\n",
                "Protocol error: invalid multibulk length",
            ),
            (
                b"*1\r\n$600000000\r\n",
                "Protocol error: invalid bulk length",
            ),
        ];
        for (input, text) in cases {
            let error = parse(input).error.expect("error");
            assert_eq!(error.to_string(), text);
        }
        let long = vec![b'a'; PROTO_INLINE_MAX_SIZE + 1];
        assert_eq!(parse(&long).error, Some(ProtocolError::TooBigInlineRequest));
    }

    #[test]
    fn plain_lengths_agree_with_the_general_reading() {
        // Every line the one-pass reading accepts (its one- and two-digit shortcuts
        // included) reads the same through `read_line` and `parse_length`.
        let alphabet = b"0129-+ \r\nx";
        let mut accepted = 0;
        let mut line = Vec::new();
        for length in 1..=5u32 {
            for mut code in 0..alphabet.len().pow(length) {
                line.clear();
                for _ in 0..length {
                    line.push(alphabet[code % alphabet.len()]);
                    code /= alphabet.len();
                }
                if let Some((value, end)) = read_plain_length(&line, 0) {
                    accepted += 1;
                    let (text, general_end) = read_line(&line, 0).expect("a complete line");
                    assert_eq!(parse_length(text), Some(value), "{line:?}");
                    assert_eq!(end, general_end, "{line:?}");
                }
            }
        }
        assert!(accepted > 100, "{accepted}");
    }

    #[test]
    fn lengths_and_lines_are_read_as_redis_reads_them() {
        // Regression: `$04`, `*01` and `$-0` were taken as lengths, and a length line
        // ended at `\n`; Redis rejects the first and ends lines at `\r`.
        let invalid: [(&[u8], &str); 6] = [
            (
                b"*1\r\n$04\r\nPING\r\n",
                "Protocol error: invalid bulk length",
            ),
            (
                b"*01\r\n$4\r\nPING\r\n",
                "Protocol error: invalid multibulk length",
            ),
            (
                b"*1\r\n$-0\r\nPING\r\n",
                "Protocol error: invalid bulk length",
            ),
            (b"*-0\r\n", "Protocol error: invalid multibulk length"),
            (
                b"*1\r\n$+4\r\nPING\r\n",
                "Protocol error: invalid bulk length",
            ),
            (
                b"*1\r\n$4 \r\nPING\r\n",
                "Protocol error: invalid bulk length",
            ),
        ];
        for (input, text) in invalid {
            let batch = parse(input);
            assert!(batch.commands.is_empty(), "{input:?}");
            assert_eq!(batch.error.expect("error").to_string(), text, "{input:?}");
        }
        let batch =
            parse(b"*0\r\n*-1\r\n*-9223372036854775808\r\n*2\r\n$0\r\n\r\n$10\r\n0123456789\r\n");
        assert_eq!(batch.error, None);
        assert_eq!(strings(&batch), vec![vec![&b""[..], b"0123456789"]]);
        // Lines end at the first `\r` and one byte after it, whatever that byte is.
        assert_eq!(
            parse(b"*1\n$4\nPING\r\n").error,
            Some(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            strings(&parse(b"*1\rx$4\r\nPING\r\n")),
            vec![vec![&b"PING"[..]]]
        );
        // A NUL before the line's end hides it, as from Redis's strchr.
        for hidden in [&b"\x00\x01\r\n"[..], b"*1\r\n$4\x00\r\nPING\r\n"] {
            let batch = parse(hidden);
            assert!(batch.commands.is_empty() && batch.error.is_none() && batch.needed > 0);
        }
        let long = format!("*1\r\n${}\r\n", "1".repeat(19));
        assert_eq!(
            parse(long.as_bytes()).error,
            Some(ProtocolError::InvalidBulkLength)
        );
    }

    #[test]
    fn commands_before_an_error_are_kept() {
        let batch = parse(b"*1\r\n$4\r\nPING\r\n*1\r\n+x\r\n");
        assert_eq!(batch.commands.len(), 1);
        assert_eq!(batch.consumed, 14);
        assert!(batch.error.is_some());
    }

    #[test]
    fn empty_multibulk_is_skipped() {
        let batch = parse(b"*0\r\n*-1\r\n*1\r\n$1\r\na\r\n");
        assert_eq!(strings(&batch), vec![vec![&b"a"[..]]]);
    }
}
