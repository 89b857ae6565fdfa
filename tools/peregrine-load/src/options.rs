//! The command line, parsed into [`Options`] by a pure function.
//!
//! Flags take their value either as the next argument (`--port 6379`) or after an
//! equals sign (`--port=6379`, memtier's spelling).

use std::fmt;

use crate::keys::{KeyPattern, KeyRange, ZIPF_MAX_KEYS};
use crate::sequence::{Sequence, SequenceError};

/// The usage text printed by `--help` and after a usage error.
pub const USAGE: &str = "\
usage: peregrine-load --port P [options]
       peregrine-load pubsub --port P [options]   (see pubsub --help)
       peregrine-load streams --port P [options]  (see streams --help)

A closed-loop, memtier-like load generator for Redis-protocol servers. Every
connection keeps one pipeline of requests in flight and sends the next as soon
as the last reply of the previous one has arrived.

  --host H             server address (default 127.0.0.1)
  --port P             server port (required)
  --threads T          load threads; the connections are spread over them (default 1)
  --clients C          connections in total (default 50)
  --requests N         requests in total, over all connections (default 100000)
  --pipeline D         requests per round trip on each connection (default 1)
  --ratio S:G          SETs to GETs, issued in that repeating order (default 1:10)
  --data-size B        bytes per SET value (default 32)
  --sequence 'CMD ARG..;CMD ARG..'
                       instead of SETs and GETs, send these commands together as one
                       request (commands split on ';', arguments on spaces, no quoting);
                       __key__ in an argument becomes the request's key, one key per
                       request. --requests and --pipeline count whole sequences, and
                       latency runs to a sequence's last reply. Excludes --ratio and
                       --data-size
  --key-prefix TEXT    key name before the number (default memtier-)
  --key-minimum K      lowest key number (default 0)
  --key-maximum K      highest key number, inclusive (default 100000)
  --key-pattern R|G|Z|P
                       R uniform, G Gaussian (mean mid-range, deviation range/6),
                       Z Zipf (exponent 0.99, lowest numbers hottest), P sequential:
                       each connection walks its own slice, so --requests equal to
                       the key count preloads every key once (default R)
  --seed S             seed of the key and connection generators (default 0)

Prints one line: ops_per_sec=.. p50_ms=.. p99_ms=.. p999_ms=.. sets=.. gets=..
get_hits=.. get_misses=.. errors=.. requests=.. replies=.. elapsed_s=..
(with --sequence, errors counts error replies to any command of a sequence).
Exit status: 0 on success, 1 when the run failed or the server answered with
errors, 2 on usage errors.";

/// Largest `--data-size`: Redis's default `proto-max-bulk-len`.
const MAX_DATA_SIZE: usize = 512 * 1024 * 1024;

/// SETs and GETs per cycle of the command mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    /// SETs at the start of each cycle.
    pub sets: u32,
    /// GETs after them.
    pub gets: u32,
}

/// What the run should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Server host name or address.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Load threads, at most `clients`.
    pub threads: usize,
    /// Connections in total.
    pub clients: usize,
    /// Requests in total.
    pub requests: u64,
    /// Requests per round trip on a connection.
    pub pipeline: usize,
    /// The SET:GET mix.
    pub ratio: Ratio,
    /// Bytes per SET value.
    pub data_size: usize,
    /// Commands sent as one request instead of the SET:GET mix.
    pub sequence: Option<Sequence>,
    /// Key name before the number.
    pub key_prefix: String,
    /// Key numbers drawn from.
    pub key_range: KeyRange,
    /// How key numbers are drawn.
    pub key_pattern: KeyPattern,
    /// Seed of every generator of the run.
    pub seed: u64,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// Print [`USAGE`] and exit successfully.
    Help,
    /// Run the load.
    Run(Options),
}

