//! The list family: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET
//! LINSERT LREM LTRIM LPOS LMOVE RPOPLPUSH LMPOP, and the blocking BLPOP BRPOP
//! BLMOVE BRPOPLPUSH BLMPOP with a 10 ms timeout (an empty source times out the
//! same way on both servers).
//!
//! Elements come from a small pool most of the time, so LREM, LPOS and LINSERT
//! find their pivots, and from the shared values otherwise. List replies are
//! ordered, so every reply is compared exactly.

use super::collections::{self, LISTS};
use super::values::{self, option};
use super::{Command, Context, Recipe};

/// The list family's recipes.
#[rustfmt::skip]
pub const RECIPES: &[Recipe] = &[
    Recipe { weight: 10, build: push },
    Recipe { weight: 3,  build: push_existing },
    Recipe { weight: 1,  build: grow },
    Recipe { weight: 6,  build: pop },
    Recipe { weight: 3,  build: llen },
    Recipe { weight: 7,  build: lrange },
    Recipe { weight: 3,  build: lindex },
    Recipe { weight: 3,  build: lset },
    Recipe { weight: 3,  build: linsert },
    Recipe { weight: 3,  build: lrem },
    Recipe { weight: 2,  build: ltrim },
    Recipe { weight: 4,  build: lpos },
    Recipe { weight: 3,  build: lmove },
    Recipe { weight: 2,  build: rpoplpush },
    Recipe { weight: 3,  build: lmpop },
    Recipe { weight: 2,  build: blocking_pop },
    Recipe { weight: 1,  build: blmove },
    Recipe { weight: 1,  build: brpoplpush },
    Recipe { weight: 1,  build: blmpop },
    Recipe { weight: 3,  build: keyspace },
    Recipe { weight: 2,  build: wrong_arity },
];

/// Elements repeated often enough to be found again.
const COMMON_ELEMENTS: &[&[u8]] = &[b"a", b"b", b"c", b"1", b"2", b"", b"\x00", b"a b"];

/// A list element.
fn element(context: &mut Context<'_>) -> Vec<u8> {
    if context.chance(55) {
        context.pick(COMMON_ELEMENTS).to_vec()
    } else {
        values::value(context)
    }
}

/// LEFT or RIGHT, sometimes in lower case, now and then invalid.
fn direction(context: &mut Context<'_>) -> Vec<u8> {
    if context.chance(3) {
        return context.pick(&["UP", "", "LEFTX"]).as_bytes().to_vec();
    }
    let side = context.pick(&["LEFT", "RIGHT"]);
    option(context, side)
}

/// LPUSH or RPUSH (creating the list), LPUSHX or RPUSHX (only onto an existing one).
fn push_named(context: &mut Context<'_>, names: [&str; 2]) -> Vec<Command> {
    let key = collections::write_key(context, LISTS);
    let count = context.between(1, 4);
    let elements: Vec<Vec<u8>> = (0..count).map(|_| element(context)).collect();
    let name = context.pick(&names);
    let command = Command::new(name).key(&key).args(&elements);
    vec![collections::grown(context, &key, elements.len(), command)]
}

fn push(context: &mut Context<'_>) -> Vec<Command> {
    push_named(context, ["LPUSH", "RPUSH"])
}

fn push_existing(context: &mut Context<'_>) -> Vec<Command> {
    push_named(context, ["LPUSHX", "RPUSHX"])
}

/// RPUSH of 100 to 200 elements: past 128 entries and 8 KB the list leaves
/// its compact encoding (in Redis 7.2).
fn grow(context: &mut Context<'_>) -> Vec<Command> {
    let key = LISTS.any(context);
    let count = context.between(100, 200);
    let long = context.chance(50);
    let elements: Vec<Vec<u8>> = (0..count)
        .map(|position| {
            let mut element = format!("e{position}").into_bytes();
            if long {
                element.resize(80, b'.');
            }
            element
        })
        .collect();
    let command = Command::new("RPUSH").key(&key).args(&elements);
    vec![collections::grown(context, &key, elements.len(), command)]
}

/// LPOP or RPOP, with a count half of the time.
fn pop(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::read_key(context, LISTS);
    let name = context.pick(&["LPOP", "RPOP"]);
    let mut command = Command::new(name).key(&key);
    if context.chance(50) {
        command = command.arg(collections::pop_count(context, &key));
    }
    vec![command]
}

fn llen(context: &mut Context<'_>) -> Vec<Command> {
    vec![Command::new("LLEN").key(collections::read_key(context, LISTS))]
}

