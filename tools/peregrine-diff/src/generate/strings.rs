//! The string family: GET SET SETNX SETEX PSETEX GETSET GETDEL GETEX MGET MSET
//! MSETNX APPEND STRLEN INCR DECR INCRBY DECRBY INCRBYFLOAT GETRANGE SETRANGE
//! SUBSTR LCS.
//!
//! Besides valid uses, recipes deliberately produce conflicting options
//! (SET NX XX, SET EX with KEEPTTL, GETEX EX with PERSIST), unknown options,
//! options missing their value, invalid and overflowing numbers, and expiry
//! times that are zero, negative or too large.

use super::expiry::{self, settled, Expiry, Settle};
use super::values::{self, key, option, value};
use super::{Command, Context, Recipe};

/// Values never grow past this many bytes: an APPEND that could is replaced by DEL.
pub const MAX_VALUE_BOUND: usize = 16 * 1024;

/// LCS runs only on keys whose values are at most this long, so its
/// length-product table stays small.
pub const MAX_LCS_INPUT: usize = 2 * 1024;

/// Upper bound on the length of an INCR / INCRBY result.
const INTEGER_TEXT_BOUND: usize = 20;

/// Upper bound on the length of an INCRBYFLOAT result (Redis prints long
/// doubles in full, up to 5 KiB).
const FLOAT_TEXT_BOUND: usize = 5 * 1024 + 64;

/// The string family's recipes.
#[rustfmt::skip]
pub const RECIPES: &[Recipe] = &[
    Recipe { weight: 12, build: get },
    Recipe { weight: 20, build: set },
    Recipe { weight: 4,  build: setnx },
    Recipe { weight: 3,  build: setex },
    Recipe { weight: 3,  build: psetex },
    Recipe { weight: 3,  build: getset },
    Recipe { weight: 3,  build: getdel },
    Recipe { weight: 6,  build: getex },
    Recipe { weight: 5,  build: mget },
    Recipe { weight: 5,  build: mset },
    Recipe { weight: 3,  build: msetnx },
    Recipe { weight: 6,  build: append },
    Recipe { weight: 4,  build: strlen },
    Recipe { weight: 4,  build: incr },
    Recipe { weight: 3,  build: decr },
    Recipe { weight: 4,  build: incrby },
    Recipe { weight: 3,  build: decrby },
    Recipe { weight: 5,  build: incrbyfloat },
    Recipe { weight: 2,  build: overflow },
    Recipe { weight: 4,  build: getrange },
    Recipe { weight: 2,  build: substr },
    Recipe { weight: 5,  build: setrange },
    Recipe { weight: 5,  build: lcs },
];

fn get(context: &mut Context<'_>) -> Vec<Command> {
    vec![Command::new("GET").key(key(context))]
}

/// One expiry option of SET or GETEX: its tokens and when it takes effect.
/// `extra` is the option without a value the command also takes (KEEPTTL for
/// SET, PERSIST for GETEX).
fn expiry_option(context: &mut Context<'_>, extra: &str) -> (Vec<Vec<u8>>, Settle) {
    let (name, expiry): (&str, Option<Expiry>) = match context.rng.below(5) {
        0 => ("EX", Some(expiry::relative_seconds(context))),
        1 => ("PX", Some(expiry::relative_milliseconds(context))),
        2 => ("EXAT", Some(expiry::unix_seconds(context))),
        3 => ("PXAT", Some(expiry::unix_milliseconds(context))),
        _ => (extra, None),
    };
    let mut tokens = vec![option(context, name)];
    let settle = match expiry {
        Some(expiry) => {
            tokens.push(expiry.argument);
            expiry.settle
        }
        None => Settle::Never,
    };
    (tokens, settle)
}

