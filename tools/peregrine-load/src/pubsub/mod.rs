//! `peregrine-load pubsub`: publishers and subscribers on their own connections, a
//! delivery rate and a delivery check.
//!
//! The run, in order:
//!
//! 1. Every subscriber connects (`HELLO 3` first with `--resp3`), sends SUBSCRIBE to
//!    its channel or PSUBSCRIBE to a pattern matching only it, and the run waits for
//!    every confirmation. A refusal (an error reply) ends the run with that reply.
//! 2. Every publisher connects; all start together behind a barrier. Each sends its
//!    PUBLISHes (see [`checker::Routing`] for which goes where), refilling its window
//!    of at most `--pipeline` unanswered ones whenever replies arrive, and checks
//!    each reply: the integer `--subscribers-per-channel`.
//! 3. Each subscriber, on its own thread, reads its connection in large chunks,
//!    parses the pushes in place ([`push`]) and feeds the publisher and sequence
//!    number of each payload to a [`checker::SequenceChecker`]. It stops once every
//!    publisher has finished and every message meant for it has arrived, or when
//!    none arrived for `--drain-timeout-ms` after the publishers finished. It then
//!    sends PING and reads up to the answer, so a duplicate already on its way is
//!    still seen.
//!
//! The elapsed time runs from the barrier to the last read that brought a message.
//! One thread per connection keeps the code plain; on a machine with fewer cores
//! than connections the threads share them, and reads get larger as they fall
//! behind, which keeps the cost per message low.
//!
//! It is not a pub/sub client library: no UNSUBSCRIBE, no sharded pub/sub (SPUBLISH),
//! one channel per subscriber.

pub mod checker;
pub mod options;
pub mod push;

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Barrier, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};

use crate::histogram::Histogram;
use crate::load::resolve;
use crate::resp::{describe, encode_command, integer_reply, scan_reply_resp3, ReplyKind};
use checker::{Routing, SequenceChecker, Violations};
use options::PubSubOptions;
use push::{payload_template, read_payload, write_payload, Push, PushReader, ReadOutcome};

/// How long a publisher waits for a reply, and the run for subscribe confirmations and
/// PING answers, before declaring the server stuck.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a waiting subscriber looks whether the publishers have finished.
const SUBSCRIBER_POLL: Duration = Duration::from_millis(100);

/// A subscriber's first read buffer; it grows to hold the largest frame.
const SUBSCRIBER_BUFFER: usize = 256 * 1024;

/// A publisher's read buffer for its replies.
const PUBLISHER_BUFFER: usize = 64 * 1024;

/// What a pub/sub run measured and found.
#[derive(Debug, Default)]
pub struct PubSubReport {
    /// PUBLISHes answered.
    pub published: u64,
    /// From a PUBLISH's write to the read that brought its reply.
    pub publish_latencies: Histogram,
    /// PUBLISHes answered with an error.
    pub publish_errors: u64,
    /// PUBLISHes answered with another subscriber count than expected (or not an
    /// integer).
    pub reply_mismatches: u64,
    /// The first error or mismatch, described.
    pub first_reply_problem: Option<String>,
    /// Message pushes received by all subscribers.
    pub delivered: u64,
    /// Publishers x messages x subscribers per channel.
    pub expected: u64,
    /// What the subscribers' checkers found.
    pub violations: Violations,
    /// From the first PUBLISH to the last message received.
    pub elapsed: Duration,
}

