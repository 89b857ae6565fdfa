//! End-to-end tests of the set family with a real client: replies, RESP3 set shapes,
//! errors, encodings, and multi-key commands whose keys live on different shards. Every
//! test runs with 1 and 4 shards.

use peregrine_testkit::{keys_on_shards, run, run_err, show, with_1_and_4_shards, TestServer};
use std::collections::BTreeSet;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

fn members(connection: &mut redis::Connection, key: &str) -> BTreeSet<String> {
    run(connection, &["SMEMBERS", key])
}

fn basics_and_errors(server: &TestServer) {
    let mut c = server.client();
    assert_eq!(run::<i64>(&mut c, &["SADD", "s", "b", "a", "b", "1"]), 3);
    assert_eq!(
        members(&mut c, "s"),
        BTreeSet::from(["a".into(), "b".into(), "1".into()])
    );
    assert_eq!(
        run::<Vec<i64>>(&mut c, &["SMISMEMBER", "s", "a", "z"]),
        vec![1, 0]
    );
    assert_eq!(run::<i64>(&mut c, &["SREM", "s", "a", "b", "1"]), 3);
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "s"]), 0);
    run::<String>(&mut c, &["SET", "string", "v"]);
    assert!(run_err(&mut c, &["SADD", "string", "x"]).starts_with("WRONGTYPE"));
    assert_eq!(
        run_err(&mut c, &["SPOP", "s", "-2"]),
        "ERR value is out of range, must be positive"
    );
    // A key's TTL survives SADD and goes with the last SREM.
    run::<i64>(&mut c, &["SADD", "ttl", "x"]);
    run::<i64>(&mut c, &["EXPIRE", "ttl", "100"]);
    run::<i64>(&mut c, &["SADD", "ttl", "y"]);
    assert!(run::<i64>(&mut c, &["TTL", "ttl"]) > 0);
}

fn encodings_follow_the_thresholds(server: &TestServer) {
    let mut c = server.client();
    let ints: Vec<String> = (0..512).map(|n| n.to_string()).collect();
    let mut command = vec!["SADD", "ints"];
    command.extend(ints.iter().map(String::as_str));
    run::<i64>(&mut c, &command);
    let encoding =
        |c: &mut redis::Connection, key: &str| -> String { run(c, &["OBJECT", "ENCODING", key]) };
    assert_eq!(encoding(&mut c, "ints"), "intset");
    run::<i64>(&mut c, &["SADD", "ints", "512"]);
    assert_eq!(encoding(&mut c, "ints"), "hashtable");
    run::<i64>(&mut c, &["SADD", "small", "1", "x"]);
    assert_eq!(encoding(&mut c, "small"), "listpack");
    run::<String>(&mut c, &["CONFIG", "SET", "set-max-listpack-entries", "2"]);
    run::<i64>(&mut c, &["SADD", "small", "y"]);
    assert_eq!(encoding(&mut c, "small"), "hashtable");
    run::<String>(
        &mut c,
        &["CONFIG", "SET", "set-max-listpack-entries", "128"],
    );
}

fn resp3_replies_are_sets(server: &TestServer) {
    let mut raw = server.raw();
    raw.cmd(&["HELLO", "3"]);
    raw.cmd(&["SADD", "r3", "a"]);
    assert_eq!(raw.cmd(&["SMEMBERS", "r3"]), b"~1\r\n$1\r\na\r\n");
    assert_eq!(raw.cmd(&["SPOP", "nothing", "2"]), b"~0\r\n");
}

fn multi_key_commands_across_shards(server: &TestServer) {
    let mut c = server.client();
    let keys = keys_on_shards("sets", 3, server.shards());
    run::<i64>(&mut c, &["SADD", &keys[0], "a", "b", "c"]);
    run::<i64>(&mut c, &["SADD", &keys[1], "b", "c", "d"]);
    assert_eq!(
        run::<i64>(&mut c, &["SINTERSTORE", &keys[2], &keys[0], &keys[1]]),
        2
    );
    assert_eq!(
        members(&mut c, &keys[2]),
        BTreeSet::from(["b".into(), "c".into()])
    );
    assert_eq!(
        run::<BTreeSet<String>>(&mut c, &["SUNION", &keys[0], &keys[1]]).len(),
        4
    );
    assert_eq!(
        run::<BTreeSet<String>>(&mut c, &["SDIFF", &keys[0], &keys[1]]),
        BTreeSet::from(["a".into()])
    );
    assert_eq!(
        run::<i64>(&mut c, &["SINTERCARD", "2", &keys[0], &keys[1]]),
        2
    );
    assert_eq!(run::<i64>(&mut c, &["SMOVE", &keys[0], &keys[1], "a"]), 1);
    assert_eq!(run::<i64>(&mut c, &["SISMEMBER", &keys[1], "a"]), 1);
    assert_eq!(run::<i64>(&mut c, &["SISMEMBER", &keys[0], "a"]), 0);
    // An empty result deletes the destination, wherever it lives.
    assert_eq!(
        run::<i64>(&mut c, &["SDIFFSTORE", &keys[2], &keys[0], &keys[0]]),
        0
    );
    assert_eq!(run::<i64>(&mut c, &["EXISTS", &keys[2]]), 0);
}

