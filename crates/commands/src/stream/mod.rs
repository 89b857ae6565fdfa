//! Streams: XADD XLEN XRANGE XREVRANGE XDEL XTRIM XSETID, the reads XREAD and
//! XREADGROUP ([`read`]), consumer groups XGROUP XACK XPENDING XCLAIM XAUTOCLAIM
//! ([`groups`]) and XINFO ([`info`]).
//!
//! The structure is `peregrine_keyspace::collections::stream`. Arguments are checked in
//! Redis 7's order with its error texts, so which error wins matches. What is not a
//! function of a command's arguments, the data and the time is journalled as its effect:
//! XADD with a generated ID as the XADD of that ID, an approximate trim as the exact trim
//! that removes the same entries. XREAD and XREADGROUP with BLOCK are blocking commands
//! (see [`crate::blocking`]): the server parks the client and re-runs the handler when a
//! stream key is written.

pub mod groups;
pub mod info;
pub mod read;
mod rebuild;
#[cfg(test)]
mod tests;

pub use rebuild::rebuild_stream;

use crate::args::{is_keyword, parse_integer};
use crate::spec::{keyed, scratch, Arity::*, CommandSpec, Flag::*, Group, KeySpec};
use crate::{ArgReader, CmdResult, CommandError, EventClass, ShardCtx};
use bytes::Bytes;
use peregrine_keyspace::collections::stream::{Entry, Stream, StreamId, Trim, TrimStrategy};
use peregrine_resp::Reply;

/// The key of XGROUP and XINFO: the argument after the subcommand.
const SECOND_ARGUMENT: KeySpec = KeySpec {
    first: 2,
    last: 2,
    step: 1,
    find: None,
};
/// XREAD and XREADGROUP: the keys after STREAMS.
const READ_KEYS: KeySpec = KeySpec::movable(0, 0, 0, read::read_keys);

/// The stream family's table.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec { name: "xadd",       arity: AtLeast(5), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(xadd), group: Group::Stream, summary: "Appends a new message to a stream. Creates the key if it doesn't exist." },
    CommandSpec { name: "xlen",       arity: Exactly(2), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(xlen), group: Group::Stream, summary: "Return the number of messages in a stream." },
    CommandSpec { name: "xrange",     arity: AtLeast(4), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(xrange), group: Group::Stream, summary: "Returns the messages from a stream within a range of IDs." },
    CommandSpec { name: "xrevrange",  arity: AtLeast(4), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(xrevrange), group: Group::Stream, summary: "Returns the messages from a stream within a range of IDs in reverse order." },
    CommandSpec { name: "xdel",       arity: AtLeast(3), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(xdel), group: Group::Stream, summary: "Returns the number of messages after removing them from a stream." },
    CommandSpec { name: "xtrim",      arity: AtLeast(4), flags: &[Write], keys: KeySpec::FIRST, exec: keyed(xtrim), group: Group::Stream, summary: "Deletes messages from the beginning of a stream." },
    CommandSpec { name: "xsetid",     arity: AtLeast(3), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(xsetid), group: Group::Stream, summary: "An internal command for replicating stream values." },
    CommandSpec { name: "xread",      arity: AtLeast(4), flags: &[ReadOnly, Blocking], keys: READ_KEYS, exec: scratch(read::xread), group: Group::Stream, summary: "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise." },
    CommandSpec { name: "xreadgroup", arity: AtLeast(7), flags: &[Write, Blocking], keys: READ_KEYS, exec: scratch(read::xreadgroup), group: Group::Stream, summary: "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise." },
    CommandSpec { name: "xgroup",     arity: AtLeast(2), flags: &[Write], keys: SECOND_ARGUMENT, exec: keyed(groups::xgroup), group: Group::Stream, summary: "A container for consumer groups commands." },
    CommandSpec { name: "xack",       arity: AtLeast(4), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(groups::xack), group: Group::Stream, summary: "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream." },
    CommandSpec { name: "xpending",   arity: AtLeast(3), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(groups::xpending), group: Group::Stream, summary: "Returns the information and entries from a stream consumer group's pending entries list." },
    CommandSpec { name: "xclaim",     arity: AtLeast(6), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(groups::xclaim), group: Group::Stream, summary: "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member." },
    CommandSpec { name: "xautoclaim", arity: AtLeast(6), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(groups::xautoclaim), group: Group::Stream, summary: "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member." },
    CommandSpec { name: "xinfo",      arity: AtLeast(2), flags: &[ReadOnly], keys: SECOND_ARGUMENT, exec: keyed(info::xinfo), group: Group::Stream, summary: "A container for stream introspection commands." },
];

