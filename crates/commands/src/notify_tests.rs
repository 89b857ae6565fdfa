//! Keyspace events of every family, against what redis-server publishes.
//!
//! Each expected sequence is what a `psubscribe '__keyspace@*'` client saw redis-server
//! 7.0 publish for the same commands (`key:event`, `db@key:event` outside database 0),
//! checked against Redis 7.2's `notifyKeyspaceEvent` calls; the hash field expiry events
//! follow Redis 7.4's source.

use crate::test_shard::TestShard;

/// A shard publishing every class, key misses and new keys included.
fn shard() -> TestShard {
    let mut shard = TestShard::new();
    shard.notify_keyspace_events("KEAnm");
    shard
}

fn check(shard: &mut TestShard, args: &[&str], expected: &[&str]) {
    assert_eq!(shard.events(args), expected, "{args:?}");
}

#[test]
fn strings() {
    let mut shard = shard();
    check(&mut shard, &["SET", "s", "1"], &["s:new", "s:set"]);
    check(
        &mut shard,
        &["SET", "s", "1", "EX", "100"],
        &["s:set", "s:expire"],
    );
    check(&mut shard, &["SET", "s", "2", "NX"], &[]);
    check(&mut shard, &["SET", "s", "3", "XX", "KEEPTTL"], &["s:set"]);
    check(
        &mut shard,
        &["SET", "g", "v", "GET"],
        &["g:keymiss", "g:new", "g:set"],
    );
    check(&mut shard, &["SETNX", "s", "2"], &[]);
    check(
        &mut shard,
        &["SETEX", "x", "100", "v"],
        &["x:new", "x:set", "x:expire"],
    );
    check(
        &mut shard,
        &["PSETEX", "y", "100000", "v"],
        &["y:new", "y:set", "y:expire"],
    );
    check(&mut shard, &["GETSET", "s", "x"], &["s:set"]);
    check(&mut shard, &["GETDEL", "s"], &["s:del"]);
    check(&mut shard, &["GETDEL", "s"], &["s:keymiss"]);
    check(&mut shard, &["GETEX", "x"], &[]);
    check(&mut shard, &["GETEX", "x", "EX", "10"], &["x:expire"]);
    check(&mut shard, &["GETEX", "x", "PERSIST"], &["x:persist"]);
    check(&mut shard, &["GETEX", "x", "PERSIST"], &[]);
    check(&mut shard, &["GETEX", "x", "PXAT", "1"], &["x:del"]);
    check(&mut shard, &["GETEX", "x", "EX", "10"], &["x:keymiss"]);
    check(
        &mut shard,
        &["MSET", "a", "1", "b", "2"],
        &["a:new", "a:set", "b:new", "b:set"],
    );
    check(&mut shard, &["MSETNX", "a", "1", "c", "2"], &[]);
    check(
        &mut shard,
        &["MSETNX", "c", "1", "d", "2"],
        &["c:new", "c:set", "d:new", "d:set"],
    );
    check(&mut shard, &["MGET", "a", "nokey", "y"], &["nokey:keymiss"]);
    check(&mut shard, &["APPEND", "a", "x"], &["a:append"]);
    check(&mut shard, &["APPEND", "n1", "x"], &["n1:new", "n1:append"]);
    check(&mut shard, &["INCR", "n"], &["n:new", "n:incrby"]);
    for command in [
        &["INCR", "n"][..],
        &["DECR", "n"],
        &["INCRBY", "n", "5"],
        &["DECRBY", "n", "5"],
    ] {
        check(&mut shard, command, &["n:incrby"]);
    }
    check(&mut shard, &["INCR", "a"], &[]);
    check(
        &mut shard,
        &["INCRBYFLOAT", "f", "1.5"],
        &["f:new", "f:incrbyfloat"],
    );
    check(&mut shard, &["INCRBYFLOAT", "f", "1.5"], &["f:incrbyfloat"]);
    check(&mut shard, &["SETRANGE", "a", "0", "zz"], &["a:setrange"]);
    check(
        &mut shard,
        &["SETRANGE", "r", "2", "zz"],
        &["r:new", "r:setrange"],
    );
    check(&mut shard, &["SETRANGE", "a", "0", ""], &[]);
    check(&mut shard, &["SETRANGE", "r2", "0", ""], &[]);
    for read in [
        &["GET", "nokey"][..],
        &["STRLEN", "nokey"],
        &["GETRANGE", "nokey", "0", "1"],
        &["LCS", "a", "nokey"],
    ] {
        check(&mut shard, read, &["nokey:keymiss"]);
    }
}

