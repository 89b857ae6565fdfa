//! EVAL/EVALSHA/SCRIPT and FUNCTION/FCALL through the server.
//!
//! * Scenarios against the oracle (2 shards, keys spread over both): replies, conversions,
//!   errors, script cache, read-only variants, scripts over keys of several shards and
//!   keys they did not declare, SELECT inside a script, EVAL inside MULTI, functions.
//! * Atomicity: concurrent scripts move amounts between keys on different shards (some
//!   declaring their keys, some not) while readers check the total never changes.
//! * Durability: a script's writes and the loaded functions survive kill -9 and restart
//!   (the log holds the commands the scripts ran; replay runs no Lua).
//! * Strict mode: `script-undeclared-keys deny` refuses undeclared keys with Redis
//!   cluster's error.

use peregrine_testkit::scenario::{mismatches, Step, Step::*};
use peregrine_testkit::{keys_on_shards, run, RawClient, RedisOracle, TestServer};
use std::net::SocketAddr;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");
const SHARDS: u16 = 2;

fn scenarios() -> Vec<(&'static str, Vec<Step>)> {
    vec![
        (
            "replies and conversions",
            vec![
                Args(0, &["EVAL", "return {1, 2.9, -3.5, 'x', true, false, {ok='fine'}, {err='ERR bad'}, {1, {2, nil, 3}}}", "0"]),
                Args(0, &["EVAL", "return {KEYS[1], KEYS[2], ARGV[1], #ARGV}", "2", "{0}", "{1}", "a", "b"]),
                Args(0, &["EVAL", "return redis.status_reply('FINE')", "0"]),
                Args(0, &["EVAL", "local e = redis.error_reply('MY error') return e", "0"]),
                Args(0, &["EVAL", "return 'x'", "-1"]),
                Args(0, &["EVAL", "return 'x'", "3", "a"]),
                Args(0, &["EVAL", "return 'x'", "nan"]),
                // numkeys is read as Redis reads integers (string2ll): no sign, no
                // leading zero, no spaces.
                Args(0, &["EVAL", "return KEYS[1]", "+1", "{0}"]),
                Args(0, &["EVAL", "return KEYS[1]", "01", "{0}"]),
                Args(0, &["EVAL", "return #KEYS", "-0"]),
                Args(0, &["EVAL", "return KEYS[1]", " 1", "{0}"]),
                Args(0, &["EVAL", "return redis.sha1hex('abc')", "0"]),
                Args(0, &["EVAL", "local t = cjson.decode('{\"a\":[1,2,3]}') return cjson.encode(t.a)", "0"]),
                Args(0, &["EVAL", "return {bit.band(0xff, 0x0f), struct.pack('>I2', 258), cmsgpack.unpack(cmsgpack.pack(7))}", "0"]),
                // Under RESP3 a script reads a coordinate as the double Redis printed
                // (%.17f: a small one loses digits), not as the exact one.
                Args(0, &["EVAL", "redis.setresp(3) redis.call('GEOADD', KEYS[1], 0, 0, 'a', 179.9999, 10, 'b') local p = redis.call('GEOPOS', KEYS[1], 'a', 'b') return {tostring(p[1][1].double), tostring(p[1][2].double), tostring(p[2][1].double)}", "1", "{0}"]),
            ],
        ),
        (
            "commands, errors and pcall",
            vec![
                Args(0, &["EVAL", "redis.call('SET', KEYS[1], ARGV[1]) local v = redis.call('GET', KEYS[1]) return v", "1", "{0}", "value"]),
                Args(0, &["EVAL", "local ok = redis.pcall('INCR', KEYS[1]) return ok", "1", "{0}"]),
                Args(0, &["EVAL", "local r = redis.pcall('nosuchcommand') return r", "0"]),
                Args(0, &["EVAL", "local r = redis.call('INCR', KEYS[1]) return r", "1", "{0}"]),
                Args(0, &["EVAL", "local r = redis.call('GET') return r", "0"]),
                Args(0, &["EVAL", "local r = redis.call('MULTI') return r", "0"]),
                Args(0, &["EVAL", "x = 1", "0"]),
                Args(0, &["EVAL", "return undefined_global", "0"]),
                Args(0, &["EVAL", "return (", "0"]),
                Args(0, &["EVAL", "error('plain')", "0"]),
            ],
        ),
        (
            "the script cache",
            vec![
                Args(0, &["SCRIPT", "LOAD", "return 'cached'"]),
                Args(0, &["EVALSHA", "d4a6126fdb33f5ded47cae17d1fd8a2f18b9dfaf", "0"]),
                Args(0, &["EVALSHA", "D4A6126FDB33F5DED47CAE17D1FD8A2F18B9DFAF", "0"]),
                Args(1, &["EVALSHA", "d4a6126fdb33f5ded47cae17d1fd8a2f18b9dfaf", "0"]),
                Args(1, &["EVALSHA", "d4A6126fdB33f5ded47cae17d1fd8a2f18b9dfaf", "0"]),
                Args(0, &["EVALSHA", "d4a6126fdb33f5ded47cae17d1fd8a2f18b9dfa", "0"]),
                Args(0, &["EVALSHA", "d4a6126fdb33f5ded47cae17d1fd8a2f18b9dfafa", "0"]),
                Args(0, &["SCRIPT", "EXISTS", "d4a6126fdb33f5ded47cae17d1fd8a2f18b9dfaf", "ffffffffffffffffffffffffffffffffffffffff"]),
                Send(0, "SCRIPT FLUSH"),
                Args(0, &["EVALSHA", "d4a6126fdb33f5ded47cae17d1fd8a2f18b9dfaf", "0"]),
                Args(0, &["SCRIPT", "EXISTS", "d4a6126fdb33f5ded47cae17d1fd8a2f18b9dfaf"]),
                Send(0, "SCRIPT FLUSH BAD"),
                Send(0, "SCRIPT NOSUCH"),
                Send(0, "SCRIPT KILL"),
            ],
        ),
        (
            "read-only scripts",
            vec![
                Args(0, &["EVAL_RO", "local r = redis.call('SET', KEYS[1], 'x') return r", "1", "{0}"]),
                Args(0, &["EVAL_RO", "local r = redis.call('GET', KEYS[1]) return r", "1", "{0}"]),
                Args(0, &["EVAL", "#!lua flags=no-writes\nlocal r = redis.call('SET', KEYS[1], 'x') return r", "1", "{0}"]),
                Args(0, &["EVAL_RO", "#!lua\nreturn 1", "0"]),
                Args(0, &["EVAL", "#!lua flags=bogus\nreturn 1", "0"]),
            ],
        ),
        (
            "keys on several shards, undeclared keys, SELECT",
            vec![
                Args(0, &["EVAL", "redis.call('MSET', KEYS[1], 1, KEYS[2], 2, KEYS[3], 3) return redis.call('MGET', KEYS[1], KEYS[2], KEYS[3])", "3", "{0}", "{1}", "{2}"]),
                Args(0, &["EVAL", "redis.call('SET', ARGV[1], 'undeclared') redis.call('RENAME', ARGV[1], ARGV[2]) return redis.call('GET', ARGV[2])", "0", "{0}", "{3}"]),
                Args(0, &["EVAL", "redis.call('SET', ARGV[1], 'again') return redis.call('GET', ARGV[1])", "0", "{1}"]),
                Args(0, &["EVAL", "redis.call('SELECT', 1) redis.call('SET', KEYS[1], 'db1') return redis.call('GET', KEYS[1])", "1", "{0}"]),
                Send(0, "GET {0}"),
                Send(0, "SELECT 1"),
                Send(0, "GET {0}"),
            ],
        ),
        (
            "server commands inside scripts",
            vec![
                Send(0, "MSET {0} 1 {1} 2"),
                Args(0, &["EVAL", "local r = redis.call('DBSIZE') return r", "0"]),
                Args(0, &["EVAL", "local k = redis.call('KEYS', '*') table.sort(k) return k", "0"]),
                Args(0, &["EVAL", "local r = redis.call('SCAN', '0', 'COUNT', '100') table.sort(r[2]) return #r[2]", "0"]),
                Args(0, &["EVAL", "local r = redis.call('INFO', 'server') return type(r)", "0"]),
                Args(0, &["EVAL", "local r = redis.call('CLIENT', 'ID') return r", "0"]),
                Args(0, &["EVAL", "local r = redis.call('CONFIG', 'GET', 'maxmemory') return r", "0"]),
                Args(0, &["EVAL", "local r = redis.call('SWAPDB', '0', '1') return r", "0"]),
                Send(0, "DBSIZE"),
                Args(0, &["EVAL", "redis.call('SWAPDB', '0', '1') local r = redis.call('FLUSHDB') return {r, redis.call('DBSIZE'), redis.call('RANDOMKEY')}", "0"]),
                Args(0, &["EVAL", "redis.call('SET', KEYS[1], 'x') local r = redis.call('FLUSHALL') return {r, redis.call('DBSIZE')}", "1", "{2}"]),
            ],
        ),
        (
            "EVAL inside MULTI",
            vec![
                Send(0, "MULTI"),
                Args(0, &["EVAL", "return redis.call('INCR', KEYS[1])", "1", "{0}"]),
                Send(0, "INCR {1}"),
                Args(0, &["EVAL", "redis.call('SET', KEYS[1], 'v') return redis.call('MGET', KEYS[1], KEYS[2])", "2", "{2}", "{1}"]),
                Send(0, "EXEC"),
            ],
        ),
        (
            "functions",
            vec![
                Args(0, &["FUNCTION", "LOAD", "#!lua name=lib1\nredis.register_function('setter', function(keys, args) return redis.call('SET', keys[1], args[1]) end)"]),
                Args(0, &["FUNCTION", "LOAD", "#!lua name=lib1\nredis.register_function('setter', function(keys, args) return 1 end)"]),
                Args(0, &["FUNCTION", "LOAD", "#!lua name=lib2\nredis.register_function{function_name='getter', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}"]),
                Send(0, "FCALL setter 1 {0} hello"),
                Send(0, "FCALL getter 1 {0}"),
                Send(0, "FCALL_RO getter 1 {0}"),
                Send(0, "FCALL_RO setter 1 {0} x"),
                Send(0, "FCALL nosuch 0"),
                Send(0, "FUNCTION LIST LIBRARYNAME lib2"),
                Send(0, "FUNCTION LIST LIBRARYNAME lib2 WITHCODE"),
                Send(0, "FUNCTION DELETE lib1"),
                Send(0, "FUNCTION DELETE lib1"),
                Send(0, "FCALL setter 1 {0} x"),
                Args(0, &["FUNCTION", "LOAD", "#!lua name=bad\nreturn 1"]),
                Args(0, &["FUNCTION", "LOAD", "#!lua\nredis.register_function('f', function() end)"]),
                Send(0, "FUNCTION FLUSH"),
                Send(0, "FUNCTION LIST"),
                // A script's KEYS and ARGV are not globals of the functions that run or
                // load after it (Redis keeps functions in a Lua state of their own).
                Args(0, &["EVAL", "return {KEYS[1], ARGV[1]}", "1", "{0}", "a"]),
                Args(0, &["FUNCTION", "LOAD", "#!lua name=peek\nlocal k = KEYS\nredis.register_function('f', function() return 1 end)"]),
                Args(0, &["FUNCTION", "LOAD", "#!lua name=peek\nredis.register_function('g', function() return {type(KEYS), type(ARGV)} end)"]),
                Send(0, "FCALL g 1 {0}"),
                Args(0, &["EVAL", "return {KEYS[1], ARGV[1]}", "1", "{0}", "a"]),
                Send(0, "FCALL g 0"),
                Args(0, &["EVAL", "return {#KEYS, #ARGV}", "0"]),
                Send(0, "FUNCTION FLUSH"),
            ],
        ),
    ]
}

