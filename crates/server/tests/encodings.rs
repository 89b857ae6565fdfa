//! OBJECT ENCODING as Redis 7.2 reports it: the same commands build the same collections
//! in Peregrine and in a live redis-server, and every key must report the same encoding
//! (listpack, quicklist, hashtable, intset, skiplist), including after the thresholds are
//! changed with CONFIG SET, after shrinking, and for STORE destinations.
//!
//! The installed oracle is redis-server 7.0, which predates two 7.2 encodings: small
//! lists as a single listpack (7.0 says quicklist for every list) and small sets of
//! strings as a listpack (7.0 uses a hashtable). For those keys the test states the 7.2
//! answer (from Redis 7.2's `listTypeTryConversion` and `setTypeCreate`/`setTypeAdd`
//! rules) instead of asking the oracle.

use peregrine_testkit::{RedisOracle, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// A scenario: commands to run on both servers, then the keys whose encodings must agree.
struct Scenario {
    name: &'static str,
    commands: Vec<Vec<String>>,
    keys: &'static [(&'static str, Option<&'static str>)],
}

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_owned).collect()
}

/// `PREFIX key` followed by `count` arguments produced by `item`.
fn bulk(prefix: &str, count: usize, item: impl Fn(usize) -> String) -> Vec<String> {
    let mut command = words(prefix);
    command.extend((0..count).map(item));
    command
}

fn scenarios() -> Vec<Scenario> {
    let long = "x".repeat(65);
    let huge = "y".repeat(9000);
    vec![
        Scenario {
            name: "lists",
            commands: vec![
                bulk("RPUSH l:small", 10, |i| format!("e{i}")),
                bulk("RPUSH l:128", 128, |i| format!("{i}")),
                bulk("RPUSH l:many", 2000, |i| format!("element-{i}")),
                words(&format!("RPUSH l:huge a {huge}")),
                bulk("RPUSH l:shrunk", 2000, |i| format!("element-{i}")),
                words("LTRIM l:shrunk 0 9"),
                words("CONFIG SET list-max-listpack-size 4"),
                bulk("RPUSH l:count4", 5, |i| format!("{i}")),
                bulk("RPUSH l:count3", 3, |i| format!("{i}")),
                words("CONFIG SET list-max-listpack-size -2"),
            ],
            keys: &[
                ("l:small", Some("listpack")),
                ("l:128", Some("listpack")),
                ("l:many", Some("quicklist")),
                ("l:huge", Some("quicklist")),
                ("l:shrunk", Some("listpack")),
                ("l:count4", Some("quicklist")),
                ("l:count3", Some("listpack")),
            ],
        },
        Scenario {
            name: "hashes",
            commands: vec![
                words("HSET h:small a 1 b 2"),
                bulk("HSET h:128", 256, |i| format!("f{}", i / 2)),
                bulk("HSET h:129", 258, |i| format!("f{}", i / 2)),
                words(&format!("HSET h:long a {long}")),
                words(&format!("HSET h:longfield {long} 1")),
                words("CONFIG SET hash-max-listpack-entries 2"),
                words("HSET h:config a 1 b 2 c 3"),
                words("CONFIG SET hash-max-listpack-entries 128"),
                words("HINCRBYFLOAT h:float f 1.5"),
            ],
            keys: &[
                ("h:small", None),
                ("h:128", None),
                ("h:129", None),
                ("h:long", None),
                ("h:longfield", None),
                ("h:config", None),
                ("h:float", None),
            ],
        },
        Scenario {
            name: "sets",
            commands: vec![
                words("SADD s:ints 1 2 3 -5 100000000000"),
                bulk("SADD s:512", 512, |i| i.to_string()),
                bulk("SADD s:513", 513, |i| i.to_string()),
                words("SADD s:strings a b c"),
                words("SADD s:mixed 1 2 a"),
                words("SADD s:intthenstring 1 2 3"),
                words("SADD s:intthenstring hello"),
                bulk("SADD s:129", 129, |i| format!("m{i}")),
                words(&format!("SADD s:long {long}")),
                words("SINTERSTORE s:inter s:512 s:ints"),
                words("SUNIONSTORE s:union s:strings s:ints"),
                words("SDIFFSTORE s:diff s:513 s:512"),
                words("CONFIG SET set-max-intset-entries 2"),
                words("SADD s:config 1 2 3"),
                words("CONFIG SET set-max-intset-entries 512"),
                words("SMOVE s:ints s:moved 2"),
            ],
            keys: &[
                ("s:ints", None),
                ("s:512", None),
                ("s:513", None),
                ("s:strings", Some("listpack")),
                ("s:mixed", Some("listpack")),
                ("s:intthenstring", Some("listpack")),
                ("s:129", None),
                ("s:long", None),
                ("s:inter", None),
                ("s:union", Some("listpack")),
                ("s:diff", None),
                ("s:config", Some("listpack")),
                ("s:moved", None),
            ],
        },
        Scenario {
            name: "sorted sets",
            commands: vec![
                words("ZADD z:small 1 a 2 b"),
                bulk("ZADD z:128", 256, |i| {
                    if i % 2 == 0 {
                        (i / 2).to_string()
                    } else {
                        format!("m{}", i / 2)
                    }
                }),
                bulk("ZADD z:129", 258, |i| {
                    if i % 2 == 0 {
                        (i / 2).to_string()
                    } else {
                        format!("m{}", i / 2)
                    }
                }),
                words(&format!("ZADD z:long 1 {long}")),
                words("ZUNIONSTORE z:union 2 z:small z:129"),
                words("ZINTERSTORE z:inter 2 z:small z:129"),
                words("ZRANGESTORE z:range z:129 0 2"),
                words("ZREMRANGEBYRANK z:129 0 200"),
                words("CONFIG SET zset-max-listpack-entries 1"),
                words("ZADD z:config 1 a 2 b"),
                words("CONFIG SET zset-max-listpack-entries 128"),
            ],
            keys: &[
                ("z:small", None),
                ("z:128", None),
                ("z:129", None),
                ("z:long", None),
                ("z:union", None),
                ("z:inter", None),
                ("z:range", None),
                ("z:config", None),
            ],
        },
    ]
}

