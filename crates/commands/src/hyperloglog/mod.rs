//! HyperLogLog: PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST.
//!
//! A HLL is a string value in Redis's exact format ([`sketch`]): the same elements give
//! the same bytes and counts as redis-server, and a HLL written by one (GET, then SET of
//! the raw value) works in the other. Reading or changing a HLL turns an `embstr` value
//! into `raw`, as Redis's `dbUnshareStringValue`.
//!
//! PFCOUNT of one key stores the cardinality it computed in the value's header (a
//! read-only command that writes, as in Redis): the change counts as dirty, fails the
//! EXEC of the key's watchers, and is journalled as the PFCOUNT itself. Multi-key
//! PFCOUNT and PFMERGE run on a locked scratch copy when their keys span shards.
//!
//! PFADD and PFMERGE on a sparse HLL depend on `hll-sparse-max-bytes`; when it is not the
//! default they are journalled as the value they leave, so that a replay under the
//! start-up configuration gives the same bytes.
//!
//! Differences from Redis: a PFADD that meets a corrupt HLL after changing some registers
//! journals the value it leaves (Redis propagates nothing and replicas diverge);
//! PFSELFTEST draws its random numbers from the shard's generator.

pub mod sketch;
#[cfg(test)]
mod tests;

use crate::args::is_keyword;
use crate::spec::{keyed, scratch, Arity::*, CommandSpec, Flag::*, Group, KeySpec};
use crate::{ArgReader, CmdResult, CommandError, CommandLimits, EventClass, ShardCtx};
use peregrine_keyspace::Value;
use peregrine_resp::Reply;
use sketch::{Corrupt, DENSE, REGISTERS, SPARSE};

/// PFDEBUG's key: the argument after the subcommand.
const SECOND_ARGUMENT: KeySpec = KeySpec {
    first: 2,
    last: 2,
    step: 1,
    find: None,
};

/// The HyperLogLog family's table.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec { name: "pfadd",      arity: AtLeast(2), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(pfadd), group: Group::HyperLogLog, summary: "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist." },
    CommandSpec { name: "pfcount",    arity: AtLeast(2), flags: &[ReadOnly, MayReplicate], keys: KeySpec::ALL, exec: scratch(pfcount), group: Group::HyperLogLog, summary: "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s)." },
    CommandSpec { name: "pfmerge",    arity: AtLeast(2), flags: &[Write, DenyOom], keys: KeySpec::ALL, exec: scratch(pfmerge), group: Group::HyperLogLog, summary: "Merges one or more HyperLogLog values into a single key." },
    CommandSpec { name: "pfdebug",    arity: Exactly(3), flags: &[Write, DenyOom, Admin], keys: SECOND_ARGUMENT, exec: keyed(pfdebug), group: Group::HyperLogLog, summary: "Internal commands for debugging HyperLogLog values." },
    CommandSpec { name: "pfselftest", arity: Exactly(1), flags: &[Admin], keys: KeySpec::NONE, exec: keyed(pfselftest), group: Group::HyperLogLog, summary: "An internal command for testing HyperLogLog values." },
];

/// A string that is not a HLL (Redis's `isHLLObjectOrReply`).
fn not_a_hll() -> CommandError {
    CommandError::other("WRONGTYPE Key is not a valid HyperLogLog string value.")
}

/// A HLL whose registers do not add up.
fn corrupt(_: Corrupt) -> CommandError {
    CommandError::other("INVALIDOBJ Corrupted HLL object detected")
}

/// The bytes of a valid HLL stored in `value`; WRONGTYPE for other types and for strings
/// that are not a HLL.
fn hll_bytes(value: &Value) -> Result<&[u8], CommandError> {
    let bytes: &[u8] = match value {
        Value::Embedded(bytes) => bytes.as_slice(),
        Value::Raw(bytes) => bytes,
        Value::Int(_) => return Err(not_a_hll()),
        Value::List(_)
        | Value::Hash(_)
        | Value::Set(_)
        | Value::SortedSet(_)
        | Value::Stream(_) => return Err(CommandError::WrongType),
    };
    if sketch::is_valid(bytes) {
        Ok(bytes)
    } else {
        Err(not_a_hll())
    }
}

/// The growable bytes of a string value checked by [`hll_bytes`], making it `raw` first
/// (Redis's `dbUnshareStringValue`).
fn unshare(value: &mut Value) -> &mut Vec<u8> {
    if let Value::Embedded(bytes) = value {
        *value = Value::Raw(Box::new(bytes.as_slice().to_vec()));
    }
    match value {
        Value::Raw(bytes) => bytes,
        // Only strings reach here; an integer is never a valid HLL.
        other => {
            *other = Value::Raw(Box::default());
            match other {
                Value::Raw(bytes) => bytes,
                _ => unreachable!("just made raw"),
            }
        }
    }
}

