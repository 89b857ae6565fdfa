//! Strings: GET SET SETNX SETEX PSETEX GETSET GETDEL GETEX MGET MSET MSETNX APPEND STRLEN
//! INCR DECR INCRBY DECRBY INCRBYFLOAT GETRANGE SETRANGE SUBSTR LCS.
//!
//! INCRBYFLOAT reproduces the x87 `long double` arithmetic Redis uses on x86-64 (see
//! [`crate::long_double`]), so its results match digit for digit.

use crate::args::{is_keyword, parse_integer};
use crate::context::{string_ref, StringRef};
use crate::long_double::LongDouble;
use crate::spec::{
    coordinated, keyed, scratch, split, Arity::*, CommandSpec, Coordinated, Flag::*, Group,
    KeySpec, Merge,
};
use crate::{ArgReader, CmdResult, CommandError, EventClass, ShardCtx};
use peregrine_keyspace::{UnixMillis, Value, EMBSTR_SIZE_LIMIT};
use peregrine_resp::Reply;

/// The string family's table.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec { name: "get",         arity: Exactly(2), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(get), group: Group::String, summary: "Returns the string value of a key." },
    CommandSpec { name: "set",         arity: AtLeast(3), flags: &[Write, DenyOom], keys: KeySpec::FIRST, exec: keyed(set), group: Group::String, summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist." },
    CommandSpec { name: "setnx",       arity: Exactly(3), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(setnx), group: Group::String, summary: "Set the string value of a key only when the key doesn't exist." },
    CommandSpec { name: "setex",       arity: Exactly(4), flags: &[Write, DenyOom], keys: KeySpec::FIRST, exec: keyed(setex), group: Group::String, summary: "Sets the string value and expiration time of a key. Creates the key if it doesn't exist." },
    CommandSpec { name: "psetex",      arity: Exactly(4), flags: &[Write, DenyOom], keys: KeySpec::FIRST, exec: keyed(psetex), group: Group::String, summary: "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist." },
    CommandSpec { name: "getset",      arity: Exactly(3), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(getset), group: Group::String, summary: "Returns the previous string value of a key after setting it to a new value." },
    CommandSpec { name: "getdel",      arity: Exactly(2), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(getdel), group: Group::String, summary: "Returns the string value of a key after deleting the key." },
    CommandSpec { name: "getex",       arity: AtLeast(2), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(getex), group: Group::String, summary: "Returns the string value of a key after setting its expiration time." },
    CommandSpec { name: "mget",        arity: AtLeast(2), flags: &[ReadOnly, Fast], keys: KeySpec::ALL, exec: split(mget, Merge::ArrayInKeyOrder), group: Group::String, summary: "Atomically returns the string values of one or more keys." },
    CommandSpec { name: "mset",        arity: AtLeast(3), flags: &[Write, DenyOom], keys: KeySpec::KEY_VALUE_PAIRS, exec: split(mset, Merge::Ok), group: Group::String, summary: "Atomically creates or modifies the string values of one or more keys." },
    CommandSpec { name: "msetnx",      arity: AtLeast(3), flags: &[Write, DenyOom], keys: KeySpec::KEY_VALUE_PAIRS, exec: coordinated(msetnx, Coordinated::MsetNx), group: Group::String, summary: "Atomically modifies the string values of one or more keys only when all keys don't exist." },
    CommandSpec { name: "append",      arity: Exactly(3), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(append), group: Group::String, summary: "Appends a string to the value of a key. Creates the key if it doesn't exist." },
    CommandSpec { name: "strlen",      arity: Exactly(2), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(strlen), group: Group::String, summary: "Returns the length of a string value." },
    CommandSpec { name: "incr",        arity: Exactly(2), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(incr), group: Group::String, summary: "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist." },
    CommandSpec { name: "decr",        arity: Exactly(2), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(decr), group: Group::String, summary: "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist." },
    CommandSpec { name: "incrby",      arity: Exactly(3), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(incrby), group: Group::String, summary: "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist." },
    CommandSpec { name: "decrby",      arity: Exactly(3), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(decrby), group: Group::String, summary: "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist." },
    CommandSpec { name: "incrbyfloat", arity: Exactly(3), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(incrbyfloat), group: Group::String, summary: "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist." },
    CommandSpec { name: "getrange",    arity: Exactly(4), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(getrange), group: Group::String, summary: "Returns a substring of the string stored at a key." },
    CommandSpec { name: "substr",      arity: Exactly(4), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(getrange), group: Group::String, summary: "Returns a substring from a string value." },
    CommandSpec { name: "setrange",    arity: Exactly(4), flags: &[Write, DenyOom], keys: KeySpec::FIRST, exec: keyed(setrange), group: Group::String, summary: "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist." },
    CommandSpec { name: "lcs",         arity: AtLeast(3), flags: &[ReadOnly], keys: KeySpec::FIRST_TWO, exec: scratch(lcs), group: Group::String, summary: "Finds the longest common substring." },
];

