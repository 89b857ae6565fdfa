//! The two servers side by side: one command in, one observation from each out.
//!
//! An observation is the reply after the I/O-dependent normalizations (full
//! SCAN / HSCAN / SSCAN / ZSCAN loops, the RANDOMKEY existence probe, the TYPE
//! probe behind OBJECT ENCODING). A failure to talk to Redis is
//! the harness's problem and ends the run with an error; a failure to talk to
//! Peregrine is a finding, reported as [`Observation::Broken`].
//!
//! Each side has a second connection, opened on first use, for the commands a
//! generator sends as another client ([`Client::Second`]: the writes WATCH must
//! notice).
//!
//! In crash-restart mode the pair also reads both datasets ([`ServerPair::digests`])
//! and kills and restarts the candidate ([`ServerPair::restart_candidate`]); Redis
//! is never restarted.
//!
//! With streams on ([`StreamOptions`]), each side also holds the two subscriber
//! connections of `stream` and a connection that publishes the sync messages, and
//! [`ServerPair::sync_streams`] cuts every stream at the next sync message. A command
//! that answers with several frames ([`Command::frames`], a RESP2 (un)subscribe) has
//! them read and joined into one array reply.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::compare::{self, Comparison};
use crate::digest::Digest;
use crate::generate::model::DATABASES;
use crate::generate::{Client, Command};
use crate::resp::{ClientError, Connection, RawReply, Reply};
use crate::servers::{Durability, ServerKind, ServerProcess};
use crate::stream::{self, StreamError, Subscriber, SECOND_CLIENT_STREAM, SYNC_CHANNEL};

/// Most frames the second client may receive before the answer to its RESET.
const MAX_FRAMES_BEFORE_RESET: usize = 100_000;

/// What the pair sets up besides the connections that send commands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamOptions {
    /// Open the two subscriber connections of `stream` on each side.
    pub subscribers: bool,
    /// `CONFIG SET notify-keyspace-events` on both servers (with active expiry
    /// off, so that no `expired` event comes at a random moment).
    pub notify_keyspace_events: Option<String>,
}

/// What one stream received between two sync messages on each server.
#[derive(Debug)]
pub struct StreamObservation {
    /// The stream, for messages.
    pub name: &'static str,
    /// Redis's frames.
    pub redis: Vec<RawReply>,
    /// Peregrine's frames, or how reading them failed.
    pub peregrine: Result<Vec<RawReply>, String>,
}

/// Subscriber confirmations that differed when the subscribers were opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupDifference {
    /// The subscriber.
    pub name: &'static str,
    /// Redis's confirmations, printable.
    pub redis: String,
    /// Peregrine's confirmations, printable.
    pub peregrine: String,
}

/// Most SCAN calls one loop may take before it counts as not terminating.
pub const MAX_SCAN_CALLS: usize = 10_000;

/// What one server answered, after normalization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// A (possibly normalized) reply.
    Reply(RawReply),
    /// The connection failed or the server sent invalid RESP; the text says how.
    Broken(String),
}

/// How to start the pair: the oracle and the candidate.
#[derive(Debug, Clone)]
pub struct Launcher {
    /// The redis-server binary (the oracle).
    pub redis_bin: PathBuf,
    /// The binary under test.
    pub candidate_bin: PathBuf,
    /// How to start the binary under test.
    pub candidate_kind: ServerKind,
    /// What the binary under test keeps on disk ([`Durability::EveryWrite`] to
    /// restart it); the oracle keeps nothing.
    pub candidate_durability: Durability,
    /// Subscribers and keyspace notifications.
    pub streams: StreamOptions,
}

impl Launcher {
    /// Starts both servers and connects to each.
    pub fn start(&self) -> anyhow::Result<ServerPair> {
        let redis = Side::start(
            &self.redis_bin,
            ServerKind::Redis,
            Durability::Default,
            "redis",
        )?;
        let peregrine = Side::start(
            &self.candidate_bin,
            self.candidate_kind,
            self.candidate_durability,
            "peregrine",
        )?;
        let mut pair = ServerPair {
            redis,
            peregrine,
            syncs: 0,
            setup_difference: None,
            restarting: self.candidate_durability == Durability::EveryWrite,
        };
        if let Some(flags) = &self.streams.notify_keyspace_events {
            for side in [&mut pair.redis, &mut pair.peregrine] {
                side.configure_notifications(flags)?;
            }
        }
        if self.streams.subscribers {
            pair.open_subscribers()?;
        }
        Ok(pair)
    }
}

