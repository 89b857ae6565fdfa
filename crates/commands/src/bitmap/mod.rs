//! Bitmaps: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO.
//!
//! Bitmaps are strings: bit 0 is the most significant bit of the first byte, bytes past
//! the end read as zero, and writes grow the string with zero bytes (converting it to
//! the raw encoding, as Redis unshares it). An integer-encoded string is read through its
//! decimal text. Offsets are limited by `proto-max-bulk-len` as in Redis's
//! `getBitOffsetFromArgument`. Counting and searching go a 64-bit word at a time
//! ([`bits`]).
//!
//! Differences from Redis: none intended for 7.2. BITOP knows AND, OR, XOR and NOT
//! (DIFF, DIFF1, ANDOR and ONE came with Redis 8.2 and are a syntax error here, as in
//! 7.2); BITCOUNT and BITPOS look the key up before they parse their range, so a missing
//! key answers 0 (BITPOS: -1 or 0) whatever the range, as 7.2 does (8.0 changed it).

pub mod bits;
#[cfg(test)]
mod tests;

use crate::args::parse_integer;
use crate::context::{string_ref, StringRef};
use crate::spec::{keyed, scratch, Arity::*, CommandSpec, Flag::*, Group, KeySpec};
use crate::string::make_raw;
use crate::{ArgReader, CmdResult, CommandError, EventClass, ShardCtx};
use bits::Overflow;
use peregrine_keyspace::Value;
use peregrine_resp::Reply;

const G: Group = Group::Bitmap;

/// BITOP operation destkey key [key ...]: the destination, then every source.
const BITOP_KEYS: KeySpec = KeySpec {
    first: 2,
    last: -1,
    step: 1,
    find: None,
};

/// The bitmap family's table.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec { name: "setbit",      arity: Exactly(4), flags: &[Write, DenyOom], keys: KeySpec::FIRST, exec: keyed(setbit), group: G, summary: "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist." },
    CommandSpec { name: "getbit",      arity: Exactly(3), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(getbit), group: G, summary: "Returns a bit value by offset." },
    CommandSpec { name: "bitcount",    arity: AtLeast(2), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(bitcount), group: G, summary: "Counts the number of set bits (population counting) in a string." },
    CommandSpec { name: "bitpos",      arity: AtLeast(3), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(bitpos), group: G, summary: "Finds the first set (1) or clear (0) bit in a string." },
    CommandSpec { name: "bitop",       arity: AtLeast(4), flags: &[Write, DenyOom], keys: BITOP_KEYS, exec: scratch(bitop), group: G, summary: "Performs bitwise operations on multiple strings, and stores the result." },
    CommandSpec { name: "bitfield",    arity: AtLeast(2), flags: &[Write, DenyOom], keys: KeySpec::FIRST, exec: keyed(bitfield), group: G, summary: "Performs arbitrary bitfield integer operations on strings." },
    CommandSpec { name: "bitfield_ro", arity: AtLeast(2), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(bitfield_ro), group: G, summary: "Performs arbitrary read-only bitfield integer operations on strings." },
];

fn bit_offset_error() -> CommandError {
    CommandError::other("ERR bit offset is not an integer or out of range")
}

fn bit_value_error() -> CommandError {
    CommandError::other("ERR bit is not an integer or out of range")
}

fn field_type_error() -> CommandError {
    CommandError::other(
        "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
    )
}

/// The argument up to its first NUL byte: what Redis's `strcasecmp` and `strlen` see.
fn c_string(arg: &[u8]) -> &[u8] {
    arg.iter()
        .position(|&byte| byte == 0)
        .map_or(arg, |end| &arg[..end])
}

/// Redis's `!strcasecmp(arg, keyword)`.
fn is_c_keyword(arg: &[u8], keyword: &str) -> bool {
    c_string(arg).eq_ignore_ascii_case(keyword.as_bytes())
}

