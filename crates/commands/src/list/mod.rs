//! Lists: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET LINSERT LREM LTRIM
//! LPOS LMOVE RPOPLPUSH LMPOP and the blocking BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP.
//!
//! Blocking commands are the non-blocking ones with a timeout (see [`crate::blocking`]):
//! with data they pop it, without it they reply as Redis does for a timed-out wait, and
//! the server parks and re-runs them. Multi-key commands run through the scratch plan
//! across shards. Arguments are checked in Redis's order, so which error wins matches.

use crate::args::{is_keyword, parse_integer};
use crate::blocking::parse_timeout;
use crate::spec::{
    keyed, numkeys_positions, scratch, Arity::*, CommandSpec, Flag::*, Group, KeySpec,
};
use crate::{ArgReader, CmdResult, CommandError, EventClass, ShardCtx};
use bytes::Bytes;
use peregrine_keyspace::collections::{End, List};
use peregrine_resp::Reply;

#[cfg(test)]
mod tests;

const LMPOP_KEYS: KeySpec = KeySpec::movable(0, 0, 0, lmpop_keys);
const BLMPOP_KEYS: KeySpec = KeySpec::movable(0, 0, 0, blmpop_keys);

/// The list family's table.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec { name: "lpush",      arity: AtLeast(3), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(lpush), group: Group::List, summary: "Prepends one or more elements to a list. Creates the key if it doesn't exist." },
    CommandSpec { name: "rpush",      arity: AtLeast(3), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(rpush), group: Group::List, summary: "Appends one or more elements to a list. Creates the key if it doesn't exist." },
    CommandSpec { name: "lpushx",     arity: AtLeast(3), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(lpushx), group: Group::List, summary: "Prepends one or more elements to a list only when the list exists." },
    CommandSpec { name: "rpushx",     arity: AtLeast(3), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(rpushx), group: Group::List, summary: "Appends an element to a list only when the list exists." },
    CommandSpec { name: "lpop",       arity: AtLeast(2), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(lpop), group: Group::List, summary: "Returns the first elements in a list after removing it. Deletes the list if the last element was popped." },
    CommandSpec { name: "rpop",       arity: AtLeast(2), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(rpop), group: Group::List, summary: "Returns and removes the last elements of the list. Deletes the list if the last element was popped." },
    CommandSpec { name: "llen",       arity: Exactly(2), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(llen), group: Group::List, summary: "Returns the length of a list." },
    CommandSpec { name: "lrange",     arity: Exactly(4), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(lrange), group: Group::List, summary: "Returns a range of elements from a list." },
    CommandSpec { name: "lindex",     arity: Exactly(3), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(lindex), group: Group::List, summary: "Returns an element from a list by its index." },
    CommandSpec { name: "lset",       arity: Exactly(4), flags: &[Write, DenyOom], keys: KeySpec::FIRST, exec: keyed(lset), group: Group::List, summary: "Sets the value of an element in a list by its index." },
    CommandSpec { name: "linsert",    arity: Exactly(5), flags: &[Write, DenyOom], keys: KeySpec::FIRST, exec: keyed(linsert), group: Group::List, summary: "Inserts an element before or after another element in a list." },
    CommandSpec { name: "lrem",       arity: Exactly(4), flags: &[Write], keys: KeySpec::FIRST, exec: keyed(lrem), group: Group::List, summary: "Removes elements from a list. Deletes the list if the last element was removed." },
    CommandSpec { name: "ltrim",      arity: Exactly(4), flags: &[Write], keys: KeySpec::FIRST, exec: keyed(ltrim), group: Group::List, summary: "Removes elements from both ends a list. Deletes the list if all elements were trimmed." },
    CommandSpec { name: "lpos",       arity: AtLeast(3), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(lpos), group: Group::List, summary: "Returns the index of matching elements in a list." },
    CommandSpec { name: "lmove",      arity: Exactly(5), flags: &[Write, DenyOom], keys: KeySpec::FIRST_TWO, exec: scratch(lmove), group: Group::List, summary: "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved." },
    CommandSpec { name: "rpoplpush",  arity: Exactly(3), flags: &[Write, DenyOom], keys: KeySpec::FIRST_TWO, exec: scratch(rpoplpush), group: Group::List, summary: "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped." },
    CommandSpec { name: "lmpop",      arity: AtLeast(4), flags: &[Write], keys: LMPOP_KEYS, exec: scratch(lmpop), group: Group::List, summary: "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped." },
    CommandSpec { name: "blpop",      arity: AtLeast(3), flags: &[Write, NoScript, Blocking], keys: KeySpec::ALL_BUT_LAST, exec: scratch(blpop), group: Group::List, summary: "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped." },
    CommandSpec { name: "brpop",      arity: AtLeast(3), flags: &[Write, NoScript, Blocking], keys: KeySpec::ALL_BUT_LAST, exec: scratch(brpop), group: Group::List, summary: "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped." },
    CommandSpec { name: "blmove",     arity: Exactly(6), flags: &[Write, DenyOom, NoScript, Blocking], keys: KeySpec::FIRST_TWO, exec: scratch(blmove), group: Group::List, summary: "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved." },
    CommandSpec { name: "brpoplpush", arity: Exactly(4), flags: &[Write, DenyOom, NoScript, Blocking], keys: KeySpec::FIRST_TWO, exec: scratch(brpoplpush), group: Group::List, summary: "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped." },
    CommandSpec { name: "blmpop",     arity: AtLeast(5), flags: &[Write, Blocking], keys: BLMPOP_KEYS, exec: scratch(blmpop), group: Group::List, summary: "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped." },
];

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: the keys follow `numkeys`.
fn lmpop_keys(argv: &[Bytes]) -> Vec<usize> {
    numkeys_positions(argv, &[], 1)
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count].
fn blmpop_keys(argv: &[Bytes]) -> Vec<usize> {
    numkeys_positions(argv, &[], 2)
}