/// One server and the client connections to it.
#[derive(Debug)]
struct Side {
    process: ServerProcess,
    connection: Connection,
    /// The second client's connection, once a command used it.
    second: Option<Connection>,
    /// The listening connections of `stream` (none unless subscribers are on).
    subscribers: Vec<Subscriber>,
    /// The connection that publishes sync messages while the main one is inside MULTI,
    /// once one was sent.
    sync: Option<Connection>,
    /// Whether the main connection is inside MULTI (its PUBLISH would be queued).
    in_multi: bool,
}

impl Side {
    fn start(
        binary: &std::path::Path,
        kind: ServerKind,
        durability: Durability,
        label: &str,
    ) -> anyhow::Result<Self> {
        let process = ServerProcess::start(binary, kind, durability, label)?;
        let connection = process.connect()?;
        Ok(Self {
            process,
            connection,
            second: None,
            subscribers: Vec::new(),
            sync: None,
            in_multi: false,
        })
    }

    /// Turns keyspace notifications on with `flags` and active expiry off.
    fn configure_notifications(&mut self, flags: &str) -> anyhow::Result<()> {
        let label = self.process.label().to_owned();
        let commands: [&[&str]; 2] = [
            &["CONFIG", "SET", "notify-keyspace-events", flags],
            &["DEBUG", "SET-ACTIVE-EXPIRE", "0"],
        ];
        for command in commands {
            let args: Vec<Vec<u8>> = command.iter().map(|arg| arg.as_bytes().to_vec()).collect();
            let reply = self
                .connection
                .call(&args)
                .with_context(|| format!("sending {} to {label}", command.join(" ")))?;
            if reply.value != Reply::Simple(b"OK".to_vec()) {
                anyhow::bail!(
                    "{label} answered {} to {}",
                    reply.value.printable(),
                    command.join(" ")
                );
            }
        }
        Ok(())
    }

    /// Publishes the sync message `marker`: on the main connection, so that it follows
    /// everything that connection's commands published in the same publisher's order
    /// (Peregrine orders messages per publisher, as the issue asks, not across
    /// publishers on different cores); inside MULTI on a connection of its own (opened
    /// when needed).
    fn publish_sync(&mut self, marker: &[u8]) -> Result<(), ClientError> {
        let publish = [b"PUBLISH".to_vec(), SYNC_CHANNEL.to_vec(), marker.to_vec()];
        if !self.in_multi {
            self.connection.call(&publish)?;
            return Ok(());
        }
        let connection = match self.sync.take() {
            Some(connection) => connection,
            None => self
                .process
                .connect()
                .map_err(|error| ClientError::Io(std::io::Error::other(format!("{error:#}"))))?,
        };
        let connection = self.sync.insert(connection);
        connection.call(&publish)?;
        Ok(())
    }

    /// Follows whether the main connection is inside MULTI: a MULTI answered `+OK`
    /// opens a transaction, EXEC, DISCARD and RESET end it.
    fn note_transaction(&mut self, command: &Command, reply: Option<&RawReply>) {
        let name = command.args.first().map(|name| name.to_ascii_uppercase());
        match name.as_deref() {
            Some(b"MULTI") => {
                self.in_multi = self.in_multi || reply.is_some_and(|reply| reply.raw == b"+OK\r\n");
            }
            Some(b"EXEC" | b"DISCARD" | b"RESET") => self.in_multi = false,
            _ => {}
        }
    }

