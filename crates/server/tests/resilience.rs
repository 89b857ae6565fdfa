//! End-to-end tests of how the server survives bad or unlucky clients: disconnects in the
//! middle of a request, garbage, clients that never read, thousands of idle connections,
//! over-long query buffers, and a command that panics. In each, another client must keep
//! getting correct replies. Tests run with 1 and 4 shards. Also how a server takes its
//! port: at once after another's, and never when another still listens there.

use peregrine_testkit::{
    encode, keys_on_shards, poll_until, raise_open_files_limit, reply_len, run, show,
    with_1_and_4_shards, RawClient, TestServer,
};
use std::io::{ErrorKind, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// A field of INFO, as text.
fn info_field(connection: &mut redis::Connection, section: &str, field: &str) -> String {
    let info: String = run(connection, &["INFO", section]);
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .map(|value| value.trim().to_owned())
        .unwrap_or_else(|| panic!("no {field} in INFO {section}:\n{info}"))
}

fn connected_clients(connection: &mut redis::Connection) -> u64 {
    info_field(connection, "clients", "connected_clients")
        .parse()
        .expect("connected_clients is a number")
}

/// Asserts the server answers a fresh client correctly, on keys of every shard.
fn assert_serving(server: &TestServer, tag: &str) {
    let mut c = server.client();
    let keys = keys_on_shards(&format!("alive:{tag}:"), 4, server.shards());
    let mut mset = vec!["MSET"];
    for key in &keys {
        mset.push(key);
        mset.push(tag);
    }
    assert_eq!(run::<String>(&mut c, &mset), "OK");
    let mut mget = vec!["MGET"];
    mget.extend(keys.iter().map(String::as_str));
    let values: Vec<String> = run(&mut c, &mget);
    assert!(values.iter().all(|value| value == tag), "{values:?}");
    assert_eq!(run::<String>(&mut c, &["PING"]), "PONG");
}

/// A tiny deterministic generator (xorshift64*), so garbage is the same on every run.
struct Bytes(u64);

impl Bytes {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn fill(&mut self, length: usize) -> Vec<u8> {
        (0..length).map(|_| self.next() as u8).collect()
    }
}

fn disconnect_mid_bulk(server: &TestServer) {
    let mut observer = server.client();
    let request = encode(&["SET", "half", &"v".repeat(100)]);
    // Cut inside the array header, the command name, the key, the value's length, the value.
    for cut in [2, 9, 18, 24, request.len() - 10, request.len() - 1] {
        let mut raw = server.raw();
        raw.send(&request[..cut]);
        raw.stream().shutdown(Shutdown::Both).unwrap();
    }
    // A client that promised a big bulk and vanished after a few bytes of it.
    let mut raw = server.raw();
    raw.send(b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$1000000\r\nabc");
    drop(raw);
    assert!(
        poll_until(Duration::from_secs(20), || connected_clients(&mut observer)
            == 1),
        "the half-sent connections were not cleaned up: connected_clients={}",
        connected_clients(&mut observer)
    );
    assert_eq!(
        run::<Option<String>>(&mut observer, &["GET", "half"]),
        None,
        "a partial command ran"
    );
    assert_serving(server, "after-mid-bulk");
}

fn disconnect_mid_pipeline(server: &TestServer) {
    let mut observer = server.client();
    // Complete commands, then half of one, then gone without reading any reply.
    let mut request = Vec::new();
    for _ in 0..2000 {
        request.extend(encode(&["INCR", "pipelined"]));
    }
    let partial = encode(&["SET", "never", "value"]);
    request.extend(&partial[..partial.len() - 4]);
    let mut raw = server.raw();
    raw.send(&request);
    drop(raw);
    // A client that reads some replies of a big pipeline, then resets the connection.
    let mut raw = server.raw();
    let mut request = Vec::new();
    for index in 0..2000 {
        request.extend(encode(&["SET", &format!("p:{index}"), &"x".repeat(200)]));
        request.extend(encode(&["GET", &format!("p:{index}")]));
    }
    raw.send(&request);
    assert_eq!(raw.read_reply(), b"+OK\r\n");
    drop(raw);
    assert!(
        poll_until(Duration::from_secs(20), || connected_clients(&mut observer)
            == 1),
        "connected_clients={}",
        connected_clients(&mut observer)
    );
    let count: i64 = run::<Option<String>>(&mut observer, &["GET", "pipelined"])
        .unwrap_or_else(|| "0".to_owned())
        .parse()
        .unwrap();
    assert!(
        (0..=2000).contains(&count),
        "INCR ran {count} times for 2000 commands"
    );
    assert_eq!(
        run::<Option<String>>(&mut observer, &["GET", "never"]),
        None,
        "a partial command ran"
    );
    assert_serving(server, "after-mid-pipeline");
}

fn garbage_gets_errors_or_a_close_and_nothing_else(server: &TestServer) {
    let mut bystander = server.raw();
    assert_eq!(bystander.cmd(&["SET", "safe", "1"]), b"+OK\r\n");
    let mut generator = Bytes(0x9e37_79b9_7f4a_7c15);
    let mut rejected = 0;
    for round in 0..40 {
        let garbage = match round % 4 {
            0 => generator.fill(512),
            // Plausible starts: a multibulk header, a bulk, an inline line.
            1 => [&b"*3\r\n$3\r\nSET\r\n"[..], &generator.fill(256)].concat(),
            2 => [&b"*2\r\n$"[..], &generator.fill(64)].concat(),
            _ => [&b"GET "[..], &generator.fill(128), b"\r\n"].concat(),
        };
        let mut raw = server.raw();
        if raw.try_send(&garbage).is_err() {
            continue;
        }
        let _ = raw.stream().shutdown(Shutdown::Write);
        let closed = raw.read_until_closed();
        // Whatever came back is a sequence of whole RESP replies.
        if closed.received.windows(5).any(|window| window == b"-ERR ") {
            rejected += 1;
        }
        let mut rest = &closed.received[..];
        while !rest.is_empty() {
            match reply_len(rest) {
                Ok(Some(length)) => rest = &rest[length..],
                other => panic!("round {round}: not RESP ({other:?}): {:?}", show(rest)),
            }
        }
        assert_eq!(
            bystander.cmd(&["GET", "safe"]),
            b"$1\r\n1\r\n",
            "round {round}"
        );
    }
    // The generator's bytes are fixed: most rounds are rejected with an error reply.
    assert!(
        rejected >= 20,
        "only {rejected} of 40 garbage rounds got an error reply"
    );
    assert_serving(server, "after-garbage");
}

fn a_client_that_never_reads_does_not_stall_others(server: &TestServer) {
    let mut setup = server.client();
    let value = "v".repeat(16 * 1024);
    assert_eq!(run::<String>(&mut setup, &["SET", "big", &value]), "OK");
    let hog = TcpStream::connect(server.addr()).unwrap();
    hog.set_write_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let request: Vec<u8> = (0..100).flat_map(|_| encode(&["GET", "big"])).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let blocked = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, blocked, written) = (stop.clone(), blocked.clone(), written.clone());
        let mut hog = hog.try_clone().unwrap();
        std::thread::spawn(move || {
            // Writes GETs forever (keeping the framing whole) and never reads.
            let mut offset = 0;
            while !stop.load(Ordering::Relaxed) {
                match hog.write(&request[offset..]) {
                    Ok(0) => break,
                    Ok(count) => {
                        written.fetch_add(count as u64, Ordering::Relaxed);
                        offset = (offset + count) % request.len();
                    }
                    Err(error)
                        if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                    {
                        blocked.store(true, Ordering::Relaxed);
                    }
                    Err(_) => break,
                }
            }
        })
    };
    // The hog's replies pile up until the server stops reading from it.
    assert!(
        poll_until(Duration::from_secs(30), || blocked.load(Ordering::Relaxed)),
        "the hog's writes never blocked ({} bytes written)",
        written.load(Ordering::Relaxed)
    );
    let mut other = server.client();
    for index in 0..200 {
        let key = format!("other:{index}");
        assert_eq!(
            run::<String>(&mut other, &["SET", &key, &index.to_string()]),
            "OK"
        );
        assert_eq!(run::<String>(&mut other, &["GET", &key]), index.to_string());
    }
    assert_eq!(
        run::<String>(&mut other, &["GET", "big"]).len(),
        value.len()
    );
    assert_serving(server, "beside-a-hog");
    // Still blocked: the server did not drop it, and it did not unblock others by luck.
    assert!(connected_clients(&mut other) >= 3);
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    drop(hog);
    assert!(
        poll_until(Duration::from_secs(20), || connected_clients(&mut other)
            <= 2),
        "the hog's connection was not released"
    );
    assert_serving(server, "after-the-hog");
}