#[test]
fn generic_commands() {
    let mut shard = shard();
    shard.run(&["MSET", "a", "1", "b", "2"]);
    check(&mut shard, &["DEL", "a", "b", "nokey"], &["a:del", "b:del"]);
    shard.run(&["SET", "a", "1"]);
    check(&mut shard, &["UNLINK", "a", "nokey"], &["a:del"]);
    for read in [
        &["EXISTS", "nokey"][..],
        &["TOUCH", "nokey"],
        &["TYPE", "nokey"],
        &["TTL", "nokey"],
        &["PTTL", "nokey"],
        &["EXPIRETIME", "nokey"],
        &["COPY", "nokey", "d"],
    ] {
        check(&mut shard, read, &["nokey:keymiss"]);
    }
    check(&mut shard, &["OBJECT", "ENCODING", "nokey"], &[]);
    shard.run(&["SET", "a", "1"]);
    check(
        &mut shard,
        &["RENAME", "a", "b"],
        &["b:new", "a:rename_from", "b:rename_to"],
    );
    check(&mut shard, &["RENAME", "b", "b"], &[]);
    check(&mut shard, &["RENAME", "nokey", "x"], &[]);
    shard.run(&["SET", "a", "1"]);
    check(&mut shard, &["RENAMENX", "b", "a"], &[]);
    check(
        &mut shard,
        &["RENAMENX", "b", "c"],
        &["c:new", "b:rename_from", "c:rename_to"],
    );
    check(&mut shard, &["COPY", "c", "d"], &["d:new", "d:copy_to"]);
    check(&mut shard, &["COPY", "c", "d"], &[]);
    check(
        &mut shard,
        &["COPY", "c", "d", "REPLACE"],
        &["d:new", "d:copy_to"],
    );
    check(
        &mut shard,
        &["COPY", "c", "d", "DB", "4"],
        &["4@d:new", "4@d:copy_to"],
    );
    check(
        &mut shard,
        &["MOVE", "d", "3"],
        &["3@d:new", "d:move_from", "3@d:move_to"],
    );
    check(&mut shard, &["MOVE", "nokey", "3"], &[]);
    shard.run(&["SET", "d", "1"]);
    check(&mut shard, &["MOVE", "d", "3"], &[]);
    check(&mut shard, &["EXPIRE", "d", "100"], &["d:expire"]);
    check(&mut shard, &["EXPIRE", "d", "100", "NX"], &[]);
    check(&mut shard, &["PEXPIRE", "d", "100000", "XX"], &["d:expire"]);
    check(&mut shard, &["EXPIREAT", "d", "99999999999"], &["d:expire"]);
    check(&mut shard, &["EXPIRE", "nokey", "100"], &[]);
    check(&mut shard, &["PERSIST", "d"], &["d:persist"]);
    check(&mut shard, &["PERSIST", "d"], &[]);
    check(&mut shard, &["PERSIST", "nokey"], &[]);
    check(&mut shard, &["EXPIRE", "d", "-1"], &["d:del"]);
    shard.run(&["SET", "d", "1"]);
    check(&mut shard, &["PEXPIREAT", "d", "1"], &["d:del"]);
}

#[test]
fn lazy_expiry_reports_expired_first() {
    let mut shard = shard();
    let lookups: &[&[&str]] = &[
        &["GET", "k"],
        &["EXISTS", "k"],
        &["TTL", "k"],
        &["TYPE", "k"],
    ];
    for lookup in lookups {
        shard.run(&["SET", "k", "v", "PX", "1"]);
        shard.now += 1;
        check(&mut shard, lookup, &["k:expired", "k:keymiss"]);
    }
    shard.run(&["SET", "k", "v", "PX", "1"]);
    shard.now += 1;
    check(&mut shard, &["DEL", "k"], &["k:expired"]);
    shard.run(&["SET", "k", "v", "PX", "1"]);
    shard.now += 1;
    check(
        &mut shard,
        &["SET", "k", "w"],
        &["k:expired", "k:new", "k:set"],
    );
    shard.run(&["SET", "k", "v", "PX", "1"]);
    shard.now += 1;
    check(&mut shard, &["OBJECT", "ENCODING", "k"], &["k:expired"]);
    shard.run(&["SET", "k", "v", "PX", "1"]);
    shard.now += 1;
    check(&mut shard, &["EXPIRE", "k", "10"], &["k:expired"]);
    shard.run(&["SET", "k", "v", "PX", "1"]);
    shard.now += 1;
    check(
        &mut shard,
        &["LPUSH", "k", "a"],
        &["k:expired", "k:new", "k:lpush"],
    );
    shard.run(&["SADD", "s", "a"]);
    shard.run(&["PEXPIRE", "s", "1"]);
    shard.now += 1;
    check(
        &mut shard,
        &["SUNION", "s", "nokey"],
        &["s:expired", "s:keymiss", "nokey:keymiss"],
    );
}