    /// Reads every stream of this side up to the sync message `marker`: the
    /// subscribers, then the second client when it listens.
    fn read_streams(
        &mut self,
        marker: &[u8],
        second_listening: bool,
    ) -> Vec<(&'static str, Result<Vec<RawReply>, StreamError>)> {
        let mut intervals: Vec<(&'static str, Result<Vec<RawReply>, StreamError>)> = self
            .subscribers
            .iter_mut()
            .map(|subscriber| (subscriber.name, subscriber.read_interval(marker)))
            .collect();
        if second_listening {
            let interval = match self.second.as_mut() {
                Some(second) => stream::read_until_sync(second, marker),
                None => Err(StreamError {
                    error: ClientError::Io(std::io::Error::other("the second client is not open")),
                    marker: marker.to_vec(),
                    received: Vec::new(),
                }),
            };
            intervals.push((SECOND_CLIENT_STREAM, interval));
        }
        intervals
    }

    /// Sends RESET on the second client, if it is open, and reads up to its
    /// `+RESET`, dropping what it received before: it ends any subscription a
    /// stopped seed left behind.
    fn reset_second(&mut self) -> Result<(), ClientError> {
        let Some(second) = self.second.as_mut() else {
            return Ok(());
        };
        second.send(&[b"RESET".to_vec()])?;
        for _ in 0..MAX_FRAMES_BEFORE_RESET {
            let frame = second.next_frame()?;
            if frame.value == Reply::Simple(b"RESET".to_vec()) {
                return Ok(());
            }
        }
        Err(ClientError::Io(std::io::Error::other(
            "no +RESET among the frames the second client received",
        )))
    }

    /// The connection `client`'s commands go on, opening the second one when needed.
    fn client(&mut self, client: Client) -> Result<&mut Connection, ClientError> {
        match client {
            Client::First => Ok(&mut self.connection),
            Client::Second => {
                let connection = match self.second.take() {
                    Some(connection) => connection,
                    None => self.process.connect().map_err(|error| {
                        ClientError::Io(std::io::Error::other(format!("{error:#}")))
                    })?,
                };
                Ok(self.second.insert(connection))
            }
        }
    }

    /// Describes a failure to talk to this server, with what it last printed.
    fn broken(&mut self, error: &ClientError) -> String {
        let state = if self.process.is_running() {
            "the server process is still running"
        } else {
            "the server process has exited"
        };
        format!(
            "<{error}; {state}>\n--- last lines of its output ---\n{}",
            self.process.log_tail(20)
        )
    }
}

/// Redis and Peregrine, each with one connection.
#[derive(Debug)]
pub struct ServerPair {
    redis: Side,
    peregrine: Side,
    /// Sync messages sent so far (the next one carries this plus one).
    syncs: u64,
    /// Subscriber confirmations that differed, until a seed reports them.
    setup_difference: Option<SetupDifference>,
    /// The candidate is killed and restarted (crash-restart mode).
    restarting: bool,
}

impl ServerPair {
    /// Sends `command` to both servers and returns both observations.
    ///
    /// Both requests are written before either reply is read, so the servers
    /// run each command at nearly the same moment.
    pub fn exchange(&mut self, command: &Command) -> anyhow::Result<(RawReply, Observation)> {
        let redis = self
            .redis
            .client(command.client)
            .context("connecting to redis-server")?;
        let peregrine = self.peregrine.client(command.client);
        let observed = match peregrine {
            Ok(peregrine) => exchange_on(redis, peregrine, command)?,
            Err(error) => (None, Err(error)),
        };
        let (redis, peregrine) = match observed {
            (Some(redis), peregrine) => (redis, peregrine),
            (None, peregrine) => {
                let redis = self
                    .redis
                    .client(command.client)
                    .context("connecting to redis-server")?;
                let redis = redis
                    .call(&command.args)
                    .context("reading from redis-server")?;
                (redis, peregrine)
            }
        };
        let (redis, peregrine) = if self.restarting && command.comparison == Comparison::Encoding {
            (
                compare::restarted_string_encoding(&redis),
                peregrine.map(|reply| compare::restarted_string_encoding(&reply)),
            )
        } else {
            (redis, peregrine)
        };
        if command.client == Client::First {
            self.redis.note_transaction(command, Some(&redis));
            self.peregrine
                .note_transaction(command, peregrine.as_ref().ok());
        }
        let peregrine = match peregrine {
            Ok(reply) => Observation::Reply(reply),
            Err(error) => Observation::Broken(self.peregrine.broken(&error)),
        };
        Ok((redis, peregrine))
    }

    /// Opens the subscribers of `stream` on both sides and compares their
    /// confirmations (a difference waits in [`ServerPair::take_setup_difference`]).
    fn open_subscribers(&mut self) -> anyhow::Result<()> {
        for index in 0..stream::SUBSCRIBER_NAMES.len() {
            let (redis, redis_frames) = Subscriber::open(self.redis.process.connect()?, index)
                .context("opening a subscriber on redis-server")?;
            let (peregrine, peregrine_frames) =
                Subscriber::open(self.peregrine.process.connect()?, index)
                    .map_err(|error| anyhow::anyhow!(self.peregrine.broken(&error)))
                    .context("opening a subscriber on peregrine-server")?;
            let same = redis_frames.len() == peregrine_frames.len()
                && redis_frames
                    .iter()
                    .zip(&peregrine_frames)
                    .all(|(left, right)| left.raw == right.raw);
            if !same && self.setup_difference.is_none() {
                self.setup_difference = Some(SetupDifference {
                    name: redis.name,
                    redis: stream::printable_frames(&redis_frames),
                    peregrine: stream::printable_frames(&peregrine_frames),
                });
            }
            self.redis.subscribers.push(redis);
            self.peregrine.subscribers.push(peregrine);
        }
        Ok(())
    }

