//! The keyspace family: DEL UNLINK EXISTS TYPE RENAME RENAMENX COPY MOVE TOUCH
//! EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL EXPIRETIME PEXPIRETIME PERSIST
//! OBJECT ENCODING DBSIZE KEYS SCAN SELECT SWAPDB FLUSHDB RANDOMKEY.
//!
//! Database indexes are 0 to 3 (plus invalid ones), so SELECT, SWAPDB, MOVE and
//! COPY ... DB move data between a few databases that later commands visit.
//! TTL-style replies are compared with a tolerance, KEYS as a set, SCAN as the
//! key set of a full cursor loop and RANDOMKEY by outcome (see `compare`).

use super::expiry::{self, settled, Expiry};
use super::values::{self, key, option};
use super::{Command, Context, Recipe};
use crate::compare::{Comparison, MILLISECONDS_TOLERANCE, SECONDS_TOLERANCE};

/// The keyspace family's recipes.
#[rustfmt::skip]
pub const RECIPES: &[Recipe] = &[
    Recipe { weight: 5,  build: del },
    Recipe { weight: 2,  build: unlink },
    Recipe { weight: 5,  build: exists },
    Recipe { weight: 3,  build: type_of },
    Recipe { weight: 3,  build: rename },
    Recipe { weight: 2,  build: renamenx },
    Recipe { weight: 3,  build: copy },
    Recipe { weight: 3,  build: move_key },
    Recipe { weight: 2,  build: touch },
    Recipe { weight: 10, build: expire },
    Recipe { weight: 8,  build: ttl },
    Recipe { weight: 3,  build: persist },
    Recipe { weight: 4,  build: object },
    Recipe { weight: 3,  build: dbsize },
    Recipe { weight: 3,  build: keys },
    Recipe { weight: 4,  build: scan },
    Recipe { weight: 3,  build: select },
    Recipe { weight: 1,  build: swapdb },
    Recipe { weight: 1,  build: flushdb },
    Recipe { weight: 2,  build: randomkey },
];

/// DEL or UNLINK of one to four keys, repeats allowed.
fn remove(context: &mut Context<'_>, name: &str) -> Vec<Command> {
    let mut command = Command::new(name);
    for key in values::some_keys(context, 1, 4) {
        context.model.removed(&key);
        command = command.key(key);
    }
    vec![command]
}

fn del(context: &mut Context<'_>) -> Vec<Command> {
    remove(context, "DEL")
}

fn unlink(context: &mut Context<'_>) -> Vec<Command> {
    remove(context, "UNLINK")
}

fn exists(context: &mut Context<'_>) -> Vec<Command> {
    let mut command = Command::new("EXISTS");
    for key in values::some_keys(context, 1, 4) {
        command = command.key(key);
    }
    vec![command]
}

fn type_of(context: &mut Context<'_>) -> Vec<Command> {
    vec![Command::new("TYPE").key(key(context))]
}

fn touch(context: &mut Context<'_>) -> Vec<Command> {
    let mut command = Command::new("TOUCH");
    for key in values::some_keys(context, 1, 3) {
        command = command.key(key);
    }
    vec![command]
}

/// A source and a destination key, equal one time in ten.
fn two_keys(context: &mut Context<'_>) -> (Vec<u8>, Vec<u8>) {
    let source = key(context);
    let destination = if context.chance(10) {
        source.clone()
    } else {
        key(context)
    };
    (source, destination)
}

fn rename(context: &mut Context<'_>) -> Vec<Command> {
    let (source, destination) = two_keys(context);
    if source != destination {
        context.model.may_copy(&source, &destination, None);
        context.model.removed(&source);
    }
    vec![Command::new("RENAME").key(source).key(destination)]
}

fn renamenx(context: &mut Context<'_>) -> Vec<Command> {
    let (source, destination) = two_keys(context);
    context.model.may_copy(&source, &destination, None);
    vec![Command::new("RENAMENX").key(source).key(destination)]
}

