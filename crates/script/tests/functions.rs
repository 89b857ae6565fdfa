//! FUNCTION LOAD / FCALL / LIST / DUMP / RESTORE through the engine, and EVALSHA across
//! engines sharing a registry.

mod common;

use bytes::Bytes;
use common::{block_on, Fixture, Oracle, TestHost};
use peregrine_resp::{Protocol, Reply};
use peregrine_script::{EngineLimits, RestorePolicy, ScriptEngine, ScriptFlags};
use std::rc::Rc;

const LIBRARY: &str = "#!lua name=mylib\n\
    redis.register_function('echo', function(keys, args) return {keys[1], args[1]} end)\n\
    redis.register_function{function_name='ro', callback=function() return redis.call('ping') end, flags={'no-writes'}, description='d'}";

#[test]
fn load_and_call() {
    let fixture = Fixture::new();
    assert_eq!(
        fixture.engine.load_library(LIBRARY.into(), false).unwrap(),
        "mylib"
    );
    assert_eq!(
        fixture.fcall("echo", &["k"], &["a"]),
        Reply::Array(vec![Reply::bulk("k"), Reply::bulk("a")])
    );
    assert_eq!(fixture.fcall("ro", &[], &[]), Reply::Status("PONG".into()));
    assert_eq!(
        fixture.fcall("nope", &[], &[]),
        Reply::error("ERR Function not found")
    );
    let (_, info) = fixture.engine.registry().function(b"ro").unwrap();
    assert!(info.flags.contains(ScriptFlags::NO_WRITES));
    assert_eq!(
        fixture
            .engine
            .load_library(LIBRARY.into(), false)
            .unwrap_err()
            .to_string(),
        "ERR Library 'mylib' already exists"
    );
    fixture.engine.load_library(LIBRARY.into(), true).unwrap();
}

#[test]
fn load_errors_match_redis() {
    let Some(oracle) = Oracle::start() else {
        return;
    };
    let cases = [
        "return 1",
        "#!lua\nreturn 1",
        "#!py name=x\nreturn 1",
        "#!lua name=x\nreturn 1",
        "#!lua name=y\nredis.call('ping')",
        "#!lua name=y\nredis.register_function('1-f', function() return 1 end)",
        "#!lua name=y z=1\nreturn 1",
        "#!lua name=y-\nreturn 1",
        "#!lua name=y\nreturn (",
        "#!lua name=y\nredis.register_function('f')",
        "#!lua name=y\nredis.register_function{function_name='f', callback=function() end, flags={'bogus'}}",
        "#!lua name=y\nredis.register_function('f', function() end) redis.register_function('f', function() end)",
    ];
    for code in cases {
        let fixture = Fixture::new();
        let expected = oracle.raw(&[b"FUNCTION", b"LOAD", code.as_bytes()]);
        let actual = match fixture
            .engine
            .load_library(Bytes::copy_from_slice(code.as_bytes()), false)
        {
            Ok(name) => Reply::bulk(name),
            Err(error) => error.into(),
        };
        assert_eq!(
            String::from_utf8_lossy(&actual.to_bytes(Protocol::Resp2)),
            String::from_utf8_lossy(&expected),
            "code: {code}"
        );
        oracle.raw(&[b"FUNCTION", b"FLUSH"]);
    }
}