#[test]
fn scripts_reply_as_redis_does() {
    let Some(oracle) = RedisOracle::start("the scripting scenarios") else {
        return;
    };
    let server = TestServer::start(BIN, SHARDS);
    let keys = keys_on_shards("script:", 4, SHARDS);
    let redis: SocketAddr = ([127, 0, 0, 1], oracle.port()).into();
    let found = mismatches(redis, server.addr(), &keys, &scenarios());
    assert!(found.is_empty(), "{}", found.join("\n"));
}

const TRANSFER: &str = "local from = tonumber(redis.call('GET', KEYS[1])) \
     local to = tonumber(redis.call('GET', KEYS[2])) \
     redis.call('SET', KEYS[1], from - ARGV[1]) \
     redis.call('SET', KEYS[2], to + ARGV[1]) \
     return from";

const UNDECLARED_TRANSFER: &str = "local from = tonumber(redis.call('GET', ARGV[1])) \
     local to = tonumber(redis.call('GET', ARGV[2])) \
     redis.call('SET', ARGV[1], from - 1) \
     redis.call('SET', ARGV[2], to + 1) \
     return from";

/// Scripts moving amounts between keys of different shards never expose a half-done
/// move, whether they declare their keys or not.
#[test]
fn scripts_are_atomic_across_shards() {
    let server = TestServer::start(BIN, SHARDS);
    let accounts = keys_on_shards("account:", 4, SHARDS);
    let mut client = server.client();
    for account in &accounts {
        let _: () = run(&mut client, &["SET", account, "1000"]);
    }
    let total: i64 = 4000;
    let movers: Vec<_> = (0..3)
        .map(|mover| {
            let (address, accounts) = (server.addr(), accounts.clone());
            std::thread::spawn(move || {
                let mut client = RawClient::connect(address);
                for round in 0..200 {
                    let from = &accounts[(mover + round) % 4];
                    let to = &accounts[(mover + round + 1) % 4];
                    let reply = if round % 2 == 0 {
                        client.cmd(&["EVAL", TRANSFER, "2", from, to, "7"])
                    } else {
                        client.cmd(&["EVAL", UNDECLARED_TRANSFER, "0", from, to])
                    };
                    assert!(
                        reply.starts_with(b":"),
                        "{:?}",
                        String::from_utf8_lossy(&reply)
                    );
                }
            })
        })
        .collect();
    let reader = {
        let (address, accounts) = (server.addr(), accounts.clone());
        std::thread::spawn(move || {
            let mut client = RawClient::connect(address);
            let mut args = vec!["MGET"];
            args.extend(accounts.iter().map(String::as_str));
            for _ in 0..300 {
                let reply = String::from_utf8_lossy(&client.cmd(&args)).into_owned();
                let sum: i64 = reply
                    .split("\r\n")
                    .filter_map(|line| line.parse::<i64>().ok())
                    .sum();
                assert_eq!(sum, total, "a move was seen half done: {reply:?}");
            }
        })
    };
    for thread in movers.into_iter().chain([reader]) {
        thread.join().expect("no assertion failed");
    }
    let values: Vec<i64> = run(
        &mut client,
        &[
            "MGET",
            &accounts[0],
            &accounts[1],
            &accounts[2],
            &accounts[3],
        ],
    );
    assert_eq!(values.iter().sum::<i64>(), total);
}