fn copy(context: &mut Context<'_>) -> Vec<Command> {
    let (source, destination) = two_keys(context);
    let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut target_database = None;
    if context.chance(35) {
        let (text, database) = values::database(context);
        target_database = database;
        groups.push(vec![option(context, "DB"), text]);
    }
    if context.chance(35) {
        groups.push(vec![option(context, "REPLACE")]);
    }
    if context.chance(3) {
        groups.push(vec![option(context, "FOO")]);
    }
    if context.chance(2) {
        groups.push(vec![option(context, "DB")]);
    }
    context.shuffle(&mut groups);
    context
        .model
        .may_copy(&source, &destination, target_database);
    vec![Command::new("COPY")
        .key(source)
        .key(destination)
        .args(groups.into_iter().flatten())]
}

fn move_key(context: &mut Context<'_>) -> Vec<Command> {
    let key = key(context);
    let (text, database) = values::database(context);
    if let Some(database) = database {
        context.model.may_copy(&key, &key, Some(database));
    }
    vec![Command::new("MOVE").key(key).arg(text)]
}

/// EXPIRE, PEXPIRE, EXPIREAT or PEXPIREAT, with NX / XX / GT / LT and their
/// conflicting combinations.
fn expire(context: &mut Context<'_>) -> Vec<Command> {
    let key = key(context);
    let (name, expiry): (&str, Expiry) = match context.rng.below(4) {
        0 => ("EXPIRE", expiry::relative_seconds(context)),
        1 => ("PEXPIRE", expiry::relative_milliseconds(context)),
        2 => ("EXPIREAT", expiry::unix_seconds(context)),
        _ => ("PEXPIREAT", expiry::unix_milliseconds(context)),
    };
    let mut flags: Vec<Vec<u8>> = Vec::new();
    match context.rng.below(100) {
        0..=49 => {}
        50..=89 => {
            let flag = context.pick(&["NX", "XX", "GT", "LT"]);
            flags.push(option(context, flag));
        }
        90..=96 => {
            let (first, second) = context.pick(&[
                ("NX", "XX"),
                ("GT", "LT"),
                ("NX", "GT"),
                ("NX", "LT"),
                ("XX", "GT"),
                ("XX", "LT"),
                ("GT", "GT"),
            ]);
            flags.push(option(context, first));
            flags.push(option(context, second));
        }
        _ => {
            let unknown = context.pick(&["FOO", "KEEPTTL", "PX"]);
            flags.push(option(context, unknown));
        }
    }
    let command = Command::new(name)
        .key(&key)
        .arg(expiry.argument)
        .args(flags);
    settled(command, &key, expiry.settle)
}

/// TTL, PTTL, EXPIRETIME or PEXPIRETIME, compared with their tolerance.
fn ttl(context: &mut Context<'_>) -> Vec<Command> {
    let (name, tolerance) = context.pick(&[
        ("TTL", SECONDS_TOLERANCE),
        ("PTTL", MILLISECONDS_TOLERANCE),
        ("EXPIRETIME", SECONDS_TOLERANCE),
        ("PEXPIRETIME", MILLISECONDS_TOLERANCE),
    ]);
    vec![Command::new(name)
        .key(key(context))
        .compared(Comparison::IntegerWithin(tolerance))]
}

fn persist(context: &mut Context<'_>) -> Vec<Command> {
    vec![Command::new("PERSIST").key(key(context))]
}

/// OBJECT ENCODING, and the subcommand's error cases.
fn object(context: &mut Context<'_>) -> Vec<Command> {
    let key = key(context);
    let command = match context.rng.below(100) {
        0..=87 => Command::new("OBJECT")
            .arg(option(context, "ENCODING"))
            .key(key)
            .compared(Comparison::Encoding),
        88..=91 => Command::new("OBJECT").arg("NOSUCHSUB").key(key),
        92..=95 => Command::new("OBJECT").arg(option(context, "ENCODING")),
        _ => Command::new("OBJECT")
            .arg(option(context, "ENCODING"))
            .key(key)
            .arg("extra"),
    };
    vec![command]
}

fn dbsize(_context: &mut Context<'_>) -> Vec<Command> {
    vec![Command::new("DBSIZE")]
}

fn keys(context: &mut Context<'_>) -> Vec<Command> {
    let pattern = values::pattern(context);
    vec![Command::new("KEYS")
        .arg(pattern)
        .compared(Comparison::Unordered)
        .global()]
}

