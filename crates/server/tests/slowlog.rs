//! SLOWLOG as operators read it: which commands are kept and how (compared with
//! redis-server), thresholds, lengths, and the client of a command run on another core.

use peregrine_testkit::{run, run_err, RedisOracle, TestServer};
use redis::Value;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// One entry of SLOWLOG GET: (id, unix time, microseconds, arguments, client address,
/// client name).
type Entry = (i64, i64, i64, Vec<String>, String, String);

fn slowlog(connection: &mut redis::Connection, count: i64) -> Vec<Entry> {
    let value: Value = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(count)
        .query(connection)
        .expect("SLOWLOG GET");
    let Value::Array(entries) = value else {
        panic!("SLOWLOG GET answered {value:?}");
    };
    entries
        .into_iter()
        .map(|entry| redis::from_redis_value::<Entry>(entry).expect("an entry of 6 fields"))
        .collect()
}

/// The same commands leave the same entries (arguments and client name, newest first) in
/// Peregrine with two shards as in redis-server: one entry per command of a pipeline,
/// one for a multi-shard MSET, EXEC's commands but not EXEC, EVAL and its calls (from
/// client `?:0`),
/// passwords redacted, long commands cut as Redis cuts them, refused subcommands not kept.
#[test]
fn entries_match_redis_server() {
    let Some(oracle) = RedisOracle::start("the SLOWLOG comparison") else {
        return;
    };
    let server = TestServer::start(BIN, 2);
    let long_value = "v".repeat(300);
    let many: Vec<String> = (0..40).map(|index| format!("m{index}")).collect();
    let mut logs = Vec::new();
    for mut connection in [oracle.client(), server.client()] {
        run::<Value>(
            &mut connection,
            &["CONFIG", "SET", "slowlog-log-slower-than", "0"],
        );
        run::<Value>(&mut connection, &["SLOWLOG", "RESET"]);
        run::<Value>(&mut connection, &["CLIENT", "SETNAME", "worker"]);
        let mut pipeline = redis::pipe();
        for key in ["a", "b", "c"] {
            pipeline.cmd("SET").arg(key).arg(&long_value).ignore();
        }
        let _: () = pipeline.query(&mut connection).unwrap();
        run::<Value>(
            &mut connection,
            &["MSET", "a", "1", "b", "2", "c", "3", "d", "4"],
        );
        let mut sadd = vec!["SADD", "s"];
        sadd.extend(many.iter().map(String::as_str));
        run::<Value>(&mut connection, &sadd);
        let _: Vec<Value> = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg("{t}n")
            .cmd("GET")
            .arg("{t}a")
            .query(&mut connection)
            .unwrap();
        run::<Value>(
            &mut connection,
            &["EVAL", "return redis.call('GET', KEYS[1])", "1", "a"],
        );
        run_err(&mut connection, &["AUTH", "secret"]);
        run_err(&mut connection, &["SLOWLOG", "NOSUCH"]);
        run_err(&mut connection, &["SLOWLOG", "GET", "1", "2"]);
        run::<Value>(
            &mut connection,
            &["CONFIG", "SET", "slowlog-log-slower-than", "-1"],
        );
        run::<Value>(&mut connection, &["PING"]);
        let entries: Vec<(Vec<String>, String, bool)> = slowlog(&mut connection, -1)
            .into_iter()
            .map(|(_, _, _, args, peer, name)| (args, name, peer == "?:0"))
            .collect();
        logs.push(entries);
    }
    assert_eq!(logs[1], logs[0], "Peregrine's entries, then redis-server's");
    // What the comparison covers: the cut value, the cut command and the redaction.
    let all: Vec<String> = logs[0]
        .iter()
        .flat_map(|(args, _, _)| args.clone())
        .collect();
    assert!(all.contains(&format!("{}... (172 more bytes)", "v".repeat(128))));
    assert!(all.contains(&"... (11 more arguments)".to_owned()));
    assert!(all.contains(&"(redacted)".to_owned()));
}

