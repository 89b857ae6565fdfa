//! Consumer groups: XGROUP (CREATE SETID DESTROY CREATECONSUMER DELCONSUMER HELP), XACK,
//! XPENDING, XCLAIM and XAUTOCLAIM.

use super::{count_applied, entry_reply, id_reply, parse_bound, parse_id, parse_strict_id};
use crate::args::{is_keyword, parse_integer};
use crate::spec::{check_subcommand, Arity::*, Subcommand};
use crate::spec::{Flag, KeySpec};
use crate::{ArgReader, CmdResult, CommandError, EventClass, ShardCtx};
use bytes::Bytes;
use peregrine_keyspace::collections::stream::{
    ConsumerGroup, DeliveryCount, PendingEntry, Stream, StreamId,
};
use peregrine_resp::Reply;

/// XGROUP's subcommands.
#[rustfmt::skip]
pub const XGROUP_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "create",         full_name: "xgroup|create", arity: AtLeast(5), flags: &[Flag::Write, Flag::DenyOom], keys: KeySpec { first: 2, last: 2, step: 1, find: None } },
    Subcommand { name: "setid",          full_name: "xgroup|setid", arity: AtLeast(5), flags: &[Flag::Write], keys: KeySpec { first: 2, last: 2, step: 1, find: None } },
    Subcommand { name: "destroy",        full_name: "xgroup|destroy", arity: Exactly(4), flags: &[Flag::Write], keys: KeySpec { first: 2, last: 2, step: 1, find: None } },
    Subcommand { name: "createconsumer", full_name: "xgroup|createconsumer", arity: Exactly(5), flags: &[Flag::Write, Flag::DenyOom], keys: KeySpec { first: 2, last: 2, step: 1, find: None } },
    Subcommand { name: "delconsumer",    full_name: "xgroup|delconsumer", arity: Exactly(5), flags: &[Flag::Write], keys: KeySpec { first: 2, last: 2, step: 1, find: None } },
    Subcommand { name: "help",           full_name: "xgroup|help", arity: Exactly(2), flags: &[Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
];

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

/// Redis's `addReplySubcommandSyntaxError` for container `container`.
pub(super) fn subcommand_syntax(argv: &[Bytes], container: &str) -> CommandError {
    let name = &argv[1][..argv[1].len().min(128)];
    let tail = format!("'. Try {container} HELP.");
    CommandError::naming(&[
        b"ERR unknown subcommand or wrong number of arguments for '",
        name,
        tail.as_bytes(),
    ])
}

/// A NOGROUP error naming the group and key, as XGROUP and XINFO word it.
pub(super) fn no_such_group(group: &[u8], key: &[u8]) -> CommandError {
    CommandError::naming(&[
        b"NOGROUP No such consumer group '",
        group,
        b"' for key name '",
        key,
        b"'",
    ])
}

/// The NOGROUP error of XPENDING, XCLAIM and XAUTOCLAIM.
fn no_such_key_or_group(key: &[u8], group: &[u8]) -> CommandError {
    CommandError::naming(&[
        b"NOGROUP No such key '",
        key,
        b"' or consumer group '",
        group,
        b"'",
    ])
}

/// ENTRIESREAD's value: a counter, or -1 for "unknown".
fn parse_entries_read(arg: &[u8]) -> Result<Option<u64>, CommandError> {
    match parse_integer(arg)? {
        -1 => Ok(None),
        value if value < 0 => Err(CommandError::other(
            "ERR value for ENTRIESREAD must be positive or -1",
        )),
        value => Ok(Some(value as u64)),
    }
}

/// XGROUP CREATE and SETID's options: MKSTREAM (CREATE only) and ENTRIESREAD.
#[derive(Default)]
struct GroupOptions {
    mkstream: bool,
    entries_read: Option<u64>,
}

impl GroupOptions {
    /// Parses the options after XGROUP `subcommand`'s ID (none for the others).
    fn parse(argv: &[Bytes], subcommand: &str) -> Result<GroupOptions, CommandError> {
        let mut options = GroupOptions::default();
        if subcommand != "create" && subcommand != "setid" {
            return Ok(options);
        }
        let mut at = 5;
        while let Some(arg) = argv.get(at) {
            if subcommand == "create" && is_keyword(arg, "mkstream") {
                options.mkstream = true;
                at += 1;
            } else if let (true, Some(value)) = (is_keyword(arg, "entriesread"), argv.get(at + 1)) {
                options.entries_read = parse_entries_read(value)?;
                at += 2;
            } else {
                return Err(subcommand_syntax(argv, "XGROUP"));
            }
        }
        Ok(options)
    }
}

/// XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD n] | SETID key group id|$
/// [ENTRIESREAD n] | DESTROY key group | CREATECONSUMER key group consumer | DELCONSUMER
/// key group consumer | HELP
///
/// O(1) but DELCONSUMER, O(pending of the consumer). Checks, in Redis's order: the
/// options, the key (unless MKSTREAM), the group (but for CREATE and DESTROY), then the
/// subcommand's own arguments.
pub(super) fn xgroup(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let argv = args.argv();
    let subcommand = check_subcommand("xgroup", XGROUP_SUBCOMMANDS, argv)?.name;
    if subcommand == "help" {
        return Ok(Reply::help(XGROUP_HELP));
    }
    let (key, group) = (&argv[2], &argv[3][..]);
    let options = GroupOptions::parse(argv, subcommand)?;
    let stream = shard.write_collection::<Stream>(key)?;
    if stream.is_none() && !options.mkstream {
        return Err(CommandError::other(
            "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
        ));
    }
    let has_group = stream.is_some_and(|stream| stream.groups().contains_key(group));
    if !has_group && matches!(subcommand, "setid" | "createconsumer" | "delconsumer") {
        return Err(no_such_group(group, key));
    }
    match subcommand {
        "create" if argv.len() <= 8 => xgroup_create(shard, key, group, &argv[4], options),
        "setid" if argv.len() == 5 || argv.len() == 7 => {
            xgroup_setid(shard, key, group, &argv[4], options.entries_read)
        }
        "destroy" => xgroup_destroy(shard, key, group),
        "createconsumer" => {
            xgroup_consumer_change(shard, key, group, "xgroup-createconsumer", |state, now| {
                let (_, created) = state.consumer_or_create(&argv[4], now);
                created.then_some(1)
            })
        }
        "delconsumer" => {
            xgroup_consumer_change(shard, key, group, "xgroup-delconsumer", |state, _| {
                state
                    .delete_consumer(&argv[4])
                    .map(|pending| pending as i64)
            })
        }
        _ => Err(subcommand_syntax(argv, "XGROUP")),
    }
}

/// XGROUP CREATE once checked: creates the stream with MKSTREAM, then the group.
fn xgroup_create(
    shard: &mut ShardCtx<'_>,
    key: &Bytes,
    group: &[u8],
    id: &[u8],
    options: GroupOptions,
) -> CmdResult {
    let id = match id {
        b"$" => shard
            .write_collection::<Stream>(key)?
            .map_or(StreamId::MIN, |stream| stream.last_id()),
        other => parse_strict_id(other, 0)?,
    };
    let stream = shard.collection_or_create(key, Stream::new)?;
    if stream.groups().contains_key(group) {
        return Err(CommandError::other(
            "BUSYGROUP Consumer Group name already exists",
        ));
    }
    stream
        .groups_mut()
        .insert(group.into(), ConsumerGroup::new(id, options.entries_read));
    shard.mark_dirty(1);
    shard.notify(EventClass::Stream, "xgroup-create", key);
    Ok(Reply::Ok)
}

/// The stream at `key` and its group `group`, or NOGROUP.
fn existing_group<'a>(
    shard: &'a mut ShardCtx<'_>,
    key: &[u8],
    group: &[u8],
) -> Result<(StreamId, &'a mut ConsumerGroup), CommandError> {
    shard
        .write_collection::<Stream>(key)?
        .and_then(|stream| {
            let last_id = stream.last_id();
            stream
                .groups_mut()
                .get_mut(group)
                .map(|state| (last_id, state))
        })
        .ok_or_else(|| no_such_group(group, key))
}

