//! Keys of any type: DEL UNLINK EXISTS TYPE RENAME RENAMENX COPY MOVE TOUCH EXPIRE
//! PEXPIRE EXPIREAT PEXPIREAT TTL PTTL EXPIRETIME PEXPIRETIME PERSIST OBJECT, plus the
//! per-shard parts of KEYS, SCAN and RANDOMKEY.

use crate::args::{is_keyword, parse_integer};
use crate::spec::Flag;
use crate::spec::{
    check_subcommand, coordinated, keyed, Arity::*, CommandSpec, Coordinated, CrossShard, Exec,
    Flag::*, Group, Handler, KeySpec, Merge, Subcommand,
};
use crate::{ArgReader, CmdResult, CommandError, EventClass, ShardCtx};
use peregrine_keyspace::{glob_match, DbIndex, Entry, UnixMillis, ValueType};
use peregrine_resp::Reply;

const fn sum(handler: Handler) -> Exec {
    Exec::Keyed {
        handler,
        cross: CrossShard::Split(Merge::SumIntegers),
    }
}

/// The generic keys family's table.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec { name: "del",         arity: AtLeast(2), flags: &[Write], keys: KeySpec::ALL, exec: sum(del), group: Group::Generic, summary: "Deletes one or more keys." },
    CommandSpec { name: "unlink",      arity: AtLeast(2), flags: &[Write, Fast], keys: KeySpec::ALL, exec: sum(del), group: Group::Generic, summary: "Asynchronously deletes one or more keys." },
    CommandSpec { name: "exists",      arity: AtLeast(2), flags: &[ReadOnly, Fast], keys: KeySpec::ALL, exec: sum(exists), group: Group::Generic, summary: "Determines whether one or more keys exist." },
    CommandSpec { name: "touch",       arity: AtLeast(2), flags: &[ReadOnly, Fast], keys: KeySpec::ALL, exec: sum(touch), group: Group::Generic, summary: "Returns the number of existing keys out of those specified after updating the time they were last accessed." },
    CommandSpec { name: "type",        arity: Exactly(2), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(type_command), group: Group::Generic, summary: "Determines the type of value stored at a key." },
    CommandSpec { name: "rename",      arity: Exactly(3), flags: &[Write], keys: KeySpec::FIRST_TWO, exec: coordinated(rename, Coordinated::Rename { nx: false }), group: Group::Generic, summary: "Renames a key and overwrites the destination." },
    CommandSpec { name: "renamenx",    arity: Exactly(3), flags: &[Write, Fast], keys: KeySpec::FIRST_TWO, exec: coordinated(renamenx, Coordinated::Rename { nx: true }), group: Group::Generic, summary: "Renames a key only when the target key name doesn't exist." },
    CommandSpec { name: "copy",        arity: AtLeast(3), flags: &[Write, DenyOom], keys: KeySpec::FIRST_TWO, exec: coordinated(copy, Coordinated::Copy), group: Group::Generic, summary: "Copies the value of a key to a new key." },
    CommandSpec { name: "move",        arity: Exactly(3), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(move_command), group: Group::Generic, summary: "Moves a key to another database." },
    CommandSpec { name: "expire",      arity: AtLeast(3), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(expire), group: Group::Generic, summary: "Sets the expiration time of a key in seconds." },
    CommandSpec { name: "pexpire",     arity: AtLeast(3), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(pexpire), group: Group::Generic, summary: "Sets the expiration time of a key in milliseconds." },
    CommandSpec { name: "expireat",    arity: AtLeast(3), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(expireat), group: Group::Generic, summary: "Sets the expiration time of a key to a Unix timestamp." },
    CommandSpec { name: "pexpireat",   arity: AtLeast(3), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(pexpireat), group: Group::Generic, summary: "Sets the expiration time of a key to a Unix milliseconds timestamp." },
    CommandSpec { name: "ttl",         arity: Exactly(2), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(ttl), group: Group::Generic, summary: "Returns the expiration time in seconds of a key." },
    CommandSpec { name: "pttl",        arity: Exactly(2), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(pttl), group: Group::Generic, summary: "Returns the expiration time in milliseconds of a key." },
    CommandSpec { name: "expiretime",  arity: Exactly(2), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(expiretime), group: Group::Generic, summary: "Returns the expiration time of a key as a Unix timestamp." },
    CommandSpec { name: "pexpiretime", arity: Exactly(2), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(pexpiretime), group: Group::Generic, summary: "Returns the expiration time of a key as a Unix milliseconds timestamp." },
    CommandSpec { name: "persist",     arity: Exactly(2), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(persist), group: Group::Generic, summary: "Removes the expiration time of a key." },
    CommandSpec { name: "object",      arity: AtLeast(2), flags: &[ReadOnly], keys: KeySpec { first: 2, last: 2, step: 1, find: None }, exec: keyed(object), group: Group::Generic, summary: "A container for object introspection commands." },
];