/// The HLL at `key`, made raw, for a command that changes it: the key is created empty
/// (with its `new` event) when missing. Returns whether it was created.
fn hll_for_write<'s>(
    shard: &'s mut ShardCtx<'_>,
    key: &[u8],
) -> Result<(&'s mut Vec<u8>, bool), CommandError> {
    let now = shard.now;
    let created = match shard.lookup_write(key) {
        Some(value) => {
            hll_bytes(value)?;
            false
        }
        None => {
            let value = Value::Raw(Box::new(sketch::new_sparse()));
            shard.db().set(key, value, None, now);
            shard.notify_new(key);
            true
        }
    };
    match shard.db().get_mut(key, now) {
        Some(entry) => Ok((unshare(&mut entry.value), created)),
        None => Err(CommandError::other("ERR internal error: HLL key vanished")),
    }
}

/// Records a sparse HLL that a write changed as its resulting value when
/// `hll-sparse-max-bytes` is not the default: replaying the command with the configuration
/// read at start-up (a CONFIG SET is not journalled) could promote it at another size.
fn journal_if_config_dependent(shard: &mut ShardCtx<'_>, key: &[u8], max_bytes: usize) {
    if max_bytes == CommandLimits::default().hll_sparse_max_bytes || !shard.journal.is_enabled() {
        return;
    }
    let now = shard.now;
    let Some(entry) = shard.db().get_mut(key, now) else {
        return;
    };
    let bytes = match &entry.value {
        Value::Raw(bytes) => bytes.to_vec(),
        _ => return,
    };
    shard.record_effect(&[&b"SET"[..], key, &bytes, b"KEEPTTL"]);
}

/// PFADD key [element ...]
///
/// O(1) per element. 1 if a register changed (or the key was created), else 0.
fn pfadd(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let elements = args.rest();
    let max_bytes = shard.limits.hll_sparse_max_bytes;
    let (hll, created) = hll_for_write(shard, key)?;
    let was_sparse = sketch::encoding(hll) == SPARSE;
    let mut updated = u64::from(created);
    for element in elements {
        match sketch::add(hll, element, max_bytes) {
            Ok(changed) => updated += u64::from(changed),
            Err(error) => {
                if updated > 0 {
                    // Redis keeps the registers set so far; record them as they are.
                    let bytes = hll.clone();
                    shard.record_effect(&[&b"SET"[..], key, &bytes, b"KEEPTTL"]);
                } else {
                    shard.record_nothing();
                }
                return Err(corrupt(error));
            }
        }
    }
    if updated == 0 {
        return Ok(Reply::Integer(0));
    }
    sketch::invalidate_cache(hll);
    if was_sparse {
        journal_if_config_dependent(shard, key, max_bytes);
    }
    shard.mark_dirty(updated);
    shard.notify(EventClass::String, "pfadd", key);
    Ok(Reply::Integer(1))
}

/// PFCOUNT key [key ...]
///
/// O(1) with one key (cached cardinality), O(N) for N keys. The estimated cardinality
/// of the union of the HLLs; missing keys count as empty.
fn pfcount(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let keys = args.rest();
    let [key] = keys else {
        let mut registers = Box::new([0u8; REGISTERS]);
        for key in keys {
            if let Some(value) = shard.lookup_read(key) {
                sketch::merge_into(&mut registers, hll_bytes(value)?).map_err(corrupt)?;
            }
        }
        return Ok(Reply::Integer(sketch::count_registers(&registers) as i64));
    };
    let Some(value) = shard.lookup_read(key) else {
        return Ok(Reply::Integer(0));
    };
    hll_bytes(value)?;
    let hll = unshare(value);
    if let Some(cardinality) = sketch::cached_cardinality(hll) {
        return Ok(Reply::Integer(cardinality as i64));
    }
    let cardinality = sketch::count(hll).map_err(corrupt)?;
    sketch::set_cached_cardinality(hll, cardinality);
    // The cache is part of the value: Redis counts it dirty and propagates the PFCOUNT.
    shard.mark_dirty(1);
    shard.record_effect(&[&b"PFCOUNT"[..], key]);
    Ok(Reply::Integer(cardinality as i64))
}

