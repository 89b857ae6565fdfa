//! Streams end to end: XREAD and XREADGROUP with BLOCK woken from any shard, and at rest
//! while their keys bring nothing new; consumers served in blocking order, the first in
//! line of each group, every entry delivered exactly once; waits ended by XGROUP DESTROY,
//! DEL, FLUSHALL, SWAPDB, RENAME and type changes as Redis 7.2 ends them; blocking reads
//! and XADDs inside MULTI; every part of a stream surviving a restart through the log and
//! through a snapshot; RESP3 replies and COMMAND GETKEYS against a live redis-server.
//! (Stream keyspace events are compared with redis-server in `notifications.rs`, COMMAND
//! INFO in `command_table.rs`.)
//!
//! Waits are observed through INFO's `blocked_clients`, never by sleeping; every read has
//! a timeout, so a lost wake-up fails instead of hanging.

use peregrine_testkit::{
    await_blocked, blocked_clients, error_text, key_on_shard, keys_on_shards, run, run_err, show,
    spawn_command, with_1_and_4_shards, RawClient, RedisOracle, TestServer,
};
use redis::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// An entry: its ID and its fields and values, flat.
type Entry = (String, Vec<String>);

/// An XREAD/XREADGROUP reply: per stream, its key and entries.
type Records = Vec<(String, Vec<Entry>)>;

fn entry(id: &str, pairs: &[&str]) -> Entry {
    (
        id.to_owned(),
        pairs.iter().map(|&part| part.to_owned()).collect(),
    )
}

fn records(value: Value) -> Records {
    redis::from_redis_value(value.clone())
        .unwrap_or_else(|error| panic!("not an XREAD reply: {value:?} ({error})"))
}

/// A waiting client's command, running in its own thread.
type Waiting = thread::JoinHandle<redis::RedisResult<Value>>;

/// The reply of a command spawned with [`spawn_command`].
fn reply_of(handle: Waiting) -> Value {
    handle.join().expect("thread").expect("reply")
}

/// The error a command spawned with [`spawn_command`] ended with.
fn error_of(handle: Waiting) -> String {
    match handle.join().expect("thread") {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(error) => error_text(&error),
    }
}

/// The value of field `name` in a RESP2 flat map (`[name, value, ...]`).
fn field<'a>(map: &'a Value, name: &str) -> &'a Value {
    let Value::Array(items) = map else {
        panic!("not a flat map: {map:?}");
    };
    items
        .chunks(2)
        .find(|pair| matches!(&pair[0], Value::BulkString(key) if key == name.as_bytes()))
        .map(|pair| &pair[1])
        .unwrap_or_else(|| panic!("no field {name} in {map:?}"))
}

fn integer(value: &Value) -> i64 {
    redis::from_redis_value(value.clone()).expect("an integer")
}

fn text(value: &Value) -> String {
    redis::from_redis_value(value.clone()).expect("a string")
}

/// Adds entry `id` with one `field` and `value` to `key` and checks that it is all
/// `reader`, blocked on `key`, receives.
fn xadd_serves(
    c: &mut redis::Connection,
    reader: Waiting,
    key: &str,
    id: &str,
    [field, value]: [&str; 2],
) {
    run::<String>(c, &["XADD", key, id, field, value]);
    assert_eq!(
        records(reply_of(reader)),
        vec![(key.to_owned(), vec![entry(id, &[field, value])])]
    );
}

/// A stream `key` holding entry `id` and group `g` at its end, a plain reader blocked on
/// it with `$` and then consumer `alice` of `g`: the two kinds of waiter that a key's
/// removal treats differently.
fn reader_and_consumer_waiting(
    server: &TestServer,
    c: &mut redis::Connection,
    key: &str,
    id: &str,
) -> (Waiting, Waiting) {
    run::<String>(c, &["XADD", key, id, "f", "v"]);
    run::<String>(c, &["XGROUP", "CREATE", key, "g", "$"]);
    let reader = spawn_command(server, &["XREAD", "BLOCK", "0", "STREAMS", key, "$"]);
    await_blocked(server, 1);
    let consumer = spawn_command(server, &group_wait("g", "alice", key));
    await_blocked(server, 2);
    (reader, consumer)
}

// ---------------------------------------------------------------------------------------
// XREAD with BLOCK

fn xread_dollar_is_woken_by_an_xadd_on_any_shard(server: &TestServer) {
    let shards = server.shards();
    let mut c = server.client();
    for shard in 0..shards {
        let key = key_on_shard("xread", shard, shards);
        run::<String>(&mut c, &["XADD", &key, "1-0", "old", "1"]);
        let reader = spawn_command(server, &["XREAD", "BLOCK", "0", "STREAMS", &key, "$"]);
        await_blocked(server, 1);
        run::<String>(&mut c, &["XADD", &key, "2-0", "new", "2"]);
        assert_eq!(
            records(reply_of(reader)),
            vec![(key.clone(), vec![entry("2-0", &["new", "2"])])],
            "the reader must get only what arrived after it blocked"
        );
    }
    // `$` on a key that does not exist yet: everything the first XADD brings.
    let key = key_on_shard("fresh", shards - 1, shards);
    let reader = spawn_command(
        server,
        &["XREAD", "COUNT", "5", "BLOCK", "0", "STREAMS", &key, "$"],
    );
    await_blocked(server, 1);
    xadd_serves(&mut c, reader, &key, "7-3", ["a", "b"]);
    assert_eq!(blocked_clients(server), 0);
}

fn block_times_out_with_a_null_reply(server: &TestServer) {
    let mut c = server.client();
    run::<String>(&mut c, &["XADD", "s", "1-0", "f", "v"]);
    run::<String>(&mut c, &["XGROUP", "CREATE", "s", "g", "$"]);
    let reply: Value = run(&mut c, &["XREAD", "BLOCK", "20", "STREAMS", "s", "$"]);
    assert_eq!(reply, Value::Nil);
    let reply: Value = run(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "20",
            "STREAMS",
            "s",
            ">",
        ],
    );
    assert_eq!(reply, Value::Nil);
    let mut raw = server.raw();
    assert_eq!(
        show(&raw.cmd(&["XREAD", "BLOCK", "10", "STREAMS", "s", "nokey", "$", "$"])),
        "*-1\r\n"
    );
    raw.cmd(&["HELLO", "3"]);
    assert_eq!(
        show(&raw.cmd(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "10",
            "STREAMS",
            "s",
            ">"
        ])),
        "_\r\n"
    );
    // Data already there: no wait at all, whatever the timeout.
    assert_eq!(
        records(run(&mut c, &["XREAD", "BLOCK", "0", "STREAMS", "s", "0"])),
        vec![("s".to_owned(), vec![entry("1-0", &["f", "v"])])]
    );
    // An ID other than `>` reads the consumer's history at once (empty here), as Redis.
    assert_eq!(
        show(&server.raw().cmd(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            "0"
        ])),
        "*1\r\n*2\r\n$1\r\ns\r\n*0\r\n"
    );
    assert_eq!(
        run_err(&mut c, &["XREAD", "BLOCK", "-1", "STREAMS", "s", "$"]),
        "ERR timeout is negative"
    );
    assert_eq!(
        run_err(&mut c, &["XREAD", "BLOCK", "1.5", "STREAMS", "s", "$"]),
        "ERR timeout is not an integer or out of range"
    );
    assert_eq!(blocked_clients(server), 0);
}

