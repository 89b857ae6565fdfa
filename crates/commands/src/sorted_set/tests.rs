//! Sorted-set family tests, driven through the command table in-process. Expected texts
//! are redis-server 7's replies to the same commands.

use crate::test_shard::TestShard;
use peregrine_resp::Reply;

/// A shard holding `k` = a:1 b:2 c:2 d:3 (b and c tie).
fn shard_with_ties() -> TestShard {
    let mut shard = TestShard::new();
    assert_eq!(
        shard.wire(&["ZADD", "k", "1", "a", "2", "c", "2", "b", "3", "d"]),
        ":4\r\n"
    );
    shard
}

#[test]
fn zadd_options_and_their_conflicts() {
    let mut shard = TestShard::new();
    let conflicts = [
        (
            &["ZADD", "k", "XX", "NX", "1", "a"][..],
            "ERR XX and NX options at the same time are not compatible",
        ),
        (
            &["ZADD", "k", "GT", "LT", "1", "a"][..],
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ),
        (
            &["ZADD", "k", "GT", "NX", "1", "a"][..],
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ),
        (
            &["ZADD", "k", "INCR", "1", "a", "2", "b"][..],
            "ERR INCR option supports a single increment-element pair",
        ),
        (&["ZADD", "k", "1", "a", "2"][..], "ERR syntax error"),
        (&["ZADD", "k", "1", "a", "XX"][..], "ERR syntax error"),
        (
            &["ZADD", "k", "nan", "a"][..],
            "ERR value is not a valid float",
        ),
        (
            &["ZADD", "k", "1", "a", "1e400x", "b"][..],
            "ERR value is not a valid float",
        ),
    ];
    for (args, expected) in conflicts {
        assert_eq!(shard.error(args), expected, "{args:?}");
    }
    assert_eq!(shard.wire(&["EXISTS", "k"]), ":0\r\n");
    assert_eq!(shard.wire(&["ZADD", "k", "XX", "1", "a"]), ":0\r\n");
    assert_eq!(shard.wire(&["EXISTS", "k"]), ":0\r\n");
    assert_eq!(
        shard.wire(&["ZADD", "k", "XX", "INCR", "1", "a"]),
        "$-1\r\n"
    );
    assert_eq!(
        shard.wire(&["ZADD", "k", "INCR", "1.5", "a"]),
        "$3\r\n1.5\r\n"
    );
    assert_eq!(
        shard.wire_resp3(&["ZADD", "k", "INCR", "-inf", "d"]),
        ",-inf\r\n"
    );
    assert_eq!(
        shard.wire(&["ZADD", "k", "NX", "INCR", "1", "a"]),
        "$-1\r\n"
    );
    assert_eq!(
        shard.wire(&["ZADD", "k", "CH", "5", "a", "5", "b", "-inf", "d"]),
        ":2\r\n"
    );
    assert_eq!(
        shard.wire(&["ZADD", "k", "GT", "CH", "4", "a", "6", "b"]),
        ":1\r\n"
    );
    assert_eq!(
        shard.wire(&["ZADD", "k", "LT", "CH", "9", "a", "1", "b"]),
        ":1\r\n"
    );
    assert_eq!(shard.wire(&["ZSCORE", "k", "a"]), "$1\r\n5\r\n");
    assert_eq!(shard.wire(&["ZSCORE", "k", "b"]), "$1\r\n1\r\n");
    assert_eq!(
        shard.wire(&["ZADD", "k", "GT", "XX", "CH", "INCR", "0", "a"]),
        "$-1\r\n"
    );
    assert_eq!(
        shard.wire(&["ZADD", "k", "INCR", "+inf", "z"]),
        "$3\r\ninf\r\n"
    );
    assert_eq!(
        shard.error(&["ZINCRBY", "k", "-inf", "z"]),
        "ERR resulting score is not a number (NaN)"
    );
    assert_eq!(
        shard.error(&["ZINCRBY", "k", "nan", "z"]),
        "ERR value is not a valid float"
    );
    assert_eq!(shard.wire(&["ZINCRBY", "k", "0.1", "b"]), "$3\r\n1.1\r\n");
    assert_eq!(shard.wire(&["ZINCRBY", "new", "2", "m"]), "$1\r\n2\r\n");
    assert_eq!(shard.wire(&["SET", "s", "v"]), "+OK\r\n");
    assert_eq!(
        shard.error(&["ZADD", "s", "1", "a"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}

#[test]
fn ties_order_by_member_and_ranks() {
    let mut shard = shard_with_ties();
    assert_eq!(
        shard.wire(&["ZRANGE", "k", "0", "-1"]),
        "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    assert_eq!(shard.wire(&["ZRANK", "k", "c"]), ":2\r\n");
    assert_eq!(shard.wire(&["ZREVRANK", "k", "c"]), ":1\r\n");
    assert_eq!(shard.wire(&["ZRANK", "k", "zz"]), "$-1\r\n");
    assert_eq!(
        shard.wire_resp3(&["ZRANK", "k", "b", "WITHSCORE"]),
        "*2\r\n:1\r\n,2\r\n"
    );
    assert_eq!(shard.wire(&["ZREVRANK", "k", "zz", "WITHSCORE"]), "*-1\r\n");
    assert_eq!(shard.error(&["ZRANK", "k", "a", "foo"]), "ERR syntax error");
    assert_eq!(
        shard.error(&["ZRANK", "k", "a", "withscore", "x"]),
        "ERR wrong number of arguments for 'zrank' command"
    );
    assert_eq!(shard.wire(&["ZCARD", "k"]), ":4\r\n");
    assert_eq!(shard.wire(&["ZCARD", "nothing"]), ":0\r\n");
    assert_eq!(
        shard.wire(&["ZMSCORE", "k", "d", "x"]),
        "*2\r\n$1\r\n3\r\n$-1\r\n"
    );
}

#[test]
fn score_ranges_with_infinities_exclusions_limit_and_rev() {
    let mut shard = shard_with_ties();
    assert_eq!(shard.wire(&["ZCOUNT", "k", "(1", "+inf"]), ":3\r\n");
    assert_eq!(shard.wire(&["ZCOUNT", "k", "(-inf", "(inf"]), ":4\r\n");
    assert_eq!(shard.wire(&["ZCOUNT", "k", "(2", "(3"]), ":0\r\n");
    assert_eq!(shard.wire(&["ZCOUNT", "k", "3", "1"]), ":0\r\n");
    assert_eq!(
        shard.error(&["ZCOUNT", "k", "(1", "a"]),
        "ERR min or max is not a float"
    );
    assert_eq!(
        shard.wire(&[
            "ZRANGEBYSCORE",
            "k",
            "2",
            "3",
            "WITHSCORES",
            "LIMIT",
            "1",
            "5"
        ]),
        "*4\r\n$1\r\nc\r\n$1\r\n2\r\n$1\r\nd\r\n$1\r\n3\r\n"
    );
    assert_eq!(
        shard.wire(&["ZREVRANGEBYSCORE", "k", "+inf", "-inf", "LIMIT", "1", "2"]),
        "*2\r\n$1\r\nc\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        shard.wire(&["ZRANGE", "k", "(3", "2", "BYSCORE", "REV"]),
        "*2\r\n$1\r\nc\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        shard.wire(&["ZRANGEBYSCORE", "k", "1", "2", "LIMIT", "-1", "-1"]),
        "*0\r\n"
    );
    assert_eq!(
        shard.wire(&["ZRANGEBYSCORE", "k", "1", "3", "LIMIT", "2", "-1"]),
        "*2\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    assert_eq!(
        shard.wire_resp3(&["ZRANGE", "k", "0", "0", "WITHSCORES"]),
        "*1\r\n*2\r\n$1\r\na\r\n,1\r\n"
    );
    assert_eq!(
        shard.wire(&["ZREVRANGE", "k", "0", "1"]),
        "*2\r\n$1\r\nd\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        shard
            .wire(&["ZRANGE", "k", "-100", "100"])
            .matches('$')
            .count(),
        4
    );
    assert_eq!(shard.wire(&["ZRANGE", "k", "2", "1"]), "*0\r\n");
    assert_eq!(shard.wire(&["ZRANGE", "missing", "0", "-1"]), "*0\r\n");
}

#[test]
fn zrange_option_errors() {
    let mut shard = shard_with_ties();
    let cases = [
        (
            &["ZRANGE", "k", "0", "-1", "LIMIT", "0", "1"][..],
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ),
        (
            &["ZRANGE", "k", "-", "+", "BYLEX", "WITHSCORES"][..],
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ),
        (
            &["ZRANGEBYLEX", "k", "-", "+", "WITHSCORES"][..],
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ),
        (
            &["ZRANGE", "k", "a", "b", "BYLEX"][..],
            "ERR min or max not valid string range item",
        ),
        (
            &["ZRANGE", "k", "0", "-1", "BYSCORE", "BYLEX"][..],
            "ERR syntax error",
        ),
        (
            &["ZRANGE", "k", "0", "-1", "REV", "REV"][..],
            "ERR syntax error",
        ),
        (
            &["ZRANGESTORE", "d", "k", "0", "-1", "WITHSCORES"][..],
            "ERR syntax error",
        ),
        (
            &["ZRANGEBYSCORE", "k", "1", "2", "LIMIT", "0"][..],
            "ERR syntax error",
        ),
        (
            &["ZREVRANGE", "k", "0", "1", "BYSCORE"][..],
            "ERR syntax error",
        ),
        (
            &["ZRANGE", "k", "x", "1"][..],
            "ERR value is not an integer or out of range",
        ),
        (
            &["ZREMRANGEBYRANK", "k", "a", "1"][..],
            "ERR value is not an integer or out of range",
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(shard.error(args), expected, "{args:?}");
    }
}

#[test]
fn binary_lex_ranges() {
    let mut shard = TestShard::new();
    shard.run(&[
        "ZADD", "k", "0", "a", "0", "b", "0", "\u{0}x", "0", "bb", "0", "c\u{ff}",
    ]);
    assert_eq!(shard.wire(&["ZLEXCOUNT", "k", "-", "+"]), ":5\r\n");
    assert_eq!(shard.wire(&["ZLEXCOUNT", "k", "(a", "[bb"]), ":2\r\n");
    assert_eq!(
        shard.wire(&["ZRANGEBYLEX", "k", "[\u{0}", "(b"]),
        "*2\r\n$2\r\n\u{0}x\r\n$1\r\na\r\n"
    );
    assert_eq!(
        shard.wire(&["ZREVRANGEBYLEX", "k", "+", "(bb", "LIMIT", "0", "1"]),
        "*1\r\n$3\r\nc\u{ff}\r\n"
    );
    assert_eq!(
        shard.wire(&["ZRANGE", "k", "[b", "[a", "BYLEX", "REV"]),
        "*2\r\n$1\r\nb\r\n$1\r\na\r\n"
    );
    assert_eq!(shard.wire(&["ZRANGEBYLEX", "k", "+", "-"]), "*0\r\n");
    assert_eq!(shard.wire(&["ZREMRANGEBYLEX", "k", "[b", "+"]), ":3\r\n");
    assert_eq!(
        shard.wire(&["ZREMRANGEBYSCORE", "k", "-inf", "(0"]),
        ":0\r\n"
    );
    assert_eq!(shard.wire(&["ZREMRANGEBYRANK", "k", "0", "-1"]), ":2\r\n");
    assert_eq!(shard.wire(&["EXISTS", "k"]), ":0\r\n");
}

#[test]
fn pops_and_their_reply_shapes() {
    let mut shard = shard_with_ties();
    assert_eq!(
        shard.wire_resp3(&["ZPOPMIN", "k"]),
        "*2\r\n$1\r\na\r\n,1\r\n"
    );
    assert_eq!(
        shard.wire_resp3(&["ZPOPMAX", "k", "1"]),
        "*1\r\n*2\r\n$1\r\nd\r\n,3\r\n"
    );
    assert_eq!(
        shard.error(&["ZPOPMIN", "k", "-1"]),
        "ERR value is out of range, must be positive"
    );
    assert_eq!(shard.wire(&["ZPOPMIN", "k", "0"]), "*0\r\n");
    assert_eq!(shard.wire(&["ZPOPMIN", "missing"]), "*0\r\n");
    assert_eq!(
        shard.wire(&["ZMPOP", "2", "missing", "k", "MAX", "COUNT", "5"]),
        "*2\r\n$1\r\nk\r\n*2\r\n*2\r\n$1\r\nc\r\n$1\r\n2\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    assert_eq!(shard.wire(&["EXISTS", "k"]), ":0\r\n");
    assert_eq!(shard.wire(&["ZMPOP", "1", "k", "MIN"]), "*-1\r\n");
    assert_eq!(shard.wire(&["BZPOPMIN", "k", "0"]), "*-1\r\n");
    assert_eq!(shard.wire(&["BZMPOP", "0", "1", "k", "MIN"]), "*-1\r\n");
    let cases = [
        (
            &["ZMPOP", "0", "k", "MIN"][..],
            "ERR numkeys should be greater than 0",
        ),
        (
            &["ZMPOP", "abc", "k", "MIN"][..],
            "ERR numkeys should be greater than 0",
        ),
        (&["ZMPOP", "1", "k", "foo"][..], "ERR syntax error"),
        (&["ZMPOP", "2", "k", "MIN"][..], "ERR syntax error"),
        (
            &["ZMPOP", "1", "k", "MIN", "COUNT", "0"][..],
            "ERR count should be greater than 0",
        ),
        (
            &["ZMPOP", "1", "k", "MIN", "COUNT", "1", "COUNT", "1"][..],
            "ERR syntax error",
        ),
        (
            &["BZMPOP", "abc", "1", "k", "MIN"][..],
            "ERR timeout is not a float or out of range",
        ),
        (&["BZPOPMAX", "k", "-1"][..], "ERR timeout is negative"),
    ];
    for (args, expected) in cases {
        assert_eq!(shard.error(args), expected, "{args:?}");
    }
    shard.run(&["ZADD", "z", "5", "m"]);
    assert_eq!(
        shard.wire_resp3(&["BZPOPMAX", "k", "z", "0"]),
        "*3\r\n$1\r\nz\r\n$1\r\nm\r\n,5\r\n"
    );
}

#[test]
fn set_algebra_with_weights_and_aggregates() {
    let mut shard = TestShard::new();
    shard.run(&["ZADD", "a", "1", "x", "2", "y", "3", "z"]);
    shard.run(&["ZADD", "b", "10", "y", "20", "z", "30", "w"]);
    assert_eq!(
        shard.wire(&["ZUNION", "2", "a", "b", "WITHSCORES"]),
        "*8\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$2\r\n12\r\n$1\r\nz\r\n$2\r\n23\r\n$1\r\nw\r\n$2\r\n30\r\n"
    );
    assert_eq!(
        shard.wire(&[
            "ZINTER",
            "2",
            "a",
            "b",
            "WEIGHTS",
            "2",
            "0.5",
            "AGGREGATE",
            "MAX",
            "WITHSCORES"
        ]),
        "*4\r\n$1\r\ny\r\n$1\r\n5\r\n$1\r\nz\r\n$2\r\n10\r\n"
    );
    assert_eq!(shard.wire(&["ZDIFF", "2", "a", "b"]), "*1\r\n$1\r\nx\r\n");
    assert_eq!(
        shard.wire(&["ZINTERCARD", "2", "a", "b", "LIMIT", "1"]),
        ":1\r\n"
    );
    assert_eq!(
        shard.wire(&["ZINTERCARD", "3", "a", "b", "missing"]),
        ":0\r\n"
    );
    assert_eq!(
        shard.wire(&["ZUNIONSTORE", "d", "2", "a", "b", "AGGREGATE", "MIN"]),
        ":4\r\n"
    );
    assert_eq!(shard.wire(&["ZSCORE", "d", "z"]), "$1\r\n3\r\n");
    assert_eq!(
        shard.wire(&["OBJECT", "ENCODING", "d"]),
        "$8\r\nlistpack\r\n"
    );
    assert_eq!(
        shard.wire(&["ZINTERSTORE", "d", "2", "a", "missing"]),
        ":0\r\n"
    );
    assert_eq!(shard.wire(&["EXISTS", "d"]), ":0\r\n");
    assert_eq!(shard.wire(&["ZADD", "inf", "inf", "x"]), ":1\r\n");
    assert_eq!(shard.wire(&["ZADD", "neg", "-inf", "x"]), ":1\r\n");
    assert_eq!(
        shard.wire(&["ZUNION", "2", "inf", "neg", "WITHSCORES"]),
        "*2\r\n$1\r\nx\r\n$1\r\n0\r\n"
    );
    let cases = [
        (
            &["ZUNIONSTORE", "d", "0", "a"][..],
            "ERR at least 1 input key is needed for 'zunionstore' command",
        ),
        (
            &["ZINTERCARD", "0", "a"][..],
            "ERR at least 1 input key is needed for 'zintercard' command",
        ),
        (
            &["ZUNIONSTORE", "d", "abc", "a"][..],
            "ERR value is not an integer or out of range",
        ),
        (&["ZUNIONSTORE", "d", "2", "a"][..], "ERR syntax error"),
        (
            &["ZUNIONSTORE", "d", "1", "a", "WEIGHTS", "x"][..],
            "ERR weight value is not a float",
        ),
        (
            &["ZUNIONSTORE", "d", "1", "a", "WEIGHTS", "1", "2"][..],
            "ERR syntax error",
        ),
        (
            &["ZUNION", "1", "a", "AGGREGATE", "foo"][..],
            "ERR syntax error",
        ),
        (
            &["ZINTERSTORE", "d", "1", "a", "WITHSCORES"][..],
            "ERR syntax error",
        ),
        (&["ZDIFF", "1", "a", "WEIGHTS", "1"][..], "ERR syntax error"),
        (
            &["ZINTERCARD", "1", "a", "LIMIT", "-1"][..],
            "ERR LIMIT can't be negative",
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(shard.error(args), expected, "{args:?}");
    }
    shard.run(&["SET", "str", "v"]);
    assert_eq!(
        shard.error(&["ZUNION", "2", "a", "str", "AGGREGATE", "foo"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}

#[test]
fn zrangestore_and_encodings() {
    let mut shard = TestShard::new();
    let mut args = vec!["ZADD".to_owned(), "big".to_owned()];
    for index in 0..200 {
        args.push(index.to_string());
        args.push(format!("m{index:03}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(shard.wire(&args), ":200\r\n");
    assert_eq!(
        shard.wire(&["OBJECT", "ENCODING", "big"]),
        "$8\r\nskiplist\r\n"
    );
    assert_eq!(
        shard.wire(&["ZRANGESTORE", "small", "big", "10", "19"]),
        ":10\r\n"
    );
    assert_eq!(
        shard.wire(&["OBJECT", "ENCODING", "small"]),
        "$8\r\nlistpack\r\n"
    );
    assert_eq!(
        shard.wire(&["ZRANGE", "small", "0", "0"]),
        "*1\r\n$4\r\nm010\r\n"
    );
    assert_eq!(
        shard.wire(&[
            "ZRANGESTORE",
            "small",
            "big",
            "(5",
            "7",
            "BYSCORE",
            "LIMIT",
            "0",
            "1"
        ]),
        ":1\r\n"
    );
    assert_eq!(
        shard.wire(&["ZRANGESTORE", "small", "missing", "0", "-1"]),
        ":0\r\n"
    );
    assert_eq!(shard.wire(&["EXISTS", "small"]), ":0\r\n");
    assert_eq!(
        shard.wire(&["ZREMRANGEBYRANK", "big", "0", "189"]),
        ":190\r\n"
    );
    assert_eq!(
        shard.wire(&["OBJECT", "ENCODING", "big"]),
        "$8\r\nskiplist\r\n"
    );
    assert_eq!(
        shard.wire(&["ZRANGE", "big", "0", "0"]),
        "*1\r\n$4\r\nm190\r\n"
    );
    assert_eq!(shard.wire(&["ZRANK", "big", "m199"]), ":9\r\n");
    let long = "x".repeat(65);
    assert_eq!(shard.wire(&["ZADD", "long", "1", &long]), ":1\r\n");
    assert_eq!(
        shard.wire(&["OBJECT", "ENCODING", "long"]),
        "$8\r\nskiplist\r\n"
    );
}

#[test]
fn zrandmember_and_zscan() {
    let mut shard = shard_with_ties();
    assert_eq!(shard.wire(&["ZRANDMEMBER", "missing"]), "$-1\r\n");
    assert_eq!(shard.wire(&["ZRANDMEMBER", "missing", "3"]), "*0\r\n");
    assert_eq!(shard.wire(&["ZRANDMEMBER", "k", "0"]), "*0\r\n");
    assert_eq!(
        shard.wire(&["ZRANDMEMBER", "k", "10"]).matches('$').count(),
        4
    );
    assert_eq!(
        shard
            .wire(&["ZRANDMEMBER", "k", "-10"])
            .matches('$')
            .count(),
        10
    );
    let Reply::Pairs(pairs) = shard.run(&["ZRANDMEMBER", "k", "3", "WITHSCORES"]) else {
        panic!("pairs expected");
    };
    let mut members: Vec<Reply> = pairs.into_iter().map(|(member, _)| member).collect();
    members.dedup();
    assert_eq!(members.len(), 3);
    assert_eq!(
        shard.error(&["ZRANDMEMBER", "k", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(
        shard.error(&["ZRANDMEMBER", "k", "5", "WITHSCORES", "x"]),
        "ERR syntax error"
    );
    assert_eq!(
        shard.wire(&["ZSCAN", "k", "0", "MATCH", "[ab]"]),
        "*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    assert_eq!(shard.error(&["ZSCAN", "k", "abc"]), "ERR invalid cursor");
    assert_eq!(
        shard.error(&["ZSCAN", "k", "0", "COUNT", "0"]),
        "ERR syntax error"
    );
}

#[test]
fn zscan_covers_a_big_set() {
    let mut shard = TestShard::new();
    for index in 0..500 {
        shard.run(&["ZADD", "big", &index.to_string(), &format!("m{index}")]);
    }
    let mut cursor = "0".to_owned();
    let mut seen = std::collections::HashSet::new();
    loop {
        let Reply::Array(parts) = shard.run(&["ZSCAN", "big", &cursor, "COUNT", "50"]) else {
            panic!("array expected");
        };
        let [Reply::Bulk(next), Reply::Array(items)] = &parts[..] else {
            panic!("cursor and items expected");
        };
        for pair in items.chunks(2) {
            if let Reply::Bulk(member) = &pair[0] {
                seen.insert(member.clone());
            }
        }
        cursor = String::from_utf8_lossy(next).into_owned();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 500);
}
