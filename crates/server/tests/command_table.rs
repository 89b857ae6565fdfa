//! Our command table against a live redis-server's COMMAND INFO: arity, key positions and
//! the flags clients act on (write, readonly, denyoom, fast, admin, noscript, loading,
//! stale, blocking, movablekeys) must match, command by command and subcommand by
//! subcommand (`config|get`, as COMMAND LIST names them), except for the explained
//! differences below.

use peregrine_testkit::{RedisOracle, TestServer};
use redis::Value;
use std::collections::BTreeSet;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// Flags compared; others (e.g. `no_auth`, `allow_busy`, `no_multi`) are Redis-internal.
const COMPARED_FLAGS: &[&str] = &[
    "write",
    "readonly",
    "denyoom",
    "fast",
    "admin",
    "noscript",
    "loading",
    "stale",
    "blocking",
    "movablekeys",
];

/// Explained differences: (command, what differs, why).
const EXPLAINED: &[(&str, &str, &str)] = &[
    (
        "object",
        "key position 2 and readonly declared on the container",
        "Redis declares them on each OBJECT subcommand; our table routes OBJECT by the key at position 2",
    ),
    (
        "xgroup",
        "key position 2 and write declared on the container",
        "Redis declares keys and flags on each XGROUP subcommand; our table routes XGROUP by the key at position 2",
    ),
    (
        "xinfo",
        "key position 2 and readonly declared on the container",
        "Redis declares keys and flags on each XINFO subcommand; our table routes XINFO by the key at position 2",
    ),
    (
        "command|getkeys",
        "arity -3 instead of -4",
        "COMMAND GETKEYS PING answers that PING has no key arguments, as Redis 7.2 does; 7.0 refuses it by arity",
    ),
    (
        "zrank",
        "arity -3 instead of 3",
        "Redis 7.2 added ZRANK's WITHSCORE option; the oracle here may be 7.0",
    ),
    (
        "zrevrank",
        "arity -3 instead of 3",
        "Redis 7.2 added ZREVRANK's WITHSCORE option; the oracle here may be 7.0",
    ),
];

/// (arity, flags, first, last, step) from one COMMAND INFO entry.
fn shape(entry: &Value) -> Option<(i64, BTreeSet<String>, i64, i64, i64)> {
    let Value::Array(fields) = entry else {
        return None;
    };
    let integer = |value: &Value| match value {
        Value::Int(number) => Some(*number),
        _ => None,
    };
    let flags = match fields.get(2)? {
        Value::Array(flags) | Value::Set(flags) => flags
            .iter()
            .filter_map(|flag| match flag {
                Value::SimpleString(text) => Some(text.clone()),
                Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
                _ => None,
            })
            .filter(|flag| COMPARED_FLAGS.contains(&flag.as_str()))
            .collect(),
        _ => return None,
    };
    Some((
        integer(fields.get(1)?)?,
        flags,
        integer(fields.get(3)?)?,
        integer(fields.get(4)?)?,
        integer(fields.get(5)?)?,
    ))
}

