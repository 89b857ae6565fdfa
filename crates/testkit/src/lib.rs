//! Test support for Peregrine's end-to-end suites.
//!
//! What it owns:
//! * [`TestServer`]: a `peregrine-server` child process on a free loopback port
//!   (`--port 0`), returned once the server logged that every shard listens. Its
//!   stdout and stderr are drained into an in-memory log (printed when a test panics);
//!   the process is killed through its `Child` handle on drop.
//! * [`RawClient`]: a plain TCP client that writes arbitrary bytes and reads back exactly
//!   one complete RESP2/RESP3 reply at a time ([`reply_len`] does the framing), for
//!   wire-level assertions.
//! * Lookup of the Redis tools (`redis-server`, `redis-cli`, `redis-benchmark`) on
//!   `PATH`, with the suite's policy for missing tools ([`required_tool`]).
//! * [`node`]: npm dependencies pinned by a lock file, and node processes with time
//!   limits, for suites that drive a real client library.
//!
//! Invariants: no fixed ports and no sleeps to wait for readiness; every blocking read
//! has a timeout ([`IO_TIMEOUT`]), so a hung server fails a test instead of hanging it.
//!
//! It is not: a Redis client library (tests use the `redis` crate for meaning and
//! [`RawClient`] for framing), or a model of the server's semantics.

pub mod node;
pub mod scenario;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long any single read from a server may block before the test fails.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a server may take to log its Ready line.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// The text the server logs once every shard listens.
const READY_MARKER: &str = "Ready to accept connections tcp port=";

/// A running `peregrine-server` on a free loopback port, killed when dropped.
pub struct TestServer {
    child: Child,
    port: u16,
    shards: u16,
    log: Arc<Mutex<String>>,
    drains: Vec<JoinHandle<()>>,
    /// The data directory this server was given (`--dir`), a fresh temporary one unless
    /// the arguments name one; kept for restarts and removed with the last user.
    data: Arc<DataDir>,
    launch: Launch,
}

/// A server's data directory: temporary (removed on drop) or the caller's.
#[derive(Debug)]
pub enum DataDir {
    /// Created for the server, removed when dropped.
    Temporary(tempfile::TempDir),
    /// Named by the test with `--dir`.
    Given(PathBuf),
}

impl DataDir {
    /// The directory.
    pub fn path(&self) -> &Path {
        match self {
            DataDir::Temporary(dir) => dir.path(),
            DataDir::Given(path) => path,
        }
    }
}

/// How a server was started, to start it again the same way.
#[derive(Clone, Debug)]
struct Launch {
    bin: PathBuf,
    config_file: Option<PathBuf>,
    args: Vec<String>,
}

impl Launch {
    /// The server's command line with `shards` shards on a free loopback port.
    fn command(&self, shards: u16) -> Command {
        let mut command = Command::new(&self.bin);
        if let Some(file) = &self.config_file {
            command.arg(file);
        }
        command
            // Tests use DEBUG (RELOAD, SLEEP, POPULATE ...); Redis's default refuses it.
            .args(["--enable-debug-command", "local"])
            .args(["--port", "0", "--bind", "127.0.0.1", "--shards"])
            .arg(shards.to_string())
            .args(&self.args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        command
    }
}

impl TestServer {
    /// Starts `bin` with `shards` shards on a free port of 127.0.0.1 and returns once it
    /// accepts connections. Panics (with the server's output) when it does not start.
    pub fn start(bin: impl AsRef<Path>, shards: u16) -> TestServer {
        TestServer::start_with(bin, shards, &[])
    }

    /// As [`TestServer::start`], with extra command-line arguments
    /// (e.g. `&["--requirepass", "secret"]`).
    pub fn start_with(bin: impl AsRef<Path>, shards: u16, extra_args: &[&str]) -> TestServer {
        TestServer::launch(bin.as_ref(), None, shards, extra_args)
    }

    /// As [`TestServer::start_with`], with a redis.conf-style file given first (as
    /// `redis-server` takes it); the port, bind and shard flags and `extra_args` override it.
    pub fn start_with_config(
        bin: impl AsRef<Path>,
        config_file: &Path,
        shards: u16,
        extra_args: &[&str],
    ) -> TestServer {
        TestServer::launch(bin.as_ref(), Some(config_file), shards, extra_args)
    }

