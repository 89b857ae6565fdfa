//! What the persistence suites share: a dump of the whole dataset to compare two servers
//! by, a population of every type and kind of write, and waiting for snapshots.

use peregrine_testkit::{keys_on_shards, run, TestServer};
use std::time::Duration;

/// Every key of databases 0..3 with its type, deadline, encoding and whole value, sorted:
/// two dumps are equal when the datasets are.
pub fn dump(server: &TestServer) -> Vec<String> {
    let mut connection = server.client();
    let mut lines = Vec::new();
    for db in 0..3 {
        let _: () = run(&mut connection, &["SELECT", &db.to_string()]);
        let mut keys: Vec<String> = run(&mut connection, &["KEYS", "*"]);
        keys.sort();
        for key in keys {
            let kind: String = run(&mut connection, &["TYPE", &key]);
            let deadline: i64 = run(&mut connection, &["PEXPIRETIME", &key]);
            let encoding: String = run(&mut connection, &["OBJECT", "ENCODING", &key]);
            // A string is embstr or raw by its history (APPEND makes it raw) and loads
            // back as Redis loads an RDB: both are one encoding here.
            let encoding = if encoding == "raw" {
                "embstr".to_owned()
            } else {
                encoding
            };
            let value = match kind.as_str() {
                "string" => format!("{:?}", run::<String>(&mut connection, &["GET", &key])),
                "list" => format!(
                    "{:?}",
                    run::<Vec<String>>(&mut connection, &["LRANGE", &key, "0", "-1"])
                ),
                "set" => {
                    let mut members: Vec<String> = run(&mut connection, &["SMEMBERS", &key]);
                    members.sort();
                    format!("{members:?}")
                }
                "zset" => format!(
                    "{:?}",
                    run::<Vec<String>>(&mut connection, &["ZRANGE", &key, "0", "-1", "WITHSCORES"])
                ),
                "hash" => {
                    let mut fields: Vec<(String, String)> =
                        run(&mut connection, &["HGETALL", &key]);
                    fields.sort();
                    let deadlines: Vec<String> = fields
                        .iter()
                        .map(|(field, _)| {
                            let times: Vec<i64> = run(
                                &mut connection,
                                &["HPEXPIRETIME", &key, "FIELDS", "1", field],
                            );
                            format!("{field}@{times:?}")
                        })
                        .collect();
                    format!("{fields:?} {deadlines:?}")
                }
                other => panic!("unexpected type {other}"),
            };
            lines.push(format!(
                "db{db} {key} {kind} {encoding} deadline={deadline} {value}"
            ));
        }
    }
    lines
}