/// LPUSH key element [element ...]
///
/// O(1) per element. Integer reply: the list's length after the push.
fn lpush(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    push_generic(shard, args, End::Front, false)
}

/// RPUSH key element [element ...]
///
/// O(1) per element. Integer reply: the list's length after the push.
fn rpush(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    push_generic(shard, args, End::Back, false)
}

/// LPUSHX key element [element ...]
///
/// O(1) per element. Integer reply: the length after the push, 0 when there is no list.
fn lpushx(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    push_generic(shard, args, End::Front, true)
}

/// RPUSHX key element [element ...]
///
/// O(1) per element. Integer reply: the length after the push, 0 when there is no list.
fn rpushx(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    push_generic(shard, args, End::Back, true)
}

/// The one implementation behind LPUSH, RPUSH, LPUSHX and RPUSHX.
fn push_generic(
    shard: &mut ShardCtx<'_>,
    args: &mut ArgReader<'_>,
    end: End,
    only_existing: bool,
) -> CmdResult {
    let key = args.required()?;
    let elements = args.rest();
    let limits = shard.limits.encoding;
    let list = if only_existing {
        match shard.write_collection::<List>(key)? {
            Some(list) => list,
            None => return Ok(Reply::Integer(0)),
        }
    } else {
        shard.collection_or_create(key, List::new)?
    };
    list.push(end, elements, &limits);
    let len = list.len();
    shard.mark_dirty(elements.len() as u64);
    shard.notify(EventClass::List, push_event(end), key);
    Ok(Reply::Integer(len as i64))
}

/// LPOP key [count]
///
/// O(count). Bulk reply: the first element (nil when there is no list); with a count,
/// an array of up to `count` elements (a null array when there is no list).
fn lpop(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    pop_generic(shard, args, End::Front, "lpop")
}

/// RPOP key [count]
///
/// O(count). As LPOP, from the tail.
fn rpop(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    pop_generic(shard, args, End::Back, "rpop")
}

/// The one implementation behind LPOP and RPOP.
fn pop_generic(
    shard: &mut ShardCtx<'_>,
    args: &mut ArgReader<'_>,
    end: End,
    command: &'static str,
) -> CmdResult {
    // Redis checks the argument count before the count's value.
    if args.remaining() > 2 {
        return Err(CommandError::other(format!(
            "ERR wrong number of arguments for '{command}' command"
        )));
    }
    let key = args.required()?;
    let count = args.next_arg().map(|arg| positive(arg, None)).transpose()?;
    let limits = shard.limits.encoding;
    let Some(list) = shard.write_collection::<List>(key)? else {
        return Ok(match count {
            Some(_) => Reply::NilArray,
            None => Reply::Nil,
        });
    };
    let (reply, popped) = match count {
        None => match list.pop(end) {
            Some(element) => (Reply::Bulk(Bytes::from(element)), 1),
            None => (Reply::Nil, 0),
        },
        Some(0) => return Ok(Reply::Array(Vec::new())),
        Some(count) => pop_many(list, end, count),
    };
    let empty = settle(list, &limits);
    finish_removal(shard, key, empty, popped, pop_event(end));
    Ok(reply)
}

