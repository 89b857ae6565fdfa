//! `peregrine-diff`: compares peregrine-server with redis-server on seeded random
//! command sequences.
//!
//! ```text
//! peregrine-diff --peregrine PATH [--redis PATH] [--seeds A..B] [--commands N] [--shards N]
//!               [--families NAME,...] [--restart-every N] [--subscribers]
//!               [--notify-keyspace-events FLAGS]
//! ```
//!
//! Exit status: 0 when every seed matched (or when redis-server is missing and
//! `CI` is not `true`), 1 on mismatches (or a missing redis-server under CI),
//! 2 on usage errors or when the servers could not be run.

use std::ops::Range;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context as _};
use peregrine_diff::{family_names, find_redis_server, run, self_check, DiffConfig, DiffReport};

const USAGE: &str = "\
usage: peregrine-diff --peregrine PATH [--redis PATH] [--seeds A..B] [--commands N] [--shards N]
                      [--families NAME,...] [--restart-every N] [--subscribers]
                      [--notify-keyspace-events FLAGS]

  --peregrine PATH  the peregrine-server binary to test
  --redis PATH      the redis-server binary (default: redis-server from PATH)
  --seeds A..B      seeds to run, end exclusive (default 0..20); a single number runs one seed
  --commands N      commands per seed (default 2000)
  --shards N        shards for peregrine-server (default 4)
  --families LIST   comma-separated command families to generate (default all):
                    strings, keys, server, lists, hashes, sets, sorted-sets,
                    geo, transactions, scripting, pubsub, hyperloglog, sort, bitmaps,
                    streams
  --restart-every N every N commands of a seed, kill -9 peregrine-server, restart it on
                    its data directory (it runs with appendfsync always) and compare
                    the datasets before and after; 0 (the default) never restarts
  --subscribers     open two subscriber connections on each server (RESP2: __key*__:*
                    and the pubsub family's channels and patterns; RESP3: its shard
                    channels and a pattern), read them up to a sync message published
                    after every command, and compare what each received per command
                    (exactly, or up to order); off by default (the pubsub family's own
                    second client is always compared while it is subscribed)
  --notify-keyspace-events FLAGS
                    CONFIG SET notify-keyspace-events FLAGS (e.g. KEA) and DEBUG
                    SET-ACTIVE-EXPIRE 0 on both servers at start; implies --subscribers,
                    so the keyspace subscriber compares every family's events; off by
                    default. Neither option combines with --restart-every";

/// The parsed command line.
#[derive(Debug)]
struct Options {
    peregrine: Option<PathBuf>,
    redis: Option<PathBuf>,
    seeds: Range<u64>,
    commands: usize,
    shards: u16,
    /// Families to generate; empty means all.
    families: Vec<String>,
    /// Crash-restart interval in commands; 0 means off.
    restart_every: usize,
    /// Compare the subscriber streams.
    subscribers: bool,
    /// Keyspace notification flags for both servers; `None`: off.
    notify_keyspace_events: Option<String>,
    /// Hidden: redis-server on both sides, to check the tester itself.
    self_check: bool,
}

