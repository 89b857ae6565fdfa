//! `peregrine-load streams`: consumers of a consumer group reading and acknowledging
//! entries of pre-filled streams, with a count of what each operation did.
//!
//! The run, in order:
//!
//! 1. Fill (`--phase fill` or `both`): one connection and thread per stream empties
//!    it (DEL), appends `--entries` entries `f <value>` with `XADD key *`, 256 per
//!    write, each reply checked to be an ID, and creates the group at the stream's
//!    start (`XGROUP CREATE key group 0`). Any refusal ends the run with the reply.
//! 2. Consume (`--phase consume` or `both`): every consumer connects; one thread
//!    serves them in turn, like the main mode's closed loop. Each consumer has one
//!    command in flight: `XREADGROUP GROUP g consumer-i COUNT n STREAMS key >`; when
//!    it brings entries, their IDs ([`reply::parse_read_reply`]) go back at once in
//!    one `XACK key g id...`; when its reply arrives, the next XREADGROUP goes out. A
//!    read that brings nothing (nil) ends that consumer: the stream was filled
//!    beforehand and nobody adds to it, so the group has delivered everything.
//! 3. XPENDING on every stream must then count no pending entry.
//!
//! One operation is one entry delivered by XREADGROUP and acknowledged by an XACK
//! whose reply has arrived. The checks: every consumer's IDs rise (the group never
//! hands an entry out twice, or out of order); every XACK counts exactly the IDs
//! sent; the operations add up to streams x entries; nothing stays pending.
//!
//! Producers fill the streams before, not during, the measured phase, so the server
//! CPU that a caller measures around `--phase consume` is the consumers' alone, a
//! consumer never reads an empty stream while producers catch up, and the end of the
//! run is well defined (XADD's cost is measured by the main mode's `--sequence`).
//!
//! It is not a stream client: no BLOCK, no XCLAIM or XAUTOCLAIM, no RESP3, one stream
//! per consumer.

pub mod options;
pub mod reply;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};

use crate::histogram::Histogram;
use crate::load::{resolve, value_of_size};
use crate::reader::{read_replies, REPLY_TIMEOUT};
use crate::resp::{describe, encode_command, integer_reply, ReplyKind};
use options::StreamsOptions;
use reply::{parse_read_reply, pending_count, EntryId, ReadReply};

/// XADDs written at once by the fill.
const FILL_BATCH: u64 = 256;

/// The first size of a read buffer; it grows to hold the largest reply.
const READ_BUFFER: usize = 64 * 1024;

/// What a streams run measured and found.
#[derive(Debug, Default)]
pub struct StreamsReport {
    /// Entries the fill phase appended.
    pub filled: u64,
    /// How long the fill phase took.
    pub fill_elapsed: Duration,
    /// Entries delivered by XREADGROUP and acknowledged by an answered XACK: the
    /// operations.
    pub entries: u64,
    /// Entries the consumers should read: streams x entries per stream (0 without a
    /// consume phase).
    pub expected: u64,
    /// The sum of XACK's replies: entries the server says it acknowledged.
    pub acked: u64,
    /// XREADGROUPs answered, the final empty ones included.
    pub reads: u64,
    /// XREADGROUPs answered with nothing.
    pub empty_reads: u64,
    /// XACKs answered.
    pub acks: u64,
    /// Error replies, and replies of a shape the command never returns.
    pub errors: u64,
    /// XACKs whose count differs from the IDs they named.
    pub ack_mismatches: u64,
    /// Entries whose ID was not above the previous one the same consumer read.
    pub out_of_order: u64,
    /// Entries XPENDING still counts at the end.
    pub pending: u64,
    /// The first problem, described.
    pub first_problem: Option<String>,
    /// One sample per read-and-ack cycle: from the XREADGROUP's write to the read that
    /// brought the XACK's reply.
    pub latencies: Histogram,
    /// The consume phase: from the first XREADGROUP to the last reply.
    pub elapsed: Duration,
}