/// A script's writes and the loaded functions survive kill -9: the log holds the commands
/// the script ran, and the libraries are saved in the data directory.
#[test]
fn script_writes_and_functions_survive_a_crash() {
    let mut server = TestServer::start_with(BIN, SHARDS, &["--appendfsync", "always"]);
    let keys = keys_on_shards("durable:", 2, SHARDS);
    let mut client = server.client();
    let library = "#!lua name=counter\nredis.register_function('bump', function(keys) return redis.call('INCRBY', keys[1], 5) end)";
    let loaded: String = run(&mut client, &["FUNCTION", "LOAD", library]);
    assert_eq!(loaded, "counter");
    let _: i64 = run(&mut client, &["FCALL", "bump", "1", &keys[0]]);
    let _: () = run(
        &mut client,
        &[
            "EVAL",
            "redis.call('SET', KEYS[1], ARGV[1]) redis.call('RPUSH', KEYS[2], ARGV[1], 'random:' .. math.random(1000))",
            "2",
            &keys[0],
            &keys[1],
            "written",
        ],
    );
    let list_before: Vec<String> = run(&mut client, &["LRANGE", &keys[1], "0", "-1"]);
    server.crash();
    let restarted = server.restart();
    let mut client = restarted.client();
    let value: String = run(&mut client, &["GET", &keys[0]]);
    assert_eq!(value, "written");
    let list_after: Vec<String> = run(&mut client, &["LRANGE", &keys[1], "0", "-1"]);
    assert_eq!(
        list_after, list_before,
        "replay must not run the script again"
    );
    let bumped: i64 = run(
        &mut client,
        &["FCALL", "bump", "1", &keys[1].replace("durable", "fresh")],
    );
    assert_eq!(bumped, 5, "the library was loaded back");
}