/// A full SCAN loop with MATCH / COUNT / TYPE, or one SCAN with an invalid cursor.
fn scan(context: &mut Context<'_>) -> Vec<Command> {
    if context.chance(8) {
        let cursor = context.pick(&["abc", "1x", "-", "0.5"]);
        return vec![Command::new("SCAN").arg(cursor).global()];
    }
    let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
    if context.chance(50) {
        let pattern = values::pattern(context);
        groups.push(vec![option(context, "MATCH"), pattern]);
    }
    if context.chance(40) {
        let count = if context.chance(90) {
            context.pick(&["1", "2", "5", "10", "100"])
        } else {
            context.pick(&["0", "-1", "abc"])
        };
        groups.push(vec![option(context, "COUNT"), count.into()]);
    }
    if context.chance(20) {
        let kind = context.pick(&["string", "hash", "list", "set", "zset", "stream"]);
        groups.push(vec![option(context, "TYPE"), kind.into()]);
    }
    if context.chance(3) {
        groups.push(vec![option(context, "FOO")]);
    }
    context.shuffle(&mut groups);
    // The cursor argument (index 1) is rewritten by the runner on each call.
    vec![Command::new("SCAN")
        .arg("0")
        .args(groups.into_iter().flatten())
        .compared(Comparison::ScanKeys)
        .global()]
}

fn select(context: &mut Context<'_>) -> Vec<Command> {
    let (text, database) = values::database(context);
    if let Some(database) = database {
        context.model.select(database);
    }
    vec![Command::new("SELECT").arg(text).global()]
}

fn swapdb(context: &mut Context<'_>) -> Vec<Command> {
    let (first_text, first) = values::database(context);
    let (second_text, second) = values::database(context);
    if let (Some(first), Some(second)) = (first, second) {
        context.model.swap(first, second);
    }
    vec![Command::new("SWAPDB")
        .arg(first_text)
        .arg(second_text)
        .global()]
}

fn flushdb(context: &mut Context<'_>) -> Vec<Command> {
    let command = match context.rng.below(10) {
        0..=5 => Command::new("FLUSHDB"),
        6 | 7 => Command::new("FLUSHDB").arg(option(context, "SYNC")),
        8 => Command::new("FLUSHDB").arg(option(context, "ASYNC")),
        _ => Command::new("FLUSHDB").arg("FOO"),
    };
    if command.args.len() == 1 || command.args.get(1).is_some_and(|arg| arg != b"FOO") {
        context.model.flush_selected();
    }
    vec![command.global()]
}

fn randomkey(_context: &mut Context<'_>) -> Vec<Command> {
    vec![Command::new("RANDOMKEY")
        .compared(Comparison::RandomKey)
        .global()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::model::Model;
    use crate::prng::Prng;

    #[test]
    fn ttl_commands_carry_their_tolerance() {
        let mut rng = Prng::new(3);
        let mut model = Model::default();
        for _ in 0..100 {
            let mut context = Context {
                rng: &mut rng,
                model: &mut model,
                now_unix_ms: 1_700_000_000_000,
            };
            for command in ttl(&mut context) {
                let expected = if command.name().starts_with('P') {
                    MILLISECONDS_TOLERANCE
                } else {
                    SECONDS_TOLERANCE
                };
                assert_eq!(command.comparison, Comparison::IntegerWithin(expected));
            }
        }
    }

    #[test]
    fn select_follows_valid_indexes_only() {
        let mut rng = Prng::new(8);
        let mut model = Model::default();
        for _ in 0..500 {
            let mut context = Context {
                rng: &mut rng,
                model: &mut model,
                now_unix_ms: 1_700_000_000_000,
            };
            let commands = select(&mut context);
            let argument = commands
                .first()
                .and_then(|command| command.args.get(1))
                .cloned()
                .unwrap_or_default();
            let selected = model.selected().to_string().into_bytes();
            if matches!(argument.as_slice(), b"0" | b"1" | b"2" | b"3") {
                assert_eq!(argument, selected);
            }
        }
    }
}
