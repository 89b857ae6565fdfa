//! Sets: SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER SMOVE SINTER
//! SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE SSCAN.
//!
//! Multi-key commands run on the scratch plan when their keys span shards, so each is
//! written as if every key were local. A STORE destination is built as Redis builds it
//! (an empty intset that members are added to), so it ends in the encoding Redis would
//! give it.

use crate::args::{is_keyword, parse_integer};
use crate::keys::{parse_collection_scan_options, parse_scan_cursor};
use crate::spec::{
    keyed, numkeys_positions, scratch, Arity::*, CommandSpec, Flag::*, Group, KeySpec,
};
use crate::{ArgReader, CmdResult, CommandError, EventClass, Random, ShardCtx};
use bytes::Bytes;
use peregrine_keyspace::collections::Set;
use peregrine_keyspace::{glob_match, Value};
use peregrine_resp::Reply;

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
const SINTERCARD_KEYS: KeySpec = KeySpec::movable(0, 0, 0, sintercard_keys);

fn sintercard_keys(argv: &[Bytes]) -> Vec<usize> {
    numkeys_positions(argv, &[], 1)
}

/// The set family's table.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec { name: "sadd",        arity: AtLeast(3), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(sadd), group: Group::Set, summary: "Adds one or more members to a set. Creates the key if it doesn't exist." },
    CommandSpec { name: "srem",        arity: AtLeast(3), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(srem), group: Group::Set, summary: "Removes one or more members from a set. Deletes the set if the last member was removed." },
    CommandSpec { name: "smembers",    arity: Exactly(2), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(smembers), group: Group::Set, summary: "Returns all members of a set." },
    CommandSpec { name: "sismember",   arity: Exactly(3), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(sismember), group: Group::Set, summary: "Determines whether a member belongs to a set." },
    CommandSpec { name: "smismember",  arity: AtLeast(3), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(smismember), group: Group::Set, summary: "Determines whether multiple members belong to a set." },
    CommandSpec { name: "scard",       arity: Exactly(2), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(scard), group: Group::Set, summary: "Returns the number of members in a set." },
    CommandSpec { name: "spop",        arity: AtLeast(2), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(spop), group: Group::Set, summary: "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped." },
    CommandSpec { name: "srandmember", arity: AtLeast(2), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(srandmember), group: Group::Set, summary: "Get one or multiple random members from a set" },
    CommandSpec { name: "smove",       arity: Exactly(4), flags: &[Write, Fast], keys: KeySpec::FIRST_TWO, exec: scratch(smove), group: Group::Set, summary: "Moves a member from one set to another." },
    CommandSpec { name: "sinter",      arity: AtLeast(2), flags: &[ReadOnly], keys: KeySpec::ALL, exec: scratch(sinter), group: Group::Set, summary: "Returns the intersect of multiple sets." },
    CommandSpec { name: "sintercard",  arity: AtLeast(3), flags: &[ReadOnly], keys: SINTERCARD_KEYS, exec: scratch(sintercard), group: Group::Set, summary: "Returns the number of members of the intersect of multiple sets." },
    CommandSpec { name: "sinterstore", arity: AtLeast(3), flags: &[Write, DenyOom], keys: KeySpec::ALL, exec: scratch(sinterstore), group: Group::Set, summary: "Stores the intersect of multiple sets in a key." },
    CommandSpec { name: "sunion",      arity: AtLeast(2), flags: &[ReadOnly], keys: KeySpec::ALL, exec: scratch(sunion), group: Group::Set, summary: "Returns the union of multiple sets." },
    CommandSpec { name: "sunionstore", arity: AtLeast(3), flags: &[Write, DenyOom], keys: KeySpec::ALL, exec: scratch(sunionstore), group: Group::Set, summary: "Stores the union of multiple sets in a key." },
    CommandSpec { name: "sdiff",       arity: AtLeast(2), flags: &[ReadOnly], keys: KeySpec::ALL, exec: scratch(sdiff), group: Group::Set, summary: "Returns the difference of multiple sets." },
    CommandSpec { name: "sdiffstore",  arity: AtLeast(3), flags: &[Write, DenyOom], keys: KeySpec::ALL, exec: scratch(sdiffstore), group: Group::Set, summary: "Stores the difference of multiple sets in a key." },
    CommandSpec { name: "sscan",       arity: AtLeast(3), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(sscan), group: Group::Set, summary: "Iterates over members of a set." },
];

