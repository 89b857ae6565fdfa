//! End-to-end tests of the hash family: meaning through the `redis` crate, RESP2 and
//! RESP3 framing and Redis's exact error texts through raw bytes, and hash field expiry
//! (Redis 7.4) observed from a client. Every test runs with 1 and 4 shards.

use peregrine_testkit::{
    keys_on_shards, poll_until, run, run_err, show, with_1_and_4_shards, TestServer,
};
use std::collections::HashMap;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// Sends `args` raw and asserts the exact reply bytes.
fn expect_raw(server: &TestServer, args: &[&str], expected: &[u8]) {
    let reply = server.raw().cmd(args);
    assert_eq!(show(&reply), show(expected), "reply to {args:?}");
}

fn set_get_delete(server: &TestServer) {
    let mut c = server.client();
    assert_eq!(run::<i64>(&mut c, &["HSET", "h", "a", "1", "b", "2"]), 2);
    assert_eq!(run::<i64>(&mut c, &["HSET", "h", "a", "10", "c", "3"]), 1);
    assert_eq!(run::<String>(&mut c, &["HMSET", "h", "d", "4"]), "OK");
    assert_eq!(run::<i64>(&mut c, &["HSETNX", "h", "a", "x"]), 0);
    assert_eq!(run::<i64>(&mut c, &["HSETNX", "h", "e", "5"]), 1);
    assert_eq!(
        run::<Option<String>>(&mut c, &["HGET", "h", "a"]),
        Some("10".into())
    );
    assert_eq!(run::<Option<String>>(&mut c, &["HGET", "h", "zz"]), None);
    assert_eq!(
        run::<Vec<Option<String>>>(&mut c, &["HMGET", "h", "b", "zz", "c"]),
        [Some("2".into()), None, Some("3".into())]
    );
    let all: HashMap<String, String> = run(&mut c, &["HGETALL", "h"]);
    assert_eq!(all.len(), 5);
    assert_eq!(all["d"], "4");
    assert_eq!(
        run::<Vec<String>>(&mut c, &["HKEYS", "h"]),
        ["a", "b", "c", "d", "e"]
    );
    assert_eq!(
        run::<Vec<String>>(&mut c, &["HVALS", "h"]),
        ["10", "2", "3", "4", "5"]
    );
    assert_eq!(run::<i64>(&mut c, &["HLEN", "h"]), 5);
    assert_eq!(run::<i64>(&mut c, &["HEXISTS", "h", "e"]), 1);
    assert_eq!(run::<i64>(&mut c, &["HSTRLEN", "h", "a"]), 2);
    assert_eq!(run::<i64>(&mut c, &["HINCRBY", "h", "a", "-11"]), -1);
    assert_eq!(
        run::<String>(&mut c, &["HINCRBYFLOAT", "h", "b", "0.5"]),
        "2.5"
    );
    assert_eq!(run::<String>(&mut c, &["TYPE", "h"]), "hash");
    assert_eq!(run::<i64>(&mut c, &["HDEL", "h", "a", "b", "zz"]), 2);
    assert_eq!(run::<i64>(&mut c, &["HDEL", "h", "c", "d", "e"]), 3);
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "h"]), 0);
}

fn hashes_on_every_shard(server: &TestServer) {
    let mut c = server.client();
    let keys = keys_on_shards("hash", 8, server.shards());
    for (index, key) in keys.iter().enumerate() {
        let value = index.to_string();
        assert_eq!(run::<i64>(&mut c, &["HSET", key, "field", &value]), 1);
    }
    for (index, key) in keys.iter().enumerate() {
        assert_eq!(
            run::<Option<String>>(&mut c, &["HGET", key, "field"]),
            Some(index.to_string())
        );
        assert_eq!(
            run::<i64>(&mut c, &["HINCRBY", key, "field", "100"]),
            100 + index as i64
        );
    }
    assert_eq!(run::<i64>(&mut c, &["DBSIZE"]), 8);
}

