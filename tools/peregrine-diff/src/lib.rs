//! Differential tester: Peregrine against a real redis-server.
//!
//! [`run`] starts a redis-server (the oracle) and a peregrine-server on free
//! loopback ports, sends both the same seeded, random command sequences over
//! raw RESP2, and compares the raw replies. Each seed is one sequence, run on
//! freshly flushed servers (`DISCARD`, `UNWATCH`, `FLUSHALL`, `SELECT 0`); a seed stops at its first
//! mismatch, since later replies would only repeat the divergence.
//!
//! Comparison is byte for byte except for the few documented rules in
//! `compare` (TTL tolerance, unordered KEYS / SMEMBERS / HGETALL ..., full
//! SCAN-family loops as sets, RANDOMKEY by outcome, a 7.0 / 7.2 wording table,
//! the encodings 7.2 added). Generation lives in `generate`, one module per
//! command family; a run may use only some families.
//!
//! Pub/sub and keyspace notifications are compared as message streams
//! (`stream`): with `DiffConfig::subscribers`, two subscriber connections on each
//! server (one RESP2 with `PSUBSCRIBE __key*__:*` and the pubsub family's channels
//! and patterns, one RESP3 with its shard channels and a pattern) are read after
//! every command up to a sync message the driver publishes, and the frames each
//! received in between are compared per command: exactly, or up to order alone
//! (`compare` rule 11: Redis orders the `pmessage` frames of several matching
//! patterns by its hash table, and Peregrine runs a multi-key command on each
//! shard of its keys, so events of keys on different shards may come in another
//! order). A stream that differs is read on to a few more sync messages, with
//! nothing sent in between, before it counts as a mismatch: Peregrine hands a message to another core's subscribers
//! after PUBLISH has answered, so a frame may arrive just after the sync message
//! meant to close its interval (`DiffReport::late_intervals` counts the intervals
//! that needed this). The second client of the pubsub family is a stream too
//! while it is subscribed, whatever the options. With
//! `DiffConfig::notify_keyspace_events`, both servers get `CONFIG SET
//! notify-keyspace-events` and `DEBUG SET-ACTIVE-EXPIRE 0` at start (no `expired`
//! event at a random moment: keys expire when a command touches them), and the
//! keyspace subscriber sees the events of every family.
//!
//! In crash-restart mode (`DiffConfig::restart_every`), Peregrine runs with
//! `appendfsync always` and is killed with SIGKILL and restarted on its data
//! directory every N commands, with both datasets compared around each restart
//! (`restart`): replay must reproduce the exact dataset.
//!
//! Invariants: the same seed yields the same commands (up to absolute unix
//! times, which follow the clock); both servers are killed when a run ends,
//! however it ends.
//!
//! It is not: a benchmark, a fuzzer of the RESP framing (every request is a
//! well-formed array of bulk strings), or a test of concurrency (one command
//! at a time; the transactions family interleaves a second client's commands
//! with the first's, in a fixed order, and the dataset checks of the
//! crash-restart mode use a connection of their own, between commands).

#![warn(missing_docs)]

mod compare;
mod digest;
mod generate;
mod pair;
mod prng;
mod resp;
mod restart;
mod servers;
mod stream;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use compare::StreamVerdict;
use generate::{Command, Sequence};
use pair::{Launcher, Observation, ServerPair, StreamObservation, StreamOptions};
use resp::RawReply;
use restart::{RestartPoint, RestartSchedule};
use servers::{Durability, ServerKind};

/// What to run: the two binaries, the seeds, and the sequence length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffConfig {
    /// The peregrine-server binary.
    pub peregrine_bin: PathBuf,
    /// The redis-server binary (the oracle).
    pub redis_bin: PathBuf,
    /// One command sequence per seed.
    pub seeds: Range<u64>,
    /// Commands per sequence.
    pub commands_per_seed: usize,
    /// `--shards` given to peregrine-server.
    pub shards: u16,
    /// The command families to draw from, by name ([`family_names`]); all when empty.
    pub families: Vec<String>,
    /// Crash-restart mode: every this many commands of a seed, kill peregrine-server
    /// with SIGKILL, restart it on its data directory and compare the datasets
    /// (it then runs with `appendfsync always`); 0 turns the mode off.
    pub restart_every: usize,
    /// Open the two subscriber connections on each server and compare what they
    /// receive after every command (`stream`). Not with `restart_every`.
    pub subscribers: bool,
    /// Turn keyspace notifications on in both servers with these flags (`KEA`:
    /// all), active expiry off; implies `subscribers`. `None`: off.
    pub notify_keyspace_events: Option<String>,
}