fn set(context: &mut Context<'_>) -> Vec<Command> {
    let key = key(context);
    let value = value(context);
    let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
    match context.rng.below(100) {
        0..=14 => groups.push(vec![option(context, "NX")]),
        15..=29 => groups.push(vec![option(context, "XX")]),
        30..=32 => {
            groups.push(vec![option(context, "NX")]);
            groups.push(vec![option(context, "XX")]);
        }
        _ => {}
    }
    if context.chance(20) {
        groups.push(vec![option(context, "GET")]);
    }
    let expiries = match context.rng.below(100) {
        0..=44 => 0,
        45..=95 => 1,
        _ => 2,
    };
    let mut settle = Settle::Never;
    for _ in 0..expiries {
        let (tokens, this_settle) = expiry_option(context, "KEEPTTL");
        settle = settle.max(this_settle);
        groups.push(tokens);
    }
    if context.chance(3) {
        let unknown = context.pick(&["FOO", "EXX", "NXX", "PERSIST", "KEEPTTL1"]);
        groups.push(vec![option(context, unknown)]);
    }
    context.shuffle(&mut groups);
    if context.chance(3) {
        // An expiry option without its value, at the end.
        let dangling = context.pick(&["EX", "PX", "EXAT", "PXAT"]);
        groups.push(vec![option(context, dangling)]);
    }
    context.model.may_store(&key, value.len());
    let command = Command::new("SET")
        .key(&key)
        .arg(value)
        .args(groups.into_iter().flatten());
    settled(command, &key, settle)
}

fn setnx(context: &mut Context<'_>) -> Vec<Command> {
    let key = key(context);
    let value = value(context);
    context.model.may_store(&key, value.len());
    vec![Command::new("SETNX").key(key).arg(value)]
}

fn setex(context: &mut Context<'_>) -> Vec<Command> {
    let key = key(context);
    let expiry = expiry::relative_seconds(context);
    let value = value(context);
    context.model.may_store(&key, value.len());
    let command = Command::new("SETEX")
        .key(&key)
        .arg(expiry.argument)
        .arg(value);
    settled(command, &key, expiry.settle)
}

fn psetex(context: &mut Context<'_>) -> Vec<Command> {
    let key = key(context);
    let expiry = expiry::relative_milliseconds(context);
    let value = value(context);
    context.model.may_store(&key, value.len());
    let command = Command::new("PSETEX")
        .key(&key)
        .arg(expiry.argument)
        .arg(value);
    settled(command, &key, expiry.settle)
}

fn getset(context: &mut Context<'_>) -> Vec<Command> {
    let key = key(context);
    let value = value(context);
    context.model.may_store(&key, value.len());
    vec![Command::new("GETSET").key(key).arg(value)]
}

/// GETDEL leaves the model's bound alone: on a collection it fails with
/// WRONGTYPE and removes nothing.
fn getdel(context: &mut Context<'_>) -> Vec<Command> {
    vec![Command::new("GETDEL").key(key(context))]
}

fn getex(context: &mut Context<'_>) -> Vec<Command> {
    let key = key(context);
    let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
    let options = match context.rng.below(100) {
        0..=29 => 0,
        30..=91 => 1,
        _ => 2,
    };
    let mut settle = Settle::Never;
    for _ in 0..options {
        let (tokens, this_settle) = expiry_option(context, "PERSIST");
        settle = settle.max(this_settle);
        groups.push(tokens);
    }
    if context.chance(3) {
        let unknown = context.pick(&["KEEPTTL", "NX", "FOO"]);
        groups.push(vec![option(context, unknown)]);
    }
    context.shuffle(&mut groups);
    if context.chance(3) {
        let dangling = context.pick(&["EX", "PX", "EXAT", "PXAT"]);
        groups.push(vec![option(context, dangling)]);
    }
    let command = Command::new("GETEX")
        .key(&key)
        .args(groups.into_iter().flatten());
    settled(command, &key, settle)
}

fn mget(context: &mut Context<'_>) -> Vec<Command> {
    let mut command = Command::new("MGET");
    for key in values::some_keys(context, 1, 5) {
        command = command.key(key);
    }
    vec![command]
}

