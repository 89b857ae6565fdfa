//! The sorted-set family: ZADD ZINCRBY ZREM ZCARD ZCOUNT ZLEXCOUNT ZSCORE
//! ZMSCORE ZRANK ZREVRANK ZRANGE ZRANGESTORE ZREVRANGE ZRANGEBYSCORE
//! ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZREMRANGEBYRANK ZREMRANGEBYSCORE
//! ZREMRANGEBYLEX ZPOPMIN ZPOPMAX ZMPOP ZRANDMEMBER ZUNION ZUNIONSTORE ZINTER
//! ZINTERSTORE ZINTERCARD ZDIFF ZDIFFSTORE ZSCAN, and the blocking BZPOPMIN
//! BZPOPMAX BZMPOP with a 10 ms timeout.
//!
//! Scores include the float edges (±inf, 1e308, -0.0, 3.0000000000000004,
//! subnormals) and texts Redis rejects ("nan", "1e"). Lexicographic ranges
//! (BYLEX, ZLEXCOUNT, ...) run only on the `LEX` keys, whose members all score
//! 0, or on keys that are not sorted sets: Redis leaves their result
//! unspecified when scores differ. Sets are valid inputs of ZUNION, ZINTER and
//! ZDIFF, so those also read set keys. Ordered replies are compared exactly;
//! ZRANDMEMBER and ZSCAN as sets.

use super::collections::{self, Pool, RandomCommand, LEX, SETS, SORTED_SETS};
use super::values::option;
use super::{Command, Context, Recipe};

/// The sorted-set family's recipes.
#[rustfmt::skip]
pub const RECIPES: &[Recipe] = &[
    Recipe { weight: 12, build: zadd },
    Recipe { weight: 4,  build: zadd_lex },
    Recipe { weight: 1,  build: grow },
    Recipe { weight: 3,  build: zincrby },
    Recipe { weight: 3,  build: zrem },
    Recipe { weight: 2,  build: zcard },
    Recipe { weight: 3,  build: zcount },
    Recipe { weight: 2,  build: zlexcount },
    Recipe { weight: 4,  build: zscore },
    Recipe { weight: 2,  build: zmscore },
    Recipe { weight: 3,  build: zrank },
    Recipe { weight: 8,  build: zrange },
    Recipe { weight: 2,  build: zrangestore },
    Recipe { weight: 2,  build: zrevrange },
    Recipe { weight: 4,  build: zrangebyscore },
    Recipe { weight: 3,  build: zrangebylex },
    Recipe { weight: 2,  build: zremrangebyrank },
    Recipe { weight: 2,  build: zremrangebyscore },
    Recipe { weight: 2,  build: zremrangebylex },
    Recipe { weight: 3,  build: zpop },
    Recipe { weight: 2,  build: zmpop },
    Recipe { weight: 3,  build: zrandmember },
    Recipe { weight: 4,  build: combine },
    Recipe { weight: 3,  build: combine_store },
    Recipe { weight: 2,  build: zintercard },
    Recipe { weight: 3,  build: zscan },
    Recipe { weight: 1,  build: bzpop },
    Recipe { weight: 1,  build: bzmpop },
    Recipe { weight: 3,  build: keyspace },
    Recipe { weight: 2,  build: wrong_arity },
];

/// Members, binary and empty ones included, and one past the 64-byte limit of
/// the compact encoding.
const MEMBERS: &[&[u8]] = &[
    b"a",
    b"b",
    b"c",
    b"d",
    b"ab",
    b"abc",
    b"A",
    b"z",
    b"1",
    b"",
    b"\x00",
    b"\xff",
    b"a\x00",
    b"\x00\xff",
    b"mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm",
];

/// Scores Redis accepts, edges included.
const SCORES: &[&str] = &[
    "0",
    "1",
    "2",
    "-1",
    "1.5",
    "-2.5",
    "10",
    "100",
    "0.1",
    "1e308",
    "-1e308",
    "inf",
    "-inf",
    "+inf",
    "-0.0",
    "3.0000000000000004",
    "1.7976931348623157e308",
    "5e-324",
    "007",
    "+5",
];

