//! The HyperLogLog family: PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST.
//!
//! HLLs live in their own pool of keys (and sometimes in the shared string keys, or are
//! read from other families' keys for WRONGTYPE). Besides ordinary use, recipes add
//! hundreds of elements at once (sparse to dense promotion), change
//! `hll-sparse-max-bytes` (so promotion happens at other sizes), GET a HLL right after
//! PFADD (the raw bytes must be Redis's), SET raw HLL strings built here (valid sparse and
//! dense ones, some with a valid cached cardinality, and corrupt ones: short opcodes,
//! a dense header on a sparse body, an unknown encoding, a bad magic), APPEND and
//! SETRANGE into HLLs (which corrupts them or forges their cache), and send wrong
//! arities. PFSELFTEST is only sent with a wrong arity: its ten million additions take
//! longer than the tester's reply timeout on a debug build.

use super::collections::{self, Pool};
use super::values::{self, option};
use super::{Command, Context, Recipe};
use crate::compare::Comparison;

/// HyperLogLog keys.
pub const HLLS: Pool = Pool {
    plain: &[b"p0", b"p1", b"p2"],
    tagged: &[b"{p}a", b"{p}b"],
};

/// Bytes of a dense HLL (the largest a PFADD or PFMERGE leaves).
const DENSE_SIZE: usize = 16 + 12288;

/// Registers of a HLL.
const REGISTERS: usize = 16384;

/// The HyperLogLog family's recipes.
#[rustfmt::skip]
pub const RECIPES: &[Recipe] = &[
    Recipe { weight: 20, build: pfadd },
    Recipe { weight: 3,  build: pfadd_many },
    Recipe { weight: 12, build: pfcount },
    Recipe { weight: 6,  build: pfmerge },
    Recipe { weight: 5,  build: pfdebug },
    Recipe { weight: 5,  build: pfadd_then_get },
    Recipe { weight: 4,  build: set_raw },
    Recipe { weight: 3,  build: tamper },
    Recipe { weight: 2,  build: sparse_max_bytes },
    Recipe { weight: 2,  build: wrong_arity },
];

/// Elements: short texts, numbers, binary, the empty string.
const ELEMENTS: &[&[u8]] = &[
    b"a",
    b"b",
    b"c",
    b"foo",
    b"bar",
    b"",
    b"0",
    b"1",
    b"42",
    b"-1",
    b"\x00",
    b"\xff\xfe",
    b"hello world",
    b"a\r\nb",
    b"9223372036854775807",
    b"1.5",
];

fn element(context: &mut Context<'_>) -> Vec<u8> {
    if context.chance(60) {
        context.pick(ELEMENTS).to_vec()
    } else {
        format!("e{}", context.between(0, 5000)).into_bytes()
    }
}

/// A key a HLL command may create (and so make a HLL).
fn write_key(context: &mut Context<'_>) -> Vec<u8> {
    let key = collections::write_key(context, HLLS);
    context.model.may_store(&key, DENSE_SIZE);
    key
}

fn pfadd(context: &mut Context<'_>) -> Vec<Command> {
    let key = write_key(context);
    let count = context.between(0, 6);
    let elements: Vec<Vec<u8>> = (0..count).map(|_| element(context)).collect();
    vec![Command::new("PFADD").key(key).args(elements)]
}

/// Hundreds of distinct elements at once: enough, over a few commands, to pass 3000
/// sparse bytes (about 1500 to 2500 elements) and turn the HLL dense.
fn pfadd_many(context: &mut Context<'_>) -> Vec<Command> {
    let key = write_key(context);
    let count = context.between(100, 900);
    let start = context.between(0, 100_000);
    let elements: Vec<String> = (0..count)
        .map(|offset| format!("m{}", start + offset))
        .collect();
    vec![Command::new("PFADD").key(key).args(elements)]
}

fn pfcount(context: &mut Context<'_>) -> Vec<Command> {
    let keys = collections::key_group(context, HLLS, 1, 4, collections::read_key);
    vec![collections::with_keys(Command::new("PFCOUNT"), &keys)]
}

/// PFMERGE of zero to three sources, the destination sometimes also a source.
fn pfmerge(context: &mut Context<'_>) -> Vec<Command> {
    let mut sources = collections::key_group(context, HLLS, 0, 3, collections::read_key);
    let destination = collections::destination_for(context, HLLS, &sources);
    context.model.may_store(&destination, DENSE_SIZE);
    if context.chance(15) {
        sources.push(destination.clone());
    }
    let command = Command::new("PFMERGE").key(destination);
    vec![collections::with_keys(command, &sources)]
}

