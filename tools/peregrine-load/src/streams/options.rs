//! The command line of `peregrine-load streams`, parsed into [`StreamsOptions`] by a
//! pure function. Flags take their value as the next argument or after `=`, like the
//! main mode's.

use std::fmt;
use std::str::FromStr;

use crate::options::{flag_value, non_empty, number, read_flag, FlagArgument, UsageError};

/// The usage text printed by `streams --help` and after a usage error.
pub const STREAMS_USAGE: &str = "\
usage: peregrine-load streams --port P [options]

Stream consumer-group load. The fill phase empties streams PREFIX0..PREFIX<S-1>,
appends --entries entries to each (XADD key * f <value>, pipelined, one
connection per stream) and creates the group at their start (XGROUP CREATE key
GROUP 0). The consume phase connects --consumers connections; consumer i, named
consumer-i, reads stream i mod S in a closed loop:
  XREADGROUP GROUP <group> consumer-i COUNT <count> STREAMS <key> >
  XACK <key> <group> <every ID just read>
until a read returns nothing. One thread serves every consumer in turn, each
with one command in flight. Then XPENDING checks that nothing is left pending.

  --host H             server address (default 127.0.0.1)
  --port P             server port (required)
  --streams S          stream keys (default 1)
  --key-prefix TEXT    stream names are TEXT0, TEXT1, ... (default stream:)
  --group NAME         consumer group (default peregrine-load)
  --consumers C        consumer connections in total, at least S (default 50)
  --entries E          entries per stream (default 100000)
  --count N            COUNT of each XREADGROUP: entries per read and ack (default 10)
  --data-size B        bytes of each entry's one value, field f (default 16)
  --phase fill|consume|both
                       fill only, consume streams filled before (the group must
                       be at their start), or both in turn (default both)

One operation is one entry delivered by XREADGROUP and acknowledged by an XACK
whose reply has arrived. Prints one line: ops_per_sec=.. p50_ms=.. p99_ms=..
p999_ms=.. entries=.. expected=.. acked=.. reads=.. empty_reads=.. acks=..
errors=.. ack_mismatches=.. out_of_order=.. pending=.. filled=.. fill_s=..
elapsed_s=.. where ops_per_sec and elapsed_s cover the consume phase only (from
the first XREADGROUP to the last reply), latency is one read-and-ack cycle
(XREADGROUP written to XACK answered), expected is S x E, acked sums XACK's
replies and pending XPENDING's counts. Exit status: 0 when every entry was read
once, in order per consumer, and acknowledged, and none is pending; 1 otherwise
(the problems are printed to stderr) or when the run failed; 2 on usage errors.";

/// Most consumer connections: one thread serves them all, but each is a socket.
pub const MAX_CONSUMERS: usize = 10_000;

/// Largest `--data-size`: Redis's default `proto-max-bulk-len`.
const MAX_DATA_SIZE: usize = 512 * 1024 * 1024;

/// Which phases a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Fill the streams and create the group, nothing more.
    Fill,
    /// Consume streams filled by an earlier run.
    Consume,
    /// Fill, then consume.
    Both,
}

impl Phase {
    /// Whether the run fills the streams.
    pub fn fills(self) -> bool {
        matches!(self, Self::Fill | Self::Both)
    }

    /// Whether the run consumes them.
    pub fn consumes(self) -> bool {
        matches!(self, Self::Consume | Self::Both)
    }
}

impl FromStr for Phase {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        match text {
            "fill" => Ok(Self::Fill),
            "consume" => Ok(Self::Consume),
            "both" => Ok(Self::Both),
            _ => Err(()),
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Fill => "fill",
            Self::Consume => "consume",
            Self::Both => "both",
        })
    }
}

/// What the streams run should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamsOptions {
    /// Server host name or address.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Stream keys.
    pub streams: u32,
    /// Stream names start with it.
    pub key_prefix: String,
    /// The consumer group.
    pub group: String,
    /// Consumer connections, at least `streams`.
    pub consumers: usize,
    /// Entries per stream.
    pub entries: u64,
    /// COUNT of each XREADGROUP.
    pub count: u32,
    /// Bytes of each entry's value.
    pub data_size: usize,
    /// Which phases run.
    pub phase: Phase,
}

