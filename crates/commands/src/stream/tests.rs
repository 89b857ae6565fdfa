use crate::rebuild::rebuild;
use crate::test_shard::TestShard;

fn ids(shard: &mut TestShard, args: &[&str]) -> String {
    shard.wire(args)
}

#[test]
fn xadd_generates_ids_as_redis() {
    let mut shard = TestShard::new();
    let now = shard.now;
    assert_eq!(
        ids(&mut shard, &["XADD", "s", "*", "f", "v"]),
        format!("${}\r\n{now}-0\r\n", format!("{now}-0").len())
    );
    let next = format!("{now}-1");
    assert_eq!(
        ids(&mut shard, &["XADD", "s", "*", "f", "v"]),
        format!("${}\r\n{next}\r\n", next.len())
    );
    let later = now + 5;
    let partial = format!("{later}-*");
    let expected = format!("{later}-0");
    assert_eq!(
        ids(&mut shard, &["XADD", "s", &partial, "f", "v"]),
        format!("${}\r\n{expected}\r\n", expected.len())
    );
    assert_eq!(
        shard.error(&["XADD", "s", "5", "f", "v"]),
        "ERR The ID specified in XADD is equal or smaller than the target stream top item"
    );
    shard.run(&["XSETID", "s", "18446744073709551615-18446744073709551615"]);
    assert_eq!(
        shard.error(&["XADD", "s", "*", "f", "v"]),
        "ERR The stream has exhausted the last possible ID, unable to add more items"
    );
    assert_eq!(shard.wire(&["XADD", "t", "0-*", "f", "v"]), "$3\r\n0-1\r\n");
}

#[test]
fn xread_and_xreadgroup_reply_per_stream() {
    let mut shard = TestShard::new();
    shard.run(&["XADD", "s", "1-1", "f", "v"]);
    shard.run(&["XADD", "s", "2-1", "g", "w"]);
    assert_eq!(
        shard.wire(&["XREAD", "COUNT", "1", "STREAMS", "s", "nokey", "1-1", "0"]),
        "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$1\r\ng\r\n$1\r\nw\r\n"
    );
    assert_eq!(shard.wire_resp3(&["XREAD", "STREAMS", "s", "2-1"]), "_\r\n");
    shard.run(&["XGROUP", "CREATE", "s", "g", "0"]);
    shard.run(&["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"]);
    assert_eq!(
        shard.wire(&["XPENDING", "s", "g"]),
        "*4\r\n:2\r\n$3\r\n1-1\r\n$3\r\n2-1\r\n*1\r\n*2\r\n$5\r\nalice\r\n$1\r\n2\r\n"
    );
    shard.run(&["XDEL", "s", "1-1"]);
    // History shows a deleted pending entry with a null body.
    assert_eq!(
        shard.wire(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            "0"
        ]),
        "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*-1\r\n"
    );
    // XAUTOCLAIM drops it from the PEL and reports it.
    assert_eq!(
        shard.wire(&["XAUTOCLAIM", "s", "g", "bob", "0", "0", "JUSTID"]),
        "*3\r\n$3\r\n0-0\r\n*1\r\n$3\r\n2-1\r\n*1\r\n$3\r\n1-1\r\n"
    );
    assert_eq!(shard.wire(&["XACK", "s", "g", "2-1", "1-1"]), ":1\r\n");
}

