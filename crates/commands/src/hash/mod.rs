//! Hashes: HSET HSETNX HGET HMSET HMGET HGETALL HDEL HLEN HEXISTS HKEYS HVALS HINCRBY
//! HINCRBYFLOAT HSTRLEN HRANDFIELD HSCAN, and Redis 7.4's hash field expiration: HEXPIRE
//! HPEXPIRE HEXPIREAT HPEXPIREAT HTTL HPTTL HEXPIRETIME HPEXPIRETIME HPERSIST.
//!
//! Expired fields are invisible to every command: handlers reach their hash through
//! [`visit_hash`] or [`upsert_hash`], which remove due fields first and delete the key
//! when that (or the command) leaves the hash empty.
//!
//! Difference from Redis: HRANDFIELD with a negative count beyond 2^24 picks is refused
//! with `value is out of range` (Redis would try to build the whole reply).

mod expire;
mod random;
#[cfg(test)]
mod tests;

use crate::args::parse_integer;
use crate::long_double::LongDouble;
use crate::spec::{keyed, Arity::*, CommandSpec, Flag::*, Group, KeySpec};
use crate::{ArgReader, CmdResult, CommandError, EventClass, ShardCtx};
use bytes::Bytes;
use peregrine_keyspace::collections::Hash;
use peregrine_keyspace::EncodingLimits;
use peregrine_resp::Reply;

/// The hash family's table.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec { name: "hset",         arity: AtLeast(4), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(hset), group: Group::Hash, summary: "Creates or modifies the value of a field in a hash." },
    CommandSpec { name: "hsetnx",       arity: Exactly(4), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(hsetnx), group: Group::Hash, summary: "Sets the value of a field in a hash only when the field doesn't exist." },
    CommandSpec { name: "hget",         arity: Exactly(3), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(hget), group: Group::Hash, summary: "Returns the value of a field in a hash." },
    CommandSpec { name: "hmset",        arity: AtLeast(4), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(hmset), group: Group::Hash, summary: "Sets the values of multiple fields." },
    CommandSpec { name: "hmget",        arity: AtLeast(3), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(hmget), group: Group::Hash, summary: "Returns the values of all fields in a hash." },
    CommandSpec { name: "hgetall",      arity: Exactly(2), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(hgetall), group: Group::Hash, summary: "Returns all fields and values in a hash." },
    CommandSpec { name: "hdel",         arity: AtLeast(3), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(hdel), group: Group::Hash, summary: "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain." },
    CommandSpec { name: "hlen",         arity: Exactly(2), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(hlen), group: Group::Hash, summary: "Returns the number of fields in a hash." },
    CommandSpec { name: "hexists",      arity: Exactly(3), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(hexists), group: Group::Hash, summary: "Determines whether a field exists in a hash." },
    CommandSpec { name: "hkeys",        arity: Exactly(2), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(hkeys), group: Group::Hash, summary: "Returns all fields in a hash." },
    CommandSpec { name: "hvals",        arity: Exactly(2), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(hvals), group: Group::Hash, summary: "Returns all values in a hash." },
    CommandSpec { name: "hincrby",      arity: Exactly(4), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(hincrby), group: Group::Hash, summary: "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist." },
    CommandSpec { name: "hincrbyfloat", arity: Exactly(4), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(hincrbyfloat), group: Group::Hash, summary: "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist." },
    CommandSpec { name: "hstrlen",      arity: Exactly(3), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(hstrlen), group: Group::Hash, summary: "Returns the length of the value of a field." },
    CommandSpec { name: "hrandfield",   arity: AtLeast(2), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(random::hrandfield), group: Group::Hash, summary: "Returns one or more random fields from a hash." },
    CommandSpec { name: "hscan",        arity: AtLeast(3), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(random::hscan), group: Group::Hash, summary: "Iterates over fields and values of a hash." },
    CommandSpec { name: "hexpire",      arity: AtLeast(6), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(expire::hexpire), group: Group::Hash, summary: "Set expiry for hash field using relative time to expire (seconds)" },
    CommandSpec { name: "hpexpire",     arity: AtLeast(6), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(expire::hpexpire), group: Group::Hash, summary: "Set expiry for hash field using relative time to expire (milliseconds)" },
    CommandSpec { name: "hexpireat",    arity: AtLeast(6), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(expire::hexpireat), group: Group::Hash, summary: "Set expiry for hash field using an absolute Unix timestamp (seconds)" },
    CommandSpec { name: "hpexpireat",   arity: AtLeast(6), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(expire::hpexpireat), group: Group::Hash, summary: "Set expiry for hash field using an absolute Unix timestamp (milliseconds)" },
    CommandSpec { name: "httl",         arity: AtLeast(5), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(expire::httl), group: Group::Hash, summary: "Returns the TTL in seconds of a hash field." },
    CommandSpec { name: "hpttl",        arity: AtLeast(5), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(expire::hpttl), group: Group::Hash, summary: "Returns the TTL in milliseconds of a hash field." },
    CommandSpec { name: "hexpiretime",  arity: AtLeast(5), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(expire::hexpiretime), group: Group::Hash, summary: "Returns the expiration time of a hash field as a Unix timestamp, in seconds." },
    CommandSpec { name: "hpexpiretime", arity: AtLeast(5), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(expire::hpexpiretime), group: Group::Hash, summary: "Returns the expiration time of a hash field as a Unix timestamp, in msec." },
    CommandSpec { name: "hpersist",     arity: AtLeast(5), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(expire::hpersist), group: Group::Hash, summary: "Removes the expiration time for each specified field" },
];

