//! End-to-end tests of the string family: meaning through the `redis` crate, framing and
//! Redis 7's exact error texts through raw bytes. Every test runs with 1 and 4 shards.

use peregrine_testkit::{
    keys_on_shards, poll_until, run, run_err, show, with_1_and_4_shards, TestServer,
};
use redis::Value;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// Sends `args` raw and asserts the exact reply bytes.
fn expect_raw(server: &TestServer, args: &[&str], expected: &[u8]) {
    let reply = server.raw().cmd(args);
    assert_eq!(show(&reply), show(expected), "reply to {args:?}");
}

fn set_get_and_variants(server: &TestServer) {
    let mut c = server.client();
    assert_eq!(run::<String>(&mut c, &["SET", "k", "v"]), "OK");
    assert_eq!(
        run::<Option<String>>(&mut c, &["GET", "k"]),
        Some("v".into())
    );
    assert_eq!(run::<Option<String>>(&mut c, &["GET", "missing"]), None);
    assert_eq!(run::<i64>(&mut c, &["SETNX", "k", "other"]), 0);
    assert_eq!(run::<i64>(&mut c, &["SETNX", "fresh", "1"]), 1);
    assert_eq!(
        run::<Option<String>>(&mut c, &["GETSET", "k", "w"]),
        Some("v".into())
    );
    assert_eq!(
        run::<Option<String>>(&mut c, &["GETDEL", "k"]),
        Some("w".into())
    );
    assert_eq!(run::<Option<String>>(&mut c, &["GETDEL", "k"]), None);
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "k"]), 0);
    assert_eq!(run::<i64>(&mut c, &["APPEND", "s", "hello"]), 5);
    assert_eq!(run::<i64>(&mut c, &["APPEND", "s", " world"]), 11);
    assert_eq!(run::<i64>(&mut c, &["STRLEN", "s"]), 11);
    assert_eq!(run::<i64>(&mut c, &["STRLEN", "nothing"]), 0);
    assert_eq!(
        run::<String>(&mut c, &["GETRANGE", "s", "-5", "-1"]),
        "world"
    );
    assert_eq!(run::<String>(&mut c, &["GETRANGE", "s", "20", "30"]), "");
    assert_eq!(run::<String>(&mut c, &["SUBSTR", "s", "0", "4"]), "hello");
    assert_eq!(run::<i64>(&mut c, &["SETRANGE", "s", "6", "there"]), 11);
    assert_eq!(run::<String>(&mut c, &["GET", "s"]), "hello there");
    // SETRANGE past the end pads with zero bytes; an empty value creates nothing.
    assert_eq!(run::<i64>(&mut c, &["SETRANGE", "pad", "3", "x"]), 4);
    assert_eq!(run::<Vec<u8>>(&mut c, &["GET", "pad"]), b"\0\0\0x");
    assert_eq!(run::<i64>(&mut c, &["SETRANGE", "none", "0", ""]), 0);
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "none"]), 0);
}

