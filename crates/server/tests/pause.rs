//! CLIENT PAUSE and UNPAUSE: a WRITE pause holds writes (and what follows them in a
//! pipeline) on every core while reads go on, an ALL pause holds everything, UNPAUSE or
//! the timeout releases them, and the errors are Redis's.

use peregrine_testkit::{encode, poll_until, run, run_err, TestServer};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// Whether CLIENT LIST shows a client waiting (flag `b`) other than the one asking.
fn someone_waits(connection: &mut redis::Connection) -> bool {
    let list: String = run(connection, &["CLIENT", "LIST"]);
    list.lines().any(|line| {
        line.split(' ').any(|field| {
            field
                .strip_prefix("flags=")
                .is_some_and(|flags| flags.contains('b'))
        })
    })
}

#[test]
fn a_write_pause_holds_writes_until_unpause() {
    let server = TestServer::start(BIN, 2);
    let mut admin = server.client();
    let _: () = run(&mut admin, &["MSET", "a", "1", "b", "1"]);
    let _: () = run(&mut admin, &["CLIENT", "PAUSE", "60000", "WRITE"]);
    let mut writer = server.raw();
    let mut request = encode(&["GET", "a"]);
    request.extend(encode(&["SET", "a", "2"]));
    request.extend(encode(&["SET", "b", "2"]));
    writer.send(&request);
    // The read before the write is answered; the writes wait.
    assert_eq!(writer.read_reply(), b"$1\r\n1\r\n");
    assert!(poll_until(Duration::from_secs(10), || someone_waits(
        &mut admin
    )));
    let value: String = run(&mut admin, &["GET", "a"]);
    assert_eq!(value, "1", "a held write did not run");
    let _: () = run(&mut admin, &["CLIENT", "UNPAUSE"]);
    assert_eq!(
        writer.read_replies(2),
        [b"+OK\r\n".to_vec(), b"+OK\r\n".to_vec()]
    );
    let values: Vec<String> = run(&mut admin, &["MGET", "a", "b"]);
    assert_eq!(values, ["2", "2"]);
}

#[test]
fn an_all_pause_holds_reads_until_it_ends() {
    let server = TestServer::start(BIN, 2);
    let mut admin = server.client();
    let _: () = run(&mut admin, &["SET", "a", "1"]);
    let mut reader = server.raw();
    let _: () = run(&mut admin, &["CLIENT", "PAUSE", "500", "ALL"]);
    reader.send(&encode(&["GET", "a"]));
    // Released by the timeout.
    assert_eq!(reader.read_reply(), b"$1\r\n1\r\n");
    let value: String = run(&mut admin, &["GET", "a"]);
    assert_eq!(value, "1");
}

#[test]
fn pause_errors_are_redis_errors() {
    let server = TestServer::start(BIN, 1);
    let mut connection = server.client();
    for (words, text) in [
        (
            &["CLIENT", "PAUSE", "100", "foo"][..],
            "CLIENT PAUSE mode must be WRITE or ALL",
        ),
        (
            &["CLIENT", "PAUSE", "x"][..],
            "timeout is not an integer or out of range",
        ),
        (&["CLIENT", "PAUSE", "-1"][..], "timeout is negative"),
        (
            &["CLIENT", "PAUSE", "10", "write", "extra"][..],
            "unknown subcommand or wrong number of arguments for 'pause'",
        ),
        (
            &["CLIENT", "UNPAUSE", "x"][..],
            "wrong number of arguments for 'client|unpause'",
        ),
    ] {
        let error = run_err(&mut connection, words);
        assert!(error.contains(text), "{words:?}: {error}");
    }
}

/// Keys past their deadline are not expired by the expiry cycle while a pause holds; the
/// cycle removes them once it ends.
#[test]
fn a_pause_holds_active_expiry() {
    let server = TestServer::start(BIN, 2);
    let mut connection = server.client();
    let mut pipeline = redis::pipe();
    for index in 0..200 {
        pipeline
            .cmd("SET")
            .arg(format!("key:{index}"))
            .arg("v")
            .arg("PX")
            .arg(300)
            .ignore();
    }
    pipeline
        .cmd("CLIENT")
        .arg("PAUSE")
        .arg(60000)
        .arg("WRITE")
        .ignore();
    let _: () = pipeline.query(&mut connection).unwrap();
    // The keys' deadline passes, then ten expiry cycles (hz 10); none may remove a key.
    std::thread::sleep(Duration::from_millis(1300));
    let size: i64 = run(&mut connection, &["DBSIZE"]);
    assert_eq!(size, 200, "keys expired during the pause");
    let _: () = run(&mut connection, &["CLIENT", "UNPAUSE"]);
    assert!(poll_until(Duration::from_secs(10), || {
        run::<i64>(&mut connection, &["DBSIZE"]) == 0
    }));
}
