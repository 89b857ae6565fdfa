//! Test support: an in-memory host, a tiny executor, and a redis-server oracle.

#![allow(dead_code)]

use bytes::Bytes;
use peregrine_resp::{Protocol, Reply};
use peregrine_script::{
    errors, EngineLimits, HostCall, LogLevel, ScriptEngine, ScriptHost, ScriptRegistry, Tick,
};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// Values of the test host's keyspace.
#[derive(Clone)]
pub enum Value {
    String(Bytes),
    List(Vec<Bytes>),
    Hash(Vec<(Bytes, Bytes)>),
}

/// A host with a few commands over a map; `pending` answers through futures that are
/// not ready at first poll (as a command on another core).
#[derive(Default)]
pub struct TestHost {
    pub data: RefCell<HashMap<Bytes, Value>>,
    pub pending: bool,
    pub kill_after_ticks: Option<u32>,
    /// From this tick on (and until a kill), `tick` answers [`Tick::Yield`].
    pub yield_after_ticks: Option<u32>,
    pub ticks: Cell<u32>,
    pub logs: RefCell<Vec<(LogLevel, Vec<u8>)>>,
    pub panic_on_call: bool,
}

impl TestHost {
    fn execute(&self, argv: &[Bytes]) -> Reply {
        let name = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
        let arity = |n: usize| argv.len() == n;
        let mut data = self.data.borrow_mut();
        match name.as_str() {
            "ping" if arity(1) => Reply::status("PONG"),
            "set" if arity(3) => {
                data.insert(argv[1].clone(), Value::String(argv[2].clone()));
                Reply::Ok
            }
            "get" if arity(2) => match data.get(&argv[1]) {
                None => Reply::Nil,
                Some(Value::String(value)) => Reply::Bulk(value.clone()),
                Some(_) => Reply::error(
                    "WRONGTYPE Operation against a key holding the wrong kind of value",
                ),
            },
            "del" if argv.len() >= 2 => Reply::Integer(
                argv[1..]
                    .iter()
                    .filter(|key| data.remove(*key).is_some())
                    .count() as i64,
            ),
            "incr" if arity(2) => {
                let current = match data.get(&argv[1]) {
                    None => 0,
                    Some(Value::String(value)) => match std::str::from_utf8(value)
                        .ok()
                        .and_then(|v| v.parse::<i64>().ok())
                    {
                        Some(number) => number,
                        None => return Reply::error("ERR value is not an integer or out of range"),
                    },
                    Some(_) => {
                        return Reply::error(
                            "WRONGTYPE Operation against a key holding the wrong kind of value",
                        )
                    }
                };
                data.insert(
                    argv[1].clone(),
                    Value::String(Bytes::from((current + 1).to_string())),
                );
                Reply::Integer(current + 1)
            }
            "rpush" if argv.len() >= 3 => {
                let entry = data
                    .entry(argv[1].clone())
                    .or_insert_with(|| Value::List(Vec::new()));
                let Value::List(list) = entry else {
                    return Reply::error(
                        "WRONGTYPE Operation against a key holding the wrong kind of value",
                    );
                };
                list.extend(argv[2..].iter().cloned());
                Reply::Integer(list.len() as i64)
            }
            "lrange" if arity(4) => match data.get(&argv[1]) {
                None => Reply::Array(vec![]),
                Some(Value::List(list)) => Reply::bulk_array(list.iter().map(|item| item.as_ref())),
                Some(_) => Reply::error(
                    "WRONGTYPE Operation against a key holding the wrong kind of value",
                ),
            },
            "hset" if argv.len() >= 4 && argv.len().is_multiple_of(2) => {
                let entry = data
                    .entry(argv[1].clone())
                    .or_insert_with(|| Value::Hash(Vec::new()));
                let Value::Hash(hash) = entry else {
                    return Reply::error(
                        "WRONGTYPE Operation against a key holding the wrong kind of value",
                    );
                };
                let mut added = 0;
                for pair in argv[2..].chunks(2) {
                    match hash.iter_mut().find(|(field, _)| field == &pair[0]) {
                        Some(existing) => existing.1 = pair[1].clone(),
                        None => {
                            hash.push((pair[0].clone(), pair[1].clone()));
                            added += 1;
                        }
                    }
                }
                Reply::Integer(added)
            }
            "hgetall" if arity(2) => match data.get(&argv[1]) {
                None => Reply::Map(vec![]),
                Some(Value::Hash(hash)) => Reply::Map(
                    hash.iter()
                        .map(|(f, v)| (Reply::Bulk(f.clone()), Reply::Bulk(v.clone())))
                        .collect(),
                ),
                Some(_) => Reply::error(
                    "WRONGTYPE Operation against a key holding the wrong kind of value",
                ),
            },
            "ping" | "set" | "get" | "del" | "incr" | "rpush" | "lrange" | "hset" | "hgetall" => {
                Reply::error(errors::WRONG_ARITY)
            }
            _ => Reply::error(errors::UNKNOWN_COMMAND),
        }
    }
}

/// A future that is pending once, then ready.
struct YieldOnce(Option<Reply>, bool);

impl Future for YieldOnce {
    type Output = Reply;
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reply> {
        if !self.1 {
            self.1 = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(self.0.take().unwrap())
    }
}

impl ScriptHost for TestHost {
    fn call(&self, argv: Vec<Bytes>) -> HostCall {
        if self.panic_on_call {
            panic!("host panics");
        }
        let reply = self.execute(&argv);
        if self.pending {
            HostCall::Pending(Box::pin(YieldOnce(Some(reply), false)))
        } else {
            HostCall::Ready(reply)
        }
    }

