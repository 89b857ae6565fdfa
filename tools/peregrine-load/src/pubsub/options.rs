//! The command line of `peregrine-load pubsub`, parsed into [`PubSubOptions`] by a
//! pure function. Flags take their value as the next argument or after `=`, like the
//! main mode's; `--pattern` and `--resp3` are switches and take none.

use crate::options::{flag_value, non_empty, number, read_flag, FlagArgument, UsageError};
use crate::pubsub::push::{MAX_PUBLISHER, MAX_SEQUENCE, PAYLOAD_HEADER};

/// The usage text printed by `pubsub --help` and after a usage error.
pub const PUBSUB_USAGE: &str = "\
usage: peregrine-load pubsub --port P [options]

Pub/sub load and delivery check. Subscribers connect first, SUBSCRIBE to their
channel and wait for every confirmation; then every publisher sends its PUBLISHes,
with at most --pipeline of them unanswered at a time. Channel n is PREFIXn:feed.
With at least as many publishers as channels, publisher p publishes to channel
p mod C; with fewer, publisher p owns channels p, p+P, p+2P, ... and publishes
round-robin over them. Each payload starts with its publisher and sequence number;
every subscriber checks that each message meant for it arrives exactly once and in
its publisher's order, and every PUBLISH must answer --subscribers-per-channel.

  --host H             server address (default 127.0.0.1)
  --port P             server port (required)
  --publishers P       publishing connections (default 1)
  --channels C         channels (default 1)
  --subscribers-per-channel S
                       subscriber connections per channel (default 1)
  --messages M         PUBLISHes per publisher (default 10000)
  --data-size B        payload bytes, at least 18 (default 64)
  --pipeline W         most unanswered PUBLISHes per publisher (default 1)
  --channel-prefix TEXT
                       channel names start with TEXT, which holds no glob
                       characters (default psbench:)
  --pattern            PSUBSCRIBE PREFIXn:* instead of SUBSCRIBE PREFIXn:feed; the
                       pattern matches channel n only
  --resp3              HELLO 3 on every connection first: messages arrive as RESP3
                       pushes (>3 message, >4 pmessage)
  --drain-timeout-ms T how long subscribers wait for missing messages once every
                       PUBLISH was answered and no message came (default 5000)

One connection and one thread per publisher and per subscriber, at most 4000 in all.

Prints one line: delivered_per_sec=.. published=.. delivered=.. expected=..
elapsed_s=.. publish_p50_ms=.. publish_p99_ms=.. publish_errors=..
reply_mismatches=.. missing=.. duplicated=.. out_of_order=.. unexpected=..
where elapsed_s runs from the first PUBLISH to the last message received, and
expected is publishers x messages x subscribers per channel. After the messages
every subscriber sends PING and reads up to its answer, so a late duplicate counts.
Exit status: 0 when every message arrived once and in order and every PUBLISH was
answered with the subscriber count; 1 otherwise (the violations are printed to
stderr) or when the run failed; 2 on usage errors.";

/// Most connections of one run: each has a thread.
pub const MAX_CONNECTIONS: usize = 4_000;

// Every publisher number fits in the payload header.
const _: () = assert!(MAX_CONNECTIONS as u64 <= MAX_PUBLISHER as u64);

/// What the pub/sub run should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubSubOptions {
    /// Server host name or address.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Publishing connections.
    pub publishers: u32,
    /// Channels.
    pub channels: u32,
    /// Subscriber connections per channel.
    pub subscribers_per_channel: u32,
    /// PUBLISHes per publisher.
    pub messages: u64,
    /// Payload bytes, at least [`PAYLOAD_HEADER`].
    pub data_size: usize,
    /// Most unanswered PUBLISHes per publisher.
    pub pipeline: usize,
    /// Channel names start with it.
    pub channel_prefix: String,
    /// PSUBSCRIBE to a pattern instead of SUBSCRIBE to the channel.
    pub pattern: bool,
    /// Switch every connection to RESP3 first.
    pub resp3: bool,
    /// How long subscribers wait for missing messages at the end, in milliseconds.
    pub drain_timeout_ms: u64,
}

impl PubSubOptions {
    /// The name of channel `index`.
    pub fn channel_name(&self, index: u32) -> String {
        format!("{}{index}:feed", self.channel_prefix)
    }

    /// What the subscribers of channel `index` subscribe to: the channel, or with
    /// `--pattern` a pattern that matches it and no other channel of the run.
    pub fn subscription(&self, index: u32) -> String {
        if self.pattern {
            format!("{}{index}:*", self.channel_prefix)
        } else {
            self.channel_name(index)
        }
    }

