//! WAIT and WAITAOF: replies and errors as Redis's, and WAITAOF's promise kept: a write
//! it acknowledged survives `kill -9` under `appendfsync everysec` and `no`.

use peregrine_testkit::{run, run_err, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

#[test]
fn wait_counts_no_replicas() {
    let server = TestServer::start(BIN, 2);
    let mut connection = server.client();
    assert_eq!(run::<i64>(&mut connection, &["WAIT", "0", "0"]), 0);
    assert_eq!(run::<i64>(&mut connection, &["WAIT", "1", "50"]), 0);
    for (words, text) in [
        (
            &["WAIT", "x", "0"][..],
            "value is not an integer or out of range",
        ),
        (
            &["WAIT", "0", "x"][..],
            "timeout is not an integer or out of range",
        ),
        (&["WAIT", "0", "-1"][..], "timeout is negative"),
        (
            &["WAITAOF", "2", "0", "0"][..],
            "value must between 0 and 1",
        ),
        (&["WAITAOF", "0", "-1", "0"][..], "must be positive"),
        (&["WAITAOF", "0", "0", "-5"][..], "timeout is negative"),
    ] {
        let reply = run_err(&mut connection, words);
        assert!(reply.contains(text), "{words:?}: {reply}");
    }
    // Inside a transaction neither blocks.
    let replies: Vec<redis::Value> = redis::pipe()
        .atomic()
        .cmd("WAIT")
        .arg(1)
        .arg(0)
        .cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut connection)
        .unwrap();
    assert_eq!(replies[0], redis::Value::Int(0));
}

#[test]
fn waitaof_refuses_numlocal_without_a_log() {
    let server = TestServer::start_with(BIN, 1, &["--appendonly", "no"]);
    let mut connection = server.client();
    let reply = run_err(&mut connection, &["WAITAOF", "1", "0", "0"]);
    assert!(
        reply.contains("WAITAOF cannot be used when numlocal is set but appendonly is disabled"),
        "{reply}"
    );
    let acks: Vec<i64> = run(&mut connection, &["WAITAOF", "0", "0", "0"]);
    assert_eq!(acks, [0, 0]);
}

/// Writes acknowledged by WAITAOF 1 are on disk: a crash right after loses none of them.
fn acknowledged_writes_survive_a_crash(fsync: &str) {
    let mut server = TestServer::start_with(BIN, 2, &["--appendfsync", fsync]);
    let mut connection = server.client();
    for index in 0..200 {
        let _: () = run(&mut connection, &["SET", &format!("key:{index}"), "v"]);
    }
    let acks: Vec<i64> = run(&mut connection, &["WAITAOF", "1", "0", "0"]);
    assert_eq!(acks, [1, 0]);
    server.crash();
    let restarted = server.restart();
    let size: i64 = run(&mut restarted.client(), &["DBSIZE"]);
    assert_eq!(size, 200, "appendfsync {fsync}");
}

#[test]
fn waitaof_acknowledged_writes_survive_kill_9_everysec() {
    acknowledged_writes_survive_a_crash("everysec");
}

#[test]
fn waitaof_acknowledged_writes_survive_kill_9_no() {
    acknowledged_writes_survive_a_crash("no");
}