/// DEL key [key ...] (also UNLINK)
///
/// O(N). The number of keys removed.
fn del(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let now = shard.now;
    let mut removed = 0;
    for key in args.rest() {
        let db = shard.db();
        db.expire_if_needed(key, now);
        if db.remove(key).is_some() {
            removed += 1;
            shard.notify(EventClass::Generic, "del", key);
        }
    }
    shard.mark_dirty(removed as u64);
    Ok(Reply::Integer(removed))
}

/// EXISTS key [key ...]
///
/// O(N). How many of the keys exist (a key named twice counts twice).
fn exists(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let now = shard.now;
    let mut count = 0;
    for key in args.rest() {
        if shard.db().contains(key, now) {
            count += 1;
        } else {
            shard.notify_miss(key);
        }
    }
    Ok(Reply::Integer(count))
}

/// TOUCH key [key ...]
///
/// O(N). How many of the keys exist; records an access on each.
fn touch(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let count = args
        .rest()
        .iter()
        .filter(|key| shard.lookup_read(key).is_some())
        .count();
    Ok(Reply::Integer(count as i64))
}

/// TYPE key
///
/// O(1). The type name, `none` when missing.
fn type_command(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let now = shard.now;
    let name = match shard.db().get(key, now) {
        Some(entry) => entry.value.value_type().name(),
        None => {
            shard.notify_miss(key);
            "none"
        }
    };
    Ok(Reply::status(name))
}

/// RENAME key newkey
///
/// O(1). OK; an error when the key does not exist.
fn rename(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    rename_generic(shard, args, false)
}

/// RENAMENX key newkey
///
/// O(1). 1 when renamed, 0 when the new key exists.
fn renamenx(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    rename_generic(shard, args, true)
}

fn rename_generic(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>, nx: bool) -> CmdResult {
    let (source, destination) = (args.required()?, args.required()?);
    let now = shard.now;
    let db = shard.db();
    if !db.contains(source, now) {
        return Err(CommandError::NoSuchKey);
    }
    if source == destination {
        return Ok(if nx { Reply::Integer(0) } else { Reply::Ok });
    }
    if db.contains(destination, now) && nx {
        return Ok(Reply::Integer(0));
    }
    let Some((entry, deadline)) = db.remove_with_deadline(source) else {
        return Err(CommandError::NoSuchKey);
    };
    db.insert_entry(destination, entry, deadline);
    shard.mark_dirty(1);
    // Redis adds the destination anew even over an existing key.
    shard.notify_new(destination);
    shard.notify(EventClass::Generic, "rename_from", source);
    shard.notify(EventClass::Generic, "rename_to", destination);
    Ok(if nx { Reply::Integer(1) } else { Reply::Ok })
}

/// COPY's parsed options.
pub struct CopyOptions {
    /// The destination database.
    pub destination_db: DbIndex,
    /// Overwrite an existing destination.
    pub replace: bool,
}

impl CopyOptions {
    /// Parses `[DB n] [REPLACE]` after the two keys; `current` is the client's database.
    pub fn parse(
        args: &mut ArgReader<'_>,
        current: DbIndex,
        db_count: u32,
    ) -> Result<CopyOptions, CommandError> {
        let mut options = CopyOptions {
            destination_db: current,
            replace: false,
        };
        while let Some(arg) = args.next_arg() {
            if is_keyword(arg, "replace") {
                options.replace = true;
            } else if is_keyword(arg, "db") && args.remaining() > 0 {
                let index = args.integer()?;
                if index < 0 || index >= i64::from(db_count) || index > i64::from(i32::MAX) {
                    return Err(CommandError::DbIndexOutOfRange);
                }
                options.destination_db = DbIndex(index as u32);
            } else {
                return Err(CommandError::Syntax);
            }
        }
        Ok(options)
    }
}

