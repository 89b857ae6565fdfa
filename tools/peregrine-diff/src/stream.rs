//! Subscriber streams: what subscribers receive, cut into one interval per command.
//!
//! With subscribers on (`DiffConfig::subscribers`), each server gets two more
//! connections before the first seed, which only ever listen:
//!
//! 1. RESP2: `PSUBSCRIBE __key*__:*` and the pubsub family's patterns
//!    ([`SUBSCRIBED_PATTERNS`]), `SUBSCRIBE` the sync channel and the family's
//!    channels ([`SUBSCRIBED_CHANNELS`]);
//! 2. RESP3 (`HELLO 3`): `SSUBSCRIBE` the family's shard channels
//!    ([`SUBSCRIBED_SHARD_CHANNELS`]), `PSUBSCRIBE` [`RESP3_PATTERNS`], `SUBSCRIBE`
//!    the sync channel.
//!
//! Their confirmations are compared once, when they are opened. The second client
//! of the pubsub family is a third stream while it listens on the sync channel.
//!
//! After every command the driver publishes a fresh counter on [`SYNC_CHANNEL`],
//! over a connection of its own (the main one may be inside MULTI), and reads each
//! stream up to that message ([`read_until_sync`]): what came before it and after
//! the previous one is what the command caused. Every read has a timeout
//! ([`STREAM_TIMEOUT`]), so a sync message that never comes is an error that says
//! which, and what did come, instead of a hang.

use std::fmt;
use std::time::Duration;

use crate::generate::pubsub::{
    RESP3_PATTERNS, SUBSCRIBED_CHANNELS, SUBSCRIBED_PATTERNS, SUBSCRIBED_SHARD_CHANNELS,
};
use crate::resp::{ClientError, Connection, Protocol, RawReply, Reply};

pub use crate::generate::pubsub::SYNC_CHANNEL;

/// How long a subscriber may wait for its next frame before the sync message
/// counts as missing.
pub const STREAM_TIMEOUT: Duration = Duration::from_secs(5);

/// The pattern of every keyspace and keyevent notification channel.
pub const KEYSPACE_PATTERN: &[u8] = b"__key*__:*";

/// Most frames one interval may hold before the stream counts as runaway.
const MAX_FRAMES_PER_INTERVAL: usize = 100_000;

/// The names of the subscriber streams, in the order they are opened and read.
pub const SUBSCRIBER_NAMES: [&str; 2] = [
    "subscriber 1 (RESP2: __key*__:*, channels, patterns)",
    "subscriber 2 (RESP3: shard channels, patterns)",
];

/// The name of the second client's stream.
pub const SECOND_CLIENT_STREAM: &str = "client 2 (RESP2, subscribed in a pubsub recipe)";

/// One listening connection.
#[derive(Debug)]
pub struct Subscriber {
    /// Which of [`SUBSCRIBER_NAMES`] it is.
    pub name: &'static str,
    connection: Connection,
}

/// A stream read that failed, with the frames that did arrive.
#[derive(Debug)]
pub struct StreamError {
    /// What went wrong.
    pub error: ClientError,
    /// The sync counter that was awaited.
    pub marker: Vec<u8>,
    /// The frames read before the failure.
    pub received: Vec<RawReply>,
}

impl fmt::Display for StreamError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "no sync message {} on {} ({}); received before it: {}",
            String::from_utf8_lossy(&self.marker),
            String::from_utf8_lossy(SYNC_CHANNEL),
            self.error,
            printable_frames(&self.received)
        )
    }
}

/// The commands that set up subscriber `index` (of [`SUBSCRIBER_NAMES`]), each
/// with the number of confirmation frames it answers.
fn setup_commands(index: usize) -> Vec<(Vec<Vec<u8>>, usize)> {
    let command = |name: &str, names: &[&[u8]]| {
        let mut args = vec![name.as_bytes().to_vec()];
        args.extend(names.iter().map(|name| name.to_vec()));
        (args, names.len())
    };
    let mut sync_and_channels = vec![SYNC_CHANNEL];
    if index == 0 {
        sync_and_channels.extend_from_slice(SUBSCRIBED_CHANNELS);
        let mut patterns = vec![KEYSPACE_PATTERN];
        patterns.extend_from_slice(SUBSCRIBED_PATTERNS);
        vec![
            command("PSUBSCRIBE", &patterns),
            command("SUBSCRIBE", &sync_and_channels),
        ]
    } else {
        vec![
            command("SSUBSCRIBE", SUBSCRIBED_SHARD_CHANNELS),
            command("PSUBSCRIBE", RESP3_PATTERNS),
            command("SUBSCRIBE", &sync_and_channels),
        ]
    }
}