fn main() -> ExitCode {
    let options = match parse_options(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("peregrine-diff: {error:#}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let Some(redis_bin) = options.redis.clone().or_else(find_redis_server) else {
        println!("differential: redis-server not found; differential suite did NOT run");
        let under_ci = std::env::var("CI").is_ok_and(|value| value == "true");
        return if under_ci {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    };
    let config = DiffConfig {
        peregrine_bin: options.peregrine.clone().unwrap_or_default(),
        redis_bin,
        seeds: options.seeds.clone(),
        commands_per_seed: options.commands,
        shards: options.shards,
        families: options.families.clone(),
        restart_every: options.restart_every,
        subscribers: options.subscribers,
        notify_keyspace_events: options.notify_keyspace_events.clone(),
    };
    let result = if options.self_check {
        self_check(&config)
    } else {
        run(&config)
    };
    match result {
        Ok(report) => {
            print_report(&report, &config);
            if report.mismatches.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("differential: could not run: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn print_report(report: &DiffReport, config: &DiffConfig) {
    for mismatch in &report.mismatches {
        println!("{mismatch}\n");
    }
    println!(
        "coverage (times sent per command, and how many of those Redis answered with an error):"
    );
    let width = report.coverage.keys().map(String::len).max().unwrap_or(0);
    for (name, count) in &report.coverage {
        let errors = report.errors.get(name).copied().unwrap_or(0);
        println!("  {name:<width$}  {count:>7}  {errors:>7} errors");
    }
    if report.stream_intervals > 0 {
        println!(
            "streams: {} intervals compared, {} equal only up to order, {} with frames after the sync message",
            report.stream_intervals, report.reordered_intervals, report.late_intervals
        );
    }
    let seed_count = config.seeds.end.saturating_sub(config.seeds.start);
    println!("{}", report.summary(seed_count));
}

/// Parses the arguments; `Ok(None)` means help was asked for.
fn parse_options(args: impl IntoIterator<Item = String>) -> anyhow::Result<Option<Options>> {
    let mut options = Options {
        peregrine: None,
        redis: None,
        seeds: 0..20,
        commands: 2000,
        shards: 4,
        families: Vec::new(),
        restart_every: 0,
        subscribers: false,
        notify_keyspace_events: None,
        self_check: false,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| anyhow!("{name} needs a value"));
        match flag.as_str() {
            "--peregrine" => options.peregrine = Some(PathBuf::from(value("--peregrine")?)),
            "--redis" => options.redis = Some(PathBuf::from(value("--redis")?)),
            "--seeds" => options.seeds = parse_seeds(&value("--seeds")?)?,
            "--commands" => {
                options.commands = value("--commands")?
                    .parse()
                    .context("--commands needs a non-negative integer")?;
            }
            "--shards" => {
                options.shards = value("--shards")?
                    .parse()
                    .context("--shards needs an integer from 0 to 65535")?;
            }
            "--families" => options.families = parse_families(&value("--families")?)?,
            "--restart-every" => {
                options.restart_every = value("--restart-every")?
                    .parse()
                    .context("--restart-every needs a non-negative integer")?;
            }
            "--subscribers" => options.subscribers = true,
            "--notify-keyspace-events" => {
                options.notify_keyspace_events = Some(value("--notify-keyspace-events")?);
            }
            "--self-check" => options.self_check = true,
            "--help" | "-h" => return Ok(None),
            other => bail!("unknown argument {other:?}"),
        }
    }
    if options.peregrine.is_none() && !options.self_check {
        bail!("--peregrine PATH is required");
    }
    let streams = options.subscribers || options.notify_keyspace_events.is_some();
    if streams && options.restart_every > 0 {
        bail!("--subscribers and --notify-keyspace-events do not combine with --restart-every");
    }
    Ok(Some(options))
}

/// A comma-separated list of family names; `all` (or nothing) means every family.
fn parse_families(text: &str) -> anyhow::Result<Vec<String>> {
    let known = family_names();
    let mut families = Vec::new();
    for name in text
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        if name == "all" {
            return Ok(Vec::new());
        }
        if !known.contains(&name) {
            bail!(
                "unknown family {name:?}; the families are {}",
                known.join(", ")
            );
        }
        if !families.iter().any(|family| family == name) {
            families.push(name.to_owned());
        }
    }
    Ok(families)
}

/// `A..B` (end exclusive) or a single seed `A`.
fn parse_seeds(text: &str) -> anyhow::Result<Range<u64>> {
    let parse = |part: &str| {
        part.trim()
            .parse::<u64>()
            .with_context(|| format!("seed {part:?} is not a non-negative integer"))
    };
    match text.split_once("..") {
        Some((start, end)) => {
            let (start, end) = (parse(start)?, parse(end)?);
            if start > end {
                bail!("--seeds {text}: the start is after the end");
            }
            Ok(start..end)
        }
        None => {
            let seed = parse(text)?;
            Ok(seed..seed.saturating_add(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> anyhow::Result<Option<Options>> {
        parse_options(args.iter().map(|arg| (*arg).to_owned()))
    }

    #[test]
    fn parses_every_flag() {
        let options = parse(&[
            "--peregrine",
            "/bin/p",
            "--redis",
            "/bin/r",
            "--seeds",
            "5..9",
            "--commands",
            "10",
            "--shards",
            "2",
            "--families",
            "lists,sorted-sets",
            "--restart-every",
            "300",
        ]);
        let Ok(Some(options)) = options else {
            panic!("valid arguments were rejected: {options:?}");
        };
        assert_eq!(options.peregrine, Some(PathBuf::from("/bin/p")));
        assert_eq!(options.redis, Some(PathBuf::from("/bin/r")));
        assert_eq!(options.seeds, 5..9);
        assert_eq!(options.commands, 10);
        assert_eq!(options.shards, 2);
        assert_eq!(options.families, ["lists", "sorted-sets"]);
        assert_eq!(options.restart_every, 300);
        assert!(!options.self_check);
        let streams = parse(&[
            "--peregrine",
            "/bin/p",
            "--subscribers",
            "--notify-keyspace-events",
            "KEA",
        ]);
        let Ok(Some(streams)) = streams else {
            panic!("valid arguments were rejected: {streams:?}");
        };
        assert!(streams.subscribers);
        assert_eq!(streams.notify_keyspace_events.as_deref(), Some("KEA"));
    }

    #[test]
    fn requires_peregrine_unless_self_checking() {
        assert!(parse(&[]).is_err());
        assert!(matches!(parse(&["--self-check"]), Ok(Some(options)) if options.self_check));
    }

    #[test]
    fn rejects_bad_values() {
        assert!(parse(&["--peregrine", "p", "--seeds", "9..5"]).is_err());
        assert!(parse(&["--peregrine", "p", "--commands", "-1"]).is_err());
        assert!(parse(&["--peregrine", "p", "--shards"]).is_err());
        assert!(parse(&["--peregrine", "p", "--bogus"]).is_err());
        assert!(parse(&["--peregrine", "p", "--restart-every", "-5"]).is_err());
        assert!(parse(&["--peregrine", "p", "--families", "lists,zsets"]).is_err());
        assert!(parse(&["--peregrine", "p", "--notify-keyspace-events"]).is_err());
        assert!(parse(&["--peregrine", "p", "--subscribers", "--restart-every", "5"]).is_err());
    }

    #[test]
    fn streams_default_to_off() {
        assert!(matches!(
            parse(&["--peregrine", "p"]),
            Ok(Some(options)) if !options.subscribers && options.notify_keyspace_events.is_none()
        ));
    }

    #[test]
    fn restarts_default_to_off() {
        assert!(
            matches!(parse(&["--peregrine", "p"]), Ok(Some(options)) if options.restart_every == 0)
        );
    }

    #[test]
    fn families_default_to_all() {
        assert!(
            matches!(parse(&["--peregrine", "p"]), Ok(Some(options)) if options.families.is_empty())
        );
        assert_eq!(parse_families("all").ok(), Some(Vec::new()));
        assert_eq!(
            parse_families("sets, sets,hashes").ok(),
            Some(vec!["sets".to_owned(), "hashes".to_owned()])
        );
    }

    #[test]
    fn single_seed_is_a_range_of_one() {
        assert_eq!(parse_seeds("7").ok(), Some(7..8));
        assert_eq!(parse_seeds("0..3").ok(), Some(0..3));
    }
}
