//! The bitmap family driven in-process; expected replies checked against redis-server.

use crate::test_shard::TestShard;
use peregrine_resp::Reply;

const OFFSET_ERROR: &str = "-ERR bit offset is not an integer or out of range\r\n";
const TYPE_ERROR: &str = "-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n";
const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

#[test]
fn setbit_and_getbit_share_bytes_with_strings() {
    let mut shard = TestShard::new();
    assert_eq!(shard.wire(&["SETBIT", "k", "1", "1"]), ":0\r\n");
    assert_eq!(shard.wire(&["SETBIT", "k", "7", "1"]), ":0\r\n");
    assert_eq!(shard.wire(&["GET", "k"]), "$1\r\nA\r\n");
    assert_eq!(shard.wire(&["SETBIT", "k", "7", "0"]), ":1\r\n");
    assert_eq!(shard.wire(&["GETBIT", "k", "1"]), ":1\r\n");
    assert_eq!(shard.wire(&["GETBIT", "k", "100"]), ":0\r\n");
    assert_eq!(shard.wire(&["GETBIT", "missing", "3"]), ":0\r\n");
    // Growing pads with zero bytes.
    assert_eq!(shard.wire(&["SETBIT", "k", "23", "1"]), ":0\r\n");
    assert_eq!(shard.wire(&["GET", "k"]), "$3\r\n@\0\x01\r\n");
    // An integer-encoded string is read through its text and converted on write.
    shard.run(&["SET", "n", "12345"]);
    assert_eq!(shard.wire(&["OBJECT", "ENCODING", "n"]), "$3\r\nint\r\n");
    assert_eq!(shard.wire(&["GETBIT", "n", "2"]), ":1\r\n");
    assert_eq!(shard.wire(&["SETBIT", "n", "0", "1"]), ":0\r\n");
    assert_eq!(shard.run(&["GET", "n"]), Reply::bulk(b"\xb12345"));
    assert_eq!(shard.wire(&["OBJECT", "ENCODING", "n"]), "$3\r\nraw\r\n");
    // Even an unchanged bit unshares the value, as Redis's dbUnshareStringValue.
    shard.run(&["SET", "e", "abc"]);
    assert_eq!(shard.wire(&["SETBIT", "e", "1", "1"]), ":1\r\n");
    assert_eq!(shard.wire(&["OBJECT", "ENCODING", "e"]), "$3\r\nraw\r\n");
    shard.run(&["LPUSH", "list", "a"]);
    assert_eq!(shard.wire(&["SETBIT", "list", "0", "1"]), WRONGTYPE);
    assert_eq!(shard.wire(&["GETBIT", "list", "0"]), WRONGTYPE);
}

#[test]
fn offsets_and_bit_values_are_checked_first() {
    let mut shard = TestShard::new();
    shard.run(&["LPUSH", "list", "a"]);
    for offset in [
        "-1",
        "4294967296",
        "abc",
        "",
        "1.5",
        "#1",
        "18446744073709551616",
    ] {
        assert_eq!(
            shard.wire(&["SETBIT", "list", offset, "1"]),
            OFFSET_ERROR,
            "{offset}"
        );
        assert_eq!(
            shard.wire(&["GETBIT", "list", offset]),
            OFFSET_ERROR,
            "{offset}"
        );
    }
    for value in ["2", "-1", "x", ""] {
        assert_eq!(
            shard.wire(&["SETBIT", "list", "0", value]),
            "-ERR bit is not an integer or out of range\r\n"
        );
    }
    // The largest offset 512 MB allows is accepted by GETBIT.
    assert_eq!(shard.wire(&["GETBIT", "k", "4294967295"]), ":0\r\n");
}