/// Scores Redis rejects.
const INVALID_SCORES: &[&str] = &["nan", "1e", "abc", "", " 1", "1 ", "0x10", "1e309"];

fn member(context: &mut Context<'_>) -> Vec<u8> {
    context.pick(MEMBERS).to_vec()
}

/// One to `high` members, repeats allowed.
fn members(context: &mut Context<'_>, high: i64) -> Vec<Vec<u8>> {
    let count = context.between(1, high);
    (0..count).map(|_| member(context)).collect()
}

fn score(context: &mut Context<'_>) -> Vec<u8> {
    if context.chance(93) {
        context.pick(SCORES).as_bytes().to_vec()
    } else {
        context.pick(INVALID_SCORES).as_bytes().to_vec()
    }
}

/// A key a command may create: a sorted-set key (never a `LEX` one) or a shared one.
fn write_key(context: &mut Context<'_>) -> Vec<u8> {
    collections::write_key(context, SORTED_SETS)
}

/// A key a command reads or removes from by rank or score: `LEX` keys included.
fn read_key(context: &mut Context<'_>) -> Vec<u8> {
    if context.chance(15) {
        LEX.any(context)
    } else {
        collections::read_key(context, SORTED_SETS)
    }
}

/// A key for a lexicographic range: a `LEX` key, or a key that is no sorted set.
fn lex_key(context: &mut Context<'_>) -> Vec<u8> {
    if context.chance(85) {
        LEX.any(context)
    } else {
        collections::foreign_key(context, SORTED_SETS)
    }
}

/// A source of ZUNION, ZINTER, ZDIFF or a pop: any sorted set, sometimes a set.
fn source_key(context: &mut Context<'_>, _pool: Pool) -> Vec<u8> {
    if context.chance(15) {
        SETS.any(context)
    } else {
        read_key(context)
    }
}

/// ZADD with NX / XX / GT / LT / CH / INCR, valid and conflicting combinations.
fn zadd(context: &mut Context<'_>) -> Vec<Command> {
    let key = write_key(context);
    let mut flags: Vec<Vec<u8>> = Vec::new();
    for (flag, percent) in [
        ("NX", 12),
        ("XX", 12),
        ("GT", 10),
        ("LT", 10),
        ("CH", 20),
        ("INCR", 12),
    ] {
        if context.chance(percent) {
            flags.push(option(context, flag));
        }
    }
    context.shuffle(&mut flags);
    let pairs = if context.chance(55) {
        1
    } else {
        context.between(2, 5)
    };
    let mut command = Command::new("ZADD").key(&key).args(flags);
    let drop_last_member = context.chance(4);
    for pair in 0..pairs {
        command = command.arg(score(context));
        if !(drop_last_member && pair + 1 == pairs) {
            command = command.arg(member(context));
        }
    }
    let added = usize::try_from(pairs).unwrap_or(0);
    vec![collections::grown(context, &key, added, command)]
}

/// ZADD of members scoring 0 to a `LEX` key, the only writes those keys get.
fn zadd_lex(context: &mut Context<'_>) -> Vec<Command> {
    let key = LEX.any(context);
    let mut command = Command::new("ZADD").key(&key);
    if context.chance(15) {
        let flag = context.pick(&["NX", "XX", "CH"]);
        command = command.arg(option(context, flag));
    }
    let members = members(context, 4);
    let added = members.len();
    for member in members {
        command = command.arg("0").arg(member);
    }
    vec![collections::grown(context, &key, added, command)]
}

/// ZADD of 130 to 200 members: past 128 entries the sorted set leaves its
/// compact encoding. Scores repeat, so ties are ordered by member.
fn grow(context: &mut Context<'_>) -> Vec<Command> {
    let key = SORTED_SETS.any(context);
    let count = context.between(130, 200);
    let mut command = Command::new("ZADD").key(&key);
    for position in 0..count {
        command = command
            .arg((position % 17).to_string())
            .arg(format!("g{position}"));
    }
    let added = usize::try_from(count).unwrap_or(0);
    vec![collections::grown(context, &key, added, command)]
}

