//! Keyspace notifications against redis-server: the same commands of every family run on
//! both servers (Peregrine with 2 shards, so keys live on different cores), and the frames
//! a `PSUBSCRIBE __key*__:*` subscriber receives for each command are compared.
//!
//! After each command the client publishes a sync message that the subscriber also
//! receives: the frames before it are that command's, compared exactly: a command whose
//! keys span shards (MSET, DEL, RENAME, LMOVE, SUNIONSTORE ...) publishes its events in
//! Redis's order although each shard runs its part. Lazy expiry's events are
//! left to the commands crate's tests: the oracle's active expiry cannot be switched off
//! (its DEBUG command is disabled), so when a key expires there is a race.

use peregrine_testkit::{RawClient, RedisOracle, TestServer};
use std::net::SocketAddr;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// Commands per family.
const COMMANDS: &[&str] = &[
    // strings
    "SET s1 v",
    "SET s1 v2 EX 100",
    "SETNX s1 x",
    "SETEX s2 100 v",
    "GETSET s2 w",
    "APPEND s3 abc",
    "SETRANGE s3 1 zz",
    "INCR n",
    "INCRBY n 5",
    "DECR n",
    "INCRBYFLOAT f 1.5",
    "GETDEL s3",
    "GETEX s1 PERSIST",
    "GETEX s2 EX 50",
    "GET missing",
    "MSET m1 a m2 b m3 c",
    "MSETNX n1 a n2 b n3 c",
    "MSETNX n3 x n4 y",
    "MGET m1 missing m3",
    // keys
    "DEL m1 m2 nothing",
    "EXPIRE s1 100",
    "PEXPIRE s1 100000",
    "PERSIST s1",
    "EXPIRE s1 -1",
    "RENAME m3 m4",
    "COPY m4 m5",
    "MOVE m5 1",
    "EXISTS m4",
    "TYPE nothing",
    // lists
    "LPUSH l a b c",
    "RPUSH l d",
    "LPOP l",
    "RPOP l",
    "LSET l 0 x",
    "LINSERT l BEFORE x y",
    "LREM l 1 y",
    "LTRIM l 0 0",
    "LMOVE l l2 LEFT RIGHT",
    "RPOP l2",
    "LRANGE nolist 0 -1",
    // sets
    "SADD set a b c",
    "SREM set a",
    "SADD one x",
    "SPOP one",
    "SMOVE set set2 c",
    "SINTERSTORE set3 set2 set",
    "SUNIONSTORE set3 set2 nosuch",
    "SMEMBERS noset",
    // hashes
    "HSET h a 1 b 2",
    "HSETNX h a 3",
    "HINCRBY h a 4",
    "HINCRBYFLOAT h b 0.5",
    "HDEL h a b",
    "HGET h a",
    // sorted sets
    "ZADD z 1 a 2 b 3 c",
    "ZADD z INCR 5 a",
    "ZINCRBY z 1 b",
    "ZREM z c",
    "ZPOPMIN z",
    "ZADD z 1 x 2 y 3 w",
    "ZREMRANGEBYSCORE z 0 1",
    "ZREMRANGEBYRANK z 0 0",
    "ZUNIONSTORE z2 2 z nosuch",
    "ZRANGESTORE z3 z2 0 -1",
    "ZSCORE noz a",
    // streams (no XREADGROUP of a new consumer that finds nothing: Redis 7.2 creates the
    // consumer, and notifies, where 7.0, the oracle here, does not)
    "XADD x1 1-0 a 1",
    "XADD x1 2-0 b 2",
    "XADD x1 MAXLEN 1 3-0 c 3",
    "XADD x1 MAXLEN ~ 1 4-0 d 4",
    "XADD x1 NOMKSTREAM 5-0 e 5",
    "XADD nostream NOMKSTREAM 1-0 a 1",
    "XADD x1 MINID 4 6-0 f 6",
    "XDEL x1 4-0",
    "XDEL x1 99-0",
    "XTRIM x1 MAXLEN 1",
    "XTRIM x1 MAXLEN 100",
    "XTRIM x1 MAXLEN ~ 0",
    "XADD x1 7-0 g 7",
    "XGROUP CREATE x1 g1 0",
    "XGROUP CREATE x1 g1 0",
    "XGROUP CREATE x2 g1 $ MKSTREAM",
    "XGROUP CREATECONSUMER x1 g1 alice",
    "XGROUP CREATECONSUMER x1 g1 alice",
    "XREADGROUP GROUP g1 bob STREAMS x1 >",
    "XREADGROUP GROUP g1 bob STREAMS x1 >",
    "XREADGROUP GROUP g1 bob STREAMS x1 0",
    "XREADGROUP GROUP g1 frank STREAMS x1 0",
    "XADD x2 1-0 a 1",
    "XREADGROUP GROUP g1 hank NOACK STREAMS x2 >",
    "XACK x1 g1 7-0",
    "XCLAIM x1 g1 carol 0 7-0 FORCE",
    "XCLAIM x1 g1 carol 0 7-0",
    "XAUTOCLAIM x1 g1 dave 0 0",
    "XGROUP SETID x1 g1 0",
    "XGROUP SETID x1 g1 $ ENTRIESREAD 3",
    "XGROUP DELCONSUMER x1 g1 alice",
    "XGROUP DELCONSUMER x1 g1 nobody",
    "XGROUP DESTROY x1 g1",
    "XGROUP DESTROY x1 g1",
    "XSETID x1 10-0",
    "XSETID x1 11-0 ENTRIESADDED 10 MAXDELETEDID 5-0",
    "XDEL x1 7-0",
    "XLEN x1",
    "XRANGE x1 - +",
    "XINFO STREAM x1",
    "DEL x1 x2",
    // database 1
    "SELECT 1",
    "SET d1 v",
    "DEL d1",
    "SELECT 0",
];