#[test]
fn lists() {
    let mut shard = shard();
    check(&mut shard, &["LPUSH", "l", "a", "b"], &["l:new", "l:lpush"]);
    check(&mut shard, &["RPUSH", "l", "c"], &["l:rpush"]);
    check(&mut shard, &["LPUSHX", "l", "d"], &["l:lpush"]);
    check(&mut shard, &["RPUSHX", "l", "e"], &["l:rpush"]);
    check(&mut shard, &["LPUSHX", "nol", "d"], &[]);
    check(&mut shard, &["LPOP", "l"], &["l:lpop"]);
    check(&mut shard, &["RPOP", "l"], &["l:rpop"]);
    check(&mut shard, &["LPOP", "l", "2"], &["l:lpop"]);
    check(&mut shard, &["LPOP", "l", "0"], &[]);
    check(&mut shard, &["LPOP", "l", "5"], &["l:lpop", "l:del"]);
    check(&mut shard, &["LPOP", "l"], &[]);
    for read in [
        &["LLEN", "nol"][..],
        &["LRANGE", "nol", "0", "-1"],
        &["LINDEX", "nol", "0"],
        &["LPOS", "nol", "a"],
    ] {
        check(&mut shard, read, &["nol:keymiss"]);
    }
    shard.run(&["RPUSH", "l", "a"]);
    check(&mut shard, &["LSET", "l", "0", "x"], &["l:lset"]);
    check(&mut shard, &["LSET", "nol", "0", "x"], &[]);
    check(
        &mut shard,
        &["LINSERT", "l", "BEFORE", "x", "y"],
        &["l:linsert"],
    );
    check(&mut shard, &["LINSERT", "l", "AFTER", "nope", "y"], &[]);
    shard.run(&["RPUSH", "l", "x", "x", "x"]);
    check(&mut shard, &["LREM", "l", "2", "x"], &["l:lrem"]);
    check(&mut shard, &["LREM", "l", "0", "nope"], &[]);
    check(&mut shard, &["LREM", "l", "0", "x"], &["l:lrem"]);
    check(&mut shard, &["LREM", "l", "0", "y"], &["l:lrem", "l:del"]);
    shard.run(&["RPUSH", "l", "a", "b", "c"]);
    check(&mut shard, &["LTRIM", "l", "0", "1"], &["l:ltrim"]);
    check(&mut shard, &["LTRIM", "l", "0", "-1"], &["l:ltrim"]);
    check(
        &mut shard,
        &["LTRIM", "l", "5", "10"],
        &["l:ltrim", "l:del"],
    );
    check(&mut shard, &["LTRIM", "nol", "0", "1"], &[]);
}