/// LLEN key
///
/// O(1). Integer reply: the length, 0 when there is no list.
fn llen(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    shard.collection_len::<List>(args.required()?)
}

/// LRANGE key start stop
///
/// O(nodes + range). Array reply: the elements from `start` to `stop` inclusive
/// (negative counts from the tail, out of range clamps).
fn lrange(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let start = args.integer()?;
    let stop = args.integer()?;
    let Some(list) = shard.read_collection::<List>(key)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    Ok(match clamp_range(start, stop, list.len()) {
        Some((first, count)) => Reply::bulk_array(list.iter_from(first).take(count)),
        None => Reply::Array(Vec::new()),
    })
}

/// LINDEX key index
///
/// O(nodes + node). Bulk reply: the element at `index` (negative from the tail), nil
/// when out of range or there is no list.
fn lindex(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let Some(list) = shard.read_collection::<List>(key)? else {
        return Ok(Reply::Nil);
    };
    let index = args.integer()?;
    Ok(
        match resolve_index(index, list.len()).and_then(|at| list.get(at)) {
            Some(element) => Reply::bulk(element),
            None => Reply::Nil,
        },
    )
}

/// LSET key index element
///
/// O(nodes + node). OK; `ERR no such key` without a list, `ERR index out of range`.
fn lset(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let limits = shard.limits.encoding;
    let Some(list) = shard.write_collection::<List>(key)? else {
        return Err(CommandError::NoSuchKey);
    };
    let index = args.integer()?;
    let element = args.required()?;
    let at = resolve_index(index, list.len()).unwrap_or(usize::MAX);
    if !list.set(at, element, &limits) {
        return Err(CommandError::other("ERR index out of range"));
    }
    shard.mark_dirty(1);
    shard.notify(EventClass::List, "lset", key);
    Ok(Reply::Ok)
}

/// LINSERT key BEFORE|AFTER pivot element
///
/// O(n). Integer reply: the length after the insert, -1 when `pivot` is not found, 0
/// when there is no list.
fn linsert(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let side = args.required()?;
    let after = if is_keyword(side, "after") {
        true
    } else if is_keyword(side, "before") {
        false
    } else {
        return Err(CommandError::Syntax);
    };
    let pivot = args.required()?;
    let element = args.required()?;
    let limits = shard.limits.encoding;
    let Some(list) = shard.write_collection::<List>(key)? else {
        return Ok(Reply::Integer(0));
    };
    if !list.insert_at_pivot(pivot, element, after, &limits) {
        return Ok(Reply::Integer(-1));
    }
    let len = list.len();
    shard.mark_dirty(1);
    shard.notify(EventClass::List, "linsert", key);
    Ok(Reply::Integer(len as i64))
}

/// LREM key count element
///
/// O(n). Integer reply: how many were removed; `count` > 0 removes the first ones from
/// the head, < 0 from the tail, 0 all.
fn lrem(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let count = integer_in(args.required()?, -i64::MAX, i64::MAX, None)?;
    let element = args.required()?;
    let limits = shard.limits.encoding;
    let Some(list) = shard.write_collection::<List>(key)? else {
        return Ok(Reply::Integer(0));
    };
    let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let removed = list.remove_matching(element, limit, count < 0);
    if removed > 0 {
        let empty = settle(list, &limits);
        finish_removal(shard, key, empty, removed, "lrem");
    }
    Ok(Reply::Integer(removed as i64))
}

/// LTRIM key start stop
///
/// O(removed). OK; keeps only `start..=stop` (negative from the tail), deleting the list
/// when nothing remains.
fn ltrim(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let start = args.integer()?;
    let stop = args.integer()?;
    let limits = shard.limits.encoding;
    let Some(list) = shard.write_collection::<List>(key)? else {
        return Ok(Reply::Ok);
    };
    let len = list.len();
    let (keep_from, keep) = clamp_range(start, stop, len).unwrap_or((len, 0));
    list.remove_range(keep_from + keep, len - keep_from - keep);
    list.remove_range(0, keep_from);
    let empty = settle(list, &limits);
    // Redis records `ltrim` even when nothing was trimmed.
    finish_removal(shard, key, empty, len - keep, "ltrim");
    Ok(Reply::Ok)
}

/// LPOS's options.
struct LposOptions {
    /// Which match to start from: 1 the first, -1 the first from the tail.
    rank: i64,
    /// COUNT: how many matches to return (0: all); `None` replies one index.
    count: Option<usize>,
    /// MAXLEN: how many elements to compare at most (0: all).
    max_len: usize,
}