fn counters(server: &TestServer) {
    let mut c = server.client();
    assert_eq!(run::<i64>(&mut c, &["INCR", "n"]), 1);
    assert_eq!(run::<i64>(&mut c, &["INCRBY", "n", "41"]), 42);
    assert_eq!(run::<i64>(&mut c, &["DECR", "n"]), 41);
    assert_eq!(run::<i64>(&mut c, &["DECRBY", "n", "50"]), -9);
    assert_eq!(run::<String>(&mut c, &["GET", "n"]), "-9");
    assert_eq!(run::<String>(&mut c, &["SET", "f", "10.5"]), "OK");
    assert_eq!(run::<String>(&mut c, &["INCRBYFLOAT", "f", "0.1"]), "10.6");
    assert_eq!(run::<String>(&mut c, &["SET", "e", "5.0e3"]), "OK");
    assert_eq!(run::<String>(&mut c, &["INCRBYFLOAT", "e", "1"]), "5001");
    assert_eq!(
        run::<String>(&mut c, &["SET", "max", "9223372036854775807"]),
        "OK"
    );
    assert_eq!(
        run_err(&mut c, &["INCR", "max"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(run::<String>(&mut c, &["SET", "text", "abc"]), "OK");
    assert_eq!(
        run_err(&mut c, &["INCR", "text"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        run_err(&mut c, &["INCRBYFLOAT", "text", "1"]),
        "ERR value is not a valid float"
    );
    assert_eq!(
        run_err(&mut c, &["INCRBYFLOAT", "f", "inf"]),
        "ERR increment would produce NaN or Infinity"
    );
    assert_eq!(
        run_err(&mut c, &["INCRBY", "n", "1.5"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(run::<String>(&mut c, &["OBJECT", "ENCODING", "n"]), "int");
    // Failed arithmetic leaves the value alone.
    assert_eq!(
        run::<String>(&mut c, &["GET", "max"]),
        "9223372036854775807"
    );
    assert_eq!(run::<String>(&mut c, &["GET", "text"]), "abc");
}

fn set_options(server: &TestServer) {
    let mut c = server.client();
    assert_eq!(run::<String>(&mut c, &["SET", "k", "old"]), "OK");
    assert_eq!(
        run::<Option<String>>(&mut c, &["SET", "k", "new", "GET"]),
        Some("old".into())
    );
    assert_eq!(
        run::<Option<String>>(&mut c, &["SET", "absent", "v", "GET"]),
        None
    );
    assert_eq!(
        run::<Option<String>>(&mut c, &["SET", "k", "nx-value", "NX"]),
        None
    );
    assert_eq!(
        run::<Option<String>>(&mut c, &["SET", "k", "nx-value", "NX", "GET"]),
        Some("new".into())
    );
    assert_eq!(run::<String>(&mut c, &["GET", "k"]), "new");
    assert_eq!(
        run::<Option<String>>(&mut c, &["SET", "nobody", "v", "XX"]),
        None
    );
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "nobody"]), 0);
    assert_eq!(run::<String>(&mut c, &["SET", "k", "xx-value", "XX"]), "OK");
    assert_eq!(run::<String>(&mut c, &["SET", "k", "v", "EX", "100"]), "OK");
    assert!((99..=100).contains(&run::<i64>(&mut c, &["TTL", "k"])));
    assert_eq!(run::<String>(&mut c, &["SET", "k", "v2", "KEEPTTL"]), "OK");
    assert!((99..=100).contains(&run::<i64>(&mut c, &["TTL", "k"])));
    assert_eq!(run::<String>(&mut c, &["SET", "k", "v3"]), "OK");
    assert_eq!(run::<i64>(&mut c, &["TTL", "k"]), -1);
    let now_ms = run::<Vec<i64>>(&mut c, &["TIME"])[0] * 1000;
    let at = (now_ms + 100_000).to_string();
    assert_eq!(run::<String>(&mut c, &["SET", "k", "v", "PXAT", &at]), "OK");
    assert_eq!(run::<i64>(&mut c, &["PEXPIRETIME", "k"]), now_ms + 100_000);
    let at = (now_ms / 1000 + 200).to_string();
    assert_eq!(run::<String>(&mut c, &["SET", "k", "v", "EXAT", &at]), "OK");
    assert_eq!(
        run::<i64>(&mut c, &["EXPIRETIME", "k"]),
        now_ms / 1000 + 200
    );
}

fn set_option_errors_on_the_wire(server: &TestServer) {
    let syntax = b"-ERR syntax error\r\n";
    expect_raw(server, &["SET", "k", "v", "NX", "XX"], syntax);
    expect_raw(server, &["SET", "k", "v", "EX", "10", "PX", "10"], syntax);
    expect_raw(server, &["SET", "k", "v", "KEEPTTL", "EX", "10"], syntax);
    expect_raw(server, &["SET", "k", "v", "EX"], syntax);
    expect_raw(server, &["SET", "k", "v", "BOGUS"], syntax);
    expect_raw(
        server,
        &["SET", "k", "v", "EX", "abc"],
        b"-ERR value is not an integer or out of range\r\n",
    );
    expect_raw(
        server,
        &["SET", "k", "v", "EX", "0"],
        b"-ERR invalid expire time in 'set' command\r\n",
    );
    expect_raw(
        server,
        &["SET", "k", "v", "PX", "-1"],
        b"-ERR invalid expire time in 'set' command\r\n",
    );
    expect_raw(
        server,
        &["SETEX", "k", "0", "v"],
        b"-ERR invalid expire time in 'setex' command\r\n",
    );
    expect_raw(
        server,
        &["PSETEX", "k", "-5", "v"],
        b"-ERR invalid expire time in 'psetex' command\r\n",
    );
    expect_raw(server, &["GETEX", "k", "PERSIST", "EX", "1"], syntax);
    // GETEX of a missing key is nil even with a bad expire time (as Redis).
    expect_raw(server, &["GETEX", "k", "EX", "0"], b"$-1\r\n");
    expect_raw(server, &["SET", "g", "v"], b"+OK\r\n");
    expect_raw(
        server,
        &["GETEX", "g", "EX", "0"],
        b"-ERR invalid expire time in 'getex' command\r\n",
    );
    expect_raw(
        server,
        &["GETEX", "g", "EX", "abc"],
        b"-ERR value is not an integer or out of range\r\n",
    );
    expect_raw(server, &["TTL", "g"], b":-1\r\n");
    expect_raw(
        server,
        &["SETRANGE", "k", "-1", "x"],
        b"-ERR offset is out of range\r\n",
    );
    expect_raw(
        server,
        &["SETRANGE", "k", "536870912", "x"],
        b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
    );
    // None of the failed commands created the key.
    expect_raw(server, &["EXISTS", "k"], b":0\r\n");
}

fn arity_and_unknown_commands_on_the_wire(server: &TestServer) {
    let mut raw = server.raw();
    for (args, name) in [
        (&["GET"][..], "get"),
        (&["SET", "k"][..], "set"),
        (&["MSET", "a"][..], "mset"),
        (&["MSET", "a", "1", "b"][..], "mset"),
        (&["MSETNX", "a", "1", "b"][..], "msetnx"),
        (&["STRLEN"][..], "strlen"),
        (&["GETRANGE", "k", "0"][..], "getrange"),
        (&["LCS", "a"][..], "lcs"),
        (&["get", "a", "b"][..], "get"),
    ] {
        let expected = format!("-ERR wrong number of arguments for '{name}' command\r\n");
        assert_eq!(show(&raw.cmd(args)), expected, "{args:?}");
    }
    assert_eq!(
        show(&raw.cmd(&["NOSUCHCMD", "a", "b"])),
        "-ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' 'b' \r\n"
    );
    assert_eq!(
        show(&raw.cmd(&["nosuch"])),
        "-ERR unknown command 'nosuch', with args beginning with: \r\n"
    );
    // Errors leave the connection usable.
    assert_eq!(raw.cmd(&["PING"]), b"+PONG\r\n");
}

fn string_replies_on_the_wire(server: &TestServer) {
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "k", "hello"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "k"]), b"$5\r\nhello\r\n");
    assert_eq!(raw.cmd(&["GET", "missing"]), b"$-1\r\n");
    assert_eq!(raw.cmd(&["SET", "k", "x", "NX"]), b"$-1\r\n");
    assert_eq!(raw.cmd(&["SET", "k", "", "GET"]), b"$5\r\nhello\r\n");
    assert_eq!(raw.cmd(&["GET", "k"]), b"$0\r\n\r\n");
    assert_eq!(raw.cmd(&["INCR", "n"]), b":1\r\n");
    assert_eq!(raw.cmd(&["INCRBYFLOAT", "n", "1.5"]), b"$3\r\n2.5\r\n");
    assert_eq!(
        raw.cmd(&["MGET", "k", "missing", "n"]),
        b"*3\r\n$0\r\n\r\n$-1\r\n$3\r\n2.5\r\n"
    );
    assert_eq!(raw.cmd(&["SET", "l1", "ohmytext"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["SET", "l2", "mynewtext"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["LCS", "l1", "l2"]), b"$6\r\nmytext\r\n");
    assert_eq!(raw.cmd(&["LCS", "l1", "l2", "LEN"]), b":6\r\n");
    assert_eq!(
        show(&raw.cmd(&["LCS", "l1", "l2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"])),
        "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n"
    );
}

fn encodings(server: &TestServer) {
    let mut c = server.client();
    assert_eq!(run::<String>(&mut c, &["SET", "i", "12345"]), "OK");
    assert_eq!(run::<String>(&mut c, &["OBJECT", "ENCODING", "i"]), "int");
    assert_eq!(run::<String>(&mut c, &["SET", "s", "hello world"]), "OK");
    assert_eq!(
        run::<String>(&mut c, &["OBJECT", "ENCODING", "s"]),
        "embstr"
    );
    assert_eq!(run::<i64>(&mut c, &["SETRANGE", "s", "0", "j"]), 11);
    assert_eq!(run::<String>(&mut c, &["OBJECT", "ENCODING", "s"]), "raw");
    let long = "x".repeat(100);
    assert_eq!(run::<String>(&mut c, &["SET", "long", &long]), "OK");
    assert_eq!(
        run::<String>(&mut c, &["OBJECT", "ENCODING", "long"]),
        "raw"
    );
    assert_eq!(
        run::<Option<String>>(&mut c, &["OBJECT", "ENCODING", "missing"]),
        None
    );
    assert_eq!(run::<String>(&mut c, &["TYPE", "i"]), "string");
    assert_eq!(run::<String>(&mut c, &["TYPE", "missing"]), "none");
}

fn binary_safe_values(server: &TestServer) {
    let mut c = server.client();
    let value: Vec<u8> = (0..=255u8).chain(b"\r\n\0end".iter().copied()).collect();
    let key = b"bin\0key\r\n".to_vec();
    redis::cmd("SET")
        .arg(&key)
        .arg(&value)
        .query::<()>(&mut c)
        .unwrap();
    let back: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut c).unwrap();
    assert_eq!(back, value);
    assert_eq!(
        redis::cmd("STRLEN")
            .arg(&key)
            .query::<usize>(&mut c)
            .unwrap(),
        value.len()
    );
    let big = vec![b'z'; 1 << 20];
    redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query::<()>(&mut c)
        .unwrap();
    assert_eq!(
        redis::cmd("GET")
            .arg("big")
            .query::<Vec<u8>>(&mut c)
            .unwrap(),
        big
    );
}

fn expiry_with_small_px(server: &TestServer) {
    let mut c = server.client();
    assert_eq!(
        run::<String>(&mut c, &["SET", "short", "v", "PX", "60"]),
        "OK"
    );
    // A very slow machine may already have expired it (-2); otherwise it is counting down.
    let pttl = run::<i64>(&mut c, &["PTTL", "short"]);
    assert!(
        pttl == -2 || (1..=60).contains(&pttl),
        "PTTL right after SET PX 60: {pttl}"
    );
    let ttl = run::<i64>(&mut c, &["TTL", "short"]);
    assert!(ttl == 0 || ttl == -2, "TTL of a key with 60 ms left: {ttl}");
    assert!(
        poll_until(Duration::from_secs(10), || run::<Option<String>>(
            &mut c,
            &["GET", "short"]
        )
        .is_none()),
        "the key did not expire"
    );
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "short"]), 0);
    assert_eq!(run::<i64>(&mut c, &["TTL", "short"]), -2);
    assert_eq!(run::<i64>(&mut c, &["PTTL", "short"]), -2);
    assert_eq!(run::<String>(&mut c, &["SET", "forever", "v"]), "OK");
    assert_eq!(run::<i64>(&mut c, &["TTL", "forever"]), -1);
    assert_eq!(run::<i64>(&mut c, &["PTTL", "forever"]), -1);
    assert_eq!(run::<String>(&mut c, &["PSETEX", "p", "100000", "v"]), "OK");
    let pttl = run::<i64>(&mut c, &["PTTL", "p"]);
    assert!((99_000..=100_000).contains(&pttl), "{pttl}");
    assert_eq!(run::<String>(&mut c, &["SETEX", "s", "50", "v"]), "OK");
    assert!((49..=50).contains(&run::<i64>(&mut c, &["TTL", "s"])));
    assert_eq!(run::<String>(&mut c, &["GETEX", "s", "PERSIST"]), "v");
    assert_eq!(run::<i64>(&mut c, &["TTL", "s"]), -1);
    assert_eq!(run::<String>(&mut c, &["GETEX", "s", "PX", "40"]), "v");
    assert!(
        poll_until(Duration::from_secs(10), || run::<i64>(
            &mut c,
            &["EXISTS", "s"]
        ) == 0),
        "GETEX PX did not expire the key"
    );
}