fn encoding(connection: &mut redis::Connection, key: &str) -> String {
    redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(key)
        .query::<Option<String>>(connection)
        .unwrap_or_else(|error| Some(format!("error: {error}")))
        .unwrap_or_else(|| "(no such key)".to_owned())
}

fn compare(shards: u16) {
    let Some(redis) = RedisOracle::start("the OBJECT ENCODING comparison") else {
        return;
    };
    let peregrine = TestServer::start(BIN, shards);
    let (mut ours, mut theirs) = (peregrine.client(), redis.client());
    let mut differences = Vec::new();
    for scenario in scenarios() {
        for command in &scenario.commands {
            let mut query = redis::cmd(&command[0]);
            for arg in &command[1..] {
                query.arg(arg);
            }
            let our_reply = query.query::<redis::Value>(&mut ours);
            let their_reply = query.query::<redis::Value>(&mut theirs);
            assert_eq!(
                our_reply.is_ok(),
                their_reply.is_ok(),
                "{}: `{}` ours {our_reply:?}, redis {their_reply:?}",
                scenario.name,
                command[..command.len().min(3)].join(" ")
            );
        }
        for (key, redis_7_2) in scenario.keys {
            let ours_encoding = encoding(&mut ours, key);
            let theirs_encoding = match redis_7_2 {
                Some(expected) => (*expected).to_owned(),
                None => encoding(&mut theirs, key),
            };
            if ours_encoding != theirs_encoding {
                differences.push(format!(
                    "{}: {key}: ours {ours_encoding}, redis {theirs_encoding}",
                    scenario.name
                ));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "encodings differ:\n{}",
        differences.join("\n")
    );
}

#[test]
fn encodings_match_redis_with_one_shard() {
    compare(1);
}

#[test]
fn encodings_match_redis_with_four_shards() {
    compare(4);
}