    /// Subscriber confirmations that differed when the pair started, once.
    pub fn take_setup_difference(&mut self) -> Option<SetupDifference> {
        self.setup_difference.take()
    }

    /// Whether any stream is read after commands when the second client does
    /// not listen (the subscribers are open).
    pub fn has_subscribers(&self) -> bool {
        !self.redis.subscribers.is_empty()
    }

    /// Publishes the next sync message on both servers and reads every stream
    /// up to it: the subscribers, and the second client when `second_listening`.
    /// Empty when there is no stream to read. A failure on Redis's side is the
    /// harness's and ends the run; on Peregrine's it is that stream's observation.
    pub fn sync_streams(
        &mut self,
        second_listening: bool,
    ) -> anyhow::Result<Vec<StreamObservation>> {
        if !self.has_subscribers() && !second_listening {
            return Ok(Vec::new());
        }
        self.syncs = self.syncs.saturating_add(1);
        let marker = self.syncs.to_string().into_bytes();
        self.redis
            .publish_sync(&marker)
            .context("publishing a sync message on redis-server")?;
        let published = self.peregrine.publish_sync(&marker);
        let mut redis_intervals = self.redis.read_streams(&marker, second_listening);
        let peregrine_intervals = match published {
            Ok(()) => self.peregrine.read_streams(&marker, second_listening),
            Err(error) => {
                let text = self.peregrine.broken(&error);
                redis_intervals
                    .iter()
                    .map(|(name, _)| {
                        let error = ClientError::Io(std::io::Error::other(text.clone()));
                        let failed = StreamError {
                            error,
                            marker: marker.clone(),
                            received: Vec::new(),
                        };
                        (*name, Err(failed))
                    })
                    .collect()
            }
        };
        let mut observations = Vec::with_capacity(redis_intervals.len());
        for ((name, redis), (_, peregrine)) in redis_intervals.drain(..).zip(peregrine_intervals) {
            let redis = redis
                .map_err(|error| anyhow::anyhow!("{error}"))
                .with_context(|| format!("reading {name} on redis-server"))?;
            let peregrine = peregrine.map_err(|error| {
                let state = if self.peregrine.process.is_running() {
                    "the server process is still running"
                } else {
                    "the server process has exited"
                };
                format!("<{error}; {state}>")
            });
            observations.push(StreamObservation {
                name,
                redis,
                peregrine,
            });
        }
        Ok(observations)
    }

    /// RESET on the second client of each side where it is open (see
    /// [`Side::reset_second`]); how Peregrine's failed, if it did.
    pub fn reset_second_clients(&mut self) -> anyhow::Result<Result<(), String>> {
        self.redis
            .reset_second()
            .context("resetting the second client on redis-server")?;
        Ok(self
            .peregrine
            .reset_second()
            .map_err(|error| self.peregrine.broken(&error)))
    }

    /// Reads the whole dataset of both servers, each over a connection of its
    /// own (the main connections keep their selected database). A failure to
    /// read Peregrine's is a finding, returned as its description.
    pub fn digests(&mut self) -> anyhow::Result<(Digest, Result<Digest, String>)> {
        let mut connection = self.redis.process.connect()?;
        let redis = Digest::take(&mut connection, DATABASES)
            .context("reading the dataset of redis-server")?;
        Ok((redis, self.candidate_digest()))
    }

    /// Reads the whole dataset of the candidate over a connection of its own.
    pub fn candidate_digest(&mut self) -> Result<Digest, String> {
        let mut connection = self
            .peregrine
            .process
            .connect()
            .map_err(|error| format!("<{error:#}>"))?;
        Digest::take(&mut connection, DATABASES).map_err(|error| self.peregrine.broken(&error))
    }