/// Members as a RESP3 set (an array in RESP2).
fn set_reply(members: Vec<Vec<u8>>) -> Reply {
    Reply::Set(
        members
            .into_iter()
            .map(|member| Reply::Bulk(member.into()))
            .collect(),
    )
}

/// SADD key member [member ...]
///
/// O(1) per member. The number of members added.
fn sadd(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let members = args.rest();
    let limits = shard.limits.encoding;
    let first = members
        .first()
        .map(|member| &member[..])
        .unwrap_or_default();
    let set = shard
        .collection_or_create::<Set>(key, || Set::for_members(first, members.len(), &limits))?;
    let added = members
        .iter()
        .filter(|member| set.insert(member, &limits))
        .count();
    shard.mark_dirty(added as u64);
    if added > 0 {
        shard.notify(EventClass::Set, "sadd", key);
    }
    Ok(Reply::Integer(added as i64))
}

/// SREM key member [member ...]
///
/// O(1) per member. The number of members removed; the key goes when the set empties.
fn srem(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let Some(set) = shard.write_collection::<Set>(key)? else {
        return Ok(Reply::Integer(0));
    };
    let removed = args
        .rest()
        .iter()
        .filter(|member| set.remove(member))
        .count();
    if removed > 0 {
        shard.notify(EventClass::Set, "srem", key);
    }
    shard.remove_if_empty::<Set>(key);
    shard.mark_dirty(removed as u64);
    Ok(Reply::Integer(removed as i64))
}

/// SMEMBERS key
///
/// O(n). Every member (a set in RESP3).
fn smembers(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let members = shard
        .read_collection::<Set>(key)?
        .map(|set| set.members())
        .unwrap_or_default();
    Ok(set_reply(members))
}

/// SISMEMBER key member
///
/// O(1). 1 when the member is in the set.
fn sismember(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let (key, member) = (args.required()?, args.required()?);
    let found = shard
        .read_collection::<Set>(key)?
        .is_some_and(|set| set.contains(member));
    Ok(Reply::Integer(i64::from(found)))
}

/// SMISMEMBER key member [member ...]
///
/// O(members). 1 or 0 per member.
fn smismember(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let set = shard.read_collection::<Set>(key)?;
    let flags = args
        .rest()
        .iter()
        .map(|member| {
            Reply::Integer(i64::from(
                set.as_ref().is_some_and(|set| set.contains(member)),
            ))
        })
        .collect();
    Ok(Reply::Array(flags))
}

/// SCARD key
///
/// O(1). The number of members.
fn scard(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    shard.collection_len::<Set>(args.required()?)
}

/// SPOP key [count]
///
/// O(count). Without a count one random member (nil when missing); with a count up to
/// that many distinct members (a set in RESP3). The key goes when the set empties.
fn spop(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    if args.remaining() > 2 {
        return Err(CommandError::Syntax);
    }
    let key = args.required()?;
    let count = match args.next_arg() {
        None => None,
        Some(arg) => {
            let out_of_range =
                || CommandError::other("ERR value is out of range, must be positive");
            let count = parse_integer(arg).map_err(|_| out_of_range())?;
            Some(usize::try_from(count).map_err(|_| out_of_range())?)
        }
    };
    let mut random = Random::new(shard.random.next_u64());
    let Some(set) = shard.write_collection::<Set>(key)? else {
        return Ok(match count {
            None => Reply::Nil,
            Some(_) => Reply::Set(Vec::new()),
        });
    };
    let reply = match count {
        None => match set.pop_random(|| random.next_u64()) {
            Some(member) => {
                shard.record_effect(&[&b"SREM"[..], key, &member]);
                shard.notify(EventClass::Set, "spop", key);
                Reply::Bulk(member.into())
            }
            None => Reply::Nil,
        },
        Some(0) => {
            shard.record_nothing();
            return Ok(set_reply(Vec::new()));
        }
        Some(count) if count >= set.len() => {
            let members = set.members();
            shard.db().remove(key);
            shard.mark_dirty(members.len() as u64);
            shard.record_effect(&[&b"DEL"[..], key]);
            shard.notify(EventClass::Set, "spop", key);
            shard.notify(EventClass::Generic, "del", key);
            return Ok(set_reply(members));
        }
        Some(count) => {
            let mut popped = Vec::with_capacity(count);
            while popped.len() < count {
                match set.pop_random(|| random.next_u64()) {
                    Some(member) => popped.push(member),
                    None => break,
                }
            }
            record_removal(shard, key, &popped);
            shard.notify(EventClass::Set, "spop", key);
            set_reply(popped)
        }
    };
    shard.remove_if_empty::<Set>(key);
    shard.mark_dirty(1);
    Ok(reply)
}