/// Why a command line was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageError {
    /// A flag this tool does not know.
    UnknownFlag(String),
    /// A flag given last, without its value.
    MissingValue(&'static str),
    /// A value that does not parse or is out of range.
    InvalidValue {
        /// The flag.
        flag: &'static str,
        /// The value as given.
        value: String,
        /// What was expected instead.
        expected: &'static str,
    },
    /// `--port` was not given.
    MissingPort,
    /// `--key-maximum` is below `--key-minimum`.
    EmptyKeyRange {
        /// `--key-minimum`.
        minimum: u64,
        /// `--key-maximum`.
        maximum: u64,
    },
    /// More threads than connections.
    MoreThreadsThanClients {
        /// `--threads`.
        threads: usize,
        /// `--clients`.
        clients: usize,
    },
    /// `--key-pattern Z` over a range too large for its table.
    ZipfRangeTooLarge(u64),
    /// A `--sequence` that does not parse.
    InvalidSequence(SequenceError),
    /// `--sequence` with a flag of the SET:GET mix, which it replaces.
    ExcludedBySequence(&'static str),
    /// A switch (pub/sub's `--pattern`, `--resp3`) given a value.
    SwitchWithValue(&'static str),
    /// More pub/sub connections than threads the tool will start.
    TooManyConnections {
        /// Publishers plus subscribers asked for.
        connections: usize,
        /// The most allowed.
        limit: usize,
    },
    /// Fewer stream consumers than streams: some would never be read.
    FewerConsumersThanStreams {
        /// `--consumers`.
        consumers: usize,
        /// `--streams`.
        streams: usize,
    },
}

impl fmt::Display for UsageError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownFlag(flag) => write!(formatter, "unknown argument {flag:?}"),
            Self::MissingValue(flag) => write!(formatter, "{flag} needs a value"),
            Self::InvalidValue {
                flag,
                value,
                expected,
            } => write!(formatter, "{flag} {value:?}: expected {expected}"),
            Self::MissingPort => formatter.write_str("--port is required"),
            Self::EmptyKeyRange { minimum, maximum } => write!(
                formatter,
                "--key-maximum {maximum} is below --key-minimum {minimum}"
            ),
            Self::MoreThreadsThanClients { threads, clients } => write!(
                formatter,
                "--threads {threads} exceeds --clients {clients}: every thread needs a connection"
            ),
            Self::ZipfRangeTooLarge(count) => write!(
                formatter,
                "--key-pattern Z covers at most {ZIPF_MAX_KEYS} keys, the range holds {count}"
            ),
            Self::InvalidSequence(error) => write!(formatter, "--sequence: {error}"),
            Self::ExcludedBySequence(flag) => {
                write!(formatter, "{flag} does not apply with --sequence")
            }
            Self::SwitchWithValue(flag) => write!(formatter, "{flag} takes no value"),
            Self::TooManyConnections { connections, limit } => write!(
                formatter,
                "{connections} connections asked for, at most {limit} (one thread each)"
            ),
            Self::FewerConsumersThanStreams { consumers, streams } => write!(
                formatter,
                "--consumers {consumers} is below --streams {streams}: every stream needs a consumer"
            ),
        }
    }
}

impl std::error::Error for UsageError {}

/// Parses the arguments after the program name.
pub fn parse<I>(arguments: I) -> Result<Invocation, UsageError>
where
    I: IntoIterator<Item = String>,
{
    let mut host = "127.0.0.1".to_owned();
    let mut port = None;
    let mut threads = 1;
    let mut clients = 50;
    let mut requests = 100_000;
    let mut pipeline = 1;
    let mut ratio = Ratio { sets: 1, gets: 10 };
    let mut data_size = 32;
    let mut key_prefix = "memtier-".to_owned();
    let mut key_minimum = 0;
    let mut key_maximum = 100_000;
    let mut key_pattern = KeyPattern::Uniform;
    let mut seed = 0;
    let mut sequence = None;
    let mut mix_flag = None;

    let mut arguments = arguments.into_iter();
    while let Some(argument) = arguments.next() {
        let (flag, name, inline_value) = match read_flag(argument, FLAGS)? {
            FlagArgument::Help => return Ok(Invocation::Help),
            FlagArgument::Flag(flag, name, inline_value) => (flag, name, inline_value),
        };
        let value = flag_value(name, inline_value, &mut arguments)?;
        match flag {
            Flag::Host => host = non_empty(name, value)?,
            Flag::Port => port = Some(number(name, &value, 1, u16::MAX)?),
            Flag::Threads => threads = number(name, &value, 1, 1_024)?,
            Flag::Clients => clients = number(name, &value, 1, 100_000)?,
            Flag::Requests => requests = number(name, &value, 1, u64::MAX)?,
            Flag::Pipeline => pipeline = number(name, &value, 1, 100_000)?,
            Flag::Ratio => {
                ratio = parse_ratio(&value)?;
                mix_flag = Some(name);
            }
            Flag::DataSize => {
                data_size = number(name, &value, 0, MAX_DATA_SIZE)?;
                mix_flag = Some(name);
            }
            Flag::Sequence => {
                sequence = Some(Sequence::parse(&value).map_err(UsageError::InvalidSequence)?);
            }
            Flag::KeyPrefix => key_prefix = value,
            Flag::KeyMinimum => key_minimum = number(name, &value, 0, u64::MAX)?,
            Flag::KeyMaximum => key_maximum = number(name, &value, 0, u64::MAX)?,
            Flag::KeyPattern => {
                key_pattern = value.parse().map_err(|()| UsageError::InvalidValue {
                    flag: name,
                    value,
                    expected: "one of R, G, Z, P",
                })?;
            }
            Flag::Seed => seed = number(name, &value, 0, u64::MAX)?,
        }
    }

    let port = port.ok_or(UsageError::MissingPort)?;
    let key_range = KeyRange::new(key_minimum, key_maximum).ok_or(UsageError::EmptyKeyRange {
        minimum: key_minimum,
        maximum: key_maximum,
    })?;
    if threads > clients {
        return Err(UsageError::MoreThreadsThanClients { threads, clients });
    }
    if key_pattern == KeyPattern::Zipf && key_range.count() > ZIPF_MAX_KEYS {
        return Err(UsageError::ZipfRangeTooLarge(key_range.count()));
    }
    if let (Some(_), Some(flag)) = (&sequence, mix_flag) {
        return Err(UsageError::ExcludedBySequence(flag));
    }
    Ok(Invocation::Run(Options {
        host,
        port,
        threads,
        clients,
        requests,
        pipeline,
        ratio,
        data_size,
        sequence,
        key_prefix,
        key_range,
        key_pattern,
        seed,
    }))
}

