//! The hash family: HSET HSETNX HGET HMSET HMGET HGETALL HDEL HLEN HEXISTS HKEYS
//! HVALS HINCRBY HINCRBYFLOAT HSTRLEN HRANDFIELD HSCAN.
//!
//! Field order is unspecified once a hash leaves its compact encoding, so
//! HGETALL, HKEYS, HVALS, HRANDFIELD and HSCAN are compared as sets (field-value
//! pairs kept together). HRANDFIELD is sent only in its deterministic forms: a
//! count covering the whole hash, a hash of at most one field, a key that is
//! not a hash, or an invalid count.

use super::collections::{self, RandomCommand, HASHES};
use super::values;
use super::{Command, Context, Recipe};
use crate::compare::Comparison;

/// The hash family's recipes.
#[rustfmt::skip]
pub const RECIPES: &[Recipe] = &[
    Recipe { weight: 12, build: hset },
    Recipe { weight: 2,  build: hsetnx },
    Recipe { weight: 3,  build: hmset },
    Recipe { weight: 1,  build: grow },
    Recipe { weight: 8,  build: hget },
    Recipe { weight: 3,  build: hmget },
    Recipe { weight: 5,  build: hgetall },
    Recipe { weight: 4,  build: hdel },
    Recipe { weight: 3,  build: hlen },
    Recipe { weight: 3,  build: hexists },
    Recipe { weight: 2,  build: hkeys },
    Recipe { weight: 2,  build: hvals },
    Recipe { weight: 4,  build: hincrby },
    Recipe { weight: 4,  build: hincrbyfloat },
    Recipe { weight: 2,  build: hstrlen },
    Recipe { weight: 4,  build: hrandfield },
    Recipe { weight: 3,  build: hscan },
    Recipe { weight: 3,  build: keyspace },
    Recipe { weight: 2,  build: wrong_arity },
];