impl DiffConfig {
    /// Whether the subscriber streams are read (asked for, or implied by notifications).
    pub fn streams(&self) -> StreamOptions {
        StreamOptions {
            subscribers: self.subscribers || self.notify_keyspace_events.is_some(),
            notify_keyspace_events: self.notify_keyspace_events.clone(),
        }
    }
}

/// The outcome of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffReport {
    /// Commands whose replies were compared.
    pub compared: u64,
    /// The first mismatch of each failed seed.
    pub mismatches: Vec<Mismatch>,
    /// How many times each command name (upper case) was sent.
    pub coverage: BTreeMap<String, u64>,
    /// How many of those Redis answered with an error, by the same names (absent: none).
    pub errors: BTreeMap<String, u64>,
    /// How many times the candidate was killed and came back (crash-restart mode).
    pub restarts: u64,
    /// Stream intervals (one stream, one command) compared.
    pub stream_intervals: u64,
    /// Stream intervals whose frames matched only up to order (`compare` rule 11).
    pub reordered_intervals: u64,
    /// Stream intervals that matched only once Peregrine's frames that came after
    /// the sync message were counted in.
    pub late_intervals: u64,
}

impl DiffReport {
    /// The seeds that had a mismatch.
    pub fn failed_seeds(&self) -> BTreeSet<u64> {
        self.mismatches
            .iter()
            .map(|mismatch| mismatch.seed)
            .collect()
    }

    /// The two summary lines for a run over `seed_count` seeds:
    /// `differential: N commands compared, M mismatches` (then `, R restarts after
    /// kill -9` in crash-restart mode) and `K passed, F failed`.
    pub fn summary(&self, seed_count: u64) -> String {
        let failed = u64::try_from(self.failed_seeds().len()).unwrap_or(u64::MAX);
        let restarts = if self.restarts > 0 {
            format!(", {} restarts after kill -9", self.restarts)
        } else {
            String::new()
        };
        format!(
            "differential: {} commands compared, {} mismatches{restarts}\n{} passed, {} failed",
            self.compared,
            self.mismatches.len(),
            seed_count.saturating_sub(failed),
            failed
        )
    }
}

/// One command whose replies differed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The seed of the sequence.
    pub seed: u64,
    /// The command's position in the sequence (0-based).
    pub index: usize,
    /// The command, printable (binary escaped).
    pub command: String,
    /// The preceding few commands touching the same keys, with Redis's replies.
    pub context: Vec<String>,
    /// Redis's reply, printable (after normalization).
    pub redis: String,
    /// Peregrine's reply, printable (after normalization), or how the connection failed.
    pub peregrine: String,
    /// The run's restart interval (0: no crash-restart mode), to reproduce the mismatch.
    pub restart_every: usize,
    /// The stream options of the run as command-line flags (`--subscribers`,
    /// `--notify-keyspace-events KEA`), empty when off, to reproduce the mismatch.
    pub stream_flags: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            formatter,
            "MISMATCH seed {} command #{}: {}",
            self.seed, self.index, self.command
        )?;
        if self.context.is_empty() {
            writeln!(formatter, "  no earlier command touched these keys")?;
        } else {
            writeln!(formatter, "  earlier commands on the same keys:")?;
            for line in &self.context {
                writeln!(formatter, "    {line}")?;
            }
        }
        writeln!(formatter, "  redis:     {}", self.redis)?;
        writeln!(formatter, "  peregrine: {}", self.peregrine)?;
        write!(
            formatter,
            "  reproduce: --seeds {}..{} --commands {}",
            self.seed,
            self.seed.saturating_add(1),
            self.index.saturating_add(1)
        )?;
        if self.restart_every > 0 {
            write!(formatter, " --restart-every {}", self.restart_every)?;
        }
        if !self.stream_flags.is_empty() {
            write!(formatter, " {}", self.stream_flags)?;
        }
        Ok(())
    }
}

