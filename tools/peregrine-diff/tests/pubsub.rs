//! The pubsub family with subscriber streams, redis-server on both sides: replies
//! and the frames every subscriber receives after each command must match, in
//! order, with nothing late. A mismatch here is a bug of the tester (a
//! nondeterministic recipe, a frame count the generator got wrong). The same run
//! against peregrine-server, with 1 and 2 shards, is
//! `crates/server/tests/differential.rs` (`pubsub_streams_match_redis`), where the
//! server binary is at hand. Skipped (with a message) when redis-server is not
//! installed, unless `CI=true`.

use std::path::PathBuf;

use peregrine_diff::{find_redis_server, self_check, DiffConfig, DiffReport};

fn redis_or_skip() -> Option<PathBuf> {
    let found = find_redis_server();
    if found.is_none() {
        let under_ci = std::env::var("CI").is_ok_and(|value| value == "true");
        assert!(!under_ci, "redis-server not found and CI=true");
        eprintln!("redis-server not found; pubsub differential test skipped");
    }
    found
}

fn pubsub_config(redis_bin: PathBuf) -> DiffConfig {
    DiffConfig {
        peregrine_bin: PathBuf::new(),
        redis_bin,
        seeds: 0..3,
        commands_per_seed: 300,
        shards: 1,
        families: vec!["pubsub".to_owned()],
        restart_every: 0,
        subscribers: true,
        notify_keyspace_events: None,
    }
}

fn assert_clean(report: &DiffReport) {
    let details: Vec<String> = report.mismatches.iter().map(ToString::to_string).collect();
    assert!(report.mismatches.is_empty(), "{}", details.join("\n\n"));
    assert_eq!(report.compared, 900);
    // Two subscribers after every command, the second client after some.
    assert!(report.stream_intervals > 1800, "{report:?}");
    for name in [
        "PUBLISH",
        "SPUBLISH",
        "PUBSUB",
        "SUBSCRIBE",
        "PSUBSCRIBE",
        "SSUBSCRIBE",
        "UNSUBSCRIBE",
        "PUNSUBSCRIBE",
        "SUNSUBSCRIBE",
    ] {
        assert!(
            report.coverage.get(name).is_some_and(|count| *count > 0),
            "{name} was never sent: {:?}",
            report.coverage
        );
    }
}

#[test]
fn redis_agrees_with_itself_on_pubsub_streams() {
    let Some(redis_bin) = redis_or_skip() else {
        return;
    };
    let report = match self_check(&pubsub_config(redis_bin)) {
        Ok(report) => report,
        Err(error) => panic!("self-check could not run: {error:#}"),
    };
    assert_clean(&report);
    assert_eq!(report.reordered_intervals, 0);
    assert_eq!(report.late_intervals, 0);
}

/// Keyspace notifications on (`KEA`) with every family: the event streams of
/// redis-server must be deterministic for the tester to compare them (no active
/// expiry, no event outside the interval of the command that caused it).
#[test]
fn redis_agrees_with_itself_on_keyspace_notifications() {
    let Some(redis_bin) = redis_or_skip() else {
        return;
    };
    let config = DiffConfig {
        seeds: 40..42,
        commands_per_seed: 400,
        families: Vec::new(),
        subscribers: false,
        notify_keyspace_events: Some("KEA".to_owned()),
        ..pubsub_config(redis_bin)
    };
    let report = match self_check(&config) {
        Ok(report) => report,
        Err(error) => panic!("self-check could not run: {error:#}"),
    };
    let details: Vec<String> = report.mismatches.iter().map(ToString::to_string).collect();
    assert!(report.mismatches.is_empty(), "{}", details.join("\n\n"));
    // Notifications imply the subscribers: two streams after every command.
    assert!(report.stream_intervals >= 1600, "{report:?}");
}