    fn tick(&self, _elapsed: Duration) -> Tick {
        self.ticks.set(self.ticks.get() + 1);
        let reached = |limit: Option<u32>| limit.is_some_and(|limit| self.ticks.get() >= limit);
        if reached(self.kill_after_ticks) {
            Tick::Kill
        } else if reached(self.yield_after_ticks) {
            Tick::Yield
        } else {
            Tick::Continue
        }
    }

    fn log(&self, level: LogLevel, message: &[u8]) {
        self.logs.borrow_mut().push((level, message.to_vec()));
    }
}

/// Counts its wake-ups.
#[derive(Default)]
struct WakeCounter(AtomicUsize);

impl Wake for WakeCounter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Polls `future` to completion on this thread; returns it and how often it was pending.
/// Panics when the future is pending without having woken its waker since it was polled,
/// which a real executor would never poll again.
pub fn block_on<F: Future>(future: F) -> (F::Output, usize) {
    let mut future = pin!(future);
    let counter = Arc::new(WakeCounter::default());
    let waker = Waker::from(counter.clone());
    let mut context = Context::from_waker(&waker);
    let mut pending = 0;
    loop {
        let wakes = counter.0.load(Ordering::Relaxed);
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return (output, pending);
        }
        assert!(
            counter.0.load(Ordering::Relaxed) > wakes,
            "the future is pending and will never be woken"
        );
        pending += 1;
    }
}

/// An engine over a fresh registry, with a fresh host.
pub struct Fixture {
    pub engine: ScriptEngine,
    pub host: Rc<TestHost>,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with(EngineLimits::default(), TestHost::default())
    }

    pub fn with(limits: EngineLimits, host: TestHost) -> Fixture {
        let registry = Arc::new(ScriptRegistry::new());
        Fixture {
            engine: ScriptEngine::new(registry, limits).unwrap(),
            host: Rc::new(host),
        }
    }

    pub fn eval_args(&self, body: &str, keys: &[&str], args: &[&str]) -> Reply {
        let to_bytes = |items: &[&str]| {
            items
                .iter()
                .map(|item| Bytes::copy_from_slice(item.as_bytes()))
                .collect::<Vec<_>>()
        };
        block_on(self.engine.eval(
            self.host.clone(),
            Bytes::copy_from_slice(body.as_bytes()),
            &to_bytes(keys),
            &to_bytes(args),
        ))
        .0
    }

    pub fn eval(&self, body: &str) -> Reply {
        self.eval_args(body, &[], &[])
    }

    pub fn fcall(&self, name: &str, keys: &[&str], args: &[&str]) -> Reply {
        let to_bytes = |items: &[&str]| {
            items
                .iter()
                .map(|item| Bytes::copy_from_slice(item.as_bytes()))
                .collect::<Vec<_>>()
        };
        block_on(self.engine.call_function(
            self.host.clone(),
            name.as_bytes(),
            &to_bytes(keys),
            &to_bytes(args),
        ))
        .0
    }

    /// The RESP2 bytes of `eval(body)`.
    pub fn eval_wire(&self, body: &str) -> Vec<u8> {
        self.eval(body).to_bytes(Protocol::Resp2)
    }
}

/// A redis-server on a free port, stopped on drop; `None` (with a message) if missing.
pub struct Oracle {
    child: std::process::Child,
    pub port: u16,
}

impl Oracle {
    pub fn start() -> Option<Oracle> {
        let path = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let Some(path) = path else {
            eprintln!("redis-server not installed: skipping the differential test");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = std::process::Command::new(path)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .ok()?;
        for _ in 0..200 {
            // A PONG, not a connect: a connect to a free ephemeral port can connect the
            // socket to itself.
            if peregrine_testkit::answers_ping(port) {
                return Some(Oracle { child, port });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Sends one command and returns the raw reply bytes.
    pub fn raw(&self, args: &[&[u8]]) -> Vec<u8> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg);
            request.extend_from_slice(b"\r\n");
        }
        stream.write_all(&request).unwrap();
        let mut reply = Vec::new();
        let mut buffer = [0u8; 65536];
        loop {
            let read = stream.read(&mut buffer).unwrap();
            reply.extend_from_slice(&buffer[..read]);
            if read == 0 || complete(&reply) {
                return reply;
            }
        }
    }

    pub fn eval(&self, body: &str) -> Vec<u8> {
        self.raw(&[b"EVAL", body.as_bytes(), b"0"])
    }
}

/// True when `bytes` hold one whole RESP2 reply.
fn complete(bytes: &[u8]) -> bool {
    fn skip(bytes: &[u8]) -> Option<usize> {
        let end = bytes.windows(2).position(|w| w == b"\r\n")?;
        let line = std::str::from_utf8(&bytes[1..end]).ok()?;
        match bytes[0] {
            b'$' => {
                let length: i64 = line.parse().ok()?;
                if length < 0 {
                    Some(end + 2)
                } else {
                    (bytes.len() >= end + 2 + length as usize + 2)
                        .then_some(end + 4 + length as usize)
                }
            }
            b'*' => {
                let count: i64 = line.parse().ok()?;
                let mut used = end + 2;
                for _ in 0..count.max(0) {
                    used += skip(&bytes[used..])?;
                }
                Some(used)
            }
            _ => Some(end + 2),
        }
    }
    skip(bytes) == Some(bytes.len())
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