fn over_long_query_buffer_closes_that_client(server: &TestServer) {
    let mut bystander = server.raw();
    assert_eq!(bystander.cmd(&["PING"]), b"+PONG\r\n");
    let mut greedy = server.raw();
    // A bulk far longer than the query buffer may hold, never finished.
    greedy.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000000\r\n");
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0;
    while sent < 8 << 20 {
        if greedy.try_send(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    let closed = greedy.read_until_closed();
    assert!(closed.received.is_empty(), "{:?}", show(&closed.received));
    assert_eq!(bystander.cmd(&["EXISTS", "k"]), b":0\r\n");
    assert_serving(server, "after-greedy");
}

fn maxclients_refuses_extra_connections(server: &TestServer) {
    let mut first = server.raw();
    let mut second = server.raw();
    let mut third = server.raw();
    for client in [&mut first, &mut second, &mut third] {
        assert_eq!(client.cmd(&["PING"]), b"+PONG\r\n");
    }
    let mut fourth = server.raw();
    let closed = fourth.read_until_closed();
    assert_eq!(
        show(&closed.received),
        "-ERR max number of clients reached\r\n"
    );
    assert_eq!(first.cmd(&["PING"]), b"+PONG\r\n");
    // Once one leaves, a newcomer gets in.
    drop(third);
    assert!(
        poll_until(Duration::from_secs(20), || {
            let mut newcomer = server.raw();
            newcomer.send(&encode(&["PING"]));
            newcomer
                .try_read_reply()
                .is_ok_and(|reply| reply == b"+PONG\r\n")
        }),
        "no newcomer was accepted after a client left"
    );
    assert_eq!(second.cmd(&["PING"]), b"+PONG\r\n");
    let stats = show(&first.cmd(&["INFO", "stats"]));
    assert!(!stats.contains("\r\nrejected_connections:0\r\n"), "{stats}");
}

fn a_panicking_command_is_answered_with_an_error(server: &TestServer) {
    let mut raw = server.raw();
    let mut bystander = server.client();
    assert_eq!(run::<String>(&mut bystander, &["SET", "before", "1"]), "OK");
    assert_eq!(info_field(&mut bystander, "stats", "command_panics"), "0");
    let reply = show(&raw.cmd(&["DEBUG", "PANIC-IN-COMMAND"]));
    assert!(reply.starts_with("-ERR "), "{reply:?}");
    assert!(
        reply.ends_with("\r\n") && reply.lines().count() == 1,
        "{reply:?}"
    );
    assert_eq!(info_field(&mut bystander, "stats", "command_panics"), "1");
    // The same connection goes on, in order, in a pipeline too.
    raw.send(
        &[
            encode(&["PING"]),
            encode(&["DEBUG", "PANIC-IN-COMMAND"]),
            encode(&["GET", "before"]),
        ]
        .concat(),
    );
    assert_eq!(raw.read_reply(), b"+PONG\r\n");
    assert!(raw.read_reply().starts_with(b"-ERR "));
    assert_eq!(raw.read_reply(), b"$1\r\n1\r\n");
    assert_eq!(info_field(&mut bystander, "stats", "command_panics"), "2");
    assert_eq!(run::<String>(&mut bystander, &["GET", "before"]), "1");
    assert_serving(server, "after-panic");
}

with_1_and_4_shards! {
    bin = BIN;
    disconnect_mid_bulk,
    disconnect_mid_pipeline,
    garbage_gets_errors_or_a_close_and_nothing_else,
    a_client_that_never_reads_does_not_stall_others,
    over_long_query_buffer_closes_that_client ["--client-query-buffer-limit", "1mb"],
    maxclients_refuses_extra_connections ["--maxclients", "3"],
    a_panicking_command_is_answered_with_an_error,
}

/// 10,000 idle connections, then commands on every shard are still served.
fn ten_thousand_idle_connections(shards: u16) {
    const IDLE: usize = 10_000;
    // The two variants would need twice the file descriptors side by side: one at a time.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let limit = raise_open_files_limit(IDLE as u64 + 1024);
    assert!(
        limit >= IDLE as u64 + 256,
        "this test needs {} open files; the hard limit allows {limit}",
        IDLE + 256
    );
    let server = TestServer::start_with(BIN, shards, &["--maxclients", "10100"]);
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(TcpStream::connect(server.addr()).expect("connect"));
    }
    let mut c = server.client();
    assert!(
        poll_until(Duration::from_secs(60), || connected_clients(&mut c)
            == IDLE as u64 + 1),
        "connected_clients={}",
        connected_clients(&mut c)
    );
    assert_serving(&server, "among-idle");
    // A few of the idle ones wake up and are served too.
    for stream in idle.iter().step_by(997) {
        let mut raw = RawClient::from_stream(stream.try_clone().unwrap());
        assert_eq!(raw.cmd(&["PING"]), b"+PONG\r\n");
    }
    drop(idle);
    assert!(
        poll_until(Duration::from_secs(60), || connected_clients(&mut c) == 1),
        "connected_clients={}",
        connected_clients(&mut c)
    );
    assert_serving(&server, "after-idle");
}

#[test]
fn ten_thousand_idle_connections_one_shard() {
    ten_thousand_idle_connections(1);
}

#[test]
fn ten_thousand_idle_connections_four_shards() {
    ten_thousand_idle_connections(4);
}

/// Whether a TCP socket on 127.0.0.1:`port` is in TIME_WAIT (/proc/net/tcp state 06).
fn time_wait_on(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("read /proc/net/tcp");
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).any(|line| {
        let mut fields = line.split_whitespace().skip(1);
        fields.next() == Some(local.as_str()) && fields.nth(1) == Some("06")
    })
}

