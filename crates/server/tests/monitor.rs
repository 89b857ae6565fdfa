//! MONITOR as redis-cli's `monitor` shows it: the same lines as redis-server for the
//! same commands (keyed ones run on either shard, a multi-shard MSET, a transaction, a
//! script and its calls, secrets redacted, administrative commands hidden), to every
//! monitoring client whichever core it is on.

use peregrine_testkit::{run, run_err, RawClient, RedisOracle, TestServer};
use redis::Value;
use std::net::SocketAddr;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// Monitoring clients per server: with two shards, some land on each core.
const MONITORS: usize = 4;

/// A monitor line without its time and the client's port:
/// `[0 127.0.0.1] "set" "k" "v"`.
fn normalized(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply);
    let line = text
        .strip_prefix('+')
        .and_then(|rest| rest.strip_suffix("\r\n"))
        .unwrap_or_else(|| panic!("not a status line: {text:?}"));
    let (_time, rest) = line.split_once(' ').expect("a time first");
    match rest.split_once(']') {
        Some((who, args)) => {
            let who = who.rsplit_once(':').map_or(who, |(host, _port)| host);
            format!("{who}]{args}")
        }
        None => rest.to_owned(),
    }
}

/// What `MONITORS` clients see of one fixed sequence of commands, up to `ECHO end`.
fn monitored(address: SocketAddr, mut connection: redis::Connection) -> Vec<Vec<String>> {
    let mut monitors: Vec<RawClient> = (0..MONITORS)
        .map(|_| {
            let mut monitor = RawClient::connect(address);
            assert_eq!(monitor.cmd(&["MONITOR"]), b"+OK\r\n");
            monitor
        })
        .collect();
    run::<Value>(
        &mut connection,
        &[
            "EVAL",
            "redis.call('set', KEYS[1], '1'); return redis.call('get', KEYS[1])",
            "1",
            "x",
        ],
    );
    run::<Value>(&mut connection, &["SET", "a b", "x\ny\"\x01\u{7f}"]);
    for index in 0..6 {
        run::<Value>(&mut connection, &["INCR", &format!("counter:{index}")]);
    }
    run::<Value>(&mut connection, &["MSET", "a", "1", "b", "2", "c", "3"]);
    run::<Value>(&mut connection, &["CONFIG", "GET", "maxmemory"]);
    run::<Value>(&mut connection, &["CLIENT", "SETNAME", "someone"]);
    run::<Value>(&mut connection, &["CLIENT", "LIST"]);
    run_err(&mut connection, &["AUTH", "secret"]);
    run::<Value>(&mut connection, &["SELECT", "3"]);
    run::<Value>(&mut connection, &["LPUSH", "list", "item"]);
    run::<Value>(&mut connection, &["BLPOP", "list", "0.1"]);
    let _: Vec<redis::Value> = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("{t}q")
        .arg("1")
        .cmd("GET")
        .arg("{t}q")
        .query(&mut connection)
        .unwrap();
    run_err(&mut connection, &["GET"]);
    run_err(&mut connection, &["NOSUCHCOMMAND"]);
    run::<Value>(&mut connection, &["ECHO", "end"]);
    monitors
        .iter_mut()
        .map(|monitor| {
            let mut lines = Vec::new();
            loop {
                let line = normalized(&monitor.read_reply());
                let done = line.ends_with("\"ECHO\" \"end\"");
                lines.push(line);
                if done {
                    break lines;
                }
            }
        })
        .collect()
}

#[test]
fn monitors_see_what_redis_server_shows() {
    let Some(oracle) = RedisOracle::start("the MONITOR comparison") else {
        return;
    };
    let server = TestServer::start(BIN, 2);
    let address: SocketAddr = format!("127.0.0.1:{}", oracle.port()).parse().unwrap();
    let expected = monitored(address, oracle.client()).swap_remove(0);
    assert!(expected.contains(&"[0 lua] \"set\" \"x\" \"1\"".to_owned()));
    assert!(expected.contains(&"[0 127.0.0.1] \"AUTH\" \"(redacted)\"".to_owned()));
    for (index, lines) in monitored(server.addr(), server.client()).iter().enumerate() {
        assert_eq!(
            lines, &expected,
            "monitor {index}: Peregrine, then redis-server"
        );
    }
}

/// A monitoring client is flagged `O` in CLIENT LIST; once it leaves, commands go on.
#[test]
fn monitors_come_and_go() {
    let server = TestServer::start(BIN, 2);
    let mut monitor = server.raw();
    assert_eq!(monitor.cmd(&["MONITOR"]), b"+OK\r\n");
    let mut connection = server.client();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut connection)
        .unwrap();
    assert!(
        list.lines().any(|line| line.contains(" flags=O ")),
        "{list}"
    );
    drop(monitor);
    for index in 0..20 {
        run::<Value>(&mut connection, &["SET", &format!("key:{index}"), "v"]);
    }
    let value: String = redis::cmd("GET")
        .arg("key:7")
        .query(&mut connection)
        .unwrap();
    assert_eq!(value, "v");
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut connection)
        .unwrap();
    assert!(
        !list.lines().any(|line| line.contains(" flags=O ")),
        "{list}"
    );
}