/// Runs the differential suite: redis-server against peregrine-server.
pub fn run(config: &DiffConfig) -> anyhow::Result<DiffReport> {
    run_with(
        config,
        Launcher {
            redis_bin: config.redis_bin.clone(),
            candidate_bin: config.peregrine_bin.clone(),
            candidate_kind: ServerKind::Peregrine {
                shards: config.shards,
            },
            candidate_durability: candidate_durability(config),
            streams: config.streams(),
        },
    )
}

/// Runs the suite with redis-server on both sides (`config.peregrine_bin` and
/// `config.shards` are ignored). Any mismatch is a bug in this tester: a
/// nondeterministic command or a normalization rule that is missing. In
/// crash-restart mode the candidate redis-server keeps an append-only file with
/// `appendfsync always` and is the one restarted, which checks the mode itself.
pub fn self_check(config: &DiffConfig) -> anyhow::Result<DiffReport> {
    run_with(
        config,
        Launcher {
            redis_bin: config.redis_bin.clone(),
            candidate_bin: config.redis_bin.clone(),
            candidate_kind: ServerKind::Redis,
            candidate_durability: candidate_durability(config),
            streams: config.streams(),
        },
    )
}

/// Crash-restart mode needs every acknowledged write on disk.
fn candidate_durability(config: &DiffConfig) -> Durability {
    if config.restart_every > 0 {
        Durability::EveryWrite
    } else {
        Durability::Default
    }
}

/// The names `DiffConfig::families` accepts, in generation order.
pub fn family_names() -> Vec<&'static str> {
    generate::FAMILIES
        .iter()
        .map(|family| family.name)
        .collect()
}

/// Looks up `redis-server` in the directories of `PATH`.
pub fn find_redis_server() -> Option<PathBuf> {
    servers::find_in_path("redis-server")
}

/// How many earlier commands a mismatch shows.
const CONTEXT_COMMANDS: usize = 6;

/// How many earlier commands are remembered to find that context.
const HISTORY_LENGTH: usize = 512;

/// Longest printable reply shown in a context line.
const CONTEXT_REPLY_CHARS: usize = 120;

/// How a seed ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeedOutcome {
    Passed,
    Failed,
    /// Peregrine's connection is unusable: restart both servers.
    ConnectionLost,
}

fn run_with(config: &DiffConfig, launcher: Launcher) -> anyhow::Result<DiffReport> {
    let families = generate::select_families(&config.families).map_err(anyhow::Error::msg)?;
    if config.restart_every > 0 && launcher.streams.subscribers {
        anyhow::bail!("subscriber streams cannot be combined with crash-restart mode");
    }
    let mut report = DiffReport::default();
    let mut servers = None;
    for seed in config.seeds.clone() {
        let pair = match &mut servers {
            Some(pair) => pair,
            None => servers.insert(launcher.start()?),
        };
        let sequence = Sequence::with_families(seed, &families);
        let outcome = run_seed(pair, seed, sequence, config, &mut report)?;
        // A broken pair is stopped now and the next seed starts a fresh one. In
        // crash-restart mode every seed starts a fresh one: its log, and so what
        // a restart replays, then depends on that seed alone, and a failing seed
        // reproduces when run by itself.
        if outcome == SeedOutcome::ConnectionLost || config.restart_every > 0 {
            servers = None;
        }
    }
    Ok(report)
}

/// One remembered command, for the context of a later mismatch.
pub(crate) struct HistoryEntry {
    index: usize,
    command: Command,
    redis_reply: String,
}

