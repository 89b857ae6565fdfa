//! Blocking commands end to end: BLPOP, BRPOP, BLMOVE, BLMPOP, BZPOPMIN with real
//! clients, keys on any shard, FIFO service, timeouts, CLIENT UNBLOCK, disconnects, and
//! a stress test in which many poppers race many pushers and every pushed element must be
//! popped exactly once. Waits are observed through INFO's `blocked_clients`, never by
//! sleeping; every read has a timeout so a lost wake-up fails instead of hanging.

use peregrine_testkit::{
    await_blocked, blocked_clients, error_text, key_on_shard, keys_on_shards, run, show,
    spawn_command, with_1_and_4_shards, TestServer,
};
use std::collections::BTreeMap;
use std::thread;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// A client whose reads give up after 30 s (a wake-up that never comes fails the test).
fn client(server: &TestServer) -> redis::Connection {
    let connection = server.client();
    connection
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    connection
}

fn strings(value: redis::Value) -> Vec<String> {
    redis::from_redis_value(value).expect("an array of strings")
}

fn returns_at_once_when_data_is_there(server: &TestServer) {
    let mut c = client(server);
    run::<i64>(&mut c, &["RPUSH", "list", "a", "b"]);
    let popped: Vec<String> = run(&mut c, &["BLPOP", "missing", "list", "0"]);
    assert_eq!(popped, vec!["list", "a"]);
    let popped: Vec<String> = run(&mut c, &["BRPOP", "list", "1"]);
    assert_eq!(popped, vec!["list", "b"]);
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "list"]), 0);
    run::<String>(&mut c, &["SET", "string", "x"]);
    let error = redis::cmd("BLPOP")
        .arg("string")
        .arg(0)
        .query::<redis::Value>(&mut c)
        .expect_err("WRONGTYPE");
    assert!(error_text(&error).starts_with("WRONGTYPE"), "{error}");
    for (timeout, expected) in [
        ("-1", "ERR timeout is negative"),
        ("abc", "ERR timeout is not a float or out of range"),
    ] {
        let error = redis::cmd("BLPOP")
            .arg("list")
            .arg(timeout)
            .query::<redis::Value>(&mut c)
            .expect_err("bad timeout");
        assert_eq!(error_text(&error), expected);
    }
}

fn times_out_with_a_null_reply(server: &TestServer) {
    let mut c = client(server);
    let reply: redis::Value = run(&mut c, &["BLPOP", "nothing", "0.05"]);
    assert_eq!(reply, redis::Value::Nil);
    let reply: redis::Value = run(
        &mut c,
        &["BLMOVE", "nothing", "dst", "LEFT", "RIGHT", "0.01"],
    );
    assert_eq!(reply, redis::Value::Nil);
    let mut raw = server.raw();
    assert_eq!(show(&raw.cmd(&["BLPOP", "nothing", "0.01"])), "*-1\r\n");
    assert_eq!(
        show(&raw.cmd(&["BRPOPLPUSH", "nothing", "d", "0.01"])),
        "*-1\r\n"
    );
    assert_eq!(blocked_clients(server), 0);
}

fn a_push_from_any_shard_wakes_the_waiter(server: &TestServer) {
    let shards = server.shards();
    for shard in 0..shards {
        let key = key_on_shard("wake", shard, shards);
        let waiter = spawn_command(server, &["BLPOP", &key, "0"]);
        await_blocked(server, 1);
        run::<i64>(&mut client(server), &["RPUSH", &key, "hello"]);
        let reply = strings(waiter.join().expect("thread").expect("reply"));
        assert_eq!(reply, vec![key.clone(), "hello".to_owned()]);
        assert_eq!(run::<i64>(&mut client(server), &["EXISTS", &key]), 0);
    }
}