impl StreamsOptions {
    /// The name of stream `index`.
    pub fn stream_name(&self, index: u32) -> String {
        format!("{}{index}", self.key_prefix)
    }

    /// The stream consumer `consumer` reads: `consumer mod streams`.
    pub fn stream_of(&self, consumer: usize) -> u32 {
        let streams = usize::try_from(self.streams).unwrap_or(usize::MAX).max(1);
        u32::try_from(consumer % streams).unwrap_or(0)
    }

    /// Entries in all the streams together: what the consumers should read.
    pub fn total_entries(&self) -> u64 {
        u64::from(self.streams).saturating_mul(self.entries)
    }
}

/// What `peregrine-load streams ...` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamsInvocation {
    /// Print [`STREAMS_USAGE`] and exit successfully.
    Help,
    /// Run the load.
    Run(StreamsOptions),
}

/// Parses the arguments after `streams`.
pub fn parse<I>(arguments: I) -> Result<StreamsInvocation, UsageError>
where
    I: IntoIterator<Item = String>,
{
    let mut options = StreamsOptions {
        host: "127.0.0.1".to_owned(),
        port: 0,
        streams: 1,
        key_prefix: "stream:".to_owned(),
        group: "peregrine-load".to_owned(),
        consumers: 50,
        entries: 100_000,
        count: 10,
        data_size: 16,
        phase: Phase::Both,
    };
    let mut port = None;
    let mut arguments = arguments.into_iter();
    while let Some(argument) = arguments.next() {
        let (flag, name, inline_value) = match read_flag(argument, FLAGS)? {
            FlagArgument::Help => return Ok(StreamsInvocation::Help),
            FlagArgument::Flag(flag, name, inline_value) => (flag, name, inline_value),
        };
        let value = flag_value(name, inline_value, &mut arguments)?;
        match flag {
            Flag::Host => options.host = non_empty(name, value)?,
            Flag::Port => port = Some(number(name, &value, 1, u16::MAX)?),
            Flag::Streams => options.streams = number(name, &value, 1, 100_000)?,
            Flag::KeyPrefix => options.key_prefix = value,
            Flag::Group => options.group = non_empty(name, value)?,
            Flag::Consumers => options.consumers = number(name, &value, 1, MAX_CONSUMERS)?,
            Flag::Entries => options.entries = number(name, &value, 1, u64::from(u32::MAX))?,
            Flag::Count => options.count = number(name, &value, 1, 100_000)?,
            Flag::DataSize => options.data_size = number(name, &value, 0, MAX_DATA_SIZE)?,
            Flag::Phase => {
                options.phase = value.parse().map_err(|()| UsageError::InvalidValue {
                    flag: name,
                    value,
                    expected: "one of fill, consume, both",
                })?;
            }
        }
    }
    options.port = port.ok_or(UsageError::MissingPort)?;
    let streams = usize::try_from(options.streams).unwrap_or(usize::MAX);
    if options.phase.consumes() && options.consumers < streams {
        return Err(UsageError::FewerConsumersThanStreams {
            consumers: options.consumers,
            streams,
        });
    }
    Ok(StreamsInvocation::Run(options))
}

/// The flags; each takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    Host,
    Port,
    Streams,
    KeyPrefix,
    Group,
    Consumers,
    Entries,
    Count,
    DataSize,
    Phase,
}

