//! MEMORY as redis-cli and memory dashboards use it: USAGE estimates wherever the key
//! lives, STATS and DOCTOR report the whole server, HELP and errors are Redis's.

use peregrine_testkit::{run, run_err, RedisOracle, TestServer};
use redis::Value;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

fn usage(connection: &mut redis::Connection, key: &str) -> Option<i64> {
    run(connection, &["MEMORY", "USAGE", key])
}

/// Bigger values are estimated bigger, on either shard; missing keys are nil.
#[test]
fn usage_grows_with_the_value() {
    let server = TestServer::start(BIN, 2);
    let mut connection = server.client();
    let long = "x".repeat(10_000);
    for index in 0..6 {
        let _: () = run(&mut connection, &["SET", &format!("short:{index}"), "v"]);
        let _: () = run(&mut connection, &["SET", &format!("long:{index}"), &long]);
        let small = usage(&mut connection, &format!("short:{index}")).unwrap();
        let large = usage(&mut connection, &format!("long:{index}")).unwrap();
        assert!(small > 0 && large >= small + 10_000, "{small} vs {large}");
    }
    assert_eq!(usage(&mut connection, "missing"), None);

    let members: Vec<String> = (0..2000)
        .map(|index| format!("member:{index:06}"))
        .collect();
    let mut sadd = vec!["SADD", "set"];
    sadd.extend(members.iter().map(String::as_str));
    let _: i64 = run(&mut connection, &sadd);
    let all: i64 = run(&mut connection, &["MEMORY", "USAGE", "set", "SAMPLES", "0"]);
    let sampled = usage(&mut connection, "set").unwrap();
    assert!(all >= 2000 * 13, "{all}");
    // Members of one length: five samples scale to about the whole.
    assert!((sampled - all).abs() * 10 < all, "{sampled} vs {all}");

    for (words, text) in [
        (
            &["MEMORY", "USAGE", "set", "SAMPLES", "-1"][..],
            "syntax error",
        ),
        (&["MEMORY", "USAGE", "set", "SAMPLES"][..], "syntax error"),
        (&["MEMORY", "USAGE", "set", "FOO", "1"][..], "syntax error"),
        (
            &["MEMORY", "USAGE", "set", "SAMPLES", "x"][..],
            "not an integer",
        ),
        (&["MEMORY", "NOSUCH"][..], "unknown subcommand"),
    ] {
        let error = run_err(&mut connection, words);
        assert!(error.contains(text), "{words:?}: {error}");
    }
}

/// STATS counts every shard's keys; DOCTOR, PURGE and MALLOC-STATS answer as Redis's.
#[test]
fn stats_doctor_purge_and_allocator_report() {
    let server = TestServer::start(BIN, 2);
    let mut connection = server.client();
    for index in 0..50 {
        let _: () = run(&mut connection, &["SET", &format!("key:{index}"), "v"]);
    }
    let _: () = run(&mut connection, &["SELECT", "3"]);
    let _: () = run(&mut connection, &["SET", "other", "v"]);
    let stats: Vec<(String, Value)> = run(&mut connection, &["MEMORY", "STATS"]);
    let field = |name: &str| {
        stats
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| panic!("no {name} in {stats:?}"))
    };
    assert_eq!(field("keys.count"), Value::Int(51));
    assert!(matches!(field("db.0"), Value::Array(_) | Value::Map(_)));
    assert!(matches!(field("db.3"), Value::Array(_) | Value::Map(_)));
    let Value::Int(allocated) = field("total.allocated") else {
        panic!("total.allocated")
    };
    assert!(allocated > 0);

    let doctor: String = run(&mut connection, &["MEMORY", "DOCTOR"]);
    assert!(doctor.starts_with("Hi Sam"), "{doctor}");
    let purged: String = run(&mut connection, &["MEMORY", "PURGE"]);
    assert_eq!(purged, "OK");
    let report: String = run(&mut connection, &["MEMORY", "MALLOC-STATS"]);
    assert!(report.contains("jemalloc statistics"), "{report}");
}

/// MEMORY HELP and the STATS field names match redis-server's.
#[test]
fn help_and_stats_fields_match_redis_server() {
    let Some(oracle) = RedisOracle::start("the MEMORY comparison") else {
        return;
    };
    let server = TestServer::start(BIN, 1);
    let mut answers = Vec::new();
    for mut connection in [oracle.client(), server.client()] {
        let _: () = run(&mut connection, &["SET", "k", "v"]);
        let help: Vec<String> = run(&mut connection, &["MEMORY", "HELP"]);
        let stats: Vec<(String, Value)> = run(&mut connection, &["MEMORY", "STATS"]);
        let names: Vec<String> = stats.into_iter().map(|(name, _)| name).collect();
        answers.push((help, names));
    }
    assert_eq!(answers[1], answers[0], "Peregrine's, then redis-server's");
}