fn zincrby(context: &mut Context<'_>) -> Vec<Command> {
    let key = write_key(context);
    let increment = score(context);
    let member = member(context);
    let command = Command::new("ZINCRBY").key(&key).arg(increment).arg(member);
    vec![collections::grown(context, &key, 1, command)]
}

fn zrem(context: &mut Context<'_>) -> Vec<Command> {
    let key = read_key(context);
    let members = members(context, 3);
    vec![Command::new("ZREM").key(key).args(members)]
}

fn zcard(context: &mut Context<'_>) -> Vec<Command> {
    vec![Command::new("ZCARD").key(read_key(context))]
}

/// A score range bound: inclusive, exclusive (`(`), infinite, or invalid.
fn score_bound(context: &mut Context<'_>) -> Vec<u8> {
    const BOUNDS: &[&str] = &[
        "-inf", "+inf", "inf", "0", "1", "2", "-1", "1.5", "10", "(0", "(1", "(1.5", "(-inf",
        "(+inf", "1e308", "(1e308", "-0.0",
    ];
    const INVALID: &[&str] = &["abc", "nan", "(nan", "", "((1", "[1", "1e"];
    if context.chance(93) {
        context.pick(BOUNDS).as_bytes().to_vec()
    } else {
        context.pick(INVALID).as_bytes().to_vec()
    }
}

/// A lexicographic range bound: `-`, `+`, `[member`, `(member`, or invalid.
fn lex_bound(context: &mut Context<'_>) -> Vec<u8> {
    match context.rng.below(100) {
        0..=14 => b"-".to_vec(),
        15..=29 => b"+".to_vec(),
        30..=92 => {
            let mut bound = vec![context.pick(b"[(")];
            bound.extend(member(context));
            bound
        }
        _ => context.pick(&["a", "", "-a", "+a"]).as_bytes().to_vec(),
    }
}

/// How a range command selects elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// The two ends of a range: the whole set some of the time (highest first
/// when `reverse`), random bounds otherwise.
fn range_ends(context: &mut Context<'_>, by: By, reverse: bool) -> [Vec<u8>; 2] {
    let whole: [&str; 2] = match by {
        By::Rank => ["0", "-1"],
        By::Score => ["-inf", "+inf"],
        By::Lex => ["-", "+"],
    };
    if context.chance(25) {
        let [low, high] = whole.map(|end| end.as_bytes().to_vec());
        return if reverse && by != By::Rank {
            [high, low]
        } else {
            [low, high]
        };
    }
    match by {
        By::Rank => [collections::index(context), collections::index(context)],
        By::Score => [score_bound(context), score_bound(context)],
        By::Lex => [lex_bound(context), lex_bound(context)],
    }
}

/// `LIMIT offset count`, valid or not.
fn limit(context: &mut Context<'_>) -> Vec<Vec<u8>> {
    const OFFSETS: &[&str] = &["0", "1", "2", "-1", "5", "abc"];
    const COUNTS: &[&str] = &["1", "2", "3", "-1", "0", "-5", "abc", "9223372036854775807"];
    let offset = context.pick(OFFSETS);
    let count = context.pick(COUNTS);
    vec![option(context, "LIMIT"), offset.into(), count.into()]
}

fn zcount(context: &mut Context<'_>) -> Vec<Command> {
    let key = read_key(context);
    let [min, max] = range_ends(context, By::Score, false);
    vec![Command::new("ZCOUNT").key(key).arg(min).arg(max)]
}

fn zlexcount(context: &mut Context<'_>) -> Vec<Command> {
    let key = lex_key(context);
    let [min, max] = range_ends(context, By::Lex, false);
    vec![Command::new("ZLEXCOUNT").key(key).arg(min).arg(max)]
}

fn zscore(context: &mut Context<'_>) -> Vec<Command> {
    let key = read_key(context);
    vec![Command::new("ZSCORE").key(key).arg(member(context))]
}

fn zmscore(context: &mut Context<'_>) -> Vec<Command> {
    let key = read_key(context);
    let members = members(context, 4);
    vec![Command::new("ZMSCORE").key(key).args(members)]
}