/// COPY source destination [DB destination-db] [REPLACE]
///
/// O(N) in the value's size. 1 when copied, 0 otherwise.
fn copy(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let (source, destination) = (args.required()?, args.required()?);
    let options = CopyOptions::parse(args, shard.db, shard.keyspace.db_count())?;
    if options.destination_db == shard.db && source == destination {
        return Err(CommandError::SameObject);
    }
    let now = shard.now;
    let Some((entry, deadline)) = read_entry(shard, source) else {
        shard.notify_miss(source);
        return Ok(Reply::Integer(0));
    };
    let target = shard.keyspace.db(options.destination_db);
    if target.contains(destination, now) {
        if !options.replace {
            return Ok(Reply::Integer(0));
        }
        target.remove(destination);
    }
    target.insert_entry(destination, entry, deadline);
    shard.mark_dirty(1);
    let target = options.destination_db;
    shard.notify_in(target, EventClass::New, "new", destination);
    shard.notify_in(target, EventClass::Generic, "copy_to", destination);
    Ok(Reply::Integer(1))
}

/// A copy of the live entry under `key` in the client's database, with its deadline.
pub fn read_entry(shard: &mut ShardCtx<'_>, key: &[u8]) -> Option<(Entry, Option<UnixMillis>)> {
    let now = shard.now;
    let db = shard.db();
    let entry = db.get(key, now)?.clone();
    let deadline = db.deadline(key);
    Some((entry, deadline))
}

/// MOVE key db
///
/// O(1). 1 when moved, 0 when missing here or present there.
fn move_command(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let index = parse_integer(args.required()?)?;
    if index < 0 || index >= i64::from(shard.keyspace.db_count()) || index > i64::from(i32::MAX) {
        return Err(CommandError::DbIndexOutOfRange);
    }
    let target_index = DbIndex(index as u32);
    if target_index == shard.db {
        return Err(CommandError::SameObject);
    }
    let now = shard.now;
    if !shard.db().contains(key, now) {
        return Ok(Reply::Integer(0));
    }
    if shard.keyspace.db(target_index).contains(key, now) {
        return Ok(Reply::Integer(0));
    }
    let Some((entry, deadline)) = shard.db().remove_with_deadline(key) else {
        return Ok(Reply::Integer(0));
    };
    shard
        .keyspace
        .db(target_index)
        .insert_entry(key, entry, deadline);
    shard.mark_dirty(1);
    shard.notify_in(target_index, EventClass::New, "new", key);
    shard.notify(EventClass::Generic, "move_from", key);
    shard.notify_in(target_index, EventClass::Generic, "move_to", key);
    Ok(Reply::Integer(1))
}

/// The unit and base of the EXPIRE family.
#[derive(Clone, Copy)]
struct ExpireKind {
    seconds: bool,
    absolute: bool,
}

/// EXPIRE key seconds [NX | XX | GT | LT]
fn expire(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    expire_generic(
        shard,
        args,
        ExpireKind {
            seconds: true,
            absolute: false,
        },
    )
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT]
fn pexpire(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    expire_generic(
        shard,
        args,
        ExpireKind {
            seconds: false,
            absolute: false,
        },
    )
}

/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
fn expireat(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    expire_generic(
        shard,
        args,
        ExpireKind {
            seconds: true,
            absolute: true,
        },
    )
}

/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
fn pexpireat(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    expire_generic(
        shard,
        args,
        ExpireKind {
            seconds: false,
            absolute: true,
        },
    )
}

/// The condition flags of the EXPIRE family.
#[derive(Default)]
struct ExpireCondition {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl ExpireCondition {
    fn parse(args: &mut ArgReader<'_>) -> Result<ExpireCondition, CommandError> {
        let mut condition = ExpireCondition::default();
        while let Some(arg) = args.next_arg() {
            if is_keyword(arg, "nx") {
                condition.nx = true;
            } else if is_keyword(arg, "xx") {
                condition.xx = true;
            } else if is_keyword(arg, "gt") {
                condition.gt = true;
            } else if is_keyword(arg, "lt") {
                condition.lt = true;
            } else {
                return Err(CommandError::other(format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(arg)
                )));
            }
        }
        if condition.nx && (condition.xx || condition.gt || condition.lt) {
            return Err(CommandError::other(
                "ERR NX and XX, GT or LT options at the same time are not compatible",
            ));
        }
        if condition.gt && condition.lt {
            return Err(CommandError::other(
                "ERR GT and LT options at the same time are not compatible",
            ));
        }
        Ok(condition)
    }
}

