//! Latency as Redis 7 reports it: per-command histograms (LATENCY HISTOGRAM, INFO
//! latencystats) added up over shards, and the latency monitor's events, history, graph
//! and doctor; texts compared with redis-server's.

use peregrine_testkit::{run, run_err, RedisOracle, TestServer};
use redis::Value;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

fn info_line(connection: &mut redis::Connection, prefix: &str) -> Option<String> {
    let info: String = run(connection, &["INFO", "latencystats"]);
    info.lines()
        .find_map(|line| line.strip_prefix(prefix))
        .map(str::to_owned)
}

/// Every SET is counted once, whichever shard ran it, in LATENCY HISTOGRAM and INFO
/// latencystats; `latency-tracking no` stops the counting.
#[test]
fn histograms_count_every_call_on_every_shard() {
    let server = TestServer::start(BIN, 2);
    let mut connection = server.client();
    let mut pipeline = redis::pipe();
    for index in 0..100 {
        pipeline
            .cmd("SET")
            .arg(format!("key:{index}"))
            .arg("v")
            .ignore();
    }
    let _: () = pipeline.query(&mut connection).unwrap();
    let histograms: Vec<(String, Vec<(String, Value)>)> =
        run(&mut connection, &["LATENCY", "HISTOGRAM", "SET"]);
    assert_eq!(histograms.len(), 1, "{histograms:?}");
    let (name, fields) = &histograms[0];
    assert_eq!(name, "set");
    assert_eq!(fields[0], ("calls".to_owned(), Value::Int(100)));
    let buckets: Vec<(i64, i64)> = redis::from_redis_value(fields[1].1.clone()).unwrap();
    assert_eq!(buckets.last().map(|(_, count)| *count), Some(100));
    assert!(buckets
        .windows(2)
        .all(|pair| pair[0].0 < pair[1].0 && pair[0].1 < pair[1].1));

    let line = info_line(&mut connection, "latency_percentiles_usec_set:").unwrap();
    let fields: Vec<&str> = line
        .split(',')
        .map(|field| field.split('=').next().unwrap())
        .collect();
    assert_eq!(fields, ["p50", "p99", "p99.9"], "{line}");

    let _: () = run(
        &mut connection,
        &["CONFIG", "SET", "latency-tracking-info-percentiles", "90"],
    );
    let line = info_line(&mut connection, "latency_percentiles_usec_set:").unwrap();
    assert!(line.starts_with("p90=") && !line.contains(','), "{line}");
    let error = run_err(
        &mut connection,
        &[
            "CONFIG",
            "SET",
            "latency-tracking-info-percentiles",
            "50 101",
        ],
    );
    assert!(error.contains("should sit between [0.0,100.0]"), "{error}");

    let _: () = run(
        &mut connection,
        &["CONFIG", "SET", "latency-tracking", "no"],
    );
    let _: () = run(&mut connection, &["SET", "key:0", "w"]);
    let histograms: Vec<(String, Vec<(String, Value)>)> =
        run(&mut connection, &["LATENCY", "HISTOGRAM", "set"]);
    assert_eq!(histograms[0].1[0], ("calls".to_owned(), Value::Int(100)));
}

/// A command over `latency-monitor-threshold` is an event: LATEST, HISTORY, GRAPH and
/// DOCTOR report it, RESET forgets it.
#[test]
fn the_monitor_records_slow_commands() {
    let server = TestServer::start(BIN, 2);
    let mut connection = server.client();
    let _: () = run(
        &mut connection,
        &["CONFIG", "SET", "latency-monitor-threshold", "20"],
    );
    let _: () = run(&mut connection, &["DEBUG", "SLEEP", "0.05"]);
    let _: () = run(&mut connection, &["SET", "fast", "v"]);
    let latest: Vec<(String, i64, i64, i64)> = run(&mut connection, &["LATENCY", "LATEST"]);
    assert_eq!(latest.len(), 1, "{latest:?}");
    let (event, time, latency, max) = &latest[0];
    assert_eq!(event, "command");
    assert!(
        *time > 1_700_000_000 && *latency >= 50 && max == latency,
        "{latest:?}"
    );
    let history: Vec<(i64, i64)> = run(&mut connection, &["LATENCY", "HISTORY", "command"]);
    assert_eq!(history, [(*time, *latency)]);
    let graph: String = run(&mut connection, &["LATENCY", "GRAPH", "command"]);
    assert!(
        graph.starts_with(&format!("command - high {latency} ms, low {latency} ms")),
        "{graph}"
    );
    let doctor: String = run(&mut connection, &["LATENCY", "DOCTOR"]);
    assert!(doctor.contains("1. command: 1 latency spikes"), "{doctor}");
    let error = run_err(&mut connection, &["LATENCY", "GRAPH", "nosuch"]);
    assert!(
        error.contains("No samples available for event 'nosuch'"),
        "{error}"
    );
    let reset: i64 = run(&mut connection, &["LATENCY", "RESET", "command", "nosuch"]);
    assert_eq!(reset, 1);
    let latest: Vec<Value> = run(&mut connection, &["LATENCY", "LATEST"]);
    assert!(latest.is_empty());
}

/// HELP and DOCTOR's texts without events are redis-server's; commandstats name a
/// container's subcommand as Redis 7 does.
#[test]
fn texts_match_redis_server() {
    let Some(oracle) = RedisOracle::start("the LATENCY comparison") else {
        return;
    };
    let server = TestServer::start(BIN, 1);
    let mut answers = Vec::new();
    for mut connection in [oracle.client(), server.client()] {
        let help: Vec<String> = run(&mut connection, &["LATENCY", "HELP"]);
        let disabled: String = run(&mut connection, &["LATENCY", "DOCTOR"]);
        let _: () = run(
            &mut connection,
            &["CONFIG", "SET", "latency-monitor-threshold", "1000"],
        );
        let calm: String = run(&mut connection, &["LATENCY", "DOCTOR"]);
        let info: String = run(&mut connection, &["INFO", "commandstats"]);
        let config_set = info
            .lines()
            .any(|line| line.starts_with("cmdstat_config|set:"));
        answers.push((help, disabled, calm, config_set));
    }
    assert_eq!(answers[1], answers[0], "Peregrine's, then redis-server's");
}