/// The flags; each takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    Host,
    Port,
    Threads,
    Clients,
    Requests,
    Pipeline,
    Ratio,
    DataSize,
    Sequence,
    KeyPrefix,
    KeyMinimum,
    KeyMaximum,
    KeyPattern,
    Seed,
}

/// Every flag by its spelling on the command line.
const FLAGS: &[(&str, Flag)] = &[
    ("--host", Flag::Host),
    ("--port", Flag::Port),
    ("--threads", Flag::Threads),
    ("--clients", Flag::Clients),
    ("--requests", Flag::Requests),
    ("--pipeline", Flag::Pipeline),
    ("--ratio", Flag::Ratio),
    ("--data-size", Flag::DataSize),
    ("--sequence", Flag::Sequence),
    ("--key-prefix", Flag::KeyPrefix),
    ("--key-minimum", Flag::KeyMinimum),
    ("--key-maximum", Flag::KeyMaximum),
    ("--key-pattern", Flag::KeyPattern),
    ("--seed", Flag::Seed),
];

/// One argument of a command line, as [`read_flag`] reads it.
pub(crate) enum FlagArgument<F> {
    /// `--help` or `-h`.
    Help,
    /// A flag of the table, its spelling (`'static`, for errors) and its value when
    /// given inline (`--flag=value`, memtier's spelling).
    Flag(F, &'static str, Option<String>),
}

/// Reads `argument` against the flag table `flags` (spelling, flag): the help switch,
/// or a known flag with its inline value if any; an unknown flag is a usage error.
pub(crate) fn read_flag<F: Copy>(
    argument: String,
    flags: &'static [(&'static str, F)],
) -> Result<FlagArgument<F>, UsageError> {
    if argument == "--help" || argument == "-h" {
        return Ok(FlagArgument::Help);
    }
    let (name, inline_value) = match argument.split_once('=') {
        Some((name, value)) if name.starts_with("--") => (name.to_owned(), Some(value.to_owned())),
        _ => (argument, None),
    };
    let &(spelling, flag) = flags
        .iter()
        .find(|(spelling, _)| *spelling == name)
        .ok_or(UsageError::UnknownFlag(name))?;
    Ok(FlagArgument::Flag(flag, spelling, inline_value))
}

/// A flag's value: the inline one, else the next argument.
pub(crate) fn flag_value(
    name: &'static str,
    inline_value: Option<String>,
    arguments: &mut impl Iterator<Item = String>,
) -> Result<String, UsageError> {
    match inline_value {
        Some(value) => Ok(value),
        None => arguments.next().ok_or(UsageError::MissingValue(name)),
    }
}

pub(crate) fn non_empty(flag: &'static str, value: String) -> Result<String, UsageError> {
    if value.is_empty() {
        return Err(UsageError::InvalidValue {
            flag,
            value,
            expected: "a non-empty value",
        });
    }
    Ok(value)
}

