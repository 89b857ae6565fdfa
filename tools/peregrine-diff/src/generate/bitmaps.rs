//! The bitmap family: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO,
//! interleaved with the string commands whose values they share (SET, GET,
//! APPEND, SETRANGE, INCRBY, STRLEN, GETRANGE). OBJECT ENCODING is left out:
//! a restart (`--restart-every`) reloads short raw strings as embstr, as Redis
//! does after loading an RDB file, while the oracle never restarts.
//!
//! Bit writes create keys only among the shared string keys (`values::KEYS`);
//! reads also go to other families' keys, for WRONGTYPE. Valid offsets stay
//! small (at most [`MAX_VALID_BIT`]) so values stay bounded; the huge ones are
//! the limit's edges: the last bit 512 MB holds (read only, as a write would
//! allocate it) and the first bit past it (rejected). Ranges mix byte and bit
//! units, negative and reversed bounds and non-integers; BITFIELD mixes every
//! width, signed and unsigned, `#` offsets (one whose product wraps), all three
//! OVERFLOW modes and edge values. BITOP keys span shards unless tagged.

use super::collections::{self, Pool};
use super::strings::MAX_VALUE_BOUND;
use super::values::{self, option};
use super::{Command, Context, Recipe};

/// The largest bit offset generated that Redis accepts for writing.
pub const MAX_VALID_BIT: u64 = 40_000;

/// The bitmap family's recipes.
#[rustfmt::skip]
pub const RECIPES: &[Recipe] = &[
    Recipe { weight: 14, build: setbit },
    Recipe { weight: 8,  build: getbit },
    Recipe { weight: 10, build: bitcount },
    Recipe { weight: 10, build: bitpos },
    Recipe { weight: 9,  build: bitop },
    Recipe { weight: 12, build: bitfield },
    Recipe { weight: 5,  build: bitfield_ro },
    Recipe { weight: 10, build: string_command },
    Recipe { weight: 2,  build: collection_value },
    Recipe { weight: 2,  build: wrong_arity },
];

/// Pools whose keys a bitmap command may read (WRONGTYPE when they exist).
const FOREIGN_POOLS: &[Pool] = &[collections::LISTS, collections::SETS];

/// A key bits may be written to: a shared string key.
fn write_key(context: &mut Context<'_>) -> Vec<u8> {
    values::key(context)
}

/// A key bits are read from: mostly a shared string key, sometimes another
/// family's key.
fn read_key(context: &mut Context<'_>) -> Vec<u8> {
    if context.chance(8) {
        let pool = context.pick(FOREIGN_POOLS);
        pool.any(context)
    } else {
        write_key(context)
    }
}

/// Offsets Redis rejects (or, for reads, the last valid one): the limit's
/// edges, non-integers, signs and forms only BITFIELD takes.
const EDGE_OFFSETS: &[&str] = &[
    "-1",
    "4294967296",
    "4294967297",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "abc",
    "",
    "1.5",
    "+1",
    "01",
    "#3",
    " 1",
];

/// A bit offset: `(argument, Some(offset))` when it is a valid small one.
fn bit_offset(context: &mut Context<'_>, reading: bool) -> (Vec<u8>, Option<u64>) {
    let offset = match context.rng.below(100) {
        0..=59 => context.between(0, 63),
        60..=79 => context.between(64, 1000),
        80..=84 => context.between(1001, MAX_VALID_BIT as i64),
        85..=87 if reading => return (b"4294967295".to_vec(), None),
        _ => return (context.pick(EDGE_OFFSETS).as_bytes().to_vec(), None),
    };
    let offset = u64::try_from(offset).unwrap_or(0);
    (offset.to_string().into_bytes(), Some(offset))
}

/// Bytes a string needs to hold `bit`.
fn bytes_for(bit: u64) -> usize {
    usize::try_from(bit / 8 + 1).unwrap_or(usize::MAX)
}

fn setbit(context: &mut Context<'_>) -> Vec<Command> {
    let key = write_key(context);
    let (offset_text, offset) = bit_offset(context, false);
    let value = if context.chance(92) {
        context.pick(&["0", "1"])
    } else {
        context.pick(&["2", "-1", "x", "", "01", "1.0"])
    };
    if let Some(offset) = offset {
        context.model.may_store(&key, bytes_for(offset));
    }
    vec![Command::new("SETBIT").key(key).arg(offset_text).arg(value)]
}