fn lrange(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::read_key(context, LISTS);
    let (start, stop) = if context.chance(30) {
        (b"0".to_vec(), b"-1".to_vec())
    } else {
        (collections::index(context), collections::index(context))
    };
    vec![Command::new("LRANGE").key(key).arg(start).arg(stop)]
}

fn lindex(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::read_key(context, LISTS);
    let position = collections::index(context);
    vec![Command::new("LINDEX").key(key).arg(position)]
}

fn lset(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::write_key(context, LISTS);
    let position = collections::index(context);
    let value = element(context);
    vec![Command::new("LSET").key(key).arg(position).arg(value)]
}

fn linsert(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::write_key(context, LISTS);
    let place = if context.chance(4) {
        context.pick(&["MIDDLE", ""]).as_bytes().to_vec()
    } else {
        let place = context.pick(&["BEFORE", "AFTER"]);
        option(context, place)
    };
    let pivot = element(context);
    let value = element(context);
    let command = Command::new("LINSERT")
        .key(&key)
        .arg(place)
        .arg(pivot)
        .arg(value);
    vec![collections::grown(context, &key, 1, command)]
}

fn lrem(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::read_key(context, LISTS);
    let count = if context.chance(90) {
        context.between(-3, 3).to_string().into_bytes()
    } else {
        values::increment(context)
    };
    // 7.0 accepts a count of LLONG_MIN, 7.2 rejects it as out of range.
    let count = if count == b"-9223372036854775808" {
        b"-9223372036854775807".to_vec()
    } else {
        count
    };
    let value = element(context);
    vec![Command::new("LREM").key(key).arg(count).arg(value)]
}

fn ltrim(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::read_key(context, LISTS);
    let start = collections::index(context);
    let stop = collections::index(context);
    vec![Command::new("LTRIM").key(key).arg(start).arg(stop)]
}

/// LPOS with RANK, COUNT and MAXLEN in any order, valid most of the time.
fn lpos(context: &mut Context<'_>) -> Vec<Command> {
    const RANKS: &[&str] = &["1", "2", "-1", "-2", "3", "-3"];
    // Not -9223372036854775808: 7.0 accepts it as a rank, 7.2 rejects it.
    const BAD_RANKS: &[&str] = &["0", "abc", "9223372036854775807"];
    const COUNTS: &[&str] = &["0", "1", "2", "5"];
    const MAXLENS: &[&str] = &["0", "1", "2", "10"];
    const BAD_NUMBERS: &[&str] = &["-1", "abc", ""];
    let key = collections::read_key(context, LISTS);
    let value = element(context);
    let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
    for (name, percent, valid, invalid) in [
        ("RANK", 40, RANKS, BAD_RANKS),
        ("COUNT", 40, COUNTS, BAD_NUMBERS),
        ("MAXLEN", 30, MAXLENS, BAD_NUMBERS),
    ] {
        if context.chance(percent) {
            let number = if context.chance(90) {
                context.pick(valid)
            } else {
                context.pick(invalid)
            };
            groups.push(vec![option(context, name), number.into()]);
        }
    }
    if context.chance(2) {
        groups.push(vec![option(context, "FOO")]);
    }
    context.shuffle(&mut groups);
    if context.chance(2) {
        let dangling = context.pick(&["RANK", "COUNT", "MAXLEN"]);
        groups.push(vec![option(context, dangling)]);
    }
    vec![Command::new("LPOS")
        .key(key)
        .arg(value)
        .args(groups.into_iter().flatten())]
}

/// A source and a destination list: tagged together some of the time.
fn source_and_destination(context: &mut Context<'_>) -> (Vec<u8>, Vec<u8>) {
    let sources = collections::key_group(context, LISTS, 1, 1, collections::read_key);
    let source = sources.first().cloned().unwrap_or_default();
    let destination = collections::destination_for(context, LISTS, &sources);
    context.model.may_grow(&destination, 1);
    (source, destination)
}

fn lmove(context: &mut Context<'_>) -> Vec<Command> {
    let (source, destination) = source_and_destination(context);
    let from = direction(context);
    let to = direction(context);
    vec![Command::new("LMOVE")
        .key(source)
        .key(destination)
        .arg(from)
        .arg(to)]
}

fn rpoplpush(context: &mut Context<'_>) -> Vec<Command> {
    let (source, destination) = source_and_destination(context);
    vec![Command::new("RPOPLPUSH").key(source).key(destination)]
}