const SYNC: &str = "notify:sync";

fn frames_per_command(address: SocketAddr) -> Vec<Vec<Vec<u8>>> {
    let mut client = RawClient::connect(address);
    client.cmd(&["FLUSHALL"]);
    client.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    let mut subscriber = RawClient::connect(address);
    subscriber.cmd(&["PSUBSCRIBE", "__key*__:*"]);
    subscriber.cmd(&["SUBSCRIBE", SYNC]);
    let mut seen = Vec::new();
    for (index, command) in COMMANDS.iter().enumerate() {
        let args: Vec<&str> = command.trim_start_matches('!').split(' ').collect();
        client.cmd(&args);
        client.cmd(&["PUBLISH", SYNC, &index.to_string()]);
        let mut frames = Vec::new();
        loop {
            let frame = subscriber.read_reply();
            if String::from_utf8_lossy(&frame).contains(SYNC) {
                break;
            }
            frames.push(frame);
        }
        seen.push(frames);
    }
    client.cmd(&["CONFIG", "SET", "notify-keyspace-events", ""]);
    seen
}

fn show(frames: &[Vec<u8>]) -> String {
    frames
        .iter()
        .map(|frame| String::from_utf8_lossy(frame).replace("\r\n", " "))
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn every_family_notifies_as_redis_does() {
    let Some(oracle) = RedisOracle::start("the keyspace notification comparison") else {
        return;
    };
    let server = TestServer::start(BIN, 2);
    let expected = frames_per_command(SocketAddr::from(([127, 0, 0, 1], oracle.port())));
    let actual = frames_per_command(server.addr());
    let mut mismatches = Vec::new();
    for ((command, want), got) in COMMANDS.iter().zip(&expected).zip(&actual) {
        let same = want == got;
        if !same {
            mismatches.push(format!(
                "{command}\n  redis:     {}\n  peregrine: {}",
                show(want),
                show(got)
            ));
        }
    }
    assert!(
        expected.iter().map(Vec::len).sum::<usize>() > 100,
        "the oracle published too few events: the test would prove little"
    );
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// Only the classes asked for are published, on keyspace (K) or keyevent (E) channels.
#[test]
fn classes_and_channel_kinds_filter_events() {
    let server = TestServer::start(BIN, 2);
    let mut client = RawClient::connect(server.addr());
    let mut subscriber = RawClient::connect(server.addr());
    subscriber.cmd(&["PSUBSCRIBE", "__key*__:*"]);
    client.cmd(&["CONFIG", "SET", "notify-keyspace-events", "El"]);
    client.cmd(&["SET", "ignored", "v"]);
    client.cmd(&["LPUSH", "list", "a"]);
    let frame = String::from_utf8_lossy(&subscriber.read_reply()).into_owned();
    assert!(
        frame.contains("__keyevent@0__:lpush") && frame.ends_with("$4\r\nlist\r\n"),
        "{frame}"
    );
    client.cmd(&["CONFIG", "SET", "notify-keyspace-events", "K$"]);
    client.cmd(&["LPUSH", "list", "b"]);
    client.cmd(&["SET", "k", "v"]);
    let frame = String::from_utf8_lossy(&subscriber.read_reply()).into_owned();
    assert!(
        frame.contains("__keyspace@0__:k") && frame.ends_with("$3\r\nset\r\n"),
        "{frame}"
    );
    let mut config = client.cmd(&["CONFIG", "GET", "notify-keyspace-events"]);
    config.retain(|byte| *byte != b'\r');
    // Redis lists the classes first, then K and E.
    assert!(
        String::from_utf8_lossy(&config).ends_with("$2\n$K\n"),
        "{}",
        String::from_utf8_lossy(&config)
    );
}

/// Active expiry publishes `expired` for keys nobody touches again.
#[test]
fn active_expiry_publishes_expired() {
    let server = TestServer::start(BIN, 2);
    let mut client = RawClient::connect(server.addr());
    let mut subscriber = RawClient::connect(server.addr());
    subscriber.cmd(&["SUBSCRIBE", "__keyevent@0__:expired"]);
    client.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]);
    for index in 0..20 {
        client.cmd(&["SET", &format!("short:{index}"), "v", "PX", "20"]);
    }
    let mut expired = std::collections::BTreeSet::new();
    while expired.len() < 20 {
        let frame = String::from_utf8_lossy(&subscriber.read_reply()).into_owned();
        let key = frame.rsplit("\r\n").nth(1).unwrap_or_default().to_owned();
        assert!(key.starts_with("short:"), "{frame}");
        assert!(expired.insert(key), "an expired event came twice: {frame}");
    }
}
