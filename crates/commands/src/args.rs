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

/// Parses an integer argument as Redis does (`ERR value is not an integer or out of range`).
pub fn parse_integer(bytes: &[u8]) -> Result<i64, CommandError> {
    peregrine_keyspace_integer(bytes).ok_or(CommandError::NotInteger)
}

fn peregrine_keyspace_integer(bytes: &[u8]) -> Option<i64> {
    // Redis's string2ll: canonical decimal only.
    let text = std::str::from_utf8(bytes).ok()?;
    if text.is_empty() || text.len() > 20 {
        return None;
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    if digits.len() > 1 && digits.starts_with('0') || (digits == "0" && text.starts_with('-')) {
        return None;
    }
    text.parse().ok()
}

/// True when `arg` equals `keyword` ignoring ASCII case.
pub fn is_keyword(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

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