fn getbit(context: &mut Context<'_>) -> Vec<Command> {
    let key = read_key(context);
    let (offset, _) = bit_offset(context, true);
    vec![Command::new("GETBIT").key(key).arg(offset)]
}

/// A BITCOUNT / BITPOS bound: byte and bit sized, negative, huge or invalid.
fn range_bound(context: &mut Context<'_>) -> Vec<u8> {
    if context.chance(60) {
        context.between(-20, 60).to_string().into_bytes()
    } else {
        values::range_index(context)
    }
}

/// BITCOUNT and BITPOS's unit, sometimes misspelled.
fn unit(context: &mut Context<'_>) -> Vec<u8> {
    let name = match context.rng.below(100) {
        0..=44 => "BIT",
        45..=89 => "BYTE",
        _ => context.pick(&["BITS", "foo", "b", ""]),
    };
    option(context, name)
}

fn bitcount(context: &mut Context<'_>) -> Vec<Command> {
    let mut command = Command::new("BITCOUNT").key(read_key(context));
    match context.rng.below(100) {
        0..=24 => {}
        25..=59 => {
            command = command.arg(range_bound(context)).arg(range_bound(context));
        }
        60..=91 => {
            command = command
                .arg(range_bound(context))
                .arg(range_bound(context))
                .arg(unit(context));
        }
        92..=95 => command = command.arg(range_bound(context)),
        _ => {
            command = command
                .arg(range_bound(context))
                .arg(range_bound(context))
                .arg(unit(context))
                .arg(option(context, "BIT"));
        }
    }
    vec![command]
}

fn bitpos(context: &mut Context<'_>) -> Vec<Command> {
    let bit = if context.chance(93) {
        context.pick(&["0", "1"])
    } else {
        context.pick(&["2", "-1", "x", ""])
    };
    let mut command = Command::new("BITPOS").key(read_key(context)).arg(bit);
    let bounds = match context.rng.below(100) {
        0..=24 => 0,
        25..=44 => 1,
        45..=64 => 2,
        65..=96 => 3,
        _ => 4,
    };
    for position in 0..bounds {
        command = if position == 2 {
            command.arg(unit(context))
        } else if position == 3 {
            command.arg(option(context, "BYTE"))
        } else {
            command.arg(range_bound(context))
        };
    }
    vec![command]
}

fn bitop(context: &mut Context<'_>) -> Vec<Command> {
    let operation = match context.rng.below(100) {
        0..=22 => "AND",
        23..=45 => "OR",
        46..=68 => "XOR",
        69..=94 => "NOT",
        _ => context.pick(&["DIFF", "ONE", "ANDOR", "foo", "NOTT"]),
    };
    let tagged = context.chance(40);
    let draw = |context: &mut Context<'_>, write: bool| {
        if tagged {
            context.pick(&[&b"{t}a"[..], b"{t}b"]).to_vec()
        } else if write {
            write_key(context)
        } else {
            read_key(context)
        }
    };
    let sources = if operation == "NOT" && context.chance(90) {
        1
    } else {
        context.between(1, 4)
    };
    let sources: Vec<Vec<u8>> = (0..sources).map(|_| draw(context, false)).collect();
    let destination = draw(context, true);
    let longest = sources
        .iter()
        .map(|key| context.model.bound(key))
        .max()
        .unwrap_or(0);
    context.model.may_store(&destination, longest);
    let command = Command::new("BITOP")
        .arg(option(context, operation))
        .key(destination);
    vec![collections::with_keys(command, &sources)]
}

/// BITFIELD types: every width class, signed and unsigned, and invalid ones.
fn field_type(context: &mut Context<'_>) -> (Vec<u8>, Option<u64>) {
    const VALID: &[(&str, u64)] = &[
        ("i1", 1),
        ("i5", 5),
        ("i8", 8),
        ("i16", 16),
        ("i32", 32),
        ("i63", 63),
        ("i64", 64),
        ("u1", 1),
        ("u3", 3),
        ("u8", 8),
        ("u16", 16),
        ("u32", 32),
        ("u63", 63),
    ];
    if context.chance(95) {
        let (name, bits) = context.pick(VALID);
        (name.as_bytes().to_vec(), Some(bits))
    } else {
        let name = context.pick(&["u64", "i65", "i0", "I8", "x8", "u", "i08", "", "i-1"]);
        (name.as_bytes().to_vec(), None)
    }
}

