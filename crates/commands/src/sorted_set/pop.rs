//! ZPOPMIN, ZPOPMAX, ZMPOP and their blocking forms BZPOPMIN, BZPOPMAX, BZMPOP.
//!
//! The blocking forms are ordinary handlers (see [`crate::blocking`]): they pop when a
//! key has members and otherwise reply as a timed-out wait does (a null array); the
//! server parks the client and runs them again when a watched key gets members.

use crate::args::{is_keyword, parse_integer};
use crate::blocking::parse_timeout;
use crate::{ArgReader, CmdResult, CommandError, EventClass, ShardCtx};
use bytes::Bytes;
use peregrine_keyspace::collections::sorted_set::Element;
use peregrine_keyspace::collections::SortedSet;
use peregrine_resp::Reply;

/// ZPOPMIN key [count]
///
/// O(log n) per member. Without count `[member, score]`; with count pairs.
pub(super) fn zpopmin(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    pop_generic(shard, args, false)
}

/// ZPOPMAX key [count]
///
/// O(log n) per member. Without count `[member, score]`; with count pairs.
pub(super) fn zpopmax(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    pop_generic(shard, args, true)
}

fn pop_generic(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>, highest: bool) -> CmdResult {
    // Redis refuses extra arguments before looking at the count.
    if args.remaining() > 2 {
        return Err(CommandError::Syntax);
    }
    let key = args.required()?;
    let count = args.next_arg().map(parse_count).transpose()?;
    let popped = pop_elements(shard, key, highest, count.unwrap_or(1))?;
    let Some(_) = count else {
        return Ok(Reply::Array(
            popped
                .into_iter()
                .flat_map(|element| {
                    [
                        Reply::bulk(element.member.as_slice()),
                        Reply::Double(element.score),
                    ]
                })
                .collect(),
        ));
    };
    Ok(Reply::Pairs(
        popped
            .into_iter()
            .map(|element| {
                (
                    Reply::bulk(element.member.as_slice()),
                    Reply::Double(element.score),
                )
            })
            .collect(),
    ))
}

/// A ZPOPMIN/ZPOPMAX count: an integer, not negative.
fn parse_count(arg: &[u8]) -> Result<usize, CommandError> {
    let out_of_range = || CommandError::other("ERR value is out of range, must be positive");
    let count = parse_integer(arg).map_err(|_| out_of_range())?;
    usize::try_from(count).map_err(|_| out_of_range())
}

/// Pops up to `count` elements from the lowest (or `highest`) end of the set at `key`.
fn pop_elements(
    shard: &mut ShardCtx<'_>,
    key: &[u8],
    highest: bool,
    count: usize,
) -> Result<Vec<Element>, CommandError> {
    let Some(set) = shard.write_collection::<SortedSet>(key)? else {
        return Ok(Vec::new());
    };
    let mut popped = Vec::with_capacity(count.min(set.len()));
    while popped.len() < count {
        let Some(element) = set.pop(highest) else {
            break;
        };
        popped.push(element);
    }
    if !popped.is_empty() {
        let event = if highest { "zpopmax" } else { "zpopmin" };
        shard.notify(EventClass::SortedSet, event, key);
    }
    shard.remove_if_empty::<SortedSet>(key);
    shard.mark_dirty(popped.len() as u64);
    Ok(popped)
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
///
/// O(k log n). `[key, [[member, score], ...]]` from the first non-empty key, or nil.
pub(super) fn zmpop(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    mpop_generic(shard, args.argv(), 1, None)
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
///
/// O(k log n). As ZMPOP; blocks while every key is empty.
pub(super) fn bzmpop(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let timeout = args.required()?;
    mpop_generic(shard, args.argv(), 2, Some(timeout))
}

/// ZMPOP and BZMPOP from `numkeys` (at `numkeys_at`) on; BZMPOP's timeout is checked
/// after the other arguments, in Redis's order.
fn mpop_generic(
    shard: &mut ShardCtx<'_>,
    argv: &[Bytes],
    numkeys_at: usize,
    timeout: Option<&[u8]>,
) -> CmdResult {
    let numkeys = argv
        .get(numkeys_at)
        .and_then(|arg| parse_integer(arg).ok())
        .filter(|&count| count > 0)
        .ok_or_else(|| CommandError::other("ERR numkeys should be greater than 0"))?;
    let where_at = usize::try_from(numkeys)
        .ok()
        .and_then(|count| count.checked_add(numkeys_at + 1))
        .filter(|&at| at < argv.len())
        .ok_or(CommandError::Syntax)?;
    let highest = match &argv[where_at] {
        arg if is_keyword(arg, "min") => false,
        arg if is_keyword(arg, "max") => true,
        _ => return Err(CommandError::Syntax),
    };
    let mut count = None;
    let mut options = argv[where_at + 1..].iter();
    while let Some(option) = options.next() {
        let value = options.next();
        match value {
            Some(value) if count.is_none() && is_keyword(option, "count") => {
                let parsed = parse_integer(value)
                    .ok()
                    .filter(|&count| count > 0)
                    .ok_or_else(|| CommandError::other("ERR count should be greater than 0"))?;
                count = Some(parsed as usize);
            }
            _ => return Err(CommandError::Syntax),
        }
    }
    if let Some(timeout) = timeout {
        parse_timeout(timeout)?;
    }
    for key in &argv[numkeys_at + 1..where_at] {
        let has_members = shard
            .write_collection::<SortedSet>(key)?
            .is_some_and(|set| !set.is_empty());
        if has_members {
            let popped = pop_elements(shard, key, highest, count.unwrap_or(1))?;
            let elements = popped
                .into_iter()
                .map(|element| {
                    Reply::Array(vec![
                        Reply::bulk(element.member.as_slice()),
                        Reply::Double(element.score),
                    ])
                })
                .collect();
            return Ok(Reply::Array(vec![
                Reply::Bulk(key.clone()),
                Reply::Array(elements),
            ]));
        }
    }
    Ok(Reply::NilArray)
}

/// BZPOPMIN key [key ...] timeout
///
/// O(log n). `[key, member, score]` from the first non-empty key; blocks otherwise.
pub(super) fn bzpopmin(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    blocking_pop_generic(shard, args, false)
}

/// BZPOPMAX key [key ...] timeout
///
/// O(log n). `[key, member, score]` from the first non-empty key; blocks otherwise.
pub(super) fn bzpopmax(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    blocking_pop_generic(shard, args, true)
}

fn blocking_pop_generic(
    shard: &mut ShardCtx<'_>,
    args: &mut ArgReader<'_>,
    highest: bool,
) -> CmdResult {
    let rest = args.rest();
    let (timeout, keys) = rest.split_last().ok_or(CommandError::Syntax)?;
    parse_timeout(timeout)?;
    for key in keys {
        if let Some(element) = pop_elements(shard, key, highest, 1)?.pop() {
            return Ok(Reply::Array(vec![
                Reply::Bulk(key.clone()),
                Reply::bulk(element.member.as_slice()),
                Reply::Double(element.score),
            ]));
        }
    }
    Ok(Reply::NilArray)
}
