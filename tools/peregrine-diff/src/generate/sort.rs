//! The SORT family: SORT and SORT_RO over lists, sets and sorted sets, with BY and GET
//! patterns that reach weight strings (`w_<id>`) and object hashes (`o_<id>->field`) on
//! any shard, LIMIT (negative and huge too), ASC/DESC, ALPHA and STORE.
//!
//! Replies are compared exactly except where Redis's order is not defined: a set's own
//! order (a constant BY without STORE), and ALPHA with a BY pattern, whose ties (equal or
//! missing weights) Redis leaves in an unspecified order. STORE never combines ALPHA with
//! a BY pattern, so stored lists are deterministic and later reads compare exactly, and
//! LIMIT is left out where the order is not defined (it would pick different elements).

use super::collections::{self, LISTS, SETS, SORTED_SETS};
use super::values::option;
use super::{Command, Context, Recipe};
use crate::compare::Comparison;

/// The SORT family's recipes.
#[rustfmt::skip]
pub const RECIPES: &[Recipe] = &[
    Recipe { weight: 6, build: fill },
    Recipe { weight: 5, build: weights },
    Recipe { weight: 12, build: sort },
    Recipe { weight: 3, build: sort_any },
    Recipe { weight: 3, build: read_stored },
    Recipe { weight: 1, build: wrong },
];

/// Sources of this family: a list, a set and a sorted set on (probably) different
/// shards, and a tagged list.
const SOURCES: &[(&[u8], Kind)] = &[
    (b"sl0", Kind::List),
    (b"ss0", Kind::Set),
    (b"sz0", Kind::SortedSet),
    (b"{sort}l", Kind::List),
];

/// STORE destinations.
const DESTINATIONS: &[&[u8]] = &[b"sdst0", b"{sort}d", b"sl0"];

/// Element ids: numbers of several forms and a few words.
const IDS: &[&str] = &["1", "2", "3", "4", "5", "10", "-1", "2.5", "x", "a b", ""];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    List,
    Set,
    SortedSet,
}

