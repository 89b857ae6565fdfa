//! The closed loop: connections, pipelines, replies and the tally.
//!
//! Each load thread owns a contiguous share of the connections and serves them in
//! round-robin order with blocking sockets: it reads every reply of the pipeline in
//! flight on a connection, then at once writes that connection's next pipeline, and
//! moves on to the next connection. So every connection always has one pipeline in
//! flight (a closed loop, like memtier_benchmark), and the thread makes one `write`
//! and about one `read` per pipeline, with no polling. The server sees the requests
//! in the order it answers them, so the round-robin read order rarely waits on one
//! connection while another's reply is ready; when it does, the wait is counted in
//! the later connection's latency, as a client's own delay would be.
//!
//! A request is one SET or GET, or with `--sequence` every command of the sequence.
//! Its latency runs from just before its pipeline's `write` to the end of the `read`
//! that completed its (last) reply.
//!
//! It is not a general client: one pipeline's replies must fit the socket buffers
//! while its requests are being written (true for any sensible `--pipeline` and
//! `--data-size`), and replies are only told apart by kind, not checked.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};

use crate::histogram::Histogram;
use crate::keys::KeySampler;
use crate::options::{Options, Ratio};
use crate::prng::Prng;
use crate::reader::{read_replies, REPLY_TIMEOUT};
use crate::resp::{encode_get, encode_set, ReplyKind};
use crate::sequence::Sequence;

/// Initial size of a thread's read buffer; it grows to hold the largest reply.
const READ_BUFFER: usize = 64 * 1024;

/// What a run measured.
#[derive(Debug, Default)]
pub struct Report {
    /// Latency of every request.
    pub latencies: Histogram,
    /// SET replies received (errors included).
    pub sets: u64,
    /// GET replies received (errors included).
    pub gets: u64,
    /// GETs answered with a value.
    pub get_hits: u64,
    /// GETs answered with nil.
    pub get_misses: u64,
    /// Replies of any kind: one per request, or per command of a sequence.
    pub replies: u64,
    /// Error replies, and replies of a type the command never returns.
    pub errors: u64,
    /// The first such reply, for the diagnostics.
    pub first_error: Option<String>,
    /// From the first request to the last reply.
    pub elapsed: Duration,
}

impl Report {
    /// Requests answered: each reply records one latency.
    pub fn completed(&self) -> u64 {
        self.latencies.len()
    }