    /// Has the candidate take a snapshot (SAVE) over a connection of its own: a restart
    /// after it recovers from the snapshot, then the log written since.
    pub fn snapshot_candidate(&mut self) -> Result<(), String> {
        let mut connection = self
            .peregrine
            .process
            .connect()
            .map_err(|error| format!("<{error:#}>"))?;
        let reply = connection
            .call(&[b"SAVE".to_vec()])
            .map_err(|error| self.peregrine.broken(&error))?;
        if reply.value != Reply::Simple(b"OK".to_vec()) {
            return Err(format!("<SAVE answered {}>", reply.value.printable()));
        }
        Ok(())
    }

    /// Kills the candidate with SIGKILL between two commands (no request is
    /// outstanding, so no client is blocked), starts it again on the same data
    /// directory, reconnects, and selects `database` again: the only
    /// connection state the generator changes (it never sends HELLO or CLIENT, its
    /// blocking commands have always returned, and its MULTI and WATCH end within
    /// the recipe that sent them, while restarts fall between recipes). The second
    /// connection is dropped and reopened on its next use. Returns how the
    /// candidate failed to come back, if it did.
    pub fn restart_candidate(&mut self, database: usize) -> Result<(), String> {
        self.peregrine.connection.close();
        if let Some(second) = self.peregrine.second.take() {
            second.close();
        }
        if let Some(sync) = self.peregrine.sync.take() {
            sync.close();
        }
        self.peregrine
            .process
            .kill_and_restart()
            .map_err(|error| format!("<{error:#}>"))?;
        let mut connection = self
            .peregrine
            .process
            .connect()
            .map_err(|error| format!("<{error:#}>"))?;
        if database != 0 {
            let select = [b"SELECT".to_vec(), database.to_string().into_bytes()];
            let reply = connection
                .call(&select)
                .map_err(|error| self.peregrine.broken(&error))?;
            if reply.value != Reply::Simple(b"OK".to_vec()) {
                return Err(format!(
                    "<SELECT {database} after the restart answered {}>",
                    reply.value.printable()
                ));
            }
        }
        self.peregrine.connection = connection;
        Ok(())
    }
}

/// Sends `command` on one connection to each server and reads both observations
/// (Redis's reply first; `None` there only when Peregrine could not be reached,
/// in which case nothing was sent to either).
fn exchange_on(
    redis: &mut Connection,
    peregrine: &mut Connection,
    command: &Command,
) -> anyhow::Result<(Option<RawReply>, Result<RawReply, ClientError>)> {
    if command.frames != 1 {
        redis
            .send(&command.args)
            .context("sending to redis-server")?;
        let peregrine_sent = peregrine.send(&command.args);
        let redis = redis
            .read_replies(command.frames)
            .context("reading from redis-server")?;
        let peregrine = peregrine_sent
            .map_err(ClientError::Io)
            .and_then(|()| peregrine.read_replies(command.frames));
        return Ok((Some(joined(redis)), peregrine.map(joined)));
    }
    if let Some(shape) = ScanShape::of(command.comparison) {
        let redis = scan_loop(redis, &command.args, shape)
            .context("running a SCAN loop on redis-server")?;
        return Ok((Some(redis), scan_loop(peregrine, &command.args, shape)));
    }
    redis
        .send(&command.args)
        .context("sending to redis-server")?;
    let peregrine_sent = peregrine.send(&command.args);
    let mut redis_reply = redis.read_reply().context("reading from redis-server")?;
    let peregrine_reply = peregrine_sent
        .map_err(ClientError::Io)
        .and_then(|()| peregrine.read_reply());
    let mut peregrine_reply = match peregrine_reply {
        Ok(reply) => reply,
        Err(error) => return Ok((Some(redis_reply), Err(error))),
    };
    let probe: Option<Probe> = match command.comparison {
        Comparison::RandomKey => Some(random_key_probe),
        Comparison::Encoding => Some(encoding_probe),
        _ => None,
    };
    if let Some(probe) = probe {
        redis_reply =
            probe(redis, &command.args, redis_reply).context("probing a key on redis-server")?;
        peregrine_reply = match probe(peregrine, &command.args, peregrine_reply) {
            Ok(reply) => reply,
            Err(error) => return Ok((Some(redis_reply), Err(error))),
        };
    }
    Ok((Some(redis_reply), Ok(peregrine_reply)))
}

/// The frames of one command as one reply: their bytes one after the other, and
/// an array of their values.
fn joined(frames: Vec<RawReply>) -> RawReply {
    let mut raw = Vec::new();
    let mut values = Vec::with_capacity(frames.len());
    for frame in frames {
        raw.extend_from_slice(&frame.raw);
        values.push(frame.value);
    }
    RawReply {
        raw,
        value: Reply::Array(values),
    }
}

/// Where a scan command keeps its cursor and how its elements group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ScanShape {
    /// The argument index of the cursor (1 for SCAN, 2 after the key).
    cursor_at: usize,
    /// Elements per returned item: 1 for keys and members, 2 for pairs.
    group: usize,
}

