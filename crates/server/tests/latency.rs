//! Latency as Redis 7 reports it: per-command histograms (LATENCY HISTOGRAM, INFO
//! latencystats) added up over shards, and the latency monitor's events, history, graph
//! and doctor; texts compared with redis-server's.

use peregrine_testkit::{RedisOracle, TestServer};
use redis::Value;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

fn query<T: redis::FromRedisValue>(
    connection: &mut redis::Connection,
    words: &[&str],
) -> redis::RedisResult<T> {
    let mut command = redis::cmd(words[0]);
    for word in &words[1..] {
        command.arg(*word);
    }
    command.query(connection)
}

fn info_line(connection: &mut redis::Connection, prefix: &str) -> Option<String> {
    let info: String = query(connection, &["INFO", "latencystats"]).unwrap();
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
        query(&mut connection, &["LATENCY", "HISTOGRAM", "SET"]).unwrap();
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

    let _: () = query(
        &mut connection,
        &["CONFIG", "SET", "latency-tracking-info-percentiles", "90"],
    )
    .unwrap();
    let line = info_line(&mut connection, "latency_percentiles_usec_set:").unwrap();
    assert!(line.starts_with("p90=") && !line.contains(','), "{line}");
    let error = query::<()>(
        &mut connection,
        &[
            "CONFIG",
            "SET",
            "latency-tracking-info-percentiles",
            "50 101",
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("should sit between [0.0,100.0]"), "{error}");

    let _: () = query(
        &mut connection,
        &["CONFIG", "SET", "latency-tracking", "no"],
    )
    .unwrap();
    let _: () = query(&mut connection, &["SET", "key:0", "w"]).unwrap();
    let histograms: Vec<(String, Vec<(String, Value)>)> =
        query(&mut connection, &["LATENCY", "HISTOGRAM", "set"]).unwrap();
    assert_eq!(histograms[0].1[0], ("calls".to_owned(), Value::Int(100)));
}

/// A command over `latency-monitor-threshold` is an event: LATEST, HISTORY, GRAPH and
/// DOCTOR report it, RESET forgets it.
#[test]
fn the_monitor_records_slow_commands() {
    let server = TestServer::start(BIN, 2);
    let mut connection = server.client();
    let _: () = query(
        &mut connection,
        &["CONFIG", "SET", "latency-monitor-threshold", "20"],
    )
    .unwrap();
    let _: () = query(&mut connection, &["DEBUG", "SLEEP", "0.05"]).unwrap();
    let _: () = query(&mut connection, &["SET", "fast", "v"]).unwrap();
    let latest: Vec<(String, i64, i64, i64)> =
        query(&mut connection, &["LATENCY", "LATEST"]).unwrap();
    assert_eq!(latest.len(), 1, "{latest:?}");
    let (event, time, latency, max) = &latest[0];
    assert_eq!(event, "command");
    assert!(
        *time > 1_700_000_000 && *latency >= 50 && max == latency,
        "{latest:?}"
    );
    let history: Vec<(i64, i64)> =
        query(&mut connection, &["LATENCY", "HISTORY", "command"]).unwrap();
    assert_eq!(history, [(*time, *latency)]);
    let graph: String = query(&mut connection, &["LATENCY", "GRAPH", "command"]).unwrap();
    assert!(
        graph.starts_with(&format!("command - high {latency} ms, low {latency} ms")),
        "{graph}"
    );
    let doctor: String = query(&mut connection, &["LATENCY", "DOCTOR"]).unwrap();
    assert!(doctor.contains("1. command: 1 latency spikes"), "{doctor}");
    let error = query::<String>(&mut connection, &["LATENCY", "GRAPH", "nosuch"])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("No samples available for event 'nosuch'"),
        "{error}"
    );
    let reset: i64 = query(&mut connection, &["LATENCY", "RESET", "command", "nosuch"]).unwrap();
    assert_eq!(reset, 1);
    let latest: Vec<Value> = query(&mut connection, &["LATENCY", "LATEST"]).unwrap();
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
        let help: Vec<String> = query(&mut connection, &["LATENCY", "HELP"]).unwrap();
        let disabled: String = query(&mut connection, &["LATENCY", "DOCTOR"]).unwrap();
        let _: () = query(
            &mut connection,
            &["CONFIG", "SET", "latency-monitor-threshold", "1000"],
        )
        .unwrap();
        let calm: String = query(&mut connection, &["LATENCY", "DOCTOR"]).unwrap();
        let info: String = query(&mut connection, &["INFO", "commandstats"]).unwrap();
        let config_set = info
            .lines()
            .any(|line| line.starts_with("cmdstat_config|set:"));
        answers.push((help, disabled, calm, config_set));
    }
    assert_eq!(answers[1], answers[0], "Peregrine's, then redis-server's");
}