    fn launch(
        bin: &Path,
        config_file: Option<&Path>,
        shards: u16,
        extra_args: &[&str],
    ) -> TestServer {
        let data = match extra_args.iter().position(|arg| *arg == "--dir") {
            Some(at) => DataDir::Given(PathBuf::from(
                extra_args.get(at + 1).copied().unwrap_or("."),
            )),
            None => DataDir::Temporary(
                tempfile::tempdir()
                    .unwrap_or_else(|error| panic!("can't create a data directory: {error}")),
            ),
        };
        let mut args: Vec<String> = extra_args.iter().map(|arg| (*arg).to_owned()).collect();
        if let DataDir::Temporary(dir) = &data {
            args.push("--dir".to_owned());
            args.push(dir.path().display().to_string());
        }
        let launch = Launch {
            bin: bin.to_path_buf(),
            config_file: config_file.map(Path::to_path_buf),
            args,
        };
        TestServer::spawn(launch, shards, Arc::new(data))
    }

    /// Starts the same server again (same binary, arguments and data directory) after
    /// [`TestServer::crash`] or [`TestServer::stop`].
    pub fn restart(&self) -> TestServer {
        TestServer::spawn(self.launch.clone(), self.shards, self.data.clone())
    }

    /// As [`TestServer::restart`], with a different shard count and extra arguments.
    pub fn restart_with(&self, shards: u16, extra_args: &[&str]) -> TestServer {
        let mut launch = self.launch.clone();
        launch
            .args
            .extend(extra_args.iter().map(|arg| (*arg).to_owned()));
        TestServer::spawn(launch, shards, self.data.clone())
    }

    /// Starts the same binary on this server's data directory and returns its exit status
    /// and output, expecting it to refuse to start.
    pub fn start_expecting_failure(
        &self,
        extra_args: &[&str],
    ) -> (std::process::ExitStatus, String) {
        let output = self
            .launch
            .command(self.shards)
            .args(extra_args)
            .output()
            .unwrap_or_else(|error| panic!("can't start {}: {error}", self.launch.bin.display()));
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        (output.status, text)
    }

    /// Kills the server with SIGKILL (no chance to flush anything) and waits for it.
    pub fn crash(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.join_drains();
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    fn spawn(launch: Launch, shards: u16, data: Arc<DataDir>) -> TestServer {
        let bin = launch.bin.as_path();
        let extra_args: Vec<&str> = launch.args.iter().map(String::as_str).collect();
        let extra_args = extra_args.as_slice();
        let mut command = launch.command(shards);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("can't start {}: {error}", bin.display()));
        let log = Arc::new(Mutex::new(String::new()));
        let (ready_sender, ready_receiver) = mpsc::channel::<u16>();
        let mut drains = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            drains.push(drain(stdout, log.clone(), Some(ready_sender)));
        }
        if let Some(stderr) = child.stderr.take() {
            drains.push(drain(stderr, log.clone(), None));
        }
        let mut server = TestServer {
            child,
            port: 0,
            shards,
            log,
            drains,
            data,
            launch: launch.clone(),
        };
        match ready_receiver.recv_timeout(STARTUP_TIMEOUT) {
            Ok(port) => server.port = port,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                "{} did not log its Ready line within {STARTUP_TIMEOUT:?}; output:\n{}",
                bin.display(),
                server.log()
            ),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Stdout closed before the Ready line: the process exited.
                let status = server.child.wait().ok();
                server.join_drains();
                panic!(
                    "{} {:?} exited before it was ready (status {status:?}); output:\n{}",
                    bin.display(),
                    extra_args,
                    server.log()
                );
            }
        }
        server
    }

    /// The TCP port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its address, 127.0.0.1:port.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port))
    }

    /// The number of shards it was started with.
    pub fn shards(&self) -> u16 {
        self.shards
    }

    /// `redis://127.0.0.1:port/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A RESP2 `redis` connection (read timeout [`IO_TIMEOUT`]).
    pub fn client(&self) -> redis::Connection {
        self.client_from_url(&self.url())
    }

    /// A RESP3 `redis` connection (the client sends HELLO 3 on connect).
    pub fn client_resp3(&self) -> redis::Connection {
        self.client_from_url(&format!("{}?protocol=resp3", self.url()))
    }

    /// A `redis` connection for `url` (which may carry a password or a protocol), with
    /// the read and write timeouts set. Panics with the server log on failure.
    pub fn client_from_url(&self, url: &str) -> redis::Connection {
        let connection = redis::Client::open(url)
            .and_then(|client| client.get_connection_with_timeout(IO_TIMEOUT))
            .unwrap_or_else(|error| {
                panic!(
                    "can't connect to {url}: {error}; server output:\n{}",
                    self.log()
                )
            });
        connection
            .set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|()| connection.set_write_timeout(Some(IO_TIMEOUT)))
            .unwrap_or_else(|error| panic!("can't set timeouts: {error}"));
        connection
    }

    /// A raw TCP connection for byte-level tests.
    pub fn raw(&self) -> RawClient {
        RawClient::connect(self.addr())
    }

    /// Everything the server wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|log| log.clone()).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The process id (for /proc inspection).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn join_drains(&mut self) {
        for handle in self.drains.drain(..) {
            let _ = handle.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.join_drains();
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines
                .get(lines.len().saturating_sub(200)..)
                .unwrap_or_default();
            eprintln!(
                "---- peregrine-server (port {}, {} shards) output, last {} lines ----\n{}\n---- end of server output ----",
                self.port,
                self.shards,
                tail.len(),
                tail.join("\n")
            );
        }
    }
}