/// Redis's `getBitOffsetFromArgument`: a non-negative integer whose byte (`offset / 8`)
/// is below `proto-max-bulk-len`. With `field_bits` (BITFIELD), `#n` means `n` fields of
/// that width (the product wraps as Redis's C arithmetic does).
fn parse_bit_offset(arg: &[u8], field_bits: Option<u32>, limit: u64) -> Result<u64, CommandError> {
    let (digits, multiplier) = match (arg.split_first(), field_bits) {
        (Some((b'#', rest)), Some(bits)) => (rest, Some(bits)),
        _ => (arg, None),
    };
    let mut offset = parse_integer(digits).map_err(|_| bit_offset_error())?;
    if let Some(bits) = multiplier {
        offset = offset.wrapping_mul(i64::from(bits));
    }
    if offset < 0 || (offset as u64 >> 3) >= limit {
        return Err(bit_offset_error());
    }
    Ok(offset as u64)
}

/// BITCOUNT and BITPOS's optional unit: `BIT` (true) or `BYTE` (false).
fn parse_unit(arg: &[u8]) -> Result<bool, CommandError> {
    if is_c_keyword(arg, "bit") {
        Ok(true)
    } else if is_c_keyword(arg, "byte") {
        Ok(false)
    } else {
        Err(CommandError::Syntax)
    }
}

/// A BITCOUNT / BITPOS range resolved to bytes: `start..=end` (empty when `start >
/// end`), and for a BIT range the bits of the first and last bytes that lie outside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ByteRange {
    start: i64,
    end: i64,
    first_outside: u8,
    last_outside: u8,
}

impl ByteRange {
    /// Resolves `start` and `end` (negative: from the end; in bits when `bit_mode`) over
    /// a string of `length` bytes, clamping as Redis does.
    fn resolve(start: i64, end: i64, length: usize, bit_mode: bool) -> ByteRange {
        let length = length as i64;
        let total = if bit_mode { length << 3 } else { length };
        let mut start = if start < 0 { total + start } else { start };
        let mut end = if end < 0 { total + end } else { end };
        start = start.max(0);
        end = end.max(0);
        if end >= total {
            end = total - 1;
        }
        let (mut first_outside, mut last_outside) = (0, 0);
        if bit_mode && start <= end {
            first_outside = (!((1u16 << (8 - (start & 7))) - 1)) as u8;
            last_outside = ((1u16 << (7 - (end & 7))) - 1) as u8;
            start >>= 3;
            end >>= 3;
        }
        ByteRange {
            start,
            end,
            first_outside,
            last_outside,
        }
    }

    /// The whole string.
    fn whole(length: usize) -> ByteRange {
        ByteRange {
            start: 0,
            end: length as i64 - 1,
            first_outside: 0,
            last_outside: 0,
        }
    }
}