fn active_expiry_removes_unread_keys(server: &TestServer) {
    let mut c = server.client();
    for index in 0..50 {
        assert_eq!(
            run::<String>(&mut c, &["SET", &format!("gone:{index}"), "v", "PX", "30"]),
            "OK"
        );
    }
    assert_eq!(run::<String>(&mut c, &["SET", "stays", "v"]), "OK");
    // Nobody reads the expiring keys: only active expiry can remove them.
    assert!(
        poll_until(Duration::from_secs(20), || run::<i64>(&mut c, &["DBSIZE"])
            == 1),
        "active expiry did not remove the keys: DBSIZE {}",
        run::<i64>(&mut c, &["DBSIZE"])
    );
    let info: String = run(&mut c, &["INFO", "stats"]);
    let expired = info
        .lines()
        .find_map(|line| line.strip_prefix("expired_keys:"))
        .and_then(|value| value.trim().parse::<u64>().ok());
    assert_eq!(expired, Some(50), "INFO stats:\n{info}");
}

fn mset_mget_msetnx_across_shards(server: &TestServer) {
    let mut c = server.client();
    let keys = keys_on_shards("multi:", 8, server.shards());
    let mut mset = vec!["MSET"];
    let values: Vec<String> = (0..keys.len())
        .map(|index| format!("value-{index}"))
        .collect();
    for (key, value) in keys.iter().zip(&values) {
        mset.push(key);
        mset.push(value);
    }
    assert_eq!(run::<String>(&mut c, &mset), "OK");
    let mut mget = vec!["MGET"];
    mget.extend(keys.iter().map(String::as_str));
    mget.push("multi:missing");
    let got: Vec<Option<String>> = run(&mut c, &mget);
    let mut expected: Vec<Option<String>> = values.iter().cloned().map(Some).collect();
    expected.push(None);
    assert_eq!(got, expected);
    // MSET with a repeated key: the last value wins.
    assert_eq!(
        run::<String>(
            &mut c,
            &["MSET", &keys[0], "first", &keys[1], "x", &keys[0], "last"]
        ),
        "OK"
    );
    assert_eq!(run::<String>(&mut c, &["GET", &keys[0]]), "last");
    // MSETNX is all or nothing: one existing key blocks every write.
    let fresh = keys_on_shards("fresh:", 4, server.shards());
    assert_eq!(
        run::<i64>(
            &mut c,
            &["MSETNX", &fresh[0], "a", &fresh[1], "b", &keys[2], "c", &fresh[3], "d"]
        ),
        0
    );
    let after: Vec<Option<String>> =
        run(&mut c, &["MGET", &fresh[0], &fresh[1], &keys[2], &fresh[3]]);
    assert_eq!(after, vec![None, None, Some("value-2".into()), None]);
    assert_eq!(
        run::<i64>(
            &mut c,
            &["MSETNX", &fresh[0], "a", &fresh[1], "b", &fresh[2], "c", &fresh[3], "d"]
        ),
        1
    );
    let after: Vec<String> = run(
        &mut c,
        &["MGET", &fresh[0], &fresh[1], &fresh[2], &fresh[3]],
    );
    assert_eq!(after, ["a", "b", "c", "d"]);
    assert_eq!(run::<i64>(&mut c, &["DBSIZE"]), 12);
}

