//! The same scripts against redis-server and the engine, compared byte for byte (RESP2).
//! Only scripts whose reply the engine alone determines (or that use PING/SET/GET/RPUSH,
//! which the test host implements as Redis does).

mod common;

use common::{Fixture, Oracle};
use peregrine_resp::{Protocol, Reply};

/// Compares the engine's reply with the oracle's; SHA-1s in error texts are the same
/// since both hash the same body.
fn check(oracle: &Oracle, fixture: &Fixture, body: &str) -> Option<String> {
    let expected = oracle.eval(body);
    let actual = fixture.eval_wire(body);
    (actual != expected).then(|| {
        format!(
            "script: {body}\n  engine: {:?}\n  redis:  {:?}",
            String::from_utf8_lossy(&actual),
            String::from_utf8_lossy(&expected)
        )
    })
}

const SCRIPTS: &[&str] = &[
    // Conversions Lua -> reply.
    "return 1.5",
    "return -1.9",
    "return 1e300",
    "return 0/0",
    "return 'a\\0b'",
    "return true",
    "return false",
    "return nil",
    "return {1,2,nil,4}",
    "return {1,{2,{3,'x'}},true,false,'y'}",
    "return {err='my thing'}",
    "return {err='a\\nb'}",
    "return {ok='a\\r\\nb'}",
    "return {err=5}",
    "return {err='a b', ok='x'}",
    "return {ok='a',1}",
    // Reply helpers.
    "return redis.error_reply('x y')",
    "return redis.error_reply('-X y')",
    "return redis.error_reply('')",
    "return redis.error_reply('ERR')",
    "return redis.error_reply(5)",
    "return redis.status_reply('x y')",
    "return redis.status_reply(5)",
    "return redis.sha1hex('')",
    "return redis.sha1hex('abc')",
    // Errors and their suffixes.
    "return x",
    "x=1",
    "error('boom')",
    "error({err='MY thing'})",
    "error(5)",
    "error(nil)",
    "error('x',0)",
    "local t = {} \n\n t.x.y = 1",
    "return (",
    "local function r(n) return r(n+1)+1 end return r(1)",
    "redis.log(1)",
    "redis.log('a', 'b')",
    "redis.log(9, 'b')",
    // Global protection.
    "setmetatable(_G, nil)",
    "rawset(_G,'x',1)",
    "string.len = nil",
    "string.foo = 1",
    "redis.foo = 1",
    "local f = loadstring('x=1') f() return 1",
    "return loadstring(string.dump(function() return 1 end))",
    "return type(getmetatable('').__index)",
    "return os",
    "return io",
    "return debug",
    "return require",
    "return dofile",
    "return loadfile",
    "return print",
    "return getfenv",
    "return setfenv",
    "return newproxy",
    "return module",
    "return _VERSION",
    "KEYS[1]='a' return KEYS[1]",
    // redis.call and pcall.
    "return redis.call('ping')",
    "local r = redis.call() return r",
    "local r = redis.sha1hex() return r",
    "local r = redis.setresp(4) return r",
    "local r = redis.call('nosuch') return r",
    "local r = redis.call('get') return r",
    "redis.call('set','k','v') local r = redis.call('rpush','k','v') return r",
    "local r = redis.call(1) return r",
    "return redis.pcall('nosuch')",
    "local r = redis.call('get',{}) return r",
    "local r = redis.call('get',true) return r",
    "redis.call('set','k',3.0000000000001) return redis.call('get','k')",
    "redis.call('set','k',1e20) return redis.call('get','k')",
    "redis.call('set','k','v') return redis.pcall('rpush','k','v')",
    "redis.call('set','k','v') local ok,e = pcall(redis.call,'rpush','k','v') return {tostring(ok), e}",
    "redis.call('set','k','v') local e = redis.pcall('rpush','k','v') return {type(e), e.err}",
    "local ok,e = pcall(redis.call,'nosuch') return {type(e), tostring(ok)}",
    "local ok,e = pcall(function() return x end) return e",
    "local ok,e = pcall(error,{err='X y'}) return e",
    "local ok,e = pcall(function() error({err='X y'}) end) return type(e)",
    "return pcall(redis.call)",
    "return {pcall(error)}",
    "return {pcall(error, 'msg')}",
    "return coroutine.wrap(function() coroutine.yield(redis.call('ping')) end)()",
    // Random numbers after a seed (unseeded, Redis 7's sequence goes on across scripts).
    "math.randomseed(42) return {math.random(1000), math.random(5, 10)}",
    "math.randomseed(7) return tostring(math.random())",
    "local r = math.random(0) return r",
    // Libraries.
    "return {bit.band(0xff, 0x0f), bit.bor(1,2,4), bit.bxor(5,3), bit.bnot(0)}",
    "return {bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.rol(1, 33), bit.ror(1, 1)}",
    "return {bit.tohex(255), bit.tohex(-1, -4), bit.tohex(65535, 2), bit.bswap(0x12345678), bit.tobit(2^32+5)}",
    "return cjson.encode({1,2,3,'a',{x=1.5}})",
    "return cjson.encode({})",
    "return cjson.encode({[1]=1,[2]=2,[20]=3})",
    "return cjson.encode(1/3)",
    r#"return cjson.encode('a/b\"c\n\1')"#,
    "return cjson.encode(0/0)",
    "return cjson.encode(function() end)",
    "local t = cjson.decode('[1,2,{\"a\":null,\"b\":[true,false]}]') return {t[1], t[3].b[1], tostring(t[3].a == cjson.null)}",
    "return cjson.decode('\"\\u00e9\\ud83d\\ude00\"')",
    "return cjson.encode(cjson.decode('{\"k\":[1,2.5,\"x\"]}'))",
    "return cmsgpack.pack({1,2,3}, 'abc', -1, 1.5, true, nil, 300, -300, 70000, 2^40)",
    "return cmsgpack.pack({a=1})",
    "return {cmsgpack.unpack(cmsgpack.pack({1,2,3}, 'abc', -1, 300))}",
    "return cmsgpack.unpack(cmsgpack.pack(0.1))",
    "return struct.pack('>I2 <i4 b B', 258, -2, -1, 255)",
    "return {struct.unpack('>I2 <i4 b B', struct.pack('>I2 <i4 b B', 258, -2, -1, 255))}",
    "return {struct.size('>I2 i4 d'), struct.size('!4 b i4')}",
    "return {struct.unpack('s c3', 'ab\\0xyz')}",
    // Tail calls keep the caller's frame, so errors carry `on @user_script:N.` as in
    // Redis (whose redis.call and library functions are C functions).
    "return redis.call('nosuch')",
    "return redis.call('get')",
    "local a = 1\nlocal b = 2\nreturn redis.call('nosuch')",
    "return redis.pcall('nosuch')",
    "local function f() error('x') end return f()",
    "local function f() return redis.call('nosuch') end return f()",
    "local f = loadstring('return redis.call(\"nosuch\")') return f()",
    "return math.random(0)",
    "return error('boom')",
    "return error({err='X y'})",
    "return redis.sha1hex()",
    "return redis.setresp(4)",
    "return redis.log(1)",
    "return pcall(redis.call, 'nosuch')",
    "return redis.error_reply('x y')",
    "local function f() return 1, 2, 3 end return {f()}",
    "local function f(n) if n == 0 then return 'done' end return f(n - 1) end return f(1000)",
];