#[test]
fn list_matches_redis() {
    let Some(oracle) = Oracle::start() else {
        return;
    };
    let fixture = Fixture::new();
    // One function per library: Redis lists a library's functions in hash order.
    const LIBRARY: &str = "#!lua name=mylib\nredis.register_function{function_name='ro', callback=function() return 1 end, flags={'no-writes'}, description='d'}";
    const OTHER: &str = "#!lua name=other\nredis.register_function('echo', function(keys, args) return {keys[1], args[1]} end)";
    oracle.raw(&[b"FUNCTION", b"LOAD", LIBRARY.as_bytes()]);
    fixture.engine.load_library(LIBRARY.into(), false).unwrap();
    let expected = oracle.raw(&[b"FUNCTION", b"LIST", b"WITHCODE"]);
    let actual = fixture
        .engine
        .registry()
        .list_libraries(None, true)
        .to_bytes(Protocol::Resp2);
    assert_eq!(
        String::from_utf8_lossy(&actual),
        String::from_utf8_lossy(&expected)
    );
    let expected = oracle.raw(&[b"FUNCTION", b"LIST", b"LIBRARYNAME", b"my*"]);
    let actual = fixture
        .engine
        .registry()
        .list_libraries(Some(b"my*"), false)
        .to_bytes(Protocol::Resp2);
    assert_eq!(
        String::from_utf8_lossy(&actual),
        String::from_utf8_lossy(&expected)
    );
    oracle.raw(&[b"FUNCTION", b"LOAD", OTHER.as_bytes()]);
    fixture.engine.load_library(OTHER.into(), false).unwrap();
    let expected = oracle.raw(&[b"FUNCTION", b"STATS"]);
    let actual = fixture
        .engine
        .registry()
        .function_stats(Reply::Nil)
        .to_bytes(Protocol::Resp2);
    assert_eq!(
        String::from_utf8_lossy(&actual),
        String::from_utf8_lossy(&expected)
    );
    let expected = oracle.raw(&[b"FCALL", b"echo", b"1", b"k", b"a"]);
    assert_eq!(
        fixture
            .fcall("echo", &["k"], &["a"])
            .to_bytes(Protocol::Resp2),
        expected
    );
    let expected = oracle.raw(&[b"FCALL", b"bad", b"0"]);
    let fixture2 = Fixture::new();
    fixture2
        .engine
        .load_library(
            "#!lua name=z\nredis.register_function('bad', function() return x end)".into(),
            false,
        )
        .unwrap();
    oracle.raw(&[
        b"FUNCTION",
        b"LOAD",
        b"#!lua name=z\nredis.register_function('bad', function() return x end)",
    ]);
    let expected_bad = oracle.raw(&[b"FCALL", b"bad", b"0"]);
    assert_ne!(expected, Vec::<u8>::new());
    assert_eq!(
        fixture2.fcall("bad", &[], &[]).to_bytes(Protocol::Resp2),
        expected_bad
    );
}

/// Tail calls inside library functions keep the caller's frame, so FCALL errors carry
/// `script: <function>, on @user_function:N.` as in Redis.
#[test]
fn tail_call_errors_in_functions_match_redis() {
    let Some(oracle) = Oracle::start() else {
        return;
    };
    const TAILS: &str = "#!lua name=tails\n\
        local function bad() error('x') end\n\
        redis.register_function('tc', function(keys, args) return redis.call('nosuch') end)\n\
        redis.register_function('tc2', function(keys, args)\n\
          local a = 1\n\
          return redis.call('nosuch')\n\
        end)\n\
        redis.register_function('tf', function(keys, args) return bad() end)\n\
        redis.register_function('rnd', function(keys, args) return math.random(0) end)\n\
        redis.register_function('pc', function(keys, args) return redis.pcall('nosuch') end)\n\
        redis.register_function('many', function(keys, args) return {bad ~= nil, unpack({1, 2})} end)";
    let loaded = oracle.raw(&[b"FUNCTION", b"LOAD", TAILS.as_bytes()]);
    assert_eq!(loaded, b"$5\r\ntails\r\n");
    let fixture = Fixture::new();
    fixture.engine.load_library(TAILS.into(), false).unwrap();
    for name in ["tc", "tc2", "tf", "rnd", "pc", "many"] {
        let expected = oracle.raw(&[b"FCALL", name.as_bytes(), b"0"]);
        let actual = fixture.fcall(name, &[], &[]).to_bytes(Protocol::Resp2);
        assert_eq!(
            String::from_utf8_lossy(&actual),
            String::from_utf8_lossy(&expected),
            "function: {name}"
        );
    }
}