/// BLOCK 0 waits until there is something new, however many writes to the key bring
/// nothing (the "XADD + DEL should not awake client" cases of Redis's suite).
fn block_0_waits_through_writes_that_bring_nothing_new(server: &TestServer) {
    let key = key_on_shard("patient", server.shards() - 1, server.shards());
    let mut c = server.client();
    run::<String>(&mut c, &["XADD", &key, "1-0", "old", "1"]);
    let reader = spawn_command(server, &["XREAD", "BLOCK", "0", "STREAMS", &key, "$"]);
    await_blocked(server, 1);
    run::<String>(&mut c, &["XGROUP", "CREATE", &key, "g", "0"]);
    run::<i64>(&mut c, &["XTRIM", &key, "MAXLEN", "0"]);
    run::<String>(&mut c, &["XSETID", &key, "5-0"]);
    let mut raw = server.raw();
    raw.cmd(&["MULTI"]);
    raw.cmd(&["XADD", &key, "6-0", "gone", "1"]);
    raw.cmd(&["XDEL", &key, "6-0"]);
    assert_eq!(show(&raw.cmd(&["EXEC"])), "*2\r\n$3\r\n6-0\r\n:1\r\n");
    raw.cmd(&["MULTI"]);
    raw.cmd(&["XADD", &key, "7-0", "gone", "2"]);
    raw.cmd(&["DEL", &key]);
    raw.cmd(&["EXEC"]);
    assert_eq!(blocked_clients(server), 1);
    xadd_serves(&mut c, reader, &key, "8-0", ["new", "3"]);
}

fn xread_on_keys_of_two_shards_is_woken_by_either(server: &TestServer) {
    let keys = keys_on_shards("pair", 2, server.shards());
    let mut c = server.client();
    for woken in [1, 0, 1] {
        let reader = spawn_command(
            server,
            &[
                "XREAD", "BLOCK", "0", "STREAMS", &keys[0], &keys[1], "$", "$",
            ],
        );
        await_blocked(server, 1);
        let id: String = run(
            &mut c,
            &["XADD", &keys[woken], "*", "from", &woken.to_string()],
        );
        assert_eq!(
            records(reply_of(reader)),
            vec![(
                keys[woken].clone(),
                vec![(id, vec!["from".to_owned(), woken.to_string()])]
            )]
        );
    }
    // The same stream named three times: every mention reads the new entry only.
    let reader = spawn_command(
        server,
        &[
            "XREAD", "BLOCK", "0", "STREAMS", &keys[0], &keys[0], &keys[0], "$", "$", "$",
        ],
    );
    await_blocked(server, 1);
    let id: String = run(&mut c, &["XADD", &keys[0], "*", "new", "x"]);
    let reply = records(reply_of(reader));
    assert!(!reply.is_empty());
    for (key, entries) in reply {
        assert_eq!(key, keys[0]);
        assert_eq!(entries, vec![(id.clone(), vec!["new".into(), "x".into()])]);
    }
}

/// Several XADDs in one transaction: the reader is served after EXEC and sees them all.
fn a_transaction_of_xadds_serves_the_reader_once(server: &TestServer) {
    let key = key_on_shard("batch", 0, server.shards());
    let mut c = server.client();
    run::<String>(&mut c, &["XADD", &key, "1-0", "old", "abcd"]);
    let reader = spawn_command(server, &["XREAD", "BLOCK", "0", "STREAMS", &key, "$"]);
    await_blocked(server, 1);
    let mut raw = server.raw();
    raw.cmd(&["MULTI"]);
    for (id, value) in [("2-0", "one"), ("3-0", "two"), ("4-0", "three")] {
        raw.cmd(&["XADD", &key, id, "field", value]);
    }
    raw.cmd(&["EXEC"]);
    assert_eq!(
        records(reply_of(reader)),
        vec![(
            key,
            vec![
                entry("2-0", &["field", "one"]),
                entry("3-0", &["field", "two"]),
                entry("4-0", &["field", "three"]),
            ]
        )]
    );
}

/// Readers do not consume: one entry serves every XREAD parked on the key, and the group
/// consumer among them; a second consumer parked behind waits for the next entry.
fn readers_do_not_stop_the_queue(server: &TestServer) {
    let key = key_on_shard("shared", server.shards() - 1, server.shards());
    let mut c = server.client();
    run::<String>(&mut c, &["XGROUP", "CREATE", &key, "g", "$", "MKSTREAM"]);
    let first_reader = spawn_command(server, &["XREAD", "BLOCK", "0", "STREAMS", &key, "$"]);
    await_blocked(server, 1);
    let alice = spawn_command(server, &group_wait("g", "alice", &key));
    await_blocked(server, 2);
    let second_reader = spawn_command(server, &["XREAD", "BLOCK", "0", "STREAMS", &key, "$"]);
    await_blocked(server, 3);
    let bob = spawn_command(server, &group_wait("g", "bob", &key));
    await_blocked(server, 4);
    run::<String>(&mut c, &["XADD", &key, "1-0", "n", "1"]);
    let first = vec![(key.clone(), vec![entry("1-0", &["n", "1"])])];
    assert_eq!(records(reply_of(first_reader)), first);
    assert_eq!(records(reply_of(alice)), first);
    assert_eq!(records(reply_of(second_reader)), first);
    await_blocked(server, 1);
    run::<String>(&mut c, &["XADD", &key, "2-0", "n", "2"]);
    assert_eq!(
        records(reply_of(bob)),
        vec![(key, vec![entry("2-0", &["n", "2"])])]
    );
}

// ---------------------------------------------------------------------------------------
// XREADGROUP with BLOCK

/// XPENDING's extended form as (ID, consumer, deliveries), idle times left out.
fn pending(c: &mut redis::Connection, key: &str, group: &str) -> Vec<(String, String, i64)> {
    let entries: Vec<(String, String, i64, i64)> =
        run(c, &["XPENDING", key, group, "-", "+", "1000"]);
    entries
        .into_iter()
        .map(|(id, consumer, _, deliveries)| (id, consumer, deliveries))
        .collect()
}