#[test]
fn list_moves_and_blocking_pops() {
    let mut shard = shard();
    shard.run(&["RPUSH", "src", "a", "b"]);
    check(
        &mut shard,
        &["RPOPLPUSH", "src", "dst"],
        &["dst:new", "dst:lpush", "src:rpop"],
    );
    check(
        &mut shard,
        &["RPOPLPUSH", "src", "dst"],
        &["dst:lpush", "src:rpop", "src:del"],
    );
    check(&mut shard, &["RPOPLPUSH", "nol", "dst"], &[]);
    check(
        &mut shard,
        &["LMOVE", "dst", "dst", "LEFT", "RIGHT"],
        &["dst:rpush", "dst:lpop"],
    );
    check(
        &mut shard,
        &["LMOVE", "dst", "other", "LEFT", "LEFT"],
        &["other:new", "other:lpush", "dst:lpop"],
    );
    check(
        &mut shard,
        &["BLMOVE", "dst", "other", "RIGHT", "RIGHT", "0"],
        &["other:rpush", "dst:rpop", "dst:del"],
    );
    shard.run(&["RPUSH", "m", "a", "b", "c"]);
    check(
        &mut shard,
        &["LMPOP", "2", "nol", "m", "LEFT", "COUNT", "2"],
        &["m:lpop"],
    );
    check(
        &mut shard,
        &["BLMPOP", "0", "2", "nol", "m", "RIGHT", "COUNT", "2"],
        &["m:rpop", "m:del"],
    );
    check(&mut shard, &["LMPOP", "1", "nol", "LEFT"], &[]);
    shard.run(&["RPUSH", "b", "a", "b"]);
    check(&mut shard, &["BLPOP", "nol", "b", "0"], &["b:lpop"]);
    check(
        &mut shard,
        &["BRPOP", "nol", "b", "0"],
        &["b:rpop", "b:del"],
    );
    check(&mut shard, &["BLPOP", "nol", "0"], &[]);
}

#[test]
fn sets() {
    let mut shard = shard();
    check(&mut shard, &["SADD", "s", "a", "b"], &["s:new", "s:sadd"]);
    check(&mut shard, &["SADD", "s", "a"], &[]);
    check(&mut shard, &["SREM", "s", "nope"], &[]);
    check(&mut shard, &["SREM", "s", "a"], &["s:srem"]);
    check(&mut shard, &["SREM", "nos", "a"], &[]);
    for read in [
        &["SMEMBERS", "nos"][..],
        &["SISMEMBER", "nos", "a"],
        &["SMISMEMBER", "nos", "a"],
        &["SCARD", "nos"],
        &["SRANDMEMBER", "nos"],
        &["SSCAN", "nos", "0"],
        &["SINTERCARD", "1", "nos"],
    ] {
        check(&mut shard, read, &["nos:keymiss"]);
    }
    check(&mut shard, &["SPOP", "nos"], &[]);
    check(&mut shard, &["SPOP", "s"], &["s:spop", "s:del"]);
    shard.run(&["SADD", "s", "x", "y", "z"]);
    check(&mut shard, &["SPOP", "s", "0"], &[]);
    check(&mut shard, &["SPOP", "s", "2"], &["s:spop"]);
    check(&mut shard, &["SPOP", "s", "5"], &["s:spop", "s:del"]);
    shard.run(&["SADD", "s", "a", "b"]);
    check(
        &mut shard,
        &["SMOVE", "s", "d", "a"],
        &["s:srem", "d:new", "d:sadd"],
    );
    check(&mut shard, &["SMOVE", "s", "d", "a"], &[]);
    check(
        &mut shard,
        &["SMOVE", "s", "d", "b"],
        &["s:srem", "s:del", "d:sadd"],
    );
    check(&mut shard, &["SMOVE", "d", "d", "a"], &[]);
    shard.run(&["SADD", "s", "a"]);
    check(&mut shard, &["SMOVE", "s", "d", "a"], &["s:srem", "s:del"]);
}

#[test]
fn set_stores() {
    let mut shard = shard();
    shard.run(&["SADD", "s1", "a", "b"]);
    shard.run(&["SADD", "s2", "b", "c"]);
    check(
        &mut shard,
        &["SINTERSTORE", "dst", "s1", "s2"],
        &["dst:new", "dst:sinterstore"],
    );
    check(
        &mut shard,
        &["SINTERSTORE", "dst", "s1", "s2"],
        &["dst:sinterstore"],
    );
    check(
        &mut shard,
        &["SINTERSTORE", "dst", "s1", "nos"],
        &["nos:keymiss", "dst:del"],
    );
    check(
        &mut shard,
        &["SINTERSTORE", "dst", "s1", "nos"],
        &["nos:keymiss"],
    );
    check(
        &mut shard,
        &["SUNIONSTORE", "dst", "s1", "s2"],
        &["dst:new", "dst:sunionstore"],
    );
    check(
        &mut shard,
        &["SUNIONSTORE", "dst", "nos"],
        &["nos:keymiss", "dst:del"],
    );
    check(
        &mut shard,
        &["SDIFFSTORE", "dst", "s1", "s2"],
        &["dst:new", "dst:sdiffstore"],
    );
    check(&mut shard, &["SDIFFSTORE", "dst", "s1", "s1"], &["dst:del"]);
    check(
        &mut shard,
        &["SINTER", "nos", "nos2", "s1"],
        &["nos:keymiss", "nos2:keymiss"],
    );
    shard.run(&["SET", "str", "x"]);
    check(
        &mut shard,
        &["SUNION", "nos", "str", "nos2"],
        &["nos:keymiss"],
    );
}

