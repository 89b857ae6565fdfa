//! Hash field expiration (Redis 7.4): HEXPIRE HPEXPIRE HEXPIREAT HPEXPIREAT set field
//! deadlines, HTTL HPTTL HEXPIRETIME HPEXPIRETIME read them, HPERSIST removes them.
//!
//! Each replies with one integer per named field, in order: -2 for a field (or key) that
//! does not exist, then the command's own codes. Argument errors use Redis 7.4's texts.

use super::{modify_hash, Access};
use crate::args::{is_keyword, parse_integer};
use crate::{ArgReader, CmdResult, CommandError, ShardCtx};
use bytes::Bytes;
use peregrine_keyspace::collections::Hash;
use peregrine_keyspace::UnixMillis;
use peregrine_resp::Reply;

/// The latest deadline a field may get (Redis's `HFE_MAX_ABS_TIME_MSEC`, 2^46 - 1 ms).
const MAX_DEADLINE: i64 = (1 << 46) - 1;

/// Reply code: the field (or the key) does not exist.
const NO_FIELD: i64 = -2;
/// Reply code: the field has no deadline.
const NO_DEADLINE: i64 = -1;
/// HEXPIRE reply code: the NX/XX/GT/LT condition was not met.
const CONDITION_NOT_MET: i64 = 0;
/// HEXPIRE/HPERSIST reply code: the deadline was set or removed.
const UPDATED: i64 = 1;
/// HEXPIRE reply code: the deadline was not in the future, so the field was deleted.
const DELETED: i64 = 2;

/// How a command's time argument or reply counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Milliseconds,
}

impl Unit {
    fn millis(self) -> i64 {
        match self {
            Unit::Seconds => 1000,
            Unit::Milliseconds => 1,
        }
    }
}

/// Whether a time is relative to now (HEXPIRE, HTTL) or absolute (HEXPIREAT,
/// HEXPIRETIME).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Base {
    Now,
    Epoch,
}

/// HEXPIRE's NX | XX | GT | LT.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Condition {
    Always,
    NoDeadline,
    HasDeadline,
    Later,
    Earlier,
}

impl Condition {
    fn from_keyword(arg: &[u8]) -> Option<Condition> {
        [
            ("nx", Condition::NoDeadline),
            ("xx", Condition::HasDeadline),
            ("gt", Condition::Later),
            ("lt", Condition::Earlier),
        ]
        .into_iter()
        .find(|(keyword, _)| is_keyword(arg, keyword))
        .map(|(_, condition)| condition)
    }

    /// Whether a field whose deadline is `current` (`None`: none, an infinite one for GT
    /// and LT) may get the deadline `at`.
    fn allows(self, current: Option<UnixMillis>, at: UnixMillis) -> bool {
        match (self, current) {
            (Condition::Always, _) => true,
            (Condition::NoDeadline, current) => current.is_none(),
            (Condition::HasDeadline, current) => current.is_some(),
            (Condition::Later, current) => current.is_some_and(|current| at > current),
            (Condition::Earlier, current) => current.is_none_or(|current| at < current),
        }
    }
}

/// Parses `FIELDS numfields field [field ...]`, which must be all of `rest`.
fn parse_fields(rest: &[Bytes]) -> Result<&[Bytes], CommandError> {
    if !rest.first().is_some_and(|arg| is_keyword(arg, "fields")) {
        return Err(CommandError::other(
            "ERR Mandatory argument FIELDS is missing or not at the right position",
        ));
    }
    let count = rest
        .get(1)
        .and_then(|arg| parse_integer(arg).ok())
        .filter(|&count| count >= 1)
        .ok_or_else(|| CommandError::other("ERR Parameter `numFields` should be greater than 0"))?;
    let fields = rest.get(2..).unwrap_or_default();
    if fields.len() as u64 != count as u64 {
        return Err(CommandError::other(
            "ERR The `numfields` parameter must match the number of arguments",
        ));
    }
    Ok(fields)
}

/// HEXPIRE's arguments after the key.
struct ExpireRequest<'a> {
    deadline: UnixMillis,
    condition: Condition,
    fields: &'a [Bytes],
}