    /// Publisher and subscriber connections together.
    pub fn connections(&self) -> usize {
        let subscribers = u64::from(self.channels) * u64::from(self.subscribers_per_channel);
        usize::try_from(subscribers + u64::from(self.publishers)).unwrap_or(usize::MAX)
    }
}

/// What `peregrine-load pubsub ...` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PubSubInvocation {
    /// Print [`PUBSUB_USAGE`] and exit successfully.
    Help,
    /// Run the load.
    Run(PubSubOptions),
}

/// Parses the arguments after `pubsub`.
pub fn parse<I>(arguments: I) -> Result<PubSubInvocation, UsageError>
where
    I: IntoIterator<Item = String>,
{
    let mut options = PubSubOptions {
        host: "127.0.0.1".to_owned(),
        port: 0,
        publishers: 1,
        channels: 1,
        subscribers_per_channel: 1,
        messages: 10_000,
        data_size: 64,
        pipeline: 1,
        channel_prefix: "psbench:".to_owned(),
        pattern: false,
        resp3: false,
        drain_timeout_ms: 5_000,
    };
    let mut port = None;
    let mut arguments = arguments.into_iter();
    while let Some(argument) = arguments.next() {
        let (flag, name, inline_value) = match read_flag(argument, FLAGS)? {
            FlagArgument::Help => return Ok(PubSubInvocation::Help),
            FlagArgument::Flag(flag, name, inline_value) => (flag, name, inline_value),
        };
        if let Flag::Pattern | Flag::Resp3 = flag {
            if inline_value.is_some() {
                return Err(UsageError::SwitchWithValue(name));
            }
            match flag {
                Flag::Pattern => options.pattern = true,
                _ => options.resp3 = true,
            }
            continue;
        }
        let value = flag_value(name, inline_value, &mut arguments)?;
        match flag {
            Flag::Host => options.host = non_empty(name, value)?,
            Flag::Port => port = Some(number(name, &value, 1, u16::MAX)?),
            Flag::Publishers => options.publishers = number(name, &value, 1, MAX_PUBLISHER)?,
            Flag::Channels => options.channels = number(name, &value, 1, 100_000)?,
            Flag::SubscribersPerChannel => {
                options.subscribers_per_channel = number(name, &value, 1, 100_000)?;
            }
            Flag::Messages => options.messages = number(name, &value, 1, MAX_SEQUENCE + 1)?,
            Flag::DataSize => {
                options.data_size = number(name, &value, 0, 512 * 1024 * 1024)?;
                if options.data_size < PAYLOAD_HEADER {
                    return Err(UsageError::InvalidValue {
                        flag: name,
                        value,
                        expected: "at least 18 bytes, the payload header",
                    });
                }
            }
            Flag::Pipeline => options.pipeline = number(name, &value, 1, 100_000)?,
            Flag::ChannelPrefix => {
                if value.contains(['*', '?', '[', ']', '\\']) {
                    return Err(UsageError::InvalidValue {
                        flag: name,
                        value,
                        expected: "text without the glob characters * ? [ ] \\",
                    });
                }
                options.channel_prefix = value;
            }
            Flag::DrainTimeoutMs => {
                options.drain_timeout_ms = number(name, &value, 0, 3_600_000)?;
            }
            Flag::Pattern | Flag::Resp3 => {}
        }
    }
    options.port = port.ok_or(UsageError::MissingPort)?;
    if options.connections() > MAX_CONNECTIONS {
        return Err(UsageError::TooManyConnections {
            connections: options.connections(),
            limit: MAX_CONNECTIONS,
        });
    }
    Ok(PubSubInvocation::Run(options))
}

/// The flags; all but `Pattern` and `Resp3` take a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    Host,
    Port,
    Publishers,
    Channels,
    SubscribersPerChannel,
    Messages,
    DataSize,
    Pipeline,
    ChannelPrefix,
    Pattern,
    Resp3,
    DrainTimeoutMs,
}