impl PubSubReport {
    /// Messages received per second of the run.
    pub fn delivered_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.delivered as f64 / seconds
        } else {
            0.0
        }
    }

    /// Whether every message arrived once, in order, and every PUBLISH answered right.
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
            && self.publish_errors == 0
            && self.reply_mismatches == 0
            && self.delivered == self.expected
    }

    /// The one-line `key=value` summary printed by the tool.
    pub fn summary(&self) -> String {
        let milliseconds =
            |quantile| self.publish_latencies.percentile(quantile).as_secs_f64() * 1e3;
        format!(
            "delivered_per_sec={:.0} published={} delivered={} expected={} elapsed_s={:.3} \
             publish_p50_ms={:.3} publish_p99_ms={:.3} publish_errors={} reply_mismatches={} \
             missing={} duplicated={} out_of_order={} unexpected={}",
            self.delivered_per_second(),
            self.published,
            self.delivered,
            self.expected,
            self.elapsed.as_secs_f64(),
            milliseconds(0.50),
            milliseconds(0.99),
            self.publish_errors,
            self.reply_mismatches,
            self.violations.missing,
            self.violations.duplicated,
            self.violations.out_of_order,
            self.violations.unexpected,
        )
    }

    /// What is wrong, one line each, for stderr; empty for a clean run.
    pub fn problems(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if !self.violations.is_empty() {
            lines.push(format!("delivery violations: {}", self.violations));
            lines.extend(
                self.violations
                    .examples
                    .iter()
                    .map(|example| format!("  {example}")),
            );
        }
        if self.publish_errors > 0 || self.reply_mismatches > 0 {
            lines.push(format!(
                "{} PUBLISH error replies and {} subscriber-count mismatches, the first: {}",
                self.publish_errors,
                self.reply_mismatches,
                self.first_reply_problem.as_deref().unwrap_or("-")
            ));
        }
        if self.delivered != self.expected {
            lines.push(format!(
                "{} messages delivered, {} expected",
                self.delivered, self.expected
            ));
        }
        lines
    }
}