/// A BITFIELD offset for a field of `bits` bits: plain, `#n`, or an edge.
fn field_offset(
    context: &mut Context<'_>,
    bits: Option<u64>,
    reading: bool,
) -> (Vec<u8>, Option<u64>) {
    match context.rng.below(100) {
        0..=24 => {
            let count = context.between(0, 8);
            let offset = bits.map(|bits| bits.saturating_mul(u64::try_from(count).unwrap_or(0)));
            (format!("#{count}").into_bytes(), offset)
        }
        25..=27 => {
            // 2^61 + 1 fields: the product wraps to a small offset for widths that are
            // multiples of 8, and is rejected for the others.
            let offset = bits.filter(|bits| bits % 8 == 0);
            (b"#2305843009213693953".to_vec(), offset)
        }
        28..=30 => (
            context.pick(&["#-1", "#", "#+1", "#x"]).as_bytes().to_vec(),
            None,
        ),
        _ => bit_offset(context, reading),
    }
}

/// A SET value or INCRBY increment.
fn field_value(context: &mut Context<'_>) -> Vec<u8> {
    const VALUES: &[&str] = &[
        "0",
        "1",
        "-1",
        "2",
        "7",
        "100",
        "-100",
        "127",
        "128",
        "-128",
        "-129",
        "255",
        "256",
        "65535",
        "4294967296",
        "9223372036854775807",
        "-9223372036854775808",
        "4611686018427387904",
    ];
    if context.chance(95) {
        context.pick(VALUES).as_bytes().to_vec()
    } else {
        context
            .pick(&["x", "", "1.5", "9223372036854775808"])
            .as_bytes()
            .to_vec()
    }
}

/// One to four BITFIELD subcommands; `writes` allows SET and INCRBY. Returns
/// the arguments and the highest bit a write may reach.
fn field_operations(context: &mut Context<'_>, writes: bool) -> (Vec<Vec<u8>>, Option<u64>) {
    let mut arguments = Vec::new();
    let mut highest: Option<u64> = None;
    let count = context.between(1, 4);
    for _ in 0..count {
        if context.chance(20) {
            arguments.push(option(context, "OVERFLOW"));
            let kind = if context.chance(95) {
                context.pick(&["WRAP", "SAT", "FAIL"])
            } else {
                "foo"
            };
            arguments.push(option(context, kind));
        }
        let action = match context.rng.below(100) {
            0..=39 => "GET",
            40..=69 if writes => "SET",
            _ if writes => "INCRBY",
            _ => "GET",
        };
        let action = if context.chance(2) { "FOO" } else { action };
        arguments.push(option(context, action));
        let (type_text, bits) = field_type(context);
        arguments.push(type_text);
        let reading = action == "GET";
        let (offset_text, offset) = field_offset(context, bits, reading);
        arguments.push(offset_text);
        if action != "GET" {
            if let (Some(offset), Some(bits)) = (offset, bits) {
                let last = offset.saturating_add(bits);
                highest = Some(highest.map_or(last, |highest| highest.max(last)));
            }
            arguments.push(field_value(context));
        }
    }
    if context.chance(3) {
        // A subcommand missing its last argument.
        arguments.push(option(context, "GET"));
        arguments.push(b"u8".to_vec());
    }
    (arguments, highest)
}

fn bitfield(context: &mut Context<'_>) -> Vec<Command> {
    let (arguments, highest) = field_operations(context, true);
    let key = write_key(context);
    if let Some(highest) = highest {
        if bytes_for(highest) > MAX_VALUE_BOUND {
            return vec![Command::new("BITFIELD")
                .key(key)
                .arg("GET")
                .arg("u8")
                .arg("0")];
        }
        context.model.may_store(&key, bytes_for(highest));
    }
    vec![Command::new("BITFIELD").key(key).args(arguments)]
}

fn bitfield_ro(context: &mut Context<'_>) -> Vec<Command> {
    let writes = context.chance(10);
    let (arguments, _) = field_operations(context, writes);
    let arguments = if context.chance(4) {
        Vec::new()
    } else {
        arguments
    };
    vec![Command::new("BITFIELD_RO")
        .key(read_key(context))
        .args(arguments)]
}