fn scan_a_big_set(server: &TestServer) {
    let mut c = server.client();
    let wanted: BTreeSet<String> = (0..2000).map(|n| format!("m{n}")).collect();
    for chunk in wanted.iter().collect::<Vec<_>>().chunks(500) {
        let mut command = vec!["SADD", "big"];
        command.extend(chunk.iter().map(|member| member.as_str()));
        run::<i64>(&mut c, &command);
    }
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_owned();
    loop {
        let (next, page): (String, Vec<String>) =
            run(&mut c, &["SSCAN", "big", &cursor, "COUNT", "100"]);
        seen.extend(page);
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen, wanted);
}

/// Fills `evens` with `m0, m2 ...` and `threes` with `m0, m3 ...`, below `m120000`:
/// 100,000 members in all, above the chunked threshold (65,536).
fn load_huge_sets(connection: &mut redis::Connection, evens: &str, threes: &str) {
    for (key, step) in [(evens, 2), (threes, 3)] {
        let members: Vec<String> = (0..120_000)
            .step_by(step)
            .map(|n| format!("m{n}"))
            .collect();
        for chunk in members.chunks(2000) {
            let mut command = vec!["SADD", key];
            command.extend(chunk.iter().map(String::as_str));
            run::<i64>(connection, &command);
        }
    }
}

/// The members `m{n}` for the `n` below 120,000 that `keep` keeps.
fn expected(keep: impl Fn(u32) -> bool) -> BTreeSet<String> {
    (0..120_000)
        .filter(|&n| keep(n))
        .map(|n| format!("m{n}"))
        .collect()
}

/// SUNION, SINTER, SDIFF, SINTERCARD and SMEMBERS over huge sets take the chunked path,
/// their reply sent in buffers: what the handler would reply, a set in RESP3, the read
/// noted as the handler notes it (a `keymiss` event, a tracking client's invalidation).
fn huge_reads_run_in_chunks(server: &TestServer) {
    let mut c = server.client();
    let keys = keys_on_shards("hugeread", 4, server.shards());
    let (evens, threes, missing, both) = (&keys[0], &keys[1], &keys[2], &keys[3]);
    load_huge_sets(&mut c, evens, threes);
    let read = |c: &mut redis::Connection, command: &str| -> BTreeSet<String> {
        run(c, &[command, evens, threes])
    };
    assert_eq!(
        read(&mut c, "SUNION"),
        expected(|n| n % 2 == 0 || n % 3 == 0)
    );
    assert_eq!(read(&mut c, "SINTER"), expected(|n| n % 6 == 0));
    assert_eq!(
        read(&mut c, "SDIFF"),
        expected(|n| n % 2 == 0 && n % 3 != 0)
    );
    let union: BTreeSet<String> = run(&mut c, &["SUNION", evens, missing]);
    assert_eq!(union, expected(|n| n % 2 == 0));
    // SMEMBERS of a set above the threshold too.
    run::<i64>(&mut c, &["SUNIONSTORE", both, evens, threes]);
    let members: BTreeSet<String> = run(&mut c, &["SMEMBERS", both]);
    assert_eq!(members, expected(|n| n % 2 == 0 || n % 3 == 0));
    // SINTERCARD counts, stopping at LIMIT (0: none).
    for (limit, count) in [(None, 20_000), (Some("0"), 20_000), (Some("500"), 500)] {
        let mut command = vec!["SINTERCARD", "2", evens, threes];
        command.extend(limit.iter().flat_map(|limit| ["LIMIT", limit]));
        assert_eq!(run::<i64>(&mut c, &command), count, "{command:?}");
    }
    assert_eq!(
        run::<i64>(&mut c, &["SINTERCARD", "3", evens, threes, missing]),
        0
    );
    // Pipelined after other replies, which keep their order.
    let (pong, sinter, scard): (String, BTreeSet<String>, i64) = redis::pipe()
        .cmd("PING")
        .cmd("SINTER")
        .arg(evens)
        .arg(threes)
        .cmd("SCARD")
        .arg(evens)
        .query(&mut c)
        .expect("pipeline");
    assert_eq!(
        (pong.as_str(), sinter.len(), scard),
        ("PONG", 20_000, 60_000)
    );

    let mut resp3 = server.raw();
    resp3.cmd(&["HELLO", "3"]);
    resp3.cmd(&["CLIENT", "TRACKING", "ON"]);
    let reply = resp3.cmd(&["SDIFF", evens, threes]);
    assert!(reply.starts_with(b"~40000\r\n"), "{}", show(&reply[..20]));
    let reply = resp3.cmd(&["SMEMBERS", both]);
    assert!(reply.starts_with(b"~80000\r\n"), "{}", show(&reply[..20]));
    run::<i64>(&mut c, &["SADD", threes, "new"]);
    assert_eq!(
        show(&resp3.read_reply()),
        format!(
            ">2\r\n$10\r\ninvalidate\r\n*1\r\n${}\r\n{threes}\r\n",
            threes.len()
        )
    );

    run::<String>(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "Em"]);
    let mut subscriber = server.raw();
    subscriber.cmd(&["SUBSCRIBE", "__keyevent@0__:keymiss"]);
    run::<BTreeSet<String>>(&mut c, &["SINTER", evens, threes, missing]);
    assert_eq!(
        show(&subscriber.read_reply()),
        format!(
            "*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:keymiss\r\n${}\r\n{missing}\r\n",
            missing.len()
        )
    );
}

