//! End-to-end tests of the generic key commands and the keyspace-wide server commands
//! (KEYS, SCAN, DBSIZE, FLUSHDB/FLUSHALL, SELECT, SWAPDB), with keys placed on different
//! shards on purpose. Every test runs with 1 and 4 shards.

use peregrine_testkit::{
    key_on_shard, keys_on_shards, run, run_err, show, with_1_and_4_shards, TestServer,
};
use redis::Value;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// Two keys that live on different shards when there is more than one.
fn two_shard_keys(server: &TestServer, prefix: &str) -> (String, String) {
    let keys = keys_on_shards(prefix, 2, server.shards());
    (keys[0].clone(), keys[1].clone())
}

/// Every key SCAN returns over a full iteration, with the given extra arguments.
fn scan_all(connection: &mut redis::Connection, extra: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_owned();
    let mut keys = Vec::new();
    for _ in 0..100_000 {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(extra);
        let (next, batch): (String, Vec<String>) = run(connection, &args);
        keys.extend(batch);
        if next == "0" {
            return keys;
        }
        cursor = next;
    }
    panic!("SCAN did not finish in 100000 calls");
}

fn del_exists_touch_unlink_count_across_shards(server: &TestServer) {
    let mut c = server.client();
    let keys = keys_on_shards("k", 6, server.shards());
    for key in &keys {
        assert_eq!(run::<String>(&mut c, &["SET", key, "v"]), "OK");
    }
    assert_eq!(
        run::<i64>(&mut c, &["EXISTS", &keys[0], &keys[1], &keys[0], "missing"]),
        3
    );
    assert_eq!(
        run::<i64>(&mut c, &["TOUCH", &keys[2], &keys[3], "missing", &keys[2]]),
        3
    );
    assert_eq!(
        run::<i64>(&mut c, &["DEL", &keys[0], &keys[1], "missing", &keys[0]]),
        2
    );
    assert_eq!(run::<i64>(&mut c, &["UNLINK", &keys[2], &keys[3]]), 2);
    assert_eq!(
        run::<i64>(&mut c, &["EXISTS", &keys[0], &keys[1], &keys[2], &keys[3]]),
        0
    );
    assert_eq!(run::<i64>(&mut c, &["EXISTS", &keys[4], &keys[5]]), 2);
    assert_eq!(run::<i64>(&mut c, &["DBSIZE"]), 2);
    assert_eq!(run::<i64>(&mut c, &["DEL", "missing"]), 0);
}

fn keys_live_on_the_shard_their_slot_names(server: &TestServer) {
    let mut c = server.client();
    let shards = server.shards();
    // 1 key on shard 0, 2 on shard 1, ... (one shard: 1 + 2 + 3 + 4 keys on shard 0).
    for shard in 0..4u16 {
        for copy in 0..=shard {
            let key = key_on_shard(&format!("placed:{shard}:{copy}:"), shard % shards, shards);
            assert_eq!(run::<String>(&mut c, &["SET", &key, "v"]), "OK");
        }
    }
    let info: String = run(&mut c, &["INFO", "shards"]);
    for shard in 0..shards {
        let expected = if shards == 1 {
            10
        } else {
            usize::from(shard) + 1
        };
        let line = info
            .lines()
            .find(|line| line.starts_with(&format!("shard{shard}:")))
            .unwrap_or_else(|| panic!("no shard{shard} line in INFO shards:\n{info}"));
        assert!(line.contains(&format!("keys={expected},")), "{line}");
    }
}

fn type_randomkey_and_object(server: &TestServer) {
    let mut c = server.client();
    assert_eq!(run::<Option<String>>(&mut c, &["RANDOMKEY"]), None);
    let keys = keys_on_shards("r", 4, server.shards());
    for key in &keys {
        assert_eq!(run::<String>(&mut c, &["SET", key, "1"]), "OK");
    }
    for _ in 0..20 {
        let key: String = run(&mut c, &["RANDOMKEY"]);
        assert!(keys.contains(&key), "RANDOMKEY gave {key}");
    }
    assert_eq!(run::<String>(&mut c, &["TYPE", &keys[0]]), "string");
    assert_eq!(run::<String>(&mut c, &["TYPE", "nope"]), "none");
    assert_eq!(
        run::<i64>(&mut c, &["OBJECT", "REFCOUNT", &keys[0]]),
        2_147_483_647
    );
    assert!(run::<i64>(&mut c, &["OBJECT", "IDLETIME", &keys[0]]) >= 0);
    assert_eq!(
        run::<Value>(&mut c, &["OBJECT", "IDLETIME", "nope"]),
        Value::Nil
    );
    assert!(run_err(&mut c, &["OBJECT", "FREQ", &keys[0]])
        .starts_with("ERR An LFU maxmemory policy is not selected"));
}