impl StreamsReport {
    /// Operations per second of the consume phase.
    pub fn ops_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.entries as f64 / seconds
        } else {
            0.0
        }
    }

    /// Whether every entry was read once, in order per consumer, and acknowledged, and
    /// none is pending.
    pub fn is_clean(&self) -> bool {
        self.errors == 0
            && self.ack_mismatches == 0
            && self.out_of_order == 0
            && self.pending == 0
            && self.entries == self.expected
            && self.acked == self.expected
    }

    /// The one-line `key=value` summary printed by the tool.
    pub fn summary(&self) -> String {
        let milliseconds = |quantile| self.latencies.percentile(quantile).as_secs_f64() * 1e3;
        format!(
            "ops_per_sec={:.0} p50_ms={:.3} p99_ms={:.3} p999_ms={:.3} entries={} expected={} \
             acked={} reads={} empty_reads={} acks={} errors={} ack_mismatches={} \
             out_of_order={} pending={} filled={} fill_s={:.3} elapsed_s={:.3}",
            self.ops_per_second(),
            milliseconds(0.50),
            milliseconds(0.99),
            milliseconds(0.999),
            self.entries,
            self.expected,
            self.acked,
            self.reads,
            self.empty_reads,
            self.acks,
            self.errors,
            self.ack_mismatches,
            self.out_of_order,
            self.pending,
            self.filled,
            self.fill_elapsed.as_secs_f64(),
            self.elapsed.as_secs_f64(),
        )
    }

    /// What is wrong, one line each, for stderr; empty for a clean run.
    pub fn problems(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.errors > 0 || self.ack_mismatches > 0 || self.out_of_order > 0 {
            lines.push(format!(
                "{} error or unexpected replies, {} XACKs that did not count their IDs, \
                 {} entries out of order; the first: {}",
                self.errors,
                self.ack_mismatches,
                self.out_of_order,
                self.first_problem.as_deref().unwrap_or("-")
            ));
        }
        if self.entries != self.expected {
            lines.push(format!(
                "{} entries read and acknowledged, {} expected",
                self.entries, self.expected
            ));
        }
        if self.acked != self.expected {
            lines.push(format!(
                "XACK acknowledged {} entries, {} expected",
                self.acked, self.expected
            ));
        }
        if self.pending > 0 {
            lines.push(format!("{} entries still pending at the end", self.pending));
        }
        lines
    }

    /// Counts one error or unexpected reply, described by `describe` if it is the first
    /// problem.
    fn error(&mut self, describe: impl FnOnce() -> String) {
        self.errors += 1;
        self.problem(describe);
    }

    fn problem(&mut self, describe: impl FnOnce() -> String) {
        if self.first_problem.is_none() {
            self.first_problem = Some(describe());
        }
    }
}

/// Runs the streams load described by `options`.
pub fn run(options: &StreamsOptions) -> anyhow::Result<StreamsReport> {
    let address = resolve(&options.host, options.port)?;
    let mut report = StreamsReport::default();
    if options.phase.fills() {
        let started = Instant::now();
        report.filled = fill(address, options)?;
        report.fill_elapsed = started.elapsed();
    }
    if options.phase.consumes() {
        consume(address, options, &mut report)?;
    }
    Ok(report)
}

/// A connection with the run's socket options.
fn connect(address: SocketAddr, role: &str) -> anyhow::Result<TcpStream> {
    let stream =
        TcpStream::connect(address).with_context(|| format!("{role} connection to {address}"))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
    Ok(stream)
}

/// Writes `request`, `replies` commands, and reads their replies, each of which must be
/// of kind `expected`; `command` names them in the error.
fn call(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    request: &[u8],
    replies: u64,
    expected: ReplyKind,
    command: &str,
) -> anyhow::Result<()> {
    stream
        .write_all(request)
        .with_context(|| format!("writing {command}"))?;
    let replies = usize::try_from(replies)?;
    read_replies(stream, buffer, replies, |kind, reply, _| {
        if kind != expected {
            bail!("the server answered {command} with {}", describe(reply));
        }
        Ok(())
    })
}