fn waiters_are_served_in_blocking_order(server: &TestServer) {
    let mut waiters = Vec::new();
    for count in 1..=3 {
        waiters.push(spawn_command(server, &["BLPOP", "fifo", "0"]));
        await_blocked(server, count);
    }
    // One push of three elements: the first to block gets the head.
    run::<i64>(&mut client(server), &["LPUSH", "fifo", "a", "b", "c"]);
    let served: Vec<Vec<String>> = waiters
        .into_iter()
        .map(|waiter| strings(waiter.join().expect("thread").expect("reply")))
        .collect();
    assert_eq!(
        served,
        vec![
            vec!["fifo".to_owned(), "c".to_owned()],
            vec!["fifo".to_owned(), "b".to_owned()],
            vec!["fifo".to_owned(), "a".to_owned()],
        ]
    );
}

fn a_push_in_a_pipeline_serves_the_waiter_first(server: &TestServer) {
    let waiter = spawn_command(server, &["BLPOP", "pipelined", "0"]);
    await_blocked(server, 1);
    let mut raw = server.raw();
    raw.send(b"*3\r\n$5\r\nRPUSH\r\n$9\r\npipelined\r\n$1\r\nx\r\n*2\r\n$4\r\nLPOP\r\n$9\r\npipelined\r\n");
    let replies = raw.read_replies(2);
    assert_eq!(show(&replies[0]), ":1\r\n");
    // As in Redis, the blocked client is served right after the push, before the LPOP.
    assert_eq!(show(&replies[1]), "$-1\r\n");
    assert_eq!(
        strings(waiter.join().expect("thread").expect("reply")),
        vec!["pipelined", "x"]
    );
}

/// A client that blocks right after feeding another (its push and its BLPOP in one
/// pipeline) may take the registry place the served client just left; the served
/// client's leaving must not take the newcomer's place with it.
fn a_waiter_parked_where_a_served_one_was_is_still_served(server: &TestServer) {
    let fed = spawn_command(server, &["BLPOP", "{reuse}fed", "0"]);
    await_blocked(server, 1);
    let mut raw = server.raw();
    raw.send(
        &[
            peregrine_testkit::encode(&["RPUSH", "{reuse}fed", "x"]),
            peregrine_testkit::encode(&["BLPOP", "{reuse}next", "5"]),
        ]
        .concat(),
    );
    assert_eq!(show(&raw.read_reply()), ":1\r\n");
    assert_eq!(
        strings(fed.join().expect("thread").expect("reply")),
        vec!["{reuse}fed", "x"]
    );
    await_blocked(server, 1);
    run::<i64>(&mut client(server), &["RPUSH", "{reuse}next", "y"]);
    assert_eq!(
        show(&raw.read_reply()),
        "*2\r\n$11\r\n{reuse}next\r\n$1\r\ny\r\n"
    );
}

/// A transaction is one command to the clients it feeds: they see its outcome, not the
/// steps (Redis serves blocked clients after EXEC).
fn a_transaction_serves_waiters_with_its_outcome(server: &TestServer) {
    let waiter = spawn_command(server, &["BLPOP", "atomic", "0"]);
    await_blocked(server, 1);
    let mut raw = server.raw();
    raw.cmd(&["MULTI"]);
    raw.cmd(&["RPUSH", "atomic", "taken"]);
    raw.cmd(&["LPOP", "atomic"]);
    raw.cmd(&["RPUSH", "atomic", "left"]);
    assert_eq!(
        show(&raw.cmd(&["EXEC"])),
        "*3\r\n:1\r\n$5\r\ntaken\r\n:1\r\n"
    );
    assert_eq!(
        strings(waiter.join().expect("thread").expect("reply")),
        vec!["atomic", "left"]
    );
}

fn multi_key_waits_span_shards(server: &TestServer) {
    let shards = server.shards();
    let keys = keys_on_shards("multi", 2, shards);
    let waiter = spawn_command(server, &["BLPOP", &keys[0], &keys[1], "0"]);
    await_blocked(server, 1);
    run::<i64>(&mut client(server), &["RPUSH", &keys[1], "v"]);
    assert_eq!(
        strings(waiter.join().expect("thread").expect("reply")),
        vec![keys[1].clone(), "v".to_owned()]
    );
    assert_eq!(blocked_clients(server), 0);
}