/// XGROUP SETID once checked: moves the group's last delivered ID and read counter.
fn xgroup_setid(
    shard: &mut ShardCtx<'_>,
    key: &Bytes,
    group: &[u8],
    id: &[u8],
    entries_read: Option<u64>,
) -> CmdResult {
    let (last_id, state) = existing_group(shard, key, group)?;
    state.last_id = match id {
        b"$" => last_id,
        other => parse_id(other, 0)?,
    };
    state.entries_read = entries_read;
    shard.mark_dirty(1);
    shard.notify(EventClass::Stream, "xgroup-setid", key);
    Ok(Reply::Ok)
}

/// XGROUP DESTROY once checked: 1 when the group existed.
fn xgroup_destroy(shard: &mut ShardCtx<'_>, key: &Bytes, group: &[u8]) -> CmdResult {
    let removed = shard
        .write_collection::<Stream>(key)?
        .is_some_and(|stream| stream.groups_mut().remove(group).is_some());
    if !removed {
        shard.record_nothing();
        return Ok(Reply::Integer(0));
    }
    shard.mark_dirty(1);
    shard.notify(EventClass::Stream, "xgroup-destroy", key);
    Ok(Reply::Integer(1))
}

/// XGROUP CREATECONSUMER and DELCONSUMER once checked: `change` alters the group at a
/// time and says what to reply (`None`: it changed nothing, reply 0); a change is
/// announced as `event`.
fn xgroup_consumer_change(
    shard: &mut ShardCtx<'_>,
    key: &Bytes,
    group: &[u8],
    event: &'static str,
    change: impl FnOnce(&mut ConsumerGroup, u64) -> Option<i64>,
) -> CmdResult {
    let now = shard.now;
    let (_, state) = existing_group(shard, key, group)?;
    let Some(reply) = change(state, now) else {
        shard.record_nothing();
        return Ok(Reply::Integer(0));
    };
    shard.mark_dirty(1);
    shard.notify(EventClass::Stream, event, key);
    Ok(Reply::Integer(reply))
}

