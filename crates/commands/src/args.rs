//! Reading a command's arguments.

use crate::CommandError;
use bytes::Bytes;

/// A cursor over one command's arguments (after the command name), with the parsing
/// helpers handlers need. Arity was checked before the handler runs.
pub struct ArgReader<'a> {
    args: &'a [Bytes],
    position: usize,
}

impl<'a> ArgReader<'a> {
    /// A reader over `argv`, positioned after the command name.
    pub fn new(argv: &'a [Bytes]) -> ArgReader<'a> {
        ArgReader {
            args: argv,
            position: 1,
        }
    }

    /// The whole argument vector, command name included.
    pub fn argv(&self) -> &'a [Bytes] {
        self.args
    }

    /// Arguments not yet read.
    pub fn remaining(&self) -> usize {
        self.args.len().saturating_sub(self.position)
    }

    /// The next argument, if any.
    pub fn next_arg(&mut self) -> Option<&'a [u8]> {
        let arg = self.args.get(self.position)?;
        self.position += 1;
        Some(arg)
    }

    /// The next argument as shared bytes, if any.
    pub fn next_bytes(&mut self) -> Option<Bytes> {
        let arg = self.args.get(self.position)?.clone();
        self.position += 1;
        Some(arg)
    }

    /// The next argument, which the arity check guarantees (a syntax error otherwise).
    pub fn required(&mut self) -> Result<&'a [u8], CommandError> {
        self.next_arg().ok_or(CommandError::Syntax)
    }

    /// The next argument as an `i64` (Redis's `string2ll` rules).
    pub fn integer(&mut self) -> Result<i64, CommandError> {
        parse_integer(self.required()?)
    }

    /// The remaining arguments.
    pub fn rest(&mut self) -> &'a [Bytes] {
        let rest = self.args.get(self.position..).unwrap_or_default();
        self.position = self.args.len();
        rest
    }
}

/// Parses an integer argument as Redis does (`ERR value is not an integer or out of range`):
/// `string2ll`'s canonical decimal only.
pub fn parse_integer(bytes: &[u8]) -> Result<i64, CommandError> {
    peregrine_keyspace::canonical_integer(bytes).ok_or(CommandError::NotInteger)
}

/// True when `arg` equals `keyword` ignoring ASCII case.
pub fn is_keyword(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

/// Parses a double as Redis does (`strtod` with `string2d`'s checks): optional sign,
/// decimal or hexadecimal (`0x1p3`) digits, `inf`/`infinity`; no surrounding spaces, no
/// trailing bytes, never NaN, and a value that overflows to infinity or underflows to
/// zero from non-zero digits is rejected (`ERANGE`).
pub fn parse_double(bytes: &[u8]) -> Option<f64> {
    if bytes.first().is_some_and(u8::is_ascii_whitespace) {
        return None;
    }
    strtod(bytes, true)
}

/// Parses a double as a bare `strtod` that must consume every byte (Redis's score range
/// items): leading spaces are skipped, an empty text is 0, overflow gives an infinity and
/// underflow 0; only NaN and trailing bytes are rejected.
pub fn parse_range_double(bytes: &[u8]) -> Option<f64> {
    let start = bytes
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    match &bytes[start..] {
        [] => Some(0.0),
        rest => strtod(rest, false),
    }
}

/// Parses a SORT weight as Redis does: `strtod` after any leading spaces must reach the
/// end of the C string (the first NUL byte), without `ERANGE` and not NaN; an empty text
/// is 0 (strtod converts nothing and stops at the terminating NUL), spaces alone are not.
pub fn parse_sort_weight(bytes: &[u8]) -> Option<f64> {
    let bytes = &bytes[..bytes
        .iter()
        .position(|byte| *byte == 0)
        .unwrap_or(bytes.len())];
    if bytes.is_empty() {
        return Some(0.0);
    }
    let start = bytes.iter().position(|byte| !is_c_space(*byte))?;
    strtod(&bytes[start..], true)
}

/// C's `isspace` in the C locale.
fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `strtod` over the whole of `bytes`; `reject_range_errors` refuses results that set
/// `ERANGE` as `string2d` does.
fn strtod(bytes: &[u8], reject_range_errors: bool) -> Option<f64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if unsigned.is_empty() {
        return None;
    }
    let negative = text.starts_with('-');
    let lower = unsigned.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    let (magnitude, nonzero_digits) = match lower.strip_prefix("0x") {
        Some(hex) => parse_hex_float(hex)?,
        None => {
            // Digits, one '.', an exponent; Rust's parser would also take "nan"/"inf".
            if !lower.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
                return None;
            }
            let value: f64 = lower.parse().ok()?;
            let mantissa = lower.split('e').next().unwrap_or_default();
            (
                value,
                mantissa.bytes().any(|byte| matches!(byte, b'1'..=b'9')),
            )
        }
    };
    if reject_range_errors && (magnitude.is_infinite() || (magnitude == 0.0 && nonzero_digits)) {
        return None;
    }
    Some(if negative { -magnitude } else { magnitude })
}

/// The magnitude of a hexadecimal float after `0x`: `hexdigits[.hexdigits][p[+-]digits]`,
/// and whether it had a non-zero digit.
fn parse_hex_float(text: &str) -> Option<(f64, bool)> {
    let (digits, exponent) = match text.split_once('p') {
        Some((digits, exponent)) => (digits, exponent.parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut value = 0f64;
    for digit in whole.chars() {
        value = value * 16.0 + f64::from(digit.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for digit in fraction.chars() {
        value += f64::from(digit.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    let nonzero = digits.bytes().any(|byte| byte != b'0' && byte != b'.');
    Some((value * 2f64.powi(exponent), nonzero))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_parse_as_redis_strtod() {
        for (text, value) in [
            ("1.5", 1.5),
            ("-2", -2.0),
            ("+3e2", 300.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("0x10", 16.0),
            ("0x1p-1", 0.5),
            ("-0x.8", -0.5),
            ("inf", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
            ("1.7976931348623157e308", f64::MAX),
            ("0e0", 0.0),
        ] {
            assert_eq!(parse_double(text.as_bytes()), Some(value), "{text}");
        }
        for text in [
            "", " 1", "1 ", "1e", "nan", "-nan", "1e309", "1e-400", "0x", "--1", "abc", "1.2.3",
        ] {
            assert_eq!(parse_double(text.as_bytes()), None, "{text}");
        }
        // Score range items are plain strtod: lenient about spaces, emptiness and range.
        assert_eq!(parse_range_double(b""), Some(0.0));
        assert_eq!(parse_range_double(b"  2"), Some(2.0));
        assert_eq!(parse_range_double(b"1e309"), Some(f64::INFINITY));
        assert_eq!(parse_range_double(b"1e-400"), Some(0.0));
        assert_eq!(parse_range_double(b"1 "), None);
        assert_eq!(parse_range_double(b"nan"), None);
    }

    #[test]
    fn integers_follow_string2ll() {
        assert_eq!(parse_integer(b"-12"), Ok(-12));
        assert_eq!(parse_integer(b"9223372036854775807"), Ok(i64::MAX));
        for bad in [
            &b"012"[..],
            b"+1",
            b"-0",
            b"1.5",
            b"",
            b" 1",
            b"9223372036854775808",
        ] {
            assert_eq!(parse_integer(bad), Err(CommandError::NotInteger), "{bad:?}");
        }
    }
}
