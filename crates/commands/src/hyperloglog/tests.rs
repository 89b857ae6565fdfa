use super::*;
use crate::test_shard::TestShard;

/// The bytes redis-server 7.0 stores for `PFADD h a b c` (then after PFCOUNT caches 3).
const ABC: &[u8] =
    b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80`\xf3\x80P\xb1\x84K\xfb\x80BZ";
const ABC_CACHED: &[u8] =
    b"HYLL\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00`\xf3\x80P\xb1\x84K\xfb\x80BZ";

fn raw_get(shard: &mut TestShard, key: &str) -> Vec<u8> {
    match shard.run(&["GET", key]) {
        Reply::Bulk(bytes) => bytes.to_vec(),
        other => panic!("GET {key}: {other:?}"),
    }
}

/// Stores raw bytes under `key` through the keyspace directly (TestShard takes `&str`).
fn store(shard: &mut TestShard, key: &str, bytes: &[u8]) {
    let now = shard.now;
    shard
        .keyspace
        .db(shard.db)
        .set(key.as_bytes(), Value::string(bytes), None, now);
}

#[test]
fn pfadd_writes_redis_bytes_and_pfcount_caches() {
    let mut shard = TestShard::new();
    assert_eq!(shard.wire(&["PFADD", "h", "a", "b", "c"]), ":1\r\n");
    assert_eq!(raw_get(&mut shard, "h"), ABC);
    assert_eq!(shard.wire(&["PFADD", "h", "a", "b"]), ":0\r\n");
    assert_eq!(raw_get(&mut shard, "h"), ABC);
    assert_eq!(shard.wire(&["PFCOUNT", "h"]), ":3\r\n");
    assert_eq!(raw_get(&mut shard, "h"), ABC_CACHED);
    assert_eq!(
        shard.wire(&["PFDEBUG", "DECODE", "h"]),
        "$44\r\nZ:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603\r\n"
    );
    assert_eq!(shard.wire(&["PFDEBUG", "ENCODING", "h"]), "+sparse\r\n");
    assert_eq!(shard.wire(&["OBJECT", "ENCODING", "h"]), "$3\r\nraw\r\n");
    assert_eq!(shard.wire(&["PFADD", "empty"]), ":1\r\n");
    assert_eq!(
        raw_get(&mut shard, "empty"),
        b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff"
    );
    assert_eq!(shard.wire(&["PFCOUNT", "empty", "missing"]), ":0\r\n");
}

#[test]
fn a_hll_set_from_redis_counts_and_turns_raw() {
    let mut shard = TestShard::new();
    store(&mut shard, "h", ABC);
    assert_eq!(shard.wire(&["OBJECT", "ENCODING", "h"]), "$6\r\nembstr\r\n");
    assert_eq!(shard.wire(&["PFCOUNT", "h"]), ":3\r\n");
    assert_eq!(shard.wire(&["OBJECT", "ENCODING", "h"]), "$3\r\nraw\r\n");
    // A forged, valid cache is trusted.
    let mut forged = ABC_CACHED.to_vec();
    forged[8] = 42;
    store(&mut shard, "f", &forged);
    assert_eq!(shard.wire(&["PFCOUNT", "f"]), ":42\r\n");
    assert_eq!(shard.wire(&["PFCOUNT", "f", "h"]), ":3\r\n");
}

#[test]
fn sparse_promotes_at_the_configured_size() {
    let mut shard = TestShard::new();
    for i in 1..=300 {
        let element = format!("e{i}");
        shard.run(&["PFADD", "big", &element]);
    }
    assert_eq!(shard.wire(&["PFCOUNT", "big"]), ":302\r\n");
    assert_eq!(shard.wire(&["STRLEN", "big"]), ":713\r\n");
    assert_eq!(shard.wire(&["PFDEBUG", "ENCODING", "big"]), "+sparse\r\n");
    let elements: Vec<String> = (0..3000).map(|i| format!("x{i}")).collect();
    let mut args = vec!["PFADD", "big"];
    args.extend(elements.iter().map(String::as_str));
    assert_eq!(shard.wire(&args), ":1\r\n");
    assert_eq!(shard.wire(&["PFDEBUG", "ENCODING", "big"]), "+dense\r\n");
    assert_eq!(shard.wire(&["STRLEN", "big"]), ":12304\r\n");
    assert_eq!(
        shard.wire(&["PFDEBUG", "DECODE", "big"]),
        "-ERR HLL encoding is not sparse\r\n"
    );
    match shard.run(&["PFDEBUG", "GETREG", "big"]) {
        Reply::Array(registers) => assert_eq!(registers.len(), REGISTERS),
        other => panic!("{other:?}"),
    }
}