fn resp3_string_replies(server: &TestServer) {
    let mut raw = server.raw();
    assert!(raw.cmd(&["HELLO", "3"]).starts_with(b"%7\r\n"));
    assert_eq!(raw.cmd(&["GET", "missing"]), b"_\r\n");
    assert_eq!(raw.cmd(&["SET", "k", "v", "XX"]), b"_\r\n");
    assert_eq!(raw.cmd(&["MGET", "missing", "k"]), b"*2\r\n_\r\n_\r\n");
    assert_eq!(raw.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    assert_eq!(raw.cmd(&["INCRBYFLOAT", "f", "2.5"]), b"$3\r\n2.5\r\n");
    let mut c = server.client_resp3();
    assert_eq!(run::<Value>(&mut c, &["GET", "missing"]), Value::Nil);
    assert_eq!(run::<String>(&mut c, &["GET", "k"]), "v");
}

with_1_and_4_shards! {
    bin = BIN;
    set_get_and_variants,
    counters,
    set_options,
    set_option_errors_on_the_wire,
    arity_and_unknown_commands_on_the_wire,
    string_replies_on_the_wire,
    encodings,
    binary_safe_values,
    expiry_with_small_px,
    active_expiry_removes_unread_keys,
    mset_mget_msetnx_across_shards,
    resp3_string_replies,
}
