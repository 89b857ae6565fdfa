//! MEMORY DOCTOR|MALLOC-STATS|PURGE|STATS|USAGE|HELP, as redis-server answers them.
//!
//! USAGE is estimated where the key lives (see `peregrine_keyspace::memory`); STATS adds
//! every shard's databases to the allocator's figures INFO memory reports; MALLOC-STATS
//! and PURGE are jemalloc's own report and purge.

use crate::dispatch::Session;
use crate::info::ratio;
use crate::server_commands::collect_from_shards;
use crate::shard_state::ShardState;
use bytes::Bytes;
use peregrine_commands::{check_subcommand, parse_integer, Arity::*, Subcommand};
use peregrine_commands::{Flag, KeySpec};
use peregrine_keyspace::DbIndex;
use peregrine_resp::{Argv, Reply};
use peregrine_shard::ShardId;
use std::rc::Rc;
use std::sync::atomic::Ordering;

/// Elements MEMORY USAGE samples in a collection unless told (Redis's default).
const DEFAULT_SAMPLES: usize = 5;

/// Below this much allocated memory MEMORY DOCTOR has nothing to say (as Redis).
const DOCTOR_MINIMUM: u64 = 5 * 1024 * 1024;

/// MEMORY's subcommands.
#[rustfmt::skip]
pub const MEMORY_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "doctor",       full_name: "memory|doctor",       arity: Exactly(2), flags: &[], keys: KeySpec::NONE },
    Subcommand { name: "malloc-stats", full_name: "memory|malloc-stats", arity: Exactly(2), flags: &[], keys: KeySpec::NONE },
    Subcommand { name: "purge",        full_name: "memory|purge",        arity: Exactly(2), flags: &[], keys: KeySpec::NONE },
    Subcommand { name: "stats",        full_name: "memory|stats",        arity: Exactly(2), flags: &[], keys: KeySpec::NONE },
    Subcommand { name: "usage",        full_name: "memory|usage",        arity: AtLeast(3), flags: &[Flag::ReadOnly], keys: KeySpec { first: 2, last: 2, step: 1, find: None } },
    Subcommand { name: "help",         full_name: "memory|help",         arity: Exactly(2), flags: &[Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
];

const HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

/// MEMORY <subcommand> ...
pub async fn command(session: &mut Session, argv: &Argv) -> Reply {
    let subcommand = match check_subcommand("memory", MEMORY_SUBCOMMANDS, argv) {
        Ok(subcommand) => subcommand,
        Err(failure) => return failure.into_reply(),
    };
    session.info.last_command.set(subcommand.full_name);
    match subcommand.name {
        "usage" => usage(session, argv).await,
        "stats" => Reply::Map(stats(session).await),
        "doctor" => Reply::Verbatim("txt", Bytes::from(doctor(session))),
        "malloc-stats" => {
            let mut report = Vec::new();
            match tikv_jemalloc_ctl::stats_print::stats_print(&mut report, Default::default()) {
                Ok(()) => Reply::Verbatim("txt", Bytes::from(report)),
                Err(error) => Reply::error(format!("ERR {error}")),
            }
        }
        "purge" => {
            purge_allocator();
            Reply::Ok
        }
        _ => Reply::help(HELP),
    }
}

/// MEMORY USAGE key [SAMPLES count]: the estimate from the key's shard, nil when absent.
async fn usage(session: &mut Session, argv: &Argv) -> Reply {
    let mut samples = DEFAULT_SAMPLES;
    let mut options = argv[3..].iter();
    while let Some(option) = options.next() {
        let count = match options.next() {
            Some(count) if option.eq_ignore_ascii_case(b"samples") => count,
            _ => return Reply::error("ERR syntax error"),
        };
        match parse_integer(count).ok() {
            None => return Reply::error("ERR value is not an integer or out of range"),
            Some(count) if count < 0 => return Reply::error("ERR syntax error"),
            Some(count) => samples = count as usize,
        }
    }
    let key = argv[2].clone();
    let shard = ShardId::for_key(&key, session.router.shard_count());
    let (db, options) = (session.db, session.options);
    let bytes = session
        .router
        .invoke_on(shard, move |state: Rc<ShardState>| async move {
            state.with_ctx(db, options, |ctx| {
                let now = ctx.now;
                ctx.db()
                    .get_live(&key, now)
                    .map(|entry| peregrine_keyspace::memory::usage(&key, &entry.value, samples))
            })
        })
        .await;
    bytes.map_or(Reply::Nil, |bytes| Reply::Integer(bytes as i64))
}

/// Bytes of a database's tables themselves: a bucket pointer per key, and per key with a
/// deadline in the expiry index (at a load factor of one).
pub fn table_overhead(keys: usize, expires: usize) -> (u64, u64) {
    let pointer = std::mem::size_of::<usize>() as u64;
    (keys as u64 * pointer, expires as u64 * pointer)
}

/// The allocated bytes that are not the dataset, as Redis's `used_memory_overhead`: the
/// server's own at start-up, the log buffered and the databases' tables.
pub fn overhead(
    startup: u64,
    pending_log: u64,
    databases: impl Iterator<Item = (usize, usize)>,
) -> u64 {
    databases.fold(startup + pending_log, |total, (keys, expires)| {
        let (main, expiry) = table_overhead(keys, expires);
        total + main + expiry
    })
}

/// One shard's databases: (index, keys, keys with a deadline), and its unwritten log.
type ShardFigures = (Vec<(DbIndex, usize, usize)>, u64);

/// MEMORY STATS: redis-server's fields, in its order.
async fn stats(session: &Session) -> Vec<(Reply, Reply)> {
    let figures: Vec<ShardFigures> = collect_from_shards(session, |state| {
        let keyspace = state.keyspace.borrow();
        let databases = keyspace
            .iter()
            .filter(|(_, db)| !db.is_empty())
            .map(|(index, db)| (index, db.len(), db.expires_len()))
            .collect();
        (databases, state.journal.borrow().buffered() as u64)
    })
    .await;
    let mut databases: std::collections::BTreeMap<u32, (usize, usize)> = Default::default();
    for (index, keys, expires) in figures.iter().flat_map(|(databases, _)| databases) {
        let totals = databases.entry(index.0).or_default();
        totals.0 += keys;
        totals.1 += expires;
    }
    let server = &session.shard().server;
    let memory = crate::info::sample_memory(server);
    let peak = server.memory_peak.load(Ordering::Relaxed);
    let startup = server.memory_startup.load(Ordering::Relaxed);
    let pending_log: u64 = figures.iter().map(|(_, pending)| pending).sum();
    let overhead = overhead(startup, pending_log, databases.values().copied());
    let mut fields: Vec<(&str, Reply)> = vec![
        ("peak.allocated", Reply::Integer(peak as i64)),
        ("total.allocated", Reply::Integer(memory.allocated as i64)),
        ("startup.allocated", Reply::Integer(startup as i64)),
        ("replication.backlog", Reply::Integer(0)),
        ("clients.slaves", Reply::Integer(0)),
        ("clients.normal", Reply::Integer(0)),
        ("cluster.links", Reply::Integer(0)),
        ("aof.buffer", Reply::Integer(pending_log as i64)),
        ("lua.caches", Reply::Integer(0)),
        ("functions.caches", Reply::Integer(0)),
    ];
    let mut per_db = Vec::new();
    for (index, (keys, expires)) in &databases {
        let (main, expiry) = table_overhead(*keys, *expires);
        per_db.push((
            format!("db.{index}"),
            Reply::Map(vec![
                (
                    Reply::bulk("overhead.hashtable.main"),
                    Reply::Integer(main as i64),
                ),
                (
                    Reply::bulk("overhead.hashtable.expires"),
                    Reply::Integer(expiry as i64),
                ),
                (
                    Reply::bulk("overhead.hashtable.slot-to-keys"),
                    Reply::Integer(0),
                ),
            ]),
        ));
    }
    let keys: usize = databases.values().map(|(keys, _)| keys).sum();
    let dataset = memory.allocated.saturating_sub(overhead);
    let net = memory.allocated.saturating_sub(startup);
    let mut tail: Vec<(&str, Reply)> = vec![
        ("overhead.total", Reply::Integer(overhead as i64)),
        ("keys.count", Reply::Integer(keys as i64)),
        (
            "keys.bytes-per-key",
            Reply::Integer(if keys == 0 {
                0
            } else {
                (net / keys as u64) as i64
            }),
        ),
        ("dataset.bytes", Reply::Integer(dataset as i64)),
        (
            "dataset.percentage",
            Reply::Double(ratio(dataset, net) * 100.0),
        ),
        (
            "peak.percentage",
            Reply::Double(ratio(memory.allocated, peak) * 100.0),
        ),
        (
            "allocator.allocated",
            Reply::Integer(memory.allocated as i64),
        ),
        ("allocator.active", Reply::Integer(memory.active as i64)),
        (
            "allocator.resident",
            Reply::Integer(memory.allocator_resident as i64),
        ),
    ];
    let names = [
        (
            "allocator-fragmentation.ratio",
            "allocator-fragmentation.bytes",
        ),
        ("allocator-rss.ratio", "allocator-rss.bytes"),
        ("rss-overhead.ratio", "rss-overhead.bytes"),
        ("fragmentation", "fragmentation.bytes"),
    ];
    for ((ratio_name, bytes_name), overhead) in names.into_iter().zip(memory.overheads()) {
        tail.push((ratio_name, Reply::Double(overhead.ratio)));
        tail.push((bytes_name, Reply::Integer(overhead.bytes)));
    }
    fields
        .drain(..)
        .map(|(name, value)| (Reply::bulk(name), value))
        .chain(
            per_db
                .into_iter()
                .map(|(name, value)| (Reply::Bulk(Bytes::from(name)), value)),
        )
        .chain(
            tail.into_iter()
                .map(|(name, value)| (Reply::bulk(name), value)),
        )
        .collect()
}

/// MEMORY DOCTOR: Redis's report of the conditions it checks (memory peak far above the
/// current use, high fragmentation), or its texts for a small or healthy instance.
fn doctor(session: &Session) -> String {
    let server = &session.shard().server;
    let memory = crate::info::sample_memory(server);
    if memory.allocated < DOCTOR_MINIMUM {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.".to_owned();
    }
    let peak = server.memory_peak.load(Ordering::Relaxed);
    let mut issues = Vec::new();
    if peak as f64 / memory.allocated as f64 > 1.5 {
        issues.push(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n");
    }
    let fragmentation = memory.active as f64 / memory.allocated as f64;
    if fragmentation > 1.1 && memory.active - memory.allocated > 10 * 1024 * 1024 {
        issues.push(" * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n");
    }
    if issues.is_empty() {
        return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.".to_owned();
    }
    format!(
        "Sam, I detected a few issues in this Redis instance memory implants:\n\n{}I'm here to keep you safe, Sam. I want to help you.\n",
        issues.concat()
    )
}

/// Returns the allocator's dirty pages of every arena to the system (jemalloc's
/// `arena.<all>.purge`), as Redis's MEMORY PURGE does.
fn purge_allocator() {
    // MALLCTL_ARENAS_ALL: the pseudo-arena index that names every arena.
    const NAME: &[u8] = b"arena.4096.purge\0";
    // SAFETY: NAME is a NUL-terminated jemalloc control name; this control takes no
    // input and gives no output, so every pointer passed is null and every length 0.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            NAME.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
}