#[test]
fn hashes() {
    let mut shard = shard();
    check(
        &mut shard,
        &["HSET", "h", "a", "1", "b", "2"],
        &["h:new", "h:hset"],
    );
    check(&mut shard, &["HSET", "h", "a", "1"], &["h:hset"]);
    check(&mut shard, &["HSETNX", "h", "a", "1"], &[]);
    check(&mut shard, &["HSETNX", "h", "c", "1"], &["h:hset"]);
    check(
        &mut shard,
        &["HSETNX", "nh", "c", "1"],
        &["nh:new", "nh:hset"],
    );
    check(&mut shard, &["HMSET", "h", "d", "1"], &["h:hset"]);
    check(&mut shard, &["HDEL", "h", "nope"], &[]);
    check(&mut shard, &["HDEL", "h", "a", "b"], &["h:hdel"]);
    check(&mut shard, &["HDEL", "h", "c", "d"], &["h:hdel", "h:del"]);
    check(&mut shard, &["HDEL", "h", "a"], &[]);
    check(
        &mut shard,
        &["HINCRBY", "h2", "x", "1"],
        &["h2:new", "h2:hincrby"],
    );
    check(&mut shard, &["HINCRBY", "h2", "x", "1"], &["h2:hincrby"]);
    check(
        &mut shard,
        &["HINCRBYFLOAT", "h2", "y", "1.5"],
        &["h2:hincrbyfloat"],
    );
    check(&mut shard, &["HINCRBY", "h2", "y", "1"], &[]);
    check(&mut shard, &["HGET", "h2", "nope"], &[]);
    for read in [
        &["HGET", "nh2", "a"][..],
        &["HMGET", "nh2", "a"],
        &["HGETALL", "nh2"],
        &["HLEN", "nh2"],
        &["HEXISTS", "nh2", "a"],
        &["HKEYS", "nh2"],
        &["HVALS", "nh2"],
        &["HSTRLEN", "nh2", "a"],
        &["HRANDFIELD", "nh2"],
        &["HSCAN", "nh2", "0"],
        &["HTTL", "nh2", "FIELDS", "1", "a"],
    ] {
        check(&mut shard, read, &["nh2:keymiss"]);
    }
}