/// Fills every stream, each on its own connection and thread; returns the entries
/// appended.
fn fill(address: SocketAddr, options: &StreamsOptions) -> anyhow::Result<u64> {
    let outcomes: Vec<thread::Result<anyhow::Result<u64>>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..options.streams)
            .map(|index| scope.spawn(move || fill_stream(address, options, index)))
            .collect();
        handles.into_iter().map(|handle| handle.join()).collect()
    });
    let mut filled = 0;
    for outcome in outcomes {
        filled += outcome.map_err(|_| anyhow!("a fill thread panicked"))??;
    }
    Ok(filled)
}

/// Empties stream `index`, appends its entries and creates the group at its start.
fn fill_stream(address: SocketAddr, options: &StreamsOptions, index: u32) -> anyhow::Result<u64> {
    let key = options.stream_name(index);
    let mut stream = connect(address, "fill")?;
    let mut buffer = vec![0; READ_BUFFER];
    let mut request = Vec::new();
    encode_command(&mut request, &["DEL", key.as_str()]);
    call(
        &mut stream,
        &mut buffer,
        &request,
        1,
        ReplyKind::Integer,
        &format!("DEL {key}"),
    )?;
    let value = value_of_size(options.data_size);
    let xadd: [&[u8]; 5] = [b"XADD", key.as_bytes(), b"*", b"f", &value];
    let what = format!("XADD {key} * f <{} bytes>", options.data_size);
    let mut added = 0;
    while added < options.entries {
        let batch = FILL_BATCH.min(options.entries - added);
        request.clear();
        for _ in 0..batch {
            encode_command(&mut request, &xadd);
        }
        call(
            &mut stream,
            &mut buffer,
            &request,
            batch,
            ReplyKind::Bulk,
            &what,
        )?;
        added += batch;
    }
    request.clear();
    encode_command(
        &mut request,
        &[
            "XGROUP",
            "CREATE",
            key.as_str(),
            options.group.as_str(),
            "0",
        ],
    );
    call(
        &mut stream,
        &mut buffer,
        &request,
        1,
        ReplyKind::Simple,
        &format!("XGROUP CREATE {key} {} 0", options.group),
    )?;
    Ok(added)
}

/// Where a consumer is in its cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Its XREADGROUP is in flight.
    Reading,
    /// Its XACK of this many IDs is in flight.
    Acknowledging(u64),
    /// It read nothing, or was refused: it sends no more.
    Done,
}

/// One consumer connection.
struct Consumer {
    stream: TcpStream,
    key: Vec<u8>,
    group: Vec<u8>,
    /// Its XREADGROUP, encoded once.
    read_request: Vec<u8>,
    state: State,
    /// The last ID it read, for the order check.
    last_id: Option<EntryId>,
    /// When its current read-and-ack cycle began.
    cycle_started: Instant,
}

impl Consumer {
    /// Connects consumer `index`, named `consumer-<index>`, to read stream
    /// `index mod streams`; it sends nothing yet.
    fn connect(
        address: SocketAddr,
        options: &StreamsOptions,
        index: usize,
    ) -> anyhow::Result<Self> {
        let key = options.stream_name(options.stream_of(index));
        let name = format!("consumer-{index}");
        let count = options.count.to_string();
        let mut read_request = Vec::new();
        encode_command(
            &mut read_request,
            &[
                "XREADGROUP",
                "GROUP",
                options.group.as_str(),
                name.as_str(),
                "COUNT",
                count.as_str(),
                "STREAMS",
                key.as_str(),
                ">",
            ],
        );
        Ok(Self {
            stream: connect(address, "consumer")?,
            key: key.into_bytes(),
            group: options.group.clone().into_bytes(),
            read_request,
            state: State::Reading,
            last_id: None,
            cycle_started: Instant::now(),
        })
    }