/// Every flag by its spelling on the command line.
const FLAGS: &[(&str, Flag)] = &[
    ("--host", Flag::Host),
    ("--port", Flag::Port),
    ("--publishers", Flag::Publishers),
    ("--channels", Flag::Channels),
    ("--subscribers-per-channel", Flag::SubscribersPerChannel),
    ("--messages", Flag::Messages),
    ("--data-size", Flag::DataSize),
    ("--pipeline", Flag::Pipeline),
    ("--channel-prefix", Flag::ChannelPrefix),
    ("--pattern", Flag::Pattern),
    ("--resp3", Flag::Resp3),
    ("--drain-timeout-ms", Flag::DrainTimeoutMs),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(line: &str) -> Result<PubSubInvocation, UsageError> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    fn options(line: &str) -> PubSubOptions {
        match parse_words(line) {
            Ok(PubSubInvocation::Run(options)) => options,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_documented_values() {
        let parsed = options("--port 6379");
        assert_eq!(parsed.host, "127.0.0.1");
        assert_eq!(parsed.port, 6379);
        assert_eq!(
            (
                parsed.publishers,
                parsed.channels,
                parsed.subscribers_per_channel
            ),
            (1, 1, 1)
        );
        assert_eq!(parsed.messages, 10_000);
        assert_eq!(parsed.data_size, 64);
        assert_eq!(parsed.pipeline, 1);
        assert_eq!(parsed.channel_prefix, "psbench:");
        assert!(!parsed.pattern && !parsed.resp3);
        assert_eq!(parsed.drain_timeout_ms, 5_000);
        assert_eq!(parsed.channel_name(3), "psbench:3:feed");
        assert_eq!(parsed.subscription(3), "psbench:3:feed");
    }

    #[test]
    fn every_flag_in_both_spellings() {
        let spaced = options(
            "--host localhost --port 7000 --publishers 50 --channels 50 \
             --subscribers-per-channel 2 --messages 500 --data-size 18 --pipeline 16 \
             --channel-prefix ps. --pattern --resp3 --drain-timeout-ms 10",
        );
        let joined = options(
            "--host=localhost --port=7000 --publishers=50 --channels=50 \
             --subscribers-per-channel=2 --messages=500 --data-size=18 --pipeline=16 \
             --channel-prefix=ps. --pattern --resp3 --drain-timeout-ms=10",
        );
        assert_eq!(spaced, joined);
        assert_eq!(spaced.host, "localhost");
        assert_eq!(spaced.port, 7000);
        assert_eq!(
            (
                spaced.publishers,
                spaced.channels,
                spaced.subscribers_per_channel
            ),
            (50, 50, 2)
        );
        assert_eq!(
            (spaced.messages, spaced.data_size, spaced.pipeline),
            (500, 18, 16)
        );
        assert!(spaced.pattern && spaced.resp3);
        assert_eq!(spaced.drain_timeout_ms, 10);
        assert_eq!(spaced.connections(), 150);
        assert_eq!(spaced.channel_name(7), "ps.7:feed");
        // The pattern matches channel 7's name and not channel 70's.
        assert_eq!(spaced.subscription(7), "ps.7:*");
        assert!(!spaced.channel_name(70).starts_with("ps.7:"));
    }

    #[test]
    fn help_wins() {
        assert_eq!(parse_words("--help"), Ok(PubSubInvocation::Help));
        assert_eq!(parse_words("--port 1 -h"), Ok(PubSubInvocation::Help));
    }

    #[test]
    fn refuses_bad_arguments() {
        assert_eq!(parse_words("--channels 3"), Err(UsageError::MissingPort));
        assert_eq!(
            parse_words("--port 1 --clients 3"),
            Err(UsageError::UnknownFlag("--clients".to_owned()))
        );
        assert_eq!(
            parse_words("--port 1 --pattern=yes"),
            Err(UsageError::SwitchWithValue("--pattern"))
        );
        assert_eq!(
            parse_words("--port 1 --messages"),
            Err(UsageError::MissingValue("--messages"))
        );
        for line in [
            "--port 1 --publishers 0",
            "--port 1 --channels 0",
            "--port 1 --subscribers-per-channel 0",
            "--port 1 --messages 0",
            "--port 1 --messages 1099511627777",
            "--port 1 --data-size 17",
            "--port 1 --pipeline 0",
            "--port 1 --channel-prefix a*",
            "--port 1 --channel-prefix [x]",
            "--port 1 --host=",
        ] {
            let result = parse_words(line);
            assert!(
                matches!(result, Err(UsageError::InvalidValue { .. })),
                "{line:?} gave {result:?}"
            );
        }
        assert_eq!(
            parse_words("--port 1 --channels 100 --subscribers-per-channel 40"),
            Err(UsageError::TooManyConnections {
                connections: 4_001,
                limit: MAX_CONNECTIONS
            })
        );
        assert_eq!(
            UsageError::TooManyConnections {
                connections: 4_001,
                limit: 4_000
            }
            .to_string(),
            "4001 connections asked for, at most 4000 (one thread each)"
        );
    }
}
