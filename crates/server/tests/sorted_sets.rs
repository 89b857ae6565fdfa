//! End-to-end tests of the sorted-set family through a real client and raw RESP bytes,
//! each run with 1 and 4 shards (multi-key commands with keys on different shards).

use peregrine_testkit::{keys_on_shards, run, run_err, show, with_1_and_4_shards, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

fn expect_raw(server: &TestServer, args: &[&str], expected: &[u8]) {
    let reply = server.raw().cmd(args);
    assert_eq!(show(&reply), show(expected), "reply to {args:?}");
}

fn add_range_and_scores(server: &TestServer) {
    let mut c = server.client();
    assert_eq!(
        run::<i64>(
            &mut c,
            &["ZADD", "z", "1", "a", "2", "b", "2", "c", "inf", "d"]
        ),
        4
    );
    assert_eq!(
        run::<Vec<String>>(
            &mut c,
            &["ZRANGE", "z", "(1", "+inf", "BYSCORE", "LIMIT", "0", "2"]
        ),
        ["b", "c"]
    );
    assert_eq!(
        run::<Vec<(String, f64)>>(&mut c, &["ZREVRANGE", "z", "0", "1", "WITHSCORES"]),
        [("d".to_owned(), f64::INFINITY), ("c".to_owned(), 2.0)]
    );
    assert_eq!(run::<Option<f64>>(&mut c, &["ZSCORE", "z", "b"]), Some(2.0));
    assert_eq!(run::<f64>(&mut c, &["ZINCRBY", "z", "0.5", "a"]), 1.5);
    assert_eq!(run::<i64>(&mut c, &["ZRANK", "z", "a"]), 0);
    assert_eq!(
        run_err(&mut c, &["ZADD", "z", "NX", "XX", "1", "a"]),
        "ERR XX and NX options at the same time are not compatible"
    );
    expect_raw(server, &["ZSCORE", "z", "a"], b"$3\r\n1.5\r\n");
    expect_raw(
        server,
        &["ZRANGE", "z", "0", "0", "WITHSCORES"],
        b"*2\r\n$1\r\na\r\n$3\r\n1.5\r\n",
    );
    let mut resp3 = server.raw();
    resp3.cmd(&["HELLO", "3"]);
    assert_eq!(
        show(&resp3.cmd(&["ZRANGE", "z", "0", "0", "WITHSCORES"])),
        show(b"*1\r\n*2\r\n$1\r\na\r\n,1.5\r\n")
    );
    assert_eq!(
        show(&resp3.cmd(&["ZPOPMAX", "z"])),
        show(b"*2\r\n$1\r\nd\r\n,inf\r\n")
    );
}

fn big_sets_convert_and_stay_ordered(server: &TestServer) {
    let mut c = server.client();
    let mut args = vec!["ZADD".to_owned(), "big".to_owned()];
    for index in (0..1000).rev() {
        args.push(index.to_string());
        args.push(format!("member:{index}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(run::<i64>(&mut c, &args), 1000);
    assert_eq!(
        run::<String>(&mut c, &["OBJECT", "ENCODING", "big"]),
        "skiplist"
    );
    assert_eq!(run::<i64>(&mut c, &["ZRANK", "big", "member:500"]), 500);
    assert_eq!(run::<i64>(&mut c, &["ZCOUNT", "big", "(100", "200"]), 100);
    assert_eq!(
        run::<Vec<String>>(&mut c, &["ZRANGE", "big", "998", "+inf", "BYSCORE"]),
        ["member:998", "member:999"]
    );
    assert_eq!(
        run::<i64>(&mut c, &["ZREMRANGEBYSCORE", "big", "-inf", "(990"]),
        990
    );
    assert_eq!(run::<i64>(&mut c, &["ZCARD", "big"]), 10);
    assert_eq!(
        run::<String>(&mut c, &["OBJECT", "ENCODING", "big"]),
        "skiplist"
    );
}

fn algebra_across_shards(server: &TestServer) {
    let keys = keys_on_shards("zset", 3, server.shards());
    let (a, b, destination) = (&keys[0], &keys[1], &keys[2]);
    let mut c = server.client();
    run::<i64>(&mut c, &["ZADD", a, "1", "x", "2", "y"]);
    run::<i64>(&mut c, &["ZADD", b, "10", "y", "20", "z"]);
    assert_eq!(
        run::<i64>(
            &mut c,
            &["ZUNIONSTORE", destination, "2", a, b, "WEIGHTS", "1", "2"]
        ),
        3
    );
    assert_eq!(
        run::<Vec<(String, f64)>>(&mut c, &["ZRANGE", destination, "0", "-1", "WITHSCORES"]),
        [
            ("x".to_owned(), 1.0),
            ("y".to_owned(), 22.0),
            ("z".to_owned(), 40.0)
        ]
    );
    assert_eq!(run::<Vec<String>>(&mut c, &["ZINTER", "2", a, b]), ["y"]);
    assert_eq!(run::<Vec<String>>(&mut c, &["ZDIFF", "2", a, b]), ["x"]);
    assert_eq!(run::<i64>(&mut c, &["ZINTERCARD", "2", a, b]), 1);
    assert_eq!(
        run::<i64>(&mut c, &["ZRANGESTORE", destination, b, "0", "0"]),
        1
    );
    assert_eq!(
        run::<Vec<String>>(&mut c, &["ZRANGE", destination, "0", "-1"]),
        ["y"]
    );
    let popped: (String, Vec<(String, f64)>) =
        run(&mut c, &["ZMPOP", "2", destination, a, "MAX", "COUNT", "5"]);
    assert_eq!(popped, (destination.clone(), vec![("y".to_owned(), 10.0)]));
    assert_eq!(run::<i64>(&mut c, &["EXISTS", destination]), 0);
    let popped: (String, String, f64) = run(&mut c, &["BZPOPMIN", destination, a, "0"]);
    assert_eq!(popped, (a.clone(), "x".to_owned(), 1.0));
}

with_1_and_4_shards!(bin = BIN; add_range_and_scores, big_sets_convert_and_stay_ordered, algebra_across_shards);