/// Which condition SET puts on the key's existence.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Condition {
    Always,
    IfAbsent,
    IfPresent,
}

/// An expiry option as given: the unit and whether it is relative.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ExpireUnit {
    /// EX: relative seconds.
    Seconds,
    /// PX: relative milliseconds.
    Milliseconds,
    /// EXAT: absolute Unix seconds.
    UnixSeconds,
    /// PXAT: absolute Unix milliseconds.
    UnixMilliseconds,
}

impl ExpireUnit {
    fn from_keyword(arg: &[u8]) -> Option<ExpireUnit> {
        [
            ("ex", ExpireUnit::Seconds),
            ("px", ExpireUnit::Milliseconds),
            ("exat", ExpireUnit::UnixSeconds),
            ("pxat", ExpireUnit::UnixMilliseconds),
        ]
        .into_iter()
        .find(|(keyword, _)| is_keyword(arg, keyword))
        .map(|(_, unit)| unit)
    }
}

/// Turns an expire argument into an absolute deadline as Redis's
/// `getExpireMillisecondsOrReply`: must be a positive integer, must not overflow.
pub fn deadline_from(
    arg: &[u8],
    unit: ExpireUnit,
    now: UnixMillis,
    command: &'static str,
) -> Result<UnixMillis, CommandError> {
    let value = parse_integer(arg)?;
    let invalid = CommandError::InvalidExpireTime(command);
    let seconds = matches!(unit, ExpireUnit::Seconds | ExpireUnit::UnixSeconds);
    if value <= 0 || (seconds && value > i64::MAX / 1000) {
        return Err(invalid);
    }
    let mut millis = if seconds { value * 1000 } else { value };
    if matches!(unit, ExpireUnit::Seconds | ExpireUnit::Milliseconds) {
        millis = millis.checked_add(now as i64).ok_or(invalid.clone())?;
    }
    if millis <= 0 {
        return Err(invalid);
    }
    Ok(millis as UnixMillis)
}

/// SET's parsed options.
struct SetOptions<'a> {
    condition: Condition,
    get: bool,
    keep_ttl: bool,
    expire: Option<(ExpireUnit, &'a [u8])>,
}

impl<'a> SetOptions<'a> {
    /// Parses SET's options as Redis's `parseExtendedStringArgumentsOrReply`.
    fn parse(args: &mut ArgReader<'a>) -> Result<SetOptions<'a>, CommandError> {
        let mut options = SetOptions {
            condition: Condition::Always,
            get: false,
            keep_ttl: false,
            expire: None,
        };
        while let Some(arg) = args.next_arg() {
            if is_keyword(arg, "nx") && options.condition != Condition::IfPresent {
                options.condition = Condition::IfAbsent;
            } else if is_keyword(arg, "xx") && options.condition != Condition::IfAbsent {
                options.condition = Condition::IfPresent;
            } else if is_keyword(arg, "get") {
                options.get = true;
            } else if is_keyword(arg, "keepttl") && options.expire.is_none() {
                options.keep_ttl = true;
            } else if let Some(unit) = ExpireUnit::from_keyword(arg) {
                // As Redis: another unit conflicts, the same unit again replaces the value.
                let other_unit = options.expire.is_some_and(|(previous, _)| previous != unit);
                if options.keep_ttl || other_unit || args.remaining() == 0 {
                    return Err(CommandError::Syntax);
                }
                let value = args.required()?;
                options.expire = Some((unit, value));
            } else {
                return Err(CommandError::Syntax);
            }
        }
        Ok(options)
    }
}

/// GET key
///
/// O(1). Bulk reply: the value, or nil when the key does not exist.
fn get(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    Ok(match shard.read_string(key)? {
        Some(value) => Reply::bulk(value.as_bytes()),
        None => Reply::Nil,
    })
}

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms-ts | KEEPTTL]
///
/// O(1). OK, nil when NX/XX prevented the write, or the old value with GET.
fn set(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let value = args.required()?;
    let options = SetOptions::parse(args)?;
    set_generic(shard, key, value, options, "set")
}