/// MSET or MSETNX: one to four pairs, sometimes with the last value missing.
fn multi_set(context: &mut Context<'_>, name: &str) -> Vec<Command> {
    let mut command = Command::new(name);
    let pairs = context.between(1, 4);
    let drop_last_value = context.chance(8);
    for pair in 0..pairs {
        let key = key(context);
        command = command.key(&key);
        if drop_last_value && pair + 1 == pairs {
            break;
        }
        let value = value(context);
        context.model.may_store(&key, value.len());
        command = command.arg(value);
    }
    vec![command]
}

fn mset(context: &mut Context<'_>) -> Vec<Command> {
    multi_set(context, "MSET")
}

fn msetnx(context: &mut Context<'_>) -> Vec<Command> {
    multi_set(context, "MSETNX")
}

fn append(context: &mut Context<'_>) -> Vec<Command> {
    let key = key(context);
    let value = value(context);
    if context.model.bound(&key).saturating_add(value.len()) > MAX_VALUE_BOUND {
        context.model.removed(&key);
        return vec![Command::new("DEL").key(key)];
    }
    context.model.may_grow(&key, value.len());
    vec![Command::new("APPEND").key(key).arg(value)]
}

fn strlen(context: &mut Context<'_>) -> Vec<Command> {
    vec![Command::new("STRLEN").key(key(context))]
}

/// INCR or DECR.
fn step(context: &mut Context<'_>, name: &str) -> Vec<Command> {
    let key = key(context);
    context.model.may_store(&key, INTEGER_TEXT_BOUND);
    vec![Command::new(name).key(key)]
}

fn incr(context: &mut Context<'_>) -> Vec<Command> {
    step(context, "INCR")
}

fn decr(context: &mut Context<'_>) -> Vec<Command> {
    step(context, "DECR")
}

/// INCRBY or DECRBY.
fn step_by(context: &mut Context<'_>, name: &str) -> Vec<Command> {
    let key = key(context);
    let amount = values::increment(context);
    context.model.may_store(&key, INTEGER_TEXT_BOUND);
    vec![Command::new(name).key(key).arg(amount)]
}

fn incrby(context: &mut Context<'_>) -> Vec<Command> {
    step_by(context, "INCRBY")
}

fn decrby(context: &mut Context<'_>) -> Vec<Command> {
    step_by(context, "DECRBY")
}

fn incrbyfloat(context: &mut Context<'_>) -> Vec<Command> {
    let key = key(context);
    let amount = values::float_increment(context);
    context.model.may_store(&key, FLOAT_TEXT_BOUND);
    vec![Command::new("INCRBYFLOAT").key(key).arg(amount)]
}

/// A value at an i64 (or float) edge, then the step that overflows it.
fn overflow(context: &mut Context<'_>) -> Vec<Command> {
    const CASES: &[(&str, &str, &str)] = &[
        ("9223372036854775807", "INCR", ""),
        ("-9223372036854775808", "DECR", ""),
        ("1", "INCRBY", "9223372036854775807"),
        ("-2", "DECRBY", "9223372036854775807"),
        ("0", "DECRBY", "-9223372036854775808"),
        ("-1", "INCRBY", "-9223372036854775808"),
        ("9223372036854775806", "INCRBY", "1"),
        ("1e308", "INCRBYFLOAT", "1e308"),
        ("-1e308", "INCRBYFLOAT", "-1e308"),
        ("1.7976931348623157e308", "INCRBYFLOAT", "1e308"),
        ("inf", "INCRBYFLOAT", "1"),
        ("1", "INCRBYFLOAT", "-inf"),
        ("0", "INCRBYFLOAT", "nan"),
    ];
    let key = key(context);
    let (start, name, amount) = context.pick(CASES);
    context.model.may_store(&key, FLOAT_TEXT_BOUND);
    let mut step = Command::new(name).key(&key);
    if !amount.is_empty() {
        step = step.arg(amount);
    }
    vec![Command::new("SET").key(&key).arg(start), step]
}