fn run_seed(
    servers: &mut ServerPair,
    seed: u64,
    mut sequence: Sequence,
    config: &DiffConfig,
    report: &mut DiffReport,
) -> anyhow::Result<SeedOutcome> {
    let stream_flags = stream_flags(config);
    let seed_run = SeedRun {
        seed,
        restart_every: config.restart_every,
        stream_flags: &stream_flags,
    };
    // The previous seed may have stopped inside a transaction recipe (in MULTI, or
    // with keys watched): DISCARD and UNWATCH end that first.
    let resets = [
        Command::new("DISCARD"),
        Command::new("UNWATCH"),
        Command::new("FLUSHALL"),
        Command::new("SELECT").arg("0"),
    ];
    for reset in resets {
        let outcome = compare_one(servers, seed_run, 0, &reset, &VecDeque::new(), report)?;
        if let Err(outcome) = outcome {
            if let Some(mismatch) = report.mismatches.last_mut() {
                mismatch.context = vec!["(the reset before the sequence, not part of it)".into()];
            }
            return Ok(outcome);
        }
    }
    if let Err(outcome) = reset_streams(servers, seed_run, report)? {
        return Ok(outcome);
    }
    let mut second_listening = false;
    let mut history: VecDeque<HistoryEntry> = VecDeque::with_capacity(HISTORY_LENGTH);
    let mut restarts = RestartSchedule::new(config.restart_every);
    for index in 0..config.commands_per_seed {
        let command = sequence.next_command(unix_time_ms());
        *report.coverage.entry(command.name()).or_insert(0) += 1;
        report.compared = report.compared.saturating_add(1);
        let redis_reply = match compare_one(servers, seed_run, index, &command, &history, report)? {
            Ok(redis_reply) => redis_reply,
            Err(outcome) => return Ok(outcome),
        };
        if matches!(redis_reply.value, resp::Reply::Error(_)) {
            *report.errors.entry(command.name()).or_insert(0) += 1;
        }
        if let Some(listening) = command.listening {
            second_listening = listening;
        }
        let interval = StreamInterval {
            index,
            command: &command,
            second_listening,
        };
        if let Err(outcome) = compare_streams(servers, seed_run, &interval, &history, report)? {
            return Ok(outcome);
        }
        if let Some(pause) = command.pause_after {
            std::thread::sleep(pause);
        }
        if history.len() == HISTORY_LENGTH {
            history.pop_front();
        }
        history.push_back(HistoryEntry {
            index,
            command,
            redis_reply: redis_reply.value.printable(),
        });
        if restarts.due(index.saturating_add(1), sequence.at_recipe_boundary()) {
            let point = RestartPoint {
                seed,
                index,
                database: sequence.selected_database(),
                restart_every: config.restart_every,
            };
            if let Err(outcome) = restart::restart_and_check(servers, &point, &history, report)? {
                return Ok(outcome);
            }
        }
    }
    Ok(SeedOutcome::Passed)
}

/// The stream options of `config` as command-line flags.
fn stream_flags(config: &DiffConfig) -> String {
    match &config.notify_keyspace_events {
        Some(flags) => format!("--notify-keyspace-events {flags}"),
        None if config.subscribers => "--subscribers".to_owned(),
        None => String::new(),
    }
}

/// Before a seed's first command: the second client leaves any subscription a
/// stopped seed left behind (RESET), every stream is read up to a sync message
/// without comparing (what an earlier seed's last command caused), and
/// subscriber confirmations that differed when the servers started are reported.
fn reset_streams(
    servers: &mut ServerPair,
    seed_run: SeedRun<'_>,
    report: &mut DiffReport,
) -> anyhow::Result<Result<(), SeedOutcome>> {
    let before_the_sequence = vec!["(before the sequence, not part of it)".to_owned()];
    let mut failure = |command: &str, redis: String, peregrine: String, outcome| {
        report.mismatches.push(Mismatch {
            seed: seed_run.seed,
            index: 0,
            command: command.to_owned(),
            context: before_the_sequence.clone(),
            redis,
            peregrine,
            restart_every: seed_run.restart_every,
            stream_flags: seed_run.stream_flags.to_owned(),
        });
        Ok(Err(outcome))
    };
    if let Err(text) = servers.reset_second_clients()? {
        return failure(
            "[client 2] RESET",
            "+RESET".to_owned(),
            text,
            SeedOutcome::ConnectionLost,
        );
    }
    for observation in servers.sync_streams(false)? {
        if let Err(text) = observation.peregrine {
            let redis = stream::printable_frames(&observation.redis);
            return failure(
                "(reading the subscribers up to a sync message)",
                format!("{}: {redis}", observation.name),
                format!("{}: {text}", observation.name),
                SeedOutcome::ConnectionLost,
            );
        }
    }
    if let Some(difference) = servers.take_setup_difference() {
        return failure(
            "(subscribing the stream subscribers)",
            format!("{}: {}", difference.name, difference.redis),
            format!("{}: {}", difference.name, difference.peregrine),
            SeedOutcome::Failed,
        );
    }
    Ok(Ok(()))
}

/// The command whose stream interval is read.
struct StreamInterval<'a> {
    index: usize,
    command: &'a Command,
    /// Whether the second client listens on the sync channel after the command.
    second_listening: bool,
}