/// With `script-undeclared-keys deny`, a key the script did not declare is refused.
#[test]
fn strict_mode_refuses_undeclared_keys() {
    let server = TestServer::start_with(BIN, SHARDS, &["--script-undeclared-keys", "deny"]);
    let mut raw = RawClient::connect(server.addr());
    let refused = raw.cmd(&[
        "EVAL",
        "local r = redis.call('GET', ARGV[1]) return r",
        "0",
        "k",
    ]);
    let text = String::from_utf8_lossy(&refused).into_owned();
    assert!(
        text.starts_with("-ERR Script attempted to access a non local key in a cluster node"),
        "{text:?}"
    );
    let allowed = raw.cmd(&[
        "EVAL",
        "local r = redis.call('GET', KEYS[1]) return r",
        "1",
        "k",
    ]);
    assert_eq!(allowed, b"$-1\r\n");
}

/// A script runs at the time it started, as Redis 7.2 freezes the clock for a script: a
/// key it sets to expire in 1 ms is still there, with its whole TTL, however long the
/// script runs on (Redis 7.0, the oracle here, already keeps the key but counts the TTL
/// on the moving clock, so this asserts Redis 7.2's documented behaviour instead). Both
/// the shard-local run and the global one (keys on two shards) keep the clock.
#[test]
fn a_script_sees_the_clock_stopped_at_its_start() {
    let server = TestServer::start(BIN, SHARDS);
    let keys = keys_on_shards("frozen:", 2, SHARDS);
    let mut raw = RawClient::connect(server.addr());
    let script = "redis.call('SET', KEYS[1], 'v', 'PX', 1) \
         local start = redis.call('TIME') \
         repeat local now = redis.call('TIME') \
         until (now[1] - start[1]) * 1000000 + (now[2] - start[2]) >= 5000 \
         return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]), \
                 redis.call('EXISTS', KEYS[1])}";
    let expected = b"*3\r\n$1\r\nv\r\n:1\r\n:1\r\n";
    // One key: twice, so that the second run is the learned shard-local one.
    for _ in 0..2 {
        assert_eq!(
            text(&raw.cmd(&["EVAL", script, "1", &keys[0]])),
            text(expected)
        );
        // Afterwards the clock has moved on (5 ms by the script's own TIME readings).
        assert_eq!(raw.cmd(&["GET", &keys[0]]), b"$-1\r\n");
    }
    assert_eq!(
        text(&raw.cmd(&["EVAL", script, "2", &keys[0], &keys[1]])),
        text(expected)
    );
    assert_eq!(raw.cmd(&["GET", &keys[0]]), b"$-1\r\n");
}

