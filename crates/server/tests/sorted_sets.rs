//! End-to-end tests of the sorted-set family through a real client and raw RESP bytes,
//! each run with 1 and 4 shards (multi-key commands with keys on different shards).

use peregrine_testkit::{
    keys_on_shards, run, run_err, show, with_1_and_4_shards, RedisOracle, TestServer,
};

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

/// The stored result of `command` on `connection`: its reply, then every member with its
/// score (scores as numbers: redis-server 7.0 prints them with `%.17g`).
fn stored(connection: &mut redis::Connection, command: &[&str]) -> (String, Vec<(String, f64)>) {
    let mut query = redis::cmd(command[0]);
    for argument in &command[1..] {
        query.arg(*argument);
    }
    let reply = match query.query::<redis::Value>(connection) {
        Ok(value) => format!("{value:?}"),
        Err(error) => peregrine_testkit::error_text(&error),
    };
    let elements = run(connection, &["ZRANGE", command[1], "0", "-1", "WITHSCORES"]);
    (reply, elements)
}

/// Sources above the chunked threshold (65,536 members in all) take the chunked path:
/// ZUNIONSTORE, ZINTERSTORE and ZDIFFSTORE with WEIGHTS and AGGREGATE, over sorted sets on
/// several shards and a plain set, store exactly what redis-server stores (every member
/// and score, the encoding), and their errors are the handler's.
#[test]
fn huge_stores_match_redis() {
    let Some(redis) = RedisOracle::start("the huge sorted-set store comparison") else {
        return;
    };
    let peregrine = TestServer::start(BIN, 4);
    let keys = keys_on_shards("zhuge", 5, 4);
    let (evens, threes, plain, destination, text) =
        (&keys[0], &keys[1], &keys[2], &keys[3], &keys[4]);
    let expand = |template: &str| -> Vec<String> {
        template
            .split_whitespace()
            .map(|word| match word {
                "{d}" => destination.clone(),
                "{e}" => evens.clone(),
                "{t}" => threes.clone(),
                "{p}" => plain.clone(),
                "{s}" => text.clone(),
                other => other.to_owned(),
            })
            .collect()
    };
    let commands: Vec<Vec<String>> = [
        "ZUNIONSTORE {d} 3 {e} {t} {p} WEIGHTS 1 2.5 3",
        "ZUNIONSTORE {d} 2 {e} {t} AGGREGATE MIN",
        "ZINTERSTORE {d} 2 {e} {t} AGGREGATE MAX",
        "ZINTERSTORE {d} 3 {e} {t} {p} WEIGHTS 2 -1 0.5 AGGREGATE MIN",
        "ZDIFFSTORE {d} 3 {e} {t} {p}",
        "ZUNIONSTORE {d} 2 {e} {t} WEIGHTS 1 x",
        "ZUNIONSTORE {d} 2 {e} {t} AGGREGATE AVG",
        "ZINTERSTORE {d} 2 {e} nosuchkey",
        "ZUNIONSTORE {d} 2 {e} {s}",
    ]
    .iter()
    .map(|template| expand(template))
    .collect();
    let mut results = Vec::new();
    for mut connection in [redis.client(), peregrine.client()] {
        let mut pipe = redis::pipe();
        for n in (0..120_000).step_by(2) {
            pipe.cmd("ZADD")
                .arg(evens)
                .arg(n as f64 / 8.0)
                .arg(format!("m{n}"));
        }
        for n in (0..120_000).step_by(3) {
            pipe.cmd("ZADD")
                .arg(threes)
                .arg(n % 1000)
                .arg(format!("m{n}"));
        }
        for n in (0..120_000).step_by(5) {
            pipe.cmd("SADD").arg(plain).arg(format!("m{n}"));
        }
        pipe.cmd("SET").arg(text).arg("string");
        pipe.query::<()>(&mut connection).expect("load");
        let mut outcomes = Vec::new();
        for command in &commands {
            let command: Vec<&str> = command.iter().map(String::as_str).collect();
            outcomes.push(stored(&mut connection, &command));
            if command[0] == "ZUNIONSTORE" && outcomes.len() == 1 {
                outcomes.push((
                    run(&mut connection, &["OBJECT", "ENCODING", destination]),
                    Vec::new(),
                ));
            }
        }
        results.push(outcomes);
    }
    assert_eq!(results[0].len(), results[1].len());
    for (index, (theirs, ours)) in results[0].iter().zip(&results[1]).enumerate() {
        assert_eq!(theirs.0, ours.0, "reply {index}");
        assert_eq!(theirs.1.len(), ours.1.len(), "size after command {index}");
        // Scores compared bit for bit: -0 is not 0.
        let first_difference = theirs
            .1
            .iter()
            .zip(&ours.1)
            .position(|(a, b)| a.0 != b.0 || a.1.to_bits() != b.1.to_bits());
        assert_eq!(first_difference, None, "elements after command {index}");
    }
    assert!(
        results[1][0].1.len() > 65_536,
        "sources above the threshold: the chunked path ran"
    );

    // The read forms over the same sources, their replies sent in buffers, and
    // ZINTERCARD: byte for byte redis-server's, in RESP2 and RESP3.
    let reads: Vec<Vec<String>> = [
        "ZUNION 3 {e} {t} {p} WEIGHTS 1 2.5 3 WITHSCORES",
        "ZUNION 2 {e} {t} AGGREGATE MIN",
        "ZINTER 2 {e} {t} AGGREGATE MAX WITHSCORES",
        "ZINTER 3 {e} {t} {p} WEIGHTS 2 -1 0.5 AGGREGATE MIN WITHSCORES",
        "ZDIFF 3 {e} {t} {p} WITHSCORES",
        "ZDIFF 2 {e} {t}",
        "ZINTER 2 {e} nosuchkey",
        "ZUNION 2 {e} {s}",
        "ZUNION 2 {e} {t} AGGREGATE AVG",
        "ZDIFF 2 {e} {t} WEIGHTS 1 2",
        "ZINTERCARD 2 {e} {t}",
        "ZINTERCARD 3 {e} {t} {p} LIMIT 1000",
        "ZINTERCARD 2 {e} {t} LIMIT 0",
        "ZINTERCARD 2 {e} {t} LIMIT -1",
        "ZINTERCARD 2 {e} {s}",
    ]
    .iter()
    .map(|template| expand(template))
    .collect();
    for protocol in ["2", "3"] {
        let replies = redis.assert_same_replies(&peregrine, protocol, &reads);
        assert!(replies[0].len() > 1_000_000, "a reply of many buffers");
    }
}