/// A command run on the other shard is logged with its client's address and name; ids
/// grow, newest first; the threshold keeps only slower commands, with their time.
#[test]
fn thresholds_ids_and_clients() {
    let server = TestServer::start(BIN, 2);
    let mut connection = server.client();
    run::<Value>(
        &mut connection,
        &["CONFIG", "SET", "slowlog-log-slower-than", "0"],
    );
    run::<Value>(&mut connection, &["CLIENT", "SETNAME", "named"]);
    let info: String = redis::cmd("CLIENT")
        .arg("INFO")
        .query(&mut connection)
        .unwrap();
    let addr = info
        .split(' ')
        .find_map(|field| field.strip_prefix("addr="))
        .unwrap()
        .to_owned();
    // Keys of both shards: one of them runs away from the connection's core.
    for index in 0..8 {
        run::<Value>(&mut connection, &["SET", &format!("key:{index}"), "v"]);
    }
    let entries = slowlog(&mut connection, 8);
    assert_eq!(entries.len(), 8);
    for (position, (id, time, _, args, peer, name)) in entries.iter().enumerate() {
        assert_eq!(args[1], format!("key:{}", 7 - position));
        assert_eq!((peer.as_str(), name.as_str()), (addr.as_str(), "named"));
        assert!(*time > 1_700_000_000);
        if let Some(next) = entries.get(position + 1) {
            assert!(*id > next.0, "ids grow: {entries:?}");
        }
    }

    run::<Value>(
        &mut connection,
        &["CONFIG", "SET", "slowlog-log-slower-than", "100000"],
    );
    run::<Value>(&mut connection, &["SLOWLOG", "RESET"]);
    run::<Value>(&mut connection, &["PING"]);
    run::<Value>(&mut connection, &["SET", "key:0", "w"]);
    let len: i64 = redis::cmd("SLOWLOG")
        .arg("LEN")
        .query(&mut connection)
        .unwrap();
    assert_eq!(len, 0, "fast commands are not kept");
    run::<Value>(&mut connection, &["DEBUG", "SLEEP", "0.2"]);
    let entries = slowlog(&mut connection, 10);
    assert_eq!(entries.len(), 1);
    let (_, _, micros, args, _, _) = &entries[0];
    assert_eq!(args, &["DEBUG", "SLEEP", "0.2"]);
    assert!(*micros >= 200_000, "DEBUG SLEEP 0.2 took {micros} µs");
}

/// `slowlog-max-len` bounds the log across shards; GET's count bounds the answer.
#[test]
fn lengths_and_counts() {
    let server = TestServer::start(BIN, 2);
    let mut connection = server.client();
    run::<Value>(
        &mut connection,
        &["CONFIG", "SET", "slowlog-log-slower-than", "0"],
    );
    run::<Value>(&mut connection, &["CONFIG", "SET", "slowlog-max-len", "10"]);
    for index in 0..30 {
        run::<Value>(&mut connection, &["SET", &format!("k{index}"), "v"]);
    }
    let len: i64 = redis::cmd("SLOWLOG")
        .arg("LEN")
        .query(&mut connection)
        .unwrap();
    assert_eq!(len, 10);
    assert_eq!(slowlog(&mut connection, -1).len(), 10);
    assert_eq!(slowlog(&mut connection, 3).len(), 3);
    let newest = &slowlog(&mut connection, 1)[0].3;
    assert_eq!(newest[0], "SLOWLOG", "the GET before this one: {newest:?}");
    run_err(&mut connection, &["SLOWLOG", "GET", "-2"]);
    run::<Value>(&mut connection, &["CONFIG", "SET", "slowlog-max-len", "0"]);
    run::<Value>(&mut connection, &["SET", "k", "v"]);
    assert_eq!(slowlog(&mut connection, -1).len(), 0);
}