/// How many more sync messages a stream that differs is read on to, with nothing
/// sent in between, before the difference counts.
const SETTLE_SYNCS: usize = 3;

/// Reads every stream up to the next sync message and compares what each
/// received on the two servers (`compare` rule 11). While a stream differs, every
/// stream is read on to one more sync message (at most [`SETTLE_SYNCS`]), with
/// nothing sent in between, and compared again with what came late; a difference
/// that remains is recorded as a mismatch.
fn compare_streams(
    servers: &mut ServerPair,
    seed_run: SeedRun<'_>,
    interval: &StreamInterval<'_>,
    history: &VecDeque<HistoryEntry>,
    report: &mut DiffReport,
) -> anyhow::Result<Result<(), SeedOutcome>> {
    let mut observations = servers.sync_streams(interval.second_listening)?;
    let verdicts = |observations: &[StreamObservation]| -> Vec<Option<StreamVerdict>> {
        observations
            .iter()
            .map(|observation| {
                let peregrine = observation.peregrine.as_ref().ok()?;
                Some(compare::streams_match(&observation.redis, peregrine))
            })
            .collect()
    };
    let mut judged = verdicts(&observations);
    let mut settled = false;
    for _ in 0..SETTLE_SYNCS {
        if !judged.contains(&Some(StreamVerdict::Different)) || judged.contains(&None) {
            break;
        }
        settled = true;
        let late = servers.sync_streams(interval.second_listening)?;
        for (observation, late) in observations.iter_mut().zip(late) {
            observation.redis.extend(late.redis);
            match (&mut observation.peregrine, late.peregrine) {
                (Ok(frames), Ok(late)) => frames.extend(late),
                (Ok(_), Err(text)) => observation.peregrine = Err(text),
                (Err(_), _) => {}
            }
        }
        judged = verdicts(&observations);
    }
    let count = u64::try_from(observations.len()).unwrap_or(u64::MAX);
    report.stream_intervals = report.stream_intervals.saturating_add(count);
    for (observation, verdict) in observations.iter().zip(&judged) {
        let outcome = match verdict {
            Some(StreamVerdict::Same) => continue,
            Some(StreamVerdict::SameUpToOrder) => {
                report.reordered_intervals = report.reordered_intervals.saturating_add(1);
                continue;
            }
            Some(StreamVerdict::Different) => SeedOutcome::Failed,
            None => SeedOutcome::ConnectionLost,
        };
        let peregrine = match &observation.peregrine {
            Ok(frames) => stream::printable_frames(frames),
            Err(text) => text.clone(),
        };
        report.mismatches.push(Mismatch {
            seed: seed_run.seed,
            index: interval.index,
            command: format!(
                "{} (frames received by {})",
                interval.command.printable(),
                observation.name
            ),
            context: context_for(interval.command, history),
            redis: stream::printable_frames(&observation.redis),
            peregrine,
            restart_every: seed_run.restart_every,
            stream_flags: seed_run.stream_flags.to_owned(),
        });
        return Ok(Err(outcome));
    }
    if settled {
        report.late_intervals = report.late_intervals.saturating_add(1);
    }
    Ok(Ok(()))
}

/// What names the run of one seed in a mismatch's reproduce line.
#[derive(Debug, Clone, Copy)]
struct SeedRun<'a> {
    seed: u64,
    /// The run's restart interval, for the reproduce line of a mismatch.
    restart_every: usize,
    /// The run's stream options as flags, for the reproduce line of a mismatch.
    stream_flags: &'a str,
}

/// Sends one command to both servers. Returns Redis's reply when they agree;
/// otherwise records the mismatch and returns how the seed ended.
fn compare_one(
    servers: &mut ServerPair,
    seed_run: SeedRun<'_>,
    index: usize,
    command: &Command,
    history: &VecDeque<HistoryEntry>,
    report: &mut DiffReport,
) -> anyhow::Result<Result<RawReply, SeedOutcome>> {
    let (redis, peregrine) = servers.exchange(command)?;
    let (peregrine_text, outcome) = match &peregrine {
        Observation::Reply(reply) => {
            if compare::replies_match(command.comparison, &command.name(), &redis, reply) {
                return Ok(Ok(redis));
            }
            (reply.value.printable(), SeedOutcome::Failed)
        }
        Observation::Broken(text) => (text.clone(), SeedOutcome::ConnectionLost),
    };
    report.mismatches.push(Mismatch {
        seed: seed_run.seed,
        index,
        command: command.printable(),
        context: context_for(command, history),
        redis: redis.value.printable(),
        peregrine: peregrine_text,
        restart_every: seed_run.restart_every,
        stream_flags: seed_run.stream_flags.to_owned(),
    });
    Ok(Err(outcome))
}

