//! The same scripts against redis-server and the engine, compared byte for byte (RESP2).
//! Only scripts whose reply the engine alone determines (or that use PING/SET/GET/RPUSH,
//! which the test host implements as Redis does).

mod common;

use common::{Fixture, Oracle};

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
];

/// Scripts whose error Redis locates on the caller's line where we cannot: the call is a
/// Lua tail call (`return redis.call(...)`), which Lua 5.1 folds into the caller's frame,
/// so the engine's reply lacks the ` script: ..., on @user_script:N.` suffix.
const TAIL_CALLS: &[&str] = &["return redis.call('nosuch')"];

#[test]
fn tail_call_errors_differ_only_in_location() {
    let Some(oracle) = Oracle::start() else {
        return;
    };
    for body in TAIL_CALLS {
        let expected = oracle.eval(body);
        let expected = String::from_utf8_lossy(&expected);
        let expected = match expected.find(" script: ") {
            Some(at) => format!("{}\r\n", &expected[..at]),
            None => expected.to_string(),
        };
        let actual = Fixture::new().eval_wire(body);
        assert_eq!(String::from_utf8_lossy(&actual), expected, "script: {body}");
    }
}

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
