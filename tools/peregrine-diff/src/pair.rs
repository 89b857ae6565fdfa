//! The two servers side by side: one command in, one observation from each out.
//!
//! An observation is the reply after the I/O-dependent normalizations (full
//! SCAN loops, the RANDOMKEY existence probe). A failure to talk to Redis is
//! the harness's problem and ends the run with an error; a failure to talk to
//! Peregrine is a finding, reported as [`Observation::Broken`].

use std::path::PathBuf;

use anyhow::Context as _;

use crate::compare::{self, Comparison};
use crate::generate::Command;
use crate::resp::{ClientError, Connection, RawReply, Reply};
use crate::servers::{ServerKind, ServerProcess};

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
}

impl Launcher {
    /// Starts both servers and connects to each.
    pub fn start(&self) -> anyhow::Result<ServerPair> {
        let redis = Side::start(&self.redis_bin, ServerKind::Redis, "redis")?;
        let peregrine = Side::start(&self.candidate_bin, self.candidate_kind, "peregrine")?;
        Ok(ServerPair { redis, peregrine })
    }
}

/// One server and the client connection to it.
#[derive(Debug)]
struct Side {
    process: ServerProcess,
    connection: Connection,
}

impl Side {
    fn start(binary: &std::path::Path, kind: ServerKind, label: &str) -> anyhow::Result<Self> {
        let process = ServerProcess::start(binary, kind, label)?;
        let connection = process.connect()?;
        Ok(Self {
            process,
            connection,
        })
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
}

impl ServerPair {
    /// Sends `command` to both servers and returns both observations.
    ///
    /// Both requests are written before either reply is read, so the servers
    /// run each command at nearly the same moment.
    pub fn exchange(&mut self, command: &Command) -> anyhow::Result<(RawReply, Observation)> {
        if command.comparison == Comparison::ScanKeys {
            let redis = scan_loop(&mut self.redis.connection, &command.args)
                .context("running a SCAN loop on redis-server")?;
            let peregrine = match scan_loop(&mut self.peregrine.connection, &command.args) {
                Ok(reply) => Observation::Reply(reply),
                Err(error) => Observation::Broken(self.peregrine.broken(&error)),
            };
            return Ok((redis, peregrine));
        }
        self.redis
            .connection
            .send(&command.args)
            .context("sending to redis-server")?;
        let peregrine_sent = self.peregrine.connection.send(&command.args);
        let mut redis = self
            .redis
            .connection
            .read_reply()
            .context("reading from redis-server")?;
        let peregrine = peregrine_sent
            .map_err(ClientError::Io)
            .and_then(|()| self.peregrine.connection.read_reply());
        let mut peregrine = match peregrine {
            Ok(reply) => reply,
            Err(error) => return Ok((redis, Observation::Broken(self.peregrine.broken(&error)))),
        };
        if command.comparison == Comparison::RandomKey {
            redis = random_key_probe(&mut self.redis.connection, redis)
                .context("probing the key RANDOMKEY returned on redis-server")?;
            peregrine = match random_key_probe(&mut self.peregrine.connection, peregrine) {
                Ok(reply) => reply,
                Err(error) => {
                    return Ok((redis, Observation::Broken(self.peregrine.broken(&error))))
                }
            };
        }
        Ok((redis, Observation::Reply(peregrine)))
    }
}

/// Follows a SCAN cursor from 0 to the end and returns the key set (rule 3 of
/// `compare`), an error reply as it came, or a synthetic `DIFF` error when the
/// reply is malformed or the loop does not end.
fn scan_loop(connection: &mut Connection, args: &[Vec<u8>]) -> Result<RawReply, ClientError> {
    let mut call_args = args.to_vec();
    let mut keys = Vec::new();
    for _ in 0..MAX_SCAN_CALLS {
        let reply = connection.call(&call_args)?;
        let next_cursor = match &reply.value {
            Reply::Error(_) => return Ok(reply),
            Reply::Array(items) => match items.as_slice() {
                [Reply::Bulk(cursor), Reply::Array(page)] => {
                    for item in page {
                        match item {
                            Reply::Bulk(key) => keys.push(key.clone()),
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
            return Ok(compare::scan_result(keys));
        }
        if let Some(cursor) = call_args.get_mut(1) {
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

/// Rule 4 of `compare`: asks the same server whether the returned key exists.
fn random_key_probe(connection: &mut Connection, reply: RawReply) -> Result<RawReply, ClientError> {
    let Reply::Bulk(key) = &reply.value else {
        return Ok(reply);
    };
    let exists = connection.call(&[b"EXISTS".to_vec(), key.clone()])?;
    Ok(compare::random_key_result(
        &reply,
        exists.value == Reply::Integer(1),
    ))
}
