//! End-to-end tests of the list family: meaning through the `redis` crate, null forms
//! through raw bytes in RESP2 and RESP3, multi-key commands with keys on different
//! shards. Every test runs with 1 and 4 shards.

use peregrine_testkit::{keys_on_shards, run, run_err, show, with_1_and_4_shards, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// Pushes `elements` to the tail of `key`.
fn rpush(connection: &mut redis::Connection, key: &str, elements: &[&str]) {
    let mut args = vec!["RPUSH", key];
    args.extend_from_slice(elements);
    run::<i64>(connection, &args);
}

fn range(connection: &mut redis::Connection, key: &str) -> Vec<String> {
    run(connection, &["LRANGE", key, "0", "-1"])
}

fn push_pop_range(server: &TestServer) {
    let mut c = server.client();
    assert_eq!(run::<i64>(&mut c, &["LPUSH", "l", "b", "a"]), 2);
    assert_eq!(run::<i64>(&mut c, &["RPUSH", "l", "c", "d", "e"]), 5);
    assert_eq!(range(&mut c, "l"), ["a", "b", "c", "d", "e"]);
    assert_eq!(
        run::<Vec<String>>(&mut c, &["LRANGE", "l", "-2", "99"]),
        ["d", "e"]
    );
    assert_eq!(
        run::<Option<String>>(&mut c, &["LINDEX", "l", "-5"]),
        Some("a".into())
    );
    assert_eq!(run::<Option<String>>(&mut c, &["LINDEX", "l", "5"]), None);
    assert_eq!(run::<String>(&mut c, &["LSET", "l", "1", "B"]), "OK");
    assert_eq!(
        run_err(&mut c, &["LSET", "l", "9", "x"]),
        "ERR index out of range"
    );
    assert_eq!(run::<i64>(&mut c, &["LINSERT", "l", "AFTER", "B", "b2"]), 6);
    assert_eq!(run::<i64>(&mut c, &["LPOS", "l", "c"]), 3);
    assert_eq!(
        run::<Option<String>>(&mut c, &["LPOP", "l"]),
        Some("a".into())
    );
    assert_eq!(run::<Vec<String>>(&mut c, &["RPOP", "l", "2"]), ["e", "d"]);
    assert_eq!(run::<i64>(&mut c, &["LREM", "l", "0", "b2"]), 1);
    assert_eq!(run::<String>(&mut c, &["LTRIM", "l", "0", "0"]), "OK");
    assert_eq!(range(&mut c, "l"), ["B"]);
    assert_eq!(run::<i64>(&mut c, &["LLEN", "l"]), 1);
    assert_eq!(run::<Vec<String>>(&mut c, &["LPOP", "l", "10"]), ["B"]);
    assert_eq!(
        run::<i64>(&mut c, &["EXISTS", "l"]),
        0,
        "empty lists are deleted"
    );
    assert_eq!(run::<i64>(&mut c, &["LPUSHX", "l", "x"]), 0);
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "l"]), 0);
}