fn pfdebug(context: &mut Context<'_>) -> Vec<Command> {
    let subcommand = match context.rng.below(100) {
        0..=19 => "GETREG",
        20..=44 => "DECODE",
        45..=69 => "ENCODING",
        70..=89 => "TODENSE",
        _ => context.pick(&["FOO", "GETREGS", "", "a\r\nb"]),
    };
    let subcommand = option(context, subcommand);
    let key = collections::read_key(context, HLLS);
    vec![Command::new("PFDEBUG").arg(subcommand).key(key)]
}

/// PFADD, then GET of the raw value (byte-identical with Redis's), sometimes after a
/// PFCOUNT has cached the cardinality in it.
fn pfadd_then_get(context: &mut Context<'_>) -> Vec<Command> {
    let key = write_key(context);
    let count = context.between(1, 4);
    let elements: Vec<Vec<u8>> = (0..count).map(|_| element(context)).collect();
    let mut commands = vec![Command::new("PFADD").key(&key).args(elements)];
    if context.chance(50) {
        commands.push(Command::new("PFCOUNT").key(&key));
    }
    commands.push(Command::new("GET").key(&key));
    if context.chance(30) {
        // The key may hold a list or set of another family: 7.0 names their small
        // encodings otherwise (rule 8).
        commands.push(
            Command::new("OBJECT")
                .arg("ENCODING")
                .key(&key)
                .compared(Comparison::Encoding),
        );
    }
    commands
}

/// The 16-byte header: magic, encoding, and the cached cardinality (valid or not).
fn header(context: &mut Context<'_>, encoding: u8) -> Vec<u8> {
    let mut header = b"HYLL".to_vec();
    header.extend_from_slice(&[encoding, 0, 0, 0]);
    let cached: u64 = if context.chance(30) {
        u64::try_from(context.between(0, 100_000)).unwrap_or(0)
    } else {
        1 << 63
    };
    header.extend_from_slice(&cached.to_le_bytes());
    header
}

/// Sparse opcodes covering `registers` registers (ZERO, XZERO and VAL runs).
fn sparse_body(context: &mut Context<'_>, registers: usize) -> Vec<u8> {
    let mut body = Vec::new();
    let mut left = registers;
    while left > 0 {
        let roll = context.rng.below(100);
        if roll < 40 {
            let value = u8::try_from(context.between(1, 32)).unwrap_or(1);
            let length = usize::try_from(context.between(1, 4))
                .unwrap_or(1)
                .min(left);
            body.push(0x80 | ((value - 1) << 2) | (length as u8 - 1));
            left -= length;
        } else if roll < 75 {
            let length = usize::try_from(context.between(1, 64))
                .unwrap_or(1)
                .min(left);
            body.push(length as u8 - 1);
            left -= length;
        } else {
            let most = i64::try_from(left.min(3000)).unwrap_or(1);
            let length = usize::try_from(context.between(1, most)).unwrap_or(1);
            let encoded = length - 1;
            body.push(0x40 | (encoded >> 8) as u8);
            body.push((encoded & 0xff) as u8);
            left -= length;
        }
    }
    body
}

/// A raw HLL string: valid sparse or dense, or corrupt in one of several ways.
fn raw_hll(context: &mut Context<'_>) -> Vec<u8> {
    match context.rng.below(100) {
        0..=39 => {
            let mut hll = header(context, 1);
            hll.extend(sparse_body(context, REGISTERS));
            hll
        }
        40..=59 => {
            let mut hll = header(context, 0);
            let density = context.rng.below(100);
            for _ in 0..DENSE_SIZE - 16 {
                let byte = if context.rng.below(100) < density {
                    u8::try_from(context.rng.below(256)).unwrap_or(0)
                } else {
                    0
                };
                hll.push(byte);
            }
            hll
        }
        60..=74 => {
            // Opcodes covering too few registers.
            let mut hll = header(context, 1);
            let registers = usize::try_from(context.between(0, 16383)).unwrap_or(0);
            hll.extend(sparse_body(context, registers));
            hll
        }
        75..=84 => {
            // Opcodes covering too many registers.
            let mut hll = header(context, 1);
            hll.extend(sparse_body(context, REGISTERS));
            hll.extend(sparse_body(context, 10));
            hll
        }
        85..=89 => {
            // A dense header on a sparse body.
            let mut hll = header(context, 0);
            hll.extend(sparse_body(context, REGISTERS));
            hll
        }
        90..=94 => {
            let mut hll = header(context, 2);
            hll.extend(sparse_body(context, REGISTERS));
            hll
        }
        _ => {
            let mut hll = b"HYLX".to_vec();
            hll.extend_from_slice(&[1; 14]);
            let length = usize::try_from(context.between(0, 20)).unwrap_or(0);
            hll.truncate(length);
            hll
        }
    }
}