/// Records SPOP's effect: the SREM of exactly the members it popped (replay must not draw
/// again), or nothing when it popped none.
fn record_removal(shard: &mut ShardCtx<'_>, key: &[u8], members: &[Vec<u8>]) {
    if members.is_empty() {
        shard.record_nothing();
        return;
    }
    let mut argv: Vec<&[u8]> = Vec::with_capacity(members.len() + 2);
    argv.push(b"SREM");
    argv.push(key);
    argv.extend(members.iter().map(Vec::as_slice));
    shard.record_effect(&argv);
}

/// The most picks one SRANDMEMBER builds (Redis would try to build any reply; a count
/// beyond this is refused rather than exhausting memory).
const MAX_RANDOM_PICKS: usize = 1 << 24;

/// SRANDMEMBER key [count]
///
/// O(count). Without a count one random member; a positive count gives up to that many
/// distinct members, a negative one that many picks that may repeat.
fn srandmember(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    if args.remaining() > 2 {
        return Err(CommandError::Syntax);
    }
    let key = args.required()?;
    let count = args.next_arg().map(parse_integer).transpose()?;
    if count == Some(i64::MIN) {
        return Err(CommandError::other(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let mut random = Random::new(shard.random.next_u64());
    let Some(set) = shard.read_collection::<Set>(key)? else {
        return Ok(match count {
            None => Reply::Nil,
            Some(_) => Reply::Array(Vec::new()),
        });
    };
    let Some(count) = count else {
        return Ok(set
            .random_member(|| random.next_u64())
            .map_or(Reply::Nil, |member| Reply::Bulk(member.into())));
    };
    let wanted = count.unsigned_abs() as usize;
    if count < 0 {
        if wanted > MAX_RANDOM_PICKS {
            return Err(CommandError::other("ERR value is out of range"));
        }
        let picks = (0..wanted)
            .filter_map(|_| set.random_member(|| random.next_u64()))
            .map(|member| Reply::Bulk(member.into()))
            .collect();
        return Ok(Reply::Array(picks));
    }
    if wanted >= set.len() {
        // Redis replies the whole set as a plain array here (a set only from SPOP).
        let members = set.members().into_iter();
        return Ok(Reply::Array(
            members.map(|member| Reply::Bulk(member.into())).collect(),
        ));
    }
    let picks = if wanted.saturating_mul(DISTINCT_DRAW_FACTOR) > set.len() {
        sample_in_order(set, wanted, &mut random)
    } else {
        draw_distinct(set, wanted, &mut random)
    };
    Ok(Reply::Array(picks))
}

/// Below this ratio of set size to requested count, SRANDMEMBER walks the set once
/// instead of drawing (Redis's `SRANDMEMBER_SUB_STRATEGY_MUL`).
const DISTINCT_DRAW_FACTOR: usize = 3;

/// `wanted` distinct members (`wanted < set.len()`), each subset equally likely, in the
/// set's order: one pass of selection sampling, O(n) without copying the set.
fn sample_in_order(set: &Set, wanted: usize, random: &mut Random) -> Vec<Reply> {
    let mut unseen = set.len() as u64;
    let mut picks = Vec::with_capacity(wanted);
    set.for_each_member(|member| {
        let needed = (wanted - picks.len()) as u64;
        if needed > 0 && random.next_u64() % unseen.max(1) < needed {
            picks.push(Reply::bulk(member));
        }
        unseen = unseen.saturating_sub(1);
    });
    picks
}

/// `wanted` distinct members of a set at least [`DISTINCT_DRAW_FACTOR`] times bigger,
/// by random draws that skip repeats: O(wanted) expected.
fn draw_distinct(set: &Set, wanted: usize, random: &mut Random) -> Vec<Reply> {
    let mut seen = std::collections::HashSet::with_capacity(wanted);
    let mut picks = Vec::with_capacity(wanted);
    while picks.len() < wanted {
        let Some(member) = set.random_member(|| random.next_u64()) else {
            break;
        };
        if !seen.contains(&member) {
            picks.push(Reply::bulk(&member));
            seen.insert(member);
        }
    }
    picks
}

/// SMOVE source destination member
///
/// O(1). 1 when the member moved (or was already in a source that is also the
/// destination), 0 when it was not in the source.
fn smove(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let (source, destination, member) = (args.required()?, args.required()?, args.required()?);
    let limits = shard.limits.encoding;
    // Redis's order: a missing source is 0 whatever the destination holds; then both
    // types are checked.
    if !shard.exists(source) {
        return Ok(Reply::Integer(0));
    }
    shard.write_collection::<Set>(source)?;
    shard.write_collection::<Set>(destination)?;
    let Some(set) = shard.write_collection::<Set>(source)? else {
        return Ok(Reply::Integer(0));
    };
    if source == destination {
        return Ok(Reply::Integer(i64::from(set.contains(member))));
    }
    if !set.remove(member) {
        return Ok(Reply::Integer(0));
    }
    shard.notify(EventClass::Set, "srem", source);
    shard.remove_if_empty::<Set>(source);
    let added = shard
        .collection_or_create::<Set>(destination, || Set::for_members(member, 1, &limits))?
        .insert(member, &limits);
    shard.mark_dirty(1);
    if added {
        shard.notify(EventClass::Set, "sadd", destination);
    }
    Ok(Reply::Integer(1))
}

/// The sets at `keys` (missing keys are empty sets), after checking every key's type as
/// Redis does before computing anything; counts keyspace hits and misses.
fn read_sets<'s>(
    shard: &'s mut ShardCtx<'_>,
    keys: &[Bytes],
) -> Result<Vec<Option<&'s Set>>, CommandError> {
    let now = shard.now;
    let db = shard.keyspace.db_ref(shard.db);
    let mut sets = Vec::with_capacity(keys.len());
    for key in keys {
        match db.get_live(key, now).map(|entry| &entry.value) {
            None => {
                shard.stats.keyspace_misses += 1;
                sets.push(None);
            }
            Some(Value::Set(set)) => {
                shard.stats.keyspace_hits += 1;
                sets.push(Some(set));
            }
            Some(_) => return Err(CommandError::WrongType),
        }
    }
    Ok(sets)
}

/// The members common to every set (none when a set is missing), visited from the
/// smallest set; stops after `limit` members when given.
fn intersection(sets: &[Option<&Set>], limit: Option<usize>) -> Vec<Vec<u8>> {
    let Some(mut present) = sets.iter().copied().collect::<Option<Vec<&Set>>>() else {
        return Vec::new();
    };
    present.sort_by_key(|set| set.len());
    let Some((smallest, others)) = present.split_first() else {
        return Vec::new();
    };
    let mut common = Vec::new();
    smallest.for_each_member(|member| {
        if limit.is_some_and(|limit| common.len() >= limit) {
            return;
        }
        if others.iter().all(|set| set.contains(member)) {
            common.push(member.to_vec());
        }
    });
    common
}

/// The members of any set, each once.
fn union(sets: &[Option<&Set>], limits: &peregrine_keyspace::EncodingLimits) -> Set {
    let mut result = Set::new();
    for set in sets.iter().flatten() {
        set.for_each_member(|member| {
            result.insert(member, limits);
        });
    }
    result
}

/// The members of the first set that are in none of the others.
fn difference(sets: &[Option<&Set>]) -> Vec<Vec<u8>> {
    let Some((Some(first), others)) = sets.split_first() else {
        return Vec::new();
    };
    let mut remaining = Vec::new();
    first.for_each_member(|member| {
        if !others.iter().flatten().any(|set| set.contains(member)) {
            remaining.push(member.to_vec());
        }
    });
    remaining
}

/// A set built as Redis builds a STORE destination: an empty intset, members added.
fn build(members: Vec<Vec<u8>>, limits: &peregrine_keyspace::EncodingLimits) -> Set {
    let mut set = Set::new();
    for member in &members {
        set.insert(member, limits);
    }
    set
}

use crate::SetOperation as Operation;

/// The result of `operation` over the sets at `keys`.
fn compute(
    shard: &mut ShardCtx<'_>,
    keys: &[Bytes],
    operation: Operation,
) -> Result<Set, CommandError> {
    let limits = shard.limits.encoding;
    shard.notify_read_misses::<Set>(keys);
    let sets = read_sets(shard, keys)?;
    Ok(match operation {
        Operation::Intersection => build(intersection(&sets, None), &limits),
        Operation::Union => union(&sets, &limits),
        Operation::Difference => build(difference(&sets), &limits),
    })
}

/// SINTER / SUNION / SDIFF: the result as a set reply.
fn algebra_reply(
    shard: &mut ShardCtx<'_>,
    args: &mut ArgReader<'_>,
    operation: Operation,
) -> CmdResult {
    let result = compute(shard, args.rest(), operation)?;
    Ok(set_reply(result.members()))
}

/// SINTERSTORE / SUNIONSTORE / SDIFFSTORE: stores the result (an empty one deletes the
/// destination) and replies its size.
fn algebra_store(
    shard: &mut ShardCtx<'_>,
    args: &mut ArgReader<'_>,
    operation: Operation,
) -> CmdResult {
    let destination = args.required()?;
    let result = compute(shard, args.rest(), operation)?;
    let len = result.len();
    let event = match operation {
        Operation::Intersection => "sinterstore",
        Operation::Union => "sunionstore",
        Operation::Difference => "sdiffstore",
    };
    shard.store(destination, result, EventClass::Set, event);
    shard.mark_dirty(1);
    Ok(Reply::Integer(len as i64))
}

/// SINTER key [key ...]
fn sinter(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    algebra_reply(shard, args, Operation::Intersection)
}

/// SUNION key [key ...]
fn sunion(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    algebra_reply(shard, args, Operation::Union)
}

/// SDIFF key [key ...]
fn sdiff(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    algebra_reply(shard, args, Operation::Difference)
}

/// SINTERSTORE destination key [key ...]
fn sinterstore(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    algebra_store(shard, args, Operation::Intersection)
}

/// SUNIONSTORE destination key [key ...]
fn sunionstore(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    algebra_store(shard, args, Operation::Union)
}

/// SDIFFSTORE destination key [key ...]
fn sdiffstore(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    algebra_store(shard, args, Operation::Difference)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
///
/// O(n·k). The size of the intersection, counting at most `limit` (0: no limit).
fn sintercard(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let numkeys = parse_integer(args.required()?)
        .ok()
        .filter(|&count| count > 0)
        .ok_or_else(|| CommandError::other("ERR numkeys should be greater than 0"))?;
    let rest = args.rest();
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > rest.len() {
        return Err(CommandError::other(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let (keys, mut options) = rest.split_at(numkeys);
    let mut limit = None;
    while let Some((option, tail)) = options.split_first() {
        match tail.first() {
            Some(value) if is_keyword(option, "limit") => {
                let negative = || CommandError::other("ERR LIMIT can't be negative");
                let value = parse_integer(value).map_err(|_| negative())?;
                let value = usize::try_from(value).map_err(|_| negative())?;
                limit = (value > 0).then_some(value);
                options = &tail[1..];
            }
            _ => return Err(CommandError::Syntax),
        }
    }
    shard.notify_read_misses::<Set>(keys);
    let sets = read_sets(shard, keys)?;
    Ok(Reply::Integer(intersection(&sets, limit).len() as i64))
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
///
/// O(1) per call. `[next cursor, [member ...]]`; a compact set is returned whole with
/// cursor 0.
fn sscan(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let cursor = parse_scan_cursor(args.required()?)?;
    let empty = || Reply::Array(vec![Reply::bulk("0"), Reply::Array(Vec::new())]);
    let Some(set) = shard.read_collection::<Set>(key)? else {
        return Ok(empty());
    };
    let (count, pattern) = parse_collection_scan_options(args)?;
    let mut members = Vec::new();
    let mut cursor = cursor;
    let mut steps = count.saturating_mul(10);
    loop {
        cursor = set.scan(cursor, |member| {
            if pattern.is_none_or(|pattern| glob_match(pattern, member)) {
                members.push(Reply::Bulk(Bytes::copy_from_slice(member)));
            }
        });
        steps = steps.saturating_sub(1);
        if cursor == 0 || members.len() >= count || steps == 0 {
            break;
        }
    }
    Ok(Reply::Array(vec![
        Reply::bulk(cursor.to_string()),
        Reply::Array(members),
    ]))
}

#[cfg(test)]
mod tests {
    use crate::test_shard::TestShard;

    #[test]
    fn add_remove_and_membership() {
        let mut shard = TestShard::new();
        assert_eq!(shard.wire(&["SADD", "s", "1", "2", "2", "a"]), ":3\r\n");
        assert_eq!(shard.wire(&["SCARD", "s"]), ":3\r\n");
        assert_eq!(shard.wire(&["SISMEMBER", "s", "a"]), ":1\r\n");
        assert_eq!(
            shard.wire(&["SMISMEMBER", "s", "1", "x", "2"]),
            "*3\r\n:1\r\n:0\r\n:1\r\n"
        );
        assert_eq!(shard.wire(&["SREM", "s", "1", "2", "a", "z"]), ":3\r\n");
        assert_eq!(shard.wire(&["EXISTS", "s"]), ":0\r\n");
        assert_eq!(shard.wire(&["SMEMBERS", "s"]), "*0\r\n");
        shard.run(&["SET", "string", "x"]);
        assert!(shard
            .wire(&["SADD", "string", "a"])
            .starts_with("-WRONGTYPE"));
        assert!(shard
            .wire(&["SINTER", "s", "string"])
            .starts_with("-WRONGTYPE"));
    }

    #[test]
    fn algebra_and_stores() {
        let mut shard = TestShard::new();
        shard.run(&["SADD", "a", "1", "2", "3", "x"]);
        shard.run(&["SADD", "b", "2", "3", "4"]);
        assert_eq!(shard.wire(&["SINTERSTORE", "i", "a", "b"]), ":2\r\n");
        assert_eq!(shard.wire(&["OBJECT", "ENCODING", "i"]), "$6\r\nintset\r\n");
        assert_eq!(shard.wire(&["SUNIONSTORE", "u", "a", "b"]), ":5\r\n");
        assert_eq!(
            shard.wire(&["OBJECT", "ENCODING", "u"]),
            "$8\r\nlistpack\r\n"
        );
        assert_eq!(shard.wire(&["SDIFFSTORE", "d", "a", "b"]), ":2\r\n");
        assert_eq!(shard.wire(&["SINTERSTORE", "d", "a", "missing"]), ":0\r\n");
        assert_eq!(shard.wire(&["EXISTS", "d"]), ":0\r\n");
        assert_eq!(
            shard.wire(&["SINTERCARD", "2", "a", "b", "LIMIT", "1"]),
            ":1\r\n"
        );
        assert_eq!(
            shard.wire(&["SINTERCARD", "3", "a", "b"]),
            "-ERR Number of keys can't be greater than number of args\r\n"
        );
        assert_eq!(
            shard.wire(&["SINTERCARD", "1", "a", "LIMIT", "-1"]),
            "-ERR LIMIT can't be negative\r\n"
        );
        assert_eq!(shard.wire(&["SMOVE", "a", "b", "x"]), ":1\r\n");
        assert_eq!(shard.wire(&["SMOVE", "a", "b", "x"]), ":0\r\n");
        assert_eq!(shard.wire(&["SISMEMBER", "b", "x"]), ":1\r\n");
    }

    #[test]
    fn pops_and_random_members() {
        let mut shard = TestShard::new();
        shard.run(&["SADD", "s", "a", "b", "c"]);
        assert_eq!(shard.wire(&["SRANDMEMBER", "s", "0"]), "*0\r\n");
        assert!(shard
            .wire(&["SRANDMEMBER", "s", "-5"])
            .starts_with("*5\r\n"));
        assert!(shard.wire(&["SRANDMEMBER", "s", "2"]).starts_with("*2\r\n"));
        assert_eq!(
            shard.wire(&["SPOP", "s", "-1"]),
            "-ERR value is out of range, must be positive\r\n"
        );
        assert!(shard.wire(&["SPOP", "s"]).starts_with("$1\r\n"));
        assert!(shard.wire(&["SPOP", "s", "5"]).starts_with("*2\r\n"));
        assert_eq!(shard.wire(&["EXISTS", "s"]), ":0\r\n");
        assert_eq!(shard.wire(&["SPOP", "s"]), "$-1\r\n");
        assert_eq!(
            shard.wire(&["SPOP", "s", "1", "x"]),
            "-ERR syntax error\r\n"
        );
    }

    #[test]
    fn distinct_random_members_are_distinct_members() {
        use peregrine_resp::Reply;
        let mut shard = TestShard::new();
        let members: Vec<String> = (0..1000).map(|index| format!("m{index}")).collect();
        let mut sadd = vec!["SADD", "s"];
        sadd.extend(members.iter().map(String::as_str));
        shard.run(&sadd);
        // 10 of 1000 draws at random; 600 of 1000 walks the set once.
        for count in ["10", "600", "999"] {
            let Reply::Array(picks) = shard.run(&["SRANDMEMBER", "s", count]) else {
                panic!("SRANDMEMBER s {count} is not an array");
            };
            let distinct: std::collections::HashSet<&[u8]> = picks
                .iter()
                .filter_map(|pick| match pick {
                    Reply::Bulk(member) => Some(&member[..]),
                    _ => None,
                })
                .filter(|member| members.iter().any(|known| known.as_bytes() == *member))
                .collect();
            assert_eq!(picks.len().to_string(), count);
            assert_eq!(distinct.len(), picks.len(), "SRANDMEMBER s {count}");
        }
        // The one-pass walk is not biased to the set's first members: 50 walks of 400
        // reach every member (a member is missed with probability 0.6^50).
        let mut reached = std::collections::HashSet::new();
        for _ in 0..50 {
            if let Reply::Array(picks) = shard.run(&["SRANDMEMBER", "s", "400"]) {
                reached.extend(picks.into_iter().filter_map(|pick| match pick {
                    Reply::Bulk(member) => Some(member),
                    _ => None,
                }));
            }
        }
        assert_eq!(reached.len(), 1000);
        // The whole set is a plain array, not a RESP3 set (only SPOP replies a set).
        assert!(matches!(shard.run(&["SRANDMEMBER", "s", "5000"]),
            Reply::Array(all) if all.len() == 1000));
    }

    #[test]
    fn scans_return_small_sets_whole() {
        let mut shard = TestShard::new();
        shard.run(&["SADD", "s", "a", "b", "ab"]);
        assert_eq!(
            shard.wire(&["SSCAN", "s", "0", "MATCH", "a*"]),
            "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$2\r\nab\r\n"
        );
        assert_eq!(shard.wire(&["SSCAN", "s", "x"]), "-ERR invalid cursor\r\n");
        assert_eq!(
            shard.wire(&["SSCAN", "s", "0", "COUNT", "0"]),
            "-ERR syntax error\r\n"
        );
    }
}