/// A server started right after another program's server stopped on the same port, while
/// that one's closed connections still linger in TIME_WAIT (as when Peregrine replaces a
/// redis-server, or restarts under a supervisor), listens at once, as redis-server does.
#[test]
fn a_port_left_in_time_wait_can_be_listened_on_at_once() {
    let previous = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = previous.local_addr().expect("local address").port();
    let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let (accepted, _) = previous.accept().expect("accept");
    // The server side closes first, so its end of the connection waits out TIME_WAIT.
    drop(accepted);
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut client, &mut rest).expect("read to the close");
    drop(client);
    drop(previous);
    assert!(
        poll_until(Duration::from_secs(5), || time_wait_on(port)),
        "no TIME_WAIT socket on port {port}: the test would prove nothing"
    );
    // The second start also comes right after the first server was killed, whose
    // listener the kernel may still be closing.
    for shards in [1, 4] {
        let server = TestServer::start_with(BIN, shards, &["--port", &port.to_string()]);
        assert_eq!(server.port(), port);
        assert_serving(&server, &format!("time-wait-{shards}"));
    }
}

/// A second server on a port another one listens on refuses to start, as redis-server
/// does, rather than sharing the connections with it; the first keeps serving them all.
#[test]
fn a_second_server_on_a_taken_port_refuses_to_start() {
    for shards in [1, 4] {
        let first = TestServer::start(BIN, shards);
        let port = first.port().to_string();
        let second =
            std::panic::catch_unwind(|| TestServer::start_with(BIN, shards, &["--port", &port]));
        let Err(failure) = second else {
            panic!("a second server started on port {port}, taken by the first");
        };
        let message = failure
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(
            message.contains("Address already in use"),
            "unexpected failure: {message}"
        );
        // Every new connection reaches the first server.
        for _ in 0..8 {
            let pid = info_field(&mut first.client(), "server", "process_id");
            assert_eq!(pid, first.pid().to_string());
        }
        assert_serving(&first, &format!("taken-{shards}"));
    }
}