/// SET of a raw HLL string, then a command that reads or changes it.
fn set_raw(context: &mut Context<'_>) -> Vec<Command> {
    let key = write_key(context);
    let hll = raw_hll(context);
    context.model.may_store(&key, hll.len());
    let follow_up = match context.rng.below(5) {
        0 => Command::new("PFCOUNT").key(&key),
        1 => Command::new("PFADD").key(&key).arg(element(context)),
        2 => {
            let other = collections::read_key(context, HLLS);
            Command::new("PFCOUNT").key(&key).key(other)
        }
        3 => {
            let destination = write_key(context);
            Command::new("PFMERGE").key(destination).key(&key)
        }
        _ => Command::new("PFDEBUG").arg("DECODE").key(&key),
    };
    vec![Command::new("SET").key(&key).arg(hll), follow_up]
}

/// APPEND or SETRANGE into a HLL key: corrupt opcodes, a forged cache, another encoding.
fn tamper(context: &mut Context<'_>) -> Vec<Command> {
    let key = HLLS.any(context);
    let change = match context.rng.below(4) {
        0 => {
            context.model.may_grow(&key, 2);
            // Never half an XZERO at the end: Redis would read the byte past the string,
            // which after some writes is not its terminator (a known difference).
            let tail = context.pick(&[&b"\x80"[..], b"\x00", b"\x40\x01", b"\xfc", b"\x3f"]);
            Command::new("APPEND").key(&key).arg(tail)
        }
        1 => Command::new("SETRANGE").key(&key).arg("15").arg(b"\x00"),
        2 => Command::new("SETRANGE").key(&key).arg("4").arg(b"\x00"),
        _ => {
            let offset = context.between(16, 40).to_string();
            let byte = [0x80 | u8::try_from(context.rng.below(128)).unwrap_or(0)];
            Command::new("SETRANGE").key(&key).arg(offset).arg(byte)
        }
    };
    let check = match context.rng.below(3) {
        0 => Command::new("PFCOUNT").key(&key),
        1 => Command::new("PFADD").key(&key).arg(element(context)),
        _ => Command::new("PFDEBUG").arg("GETREG").key(&key),
    };
    vec![change, check]
}

/// PFADDs and a PFMERGE under another `hll-sparse-max-bytes` (promotion at other sizes;
/// 0 promotes on the first growth), then the default again: the setting never outlives
/// the recipe, so a restarted Peregrine (which starts with the default) and the Redis that
/// kept running agree again at once.
fn sparse_max_bytes(context: &mut Context<'_>) -> Vec<Command> {
    let size = context.pick(&["0", "40", "200", "1000", "20000"]);
    let config = |size: &str| {
        Command::new("CONFIG")
            .arg("SET")
            .arg("hll-sparse-max-bytes")
            .arg(size)
            .global()
    };
    let mut commands = vec![config(size)];
    for _ in 0..context.between(1, 3) {
        commands.extend(pfadd_many(context));
        let key = commands
            .last()
            .and_then(|command| command.keys.first().cloned())
            .unwrap_or_default();
        commands.push(Command::new("PFDEBUG").arg("ENCODING").key(key));
    }
    commands.extend(pfmerge(context));
    commands.push(config("3000"));
    commands
}

/// HyperLogLog commands and argument counts (after the name) their arity rejects.
const WRONG_ARITY: &[(&str, i64)] = &[
    ("PFADD", 0),
    ("PFCOUNT", 0),
    ("PFMERGE", 0),
    ("PFDEBUG", 0),
    ("PFDEBUG", 1),
    ("PFDEBUG", 3),
    ("PFSELFTEST", 1),
    ("PFSELFTEST", 2),
];

fn wrong_arity(context: &mut Context<'_>) -> Vec<Command> {
    let (name, count) = context.pick(WRONG_ARITY);
    let args: Vec<Vec<u8>> = (0..count).map(|_| values::key(context)).collect();
    vec![Command::new(name).args(args)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::tests::build_many;

    #[test]
    fn raw_hlls_have_the_shapes_redis_checks() {
        let sets: Vec<Command> = build_many(set_raw, 300)
            .into_iter()
            .filter(|command| command.name() == "SET")
            .collect();
        let values: Vec<&Vec<u8>> = sets
            .iter()
            .filter_map(|command| command.args.get(2))
            .collect();
        assert!(values
            .iter()
            .any(|value| value.len() == DENSE_SIZE && value[4] == 0));
        assert!(values
            .iter()
            .any(|value| value.starts_with(b"HYLL") && value[4] == 1));
        assert!(values.iter().any(|value| !value.starts_with(b"HYLL")));
    }
}