/// A decimal number in `low..=high`.
pub(crate) fn number<T>(flag: &'static str, value: &str, low: T, high: T) -> Result<T, UsageError>
where
    T: std::str::FromStr + PartialOrd,
{
    value
        .parse::<T>()
        .ok()
        .filter(|number| *number >= low && *number <= high)
        .ok_or_else(|| UsageError::InvalidValue {
            flag,
            value: value.to_owned(),
            expected: "a number in range (see --help)",
        })
}

/// `S:G`, two numbers, not both zero.
fn parse_ratio(value: &str) -> Result<Ratio, UsageError> {
    let invalid = || UsageError::InvalidValue {
        flag: "--ratio",
        value: value.to_owned(),
        expected: "SETS:GETS, two numbers not both 0, such as 1:10",
    };
    let (sets, gets) = value.split_once(':').ok_or_else(invalid)?;
    let sets: u32 = sets.parse().map_err(|_| invalid())?;
    let gets: u32 = gets.parse().map_err(|_| invalid())?;
    if sets == 0 && gets == 0 {
        return Err(invalid());
    }
    Ok(Ratio { sets, gets })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(line: &str) -> Result<Invocation, UsageError> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    fn options(line: &str) -> Options {
        match parse_words(line) {
            Ok(Invocation::Run(options)) => options,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_documented_values() {
        let parsed = options("--port 6379");
        assert_eq!(parsed.host, "127.0.0.1");
        assert_eq!(parsed.port, 6379);
        assert_eq!(parsed.threads, 1);
        assert_eq!(parsed.clients, 50);
        assert_eq!(parsed.requests, 100_000);
        assert_eq!(parsed.pipeline, 1);
        assert_eq!(parsed.ratio, Ratio { sets: 1, gets: 10 });
        assert_eq!(parsed.data_size, 32);
        assert_eq!(parsed.sequence, None);
        assert_eq!(parsed.key_prefix, "memtier-");
        assert_eq!(parsed.key_range, KeyRange::new(0, 100_000).expect("valid"));
        assert_eq!(parsed.key_pattern, KeyPattern::Uniform);
        assert_eq!(parsed.seed, 0);
    }

    #[test]
    fn every_flag_in_both_spellings() {
        let spaced = options(
            "--host localhost --port 7000 --threads 2 --clients 8 --requests 500 --pipeline 16 \
             --ratio 1:0 --data-size 100 --key-prefix k: --key-minimum 1 --key-maximum 1000 \
             --key-pattern Z --seed 99",
        );
        let joined = options(
            "--host=localhost --port=7000 --threads=2 --clients=8 --requests=500 --pipeline=16 \
             --ratio=1:0 --data-size=100 --key-prefix=k: --key-minimum=1 --key-maximum=1000 \
             --key-pattern=Z --seed=99",
        );
        assert_eq!(spaced, joined);
        assert_eq!(spaced.host, "localhost");
        assert_eq!(spaced.threads, 2);
        assert_eq!(spaced.clients, 8);
        assert_eq!(spaced.requests, 500);
        assert_eq!(spaced.pipeline, 16);
        assert_eq!(spaced.ratio, Ratio { sets: 1, gets: 0 });
        assert_eq!(spaced.data_size, 100);
        assert_eq!(spaced.key_prefix, "k:");
        assert_eq!(spaced.key_range.count(), 1_000);
        assert_eq!(spaced.key_pattern, KeyPattern::Zipf);
        assert_eq!(spaced.seed, 99);
        // An equals sign inside a value stays part of it.
        assert_eq!(options("--port 1 --key-prefix=a=b").key_prefix, "a=b");
    }

    #[test]
    fn help_wins() {
        assert_eq!(parse_words("--help"), Ok(Invocation::Help));
        assert_eq!(parse_words("--port 1 -h"), Ok(Invocation::Help));
    }

    #[test]
    fn refuses_unknown_and_incomplete_arguments() {
        assert_eq!(
            parse_words("--port 1 --bogus 3"),
            Err(UsageError::UnknownFlag("--bogus".to_owned()))
        );
        assert_eq!(
            parse_words("6379"),
            Err(UsageError::UnknownFlag("6379".to_owned()))
        );
        assert_eq!(
            parse_words("--port 1 --clients"),
            Err(UsageError::MissingValue("--clients"))
        );
        assert_eq!(parse_words("--clients 5"), Err(UsageError::MissingPort));
        assert_eq!(parse_words(""), Err(UsageError::MissingPort));
    }

    #[test]
    fn refuses_values_out_of_range() {
        for line in [
            "--port 0",
            "--port 65536",
            "--port x",
            "--port 1 --clients 0",
            "--port 1 --threads 0",
            "--port 1 --requests 0",
            "--port 1 --requests -5",
            "--port 1 --pipeline 0",
            "--port 1 --data-size 1e3",
            "--port 1 --key-pattern X",
            "--port 1 --key-pattern",
            "--port 1 --seed -1",
            "--port 1 --host=",
        ] {
            let result = parse_words(line);
            assert!(
                matches!(
                    result,
                    Err(UsageError::InvalidValue { .. } | UsageError::MissingValue(_))
                ),
                "{line:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn refuses_malformed_ratios() {
        for ratio in ["0:0", "1", "1:", ":1", "a:b", "1:2:3", "-1:2", "1/10"] {
            let result = parse_words(&format!("--port 1 --ratio {ratio}"));
            assert!(
                matches!(
                    result,
                    Err(UsageError::InvalidValue {
                        flag: "--ratio",
                        ..
                    })
                ),
                "{ratio:?} gave {result:?}"
            );
        }
        assert_eq!(
            options("--port 1 --ratio 0:1").ratio,
            Ratio { sets: 0, gets: 1 }
        );
    }

    #[test]
    fn a_sequence_keeps_its_spaces_in_either_spelling() {
        let text = "MULTI;INCR {__key__}:a;GET {__key__}:a;EXEC";
        let arguments = |sequence: Vec<String>| {
            let mut arguments = vec!["--port".to_owned(), "1".to_owned()];
            arguments.extend(sequence);
            match parse(arguments) {
                Ok(Invocation::Run(options)) => options,
                other => panic!("{other:?}"),
            }
        };
        let spaced = arguments(vec!["--sequence".to_owned(), text.to_owned()]);
        let joined = arguments(vec![format!("--sequence={text}")]);
        assert_eq!(spaced, joined);
        assert_eq!(spaced.sequence, Some(Sequence::parse(text).expect("valid")));
        assert_eq!(spaced.sequence.as_ref().map(Sequence::len), Some(4));
        // The ratio stays at its default, unused.
        assert_eq!(spaced.ratio, Ratio { sets: 1, gets: 10 });
    }

    #[test]
    fn refuses_bad_sequences_and_the_mix_flags_beside_one() {
        let run = |arguments: &[&str]| parse(arguments.iter().map(|word| (*word).to_owned()));
        assert_eq!(
            run(&["--port", "1", "--sequence", "GET a;;GET b"]),
            Err(UsageError::InvalidSequence(SequenceError::EmptyCommand {
                index: 2
            }))
        );
        assert_eq!(
            run(&["--port", "1", "--sequence"]),
            Err(UsageError::MissingValue("--sequence"))
        );
        for flag in ["--ratio", "--data-size"] {
            let value = if flag == "--ratio" { "1:1" } else { "8" };
            let expected = Err(UsageError::ExcludedBySequence(flag));
            assert_eq!(
                run(&["--port", "1", flag, value, "--sequence", "PING"]),
                expected
            );
            assert_eq!(
                run(&["--port", "1", "--sequence", "PING", flag, value]),
                expected
            );
        }
        assert_eq!(
            UsageError::ExcludedBySequence("--ratio").to_string(),
            "--ratio does not apply with --sequence"
        );
        assert_eq!(
            UsageError::InvalidSequence(SequenceError::EmptyCommand { index: 1 }).to_string(),
            "--sequence: command 1 is empty"
        );
    }

    #[test]
    fn refuses_inconsistent_combinations() {
        assert_eq!(
            parse_words("--port 1 --key-minimum 10 --key-maximum 9"),
            Err(UsageError::EmptyKeyRange {
                minimum: 10,
                maximum: 9
            })
        );
        assert_eq!(
            parse_words("--port 1 --threads 4 --clients 3"),
            Err(UsageError::MoreThreadsThanClients {
                threads: 4,
                clients: 3
            })
        );
        assert_eq!(
            parse_words("--port 1 --key-pattern Z --key-maximum 20000000"),
            Err(UsageError::ZipfRangeTooLarge(20_000_001))
        );
        // The same range is fine for the patterns that need no table.
        assert_eq!(
            options("--port 1 --key-pattern G --key-maximum 20000000").key_pattern,
            KeyPattern::Gaussian
        );
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            UsageError::InvalidValue {
                flag: "--ratio",
                value: "1/10".to_owned(),
                expected: "SETS:GETS"
            }
            .to_string(),
            "--ratio \"1/10\": expected SETS:GETS"
        );
        assert_eq!(UsageError::MissingPort.to_string(), "--port is required");
    }
}