/// ZRANK or ZREVRANK (without 7.2's WITHSCORE: the oracle is 7.0).
fn zrank(context: &mut Context<'_>) -> Vec<Command> {
    let name = context.pick(&["ZRANK", "ZREVRANK"]);
    let key = read_key(context);
    vec![Command::new(name).key(key).arg(member(context))]
}

/// The key and the `start stop [BYSCORE|BYLEX] [REV] [LIMIT ...]` options of
/// ZRANGE and ZRANGESTORE, in a random order, with their invalid combinations.
fn range_arguments(context: &mut Context<'_>) -> (Vec<u8>, Vec<Vec<u8>>, By) {
    let by = match context.rng.below(100) {
        0..=39 => By::Rank,
        40..=74 => By::Score,
        _ => By::Lex,
    };
    let key = if by == By::Lex {
        lex_key(context)
    } else {
        read_key(context)
    };
    let reverse = context.chance(35);
    let [start, stop] = range_ends(context, by, reverse);
    let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
    match by {
        By::Rank => {}
        By::Score => groups.push(vec![option(context, "BYSCORE")]),
        By::Lex => groups.push(vec![option(context, "BYLEX")]),
    }
    if reverse {
        groups.push(vec![option(context, "REV")]);
    }
    let limit_percent = if by == By::Rank { 4 } else { 40 };
    if context.chance(limit_percent) {
        groups.push(limit(context));
    }
    if context.chance(3) {
        // Never a second BYLEX: the last of BYSCORE / BYLEX wins, and a lex
        // range over mixed scores is unspecified.
        let extra = context.pick(&["BYSCORE", "FOO"]);
        groups.push(vec![option(context, extra)]);
    }
    context.shuffle(&mut groups);
    let mut arguments = vec![start, stop];
    arguments.extend(groups.into_iter().flatten());
    (key, arguments, by)
}

fn zrange(context: &mut Context<'_>) -> Vec<Command> {
    let (key, mut arguments, by) = range_arguments(context);
    let withscores_percent = if by == By::Lex { 5 } else { 50 };
    if context.chance(withscores_percent) {
        let at = context.rng.index(arguments.len().saturating_sub(1)) + 2;
        arguments.insert(at.min(arguments.len()), option(context, "WITHSCORES"));
    }
    vec![Command::new("ZRANGE").key(key).args(arguments)]
}

fn zrangestore(context: &mut Context<'_>) -> Vec<Command> {
    let (source, mut arguments, _) = range_arguments(context);
    if context.chance(4) {
        arguments.push(option(context, "WITHSCORES"));
    }
    let destination =
        collections::destination_for(context, SORTED_SETS, std::slice::from_ref(&source));
    let size = context.model.bound(&source);
    collections::stored(context, &destination, size);
    vec![Command::new("ZRANGESTORE")
        .key(destination)
        .key(source)
        .args(arguments)]
}

fn zrevrange(context: &mut Context<'_>) -> Vec<Command> {
    let key = read_key(context);
    let [start, stop] = range_ends(context, By::Rank, false);
    let mut command = Command::new("ZREVRANGE").key(key).arg(start).arg(stop);
    if context.chance(50) {
        command = command.arg(option(context, "WITHSCORES"));
    }
    vec![command]
}

/// ZRANGEBYSCORE or ZREVRANGEBYSCORE with WITHSCORES and LIMIT in either order.
fn zrangebyscore(context: &mut Context<'_>) -> Vec<Command> {
    let reverse = context.chance(40);
    let name = if reverse {
        "ZREVRANGEBYSCORE"
    } else {
        "ZRANGEBYSCORE"
    };
    let key = read_key(context);
    let [first, second] = range_ends(context, By::Score, reverse);
    let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
    if context.chance(50) {
        groups.push(vec![option(context, "WITHSCORES")]);
    }
    if context.chance(35) {
        groups.push(limit(context));
    }
    context.shuffle(&mut groups);
    vec![Command::new(name)
        .key(key)
        .arg(first)
        .arg(second)
        .args(groups.into_iter().flatten())]
}