#[test]
fn rebuild_recreates_entries_tombstones_groups_and_counters() {
    let mut source = TestShard::new();
    for ms in 1..=250 {
        let id = format!("{ms}-1");
        let value = "x".repeat(ms % 7 * 11);
        source.run(&["XADD", "s", &id, "f", &value, "n", "1"]);
    }
    source.run(&["XTRIM", "s", "MINID", "=", "50"]);
    source.run(&["XDEL", "s", "120-1", "121-1", "240-1"]);
    source.run(&["XGROUP", "CREATE", "s", "g", "0", "ENTRIESREAD", "3"]);
    source.run(&["XGROUP", "CREATE", "s", "h", "$"]);
    source.run(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "90",
        "STREAMS",
        "s",
        ">",
    ]);
    source.run(&["XGROUP", "CREATECONSUMER", "s", "g", "idle"]);
    source.run(&["XDEL", "s", "60-1"]);
    source.run(&[
        "XSETID",
        "s",
        "250-1",
        "ENTRIESADDED",
        "400",
        "MAXDELETEDID",
        "245-0",
    ]);
    // Pending entries whose message went with a whole node (trimmed) or was deleted.
    source.run(&["XGROUP", "CREATE", "s", "old", "0"]);
    source.run(&[
        "XREADGROUP",
        "GROUP",
        "old",
        "bob",
        "COUNT",
        "2",
        "STREAMS",
        "s",
        ">",
    ]);
    source.run(&["XTRIM", "s", "MINID", "~", "150"]);
    source.run(&["XGROUP", "CREATE", "empty", "g", "$", "MKSTREAM"]);
    source.run(&["XGROUP", "CREATE", "bare", "g", "$", "MKSTREAM"]);
    source.run(&["XGROUP", "DESTROY", "bare", "g"]);
    let mut target = TestShard::new();
    for key in ["s", "empty", "bare"] {
        let now = source.now;
        let value = source
            .keyspace
            .db(source.db)
            .get(key.as_bytes(), now)
            .cloned()
            .unwrap()
            .value;
        rebuild(key.as_bytes(), &value, None, &mut |argv: &[&[u8]]| {
            let args: Vec<String> = argv
                .iter()
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect();
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            assert!(!target.run(&refs).is_error(), "{refs:?}");
        });
    }
    for probe in [
        vec!["XINFO", "STREAM", "s", "FULL", "COUNT", "0"],
        vec!["XINFO", "GROUPS", "s"],
        vec!["XINFO", "CONSUMERS", "s", "g"],
        vec!["XPENDING", "s", "g", "-", "+", "1000"],
        vec!["XPENDING", "s", "old", "-", "+", "1000"],
        vec!["XINFO", "STREAM", "empty"],
        vec!["XINFO", "GROUPS", "empty"],
        vec!["XINFO", "STREAM", "bare"],
    ] {
        assert_eq!(source.wire(&probe), target.wire(&probe), "{probe:?}");
    }
}

/// A pending entry whose entry is gone (trimmed, or deleted with its whole node) is kept
/// by a rebuild, as by Redis's RDB: it was lost when no command could create it.
#[test]
fn rebuild_keeps_pending_entries_whose_entries_are_gone() {
    let mut source = TestShard::new();
    for ms in 1..=250 {
        source.run(&["XADD", "s", &format!("{ms}-1"), "f", "v"]);
    }
    source.run(&["XGROUP", "CREATE", "s", "g", "0"]);
    source.run(&["XGROUP", "CREATE", "s", "h", "$"]);
    source.run(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "120",
        "STREAMS",
        "s",
        ">",
    ]);
    source.run(&["XCLAIM", "s", "g", "bob", "0", "5-1", "RETRYCOUNT", "7"]);
    // The first node goes whole; the second is emptied by XDEL, which removes it.
    source.run(&["XTRIM", "s", "MAXLEN", "150"]);
    let second: Vec<String> = (101..=200).map(|ms| format!("{ms}-1")).collect();
    let mut xdel = vec!["XDEL", "s"];
    xdel.extend(second.iter().map(String::as_str));
    source.run(&xdel);
    source.run(&["XADD", "t", "1-0", "a", "1"]);
    source.run(&["XADD", "t", "2-0", "b", "2"]);
    source.run(&["XGROUP", "CREATE", "t", "g", "0"]);
    source.run(&["XREADGROUP", "GROUP", "g", "carol", "STREAMS", "t", ">"]);
    source.run(&["XTRIM", "t", "MAXLEN", "0"]);
    let mut target = TestShard::new();
    for key in ["s", "t"] {
        let now = source.now;
        let value = source
            .keyspace
            .db(source.db)
            .get(key.as_bytes(), now)
            .cloned()
            .unwrap()
            .value;
        rebuild(key.as_bytes(), &value, None, &mut |argv: &[&[u8]]| {
            let args: Vec<String> = argv
                .iter()
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect();
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            assert!(!target.run(&refs).is_error(), "{refs:?}");
        });
    }
    assert!(source
        .wire(&["XPENDING", "s", "g"])
        .starts_with("*4\r\n:120\r\n"));
    for key in ["s", "t"] {
        for probe in [
            vec!["XINFO", "STREAM", key, "FULL", "COUNT", "0"],
            vec!["XINFO", "GROUPS", key],
            vec!["XINFO", "CONSUMERS", key, "g"],
            vec!["XPENDING", key, "g", "-", "+", "1000"],
        ] {
            assert_eq!(source.wire(&probe), target.wire(&probe), "{probe:?}");
        }
    }
}