    /// Requests answered per second of the run.
    pub fn ops_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.completed() as f64 / seconds
        } else {
            0.0
        }
    }

    /// The one-line `key=value` summary printed by the tool.
    pub fn summary(&self) -> String {
        let milliseconds = |quantile| self.latencies.percentile(quantile).as_secs_f64() * 1e3;
        format!(
            "ops_per_sec={:.0} p50_ms={:.3} p99_ms={:.3} p999_ms={:.3} sets={} gets={} \
             get_hits={} get_misses={} errors={} requests={} replies={} elapsed_s={:.3}",
            self.ops_per_second(),
            milliseconds(0.50),
            milliseconds(0.99),
            milliseconds(0.999),
            self.sets,
            self.gets,
            self.get_hits,
            self.get_misses,
            self.errors,
            self.completed(),
            self.replies,
            self.elapsed.as_secs_f64(),
        )
    }

    fn merge(&mut self, other: Report) {
        self.latencies.merge(&other.latencies);
        self.sets += other.sets;
        self.gets += other.gets;
        self.get_hits += other.get_hits;
        self.get_misses += other.get_misses;
        self.replies += other.replies;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// Runs the load described by `options` and returns what it measured.
pub fn run(options: &Options) -> anyhow::Result<Report> {
    let address = resolve(&options.host, options.port)?;
    let sampler = KeySampler::new(options.key_pattern, options.key_range).ok_or_else(|| {
        anyhow!(
            "--key-pattern {} cannot cover this key range",
            options.key_pattern
        )
    })?;
    let workload = Workload {
        sampler,
        key_prefix: options.key_prefix.as_bytes().to_vec(),
        value: value_of_size(options.data_size),
        pipeline: options.pipeline,
        ratio: options.ratio,
        sequence: options.sequence.clone(),
    };

    let mut connections = Vec::with_capacity(options.clients);
    for (index, plan) in plan_connections(options).into_iter().enumerate() {
        let stream = TcpStream::connect(address)
            .with_context(|| format!("connection {index} to {address}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
        connections.push(Connection::new(stream, plan));
    }

    let mut report = Report::default();
    let started = Instant::now();
    let outcomes: Vec<thread::Result<anyhow::Result<Report>>> = thread::scope(|scope| {
        let workload = &workload;
        let handles: Vec<_> = split_evenly(connections, options.threads)
            .into_iter()
            .map(|share| scope.spawn(move || drive(share, workload)))
            .collect();
        handles.into_iter().map(|handle| handle.join()).collect()
    });
    report.elapsed = started.elapsed();
    for outcome in outcomes {
        let tally = outcome.map_err(|_| anyhow!("a load thread panicked"))??;
        report.merge(tally);
    }
    if report.completed() != options.requests {
        bail!(
            "{} of {} requests were answered",
            report.completed(),
            options.requests
        );
    }
    Ok(report)
}

pub(crate) fn resolve(host: &str, port: u16) -> anyhow::Result<SocketAddr> {
    (host, port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host}"))?
        .next()
        .ok_or_else(|| anyhow!("{host} resolves to no address"))
}

/// A value of `size` bytes: a repeating, printable pattern.
pub(crate) fn value_of_size(size: usize) -> Vec<u8> {
    b"0123456789abcdefghijklmnopqrstuvwxyz"
        .iter()
        .copied()
        .cycle()
        .take(size)
        .collect()
}

/// Read-only description of the requests, shared by every thread.
struct Workload {
    sampler: KeySampler,
    key_prefix: Vec<u8>,
    value: Vec<u8>,
    pipeline: usize,
    ratio: Ratio,
    /// Sent as each request instead of a SET or GET.
    sequence: Option<Sequence>,
}

/// One connection's share of the run, fixed before it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ConnectionPlan {
    /// Requests it sends.
    requests: u64,
    /// Seed of its key generator.
    seed: u64,
    /// Where its slice of the range starts, for pattern `P`: the requests of the
    /// connections before it, so that the slices tile the range.
    sequence_start: u64,
}

/// Splits `options.requests` over the connections, the remainder going to the first
/// ones, and gives each a seed drawn from `options.seed`.
fn plan_connections(options: &Options) -> Vec<ConnectionPlan> {
    let clients = options.clients as u64;
    let base = options.requests / clients;
    let extra = options.requests % clients;
    let mut seeds = Prng::new(options.seed);
    let mut sequence_start = 0u64;
    (0..clients)
        .map(|index| {
            let requests = base + u64::from(index < extra);
            let plan = ConnectionPlan {
                requests,
                seed: seeds.next_u64(),
                sequence_start,
            };
            sequence_start = sequence_start.wrapping_add(requests);
            plan
        })
        .collect()
}

/// Splits `items` into `parts` contiguous runs whose lengths differ by at most one.
fn split_evenly<T>(items: Vec<T>, parts: usize) -> Vec<Vec<T>> {
    let parts = parts.max(1);
    let base = items.len() / parts;
    let extra = items.len() % parts;
    let mut items = items.into_iter();
    (0..parts)
        .map(|part| {
            items
                .by_ref()
                .take(base + usize::from(part < extra))
                .collect()
        })
        .collect()
}

/// Which command a reply in flight answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Set,
    Get,
    /// Command `index` (from 0) of the sequence; `last` ends its request.
    Step {
        index: usize,
        last: bool,
    },
}

impl Command {
    /// Whether its reply completes a request, and so records a latency.
    fn ends_request(self) -> bool {
        match self {
            Self::Set | Self::Get => true,
            Self::Step { last, .. } => last,
        }
    }
}

struct Connection {
    stream: TcpStream,
    /// Requests not yet sent.
    unsent: u64,
    /// Requests sent so far: the position in the SET:GET cycle.
    sent: u64,
    prng: Prng,
    /// Pattern `P`'s position in the range.
    cursor: u64,
    /// The replies the pipeline in flight awaits, in order; empty when nothing is.
    in_flight: Vec<Command>,
    /// When the pipeline in flight was written.
    sent_at: Instant,
}

impl Connection {
    fn new(stream: TcpStream, plan: ConnectionPlan) -> Self {
        Self {
            stream,
            unsent: plan.requests,
            sent: 0,
            prng: Prng::new(plan.seed),
            cursor: plan.sequence_start,
            in_flight: Vec::new(),
            sent_at: Instant::now(),
        }
    }

    /// Writes the next pipeline: up to `workload.pipeline` requests.
    fn send_pipeline(
        &mut self,
        workload: &Workload,
        out: &mut Vec<u8>,
        scratch: &mut Scratch,
    ) -> io::Result<()> {
        out.clear();
        self.in_flight.clear();
        let count = u64::try_from(workload.pipeline)
            .map_or(self.unsent, |pipeline| pipeline.min(self.unsent));
        let Ratio { sets, gets } = workload.ratio;
        // Options never hold 0:0; the guard keeps the modulo defined regardless.
        let cycle = (u64::from(sets) + u64::from(gets)).max(1);
        let key = &mut scratch.key;
        for _ in 0..count {
            let number = workload.sampler.next_key(&mut self.prng, &mut self.cursor);
            key.clear();
            key.extend_from_slice(&workload.key_prefix);
            write!(key, "{number}")?;
            if let Some(sequence) = &workload.sequence {
                sequence.encode(out, key, &mut scratch.arguments);
                let commands = sequence.len();
                self.in_flight
                    .extend((0..commands).map(|index| Command::Step {
                        index,
                        last: index + 1 == commands,
                    }));
            } else if self.sent % cycle < u64::from(sets) {
                encode_set(out, key, &workload.value);
                self.in_flight.push(Command::Set);
            } else {
                encode_get(out, key);
                self.in_flight.push(Command::Get);
            }
            self.sent += 1;
        }
        self.unsent -= count;
        self.sent_at = Instant::now();
        self.stream.write_all(out)
    }

    /// Reads every reply of the pipeline in flight and tallies it.
    fn receive(&mut self, buffer: &mut Vec<u8>, tally: &mut Report) -> anyhow::Result<()> {
        let Self {
            stream,
            in_flight,
            sent_at,
            ..
        } = self;
        let mut commands = in_flight.iter().copied();
        read_replies(stream, buffer, in_flight.len(), |kind, reply, read_at| {
            let command = commands.next().unwrap_or(Command::Get);
            if command.ends_request() {
                tally
                    .latencies
                    .record(read_at.saturating_duration_since(*sent_at));
            }
            tally.count(command, kind, reply);
            Ok(())
        })?;
        in_flight.clear();
        Ok(())
    }
}

impl Report {
    /// Counts one reply to `command`.
    fn count(&mut self, command: Command, kind: ReplyKind, reply: &[u8]) {
        let expected = match (command, kind) {
            (Command::Set, ReplyKind::Simple) => true,
            (Command::Get, ReplyKind::Bulk) => {
                self.get_hits += 1;
                true
            }
            (Command::Get, ReplyKind::Nil) => {
                self.get_misses += 1;
                true
            }
            (
                Command::Set | Command::Get,
                ReplyKind::Error
                | ReplyKind::Integer
                | ReplyKind::Array
                | ReplyKind::Simple
                | ReplyKind::Bulk
                | ReplyKind::Nil
                | ReplyKind::Push
                | ReplyKind::Scalar,
            ) => false,
            // Any command may be in a sequence: only an error reply is unexpected.
            (Command::Step { .. }, ReplyKind::Error) => false,
            (
                Command::Step { .. },
                ReplyKind::Integer
                | ReplyKind::Array
                | ReplyKind::Simple
                | ReplyKind::Bulk
                | ReplyKind::Nil
                | ReplyKind::Push
                | ReplyKind::Scalar,
            ) => true,
        };
        match command {
            Command::Set => self.sets += 1,
            Command::Get => self.gets += 1,
            Command::Step { .. } => {}
        }
        self.replies += 1;
        if !expected {
            self.errors += 1;
            if self.first_error.is_none() {
                let text = String::from_utf8_lossy(reply.get(..200).unwrap_or(reply));
                let name = match command {
                    Command::Set => "SET".to_owned(),
                    Command::Get => "GET".to_owned(),
                    Command::Step { index, .. } => format!("sequence command {}", index + 1),
                };
                self.first_error = Some(format!("{name}: {}", text.trim_end()));
            }
        }
    }
}

/// Buffers a thread reuses to build requests.
#[derive(Default)]
struct Scratch {
    /// The request's key.
    key: Vec<u8>,
    /// A sequence command's arguments, the key substituted.
    arguments: Vec<Vec<u8>>,
}

/// One thread's loop over its connections, until each has sent all its requests
/// and read all its replies.
fn drive(mut connections: Vec<Connection>, workload: &Workload) -> anyhow::Result<Report> {
    let mut tally = Report::default();
    let mut out = Vec::new();
    let mut scratch = Scratch::default();
    let mut buffer = vec![0; READ_BUFFER];
    for connection in &mut connections {
        if connection.unsent > 0 {
            connection.send_pipeline(workload, &mut out, &mut scratch)?;
        }
    }
    loop {
        let mut busy = false;
        for connection in &mut connections {
            if connection.in_flight.is_empty() {
                continue;
            }
            busy = true;
            connection.receive(&mut buffer, &mut tally)?;
            if connection.unsent > 0 {
                connection.send_pipeline(workload, &mut out, &mut scratch)?;
            }
        }
        if !busy {
            return Ok(tally);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpListener;

    use super::*;
    use crate::keys::KeyPattern;
    use crate::options::{parse, Invocation};

    fn options(line: &str) -> Options {
        match parse(line.split_whitespace().map(str::to_owned)) {
            Ok(Invocation::Run(options)) => options,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn requests_are_split_with_the_remainder_first() {
        let plans = plan_connections(&options("--port 1 --clients 4 --requests 10"));
        let requests: Vec<u64> = plans.iter().map(|plan| plan.requests).collect();
        assert_eq!(requests, [3, 3, 2, 2]);
        let starts: Vec<u64> = plans.iter().map(|plan| plan.sequence_start).collect();
        assert_eq!(starts, [0, 3, 6, 8]);
        let mut seeds: Vec<u64> = plans.iter().map(|plan| plan.seed).collect();
        seeds.dedup();
        assert_eq!(seeds.len(), 4);
        assert_eq!(
            plans,
            plan_connections(&options("--port 1 --clients 4 --requests 10"))
        );
    }

    #[test]
    fn sequential_preload_touches_every_key_once() {
        // 7 connections over 100 keys: the slices must tile the range.
        let options =
            options("--port 1 --clients 7 --requests 100 --key-minimum 1 --key-maximum 100");
        let sampler = KeySampler::new(KeyPattern::Sequential, options.key_range).expect("valid");
        let mut keys: Vec<u64> = plan_connections(&options)
            .into_iter()
            .flat_map(|plan| {
                let mut prng = Prng::new(plan.seed);
                let mut cursor = plan.sequence_start;
                (0..plan.requests)
                    .map(|_| sampler.next_key(&mut prng, &mut cursor))
                    .collect::<Vec<_>>()
            })
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, (1..=100).collect::<Vec<u64>>());
    }

    #[test]
    fn threads_get_contiguous_even_shares() {
        let shares = split_evenly((0..7).collect(), 3);
        assert_eq!(shares, [vec![0, 1, 2], vec![3, 4], vec![5, 6]]);
        assert_eq!(split_evenly(vec![1], 1), [vec![1]]);
    }

    #[test]
    fn values_have_the_requested_size() {
        assert_eq!(value_of_size(0), b"");
        assert_eq!(value_of_size(5), b"01234");
        assert_eq!(value_of_size(100).len(), 100);
    }

    #[test]
    fn replies_are_counted_by_command() {
        let mut tally = Report::default();
        tally.count(Command::Set, ReplyKind::Simple, b"+OK\r\n");
        tally.count(Command::Get, ReplyKind::Bulk, b"$1\r\nx\r\n");
        tally.count(Command::Get, ReplyKind::Nil, b"$-1\r\n");
        tally.count(Command::Get, ReplyKind::Error, b"-ERR nope\r\n");
        tally.count(Command::Set, ReplyKind::Integer, b":1\r\n");
        assert_eq!((tally.sets, tally.gets), (2, 3));
        assert_eq!((tally.get_hits, tally.get_misses, tally.errors), (1, 1, 2));
        assert_eq!(tally.first_error.as_deref(), Some("GET: -ERR nope"));
        assert_eq!(tally.replies, 5);
    }

    /// A fake server answering every SET with +OK and every GET of an even key
    /// number with a value, of an odd one with nil; MULTI with +OK, INCR with
    /// +QUEUED, EXEC with a one-element array and ECHO with an error. It records the
    /// keys (second words) it saw.
    fn fake_server(listener: TcpListener, connections: usize) -> Vec<String> {
        let mut keys = Vec::new();
        let mut streams: Vec<TcpStream> = (0..connections)
            .map(|_| listener.accept().expect("accept").0)
            .collect();
        // Each client connection is served by its own thread, as a real server would.
        thread::scope(|scope| {
            let handles: Vec<_> = streams
                .iter_mut()
                .map(|stream| scope.spawn(move || serve(stream)))
                .collect();
            for handle in handles {
                keys.extend(handle.join().expect("server thread"));
            }
        });
        keys
    }

    fn serve(stream: &mut TcpStream) -> Vec<String> {
        let mut seen = Vec::new();
        let mut input = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let read = stream.read(&mut chunk).expect("read");
            if read == 0 {
                return seen;
            }
            input.extend_from_slice(&chunk[..read]);
            let mut replies = Vec::new();
            while let Some((words, used)) = parse_request(&input) {
                input.drain(..used);
                let number = || -> u64 {
                    words[1]
                        .trim_start_matches("memtier-")
                        .parse()
                        .expect("a number")
                };
                match words[0].as_str() {
                    "SET" | "MULTI" => replies.extend_from_slice(b"+OK\r\n"),
                    "GET" if number() & 1 == 0 => replies.extend_from_slice(b"$2\r\nhi\r\n"),
                    "GET" => replies.extend_from_slice(b"$-1\r\n"),
                    "INCR" => replies.extend_from_slice(b"+QUEUED\r\n"),
                    "EXEC" => replies.extend_from_slice(b"*1\r\n:1\r\n"),
                    "ECHO" => replies.extend_from_slice(b"-ERR no echo\r\n"),
                    other => panic!("unexpected command {other}"),
                }
                if let Some(key) = words.get(1) {
                    seen.push(key.clone());
                }
            }
            stream.write_all(&replies).expect("write");
        }
    }

    /// [`crate::testing::parse_request`] with the words as text.
    fn parse_request(input: &[u8]) -> Option<(Vec<String>, usize)> {
        let (words, used) = crate::testing::parse_request(input)?;
        let words = words
            .into_iter()
            .map(|word| String::from_utf8(word).ok())
            .collect::<Option<_>>()?;
        Some((words, used))
    }

    #[test]
    fn drives_a_server_in_a_closed_loop() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let server = thread::spawn(move || fake_server(listener, 6));
        let options = options(&format!(
            "--port {port} --threads 2 --clients 6 --requests 1000 --pipeline 4 --ratio 1:3 \
             --key-minimum 0 --key-maximum 99 --key-pattern R --seed 5"
        ));
        let report = run(&options).expect("the run");
        let keys = server.join().expect("the fake server");

        assert_eq!(report.completed(), 1_000);
        assert_eq!(report.latencies.len(), 1_000);
        // 1:3 per connection: 167 requests give 42 SETs, 166 give 42 as well.
        assert_eq!(report.sets, 42 * 4 + 42 * 2);
        assert_eq!(report.gets, 1_000 - report.sets);
        assert_eq!(report.get_hits + report.get_misses, report.gets);
        assert!(
            report.get_hits > 300 && report.get_misses > 300,
            "{report:?}"
        );
        assert_eq!(report.errors, 0);
        assert_eq!(keys.len(), 1_000);
        assert!(keys.iter().all(|key| {
            let number: u64 = key
                .trim_start_matches("memtier-")
                .parse()
                .expect("a number");
            number <= 99
        }));
        let summary = report.summary();
        assert!(summary.starts_with("ops_per_sec="), "{summary}");
        for field in [
            "p50_ms=",
            "p99_ms=",
            "p999_ms=",
            "sets=",
            "gets=",
            "get_hits=",
            "get_misses=",
        ] {
            assert!(summary.contains(field), "{summary}");
        }
    }

    #[test]
    fn a_sequence_is_one_request_with_one_latency() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let server = thread::spawn(move || fake_server(listener, 3));
        let mut arguments: Vec<String> = format!(
            "--port {port} --clients 3 --requests 100 --pipeline 4 --key-prefix t \
             --key-maximum 9 --sequence"
        )
        .split_whitespace()
        .map(str::to_owned)
        .collect();
        arguments.push("MULTI; INCR {__key__}:a; INCR {__key__}:b; EXEC".to_owned());
        let options = match parse(arguments) {
            Ok(Invocation::Run(options)) => options,
            other => panic!("{other:?}"),
        };
        let report = run(&options).expect("the run");
        let keys = server.join().expect("the fake server");

        assert_eq!(report.completed(), 100);
        assert_eq!(report.replies, 400);
        assert_eq!((report.sets, report.gets, report.errors), (0, 0, 0));
        assert!(report.summary().contains(" requests=100 replies=400 "));
        // INCR's two keys per request share the request's key.
        assert_eq!(keys.len(), 200);
        for pair in keys.chunks(2) {
            let tag = pair[0].strip_suffix(":a").expect("INCR {tN}:a first");
            assert_eq!(pair[1], format!("{tag}:b"));
            let number: u64 = tag
                .strip_prefix("{t")
                .and_then(|rest| rest.strip_suffix('}'))
                .and_then(|digits| digits.parse().ok())
                .expect("{tN}");
            assert!(number <= 9, "{tag}");
        }
    }

    #[test]
    fn error_replies_inside_a_sequence_are_counted() {
        let mut tally = Report::default();
        tally.count(
            Command::Step {
                index: 0,
                last: false,
            },
            ReplyKind::Simple,
            b"+OK\r\n",
        );
        tally.count(
            Command::Step {
                index: 1,
                last: true,
            },
            ReplyKind::Error,
            b"-ERR no echo\r\n",
        );
        assert_eq!((tally.replies, tally.errors), (2, 1));
        assert_eq!(
            tally.first_error.as_deref(),
            Some("sequence command 2: -ERR no echo")
        );
        assert!(Command::Step {
            index: 1,
            last: true
        }
        .ends_request());
        assert!(!Command::Step {
            index: 0,
            last: false
        }
        .ends_request());
    }

    #[test]
    fn an_unreachable_server_is_an_error() {
        // Bind then drop, so the port is very likely closed.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a port")
            .port();
        let result = run(&options(&format!("--port {port} --clients 1 --requests 1")));
        assert!(result.is_err());
    }
}
