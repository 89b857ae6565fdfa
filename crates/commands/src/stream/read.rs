//! XREAD and XREADGROUP: reading several streams after given IDs, for a plain reader or
//! a consumer of a group.
//!
//! Both are blocking commands with BLOCK: without BLOCK, or when data is there, the
//! handler replies at once; otherwise it replies a null array, as Redis does for a
//! timed-out wait, and the server parks the client (see [`crate::blocking`]) until a
//! stream key is written with something for it ([`has_news`]), then runs the handler
//! again. XREAD's `$` is resolved by the server to the stream's last ID before it parks
//! ([`pin_last_ids`]), so the re-run reads what arrived after the wait began.
//! XREAD also takes `+` (the last entry), as Redis 7.4 does; Redis 7.2 refuses it.

use super::{entry_reply, id_reply, parse_strict_id};
use crate::args::{is_keyword, parse_integer};
use crate::{ArgReader, CmdResult, CommandError, EventClass, ShardCtx};
use bytes::Bytes;
use peregrine_keyspace::collections::stream::{ConsumerGroup, Stream, StreamId};
use peregrine_keyspace::Value;
use peregrine_resp::Reply;

/// The key positions of XREAD and XREADGROUP: the first half of what follows STREAMS
/// (Redis's `xreadGetKeys`).
pub fn read_keys(argv: &[Bytes]) -> Vec<usize> {
    let mut at = 1;
    let mut streams = None;
    while at < argv.len() {
        let arg = &argv[at][..];
        if is_keyword(arg, "block") || is_keyword(arg, "count") {
            at += 2;
        } else if is_keyword(arg, "group") {
            at += 3;
        } else if is_keyword(arg, "noack") {
            at += 1;
        } else if is_keyword(arg, "streams") {
            streams = Some(at);
            break;
        } else {
            break;
        }
    }
    let Some(streams) = streams else {
        return Vec::new();
    };
    // Redis's key spec: the first half of what follows, rounded down (an unbalanced
    // list is the handler's error, not a lack of keys).
    let rest = argv.len() - streams - 1;
    (streams + 1..=streams + rest / 2).collect()
}

/// A parsed XREAD/XREADGROUP request.
struct ReadRequest<'a> {
    /// Most entries per stream (0: no limit).
    count: usize,
    /// XREADGROUP's group and consumer.
    group: Option<(&'a [u8], &'a [u8])>,
    noack: bool,
    keys: &'a [Bytes],
    ids: &'a [Bytes],
}