/// Redis's error for an ID that does not parse.
pub(crate) fn invalid_id() -> CommandError {
    CommandError::other("ERR Invalid stream ID specified as stream command argument")
}

/// An ID argument where `-` (`0-0`) and `+` (the largest) are allowed; an incomplete
/// ID gets `missing_seq` as its sequence.
pub(crate) fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CommandError> {
    match arg {
        b"-" => Ok(StreamId::MIN),
        b"+" => Ok(StreamId::MAX),
        _ => StreamId::parse(arg, missing_seq).ok_or_else(invalid_id),
    }
}

/// An ID argument where `-` and `+` are not allowed (Redis's strict parse).
pub(crate) fn parse_strict_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CommandError> {
    StreamId::parse(arg, missing_seq).ok_or_else(invalid_id)
}

/// A range bound: `(` before an ID excludes it (then `-` and `+` are not allowed).
/// Returns the inclusive bound: the excluded ID's successor (`start`) or predecessor.
pub(crate) fn parse_bound(arg: &[u8], start: bool) -> Result<StreamId, CommandError> {
    let missing_seq = if start { 0 } else { u64::MAX };
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_strict_id(&arg[1..], missing_seq)?;
        let moved = if start {
            id.successor()
        } else {
            id.predecessor()
        };
        return moved.ok_or_else(|| {
            CommandError::other(if start {
                "ERR invalid start ID for the interval"
            } else {
                "ERR invalid end ID for the interval"
            })
        });
    }
    parse_id(arg, missing_seq)
}

/// Runs `apply` on each ID of `args` once every one of them parsed (a bad ID fails the
/// command before it changes anything, as in Redis); returns how many it applied to.
/// Parsing twice spares XDEL and XACK a list of IDs on their hot path.
pub(crate) fn count_applied(
    args: &[Bytes],
    mut apply: impl FnMut(StreamId) -> bool,
) -> Result<usize, CommandError> {
    for arg in args {
        parse_strict_id(arg, 0)?;
    }
    Ok(args
        .iter()
        .filter_map(|arg| StreamId::parse(arg, 0))
        .filter(|&id| apply(id))
        .count())
}

/// An ID's text, `<ms>-<seq>`, formatted without `fmt` (XADD's hot path).
pub(crate) fn id_text(id: StreamId) -> Bytes {
    let mut text = Vec::with_capacity(41);
    text.extend_from_slice(itoa::Buffer::new().format(id.ms).as_bytes());
    text.push(b'-');
    text.extend_from_slice(itoa::Buffer::new().format(id.seq).as_bytes());
    Bytes::from(text)
}

/// An ID as replies carry it.
pub(crate) fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(id_text(id))
}

/// An entry as replies carry it: its ID and the flat list of fields and values.
pub(crate) fn entry_reply(entry: &Entry<'_>) -> Reply {
    let mut pairs = Vec::with_capacity(entry.pairs.len() * 2);
    for (field, value) in &entry.pairs {
        pairs.push(Reply::bulk(field));
        pairs.push(Reply::bulk(value));
    }
    Reply::Array(vec![id_reply(entry.id), Reply::Array(pairs)])
}

/// XADD/XTRIM's trimming options and XADD's ID, as `streamParseAddOrTrimArgsOrReply`.
#[derive(Debug, Default)]
struct AddOptions {
    trim: Option<Trim>,
    no_mkstream: bool,
    /// XADD's ID: `None` for `*`; with `seq_given` false for `<ms>-*`.
    id: Option<StreamId>,
    seq_given: bool,
    /// Position of the first field (XADD).
    fields_at: usize,
}

