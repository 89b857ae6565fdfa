//! What a blocking command waits for: its timeout and the keys whose arrival wakes it.
//!
//! Handlers of blocking commands (BLPOP, BLMOVE, BZPOPMIN, BLMPOP, XREAD and XREADGROUP
//! with BLOCK ...) are ordinary
//! non-blocking handlers: with data they pop it, without it they reply as Redis does for
//! a timed-out wait (a null array, or a null bulk for BLMOVE/BRPOPLPUSH), which is also
//! what they do inside MULTI. The server consults [`shape`] to decide whether and how
//! long to park the client, and re-runs the handler when a watched key receives data.

use crate::{CommandError, CommandSpec};
use bytes::Bytes;

/// How a blocking command waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockShape {
    /// How long to wait, in milliseconds; `None` waits forever (timeout 0).
    pub timeout_ms: Option<u64>,
    /// Positions in argv of the keys whose data serves the command.
    pub watched: Vec<usize>,
}

/// Parses a blocking command's timeout in seconds (a float, as Redis 6+ accepts) into
/// milliseconds, rounded up; 0 means forever. Redis's errors.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<u64>, CommandError> {
    let text = std::str::from_utf8(arg).map_err(|_| timeout_not_float())?;
    if text.is_empty()
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
    {
        return Err(timeout_not_float());
    }
    let seconds: f64 = text.parse().map_err(|_| timeout_not_float())?;
    if seconds.is_nan() {
        return Err(timeout_not_float());
    }
    // Redis's order: too big (inf included), then negative (-inf included).
    let millis = seconds * 1000.0;
    if millis > i64::MAX as f64 / 2.0 {
        return Err(CommandError::other("ERR timeout is out of range"));
    }
    let millis = millis.ceil();
    if millis < 0.0 {
        return Err(CommandError::other("ERR timeout is negative"));
    }
    Ok((millis > 0.0).then_some(millis as u64))
}

fn timeout_not_float() -> CommandError {
    CommandError::other("ERR timeout is not a float or out of range")
}

/// The wait of blocking command `spec` given `argv` (`None`: this call does not block,
/// as XREAD without BLOCK), or the error its arguments earn before any wait (a bad
/// timeout).
pub fn shape(spec: &CommandSpec, argv: &[Bytes]) -> Result<Option<BlockShape>, CommandError> {
    if let "xread" | "xreadgroup" = spec.name {
        let Some(at) = crate::stream::read::block_timeout_position(argv) else {
            return Ok(None);
        };
        let millis = crate::stream::read::parse_block_timeout(&argv[at])?;
        return Ok(Some(BlockShape {
            timeout_ms: (millis > 0).then_some(millis),
            watched: crate::stream::read::read_keys(argv),
        }));
    }
    let last = argv.len().saturating_sub(1);
    let (timeout_at, watched): (usize, Vec<usize>) = match spec.name {
        "blmove" => (5, vec![1]),
        "brpoplpush" => (3, vec![1]),
        "blmpop" | "bzmpop" => (1, spec.keys.positions(argv).collect()),
        _ => (last, (1..last).collect()),
    };
    let timeout = argv.get(timeout_at).ok_or(CommandError::Syntax)?;
    Ok(Some(BlockShape {
        timeout_ms: parse_timeout(timeout)?,
        watched,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_as_redis_parses_them() {
        assert_eq!(parse_timeout(b"0"), Ok(None));
        assert_eq!(parse_timeout(b"1"), Ok(Some(1000)));
        assert_eq!(parse_timeout(b"0.0001"), Ok(Some(1)));
        assert_eq!(parse_timeout(b"1.5"), Ok(Some(1500)));
        assert_eq!(
            parse_timeout(b"-1"),
            Err(CommandError::other("ERR timeout is negative"))
        );
        assert_eq!(
            parse_timeout(b"inf"),
            Err(CommandError::other("ERR timeout is out of range"))
        );
        assert_eq!(
            parse_timeout(b"-inf"),
            Err(CommandError::other("ERR timeout is negative"))
        );
        for bad in [&b"abc"[..], b"", b" 1", b"nan"] {
            assert_eq!(parse_timeout(bad), Err(timeout_not_float()), "{bad:?}");
        }
    }
}