impl Subscriber {
    /// Makes `connection` subscriber `index`; returns it with the confirmation
    /// frames it received (the reply to HELLO 3 left out: it names the server).
    pub fn open(
        mut connection: Connection,
        index: usize,
    ) -> Result<(Self, Vec<RawReply>), ClientError> {
        connection.set_read_timeout(STREAM_TIMEOUT)?;
        if index == 1 {
            connection.set_protocol(Protocol::Resp3);
            connection.call(&[b"HELLO".to_vec(), b"3".to_vec()])?;
        }
        let mut confirmations = Vec::new();
        for (args, frames) in setup_commands(index) {
            connection.send(&args)?;
            confirmations.extend(connection.read_replies(frames)?);
        }
        let name = SUBSCRIBER_NAMES.get(index).copied().unwrap_or("subscriber");
        Ok((Self { name, connection }, confirmations))
    }

    /// The frames received before the sync message `marker`.
    pub fn read_interval(&mut self, marker: &[u8]) -> Result<Vec<RawReply>, StreamError> {
        read_until_sync(&mut self.connection, marker)
    }
}

/// Reads `connection`'s frames up to the sync message carrying `marker` and
/// returns those before it.
pub fn read_until_sync(
    connection: &mut Connection,
    marker: &[u8],
) -> Result<Vec<RawReply>, StreamError> {
    let mut received = Vec::new();
    loop {
        let frame = match connection.next_frame() {
            Ok(frame) => frame,
            Err(error) => {
                return Err(StreamError {
                    error,
                    marker: marker.to_vec(),
                    received,
                })
            }
        };
        if is_sync(&frame, marker) {
            return Ok(received);
        }
        received.push(frame);
        if received.len() > MAX_FRAMES_PER_INTERVAL {
            let error = std::io::Error::other(format!(
                "more than {MAX_FRAMES_PER_INTERVAL} frames before it"
            ));
            return Err(StreamError {
                error: ClientError::Io(error),
                marker: marker.to_vec(),
                received,
            });
        }
    }
}

/// Whether `frame` is the sync message carrying `marker`.
pub fn is_sync(frame: &RawReply, marker: &[u8]) -> bool {
    let Reply::Array(parts) = &frame.value else {
        return false;
    };
    matches!(
        parts.as_slice(),
        [Reply::Bulk(word), Reply::Bulk(channel), Reply::Bulk(payload)]
            if word == b"message" && channel == SYNC_CHANNEL && payload == marker
    )
}

/// One frame, printable; RESP3 pushes are marked with `>`.
pub fn printable_frame(frame: &RawReply) -> String {
    if frame.raw.first() == Some(&b'>') {
        format!(">{}", frame.value.printable())
    } else {
        frame.value.printable()
    }
}

/// Frames as one printable list: `[frame, frame]`.
pub fn printable_frames(frames: &[RawReply]) -> String {
    let parts: Vec<String> = frames.iter().map(printable_frame).collect();
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(channel: &[u8], payload: &[u8]) -> RawReply {
        RawReply::from_value(Reply::Array(vec![
            Reply::Bulk(b"message".to_vec()),
            Reply::Bulk(channel.to_vec()),
            Reply::Bulk(payload.to_vec()),
        ]))
    }

    #[test]
    fn only_the_awaited_sync_message_ends_an_interval() {
        assert!(is_sync(&message(SYNC_CHANNEL, b"7"), b"7"));
        assert!(!is_sync(&message(SYNC_CHANNEL, b"6"), b"7"));
        assert!(!is_sync(&message(b"news", b"7"), b"7"));
    }

    #[test]
    fn setup_subscribes_the_sync_channel_on_both_subscribers() {
        for index in 0..SUBSCRIBER_NAMES.len() {
            let commands = setup_commands(index);
            assert!(commands.iter().any(|(args, frames)| {
                args.first().map(Vec::as_slice) == Some(b"SUBSCRIBE")
                    && args.iter().any(|arg| arg == SYNC_CHANNEL)
                    && *frames == args.len() - 1
            }));
        }
    }

    #[test]
    fn pushes_print_with_their_marker() {
        let push = RawReply {
            raw: b">1\r\n:1\r\n".to_vec(),
            value: Reply::Array(vec![Reply::Integer(1)]),
        };
        assert_eq!(printable_frame(&push), ">[:1]");
        assert_eq!(
            printable_frames(&[message(b"c", b"")]),
            "[[\"message\", \"c\", \"\"]]"
        );
    }
}