fn replies_on_the_wire(server: &TestServer) {
    expect_raw(server, &["HSET", "w", "f", "v"], b":1\r\n");
    expect_raw(server, &["HGETALL", "w"], b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    expect_raw(server, &["HGETALL", "missing"], b"*0\r\n");
    expect_raw(server, &["HGET", "missing", "f"], b"$-1\r\n");
    expect_raw(
        server,
        &["HRANDFIELD", "w", "-2", "WITHVALUES"],
        b"*4\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\nf\r\n$1\r\nv\r\n",
    );
    expect_raw(
        server,
        &["HSCAN", "w", "0"],
        b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
    );
    expect_raw(
        server,
        &["HSET", "w", "f"],
        b"-ERR wrong number of arguments for 'hset' command\r\n",
    );
    expect_raw(
        server,
        &["HGET", "w"],
        b"-ERR wrong number of arguments for 'hget' command\r\n",
    );
    expect_raw(server, &["SET", "s", "x"], b"+OK\r\n");
    expect_raw(
        server,
        &["HGET", "s", "f"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    expect_raw(
        server,
        &["HINCRBY", "w", "f", "1"],
        b"-ERR hash value is not an integer\r\n",
    );
    expect_raw(server, &["HSCAN", "w", "x"], b"-ERR invalid cursor\r\n");
}

fn resp3_replies(server: &TestServer) {
    let mut raw = server.raw();
    assert!(raw.cmd(&["HELLO", "3"]).starts_with(b"%7\r\n"));
    assert_eq!(raw.cmd(&["HSET", "r", "f", "v"]), b":1\r\n");
    assert_eq!(raw.cmd(&["HGETALL", "r"]), b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_eq!(raw.cmd(&["HGETALL", "missing"]), b"%0\r\n");
    assert_eq!(raw.cmd(&["HGET", "r", "zz"]), b"_\r\n");
    assert_eq!(raw.cmd(&["HRANDFIELD", "missing"]), b"_\r\n");
    assert_eq!(
        raw.cmd(&["HRANDFIELD", "r", "1", "WITHVALUES"]),
        b"*1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
    assert_eq!(
        raw.cmd(&["HRANDFIELD", "r", "-2", "WITHVALUES"]),
        b"*2\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
    assert_eq!(raw.cmd(&["HRANDFIELD", "r", "2"]), b"*1\r\n$1\r\nf\r\n");
    assert_eq!(
        raw.cmd(&["HTTL", "r", "FIELDS", "2", "f", "zz"]),
        b"*2\r\n:-1\r\n:-2\r\n"
    );
}

fn encodings_and_config(server: &TestServer) {
    let mut c = server.client();
    let encoding =
        |c: &mut redis::Connection, key: &str| run::<String>(c, &["OBJECT", "ENCODING", key]);
    run::<i64>(&mut c, &["HSET", "small", "a", "1"]);
    assert_eq!(encoding(&mut c, "small"), "listpack");
    run::<i64>(&mut c, &["HSET", "long", "a", &"x".repeat(65)]);
    assert_eq!(encoding(&mut c, "long"), "hashtable");
    assert_eq!(
        run::<String>(&mut c, &["CONFIG", "SET", "hash-max-listpack-entries", "2"]),
        "OK"
    );
    run::<i64>(&mut c, &["HSET", "three", "a", "1", "b", "2"]);
    assert_eq!(encoding(&mut c, "three"), "listpack");
    run::<i64>(&mut c, &["HSET", "three", "c", "3"]);
    assert_eq!(encoding(&mut c, "three"), "hashtable");
    assert_eq!(
        run::<String>(
            &mut c,
            &["CONFIG", "SET", "hash-max-listpack-entries", "512"]
        ),
        "OK"
    );
    run::<Vec<i64>>(&mut c, &["HEXPIRE", "small", "100", "FIELDS", "1", "a"]);
    assert_eq!(encoding(&mut c, "small"), "listpackex");
}

fn scan_a_big_hash(server: &TestServer) {
    let mut c = server.client();
    let mut command = vec!["HSET".to_owned(), "big".to_owned()];
    for index in 0..2000 {
        command.push(format!("field:{index}"));
        command.push(index.to_string());
    }
    let args: Vec<&str> = command.iter().map(String::as_str).collect();
    assert_eq!(run::<i64>(&mut c, &args), 2000);
    let mut cursor = "0".to_owned();
    let mut seen = std::collections::HashSet::new();
    let mut calls = 0;
    loop {
        let (next, items): (String, Vec<String>) = run(
            &mut c,
            &["HSCAN", "big", &cursor, "MATCH", "field:1*", "COUNT", "100"],
        );
        for pair in items.chunks(2) {
            assert!(pair[0].starts_with("field:1"));
            assert_eq!(pair[0]["field:".len()..], pair[1]);
            seen.insert(pair[0].clone());
        }
        calls += 1;
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert!(calls > 1, "a big hash is scanned in parts");
    assert_eq!(
        seen.len(),
        1111,
        "field:1, field:10..19, 100..199, 1000..1999"
    );
    let fields: Vec<String> = run(&mut c, &["HRANDFIELD", "big", "5"]);
    assert_eq!(fields.len(), 5);
}

fn field_expiry_end_to_end(server: &TestServer) {
    let mut c = server.client();
    run::<i64>(&mut c, &["HSET", "session", "token", "abc", "user", "42"]);
    assert_eq!(
        run::<Vec<i64>>(
            &mut c,
            &["HPEXPIRE", "session", "50", "FIELDS", "2", "token", "none"]
        ),
        [1, -2]
    );
    let ttl: Vec<i64> = run(
        &mut c,
        &["HPTTL", "session", "FIELDS", "2", "token", "user"],
    );
    assert!(ttl[0] == -2 || (1..=50).contains(&ttl[0]), "{ttl:?}");
    assert_eq!(ttl[1], -1);
    assert!(
        poll_until(Duration::from_secs(10), || {
            run::<Option<String>>(&mut c, &["HGET", "session", "token"]).is_none()
        }),
        "the field did not expire"
    );
    assert_eq!(run::<i64>(&mut c, &["HLEN", "session"]), 1);
    assert_eq!(
        run::<Vec<i64>>(&mut c, &["HTTL", "session", "FIELDS", "1", "token"]),
        [-2]
    );
    // The last field expiring takes the key with it.
    assert_eq!(
        run::<Vec<i64>>(
            &mut c,
            &["HPEXPIRE", "session", "20", "FIELDS", "1", "user"]
        ),
        [1]
    );
    assert!(poll_until(Duration::from_secs(10), || {
        run::<i64>(&mut c, &["HLEN", "session"]) == 0
    }));
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "session"]), 0);

    run::<i64>(&mut c, &["HSET", "p", "f", "v", "g", "w"]);
    assert_eq!(
        run::<Vec<i64>>(
            &mut c,
            &["HEXPIRE", "p", "1000", "NX", "FIELDS", "2", "f", "f"]
        ),
        [1, 0]
    );
    assert_eq!(
        run::<Vec<i64>>(&mut c, &["HEXPIRE", "p", "0", "FIELDS", "1", "g"]),
        [2]
    );
    assert_eq!(
        run::<Vec<i64>>(&mut c, &["HPERSIST", "p", "FIELDS", "2", "f", "g"]),
        [1, -2]
    );
    assert_eq!(
        run::<Vec<i64>>(&mut c, &["HTTL", "p", "FIELDS", "1", "f"]),
        [-1]
    );
    assert_eq!(
        run::<Vec<i64>>(&mut c, &["HEXPIRE", "nothing", "10", "FIELDS", "1", "f"]),
        [-2,]
    );
    assert_eq!(
        run_err(&mut c, &["HEXPIRE", "p", "10", "FIELDS", "0", "f"]),
        "ERR Parameter `numFields` should be greater than 0"
    );
    assert_eq!(
        run_err(&mut c, &["HEXPIRE", "p", "10", "FIELDS", "2", "f"]),
        "ERR The `numfields` parameter must match the number of arguments"
    );
    assert_eq!(
        run_err(&mut c, &["HTTL", "p", "FIELD", "1", "f"]),
        "ERR Mandatory argument FIELDS is missing or not at the right position"
    );
    assert_eq!(
        run_err(&mut c, &["HEXPIRE", "p", "-1", "FIELDS", "1", "f"]),
        "ERR invalid expire time, must be >= 0"
    );
}

/// Fields expire in the background, without any command touching the hash: the hash
/// is deleted once its last field expires, and a hash with a field left keeps it.
fn fields_expire_actively(server: &TestServer) {
    let mut c = server.client();
    for key in ["gone", "kept"] {
        run::<i64>(&mut c, &["HSET", key, "a", "1", "b", "2"]);
    }
    run::<Vec<i64>>(&mut c, &["HPEXPIRE", "gone", "30", "FIELDS", "2", "a", "b"]);
    run::<Vec<i64>>(&mut c, &["HPEXPIRE", "kept", "30", "FIELDS", "1", "a"]);
    // EXISTS and DBSIZE do not expire fields themselves: only active expiry can.
    assert!(
        poll_until(Duration::from_secs(10), || run::<i64>(
            &mut c,
            &["EXISTS", "gone"]
        ) == 0),
        "a hash whose fields all expired was not deleted"
    );
    assert_eq!(run::<i64>(&mut c, &["DBSIZE"]), 1);
    assert_eq!(
        run::<HashMap<String, String>>(&mut c, &["HGETALL", "kept"]),
        HashMap::from([("b".to_owned(), "2".to_owned())])
    );
}

/// HGETALL, HKEYS and HVALS of a hash above the chunked threshold (65,536 fields) reply
/// from chunks read in bounded steps: every field and value, a map in RESP3, without a
/// field past its deadline.
fn huge_hash_replies_run_in_chunks(server: &TestServer) {
    let mut c = server.client();
    let fields: HashMap<String, String> = (0..70_000)
        .map(|n| (format!("f{n}"), format!("v{}", n * 7)))
        .collect();
    let pairs: Vec<(&String, &String)> = fields.iter().collect();
    for chunk in pairs.chunks(2000) {
        let mut command = vec!["HSET", "huge"];
        for (field, value) in chunk {
            command.push(field);
            command.push(value);
        }
        run::<i64>(&mut c, &command);
    }
    run::<i64>(&mut c, &["HSET", "huge", "short-lived", "x"]);
    run::<Vec<i64>>(
        &mut c,
        &["HPEXPIRE", "huge", "1", "FIELDS", "1", "short-lived"],
    );
    assert!(poll_until(Duration::from_secs(10), || {
        run::<Vec<i64>>(
            &mut server.client(),
            &["HPTTL", "huge", "FIELDS", "1", "short-lived"],
        ) == vec![-2]
    }));
    let all: HashMap<String, String> = run(&mut c, &["HGETALL", "huge"]);
    assert_eq!(all, fields);
    let mut keys: Vec<String> = run(&mut c, &["HKEYS", "huge"]);
    let mut values: Vec<String> = run(&mut c, &["HVALS", "huge"]);
    keys.sort_unstable();
    values.sort_unstable();
    let mut expected_keys: Vec<String> = fields.keys().cloned().collect();
    let mut expected_values: Vec<String> = fields.values().cloned().collect();
    expected_keys.sort_unstable();
    expected_values.sort_unstable();
    assert_eq!((keys, values), (expected_keys, expected_values));
    let mut resp3 = server.raw();
    resp3.cmd(&["HELLO", "3"]);
    let reply = resp3.cmd(&["HGETALL", "huge"]);
    assert!(reply.starts_with(b"%70000\r\n"), "{}", show(&reply[..20]));
    let reply = resp3.cmd(&["HKEYS", "huge"]);
    assert!(reply.starts_with(b"*70000\r\n"), "{}", show(&reply[..20]));
}

with_1_and_4_shards! {
    bin = BIN;
    huge_hash_replies_run_in_chunks,
    fields_expire_actively,
    set_get_delete,
    hashes_on_every_shard,
    replies_on_the_wire,
    resp3_replies,
    encodings_and_config,
    scan_a_big_hash,
    field_expiry_end_to_end,
}
