//! A Redis user's configuration habits: a stock `redis.conf` loads unchanged, every
//! parameter redis-server reports is known, `daemonize`, `pidfile` and `supervised systemd`
//! do what they do for redis-server, and settings that need a missing feature stop
//! start-up with an error naming them.

use peregrine_testkit::{ready_port, under_ci, RedisOracle, TestServer};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// The redis.conf installed with the distribution's redis-server package.
const STOCK_CONF: &str = "/etc/redis/redis.conf";

fn config_names(connection: &mut redis::Connection) -> BTreeSet<String> {
    let pairs: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("*")
        .query(connection)
        .expect("CONFIG GET *");
    pairs.chunks(2).map(|pair| pair[0].clone()).collect()
}

/// Every parameter name redis-server's CONFIG GET * lists (old aliases included),
/// Peregrine's lists too.
#[test]
fn every_parameter_redis_server_reports_is_known() {
    let Some(oracle) = RedisOracle::start("the configuration parameter comparison") else {
        return;
    };
    let server = TestServer::start(BIN, 1);
    let redis = config_names(&mut oracle.client());
    let ours = config_names(&mut server.client());
    let missing: Vec<&String> = redis.difference(&ours).collect();
    assert!(missing.is_empty(), "unknown to Peregrine: {missing:?}");
}

/// The distribution's stock redis.conf starts Peregrine, with only the paths, the port
/// and daemonizing overridden on the command line, and its values are in effect.
#[test]
fn a_stock_redis_conf_loads_unchanged() {
    if !Path::new(STOCK_CONF).exists() {
        assert!(!under_ci(), "{STOCK_CONF} is missing under CI");
        println!("the stock redis.conf test did NOT run: no {STOCK_CONF}");
        return;
    }
    let directory = tempfile::tempdir().expect("temporary directory");
    let pidfile = directory.path().join("redis.pid");
    let server = TestServer::start_with_config(
        BIN,
        Path::new(STOCK_CONF),
        1,
        &[
            "--dir",
            &directory.path().display().to_string(),
            "--daemonize",
            "no",
            "--logfile",
            "",
            "--pidfile",
            &pidfile.display().to_string(),
        ],
    );
    let mut c = server.client();
    let pong: String = redis::cmd("PING").query(&mut c).expect("PING");
    assert_eq!(pong, "PONG");
    let stock = std::fs::read_to_string(STOCK_CONF).expect("read the stock redis.conf");
    // A few plain one-value settings of the file, as CONFIG GET shows them.
    for name in [
        "tcp-backlog",
        "hz",
        "databases",
        "stop-writes-on-bgsave-error",
    ] {
        let Some(expected) = stock.lines().find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(name)).then(|| words.next().unwrap_or_default().to_owned())
        }) else {
            continue;
        };
        let pair: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(name)
            .query(&mut c)
            .expect("CONFIG GET");
        assert_eq!(pair, vec![name.to_owned(), expected], "{name}");
    }
    let written = std::fs::read_to_string(&pidfile).expect("the pid file is written");
    assert_eq!(written.trim(), server.pid().to_string());
}

/// Settings that need replication, TLS, a Unix socket or cluster mode are refused at
/// start-up with an error naming the option, not ignored.
#[test]
fn settings_needing_a_missing_feature_stop_start_up() {
    for (option, value) in [
        ("replicaof", "127.0.0.1 6380"),
        ("slaveof", "127.0.0.1 6380"),
        ("tls-port", "6380"),
        ("unixsocket", "/tmp/peregrine.sock"),
        ("cluster-enabled", "yes"),
    ] {
        let mut args = vec!["--port".to_owned(), "0".to_owned(), format!("--{option}")];
        args.extend(value.split(' ').map(str::to_owned));
        let output = Command::new(BIN)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run peregrine-server");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{option} {value}: it started");
        let named = if option == "slaveof" {
            "replicaof"
        } else {
            option
        };
        assert!(
            stderr.contains("FATAL CONFIG FILE ERROR") && stderr.contains(named),
            "{option}: {stderr}"
        );
    }
}