/// The one implementation behind SET, SETNX, SETEX, PSETEX and GETSET.
fn set_generic(
    shard: &mut ShardCtx<'_>,
    key: &[u8],
    value: &[u8],
    options: SetOptions<'_>,
    command: &'static str,
) -> CmdResult {
    let deadline = match options.expire {
        Some((unit, arg)) => Some(deadline_from(arg, unit, shard.now, command)?),
        None => None,
    };
    let old = if options.get {
        match shard.read_string(key)? {
            Some(old) => Reply::bulk(old.as_bytes()),
            None => Reply::Nil,
        }
    } else {
        Reply::Nil
    };
    let now = shard.now;
    let blocked = match options.condition {
        Condition::Always => false,
        Condition::IfAbsent => shard.db().contains(key, now),
        Condition::IfPresent => !shard.db().contains(key, now),
    };
    if blocked {
        return Ok(if options.get { old } else { Reply::Nil });
    }
    let db = shard.db();
    let kept = if options.keep_ttl {
        db.deadline(key)
    } else {
        None
    };
    let created = db
        .set(key, Value::string(value), deadline.or(kept), now)
        .is_none();
    shard.mark_dirty(1);
    if created {
        shard.notify_new(key);
    }
    shard.notify(EventClass::String, "set", key);
    if deadline.is_some() {
        shard.notify(EventClass::Generic, "expire", key);
    }
    Ok(if options.get { old } else { Reply::Ok })
}

/// SETNX key value
///
/// O(1). 1 if the key was set, 0 if it existed.
fn setnx(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let (key, value) = (args.required()?, args.required()?);
    let options = SetOptions {
        condition: Condition::IfAbsent,
        get: false,
        keep_ttl: false,
        expire: None,
    };
    let reply = set_generic(shard, key, value, options, "setnx")?;
    Ok(Reply::Integer(i64::from(reply == Reply::Ok)))
}

/// SETEX key seconds value
///
/// O(1). OK.
fn setex(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    set_with_expire(shard, args, ExpireUnit::Seconds, "setex")
}

/// PSETEX key milliseconds value
///
/// O(1). OK.
fn psetex(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    set_with_expire(shard, args, ExpireUnit::Milliseconds, "psetex")
}

fn set_with_expire(
    shard: &mut ShardCtx<'_>,
    args: &mut ArgReader<'_>,
    unit: ExpireUnit,
    command: &'static str,
) -> CmdResult {
    let (key, expire, value) = (args.required()?, args.required()?, args.required()?);
    let options = SetOptions {
        condition: Condition::Always,
        get: false,
        keep_ttl: false,
        expire: Some((unit, expire)),
    };
    set_generic(shard, key, value, options, command)
}

/// GETSET key value
///
/// O(1). The old value or nil.
fn getset(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let (key, value) = (args.required()?, args.required()?);
    let options = SetOptions {
        condition: Condition::Always,
        get: true,
        keep_ttl: false,
        expire: None,
    };
    set_generic(shard, key, value, options, "getset")
}

/// GETDEL key
///
/// O(1). The value (the key is deleted) or nil.
fn getdel(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let reply = match shard.read_string(key)? {
        Some(value) => Reply::bulk(value.as_bytes()),
        None => return Ok(Reply::Nil),
    };
    shard.db().remove(key);
    shard.mark_dirty(1);
    shard.notify(EventClass::Generic, "del", key);
    Ok(reply)
}