/// Copies `stream` line by line into `log` until it closes; on `ready`, reports the port
/// from the Ready line. Draining keeps the server from blocking on a full pipe.
fn drain(
    stream: impl Read + Send + 'static,
    log: Arc<Mutex<String>>,
    ready: Option<mpsc::Sender<u16>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut ready = ready;
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&line);
            if let Ok(mut log) = log.lock() {
                // Bound the memory a chatty server can take.
                if log.len() < 16 << 20 {
                    log.push_str(&text);
                    if !text.ends_with('\n') {
                        log.push('\n');
                    }
                }
            }
            if let Some(port) = ready_port(&text) {
                if let Some(sender) = ready.take() {
                    let _ = sender.send(port);
                }
            }
        }
    })
}

/// The port in a `Ready to accept connections tcp port=<PORT> shards=<N>` log line.
pub fn ready_port(line: &str) -> Option<u16> {
    let rest = &line[line.find(READY_MARKER)? + READY_MARKER.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|&port| port != 0)
}

/// A raw TCP client: write any bytes, read whole RESP replies.
pub struct RawClient {
    stream: TcpStream,
    buffer: Vec<u8>,
}

/// What [`RawClient::read_until_closed`] observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The bytes received before the connection closed.
    pub received: Vec<u8>,
}

impl RawClient {
    /// Connects to `address` with [`IO_TIMEOUT`] read and write timeouts.
    pub fn connect(address: SocketAddr) -> RawClient {
        let stream = TcpStream::connect_timeout(&address, IO_TIMEOUT)
            .unwrap_or_else(|error| panic!("can't connect to {address}: {error}"));
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
            .and_then(|()| stream.set_nodelay(true))
            .unwrap_or_else(|error| panic!("can't configure the socket: {error}"));
        RawClient {
            stream,
            buffer: Vec::new(),
        }
    }

    /// Wraps an already connected stream, setting the same timeouts as
    /// [`RawClient::connect`].
    pub fn from_stream(stream: TcpStream) -> RawClient {
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
            .and_then(|()| stream.set_nodelay(true))
            .unwrap_or_else(|error| panic!("can't configure the socket: {error}"));
        RawClient {
            stream,
            buffer: Vec::new(),
        }
    }