#[test]
fn dump_restore_round_trips() {
    let fixture = Fixture::new();
    fixture.engine.load_library(LIBRARY.into(), false).unwrap();
    let payload = fixture.engine.registry().dump_libraries();
    let other = Fixture::new();
    other
        .engine
        .restore_libraries(&payload, RestorePolicy::Append)
        .unwrap();
    assert_eq!(
        other.engine.registry().libraries(),
        fixture.engine.registry().libraries()
    );
    assert_eq!(
        other
            .engine
            .restore_libraries(&payload, RestorePolicy::Append)
            .unwrap_err()
            .to_string(),
        "ERR Library 'mylib' already exists"
    );
    other
        .engine
        .restore_libraries(&payload, RestorePolicy::Replace)
        .unwrap();
    other
        .engine
        .restore_libraries(&payload, RestorePolicy::Flush)
        .unwrap();
    assert_eq!(
        other.fcall("echo", &["k"], &["a"]),
        Reply::Array(vec![Reply::bulk("k"), Reply::bulk("a")])
    );
    fixture.engine.registry().delete_library(b"mylib").unwrap();
    assert_eq!(
        fixture.fcall("echo", &[], &[]),
        Reply::error("ERR Function not found")
    );
}

#[test]
fn script_loaded_on_one_engine_runs_on_another() {
    let first = Fixture::new();
    let second =
        ScriptEngine::new(first.engine.registry().clone(), EngineLimits::default()).unwrap();
    let script = first.engine.load_script("return 'hi'".into()).unwrap();
    let host = Rc::new(TestHost::default());
    let (reply, _) = block_on(second.evalsha(host.clone(), script.sha.as_bytes(), &[], &[]));
    assert_eq!(reply, Reply::bulk("hi"));
    first.engine.registry().flush_scripts();
    let (reply, _) = block_on(second.evalsha(host, script.sha.as_bytes(), &[], &[]));
    assert_eq!(
        reply,
        Reply::error("NOSCRIPT No matching script. Please use EVAL.")
    );
}

#[test]
fn resp3_conversions() {
    let fixture = Fixture::new();
    let reply = fixture.eval("redis.setresp(3) redis.call('hset','h','f','v') local m = redis.call('hgetall','h') return {m.map.f, true, false, {double=1.5}, {map={a=1}}, {set={x=true}}}");
    assert_eq!(
        reply,
        Reply::Array(vec![
            Reply::bulk("v"),
            Reply::Bool(true),
            Reply::Bool(false),
            Reply::Double(1.5),
            Reply::Map(vec![(Reply::bulk("a"), Reply::Integer(1))]),
            Reply::Set(vec![Reply::bulk("x")]),
        ])
    );
}

#[test]
fn a_seen_coroutine_is_not_reused_by_later_runs() {
    let fixture = Fixture::new();
    let code = "#!lua name=keep\n\
        local saved = {}\n\
        redis.register_function('save', function() saved[1] = coroutine.running() return 1 end)\n\
        redis.register_function('plain', function() return 1 end)\n\
        redis.register_function('status', function()\n\
          return {coroutine.status(saved[1]), tostring(coroutine.running() == saved[1])}\n\
        end)";
    fixture
        .engine
        .load_library(Bytes::from(code), false)
        .unwrap();
    assert_eq!(fixture.fcall("save", &[], &[]), Reply::Integer(1));
    assert_eq!(fixture.fcall("plain", &[], &[]), Reply::Integer(1));
    assert_eq!(
        fixture.fcall("status", &[], &[]),
        Reply::Array(vec![
            Reply::Bulk(Bytes::from("dead")),
            Reply::Bulk(Bytes::from("false"))
        ])
    );
}

#[test]
fn runs_after_errors_and_yields_reuse_nothing_stale() {
    let fixture = Fixture::new();
    for _ in 0..3 {
        assert!(matches!(fixture.eval("error('boom')"), Reply::Error(_)));
        assert_eq!(
            fixture.eval_args("return {KEYS[1], ARGV[1], #KEYS, #ARGV}", &["k"], &["a"]),
            Reply::Array(vec![
                Reply::Bulk(Bytes::from("k")),
                Reply::Bulk(Bytes::from("a")),
                Reply::Integer(1),
                Reply::Integer(1)
            ])
        );
        assert_eq!(fixture.eval("return #KEYS + #ARGV"), Reply::Integer(0));
    }
}