/// ZRANGEBYLEX or ZREVRANGEBYLEX, with LIMIT sometimes.
fn zrangebylex(context: &mut Context<'_>) -> Vec<Command> {
    let reverse = context.chance(40);
    let name = if reverse {
        "ZREVRANGEBYLEX"
    } else {
        "ZRANGEBYLEX"
    };
    let key = lex_key(context);
    let [first, second] = range_ends(context, By::Lex, reverse);
    let mut command = Command::new(name).key(key).arg(first).arg(second);
    if context.chance(35) {
        command = command.args(limit(context));
    }
    if context.chance(3) {
        command = command.arg(option(context, "WITHSCORES"));
    }
    vec![command]
}

fn zremrangebyrank(context: &mut Context<'_>) -> Vec<Command> {
    let key = read_key(context);
    let [start, stop] = range_ends(context, By::Rank, false);
    vec![Command::new("ZREMRANGEBYRANK")
        .key(key)
        .arg(start)
        .arg(stop)]
}

fn zremrangebyscore(context: &mut Context<'_>) -> Vec<Command> {
    let key = read_key(context);
    let [min, max] = range_ends(context, By::Score, false);
    vec![Command::new("ZREMRANGEBYSCORE").key(key).arg(min).arg(max)]
}

fn zremrangebylex(context: &mut Context<'_>) -> Vec<Command> {
    let key = lex_key(context);
    let [min, max] = range_ends(context, By::Lex, false);
    vec![Command::new("ZREMRANGEBYLEX").key(key).arg(min).arg(max)]
}

/// ZPOPMIN or ZPOPMAX, with a count half of the time.
fn zpop(context: &mut Context<'_>) -> Vec<Command> {
    let name = context.pick(&["ZPOPMIN", "ZPOPMAX"]);
    let key = read_key(context);
    let mut command = Command::new(name).key(&key);
    if context.chance(50) {
        command = command.arg(collections::pop_count(context, &key));
    }
    vec![command]
}

/// MIN or MAX, sometimes in lower case, now and then invalid.
fn extreme(context: &mut Context<'_>) -> Vec<u8> {
    if context.chance(3) {
        return context.pick(&["LEFT", "", "MINX"]).as_bytes().to_vec();
    }
    let side = context.pick(&["MIN", "MAX"]);
    option(context, side)
}

/// The `numkeys key... MIN|MAX [COUNT n]` tail of ZMPOP and BZMPOP.
fn mpop_arguments(context: &mut Context<'_>, command: Command) -> Command {
    let keys = collections::key_group(context, SORTED_SETS, 1, 3, source_key);
    let count_key = keys.first().cloned().unwrap_or_default();
    let numkeys = collections::numkeys(context, &keys);
    let mut command = collections::with_keys(command.arg(numkeys), &keys).arg(extreme(context));
    if context.chance(50) {
        let count = collections::pop_count(context, &count_key);
        command = command.arg(option(context, "COUNT")).arg(count);
    }
    if context.chance(3) {
        command = command.arg(option(context, "COUNT"));
    }
    command
}

fn zmpop(context: &mut Context<'_>) -> Vec<Command> {
    vec![mpop_arguments(context, Command::new("ZMPOP"))]
}

fn bzmpop(context: &mut Context<'_>) -> Vec<Command> {
    let timeout = collections::timeout(context);
    vec![mpop_arguments(context, Command::new("BZMPOP").arg(timeout))]
}

/// BZPOPMIN or BZPOPMAX on one to three keys.
fn bzpop(context: &mut Context<'_>) -> Vec<Command> {
    let name = context.pick(&["BZPOPMIN", "BZPOPMAX"]);
    let keys = collections::key_group(context, SORTED_SETS, 1, 3, source_key);
    let timeout = collections::timeout(context);
    vec![collections::with_keys(Command::new(name), &keys).arg(timeout)]
}

/// ZRANDMEMBER in a deterministic form.
fn zrandmember(context: &mut Context<'_>) -> Vec<Command> {
    collections::random_deterministic(
        context,
        RandomCommand {
            name: "ZRANDMEMBER",
            pool: SORTED_SETS,
            with: Some("WITHSCORES"),
            add_one: |context, key| {
                let (score, member) = (score(context), member(context));
                Command::new("ZADD").key(key).arg(score).arg(member)
            },
        },
    )
}