/// Fields: a few short ones that recur, numbers, binary, empty, and one past
/// the 64-byte limit of the compact encoding.
const FIELDS: &[&[u8]] = &[
    b"f0",
    b"f1",
    b"f2",
    b"f3",
    b"a",
    b"",
    b"\x00\xff",
    b"123",
    b"-1",
    b"field with spaces",
    b"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];

fn field(context: &mut Context<'_>) -> Vec<u8> {
    context.pick(FIELDS).to_vec()
}

/// One to `high` fields, repeats allowed.
fn fields(context: &mut Context<'_>, high: i64) -> Vec<Vec<u8>> {
    let count = context.between(1, high);
    (0..count).map(|_| field(context)).collect()
}

/// HSET or HMSET with one to four pairs, sometimes missing the last value.
fn set_pairs(context: &mut Context<'_>, name: &str) -> Vec<Command> {
    let key = collections::write_key(context, HASHES);
    let pairs = context.between(1, 4);
    let drop_last_value = context.chance(5);
    let mut command = Command::new(name).key(&key);
    for pair in 0..pairs {
        command = command.arg(field(context));
        if !(drop_last_value && pair + 1 == pairs) {
            command = command.arg(values::value(context));
        }
    }
    let added = usize::try_from(pairs).unwrap_or(0);
    vec![collections::grown(context, &key, added, command)]
}

fn hset(context: &mut Context<'_>) -> Vec<Command> {
    set_pairs(context, "HSET")
}

fn hmset(context: &mut Context<'_>) -> Vec<Command> {
    set_pairs(context, "HMSET")
}

fn hsetnx(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::write_key(context, HASHES);
    let field = field(context);
    let value = values::value(context);
    let command = Command::new("HSETNX").key(&key).arg(field).arg(value);
    vec![collections::grown(context, &key, 1, command)]
}

/// HSET of 130 to 200 fields: past 128 entries the hash leaves its compact encoding.
fn grow(context: &mut Context<'_>) -> Vec<Command> {
    let key = HASHES.any(context);
    let count = context.between(130, 200);
    let mut command = Command::new("HSET").key(&key);
    for position in 0..count {
        command = command
            .arg(format!("g{position}"))
            .arg(position.to_string());
    }
    let added = usize::try_from(count).unwrap_or(0);
    vec![collections::grown(context, &key, added, command)]
}

fn hget(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::read_key(context, HASHES);
    vec![Command::new("HGET").key(key).arg(field(context))]
}

fn hmget(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::read_key(context, HASHES);
    let fields = fields(context, 4);
    vec![Command::new("HMGET").key(key).args(fields)]
}

fn hgetall(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::read_key(context, HASHES);
    vec![Command::new("HGETALL")
        .key(key)
        .compared(Comparison::UnorderedPairs)]
}

fn hdel(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::read_key(context, HASHES);
    let fields = fields(context, 3);
    vec![Command::new("HDEL").key(key).args(fields)]
}

fn hlen(context: &mut Context<'_>) -> Vec<Command> {
    vec![Command::new("HLEN").key(collections::read_key(context, HASHES))]
}

fn hexists(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::read_key(context, HASHES);
    vec![Command::new("HEXISTS").key(key).arg(field(context))]
}

fn hkeys(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::read_key(context, HASHES);
    vec![Command::new("HKEYS")
        .key(key)
        .compared(Comparison::Unordered)]
}

fn hvals(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::read_key(context, HASHES);
    vec![Command::new("HVALS")
        .key(key)
        .compared(Comparison::Unordered)]
}

/// Fields only the increment commands write, so they mostly hold numbers.
const COUNTER_FIELDS: &[&[u8]] = &[b"n0", b"n1"];

/// HINCRBY or HINCRBYFLOAT, sometimes after setting the field to an edge value.
fn increment_field(context: &mut Context<'_>, name: &str, amount: Vec<u8>) -> Vec<Command> {
    let key = collections::write_key(context, HASHES);
    let field = if context.chance(60) {
        context.pick(COUNTER_FIELDS).to_vec()
    } else {
        field(context)
    };
    let mut commands = Vec::new();
    if context.chance(15) {
        let start = context.pick(&[
            "9223372036854775807",
            "-9223372036854775808",
            "1e308",
            "-1e308",
            "inf",
            "1.5",
            "abc",
            "",
            " 1",
            "10",
        ]);
        let setup = Command::new("HSET").key(&key).arg(&field).arg(start);
        commands.push(collections::grown(context, &key, 1, setup));
    }
    let command = Command::new(name).key(&key).arg(field).arg(amount);
    commands.push(collections::grown(context, &key, 1, command));
    commands
}

fn hincrby(context: &mut Context<'_>) -> Vec<Command> {
    let amount = values::increment(context);
    increment_field(context, "HINCRBY", amount)
}

fn hincrbyfloat(context: &mut Context<'_>) -> Vec<Command> {
    let amount = values::float_increment(context);
    increment_field(context, "HINCRBYFLOAT", amount)
}

fn hstrlen(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::read_key(context, HASHES);
    vec![Command::new("HSTRLEN").key(key).arg(field(context))]
}

/// HRANDFIELD in a deterministic form.
fn hrandfield(context: &mut Context<'_>) -> Vec<Command> {
    collections::random_deterministic(
        context,
        RandomCommand {
            name: "HRANDFIELD",
            pool: HASHES,
            with: Some("WITHVALUES"),
            add_one: |context, key| {
                let (field, value) = (field(context), values::value(context));
                Command::new("HSET").key(key).arg(field).arg(value)
            },
        },
    )
}

fn hscan(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::read_key(context, HASHES);
    vec![collections::scan(context, "HSCAN", key, true)]
}

fn keyspace(context: &mut Context<'_>) -> Vec<Command> {
    collections::keyspace(context, HASHES)
}

/// Hash commands and argument counts (after the name) their arity rejects.
const WRONG_ARITY: &[(&str, i64)] = &[
    ("HSET", 1),
    ("HSET", 2),
    ("HSETNX", 2),
    ("HGET", 1),
    ("HMSET", 2),
    ("HMGET", 1),
    ("HGETALL", 0),
    ("HGETALL", 2),
    ("HDEL", 1),
    ("HLEN", 2),
    ("HEXISTS", 1),
    ("HKEYS", 0),
    ("HVALS", 2),
    ("HINCRBY", 2),
    ("HINCRBYFLOAT", 4),
    ("HSTRLEN", 1),
    ("HRANDFIELD", 0),
    ("HRANDFIELD", 4),
    ("HSCAN", 1),
];

fn wrong_arity(context: &mut Context<'_>) -> Vec<Command> {
    collections::wrong_arity(context, HASHES, WRONG_ARITY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::tests::build_many;

    #[test]
    fn one_field_setups_precede_every_exact_random_count() {
        let commands = build_many(hrandfield, 1000);
        for (position, command) in commands.iter().enumerate() {
            let count = command
                .args
                .get(2)
                .and_then(|count| std::str::from_utf8(count).ok())
                .and_then(|count| count.parse::<i64>().ok());
            let several = count.is_some_and(|count| count.unsigned_abs() > 1);
            let small_enough = count.is_some_and(|count| count.unsigned_abs() < 1 << 40);
            if command.name() != "HRANDFIELD" || !several || !small_enough {
                continue;
            }
            let after_reset = position
                .checked_sub(1)
                .and_then(|previous| commands.get(previous))
                .is_some_and(|previous| previous.name() == "HSET" && previous.args.len() == 4);
            let on_foreign_key = !command.args.get(1).is_some_and(|key| {
                HASHES.plain.contains(&key.as_slice())
                    || HASHES.tagged.contains(&key.as_slice())
                    || values::KEYS.contains(&key.as_slice())
            });
            assert!(
                command.comparison != Comparison::Exact || after_reset || on_foreign_key,
                "{}",
                command.printable()
            );
        }
    }

    #[test]
    fn grow_passes_the_compact_limit() {
        let commands = build_many(grow, 20);
        assert!(commands
            .iter()
            .any(|command| command.name() == "HSET" && command.args.len() > 2 + 2 * 128));
    }
}