/// Parses the options in Redis's order, with its errors; XREADGROUP's missing GROUP,
/// Redis's next error, is left to [`xreadgroup`] (a blocked reader is re-parsed too).
fn parse_request(
    argv: &[Bytes],
    xreadgroup: bool,
    in_script: bool,
) -> Result<ReadRequest<'_>, CommandError> {
    let mut request = ReadRequest {
        count: 0,
        group: None,
        noack: false,
        keys: &[],
        ids: &[],
    };
    let mut streams = None;
    let mut at = 1;
    while at < argv.len() {
        let more = argv.len() - at - 1;
        let arg = &argv[at][..];
        if is_keyword(arg, "block") && more > 0 {
            if in_script {
                return Err(CommandError::naming(&[
                    b"ERR ",
                    &argv[0],
                    b" command is not allowed with BLOCK option from scripts",
                ]));
            }
            parse_block_timeout(&argv[at + 1])?;
            at += 2;
        } else if is_keyword(arg, "count") && more > 0 {
            request.count = parse_integer(&argv[at + 1])?.max(0) as usize;
            at += 2;
        } else if is_keyword(arg, "streams") && more > 0 {
            let rest = argv.len() - at - 1;
            if !rest.is_multiple_of(2) {
                return Err(CommandError::other(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            streams = Some(at + 1);
            break;
        } else if is_keyword(arg, "group") && more >= 2 {
            if !xreadgroup {
                return Err(CommandError::other(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            request.group = Some((&argv[at + 1][..], &argv[at + 2][..]));
            at += 3;
        } else if is_keyword(arg, "noack") {
            if !xreadgroup {
                return Err(CommandError::other(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            request.noack = true;
            at += 1;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let Some(streams) = streams else {
        return Err(CommandError::Syntax);
    };
    let half = (argv.len() - streams) / 2;
    request.keys = &argv[streams..streams + half];
    request.ids = &argv[streams + half..];
    Ok(request)
}

/// BLOCK's timeout in milliseconds (0: forever), with Redis's errors.
pub fn parse_block_timeout(arg: &[u8]) -> Result<u64, CommandError> {
    let millis = parse_integer(arg)
        .map_err(|_| CommandError::other("ERR timeout is not an integer or out of range"))?;
    if millis < 0 {
        return Err(CommandError::other("ERR timeout is negative"));
    }
    Ok(millis as u64)
}

/// The position of BLOCK's timeout in an XREAD/XREADGROUP argv, if BLOCK is given.
pub fn block_timeout_position(argv: &[Bytes]) -> Option<usize> {
    let mut at = 1;
    while at + 1 < argv.len() {
        let arg = &argv[at][..];
        if is_keyword(arg, "block") {
            return Some(at + 1);
        } else if is_keyword(arg, "count") {
            at += 2;
        } else if is_keyword(arg, "group") {
            at += 3;
        } else if is_keyword(arg, "noack") {
            at += 1;
        } else {
            return None;
        }
    }
    None
}

/// For a client about to wait in XREAD: replaces each `$` ID in `argv` by the last ID of
/// its stream in `shard` (`0-0` without a stream), so the command re-run after the wait
/// returns what arrived since. Keys of other shards are left for their own shard's call.
pub fn pin_last_ids(shard: &mut ShardCtx<'_>, argv: &mut [Bytes], local: &dyn Fn(&[u8]) -> bool) {
    let keys = read_keys(argv);
    let Some(&first) = keys.first() else {
        return;
    };
    let half = keys.len();
    for index in 0..half {
        let (key_at, id_at) = (first + index, first + half + index);
        if &argv[id_at][..] != b"$" || !local(&argv[key_at]) {
            continue;
        }
        let key = argv[key_at].clone();
        let last = match shard.peek(&key) {
            Some(peregrine_keyspace::Value::Stream(stream)) => stream.last_id(),
            _ => StreamId::MIN,
        };
        argv[id_at] = Bytes::from(last.to_string());
    }
}

/// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
///
/// O(log N + returned) per stream. Reply: per stream with entries after its ID, the key
/// and those entries (a map in RESP3); a null array when there are none.
pub(super) fn xread(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let request = parse_request(args.argv(), false, shard.client.script)?;
    let mut after = Vec::with_capacity(request.keys.len());
    for (key, id) in request.keys.iter().zip(request.ids) {
        let stream = shard.read_collection::<Stream>(key)?;
        after.push(match &id[..] {
            b"$" => stream.map_or(StreamId::MIN, |stream| stream.last_id()),
            b"+" => stream.map_or(StreamId::MIN, |stream| {
                // Redis 7.4: `+` reads the last entry.
                let last = stream.last_entry_id();
                last.predecessor().filter(|_| !stream.is_empty()).unwrap_or(last)
            }),
            b">" => {
                return Err(CommandError::other(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ))
            }
            _ => parse_strict_id(id, 0)?,
        });
    }
    let mut records = Vec::new();
    for (key, after) in request.keys.iter().zip(after) {
        let Some(stream) = shard.read_collection::<Stream>(key)? else {
            continue;
        };
        if stream.is_empty() || stream.last_entry_id() <= after {
            continue;
        }
        let Some(start) = after.successor() else {
            continue;
        };
        let limit = if request.count == 0 {
            usize::MAX
        } else {
            request.count
        };
        let entries = stream
            .range(start, StreamId::MAX, false)
            .take(limit)
            .map(|entry| entry_reply(&entry))
            .collect();
        records.push((Reply::Bulk(key.clone()), Reply::Array(entries)));
    }
    Ok(if records.is_empty() {
        Reply::NilArray
    } else {
        Reply::Records(records)
    })
}

/// Where an XREADGROUP reads a stream from.
#[derive(Clone, Copy)]
enum ReadFrom {
    /// `>`: entries never delivered to the group.
    New,
    /// The consumer's pending entries after this ID.
    History(StreamId),
}

impl ReadFrom {
    /// XREADGROUP's ID argument: `>`, or a strict ID. Redis marks `>` internally as the
    /// largest ID, so that ID given in full reads new entries too.
    fn parse(arg: &[u8]) -> Result<ReadFrom, CommandError> {
        if arg == b">" {
            return Ok(ReadFrom::New);
        }
        Ok(match parse_strict_id(arg, 0)? {
            StreamId::MAX => ReadFrom::New,
            id => ReadFrom::History(id),
        })
    }
}

/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key
/// [key ...] id [id ...]
///
/// O(log N + returned) per stream. Reply: as XREAD; history reads reply for every stream,
/// with `[id, nil]` for pending entries deleted since.
pub(super) fn xreadgroup(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let request = parse_request(args.argv(), true, shard.client.script)?;
    let Some((group_name, consumer)) = request.group else {
        return Err(CommandError::other(
            "ERR Missing GROUP option for XREADGROUP",
        ));
    };
    let mut sources = Vec::with_capacity(request.keys.len());
    for (key, id) in request.keys.iter().zip(request.ids) {
        let has_group = shard
            .read_collection::<Stream>(key)?
            .is_some_and(|stream| stream.groups().contains_key(group_name));
        if !has_group {
            return Err(CommandError::naming(&[
                b"NOGROUP No such key '",
                key,
                b"' or consumer group '",
                group_name,
                b"' in XREADGROUP with GROUP option",
            ]));
        }
        sources.push(match &id[..] {
            b"$" => {
                return Err(CommandError::other(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ))
            }
            _ => ReadFrom::parse(id)?,
        });
    }
    let now = shard.now;
    let mut records = Vec::new();
    let mut created_in = Vec::new();
    for (key, from) in request.keys.iter().zip(sources) {
        let Some(stream) = shard.write_collection::<Stream>(key)? else {
            continue;
        };
        let served = stream.with_group(group_name, |stream, group| {
            // As Redis 7.2: the consumer exists from its first read, one that finds
            // nothing (and waits) included.
            let (consumer_state, created) = group.consumer_or_create(consumer, now);
            consumer_state.seen_time = now;
            let has_new = !stream.is_empty() && stream.last_entry_id() > group.last_id;
            if matches!(from, ReadFrom::New) && !has_new {
                return (None, created);
            }
            let entries = match from {
                ReadFrom::New => deliver_new(stream, group, consumer, &request, now),
                ReadFrom::History(after) => {
                    deliver_history(stream, group, consumer, after, request.count, now)
                }
            };
            if !entries.is_empty() {
                if let Some(state) = group.consumers.get_mut(consumer) {
                    state.active_time = Some(now);
                }
            }
            (Some(entries), created)
        });
        let Some((entries, created)) = served else {
            continue;
        };
        if created || entries.is_some() {
            shard.mark_dirty(1);
        }
        if created {
            shard.notify(EventClass::Stream, "xgroup-createconsumer", key);
            created_in.push(key);
        }
        if let Some(entries) = entries {
            records.push((Reply::Bulk(key.clone()), Reply::Array(entries)));
        }
    }
    if records.is_empty() {
        // Nothing read: what is left to replay is the consumers' creation.
        shard.record_nothing();
        for key in created_in {
            shard.record_effect(&[&b"XGROUP"[..], b"CREATECONSUMER", key, group_name, consumer]);
        }
        return Ok(Reply::NilArray);
    }
    Ok(Reply::Records(records))
}

/// Whether a client blocked in XREAD or XREADGROUP `argv` has reason to run again now
/// that `key` holds `value` (`None`: no key): entries after the ID it waits on, or, for
/// XREADGROUP, an error to report (the key or the group gone, the key no longer a
/// stream). A plain reader waits through a type change, as in Redis. Existence says
/// nothing here, unlike for a list: a stream exists while empty, and is written without
/// news for a reader (XACK, another group's read).
pub fn has_news(argv: &[Bytes], key: &[u8], value: Option<&Value>) -> bool {
    let xreadgroup = argv
        .first()
        .is_some_and(|name| is_keyword(name, "xreadgroup"));
    let Ok(request) = parse_request(argv, xreadgroup, false) else {
        return true;
    };
    let news_after =
        |stream: &Stream, after: StreamId| !stream.is_empty() && stream.last_entry_id() > after;
    request
        .keys
        .iter()
        .zip(request.ids)
        .filter(|(named, _)| &named[..] == key)
        .any(|(_, id)| match (value, request.group) {
            (Some(Value::Stream(stream)), Some((group, _))) => match stream.groups().get(group) {
                Some(state) if matches!(ReadFrom::parse(id), Ok(ReadFrom::New)) => {
                    news_after(stream, state.last_id)
                }
                // A history read never waits; a missing group is NOGROUP to report.
                _ => true,
            },
            (Some(Value::Stream(stream)), None) => match &id[..] {
                b"+" => !stream.is_empty(),
                b"$" => false,
                after => StreamId::parse(after, 0).is_none_or(|after| news_after(stream, after)),
            },
            (_, Some(_)) => true,
            (_, None) => false,
        })
}

/// Delivers the entries after the group's last ID to `consumer`: advances the group
/// (and its read counter, as Redis's `streamReplyWithRange`) and, unless NOACK, adds
/// them to the pending lists.
fn deliver_new(
    stream: &Stream,
    group: &mut ConsumerGroup,
    consumer: &[u8],
    request: &ReadRequest<'_>,
    now: u64,
) -> Vec<Reply> {
    let Some(start) = group.last_id.successor() else {
        return Vec::new();
    };
    let limit = if request.count == 0 {
        usize::MAX
    } else {
        request.count
    };
    let mut replies = Vec::new();
    for entry in stream.range(start, StreamId::MAX, false).take(limit) {
        if entry.id > group.last_id {
            group.entries_read = match group.entries_read {
                // Wrapping as Redis's C counter does past ENTRIESREAD's i64::MAX.
                Some(read) if !stream.has_tombstones_from(entry.id) => Some(read.wrapping_add(1)),
                _ if stream.entries_added() > 0 => stream.entries_read_at(entry.id),
                unchanged => unchanged,
            };
            group.last_id = entry.id;
        }
        replies.push(entry_reply(&entry));
        if !request.noack {
            group.deliver(entry.id, consumer, now);
        }
    }
    replies
}

/// Re-delivers `consumer`'s pending entries after `after`: each counts one more
/// delivery; one deleted from the stream since reads as `[id, nil]`.
fn deliver_history(
    stream: &Stream,
    group: &mut ConsumerGroup,
    consumer: &[u8],
    after: StreamId,
    count: usize,
    now: u64,
) -> Vec<Reply> {
    let Some(start) = after.successor() else {
        return Vec::new();
    };
    let limit = if count == 0 { usize::MAX } else { count };
    let ids: Vec<StreamId> = group
        .consumers
        .get(consumer)
        .map(|state| state.pending.range(start..).take(limit).copied().collect())
        .unwrap_or_default();
    ids.into_iter()
        .map(|id| match stream.get(id) {
            Some(entry) => {
                if let Some(pending) = group.pending.get_mut(&id) {
                    pending.delivery_time = now;
                    pending.delivery_count += 1;
                }
                entry_reply(&entry)
            }
            None => Reply::Array(vec![id_reply(id), Reply::NilArray]),
        })
        .collect()
}
