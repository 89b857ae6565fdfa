//! The set family: SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP
//! SRANDMEMBER SMOVE SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF
//! SDIFFSTORE SSCAN.
//!
//! Members are integers half of the time (so sets stay in the integer
//! encoding until a string or the 512th member arrives) and short strings
//! otherwise. Member order is unspecified, so every reply listing members is
//! compared as a sorted multiset. SPOP and SRANDMEMBER are sent only in their
//! deterministic forms: a count covering the whole set, a set of one member, a
//! key that is not a set, or an invalid count.

use super::collections::{self, RandomCommand, SETS};
use super::values::option;
use super::{Command, Context, Recipe};
use crate::compare::Comparison;

/// The set family's recipes.
#[rustfmt::skip]
pub const RECIPES: &[Recipe] = &[
    Recipe { weight: 12, build: sadd },
    Recipe { weight: 1,  build: grow },
    Recipe { weight: 4,  build: srem },
    Recipe { weight: 5,  build: smembers },
    Recipe { weight: 4,  build: sismember },
    Recipe { weight: 3,  build: smismember },
    Recipe { weight: 3,  build: scard },
    Recipe { weight: 4,  build: random_member },
    Recipe { weight: 3,  build: smove },
    Recipe { weight: 4,  build: combine },
    Recipe { weight: 4,  build: combine_store },
    Recipe { weight: 2,  build: sintercard },
    Recipe { weight: 3,  build: sscan },
    Recipe { weight: 3,  build: keyspace },
    Recipe { weight: 2,  build: wrong_arity },
];

/// Members that are integers to Redis (kept in the integer encoding).
const INTEGER_MEMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "5",
    "10",
    "-1",
    "-5",
    "100",
    "9223372036854775807",
    "-9223372036854775808",
];

/// Members that are not integers to Redis, some looking like one.
const STRING_MEMBERS: &[&[u8]] = &[
    b"a",
    b"b",
    b"c",
    b"abc",
    b"",
    b"\x00",
    b"\xff",
    b"007",
    b"1.5",
    b"+1",
    b"-0",
    b" 1",
    b"9223372036854775808",
    b"mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm",
];

/// One to `high` members, all integers when `integers`.
fn members(context: &mut Context<'_>, high: i64, integers: bool) -> Vec<Vec<u8>> {
    let count = context.between(1, high);
    (0..count)
        .map(|_| {
            if integers || context.chance(40) {
                context.pick(INTEGER_MEMBERS).as_bytes().to_vec()
            } else {
                context.pick(STRING_MEMBERS).to_vec()
            }
        })
        .collect()
}

fn member(context: &mut Context<'_>) -> Vec<u8> {
    let integers = context.chance(50);
    members(context, 1, integers).pop().unwrap_or_default()
}

fn sadd(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::write_key(context, SETS);
    let integers = context.chance(50);
    let members = members(context, 4, integers);
    let added = members.len();
    let command = Command::new("SADD").key(&key).args(members);
    vec![collections::grown(context, &key, added, command)]
}

/// SADD of many members: 130 to 200 strings (past 128 entries, Redis 7.2's
/// compact limit) or 500 to 600 integers (past the 512 of the integer encoding).
fn grow(context: &mut Context<'_>) -> Vec<Command> {
    let key = SETS.any(context);
    let (count, prefix) = if context.chance(50) {
        (context.between(130, 200), "m")
    } else {
        (context.between(500, 600), "")
    };
    let members: Vec<String> = (0..count)
        .map(|position| format!("{prefix}{position}"))
        .collect();
    let added = members.len();
    let command = Command::new("SADD").key(&key).args(members);
    vec![collections::grown(context, &key, added, command)]
}

fn srem(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::read_key(context, SETS);
    let integers = context.chance(50);
    let members = members(context, 3, integers);
    vec![Command::new("SREM").key(key).args(members)]
}

fn smembers(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::read_key(context, SETS);
    vec![Command::new("SMEMBERS")
        .key(key)
        .compared(Comparison::Unordered)]
}

fn sismember(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::read_key(context, SETS);
    vec![Command::new("SISMEMBER").key(key).arg(member(context))]
}

fn smismember(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::read_key(context, SETS);
    let members = members(context, 4, false);
    vec![Command::new("SMISMEMBER").key(key).args(members)]
}

fn scard(context: &mut Context<'_>) -> Vec<Command> {
    vec![Command::new("SCARD").key(collections::read_key(context, SETS))]
}