/// The last few remembered commands that touch `command`'s keys; all recent
/// commands when `command` has no keys or concerns every key.
pub(crate) fn context_for(command: &Command, history: &VecDeque<HistoryEntry>) -> Vec<String> {
    let everything = command.global || command.keys.is_empty();
    let mut lines: Vec<String> = history
        .iter()
        .rev()
        .filter(|entry| everything || entry.command.touches(&command.keys))
        .take(CONTEXT_COMMANDS)
        .map(|entry| {
            format!(
                "#{} {} -> {}",
                entry.index,
                entry.command.printable(),
                shorten(&entry.redis_reply, CONTEXT_REPLY_CHARS)
            )
        })
        .collect();
    lines.reverse();
    lines
}

fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(limit).collect();
    short.push_str("...");
    short
}

fn unix_time_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: usize, command: Command) -> HistoryEntry {
        HistoryEntry {
            index,
            command,
            redis_reply: "+OK".to_owned(),
        }
    }

    #[test]
    fn context_keeps_commands_on_the_same_keys_in_order() {
        let history: VecDeque<HistoryEntry> = [
            entry(0, Command::new("SET").key("k1").arg("a")),
            entry(1, Command::new("SET").key("k2").arg("b")),
            entry(2, Command::new("SELECT").arg("1").global()),
            entry(3, Command::new("APPEND").key("k1").arg("c")),
        ]
        .into_iter()
        .collect();
        let lines = context_for(&Command::new("GET").key("k1"), &history);
        assert_eq!(
            lines,
            vec![
                "#0 SET k1 a -> +OK".to_owned(),
                "#2 SELECT 1 -> +OK".to_owned(),
                "#3 APPEND k1 c -> +OK".to_owned(),
            ]
        );
        let all = context_for(&Command::new("DBSIZE"), &history);
        assert_eq!(all.len(), 4);
    }

    #[test]
    fn summary_counts_failed_seeds_once() {
        let mismatch = |seed| Mismatch {
            seed,
            index: 0,
            command: "GET k".to_owned(),
            context: Vec::new(),
            redis: "(nil)".to_owned(),
            peregrine: "+OK".to_owned(),
            restart_every: 0,
            stream_flags: String::new(),
        };
        let mut report = DiffReport {
            compared: 10,
            mismatches: vec![mismatch(3), mismatch(3), mismatch(5)],
            coverage: BTreeMap::new(),
            restarts: 0,
            ..DiffReport::default()
        };
        assert_eq!(
            report.summary(20),
            "differential: 10 commands compared, 3 mismatches\n18 passed, 2 failed"
        );
        report.restarts = 4;
        assert_eq!(
            report.summary(20),
            "differential: 10 commands compared, 3 mismatches, 4 restarts after kill -9\n18 passed, 2 failed"
        );
    }

    #[test]
    fn reproduce_line_names_the_restart_interval() {
        let mut mismatch = Mismatch {
            seed: 7,
            index: 299,
            command: "GET k".to_owned(),
            context: Vec::new(),
            redis: "(nil)".to_owned(),
            peregrine: "\"v\"".to_owned(),
            restart_every: 0,
            stream_flags: String::new(),
        };
        assert!(mismatch
            .to_string()
            .ends_with("reproduce: --seeds 7..8 --commands 300"));
        mismatch.restart_every = 100;
        assert!(mismatch
            .to_string()
            .ends_with("reproduce: --seeds 7..8 --commands 300 --restart-every 100"));
        mismatch.restart_every = 0;
        mismatch.stream_flags = "--notify-keyspace-events KEA".to_owned();
        assert!(mismatch
            .to_string()
            .ends_with("reproduce: --seeds 7..8 --commands 300 --notify-keyspace-events KEA"));
    }

    #[test]
    fn shorten_truncates_long_replies_only() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdef", 3), "abc...");
    }
}