fn expire_family(server: &TestServer) {
    let mut c = server.client();
    assert_eq!(run::<String>(&mut c, &["SET", "a", "1"]), "OK");
    assert_eq!(run::<i64>(&mut c, &["EXPIRE", "a", "100", "XX"]), 0);
    assert_eq!(run::<i64>(&mut c, &["EXPIRE", "a", "100", "NX"]), 1);
    assert_eq!(run::<i64>(&mut c, &["EXPIRE", "a", "200", "NX"]), 0);
    assert_eq!(run::<i64>(&mut c, &["EXPIRE", "a", "50", "GT"]), 0);
    assert_eq!(run::<i64>(&mut c, &["EXPIRE", "a", "200", "GT"]), 1);
    assert_eq!(run::<i64>(&mut c, &["EXPIRE", "a", "50", "LT"]), 1);
    assert!((49..=50).contains(&run::<i64>(&mut c, &["TTL", "a"])));
    assert_eq!(run::<i64>(&mut c, &["PEXPIRE", "a", "70000"]), 1);
    let pttl: i64 = run(&mut c, &["PTTL", "a"]);
    assert!((69_000..=70_000).contains(&pttl), "{pttl}");
    assert_eq!(run::<i64>(&mut c, &["PERSIST", "a"]), 1);
    assert_eq!(run::<i64>(&mut c, &["PERSIST", "a"]), 0);
    assert_eq!(run::<i64>(&mut c, &["TTL", "a"]), -1);
    assert_eq!(run::<i64>(&mut c, &["EXPIRETIME", "a"]), -1);
    assert_eq!(run::<i64>(&mut c, &["EXPIRETIME", "missing"]), -2);
    assert_eq!(run::<i64>(&mut c, &["PEXPIRETIME", "missing"]), -2);
    let now: i64 = run::<Vec<i64>>(&mut c, &["TIME"])[0];
    assert_eq!(
        run::<i64>(&mut c, &["EXPIREAT", "a", &(now + 1000).to_string()]),
        1
    );
    assert_eq!(run::<i64>(&mut c, &["EXPIRETIME", "a"]), now + 1000);
    assert_eq!(
        run::<i64>(&mut c, &["PEXPIRETIME", "a"]),
        (now + 1000) * 1000
    );
    assert_eq!(
        run::<i64>(
            &mut c,
            &["PEXPIREAT", "a", &((now + 2000) * 1000).to_string()]
        ),
        1
    );
    assert_eq!(run::<i64>(&mut c, &["EXPIRETIME", "a"]), now + 2000);
    // A time in the past deletes the key.
    assert_eq!(run::<i64>(&mut c, &["EXPIRE", "a", "-1"]), 1);
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "a"]), 0);
    assert_eq!(run::<String>(&mut c, &["SET", "b", "1"]), "OK");
    assert_eq!(run::<i64>(&mut c, &["PEXPIREAT", "b", "1"]), 1);
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "b"]), 0);
    assert_eq!(run::<i64>(&mut c, &["EXPIRE", "missing", "10"]), 0);
    assert_eq!(
        run_err(&mut c, &["EXPIRE", "x", "10", "NX", "XX"]),
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    );
    assert_eq!(
        run_err(&mut c, &["EXPIRE", "x", "10", "GT", "LT"]),
        "ERR GT and LT options at the same time are not compatible"
    );
    assert_eq!(
        run_err(&mut c, &["EXPIRE", "x", "abc"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        run_err(&mut c, &["EXPIRE", "x", "10", "BOGUS"]),
        "ERR Unsupported option BOGUS"
    );
    assert_eq!(run::<String>(&mut c, &["SET", "big", "1"]), "OK");
    assert_eq!(
        run_err(&mut c, &["EXPIRE", "big", "9223372036854775807"]),
        "ERR invalid expire time in 'expire' command"
    );
}

fn rename_across_shards(server: &TestServer) {
    let mut c = server.client();
    let (source, target) = two_shard_keys(server, "rename");
    assert_eq!(
        run::<String>(&mut c, &["SET", &source, "payload", "EX", "1000"]),
        "OK"
    );
    assert_eq!(run::<String>(&mut c, &["RENAME", &source, &target]), "OK");
    assert_eq!(run::<i64>(&mut c, &["EXISTS", &source]), 0);
    assert_eq!(run::<String>(&mut c, &["GET", &target]), "payload");
    let ttl: i64 = run(&mut c, &["TTL", &target]);
    assert!(
        (999..=1000).contains(&ttl),
        "the TTL did not move with the key: {ttl}"
    );
    // RENAME overwrites the destination, value and TTL.
    assert_eq!(run::<String>(&mut c, &["SET", &source, "second"]), "OK");
    assert_eq!(run::<String>(&mut c, &["RENAME", &source, &target]), "OK");
    assert_eq!(run::<String>(&mut c, &["GET", &target]), "second");
    assert_eq!(run::<i64>(&mut c, &["TTL", &target]), -1);
    assert_eq!(
        run_err(&mut c, &["RENAME", &source, &target]),
        "ERR no such key"
    );
    assert_eq!(
        run_err(&mut c, &["RENAME", "missing", "missing"]),
        "ERR no such key"
    );
    assert_eq!(run::<String>(&mut c, &["RENAME", &target, &target]), "OK");
    assert_eq!(run::<String>(&mut c, &["GET", &target]), "second");
    // RENAMENX refuses an existing destination and moves to a free one.
    assert_eq!(run::<String>(&mut c, &["SET", &source, "third"]), "OK");
    assert_eq!(run::<i64>(&mut c, &["RENAMENX", &source, &target]), 0);
    assert_eq!(run::<String>(&mut c, &["GET", &source]), "third");
    assert_eq!(run::<i64>(&mut c, &["DEL", &target]), 1);
    assert_eq!(run::<i64>(&mut c, &["RENAMENX", &source, &target]), 1);
    assert_eq!(
        run::<Vec<Option<String>>>(&mut c, &["MGET", &source, &target]),
        vec![None, Some("third".into())]
    );
    assert_eq!(
        run_err(&mut c, &["RENAMENX", &source, &target]),
        "ERR no such key"
    );
    assert_eq!(run::<i64>(&mut c, &["DBSIZE"]), 1);
}

fn copy_across_shards_and_databases(server: &TestServer) {
    let mut c = server.client();
    let (source, target) = two_shard_keys(server, "copy");
    assert_eq!(
        run::<String>(&mut c, &["SET", &source, "v", "EX", "500"]),
        "OK"
    );
    assert_eq!(run::<i64>(&mut c, &["COPY", &source, &target]), 1);
    assert_eq!(run::<String>(&mut c, &["GET", &target]), "v");
    assert!((499..=500).contains(&run::<i64>(&mut c, &["TTL", &target])));
    assert_eq!(run::<String>(&mut c, &["GET", &source]), "v");
    assert_eq!(run::<String>(&mut c, &["SET", &source, "w"]), "OK");
    assert_eq!(run::<i64>(&mut c, &["COPY", &source, &target]), 0);
    assert_eq!(run::<String>(&mut c, &["GET", &target]), "v");
    assert_eq!(
        run::<i64>(&mut c, &["COPY", &source, &target, "REPLACE"]),
        1
    );
    assert_eq!(run::<String>(&mut c, &["GET", &target]), "w");
    assert_eq!(run::<i64>(&mut c, &["TTL", &target]), -1);
    assert_eq!(run::<i64>(&mut c, &["COPY", "missing", &target]), 0);
    assert_eq!(
        run::<i64>(&mut c, &["COPY", &source, &source, "DB", "3"]),
        1
    );
    assert_eq!(
        run::<i64>(&mut c, &["COPY", &source, &source, "DB", "3"]),
        0
    );
    assert_eq!(
        run_err(&mut c, &["COPY", &source, &source]),
        "ERR source and destination objects are the same"
    );
    assert_eq!(
        run_err(&mut c, &["COPY", &source, &target, "DB", "16"]),
        "ERR DB index is out of range"
    );
    assert_eq!(
        run_err(&mut c, &["COPY", &source, &target, "DB", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        run_err(&mut c, &["COPY", &source, &target, "BOGUS"]),
        "ERR syntax error"
    );
    assert_eq!(run::<String>(&mut c, &["SELECT", "3"]), "OK");
    assert_eq!(run::<String>(&mut c, &["GET", &source]), "w");
    assert_eq!(run::<i64>(&mut c, &["DBSIZE"]), 1);
}

fn move_between_databases(server: &TestServer) {
    let mut c = server.client();
    let keys = keys_on_shards("move", 4, server.shards());
    for key in &keys {
        assert_eq!(
            run::<String>(&mut c, &["SET", key, "db0", "EX", "300"]),
            "OK"
        );
        assert_eq!(run::<i64>(&mut c, &["MOVE", key, "5"]), 1);
        assert_eq!(run::<i64>(&mut c, &["EXISTS", key]), 0);
    }
    assert_eq!(run::<i64>(&mut c, &["MOVE", "missing", "5"]), 0);
    assert_eq!(run::<String>(&mut c, &["SET", &keys[0], "again"]), "OK");
    // The target already holds the key: nothing moves.
    assert_eq!(run::<i64>(&mut c, &["MOVE", &keys[0], "5"]), 0);
    assert_eq!(run::<String>(&mut c, &["GET", &keys[0]]), "again");
    assert_eq!(
        run_err(&mut c, &["MOVE", &keys[0], "0"]),
        "ERR source and destination objects are the same"
    );
    assert_eq!(
        run_err(&mut c, &["MOVE", &keys[0], "16"]),
        "ERR DB index is out of range"
    );
    assert_eq!(
        run_err(&mut c, &["MOVE", &keys[0], "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(run::<String>(&mut c, &["SELECT", "5"]), "OK");
    assert_eq!(run::<i64>(&mut c, &["DBSIZE"]), 4);
    for key in &keys {
        assert_eq!(run::<String>(&mut c, &["GET", key]), "db0");
        assert!(run::<i64>(&mut c, &["TTL", key]) > 290, "MOVE kept the TTL");
    }
}

fn keys_patterns(server: &TestServer) {
    let mut c = server.client();
    for key in [
        "user:1", "user:2", "user:10", "admin", "a*b", "axb", "hello", "hallo", "hxllo",
    ] {
        assert_eq!(run::<String>(&mut c, &["SET", key, "v"]), "OK");
    }
    let keys = |c: &mut redis::Connection, pattern: &str| -> BTreeSet<String> {
        run::<Vec<String>>(c, &["KEYS", pattern])
            .into_iter()
            .collect()
    };
    let set = |items: &[&str]| -> BTreeSet<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    };
    assert_eq!(
        keys(&mut c, "user:*"),
        set(&["user:1", "user:2", "user:10"])
    );
    assert_eq!(keys(&mut c, "user:?"), set(&["user:1", "user:2"]));
    assert_eq!(keys(&mut c, "h[ae]llo"), set(&["hello", "hallo"]));
    assert_eq!(keys(&mut c, "h[^e]llo"), set(&["hallo", "hxllo"]));
    assert_eq!(keys(&mut c, "a\\*b"), set(&["a*b"]));
    assert_eq!(keys(&mut c, "nothing*"), set(&[]));
    assert_eq!(keys(&mut c, "*").len(), 9);
    assert_eq!(
        run::<Vec<String>>(&mut c, &["KEYS", "*"]).len(),
        9,
        "KEYS repeated a key"
    );
}

fn dbsize_select_flushdb_flushall(server: &TestServer) {
    let mut c = server.client();
    let mut other = server.client();
    for key in keys_on_shards("f", 8, server.shards()) {
        assert_eq!(run::<String>(&mut c, &["SET", &key, "v"]), "OK");
    }
    assert_eq!(run::<String>(&mut other, &["SELECT", "9"]), "OK");
    assert_eq!(run::<i64>(&mut other, &["DBSIZE"]), 0);
    for key in keys_on_shards("g", 3, server.shards()) {
        assert_eq!(run::<String>(&mut other, &["SET", &key, "v"]), "OK");
    }
    assert_eq!(run::<i64>(&mut c, &["DBSIZE"]), 8);
    assert_eq!(run::<i64>(&mut other, &["DBSIZE"]), 3);
    assert_eq!(run::<String>(&mut other, &["FLUSHDB"]), "OK");
    assert_eq!(run::<i64>(&mut other, &["DBSIZE"]), 0);
    assert_eq!(run::<i64>(&mut c, &["DBSIZE"]), 8);
    assert_eq!(run::<String>(&mut other, &["SET", "x", "v"]), "OK");
    assert_eq!(run::<String>(&mut c, &["FLUSHALL"]), "OK");
    assert_eq!(run::<i64>(&mut c, &["DBSIZE"]), 0);
    assert_eq!(run::<i64>(&mut other, &["DBSIZE"]), 0);
    assert_eq!(run::<String>(&mut c, &["SET", "after", "v"]), "OK");
    assert_eq!(run::<String>(&mut c, &["FLUSHALL", "ASYNC"]), "OK");
    assert_eq!(run::<i64>(&mut c, &["DBSIZE"]), 0);
    assert_eq!(run::<String>(&mut c, &["FLUSHDB", "SYNC"]), "OK");
    assert_eq!(run_err(&mut c, &["FLUSHDB", "BOGUS"]), "ERR syntax error");
    assert_eq!(
        run_err(&mut c, &["SELECT", "16"]),
        "ERR DB index is out of range"
    );
    assert_eq!(
        run_err(&mut c, &["SELECT", "-1"]),
        "ERR DB index is out of range"
    );
    assert_eq!(
        run_err(&mut c, &["SELECT", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        run_err(&mut c, &["DBSIZE", "x"]),
        "ERR wrong number of arguments for 'dbsize' command"
    );
}

fn swapdb_swaps_every_shard(server: &TestServer) {
    let mut c = server.client();
    let mut db1 = server.client();
    assert_eq!(run::<String>(&mut db1, &["SELECT", "1"]), "OK");
    let zero = keys_on_shards("zero", 4, server.shards());
    let one = keys_on_shards("one", 2, server.shards());
    for key in &zero {
        assert_eq!(
            run::<String>(&mut c, &["SET", key, "from0", "EX", "100"]),
            "OK"
        );
    }
    for key in &one {
        assert_eq!(run::<String>(&mut db1, &["SET", key, "from1"]), "OK");
    }
    assert_eq!(run::<String>(&mut c, &["SWAPDB", "0", "1"]), "OK");
    // Connections stay on their index and see the other data.
    assert_eq!(run::<i64>(&mut c, &["DBSIZE"]), 2);
    assert_eq!(run::<i64>(&mut db1, &["DBSIZE"]), 4);
    for key in &one {
        assert_eq!(run::<String>(&mut c, &["GET", key]), "from1");
    }
    for key in &zero {
        assert_eq!(run::<String>(&mut db1, &["GET", key]), "from0");
        assert!(run::<i64>(&mut db1, &["TTL", key]) > 90);
        assert_eq!(run::<i64>(&mut c, &["EXISTS", key]), 0);
    }
    assert_eq!(run::<String>(&mut c, &["SWAPDB", "1", "0"]), "OK");
    assert_eq!(run::<i64>(&mut c, &["DBSIZE"]), 4);
    assert_eq!(run::<String>(&mut c, &["SWAPDB", "0", "0"]), "OK");
    assert_eq!(run::<i64>(&mut c, &["DBSIZE"]), 4);
    assert_eq!(
        run_err(&mut c, &["SWAPDB", "0", "16"]),
        "ERR DB index is out of range"
    );
    assert_eq!(
        run_err(&mut c, &["SWAPDB", "a", "0"]),
        "ERR invalid first DB index"
    );
    assert_eq!(
        run_err(&mut c, &["SWAPDB", "0", "b"]),
        "ERR invalid second DB index"
    );
}

fn scan_iterates_every_key(server: &TestServer) {
    let mut c = server.client();
    let mut expected = BTreeSet::new();
    for index in 0..500 {
        let key = format!("scan:{index}");
        assert_eq!(run::<String>(&mut c, &["SET", &key, "v"]), "OK");
        expected.insert(key);
    }
    assert_eq!(run::<String>(&mut c, &["SET", "other", "v"]), "OK");
    for count in ["1", "7", "100", "10000"] {
        let keys = scan_all(&mut c, &["COUNT", count, "MATCH", "scan:*"]);
        let unique: BTreeSet<String> = keys.iter().cloned().collect();
        assert_eq!(unique, expected, "SCAN COUNT {count}");
    }
    let everything: BTreeSet<String> = scan_all(&mut c, &[]).into_iter().collect();
    assert_eq!(everything.len(), 501);
    assert_eq!(
        scan_all(&mut c, &["TYPE", "string", "MATCH", "other"]),
        vec!["other".to_owned()]
    );
    assert!(scan_all(&mut c, &["TYPE", "list"]).is_empty());
    assert_eq!(run_err(&mut c, &["SCAN", "abc"]), "ERR invalid cursor");
    assert_eq!(
        run_err(&mut c, &["SCAN", "0", "COUNT", "0"]),
        "ERR syntax error"
    );
    assert_eq!(run_err(&mut c, &["SCAN", "0", "COUNT"]), "ERR syntax error");
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SELECT", "2"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["SCAN", "0"]), b"*2\r\n$1\r\n0\r\n*0\r\n");
}

fn scan_while_keys_are_inserted_and_deleted(server: &TestServer) {
    let mut c = server.client();
    let mut stable = BTreeSet::new();
    for index in 0..1500 {
        let key = format!("stable:{index}");
        assert_eq!(run::<String>(&mut c, &["SET", &key, "v"]), "OK");
        stable.insert(key);
    }
    for index in 0..500 {
        assert_eq!(
            run::<String>(&mut c, &["SET", &format!("doomed:{index}"), "v"]),
            "OK"
        );
    }
    let done = Arc::new(AtomicBool::new(false));
    let mut writer = server.client();
    let writer_done = done.clone();
    let writer = std::thread::spawn(move || {
        // Grows every table (forcing rehashes) and deletes other keys while SCAN runs.
        for index in 0..3000 {
            let key = format!("new:{index}");
            run::<()>(&mut writer, &["SET", &key, "v"]);
            if index < 500 {
                run::<()>(&mut writer, &["DEL", &format!("doomed:{index}")]);
            }
            if writer_done.load(Ordering::Relaxed) && index > 2000 {
                break;
            }
        }
    });
    let seen = scan_all(&mut c, &["COUNT", "5"]);
    done.store(true, Ordering::Relaxed);
    writer.join().expect("the writer thread failed");
    let seen: BTreeSet<String> = seen.into_iter().collect();
    let missing: Vec<&String> = stable.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "SCAN missed {} keys present throughout, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    for key in &seen {
        assert!(
            key.starts_with("stable:") || key.starts_with("new:") || key.starts_with("doomed:"),
            "SCAN returned a key that never existed: {key}"
        );
    }
}

fn generic_errors_on_the_wire(server: &TestServer) {
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["RENAME", "nope", "other"]),
        b"-ERR no such key\r\n"
    );
    assert_eq!(
        show(&raw.cmd(&["DEL"])),
        "-ERR wrong number of arguments for 'del' command\r\n"
    );
    assert_eq!(
        show(&raw.cmd(&["EXISTS"])),
        "-ERR wrong number of arguments for 'exists' command\r\n"
    );
    assert_eq!(
        show(&raw.cmd(&["RENAME", "a"])),
        "-ERR wrong number of arguments for 'rename' command\r\n"
    );
    assert_eq!(
        show(&raw.cmd(&["KEYS"])),
        "-ERR wrong number of arguments for 'keys' command\r\n"
    );
    assert_eq!(
        show(&raw.cmd(&["SCAN"])),
        "-ERR wrong number of arguments for 'scan' command\r\n"
    );
    assert_eq!(
        show(&raw.cmd(&["TTL"])),
        "-ERR wrong number of arguments for 'ttl' command\r\n"
    );
    assert_eq!(raw.cmd(&["TTL", "nope"]), b":-2\r\n");
    assert_eq!(raw.cmd(&["TYPE", "nope"]), b"+none\r\n");
    assert_eq!(raw.cmd(&["RANDOMKEY"]), b"$-1\r\n");
    assert_eq!(raw.cmd(&["KEYS", "*"]), b"*0\r\n");
    assert_eq!(raw.cmd(&["DBSIZE"]), b":0\r\n");
    assert_eq!(
        raw.cmd(&["SELECT", "16"]),
        b"-ERR DB index is out of range\r\n"
    );
}

with_1_and_4_shards! {
    bin = BIN;
    del_exists_touch_unlink_count_across_shards,
    keys_live_on_the_shard_their_slot_names,
    type_randomkey_and_object,
    expire_family,
    rename_across_shards,
    copy_across_shards_and_databases,
    move_between_databases,
    keys_patterns,
    dbsize_select_flushdb_flushall,
    swapdb_swaps_every_shard,
    scan_iterates_every_key,
    scan_while_keys_are_inserted_and_deleted,
    generic_errors_on_the_wire,
}