impl ScanShape {
    /// The shape of the scan loops `comparison` asks for, if it asks for one.
    fn of(comparison: Comparison) -> Option<Self> {
        let (cursor_at, group) = match comparison {
            Comparison::ScanKeys => (1, 1),
            Comparison::ScanMembers => (2, 1),
            Comparison::ScanPairs => (2, 2),
            _ => return None,
        };
        Some(Self { cursor_at, group })
    }
}

/// Follows a SCAN (or HSCAN, SSCAN, ZSCAN) cursor from 0 to the end and
/// returns what it found in canonical form (rules 3 and 7 of `compare`), an
/// error reply as it came, or a synthetic `DIFF` error when the reply is
/// malformed or the loop does not end.
fn scan_loop(
    connection: &mut Connection,
    args: &[Vec<u8>],
    shape: ScanShape,
) -> Result<RawReply, ClientError> {
    let mut call_args = args.to_vec();
    let mut elements = Vec::new();
    for _ in 0..MAX_SCAN_CALLS {
        let reply = connection.call(&call_args)?;
        let next_cursor = match &reply.value {
            Reply::Error(_) => return Ok(reply),
            Reply::Array(items) => match items.as_slice() {
                [Reply::Bulk(cursor), Reply::Array(page)] => {
                    for item in page {
                        match item {
                            Reply::Bulk(element) => elements.push(element.clone()),
                            _ => return Ok(malformed_scan(&reply.value)),
                        }
                    }
                    cursor.clone()
                }
                _ => return Ok(malformed_scan(&reply.value)),
            },
            _ => return Ok(malformed_scan(&reply.value)),
        };
        if next_cursor == b"0" {
            let canonical = if shape.group == 1 {
                Some(compare::scan_result(elements))
            } else {
                compare::scan_elements(elements, shape.group)
            };
            return Ok(canonical.unwrap_or_else(|| malformed_scan(&reply.value)));
        }
        if let Some(cursor) = call_args.get_mut(shape.cursor_at) {
            *cursor = next_cursor;
        }
    }
    Ok(RawReply::from_value(Reply::Error(
        format!("DIFF SCAN loop did not reach cursor 0 within {MAX_SCAN_CALLS} calls").into_bytes(),
    )))
}

fn malformed_scan(reply: &Reply) -> RawReply {
    RawReply::from_value(Reply::Error(
        format!("DIFF malformed SCAN reply: {}", reply.printable()).into_bytes(),
    ))
}

/// A follow-up question to the server that answered `reply` to `args`,
/// folded into a canonical reply.
type Probe = fn(&mut Connection, &[Vec<u8>], RawReply) -> Result<RawReply, ClientError>;

/// Rule 4 of `compare`: asks the same server whether the returned key exists.
fn random_key_probe(
    connection: &mut Connection,
    _args: &[Vec<u8>],
    reply: RawReply,
) -> Result<RawReply, ClientError> {
    let Reply::Bulk(key) = &reply.value else {
        return Ok(reply);
    };
    let exists = connection.call(&[b"EXISTS".to_vec(), key.clone()])?;
    Ok(compare::random_key_result(
        &reply,
        exists.value == Reply::Integer(1),
    ))
}

/// Rule 8 of `compare`: asks the same server for the TYPE of the key of
/// `OBJECT ENCODING key` (argument 2).
fn encoding_probe(
    connection: &mut Connection,
    args: &[Vec<u8>],
    reply: RawReply,
) -> Result<RawReply, ClientError> {
    let (Reply::Bulk(_), Some(key)) = (&reply.value, args.get(2)) else {
        return Ok(reply);
    };
    let key_type = connection.call(&[b"TYPE".to_vec(), key.clone()])?;
    let key_type = match &key_type.value {
        Reply::Simple(name) => name.clone(),
        _ => Vec::new(),
    };
    Ok(compare::encoding_result(&reply, &key_type))
}