fn consumers_are_served_in_blocking_order(server: &TestServer) {
    let key = key_on_shard("fifo", server.shards() - 1, server.shards());
    let mut c = server.client();
    run::<String>(&mut c, &["XGROUP", "CREATE", &key, "g", "$", "MKSTREAM"]);
    let block = |consumer: &str| spawn_command(server, &group_wait("g", consumer, &key));
    let names = ["c0", "c1", "c2"];
    let mut waiters = Vec::new();
    for (index, name) in names.iter().enumerate() {
        waiters.push(block(name));
        await_blocked(server, index as u64 + 1);
    }
    // One entry at a time: each goes to exactly one consumer, the longest waiting.
    for ms in 1..=3 {
        run::<String>(
            &mut c,
            &["XADD", &key, &format!("{ms}-0"), "n", &ms.to_string()],
        );
    }
    for (index, waiter) in waiters.into_iter().enumerate() {
        let ms = index + 1;
        assert_eq!(
            records(reply_of(waiter)),
            vec![(
                key.clone(),
                vec![entry(&format!("{ms}-0"), &["n", &ms.to_string()])]
            )],
            "consumer c{index}"
        );
    }
    // Three entries in one transaction: the first consumer in line takes all of them
    // (no COUNT); the others keep waiting, in order, for the next ones.
    let mut waiters = Vec::new();
    for (index, name) in names.iter().enumerate() {
        waiters.push(block(name));
        await_blocked(server, index as u64 + 1);
    }
    let mut raw = server.raw();
    raw.cmd(&["MULTI"]);
    for ms in 4..=6 {
        raw.cmd(&["XADD", &key, &format!("{ms}-0"), "n", &ms.to_string()]);
    }
    raw.cmd(&["EXEC"]);
    let mut waiters = waiters.into_iter();
    assert_eq!(
        records(reply_of(waiters.next().unwrap())),
        vec![(
            key.clone(),
            vec![
                entry("4-0", &["n", "4"]),
                entry("5-0", &["n", "5"]),
                entry("6-0", &["n", "6"]),
            ]
        )]
    );
    await_blocked(server, 2);
    for (ms, waiter) in (7..=8).zip(waiters) {
        run::<String>(
            &mut c,
            &["XADD", &key, &format!("{ms}-0"), "n", &ms.to_string()],
        );
        assert_eq!(
            records(reply_of(waiter)),
            vec![(
                key.clone(),
                vec![entry(&format!("{ms}-0"), &["n", &ms.to_string()])]
            )]
        );
    }
    let owners = ["c0", "c1", "c2", "c0", "c0", "c0", "c1", "c2"];
    let expected: Vec<(String, String, i64)> = owners
        .iter()
        .enumerate()
        .map(|(index, owner)| (format!("{}-0", index + 1), owner.to_string(), 1))
        .collect();
    assert_eq!(pending(&mut c, &key, "g"), expected);
    let summary: (i64, String, String, Vec<(String, String)>) =
        run(&mut c, &["XPENDING", &key, "g"]);
    assert_eq!(
        summary,
        (
            8,
            "1-0".into(),
            "8-0".into(),
            vec![
                ("c0".into(), "4".into()),
                ("c1".into(), "2".into()),
                ("c2".into(), "2".into())
            ]
        )
    );
    let groups: Vec<Value> = run(&mut c, &["XINFO", "GROUPS", &key]);
    assert_eq!(text(field(&groups[0], "last-delivered-id")), "8-0");
    assert_eq!(integer(field(&groups[0], "entries-read")), 8);
    assert_eq!(integer(field(&groups[0], "lag")), 0);
}

fn noack_consumers_leave_nothing_pending(server: &TestServer) {
    let key = key_on_shard("noack", 0, server.shards());
    let mut c = server.client();
    run::<String>(&mut c, &["XGROUP", "CREATE", &key, "g", "$", "MKSTREAM"]);
    let waiter = spawn_command(
        server,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "NOACK",
            "STREAMS",
            &key,
            ">",
        ],
    );
    await_blocked(server, 1);
    run::<String>(&mut c, &["XADD", &key, "1-1", "job", "x"]);
    assert_eq!(
        records(reply_of(waiter)),
        vec![(key.clone(), vec![entry("1-1", &["job", "x"])])]
    );
    let summary: Value = run(&mut c, &["XPENDING", &key, "g"]);
    assert_eq!(
        summary,
        Value::Array(vec![Value::Int(0), Value::Nil, Value::Nil, Value::Nil])
    );
    let groups: Vec<Value> = run(&mut c, &["XINFO", "GROUPS", &key]);
    assert_eq!(text(field(&groups[0], "last-delivered-id")), "1-1");
    assert_eq!(integer(field(&groups[0], "entries-read")), 1);
    assert_eq!(integer(field(&groups[0], "pending")), 0);
}

/// Consumers of two groups wait on one stream: one entry serves the first in line of
/// each group; a consumer behind one that got nothing does not stop the queue.
fn each_group_serves_its_first_consumer(server: &TestServer) {
    let key = key_on_shard("groups", server.shards() - 1, server.shards());
    let mut c = server.client();
    run::<String>(&mut c, &["XGROUP", "CREATE", &key, "g1", "$", "MKSTREAM"]);
    run::<String>(&mut c, &["XGROUP", "CREATE", &key, "g2", "$"]);
    let mut waiters = Vec::new();
    for (index, (group, consumer)) in [("g1", "a"), ("g1", "b"), ("g2", "c")].iter().enumerate() {
        waiters.push(spawn_command(server, &group_wait(group, consumer, &key)));
        await_blocked(server, index as u64 + 1);
    }
    run::<String>(&mut c, &["XADD", &key, "1-0", "n", "1"]);
    let b = waiters.remove(1);
    let first = vec![(key.clone(), vec![entry("1-0", &["n", "1"])])];
    for waiter in waiters {
        assert_eq!(records(reply_of(waiter)), first);
    }
    await_blocked(server, 1);
    run::<String>(&mut c, &["XADD", &key, "2-0", "n", "2"]);
    assert_eq!(
        records(reply_of(b)),
        vec![(key.clone(), vec![entry("2-0", &["n", "2"])])]
    );
}

/// Consumers waiting on streams of two shards rest while nothing new comes: their
/// seen-time ages (a wait that re-ran its read over and over refreshed it), and a write
/// that brings them nothing (another consumer's read) does not start them either. Each
/// new entry then goes to one of them (which one is not promised: clients woken on keys
/// of several shards retry, and the faster wins, as blocking.rs documents).
fn waits_across_shards_rest_until_news(server: &TestServer) {
    let keys = keys_on_shards("rest", 2, server.shards());
    let mut c = server.client();
    for key in &keys {
        run::<String>(&mut c, &["XGROUP", "CREATE", key, "g", "$", "MKSTREAM"]);
    }
    let mut waiters = Vec::new();
    for consumer in ["c1", "c2"] {
        waiters.push(spawn_command(
            server,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                consumer,
                "BLOCK",
                "0",
                "STREAMS",
                &keys[0],
                &keys[1],
                ">",
                ">",
            ],
        ));
        await_blocked(server, waiters.len() as u64);
    }
    let idle = |c: &mut redis::Connection| -> Vec<i64> {
        let consumers: Vec<Value> = run(c, &["XINFO", "CONSUMERS", &keys[1], "g"]);
        consumers
            .iter()
            .map(|consumer| integer(field(consumer, "idle")))
            .collect()
    };
    assert!(
        peregrine_testkit::poll_until(std::time::Duration::from_secs(10), || idle(&mut c)
            .iter()
            .all(|&idle| idle >= 300)),
        "the waiting consumers keep running: idle times {:?}",
        idle(&mut c)
    );
    assert_eq!(blocked_clients(server), 2);
    let mut expected = Vec::new();
    for (index, key) in [&keys[1], &keys[0]].into_iter().enumerate() {
        let value = index.to_string();
        let id: String = run(&mut c, &["XADD", key, "*", "n", &value]);
        expected.push(vec![(key.clone(), vec![(id, vec!["n".to_owned(), value])])]);
        await_blocked(server, 1 - index as u64);
    }
    let mut delivered: Vec<Records> = waiters
        .into_iter()
        .map(|waiter| records(reply_of(waiter)))
        .collect();
    delivered.sort();
    expected.sort();
    assert_eq!(delivered, expected);
}

