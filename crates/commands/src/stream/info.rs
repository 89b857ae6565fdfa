//! XINFO STREAM [FULL [COUNT n]] | GROUPS | CONSUMERS | HELP, in Redis 7.2's form.

use super::groups::{no_such_group, subcommand_syntax};
use super::{entry_reply, id_reply};
use crate::args::{is_keyword, parse_integer};
use crate::spec::{check_subcommand, Arity::*, Subcommand};
use crate::spec::{Flag, KeySpec};
use crate::{ArgReader, CmdResult, CommandError, ShardCtx};
use peregrine_keyspace::collections::stream::{Consumer, ConsumerGroup, Stream, StreamId};
use peregrine_resp::Reply;

/// XINFO's subcommands.
#[rustfmt::skip]
pub const XINFO_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "consumers", full_name: "xinfo|consumers", arity: Exactly(4), flags: &[Flag::ReadOnly], keys: KeySpec { first: 2, last: 2, step: 1, find: None } },
    Subcommand { name: "groups",    full_name: "xinfo|groups", arity: Exactly(3), flags: &[Flag::ReadOnly], keys: KeySpec { first: 2, last: 2, step: 1, find: None } },
    Subcommand { name: "stream",    full_name: "xinfo|stream", arity: AtLeast(3), flags: &[Flag::ReadOnly], keys: KeySpec { first: 2, last: 2, step: 1, find: None } },
    Subcommand { name: "help",      full_name: "xinfo|help", arity: Exactly(2), flags: &[Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
];

const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

/// A map field name.
fn name(text: &'static str) -> Reply {
    Reply::bulk(text)
}

/// An optional counter: nil when unknown.
fn optional(value: Option<i64>) -> Reply {
    value.map_or(Reply::Nil, Reply::Integer)
}

/// XINFO CONSUMERS key group | GROUPS key | STREAM key [FULL [COUNT count]] | HELP
pub(super) fn xinfo(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let argv = args.argv();
    let subcommand = check_subcommand("xinfo", XINFO_SUBCOMMANDS, argv)?.name;
    if subcommand == "help" {
        return Ok(Reply::help(XINFO_HELP));
    }
    let key = &argv[2][..];
    let now = shard.now;
    let Some(stream) = shard.read_collection::<Stream>(key)? else {
        return Err(CommandError::NoSuchKey);
    };
    match subcommand {
        "consumers" => {
            let group = &argv[3][..];
            let state = stream
                .groups()
                .get(group)
                .ok_or_else(|| no_such_group(group, key))?;
            Ok(Reply::Array(
                state
                    .consumers
                    .iter()
                    .map(|(consumer_name, consumer)| consumer_summary(consumer_name, consumer, now))
                    .collect(),
            ))
        }
        "groups" => Ok(Reply::Array(
            stream
                .groups()
                .iter()
                .map(|(group_name, group)| group_summary(stream, group_name, group))
                .collect(),
        )),
        _ => {
            let options = &argv[3..];
            let count = match options.len() {
                0 => return Ok(stream_summary(stream)),
                1 | 3 if is_keyword(&options[0], "full") => {
                    if options.len() == 3 {
                        if !is_keyword(&options[1], "count") {
                            return Err(subcommand_syntax(argv, "XINFO"));
                        }
                        let count = parse_integer(&options[2])?;
                        if count < 0 {
                            10
                        } else {
                            count as usize
                        }
                    } else {
                        10
                    }
                }
                _ => return Err(subcommand_syntax(argv, "XINFO")),
            };
            Ok(stream_full(stream, count))
        }
    }
}

/// The fields XINFO STREAM gives in both forms, first.
fn stream_header(stream: &Stream) -> Vec<(Reply, Reply)> {
    vec![
        (name("length"), Reply::Integer(stream.len() as i64)),
        (
            name("radix-tree-keys"),
            Reply::Integer(stream.node_count() as i64),
        ),
        (
            name("radix-tree-nodes"),
            Reply::Integer(stream.radix_tree_nodes() as i64),
        ),
        (name("last-generated-id"), id_reply(stream.last_id())),
        (
            name("max-deleted-entry-id"),
            id_reply(stream.max_deleted_id()),
        ),
        (
            name("entries-added"),
            Reply::Integer(stream.entries_added() as i64),
        ),
        (name("recorded-first-entry-id"), id_reply(stream.first_id())),
    ]
}

/// XINFO STREAM key.
fn stream_summary(stream: &Stream) -> Reply {
    let mut fields = stream_header(stream);
    let edge = |reverse: bool| {
        stream
            .range(StreamId::MIN, StreamId::MAX, reverse)
            .next()
            .map_or(Reply::Nil, |entry| entry_reply(&entry))
    };
    fields.push((name("groups"), Reply::Integer(stream.groups().len() as i64)));
    fields.push((name("first-entry"), edge(false)));
    fields.push((name("last-entry"), edge(true)));
    Reply::Map(fields)
}

/// XINFO STREAM key FULL [COUNT count] (0: everything).
fn stream_full(stream: &Stream, count: usize) -> Reply {
    let limit = if count == 0 { usize::MAX } else { count };
    let mut fields = stream_header(stream);
    fields.push((
        name("entries"),
        Reply::Array(
            stream
                .range(StreamId::MIN, StreamId::MAX, false)
                .take(limit)
                .map(|entry| entry_reply(&entry))
                .collect(),
        ),
    ));
    let groups = stream
        .groups()
        .iter()
        .map(|(group_name, group)| group_full(stream, group_name, group, limit))
        .collect();
    fields.push((name("groups"), Reply::Array(groups)));
    Reply::Map(fields)
}

/// One group of XINFO STREAM FULL: its position and counters, up to `limit` pending
/// entries (`[id, consumer, delivery time, deliveries]`) and its consumers.
fn group_full(stream: &Stream, group_name: &[u8], group: &ConsumerGroup, limit: usize) -> Reply {
    let pending = group
        .pending
        .iter()
        .take(limit)
        .map(|(&id, entry)| {
            Reply::Array(vec![
                id_reply(id),
                Reply::bulk(&entry.consumer),
                Reply::Integer(entry.delivery_time as i64),
                Reply::Integer(entry.delivery_count as i64),
            ])
        })
        .collect();
    let consumers = group
        .consumers
        .iter()
        .map(|(consumer_name, consumer)| consumer_full(group, consumer_name, consumer, limit))
        .collect();
    let [entries_read, lag] = read_counters(stream, group);
    Reply::Map(vec![
        (name("name"), Reply::bulk(group_name)),
        (name("last-delivered-id"), id_reply(group.last_id)),
        entries_read,
        lag,
        (
            name("pel-count"),
            Reply::Integer(group.pending.len() as i64),
        ),
        (name("pending"), Reply::Array(pending)),
        (name("consumers"), Reply::Array(consumers)),
    ])
}

/// One consumer of XINFO STREAM FULL: its times and up to `limit` of its pending
/// entries (`[id, delivery time, deliveries]`).
fn consumer_full(
    group: &ConsumerGroup,
    consumer_name: &[u8],
    consumer: &Consumer,
    limit: usize,
) -> Reply {
    let pending = consumer
        .pending
        .iter()
        .take(limit)
        .filter_map(|id| group.pending.get(id).map(|entry| (id, entry)))
        .map(|(&id, entry)| {
            Reply::Array(vec![
                id_reply(id),
                Reply::Integer(entry.delivery_time as i64),
                Reply::Integer(entry.delivery_count as i64),
            ])
        })
        .collect();
    Reply::Map(vec![
        (name("name"), Reply::bulk(consumer_name)),
        (name("seen-time"), Reply::Integer(consumer.seen_time as i64)),
        (
            name("active-time"),
            Reply::Integer(consumer.active_time.map_or(-1, |time| time as i64)),
        ),
        (
            name("pel-count"),
            Reply::Integer(consumer.pending.len() as i64),
        ),
        (name("pending"), Reply::Array(pending)),
    ])
}

/// A group's `entries-read` and `lag` fields (nil when unknown), as XINFO GROUPS and
/// STREAM FULL give them.
fn read_counters(stream: &Stream, group: &ConsumerGroup) -> [(Reply, Reply); 2] {
    [
        (
            name("entries-read"),
            optional(group.entries_read.map(|read| read as i64)),
        ),
        (name("lag"), optional(stream.group_lag(group))),
    ]
}

/// One group of XINFO GROUPS.
fn group_summary(stream: &Stream, group_name: &[u8], group: &ConsumerGroup) -> Reply {
    let [entries_read, lag] = read_counters(stream, group);
    Reply::Map(vec![
        (name("name"), Reply::bulk(group_name)),
        (
            name("consumers"),
            Reply::Integer(group.consumers.len() as i64),
        ),
        (name("pending"), Reply::Integer(group.pending.len() as i64)),
        (name("last-delivered-id"), id_reply(group.last_id)),
        entries_read,
        lag,
    ])
}

/// One consumer of XINFO CONSUMERS: its name, pending count, idle time (since it was
/// last seen) and inactive time (since it last read or claimed; -1 if never).
fn consumer_summary(consumer_name: &[u8], consumer: &Consumer, now: u64) -> Reply {
    let since = |time: u64| (now as i64 - time as i64).max(0);
    Reply::Map(vec![
        (name("name"), Reply::bulk(consumer_name)),
        (
            name("pending"),
            Reply::Integer(consumer.pending.len() as i64),
        ),
        (name("idle"), Reply::Integer(since(consumer.seen_time))),
        (
            name("inactive"),
            Reply::Integer(consumer.active_time.map_or(-1, since)),
        ),
    ])
}