#[test]
fn bitcount_ranges_in_bytes_and_bits() {
    let mut shard = TestShard::new();
    shard.run(&["SET", "k", "foobar"]);
    assert_eq!(shard.wire(&["BITCOUNT", "k"]), ":26\r\n");
    assert_eq!(shard.wire(&["BITCOUNT", "k", "0", "0"]), ":4\r\n");
    assert_eq!(shard.wire(&["BITCOUNT", "k", "1", "1"]), ":6\r\n");
    assert_eq!(shard.wire(&["BITCOUNT", "k", "1", "1", "BYTE"]), ":6\r\n");
    assert_eq!(shard.wire(&["BITCOUNT", "k", "5", "30", "BIT"]), ":17\r\n");
    assert_eq!(shard.wire(&["BITCOUNT", "k", "-3", "-1", "bit"]), ":1\r\n");
    assert_eq!(shard.wire(&["BITCOUNT", "k", "0", "-100"]), ":4\r\n");
    assert_eq!(shard.wire(&["BITCOUNT", "k", "-100", "100"]), ":26\r\n");
    // Two negative bounds in the wrong order answer 0 before the unit is read.
    assert_eq!(shard.wire(&["BITCOUNT", "k", "-1", "-2", "foo"]), ":0\r\n");
    assert_eq!(
        shard.wire(&["BITCOUNT", "k", "0", "1", "foo"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(shard.wire(&["BITCOUNT", "k", "0"]), "-ERR syntax error\r\n");
    assert_eq!(
        shard.wire(&["BITCOUNT", "k", "a", "1"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    // Redis 7.2 answers 0 for a missing key before it parses anything.
    assert_eq!(shard.wire(&["BITCOUNT", "missing", "0"]), ":0\r\n");
    assert_eq!(shard.wire(&["BITCOUNT", "missing", "a", "b"]), ":0\r\n");
    shard.run(&["SET", "n", "12"]);
    assert_eq!(shard.wire(&["BITCOUNT", "n"]), ":6\r\n");
    shard.run(&["SET", "empty", ""]);
    assert_eq!(
        shard.wire(&["BITCOUNT", "empty", "0", "-1", "BIT"]),
        ":0\r\n"
    );
    shard.run(&["SADD", "set", "a"]);
    assert_eq!(shard.wire(&["BITCOUNT", "set", "x"]), WRONGTYPE);
}

#[test]
fn bitpos_follows_the_end_given_rules() {
    let mut shard = TestShard::new();
    shard.run(&["SET", "k", "\u{0}\u{7f}"]);
    shard.run(&["SET", "ones", "\u{7f}"]);
    assert_eq!(shard.wire(&["SETBIT", "ones", "0", "1"]), ":0\r\n");
    assert_eq!(shard.wire(&["BITPOS", "k", "1"]), ":9\r\n");
    assert_eq!(shard.wire(&["BITPOS", "k", "0"]), ":0\r\n");
    assert_eq!(shard.wire(&["BITPOS", "k", "1", "1"]), ":9\r\n");
    assert_eq!(shard.wire(&["BITPOS", "k", "1", "2"]), ":-1\r\n");
    // All ones: without an end the first clear bit is past the string.
    assert_eq!(shard.wire(&["BITPOS", "ones", "0"]), ":8\r\n");
    assert_eq!(shard.wire(&["BITPOS", "ones", "0", "0"]), ":8\r\n");
    assert_eq!(shard.wire(&["BITPOS", "ones", "0", "0", "-1"]), ":-1\r\n");
    assert_eq!(
        shard.wire(&["BITPOS", "ones", "0", "3", "-1", "BIT"]),
        ":-1\r\n"
    );
    assert_eq!(
        shard.wire(&["BITPOS", "ones", "0", "3", "-1", "BYTE"]),
        ":-1\r\n"
    );
    // BIT ranges mask the partial bytes.
    assert_eq!(
        shard.wire(&["BITPOS", "k", "1", "7", "15", "BIT"]),
        ":9\r\n"
    );
    assert_eq!(
        shard.wire(&["BITPOS", "k", "1", "10", "12", "BIT"]),
        ":10\r\n"
    );
    assert_eq!(
        shard.wire(&["BITPOS", "k", "0", "9", "-1", "BIT"]),
        ":-1\r\n"
    );
    assert_eq!(
        shard.wire(&["BITPOS", "k", "0", "-1", "-1", "BIT"]),
        ":-1\r\n"
    );
    assert_eq!(shard.wire(&["BITPOS", "k", "0", "2", "5", "bit"]), ":2\r\n");
    shard.run(&["SET", "foobar", "foobar"]);
    assert_eq!(
        shard.wire(&["BITPOS", "foobar", "0", "-1", "-1", "bit"]),
        ":47\r\n"
    );
    // Errors: the bit first, then the key, then the range (start, unit, end).
    assert_eq!(
        shard.wire(&["BITPOS", "k", "2"]),
        "-ERR The bit argument must be 1 or 0.\r\n"
    );
    assert_eq!(
        shard.wire(&["BITPOS", "missing", "1", "a", "b", "c", "d"]),
        ":-1\r\n"
    );
    assert_eq!(shard.wire(&["BITPOS", "missing", "0", "x"]), ":0\r\n");
    assert_eq!(
        shard.wire(&["BITPOS", "k", "1", "0", "a", "foo"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        shard.wire(&["BITPOS", "k", "1", "0", "a", "bit"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        shard.wire(&["BITPOS", "k", "1", "0", "1", "bit", "x"]),
        "-ERR syntax error\r\n"
    );
    shard.run(&["SET", "empty", ""]);
    assert_eq!(shard.wire(&["BITPOS", "empty", "0"]), ":-1\r\n");
    assert_eq!(shard.wire(&["BITPOS", "empty", "1"]), ":-1\r\n");
}

#[test]
fn bitop_combines_and_stores() {
    let mut shard = TestShard::new();
    shard.run(&["SET", "a", "foobar"]);
    shard.run(&["SET", "b", "abcdef"]);
    assert_eq!(shard.wire(&["BITOP", "AND", "d", "a", "b"]), ":6\r\n");
    assert_eq!(shard.wire(&["GET", "d"]), "$6\r\n`bc`ab\r\n");
    assert_eq!(shard.wire(&["OBJECT", "ENCODING", "d"]), "$3\r\nraw\r\n");
    assert_eq!(shard.wire(&["BITOP", "or", "d", "a", "missing"]), ":6\r\n");
    assert_eq!(shard.wire(&["GET", "d"]), "$6\r\nfoobar\r\n");
    shard.run(&["SET", "short", "\u{1}"]);
    assert_eq!(shard.wire(&["BITOP", "AND", "d", "a", "short"]), ":6\r\n");
    assert_eq!(shard.wire(&["GET", "d"]), "$6\r\n\0\0\0\0\0\0\r\n");
    assert_eq!(shard.wire(&["BITOP", "XOR", "d", "a", "a"]), ":6\r\n");
    assert_eq!(shard.wire(&["BITCOUNT", "d"]), ":0\r\n");
    assert_eq!(shard.wire(&["BITOP", "NOT", "d", "short"]), ":1\r\n");
    assert_eq!(shard.run(&["GET", "d"]), Reply::bulk(b"\xfe"));
    shard.run(&["SET", "n", "12"]);
    assert_eq!(shard.wire(&["BITOP", "NOT", "d", "n"]), ":2\r\n");
    // Every source empty: the destination is deleted, its TTL with it.
    shard.run(&["EXPIRE", "d", "100"]);
    assert_eq!(
        shard.wire(&["BITOP", "OR", "d", "missing", "nothing"]),
        ":0\r\n"
    );
    assert_eq!(shard.wire(&["EXISTS", "d"]), ":0\r\n");
    shard.run(&["SET", "d", "x", "EX", "100"]);
    assert_eq!(shard.wire(&["BITOP", "OR", "d", "a"]), ":6\r\n");
    assert_eq!(shard.wire(&["TTL", "d"]), ":-1\r\n");
    assert_eq!(
        shard.wire(&["BITOP", "NOT", "d", "a", "b"]),
        "-ERR BITOP NOT must be called with a single source key.\r\n"
    );
    for name in ["DIFF", "ONE", "ANDOR", "foo"] {
        assert_eq!(
            shard.wire(&["BITOP", name, "d", "a"]),
            "-ERR syntax error\r\n"
        );
    }
    assert_eq!(
        shard.wire(&["BITOP", "AND", "d"]),
        "-ERR wrong number of arguments for 'bitop' command\r\n"
    );
    shard.run(&["LPUSH", "list", "x"]);
    assert_eq!(shard.wire(&["BITOP", "AND", "d", "a", "list"]), WRONGTYPE);
    assert_eq!(shard.wire(&["GET", "d"]), "$6\r\nfoobar\r\n");
}

#[test]
fn bitop_long_inputs_match_a_bytewise_model() {
    let mut shard = TestShard::new();
    let first: String = (0..100u32)
        .map(|index| char::from(b'a' + (index % 26) as u8))
        .collect();
    let second: String = (0..77u32)
        .map(|index| char::from(b'0' + (index % 10) as u8))
        .collect();
    shard.run(&["SET", "x", &first]);
    shard.run(&["SET", "y", &second]);
    for (name, operation) in [
        ("AND", (|a: u8, b: u8| a & b) as fn(u8, u8) -> u8),
        ("OR", |a, b| a | b),
        ("XOR", |a, b| a ^ b),
    ] {
        assert_eq!(shard.wire(&["BITOP", name, "d", "x", "y"]), ":100\r\n");
        let expected: Vec<u8> = (0..100)
            .map(|index| {
                let b = second.as_bytes().get(index).copied().unwrap_or(0);
                operation(first.as_bytes()[index], b)
            })
            .collect();
        let Reply::Bulk(stored) = shard.run(&["GET", "d"]) else {
            panic!("GET d is not a bulk string");
        };
        assert_eq!(&stored[..], &expected[..], "{name}");
    }
}

#[test]
fn bitfield_reads_writes_and_overflows() {
    let mut shard = TestShard::new();
    assert_eq!(
        shard.wire(&["BITFIELD", "k", "SET", "i8", "0", "100", "GET", "u4", "0"]),
        "*2\r\n:0\r\n:6\r\n"
    );
    assert_eq!(
        shard.wire(&[
            "BITFIELD", "k", "INCRBY", "i8", "0", "100", "OVERFLOW", "SAT", "INCRBY", "i8", "0",
            "100"
        ]),
        "*2\r\n:-56\r\n:44\r\n"
    );
    assert_eq!(
        shard.wire(&[
            "BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "i8", "0", "100", "GET", "i8", "0"
        ]),
        "*2\r\n$-1\r\n:44\r\n"
    );
    shard.run(&["SET", "s", "foobar"]);
    assert_eq!(
        shard.wire(&[
            "BITFIELD", "s", "SET", "i64", "0", "-1", "INCRBY", "i64", "0", "1", "OVERFLOW", "SAT",
            "INCRBY", "i8", "0", "-200", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "300"
        ]),
        "*4\r\n:7381240782615871488\r\n:0\r\n:-128\r\n$-1\r\n"
    );
    // `#n` counts fields of the type's width; the product wraps as in C.
    shard.run(&["SET", "s", "foobar"]);
    assert_eq!(
        shard.wire(&["BITFIELD", "s", "GET", "u8", "#1"]),
        "*1\r\n:111\r\n"
    );
    assert_eq!(
        shard.wire(&["BITFIELD", "s", "GET", "u8", "#2305843009213693953"]),
        "*1\r\n:111\r\n"
    );
    assert_eq!(
        shard.wire(&["BITFIELD", "s", "GET", "i5", "100000"]),
        "*1\r\n:0\r\n"
    );
    assert_eq!(shard.wire(&["BITFIELD", "s"]), "*0\r\n");
    assert_eq!(
        shard.wire(&["BITFIELD_RO", "s", "GET", "u63", "0"]),
        "*1\r\n:3690620391307935744\r\n"
    );
    // A write that FAIL refuses still creates the string, without a setbit event.
    shard.notify_keyspace_events("KEA");
    assert_eq!(
        shard.events(&["BITFIELD", "new", "OVERFLOW", "FAIL", "SET", "u1", "0", "2"]),
        Vec::<String>::new()
    );
    assert_eq!(shard.wire(&["GET", "new"]), "$1\r\n\0\r\n");
}

#[test]
fn bitfield_errors_come_before_the_lookup() {
    let mut shard = TestShard::new();
    shard.run(&["SET", "k", "x"]);
    shard.run(&["LPUSH", "list", "x"]);
    for field_type in ["u64", "i65", "i0", "I8", "i08", "8", "", "u"] {
        assert_eq!(
            shard.wire(&["BITFIELD", "list", "GET", field_type, "0"]),
            TYPE_ERROR
        );
    }
    for offset in ["#-1", "#", "#+1", "+1", "-1", "4294967296", "#536870912"] {
        assert_eq!(
            shard.wire(&["BITFIELD", "list", "GET", "u8", offset]),
            OFFSET_ERROR,
            "{offset}"
        );
    }
    assert_eq!(
        shard.wire(&["BITFIELD", "k", "GET", "u8", "4294967295"]),
        "*1\r\n:0\r\n"
    );
    assert_eq!(
        shard.wire(&["BITFIELD", "list", "GET", "i8"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        shard.wire(&["BITFIELD", "list", "FOO"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        shard.wire(&["BITFIELD", "list", "OVERFLOW"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        shard.wire(&["BITFIELD", "list", "OVERFLOW", "foo", "GET", "i8", "0"]),
        "-ERR Invalid OVERFLOW type specified\r\n"
    );
    assert_eq!(
        shard.wire(&["BITFIELD", "list", "SET", "i8", "0", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        shard.wire(&["BITFIELD", "list", "GET", "i8", "0"]),
        WRONGTYPE
    );
    assert_eq!(
        shard.wire(&["BITFIELD", "list", "SET", "i8", "0", "1"]),
        WRONGTYPE
    );
    assert_eq!(shard.wire(&["BITFIELD", "list"]), WRONGTYPE);
    assert_eq!(
        shard.wire(&["BITFIELD_RO", "k", "SET", "i8", "0", "1"]),
        "-ERR BITFIELD_RO only supports the GET subcommand\r\n"
    );
    assert_eq!(
        shard.wire(&[
            "BITFIELD_RO",
            "k",
            "GET",
            "i8",
            "0",
            "SET",
            "i8",
            "0",
            "foo"
        ]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(shard.wire(&["BITFIELD_RO", "missing"]), "*0\r\n");
}

#[test]
fn events_follow_redis() {
    let mut shard = TestShard::new();
    shard.notify_keyspace_events("KEA");
    assert_eq!(shard.events(&["SETBIT", "k", "3", "1"]), ["k:setbit"]);
    // An unchanged bit in a string that does not grow is no event.
    assert_eq!(
        shard.events(&["SETBIT", "k", "3", "1"]),
        Vec::<String>::new()
    );
    // Growing is a change even when the bit is 0.
    assert_eq!(shard.events(&["SETBIT", "k", "100", "0"]), ["k:setbit"]);
    assert_eq!(
        shard.events(&["BITFIELD", "k", "SET", "u8", "0", "16"]),
        Vec::<String>::new()
    );
    assert_eq!(
        shard.events(&["BITFIELD", "k", "INCRBY", "u8", "0", "1"]),
        ["k:setbit"]
    );
    assert_eq!(
        shard.events(&["BITFIELD", "k", "GET", "u8", "0"]),
        Vec::<String>::new()
    );
    assert_eq!(shard.events(&["BITOP", "NOT", "d", "k"]), ["d:set"]);
    assert_eq!(shard.events(&["BITOP", "AND", "d", "none"]), ["d:del"]);
    assert_eq!(
        shard.events(&["BITOP", "AND", "d", "none"]),
        Vec::<String>::new()
    );
    shard.notify_keyspace_events("KEAn");
    assert_eq!(
        shard.events(&["SETBIT", "fresh", "0", "0"]),
        ["fresh:new", "fresh:setbit"]
    );
    assert_eq!(
        shard.events(&["BITOP", "OR", "dest", "fresh"]),
        ["dest:new", "dest:set"]
    );
    shard.notify_keyspace_events("KEAm");
    assert_eq!(shard.events(&["GETBIT", "gone", "0"]), ["gone:keymiss"]);
    assert_eq!(
        shard.events(&["BITFIELD", "gone", "GET", "u8", "0"]),
        ["gone:keymiss"]
    );
    assert_eq!(
        shard.events(&["BITFIELD", "gone", "SET", "u8", "0", "0"]),
        ["gone:setbit"]
    );
}