impl LposOptions {
    /// Parses `[RANK rank] [COUNT num-matches] [MAXLEN len]` with Redis's errors.
    fn parse(args: &mut ArgReader<'_>) -> Result<LposOptions, CommandError> {
        let mut options = LposOptions {
            rank: 1,
            count: None,
            max_len: 0,
        };
        while let Some(option) = args.next_arg() {
            let value = if args.remaining() > 0 {
                args.required()?
            } else {
                return Err(CommandError::Syntax);
            };
            if is_keyword(option, "rank") {
                options.rank = integer_in(value, -i64::MAX, i64::MAX, None)?;
                if options.rank == 0 {
                    return Err(CommandError::other(
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from \
                         the second ... or use negative to start from the end of the list",
                    ));
                }
            } else if is_keyword(option, "count") {
                options.count = Some(positive(value, Some("ERR COUNT can't be negative"))?);
            } else if is_keyword(option, "maxlen") {
                options.max_len = positive(value, Some("ERR MAXLEN can't be negative"))?;
            } else {
                return Err(CommandError::Syntax);
            }
        }
        Ok(options)
    }
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
///
/// O(n). Integer reply: the index of the `rank`-th match (nil when none); with COUNT, an
/// array of up to `count` indexes (0: all).
fn lpos(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let element = args.required()?;
    let options = LposOptions::parse(args)?;
    let Some(list) = shard.read_collection::<List>(key)? else {
        return Ok(match options.count {
            Some(_) => Reply::Array(Vec::new()),
            None => Reply::Nil,
        });
    };
    let len = list.len();
    Ok(if options.rank < 0 {
        lpos_matches(list.iter().rev(), element, &options, |index| {
            len - 1 - index
        })
    } else {
        lpos_matches(list.iter(), element, &options, |index| index)
    })
}

/// LPOS's scan over `entries` (in search order); `position` turns a scan index into a
/// list index.
fn lpos_matches<'a>(
    entries: impl Iterator<Item = &'a [u8]>,
    element: &[u8],
    options: &LposOptions,
    position: impl Fn(usize) -> usize,
) -> Reply {
    let skip = usize::try_from(options.rank.unsigned_abs() - 1).unwrap_or(usize::MAX);
    let scanned = if options.max_len == 0 {
        usize::MAX
    } else {
        options.max_len
    };
    let mut found = entries
        .take(scanned)
        .enumerate()
        .filter(|(_, entry)| *entry == element)
        .skip(skip)
        .map(|(index, _)| Reply::Integer(position(index) as i64));
    match options.count {
        None => found.next().unwrap_or(Reply::Nil),
        Some(0) => Reply::Array(found.collect()),
        Some(count) => Reply::Array(found.take(count).collect()),
    }
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
///
/// O(1). Bulk reply: the element moved, nil when `source` has no list. With source and
/// destination the same, the list rotates.
fn lmove(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let (source, destination) = (args.required()?, args.required()?);
    let from = parse_end(args.required()?)?;
    let to = parse_end(args.required()?)?;
    move_generic(shard, source, destination, from, to)
}

/// RPOPLPUSH source destination
///
/// O(1). As LMOVE source destination RIGHT LEFT.
fn rpoplpush(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let (source, destination) = (args.required()?, args.required()?);
    move_generic(shard, source, destination, End::Back, End::Front)
}

/// The one implementation behind LMOVE, RPOPLPUSH, BLMOVE and BRPOPLPUSH.
fn move_generic(
    shard: &mut ShardCtx<'_>,
    source: &[u8],
    destination: &[u8],
    from: End,
    to: End,
) -> CmdResult {
    let limits = shard.limits.encoding;
    if shard.write_collection::<List>(source)?.is_none() {
        return Ok(Reply::Nil);
    }
    shard.write_collection::<List>(destination)?;
    let Some(element) = shard
        .write_collection::<List>(source)?
        .and_then(|list| list.pop(from))
    else {
        return Ok(Reply::Nil);
    };
    shard
        .collection_or_create(destination, List::new)?
        .push(to, &[&element], &limits);
    // Redis records the push before the pop.
    shard.notify(EventClass::List, push_event(to), destination);
    let empty = match shard.write_collection::<List>(source)? {
        Some(list) => settle(list, &limits),
        None => false,
    };
    finish_removal(shard, source, empty, 1, pop_event(from));
    Ok(Reply::Bulk(Bytes::from(element)))
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
///
/// O(count). Array reply: the first non-empty list's key and the (up to `count`, 1 by
/// default) elements popped from it; a null array when every list is empty.
fn lmpop(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let request = MpopRequest::parse(args)?;
    mpop_generic(shard, &request)
}

/// BLPOP key [key ...] timeout
///
/// O(number of keys). Array reply: the key and the first element of the first non-empty
/// list; a null array when all are empty (the server then waits for data).
fn blpop(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    blocking_pop_generic(shard, args, End::Front)
}

/// BRPOP key [key ...] timeout
///
/// O(number of keys). As BLPOP, from the tail.
fn brpop(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    blocking_pop_generic(shard, args, End::Back)
}

/// The one implementation behind BLPOP and BRPOP.
fn blocking_pop_generic(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>, end: End) -> CmdResult {
    let rest = args.rest();
    let Some((timeout, keys)) = rest.split_last() else {
        return Err(CommandError::Syntax);
    };
    parse_timeout(timeout)?;
    let limits = shard.limits.encoding;
    for key in keys {
        let Some(list) = shard.write_collection::<List>(key)? else {
            continue;
        };
        let Some(element) = list.pop(end) else {
            continue;
        };
        let empty = settle(list, &limits);
        finish_removal(shard, key, empty, 1, pop_event(end));
        return Ok(Reply::Array(vec![
            Reply::Bulk(key.clone()),
            Reply::Bulk(Bytes::from(element)),
        ]));
    }
    Ok(Reply::NilArray)
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
///
/// O(1). As LMOVE; nil when `source` has no list (the server then waits for data).
fn blmove(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let (source, destination) = (args.required()?, args.required()?);
    let from = parse_end(args.required()?)?;
    let to = parse_end(args.required()?)?;
    parse_timeout(args.required()?)?;
    move_generic(shard, source, destination, from, to)
}

/// BRPOPLPUSH source destination timeout
///
/// O(1). As BLMOVE source destination RIGHT LEFT timeout.
fn brpoplpush(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let (source, destination) = (args.required()?, args.required()?);
    parse_timeout(args.required()?)?;
    move_generic(shard, source, destination, End::Back, End::Front)
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
///
/// O(count). As LMPOP; a null array when every list is empty (the server then waits).
fn blmpop(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let timeout = args.required()?;
    let request = MpopRequest::parse(args)?;
    parse_timeout(timeout)?;
    mpop_generic(shard, &request)
}

/// The arguments of LMPOP and BLMPOP from `numkeys` on.
struct MpopRequest<'a> {
    keys: &'a [Bytes],
    end: End,
    count: usize,
}

impl<'a> MpopRequest<'a> {
    /// Parses `numkeys key [key ...] LEFT|RIGHT [COUNT count]` with Redis's errors.
    fn parse(args: &mut ArgReader<'a>) -> Result<MpopRequest<'a>, CommandError> {
        let numkeys = integer_in(
            args.required()?,
            1,
            i64::MAX,
            Some("ERR numkeys should be greater than 0"),
        )?;
        let rest = args.rest();
        let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
        if numkeys >= rest.len() {
            return Err(CommandError::Syntax);
        }
        let (keys, options) = rest.split_at(numkeys);
        let Some((side, options)) = options.split_first() else {
            return Err(CommandError::Syntax);
        };
        let end = parse_end(side)?;
        // Redis's loop: a COUNT with a value is parsed (and its value checked) when met;
        // anything else, a second COUNT included, is a syntax error.
        let mut count = None;
        let mut options = options.iter();
        while let Some(option) = options.next() {
            match options.as_slice().first() {
                Some(value) if count.is_none() && is_keyword(option, "count") => {
                    options.next();
                    let value = integer_in(
                        value,
                        1,
                        i64::MAX,
                        Some("ERR count should be greater than 0"),
                    )?;
                    count = Some(usize::try_from(value).unwrap_or(usize::MAX));
                }
                _ => return Err(CommandError::Syntax),
            }
        }
        Ok(MpopRequest {
            keys,
            end,
            count: count.unwrap_or(1),
        })
    }
}

/// Pops from the first non-empty list of `request.keys`: [key, [elements]].
fn mpop_generic(shard: &mut ShardCtx<'_>, request: &MpopRequest<'_>) -> CmdResult {
    let limits = shard.limits.encoding;
    for key in request.keys {
        let Some(list) = shard.write_collection::<List>(key)? else {
            continue;
        };
        let (elements, popped) = pop_many(list, request.end, request.count);
        if popped == 0 {
            continue;
        }
        let empty = settle(list, &limits);
        finish_removal(shard, key, empty, popped, pop_event(request.end));
        return Ok(Reply::Array(vec![Reply::Bulk(key.clone()), elements]));
    }
    Ok(Reply::NilArray)
}

/// Pops up to `count` elements from `end`, in pop order: the array reply of them and how
/// many there were.
fn pop_many(list: &mut List, end: End, count: usize) -> (Reply, usize) {
    let len = list.len();
    let count = count.min(len);
    let reply = match end {
        End::Front => Reply::bulk_array(list.iter().take(count)),
        End::Back => Reply::bulk_array(list.iter().rev().take(count)),
    };
    match end {
        End::Front => list.remove_range(0, count),
        End::Back => list.remove_range(len - count, count),
    }
    (reply, count)
}

/// After removing elements: converts a shrunken quicklist back if it qualifies and
/// says whether the list is now empty (and must be deleted).
fn settle(list: &mut List, limits: &peregrine_keyspace::EncodingLimits) -> bool {
    if list.is_empty() {
        return true;
    }
    list.shrink_encoding(limits);
    false
}

/// Counts `removed` changes, records `event`, and deletes the emptied list at `key` (with
/// its `del` event).
fn finish_removal(
    shard: &mut ShardCtx<'_>,
    key: &[u8],
    empty: bool,
    removed: usize,
    event: &'static str,
) {
    shard.mark_dirty(removed as u64);
    shard.notify(EventClass::List, event, key);
    if empty {
        shard.remove_if_empty::<List>(key);
    }
}

/// The event of a push at `end`.
fn push_event(end: End) -> &'static str {
    match end {
        End::Front => "lpush",
        End::Back => "rpush",
    }
}

/// The event of a pop from `end`.
fn pop_event(end: End) -> &'static str {
    match end {
        End::Front => "lpop",
        End::Back => "rpop",
    }
}

/// LEFT or RIGHT.
fn parse_end(arg: &[u8]) -> Result<End, CommandError> {
    if is_keyword(arg, "left") {
        Ok(End::Front)
    } else if is_keyword(arg, "right") {
        Ok(End::Back)
    } else {
        Err(CommandError::Syntax)
    }
}

/// The positions LRANGE (`argv`: its whole request) selects of a list of `len` elements,
/// or its handler's error for its arguments; a caller reading a huge range in parts
/// computes it once and reads it a chunk at a time.
pub fn lrange_span(argv: &[Bytes], len: usize) -> Result<std::ops::Range<usize>, CommandError> {
    let (Some(start), Some(stop)) = (argv.get(2), argv.get(3)) else {
        return Err(CommandError::Syntax);
    };
    let (start, stop) = (parse_integer(start)?, parse_integer(stop)?);
    Ok(match clamp_range(start, stop, len) {
        Some((first, count)) => first..first + count,
        None => 0..0,
    })
}

/// Redis's range rule (LRANGE, LTRIM): negative indexes count from the tail, `start`
/// clamps to 0 and `stop` to the last element. Returns (first index, count), or `None`
/// when the range is empty.
fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        len + stop
    } else {
        stop.min(len - 1)
    };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, (stop - start + 1) as usize))
}

/// An index (negative from the tail) as a position, `None` when out of range.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let position = if index < 0 {
        index.checked_add(len as i64)?
    } else {
        index
    };
    usize::try_from(position).ok().filter(|&at| at < len)
}

/// An integer argument within `min..=max`, as Redis's `getRangeLongFromObjectOrReply`:
/// `message` replaces both the parse and the range error when given.
fn integer_in(
    arg: &[u8],
    min: i64,
    max: i64,
    message: Option<&'static str>,
) -> Result<i64, CommandError> {
    let value = parse_integer(arg).map_err(|error| message.map_or(error, CommandError::other))?;
    if (min..=max).contains(&value) {
        return Ok(value);
    }
    Err(CommandError::other(match message {
        Some(message) => message.to_owned(),
        None => format!("ERR value is out of range, value must between {min} and {max}"),
    }))
}

/// A non-negative integer argument (`getPositiveLongFromObjectOrReply`).
fn positive(arg: &[u8], message: Option<&'static str>) -> Result<usize, CommandError> {
    let message = message.unwrap_or("ERR value is out of range, must be positive");
    let value = integer_in(arg, 0, i64::MAX, Some(message))?;
    Ok(usize::try_from(value).unwrap_or(usize::MAX))
}