/// A client waiting on keys of several shards keeps its place in line against clients
/// that blocked after it on one of those keys, as Redis serves waiters in the order they
/// blocked: before, the shard only told it to retry and served the ones behind it at
/// once, so they took the element first.
fn a_wait_spanning_shards_keeps_its_place_in_line(server: &TestServer) {
    let keys = keys_on_shards("fair", 2, server.shards());
    let spanning = spawn_command(server, &["BLPOP", &keys[0], &keys[1], "0"]);
    await_blocked(server, 1);
    let behind = spawn_command(server, &["BLPOP", &keys[0], "0"]);
    await_blocked(server, 2);
    run::<i64>(&mut client(server), &["RPUSH", &keys[0], "a"]);
    assert_eq!(
        strings(spanning.join().expect("thread").expect("reply")),
        vec![keys[0].clone(), "a".to_owned()]
    );
    await_blocked(server, 1);
    run::<i64>(&mut client(server), &["RPUSH", &keys[0], "b"]);
    assert_eq!(
        strings(behind.join().expect("thread").expect("reply")),
        vec![keys[0].clone(), "b".to_owned()]
    );

    // Woken on both of its keys at once (one transaction feeds both): it takes the first
    // key's element, and each key then serves the next in its own line.
    let spanning = spawn_command(server, &["BLPOP", &keys[0], &keys[1], "0"]);
    await_blocked(server, 1);
    let on_second = spawn_command(server, &["BLPOP", &keys[1], "0"]);
    await_blocked(server, 2);
    let on_first = spawn_command(server, &["BLPOP", &keys[0], "1"]);
    await_blocked(server, 3);
    let mut c = client(server);
    let _: redis::Value = redis::pipe()
        .atomic()
        .cmd("RPUSH")
        .arg(&keys[0])
        .arg("x")
        .cmd("RPUSH")
        .arg(&keys[1])
        .arg("y")
        .query(&mut c)
        .expect("EXEC");
    assert_eq!(
        strings(spanning.join().expect("thread").expect("reply")),
        vec![keys[0].clone(), "x".to_owned()]
    );
    assert_eq!(
        strings(on_second.join().expect("thread").expect("reply")),
        vec![keys[1].clone(), "y".to_owned()]
    );
    let timed_out = on_first.join().expect("thread").expect("reply");
    assert_eq!(timed_out, redis::Value::Nil, "nothing was left for it");

    // The same for consumers of one group reading streams of several shards.
    for key in &keys {
        run::<String>(&mut c, &["XGROUP", "CREATE", key, "group", "$", "MKSTREAM"]);
    }
    let spanning = spawn_command(
        server,
        &[
            "XREADGROUP",
            "GROUP",
            "group",
            "first",
            "BLOCK",
            "0",
            "STREAMS",
            &keys[0],
            &keys[1],
            ">",
            ">",
        ],
    );
    await_blocked(server, 1);
    let behind = spawn_command(
        server,
        &[
            "XREADGROUP",
            "GROUP",
            "group",
            "second",
            "BLOCK",
            "0",
            "STREAMS",
            &keys[0],
            ">",
        ],
    );
    await_blocked(server, 2);
    run::<String>(&mut c, &["XADD", &keys[0], "1-1", "field", "one"]);
    let reply = format!("{:?}", spanning.join().expect("thread").expect("reply"));
    assert!(
        reply.contains("one"),
        "the first consumer to block reads it: {reply}"
    );
    await_blocked(server, 1);
    run::<String>(&mut c, &["XADD", &keys[0], "1-2", "field", "two"]);
    let reply = format!("{:?}", behind.join().expect("thread").expect("reply"));
    assert!(reply.contains("two") && !reply.contains("one"), "{reply}");
}

fn blmove_across_shards_is_atomic(server: &TestServer) {
    let shards = server.shards();
    let keys = keys_on_shards("move", 2, shards);
    let (source, destination) = (&keys[0], &keys[1]);
    let waiter = spawn_command(
        server,
        &["BLMOVE", source, destination, "LEFT", "RIGHT", "0"],
    );
    await_blocked(server, 1);
    run::<i64>(&mut client(server), &["RPUSH", source, "element"]);
    let moved: String =
        redis::from_redis_value(waiter.join().expect("thread").expect("reply")).expect("bulk");
    assert_eq!(moved, "element");
    let mut c = client(server);
    assert_eq!(run::<i64>(&mut c, &["EXISTS", source]), 0);
    assert_eq!(
        run::<Vec<String>>(&mut c, &["LRANGE", destination, "0", "-1"]),
        vec!["element"]
    );
}