/// XACK key group id [id ...]
///
/// O(log N) per ID. Integer reply: how many were pending and are now acknowledged.
pub(super) fn xack(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let group = args.required()?;
    let rest = args.rest();
    let Some(stream) = shard.write_collection::<Stream>(key)? else {
        shard.record_nothing();
        return Ok(Reply::Integer(0));
    };
    let Some(state) = stream.groups_mut().get_mut(group) else {
        shard.record_nothing();
        return Ok(Reply::Integer(0));
    };
    let acknowledged = count_applied(rest, |id| state.acknowledge(id))?;
    if acknowledged == 0 {
        shard.record_nothing();
    } else {
        shard.mark_dirty(acknowledged as u64);
    }
    Ok(Reply::Integer(acknowledged as i64))
}

/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
///
/// Summary form: the count, smallest and greatest pending IDs and the count per consumer.
/// Extended form: up to `count` pending entries in the range with their consumer, idle
/// time and delivery count.
pub(super) fn xpending(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let argv = args.argv();
    let argc = argv.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(CommandError::Syntax);
    }
    let mut range = None;
    let mut consumer = None;
    let mut min_idle = 0i64;
    if argc >= 6 {
        let mut at = 3;
        if is_keyword(&argv[3], "idle") {
            min_idle = parse_integer(&argv[4])?;
            if argc < 8 {
                return Err(CommandError::Syntax);
            }
            at = 5;
        }
        let count = parse_integer(&argv[at + 2])?.max(0) as usize;
        let start = parse_bound(&argv[at], true)?;
        let end = parse_bound(&argv[at + 1], false)?;
        consumer = argv.get(at + 3).map(|name| &name[..]);
        range = Some((start, end, count));
    }
    let (key, group) = (&argv[1][..], &argv[2][..]);
    let now = shard.now;
    let stream = shard.read_collection::<Stream>(key)?;
    let Some(state) = stream.and_then(|stream| stream.groups().get(group)) else {
        return Err(no_such_key_or_group(key, group));
    };
    let Some((start, end, count)) = range else {
        return Ok(pending_summary(state));
    };
    let ids: Box<dyn Iterator<Item = (&StreamId, &PendingEntry)>> = match consumer {
        Some(name) => match state.consumers.get(name) {
            None => return Ok(Reply::Array(Vec::new())),
            Some(owner) => Box::new(
                owner
                    .pending
                    .range(start..)
                    .filter_map(|id| state.pending.get_key_value(id)),
            ),
        },
        None => Box::new(state.pending.range(start..)),
    };
    let replies = ids
        .take_while(|(&id, _)| id <= end)
        .filter(|(_, entry)| min_idle == 0 || idle(now, entry.delivery_time) >= min_idle)
        .take(count)
        .map(|(&id, entry)| {
            Reply::Array(vec![
                id_reply(id),
                Reply::bulk(&entry.consumer),
                Reply::Integer(idle(now, entry.delivery_time).max(0)),
                Reply::Integer(entry.delivery_count as i64),
            ])
        })
        .collect();
    Ok(Reply::Array(replies))
}