#[test]
fn command_info_matches_redis() {
    let Some(redis) = RedisOracle::start("the command table comparison") else {
        return;
    };
    let peregrine = TestServer::start(BIN, 1);
    let mut ours = peregrine.client();
    let mut theirs = redis.client();
    let names: Vec<String> = redis::cmd("COMMAND")
        .arg("LIST")
        .query(&mut ours)
        .expect("COMMAND LIST");
    assert!(names.len() >= 60, "{names:?}");
    let mut differences = Vec::new();
    for name in &names {
        let our_info: Value = redis::cmd("COMMAND")
            .arg("INFO")
            .arg(name)
            .query(&mut ours)
            .expect("ours");
        let their_info: Value = redis::cmd("COMMAND")
            .arg("INFO")
            .arg(name)
            .query(&mut theirs)
            .expect("theirs");
        let first = |info: &Value| match info {
            Value::Array(entries) => entries.first().cloned(),
            _ => None,
        };
        let (Some(our_entry), Some(their_entry)) = (first(&our_info), first(&their_info)) else {
            differences.push(format!("{name}: missing COMMAND INFO entry"));
            continue;
        };
        if their_entry == Value::Nil {
            // Newer than redis-server 7.0 (the oracle here): nothing to compare.
            continue;
        }
        let (ours_shape, theirs_shape) = (shape(&our_entry), shape(&their_entry));
        if ours_shape != theirs_shape && !EXPLAINED.iter().any(|(command, _, _)| command == name) {
            differences.push(format!(
                "{name}: ours {ours_shape:?}, redis {theirs_shape:?}"
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "unexplained differences:\n{}",
        differences.join("\n")
    );
}

/// ROLE answers as redis-server does for a master without replicas (and its arity error
/// is Redis's).
#[test]
fn role_matches_redis() {
    let Some(redis) = RedisOracle::start("the ROLE comparison") else {
        return;
    };
    let peregrine = TestServer::start(BIN, 2);
    let mut ours = peregrine.raw();
    let mut theirs = peregrine_testkit::RawClient::connect(([127, 0, 0, 1], redis.port()).into());
    for request in [&["ROLE"][..], &["role"], &["ROLE", "extra"]] {
        let reply = ours.cmd(request);
        assert_eq!(reply, theirs.cmd(request), "{request:?}");
        assert!(!reply.is_empty());
    }
}

/// COMMAND LIST names every subcommand and filters as Redis's; MODULE answers as a
/// redis-server without modules does.
#[test]
fn command_list_and_module_match_redis() {
    let Some(redis) = RedisOracle::start("the COMMAND LIST comparison") else {
        return;
    };
    let peregrine = TestServer::start(BIN, 2);
    let mut ours = peregrine.raw();
    let mut theirs = peregrine_testkit::RawClient::connect(([127, 0, 0, 1], redis.port()).into());
    let sorted = |reply: Vec<u8>| {
        let mut lines: Vec<String> = String::from_utf8_lossy(&reply)
            .split("\r\n")
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    };
    for request in [
        &["COMMAND", "LIST", "FILTERBY", "PATTERN", "x*"][..],
        &["COMMAND", "LIST", "FILTERBY", "PATTERN", "m*|*"],
        &["COMMAND", "LIST", "FILTERBY", "PATTERN", "latency|*"],
        &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "hyperloglog"],
        &["COMMAND", "LIST", "FILTERBY", "MODULE", "json"],
        &["COMMAND", "LIST", "FILTERBY", "NOSUCH", "x"],
        &["MODULE", "LIST"],
        &["MODULE", "HELP"],
        &["MODULE", "LOAD", "/no/such/module.so"],
        &["MODULE", "UNLOAD", "json"],
        &["MODULE", "NOSUCH"],
    ] {
        assert_eq!(
            sorted(ours.cmd(request)),
            sorted(theirs.cmd(request)),
            "{request:?}"
        );
    }
    let names = |reply: Vec<u8>| -> BTreeSet<String> {
        String::from_utf8_lossy(&reply)
            .split("\r\n")
            .filter(|line| line.contains('|'))
            .map(str::to_owned)
            .collect()
    };
    let ours_all = names(ours.cmd(&["COMMAND", "LIST"]));
    let theirs_all = names(theirs.cmd(&["COMMAND", "LIST"]));
    assert!(ours_all.contains("config|get") && ours_all.contains("memory|usage"));
    // Every subcommand of the containers both have (Redis 7.0 lacks a few of 7.2's).
    let containers: BTreeSet<&str> = ours_all
        .iter()
        .filter_map(|name| name.split('|').next())
        .collect();
    let missing: Vec<&str> = theirs_all
        .iter()
        .filter(|name| containers.contains(name.split('|').next().unwrap_or_default()))
        .filter(|name| !ours_all.contains(*name))
        .map(String::as_str)
        .collect();
    assert_eq!(missing, ["command|getkeysandflags", "script|debug"]);
}