fn id(context: &mut Context<'_>) -> &'static str {
    if context.chance(85) {
        context.pick(&IDS[..7])
    } else {
        context.pick(IDS)
    }
}

/// Adds ids to one of the sources.
fn fill(context: &mut Context<'_>) -> Vec<Command> {
    let (key, kind) = context.pick(SOURCES);
    let count = context.between(1, 5) as usize;
    let ids: Vec<&str> = (0..count).map(|_| id(context)).collect();
    let command = match kind {
        Kind::List => Command::new("RPUSH").key(key).args(&ids),
        Kind::Set => Command::new("SADD").key(key).args(&ids),
        Kind::SortedSet => {
            let mut command = Command::new("ZADD").key(key);
            for id in &ids {
                let score = context.between(-3, 3).to_string();
                command = command.arg(score).arg(id);
            }
            command
        }
    };
    vec![collections::grown(context, key, count, command)]
}

/// Sets or removes a weight string or an object hash.
fn weights(context: &mut Context<'_>) -> Vec<Command> {
    let id = id(context);
    let weight_key = format!("w_{id}");
    let object_key = format!("o_{id}");
    let command = match context.between(0, 5) {
        0 => Command::new("DEL").key(&weight_key),
        1 => Command::new("SET")
            .key(&weight_key)
            // No overflowing number: Redis's SORT reads `errno` without clearing it, so
            // one ERANGE would fail every later numeric SORT of that server.
            .arg(context.pick(&["abc", " 7", "0x10", "", "zz", "1\0x", "-0"])),
        2 | 3 => Command::new("SET")
            .key(&weight_key)
            .arg(context.between(-100, 100).to_string()),
        4 => Command::new("HSET")
            .key(&object_key)
            .arg("name")
            .arg(format!("n{}", context.between(0, 20)))
            .arg("age")
            .arg(context.between(0, 99).to_string()),
        _ => Command::new("DEL").key(&object_key),
    };
    vec![command]
}

/// A BY pattern: weights, hash fields, missing keys, constant (no sorting), `#`.
fn by_pattern(context: &mut Context<'_>) -> &'static str {
    context.pick(&[
        "w_*",
        "w_*",
        "o_*->age",
        "o_*->name",
        "missing_*",
        "nosort",
        "#",
        "w_*->",
    ])
}

/// A GET pattern.
fn get_pattern(context: &mut Context<'_>) -> &'static str {
    context.pick(&[
        "#",
        "w_*",
        "o_*->name",
        "o_*->age",
        "nostar",
        "o_*->missing",
    ])
}

fn sort(context: &mut Context<'_>) -> Vec<Command> {
    let (key, kind) = context.pick(SOURCES);
    vec![
        errno_reset(),
        sort_command(context, key, Some(kind), Alpha::Sometimes),
    ]
}

/// Whether a generated SORT sorts ALPHA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alpha {
    /// At random.
    Sometimes,
    /// Always (the comparison and the choice of STORE and LIMIT depend on it, so it is
    /// decided before them).
    Always,
}

/// Redis's SORT tests `errno` for ERANGE after `strtod` without clearing it first, so an
/// earlier command that left ERANGE behind (a ZADD or ZRANGEBYSCORE with an out-of-range
/// float, ...) makes the next numeric SORT fail. This no-op ZADD clears it (`string2d`
/// sets `errno = 0` before parsing its score), so both servers sort.
fn errno_reset() -> Command {
    Command::new("ZADD")
        .key(b"sort:errno")
        .args(["XX", "0", "m"])
}

/// SORT on any collection of the other families (numbers are rare there: mostly the
/// conversion error, or ALPHA).
fn sort_any(context: &mut Context<'_>) -> Vec<Command> {
    let pool = context.pick(&[LISTS, SETS, SORTED_SETS]);
    let key = collections::read_key(context, pool);
    // The sorted-sets family stores subnormal scores (5e-324): the first numeric SORT
    // of such a sorted set fails in Redis whatever the elements, an ERANGE left in
    // `errno` by SORT itself that no reset before it clears. Sorted sets of the other
    // families are sorted ALPHA (no number is parsed, `errno` is not read).
    let alpha = if pool == SORTED_SETS {
        Alpha::Always
    } else {
        Alpha::Sometimes
    };
    // The key may be of another family than the pool's: its kind is unknown.
    vec![errno_reset(), sort_command(context, &key, None, alpha)]
}

fn sort_command(
    context: &mut Context<'_>,
    key: &[u8],
    kind: Option<Kind>,
    alpha: Alpha,
) -> Command {
    let read_only = context.chance(25);
    let mut command = Command::new(if read_only { "SORT_RO" } else { "SORT" }).key(key);
    let by = context.chance(55).then(|| by_pattern(context));
    // (Drawn even when always ALPHA, so the rest of the sequence stays as it was.)
    let random_alpha = context.chance(35);
    let alpha = alpha == Alpha::Always || random_alpha;
    let constant_by = by.is_some_and(|by| !by.contains('*'));
    let pattern_by = by.is_some_and(|by| by.contains('*'));
    let store = !read_only && context.chance(30) && !(alpha && pattern_by);
    let maybe_set = matches!(kind, Some(Kind::Set) | None);
    // Where Redis's order is not defined, LIMIT would pick a different subset.
    // ALPHA without STORE compares as C's strcoll, up to a NUL byte: the other families'
    // elements ("a" and "a\0") can tie, and ties keep Redis's loading order.
    let nul_ties = alpha && !store && kind.is_none();
    let unordered = alpha && pattern_by || constant_by && maybe_set && !store || nul_ties;
    let limit = !unordered && context.chance(35);
    // Option groups, sent in a random order.
    let mut options: Vec<Vec<Vec<u8>>> = Vec::new();
    if let Some(by) = by {
        options.push(vec![option(context, "BY"), by.as_bytes().to_vec()]);
    }
    if limit {
        let offset = context.pick(&["0", "1", "2", "-1", "9223372036854775807"]);
        // (A huge offset is clamped by both servers alike.)
        let count = context.pick(&["0", "1", "3", "-1", "100"]);
        options.push(vec![
            option(context, "LIMIT"),
            offset.as_bytes().to_vec(),
            count.as_bytes().to_vec(),
        ]);
    }
    for _ in 0..context.between(0, 2) {
        let get = get_pattern(context);
        options.push(vec![option(context, "GET"), get.as_bytes().to_vec()]);
    }
    if alpha {
        options.push(vec![option(context, "ALPHA")]);
    }
    if context.chance(40) {
        let order = context.pick(&["ASC", "DESC"]);
        options.push(vec![option(context, order)]);
    }
    let destination = store.then(|| context.pick(DESTINATIONS));
    context.shuffle(&mut options);
    for group in options {
        command = command.args(group);
    }
    if let Some(destination) = destination {
        command = command.arg(option(context, "STORE")).key(destination);
        collections::stored(context, destination, collections::MAX_COLLECTION_BOUND);
    }
    if unordered {
        command.compared(Comparison::Unordered)
    } else {
        command
    }
}

/// Reads back a STORE destination.
fn read_stored(context: &mut Context<'_>) -> Vec<Command> {
    let destination = context.pick(DESTINATIONS);
    vec![Command::new("LRANGE").key(destination).arg("0").arg("-1")]
}

/// Syntax and arity errors, STORE in SORT_RO, WRONGTYPE.
fn wrong(context: &mut Context<'_>) -> Vec<Command> {
    let command = match context.between(0, 4) {
        0 => Command::new("SORT"),
        1 => Command::new("SORT").key(b"sl0").arg("LIMIT").arg("1"),
        2 => Command::new("SORT_RO")
            .key(b"sl0")
            .arg("STORE")
            .key(b"sdst0"),
        3 => Command::new("SORT")
            .key(b"sl0")
            .arg("LIMIT")
            .arg("x")
            .arg("1"),
        _ => Command::new("SORT").key(b"sl0").arg("NOPE"),
    };
    vec![command]
}