/// Regression: XCLAIM's IDLE was subtracted from the time unchecked, so IDLE
/// -9223372036854775808 overflowed (a panic: overflow checks are on in release too).
#[test]
fn xclaim_idle_out_of_range_claims_as_now() {
    let mut shard = TestShard::new();
    shard.run(&["XADD", "s", "1-0", "f", "v"]);
    shard.run(&["XGROUP", "CREATE", "s", "g", "0"]);
    shard.run(&["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"]);
    assert_eq!(
        shard.wire(&[
            "XCLAIM",
            "s",
            "g",
            "bob",
            "0",
            "1-0",
            "IDLE",
            "-9223372036854775808",
            "JUSTID"
        ]),
        "*1\r\n$3\r\n1-0\r\n"
    );
    assert_eq!(
        shard.wire(&["XPENDING", "s", "g", "-", "+", "10"]),
        "*1\r\n*4\r\n$3\r\n1-0\r\n$3\r\nbob\r\n:0\r\n:1\r\n"
    );
}

/// Regression: a group's read counter set to i64::MAX with ENTRIESREAD and then read on
/// overflowed when XINFO computed its lag. Redis's C counter wraps; so do ours.
#[test]
fn entries_read_past_i64_max_wraps_as_redis() {
    let mut shard = TestShard::new();
    shard.run(&["XADD", "s", "1-0", "f", "v"]);
    shard.run(&[
        "XGROUP",
        "CREATE",
        "s",
        "g",
        "0",
        "ENTRIESREAD",
        "9223372036854775807",
    ]);
    shard.run(&["XADD", "s", "2-0", "f", "v"]);
    shard.run(&["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"]);
    let groups = shard.wire(&["XINFO", "GROUPS", "s"]);
    assert!(
        groups.ends_with(
            "$12\r\nentries-read\r\n:-9223372036854775807\r\n$3\r\nlag\r\n:-9223372036854775807\r\n"
        ),
        "{groups}"
    );
}

/// Regression: Redis marks XREADGROUP's `>` as the largest ID, so that ID given in full
/// reads new entries; we read the (empty) history instead.
#[test]
fn xreadgroup_largest_id_reads_new_entries() {
    let mut shard = TestShard::new();
    shard.run(&["XADD", "s", "1-0", "f", "v"]);
    shard.run(&["XGROUP", "CREATE", "s", "g", "0"]);
    assert_eq!(
        shard.wire(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "STREAMS",
            "s",
            "18446744073709551615-18446744073709551615"
        ]),
        "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
}

/// Regression: an approximate trim without LIMIT is capped at 100 nodes' worth of
/// entries, and Redis caps it at 10000 when `stream-node-max-entries` is 0; we did not
/// cap it at all then (and overflowed for a huge setting).
#[test]
fn approximate_trims_default_limit_as_redis() {
    assert_eq!(super::default_trim_limit(100), 10_000);
    assert_eq!(super::default_trim_limit(7), 700);
    assert_eq!(super::default_trim_limit(0), 10_000);
    assert_eq!(super::default_trim_limit(i64::MAX as usize), 10_000);
}