/// A consumer is created by its first XREADGROUP, even one that finds nothing and waits
/// (Redis 7.2's "Consumer seen-time and active-time"): it is listed, never active.
fn a_waiting_consumer_exists_before_it_gets_anything(server: &TestServer) {
    let key = key_on_shard("early", server.shards() - 1, server.shards());
    let mut c = server.client();
    run::<String>(&mut c, &["XGROUP", "CREATE", &key, "g", "$", "MKSTREAM"]);
    let reply: Value = run(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "1",
            "STREAMS",
            &key,
            ">",
        ],
    );
    assert_eq!(reply, Value::Nil);
    let waiter = spawn_command(server, &group_wait("g", "bob", &key));
    await_blocked(server, 1);
    let consumers: Vec<Value> = run(&mut c, &["XINFO", "CONSUMERS", &key, "g"]);
    let listed: Vec<(String, i64, i64)> = consumers
        .iter()
        .map(|consumer| {
            (
                text(field(consumer, "name")),
                integer(field(consumer, "pending")),
                integer(field(consumer, "inactive")),
            )
        })
        .collect();
    assert_eq!(listed, vec![("alice".into(), 0, -1), ("bob".into(), 0, -1)]);
    run::<String>(&mut c, &["XADD", &key, "1-0", "f", "v"]);
    assert_eq!(
        records(reply_of(waiter)),
        vec![(key, vec![entry("1-0", &["f", "v"])])]
    );
}

/// Producers add unique values to two streams (on two shards) while consumers of one
/// group block on one or both of them: every value is delivered to exactly one consumer,
/// every delivery is acknowledged once, and nothing stays pending.
fn every_entry_is_delivered_exactly_once(server: &TestServer) {
    const PRODUCERS: usize = 4;
    const CONSUMERS: usize = 6;
    const PER_PRODUCER: usize = 150;
    let keys = keys_on_shards("jobs", 2, server.shards());
    let mut c = server.client();
    for key in &keys {
        run::<String>(&mut c, &["XGROUP", "CREATE", key, "g", "$", "MKSTREAM"]);
    }
    let producing = Arc::new(AtomicBool::new(true));
    let mut consumers = Vec::new();
    for consumer in 0..CONSUMERS {
        let mut connection = server.client();
        let keys = keys.clone();
        let producing = producing.clone();
        consumers.push(thread::spawn(move || {
            let name = format!("consumer{consumer}");
            // Every third consumer reads both streams, the others one of them.
            let streams: Vec<&String> = if consumer % 3 == 2 {
                keys.iter().collect()
            } else {
                vec![&keys[consumer % 2]]
            };
            let mut values = Vec::new();
            let mut acknowledged = 0;
            loop {
                // Read the flag first: a null reply that began after the producers
                // finished means the streams are drained.
                let finished = !producing.load(Ordering::SeqCst);
                let mut command = redis::cmd("XREADGROUP");
                command
                    .arg("GROUP")
                    .arg("g")
                    .arg(&name)
                    .arg("COUNT")
                    .arg(7)
                    .arg("BLOCK")
                    .arg(100)
                    .arg("STREAMS")
                    .arg(&streams)
                    .arg(vec![">"; streams.len()]);
                let reply: Value = command.query(&mut connection).expect("XREADGROUP");
                if reply == Value::Nil {
                    if finished {
                        break;
                    }
                    continue;
                }
                for (key, entries) in records(reply) {
                    let ids: Vec<&String> = entries.iter().map(|(id, _)| id).collect();
                    let acked: i64 = redis::cmd("XACK")
                        .arg(&key)
                        .arg("g")
                        .arg(&ids)
                        .query(&mut connection)
                        .expect("XACK");
                    acknowledged += acked;
                    values.extend(entries.into_iter().map(|(_, mut pairs)| pairs.remove(1)));
                }
            }
            (values, acknowledged)
        }));
    }
    let mut producers = Vec::new();
    for producer in 0..PRODUCERS {
        let mut connection = server.client();
        let keys = keys.clone();
        producers.push(thread::spawn(move || {
            for index in 0..PER_PRODUCER {
                redis::cmd("XADD")
                    .arg(&keys[(producer + index) % keys.len()])
                    .arg("*")
                    .arg("job")
                    .arg(format!("{producer}:{index}"))
                    .query::<String>(&mut connection)
                    .expect("XADD");
            }
        }));
    }
    for producer in producers {
        producer.join().expect("producer");
    }
    producing.store(false, Ordering::SeqCst);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut acknowledged = 0;
    for consumer in consumers {
        let (values, acked) = consumer.join().expect("consumer");
        acknowledged += acked;
        for value in values {
            *seen.entry(value).or_default() += 1;
        }
    }
    let doubled: Vec<_> = seen.iter().filter(|(_, count)| **count > 1).collect();
    assert!(doubled.is_empty(), "entries delivered twice: {doubled:?}");
    assert_eq!(seen.len(), PRODUCERS * PER_PRODUCER, "entries lost");
    assert_eq!(acknowledged as usize, PRODUCERS * PER_PRODUCER);
    let left: Value = run(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "sweeper",
            "STREAMS",
            &keys[0],
            &keys[1],
            ">",
            ">",
        ],
    );
    assert_eq!(left, Value::Nil, "undelivered entries");
    let mut delivered = 0;
    for key in &keys {
        let summary: Value = run(&mut c, &["XPENDING", key, "g"]);
        assert_eq!(field_at(&summary, 0), &Value::Int(0), "{key}: {summary:?}");
        let groups: Vec<Value> = run(&mut c, &["XINFO", "GROUPS", key]);
        assert_eq!(integer(field(&groups[0], "lag")), 0);
        delivered += integer(field(&groups[0], "entries-read"));
    }
    assert_eq!(delivered as usize, PRODUCERS * PER_PRODUCER);
    assert_eq!(blocked_clients(server), 0);
}