    /// The underlying stream (for shutdown, timeouts, or splitting).
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Writes `bytes` (all of them).
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|error| panic!("write failed: {error}"));
    }

    /// Writes `bytes`, returning the error instead of panicking.
    pub fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Sends one command as a RESP array of bulk strings.
    pub fn send_command(&mut self, args: &[&[u8]]) {
        self.send(&encode_command(args));
    }

    /// Reads exactly one complete reply (RESP2 or RESP3) and returns its bytes.
    /// Panics when the connection closes first or [`IO_TIMEOUT`] passes.
    pub fn read_reply(&mut self) -> Vec<u8> {
        match self.try_read_reply() {
            Ok(reply) => reply,
            Err(error) => panic!(
                "no complete reply: {error}; received so far: {:?}",
                String::from_utf8_lossy(&self.buffer)
            ),
        }
    }

    /// Reads one complete reply, or says why none came.
    pub fn try_read_reply(&mut self) -> std::io::Result<Vec<u8>> {
        loop {
            match reply_len(&self.buffer) {
                Ok(Some(length)) => {
                    let rest = self.buffer.split_off(length);
                    return Ok(std::mem::replace(&mut self.buffer, rest));
                }
                Ok(None) => {}
                Err(reason) => {
                    return Err(std::io::Error::new(ErrorKind::InvalidData, reason));
                }
            }
            let mut chunk = [0u8; 64 * 1024];
            let read = self.stream.read(&mut chunk)?;
            if read == 0 {
                return Err(std::io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ));
            }
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }

    /// Reads `count` replies and returns each one's bytes.
    pub fn read_replies(&mut self, count: usize) -> Vec<Vec<u8>> {
        (0..count).map(|_| self.read_reply()).collect()
    }

    /// Writes `bytes` and reads one reply.
    pub fn send_and_read(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.send(bytes);
        self.read_reply()
    }

    /// Sends one command (as a RESP array) and reads its reply.
    pub fn command(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send_command(args);
        self.read_reply()
    }

    /// As [`RawClient::command`], for text arguments.
    pub fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(|arg| arg.as_bytes()).collect();
        self.command(&args)
    }

    /// Reads until the server closes the connection (EOF or reset) and returns what
    /// arrived before. Panics if it is still open after [`IO_TIMEOUT`].
    pub fn read_until_closed(&mut self) -> Closed {
        let mut received = std::mem::take(&mut self.buffer);
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Closed { received },
                Ok(read) => received.extend_from_slice(&chunk[..read]),
                Err(error)
                    if matches!(
                        error.kind(),
                        ErrorKind::ConnectionReset
                            | ErrorKind::ConnectionAborted
                            | ErrorKind::BrokenPipe
                    ) =>
                {
                    return Closed { received }
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => panic!(
                    "the connection did not close: {error}; received: {:?}",
                    String::from_utf8_lossy(&received)
                ),
            }
        }
    }

    /// Bytes received but not yet returned as a reply.
    pub fn buffered(&self) -> &[u8] {
        &self.buffer
    }
}

/// Encodes a command as a RESP array of bulk strings.
pub fn encode_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// As [`encode_command`], for text arguments.
pub fn encode(args: &[&str]) -> Vec<u8> {
    let args: Vec<&[u8]> = args.iter().map(|arg| arg.as_bytes()).collect();
    encode_command(&args)
}

/// The length of the first complete RESP2/RESP3 reply in `buffer`: `Ok(None)` when more
/// bytes are needed, `Err` when the bytes are not RESP.
pub fn reply_len(buffer: &[u8]) -> Result<Option<usize>, String> {
    frame_end(buffer, 0, 0)
}

/// Where the reply starting at `start` ends (exclusive).
fn frame_end(buffer: &[u8], start: usize, depth: usize) -> Result<Option<usize>, String> {
    if depth > 64 {
        return Err("replies nested deeper than 64".to_owned());
    }
    let Some(&kind) = buffer.get(start) else {
        return Ok(None);
    };
    let Some(line_end) = find_crlf(buffer, start + 1) else {
        return Ok(None);
    };
    let header = &buffer[start + 1..line_end];
    let after = line_end + 2;
    let number = || -> Result<i64, String> {
        std::str::from_utf8(header)
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| {
                format!(
                    "bad length {:?} after {:?}",
                    String::from_utf8_lossy(header),
                    kind as char
                )
            })
    };
    match kind {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Ok(Some(after)),
        b'$' | b'!' | b'=' => {
            let length = number()?;
            if length < 0 {
                return Ok(Some(after));
            }
            let end = after + length as usize + 2;
            if buffer.len() < end {
                return Ok(None);
            }
            if &buffer[end - 2..end] != b"\r\n" {
                return Err("a bulk string not followed by CRLF".to_owned());
            }
            Ok(Some(end))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let count = number()?;
            if count < 0 {
                return Ok(Some(after));
            }
            let elements = if matches!(kind, b'%' | b'|') {
                count * 2
            } else {
                count
            };
            let mut position = after;
            for _ in 0..elements {
                match frame_end(buffer, position, depth + 1)? {
                    Some(end) => position = end,
                    None => return Ok(None),
                }
            }
            if kind == b'|' {
                // An attribute precedes the reply it annotates.
                return frame_end(buffer, position, depth + 1);
            }
            Ok(Some(position))
        }
        other => Err(format!("unknown RESP type byte {:?}", other as char)),
    }
}