/// Waits for `path` to hold a line with the Ready marker; returns the port it names.
fn port_from_log(path: &Path) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(port) = log.lines().find_map(ready_port) {
            return port;
        }
        assert!(
            Instant::now() < deadline,
            "no Ready line in the log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn process_id(port: u16) -> String {
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .and_then(|client| client.get_connection())
        .expect("connect");
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query(&mut c)
        .expect("INFO");
    info.lines()
        .find_map(|line| line.strip_prefix("process_id:"))
        .expect("process_id")
        .trim()
        .to_owned()
}

fn shutdown(port: u16) {
    if let Ok(mut c) = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .and_then(|client| client.get_connection())
    {
        let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").arg("NOSAVE").query(&mut c);
    }
}

fn wait_for_removal(path: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while path.exists() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// A 1-shard server on a free port without the log, keeping its data in `directory` and
/// its log in `logfile` (where [`port_from_log`] finds the port), started by hand.
fn logging_server(directory: &Path, logfile: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["--port", "0", "--bind", "127.0.0.1", "--shards", "1"])
        .args(["--appendonly", "no", "--dir"])
        .arg(directory)
        .arg("--logfile")
        .arg(logfile)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

/// Kills the daemon named by a pid file if the test ends before shutting it down.
struct DaemonGuard<'a>(&'a Path);

impl Drop for DaemonGuard<'_> {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.0) {
            let _ = Command::new("kill").args(["-9", pid.trim()]).status();
        }
    }
}

/// Kills a child server if the test ends before it exits.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `daemonize yes`: the command returns at once, the server runs on in the background
/// with its pid in `pidfile`, and SHUTDOWN removes the pid file.
#[test]
fn daemonize_runs_in_the_background_with_a_pid_file() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let (pidfile, logfile): (PathBuf, PathBuf) = (
        directory.path().join("peregrine.pid"),
        directory.path().join("peregrine.log"),
    );
    let status = logging_server(directory.path(), &logfile)
        .args(["--daemonize", "yes", "--pidfile"])
        .arg(&pidfile)
        .status()
        .expect("run peregrine-server");
    assert!(
        status.success(),
        "the launching process exits with {status}"
    );
    let _guard = DaemonGuard(&pidfile);
    let port = port_from_log(&logfile);
    let pid = process_id(port);
    let written = std::fs::read_to_string(&pidfile).expect("the pid file is written");
    assert_eq!(written.trim(), pid);
    shutdown(port);
    assert!(
        wait_for_removal(&pidfile),
        "the pid file outlived the server"
    );
}

/// `supervised systemd`: READY=1 reaches $NOTIFY_SOCKET once the server serves, and
/// STOPPING=1 when it shuts down; `daemonize yes` is then ignored.
#[test]
fn supervised_systemd_hears_ready_and_stopping() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let socket_path = directory.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let logfile = directory.path().join("peregrine.log");
    let child = logging_server(directory.path(), &logfile)
        // daemonize has no effect under a supervisor, as in Redis: the server stays the
        // process systemd started (checked by its pid below).
        .args(["--supervised", "systemd", "--daemonize", "yes"])
        .env("NOTIFY_SOCKET", &socket_path)
        .spawn()
        .expect("run peregrine-server");
    let mut child = ChildGuard(child);
    let mut buffer = [0_u8; 256];
    let length = socket.recv(&mut buffer).expect("a notification");
    let ready = String::from_utf8_lossy(&buffer[..length]).into_owned();
    assert!(ready.lines().any(|line| line == "READY=1"), "{ready}");
    let port = port_from_log(&logfile);
    assert_eq!(process_id(port), child.0.id().to_string());
    shutdown(port);
    let length = socket.recv(&mut buffer).expect("a notification");
    assert_eq!(&buffer[..length], b"STOPPING=1\n");
    let _ = child.0.wait();
}

