//! Expiry arguments, and the follow-up that keeps expiry deterministic.
//!
//! Relative expiries are long (100 to 100,000 seconds) and absolute ones lie as
//! far in the future, so no key expires in the middle of a run by accident.
//! Three kinds are deliberate:
//!
//! - tiny relative times in milliseconds (1 to 5 ms): the command is followed by
//!   a pause of [`SETTLE_PAUSE`] and an `EXISTS` of the key, so both servers
//!   observe the key as expired and delete it lazily;
//! - absolute times in the past: followed by the same `EXISTS` (no pause);
//! - invalid values (zero, negative, not an integer, overflowing): an error reply.
//!
//! The follow-up matters because Redis keeps a logically expired key until
//! something touches it or its active expiry cycle samples it, and DBSIZE
//! counts such keys: without the follow-up, DBSIZE would depend on timing.

use std::time::Duration;

use super::{Command, Context};

/// How long to wait after a command that set a tiny expiry.
pub const SETTLE_PAUSE: Duration = Duration::from_millis(10);

/// When a key given this expiry stops existing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Settle {
    /// Not during the run (long expiry, or an invalid one that is rejected).
    Never,
    /// Already (an absolute time in the past).
    Already,
    /// Within a few milliseconds (a tiny relative time).
    Soon,
}

/// One expiry argument and when it takes effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    /// The argument as sent.
    pub argument: Vec<u8>,
    /// When the key stops existing if the command accepts the argument.
    pub settle: Settle,
}

impl Expiry {
    fn never(argument: impl Into<Vec<u8>>) -> Self {
        Self {
            argument: argument.into(),
            settle: Settle::Never,
        }
    }
}

/// Invalid or extreme values shared by every unit. Some are accepted by some
/// commands (EXPIREAT takes 0 and negative times as "in the past"), so they
/// count as [`Settle::Already`]: the follow-up is harmless when they fail.
const ODD_VALUES: &[&str] = &[
    "0",
    "-1",
    "-100",
    "abc",
    "",
    "1.5",
    " 100",
    "9223372036854775807",
    "-9223372036854775808",
];

fn odd(context: &mut Context<'_>) -> Expiry {
    Expiry {
        argument: context.pick(ODD_VALUES).as_bytes().to_vec(),
        settle: Settle::Already,
    }
}

/// Seconds from now (EX, SETEX, EXPIRE).
pub fn relative_seconds(context: &mut Context<'_>) -> Expiry {
    match context.rng.below(100) {
        0..=87 => Expiry::never(context.between(100, 100_000).to_string()),
        // Valid in Redis 7.0 (the product still fits in 64 bits): a very long TTL.
        88..=89 => Expiry::never("99999999999999"),
        _ => odd(context),
    }
}

/// Milliseconds from now (PX, PSETEX, PEXPIRE).
pub fn relative_milliseconds(context: &mut Context<'_>) -> Expiry {
    match context.rng.below(100) {
        0..=83 => Expiry::never(context.between(100_000, 100_000_000).to_string()),
        84..=88 => Expiry {
            argument: context.between(1, 5).to_string().into_bytes(),
            settle: Settle::Soon,
        },
        // Overflows when added to the current time.
        89 => Expiry::never("9223372036854775000"),
        _ => odd(context),
    }
}

/// A unix time in seconds (EXAT, EXPIREAT).
pub fn unix_seconds(context: &mut Context<'_>) -> Expiry {
    let now = i64::try_from(context.now_unix_ms / 1000).unwrap_or(i64::MAX);
    match context.rng.below(100) {
        0..=83 => Expiry::never(
            now.saturating_add(context.between(100, 100_000))
                .to_string(),
        ),
        84..=89 => Expiry {
            argument: past(context, now, 1, 100_000).into_bytes(),
            settle: Settle::Already,
        },
        _ => odd(context),
    }
}

/// A unix time in milliseconds (PXAT, PEXPIREAT).
pub fn unix_milliseconds(context: &mut Context<'_>) -> Expiry {
    let now = i64::try_from(context.now_unix_ms).unwrap_or(i64::MAX);
    match context.rng.below(100) {
        0..=83 => Expiry::never(
            now.saturating_add(context.between(100_000, 100_000_000))
                .to_string(),
        ),
        84..=89 => Expiry {
            argument: past(context, now, 1_000, 100_000_000).into_bytes(),
            settle: Settle::Already,
        },
        _ => odd(context),
    }
}

/// A time in the past: `1` (the epoch's first unit) or some way before `now`.
fn past(context: &mut Context<'_>, now: i64, low: i64, high: i64) -> String {
    if context.chance(30) {
        "1".to_owned()
    } else {
        now.saturating_sub(context.between(low, high)).to_string()
    }
}

/// Adds the follow-up `settle` needs after `command`, which gave `key` an expiry.
pub fn settled(command: Command, key: &[u8], settle: Settle) -> Vec<Command> {
    match settle {
        Settle::Never => vec![command],
        Settle::Already => vec![command, Command::new("EXISTS").key(key)],
        Settle::Soon => vec![command.pause(SETTLE_PAUSE), Command::new("EXISTS").key(key)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::model::Model;
    use crate::prng::Prng;

    #[test]
    fn tiny_expiries_pause_and_touch_the_key() {
        let commands = settled(
            Command::new("PEXPIRE").key("k1").arg("3"),
            b"k1",
            Settle::Soon,
        );
        assert_eq!(commands.len(), 2);
        assert_eq!(commands[0].pause_after, Some(SETTLE_PAUSE));
        assert_eq!(commands[1].args, vec![b"EXISTS".to_vec(), b"k1".to_vec()]);
        let plain = settled(
            Command::new("EXPIRE").key("k1").arg("300"),
            b"k1",
            Settle::Never,
        );
        assert_eq!(plain.len(), 1);
        assert_eq!(plain[0].pause_after, None);
    }

    #[test]
    fn long_expiries_stay_far_in_the_future() {
        let mut rng = Prng::new(1);
        let mut model = Model::default();
        let now_ms: u64 = 1_700_000_000_000;
        let mut context = Context {
            rng: &mut rng,
            model: &mut model,
            now_unix_ms: now_ms,
        };
        for _ in 0..1000 {
            let expiry = unix_milliseconds(&mut context);
            if expiry.settle == Settle::Never {
                let text = String::from_utf8(expiry.argument).unwrap_or_default();
                let when: u64 = text.parse().unwrap_or(u64::MAX);
                assert!(when >= now_ms + 100_000, "{when} is too soon");
            }
            let tiny = relative_milliseconds(&mut context);
            if tiny.settle == Settle::Soon {
                assert!(matches!(
                    tiny.argument.as_slice(),
                    b"1" | b"2" | b"3" | b"4" | b"5"
                ));
            }
        }
    }
}