impl<'a> ExpireRequest<'a> {
    /// Parses `time [NX | XX | GT | LT] FIELDS numfields field ...` as Redis 7.4's
    /// `hexpireGenericCommand`.
    fn parse(
        args: &mut ArgReader<'a>,
        unit: Unit,
        base: Base,
        now: UnixMillis,
        command: &str,
    ) -> Result<ExpireRequest<'a>, CommandError> {
        let time = args.integer()?;
        if time < 0 {
            return Err(CommandError::other("ERR invalid expire time, must be >= 0"));
        }
        let base = match base {
            Base::Now => now as i64,
            Base::Epoch => 0,
        };
        let deadline = time
            .checked_mul(unit.millis())
            .filter(|&millis| millis <= MAX_DEADLINE - base)
            .ok_or_else(|| {
                CommandError::other(format!("ERR invalid expire time in '{command}' command"))
            })?
            + base;
        let rest = args.rest();
        let (condition, rest) = match rest.split_first() {
            Some((first, after)) => match Condition::from_keyword(first) {
                Some(condition) => (condition, after),
                None => (Condition::Always, rest),
            },
            None => (Condition::Always, rest),
        };
        let fields = parse_fields(rest)?;
        Ok(ExpireRequest {
            deadline: deadline as UnixMillis,
            condition,
            fields,
        })
    }

    /// Applies the request to one field; the reply code.
    fn apply(&self, hash: &mut Hash, field: &[u8], now: UnixMillis) -> i64 {
        let Some(current) = hash.field_deadline(field) else {
            return NO_FIELD;
        };
        if !self.condition.allows(current, self.deadline) {
            return CONDITION_NOT_MET;
        }
        if self.deadline <= now {
            hash.remove(field);
            return DELETED;
        }
        hash.set_field_deadline(field, self.deadline);
        UPDATED
    }
}

/// HEXPIRE key seconds [NX | XX | GT | LT] FIELDS numfields field [field ...]
///
/// O(N) in the fields. Per field: -2, 0 (condition not met), 1 (set), 2 (deleted).
pub(super) fn hexpire(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    hexpire_generic(shard, args, Unit::Seconds, Base::Now, "hexpire")
}

/// HPEXPIRE key milliseconds [NX | XX | GT | LT] FIELDS numfields field [field ...]
///
/// As HEXPIRE, in milliseconds.
pub(super) fn hpexpire(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    hexpire_generic(shard, args, Unit::Milliseconds, Base::Now, "hpexpire")
}

/// HEXPIREAT key unix-time-seconds [NX | XX | GT | LT] FIELDS numfields field [field ...]
///
/// As HEXPIRE, with an absolute time; a time in the past deletes the fields.
pub(super) fn hexpireat(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    hexpire_generic(shard, args, Unit::Seconds, Base::Epoch, "hexpireat")
}

/// HPEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT] FIELDS numfields field ...
///
/// As HEXPIREAT, in milliseconds.
pub(super) fn hpexpireat(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    hexpire_generic(shard, args, Unit::Milliseconds, Base::Epoch, "hpexpireat")
}

/// The one implementation behind HEXPIRE, HPEXPIRE, HEXPIREAT and HPEXPIREAT. The type
/// is checked before the arguments, as Redis does.
fn hexpire_generic(
    shard: &mut ShardCtx<'_>,
    args: &mut ArgReader<'_>,
    unit: Unit,
    base: Base,
    command: &str,
) -> CmdResult {
    let key = args.required()?;
    let now = shard.now;
    let request = ExpireRequest::parse(args, unit, base, now, command);
    // Redis 7.4 records `hdel` when a field was deleted (a time in the past), else
    // `hexpire` when a deadline was set, whichever variant ran.
    let codes = modify_hash(
        shard,
        key,
        Access::Write,
        |hash| {
            let request = request.as_ref().map_err(Clone::clone)?;
            Ok(request
                .fields
                .iter()
                .map(|field| request.apply(hash, field, now))
                .collect::<Vec<_>>())
        },
        |codes| {
            if codes.contains(&DELETED) {
                Some("hdel")
            } else {
                codes.contains(&UPDATED).then_some("hexpire")
            }
        },
    )?;
    let request = request?;
    let Some(codes) = codes else {
        return Ok(integers(request.fields.iter().map(|_| NO_FIELD)));
    };
    let changed = codes
        .iter()
        .filter(|&&code| code == UPDATED || code == DELETED)
        .count();
    if codes.contains(&UPDATED) {
        shard.db().track_field_deadline(key, request.deadline);
    }
    shard.mark_dirty(changed as u64);
    Ok(integers(codes.into_iter()))
}