/// The `numkeys key... LEFT|RIGHT [COUNT n]` tail of LMPOP and BLMPOP.
fn mpop_arguments(context: &mut Context<'_>, command: Command) -> Command {
    let keys = collections::key_group(context, LISTS, 1, 3, collections::read_key);
    let count_key = keys.first().cloned().unwrap_or_default();
    let numkeys = collections::numkeys(context, &keys);
    let mut command = collections::with_keys(command.arg(numkeys), &keys).arg(direction(context));
    if context.chance(50) {
        let count = collections::pop_count(context, &count_key);
        command = command.arg(option(context, "COUNT")).arg(count);
    }
    if context.chance(3) {
        command = command.arg(option(context, "COUNT"));
    }
    command
}

fn lmpop(context: &mut Context<'_>) -> Vec<Command> {
    vec![mpop_arguments(context, Command::new("LMPOP"))]
}

/// BLPOP or BRPOP on one to three keys.
fn blocking_pop(context: &mut Context<'_>) -> Vec<Command> {
    let keys = collections::key_group(context, LISTS, 1, 3, collections::read_key);
    let name = context.pick(&["BLPOP", "BRPOP"]);
    let timeout = collections::timeout(context);
    vec![collections::with_keys(Command::new(name), &keys).arg(timeout)]
}

fn blmove(context: &mut Context<'_>) -> Vec<Command> {
    let (source, destination) = source_and_destination(context);
    let from = direction(context);
    let to = direction(context);
    let timeout = collections::timeout(context);
    vec![Command::new("BLMOVE")
        .key(source)
        .key(destination)
        .arg(from)
        .arg(to)
        .arg(timeout)]
}

fn brpoplpush(context: &mut Context<'_>) -> Vec<Command> {
    let (source, destination) = source_and_destination(context);
    let timeout = collections::timeout(context);
    vec![Command::new("BRPOPLPUSH")
        .key(source)
        .key(destination)
        .arg(timeout)]
}

fn blmpop(context: &mut Context<'_>) -> Vec<Command> {
    let timeout = collections::timeout(context);
    vec![mpop_arguments(context, Command::new("BLMPOP").arg(timeout))]
}

fn keyspace(context: &mut Context<'_>) -> Vec<Command> {
    collections::keyspace(context, LISTS)
}

/// List commands and argument counts (after the name) their arity rejects.
const WRONG_ARITY: &[(&str, i64)] = &[
    ("LPUSH", 1),
    ("RPUSH", 0),
    ("LPUSHX", 1),
    ("RPUSHX", 1),
    ("LPOP", 0),
    ("RPOP", 3),
    ("LLEN", 0),
    ("LLEN", 2),
    ("LRANGE", 2),
    ("LINDEX", 1),
    ("LSET", 2),
    ("LINSERT", 3),
    ("LREM", 2),
    ("LTRIM", 4),
    ("LPOS", 1),
    ("LMOVE", 3),
    ("RPOPLPUSH", 1),
    ("LMPOP", 1),
    ("BLPOP", 1),
    ("BRPOP", 0),
    ("BLMOVE", 4),
    ("BRPOPLPUSH", 2),
    ("BLMPOP", 2),
];

fn wrong_arity(context: &mut Context<'_>) -> Vec<Command> {
    collections::wrong_arity(context, LISTS, WRONG_ARITY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::tests::build_many;

    #[test]
    fn blocking_commands_wait_10_ms_at_most() {
        for build in [blocking_pop, blmove, brpoplpush, blmpop] {
            for command in build_many(build, 300) {
                let timeout = match command.name().as_str() {
                    "BLMPOP" => command.args.get(1),
                    _ => command.args.last(),
                };
                let timeout = timeout.map(Vec::as_slice).unwrap_or_default();
                assert!(
                    timeout == b"0.01"
                        || collections::INVALID_TIMEOUTS
                            .iter()
                            .any(|invalid| invalid.as_bytes() == timeout),
                    "{}",
                    command.printable()
                );
            }
        }
    }

    #[test]
    fn pushes_create_lists_only_in_the_list_pool() {
        for command in build_many(push, 500) {
            let key = command.args.get(1).cloned().unwrap_or_default();
            let in_pool =
                LISTS.plain.contains(&key.as_slice()) || LISTS.tagged.contains(&key.as_slice());
            assert!(in_pool || values::KEYS.contains(&key.as_slice()));
        }
    }
}