/// How a handler looks its hash up: reads count keyspace hits and misses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// Runs `body` on the live hash at `key`: due fields are removed first, and the key is
/// deleted when that or `body` empties the hash. `Ok(None)` when there is no hash (also
/// when every field had expired); WRONGTYPE before `body` runs for another type.
fn visit_hash<T>(
    shard: &mut ShardCtx<'_>,
    key: &[u8],
    access: Access,
    body: impl FnOnce(&mut Hash) -> Result<T, CommandError>,
) -> Result<Option<T>, CommandError> {
    modify_hash(shard, key, access, body, |_| None)
}

/// The value of `field` in the hash at `key` (SORT's `->field` patterns); `None` when
/// the key is missing, holds another type, or lacks the field.
pub(crate) fn field_value(shard: &mut ShardCtx<'_>, key: &[u8], field: &[u8]) -> Option<Bytes> {
    visit_hash(shard, key, Access::Read, |hash| {
        Ok(hash.get(field).map(Bytes::copy_from_slice))
    })
    .ok()
    .flatten()
    .flatten()
}

/// [`visit_hash`] for a write: after `body`, records the hash event `event` names for
/// its outcome (if any), then `del` when the hash was emptied.
fn modify_hash<T>(
    shard: &mut ShardCtx<'_>,
    key: &[u8],
    access: Access,
    body: impl FnOnce(&mut Hash) -> Result<T, CommandError>,
    event: impl FnOnce(&T) -> Option<&'static str>,
) -> Result<Option<T>, CommandError> {
    let now = shard.now;
    let found = match access {
        Access::Read => shard.read_collection::<Hash>(key)?,
        Access::Write => shard.write_collection::<Hash>(key)?,
    };
    let Some(hash) = found else {
        return Ok(None);
    };
    let hash = if hash.expire_fields(now) > 0 {
        let emptied = hash.is_empty();
        if !expired_fields_reported(shard, key, emptied) {
            return Ok(None);
        }
        match shard.write_collection::<Hash>(key)? {
            Some(hash) => hash,
            None => return Ok(None),
        }
    } else {
        hash
    };
    let outcome = body(hash)?;
    let emptied = hash.is_empty();
    if let Some(event) = event(&outcome) {
        shard.notify(EventClass::Hash, event, key);
    }
    if emptied {
        shard.db().remove(key);
        shard.notify(EventClass::Generic, "del", key);
    }
    Ok(Some(outcome))
}

/// After lazy expiry removed fields of the hash at `key`: records `hexpired`, and deletes
/// the hash (with `del`) when that `emptied` it. Returns whether the hash is still there.
fn expired_fields_reported(shard: &mut ShardCtx<'_>, key: &[u8], emptied: bool) -> bool {
    shard.notify(EventClass::Hash, "hexpired", key);
    if emptied {
        shard.db().remove(key);
        shard.notify(EventClass::Generic, "del", key);
    }
    !emptied
}