    /// Writes the next XREADGROUP, starting a cycle.
    fn send_read(&mut self) -> anyhow::Result<()> {
        self.state = State::Reading;
        self.cycle_started = Instant::now();
        self.stream
            .write_all(&self.read_request)
            .context("writing XREADGROUP")
    }

    /// Reads the reply in flight, tallies it and sends the next command, if any.
    /// Returns the time of the read that completed the reply.
    fn step(
        &mut self,
        buffer: &mut Vec<u8>,
        out: &mut Vec<u8>,
        report: &mut StreamsReport,
    ) -> anyhow::Result<Instant> {
        let mut answered_at = Instant::now();
        match self.state {
            State::Done => {}
            State::Reading => {
                let Self {
                    stream,
                    key,
                    group,
                    last_id,
                    ..
                } = self;
                let mut next = State::Done;
                read_replies(stream, buffer, 1, |kind, reply, read_at| {
                    answered_at = read_at;
                    report.reads += 1;
                    next = read_answered(kind, reply, key, group, last_id, out, report);
                    Ok(())
                })?;
                self.state = next;
                if let State::Acknowledging(_) = next {
                    self.stream.write_all(out).context("writing XACK")?;
                }
            }
            State::Acknowledging(sent) => {
                read_replies(&mut self.stream, buffer, 1, |kind, reply, read_at| {
                    answered_at = read_at;
                    report.acks += 1;
                    let acknowledged = (kind == ReplyKind::Integer)
                        .then(|| integer_reply(reply))
                        .flatten()
                        .and_then(|count| u64::try_from(count).ok());
                    let Some(acknowledged) = acknowledged else {
                        report.error(|| format!("XACK answered {}", describe(reply)));
                        return Ok(());
                    };
                    report.entries += sent;
                    report.acked += acknowledged;
                    if acknowledged != sent {
                        report.ack_mismatches += 1;
                        report.problem(|| format!("XACK of {sent} IDs answered :{acknowledged}"));
                    }
                    report
                        .latencies
                        .record(read_at.saturating_duration_since(self.cycle_started));
                    Ok(())
                })?;
                self.send_read()?;
            }
        }
        Ok(answered_at)
    }
}

/// Tallies the reply to a consumer's XREADGROUP of stream `key`; when it brought
/// entries, encodes their XACK into `out`. Returns the consumer's next state.
fn read_answered(
    kind: ReplyKind,
    reply: &[u8],
    key: &[u8],
    group: &[u8],
    last_id: &mut Option<EntryId>,
    out: &mut Vec<u8>,
    report: &mut StreamsReport,
) -> State {
    let mut ids = Vec::new();
    match parse_read_reply(reply, key, &mut ids) {
        ReadReply::Entries => {}
        ReadReply::Empty => {
            report.empty_reads += 1;
            return State::Done;
        }
        ReadReply::Error => {
            report.error(|| format!("XREADGROUP answered {}", describe(reply)));
            return State::Done;
        }
        ReadReply::Unexpected(why) => {
            report.error(|| format!("XREADGROUP answered {why} ({kind:?}): {}", describe(reply)));
            return State::Done;
        }
    }
    for (id, _) in &ids {
        if last_id.is_some_and(|last| *id <= last) {
            report.out_of_order += 1;
            report.problem(|| {
                let last = last_id.map(|last| last.to_string()).unwrap_or_default();
                format!("{id} delivered after {last}")
            });
        }
        *last_id = Some(*id);
    }
    let mut arguments: Vec<&[u8]> = Vec::with_capacity(ids.len() + 3);
    arguments.extend([&b"XACK"[..], key, group]);
    arguments.extend(ids.iter().filter_map(|(_, range)| reply.get(range.clone())));
    out.clear();
    encode_command(out, &arguments);
    State::Acknowledging(u64::try_from(ids.len()).unwrap_or(u64::MAX))
}