#[test]
fn scripts_match_redis_server() {
    let Some(oracle) = Oracle::start() else {
        return;
    };
    let mut mismatches = Vec::new();
    for body in SCRIPTS {
        // A fresh keyspace on both sides for every script.
        oracle.raw(&[b"FLUSHALL"]);
        let fixture = Fixture::new();
        mismatches.extend(check(&oracle, &fixture, body));
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn tail_call_command_error_on_a_key_matches_redis_server() {
    let Some(oracle) = Oracle::start() else {
        return;
    };
    let fixture = Fixture::new();
    let set = "return redis.call('set', KEYS[1], 'not a number')";
    let incr = "return redis.call('incr', KEYS[1])";
    for body in [set, incr] {
        let expected = oracle.raw(&[b"EVAL", body.as_bytes(), b"1", b"k"]);
        let actual = fixture
            .eval_args(body, &["k"], &[])
            .to_bytes(Protocol::Resp2);
        assert_eq!(
            String::from_utf8_lossy(&actual),
            String::from_utf8_lossy(&expected),
            "script: {body}"
        );
    }
}

/// Unbounded tail recursion: Redis's Lua eliminates tail calls and returns 0; ours keeps
/// every frame (see the crate docs), so Lua stops it with its "stack overflow" error.
/// The difference is accepted; what matters is an error reply, not a crash.
#[test]
fn deep_tail_recursion_is_an_error_where_redis_returns() {
    let body = "local function f(n) if n == 0 then return 0 end return f(n-1) end return f(100000)";
    if let Some(oracle) = Oracle::start() {
        assert_eq!(oracle.eval(body), b":0\r\n");
    }
    let fixture = Fixture::new();
    let reply = fixture.eval(body);
    let Reply::Error(text) = &reply else {
        panic!("expected an error reply, got {reply:?}");
    };
    assert!(
        text.starts_with("ERR user_script:1: stack overflow script: "),
        "{text}"
    );
    // The engine is still usable afterwards.
    assert_eq!(fixture.eval("return 1"), Reply::Integer(1));
}

/// `error(message, 2)` in a function reached by a Lua-to-Lua tail call: Redis's Lua has
/// dropped the tail caller's frame, so level 2 has no position and the message has no
/// `user_script:N:` prefix; ours keeps the frame and names its line. Only the prefix
/// differs.
#[test]
fn error_level_through_a_tail_call_names_the_kept_frame() {
    let body =
        "local function c() error('bad', 2) end\nlocal function g() return c() end\nreturn g()";
    let expected = "ERR bad script: cdd9ad26a3cd128fae8baca94e5b51b3d9d83041, on @user_script:1.";
    if let Some(oracle) = Oracle::start() {
        assert_eq!(
            String::from_utf8_lossy(&oracle.eval(body)),
            format!("-{expected}\r\n")
        );
    }
    assert_eq!(
        Fixture::new().eval(body),
        Reply::error(expected.replacen("ERR ", "ERR user_script:2: ", 1))
    );
}