/// The one implementation of EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT, as Redis's
/// `expireGenericCommand` (negative times delete the key).
fn expire_generic(
    shard: &mut ShardCtx<'_>,
    args: &mut ArgReader<'_>,
    kind: ExpireKind,
) -> CmdResult {
    let key = args.required()?;
    let amount = args.required()?;
    let condition = ExpireCondition::parse(args)?;
    let mut when = parse_integer(amount)?;
    let invalid = || CommandError::InvalidExpireTime(command_name(kind));
    if kind.seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return Err(invalid());
        }
        when *= 1000;
    }
    let base = if kind.absolute { 0 } else { shard.now as i64 };
    when = when.checked_add(base).ok_or_else(invalid)?;
    let now = shard.now;
    let db = shard.db();
    if !db.contains(key, now) {
        return Ok(Reply::Integer(0));
    }
    let current = db.deadline(key).map(|at| at as i64);
    let refused = (condition.nx && current.is_some())
        || (condition.xx && current.is_none())
        || (condition.gt && current.is_none_or(|at| when <= at))
        || (condition.lt && current.is_some_and(|at| when >= at));
    if refused {
        return Ok(Reply::Integer(0));
    }
    if when <= now as i64 {
        db.remove(key);
        shard.notify(EventClass::Generic, "del", key);
    } else {
        db.set_deadline(key, when as UnixMillis);
        shard.notify(EventClass::Generic, "expire", key);
    }
    shard.mark_dirty(1);
    Ok(Reply::Integer(1))
}

fn command_name(kind: ExpireKind) -> &'static str {
    match (kind.seconds, kind.absolute) {
        (true, false) => "expire",
        (false, false) => "pexpire",
        (true, true) => "expireat",
        (false, true) => "pexpireat",
    }
}

/// How TTL-family commands report a deadline.
#[derive(Clone, Copy)]
enum TtlForm {
    RemainingSeconds,
    RemainingMillis,
    AbsoluteSeconds,
    AbsoluteMillis,
}

/// TTL key
fn ttl(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    ttl_generic(shard, args, TtlForm::RemainingSeconds)
}

/// PTTL key
fn pttl(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    ttl_generic(shard, args, TtlForm::RemainingMillis)
}

/// EXPIRETIME key
fn expiretime(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    ttl_generic(shard, args, TtlForm::AbsoluteSeconds)
}

/// PEXPIRETIME key
fn pexpiretime(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    ttl_generic(shard, args, TtlForm::AbsoluteMillis)
}

/// The one implementation of the TTL family: -2 when missing, -1 without deadline.
fn ttl_generic(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>, form: TtlForm) -> CmdResult {
    let key = args.required()?;
    if shard.lookup_read(key).is_none() {
        return Ok(Reply::Integer(-2));
    }
    let now = shard.now as i64;
    let Some(at) = shard.db().deadline(key) else {
        return Ok(Reply::Integer(-1));
    };
    let at = at as i64;
    let remaining = (at - now).max(0);
    Ok(Reply::Integer(match form {
        TtlForm::RemainingSeconds => (remaining + 500) / 1000,
        TtlForm::RemainingMillis => remaining,
        TtlForm::AbsoluteSeconds => at / 1000,
        TtlForm::AbsoluteMillis => at,
    }))
}

/// PERSIST key
///
/// O(1). 1 when a deadline was removed.
fn persist(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let now = shard.now;
    let db = shard.db();
    if !db.contains(key, now) {
        return Ok(Reply::Integer(0));
    }
    let removed = db.persist(key);
    if removed {
        shard.mark_dirty(1);
        shard.notify(EventClass::Generic, "persist", key);
    }
    Ok(Reply::Integer(i64::from(removed)))
}

/// OBJECT's subcommands.
#[rustfmt::skip]
pub const OBJECT_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "encoding", full_name: "object|encoding", arity: Exactly(3), flags: &[Flag::ReadOnly], keys: KeySpec { first: 2, last: 2, step: 1, find: None } },
    Subcommand { name: "freq",     full_name: "object|freq", arity: Exactly(3), flags: &[Flag::ReadOnly], keys: KeySpec { first: 2, last: 2, step: 1, find: None } },
    Subcommand { name: "idletime", full_name: "object|idletime", arity: Exactly(3), flags: &[Flag::ReadOnly], keys: KeySpec { first: 2, last: 2, step: 1, find: None } },
    Subcommand { name: "refcount", full_name: "object|refcount", arity: Exactly(3), flags: &[Flag::ReadOnly], keys: KeySpec { first: 2, last: 2, step: 1, find: None } },
    Subcommand { name: "help",     full_name: "object|help", arity: Exactly(2), flags: &[Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
];

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Print this help.",
];

/// OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT key, OBJECT HELP
///
/// O(1). Introspection without recording an access.
fn object(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let name = check_subcommand("object", OBJECT_SUBCOMMANDS, args.argv())?.name;
    let subcommand = args.required()?;
    if name == "help" {
        return Ok(Reply::help(OBJECT_HELP));
    }
    let key = args.required()?;
    let now = shard.now;
    let lfu = shard.limits.lfu_policy;
    let Some(entry) = shard.db().get(key, now) else {
        return Ok(Reply::Nil);
    };
    if is_keyword(subcommand, "encoding") {
        Ok(Reply::bulk(entry.value.encoding_name()))
    } else if is_keyword(subcommand, "refcount") {
        let shared = matches!(entry.value, peregrine_keyspace::Value::Int(value) if (0..10_000).contains(&value));
        Ok(Reply::Integer(if shared { i64::from(i32::MAX) } else { 1 }))
    } else if is_keyword(subcommand, "idletime") {
        if lfu {
            return Err(CommandError::other("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
        }
        Ok(Reply::Integer(entry.idle_seconds(now) as i64))
    } else {
        if !lfu {
            return Err(CommandError::other("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
        }
        Ok(Reply::Integer(0))
    }
}

/// One step of SCAN on this shard's current database: continues from `cursor`, returns the
/// next cursor and the live keys visited that pass the filters.
pub fn scan_step(
    shard: &mut ShardCtx<'_>,
    cursor: u64,
    count: usize,
    pattern: Option<&[u8]>,
    value_type: Option<ValueType>,
) -> (u64, Vec<Vec<u8>>) {
    let now = shard.now;
    let mut visited: Vec<Vec<u8>> = Vec::new();
    let mut cursor = cursor;
    let db = shard.db();
    loop {
        cursor = db.scan(cursor, |key, _| visited.push(key.to_vec()));
        if cursor == 0 || visited.len() >= count {
            break;
        }
    }
    let keys = visited
        .into_iter()
        .filter(|key| pattern.is_none_or(|pattern| glob_match(pattern, key)))
        .filter(|key| match db.get(key, now) {
            None => false,
            Some(entry) => value_type.is_none_or(|wanted| entry.value.value_type() == wanted),
        })
        .collect();
    (cursor, keys)
}

/// A random live key of this shard's current database (RANDOMKEY's part).
pub fn random_key(shard: &mut ShardCtx<'_>) -> Option<Vec<u8>> {
    let now = shard.now;
    let random = &mut *shard.random;
    let db = shard.keyspace.db(shard.db);
    for _ in 0..100 {
        let key = db.random_key(|| random.next_u64())?.to_vec();
        if db.get(&key, now).is_some() {
            return Some(key);
        }
    }
    None
}

/// The options of HSCAN/SSCAN/ZSCAN after the cursor: `[MATCH pattern] [COUNT count]`
/// (COUNT at least 1), with Redis's errors. A `*` pattern is no pattern.
pub fn parse_collection_scan_options<'a>(
    args: &mut ArgReader<'a>,
) -> Result<(usize, Option<&'a [u8]>), CommandError> {
    let (mut count, mut pattern) = (10usize, None);
    while let Some(option) = args.next_arg() {
        let value = args.next_arg().ok_or(CommandError::Syntax)?;
        if is_keyword(option, "count") {
            let parsed = parse_integer(value)?;
            if parsed < 1 {
                return Err(CommandError::Syntax);
            }
            count = usize::try_from(parsed).unwrap_or(usize::MAX);
        } else if is_keyword(option, "match") {
            pattern = (value != b"*").then_some(value);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok((count, pattern))
}

/// Parses a SCAN/HSCAN/SSCAN/ZSCAN cursor as Redis 7.2's `string2ull`: a canonical integer must not be
/// negative; anything else goes through `strtoull` (leading spaces, a sign, digits).
pub fn parse_scan_cursor(arg: &[u8]) -> Result<u64, CommandError> {
    let invalid = || CommandError::other("ERR invalid cursor");
    if let Ok(value) = parse_integer(arg) {
        return u64::try_from(value).map_err(|_| invalid());
    }
    let text = std::str::from_utf8(arg).map_err(|_| invalid())?;
    let text = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, digits) = match text.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(invalid());
    }
    let magnitude: u64 = digits.parse().map_err(|_| invalid())?;
    Ok(if negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    })
}

#[cfg(test)]
mod tests {
    use crate::test_shard::TestShard;

    #[test]
    fn expire_conditions_follow_redis() {
        let mut shard = TestShard::new();
        shard.run(&["SET", "k", "v"]);
        assert_eq!(shard.wire(&["EXPIRE", "k", "100", "XX"]), ":0\r\n");
        assert_eq!(shard.wire(&["EXPIRE", "k", "100", "NX"]), ":1\r\n");
        assert_eq!(shard.wire(&["EXPIRE", "k", "50", "GT"]), ":0\r\n");
        assert_eq!(shard.wire(&["EXPIRE", "k", "50", "LT"]), ":1\r\n");
        assert_eq!(shard.wire(&["TTL", "k"]), ":50\r\n");
        assert_eq!(
            shard.wire(&["EXPIRE", "k", "5", "NX", "XX"]),
            "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
        );
        assert_eq!(
            shard.wire(&["EXPIRE", "k", "5", "FOO"]),
            "-ERR Unsupported option FOO\r\n"
        );
        assert_eq!(shard.wire(&["PERSIST", "k"]), ":1\r\n");
        assert_eq!(shard.wire(&["TTL", "k"]), ":-1\r\n");
        assert_eq!(shard.wire(&["EXPIRE", "k", "-1"]), ":1\r\n");
        assert_eq!(shard.wire(&["EXISTS", "k"]), ":0\r\n");
        assert_eq!(shard.wire(&["TTL", "k"]), ":-2\r\n");
    }

    #[test]
    fn rename_copy_move_keep_ttl() {
        let mut shard = TestShard::new();
        shard.run(&["SET", "a", "1", "EX", "100"]);
        assert_eq!(shard.wire(&["RENAME", "a", "b"]), "+OK\r\n");
        assert_eq!(shard.wire(&["TTL", "b"]), ":100\r\n");
        assert_eq!(shard.wire(&["RENAME", "a", "b"]), "-ERR no such key\r\n");
        assert_eq!(shard.wire(&["COPY", "b", "c"]), ":1\r\n");
        assert_eq!(shard.wire(&["COPY", "b", "c"]), ":0\r\n");
        assert_eq!(shard.wire(&["COPY", "b", "c", "REPLACE"]), ":1\r\n");
        assert_eq!(
            shard.wire(&["COPY", "b", "b"]),
            "-ERR source and destination objects are the same\r\n"
        );
        assert_eq!(shard.wire(&["MOVE", "c", "1"]), ":1\r\n");
        assert_eq!(
            shard.wire(&["MOVE", "c", "99"]),
            "-ERR DB index is out of range\r\n"
        );
        shard.db = peregrine_keyspace::DbIndex(1);
        assert_eq!(shard.wire(&["TTL", "c"]), ":100\r\n");
        assert_eq!(shard.wire(&["TYPE", "c"]), "+string\r\n");
    }

    #[test]
    fn object_subcommands() {
        let mut shard = TestShard::new();
        shard.run(&["SET", "k", "hello"]);
        assert_eq!(shard.wire(&["OBJECT", "ENCODING", "k"]), "$6\r\nembstr\r\n");
        assert_eq!(shard.wire(&["OBJECT", "ENCODING", "missing"]), "$-1\r\n");
        assert_eq!(
            shard.wire(&["OBJECT", "ENCODING", "k", "extra"]),
            "-ERR wrong number of arguments for 'object|encoding' command\r\n"
        );
        assert_eq!(
            shard.wire(&["OBJECT", "NOPE", "k"]),
            "-ERR unknown subcommand 'NOPE'. Try OBJECT HELP.\r\n"
        );
        assert!(shard
            .wire(&["OBJECT", "FREQ", "k"])
            .starts_with("-ERR An LFU maxmemory policy is not selected"));
        shard.now += 5_000;
        assert_eq!(shard.wire(&["OBJECT", "IDLETIME", "k"]), ":5\r\n");
    }
}