fn errors_on_the_wire(server: &TestServer) {
    let mut c = server.client();
    run::<String>(&mut c, &["SET", "s", "v"]);
    assert_eq!(
        run_err(&mut c, &["LPUSH", "s", "a"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        run_err(&mut c, &["LPOP", "l", "-1"]),
        "ERR value is out of range, must be positive"
    );
    assert_eq!(
        run_err(&mut c, &["LPOS", "l", "a", "RANK", "0"]),
        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... \
         or use negative to start from the end of the list"
    );
    assert_eq!(
        run_err(&mut c, &["LMPOP", "0", "l", "LEFT"]),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(
        run_err(&mut c, &["BLPOP", "l", "-1"]),
        "ERR timeout is negative"
    );
    assert_eq!(
        run_err(&mut c, &["LPUSH", "l"]),
        "ERR wrong number of arguments for 'lpush' command"
    );
}

fn null_forms_in_resp2_and_resp3(server: &TestServer) {
    let mut raw = server.raw();
    assert_eq!(show(&raw.cmd(&["LPOP", "none"])), "$-1\r\n");
    assert_eq!(show(&raw.cmd(&["LPOP", "none", "1"])), "*-1\r\n");
    assert_eq!(show(&raw.cmd(&["LMPOP", "1", "none", "LEFT"])), "*-1\r\n");
    assert_eq!(show(&raw.cmd(&["RPUSH", "l", "a"])), ":1\r\n");
    assert_eq!(show(&raw.cmd(&["LPOP", "l", "0"])), "*0\r\n");
    assert!(raw.cmd(&["HELLO", "3"]).starts_with(b"%"));
    assert_eq!(show(&raw.cmd(&["LPOP", "none"])), "_\r\n");
    assert_eq!(show(&raw.cmd(&["LPOP", "none", "1"])), "_\r\n");
    assert_eq!(show(&raw.cmd(&["LPOS", "l", "zz"])), "_\r\n");
    assert_eq!(show(&raw.cmd(&["LINDEX", "l", "7"])), "_\r\n");
    assert_eq!(
        show(&raw.cmd(&["BLPOP", "none", "l", "0"])),
        "*2\r\n$1\r\nl\r\n$1\r\na\r\n"
    );
}

fn moves_across_shards(server: &TestServer) {
    let mut c = server.client();
    let keys = keys_on_shards("list:", 4, server.shards());
    let (source, destination) = (keys[0].as_str(), keys[1].as_str());
    rpush(&mut c, source, &["a", "b", "c"]);
    assert_eq!(
        run::<String>(&mut c, &["LMOVE", source, destination, "LEFT", "RIGHT"]),
        "a"
    );
    assert_eq!(
        run::<String>(&mut c, &["RPOPLPUSH", source, destination]),
        "c"
    );
    assert_eq!(range(&mut c, destination), ["c", "a"]);
    assert_eq!(
        run::<String>(
            &mut c,
            &["BLMOVE", source, destination, "RIGHT", "LEFT", "0"]
        ),
        "b"
    );
    assert_eq!(run::<i64>(&mut c, &["EXISTS", source]), 0);
    assert_eq!(range(&mut c, destination), ["b", "c", "a"]);
    assert_eq!(
        run::<String>(&mut c, &["BRPOPLPUSH", destination, keys[2].as_str(), "0"]),
        "a"
    );
    // Rotation: source and destination the same.
    assert_eq!(
        run::<String>(
            &mut c,
            &["LMOVE", destination, destination, "LEFT", "RIGHT"]
        ),
        "b"
    );
    assert_eq!(range(&mut c, destination), ["c", "b"]);
    // The first non-empty list wins, wherever it lives.
    let popped: (String, Vec<String>) = run(
        &mut c,
        &[
            "LMPOP",
            "3",
            source,
            keys[3].as_str(),
            destination,
            "RIGHT",
            "COUNT",
            "5",
        ],
    );
    assert_eq!(
        popped,
        (destination.to_owned(), vec!["b".into(), "c".into()])
    );
    let popped: (String, String) = run(
        &mut c,
        &["BLPOP", source, destination, keys[2].as_str(), "0"],
    );
    assert_eq!(popped, (keys[2].clone(), "a".into()));
    rpush(&mut c, keys[3].as_str(), &["x", "y"]);
    let popped: (String, Vec<String>) = run(
        &mut c,
        &[
            "BLMPOP",
            "0",
            "2",
            source,
            keys[3].as_str(),
            "LEFT",
            "COUNT",
            "1",
        ],
    );
    assert_eq!(popped, (keys[3].clone(), vec!["x".into()]));
    assert_eq!(
        run::<(String, String)>(&mut c, &["BRPOP", keys[3].as_str(), source, "1"]),
        (keys[3].clone(), "y".into())
    );
    run::<String>(&mut c, &["SET", keys[2].as_str(), "string"]);
    rpush(&mut c, source, &["z"]);
    assert_eq!(
        run_err(&mut c, &["LMOVE", source, keys[2].as_str(), "LEFT", "LEFT"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(range(&mut c, source), ["z"], "nothing moved");
}

fn encodings_follow_redis(server: &TestServer) {
    let mut c = server.client();
    let encoding =
        |c: &mut redis::Connection, key: &str| -> String { run(c, &["OBJECT", "ENCODING", key]) };
    let small: Vec<String> = (0..129).map(|index| index.to_string()).collect();
    let small: Vec<&str> = small.iter().map(String::as_str).collect();
    rpush(&mut c, "small", &small);
    assert_eq!(encoding(&mut c, "small"), "listpack");
    rpush(&mut c, "big", &[&"x".repeat(9000)]);
    assert_eq!(encoding(&mut c, "big"), "quicklist");
    let many: Vec<String> = (0..2000)
        .map(|index| format!("element-{index:06}"))
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    rpush(&mut c, "many", &many);
    assert_eq!(encoding(&mut c, "many"), "quicklist");
    assert_eq!(
        run::<Option<String>>(&mut c, &["LINDEX", "many", "1234"]),
        Some("element-001234".into())
    );
    let middle: Vec<String> = run(&mut c, &["LRANGE", "many", "998", "1001"]);
    assert_eq!(middle, many[998..=1001]);
    assert_eq!(run::<String>(&mut c, &["LTRIM", "many", "10", "19"]), "OK");
    assert_eq!(encoding(&mut c, "many"), "listpack");
    assert_eq!(range(&mut c, "many"), many[10..20]);
    // A count limit per node, set at run time.
    assert_eq!(
        run::<String>(&mut c, &["CONFIG", "SET", "list-max-listpack-size", "4"]),
        "OK"
    );
    rpush(&mut c, "counted", &["1", "2", "3", "4"]);
    assert_eq!(encoding(&mut c, "counted"), "listpack");
    rpush(&mut c, "counted", &["5"]);
    assert_eq!(encoding(&mut c, "counted"), "quicklist");
    run::<Vec<String>>(&mut c, &["RPOP", "counted", "3"]);
    assert_eq!(encoding(&mut c, "counted"), "listpack");
}

fn ttl_survives_changes(server: &TestServer) {
    let mut c = server.client();
    rpush(&mut c, "t", &["a", "b", "c"]);
    assert_eq!(run::<i64>(&mut c, &["EXPIRE", "t", "1000"]), 1);
    rpush(&mut c, "t", &["d"]);
    run::<String>(&mut c, &["LPOP", "t"]);
    run::<String>(&mut c, &["LTRIM", "t", "0", "1"]);
    assert!(run::<i64>(&mut c, &["TTL", "t"]) > 990);
}

with_1_and_4_shards! {
    bin = BIN;
    push_pop_range,
    errors_on_the_wire,
    null_forms_in_resp2_and_resp3,
    moves_across_shards,
    encodings_follow_redis,
    ttl_survives_changes,
}
