//! MULTI/EXEC/DISCARD/WATCH against the oracle and under concurrency.
//!
//! * Scenarios: scripted steps of two clients sent to a real redis-server and to
//!   peregrine-server (2 shards, keys spread over both), every reply compared byte for
//!   byte: queuing errors and EXECABORT, errors inside EXEC, nesting, WATCH invalidated by
//!   another client's write, by one's own, by expiry, by FLUSHALL/FLUSHDB/SWAPDB (and not
//!   by writes that change nothing or by stale keys), UNWATCH/DISCARD/EXEC forgetting
//!   watches, WATCH remembering its database, blocking commands inside MULTI, server and
//!   cross-shard commands inside EXEC, RESP3.
//! * Isolation: concurrent transactions write groups of keys on different shards while
//!   readers check that a group is never seen half-written.
//! * Optimistic locking: clients increment a counter with WATCH/GET/MULTI/SET/EXEC,
//!   retrying on a nil EXEC; no increment may be lost.

use peregrine_testkit::{keys_on_shards, RawClient, RedisOracle, TestServer};
use std::net::SocketAddr;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");
const SHARDS: u16 = 2;

use peregrine_testkit::scenario::{mismatches, Step, Step::*};

fn scenarios() -> Vec<(&'static str, Vec<Step>)> {
    vec![
        (
            "queuing errors abort the transaction; control errors do not",
            vec![
                Send(0, "MULTI"),
                Send(0, "MULTI"),
                Send(0, "WATCH {0}"),
                Send(0, "SET {0} 1"),
                Send(0, "EXEC"),
                Send(0, "MULTI"),
                Send(0, "SET {0}"),
                Send(0, "SET {1} 1"),
                Send(0, "EXEC"),
                Send(0, "GET {1}"),
                Send(0, "MULTI"),
                Send(0, "NOSUCHCOMMAND x"),
                Send(0, "EXEC"),
                Send(0, "MULTI"),
                Send(0, "SAVE"),
                Send(0, "EXEC"),
                Send(0, "EXEC"),
                Send(0, "DISCARD"),
                Send(0, "MULTI"),
                Send(0, "SET {2} x"),
                Send(0, "DISCARD"),
                Send(0, "GET {2}"),
            ],
        ),
        (
            "runtime errors inside EXEC are returned in place",
            vec![
                Send(0, "MULTI"),
                Send(0, "SET {0} notanumber"),
                Send(0, "INCR {0}"),
                Send(0, "LPUSH {0} x"),
                Send(0, "SET {1} after"),
                Send(0, "INCRBY {1} x"),
                Send(0, "GET {1}"),
                Send(0, "EXEC"),
            ],
        ),
        (
            "cross-shard and server commands inside EXEC",
            vec![
                Send(0, "MULTI"),
                Send(0, "MSET {0} 1 {1} 2 {2} 3"),
                Send(0, "RENAME {0} {3}"),
                Send(0, "MGET {0} {1} {2} {3}"),
                Send(0, "DBSIZE"),
                Send(0, "SELECT 1"),
                Send(0, "SET {0} db1"),
                Send(0, "SELECT 99"),
                Send(0, "GET {0}"),
                Send(0, "PING"),
                Send(0, "ECHO hi"),
                Send(0, "SUNIONSTORE {2} {0}"),
                Send(0, "EXEC"),
                Send(0, "GET {0}"),
                Send(0, "SELECT 0"),
                Send(0, "MULTI"),
                Send(0, "FLUSHALL"),
                Send(0, "SET {1} only"),
                Send(0, "DBSIZE"),
                Send(0, "EXEC"),
            ],
        ),
        (
            "blocking commands inside MULTI do not block",
            vec![
                Send(0, "MULTI"),
                Send(0, "BLPOP {0} 0"),
                Send(0, "BRPOPLPUSH {0} {1} 0"),
                Send(0, "BZPOPMIN {2} 0"),
                Send(0, "BLMOVE {0} {1} LEFT RIGHT 0"),
                Send(0, "RPUSH {0} a b"),
                Send(0, "BLPOP {0} 0"),
                Send(0, "EXEC"),
            ],
        ),
        (
            "a write by another client fails EXEC, on any shard",
            vec![
                Send(0, "SET {0} 1"),
                Send(0, "WATCH {0} {1}"),
                Send(1, "SET {1} changed"),
                Send(0, "MULTI"),
                Send(0, "SET {2} x"),
                Send(0, "EXEC"),
                Send(0, "GET {2}"),
                Send(0, "WATCH {0}"),
                Send(0, "MULTI"),
                Send(0, "SET {2} y"),
                Send(0, "EXEC"),
                Send(0, "GET {2}"),
            ],
        ),
        (
            "one's own write before MULTI fails EXEC too",
            vec![
                Send(0, "WATCH {0}"),
                Send(0, "SET {0} mine"),
                Send(0, "MULTI"),
                Send(0, "GET {0}"),
                Send(0, "EXEC"),
            ],
        ),
        (
            "writes that change nothing do not fail EXEC",
            vec![
                Send(0, "SET {0} 1"),
                Send(0, "WATCH {0} {1} {2}"),
                Send(1, "DEL {1}"),
                Send(1, "SET {0} 2 NX"),
                Send(1, "SREM {2} x"),
                Send(1, "EXPIRE {1} 10"),
                Send(0, "MULTI"),
                Send(0, "GET {0}"),
                Send(0, "EXEC"),
                Send(0, "WATCH {0}"),
                Send(1, "SET {0} 1"),
                Send(0, "MULTI"),
                Send(0, "GET {0}"),
                Send(0, "EXEC"),
            ],
        ),
        (
            "a watched key that expires fails EXEC; a key stale when watched does not",
            vec![
                Send(0, "SET {0} v PX 50"),
                Send(0, "WATCH {0}"),
                Sleep(120),
                Send(0, "MULTI"),
                Send(0, "PING"),
                Send(0, "EXEC"),
                Send(0, "SET {1} v PX 20"),
                Sleep(80),
                Send(0, "WATCH {1}"),
                Send(1, "DEL {1}"),
                Send(0, "MULTI"),
                Send(0, "PING"),
                Send(0, "EXEC"),
            ],
        ),
        (
            "FLUSHALL, FLUSHDB and SWAPDB fail the watches of keys they affect",
            vec![
                Send(0, "SET {0} 1"),
                Send(0, "WATCH {0}"),
                Send(1, "FLUSHALL"),
                Send(0, "MULTI"),
                Send(0, "PING"),
                Send(0, "EXEC"),
                Send(0, "WATCH {1}"),
                Send(1, "FLUSHALL"),
                Send(0, "MULTI"),
                Send(0, "PING"),
                Send(0, "EXEC"),
                Send(0, "SET {0} 1"),
                Send(0, "WATCH {0}"),
                Send(1, "FLUSHDB"),
                Send(0, "MULTI"),
                Send(0, "PING"),
                Send(0, "EXEC"),
                Send(1, "SELECT 1"),
                Send(1, "SET {2} in-db1"),
                Send(0, "WATCH {2} {3}"),
                Send(1, "SWAPDB 0 1"),
                Send(0, "MULTI"),
                Send(0, "PING"),
                Send(0, "EXEC"),
                Send(0, "WATCH {3}"),
                Send(1, "SWAPDB 0 1"),
                Send(0, "MULTI"),
                Send(0, "PING"),
                Send(0, "EXEC"),
            ],
        ),
        (
            "container subcommands are checked while queuing",
            vec![
                Send(0, "SET {0} v"),
                Send(0, "MULTI"),
                Send(0, "OBJECT NOSUCHSUB {0}"),
                Send(0, "EXEC"),
                Send(0, "MULTI"),
                Send(0, "OBJECT ENCODING"),
                Send(0, "EXEC"),
                Send(0, "MULTI"),
                Send(0, "OBJECT ENCODING {0}"),
                Send(0, "CONFIG GET maxmemory-policy"),
                Send(0, "EXEC"),
            ],
        ),
        (
            "FLUSHALL judges a watched key by its own database only",
            vec![
                Send(1, "SELECT 1"),
                Send(1, "SET {0} elsewhere"),
                Send(0, "WATCH {0}"),
                Send(1, "FLUSHALL"),
                Send(0, "MULTI"),
                Send(0, "PING"),
                Send(0, "EXEC"),
            ],
        ),
        (
            "UNWATCH, DISCARD and EXEC forget the watches; WATCH remembers its database",
            vec![
                Send(0, "WATCH {0}"),
                Send(0, "UNWATCH"),
                Send(1, "SET {0} a"),
                Send(0, "MULTI"),
                Send(0, "PING"),
                Send(0, "EXEC"),
                Send(0, "WATCH {0}"),
                Send(0, "MULTI"),
                Send(0, "DISCARD"),
                Send(1, "SET {0} b"),
                Send(0, "MULTI"),
                Send(0, "PING"),
                Send(0, "EXEC"),
                Send(0, "WATCH {0}"),
                Send(0, "MULTI"),
                Send(0, "PING"),
                Send(0, "EXEC"),
                Send(1, "SET {0} c"),
                Send(0, "MULTI"),
                Send(0, "PING"),
                Send(0, "EXEC"),
                Send(0, "SELECT 1"),
                Send(0, "WATCH {0}"),
                Send(0, "SELECT 0"),
                Send(1, "SET {0} d"),
                Send(0, "MULTI"),
                Send(0, "PING"),
                Send(0, "EXEC"),
                Send(0, "SELECT 1"),
                Send(0, "WATCH {0}"),
                Send(1, "SELECT 1"),
                Send(1, "SET {0} e"),
                Send(0, "MULTI"),
                Send(0, "PING"),
                Send(0, "EXEC"),
            ],
        ),
        (
            "a failed watch discards the queue, whatever it holds",
            vec![
                Send(0, "WATCH {0}"),
                Send(1, "INCR {0}"),
                Send(0, "MULTI"),
                Send(0, "SET {1} x"),
                Send(0, "FLUSHALL"),
                Send(0, "MSET {2} 1 {3} 2"),
                Send(0, "EXEC"),
                Send(0, "MGET {0} {1} {2} {3}"),
            ],
        ),
        (
            "RESP3 replies",
            vec![
                Quiet(0, "HELLO 3"),
                Send(0, "MULTI"),
                Send(0, "HSET {0} f v"),
                Send(0, "HGETALL {0}"),
                Send(0, "ZADD {1} 1.5 m"),
                Send(0, "ZSCORE {1} m"),
                Send(0, "EXEC"),
                Send(0, "WATCH {0}"),
                Send(1, "DEL {0}"),
                Send(0, "MULTI"),
                Send(0, "PING"),
                Send(0, "EXEC"),
            ],
        ),
        (
            // Regression: EXEC with arguments answered a plain arity error and left the
            // transaction and the watches in place (found by the differential tester).
            "a refused EXEC discards the transaction and the watches, in MULTI or not",
            vec![
                Send(0, "MULTI"),
                Send(0, "SET {0} queued"),
                Send(0, "EXEC extra"),
                Send(0, "GET {0}"),
                Send(0, "EXEC"),
                Send(0, "WATCH {1}"),
                Send(0, "EXEC extra"),
                Send(1, "SET {1} other"),
                Send(0, "MULTI"),
                Send(0, "GET {1}"),
                Send(0, "EXEC"),
            ],
        ),
        (
            // Regression: an empty transaction with nothing watched answered a nil array.
            "an empty transaction answers an empty array",
            vec![
                Send(0, "MULTI"),
                Send(0, "EXEC"),
                Send(0, "WATCH {0}"),
                Send(0, "UNWATCH"),
                Send(0, "MULTI"),
                Send(0, "EXEC"),
            ],
        ),
    ]
}

