//! The tester against itself: redis-server on both sides must never disagree.
//!
//! A mismatch here means a generated command is nondeterministic or a
//! normalization rule is missing. Skipped (with a message) when redis-server
//! is not installed, unless `CI=true`.

use std::path::PathBuf;

use peregrine_diff::{find_redis_server, run, self_check, DiffConfig};

fn redis_or_skip() -> Option<PathBuf> {
    let found = find_redis_server();
    if found.is_none() {
        let under_ci = std::env::var("CI").is_ok_and(|value| value == "true");
        assert!(!under_ci, "redis-server not found and CI=true");
        eprintln!("redis-server not found; self-check skipped");
    }
    found
}

#[test]
fn redis_agrees_with_itself() {
    let Some(redis_bin) = redis_or_skip() else {
        return;
    };
    let config = DiffConfig {
        peregrine_bin: PathBuf::new(),
        redis_bin,
        seeds: 0..4,
        commands_per_seed: 400,
        shards: 1,
        families: Vec::new(),
    };
    let report = match self_check(&config) {
        Ok(report) => report,
        Err(error) => panic!("self-check could not run: {error:#}"),
    };
    let details: Vec<String> = report.mismatches.iter().map(ToString::to_string).collect();
    assert!(report.mismatches.is_empty(), "{}", details.join("\n\n"));
    assert_eq!(report.compared, 1600);
    for name in ["SET", "GET", "SCAN", "EXPIRE", "LCS", "TTL"] {
        assert!(
            report.coverage.get(name).is_some_and(|count| *count > 0),
            "{name} was never sent: {:?}",
            report.coverage
        );
    }
    assert_eq!(report.summary(4).lines().last(), Some("4 passed, 0 failed"));
}

#[test]
fn a_missing_peregrine_binary_is_an_error() {
    let Some(redis_bin) = redis_or_skip() else {
        return;
    };
    let config = DiffConfig {
        peregrine_bin: PathBuf::from("/nonexistent/peregrine-server"),
        redis_bin,
        seeds: 0..1,
        commands_per_seed: 10,
        shards: 1,
        families: Vec::new(),
    };
    assert!(run(&config).is_err());
}