/// Parses XADD's (`xadd`) or XTRIM's options from `argv[2..]`.
fn parse_add_options(
    argv: &[Bytes],
    xadd: bool,
    node_max_entries: usize,
) -> Result<AddOptions, CommandError> {
    let mut options = AddOptions::default();
    let mut strategy: Option<TrimStrategy> = None;
    let mut approximate = false;
    let mut limit: Option<u64> = None;
    let mut at = 2;
    while at < argv.len() {
        let more = argv.len() - 1 - at;
        let arg = &argv[at][..];
        if xadd && arg == b"*" {
            break;
        } else if (is_keyword(arg, "maxlen") || is_keyword(arg, "minid")) && more > 0 {
            if strategy.is_some() {
                return Err(CommandError::other(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            approximate = false;
            let next = &argv[at + 1][..];
            if more >= 2 && (next == b"~" || next == b"=") {
                approximate = next == b"~";
                at += 1;
            }
            let value = &argv[at + 1][..];
            strategy = Some(if is_keyword(arg, "maxlen") {
                let max = parse_integer(value)?;
                if max < 0 {
                    return Err(CommandError::other("ERR The MAXLEN argument must be >= 0."));
                }
                TrimStrategy::MaxLen(max as u64)
            } else {
                TrimStrategy::MinId(parse_strict_id(value, 0)?)
            });
            at += 2;
        } else if is_keyword(arg, "limit") && more > 0 {
            let value = parse_integer(&argv[at + 1])?;
            if value < 0 {
                return Err(CommandError::other("ERR The LIMIT argument must be >= 0."));
            }
            limit = Some(value as u64);
            at += 2;
        } else if xadd && is_keyword(arg, "nomkstream") {
            options.no_mkstream = true;
            at += 1;
        } else if xadd {
            let (id, seq_given) = parse_xadd_id(arg)?;
            options.id = Some(id);
            options.seq_given = seq_given;
            break;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    options.fields_at = at + 1;
    if limit.is_some_and(|limit| limit != 0) && strategy.is_none() {
        return Err(CommandError::other(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && strategy.is_none() {
        return Err(CommandError::other(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit.is_some() && !approximate {
        return Err(CommandError::other(
            "ERR syntax error, LIMIT cannot be used without the special ~ option",
        ));
    }
    let limit = match limit {
        Some(limit) => limit,
        None if approximate => default_trim_limit(node_max_entries),
        None => 0,
    };
    options.trim = strategy.map(|strategy| Trim {
        strategy,
        approximate,
        limit,
    });
    Ok(options)
}

/// The LIMIT of an approximate trim that gives none: 100 nodes' worth of entries, or
/// 10000 when `stream-node-max-entries` is 0 (no limit) or so large that Redis's signed
/// product is not positive.
fn default_trim_limit(node_max_entries: usize) -> u64 {
    match (node_max_entries as i64).wrapping_mul(100) {
        limit if limit > 0 => limit as u64,
        _ => 10_000,
    }
}

/// XADD's ID argument: `<ms>-<seq>`, `<ms>` (sequence 0) or `<ms>-*` (sequence chosen).
fn parse_xadd_id(arg: &[u8]) -> Result<(StreamId, bool), CommandError> {
    if let Some(ms) = arg.strip_suffix(b"-*") {
        if !ms.contains(&b'-') {
            return Ok((parse_strict_id(ms, 0)?, false));
        }
    }
    Ok((parse_strict_id(arg, 0)?, true))
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value
/// [field value ...]
///
/// O(1) plus the trim. Bulk reply: the new entry's ID; nil with NOMKSTREAM and no stream.
fn xadd(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let argv = args.argv();
    let options = parse_add_options(argv, true, shard.limits.stream.node_max_entries)?;
    let fields = &argv[options.fields_at.min(argv.len())..];
    if fields.len() < 2 || !fields.len().is_multiple_of(2) {
        return Err(CommandError::other(
            "ERR wrong number of arguments for 'xadd' command",
        ));
    }
    if options.seq_given && options.id == Some(StreamId::MIN) {
        return Err(CommandError::other(
            "ERR The ID specified in XADD must be greater than 0-0",
        ));
    }
    let key = &argv[1];
    let (now, limits) = (shard.now, shard.limits.stream);
    let journalling = shard.journal.is_enabled();
    let stream = if options.no_mkstream {
        match shard.write_collection::<Stream>(key)? {
            Some(stream) => stream,
            None => return Ok(Reply::Nil),
        }
    } else {
        shard.collection_or_create(key, Stream::new)?
    };
    let last = stream.last_id();
    if last == StreamId::MAX {
        return Err(CommandError::other(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let id = match (options.id, options.seq_given) {
        (Some(id), true) => Some(id),
        (Some(id), false) if id.ms == last.ms => last.successor().filter(|_| last.seq != u64::MAX),
        (Some(id), false) => Some(id),
        (None, _) if now > last.ms => Some(StreamId::new(now, 0)),
        (None, _) => last.successor(),
    };
    let Some(id) = id.filter(|&id| id > last) else {
        // Only an existing stream can refuse an ID (a new one accepts any but 0-0).
        return Err(CommandError::other(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        ));
    };
    let pairs: Vec<(&[u8], &[u8])> = fields
        .chunks_exact(2)
        .map(|pair| (&pair[0][..], &pair[1][..]))
        .collect();
    stream.append(id, &pairs, limits);
    let removed = options.trim.map_or(0, |trim| stream.trim(trim));
    // The journal replays the trim as an exact one; nothing to format without a journal.
    let trimmed_to = options
        .trim
        .filter(|_| removed > 0 && journalling)
        .map(|trim| exact_trim(stream, trim));
    let text = id_text(id);
    if journalling {
        // The ID as generated, so that a replay adds the same entry.
        let mut effect: Vec<&[u8]> = vec![b"XADD", key, &text];
        effect.extend(fields.iter().map(|field| &field[..]));
        shard.record_effect(&effect);
    }
    shard.mark_dirty(1);
    shard.notify(EventClass::Stream, "xadd", key);
    if let Some(exact) = trimmed_to {
        record_trim(shard, key, &exact);
    }
    if removed > 0 {
        shard.notify(EventClass::Stream, "xtrim", key);
    }
    Ok(Reply::Bulk(text))
}

/// The exact trim arguments that leave `stream` as a trim just left it: `MAXLEN =
/// <length>` or `MINID = <first ID>`, as Redis rewrites an approximate trim for its
/// replicas.
fn exact_trim(stream: &Stream, trim: Trim) -> [String; 3] {
    match trim.strategy {
        TrimStrategy::MinId(_) if !stream.is_empty() => {
            ["MINID".into(), "=".into(), stream.first_id().to_string()]
        }
        _ => ["MAXLEN".into(), "=".into(), stream.len().to_string()],
    }
}

/// Journals `XTRIM key <exact trim>`.
fn record_trim(shard: &mut ShardCtx<'_>, key: &[u8], exact: &[String; 3]) {
    shard.record_effect(&[
        b"XTRIM",
        key,
        exact[0].as_bytes(),
        exact[1].as_bytes(),
        exact[2].as_bytes(),
    ]);
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
///
/// O(removed). Integer reply: the number of entries removed.
fn xtrim(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let argv = args.argv();
    let options = parse_add_options(argv, false, shard.limits.stream.node_max_entries)?;
    let Some(trim) = options.trim else {
        return Err(CommandError::Syntax);
    };
    let key = &argv[1];
    let journalling = shard.journal.is_enabled();
    let Some(stream) = shard.write_collection::<Stream>(key)? else {
        shard.record_nothing();
        return Ok(Reply::Integer(0));
    };
    let removed = stream.trim(trim);
    if removed == 0 {
        shard.record_nothing();
        return Ok(Reply::Integer(0));
    }
    if trim.approximate && journalling {
        let exact = exact_trim(stream, trim);
        record_trim(shard, key, &exact);
    }
    shard.mark_dirty(removed);
    shard.notify(EventClass::Stream, "xtrim", key);
    Ok(Reply::Integer(removed as i64))
}

/// XLEN key
///
/// O(1). Integer reply: the number of entries, 0 when there is no stream.
fn xlen(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    shard.collection_len::<Stream>(args.required()?)
}

/// XRANGE key start end [COUNT count]
///
/// O(log N + returned). Array reply: the entries from `start` to `end`.
fn xrange(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    range_generic(shard, args, false)
}

/// XREVRANGE key end start [COUNT count]
///
/// O(log N + returned). Array reply: the entries from `end` down to `start`.
fn xrevrange(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    range_generic(shard, args, true)
}

/// The one implementation behind XRANGE and XREVRANGE.
fn range_generic(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>, reverse: bool) -> CmdResult {
    let key = args.required()?;
    let first = args.required()?;
    let second = args.required()?;
    let (start_arg, end_arg) = if reverse {
        (second, first)
    } else {
        (first, second)
    };
    let start = parse_bound(start_arg, true)?;
    let end = parse_bound(end_arg, false)?;
    let mut count: Option<u64> = None;
    while let Some(arg) = args.next_arg() {
        if is_keyword(arg, "count") && args.remaining() >= 1 {
            count = Some(parse_integer(args.required()?)?.max(0) as u64);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let Some(stream) = shard.read_collection::<Stream>(key)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    if count == Some(0) {
        return Ok(Reply::NilArray);
    }
    let limit = count.map_or(usize::MAX, |count| count as usize);
    Ok(Reply::Array(
        stream
            .range(start, end, reverse)
            .take(limit)
            .map(|entry| entry_reply(&entry))
            .collect(),
    ))
}

/// XDEL key id [id ...]
///
/// O(log N) per ID. Integer reply: the number of entries deleted.
fn xdel(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let rest = args.rest();
    let Some(stream) = shard.write_collection::<Stream>(key)? else {
        shard.record_nothing();
        return Ok(Reply::Integer(0));
    };
    let deleted = count_applied(rest, |id| stream.delete(id))?;
    if deleted == 0 {
        shard.record_nothing();
    } else {
        shard.mark_dirty(deleted as u64);
        shard.notify(EventClass::Stream, "xdel", key);
    }
    Ok(Reply::Integer(deleted as i64))
}

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
///
/// O(1). Simple string reply: OK.
fn xsetid(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let id = parse_strict_id(args.required()?, 0)?;
    let mut entries_added: Option<u64> = None;
    let mut max_deleted = StreamId::MIN;
    while let Some(arg) = args.next_arg() {
        if is_keyword(arg, "entriesadded") && args.remaining() >= 1 {
            let value = parse_integer(args.required()?)?;
            if value < 0 {
                return Err(CommandError::other("ERR entries_added must be positive"));
            }
            entries_added = Some(value as u64);
        } else if is_keyword(arg, "maxdeletedid") && args.remaining() >= 1 {
            max_deleted = parse_strict_id(args.required()?, 0)?;
            if id < max_deleted {
                return Err(CommandError::other(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let Some(stream) = shard.write_collection::<Stream>(key)? else {
        return Err(CommandError::NoSuchKey);
    };
    if !stream.is_empty() {
        if id < stream.last_entry_id() {
            return Err(CommandError::other(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added.is_some_and(|added| added < stream.len()) {
            return Err(CommandError::other(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    let added = entries_added.unwrap_or(stream.entries_added());
    let max_deleted = if max_deleted.is_zero() {
        stream.max_deleted_id()
    } else {
        max_deleted
    };
    stream.set_counters(id, added, max_deleted);
    shard.mark_dirty(1);
    shard.notify(EventClass::Stream, "xsetid", key);
    Ok(Reply::Ok)
}