/// Every flag by its spelling on the command line.
const FLAGS: &[(&str, Flag)] = &[
    ("--host", Flag::Host),
    ("--port", Flag::Port),
    ("--streams", Flag::Streams),
    ("--key-prefix", Flag::KeyPrefix),
    ("--group", Flag::Group),
    ("--consumers", Flag::Consumers),
    ("--entries", Flag::Entries),
    ("--count", Flag::Count),
    ("--data-size", Flag::DataSize),
    ("--phase", Flag::Phase),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(line: &str) -> Result<StreamsInvocation, UsageError> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    fn options(line: &str) -> StreamsOptions {
        match parse_words(line) {
            Ok(StreamsInvocation::Run(options)) => options,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_documented_values() {
        let parsed = options("--port 6379");
        assert_eq!(parsed.host, "127.0.0.1");
        assert_eq!(parsed.port, 6379);
        assert_eq!(parsed.streams, 1);
        assert_eq!(parsed.key_prefix, "stream:");
        assert_eq!(parsed.group, "peregrine-load");
        assert_eq!(parsed.consumers, 50);
        assert_eq!(parsed.entries, 100_000);
        assert_eq!(parsed.count, 10);
        assert_eq!(parsed.data_size, 16);
        assert_eq!(parsed.phase, Phase::Both);
        assert_eq!(parsed.stream_name(0), "stream:0");
        assert_eq!(parsed.total_entries(), 100_000);
    }

    #[test]
    fn every_flag_in_both_spellings() {
        let spaced = options(
            "--host localhost --port 7000 --streams 4 --key-prefix s. --group g \
             --consumers 10 --entries 500 --count 16 --data-size 0 --phase consume",
        );
        let joined = options(
            "--host=localhost --port=7000 --streams=4 --key-prefix=s. --group=g \
             --consumers=10 --entries=500 --count=16 --data-size=0 --phase=consume",
        );
        assert_eq!(spaced, joined);
        assert_eq!(spaced.host, "localhost");
        assert_eq!(spaced.port, 7000);
        assert_eq!((spaced.streams, spaced.consumers), (4, 10));
        assert_eq!(spaced.key_prefix, "s.");
        assert_eq!(spaced.group, "g");
        assert_eq!(
            (spaced.entries, spaced.count, spaced.data_size),
            (500, 16, 0)
        );
        assert_eq!(spaced.phase, Phase::Consume);
        assert_eq!(spaced.stream_name(3), "s.3");
        assert_eq!(spaced.total_entries(), 2_000);
        let streams: Vec<u32> = (0..6).map(|consumer| spaced.stream_of(consumer)).collect();
        assert_eq!(streams, [0, 1, 2, 3, 0, 1]);
        for (text, phase) in [
            ("fill", Phase::Fill),
            ("consume", Phase::Consume),
            ("both", Phase::Both),
        ] {
            assert_eq!(options(&format!("--port 1 --phase {text}")).phase, phase);
            assert_eq!(phase.to_string(), text);
        }
        assert!(Phase::Fill.fills() && !Phase::Fill.consumes());
        assert!(!Phase::Consume.fills() && Phase::Consume.consumes());
        assert!(Phase::Both.fills() && Phase::Both.consumes());
    }

    #[test]
    fn help_wins() {
        assert_eq!(parse_words("--help"), Ok(StreamsInvocation::Help));
        assert_eq!(parse_words("--port 1 -h"), Ok(StreamsInvocation::Help));
    }

    #[test]
    fn refuses_bad_arguments() {
        assert_eq!(parse_words("--streams 3"), Err(UsageError::MissingPort));
        assert_eq!(
            parse_words("--port 1 --clients 3"),
            Err(UsageError::UnknownFlag("--clients".to_owned()))
        );
        assert_eq!(
            parse_words("--port 1 --count"),
            Err(UsageError::MissingValue("--count"))
        );
        for line in [
            "--port 1 --streams 0",
            "--port 1 --consumers 0",
            "--port 1 --consumers 10001",
            "--port 1 --entries 0",
            "--port 1 --entries 4294967296",
            "--port 1 --count 0",
            "--port 1 --data-size -1",
            "--port 1 --phase all",
            "--port 1 --group=",
            "--port 1 --host=",
        ] {
            let result = parse_words(line);
            assert!(
                matches!(result, Err(UsageError::InvalidValue { .. })),
                "{line:?} gave {result:?}"
            );
        }
        assert_eq!(
            parse_words("--port 1 --streams 8 --consumers 4"),
            Err(UsageError::FewerConsumersThanStreams {
                consumers: 4,
                streams: 8
            })
        );
        assert_eq!(
            UsageError::FewerConsumersThanStreams {
                consumers: 4,
                streams: 8
            }
            .to_string(),
            "--consumers 4 is below --streams 8: every stream needs a consumer"
        );
        // Filling needs no consumers.
        assert_eq!(
            options("--port 1 --streams 8 --consumers 4 --phase fill").streams,
            8
        );
    }
}
