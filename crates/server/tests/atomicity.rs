//! The cross-shard atomicity stress test: concurrent clients run multi-key commands whose
//! keys live on different shards (no hash tags), and every observation must be one a
//! serial execution could produce:
//!
//! * a group of keys is only ever written whole (MSET, MSETNX) or deleted whole (DEL), so
//!   MGET sees all values equal (or all missing), and DEL / EXISTS count 0 or all;
//! * a value renamed back and forth between two names on different shards exists under
//!   exactly one name at every observation (`EXISTS a b` is 1);
//! * single-key INCRs interleaved with all this add up exactly.
//!
//! Assertions are about values only, never timing; loops are bounded; every read has a
//! 30 s timeout, so a deadlock fails the test instead of hanging it.

use peregrine_shard::ShardId;
use peregrine_testkit::{error_text, keys_on_shards, TestServer};
use redis::Value;
use std::collections::BTreeSet;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

const THREADS: usize = 8;
const OPERATIONS_PER_THREAD: usize = 400;
const GROUPS: usize = 4;
const KEYS_PER_GROUP: usize = 4;
const PAIRS: usize = 4;

/// A small deterministic generator (xorshift64*).
struct Random(u64);

impl Random {
    fn new(seed: u64) -> Random {
        Random(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound as u64) as usize
    }
}

/// The keys the threads share.
struct Layout {
    groups: Vec<Vec<String>>,
    pairs: Vec<(String, String)>,
    counter: String,
}

impl Layout {
    fn new(shards: u16) -> Layout {
        let groups: Vec<Vec<String>> = (0..GROUPS)
            .map(|group| keys_on_shards(&format!("group{group}:"), KEYS_PER_GROUP, shards))
            .collect();
        for group in &groups {
            let owners: BTreeSet<u16> = group
                .iter()
                .map(|key| ShardId::for_key(key.as_bytes(), shards).0)
                .collect();
            assert_eq!(
                owners.len(),
                usize::from(shards).min(KEYS_PER_GROUP),
                "{group:?} does not span the shards"
            );
        }
        let pairs = (0..PAIRS)
            .map(|pair| {
                // The two names of a pair live on different shards.
                let keys = keys_on_shards(&format!("pair{pair}:"), 2, shards);
                let keys = if pair % 2 == 0 {
                    keys
                } else {
                    vec![keys[1].clone(), keys[0].clone()]
                };
                assert_ne!(
                    ShardId::for_key(keys[0].as_bytes(), shards),
                    ShardId::for_key(keys[1].as_bytes(), shards)
                );
                (keys[0].clone(), keys[1].clone())
            })
            .collect();
        Layout {
            groups,
            pairs,
            counter: "counter".to_owned(),
        }
    }
}

fn query<T: redis::FromRedisValue>(
    connection: &mut redis::Connection,
    command: &redis::Cmd,
    what: &str,
) -> T {
    command.query(connection).unwrap_or_else(|error| {
        panic!("{what}: {error} (a timeout here means the server stopped answering: a deadlock?)")
    })
}

fn assert_group_consistent(values: &[Option<String>], what: &str) {
    let first = &values[0];
    assert!(
        values.iter().all(|value| value == first),
        "{what}: MGET saw a partial multi-key write: {values:?}"
    );
}

fn assert_pair_consistent(
    connection: &mut redis::Connection,
    pair: usize,
    names: &(String, String),
    what: &str,
) {
    let exists: i64 = query(
        connection,
        redis::cmd("EXISTS").arg(&names.0).arg(&names.1),
        what,
    );
    assert_eq!(exists, 1, "{what}: pair {pair} exists under {exists} names");
    let values: Vec<Option<String>> = query(
        connection,
        redis::cmd("MGET").arg(&names.0).arg(&names.1),
        what,
    );
    let present: Vec<&String> = values.iter().flatten().collect();
    assert_eq!(
        present,
        vec![&format!("pair-{pair}")],
        "{what}: pair {pair} values {values:?}"
    );
}