/// GETEX key [EX s | PX ms | EXAT ts | PXAT ms-ts | PERSIST]
///
/// O(1). The value or nil; changes the key's expiry as asked.
fn getex(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let mut expire = None;
    let mut persist = false;
    while let Some(arg) = args.next_arg() {
        if let Some(unit) = ExpireUnit::from_keyword(arg) {
            let other_unit =
                expire.is_some_and(|(previous, _): (ExpireUnit, &[u8])| previous != unit);
            if persist || other_unit || args.remaining() == 0 {
                return Err(CommandError::Syntax);
            }
            expire = Some((unit, args.required()?));
        } else if is_keyword(arg, "persist") && expire.is_none() {
            persist = true;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let reply = match shard.read_string(key)? {
        Some(value) => Reply::bulk(value.as_bytes()),
        None => return Ok(Reply::Nil),
    };
    let now = shard.now;
    if let Some((unit, arg)) = expire {
        let deadline = deadline_from(arg, unit, now, "getex")?;
        let absolute = matches!(unit, ExpireUnit::UnixSeconds | ExpireUnit::UnixMilliseconds);
        if absolute && deadline <= now {
            shard.db().remove(key);
            shard.notify(EventClass::Generic, "del", key);
        } else {
            shard.db().set_deadline(key, deadline);
            shard.notify(EventClass::Generic, "expire", key);
        }
        shard.mark_dirty(1);
    } else if persist && shard.db().persist(key) {
        shard.mark_dirty(1);
        shard.notify(EventClass::Generic, "persist", key);
    }
    Ok(reply)
}

/// MGET key [key ...]
///
/// O(N). An array with each value, nil for missing keys and non-strings.
fn mget(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let keys = args.rest();
    let mut values = Vec::with_capacity(keys.len());
    for key in keys {
        let value = match shard.lookup_read(key) {
            Some(value) => match string_ref(value) {
                Ok(text) => Reply::bulk(text.as_bytes()),
                Err(_) => Reply::Nil,
            },
            None => Reply::Nil,
        };
        values.push(value);
    }
    Ok(Reply::Array(values))
}

/// MSET key value [key value ...]
///
/// O(N). OK.
fn mset(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let pairs = args.rest();
    if !pairs.len().is_multiple_of(2) {
        return Err(CommandError::other(
            "ERR wrong number of arguments for 'mset' command",
        ));
    }
    let now = shard.now;
    for pair in pairs.chunks_exact(2) {
        let key = &pair[0];
        if shard
            .db()
            .set(key, Value::string(&pair[1]), None, now)
            .is_none()
        {
            shard.notify_new(key);
        }
        shard.notify(EventClass::String, "set", key);
    }
    shard.mark_dirty(pairs.len() as u64 / 2);
    Ok(Reply::Ok)
}

/// MSETNX key value [key value ...]
///
/// O(N). 1 if all keys were set, 0 if any existed (then none is set).
fn msetnx(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let pairs = args.argv().get(1..).unwrap_or_default();
    if !pairs.len().is_multiple_of(2) {
        return Err(CommandError::other(
            "ERR wrong number of arguments for 'msetnx' command",
        ));
    }
    let now = shard.now;
    if pairs
        .chunks_exact(2)
        .any(|pair| shard.db().contains(&pair[0], now))
    {
        return Ok(Reply::Integer(0));
    }
    mset(shard, args)?;
    Ok(Reply::Integer(1))
}

/// APPEND key value
///
/// O(1) amortized. The string's new length.
fn append(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let (key, suffix) = (args.required()?, args.required()?);
    let limit = shard.limits.proto_max_bulk_len;
    let now = shard.now;
    let length = match shard.lookup_write(key) {
        None => {
            shard.db().set(key, Value::string(suffix), None, now);
            shard.notify_new(key);
            suffix.len()
        }
        Some(value) => {
            let current = string_ref(value)?.as_bytes().len();
            if (current + suffix.len()) as u64 > limit {
                return Err(CommandError::StringTooLong);
            }
            let raw = make_raw(value);
            raw.extend_from_slice(suffix);
            raw.len()
        }
    };
    shard.mark_dirty(1);
    shard.notify(EventClass::String, "append", key);
    Ok(Reply::Integer(length as i64))
}

/// Converts a string value to the raw (growable) encoding in place and returns its bytes.
pub(crate) fn make_raw(value: &mut Value) -> &mut Vec<u8> {
    if !matches!(value, Value::Raw(_)) {
        let bytes = match string_ref(value) {
            Ok(text) => text.as_bytes().to_vec(),
            Err(_) => Vec::new(),
        };
        *value = Value::Raw(Box::new(bytes));
    }
    match value {
        Value::Raw(bytes) => bytes,
        _ => unreachable!("converted to raw above"),
    }
}

/// STRLEN key
///
/// O(1). The length, 0 when missing.
fn strlen(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let length = shard
        .read_string(key)?
        .map_or(0, |value| value.as_bytes().len());
    Ok(Reply::Integer(length as i64))
}

/// INCR key
///
/// O(1). The new value.
fn incr(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    increment_by(shard, key, 1)
}

/// DECR key
///
/// O(1). The new value.
fn decr(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    increment_by(shard, key, -1)
}

/// INCRBY key increment
///
/// O(1). The new value.
fn incrby(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let increment = args.integer()?;
    increment_by(shard, key, increment)
}

/// DECRBY key decrement
///
/// O(1). The new value.
fn decrby(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let decrement = args.integer()?;
    if decrement == i64::MIN {
        return Err(CommandError::other("ERR decrement would overflow"));
    }
    increment_by(shard, key, -decrement)
}

/// The one implementation behind INCR, DECR, INCRBY and DECRBY.
fn increment_by(shard: &mut ShardCtx<'_>, key: &[u8], increment: i64) -> CmdResult {
    let now = shard.now;
    let current = match shard.lookup_write(key) {
        None => 0,
        Some(Value::Int(value)) => *value,
        Some(value) => parse_integer(string_ref(value)?.as_bytes())?,
    };
    let next = current
        .checked_add(increment)
        .ok_or(CommandError::Overflow)?;
    let db = shard.db();
    if !db.replace_value(key, Value::Int(next), now) {
        db.set(key, Value::Int(next), None, now);
        shard.notify_new(key);
    }
    shard.mark_dirty(1);
    shard.notify(EventClass::String, "incrby", key);
    Ok(Reply::Integer(next))
}

/// INCRBYFLOAT key increment
///
/// O(1). The new value as a bulk string.
fn incrbyfloat(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let increment_text = args.required()?;
    let now = shard.now;
    let current = match shard.lookup_write(key) {
        None => LongDouble::from_i64(0),
        Some(Value::Int(value)) => LongDouble::from_i64(*value),
        Some(value) => {
            LongDouble::parse(string_ref(value)?.as_bytes()).map_err(|_| CommandError::NotFloat)?
        }
    };
    let increment = LongDouble::parse(increment_text).map_err(|_| CommandError::NotFloat)?;
    let next = current
        .add(&increment)
        .filter(|sum| !sum.is_infinite())
        .ok_or_else(|| CommandError::other("ERR increment would produce NaN or Infinity"))?;
    let text = next.to_human_string();
    // Redis stores the result as a plain string (never the integer encoding).
    let value = if text.len() <= EMBSTR_SIZE_LIMIT {
        Value::Embedded(peregrine_keyspace::CompactBytes::new(text.as_bytes()))
    } else {
        Value::Raw(Box::new(text.clone().into_bytes()))
    };
    let db = shard.db();
    if !db.replace_value(key, value.clone(), now) {
        db.set(key, value, None, now);
        shard.notify_new(key);
    }
    shard.mark_dirty(1);
    shard.notify(EventClass::String, "incrbyfloat", key);
    Ok(Reply::bulk(text))
}

/// Resolves a Redis range (negative counts from the end) to byte offsets, as GETRANGE.
fn string_range(start: i64, end: i64, length: usize) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let length = length as i64;
    let mut start = if start < 0 { length + start } else { start };
    let mut end = if end < 0 { length + end } else { end };
    start = start.max(0);
    end = end.max(0);
    if end >= length {
        end = length - 1;
    }
    if start > end || length == 0 {
        return None;
    }
    Some((start as usize, end as usize))
}

/// GETRANGE key start end (also SUBSTR)
///
/// O(N) in the returned length. The substring, empty when out of range.
fn getrange(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let start = args.integer()?;
    let end = args.integer()?;
    let Some(value) = shard.read_string(key)? else {
        return Ok(Reply::bulk(""));
    };
    let bytes = value.as_bytes();
    Ok(match string_range(start, end, bytes.len()) {
        Some((from, to)) => Reply::bulk(&bytes[from..=to]),
        None => Reply::bulk(""),
    })
}

/// SETRANGE key offset value
///
/// O(1) plus the copy. The string's new length.
fn setrange(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let offset = args.integer()?;
    let patch = args.required()?;
    if offset < 0 {
        return Err(CommandError::other("ERR offset is out of range"));
    }
    let offset = offset as u64;
    let limit = shard.limits.proto_max_bulk_len;
    let now = shard.now;
    let check_size = |length: u64| {
        if offset + length > limit {
            Err(CommandError::StringTooLong)
        } else {
            Ok(())
        }
    };
    let length = match shard.lookup_write(key) {
        None => {
            if patch.is_empty() {
                return Ok(Reply::Integer(0));
            }
            check_size(patch.len() as u64)?;
            let mut bytes = vec![0u8; offset as usize];
            bytes.extend_from_slice(patch);
            let length = bytes.len();
            shard.db().set(key, Value::Raw(Box::new(bytes)), None, now);
            shard.notify_new(key);
            length
        }
        Some(value) => {
            let current = string_ref(value)?.as_bytes().len();
            if patch.is_empty() {
                return Ok(Reply::Integer(current as i64));
            }
            check_size(patch.len() as u64)?;
            let raw = make_raw(value);
            let end = offset as usize + patch.len();
            if raw.len() < end {
                raw.resize(end, 0);
            }
            raw[offset as usize..end].copy_from_slice(patch);
            raw.len()
        }
    };
    shard.mark_dirty(1);
    shard.notify(EventClass::String, "setrange", key);
    Ok(Reply::Integer(length as i64))
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
///
/// O(N*M). The common subsequence, its length, or its matching ranges.
fn lcs(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    // Redis reads (and type-checks) both keys before it parses the options.
    let (first_key, second_key) = (args.required()?, args.required()?);
    let first = lcs_operand(shard, first_key)?;
    let second = lcs_operand(shard, second_key)?;
    let options = LcsOptions::parse(args)?;
    lcs_reply(&first, &second, &options)
}

fn lcs_operand(shard: &mut ShardCtx<'_>, key: &[u8]) -> Result<Vec<u8>, CommandError> {
    match shard.lookup_read(key) {
        None => Ok(Vec::new()),
        Some(value) => match string_ref(value) {
            Ok(text) => Ok(text.as_bytes().to_vec()),
            Err(_) => Err(CommandError::other(
                "ERR The specified keys must contain string values",
            )),
        },
    }
}

/// LCS's options, parsed once both keys were read.
pub struct LcsOptions {
    length_only: bool,
    indexes: bool,
    min_match_length: i64,
    with_match_length: bool,
}

impl LcsOptions {
    /// Parses LCS's options (after the two keys).
    pub fn parse(args: &mut ArgReader<'_>) -> Result<LcsOptions, CommandError> {
        let mut options = LcsOptions {
            length_only: false,
            indexes: false,
            min_match_length: 0,
            with_match_length: false,
        };
        while let Some(arg) = args.next_arg() {
            if is_keyword(arg, "idx") {
                options.indexes = true;
            } else if is_keyword(arg, "len") {
                options.length_only = true;
            } else if is_keyword(arg, "withmatchlen") {
                options.with_match_length = true;
            } else if is_keyword(arg, "minmatchlen") && args.remaining() > 0 {
                options.min_match_length = args.integer()?.max(0);
            } else {
                return Err(CommandError::Syntax);
            }
        }
        if options.length_only && options.indexes {
            return Err(CommandError::other(
                "ERR If you want both the length and indexes, please just use IDX.",
            ));
        }
        Ok(options)
    }
}

/// Computes LCS's reply for two strings (shared by the single-shard handler and the
/// cross-shard coordinator), following Redis's dynamic programming and backtracking.
pub fn lcs_reply(first: &[u8], second: &[u8], options: &LcsOptions) -> CmdResult {
    let (rows, columns) = (first.len() + 1, second.len() + 1);
    let cells = rows
        .checked_mul(columns)
        .filter(|&cells| cells < (u32::MAX as usize))
        .ok_or_else(|| {
            CommandError::other(
                "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
            )
        })?;
    let mut table = vec![0u32; cells];
    let at = |i: usize, j: usize| j * rows + i;
    for i in 1..rows {
        for j in 1..columns {
            table[at(i, j)] = if first[i - 1] == second[j - 1] {
                table[at(i - 1, j - 1)] + 1
            } else {
                table[at(i - 1, j)].max(table[at(i, j - 1)])
            };
        }
    }
    let total = table[at(first.len(), second.len())] as usize;
    let mut result = vec![0u8; total];
    let mut matches = Vec::new();
    // Redis's backtracking, including its range bookkeeping: `range_start == None` means
    // no range is open.
    let (mut i, mut j, mut index) = (first.len(), second.len(), total);
    let mut range: Option<[usize; 4]> = None; // first start, first end, second start, second end
    while i > 0 && j > 0 {
        let mut emit_range = false;
        if first[i - 1] == second[j - 1] {
            result[index - 1] = first[i - 1];
            match range.as_mut() {
                None => range = Some([i - 1, i - 1, j - 1, j - 1]),
                Some(open) if open[0] == i && open[2] == j => {
                    open[0] -= 1;
                    open[2] -= 1;
                }
                Some(_) => emit_range = true,
            }
            if range.is_some_and(|open| open[0] == 0 || open[2] == 0) {
                emit_range = true;
            }
            index -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table[at(i - 1, j)] > table[at(i, j - 1)] {
                i -= 1;
            } else {
                j -= 1;
            }
            if range.is_some() {
                emit_range = true;
            }
        }
        if emit_range {
            if let Some([first_start, first_end, second_start, second_end]) = range.take() {
                let length = first_end - first_start + 1;
                if options.min_match_length == 0 || length as i64 >= options.min_match_length {
                    let pair = |start: usize, end: usize| {
                        Reply::Array(vec![
                            Reply::Integer(start as i64),
                            Reply::Integer(end as i64),
                        ])
                    };
                    let mut item =
                        vec![pair(first_start, first_end), pair(second_start, second_end)];
                    if options.with_match_length {
                        item.push(Reply::Integer(length as i64));
                    }
                    matches.push(Reply::Array(item));
                }
            }
        }
    }
    if options.indexes {
        return Ok(Reply::Map(vec![
            (Reply::bulk("matches"), Reply::Array(matches)),
            (Reply::bulk("len"), Reply::Integer(total as i64)),
        ]));
    }
    if options.length_only {
        return Ok(Reply::Integer(total as i64));
    }
    Ok(Reply::bulk(result))
}

/// Views a stored value as a string for other families (e.g. COPY, LCS coordination).
pub fn value_as_string(value: &Value) -> Result<StringRef<'_>, CommandError> {
    string_ref(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_shard::TestShard;

    #[test]
    fn set_options_and_conditions() {
        let mut shard = TestShard::new();
        assert_eq!(shard.wire(&["SET", "k", "v", "NX"]), "+OK\r\n");
        assert_eq!(shard.wire(&["SET", "k", "w", "NX"]), "$-1\r\n");
        assert_eq!(shard.wire(&["SET", "k", "w", "XX", "GET"]), "$1\r\nv\r\n");
        assert_eq!(
            shard.wire(&["SET", "k", "x", "NX", "XX"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            shard.wire(&["SET", "k", "x", "EX", "10", "PX", "5"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            shard.wire(&["SET", "k", "x", "EX", "1", "EX", "20"]),
            "+OK\r\n"
        );
        assert_eq!(shard.wire(&["TTL", "k"]), ":20\r\n");
        assert_eq!(shard.wire(&["SET", "k", "y", "KEEPTTL"]), "+OK\r\n");
        assert_eq!(shard.wire(&["TTL", "k"]), ":20\r\n");
        assert_eq!(
            shard.wire(&["SET", "k", "y", "EX", "0"]),
            "-ERR invalid expire time in 'set' command\r\n"
        );
        assert_eq!(shard.wire(&["SET", "k", "z"]), "+OK\r\n");
        assert_eq!(shard.wire(&["TTL", "k"]), ":-1\r\n");
    }

    #[test]
    fn expiry_is_lazy_and_exact() {
        let mut shard = TestShard::new();
        shard.run(&["SET", "k", "v", "PX", "100"]);
        shard.now += 99;
        assert_eq!(shard.wire(&["GET", "k"]), "$1\r\nv\r\n");
        shard.now += 1;
        assert_eq!(shard.wire(&["GET", "k"]), "$-1\r\n");
        assert_eq!(shard.wire(&["EXISTS", "k"]), ":0\r\n");
    }

    #[test]
    fn integer_commands_and_encodings() {
        let mut shard = TestShard::new();
        assert_eq!(shard.wire(&["INCR", "n"]), ":1\r\n");
        assert_eq!(shard.wire(&["INCRBY", "n", "-11"]), ":-10\r\n");
        assert_eq!(shard.wire(&["OBJECT", "ENCODING", "n"]), "$3\r\nint\r\n");
        shard.run(&["SET", "max", "9223372036854775807"]);
        assert_eq!(
            shard.wire(&["INCR", "max"]),
            "-ERR increment or decrement would overflow\r\n"
        );
        assert_eq!(
            shard.wire(&["DECRBY", "n", "-9223372036854775808"]),
            "-ERR decrement would overflow\r\n"
        );
        shard.run(&["SET", "s", "abc"]);
        assert_eq!(
            shard.wire(&["INCR", "s"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(shard.wire(&["INCRBYFLOAT", "f", "0.1"]), "$3\r\n0.1\r\n");
        assert_eq!(shard.wire(&["INCRBYFLOAT", "f", "0.2"]), "$3\r\n0.3\r\n");
        assert_eq!(shard.wire(&["OBJECT", "ENCODING", "f"]), "$6\r\nembstr\r\n");
        assert_eq!(shard.wire(&["APPEND", "s", "d"]), ":4\r\n");
        assert_eq!(shard.wire(&["OBJECT", "ENCODING", "s"]), "$3\r\nraw\r\n");
    }

    #[test]
    fn ranges_and_setrange() {
        let mut shard = TestShard::new();
        shard.run(&["SET", "k", "Hello World"]);
        assert_eq!(
            shard.wire(&["GETRANGE", "k", "-5", "-1"]),
            "$5\r\nWorld\r\n"
        );
        assert_eq!(shard.wire(&["SETRANGE", "k", "6", "Redis"]), ":11\r\n");
        assert_eq!(shard.wire(&["GET", "k"]), "$11\r\nHello Redis\r\n");
        assert_eq!(shard.wire(&["SETRANGE", "new", "3", "x"]), ":4\r\n");
        assert_eq!(shard.wire(&["GET", "new"]), "$4\r\n\0\0\0x\r\n");
        assert_eq!(
            shard.wire(&["SETRANGE", "k", "-1", "x"]),
            "-ERR offset is out of range\r\n"
        );
        assert_eq!(
            shard.wire(&["SETRANGE", "k", "536870911", "xx"]),
            "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
        );
    }

    #[test]
    fn lcs_matches_redis_examples() {
        let mut shard = TestShard::new();
        shard.run(&["MSET", "key1", "ohmytext", "key2", "mynewtext"]);
        assert_eq!(shard.wire(&["LCS", "key1", "key2"]), "$6\r\nmytext\r\n");
        assert_eq!(shard.wire(&["LCS", "key1", "key2", "LEN"]), ":6\r\n");
        // Redis documentation's IDX example.
        assert_eq!(
            shard.wire(&["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"]),
            "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n"
        );
        assert_eq!(
            shard.wire(&["LCS", "key1", "key2", "LEN", "IDX"]),
            "-ERR If you want both the length and indexes, please just use IDX.\r\n"
        );
    }

    #[test]
    fn ranges_follow_getrange() {
        assert_eq!(string_range(0, -1, 5), Some((0, 4)));
        assert_eq!(string_range(-3, -1, 5), Some((2, 4)));
        assert_eq!(string_range(-1, -3, 5), None);
        assert_eq!(string_range(3, 1, 5), None);
        assert_eq!(string_range(0, 100, 5), Some((0, 4)));
        assert_eq!(string_range(0, 0, 0), None);
    }

    #[test]
    fn expire_arguments_follow_redis() {
        let now = 1_000;
        assert_eq!(
            deadline_from(b"10", ExpireUnit::Seconds, now, "set"),
            Ok(11_000)
        );
        assert_eq!(
            deadline_from(b"5", ExpireUnit::UnixMilliseconds, now, "set"),
            Ok(5)
        );
        assert_eq!(
            deadline_from(b"0", ExpireUnit::Seconds, now, "set"),
            Err(CommandError::InvalidExpireTime("set"))
        );
        assert_eq!(
            deadline_from(b"9223372036854775807", ExpireUnit::Seconds, now, "set"),
            Err(CommandError::InvalidExpireTime("set"))
        );
        assert_eq!(
            deadline_from(b"x", ExpireUnit::Seconds, now, "set"),
            Err(CommandError::NotInteger)
        );
    }
}