/// Runs the pub/sub load described by `options`.
pub fn run(options: &PubSubOptions) -> anyhow::Result<PubSubReport> {
    let address = resolve(&options.host, options.port)?;
    let routing = Routing {
        publishers: options.publishers,
        channels: options.channels,
        messages: options.messages,
    };
    let subscribers = subscribe_all(address, options)?;
    let publishers = connect_publishers(address, options)?;

    let done: OnceLock<Instant> = OnceLock::new();
    let barrier = Barrier::new(publishers.len() + 1);
    let drain = Duration::from_millis(options.drain_timeout_ms);
    let (started, publisher_outcomes, subscriber_outcomes) = thread::scope(|scope| {
        let (done, barrier) = (&done, &barrier);
        let subscriber_handles: Vec<_> = subscribers
            .into_iter()
            .map(|subscriber| {
                let checker = SequenceChecker::new(routing, subscriber.channel);
                scope.spawn(move || receive(subscriber, checker, done, drain))
            })
            .collect();
        let publisher_handles: Vec<_> = publishers
            .into_iter()
            .enumerate()
            .map(|(index, stream)| {
                let publisher = u32::try_from(index).unwrap_or(u32::MAX);
                scope.spawn(move || publish(stream, publisher, routing, options, barrier))
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        let publisher_outcomes: Vec<_> = publisher_handles
            .into_iter()
            .map(|handle| handle.join())
            .collect();
        // Whatever happened to the publishers, the subscribers may now time out.
        let _ = done.set(Instant::now());
        let subscriber_outcomes: Vec<_> = subscriber_handles
            .into_iter()
            .map(|handle| handle.join())
            .collect();
        (started, publisher_outcomes, subscriber_outcomes)
    });

    let mut report = PubSubReport {
        expected: (0..options.channels)
            .map(|channel| routing.messages_to(channel))
            .sum::<u64>()
            * u64::from(options.subscribers_per_channel),
        ..PubSubReport::default()
    };
    let mut last_event = done.get().copied().unwrap_or(started);
    let mut last_delivery = None;
    for outcome in publisher_outcomes {
        let tally = outcome.map_err(|_| anyhow!("a publisher thread panicked"))??;
        report.published += tally.published;
        report.publish_latencies.merge(&tally.latencies);
        report.publish_errors += tally.errors;
        report.reply_mismatches += tally.mismatches;
        if report.first_reply_problem.is_none() {
            report.first_reply_problem = tally.first_problem;
        }
    }
    for outcome in subscriber_outcomes {
        let tally = outcome.map_err(|_| anyhow!("a subscriber thread panicked"))??;
        report.delivered += tally.delivered;
        report.violations.merge(tally.violations);
        last_delivery = last_delivery.max(tally.last_delivery);
    }
    if let Some(last) = last_delivery {
        last_event = last;
    }
    report.elapsed = last_event.saturating_duration_since(started);
    Ok(report)
}

/// A subscribed connection, ready for its messages.
struct Subscriber {
    reader: PushReader<TcpStream>,
    channel: u32,
    channel_name: Vec<u8>,
    /// The pattern the messages must name, with `--pattern`.
    pattern: Option<Vec<u8>>,
}

/// Connects every subscriber, sends all the subscriptions, then waits for each
/// confirmation.
fn subscribe_all(address: SocketAddr, options: &PubSubOptions) -> anyhow::Result<Vec<Subscriber>> {
    let command = if options.pattern {
        "PSUBSCRIBE"
    } else {
        "SUBSCRIBE"
    };
    let mut subscribers = Vec::new();
    let mut out = Vec::new();
    for channel in 0..options.channels {
        let subscription = options.subscription(channel);
        for _ in 0..options.subscribers_per_channel {
            let mut stream = TcpStream::connect(address)
                .with_context(|| format!("subscriber connection to {address}"))?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(SUBSCRIBER_POLL))?;
            out.clear();
            if options.resp3 {
                encode_command(&mut out, &["HELLO", "3"]);
            }
            encode_command(&mut out, &[command, subscription.as_str()]);
            stream.write_all(&out)?;
            subscribers.push(Subscriber {
                reader: PushReader::new(stream, SUBSCRIBER_BUFFER),
                channel,
                channel_name: options.channel_name(channel).into_bytes(),
                pattern: options.pattern.then(|| subscription.clone().into_bytes()),
            });
        }
    }
    let deadline = Instant::now() + REPLY_TIMEOUT;
    for subscriber in &mut subscribers {
        let subscription = options.subscription(subscriber.channel);
        let mut hello_pending = options.resp3;
        let mut subscribed = false;
        while !subscribed {
            let outcome = subscriber.reader.read_some(|push| -> anyhow::Result<()> {
                match push {
                    Push::Subscribed {
                        pattern, channel, ..
                    } if pattern == options.pattern && channel == subscription.as_bytes() => {
                        subscribed = true;
                    }
                    Push::Other {
                        kind: ReplyKind::Error,
                        bytes,
                    } => bail!(
                        "the server refused {}: {}",
                        if hello_pending { "HELLO 3" } else { command },
                        describe(bytes)
                    ),
                    Push::Other {
                        kind: ReplyKind::Array,
                        ..
                    } if hello_pending => hello_pending = false,
                    other => bail!("unexpected answer to {command} {subscription}: {other:?}"),
                }
                Ok(())
            })?;
            match outcome {
                ReadOutcome::Frames(_) => {}
                ReadOutcome::TimedOut if Instant::now() < deadline => {}
                ReadOutcome::TimedOut => bail!(
                    "no confirmation of {command} {subscription} within {} s",
                    REPLY_TIMEOUT.as_secs()
                ),
                ReadOutcome::Closed => {
                    bail!(
                        "the server closed a connection before confirming {command} {subscription}"
                    )
                }
            }
        }
    }
    Ok(subscribers)
}

/// Connects every publisher (switching it to RESP3 with `--resp3`).
fn connect_publishers(
    address: SocketAddr,
    options: &PubSubOptions,
) -> anyhow::Result<Vec<TcpStream>> {
    (0..options.publishers)
        .map(|_| {
            let mut stream = TcpStream::connect(address)
                .with_context(|| format!("publisher connection to {address}"))?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
            if options.resp3 {
                let mut out = Vec::new();
                encode_command(&mut out, &["HELLO", "3"]);
                stream.write_all(&out)?;
                let mut buffer = vec![0; PUBLISHER_BUFFER];
                let mut filled = 0;
                loop {
                    if let Some((kind, length)) =
                        scan_reply_resp3(buffer.get(..filled).unwrap_or_default())?
                    {
                        if kind == ReplyKind::Error || length != filled {
                            bail!(
                                "HELLO 3 answered {}",
                                describe(buffer.get(..filled).unwrap_or_default())
                            );
                        }
                        break;
                    }
                    let spare = buffer.get_mut(filled..).unwrap_or_default();
                    match stream.read(spare).context("reading HELLO 3's reply")? {
                        0 => bail!("the server closed a publisher connection during HELLO 3"),
                        read => filled += read,
                    }
                }
            }
            Ok(stream)
        })
        .collect()
}

/// What one publisher counted.
#[derive(Debug, Default)]
struct PublisherTally {
    published: u64,
    latencies: Histogram,
    errors: u64,
    mismatches: u64,
    first_problem: Option<String>,
}

/// One publisher's loop: keep up to `--pipeline` PUBLISHes unanswered until all are
/// sent and answered.
fn publish(
    mut stream: TcpStream,
    publisher: u32,
    routing: Routing,
    options: &PubSubOptions,
    barrier: &Barrier,
) -> anyhow::Result<PublisherTally> {
    // Each channel's command up to the payload, encoded once.
    let heads: Vec<Vec<u8>> = (0..options.channels)
        .map(|channel| {
            let name = options.channel_name(channel);
            format!(
                "*3\r\n$7\r\nPUBLISH\r\n${}\r\n{name}\r\n${}\r\n",
                name.len(),
                options.data_size
            )
            .into_bytes()
        })
        .collect();
    let expected_count = i64::from(options.subscribers_per_channel);
    let mut payload = payload_template(options.data_size);
    let mut tally = PublisherTally::default();
    let mut in_flight: VecDeque<(Instant, u32)> = VecDeque::with_capacity(options.pipeline);
    let mut out = Vec::new();
    let mut buffer = vec![0; PUBLISHER_BUFFER];
    let (mut filled, mut parsed) = (0, 0);
    let mut sequence = 0;
    barrier.wait();
    loop {
        out.clear();
        let now = Instant::now();
        while in_flight.len() < options.pipeline && sequence < options.messages {
            let channel = routing.channel_of(publisher, sequence);
            let head = usize::try_from(channel)
                .ok()
                .and_then(|index| heads.get(index))
                .ok_or_else(|| anyhow!("channel {channel} out of range"))?;
            out.extend_from_slice(head);
            write_payload(&mut payload, publisher, sequence);
            out.extend_from_slice(&payload);
            out.extend_from_slice(b"\r\n");
            in_flight.push_back((now, channel));
            sequence += 1;
        }
        if !out.is_empty() {
            stream.write_all(&out).context("writing PUBLISH")?;
        }
        if in_flight.is_empty() {
            return Ok(tally);
        }
        if parsed == filled {
            (parsed, filled) = (0, 0);
        } else if filled == buffer.len() {
            buffer.copy_within(parsed..filled, 0);
            (parsed, filled) = (0, filled - parsed);
        }
        let spare = buffer.get_mut(filled..).unwrap_or_default();
        let read = match stream.read(spare) {
            Ok(0) => bail!("the server closed a publisher connection with PUBLISHes unanswered"),
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => 0,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                bail!("no PUBLISH reply within {} s", REPLY_TIMEOUT.as_secs())
            }
            Err(error) => return Err(error).context("reading PUBLISH replies"),
        };
        filled += read;
        let read_at = Instant::now();
        while let Some((kind, length)) =
            scan_reply_resp3(buffer.get(parsed..filled).unwrap_or_default())?
        {
            let reply = buffer.get(parsed..parsed + length).unwrap_or_default();
            parsed += length;
            let Some((sent_at, channel)) = in_flight.pop_front() else {
                bail!("a reply no PUBLISH asked for: {}", describe(reply));
            };
            tally.published += 1;
            tally
                .latencies
                .record(read_at.saturating_duration_since(sent_at));
            let count = (kind == ReplyKind::Integer)
                .then(|| integer_reply(reply))
                .flatten();
            if count == Some(expected_count) {
                continue;
            }
            if kind == ReplyKind::Error {
                tally.errors += 1;
            } else {
                tally.mismatches += 1;
            }
            if tally.first_problem.is_none() {
                tally.first_problem = Some(format!(
                    "PUBLISH {} answered {}, expected :{expected_count}",
                    options.channel_name(channel),
                    describe(reply)
                ));
            }
        }
    }
}