/// A string command on a key bits are written to, so that values written by
/// SET (integers included) are read by bit commands and the other way round.
fn string_command(context: &mut Context<'_>) -> Vec<Command> {
    let key = write_key(context);
    let command = match context.rng.below(100) {
        0..=29 => {
            let value = values::value(context);
            context.model.may_store(&key, value.len());
            Command::new("SET").key(key).arg(value)
        }
        30..=49 => Command::new("GET").key(key),
        50..=59 => Command::new("STRLEN").key(key),
        60..=69 => {
            let value = values::value(context);
            if context.model.bound(&key).saturating_add(value.len()) > MAX_VALUE_BOUND {
                context.model.removed(&key);
                Command::new("DEL").key(key)
            } else {
                context.model.may_grow(&key, value.len());
                Command::new("APPEND").key(key).arg(value)
            }
        }
        70..=77 => {
            let (offset_text, offset) = values::offset(context);
            let value = values::value(context);
            if let Some(offset) = offset {
                context
                    .model
                    .may_store(&key, offset.saturating_add(value.len()));
            }
            Command::new("SETRANGE")
                .key(key)
                .arg(offset_text)
                .arg(value)
        }
        78..=85 => {
            context.model.may_store(&key, 20);
            Command::new("INCRBY")
                .key(key)
                .arg(values::increment(context))
        }
        86..=94 => Command::new("GETRANGE")
            .key(key)
            .arg(values::range_index(context))
            .arg(values::range_index(context)),
        _ => {
            context.model.removed(&key);
            Command::new("DEL").key(key)
        }
    };
    vec![command]
}

/// A shared string key turned into a list, for WRONGTYPE on bit writes.
fn collection_value(context: &mut Context<'_>) -> Vec<Command> {
    let key = write_key(context);
    let command = Command::new("RPUSH").key(&key).arg("x");
    vec![collections::grown(context, &key, 1, command)]
}

/// Bitmap commands and argument counts (after the name) their arity rejects.
const WRONG_ARITY: &[(&str, i64)] = &[
    ("SETBIT", 2),
    ("SETBIT", 4),
    ("GETBIT", 1),
    ("GETBIT", 3),
    ("BITCOUNT", 0),
    ("BITPOS", 1),
    ("BITOP", 2),
    ("BITFIELD", 0),
    ("BITFIELD_RO", 0),
];

fn wrong_arity(context: &mut Context<'_>) -> Vec<Command> {
    let (name, count) = context.pick(WRONG_ARITY);
    let mut command = Command::new(name);
    for position in 0..count {
        command = if position == 0 && name != "BITOP" {
            command.key(read_key(context))
        } else {
            command.arg(context.pick(&["0", "1", "AND", "k0"]))
        };
    }
    vec![command]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::tests::build_many;

    fn printed(build: fn(&mut Context<'_>) -> Vec<Command>) -> Vec<String> {
        build_many(build, 3000)
            .iter()
            .map(Command::printable)
            .collect()
    }

    #[test]
    fn offsets_cover_the_limit_without_writing_there() {
        let setbits = printed(setbit);
        assert!(setbits.iter().any(|line| line.contains(" 4294967296 ")));
        assert!(!setbits.iter().any(|line| line.contains(" 4294967295 ")));
        let getbits = printed(getbit);
        assert!(getbits.iter().any(|line| line.ends_with(" 4294967295")));
        for line in printed(bitfield) {
            let words: Vec<&str> = line.split(' ').collect();
            for window in words.windows(4) {
                if matches!(window[0], "SET" | "INCRBY" | "set" | "incrby") {
                    assert_ne!(window[2], "4294967295", "{line}");
                }
            }
        }
    }

    #[test]
    fn bitfield_covers_types_overflows_and_hash_offsets() {
        let lines = printed(bitfield).join("\n");
        for needle in [
            "OVERFLOW SAT",
            "OVERFLOW FAIL",
            "OVERFLOW WRAP",
            " i64 ",
            " u63 ",
            " u64 ",
            " #",
            "#2305843009213693953",
            "INCRBY",
            "SET",
        ] {
            assert!(lines.contains(needle), "{needle}");
        }
    }

    #[test]
    fn bitop_spans_shards_and_tags() {
        let lines = printed(bitop);
        assert!(lines
            .iter()
            .any(|line| line.contains("{t}a") && !line.contains(" k")));
        assert!(lines
            .iter()
            .any(|line| line.starts_with("BITOP NOT ") && line.split(' ').count() > 4));
        assert!(lines
            .iter()
            .any(|line| line.contains(" k0") && line.contains(" k1")));
    }
}