/// Writes something of every type and every kind of write the log must replay exactly:
/// relative TTLs, random pops, floats, multi-shard operations, expiry, FLUSHDB, SWAPDB.
pub fn populate(server: &TestServer) {
    let shards = server.shards();
    let mut connection = server.client();
    let keys = keys_on_shards("k", 8, shards);
    let commands: Vec<Vec<String>> = vec![
        vec!["SET".into(), "plain".into(), "value".into()],
        vec!["SET".into(), "number".into(), "41".into()],
        vec!["INCR".into(), "number".into()],
        vec!["INCRBYFLOAT".into(), "float".into(), "0.1".into()],
        vec!["INCRBYFLOAT".into(), "float".into(), "1e3".into()],
        vec![
            "SET".into(),
            "ttl".into(),
            "v".into(),
            "EX".into(),
            "1000".into(),
        ],
        vec!["SETEX".into(), "ttl2".into(), "2000".into(), "v".into()],
        vec![
            "SET".into(),
            "gone".into(),
            "v".into(),
            "PX".into(),
            "1".into(),
        ],
        vec!["APPEND".into(), "plain".into(), "-more".into()],
        vec![
            "RPUSH".into(),
            "list".into(),
            "a".into(),
            "b".into(),
            "c".into(),
            "d".into(),
        ],
        vec!["LPOP".into(), "list".into()],
        vec![
            "LINSERT".into(),
            "list".into(),
            "BEFORE".into(),
            "c".into(),
            "x".into(),
        ],
        vec![
            "HSET".into(),
            "hash".into(),
            "f1".into(),
            "v1".into(),
            "f2".into(),
            "v2".into(),
            "f3".into(),
            "v3".into(),
        ],
        vec![
            "HEXPIRE".into(),
            "hash".into(),
            "500".into(),
            "FIELDS".into(),
            "1".into(),
            "f2".into(),
        ],
        vec![
            "HINCRBYFLOAT".into(),
            "hash".into(),
            "n".into(),
            "2.5".into(),
        ],
        vec![
            "SADD".into(),
            "ints".into(),
            "1".into(),
            "2".into(),
            "3".into(),
            "4".into(),
            "5".into(),
            "6".into(),
        ],
        vec!["SPOP".into(), "ints".into()],
        vec!["SPOP".into(), "ints".into(), "2".into()],
        vec![
            "SADD".into(),
            "words".into(),
            "alpha".into(),
            "beta".into(),
            "gamma".into(),
        ],
        vec![
            "ZADD".into(),
            "zset".into(),
            "1.5".into(),
            "a".into(),
            "-inf".into(),
            "b".into(),
            "3".into(),
            "c".into(),
        ],
        vec!["ZINCRBY".into(), "zset".into(), "0.25".into(), "a".into()],
        vec!["ZPOPMIN".into(), "zset".into()],
        vec!["EXPIRE".into(), "list".into(), "3000".into()],
        vec![
            "MSET".into(),
            keys[0].clone(),
            "m0".into(),
            keys[1].clone(),
            "m1".into(),
            keys[2].clone(),
            "m2".into(),
            keys[3].clone(),
            "m3".into(),
        ],
        vec!["RENAME".into(), keys[0].clone(), keys[5].clone()],
        vec!["SADD".into(), keys[6].clone(), "s1".into(), "s2".into()],
        vec!["SADD".into(), keys[7].clone(), "s2".into(), "s3".into()],
        vec![
            "SUNIONSTORE".into(),
            keys[4].clone(),
            keys[6].clone(),
            keys[7].clone(),
        ],
        vec!["DEL".into(), keys[1].clone(), keys[2].clone()],
        vec!["SELECT".into(), "1".into()],
        vec!["SET".into(), "in-db1".into(), "x".into()],
        vec!["SELECT".into(), "2".into()],
        vec!["SET".into(), "in-db2".into(), "y".into()],
        vec!["FLUSHDB".into()],
        vec!["SET".into(), "after-flush".into(), "z".into()],
        vec!["SWAPDB".into(), "1".into(), "2".into()],
        vec!["SELECT".into(), "0".into()],
    ];
    for command in &commands {
        let args: Vec<&str> = command.iter().map(String::as_str).collect();
        let _: redis::Value = run(&mut connection, &args);
    }
    std::thread::sleep(Duration::from_millis(5));
    // The expired key is created anew after its deadline: replay must see the expiry.
    let created: bool = run(&mut connection, &["SETNX", "gone", "again"]);
    assert!(created);
}

/// A field of INFO persistence.
pub fn persistence_field(server: &TestServer, field: &str) -> String {
    let info: String = run(&mut server.client(), &["INFO", "persistence"]);
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO persistence has no {field}: {info}"))
        .trim()
        .to_owned()
}

/// Waits until `count` snapshots completed.
pub fn await_snapshots(server: &TestServer, count: u64) {
    let done = peregrine_testkit::poll_until(Duration::from_secs(60), || {
        persistence_field(server, "rdb_saves")
            .parse::<u64>()
            .unwrap_or(0)
            >= count
            && persistence_field(server, "rdb_bgsave_in_progress") == "0"
    });
    assert!(done, "no snapshot within 60 s");
}