/// GETRANGE or SUBSTR.
fn range(context: &mut Context<'_>, name: &str) -> Vec<Command> {
    let key = key(context);
    let start = values::range_index(context);
    let end = values::range_index(context);
    vec![Command::new(name).key(key).arg(start).arg(end)]
}

fn getrange(context: &mut Context<'_>) -> Vec<Command> {
    range(context, "GETRANGE")
}

fn substr(context: &mut Context<'_>) -> Vec<Command> {
    range(context, "SUBSTR")
}

fn setrange(context: &mut Context<'_>) -> Vec<Command> {
    let key = key(context);
    let (offset_text, offset) = values::offset(context);
    let value = value(context);
    if let Some(offset) = offset {
        context
            .model
            .may_store(&key, offset.saturating_add(value.len()));
    }
    vec![Command::new("SETRANGE")
        .key(key)
        .arg(offset_text)
        .arg(value)]
}

fn lcs(context: &mut Context<'_>) -> Vec<Command> {
    let small: Vec<&[u8]> = values::KEYS
        .iter()
        .copied()
        .filter(|key| context.model.bound(key) <= MAX_LCS_INPUT)
        .collect();
    if small.is_empty() {
        // Every value may be long: shrink one instead of running a costly LCS.
        let key = key(context);
        context.model.removed(&key);
        return vec![Command::new("DEL").key(key)];
    }
    let first = context.pick(&small);
    let second = context.pick(&small);
    let mut command = Command::new("LCS").key(first).key(second);
    let mut options: Vec<Vec<Vec<u8>>> = Vec::new();
    match context.rng.below(100) {
        0..=39 => {}
        40..=59 => options.push(vec![option(context, "LEN")]),
        60..=89 => {
            options.push(vec![option(context, "IDX")]);
            if context.chance(50) {
                let length = context.pick(&["0", "1", "2", "3", "-1", "abc"]);
                options.push(vec![option(context, "MINMATCHLEN"), length.into()]);
            }
            if context.chance(50) {
                options.push(vec![option(context, "WITHMATCHLEN")]);
            }
        }
        90..=93 => {
            options.push(vec![option(context, "LEN")]);
            options.push(vec![option(context, "IDX")]);
        }
        94..=96 => {
            let length = context.pick(&["1", "2"]);
            options.push(vec![option(context, "MINMATCHLEN"), length.into()]);
        }
        _ => options.push(vec![option(context, "FOO")]),
    }
    context.shuffle(&mut options);
    command = command.args(options.into_iter().flatten());
    vec![command]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::model::Model;
    use crate::generate::tests::build_many;
    use crate::prng::Prng;

    #[test]
    fn set_covers_conflicts_and_follow_ups() {
        let commands = build_many(set, 2000);
        let printed: Vec<String> = commands.iter().map(Command::printable).collect();
        assert!(printed
            .iter()
            .any(|line| line.contains(" NX") && line.contains(" XX")));
        assert!(printed.iter().any(|line| line.contains("KEEPTTL")));
        assert!(printed.iter().any(|line| line.starts_with("EXISTS")));
        assert!(commands.iter().any(|command| command.pause_after.is_some()));
    }

    #[test]
    fn lcs_sends_both_keys_even_when_equal() {
        for command in build_many(lcs, 500) {
            if command.name() == "LCS" {
                assert!(command.args.len() >= 3, "{}", command.printable());
            }
        }
    }

    #[test]
    fn append_keeps_values_bounded() {
        let mut rng = Prng::new(5);
        let mut model = Model::default();
        for _ in 0..20_000 {
            let mut context = Context {
                rng: &mut rng,
                model: &mut model,
                now_unix_ms: 1_700_000_000_000,
            };
            append(&mut context);
        }
        for key in values::KEYS {
            assert!(model.bound(key) <= MAX_VALUE_BOUND);
        }
    }
}