/// Sources above the chunked threshold (65,536 members in all) take the chunked path:
/// the results must equal what the ordinary handler computes.
fn huge_stores_run_in_chunks(server: &TestServer) {
    let mut c = server.client();
    let keys = keys_on_shards("huge", 4, server.shards());
    let (evens, threes, destination, other) = (&keys[0], &keys[1], &keys[2], &keys[3]);
    load_huge_sets(&mut c, evens, threes);
    run::<String>(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "Egs"]);
    let mut subscriber = server.raw();
    subscriber.cmd(&["PSUBSCRIBE", "__keyevent@0__:*"]);
    // Multiples of 2 or 3 below 120,000; of 6; of 2 but not 3.
    assert_eq!(
        run::<i64>(&mut c, &["SUNIONSTORE", destination, evens, threes]),
        80_000
    );
    assert_eq!(run::<i64>(&mut c, &["SCARD", destination]), 80_000);
    assert_eq!(
        run::<i64>(&mut c, &["SINTERSTORE", destination, evens, threes]),
        20_000
    );
    assert_eq!(run::<i64>(&mut c, &["SISMEMBER", destination, "m6"]), 1);
    assert_eq!(run::<i64>(&mut c, &["SISMEMBER", destination, "m4"]), 0);
    assert_eq!(
        run::<i64>(&mut c, &["SDIFFSTORE", destination, evens, threes]),
        40_000
    );
    assert_eq!(run::<i64>(&mut c, &["SISMEMBER", destination, "m4"]), 1);
    assert_eq!(run::<i64>(&mut c, &["SISMEMBER", destination, "m6"]), 0);
    // An empty result deletes the destination; a string among the sources is WRONGTYPE.
    assert_eq!(
        run::<i64>(&mut c, &["SINTERSTORE", destination, evens, other]),
        0
    );
    assert_eq!(run::<i64>(&mut c, &["EXISTS", destination]), 0);
    // Their keyspace events, as the ordinary handlers publish them.
    for event in ["sunionstore", "sinterstore", "sdiffstore", "del"] {
        let channel = format!("__keyevent@0__:{event}");
        assert_eq!(
            show(&subscriber.read_reply()),
            format!(
                "*4\r\n$8\r\npmessage\r\n$16\r\n__keyevent@0__:*\r\n${}\r\n{channel}\r\n${}\r\n{destination}\r\n",
                channel.len(),
                destination.len()
            )
        );
    }
    run::<String>(&mut c, &["SET", other, "string"]);
    assert!(run_err(&mut c, &["SUNIONSTORE", destination, evens, other]).starts_with("WRONGTYPE"));
}

with_1_and_4_shards! {
    bin = BIN;
    huge_stores_run_in_chunks,
    huge_reads_run_in_chunks,
    basics_and_errors,
    encodings_follow_the_thresholds,
    resp3_replies_are_sets,
    multi_key_commands_across_shards,
    scan_a_big_set,
}
