//! The list family driven in-process: replies, errors and encodings as Redis 7.2.

use crate::test_shard::TestShard;
use peregrine_resp::Reply;

fn filled(elements: &[&str]) -> TestShard {
    let mut shard = TestShard::new();
    let mut args = vec!["RPUSH", "l"];
    args.extend_from_slice(elements);
    shard.run(&args);
    shard
}

#[test]
fn push_pop_and_length() {
    let mut shard = TestShard::new();
    assert_eq!(shard.wire(&["LPUSH", "l", "a", "b"]), ":2\r\n");
    assert_eq!(shard.wire(&["RPUSH", "l", "c"]), ":3\r\n");
    assert_eq!(
        shard.wire(&["LRANGE", "l", "0", "-1"]),
        "*3\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nc\r\n"
    );
    assert_eq!(shard.wire(&["LPUSHX", "missing", "a"]), ":0\r\n");
    assert_eq!(shard.wire(&["RPUSHX", "l", "d", "e"]), ":5\r\n");
    assert_eq!(shard.wire(&["EXISTS", "missing"]), ":0\r\n");
    assert_eq!(shard.wire(&["LPOP", "l"]), "$1\r\nb\r\n");
    assert_eq!(shard.wire(&["RPOP", "l"]), "$1\r\ne\r\n");
    assert_eq!(shard.wire(&["LLEN", "l"]), ":3\r\n");
    assert_eq!(shard.wire(&["LLEN", "missing"]), ":0\r\n");
}

#[test]
fn pop_with_count() {
    let mut shard = filled(&["a", "b", "c", "d"]);
    assert_eq!(shard.wire(&["LPOP", "l", "0"]), "*0\r\n");
    assert_eq!(shard.wire(&["LPOP", "missing", "0"]), "*-1\r\n");
    assert_eq!(shard.wire(&["LPOP", "missing"]), "$-1\r\n");
    assert_eq!(
        shard.wire(&["RPOP", "l", "2"]),
        "*2\r\n$1\r\nd\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        shard.wire(&["LPOP", "l", "9223372036854775807"]),
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        shard.wire(&["EXISTS", "l"]),
        ":0\r\n",
        "an emptied list is deleted"
    );
    assert_eq!(
        shard.wire(&["LPOP", "l", "-1"]),
        "-ERR value is out of range, must be positive\r\n"
    );
    assert_eq!(
        shard.wire(&["LPOP", "l", "x"]),
        "-ERR value is out of range, must be positive\r\n"
    );
    assert_eq!(
        shard.wire(&["LPOP", "l", "1", "2"]),
        "-ERR wrong number of arguments for 'lpop' command\r\n"
    );
}

#[test]
fn wrong_type_everywhere() {
    let mut shard = TestShard::new();
    shard.run(&["SET", "s", "v"]);
    let wrongtype = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    for command in [
        &["LPUSH", "s", "a"][..],
        &["RPUSHX", "s", "a"],
        &["LPOP", "s"],
        &["LLEN", "s"],
        &["LRANGE", "s", "0", "1"],
        &["LINDEX", "s", "x"],
        &["LSET", "s", "x", "y"],
        &["LINSERT", "s", "before", "a", "b"],
        &["LREM", "s", "0", "a"],
        &["LTRIM", "s", "0", "1"],
        &["LPOS", "s", "a"],
        &["LMOVE", "s", "d", "left", "left"],
        &["LMPOP", "1", "s", "left"],
        &["BLPOP", "missing", "s", "0"],
        &["BLMOVE", "s", "d", "left", "left", "0"],
    ] {
        assert_eq!(shard.wire(command), wrongtype, "{command:?}");
    }
    shard.run(&["RPUSH", "l", "a"]);
    assert_eq!(shard.wire(&["RPOPLPUSH", "l", "s"]), wrongtype);
    assert_eq!(shard.wire(&["LLEN", "l"]), ":1\r\n", "nothing moved");
}