#[test]
fn pfmerge_unions_and_goes_dense_with_a_dense_input() {
    let mut shard = TestShard::new();
    shard.run(&["PFADD", "a", "1", "2", "3"]);
    shard.run(&["PFADD", "b", "3", "4"]);
    assert_eq!(shard.wire(&["PFMERGE", "m", "a", "b"]), "+OK\r\n");
    assert_eq!(shard.wire(&["PFCOUNT", "m"]), ":4\r\n");
    assert_eq!(shard.wire(&["PFDEBUG", "ENCODING", "m"]), "+sparse\r\n");
    assert_eq!(shard.wire(&["PFDEBUG", "TODENSE", "b"]), ":1\r\n");
    assert_eq!(shard.wire(&["PFDEBUG", "TODENSE", "b"]), ":0\r\n");
    assert_eq!(shard.wire(&["PFMERGE", "d", "a", "b"]), "+OK\r\n");
    assert_eq!(shard.wire(&["PFDEBUG", "ENCODING", "d"]), "+dense\r\n");
    assert_eq!(shard.wire(&["PFCOUNT", "d"]), ":4\r\n");
    // Destination only: created empty.
    assert_eq!(shard.wire(&["PFMERGE", "only"]), "+OK\r\n");
    assert_eq!(shard.wire(&["PFCOUNT", "only"]), ":0\r\n");
    assert_eq!(shard.wire(&["PFCOUNT", "a", "b", "nothing"]), ":4\r\n");
}

#[test]
fn errors_match_redis() {
    let mut shard = TestShard::new();
    shard.run(&["SET", "s", "HYLL"]);
    shard.run(&["SET", "n", "12"]);
    shard.run(&["LPUSH", "l", "x"]);
    let not_hll = "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n";
    assert_eq!(shard.wire(&["PFADD", "s", "x"]), not_hll);
    assert_eq!(shard.wire(&["PFCOUNT", "n"]), not_hll);
    assert_eq!(shard.wire(&["PFMERGE", "d", "s"]), not_hll);
    assert_eq!(shard.wire(&["EXISTS", "d"]), ":0\r\n");
    assert_eq!(
        shard.wire(&["PFADD", "l", "x"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        shard.wire(&["PFDEBUG", "foo", "nokey"]),
        "-ERR The specified key does not exist\r\n"
    );
    assert_eq!(shard.wire(&["PFDEBUG", "foo", "s"]), not_hll);
    shard.run(&["PFADD", "h", "a"]);
    assert_eq!(
        shard.wire(&["PFDEBUG", "Foo", "h"]),
        "-ERR Unknown PFDEBUG subcommand 'Foo'\r\n"
    );
    assert_eq!(
        shard.wire(&["PFDEBUG", "GETREG"]),
        "-ERR wrong number of arguments for 'pfdebug' command\r\n"
    );
    // A dense header on a string of the wrong length is not a HLL.
    let mut short_dense = ABC.to_vec();
    short_dense[4] = DENSE;
    store(&mut shard, "sd", &short_dense);
    assert_eq!(shard.wire(&["PFCOUNT", "sd"]), not_hll);
    // An unknown encoding is not a HLL either.
    let mut unknown = ABC.to_vec();
    unknown[4] = 2;
    store(&mut shard, "u", &unknown);
    assert_eq!(shard.wire(&["PFCOUNT", "u"]), not_hll);
}

#[test]
fn corrupt_sparse_values_are_invalidobj() {
    let mut shard = TestShard::new();
    let invalid = "-INVALIDOBJ Corrupted HLL object detected\r\n";
    // Opcodes covering fewer than 16384 registers.
    let truncated = &ABC[..ABC.len() - 2];
    store(&mut shard, "t", truncated);
    assert_eq!(shard.wire(&["PFCOUNT", "t"]), invalid);
    assert_eq!(shard.wire(&["PFCOUNT", "t", "t"]), invalid);
    assert_eq!(shard.wire(&["PFMERGE", "d", "t"]), invalid);
    assert_eq!(shard.wire(&["PFDEBUG", "TODENSE", "t"]), invalid);
    assert_eq!(shard.wire(&["PFDEBUG", "GETREG", "t"]), invalid);
    // An element past the covered registers cannot be added.
    let mut found = false;
    for i in 0..200 {
        let element = format!("e{i}");
        if sketch::pattern_length(element.as_bytes()).0 > 16000 {
            assert_eq!(shard.wire(&["PFADD", "t", &element]), invalid);
            found = true;
            break;
        }
    }
    assert!(found);
}

#[test]
fn keyspace_events_follow_redis() {
    let mut shard = TestShard::new();
    shard.notify_keyspace_events("KEAn");
    assert_eq!(shard.events(&["PFADD", "h", "a"]), ["h:new", "h:pfadd"]);
    assert_eq!(shard.events(&["PFADD", "h", "a"]), Vec::<String>::new());
    assert_eq!(shard.events(&["PFCOUNT", "h"]), Vec::<String>::new());
    assert_eq!(shard.events(&["PFMERGE", "m", "h"]), ["m:new", "m:pfadd"]);
    assert_eq!(shard.events(&["PFMERGE", "m"]), ["m:pfadd"]);
    assert_eq!(
        shard.events(&["PFDEBUG", "TODENSE", "m"]),
        Vec::<String>::new()
    );
}

#[test]
fn self_test_passes() {
    let mut random = crate::Random::new(7);
    assert_eq!(
        self_test(&mut random, 12345, 3000, 20_000, 3),
        Ok(Reply::Ok)
    );
}