/// `[WEIGHTS w...] [AGGREGATE SUM|MIN|MAX]` for `keys` sources, in either
/// order, valid or not; ZDIFF gets them only now and then (it rejects both).
fn weights_and_aggregate(
    context: &mut Context<'_>,
    name: &str,
    sources: usize,
) -> Vec<Vec<Vec<u8>>> {
    const WEIGHTS: &[&str] = &["1", "2", "0", "-1", "1.5", "inf", "-inf", "1e308"];
    let percent = if name.starts_with("ZDIFF") { 3 } else { 35 };
    let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
    if context.chance(percent) {
        let count = match context.rng.below(100) {
            0..=89 => sources,
            90..=94 => sources.saturating_sub(1),
            _ => sources.saturating_add(1),
        };
        let mut group = vec![option(context, "WEIGHTS")];
        for _ in 0..count {
            let weight = if context.chance(95) {
                context.pick(WEIGHTS)
            } else {
                context.pick(&["abc", "nan", ""])
            };
            group.push(weight.into());
        }
        groups.push(group);
    }
    if context.chance(percent) {
        let how = if context.chance(95) {
            context.pick(&["SUM", "MIN", "MAX"])
        } else {
            "AVG"
        };
        groups.push(vec![option(context, "AGGREGATE"), option(context, how)]);
    }
    groups
}

/// ZUNION, ZINTER or ZDIFF, often WITHSCORES.
fn combine(context: &mut Context<'_>) -> Vec<Command> {
    let name = context.pick(&["ZUNION", "ZINTER", "ZDIFF"]);
    let keys = collections::key_group(context, SORTED_SETS, 1, 3, source_key);
    let numkeys = collections::numkeys(context, &keys);
    let mut groups = weights_and_aggregate(context, name, keys.len());
    if context.chance(50) {
        groups.push(vec![option(context, "WITHSCORES")]);
    }
    context.shuffle(&mut groups);
    let command = collections::with_keys(Command::new(name).arg(numkeys), &keys);
    vec![command.args(groups.into_iter().flatten())]
}