fn blmpop_and_bzpopmin_wake(server: &TestServer) {
    let waiter = spawn_command(
        server,
        &["BLMPOP", "0", "2", "l1", "l2", "RIGHT", "COUNT", "2"],
    );
    await_blocked(server, 1);
    run::<i64>(&mut client(server), &["RPUSH", "l2", "a", "b", "c"]);
    let reply = waiter.join().expect("thread").expect("reply");
    let (key, elements): (String, Vec<String>) = redis::from_redis_value(reply).expect("pair");
    assert_eq!(
        (key.as_str(), elements),
        ("l2", vec!["c".into(), "b".into()])
    );

    let waiter = spawn_command(server, &["BZPOPMIN", "zset", "0"]);
    await_blocked(server, 1);
    run::<i64>(
        &mut client(server),
        &["ZADD", "zset", "2", "two", "1", "one"],
    );
    let reply = strings(waiter.join().expect("thread").expect("reply"));
    assert_eq!(reply, vec!["zset", "one", "1"]);
}

fn client_unblock_ends_the_wait(server: &TestServer) {
    let mut waiter_connection = client(server);
    let id: i64 = run(&mut waiter_connection, &["CLIENT", "ID"]);
    let waiter = thread::spawn(move || {
        redis::cmd("BLPOP")
            .arg("never")
            .arg(0)
            .query::<redis::Value>(&mut waiter_connection)
            .map(|reply| (reply, waiter_connection))
    });
    await_blocked(server, 1);
    let mut c = client(server);
    let list: String = run(&mut c, &["CLIENT", "LIST", "ID", &id.to_string()]);
    assert!(list.contains(" flags=b "), "{list}");
    assert_eq!(
        run::<i64>(&mut c, &["CLIENT", "UNBLOCK", &id.to_string(), "TIMEOUT"]),
        1
    );
    let (reply, mut waiter_connection) = waiter.join().expect("thread").expect("reply");
    assert_eq!(reply, redis::Value::Nil);

    let waiter = thread::spawn(move || {
        redis::cmd("BRPOP")
            .arg("never")
            .arg(0)
            .query::<redis::Value>(&mut waiter_connection)
    });
    await_blocked(server, 1);
    assert_eq!(
        run::<i64>(&mut c, &["CLIENT", "UNBLOCK", &id.to_string(), "ERROR"]),
        1
    );
    let error = waiter.join().expect("thread").expect_err("unblocked");
    assert_eq!(
        error_text(&error),
        "UNBLOCKED client unblocked via CLIENT UNBLOCK"
    );
    assert_eq!(run::<i64>(&mut c, &["CLIENT", "UNBLOCK", "999999"]), 0);
}

fn a_vanished_waiter_takes_nothing(server: &TestServer) {
    let mut raw = server.raw();
    raw.send(b"*3\r\n$5\r\nBLPOP\r\n$4\r\ngone\r\n$1\r\n0\r\n");
    await_blocked(server, 1);
    drop(raw);
    await_blocked(server, 0);
    let mut c = client(server);
    run::<i64>(&mut c, &["RPUSH", "gone", "kept"]);
    assert_eq!(
        run::<Vec<String>>(&mut c, &["LRANGE", "gone", "0", "-1"]),
        vec!["kept"]
    );
}