/// SETBIT key offset value
///
/// O(1) (plus zero-filling when the string grows). The bit's previous value.
fn setbit(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let offset = parse_bit_offset(args.required()?, None, shard.limits.proto_max_bulk_len)?;
    let on = parse_integer(args.required()?)
        .ok()
        .filter(|value| value & !1 == 0)
        .ok_or_else(bit_value_error)?;
    let on = on == 1;
    let (previous, changed) = write_bits(shard, key, offset, |bytes, grown| {
        let byte = &mut bytes[(offset >> 3) as usize];
        let mask = 0x80u8 >> (offset & 7);
        let previous = *byte & mask != 0;
        if on {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
        (previous, grown || previous != on)
    })?;
    if changed {
        shard.mark_dirty(1);
        shard.notify(EventClass::String, "setbit", key);
    }
    Ok(Reply::Integer(i64::from(previous)))
}

/// Redis's `lookupStringForBitCommand`: the string under `key` for writing bits up to
/// bit `last_bit`: created when missing (with its `new` event), converted to the raw
/// encoding, grown with zero bytes to cover that bit. `write` gets its bytes and whether
/// the string was created or grew; WRONGTYPE for another type.
fn write_bits<T>(
    shard: &mut ShardCtx<'_>,
    key: &[u8],
    last_bit: u64,
    write: impl FnOnce(&mut [u8], bool) -> T,
) -> Result<T, CommandError> {
    let needed = usize::try_from(last_bit >> 3)
        .ok()
        .and_then(|byte| byte.checked_add(1))
        .ok_or(CommandError::StringTooLong)?;
    let now = shard.now;
    let (entry, created) = shard
        .db()
        .lookup_or_insert(key, now, || Value::Raw(Box::default()));
    if !matches!(
        entry.value,
        Value::Int(_) | Value::Embedded(_) | Value::Raw(_)
    ) {
        return Err(CommandError::WrongType);
    }
    let bytes = make_raw(&mut entry.value);
    let grown = created || bytes.len() < needed;
    if bytes.len() < needed {
        bytes.resize(needed, 0);
    }
    let result = write(bytes, grown);
    if created {
        shard.notify_new(key);
    }
    Ok(result)
}

/// GETBIT key offset
///
/// O(1). The bit at offset (0 past the end or for a missing key).
fn getbit(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let offset = parse_bit_offset(args.required()?, None, shard.limits.proto_max_bulk_len)?;
    let bit = match shard.read_string(key)? {
        Some(text) => bits::get_bit(text.as_bytes(), offset),
        None => false,
    };
    Ok(Reply::Integer(i64::from(bit)))
}

/// BITCOUNT key [start end [BYTE | BIT]]
///
/// O(N) in the range, counted a word at a time. The number of set bits.
fn bitcount(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let argc = args.argv().len();
    let key = args.required()?;
    // Redis 7.2 looks the key up first: a missing key is 0 whatever follows.
    let Some(text) = shard.read_string(key)? else {
        return Ok(Reply::Integer(0));
    };
    let bytes = text.as_bytes();
    let range = match argc {
        2 => ByteRange::whole(bytes.len()),
        4 | 5 => {
            let start = args.integer()?;
            let end = args.integer()?;
            if start < 0 && end < 0 && start > end {
                return Ok(Reply::Integer(0));
            }
            let bit_mode = match args.next_arg() {
                Some(unit) => parse_unit(unit)?,
                None => false,
            };
            ByteRange::resolve(start, end, bytes.len(), bit_mode)
        }
        _ => return Err(CommandError::Syntax),
    };
    if range.start > range.end {
        return Ok(Reply::Integer(0));
    }
    let (start, end) = (range.start as usize, range.end as usize);
    let mut count = bits::popcount(&bytes[start..=end]);
    let outside = [
        bytes[start] & range.first_outside,
        bytes[end] & range.last_outside,
    ];
    count -= bits::popcount(&outside);
    Ok(Reply::Integer(count as i64))
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
///
/// O(N) in the range, skipping a word at a time. The position of the first bit equal to
/// `bit`, or -1; without an end, a clear bit is found past the string's end.
fn bitpos(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let argc = args.argv().len();
    let key = args.required()?;
    let bit = args.integer()?;
    if bit != 0 && bit != 1 {
        return Err(CommandError::other("ERR The bit argument must be 1 or 0."));
    }
    let bit = bit == 1;
    // Redis 7.2 looks the key up before it parses the range.
    let Some(text) = shard.read_string(key)? else {
        return Ok(Reply::Integer(if bit { -1 } else { 0 }));
    };
    let bytes = text.as_bytes();
    let mut end_given = false;
    let range = match argc {
        3 => ByteRange::whole(bytes.len()),
        4..=6 => {
            let argv = args.argv();
            let start = args.integer()?;
            let bit_mode = match argv.get(5) {
                Some(unit) => parse_unit(unit)?,
                None => false,
            };
            let end = match argv.get(4) {
                Some(end) => {
                    end_given = true;
                    parse_integer(end)?
                }
                None if bit_mode => ((bytes.len() as i64) << 3) + 7,
                None => bytes.len() as i64 - 1,
            };
            ByteRange::resolve(start, end, bytes.len(), bit_mode)
        }
        _ => return Err(CommandError::Syntax),
    };
    if range.start > range.end {
        return Ok(Reply::Integer(-1));
    }
    Ok(Reply::Integer(first_bit_in_range(
        bytes, range, bit, end_given,
    )))
}

/// BITPOS's search over a non-empty resolved range, as Redis's `bitposCommand`: the
/// partial first and last bytes of a BIT range are searched with their outside bits
/// forced to the opposite value, the whole bytes between a word at a time.
fn first_bit_in_range(bytes: &[u8], range: ByteRange, bit: bool, end_given: bool) -> i64 {
    let mask_byte = |byte: u8, outside: u8| {
        if bit {
            byte & !outside
        } else {
            byte | outside
        }
    };
    let mut start = range.start as usize;
    let end = range.end as usize;
    let mut remaining = end - start + 1;
    let position = 'search: {
        if range.first_outside != 0 {
            let mut first = mask_byte(bytes[start], range.first_outside);
            if range.last_outside != 0 && remaining == 1 {
                first = mask_byte(first, range.last_outside);
            }
            let position = bits::first_bit(&[first], bit);
            if remaining == 1 || (position != -1 && position != 8) {
                break 'search position;
            }
            start += 1;
            remaining -= 1;
        }
        let whole = remaining - usize::from(range.last_outside != 0);
        if whole > 0 {
            let position = bits::first_bit(&bytes[start..start + whole], bit);
            if remaining == whole || (position != -1 && position != (whole as i64) << 3) {
                break 'search position;
            }
            start += whole;
            remaining -= whole;
        }
        bits::first_bit(&[mask_byte(bytes[end], range.last_outside)], bit)
    };
    // With an explicit end, the bits past the range are not taken as zeros.
    if end_given && !bit && position == (remaining as i64) << 3 {
        return -1;
    }
    if position == -1 {
        -1
    } else {
        position + ((start as i64) << 3)
    }
}

/// A BITOP operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BitOperation {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP AND | OR | XOR | NOT destkey key [key ...]
///
/// O(N) in the sources' total length. Stores the result (deleting the destination when
/// every source is empty) and replies its length.
fn bitop(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let name = args.required()?;
    let operation = [
        ("and", BitOperation::And),
        ("or", BitOperation::Or),
        ("xor", BitOperation::Xor),
        ("not", BitOperation::Not),
    ]
    .into_iter()
    .find(|(keyword, _)| is_c_keyword(name, keyword))
    .map(|(_, operation)| operation)
    .ok_or(CommandError::Syntax)?;
    let destination = args.required()?;
    let sources = args.rest();
    if operation == BitOperation::Not && sources.len() != 1 {
        return Err(CommandError::other(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    // Each source is looked up as Redis does (statistics, lazy expiry, `keymiss`), up to
    // the first of another type; then all are read at once through shared references.
    let mut longest = 0;
    for key in sources {
        if let Some(text) = shard.read_string(key)? {
            longest = longest.max(text.as_bytes().len());
        }
    }
    let now = shard.now;
    let result = (longest > 0).then(|| {
        let db = shard.keyspace.db_ref(shard.db);
        let texts: Vec<Option<StringRef<'_>>> = sources
            .iter()
            .map(|key| {
                db.get_live(key, now)
                    .and_then(|entry| string_ref(&entry.value).ok())
            })
            .collect();
        combine(operation, &texts, longest)
    });
    match result {
        Some(result) => {
            let created = shard
                .db()
                .set(destination, Value::Raw(Box::new(result)), None, now)
                .is_none();
            if created {
                shard.notify_new(destination);
            }
            shard.notify(EventClass::String, "set", destination);
            shard.mark_dirty(1);
        }
        None => {
            shard.expire_if_due(destination);
            if shard.db().remove(destination).is_some() {
                shard.notify(EventClass::Generic, "del", destination);
                shard.mark_dirty(1);
            }
        }
    }
    Ok(Reply::Integer(longest as i64))
}

/// The bytes of `operation` over `sources` (missing ones are empty), each zero-padded
/// to `length`.
fn combine(operation: BitOperation, sources: &[Option<StringRef<'_>>], length: usize) -> Vec<u8> {
    let mut result = vec![0u8; length];
    let mut sources = sources
        .iter()
        .map(|source| source.as_ref().map_or(&[][..], |text| text.as_bytes()));
    if let Some(first) = sources.next() {
        result[..first.len()].copy_from_slice(first);
    }
    match operation {
        BitOperation::Not => result.iter_mut().for_each(|byte| *byte = !*byte),
        BitOperation::And => {
            for source in sources {
                for (target, byte) in result.iter_mut().zip(source) {
                    *target &= byte;
                }
                result[source.len()..].fill(0);
            }
        }
        BitOperation::Or => {
            for source in sources {
                for (target, byte) in result.iter_mut().zip(source) {
                    *target |= byte;
                }
            }
        }
        BitOperation::Xor => {
            for source in sources {
                for (target, byte) in result.iter_mut().zip(source) {
                    *target ^= byte;
                }
            }
        }
    }
    result
}

/// What one BITFIELD subcommand does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FieldAction {
    Get,
    Set,
    IncrBy,
}

/// One parsed BITFIELD subcommand.
#[derive(Clone, Copy, Debug)]
struct FieldOperation {
    action: FieldAction,
    signed: bool,
    bits: u32,
    offset: u64,
    /// SET's value or INCRBY's increment.
    value: i64,
    overflow: Overflow,
}

/// BITFIELD's type argument, as Redis's `getBitfieldTypeFromArgument`: `i1` to `i64`
/// or `u1` to `u63` (case-sensitive).
fn parse_field_type(arg: &[u8]) -> Result<(bool, u32), CommandError> {
    let text = c_string(arg);
    let signed = match text.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(field_type_error()),
    };
    let widest = if signed { 64 } else { 63 };
    let bits = parse_integer(&text[1..])
        .ok()
        .filter(|bits| (1..=widest).contains(bits))
        .ok_or_else(field_type_error)?;
    Ok((signed, bits as u32))
}

/// Parses every BITFIELD subcommand (all errors come before the key is looked up).
fn parse_field_operations(
    operations: &[bytes::Bytes],
    limit: u64,
) -> Result<Vec<FieldOperation>, CommandError> {
    let mut parsed = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut index = 0;
    while let Some(name) = operations.get(index) {
        let remaining = operations.len() - index - 1;
        let action = if is_c_keyword(name, "get") && remaining >= 2 {
            FieldAction::Get
        } else if is_c_keyword(name, "set") && remaining >= 3 {
            FieldAction::Set
        } else if is_c_keyword(name, "incrby") && remaining >= 3 {
            FieldAction::IncrBy
        } else if is_c_keyword(name, "overflow") && remaining >= 1 {
            let kind = &operations[index + 1];
            overflow = if is_c_keyword(kind, "wrap") {
                Overflow::Wrap
            } else if is_c_keyword(kind, "sat") {
                Overflow::Saturate
            } else if is_c_keyword(kind, "fail") {
                Overflow::Fail
            } else {
                return Err(CommandError::other("ERR Invalid OVERFLOW type specified"));
            };
            index += 2;
            continue;
        } else {
            return Err(CommandError::Syntax);
        };
        let (signed, bits) = parse_field_type(&operations[index + 1])?;
        let offset = parse_bit_offset(&operations[index + 2], Some(bits), limit)?;
        let value = match action {
            FieldAction::Get => 0,
            FieldAction::Set | FieldAction::IncrBy => parse_integer(&operations[index + 3])?,
        };
        parsed.push(FieldOperation {
            action,
            signed,
            bits,
            offset,
            value,
            overflow,
        });
        index += if action == FieldAction::Get { 3 } else { 4 };
    }
    Ok(parsed)
}

/// BITFIELD key [GET type offset | [OVERFLOW WRAP | SAT | FAIL] SET type offset value |
/// INCRBY type offset increment ...]
///
/// O(1) per subcommand. An array with each subcommand's result (nil for a write that
/// OVERFLOW FAIL refused).
fn bitfield(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    bitfield_generic(shard, args, false)
}

/// BITFIELD_RO key [GET type offset ...]
///
/// O(1) per subcommand. An array with each field's value.
fn bitfield_ro(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    bitfield_generic(shard, args, true)
}

/// The one implementation behind BITFIELD and BITFIELD_RO (which refuses writes).
fn bitfield_generic(
    shard: &mut ShardCtx<'_>,
    args: &mut ArgReader<'_>,
    read_only: bool,
) -> CmdResult {
    let key = args.required()?;
    let operations = parse_field_operations(args.rest(), shard.limits.proto_max_bulk_len)?;
    let last_written_bit = operations
        .iter()
        .filter(|operation| operation.action != FieldAction::Get)
        .map(|operation| operation.offset + u64::from(operation.bits) - 1)
        .max();
    let Some(last_bit) = last_written_bit else {
        let text = shard.read_string(key)?;
        let bytes = text.as_ref().map_or(&[][..], StringRef::as_bytes);
        let replies = operations
            .iter()
            .map(|operation| read_field(bytes, operation))
            .collect();
        return Ok(Reply::Array(replies));
    };
    if read_only {
        return Err(CommandError::other(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let (replies, changes) = write_bits(shard, key, last_bit, |bytes, grown| {
        let mut changes = 0u64;
        let replies = operations
            .iter()
            .map(|operation| {
                let (reply, changed) = apply_field(bytes, operation, grown);
                changes += u64::from(changed);
                reply
            })
            .collect();
        (replies, changes)
    })?;
    if changes > 0 {
        shard.mark_dirty(changes);
        shard.notify(EventClass::String, "setbit", key);
    }
    Ok(Reply::Array(replies))
}

/// A GET subcommand's reply.
fn read_field(bytes: &[u8], operation: &FieldOperation) -> Reply {
    if operation.signed {
        Reply::Integer(bits::get_signed(bytes, operation.offset, operation.bits))
    } else {
        Reply::Integer(bits::get_unsigned(bytes, operation.offset, operation.bits) as i64)
    }
}

/// Runs one subcommand on a string grown to cover it: its reply, and whether it counts
/// as a change (the string `grown`, or the field's value changed).
fn apply_field(bytes: &mut [u8], operation: &FieldOperation, grown: bool) -> (Reply, bool) {
    let FieldOperation {
        offset,
        bits: width,
        value,
        overflow,
        ..
    } = *operation;
    if operation.action == FieldAction::Get {
        return (read_field(bytes, operation), false);
    }
    let increment = operation.action == FieldAction::IncrBy;
    // (old, new, reply, overflowed), all as the field's bits.
    let (old, new, reply, overflowed) = if operation.signed {
        let old = bits::get_signed(bytes, offset, width);
        let (new, overflowed) = if increment {
            match bits::signed_overflow(old, value, width, overflow) {
                Some(limited) => (limited, true),
                None => (old.wrapping_add(value), false),
            }
        } else {
            match bits::signed_overflow(value, 0, width, overflow) {
                Some(limited) => (limited, true),
                None => (value, false),
            }
        };
        let reply = if increment { new } else { old };
        (old as u64, new as u64, reply, overflowed)
    } else {
        let old = bits::get_unsigned(bytes, offset, width);
        let (new, overflowed) = if increment {
            match bits::unsigned_overflow(old, value, width, overflow) {
                Some(limited) => (limited, true),
                None => (old.wrapping_add(value as u64), false),
            }
        } else {
            match bits::unsigned_overflow(value as u64, 0, width, overflow) {
                Some(limited) => (limited, true),
                None => (value as u64, false),
            }
        };
        let reply = if increment { new } else { old };
        (old, new, reply as i64, overflowed)
    };
    if overflowed && overflow == Overflow::Fail {
        return (Reply::Nil, false);
    }
    bits::set_unsigned(bytes, offset, width, new);
    (Reply::Integer(reply), grown || old != new)
}