/// ZUNIONSTORE, ZINTERSTORE or ZDIFFSTORE, the destination sometimes a source.
fn combine_store(context: &mut Context<'_>) -> Vec<Command> {
    let name = context.pick(&["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]);
    let mut keys = collections::key_group(context, SORTED_SETS, 1, 3, source_key);
    let destination = collections::destination_for(context, SORTED_SETS, &keys);
    if context.chance(15) {
        if let Some(first) = keys.first_mut() {
            first.clone_from(&destination);
        }
    }
    let size = collections::bound_sum(context, &keys);
    collections::stored(context, &destination, size);
    let numkeys = collections::numkeys(context, &keys);
    let mut groups = weights_and_aggregate(context, name, keys.len());
    if context.chance(3) {
        groups.push(vec![option(context, "WITHSCORES")]);
    }
    context.shuffle(&mut groups);
    let command = collections::with_keys(Command::new(name).key(destination).arg(numkeys), &keys);
    vec![command.args(groups.into_iter().flatten())]
}

fn zintercard(context: &mut Context<'_>) -> Vec<Command> {
    let keys = collections::key_group(context, SORTED_SETS, 1, 3, source_key);
    let numkeys = collections::numkeys(context, &keys);
    let mut command = collections::with_keys(Command::new("ZINTERCARD").arg(numkeys), &keys);
    if context.chance(40) {
        let limit = context.pick(&["0", "1", "2", "5", "-1", "abc"]);
        command = command.arg(option(context, "LIMIT")).arg(limit);
    }
    vec![command]
}

fn zscan(context: &mut Context<'_>) -> Vec<Command> {
    let key = read_key(context);
    vec![collections::scan(context, "ZSCAN", key, true)]
}

fn keyspace(context: &mut Context<'_>) -> Vec<Command> {
    if context.chance(25) {
        collections::keyspace(context, LEX)
    } else {
        collections::keyspace(context, SORTED_SETS)
    }
}

/// Sorted-set commands and argument counts (after the name) their arity rejects.
const WRONG_ARITY: &[(&str, i64)] = &[
    ("ZADD", 2),
    ("ZINCRBY", 2),
    ("ZREM", 1),
    ("ZCARD", 2),
    ("ZCOUNT", 2),
    ("ZLEXCOUNT", 1),
    ("ZSCORE", 1),
    ("ZMSCORE", 1),
    ("ZRANK", 1),
    ("ZREVRANK", 1),
    ("ZRANGE", 2),
    ("ZRANGESTORE", 3),
    ("ZREVRANGE", 2),
    ("ZRANGEBYSCORE", 2),
    ("ZREVRANGEBYSCORE", 1),
    ("ZRANGEBYLEX", 2),
    ("ZREVRANGEBYLEX", 2),
    ("ZREMRANGEBYRANK", 2),
    ("ZREMRANGEBYSCORE", 4),
    ("ZREMRANGEBYLEX", 2),
    ("ZPOPMIN", 0),
    ("ZPOPMAX", 3),
    ("ZMPOP", 2),
    ("ZRANDMEMBER", 0),
    ("ZUNION", 1),
    ("ZUNIONSTORE", 2),
    ("ZINTER", 1),
    ("ZINTERSTORE", 2),
    ("ZINTERCARD", 1),
    ("ZDIFF", 1),
    ("ZDIFFSTORE", 2),
    ("ZSCAN", 1),
    ("BZPOPMIN", 1),
    ("BZPOPMAX", 1),
    ("BZMPOP", 3),
];

fn wrong_arity(context: &mut Context<'_>) -> Vec<Command> {
    collections::wrong_arity(context, SORTED_SETS, WRONG_ARITY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::tests::build_many;

    fn is_lex(key: &[u8]) -> bool {
        LEX.plain.contains(&key) || LEX.tagged.contains(&key)
    }

    /// Every recipe of the family, with each command it builds.
    fn every_command() -> Vec<Command> {
        RECIPES
            .iter()
            .flat_map(|recipe| build_many(recipe.build, 300))
            .collect()
    }

    #[test]
    fn lex_keys_only_ever_get_score_zero() {
        for command in every_command() {
            let writes_scores = matches!(
                command.name().as_str(),
                "ZADD" | "ZINCRBY" | "ZUNIONSTORE" | "ZINTERSTORE" | "ZDIFFSTORE" | "ZRANGESTORE"
            );
            let Some(target) = command.args.get(1) else {
                continue;
            };
            if !writes_scores || !is_lex(target) {
                continue;
            }
            assert_eq!(command.name(), "ZADD", "{}", command.printable());
            let scores = command
                .args
                .iter()
                .skip(2)
                .filter(|arg| !matches!(arg.to_ascii_uppercase().as_slice(), b"NX" | b"XX" | b"CH"))
                .step_by(2);
            for score in scores {
                assert_eq!(score.as_slice(), b"0", "{}", command.printable());
            }
        }
    }

    #[test]
    fn lex_ranges_never_read_keys_with_mixed_scores() {
        for command in every_command() {
            let lex_range = matches!(
                command.name().as_str(),
                "ZLEXCOUNT" | "ZRANGEBYLEX" | "ZREVRANGEBYLEX" | "ZREMRANGEBYLEX"
            ) || command
                .args
                .iter()
                .any(|arg| arg.eq_ignore_ascii_case(b"BYLEX"));
            let source = match command.name().as_str() {
                "ZRANGESTORE" => command.args.get(2),
                _ => command.args.get(1),
            };
            // Fewer than `key min max` is an arity error, which reads nothing.
            let complete = command.args.len() >= 4;
            let Some(source) = source.filter(|_| lex_range && complete) else {
                continue;
            };
            let may_hold_mixed_scores = SORTED_SETS.plain.contains(&source.as_slice())
                || SORTED_SETS.tagged.contains(&source.as_slice())
                || crate::generate::values::KEYS.contains(&source.as_slice());
            assert!(!may_hold_mixed_scores, "{}", command.printable());
        }
    }
}