/// SPOP or SRANDMEMBER in a deterministic form.
fn random_member(context: &mut Context<'_>) -> Vec<Command> {
    let name = context.pick(&["SPOP", "SRANDMEMBER"]);
    collections::random_deterministic(
        context,
        RandomCommand {
            name,
            pool: SETS,
            with: None,
            add_one: |context, key| Command::new("SADD").key(key).arg(member(context)),
        },
    )
}

fn smove(context: &mut Context<'_>) -> Vec<Command> {
    let sources = collections::key_group(context, SETS, 1, 1, collections::read_key);
    let source = sources.first().cloned().unwrap_or_default();
    let destination = collections::destination_for(context, SETS, &sources);
    let member = member(context);
    let command = Command::new("SMOVE")
        .key(source)
        .key(&destination)
        .arg(member);
    vec![collections::grown(context, &destination, 1, command)]
}

/// SINTER, SUNION or SDIFF of one to four keys.
fn combine(context: &mut Context<'_>) -> Vec<Command> {
    let name = context.pick(&["SINTER", "SUNION", "SDIFF"]);
    let keys = collections::key_group(context, SETS, 1, 4, collections::read_key);
    vec![collections::with_keys(Command::new(name), &keys).compared(Comparison::Unordered)]
}

/// SINTERSTORE, SUNIONSTORE or SDIFFSTORE, the destination sometimes a source.
fn combine_store(context: &mut Context<'_>) -> Vec<Command> {
    let name = context.pick(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]);
    let mut keys = collections::key_group(context, SETS, 1, 4, collections::read_key);
    let destination = collections::destination_for(context, SETS, &keys);
    if context.chance(15) {
        // The destination is also the first source.
        if let Some(first) = keys.first_mut() {
            first.clone_from(&destination);
        }
    }
    let size = collections::bound_sum(context, &keys);
    collections::stored(context, &destination, size);
    let command = Command::new(name).key(destination);
    vec![collections::with_keys(command, &keys)]
}

fn sintercard(context: &mut Context<'_>) -> Vec<Command> {
    let keys = collections::key_group(context, SETS, 1, 4, collections::read_key);
    let numkeys = collections::numkeys(context, &keys);
    let mut command = collections::with_keys(Command::new("SINTERCARD").arg(numkeys), &keys);
    if context.chance(40) {
        let limit = context.pick(&["0", "1", "2", "5", "-1", "abc"]);
        command = command.arg(option(context, "LIMIT")).arg(limit);
    }
    if context.chance(3) {
        command = command.arg(option(context, "LIMIT"));
    }
    vec![command]
}

fn sscan(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::read_key(context, SETS);
    vec![collections::scan(context, "SSCAN", key, false)]
}

fn keyspace(context: &mut Context<'_>) -> Vec<Command> {
    collections::keyspace(context, SETS)
}

/// Set commands and argument counts (after the name) their arity rejects.
const WRONG_ARITY: &[(&str, i64)] = &[
    ("SADD", 1),
    ("SREM", 1),
    ("SMEMBERS", 0),
    ("SMEMBERS", 2),
    ("SISMEMBER", 1),
    ("SMISMEMBER", 1),
    ("SCARD", 2),
    ("SPOP", 0),
    ("SPOP", 3),
    ("SRANDMEMBER", 0),
    ("SRANDMEMBER", 3),
    ("SMOVE", 2),
    ("SINTER", 0),
    ("SINTERCARD", 1),
    ("SINTERSTORE", 1),
    ("SUNION", 0),
    ("SUNIONSTORE", 1),
    ("SDIFF", 0),
    ("SDIFFSTORE", 1),
    ("SSCAN", 1),
];

fn wrong_arity(context: &mut Context<'_>) -> Vec<Command> {
    collections::wrong_arity(context, SETS, WRONG_ARITY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::tests::build_many;

    #[test]
    fn member_lists_are_compared_as_sets() {
        for build in [smembers, combine] {
            for command in build_many(build, 200) {
                assert_eq!(command.comparison, Comparison::Unordered);
            }
        }
    }

    #[test]
    fn grow_passes_both_compact_limits() {
        let counts: Vec<usize> = build_many(grow, 40)
            .iter()
            .filter(|command| command.name() == "SADD")
            .map(|command| command.args.len() - 2)
            .collect();
        assert!(counts.iter().any(|count| (128..512).contains(count)));
        assert!(counts.iter().any(|count| *count > 512));
    }
}