/// Milliseconds since `time`.
fn idle(now: u64, time: u64) -> i64 {
    now as i64 - time as i64
}

/// XPENDING's summary form.
fn pending_summary(group: &ConsumerGroup) -> Reply {
    let (Some((first, _)), Some((last, _))) = (
        group.pending.first_key_value(),
        group.pending.last_key_value(),
    ) else {
        return Reply::Array(vec![
            Reply::Integer(0),
            Reply::Nil,
            Reply::Nil,
            Reply::NilArray,
        ]);
    };
    let consumers = group
        .consumers
        .iter()
        .filter(|(_, consumer)| !consumer.pending.is_empty())
        .map(|(name, consumer)| {
            Reply::Array(vec![
                Reply::bulk(name),
                Reply::bulk(consumer.pending.len().to_string()),
            ])
        })
        .collect();
    Reply::Array(vec![
        Reply::Integer(group.pending.len() as i64),
        id_reply(*first),
        id_reply(*last),
        Reply::Array(consumers),
    ])
}

/// XCLAIM's options after the IDs.
struct ClaimOptions {
    delivery_time: Option<i64>,
    retry_count: Option<i64>,
    force: bool,
    just_id: bool,
    last_id: StreamId,
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-ms]
/// [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID id]
///
/// O(log N) per ID. Array reply: the entries (or IDs with JUSTID) now owned by
/// `consumer`; pending entries deleted from the stream are dropped from the PEL.
pub(super) fn xclaim(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let argv = args.argv();
    let (key, group, consumer) = (&argv[1][..], &argv[2][..], &argv[3][..]);
    let has_group = shard
        .read_collection::<Stream>(key)?
        .is_some_and(|stream| stream.groups().contains_key(group));
    if !has_group {
        return Err(no_such_key_or_group(key, group));
    }
    let min_idle = parse_integer(&argv[4])
        .map_err(|_| CommandError::other("ERR Invalid min-idle-time argument for XCLAIM"))?
        .max(0);
    let mut ids = Vec::new();
    let mut at = 5;
    while at < argv.len() {
        match StreamId::parse(&argv[at], 0) {
            Some(id) => ids.push(id),
            None => break,
        }
        at += 1;
    }
    let now = shard.now as i64;
    let mut options = ClaimOptions {
        delivery_time: None,
        retry_count: None,
        force: false,
        just_id: false,
        last_id: StreamId::MIN,
    };
    while at < argv.len() {
        let option = &argv[at][..];
        let more = at + 1 < argv.len();
        let number = |name: &str| {
            parse_integer(&argv[at + 1]).map_err(|_| {
                CommandError::other(format!("ERR Invalid {name} option argument for XCLAIM"))
            })
        };
        if is_keyword(option, "force") {
            options.force = true;
        } else if is_keyword(option, "justid") {
            options.just_id = true;
        } else if is_keyword(option, "idle") && more {
            // Saturating: IDLE -9223372036854775808 must not overflow (the time is then
            // out of range and becomes now, as in Redis).
            options.delivery_time = Some(now.saturating_sub(number("IDLE")?));
            at += 1;
        } else if is_keyword(option, "time") && more {
            options.delivery_time = Some(number("TIME")?);
            at += 1;
        } else if is_keyword(option, "retrycount") && more {
            options.retry_count = Some(number("RETRYCOUNT")?);
            at += 1;
        } else if is_keyword(option, "lastid") && more {
            options.last_id = parse_strict_id(&argv[at + 1], 0)?;
            at += 1;
        } else {
            return Err(CommandError::naming(&[
                b"ERR Unrecognized XCLAIM option '",
                option,
                b"'",
            ]));
        }
        at += 1;
    }
    let delivery_time = match options.delivery_time {
        Some(time) if (0..=now).contains(&time) => time as u64,
        _ => now as u64,
    };
    let count = match options.retry_count {
        Some(retries) if retries >= 0 => DeliveryCount::Set(retries as u64),
        _ if options.just_id => DeliveryCount::Keep,
        _ => DeliveryCount::Increment,
    };
    let outcome = shard.write_collection::<Stream>(key)?.and_then(|stream| {
        stream.with_group(group, |stream, state| {
            if options.last_id > state.last_id {
                state.last_id = options.last_id;
            }
            let mut replies = Vec::new();
            let mut created = false;
            for id in ids {
                let entry = stream.get(id);
                if entry.is_none() {
                    // The message is gone: its pending entry goes too.
                    state.acknowledge(id);
                    continue;
                }
                match state.pending.get(&id) {
                    None if !options.force => continue,
                    None => {
                        // FORCE creates the entry (min-idle-time does not apply to it).
                        let fresh = PendingEntry {
                            consumer: consumer.into(),
                            delivery_time: now as u64,
                            delivery_count: 1,
                        };
                        state.pending.insert(id, fresh);
                    }
                    Some(existing) => {
                        if min_idle > 0 && idle(now as u64, existing.delivery_time) < min_idle {
                            continue;
                        }
                    }
                }
                created |= state.claim(id, consumer, now as u64, delivery_time, count);
                replies.push(match &entry {
                    Some(entry) if !options.just_id => entry_reply(entry),
                    _ => id_reply(id),
                });
            }
            (replies, created)
        })
    });
    let Some((replies, created)) = outcome else {
        return Err(no_such_key_or_group(key, group));
    };
    if created {
        shard.notify(EventClass::Stream, "xgroup-createconsumer", key);
    }
    shard.mark_dirty(1);
    Ok(Reply::Array(replies))
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
///
/// O(count). Reply: the cursor to continue from (`0-0` at the end), the claimed entries
/// (or IDs with JUSTID), and the pending IDs found deleted from the stream (dropped).
pub(super) fn xautoclaim(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let argv = args.argv();
    let (key, group, consumer) = (&argv[1][..], &argv[2][..], &argv[3][..]);
    let request = AutoClaimRequest::parse(argv)?;
    let now = shard.now;
    let outcome = shard.write_collection::<Stream>(key)?.and_then(|stream| {
        stream.with_group(group, |stream, state| {
            autoclaim(stream, state, consumer, &request, now)
        })
    });
    let Some(outcome) = outcome else {
        return Err(no_such_key_or_group(key, group));
    };
    if outcome.created {
        shard.notify(EventClass::Stream, "xgroup-createconsumer", key);
    }
    shard.mark_dirty(1);
    Ok(Reply::Array(vec![
        id_reply(outcome.cursor),
        Reply::Array(outcome.claimed),
        Reply::Array(outcome.deleted),
    ]))
}

/// XAUTOCLAIM's arguments after the consumer.
struct AutoClaimRequest {
    min_idle: i64,
    start: StreamId,
    count: i64,
    just_id: bool,
}

impl AutoClaimRequest {
    /// Parses `min-idle-time start [COUNT count] [JUSTID]` with Redis's errors.
    fn parse(argv: &[Bytes]) -> Result<AutoClaimRequest, CommandError> {
        let min_idle = parse_integer(&argv[4])
            .map_err(|_| CommandError::other("ERR Invalid min-idle-time argument for XAUTOCLAIM"))?
            .max(0);
        let start = parse_bound(&argv[5], true)?;
        let mut request = AutoClaimRequest {
            min_idle,
            start,
            count: 100,
            just_id: false,
        };
        let mut at = 6;
        while at < argv.len() {
            if is_keyword(&argv[at], "count") && at + 1 < argv.len() {
                request.count = parse_integer(&argv[at + 1])
                    .ok()
                    // Redis caps COUNT so that COUNT x 16 bytes of deleted IDs cannot
                    // overflow.
                    .filter(|&count| (1..=i64::MAX / 16).contains(&count))
                    .ok_or_else(|| CommandError::other("ERR COUNT must be > 0"))?;
                at += 2;
            } else if is_keyword(&argv[at], "justid") {
                request.just_id = true;
                at += 1;
            } else {
                return Err(CommandError::Syntax);
            }
        }
        Ok(request)
    }
}

/// What one XAUTOCLAIM did.
struct AutoClaimed {
    /// Where the next call should start (`0-0`: the PEL was scanned to its end).
    cursor: StreamId,
    claimed: Vec<Reply>,
    /// Pending IDs whose message was gone (dropped from the PEL).
    deleted: Vec<Reply>,
    /// Whether the consumer was created.
    created: bool,
}

/// Walks `state`'s PEL from the request's start as Redis does: at most COUNT x 10
/// entries looked at, COUNT claimed or found deleted; idle ones go to `consumer`.
fn autoclaim(
    stream: &Stream,
    state: &mut ConsumerGroup,
    consumer: &[u8],
    request: &AutoClaimRequest,
    now: u64,
) -> AutoClaimed {
    let first_pending = |state: &ConsumerGroup, from: StreamId| {
        state.pending.range(from..).next().map(|(&id, _)| id)
    };
    let count_change = if request.just_id {
        DeliveryCount::Keep
    } else {
        DeliveryCount::Increment
    };
    let mut outcome = AutoClaimed {
        cursor: StreamId::MIN,
        claimed: Vec::new(),
        deleted: Vec::new(),
        created: false,
    };
    let (mut attempts, mut count) = (request.count * 10, request.count);
    // The next ID to look from; `None` once the PEL is exhausted.
    let mut next_from = Some(request.start);
    while attempts > 0 && count > 0 {
        attempts -= 1;
        let Some(id) = next_from.and_then(|from| first_pending(state, from)) else {
            next_from = None;
            break;
        };
        next_from = id.successor();
        let Some(entry) = stream.get(id) else {
            state.acknowledge(id);
            outcome.deleted.push(id_reply(id));
            count -= 1;
            continue;
        };
        let delivery_time = state
            .pending
            .get(&id)
            .map_or(now, |entry| entry.delivery_time);
        if request.min_idle > 0 && idle(now, delivery_time) < request.min_idle {
            continue;
        }
        outcome.created |= state.claim(id, consumer, now, now, count_change);
        outcome.claimed.push(if request.just_id {
            id_reply(id)
        } else {
            entry_reply(&entry)
        });
        count -= 1;
    }
    outcome.cursor = next_from
        .and_then(|from| first_pending(state, from))
        .unwrap_or(StreamId::MIN);
    outcome
}