/// What one subscriber received.
#[derive(Debug)]
struct SubscriberTally {
    delivered: u64,
    last_delivery: Option<Instant>,
    violations: Violations,
}

/// One subscriber's loop: read and check messages until its channel is complete (or
/// quiet for `drain` after the publishers finished), then PING and read to the answer.
fn receive(
    subscriber: Subscriber,
    mut checker: SequenceChecker,
    done: &OnceLock<Instant>,
    drain: Duration,
) -> anyhow::Result<SubscriberTally> {
    let Subscriber {
        mut reader,
        channel_name,
        pattern,
        ..
    } = subscriber;
    let mut delivered = 0;
    let mut last_delivery = None;
    let mut last_progress = Instant::now();
    let mut ping_sent = false;
    let mut pong = false;
    loop {
        if ping_sent {
            if pong {
                break;
            }
        } else if let Some(&done_at) = done.get() {
            let quiet_since = last_progress.max(done_at);
            if checker.is_complete() || quiet_since.elapsed() >= drain {
                let mut out = Vec::new();
                encode_command(&mut out, &["PING"]);
                reader.source_mut().write_all(&out)?;
                reader.source_mut().set_read_timeout(Some(REPLY_TIMEOUT))?;
                ping_sent = true;
            }
        }
        let before = delivered;
        let outcome = reader.read_some(|push| -> anyhow::Result<()> {
            match push {
                Push::Message {
                    pattern: got_pattern,
                    channel,
                    payload,
                } => {
                    delivered += 1;
                    if channel != channel_name.as_slice() || got_pattern != pattern.as_deref() {
                        checker.unexpected(|| {
                            format!(
                                "a message on {} (pattern {:?}) for the subscriber of {}",
                                describe(channel),
                                got_pattern.map(describe),
                                describe(&channel_name)
                            )
                        });
                    } else if let Some((publisher, sequence)) = read_payload(payload) {
                        checker.record(publisher, sequence);
                    } else {
                        checker.unexpected(|| {
                            format!("a payload without a header: {}", describe(payload))
                        });
                    }
                }
                Push::Pong if ping_sent => pong = true,
                Push::Other {
                    kind: ReplyKind::Error,
                    bytes,
                } if ping_sent => {
                    // PING refused in subscribed mode: nothing more will come after it.
                    pong = true;
                    checker.unexpected(|| format!("PING answered {}", describe(bytes)));
                }
                other => checker.unexpected(|| format!("an unexpected push {other:?}")),
            }
            Ok(())
        })?;
        match outcome {
            ReadOutcome::Frames(_) => {}
            ReadOutcome::TimedOut if !ping_sent => {}
            ReadOutcome::TimedOut => bail!(
                "no answer to PING on the subscriber of {} within {} s",
                describe(&channel_name),
                REPLY_TIMEOUT.as_secs()
            ),
            ReadOutcome::Closed => bail!(
                "the server closed the connection of a subscriber of {} after {delivered} messages",
                describe(&channel_name)
            ),
        }
        if delivered > before {
            last_progress = Instant::now();
            if !ping_sent {
                last_delivery = Some(last_progress);
            }
        }
    }
    Ok(SubscriberTally {
        delivered,
        last_delivery,
        violations: checker.finish(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::pubsub::options::{parse, PubSubInvocation};
    use crate::testing::parse_request;

    fn options(line: &str) -> PubSubOptions {
        match parse(line.split_whitespace().map(str::to_owned)) {
            Ok(PubSubInvocation::Run(options)) => options,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    /// How the fake server misbehaves.
    #[derive(Clone, Copy, Default)]
    struct Faults {
        /// Sends publisher 0's message with this sequence number twice.
        duplicate: Option<u64>,
        /// Never delivers publisher 0's message with this sequence number.
        drop: Option<u64>,
        /// Answers the PUBLISH of publisher 0's message with this sequence number with
        /// one subscriber too many.
        miscount: Option<u64>,
    }

    type Subscribers = Arc<Mutex<HashMap<Vec<u8>, Vec<Arc<Mutex<TcpStream>>>>>>;

    /// A RESP2 pub/sub server good enough for the tool: SUBSCRIBE (one channel),
    /// PUBLISH and PING, with `faults`. Returns its port; it serves until the test ends.
    fn fake_server(faults: Faults) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let subscribers: Subscribers = Arc::default();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let stream = Arc::new(Mutex::new(stream.expect("accept")));
                let subscribers = Arc::clone(&subscribers);
                thread::spawn(move || serve(&stream, &subscribers, faults));
            }
        });
        port
    }

    fn serve(stream: &Arc<Mutex<TcpStream>>, subscribers: &Subscribers, faults: Faults) {
        let mut reader = stream.lock().expect("lock").try_clone().expect("clone");
        let mut input = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let read = match reader.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(read) => read,
            };
            input.extend_from_slice(&chunk[..read]);
            while let Some((words, used)) = parse_request(&input) {
                input.drain(..used);
                match words[0].as_slice() {
                    b"SUBSCRIBE" => {
                        let channel = words[1].clone();
                        let mut confirmation =
                            format!("*3\r\n$9\r\nsubscribe\r\n${}\r\n", channel.len()).into_bytes();
                        confirmation.extend_from_slice(&channel);
                        confirmation.extend_from_slice(b"\r\n:1\r\n");
                        // Registered before confirmed, as a real server does: a PUBLISH
                        // sent after the confirmation must count this subscriber.
                        subscribers
                            .lock()
                            .expect("lock")
                            .entry(channel)
                            .or_default()
                            .push(Arc::clone(stream));
                        stream
                            .lock()
                            .expect("lock")
                            .write_all(&confirmation)
                            .expect("write");
                    }
                    b"PUBLISH" => {
                        let (channel, payload) = (&words[1], &words[2]);
                        let (publisher, sequence) = read_payload(payload).expect("a header");
                        let is = |fault: Option<u64>| publisher == 0 && fault == Some(sequence);
                        let mut message =
                            format!("*3\r\n$7\r\nmessage\r\n${}\r\n", channel.len()).into_bytes();
                        message.extend_from_slice(channel);
                        message.extend_from_slice(format!("\r\n${}\r\n", payload.len()).as_bytes());
                        message.extend_from_slice(payload);
                        message.extend_from_slice(b"\r\n");
                        let copies = if is(faults.drop) {
                            0
                        } else if is(faults.duplicate) {
                            2
                        } else {
                            1
                        };
                        let receivers = subscribers
                            .lock()
                            .expect("lock")
                            .get(channel)
                            .cloned()
                            .unwrap_or_default();
                        for receiver in &receivers {
                            let mut receiver = receiver.lock().expect("lock");
                            for _ in 0..copies {
                                receiver.write_all(&message).expect("write");
                            }
                        }
                        let count = receivers.len() + usize::from(is(faults.miscount));
                        stream
                            .lock()
                            .expect("lock")
                            .write_all(format!(":{count}\r\n").as_bytes())
                            .expect("write");
                    }
                    b"PING" => stream
                        .lock()
                        .expect("lock")
                        .write_all(b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")
                        .expect("write"),
                    other => panic!("unexpected command {}", String::from_utf8_lossy(other)),
                }
            }
        }
    }

    fn run_against(faults: Faults) -> PubSubReport {
        let port = fake_server(faults);
        run(&options(&format!(
            "--port {port} --publishers 2 --channels 3 --subscribers-per-channel 2 \
             --messages 30 --data-size 24 --pipeline 4 --drain-timeout-ms 200"
        )))
        .expect("the run")
    }

    #[test]
    fn a_faithful_server_passes() {
        let report = run_against(Faults::default());
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(report.published, 60);
        assert_eq!((report.delivered, report.expected), (120, 120));
        assert_eq!(report.publish_latencies.len(), 60);
        assert!(report.problems().is_empty());
        assert!(report.summary().starts_with("delivered_per_sec="));
        assert!(report
            .summary()
            .contains(" delivered=120 expected=120 elapsed_s="));
    }

    #[test]
    fn lost_duplicated_and_miscounted_messages_fail_the_run() {
        // Publisher 0 owns channels 0 and 2: its even sequence numbers go to channel 0,
        // whose 2 subscribers see each fault once.
        let report = run_against(Faults {
            duplicate: Some(4),
            drop: Some(10),
            miscount: Some(7),
        });
        assert!(!report.is_clean());
        assert_eq!(report.violations.duplicated, 2, "{report:?}");
        assert_eq!(report.violations.missing, 2, "{report:?}");
        assert_eq!(
            (report.violations.out_of_order, report.violations.unexpected),
            (0, 0)
        );
        assert_eq!(report.reply_mismatches, 1);
        assert_eq!(report.delivered, 120);
        let problems = report.problems().join("\n");
        assert!(problems.contains("2 missing, 2 duplicated"), "{problems}");
        assert!(
            problems.contains("PUBLISH psbench:2:feed answered :3, expected :2"),
            "{problems}"
        );
        assert!(problems.contains("sequence 4: arrived again"), "{problems}");
    }

    #[test]
    fn a_refused_subscribe_ends_the_run_with_the_reply() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut chunk = [0u8; 256];
            let _ = stream.read(&mut chunk);
            stream
                .write_all(b"-ERR unknown command 'SUBSCRIBE'\r\n")
                .expect("write");
        });
        let error = run(&options(&format!("--port {port}"))).expect_err("refused");
        assert_eq!(
            format!("{error:#}"),
            "the server refused SUBSCRIBE: -ERR unknown command 'SUBSCRIBE'"
        );
    }
}
