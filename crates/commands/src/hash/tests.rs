use super::random::MAX_REPEATED_PICKS;
use crate::test_shard::TestShard;
use peregrine_resp::{Protocol, Reply};

fn bulk_strings(reply: &Reply) -> Vec<String> {
    match reply {
        Reply::Array(items) | Reply::Set(items) => items
            .iter()
            .map(|item| match item {
                Reply::Bulk(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                other => panic!("not a bulk string: {other:?}"),
            })
            .collect(),
        Reply::Map(pairs) | Reply::Pairs(pairs) => pairs
            .iter()
            .flat_map(|(field, value)| [field, value])
            .map(|item| match item {
                Reply::Bulk(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                other => panic!("not a bulk string: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items
}

/// A hash `h` with fields f0..f{count-1} holding v0..v{count-1}.
fn filled(count: usize) -> TestShard {
    let mut shard = TestShard::new();
    let mut command = vec!["HSET".to_owned(), "h".to_owned()];
    for index in 0..count {
        command.push(format!("f{index}"));
        command.push(format!("v{index}"));
    }
    let args: Vec<&str> = command.iter().map(String::as_str).collect();
    assert_eq!(shard.run(&args), Reply::Integer(count as i64));
    shard
}

#[test]
fn set_get_and_delete() {
    let mut shard = TestShard::new();
    assert_eq!(shard.wire(&["HSET", "h", "a", "1", "b", "2"]), ":2\r\n");
    assert_eq!(shard.wire(&["HSET", "h", "a", "10", "c", "3"]), ":1\r\n");
    assert_eq!(shard.wire(&["HMSET", "h", "d", "4"]), "+OK\r\n");
    assert_eq!(shard.wire(&["HGET", "h", "a"]), "$2\r\n10\r\n");
    assert_eq!(shard.wire(&["HGET", "h", "zz"]), "$-1\r\n");
    assert_eq!(shard.wire(&["HGET", "nokey", "a"]), "$-1\r\n");
    assert_eq!(
        shard.wire(&["HMGET", "h", "a", "zz", "d"]),
        "*3\r\n$2\r\n10\r\n$-1\r\n$1\r\n4\r\n"
    );
    assert_eq!(
        shard.wire(&["HMGET", "nokey", "a", "b"]),
        "*2\r\n$-1\r\n$-1\r\n"
    );
    assert_eq!(
        shard.wire(&["HGETALL", "h"]),
        "*8\r\n$1\r\na\r\n$2\r\n10\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n"
    );
    assert_eq!(
        shard.run(&["HGETALL", "nokey"]).to_bytes(Protocol::Resp3),
        b"%0\r\n"
    );
    assert_eq!(
        shard.run(&["HGETALL", "h"]).to_bytes(Protocol::Resp3)[..4],
        b"%4\r\n"[..]
    );
    assert_eq!(
        bulk_strings(&shard.run(&["HKEYS", "h"])),
        ["a", "b", "c", "d"]
    );
    assert_eq!(
        bulk_strings(&shard.run(&["HVALS", "h"])),
        ["10", "2", "3", "4"]
    );
    assert_eq!(shard.wire(&["HKEYS", "nokey"]), "*0\r\n");
    assert_eq!(shard.wire(&["HLEN", "h"]), ":4\r\n");
    assert_eq!(shard.wire(&["HLEN", "nokey"]), ":0\r\n");
    assert_eq!(shard.wire(&["HEXISTS", "h", "b"]), ":1\r\n");
    assert_eq!(shard.wire(&["HEXISTS", "h", "zz"]), ":0\r\n");
    assert_eq!(shard.wire(&["HSTRLEN", "h", "a"]), ":2\r\n");
    assert_eq!(shard.wire(&["HSTRLEN", "h", "zz"]), ":0\r\n");
    assert_eq!(shard.wire(&["HDEL", "h", "a", "b", "zz"]), ":2\r\n");
    assert_eq!(shard.wire(&["HDEL", "nokey", "a"]), ":0\r\n");
    assert_eq!(shard.wire(&["HDEL", "h", "c", "d"]), ":2\r\n");
    assert_eq!(shard.wire(&["EXISTS", "h"]), ":0\r\n", "empty hash deleted");
}

#[test]
fn hsetnx_sets_only_new_fields() {
    let mut shard = TestShard::new();
    assert_eq!(shard.wire(&["HSETNX", "h", "a", "1"]), ":1\r\n");
    assert_eq!(shard.wire(&["HSETNX", "h", "a", "2"]), ":0\r\n");
    assert_eq!(shard.wire(&["HGET", "h", "a"]), "$1\r\n1\r\n");
}

#[test]
fn errors_follow_redis() {
    let mut shard = TestShard::new();
    shard.run(&["SET", "s", "x"]);
    let wrongtype = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    for command in [
        &["HSET", "s", "a", "1"][..],
        &["HGET", "s", "a"],
        &["HGETALL", "s"],
        &["HDEL", "s", "a"],
        &["HLEN", "s"],
        &["HINCRBY", "s", "a", "1"],
        &["HRANDFIELD", "s"],
        &["HRANDFIELD", "s", "0"],
        &["HSCAN", "s", "0", "COUNT", "0"],
        &["HEXPIRE", "s", "-1", "FIELDS", "1", "a"],
        &["HTTL", "s", "NOFIELDS", "1", "a"],
        &["HPERSIST", "s", "FIELDS", "1", "a"],
    ] {
        assert_eq!(shard.wire(command), wrongtype, "{command:?}");
    }
    assert_eq!(
        shard.wire(&["HSET", "h", "a", "1", "b"]),
        "-ERR wrong number of arguments for 'hset' command\r\n"
    );
    assert_eq!(
        shard.wire(&["HMSET", "h", "a"]),
        "-ERR wrong number of arguments for 'hmset' command\r\n"
    );
    assert_eq!(shard.wire(&["EXISTS", "h"]), ":0\r\n");
}

#[test]
fn increments() {
    let mut shard = TestShard::new();
    assert_eq!(shard.wire(&["HINCRBY", "h", "n", "5"]), ":5\r\n");
    assert_eq!(shard.wire(&["HINCRBY", "h", "n", "-7"]), ":-2\r\n");
    shard.run(&["HSET", "h", "s", "abc", "max", "9223372036854775807"]);
    assert_eq!(
        shard.wire(&["HINCRBY", "h", "s", "1"]),
        "-ERR hash value is not an integer\r\n"
    );
    assert_eq!(
        shard.wire(&["HINCRBY", "h", "max", "1"]),
        "-ERR increment or decrement would overflow\r\n"
    );
    assert_eq!(
        shard.wire(&["HINCRBY", "h", "n", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        shard.wire(&["HINCRBYFLOAT", "h", "f", "10.5"]),
        "$4\r\n10.5\r\n"
    );
    assert_eq!(
        shard.wire(&["HINCRBYFLOAT", "h", "f", "0.1"]),
        "$4\r\n10.6\r\n"
    );
    assert_eq!(
        shard.wire(&["HINCRBYFLOAT", "h", "n", "1.5"]),
        "$4\r\n-0.5\r\n"
    );
    assert_eq!(
        shard.wire(&["HINCRBYFLOAT", "h", "s", "1"]),
        "-ERR hash value is not a float\r\n"
    );
    assert_eq!(
        shard.wire(&["HINCRBYFLOAT", "h", "f", "x"]),
        "-ERR value is not a valid float\r\n"
    );
    assert_eq!(
        shard.wire(&["HINCRBYFLOAT", "h", "f", "inf"]),
        "-ERR value is NaN or Infinity\r\n"
    );
    shard.run(&["HSET", "h", "huge", "1e4932"]);
    assert_eq!(
        shard.wire(&["HINCRBYFLOAT", "h", "huge", "1e4932"]),
        "-ERR increment would produce NaN or Infinity\r\n"
    );
    // A failed increment on a new key leaves no empty hash behind.
    assert_eq!(
        shard.wire(&["HINCRBY", "fresh", "a", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(shard.wire(&["EXISTS", "fresh"]), ":0\r\n");
}

#[test]
fn encodings_convert_at_the_thresholds() {
    // Redis's default hash-max-listpack-entries is 512 (not 128 as for sets and zsets).
    let mut shard = filled(512);
    assert_eq!(
        shard.wire(&["OBJECT", "ENCODING", "h"]),
        "$8\r\nlistpack\r\n"
    );
    shard.run(&["HSET", "h", "f0", "again"]);
    assert_eq!(
        shard.wire(&["OBJECT", "ENCODING", "h"]),
        "$8\r\nlistpack\r\n"
    );
    shard.run(&["HSET", "h", "one-more", "x"]);
    assert_eq!(
        shard.wire(&["OBJECT", "ENCODING", "h"]),
        "$9\r\nhashtable\r\n"
    );
    assert_eq!(shard.wire(&["HLEN", "h"]), ":513\r\n");
    assert_eq!(shard.wire(&["HGET", "h", "f0"]), "$5\r\nagain\r\n");

    let long = "x".repeat(65);
    shard.run(&["HSET", "long", "a", &long]);
    assert_eq!(
        shard.wire(&["OBJECT", "ENCODING", "long"]),
        "$9\r\nhashtable\r\n"
    );
    shard.run(&["HSET", "fits", "a", &long[..64]]);
    assert_eq!(
        shard.wire(&["OBJECT", "ENCODING", "fits"]),
        "$8\r\nlistpack\r\n"
    );
    // More pairs in one HSET than the limit convert up front, as Redis does, even when
    // they repeat a field.
    let mut command = vec!["HSET".to_owned(), "dup".to_owned()];
    for _ in 0..513 {
        command.push("same".to_owned());
        command.push("v".to_owned());
    }
    let args: Vec<&str> = command.iter().map(String::as_str).collect();
    assert_eq!(shard.wire(&args), ":1\r\n");
    assert_eq!(
        shard.wire(&["OBJECT", "ENCODING", "dup"]),
        "$9\r\nhashtable\r\n"
    );
}

#[test]
fn big_hashes_answer_like_small_ones() {
    let mut shard = filled(600);
    assert_eq!(
        shard.wire(&["OBJECT", "ENCODING", "h"]),
        "$9\r\nhashtable\r\n"
    );
    assert_eq!(shard.wire(&["HGET", "h", "f599"]), "$4\r\nv599\r\n");
    assert_eq!(
        shard.run(&["HKEYS", "h"]).to_bytes(Protocol::Resp2)[..6],
        b"*600\r\n"[..]
    );
    assert_eq!(shard.wire(&["HINCRBY", "h", "counter", "3"]), ":3\r\n");
    let mut deleted = 0;
    for index in 0..600 {
        let field = format!("f{index}");
        deleted += i64::from(shard.run(&["HDEL", "h", &field]) == Reply::Integer(1));
    }
    assert_eq!(deleted, 600);
    assert_eq!(shard.wire(&["HDEL", "h", "counter"]), ":1\r\n");
    assert_eq!(shard.wire(&["EXISTS", "h"]), ":0\r\n");
}

#[test]
fn hrandfield_counts_and_shapes() {
    for size in [5, 600] {
        let mut shard = filled(size);
        let field = match shard.run(&["HRANDFIELD", "h"]) {
            Reply::Bulk(field) => String::from_utf8_lossy(&field).into_owned(),
            other => panic!("{other:?}"),
        };
        assert!(field.starts_with('f'));
        let distinct = bulk_strings(&shard.run(&["HRANDFIELD", "h", "3"]));
        assert_eq!(distinct.len(), 3);
        let mut unique = distinct.clone();
        unique.dedup();
        assert_eq!(sorted(unique).len(), 3);
        let all = bulk_strings(&shard.run(&["HRANDFIELD", "h", "1000"]));
        assert_eq!(all.len(), size, "a count past the size returns every field");
        let repeated = bulk_strings(&shard.run(&["HRANDFIELD", "h", "-20"]));
        assert_eq!(repeated.len(), 20);
        let with_values = shard.run(&["HRANDFIELD", "h", "-2", "WITHVALUES"]);
        let pairs = bulk_strings(&with_values);
        assert_eq!(pairs.len(), 4);
        assert_eq!(
            pairs[0][1..],
            pairs[1][1..],
            "value v<i> follows field f<i>"
        );
        assert!(with_values
            .to_bytes(Protocol::Resp2)
            .starts_with(b"*4\r\n$"));
        assert!(with_values
            .to_bytes(Protocol::Resp3)
            .starts_with(b"*2\r\n*2\r\n$"));
        assert_eq!(shard.wire(&["HRANDFIELD", "h", "0"]), "*0\r\n");
    }
    let mut shard = filled(3);
    assert_eq!(shard.wire(&["HRANDFIELD", "nokey"]), "$-1\r\n");
    assert_eq!(shard.wire(&["HRANDFIELD", "nokey", "5"]), "*0\r\n");
    assert_eq!(
        shard.wire(&["HRANDFIELD", "h", "-9223372036854775808"]),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(
        shard.wire(&["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"]),
        "-ERR value is out of range\r\n"
    );
    let too_many = format!("-{}", MAX_REPEATED_PICKS + 1);
    assert_eq!(
        shard.wire(&["HRANDFIELD", "h", &too_many]),
        "-ERR value is out of range\r\n"
    );
    assert_eq!(
        shard.wire(&["HRANDFIELD", "h", "1", "WITHVALUE"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        shard.wire(&["HRANDFIELD", "h", "1", "WITHVALUES", "x"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        shard.wire(&["HRANDFIELD", "h", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
}

#[test]
fn hscan_small_whole_and_big_by_cursor() {
    let mut shard = filled(5);
    let reply = shard.run(&["HSCAN", "h", "123", "MATCH", "f[12]"]);
    assert_eq!(
        reply,
        Reply::Array(vec![
            Reply::bulk("0"),
            Reply::Array(["f1", "v1", "f2", "v2"].map(Reply::bulk).to_vec()),
        ])
    );
    assert_eq!(
        shard.wire(&["HSCAN", "h", "0", "NOVALUES", "MATCH", "f4"]),
        "*2\r\n$1\r\n0\r\n*1\r\n$2\r\nf4\r\n"
    );
    assert_eq!(
        shard.wire(&["HSCAN", "nokey", "0"]),
        "*2\r\n$1\r\n0\r\n*0\r\n"
    );
    for (cursor, expected) in [
        ("abc", "-ERR invalid cursor\r\n"),
        ("-1", "-ERR invalid cursor\r\n"),
        ("1.0", "-ERR invalid cursor\r\n"),
        ("18446744073709551616", "-ERR invalid cursor\r\n"),
    ] {
        assert_eq!(shard.wire(&["HSCAN", "h", cursor]), expected, "{cursor}");
    }
    assert!(shard
        .wire(&["HSCAN", "h", "+0"])
        .starts_with("*2\r\n$1\r\n0\r\n"));
    assert_eq!(
        shard.wire(&["HSCAN", "h", "0", "COUNT", "0"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        shard.wire(&["HSCAN", "h", "0", "COUNT", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        shard.wire(&["HSCAN", "h", "0", "MATCH"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        shard.wire(&["HSCAN", "h", "0", "FOO", "bar"]),
        "-ERR syntax error\r\n"
    );

    let mut shard = filled(1000);
    let mut seen = Vec::new();
    let mut cursor = "0".to_owned();
    let mut calls = 0;
    loop {
        let reply = shard.run(&["HSCAN", "h", &cursor, "COUNT", "50"]);
        let Reply::Array(parts) = reply else { panic!() };
        let Reply::Bulk(next) = &parts[0] else {
            panic!()
        };
        let items = bulk_strings(&parts[1]);
        assert!(items.len() < 1000, "one call returns a part");
        seen.extend(items.chunks(2).map(|pair| pair[0].clone()));
        cursor = String::from_utf8_lossy(next).into_owned();
        calls += 1;
        if cursor == "0" {
            break;
        }
    }
    assert!(calls > 1);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 1000);
}

// ---- field expiry ----

#[test]
fn hexpire_codes_and_conditions() {
    let mut shard = filled(3);
    let now = shard.now;
    assert_eq!(
        shard.wire(&["HEXPIRE", "h", "100", "FIELDS", "2", "f0", "zz"]),
        "*2\r\n:1\r\n:-2\r\n"
    );
    assert_eq!(
        shard.wire(&["OBJECT", "ENCODING", "h"]),
        "$10\r\nlistpackex\r\n"
    );
    assert_eq!(
        shard.wire(&["HTTL", "h", "FIELDS", "3", "f0", "f1", "zz"]),
        "*3\r\n:100\r\n:-1\r\n:-2\r\n"
    );
    assert_eq!(
        shard.wire(&["HPTTL", "h", "FIELDS", "1", "f0"]),
        "*1\r\n:100000\r\n"
    );
    let at = (now + 100_000).to_string();
    assert_eq!(
        shard.wire(&["HPEXPIRETIME", "h", "FIELDS", "1", "f0"]),
        format!("*1\r\n:{at}\r\n")
    );
    assert_eq!(
        shard.wire(&["HEXPIRETIME", "h", "FIELDS", "1", "f0"]),
        format!("*1\r\n:{}\r\n", (now + 100_000).div_ceil(1000))
    );
    // NX: only fields without a deadline; XX: only with one.
    assert_eq!(
        shard.wire(&["HEXPIRE", "h", "50", "NX", "FIELDS", "2", "f0", "f1"]),
        "*2\r\n:0\r\n:1\r\n"
    );
    assert_eq!(
        shard.wire(&["HEXPIRE", "h", "50", "XX", "FIELDS", "2", "f0", "f2"]),
        "*2\r\n:1\r\n:0\r\n"
    );
    // GT never applies to a field without a deadline (infinite); LT always does.
    assert_eq!(
        shard.wire(&["HEXPIRE", "h", "70", "GT", "FIELDS", "2", "f0", "f2"]),
        "*2\r\n:1\r\n:0\r\n"
    );
    assert_eq!(
        shard.wire(&["HEXPIRE", "h", "60", "gt", "FIELDS", "1", "f0"]),
        "*1\r\n:0\r\n"
    );
    assert_eq!(
        shard.wire(&["HEXPIRE", "h", "60", "LT", "FIELDS", "2", "f0", "f2"]),
        "*2\r\n:1\r\n:1\r\n"
    );
    assert_eq!(
        shard.wire(&["HTTL", "h", "FIELDS", "3", "f0", "f1", "f2"]),
        "*3\r\n:60\r\n:50\r\n:60\r\n"
    );
    // A time not in the future deletes the field; the last one deletes the key.
    assert_eq!(
        shard.wire(&["HEXPIRE", "h", "0", "FIELDS", "1", "f0"]),
        "*1\r\n:2\r\n"
    );
    assert_eq!(
        shard.wire(&["HPEXPIREAT", "h", "1", "FIELDS", "1", "f1"]),
        "*1\r\n:2\r\n"
    );
    assert_eq!(shard.wire(&["HLEN", "h"]), ":1\r\n");
    assert_eq!(
        shard.wire(&["HEXPIREAT", "h", "1", "FIELDS", "1", "f2"]),
        "*1\r\n:2\r\n"
    );
    assert_eq!(shard.wire(&["EXISTS", "h"]), ":0\r\n");
    assert_eq!(
        shard.wire(&["HEXPIRE", "h", "10", "FIELDS", "2", "a", "b"]),
        "*2\r\n:-2\r\n:-2\r\n"
    );
}

#[test]
fn expired_fields_vanish_lazily() {
    for size in [3, 600] {
        let mut shard = filled(size);
        assert_eq!(
            shard.wire(&["HPEXPIRE", "h", "100", "FIELDS", "2", "f0", "f1"]),
            "*2\r\n:1\r\n:1\r\n"
        );
        shard.run(&["HPEXPIRE", "h", "300", "FIELDS", "1", "f2"]);
        shard.now += 99;
        assert_eq!(shard.wire(&["HGET", "h", "f0"]), "$2\r\nv0\r\n");
        assert_eq!(
            shard.wire(&["HPTTL", "h", "FIELDS", "1", "f0"]),
            "*1\r\n:1\r\n"
        );
        shard.now += 1;
        assert_eq!(shard.wire(&["HGET", "h", "f0"]), "$-1\r\n");
        assert_eq!(shard.wire(&["HEXISTS", "h", "f1"]), ":0\r\n");
        assert_eq!(shard.run(&["HLEN", "h"]), Reply::Integer(size as i64 - 2));
        assert_eq!(
            shard.wire(&["HTTL", "h", "FIELDS", "1", "f1"]),
            "*1\r\n:-2\r\n"
        );
        assert!(!bulk_strings(&shard.run(&["HKEYS", "h"])).contains(&"f0".to_owned()));
        // Writing an expired field creates it anew, without a deadline.
        assert_eq!(shard.wire(&["HSET", "h", "f0", "back"]), ":1\r\n");
        assert_eq!(
            shard.wire(&["HTTL", "h", "FIELDS", "1", "f0"]),
            "*1\r\n:-1\r\n"
        );
        shard.now += 200;
        assert_eq!(shard.run(&["HLEN", "h"]), Reply::Integer(size as i64 - 2));
    }
    let mut shard = filled(2);
    shard.run(&["HPEXPIRE", "h", "10", "FIELDS", "2", "f0", "f1"]);
    shard.now += 10;
    assert_eq!(shard.wire(&["HGETALL", "h"]), "*0\r\n");
    assert_eq!(
        shard.wire(&["EXISTS", "h"]),
        ":0\r\n",
        "all fields gone: key gone"
    );
}

#[test]
fn writes_and_deadlines() {
    let mut shard = filled(3);
    shard.run(&["HEXPIRE", "h", "100", "FIELDS", "3", "f0", "f1", "f2"]);
    // HSET replaces the value and clears the deadline; HINCRBY and HINCRBYFLOAT keep it.
    shard.run(&["HSET", "h", "f0", "new"]);
    shard.run(&["HSET", "h", "f1", "1"]);
    shard.run(&["HINCRBY", "h", "f1", "1"]);
    shard.run(&["HSETNX", "h", "f2", "ignored"]);
    assert_eq!(
        shard.wire(&["HTTL", "h", "FIELDS", "3", "f0", "f1", "f2"]),
        "*3\r\n:-1\r\n:-1\r\n:100\r\n"
    );
    shard.run(&["HEXPIRE", "h", "100", "FIELDS", "1", "f1"]);
    shard.run(&["HINCRBYFLOAT", "h", "f1", "0.5"]);
    assert_eq!(
        shard.wire(&["HTTL", "h", "FIELDS", "1", "f1"]),
        "*1\r\n:100\r\n"
    );
    assert_eq!(
        shard.wire(&["HPERSIST", "h", "FIELDS", "3", "f1", "f0", "zz"]),
        "*3\r\n:1\r\n:-1\r\n:-2\r\n"
    );
    assert_eq!(
        shard.wire(&["HPERSIST", "nokey", "FIELDS", "1", "a"]),
        "*1\r\n:-2\r\n"
    );
    assert_eq!(
        shard.wire(&["HTTL", "nokey", "FIELDS", "2", "a", "b"]),
        "*2\r\n:-2\r\n:-2\r\n"
    );
}

#[test]
fn deadlines_survive_conversion_to_hashtable() {
    let mut shard = filled(3);
    shard.run(&["HEXPIRE", "h", "100", "FIELDS", "1", "f0"]);
    let mut command = vec!["HSET".to_owned(), "h".to_owned()];
    for index in 3..600 {
        command.push(format!("f{index}"));
        command.push("v".to_owned());
    }
    let args: Vec<&str> = command.iter().map(String::as_str).collect();
    shard.run(&args);
    assert_eq!(
        shard.wire(&["OBJECT", "ENCODING", "h"]),
        "$9\r\nhashtable\r\n"
    );
    assert_eq!(
        shard.wire(&["HTTL", "h", "FIELDS", "2", "f0", "f1"]),
        "*2\r\n:100\r\n:-1\r\n"
    );
    shard.now += 100_000;
    assert_eq!(shard.wire(&["HGET", "h", "f0"]), "$-1\r\n");
    assert_eq!(shard.wire(&["HLEN", "h"]), ":599\r\n");
}

#[test]
fn field_expiry_argument_errors() {
    let mut shard = filled(3);
    for (command, expected) in [
        (
            &["HEXPIRE", "h", "10", "FIELDS", "0", "f0"][..],
            "ERR Parameter `numFields` should be greater than 0",
        ),
        (
            &["HEXPIRE", "h", "10", "FIELDS", "x", "f0"],
            "ERR Parameter `numFields` should be greater than 0",
        ),
        (
            &["HEXPIRE", "h", "10", "FIELDS", "2", "f0"],
            "ERR The `numfields` parameter must match the number of arguments",
        ),
        (
            &["HEXPIRE", "h", "10", "FIELDS", "1", "f0", "f1"],
            "ERR The `numfields` parameter must match the number of arguments",
        ),
        (
            &["HEXPIRE", "h", "10", "NOFIELDS", "1", "f0"],
            "ERR Mandatory argument FIELDS is missing or not at the right position",
        ),
        (
            &["HEXPIRE", "h", "10", "NX", "XX", "FIELDS", "1", "f0"],
            "ERR Mandatory argument FIELDS is missing or not at the right position",
        ),
        (
            &["HEXPIRE", "h", "x", "FIELDS", "1", "f0"],
            "ERR value is not an integer or out of range",
        ),
        (
            &["HEXPIRE", "h", "-1", "FIELDS", "1", "f0"],
            "ERR invalid expire time, must be >= 0",
        ),
        (
            &["HEXPIRE", "h", "70368744177", "FIELDS", "1", "f0"],
            "ERR invalid expire time in 'hexpire' command",
        ),
        (
            &["HPEXPIREAT", "h", "70368744177664", "FIELDS", "1", "f0"],
            "ERR invalid expire time in 'hpexpireat' command",
        ),
        (
            &["HTTL", "h", "FIELDS", "3", "f0", "f1"],
            "ERR The `numfields` parameter must match the number of arguments",
        ),
        (
            &["HPERSIST", "h", "COUNT", "1", "f0"],
            "ERR Mandatory argument FIELDS is missing or not at the right position",
        ),
        (
            &["HPTTL", "nokey", "FIELDS", "0", "f0"],
            "ERR Parameter `numFields` should be greater than 0",
        ),
    ] {
        assert_eq!(
            shard.wire(command),
            format!("-{expected}\r\n"),
            "{command:?}"
        );
    }
    assert_eq!(
        shard.wire(&["HPEXPIREAT", "h", "70368744177663", "FIELDS", "1", "f0"]),
        "*1\r\n:1\r\n",
        "the largest deadline is accepted"
    );
    assert_eq!(
        shard.wire(&["HEXPIRE", "h", "10", "FIELDS", "1"]),
        "-ERR wrong number of arguments for 'hexpire' command\r\n"
    );
}

#[test]
fn hscan_and_hrandfield_skip_expired_fields() {
    let mut shard = filled(3);
    shard.run(&["HPEXPIRE", "h", "5", "FIELDS", "2", "f0", "f1"]);
    shard.now += 5;
    assert_eq!(
        shard.wire(&["HSCAN", "h", "0"]),
        "*2\r\n$1\r\n0\r\n*2\r\n$2\r\nf2\r\n$2\r\nv2\r\n"
    );
    assert_eq!(
        shard.wire(&["HRANDFIELD", "h", "-3"]),
        "*3\r\n$2\r\nf2\r\n$2\r\nf2\r\n$2\r\nf2\r\n"
    );
}