/// Poppers block on keys spread over every shard (single keys, multi-key BLPOP and
/// BLMOVE chains) while pushers push unique elements; at the end every element was
/// popped exactly once or is still in a list.
fn every_pushed_element_is_popped_exactly_once(server: &TestServer) {
    const PUSHERS: usize = 4;
    const POPPERS: usize = 6;
    const PER_PUSHER: usize = 300;
    let keys = keys_on_shards("stress", 4, server.shards());
    let parking = keys_on_shards("parking", 2, server.shards());
    let mut poppers = Vec::new();
    for popper in 0..POPPERS {
        let mut connection = client(server);
        let keys = keys.clone();
        let parking = parking.clone();
        poppers.push(thread::spawn(move || {
            let mut popped: Vec<String> = Vec::new();
            loop {
                let key = &keys[popper % keys.len()];
                let other = &keys[(popper + 1) % keys.len()];
                let reply: redis::Value = match popper % 3 {
                    0 => redis::cmd("BLPOP")
                        .arg(key)
                        .arg("0.2")
                        .query(&mut connection),
                    1 => redis::cmd("BRPOP")
                        .arg(key)
                        .arg(other)
                        .arg("0.2")
                        .query(&mut connection),
                    _ => redis::cmd("BLMOVE")
                        .arg(key)
                        .arg(&parking[popper % parking.len()])
                        .arg("LEFT")
                        .arg("RIGHT")
                        .arg("0.2")
                        .query(&mut connection),
                }
                .expect("pop");
                match reply {
                    redis::Value::Nil => break,
                    redis::Value::Array(_) => {
                        let pair: (String, String) =
                            redis::from_redis_value(reply).expect("key and element");
                        popped.push(pair.1);
                    }
                    // BLMOVE's element is moved to a parking list, collected at the end.
                    _ => {}
                }
            }
            popped
        }));
    }
    let mut pushers = Vec::new();
    for pusher in 0..PUSHERS {
        let mut connection = client(server);
        let keys = keys.clone();
        pushers.push(thread::spawn(move || {
            for index in 0..PER_PUSHER {
                let element = format!("{pusher}:{index}");
                let key = &keys[(pusher + index) % keys.len()];
                redis::cmd("RPUSH")
                    .arg(key)
                    .arg(&element)
                    .query::<i64>(&mut connection)
                    .expect("push");
            }
        }));
    }
    for pusher in pushers {
        pusher.join().expect("pusher");
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for popper in poppers {
        for element in popper.join().expect("popper") {
            *seen.entry(element).or_default() += 1;
        }
    }
    let mut c = client(server);
    for key in keys.iter().chain(parking.iter()) {
        for element in run::<Vec<String>>(&mut c, &["LRANGE", key, "0", "-1"]) {
            *seen.entry(element).or_default() += 1;
        }
    }
    let doubled: Vec<_> = seen.iter().filter(|(_, count)| **count > 1).collect();
    assert!(doubled.is_empty(), "elements popped twice: {doubled:?}");
    assert_eq!(seen.len(), PUSHERS * PER_PUSHER, "elements lost");
    assert_eq!(blocked_clients(server), 0);
}

/// Clients that go away while their blocking command still waits in line for keys that a
/// script holds leave nothing behind: no lock kept by a wait that will never run, no
/// waiter parked afterwards for a client that is gone to take the next pushed element.
#[test]
fn a_client_gone_while_its_wait_queued_behind_a_script_takes_nothing() {
    let shards = 2;
    let server = TestServer::start_with(BIN, shards, &["--busy-reply-threshold", "500"]);
    let keys = keys_on_shards("queued:", 8, shards);
    // A keyless script runs holding every shard; it becomes busy after 500 ms.
    let mut script = server.raw();
    script.send_command(&[b"EVAL", b"while true do end", b"0"]);
    thread::sleep(Duration::from_millis(50));
    // Waits sent meanwhile queue behind the script's locks (those dispatched by the
    // script's own core wait for its first pause, and get -BUSY then); the clients leave.
    let waiters: Vec<_> = keys
        .iter()
        .map(|key| {
            let mut raw = server.raw();
            raw.send_command(&[b"BLPOP", key.as_bytes(), b"0"]);
            raw
        })
        .collect();
    thread::sleep(Duration::from_millis(200));
    drop(waiters);
    let mut killer = server.raw();
    while killer.cmd(&["SCRIPT", "KILL"]) != b"+OK\r\n" {
        thread::sleep(Duration::from_millis(50));
    }
    assert!(show(&script.read_reply()).contains("killed"));
    let mut c = client(&server);
    for key in &keys {
        run::<i64>(&mut c, &["RPUSH", key, "kept"]);
        assert_eq!(
            run::<Vec<String>>(&mut c, &["LRANGE", key, "0", "-1"]),
            vec!["kept"],
            "{key}"
        );
    }
    assert_eq!(blocked_clients(&server), 0);
}

/// A blocking command's statistics and slow-log entry count its runs, not its wait, as
/// Redis's do: a BLPOP served after half a second of waiting (on one shard's key, and on
/// keys of two shards), and one that timed out after half a second, each ran for far
/// less than that.
fn a_blocked_command_counts_its_runs_not_its_wait(server: &TestServer) {
    const WAIT: Duration = Duration::from_millis(500);
    let mut c = client(server);
    run::<String>(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    run::<String>(&mut c, &["CONFIG", "RESETSTAT"]);
    let keys = keys_on_shards("runs", 2, server.shards());
    let waits = [
        vec![keys[0].as_str(), "0"],
        vec![keys[0].as_str(), keys[1].as_str(), "0"],
    ];
    for wait in &waits {
        run::<String>(&mut c, &["SLOWLOG", "RESET"]);
        let mut command = vec!["BLPOP"];
        command.extend(wait);
        let waiter = spawn_command(server, &command);
        await_blocked(server, 1);
        thread::sleep(WAIT);
        run::<i64>(&mut c, &["RPUSH", &keys[0], "x"]);
        waiter.join().expect("thread").expect("reply");
        let entries: Vec<(i64, i64, i64, Vec<String>)> = redis::cmd("SLOWLOG")
            .arg("GET")
            .arg(-1)
            .query::<Vec<redis::Value>>(&mut c)
            .expect("SLOWLOG GET")
            .into_iter()
            .filter_map(|entry| {
                let redis::Value::Array(fields) = entry else {
                    return None;
                };
                let id = redis::from_redis_value(fields[0].clone()).ok()?;
                let time = redis::from_redis_value(fields[1].clone()).ok()?;
                let micros = redis::from_redis_value(fields[2].clone()).ok()?;
                let args = redis::from_redis_value(fields[3].clone()).ok()?;
                Some((id, time, micros, args))
            })
            .collect();
        let blpop = entries
            .iter()
            .find(|entry| entry.3[0] == "BLPOP")
            .unwrap_or_else(|| panic!("no BLPOP in the slow log: {entries:?}"));
        assert_eq!(blpop.3, command, "{entries:?}");
        assert!(
            blpop.2 < WAIT.as_micros() as i64 / 2,
            "{command:?} logged as running {} us",
            blpop.2
        );
    }
    let timed_out: redis::Value = run(&mut c, &["BLPOP", &keys[1], "0.5"]);
    assert_eq!(timed_out, redis::Value::Nil);
    let stats: String = run(&mut c, &["INFO", "commandstats"]);
    let blpop = stats
        .lines()
        .find_map(|line| line.strip_prefix("cmdstat_blpop:"))
        .expect("cmdstat_blpop");
    let field = |name: &str| -> i64 {
        blpop
            .split(',')
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {blpop}"))
    };
    assert_eq!(field("calls"), 3, "{blpop}");
    assert!(field("usec") < 3 * WAIT.as_micros() as i64 / 2, "{blpop}");
}

with_1_and_4_shards! {
    bin = BIN;
    returns_at_once_when_data_is_there,
    times_out_with_a_null_reply,
    a_push_from_any_shard_wakes_the_waiter,
    waiters_are_served_in_blocking_order,
    a_push_in_a_pipeline_serves_the_waiter_first,
    a_waiter_parked_where_a_served_one_was_is_still_served,
    a_transaction_serves_waiters_with_its_outcome,
    multi_key_waits_span_shards,
    a_wait_spanning_shards_keeps_its_place_in_line,
    blmove_across_shards_is_atomic,
    blmpop_and_bzpopmin_wake,
    client_unblock_ends_the_wait,
    a_blocked_command_counts_its_runs_not_its_wait,
    a_vanished_waiter_takes_nothing,
    every_pushed_element_is_popped_exactly_once,
}