/// A script learned to stay on its declared key's shard that one day needs a key of
/// another shard (before writing) is run again under the global lock, transparently.
#[test]
fn a_shard_local_script_that_reaches_another_shard_runs_again_globally() {
    let server = TestServer::start(BIN, SHARDS);
    let home = peregrine_testkit::key_on_shard("home:", 0, SHARDS);
    let near = peregrine_testkit::key_on_shard("near:", 0, SHARDS);
    let far = peregrine_testkit::key_on_shard("far:", 1, SHARDS);
    let mut raw = RawClient::connect(server.addr());
    raw.cmd(&["SET", &near, "near-value"]);
    raw.cmd(&["SET", &far, "far-value"]);
    let script =
        "local other = redis.call('GET', ARGV[1]) redis.call('SET', KEYS[1], other) return other";
    // The first run is global and learns that the script stays home; the second runs on
    // the home shard.
    for _ in 0..2 {
        assert_eq!(
            raw.cmd(&["EVAL", script, "1", &home, &near]),
            b"$10\r\nnear-value\r\n"
        );
    }
    // Reaching the other shard: dropped before its write and run again globally.
    assert_eq!(
        raw.cmd(&["EVAL", script, "1", &home, &far]),
        b"$9\r\nfar-value\r\n"
    );
    assert_eq!(raw.cmd(&["GET", &home]), b"$9\r\nfar-value\r\n");
    // A first call that is itself a write elsewhere (a key of the other shard, or a
    // server-wide FLUSHDB) has written nothing yet either: the run moves, no error.
    let writer = "if ARGV[2] == 'flush' then return redis.call('FLUSHDB') end \
                  return redis.call('SET', ARGV[1], KEYS[1])";
    let write = |raw: &mut RawClient, target: &str, action: &str| {
        raw.cmd(&["EVAL", writer, "1", &home, target, action])
    };
    // Two runs writing home teach that the script stays there.
    let learn = |raw: &mut RawClient| {
        for _ in 0..2 {
            assert_eq!(write(raw, &near, "set"), b"+OK\r\n");
        }
    };
    learn(&mut raw);
    assert_eq!(write(&mut raw, &far, "set"), b"+OK\r\n");
    assert_eq!(
        text(&raw.cmd(&["GET", &far])),
        text(format!("${}\r\n{home}\r\n", home.len()).as_bytes())
    );
    learn(&mut raw);
    assert_eq!(write(&mut raw, &near, "flush"), b"+OK\r\n");
    assert_eq!(raw.cmd(&["DBSIZE"]), b":0\r\n");
}