fn integers(codes: impl Iterator<Item = i64>) -> Reply {
    Reply::Array(codes.map(Reply::Integer).collect())
}

/// HTTL key FIELDS numfields field [field ...]
///
/// O(N). Per field: seconds to live (rounded up), -1 without deadline, -2 missing.
pub(super) fn httl(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    deadline_generic(shard, args, Unit::Seconds, Base::Now)
}

/// HPTTL key FIELDS numfields field [field ...]
///
/// As HTTL, in milliseconds.
pub(super) fn hpttl(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    deadline_generic(shard, args, Unit::Milliseconds, Base::Now)
}

/// HEXPIRETIME key FIELDS numfields field [field ...]
///
/// As HTTL, the deadline as Unix seconds.
pub(super) fn hexpiretime(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    deadline_generic(shard, args, Unit::Seconds, Base::Epoch)
}

/// HPEXPIRETIME key FIELDS numfields field [field ...]
///
/// As HTTL, the deadline as Unix milliseconds.
pub(super) fn hpexpiretime(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    deadline_generic(shard, args, Unit::Milliseconds, Base::Epoch)
}

/// The one implementation behind HTTL, HPTTL, HEXPIRETIME and HPEXPIRETIME.
fn deadline_generic(
    shard: &mut ShardCtx<'_>,
    args: &mut ArgReader<'_>,
    unit: Unit,
    base: Base,
) -> CmdResult {
    let now = shard.now;
    let base = match base {
        Base::Now => now,
        Base::Epoch => 0,
    };
    let codes = per_field_generic(shard, args, Access::Read, None, |hash, field| {
        match hash.field_deadline(field) {
            None => NO_FIELD,
            Some(None) => NO_DEADLINE,
            Some(Some(at)) => {
                let left = at.saturating_sub(base) as i64;
                match unit {
                    Unit::Seconds => (left + 999) / 1000,
                    Unit::Milliseconds => left,
                }
            }
        }
    })?;
    Ok(integers(codes.into_iter()))
}

/// HPERSIST key FIELDS numfields field [field ...]
///
/// O(N). Per field: 1 when its deadline was removed, -1 without one, -2 missing.
pub(super) fn hpersist(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let codes = per_field_generic(
        shard,
        args,
        Access::Write,
        Some("hpersist"),
        |hash, field| match hash.field_deadline(field) {
            None => NO_FIELD,
            Some(None) => NO_DEADLINE,
            Some(Some(_)) => {
                hash.persist_field(field);
                UPDATED
            }
        },
    )?;
    let persisted = codes.iter().filter(|&&code| code == UPDATED).count();
    shard.mark_dirty(persisted as u64);
    Ok(integers(codes.into_iter()))
}

/// Parses `key FIELDS numfields field ...` (reporting errors after the type check, as
/// Redis) and returns `code` of each field, -2 for all when the key does not exist.
/// `event` is recorded when a field's code is [`UPDATED`].
fn per_field_generic(
    shard: &mut ShardCtx<'_>,
    args: &mut ArgReader<'_>,
    access: Access,
    event: Option<&'static str>,
    mut code: impl FnMut(&mut Hash, &[u8]) -> i64,
) -> Result<Vec<i64>, CommandError> {
    let key = args.required()?;
    let fields = parse_fields(args.rest());
    let codes = modify_hash(
        shard,
        key,
        access,
        |hash| {
            let fields = fields.as_ref().map_err(Clone::clone)?;
            Ok(fields
                .iter()
                .map(|field| code(hash, field))
                .collect::<Vec<_>>())
        },
        |codes| event.filter(|_| codes.contains(&UPDATED)),
    )?;
    let fields = fields?;
    Ok(codes.unwrap_or_else(|| vec![NO_FIELD; fields.len()]))
}