/// Runs `body` on the hash at `key`, created empty when missing (due fields removed
/// first). `body` gets the encoding limits for its writes; a hash it leaves empty is
/// deleted.
fn upsert_hash<T>(
    shard: &mut ShardCtx<'_>,
    key: &[u8],
    body: impl FnOnce(&mut Hash, &EncodingLimits) -> Result<T, CommandError>,
) -> Result<T, CommandError> {
    let now = shard.now;
    let limits = shard.limits.encoding;
    let hash = shard.collection_or_create::<Hash>(key, Hash::new)?;
    let hash = if hash.expire_fields(now) > 0 {
        // An emptied hash is written again by `body`: Redis deletes and re-creates it.
        let emptied = hash.is_empty();
        expired_fields_reported(shard, key, emptied);
        shard.collection_or_create::<Hash>(key, Hash::new)?
    } else {
        hash
    };
    let outcome = body(hash, &limits);
    let emptied = hash.is_empty();
    if emptied {
        shard.db().remove(key);
    }
    outcome
}

/// Redis's arity error, for the checks a handler makes itself (pairs of arguments).
fn wrong_arity(command: &str) -> CommandError {
    CommandError::other(format!(
        "ERR wrong number of arguments for '{command}' command"
    ))
}

/// HSET key field value [field value ...]
///
/// O(1) per pair. The number of fields created.
fn hset(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let created = hset_generic(shard, args, "hset")?;
    Ok(Reply::Integer(created as i64))
}

/// HMSET key field value [field value ...]
///
/// O(1) per pair. OK.
fn hmset(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    hset_generic(shard, args, "hmset")?;
    Ok(Reply::Ok)
}

/// The one implementation behind HSET and HMSET: sets every pair (clearing the fields'
/// deadlines) and returns how many fields were created.
fn hset_generic(
    shard: &mut ShardCtx<'_>,
    args: &mut ArgReader<'_>,
    command: &'static str,
) -> Result<usize, CommandError> {
    let key = args.required()?;
    let pairs = args.rest();
    if !pairs.len().is_multiple_of(2) {
        return Err(wrong_arity(command));
    }
    let longest = pairs.iter().map(|arg| arg.len()).max().unwrap_or(0);
    let created = upsert_hash(shard, key, |hash, limits| {
        hash.prepare_write(pairs.len() / 2, longest, limits);
        let mut created = 0;
        for pair in pairs.chunks_exact(2) {
            if let [field, value] = pair {
                created += usize::from(hash.insert(field, value, limits));
            }
        }
        Ok(created)
    })?;
    shard.mark_dirty(pairs.len() as u64 / 2);
    shard.notify(EventClass::Hash, "hset", key);
    Ok(created)
}

/// HSETNX key field value
///
/// O(1). 1 when the field was set, 0 when it existed.
fn hsetnx(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let (key, field, value) = (args.required()?, args.required()?, args.required()?);
    let created = upsert_hash(shard, key, |hash, limits| {
        Ok(!hash.contains(field) && hash.insert(field, value, limits))
    })?;
    if created {
        shard.mark_dirty(1);
        shard.notify(EventClass::Hash, "hset", key);
    }
    Ok(Reply::Integer(i64::from(created)))
}

/// HGET key field
///
/// O(1). The value, or nil.
fn hget(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let (key, field) = (args.required()?, args.required()?);
    let value = visit_hash(shard, key, Access::Read, |hash| {
        Ok(hash.get(field).map(Reply::bulk))
    })?;
    Ok(value.flatten().unwrap_or(Reply::Nil))
}

/// HMGET key field [field ...]
///
/// O(N). An array with each field's value or nil.
fn hmget(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let fields = args.rest();
    let values = visit_hash(shard, key, Access::Read, |hash| {
        Ok(fields
            .iter()
            .map(|field| hash.get(field).map_or(Reply::Nil, Reply::bulk))
            .collect())
    })?;
    Ok(Reply::Array(
        values.unwrap_or_else(|| vec![Reply::Nil; fields.len()]),
    ))
}

/// What HGETALL, HKEYS and HVALS return of each field.
#[derive(Clone, Copy)]
enum Part {
    Fields,
    Values,
    Both,
}

/// HGETALL key
///
/// O(N). Fields and values: a map in RESP3, a flat array in RESP2.
fn hgetall(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    getall_generic(shard, args, Part::Both)
}

/// HKEYS key
///
/// O(N). The fields.
fn hkeys(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    getall_generic(shard, args, Part::Fields)
}

/// HVALS key
///
/// O(N). The values.
fn hvals(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    getall_generic(shard, args, Part::Values)
}