#[test]
fn transactions_reply_as_redis_does() {
    let Some(oracle) = RedisOracle::start("the MULTI/EXEC/WATCH scenarios") else {
        return;
    };
    let server = TestServer::start(BIN, SHARDS);
    let keys = keys_on_shards("tx:", 4, SHARDS);
    let redis: SocketAddr = ([127, 0, 0, 1], oracle.port()).into();
    let mismatches = mismatches(redis, server.addr(), &keys, &scenarios());
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// Transactions that write a group of keys on both shards are never seen half done, by
/// plain MGETs or by transactions that read.
#[test]
fn transactions_are_isolated_across_shards() {
    let server = TestServer::start(BIN, SHARDS);
    let keys = keys_on_shards("group:", 4, SHARDS);
    let writers: Vec<_> = (0..3)
        .map(|writer| {
            let (address, keys) = (server.addr(), keys.clone());
            std::thread::spawn(move || {
                let mut client = RawClient::connect(address);
                for round in 0..300 {
                    let value = format!("w{writer}r{round}");
                    client.cmd(&["MULTI"]);
                    for key in &keys {
                        client.cmd(&["SET", key, &value]);
                    }
                    if round % 3 == 0 {
                        // A server command sends the transaction down the global path.
                        client.cmd(&["DBSIZE"]);
                    }
                    let reply = client.cmd(&["EXEC"]);
                    assert!(
                        reply.starts_with(b"*"),
                        "{:?}",
                        String::from_utf8_lossy(&reply)
                    );
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|reader| {
            let (address, keys) = (server.addr(), keys.clone());
            std::thread::spawn(move || {
                let mut client = RawClient::connect(address);
                let mut args = vec!["MGET"];
                args.extend(keys.iter().map(String::as_str));
                for _ in 0..400 {
                    let reply = if reader == 0 {
                        client.cmd(&args)
                    } else {
                        client.cmd(&["MULTI"]);
                        client.cmd(&args);
                        client.cmd(&["EXEC"])
                    };
                    let text = String::from_utf8_lossy(&reply).into_owned();
                    let values: Vec<&str> = text
                        .split("\r\n")
                        .filter(|line| line.starts_with('w') || line.starts_with("$-1"))
                        .collect();
                    assert_eq!(values.len(), keys.len(), "{text:?}");
                    assert!(
                        values.iter().all(|value| *value == values[0]),
                        "a transaction was seen half done: {text:?}"
                    );
                }
            })
        })
        .collect();
    for thread in writers.into_iter().chain(readers) {
        thread.join().expect("no assertion failed");
    }
}

/// WATCH-based compare-and-set from several clients on different cores loses no update.
#[test]
fn optimistic_increments_lose_nothing() {
    let server = TestServer::start(BIN, SHARDS);
    let keys = keys_on_shards("cas:", 2, SHARDS);
    const CLIENTS: usize = 4;
    const INCREMENTS: usize = 100;
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (address, keys) = (server.addr(), keys.clone());
            std::thread::spawn(move || {
                let mut client = RawClient::connect(address);
                let mut retries = 0usize;
                for _ in 0..INCREMENTS {
                    loop {
                        client.cmd(&["WATCH", &keys[0], &keys[1]]);
                        let current = client.cmd(&["GET", &keys[0]]);
                        let text = String::from_utf8_lossy(&current).into_owned();
                        let value: u64 = text
                            .lines()
                            .nth(1)
                            .map_or(0, |line| line.parse().expect("a number"));
                        client.cmd(&["MULTI"]);
                        client.cmd(&["SET", &keys[0], &(value + 1).to_string()]);
                        client.cmd(&["SET", &keys[1], &(value + 1).to_string()]);
                        let reply = client.cmd(&["EXEC"]);
                        if reply.starts_with(b"*2") {
                            break;
                        }
                        assert_eq!(reply, b"*-1\r\n");
                        retries += 1;
                    }
                }
                retries
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("no assertion failed");
    }
    let mut client = RawClient::connect(server.addr());
    let total = (CLIENTS * INCREMENTS).to_string();
    let expected = format!(
        "*2\r\n${}\r\n{total}\r\n${}\r\n{total}\r\n",
        total.len(),
        total.len()
    );
    assert_eq!(
        String::from_utf8_lossy(&client.cmd(&["MGET", &keys[0], &keys[1]])),
        expected
    );
}