#[test]
fn ranges_and_indexes() {
    let mut shard = filled(&["a", "b", "c", "d", "e"]);
    assert_eq!(
        shard.wire(&["LRANGE", "l", "-2", "100"]),
        "*2\r\n$1\r\nd\r\n$1\r\ne\r\n"
    );
    assert_eq!(
        shard.wire(&["LRANGE", "l", "-100", "0"]),
        "*1\r\n$1\r\na\r\n"
    );
    assert_eq!(shard.wire(&["LRANGE", "l", "3", "1"]), "*0\r\n");
    assert_eq!(shard.wire(&["LRANGE", "l", "5", "10"]), "*0\r\n");
    assert_eq!(shard.wire(&["LRANGE", "missing", "0", "-1"]), "*0\r\n");
    assert_eq!(
        shard.wire(&["LRANGE", "l", "a", "1"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(shard.wire(&["LINDEX", "l", "-1"]), "$1\r\ne\r\n");
    assert_eq!(shard.wire(&["LINDEX", "l", "-6"]), "$-1\r\n");
    assert_eq!(shard.wire(&["LINDEX", "l", "5"]), "$-1\r\n");
    assert_eq!(
        shard.wire(&["LINDEX", "l", "-9223372036854775808"]),
        "$-1\r\n"
    );
    assert_eq!(shard.wire(&["LINDEX", "missing", "x"]), "$-1\r\n");
    assert_eq!(shard.wire(&["LSET", "l", "-1", "E"]), "+OK\r\n");
    assert_eq!(
        shard.wire(&["LSET", "l", "5", "x"]),
        "-ERR index out of range\r\n"
    );
    assert_eq!(
        shard.wire(&["LSET", "missing", "0", "x"]),
        "-ERR no such key\r\n"
    );
    assert_eq!(shard.wire(&["LINDEX", "l", "4"]), "$1\r\nE\r\n");
}

#[test]
fn insert_remove_trim() {
    let mut shard = filled(&["a", "b", "a", "c", "a"]);
    assert_eq!(shard.wire(&["LINSERT", "l", "BEFORE", "b", "x"]), ":6\r\n");
    assert_eq!(shard.wire(&["LINSERT", "l", "after", "zz", "x"]), ":-1\r\n");
    assert_eq!(
        shard.wire(&["LINSERT", "missing", "after", "a", "x"]),
        ":0\r\n"
    );
    assert_eq!(
        shard.wire(&["LINSERT", "l", "middle", "a", "x"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(shard.wire(&["LREM", "l", "-2", "a"]), ":2\r\n");
    assert_eq!(
        shard.wire(&["LRANGE", "l", "0", "-1"]),
        "*4\r\n$1\r\na\r\n$1\r\nx\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        shard.wire(&["LREM", "l", "-9223372036854775808", "a"]),
        "-ERR value is out of range, value must between -9223372036854775807 and \
         9223372036854775807\r\n"
    );
    assert_eq!(shard.wire(&["LTRIM", "l", "1", "-2"]), "+OK\r\n");
    assert_eq!(
        shard.wire(&["LRANGE", "l", "0", "-1"]),
        "*2\r\n$1\r\nx\r\n$1\r\nb\r\n"
    );
    assert_eq!(shard.wire(&["LTRIM", "missing", "0", "1"]), "+OK\r\n");
    assert_eq!(shard.wire(&["LTRIM", "l", "5", "1"]), "+OK\r\n");
    assert_eq!(shard.wire(&["EXISTS", "l"]), ":0\r\n");
}

#[test]
fn lpos_options() {
    let mut shard = filled(&["a", "b", "a", "c", "a"]);
    assert_eq!(shard.wire(&["LPOS", "l", "a"]), ":0\r\n");
    assert_eq!(shard.wire(&["LPOS", "l", "a", "RANK", "2"]), ":2\r\n");
    assert_eq!(shard.wire(&["LPOS", "l", "a", "RANK", "-1"]), ":4\r\n");
    assert_eq!(shard.wire(&["LPOS", "l", "a", "RANK", "4"]), "$-1\r\n");
    assert_eq!(
        shard.wire(&["LPOS", "l", "a", "COUNT", "0"]),
        "*3\r\n:0\r\n:2\r\n:4\r\n"
    );
    assert_eq!(
        shard.wire(&["LPOS", "l", "a", "RANK", "-2", "COUNT", "5"]),
        "*2\r\n:2\r\n:0\r\n"
    );
    assert_eq!(
        shard.wire(&["LPOS", "l", "a", "COUNT", "0", "MAXLEN", "3"]),
        "*2\r\n:0\r\n:2\r\n"
    );
    assert_eq!(shard.wire(&["LPOS", "l", "z", "COUNT", "1"]), "*0\r\n");
    assert_eq!(shard.wire(&["LPOS", "missing", "a"]), "$-1\r\n");
    assert_eq!(
        shard.wire(&["LPOS", "missing", "a", "COUNT", "0"]),
        "*0\r\n"
    );
    assert!(shard
        .wire(&["LPOS", "l", "a", "RANK", "0"])
        .starts_with("-ERR RANK can't be zero"));
    assert_eq!(
        shard.wire(&["LPOS", "l", "a", "COUNT", "-1"]),
        "-ERR COUNT can't be negative\r\n"
    );
    assert_eq!(
        shard.wire(&["LPOS", "l", "a", "MAXLEN", "x"]),
        "-ERR MAXLEN can't be negative\r\n"
    );
    assert_eq!(
        shard.wire(&["LPOS", "l", "a", "RANK", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        shard.wire(&["LPOS", "l", "a", "RANK"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        shard.wire(&["LPOS", "l", "a", "FOO", "1"]),
        "-ERR syntax error\r\n"
    );
}

#[test]
fn move_and_rotate() {
    let mut shard = filled(&["a", "b", "c"]);
    assert_eq!(
        shard.wire(&["LMOVE", "l", "l", "LEFT", "RIGHT"]),
        "$1\r\na\r\n"
    );
    assert_eq!(
        shard.wire(&["LRANGE", "l", "0", "-1"]),
        "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"
    );
    assert_eq!(shard.wire(&["RPOPLPUSH", "l", "d"]), "$1\r\na\r\n");
    assert_eq!(
        shard.wire(&["LMOVE", "l", "d", "left", "right"]),
        "$1\r\nb\r\n"
    );
    assert_eq!(
        shard.wire(&["LMOVE", "l", "d", "up", "right"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        shard.wire(&["LMOVE", "missing", "d", "left", "right"]),
        "$-1\r\n"
    );
    assert_eq!(shard.wire(&["RPOPLPUSH", "l", "d"]), "$1\r\nc\r\n");
    assert_eq!(shard.wire(&["EXISTS", "l"]), ":0\r\n");
    assert_eq!(
        shard.wire(&["LRANGE", "d", "0", "-1"]),
        "*3\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
}

#[test]
fn lmpop_parsing_and_replies() {
    let mut shard = filled(&["a", "b", "c"]);
    assert_eq!(
        shard.wire(&["LMPOP", "2", "missing", "l", "RIGHT", "COUNT", "2"]),
        "*2\r\n$1\r\nl\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n"
    );
    assert_eq!(shard.wire(&["LMPOP", "1", "missing", "LEFT"]), "*-1\r\n");
    assert_eq!(
        shard.wire(&["LMPOP", "1", "l", "LEFT"]),
        "*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n"
    );
    let numkeys = "-ERR numkeys should be greater than 0\r\n";
    assert_eq!(shard.wire(&["LMPOP", "0", "l", "left"]), numkeys);
    assert_eq!(shard.wire(&["LMPOP", "abc", "l", "left"]), numkeys);
    assert_eq!(
        shard.wire(&["LMPOP", "2", "l", "left"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        shard.wire(&["LMPOP", "9223372036854775807", "l", "left"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        shard.wire(&["LMPOP", "1", "l", "middle"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        shard.wire(&["LMPOP", "1", "l", "left", "count", "0"]),
        "-ERR count should be greater than 0\r\n"
    );
    assert_eq!(
        shard.wire(&["LMPOP", "1", "l", "left", "count", "1", "count", "1"]),
        "-ERR syntax error\r\n"
    );
}

#[test]
fn blocking_commands_without_waiting() {
    let mut shard = filled(&["a", "b"]);
    assert_eq!(
        shard.wire(&["BLPOP", "missing", "l", "0"]),
        "*2\r\n$1\r\nl\r\n$1\r\na\r\n"
    );
    assert_eq!(shard.wire(&["BRPOP", "missing", "1.5"]), "*-1\r\n");
    assert_eq!(
        shard.wire(&["BLPOP", "l", "-1"]),
        "-ERR timeout is negative\r\n"
    );
    assert_eq!(
        shard.wire(&["BLPOP", "l", "abc"]),
        "-ERR timeout is not a float or out of range\r\n"
    );
    assert_eq!(
        shard.wire(&["BLMOVE", "l", "d", "RIGHT", "LEFT", "0"]),
        "$1\r\nb\r\n"
    );
    assert_eq!(
        shard.wire(&["BLMOVE", "l", "d", "RIGHT", "LEFT", "0"]),
        "$-1\r\n"
    );
    assert_eq!(shard.wire(&["BRPOPLPUSH", "d", "l", "0"]), "$1\r\nb\r\n");
    assert_eq!(shard.wire(&["BRPOPLPUSH", "missing", "l", "0"]), "$-1\r\n");
    assert_eq!(
        shard.wire(&["BLMPOP", "0", "2", "x", "l", "LEFT", "COUNT", "5"]),
        "*2\r\n$1\r\nl\r\n*1\r\n$1\r\nb\r\n"
    );
    assert_eq!(shard.wire(&["BLMPOP", "0", "1", "l", "LEFT"]), "*-1\r\n");
    assert_eq!(
        shard.wire(&["BLMPOP", "abc", "0", "l", "LEFT"]),
        "-ERR numkeys should be greater than 0\r\n"
    );
    assert_eq!(
        shard.wire(&["BLMPOP", "-1", "1", "l", "LEFT"]),
        "-ERR timeout is negative\r\n"
    );
}

#[test]
fn resp3_null_forms() {
    let mut shard = TestShard::new();
    let resp3 = |reply: Reply| {
        String::from_utf8_lossy(&reply.to_bytes(peregrine_resp::Protocol::Resp3)).into_owned()
    };
    assert_eq!(resp3(shard.run(&["LPOP", "missing"])), "_\r\n");
    assert_eq!(resp3(shard.run(&["LPOP", "missing", "2"])), "_\r\n");
    assert_eq!(resp3(shard.run(&["BLPOP", "missing", "0"])), "_\r\n");
    assert_eq!(resp3(shard.run(&["LPOS", "missing", "a"])), "_\r\n");
}

#[test]
fn ttl_is_kept_by_changes() {
    let mut shard = filled(&["a", "b", "c"]);
    shard.run(&["PEXPIRE", "l", "100000"]);
    shard.run(&["RPUSH", "l", "d"]);
    shard.run(&["LPOP", "l"]);
    shard.run(&["LSET", "l", "0", "x"]);
    assert_eq!(shard.wire(&["PTTL", "l"]), ":100000\r\n");
}

fn encoding(shard: &mut TestShard, key: &str) -> String {
    shard.wire(&["OBJECT", "ENCODING", key])
}

#[test]
fn encodings_as_redis() {
    let mut shard = TestShard::new();
    let small: Vec<String> = (0..129).map(|index| format!("{index:03}")).collect();
    let mut args = vec!["RPUSH", "l"];
    args.extend(small.iter().map(String::as_str));
    shard.run(&args);
    assert_eq!(encoding(&mut shard, "l"), "$8\r\nlistpack\r\n");
    let big = "x".repeat(9000);
    shard.run(&["RPUSH", "big", &big]);
    assert_eq!(encoding(&mut shard, "big"), "$9\r\nquicklist\r\n");
    // Redis compares the raw lengths with the limit: 700 entries of 10 bytes (7007 bytes)
    // stay a listpack although they encode to 8407; 900 (9007) make a quicklist, and
    // trimming to 100 (1207 bytes, one node) converts back.
    let many: Vec<String> = (0..700).map(|index| format!("item-{index:05}")).collect();
    let mut args = vec!["RPUSH", "p"];
    args.extend(many.iter().map(String::as_str));
    shard.run(&args);
    assert_eq!(encoding(&mut shard, "p"), "$8\r\nlistpack\r\n");
    let many: Vec<String> = (0..900).map(|index| format!("item-{index:05}")).collect();
    let mut args = vec!["RPUSH", "q"];
    args.extend(many.iter().map(String::as_str));
    shard.run(&args);
    assert_eq!(encoding(&mut shard, "q"), "$9\r\nquicklist\r\n");
    shard.run(&["LTRIM", "q", "0", "99"]);
    assert_eq!(encoding(&mut shard, "q"), "$8\r\nlistpack\r\n");
    assert_eq!(shard.wire(&["LINDEX", "q", "99"]), "$10\r\nitem-00099\r\n");
}