fn field_at(value: &Value, index: usize) -> &Value {
    match value {
        Value::Array(items) => &items[index],
        other => panic!("not an array: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Waits that end with an error

/// The NOGROUP error XREADGROUP gives when its stream or group is missing. Redis 7.2
/// re-runs a woken XREADGROUP, so a waiter whose group went away gets this text too
/// (7.0 worded it "NOGROUP the consumer group this client was blocked on no longer
/// exists", and a deleted key "UNBLOCKED the stream key no longer exists").
fn nogroup(key: &str, group: &str) -> String {
    format!(
        "NOGROUP No such key '{key}' or consumer group '{group}' in XREADGROUP with GROUP option"
    )
}

fn xgroup_destroy_ends_the_wait_with_nogroup(server: &TestServer) {
    let key = key_on_shard("destroyed", server.shards() - 1, server.shards());
    let mut c = server.client();
    run::<String>(&mut c, &["XGROUP", "CREATE", &key, "g", "$", "MKSTREAM"]);
    let waiter = spawn_command(server, &group_wait("g", "alice", &key));
    await_blocked(server, 1);
    assert_eq!(run::<i64>(&mut c, &["XGROUP", "DESTROY", &key, "g"]), 1);
    assert_eq!(error_of(waiter), nogroup(&key, "g"));
    assert_eq!(blocked_clients(server), 0);
    // The stream itself is untouched and the next XADD serves no one.
    run::<String>(&mut c, &["XADD", &key, "1-0", "f", "v"]);
    assert_eq!(run::<i64>(&mut c, &["XLEN", &key]), 1);
}

/// DEL ends a consumer's wait (its group is gone with the key) but not a plain reader's:
/// the reader keeps its `$` (the deleted stream's last ID) and is served by the first
/// XADD after it.
fn del_ends_group_waits_but_not_plain_reads(server: &TestServer) {
    let key = key_on_shard("deleted", 0, server.shards());
    let mut c = server.client();
    let (reader, consumer) = reader_and_consumer_waiting(server, &mut c, &key, "5-0");
    assert_eq!(run::<i64>(&mut c, &["DEL", &key]), 1);
    assert_eq!(error_of(consumer), nogroup(&key, "g"));
    await_blocked(server, 1);
    run::<String>(&mut c, &["XADD", &key, "1-0", "before", "dollar"]);
    xadd_serves(&mut c, reader, &key, "6-0", ["after", "dollar"]);
}

/// A stream that expires ends a consumer's wait as DEL does (active expiry removes it
/// while the consumer waits); a plain reader keeps waiting.
fn expiry_ends_group_waits_but_not_plain_reads(server: &TestServer) {
    let key = key_on_shard("expiring", server.shards() - 1, server.shards());
    let mut c = server.client();
    let (reader, consumer) = reader_and_consumer_waiting(server, &mut c, &key, "5-0");
    assert_eq!(run::<i64>(&mut c, &["PEXPIRE", &key, "50"]), 1);
    assert_eq!(error_of(consumer), nogroup(&key, "g"));
    assert_eq!(run::<i64>(&mut c, &["EXISTS", &key]), 0);
    assert_eq!(blocked_clients(server), 1);
    xadd_serves(&mut c, reader, &key, "6-0", ["after", "expiry"]);
}

/// A stream found past its deadline by a reader (lazy expiry, active expiry off) ends a
/// consumer's wait as DEL does.
fn lazy_expiry_ends_group_waits(server: &TestServer) {
    let key = key_on_shard("lazily", 0, server.shards());
    let mut c = server.client();
    run::<String>(&mut c, &["XGROUP", "CREATE", &key, "g", "$", "MKSTREAM"]);
    run::<String>(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let consumer = spawn_command(server, &group_wait("g", "alice", &key));
    await_blocked(server, 1);
    assert_eq!(run::<i64>(&mut c, &["PEXPIRE", &key, "1"]), 1);
    // Reads see the stream until its deadline; the first read after it removes it.
    while run::<i64>(&mut c, &["EXISTS", &key]) == 1 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(error_of(consumer), nogroup(&key, "g"));
    run::<String>(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
}

/// A key that becomes another type ends a consumer's wait with WRONGTYPE; a plain
/// reader keeps waiting (Redis 7.2's "key type changed with SET" tests).
fn a_type_change_ends_group_waits_but_not_plain_reads(server: &TestServer) {
    let key = key_on_shard("retyped", server.shards() - 1, server.shards());
    let mut c = server.client();
    let (reader, consumer) = reader_and_consumer_waiting(server, &mut c, &key, "666-0");
    run::<String>(&mut c, &["SET", &key, "val1"]);
    assert_eq!(
        error_of(consumer),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    await_blocked(server, 1);
    // A transaction that replaces the stream by a set: the reader still waits.
    run::<i64>(&mut c, &["DEL", &key]);
    run::<String>(&mut c, &["XADD", &key, "1-0", "f", "v"]);
    let mut raw = server.raw();
    raw.cmd(&["MULTI"]);
    raw.cmd(&["DEL", &key]);
    raw.cmd(&["SADD", &key, "e1"]);
    raw.cmd(&["EXEC"]);
    assert_eq!(blocked_clients(server), 1);
    run::<i64>(&mut c, &["DEL", &key]);
    xadd_serves(&mut c, reader, &key, "667-0", ["f", "v"]);
}

/// FLUSHALL takes every group with it: consumers waiting anywhere get NOGROUP, plain
/// readers keep waiting.
fn flushall_ends_group_waits(server: &TestServer) {
    let keys = keys_on_shards("flushed", 2, server.shards());
    let mut c = server.client();
    for key in &keys {
        run::<String>(&mut c, &["XGROUP", "CREATE", key, "g", "$", "MKSTREAM"]);
    }
    let reader = spawn_command(server, &["XREAD", "BLOCK", "0", "STREAMS", &keys[0], "$"]);
    await_blocked(server, 1);
    let consumers: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(index, key)| {
            let waiter = spawn_command(server, &group_wait("g", "alice", key));
            await_blocked(server, index as u64 + 2);
            waiter
        })
        .collect();
    run::<String>(&mut c, &["FLUSHALL"]);
    for (key, consumer) in keys.iter().zip(consumers) {
        assert_eq!(error_of(consumer), nogroup(key, "g"));
    }
    await_blocked(server, 1);
    xadd_serves(&mut c, reader, &keys[0], "1-0", ["f", "v"]);
}

/// `XREADGROUP GROUP group consumer BLOCK 0 STREAMS key >`: a consumer waiting for new
/// entries.
fn group_wait<'a>(group: &'a str, consumer: &'a str, key: &'a str) -> [&'a str; 9] {
    [
        "XREADGROUP",
        "GROUP",
        group,
        consumer,
        "BLOCK",
        "0",
        "STREAMS",
        key,
        ">",
    ]
}

/// Runs `args` in a thread on a fresh connection to database `db`.
fn spawn_in_db(server: &TestServer, db: u32, args: &[&str]) -> Waiting {
    let mut connection = server.client_from_url(&format!("{}{db}", server.url()));
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    thread::spawn(move || command.query(&mut connection))
}

/// SWAPDB changes what every key of both databases holds: a consumer whose key is gone
/// gets NOGROUP, one whose key is now a list WRONGTYPE, and a client blocked on a list
/// that the swap brings is served (Redis 7.2's "swapped DB" tests).
fn swapdb_serves_and_ends_waits(server: &TestServer) {
    let mut c = server.client();
    run::<String>(&mut c, &["SELECT", "9"]);
    run::<String>(&mut c, &["XGROUP", "CREATE", "gone", "g", "$", "MKSTREAM"]);
    run::<String>(
        &mut c,
        &["XGROUP", "CREATE", "retyped", "g", "$", "MKSTREAM"],
    );
    run::<String>(&mut c, &["SELECT", "4"]);
    run::<i64>(&mut c, &["LPUSH", "retyped", "e1"]);
    run::<i64>(&mut c, &["LPUSH", "list", "brought"]);
    let read = |key: &'static str| {
        [
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "BLOCK",
            "0",
            "STREAMS",
            key,
            ">",
        ]
    };
    let gone = spawn_in_db(server, 9, &read("gone"));
    await_blocked(server, 1);
    let retyped = spawn_in_db(server, 9, &read("retyped"));
    await_blocked(server, 2);
    let popper = spawn_in_db(server, 9, &["BLPOP", "list", "0"]);
    await_blocked(server, 3);
    run::<String>(&mut c, &["SWAPDB", "4", "9"]);
    assert_eq!(error_of(gone), nogroup("gone", "g"));
    assert_eq!(
        error_of(retyped),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    let popped: Vec<String> = redis::from_redis_value(reply_of(popper)).expect("a pair");
    assert_eq!(popped, vec!["list", "brought"]);
    assert_eq!(blocked_clients(server), 0);
}

/// RENAME onto a key with waiters serves them from the renamed stream: its entries when
/// it has their group, NOGROUP when it has not (Redis's "RENAME can unblock XREADGROUP").
fn rename_serves_or_ends_group_waits(server: &TestServer) {
    let keys = keys_on_shards("renamed", 2, server.shards());
    let (waited, source) = (&keys[0], &keys[1]);
    let mut c = server.client();
    run::<String>(&mut c, &["XGROUP", "CREATE", waited, "g", "$", "MKSTREAM"]);
    let waiter = spawn_command(server, &group_wait("g", "alice", waited));
    await_blocked(server, 1);
    run::<String>(&mut c, &["XGROUP", "CREATE", source, "g", "$", "MKSTREAM"]);
    run::<String>(&mut c, &["XADD", source, "100-0", "f1", "v1"]);
    run::<String>(&mut c, &["RENAME", source, waited]);
    assert_eq!(
        records(reply_of(waiter)),
        vec![(waited.clone(), vec![entry("100-0", &["f1", "v1"])])]
    );
    let waiter = spawn_command(server, &group_wait("g", "alice", waited));
    await_blocked(server, 1);
    run::<String>(&mut c, &["XADD", source, "100-0", "f1", "v1"]);
    run::<String>(&mut c, &["RENAME", source, waited]);
    assert_eq!(error_of(waiter), nogroup(waited, "g"));
}

// ---------------------------------------------------------------------------------------
// MULTI/EXEC

/// Blocking reads inside MULTI never block: they reply at once, null when there is
/// nothing (Redis's bytes: a null array in RESP2, a null in RESP3).
fn blocking_reads_inside_multi_do_not_block(server: &TestServer) {
    let mut raw = server.raw();
    raw.cmd(&["XADD", "k", "1-0", "a", "1"]);
    raw.cmd(&["XGROUP", "CREATE", "k", "g", "$"]);
    let transaction = [
        vec!["XREAD", "BLOCK", "0", "STREAMS", "k", "$"],
        vec![
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "k",
            ">",
        ],
        vec!["XREAD", "BLOCK", "0", "STREAMS", "k", "0"],
    ];
    assert_eq!(show(&raw.cmd(&["MULTI"])), "+OK\r\n");
    for command in &transaction {
        assert_eq!(show(&raw.cmd(command)), "+QUEUED\r\n");
    }
    assert_eq!(
        show(&raw.cmd(&["EXEC"])),
        "*3\r\n*-1\r\n*-1\r\n*1\r\n*2\r\n$1\r\nk\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    raw.cmd(&["HELLO", "3"]);
    raw.cmd(&["MULTI"]);
    for command in &transaction[..2] {
        raw.cmd(command);
    }
    assert_eq!(show(&raw.cmd(&["EXEC"])), "*2\r\n_\r\n_\r\n");
    assert_eq!(blocked_clients(server), 0);
    // Unknown subcommands and wrong arities of XGROUP and XINFO are refused while
    // queuing, and the transaction is discarded, as Redis does.
    let mut raw = server.raw();
    raw.cmd(&["MULTI"]);
    assert_eq!(
        show(&raw.cmd(&["XGROUP", "FOO"])),
        "-ERR unknown subcommand 'FOO'. Try XGROUP HELP.\r\n"
    );
    assert_eq!(
        show(&raw.cmd(&["XINFO", "BAR", "k"])),
        "-ERR unknown subcommand 'BAR'. Try XINFO HELP.\r\n"
    );
    assert_eq!(
        show(&raw.cmd(&["XGROUP", "CREATE", "k"])),
        "-ERR wrong number of arguments for 'xgroup|create' command\r\n"
    );
    assert_eq!(
        show(&raw.cmd(&["EXEC"])),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
}

with_1_and_4_shards! {
    bin = BIN;
    xread_dollar_is_woken_by_an_xadd_on_any_shard,
    block_times_out_with_a_null_reply,
    block_0_waits_through_writes_that_bring_nothing_new,
    xread_on_keys_of_two_shards_is_woken_by_either,
    a_transaction_of_xadds_serves_the_reader_once,
    readers_do_not_stop_the_queue,
    consumers_are_served_in_blocking_order,
    noack_consumers_leave_nothing_pending,
    each_group_serves_its_first_consumer,
    waits_across_shards_rest_until_news,
    a_waiting_consumer_exists_before_it_gets_anything,
    every_entry_is_delivered_exactly_once,
    xgroup_destroy_ends_the_wait_with_nogroup,
    del_ends_group_waits_but_not_plain_reads,
    expiry_ends_group_waits_but_not_plain_reads,
    lazy_expiry_ends_group_waits,
    a_type_change_ends_group_waits_but_not_plain_reads,
    flushall_ends_group_waits,
    swapdb_serves_and_ends_waits,
    rename_serves_or_ends_group_waits,
    blocking_reads_inside_multi_do_not_block,
}

// ---------------------------------------------------------------------------------------
// Persistence

/// `value` with the values of the named fields of its RESP2 flat maps replaced by nil,
/// at any depth: the times that a restart changes.
fn masked(value: Value, fields: &[&str]) -> Value {
    let Value::Array(items) = value else {
        return value;
    };
    let mut out = Vec::with_capacity(items.len());
    let mut mask_next = false;
    for item in items {
        if std::mem::take(&mut mask_next) {
            out.push(Value::Nil);
            continue;
        }
        mask_next = matches!(&item, Value::BulkString(name)
            if fields.iter().any(|field| field.as_bytes() == &name[..]));
        out.push(masked(item, fields));
    }
    Value::Array(out)
}

/// Everything observable about the streams at `keys` but times that a restart changes:
/// entries, XINFO STREAM (summary, and FULL without seen and active times), groups, the
/// pending lists (extended XPENDING without idle times) and the consumers.
fn stream_state(server: &TestServer, keys: &[String]) -> Vec<String> {
    let mut c = server.client();
    let mut state = Vec::new();
    for key in keys {
        let mut probe = |args: &[&str], value: Value| {
            state.push(format!("{}: {value:?}", args.join(" ")));
        };
        let kind: String = run(&mut c, &["TYPE", key]);
        probe(&["TYPE", key], Value::SimpleString(kind));
        for args in [
            vec!["XRANGE", key, "-", "+"],
            vec!["XINFO", "STREAM", key],
            vec!["XINFO", "GROUPS", key],
        ] {
            let value: Value = run(&mut c, &args);
            probe(&args, value);
        }
        let full = vec!["XINFO", "STREAM", key, "FULL", "COUNT", "0"];
        let value: Value = run(&mut c, &full);
        probe(&full, masked(value, &["seen-time", "active-time"]));
        let groups: Vec<Value> = run(&mut c, &["XINFO", "GROUPS", key]);
        for group in groups.iter().map(|group| text(field(group, "name"))) {
            let summary = vec!["XPENDING", key, &group];
            let value: Value = run(&mut c, &summary);
            probe(&summary, value);
            let extended = vec!["XPENDING", key, &group, "-", "+", "10000"];
            let entries: Vec<Vec<Value>> = run(&mut c, &extended);
            let without_idle = entries
                .into_iter()
                .map(|mut fields| {
                    fields[2] = Value::Nil;
                    Value::Array(fields)
                })
                .collect();
            probe(&extended, Value::Array(without_idle));
            let consumers = vec!["XINFO", "CONSUMERS", key, &group];
            let value: Value = run(&mut c, &consumers);
            probe(&consumers, masked(value, &["idle", "inactive"]));
        }
    }
    state
}

fn send(c: &mut redis::Connection, args: &[&str]) {
    let _: Value = run(c, args);
}

/// Builds streams with every part a restart must keep, on keys spread over the shards,
/// and returns the keys.
fn build_streams(server: &TestServer) -> Vec<String> {
    let keys = keys_on_shards("stream", 6, server.shards());
    let mut c = server.client();
    // Three nodes of 100 entries (then a fourth), values of varied sizes.
    let big = &keys[0];
    let mut pipeline = redis::pipe();
    for ms in 1..=250 {
        pipeline
            .cmd("XADD")
            .arg(big)
            .arg(format!("{ms}-1"))
            .arg("f")
            .arg("x".repeat(ms % 7 * 11))
            .arg("n")
            .arg(ms)
            .ignore();
    }
    let _: () = pipeline.query(&mut c).expect("XADD pipeline");
    for args in [
        vec!["XDEL", big, "1-1", "120-1"],
        vec!["XGROUP", "CREATE", big, "g1", "0"],
        vec!["XGROUP", "CREATE", big, "g2", "$"],
        vec!["XGROUP", "CREATE", big, "g3", "100-1", "ENTRIESREAD", "40"],
        vec![
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "10",
            "STREAMS",
            big,
            ">",
        ],
        vec![
            "XREADGROUP",
            "GROUP",
            "g1",
            "bob",
            "COUNT",
            "5",
            "STREAMS",
            big,
            ">",
        ],
        vec![
            "XREADGROUP",
            "GROUP",
            "g1",
            "carol",
            "COUNT",
            "3",
            "NOACK",
            "STREAMS",
            big,
            ">",
        ],
        vec!["XACK", big, "g1", "3-1", "4-1"],
        vec!["XCLAIM", big, "g1", "bob", "0", "5-1", "6-1"],
        // A pending entry whose entry is deleted (a tombstone inside its node).
        vec!["XDEL", big, "7-1"],
        vec!["XGROUP", "CREATECONSUMER", big, "g1", "dave"],
        vec!["XREADGROUP", "GROUP", "g1", "alice", "STREAMS", big, "0"],
        vec![
            "XREADGROUP",
            "GROUP",
            "g3",
            "erin",
            "COUNT",
            "20",
            "STREAMS",
            big,
            ">",
        ],
        vec!["XGROUP", "SETID", big, "g2", "200-1", "ENTRIESREAD", "199"],
        vec!["XAUTOCLAIM", big, "g3", "frank", "0", "0", "COUNT", "3"],
        // An approximate trim: whole nodes only.
        vec!["XADD", big, "MAXLEN", "~", "200", "251-1", "f", "last"],
        vec!["XTRIM", big, "MINID", "~", "150"],
    ] {
        send(&mut c, &args);
    }
    // Counters set by XSETID.
    let counters = &keys[1];
    for args in [
        vec!["XADD", counters, "1-0", "a", "1"],
        vec!["XADD", counters, "2-0", "b", "2"],
        vec!["XGROUP", "CREATE", counters, "g", "0"],
        vec!["XREADGROUP", "GROUP", "g", "c", "STREAMS", counters, ">"],
        vec!["XDEL", counters, "2-0"],
        vec![
            "XSETID",
            counters,
            "10-0",
            "ENTRIESADDED",
            "50",
            "MAXDELETEDID",
            "5-0",
        ],
    ] {
        send(&mut c, &args);
    }
    // An empty stream with a group and a consumer; an emptied one without groups.
    for args in [
        vec!["XGROUP", "CREATE", &keys[2], "g", "$", "MKSTREAM"],
        vec!["XGROUP", "CREATECONSUMER", &keys[2], "g", "c"],
        vec!["XADD", &keys[3], "5-5", "f", "v"],
        vec!["XDEL", &keys[3], "5-5"],
    ] {
        send(&mut c, &args);
    }
    // Pending entries whose entries were all trimmed away.
    let trimmed = &keys[4];
    for args in [
        vec!["XADD", trimmed, "1-0", "a", "1"],
        vec!["XADD", trimmed, "2-0", "b", "2"],
        vec!["XGROUP", "CREATE", trimmed, "g", "0"],
        vec!["XREADGROUP", "GROUP", "g", "c", "STREAMS", trimmed, ">"],
        vec!["XTRIM", trimmed, "MAXLEN", "0"],
    ] {
        send(&mut c, &args);
    }
    // A stream larger than one snapshot part (8192 entries).
    let large = &keys[5];
    for start in (0..9000).step_by(1000) {
        let mut pipeline = redis::pipe();
        for ms in start + 1..=start + 1000 {
            pipeline
                .cmd("XADD")
                .arg(large)
                .arg(format!("{ms}-0"))
                .arg("i")
                .arg(ms)
                .ignore();
        }
        let _: () = pipeline.query(&mut c).expect("XADD pipeline");
    }
    for args in [
        vec!["XGROUP", "CREATE", large, "g", "0"],
        vec![
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "500",
            "STREAMS",
            large,
            ">",
        ],
        vec!["XDEL", large, "100-0", "8500-0"],
    ] {
        send(&mut c, &args);
    }
    keys
}

/// More writes on top of what [`build_streams`] made (after a snapshot, they are the
/// log's tail).
fn write_more(server: &TestServer, keys: &[String]) {
    let mut c = server.client();
    for args in [
        vec!["XADD", &keys[0], "252-1", "after", "snapshot"],
        vec![
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "2",
            "STREAMS",
            &keys[0],
            ">",
        ],
        vec!["XACK", &keys[0], "g1", "2-1"],
        vec!["XADD", &keys[2], "3-0", "into", "empty"],
        vec!["XREADGROUP", "GROUP", "g", "c", "STREAMS", &keys[2], ">"],
        vec!["XADD", &keys[3], "*", "after", "emptied"],
        vec!["XADD", &keys[5], "MAXLEN", "~", "5000", "*", "i", "last"],
        // Keys of two shards (with 4): the write-back records each stream whole, with
        // the pending entries whose entries were trimmed (the history read changes the
        // consumer).
        vec!["XADD", &keys[1], "11-0", "c", "3"],
        vec![
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "STREAMS",
            &keys[4],
            &keys[1],
            "0",
            ">",
        ],
    ] {
        send(&mut c, &args);
    }
}

fn assert_same(after: &[String], before: &[String]) {
    assert_eq!(after.len(), before.len());
    for (after, before) in after.iter().zip(before) {
        assert_eq!(after, before);
    }
}

fn streams_survive_kill_9_through_the_log(shards: u16) {
    let mut server = TestServer::start_with(BIN, shards, &["--appendfsync", "always"]);
    let keys = build_streams(&server);
    write_more(&server, &keys);
    let before = stream_state(&server, &keys);
    server.crash();
    let restarted = server.restart();
    assert_same(&stream_state(&restarted, &keys), &before);
}

#[test]
fn streams_survive_kill_9_through_the_log_one_shard() {
    streams_survive_kill_9_through_the_log(1);
}

#[test]
fn streams_survive_kill_9_through_the_log_four_shards() {
    streams_survive_kill_9_through_the_log(4);
}

/// SAVE writes a snapshot, in which every stream is recreated by the commands of
/// `peregrine_commands::stream::rebuild_stream`; more writes after it go to the log.
fn streams_survive_a_snapshot_and_its_log_tail(shards: u16) {
    let mut server = TestServer::start_with(BIN, shards, &["--appendfsync", "always"]);
    let keys = build_streams(&server);
    let before = stream_state(&server, &keys);
    assert_eq!(run::<String>(&mut server.client(), &["SAVE"]), "OK");
    // DEBUG RELOAD loads the snapshot alone.
    assert_eq!(
        run::<String>(&mut server.client(), &["DEBUG", "RELOAD"]),
        "OK"
    );
    assert_same(&stream_state(&server, &keys), &before);
    write_more(&server, &keys);
    let before = stream_state(&server, &keys);
    server.crash();
    let restarted = server.restart();
    assert_same(&stream_state(&restarted, &keys), &before);
}

#[test]
fn streams_survive_a_snapshot_and_its_log_tail_one_shard() {
    streams_survive_a_snapshot_and_its_log_tail(1);
}

#[test]
fn streams_survive_a_snapshot_and_its_log_tail_four_shards() {
    streams_survive_a_snapshot_and_its_log_tail(4);
}

// ---------------------------------------------------------------------------------------
// Against redis-server

/// The raw replies of `commands` run in order on a fresh connection to `address` after
/// FLUSHALL (HELLO's reply left out).
fn raw_replies(address: SocketAddr, commands: &[&str]) -> Vec<String> {
    let mut client = RawClient::connect(address);
    client.cmd(&["FLUSHALL"]);
    commands
        .iter()
        .filter_map(|command| {
            let args: Vec<&str> = command.split(' ').collect();
            let reply = show(&client.cmd(&args));
            (args[0] != "HELLO").then(|| format!("{command} -> {reply}"))
        })
        .collect()
}

/// XREAD and XREADGROUP replies are maps in RESP3, XINFO's too; the bytes are Redis's.
#[test]
fn resp3_replies_match_redis() {
    let Some(oracle) = RedisOracle::start("the stream RESP3 comparison") else {
        return;
    };
    let server = TestServer::start(BIN, 2);
    let commands = [
        "HELLO 3",
        "XADD s 1-0 a 1",
        "XADD s 2-0 b 2",
        "XADD t 3-0 c 3",
        "XGROUP CREATE s g 0",
        "XGROUP CREATE t g 0",
        "XREAD STREAMS s 0",
        "XREAD COUNT 1 STREAMS s t 0 0",
        "XREAD STREAMS s 5",
        "XREADGROUP GROUP g c COUNT 1 STREAMS s >",
        "XREADGROUP GROUP g c STREAMS s t 0 >",
        "XREADGROUP GROUP g c STREAMS s >",
        "XREAD BLOCK 10 STREAMS s $",
        "XREADGROUP GROUP g c BLOCK 10 STREAMS s >",
        "XDEL s 1-0",
        "XREADGROUP GROUP g c STREAMS s 0",
        "XINFO STREAM s",
        "XINFO GROUPS s",
        "XPENDING s g",
        "XPENDING s g - + 10 nobody",
        "XRANGE s - + COUNT 0",
        "XAUTOCLAIM s g d 0 0 JUSTID",
        "HELLO 2",
        "XREAD COUNT 1 STREAMS s t 0 0",
        "XINFO STREAM s",
        "XINFO GROUPS t",
    ];
    let expected = raw_replies(SocketAddr::from(([127, 0, 0, 1], oracle.port())), &commands);
    let actual = raw_replies(server.addr(), &commands);
    assert_eq!(actual.len(), expected.len());
    for (actual, expected) in actual.iter().zip(&expected) {
        assert_eq!(actual, expected);
    }
}

/// COMMAND GETKEYS finds the keys of XREAD, XREADGROUP, XGROUP and XINFO where Redis does.
#[test]
fn command_getkeys_matches_redis() {
    let Some(oracle) = RedisOracle::start("the stream COMMAND GETKEYS comparison") else {
        return;
    };
    let server = TestServer::start(BIN, 1);
    let commands = [
        "XREAD STREAMS a 0",
        "XREAD COUNT 2 BLOCK 0 STREAMS a b 0 $",
        "XREAD COUNT 1 STREAMS a b c",
        "XREADGROUP GROUP g c STREAMS a b > >",
        "XREADGROUP GROUP g c NOACK BLOCK 5 COUNT 1 STREAMS a 0",
        "XGROUP CREATE k g $ MKSTREAM",
        "XGROUP SETID k g 0",
        "XGROUP DESTROY k g",
        "XGROUP CREATECONSUMER k g c",
        "XGROUP DELCONSUMER k g c",
        "XGROUP HELP",
        "XINFO STREAM k FULL",
        "XINFO GROUPS k",
        "XINFO CONSUMERS k g",
        "XINFO HELP",
    ];
    let getkeys = |connection: &mut redis::Connection, command: &str| -> String {
        let mut getkeys = redis::cmd("COMMAND");
        getkeys
            .arg("GETKEYS")
            .arg(command.split(' ').collect::<Vec<_>>());
        match getkeys.query::<Vec<String>>(connection) {
            Ok(keys) => format!("{command}: {keys:?}"),
            Err(error) => format!("{command}: {}", error_text(&error)),
        }
    };
    let (mut ours, mut theirs) = (server.client(), oracle.client());
    for command in commands {
        assert_eq!(getkeys(&mut ours, command), getkeys(&mut theirs, command));
    }
}