/// One client's bounded run; returns how many INCRs it did.
fn client_run(server_url: String, layout: &Layout, thread: usize) -> u64 {
    let client = redis::Client::open(server_url).unwrap();
    let mut connection = client
        .get_connection_with_timeout(peregrine_testkit::IO_TIMEOUT)
        .unwrap();
    connection
        .set_read_timeout(Some(peregrine_testkit::IO_TIMEOUT))
        .unwrap();
    connection
        .set_write_timeout(Some(peregrine_testkit::IO_TIMEOUT))
        .unwrap();
    let mut random = Random::new(thread as u64 + 1);
    let mut increments = 0;
    for operation in 0..OPERATIONS_PER_THREAD {
        let what = format!("thread {thread} operation {operation}");
        let group_index = random.below(GROUPS);
        let group = &layout.groups[group_index];
        let value = format!("t{thread}:{operation}");
        match random.below(100) {
            0..=19 => {
                let mut mset = redis::cmd("MSET");
                for key in group {
                    mset.arg(key).arg(&value);
                }
                let _: () = query(&mut connection, &mset, &what);
            }
            20..=39 => {
                let values: Vec<Option<String>> =
                    query(&mut connection, redis::cmd("MGET").arg(group), &what);
                assert_group_consistent(&values, &what);
            }
            40..=46 => {
                let deleted: usize = query(&mut connection, redis::cmd("DEL").arg(group), &what);
                assert!(
                    deleted == 0 || deleted == group.len(),
                    "{what}: DEL removed {deleted} of a group"
                );
            }
            47..=53 => {
                let mut msetnx = redis::cmd("MSETNX");
                for key in group {
                    msetnx.arg(key).arg(format!("nx-{value}"));
                }
                let set: i64 = query(&mut connection, &msetnx, &what);
                assert!(set == 0 || set == 1, "{what}: MSETNX answered {set}");
            }
            54..=59 => {
                let exists: usize = query(&mut connection, redis::cmd("EXISTS").arg(group), &what);
                assert!(
                    exists == 0 || exists == group.len(),
                    "{what}: EXISTS saw {exists} of a group"
                );
            }
            60..=79 => {
                let pair = random.below(PAIRS);
                let (first, second) = &layout.pairs[pair];
                let (from, to) = if random.below(2) == 0 {
                    (first, second)
                } else {
                    (second, first)
                };
                match redis::cmd("RENAME")
                    .arg(from)
                    .arg(to)
                    .query::<Value>(&mut connection)
                {
                    Ok(Value::Okay) => {}
                    Ok(other) => panic!("{what}: RENAME answered {other:?}"),
                    Err(error) => {
                        assert_eq!(
                            error_text(&error),
                            "ERR no such key",
                            "{what}: RENAME failed otherwise"
                        )
                    }
                }
            }
            80..=89 => {
                let pair = random.below(PAIRS);
                assert_pair_consistent(&mut connection, pair, &layout.pairs[pair], &what);
            }
            90..=94 => {
                let _: i64 = query(
                    &mut connection,
                    redis::cmd("INCR").arg(&layout.counter),
                    &what,
                );
                increments += 1;
            }
            _ => {
                // A pipeline mixing a cross-shard write, reads and a rename check: replies
                // come back in order and each is consistent.
                let pair = random.below(PAIRS);
                let (first, second) = &layout.pairs[pair];
                let mut pipeline = redis::pipe();
                let mset = pipeline.cmd("MSET");
                for key in group {
                    mset.arg(key).arg(&value);
                }
                pipeline.cmd("MGET").arg(group);
                pipeline.cmd("EXISTS").arg(first).arg(second);
                pipeline.cmd("INCR").arg(&layout.counter);
                let (_, values, exists, _): ((), Vec<Option<String>>, i64, i64) = pipeline
                    .query(&mut connection)
                    .unwrap_or_else(|error| panic!("{what}: pipeline failed: {error}"));
                assert_group_consistent(&values, &what);
                assert_eq!(
                    exists, 1,
                    "{what}: pair {pair} exists under {exists} names (pipelined)"
                );
                increments += 1;
            }
        }
    }
    increments
}

fn stress(shards: u16) {
    let server = TestServer::start(BIN, shards);
    let layout = Layout::new(shards);
    let mut setup = server.client();
    for (pair, (first, _)) in layout.pairs.iter().enumerate() {
        let _: () = redis::cmd("SET")
            .arg(first)
            .arg(format!("pair-{pair}"))
            .query(&mut setup)
            .unwrap();
    }
    let increments: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (url, layout) = (server.url(), &layout);
                scope.spawn(move || client_run(url, layout, thread))
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .sum()
    });
    // Quiescent state: every invariant holds, and the counts add up.
    let mut present_groups = 0;
    for group in &layout.groups {
        let values: Vec<Option<String>> = redis::cmd("MGET").arg(group).query(&mut setup).unwrap();
        assert_group_consistent(&values, "final");
        if values[0].is_some() {
            present_groups += 1;
        }
    }
    for (pair, names) in layout.pairs.iter().enumerate() {
        assert_pair_consistent(&mut setup, pair, names, "final");
    }
    let counter: u64 = redis::cmd("GET")
        .arg(&layout.counter)
        .query(&mut setup)
        .unwrap();
    assert_eq!(counter, increments, "INCRs were lost or doubled");
    let keys: usize = redis::cmd("DBSIZE").query(&mut setup).unwrap();
    assert_eq!(keys, present_groups * KEYS_PER_GROUP + PAIRS + 1, "DBSIZE");
    let info: String = redis::cmd("INFO").arg("stats").query(&mut setup).unwrap();
    assert!(info.contains("\r\ncommand_panics:0\r\n"), "{info}");
}

#[test]
fn cross_shard_commands_are_atomic_with_two_shards() {
    stress(2);
}

#[test]
fn cross_shard_commands_are_atomic_with_four_shards() {
    stress(4);
}