/// A shard-local script may write a key of its shard that it did not declare even while
/// a multi-shard write holds that key: the script waits for its whole shard, as Redis
/// runs scripts alone, instead of failing after its first write.
#[test]
fn a_local_script_writes_undeclared_keys_that_multi_shard_writes_hold() {
    let server = TestServer::start(BIN, SHARDS);
    let declared = peregrine_testkit::key_on_shard("declared:", 0, SHARDS);
    let shared = peregrine_testkit::key_on_shard("shared:", 0, SHARDS);
    let far = peregrine_testkit::key_on_shard("far:", 1, SHARDS);
    let script = "redis.call('INCR', KEYS[1]) redis.call('INCR', ARGV[1]) return 1";
    let rounds = 300;
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (address, shared, far) = (server.addr(), shared.clone(), far.clone());
            std::thread::spawn(move || {
                let mut client = RawClient::connect(address);
                for _ in 0..rounds {
                    assert_eq!(client.cmd(&["MSET", &shared, "0", &far, "0"]), b"+OK\r\n");
                }
            })
        })
        .collect();
    let scripts: Vec<_> = (0..2)
        .map(|_| {
            let (address, declared, shared) = (server.addr(), declared.clone(), shared.clone());
            std::thread::spawn(move || {
                let mut client = RawClient::connect(address);
                for _ in 0..rounds {
                    let reply = client.cmd(&["EVAL", script, "1", &declared, &shared]);
                    assert_eq!(reply, b":1\r\n", "{}", text(&reply));
                }
            })
        })
        .collect();
    for thread in writers.into_iter().chain(scripts) {
        thread.join().expect("no assertion failed");
    }
    let mut client = RawClient::connect(server.addr());
    assert_eq!(client.cmd(&["GET", &declared]), b"$3\r\n600\r\n");
}

fn text(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply).into_owned()
}