/// PFMERGE destkey [sourcekey ...]
///
/// O(N) in the number of keys. Stores the union of the sources and of the destination
/// itself in the destination (dense when any input is). OK.
fn pfmerge(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let keys = args.rest();
    let mut registers = Box::new([0u8; REGISTERS]);
    let mut dense = false;
    for key in keys {
        if let Some(value) = shard.lookup_read(key) {
            let hll = hll_bytes(value)?;
            dense |= sketch::encoding(hll) == DENSE;
            sketch::merge_into(&mut registers, hll).map_err(corrupt)?;
        }
    }
    let Some(destination) = keys.first() else {
        return Err(CommandError::Syntax);
    };
    let max_bytes = shard.limits.hll_sparse_max_bytes;
    let (hll, _) = hll_for_write(shard, destination)?;
    let stays_sparse = !dense && sketch::encoding(hll) == SPARSE;
    if dense {
        sketch::sparse_to_dense(hll).map_err(corrupt)?;
    }
    for (index, &count) in registers.iter().enumerate() {
        if count != 0 {
            // The destination was merged above, so it is not corrupt.
            let _ = sketch::set_register(hll, index, count, max_bytes);
        }
    }
    sketch::invalidate_cache(hll);
    if stays_sparse {
        journal_if_config_dependent(shard, destination, max_bytes);
    }
    shard.mark_dirty(1);
    // Redis reports PFMERGE as a `pfadd` event: a mass addition of elements.
    shard.notify(EventClass::String, "pfadd", destination);
    Ok(Reply::Ok)
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key
///
/// Debugging: the registers (GETREG, converting to dense), the sparse opcodes (DECODE),
/// the encoding (ENCODING), or a conversion to dense (TODENSE: 1 if converted).
fn pfdebug(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let subcommand = args.required()?;
    let key = args.required()?;
    let Some(value) = shard.lookup_write(key) else {
        return Err(CommandError::other("ERR The specified key does not exist"));
    };
    hll_bytes(value)?;
    let hll = unshare(value);
    if is_keyword(subcommand, "getreg") {
        sketch::sparse_to_dense(hll).map_err(corrupt)?;
        let registers = sketch::registers(hll).map_err(corrupt)?;
        Ok(Reply::Array(
            registers
                .iter()
                .map(|&register| Reply::Integer(i64::from(register)))
                .collect(),
        ))
    } else if is_keyword(subcommand, "decode") {
        if sketch::encoding(hll) != SPARSE {
            return Err(CommandError::other("ERR HLL encoding is not sparse"));
        }
        Ok(Reply::bulk(sketch::decode_sparse(hll)))
    } else if is_keyword(subcommand, "encoding") {
        Ok(Reply::status(if sketch::encoding(hll) == SPARSE {
            "sparse"
        } else {
            "dense"
        }))
    } else if is_keyword(subcommand, "todense") {
        let converted = sketch::encoding(hll) == SPARSE;
        sketch::sparse_to_dense(hll).map_err(corrupt)?;
        Ok(Reply::Integer(i64::from(converted)))
    } else {
        // Redis's error formatting turns line breaks into spaces.
        let shown: String = String::from_utf8_lossy(subcommand)
            .chars()
            .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
            .collect();
        Err(CommandError::other(format!(
            "ERR Unknown PFDEBUG subcommand '{shown}'"
        )))
    }
}

/// PFSELFTEST
///
/// Checks the dense register accessors and the estimator's error on 10 million elements,
/// with a sparse and a dense HLL side by side. OK, or a `TESTFAILED` error.
fn pfselftest(shard: &mut ShardCtx<'_>, _args: &mut ArgReader<'_>) -> CmdResult {
    let seed = shard.random.next_u64();
    let max_bytes = shard.limits.hll_sparse_max_bytes;
    self_test(shard.random, seed, max_bytes, 10_000_000, 1000)
}

/// PFSELFTEST's body with `elements` elements and `cycles` register cycles.
fn self_test(
    random: &mut crate::Random,
    seed: u64,
    max_bytes: usize,
    elements: u64,
    cycles: usize,
) -> CmdResult {
    let failed = |text: String| Err(CommandError::other(format!("TESTFAILED {text}")));
    // Test 1: every register keeps its value without disturbing its neighbours.
    let mut dense = sketch::new_dense();
    let mut expected = vec![0u8; REGISTERS];
    for _ in 0..cycles {
        for (index, slot) in expected.iter_mut().enumerate() {
            let value = (random.next_u64() & 63) as u8;
            *slot = value;
            sketch::put_dense_register(&mut dense, index, value);
        }
        for (index, &value) in expected.iter().enumerate() {
            let found = sketch::dense_register(&dense, index);
            if found != value {
                return failed(format!("Register {index} should be {value} but is {found}"));
            }
        }
    }
    // Test 2: the estimate stays within a few standard errors, sparse and dense agreeing.
    let mut dense = sketch::new_dense();
    let mut sparse = sketch::new_sparse();
    let relative_error = 1.04 / (REGISTERS as f64).sqrt();
    let mut checkpoint = 1u64;
    for j in 1..=elements {
        let element = (j ^ seed).to_le_bytes();
        let _ = sketch::add(&mut dense, &element, max_bytes);
        let _ = sketch::add(&mut sparse, &element, max_bytes);
        if j != checkpoint {
            continue;
        }
        if (j as usize) < max_bytes / 2 && sketch::encoding(&sparse) != SPARSE {
            return failed("sparse encoding not used".to_owned());
        }
        let estimate = sketch::count(&dense).unwrap_or_default();
        if sketch::count(&sparse).ok() != Some(estimate) {
            return failed("dense/sparse disagree".to_owned());
        }
        let error = (checkpoint as i64 - estimate as i64).unsigned_abs();
        let mut max_error = (relative_error * 6.0 * checkpoint as f64).ceil() as u64;
        if j == 10 {
            max_error = 1;
        }
        if error > max_error {
            return failed(format!("Too big error. card:{checkpoint} abserr:{error}"));
        }
        checkpoint *= 10;
    }
    Ok(Reply::Ok)
}