fn find_crlf(buffer: &[u8], from: usize) -> Option<usize> {
    buffer
        .get(from..)?
        .windows(2)
        .position(|pair| pair == b"\r\n")
        .map(|offset| from + offset)
}

/// Looks `program` up in the directories of `PATH`.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|directory| directory.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .map(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// `redis-server` on `PATH`.
pub fn redis_server() -> Option<PathBuf> {
    find_program("redis-server")
}

/// `redis-cli` on `PATH`.
pub fn redis_cli() -> Option<PathBuf> {
    find_program("redis-cli")
}

/// `redis-benchmark` on `PATH`.
pub fn redis_benchmark() -> Option<PathBuf> {
    find_program("redis-benchmark")
}

/// A loopback port that was free a moment ago (bound on port 0, then released), for a
/// server a test starts by hand.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A real redis-server on a free loopback port (no persistence), the oracle of
/// comparison tests; killed when dropped.
pub struct RedisOracle {
    child: Child,
    port: u16,
}

impl RedisOracle {
    /// Starts redis-server, or returns `None` (after [`required_tool`]'s note, or its panic
    /// under CI) when it is not installed.
    pub fn start(what: &str) -> Option<RedisOracle> {
        RedisOracle::start_with(what, &[])
    }

    /// As [`RedisOracle::start`], with extra command-line arguments (e.g.
    /// `&["--rename-command", "SET", "myset"]`).
    pub fn start_with(what: &str, extra_args: &[&str]) -> Option<RedisOracle> {
        let binary = required_tool("redis-server", what)?;
        let port = free_port();
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let oracle = RedisOracle { child, port };
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while !answers_ping(port) {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        Some(oracle)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new connection to it.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .and_then(|client| client.get_connection())
            .expect("connect to redis-server")
    }

    /// Sends `requests` on one connection to it and one to `peregrine`, each after
    /// `HELLO protocol`, and asserts that every reply of Peregrine is redis-server's byte
    /// for byte (a mismatch shows the bytes around its first difference). Returns
    /// Peregrine's replies, in order.
    pub fn assert_same_replies<R: AsRef<[S]>, S: AsRef<str>>(
        &self,
        peregrine: &TestServer,
        protocol: &str,
        requests: &[R],
    ) -> Vec<Vec<u8>> {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut replies = Vec::new();
        for mut raw in [RawClient::connect(address), peregrine.raw()] {
            raw.cmd(&["HELLO", protocol]);
            let sent: Vec<Vec<u8>> = requests
                .iter()
                .map(|request| {
                    let args: Vec<&str> = request.as_ref().iter().map(AsRef::as_ref).collect();
                    raw.cmd(&args)
                })
                .collect();
            replies.push(sent);
        }
        let ours = replies.pop().unwrap_or_default();
        for ((theirs, ours), request) in replies[0].iter().zip(&ours).zip(requests) {
            let at = theirs
                .iter()
                .zip(ours)
                .position(|(a, b)| a != b)
                .unwrap_or(theirs.len().min(ours.len()));
            let near = |reply: &[u8]| show(&reply[at.saturating_sub(60)..reply.len().min(at + 60)]);
            let request: Vec<&str> = request.as_ref().iter().map(AsRef::as_ref).collect();
            assert!(
                theirs == ours,
                "RESP{protocol} {request:?}: redis {} ({} bytes), peregrine {} ({} bytes)",
                near(theirs),
                theirs.len(),
                near(ours),
                ours.len()
            );
        }
        ours
    }
}

impl Drop for RedisOracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when a server on `port` of 127.0.0.1 answers PING with +PONG. A successful
/// connect alone proves nothing: a connect to a free port of the ephemeral range can pick
/// that same port as its source and connect the socket to itself.
pub fn answers_ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

/// Whether the suite runs under CI (`CI=true`), where a missing tool is a failure.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}

/// `program` from `PATH`, applying the suite's policy when it is missing: under CI
/// (`CI=true`) panic; otherwise print a note saying what did not run and return `None`.
pub fn required_tool(program: &str, what: &str) -> Option<PathBuf> {
    if let Some(path) = find_program(program) {
        return Some(path);
    }
    assert!(
        !under_ci(),
        "{program} not found on PATH, and CI=true: {what} must run"
    );
    println!("{what} did NOT run: {program} not found");
    None
}

/// Calls `condition` every few milliseconds until it is true or `limit` passes; returns
/// whether it became true. For waiting on server-side time (expiry), never readiness.
pub fn poll_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The number of clients blocked in a blocking command (INFO's `blocked_clients`).
pub fn blocked_clients(server: &TestServer) -> u64 {
    let info: String = run(&mut server.client(), &["INFO", "clients"]);
    info.lines()
        .find_map(|line| line.strip_prefix("blocked_clients:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits until exactly `count` clients are blocked (the way to know that a blocking
/// command is parked before writing what wakes it); panics after [`IO_TIMEOUT`].
pub fn await_blocked(server: &TestServer, count: u64) {
    assert!(
        poll_until(IO_TIMEOUT, || blocked_clients(server) == count),
        "expected {count} blocked clients, INFO says {}",
        blocked_clients(server)
    );
}

/// Runs `args` on a fresh connection in a thread (for a command that blocks); the handle
/// yields the reply. The connection's reads time out after [`IO_TIMEOUT`], so a wake-up
/// that never comes fails the test.
pub fn spawn_command(
    server: &TestServer,
    args: &[&str],
) -> JoinHandle<redis::RedisResult<redis::Value>> {
    let mut connection = server.client();
    let command = command(args);
    std::thread::spawn(move || command.query(&mut connection))
}

/// Raises this process's soft RLIMIT_NOFILE to at least `wanted` (bounded by the hard
/// limit) and returns the soft limit in force afterwards.
pub fn raise_open_files_limit(wanted: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < wanted {
            let raised = libc::rlimit {
                rlim_cur: wanted.min(limit.rlim_max),
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = raised.rlim_cur;
            }
        }
        limit.rlim_cur
    }
}

/// `count` distinct keys (no hash tags) such that key `i` lives on shard
/// `i % shard_count` of a `shard_count`-shard server, by the server's own mapping
/// ([`peregrine_shard::ShardId::for_key`]). Key `i` starts with `{prefix}{i}.`.
pub fn keys_on_shards(prefix: &str, count: usize, shard_count: u16) -> Vec<String> {
    let shard_count = shard_count.max(1);
    (0..count)
        .map(|index| {
            let shard = (index % usize::from(shard_count)) as u16;
            key_on_shard(&format!("{prefix}{index}."), shard, shard_count)
        })
        .collect()
}

/// The first key `{prefix}{n}` (n = 0, 1, ...) that lives on `shard` of a
/// `shard_count`-shard server.
pub fn key_on_shard(prefix: &str, shard: u16, shard_count: u16) -> String {
    assert!(
        shard < shard_count.max(1),
        "there is no shard {shard} of {shard_count}"
    );
    (0u64..)
        .map(|number| format!("{prefix}{number}"))
        .find(|key| peregrine_shard::ShardId::for_key(key.as_bytes(), shard_count).0 == shard)
        .unwrap_or_default()
}

/// Runs `args` through the `redis` crate and converts the reply; panics (naming the
/// command) when the server answers with an error.
pub fn run<T: redis::FromRedisValue>(connection: &mut redis::Connection, args: &[&str]) -> T {
    command(args)
        .query(connection)
        .unwrap_or_else(|error| panic!("{args:?} failed: {error}"))
}

/// Runs `args`, which must fail, and returns the error's wire text.
pub fn run_err(connection: &mut redis::Connection, args: &[&str]) -> String {
    match command(args).query::<redis::Value>(connection) {
        Ok(value) => panic!("{args:?} succeeded with {value:?}, expected an error"),
        Err(error) => error_text(&error),
    }
}

fn command(args: &[&str]) -> redis::Cmd {
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    command
}

/// A server error from the `redis` crate as its wire text (`ERR no such key`).
pub fn error_text(error: &redis::RedisError) -> String {
    match (error.code(), error.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_owned(),
        _ => error.to_string(),
    }
}

/// Text of a reply for assertion messages.
pub fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs each named test body against a 1-shard and a 4-shard server (STYLE.md: "each
/// suite run with 1 and with 4 shards"). For every `name` listed, the caller's
/// `fn name(server: &TestServer)` becomes the tests `name::one_shard` and
/// `name::four_shards`; `bin` is the server binary
/// (`env!("CARGO_BIN_EXE_peregrine-server")`), and `name ["--flag", "value"]` passes extra
/// server arguments.
///
/// ```text
/// fn ping_answers(server: &TestServer) {
///     assert_eq!(server.raw().cmd(&["PING"]), b"+PONG\r\n");
/// }
///
/// fn auth_is_required(server: &TestServer) {
///     assert!(server.raw().cmd(&["GET", "k"]).starts_with(b"-NOAUTH"));
/// }
///
/// peregrine_testkit::with_1_and_4_shards! {
///     bin = env!("CARGO_BIN_EXE_peregrine-server");
///     ping_answers,
///     auth_is_required ["--requirepass", "secret"],
/// }
/// ```
#[macro_export]
macro_rules! with_1_and_4_shards {
    (bin = $bin:expr; $( $name:ident $([$($arg:expr),* $(,)?])? ),* $(,)?) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[test]
                fn one_shard() {
                    super::$name(&$crate::TestServer::start_with($bin, 1, &[$($($arg),*)?]));
                }

                #[test]
                fn four_shards() {
                    super::$name(&$crate::TestServer::start_with($bin, 4, &[$($($arg),*)?]));
                }
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_lines_give_the_port() {
        assert_eq!(
            ready_port(
                "2026-01-01T00:00:00Z  INFO Ready to accept connections tcp port=41234 shards=4\n"
            ),
            Some(41234)
        );
        assert_eq!(ready_port("INFO starting: pid=1, shards=4, port=0"), None);
        assert_eq!(
            ready_port("Ready to accept connections tcp port=0 shards=1"),
            None
        );
    }

    #[test]
    fn framing_finds_whole_replies() {
        assert_eq!(reply_len(b"+OK\r\n"), Ok(Some(5)));
        assert_eq!(reply_len(b"+OK\r"), Ok(None));
        assert_eq!(reply_len(b"$3\r\nabc\r\n+PONG\r\n"), Ok(Some(9)));
        assert_eq!(reply_len(b"$3\r\nab"), Ok(None));
        assert_eq!(reply_len(b"$-1\r\n"), Ok(Some(5)));
        assert_eq!(reply_len(b"*2\r\n:1\r\n$1\r\nx\r\n"), Ok(Some(15)));
        assert_eq!(reply_len(b"*2\r\n:1\r\n"), Ok(None));
        assert_eq!(reply_len(b"%1\r\n+a\r\n_\r\n"), Ok(Some(11)));
        assert_eq!(reply_len(b"|1\r\n+a\r\n+b\r\n:1\r\n"), Ok(Some(16)));
        assert_eq!(reply_len(b"=7\r\ntxt:abc\r\n"), Ok(Some(13)));
        assert!(reply_len(b"?what\r\n").is_err());
        assert!(reply_len(b"$x\r\n").is_err());
    }

    #[test]
    fn commands_encode_as_bulk_arrays() {
        assert_eq!(encode(&["GET", "k"]), b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
        assert_eq!(encode_command(&[b"a\r\n"]), b"*1\r\n$3\r\na\r\n\r\n");
    }

    #[test]
    fn polling_stops_when_true_or_late() {
        let mut calls = 0;
        assert!(poll_until(Duration::from_secs(5), || {
            calls += 1;
            calls == 3
        }));
        assert!(!poll_until(Duration::from_millis(20), || false));
    }

    #[test]
    fn unknown_programs_are_not_found() {
        assert_eq!(find_program("peregrine-no-such-program"), None);
    }
}