/// Past `busy-reply-threshold` a looping script makes every client (on any core) get
/// `-BUSY` for the shards it holds; SCRIPT KILL stops it; a script that wrote cannot be
/// killed, and SHUTDOWN NOSAVE still works.
#[test]
fn busy_scripts_answer_busy_and_can_be_killed() {
    let mut server = TestServer::start_with(BIN, SHARDS, &["--busy-reply-threshold", "100"]);
    let home = peregrine_testkit::key_on_shard("busy:", 0, SHARDS);
    let away = peregrine_testkit::key_on_shard("free:", 1, SHARDS);
    let spin = "if ARGV[1] == 'spin' then while true do end end if ARGV[1] == 'write' then redis.call('SET', KEYS[1], 'x') while true do end end return 1";
    let mut looping = RawClient::connect(server.addr());
    // Runs twice to be learned as a script of its key's shard.
    for _ in 0..2 {
        assert_eq!(looping.cmd(&["EVAL", spin, "1", &home, "no"]), b":1\r\n");
    }
    looping.send_command(&[b"EVAL", spin.as_bytes(), b"1", home.as_bytes(), b"spin"]);
    // Past the threshold, commands get -BUSY (PING never waits for a key's lock: a
    // command already waiting for the script's keys before that waits for the script).
    let mut probe = RawClient::connect(server.addr());
    let mut probes = 0;
    while !text(&probe.cmd(&["PING"])).starts_with("-BUSY") {
        probes += 1;
        assert!(probes < 1000, "the script never became busy");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Every fresh connection, whichever core it lands on, is served: -BUSY for the busy
    // shard's keys once the threshold passed, replies for the other shard's.
    let mut saw_busy = false;
    for attempt in 0..40 {
        let mut client = RawClient::connect(server.addr());
        eprintln!("attempt {attempt} {:?}", std::time::Instant::now());
        let reply = text(&client.cmd(&["GET", &home]));
        eprintln!("reply {reply:?}");
        if reply.starts_with("-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.") {
            saw_busy = true;
            eprintln!("away");
            assert_eq!(client.cmd(&["GET", &away]), b"$-1\r\n", "the other shard keeps serving");
            eprintln!("away done");
            if attempt >= 8 {
                break;
            }
        } else {
            assert_eq!(reply, "$-1\r\n");
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
    }
    assert!(saw_busy, "no client got -BUSY");
    let mut killer = RawClient::connect(server.addr());
    assert_eq!(killer.cmd(&["SCRIPT", "KILL"]), b"+OK\r\n");
    let killed = text(&looping.read_reply());
    assert!(
        killed.starts_with("-ERR Script killed by user with SCRIPT KILL..."),
        "{killed:?}"
    );
    assert_eq!(
        killer.cmd(&["SCRIPT", "KILL"]),
        b"-NOTBUSY No scripts in execution right now.\r\n"
    );
    assert_eq!(killer.cmd(&["GET", &home]), b"$-1\r\n");

    // A script that wrote runs to the end: only SHUTDOWN NOSAVE stops it.
    looping.send_command(&[b"EVAL", spin.as_bytes(), b"1", home.as_bytes(), b"write"]);
    let mut refused = String::new();
    for _ in 0..80 {
        refused = text(&killer.cmd(&["SCRIPT", "KILL"]));
        if refused.starts_with("-UNKILLABLE") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(
        refused.starts_with(
            "-UNKILLABLE Sorry the script already executed write commands against the dataset."
        ),
        "{refused:?}"
    );
    // SHUTDOWN that would save is refused while the script runs, as by Redis.
    assert_eq!(
        text(&killer.cmd(&["SHUTDOWN"])),
        "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    killer.send_command(&[b"SHUTDOWN", b"NOSAVE"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while server.is_running() {
        assert!(
            std::time::Instant::now() < deadline,
            "SHUTDOWN NOSAVE did not stop the server"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// INFO memory counts cached scripts, functions and libraries, as Redis's does.
#[test]
fn info_counts_scripts_and_functions() {
    let server = TestServer::start(BIN, SHARDS);
    let mut raw = RawClient::connect(server.addr());
    raw.cmd(&["SCRIPT", "LOAD", "return 1"]);
    raw.cmd(&["EVAL", "return 2", "0"]);
    raw.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=counted\nredis.register_function('one', function() return 1 end)\nredis.register_function('two', function() return 2 end)",
    ]);
    let info = text(&raw.cmd(&["INFO", "memory"]));
    for line in [
        "number_of_cached_scripts:2",
        "number_of_functions:2",
        "number_of_libraries:1",
    ] {
        assert!(info.contains(line), "{line} missing from {info}");
    }
    raw.cmd(&["SCRIPT", "FLUSH"]);
    assert!(text(&raw.cmd(&["INFO", "memory"])).contains("number_of_cached_scripts:0"));
}