/// DEBUG is refused by default with redis-server's exact error (`enable-debug-command
/// no`), and runs when the option is `yes`, or `local` for a loopback client.
#[test]
fn debug_needs_enable_debug_command() {
    let Some(oracle) = RedisOracle::start("the DEBUG refusal comparison") else {
        return;
    };
    let redis_reply = {
        let mut raw = peregrine_testkit::RawClient::connect(([127, 0, 0, 1], oracle.port()).into());
        raw.cmd(&["DEBUG", "SLEEP", "0"])
    };
    assert!(redis_reply.starts_with(b"-ERR DEBUG command not allowed"));
    let refused = TestServer::start_with(BIN, 1, &["--enable-debug-command", "no"]);
    assert_eq!(refused.raw().cmd(&["DEBUG", "SLEEP", "0"]), redis_reply);
    // Inside MULTI it is refused when queued, as by Redis.
    let mut raw = refused.raw();
    assert_eq!(raw.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["DEBUG", "SLEEP", "0"]), redis_reply);
    for allowed in ["yes", "local"] {
        let server = TestServer::start_with(BIN, 1, &["--enable-debug-command", allowed]);
        assert_eq!(
            server.raw().cmd(&["DEBUG", "SLEEP", "0"]),
            b"+OK\r\n",
            "{allowed}"
        );
    }
}

/// A bind address written with a leading `-` is optional, as in Redis (the stock
/// redis.conf binds `127.0.0.1 -::1`): one this host does not have is skipped; without
/// the `-` it stops start-up.
#[test]
fn optional_bind_addresses_are_skipped_when_missing() {
    // 192.0.2.1 is TEST-NET-1: documentation only, never a host's address.
    let server = TestServer::start_with(BIN, 1, &["--bind", "127.0.0.1", "-192.0.2.1"]);
    let pong: String = redis::cmd("PING")
        .query(&mut server.client())
        .expect("PING");
    assert_eq!(pong, "PONG");
    let output = Command::new(BIN)
        .args(["--port", "0", "--bind", "127.0.0.1", "192.0.2.1"])
        .stdin(Stdio::null())
        .output()
        .expect("run peregrine-server");
    assert!(!output.status.success(), "started without 192.0.2.1");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("192.0.2.1"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `rename-command` as in Redis: the new name reaches the command (from clients, MULTI
/// and scripts), the old one is unknown, an empty new name disables it; replies are
/// byte-compared with a redis-server configured the same way, and a write made under
/// the new name survives a restart (the log holds the command's own name).
#[test]
fn rename_command_renames_and_disables() {
    let renames = [
        "--rename-command",
        "SET",
        "myset",
        "--rename-command",
        "FLUSHALL",
        "",
    ];
    let Some(redis) = RedisOracle::start_with("the rename-command comparison", &renames) else {
        return;
    };
    let redis_address: std::net::SocketAddr = ([127, 0, 0, 1], redis.port()).into();
    let mut args = renames.to_vec();
    args.extend(["--appendonly", "yes", "--appendfsync", "always"]);
    let server = TestServer::start_with(BIN, 2, &args);
    let steps: &[&[&str]] = &[
        &["SET", "k", "v"],
        &["myset", "k", "v"],
        &["MYSET", "k2", "w"],
        &["GET", "k"],
        &["FLUSHALL"],
        &["MULTI"],
        &["myset", "k3", "x"],
        &["EXEC"],
        &[
            "EVAL",
            "return redis.call('myset', KEYS[1], 'y')",
            "1",
            "k4",
        ],
        &[
            "EVAL",
            "return redis.pcall('set', KEYS[1], 'y')['err'] ~= nil",
            "1",
            "k4",
        ],
        &["MGET", "k", "k2", "k3", "k4"],
    ];
    let mut ours = server.raw();
    let mut theirs = peregrine_testkit::RawClient::connect(redis_address);
    for step in steps {
        assert_eq!(ours.cmd(step), theirs.cmd(step), "{step:?}");
    }
    drop(ours);
    let mut server = server;
    server.crash();
    let restarted = server.restart();
    let values: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&["k", "k2", "k3", "k4"])
        .query(&mut restarted.client())
        .expect("MGET");
    let expected = ["v", "w", "x", "y"].map(|value| Some(value.to_owned()));
    assert_eq!(values, expected);
}