/// The consume phase: every consumer reads and acknowledges until its stream has
/// nothing left for the group; then XPENDING checks each stream.
fn consume(
    address: SocketAddr,
    options: &StreamsOptions,
    report: &mut StreamsReport,
) -> anyhow::Result<()> {
    let mut consumers = (0..options.consumers)
        .map(|index| Consumer::connect(address, options, index))
        .collect::<anyhow::Result<Vec<_>>>()?;
    report.expected = options.total_entries();
    let mut buffer = vec![0; READ_BUFFER];
    let mut out = Vec::new();
    let started = Instant::now();
    let mut last_reply = started;
    for consumer in &mut consumers {
        consumer.send_read()?;
    }
    loop {
        let mut busy = false;
        for consumer in &mut consumers {
            if consumer.state == State::Done {
                continue;
            }
            busy = true;
            last_reply = last_reply.max(consumer.step(&mut buffer, &mut out, report)?);
        }
        if !busy {
            break;
        }
    }
    report.elapsed = last_reply.saturating_duration_since(started);

    // Consumer i < streams reads stream i: one connection per stream for XPENDING.
    let streams = usize::try_from(options.streams).unwrap_or(usize::MAX);
    for consumer in consumers.iter_mut().take(streams) {
        out.clear();
        encode_command(
            &mut out,
            &[&b"XPENDING"[..], &consumer.key, &consumer.group],
        );
        consumer
            .stream
            .write_all(&out)
            .context("writing XPENDING")?;
        read_replies(&mut consumer.stream, &mut buffer, 1, |_, reply, _| {
            match pending_count(reply) {
                Some(count) => report.pending += count,
                None => report.error(|| format!("XPENDING answered {}", describe(reply))),
            }
            Ok(())
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::Read;
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::streams::options::{parse, StreamsInvocation};
    use crate::testing::parse_request;

    fn options(line: &str) -> StreamsOptions {
        match parse(line.split_whitespace().map(str::to_owned)) {
            Ok(StreamsInvocation::Run(options)) => options,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    /// How the fake server misbehaves.
    #[derive(Clone, Copy, Default)]
    struct Faults {
        /// Delivers the entry with this sequence number (of every stream) a second
        /// time, in the batch after the one that first held it.
        redeliver: Option<u64>,
        /// Answers XADD with an unknown-command error.
        refuse_xadd: bool,
    }

    /// One stream of the fake server.
    #[derive(Default)]
    struct FakeStream {
        /// Sequence numbers of the entries' IDs `1-<sequence>`, with their values.
        entries: Vec<Vec<u8>>,
        /// Whether the group exists.
        group: bool,
        /// Entries delivered so far.
        delivered: usize,
        /// IDs delivered and not acknowledged.
        pending: Vec<u64>,
        /// A redelivery owed to the next read.
        owed: Option<u64>,
    }

    type Streams = Arc<Mutex<HashMap<Vec<u8>, FakeStream>>>;

    /// A RESP2 server that knows DEL, XADD, XGROUP CREATE, XREADGROUP, XACK and
    /// XPENDING as far as the tool uses them, with `faults`. Returns its port and its
    /// streams; it serves until the test ends.
    fn fake_server(faults: Faults) -> (u16, Streams) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let streams: Streams = Arc::default();
        let shared = Arc::clone(&streams);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let stream = stream.expect("accept");
                let streams = Arc::clone(&shared);
                thread::spawn(move || serve(stream, &streams, faults));
            }
        });
        (port, streams)
    }

    fn bulk(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(format!("${}\r\n", bytes.len()).as_bytes());
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
    }

    fn serve(mut stream: TcpStream, streams: &Streams, faults: Faults) {
        let mut input = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let read = match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(read) => read,
            };
            input.extend_from_slice(&chunk[..read]);
            let mut out = Vec::new();
            while let Some((words, used)) = parse_request(&input) {
                input.drain(..used);
                let mut streams = streams.lock().expect("lock");
                match words[0].as_slice() {
                    b"DEL" => {
                        let existed = streams.remove(&words[1]).is_some();
                        out.extend_from_slice(format!(":{}\r\n", u8::from(existed)).as_bytes());
                    }
                    b"XADD" if faults.refuse_xadd => {
                        out.extend_from_slice(b"-ERR unknown command 'XADD'\r\n");
                    }
                    b"XADD" => {
                        let entry = streams.entry(words[1].clone()).or_default();
                        entry.entries.push(words[4].clone());
                        bulk(&mut out, format!("1-{}", entry.entries.len()).as_bytes());
                    }
                    b"XGROUP" => {
                        streams.get_mut(&words[2]).expect("a stream").group = true;
                        out.extend_from_slice(b"+OK\r\n");
                    }
                    b"XREADGROUP" => {
                        let key = &words[7];
                        let count: usize = std::str::from_utf8(&words[5])
                            .expect("utf-8")
                            .parse()
                            .expect("COUNT");
                        let Some(entry) = streams.get_mut(key).filter(|entry| entry.group) else {
                            out.extend_from_slice(b"-NOGROUP No such key or consumer group\r\n");
                            continue;
                        };
                        // A redelivery is not pending again: its second XACK counts 0.
                        let mut batch: Vec<u64> = entry.owed.take().into_iter().collect();
                        while batch.len() < count && entry.delivered < entry.entries.len() {
                            entry.delivered += 1;
                            let sequence = entry.delivered as u64;
                            if faults.redeliver == Some(sequence) {
                                entry.owed = Some(sequence);
                            }
                            entry.pending.push(sequence);
                            batch.push(sequence);
                        }
                        if batch.is_empty() {
                            out.extend_from_slice(b"*-1\r\n");
                            continue;
                        }
                        out.extend_from_slice(b"*1\r\n*2\r\n");
                        bulk(&mut out, key);
                        out.extend_from_slice(format!("*{}\r\n", batch.len()).as_bytes());
                        for sequence in batch {
                            out.extend_from_slice(b"*2\r\n");
                            bulk(&mut out, format!("1-{sequence}").as_bytes());
                            out.extend_from_slice(b"*2\r\n");
                            bulk(&mut out, b"f");
                            bulk(&mut out, &entry.entries[sequence as usize - 1]);
                        }
                    }
                    b"XACK" => {
                        let entry = streams.get_mut(&words[1]).expect("a stream");
                        let mut acknowledged = 0;
                        for id in &words[3..] {
                            let sequence = std::str::from_utf8(id)
                                .ok()
                                .and_then(|id| id.strip_prefix("1-"))
                                .and_then(|sequence| sequence.parse::<u64>().ok())
                                .expect("an ID 1-<n>");
                            if let Some(at) = entry.pending.iter().position(|&p| p == sequence) {
                                entry.pending.swap_remove(at);
                                acknowledged += 1;
                            }
                        }
                        out.extend_from_slice(format!(":{acknowledged}\r\n").as_bytes());
                    }
                    b"XPENDING" => {
                        let pending = streams
                            .get(&words[1])
                            .map_or(0, |entry| entry.pending.len());
                        out.extend_from_slice(
                            format!("*4\r\n:{pending}\r\n$-1\r\n$-1\r\n*-1\r\n").as_bytes(),
                        );
                    }
                    other => panic!("unexpected command {}", String::from_utf8_lossy(other)),
                }
            }
            stream.write_all(&out).expect("write");
        }
    }

    #[test]
    fn a_faithful_server_passes_with_every_entry_counted_once() {
        let (port, streams) = fake_server(Faults::default());
        let report = run(&options(&format!(
            "--port {port} --streams 3 --consumers 7 --entries 100 --count 8 --data-size 5"
        )))
        .expect("the run");
        assert!(report.is_clean(), "{report:?}");
        assert!(report.problems().is_empty());
        assert_eq!(report.filled, 300);
        assert_eq!(
            (report.entries, report.expected, report.acked),
            (300, 300, 300)
        );
        // Each of the 7 consumers ends on one empty read.
        assert_eq!(report.empty_reads, 7);
        assert_eq!(report.reads, report.acks + 7);
        assert_eq!(report.latencies.len(), report.acks);
        assert!(report.acks >= 300 / 8, "{report:?}");
        assert_eq!(report.pending, 0);
        let summary = report.summary();
        assert!(summary.starts_with("ops_per_sec="), "{summary}");
        assert!(
            summary.contains(" entries=300 expected=300 acked=300 "),
            "{summary}"
        );
        let streams = streams.lock().expect("lock");
        let mut names: Vec<&[u8]> = streams.keys().map(Vec::as_slice).collect();
        names.sort_unstable();
        assert_eq!(names, [&b"stream:0"[..], b"stream:1", b"stream:2"]);
        assert!(streams
            .values()
            .all(|stream| stream.entries.len() == 100 && stream.entries[0] == b"01234"));
    }

    #[test]
    fn fill_and_consume_can_run_apart() {
        let (port, _) = fake_server(Faults::default());
        let common = format!("--port {port} --streams 2 --consumers 2 --entries 10 --count 3");
        let filled = run(&options(&format!("{common} --phase fill"))).expect("the fill");
        assert_eq!((filled.filled, filled.expected, filled.reads), (20, 0, 0));
        assert!(filled.is_clean());
        assert!(filled.summary().contains(" filled=20 "));
        let consumed = run(&options(&format!("{common} --phase consume"))).expect("consuming");
        assert!(consumed.is_clean(), "{consumed:?}");
        assert_eq!((consumed.filled, consumed.entries), (0, 20));
        // Nothing is left for a second consumer run: it reads nothing, which is a
        // failure since it expected every entry.
        let again = run(&options(&format!("{common} --phase consume"))).expect("consuming");
        assert_eq!((again.entries, again.empty_reads), (0, 2));
        assert!(!again.is_clean());
        assert_eq!(
            again.problems()[0],
            "0 entries read and acknowledged, 20 expected"
        );
    }

    #[test]
    fn a_redelivered_entry_fails_the_run() {
        let (port, _) = fake_server(Faults {
            redeliver: Some(5),
            ..Faults::default()
        });
        let report = run(&options(&format!(
            "--port {port} --streams 1 --consumers 1 --entries 20 --count 4"
        )))
        .expect("the run");
        assert!(!report.is_clean());
        assert_eq!(report.out_of_order, 1, "{report:?}");
        assert_eq!(report.ack_mismatches, 1);
        assert_eq!((report.entries, report.acked), (21, 20));
        let problems = report.problems().join("\n");
        assert!(
            problems.contains("the first: 1-5 delivered after 1-8"),
            "{problems}"
        );
        assert!(problems.contains("21 entries read and acknowledged, 20 expected"));
    }

    #[test]
    fn a_consumer_without_a_group_is_an_error_reply() {
        let (port, _) = fake_server(Faults::default());
        let report = run(&options(&format!(
            "--port {port} --consumers 2 --entries 5 --phase consume"
        )))
        .expect("the run");
        assert_eq!((report.errors, report.entries, report.reads), (2, 0, 2));
        assert_eq!(
            report.first_problem.as_deref(),
            Some("XREADGROUP answered -NOGROUP No such key or consumer group")
        );
        assert!(!report.is_clean());
    }

    #[test]
    fn a_refused_xadd_ends_the_run_with_the_reply() {
        let (port, _) = fake_server(Faults {
            refuse_xadd: true,
            ..Faults::default()
        });
        let error = run(&options(&format!("--port {port} --entries 3"))).expect_err("refused");
        assert_eq!(
            format!("{error:#}"),
            "the server answered XADD stream:0 * f <16 bytes> with -ERR unknown command 'XADD'"
        );
    }
}