/// The one implementation behind HGETALL, HKEYS and HVALS.
fn getall_generic(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>, part: Part) -> CmdResult {
    let key = args.required()?;
    let reply = visit_hash(shard, key, Access::Read, |hash| {
        let entries = hash.iter();
        Ok(match part {
            Part::Fields => Reply::Array(collect(
                entries.map(|(field, _)| Reply::bulk(field)),
                hash.len(),
            )),
            Part::Values => Reply::Array(collect(
                entries.map(|(_, value)| Reply::bulk(value)),
                hash.len(),
            )),
            Part::Both => Reply::Map(collect(
                entries.map(|(field, value)| (Reply::bulk(field), Reply::bulk(value))),
                hash.len(),
            )),
        })
    })?;
    Ok(reply.unwrap_or(match part {
        Part::Both => Reply::Map(Vec::new()),
        Part::Fields | Part::Values => Reply::Array(Vec::new()),
    }))
}

/// Collects `len` items into a vector allocated once.
fn collect<T>(items: impl Iterator<Item = T>, len: usize) -> Vec<T> {
    let mut collected = Vec::with_capacity(len);
    collected.extend(items);
    collected
}

/// HDEL key field [field ...]
///
/// O(N). The number of fields removed; the key is deleted when none remain.
fn hdel(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let fields = args.rest();
    let removed = modify_hash(
        shard,
        key,
        Access::Write,
        |hash| Ok(fields.iter().filter(|field| hash.remove(field)).count()),
        |&removed| (removed > 0).then_some("hdel"),
    )?
    .unwrap_or(0);
    shard.mark_dirty(removed as u64);
    Ok(Reply::Integer(removed as i64))
}

/// HLEN key
///
/// O(1). The number of fields, 0 when missing.
fn hlen(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let len = visit_hash(shard, key, Access::Read, |hash| Ok(hash.len()))?;
    Ok(Reply::Integer(len.unwrap_or(0) as i64))
}

/// HEXISTS key field
///
/// O(1). 1 when the field exists, else 0.
fn hexists(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let (key, field) = (args.required()?, args.required()?);
    let exists = visit_hash(shard, key, Access::Read, |hash| Ok(hash.contains(field)))?;
    Ok(Reply::Integer(i64::from(exists.unwrap_or(false))))
}

/// HSTRLEN key field
///
/// O(1). The length of the field's value, 0 when missing.
fn hstrlen(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let (key, field) = (args.required()?, args.required()?);
    let len = visit_hash(shard, key, Access::Read, |hash| {
        Ok(hash.get(field).map_or(0, <[u8]>::len))
    })?;
    Ok(Reply::Integer(len.unwrap_or(0) as i64))
}

/// HINCRBY key field increment
///
/// O(1). The new value; the field keeps its deadline.
fn hincrby(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let (key, field) = (args.required()?, args.required()?);
    let increment = args.integer()?;
    let next = upsert_hash(shard, key, |hash, limits| {
        let current = match hash.get(field) {
            None => 0,
            Some(text) => parse_integer(text)
                .map_err(|_| CommandError::other("ERR hash value is not an integer"))?,
        };
        let next = current
            .checked_add(increment)
            .ok_or(CommandError::Overflow)?;
        hash.update(field, itoa::Buffer::new().format(next).as_bytes(), limits);
        Ok(next)
    })?;
    shard.mark_dirty(1);
    shard.notify(EventClass::Hash, "hincrby", key);
    Ok(Reply::Integer(next))
}

/// HINCRBYFLOAT key field increment
///
/// O(1). The new value as a bulk string, computed in `long double` as Redis does; the
/// field keeps its deadline.
fn hincrbyfloat(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let (key, field) = (args.required()?, args.required()?);
    let increment = LongDouble::parse(args.required()?).map_err(|_| CommandError::NotFloat)?;
    if increment.is_infinite() {
        return Err(CommandError::other("ERR value is NaN or Infinity"));
    }
    let text = upsert_hash(shard, key, |hash, limits| {
        let current = match hash.get(field) {
            None => LongDouble::from_i64(0),
            Some(text) => LongDouble::parse(text)
                .map_err(|_| CommandError::other("ERR hash value is not a float"))?,
        };
        let next = current
            .add(&increment)
            .filter(|sum| !sum.is_infinite())
            .ok_or_else(|| CommandError::other("ERR increment would produce NaN or Infinity"))?;
        let text = next.to_human_string();
        hash.update(field, text.as_bytes(), limits);
        Ok(text)
    })?;
    shard.mark_dirty(1);
    shard.notify(EventClass::Hash, "hincrbyfloat", key);
    Ok(Reply::bulk(text))
}