#[test]
fn hash_field_expiry() {
    let mut shard = shard();
    shard.run(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    check(
        &mut shard,
        &["HEXPIRE", "h", "100", "FIELDS", "1", "a"],
        &["h:hexpire"],
    );
    check(
        &mut shard,
        &["HEXPIRE", "h", "100", "NX", "FIELDS", "1", "a"],
        &[],
    );
    check(
        &mut shard,
        &["HPEXPIRE", "h", "50", "FIELDS", "1", "b"],
        &["h:hexpire"],
    );
    check(
        &mut shard,
        &["HPERSIST", "h", "FIELDS", "1", "a"],
        &["h:hpersist"],
    );
    check(&mut shard, &["HPERSIST", "h", "FIELDS", "1", "a"], &[]);
    check(
        &mut shard,
        &["HEXPIREAT", "h", "1", "FIELDS", "1", "a"],
        &["h:hdel"],
    );
    check(&mut shard, &["HEXPIRE", "nh", "1", "FIELDS", "1", "a"], &[]);
    shard.now += 50;
    check(&mut shard, &["HGET", "h", "c"], &["h:hexpired"]);
    check(
        &mut shard,
        &["HPEXPIREAT", "h", "1", "FIELDS", "1", "c"],
        &["h:hdel", "h:del"],
    );
    shard.run(&["HSET", "h", "a", "1"]);
    shard.run(&["HPEXPIRE", "h", "10", "FIELDS", "1", "a"]);
    shard.now += 10;
    check(&mut shard, &["HLEN", "h"], &["h:hexpired", "h:del"]);
}

#[test]
fn sorted_sets() {
    let mut shard = shard();
    check(
        &mut shard,
        &["ZADD", "z", "1", "a", "2", "b"],
        &["z:new", "z:zadd"],
    );
    check(&mut shard, &["ZADD", "z", "1", "a"], &[]);
    check(&mut shard, &["ZADD", "z", "3", "a"], &["z:zadd"]);
    check(&mut shard, &["ZADD", "z", "NX", "5", "a"], &[]);
    check(&mut shard, &["ZADD", "z", "XX", "5", "nope"], &[]);
    check(&mut shard, &["ZADD", "z", "GT", "1", "a"], &[]);
    check(&mut shard, &["ZADD", "z", "INCR", "1", "a"], &["z:zincr"]);
    check(&mut shard, &["ZADD", "z", "INCR", "0", "a"], &[]);
    check(&mut shard, &["ZADD", "nz", "XX", "1", "a"], &[]);
    check(&mut shard, &["ZINCRBY", "z", "1", "a"], &["z:zincr"]);
    check(&mut shard, &["ZINCRBY", "z", "0", "a"], &[]);
    check(
        &mut shard,
        &["ZINCRBY", "nz2", "1", "a"],
        &["nz2:new", "nz2:zincr"],
    );
    check(&mut shard, &["ZREM", "z", "nope"], &[]);
    check(&mut shard, &["ZREM", "z", "a"], &["z:zrem"]);
    check(&mut shard, &["ZREM", "z", "b"], &["z:zrem", "z:del"]);
    for read in [
        &["ZCARD", "nz"][..],
        &["ZSCORE", "nz", "a"],
        &["ZMSCORE", "nz", "a"],
        &["ZRANK", "nz", "a"],
        &["ZCOUNT", "nz", "0", "1"],
        &["ZLEXCOUNT", "nz", "-", "+"],
        &["ZRANGE", "nz", "0", "-1"],
        &["ZRANGEBYSCORE", "nz", "0", "1"],
        &["ZREVRANGEBYLEX", "nz", "+", "-"],
        &["ZRANDMEMBER", "nz"],
        &["ZSCAN", "nz", "0"],
        &["ZUNION", "1", "nz"],
        &["ZINTERCARD", "1", "nz"],
    ] {
        check(&mut shard, read, &["nz:keymiss"]);
    }
    shard.run(&["ZADD", "r", "1", "a", "2", "b", "3", "c", "4", "d"]);
    check(
        &mut shard,
        &["ZREMRANGEBYRANK", "r", "0", "0"],
        &["r:zremrangebyrank"],
    );
    check(&mut shard, &["ZREMRANGEBYRANK", "r", "10", "20"], &[]);
    check(
        &mut shard,
        &["ZREMRANGEBYSCORE", "r", "2", "2"],
        &["r:zremrangebyscore"],
    );
    check(
        &mut shard,
        &["ZREMRANGEBYLEX", "r", "[c", "[c"],
        &["r:zremrangebylex"],
    );
    check(
        &mut shard,
        &["ZREMRANGEBYLEX", "r", "-", "+"],
        &["r:zremrangebylex", "r:del"],
    );
    check(&mut shard, &["ZREMRANGEBYSCORE", "nz", "0", "1"], &[]);
}

#[test]
fn sorted_set_pops_and_stores() {
    let mut shard = shard();
    shard.run(&["ZADD", "p", "1", "a", "2", "b", "3", "c"]);
    check(&mut shard, &["ZPOPMIN", "p"], &["p:zpopmin"]);
    check(&mut shard, &["ZPOPMAX", "p"], &["p:zpopmax"]);
    check(&mut shard, &["ZPOPMIN", "p", "0"], &[]);
    check(&mut shard, &["ZPOPMIN", "p", "5"], &["p:zpopmin", "p:del"]);
    check(&mut shard, &["ZPOPMIN", "nz"], &[]);
    shard.run(&["ZADD", "p", "1", "a", "2", "b", "3", "c"]);
    check(
        &mut shard,
        &["ZMPOP", "2", "nz", "p", "MIN", "COUNT", "2"],
        &["p:zpopmin"],
    );
    check(
        &mut shard,
        &["BZMPOP", "0", "1", "p", "MAX", "COUNT", "2"],
        &["p:zpopmax", "p:del"],
    );
    shard.run(&["ZADD", "p", "1", "a", "2", "b"]);
    check(&mut shard, &["BZPOPMIN", "nz", "p", "0"], &["p:zpopmin"]);
    check(
        &mut shard,
        &["BZPOPMAX", "nz", "p", "0"],
        &["p:zpopmax", "p:del"],
    );
    shard.run(&["ZADD", "u1", "1", "a"]);
    shard.run(&["ZADD", "u2", "2", "b"]);
    check(
        &mut shard,
        &["ZUNIONSTORE", "d", "2", "u1", "u2"],
        &["d:new", "d:zunionstore"],
    );
    check(
        &mut shard,
        &["ZUNIONSTORE", "d", "2", "u1", "u2"],
        &["d:zunionstore"],
    );
    check(
        &mut shard,
        &["ZINTERSTORE", "d", "2", "u1", "u2"],
        &["d:del"],
    );
    check(&mut shard, &["ZINTERSTORE", "d", "2", "u1", "u2"], &[]);
    check(
        &mut shard,
        &["ZDIFFSTORE", "d", "2", "u1", "u2"],
        &["d:new", "d:zdiffstore"],
    );
    check(
        &mut shard,
        &["ZINTERSTORE", "d", "2", "nz", "nz2"],
        &["nz:keymiss", "nz2:keymiss", "d:del"],
    );
    check(
        &mut shard,
        &["ZRANGESTORE", "d", "u1", "0", "-1"],
        &["d:new", "d:zrangestore"],
    );
    check(
        &mut shard,
        &["ZRANGESTORE", "d", "u1", "0", "-1"],
        &["d:zrangestore"],
    );
    check(
        &mut shard,
        &["ZRANGESTORE", "d", "u1", "5", "10"],
        &["d:del"],
    );
    check(&mut shard, &["ZRANGESTORE", "d", "u1", "5", "10"], &[]);
    check(
        &mut shard,
        &["ZRANGESTORE", "d", "nz", "0", "-1"],
        &["nz:keymiss"],
    );
}

#[test]
fn classes_filter_and_channels_gate() {
    let mut shard = TestShard::new();
    check(&mut shard, &["SET", "k", "v"], &[]);
    shard.notify_keyspace_events("Kl");
    check(&mut shard, &["SET", "k", "v", "EX", "10"], &[]);
    check(&mut shard, &["LPUSH", "l", "a"], &["l:lpush"]);
    check(&mut shard, &["LPOP", "l"], &["l:lpop"]);
    shard.notify_keyspace_events("g");
    check(&mut shard, &["DEL", "k"], &[]);
    shard.notify_keyspace_events("Eg");
    shard.run(&["SET", "k", "v"]);
    check(&mut shard, &["DEL", "k"], &["k:del"]);
    check(&mut shard, &["GET", "k"], &[]);
    shard.notify_keyspace_events("KA");
    check(&mut shard, &["GET", "k"], &[]);
    check(&mut shard, &["SET", "k", "v"], &["k:set"]);
    shard.notify_keyspace_events("Km");
    check(&mut shard, &["GET", "nokey"], &["nokey:keymiss"]);
    check(&mut shard, &["SET", "k2", "v"], &[]);
    shard.notify_keyspace_events("Kn");
    check(&mut shard, &["SET", "k3", "v"], &["k3:new"]);
    shard.notify_keyspace_events("Ex");
    shard.run(&["SET", "t", "v", "PX", "5"]);
    shard.now += 5;
    check(&mut shard, &["GET", "t"], &["t:expired"]);
}

#[test]
fn events_carry_their_database_and_class() {
    let mut shard = shard();
    shard.db = peregrine_keyspace::DbIndex(7);
    shard.take_events();
    shard.run(&["RPUSH", "l", "a"]);
    let events = shard.take_events();
    let described: Vec<(crate::EventClass, &str, u32, &[u8])> = events
        .iter()
        .map(|event| (event.class, event.event, event.db, &event.key[..]))
        .collect();
    assert_eq!(
        described,
        vec![
            (crate::EventClass::New, "new", 7, &b"l"[..]),
            (crate::EventClass::List, "rpush", 7, &b"l"[..]),
        ]
    );
    assert_eq!(&events[1].keyspace_channel()[..], b"__keyspace@7__:l");
    assert_eq!(&events[1].keyevent_channel()[..], b"__keyevent@7__:rpush");
}
