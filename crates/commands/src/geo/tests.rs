//! Geo family tests, driven through the command table in-process. Expected texts are
//! redis-server 7's replies to the same commands.

use crate::test_shard::TestShard;

/// A shard holding `Sicily` = Palermo, Catania, edge1, edge2.
fn sicily() -> TestShard {
    let mut shard = TestShard::new();
    assert_eq!(
        shard.wire(&[
            "GEOADD",
            "Sicily",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ]),
        ":2\r\n"
    );
    assert_eq!(
        shard.wire(&[
            "GEOADD",
            "Sicily",
            "12.758489",
            "38.788135",
            "edge1",
            "17.241510",
            "38.788135",
            "edge2",
        ]),
        ":2\r\n"
    );
    shard
}

#[test]
fn geoadd_is_zadd_with_geohash_scores() {
    let mut shard = sicily();
    assert_eq!(
        shard.wire(&["ZSCORE", "Sicily", "Palermo"]),
        "$16\r\n3479099956230698\r\n"
    );
    assert_eq!(shard.wire(&["TYPE", "Sicily"]), "+zset\r\n");
    assert_eq!(
        shard.wire(&["OBJECT", "ENCODING", "Sicily"]),
        "$8\r\nlistpack\r\n"
    );
    assert_eq!(
        shard.wire(&[
            "GEOADD",
            "Sicily",
            "CH",
            "XX",
            "13.361389",
            "38.2",
            "Palermo",
            "1",
            "1",
            "newone"
        ]),
        ":1\r\n"
    );
    assert_eq!(
        shard.wire(&[
            "GEOADD",
            "Sicily",
            "NX",
            "CH",
            "13.361389",
            "38.3",
            "Palermo",
            "1",
            "1",
            "newone"
        ]),
        ":1\r\n"
    );
    assert_eq!(
        shard.wire(&["GEOADD", "missing", "XX", "1", "2", "a"]),
        ":0\r\n"
    );
    assert_eq!(shard.wire(&["EXISTS", "missing"]), ":0\r\n");
}

#[test]
fn geoadd_errors() {
    let mut shard = TestShard::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["GEOADD", "g", "200", "100", "a"],
            "ERR invalid longitude,latitude pair 200.000000,100.000000",
        ),
        (
            &["GEOADD", "g", "1", "2", "a", "1", "85.06", "b"],
            "ERR invalid longitude,latitude pair 1.000000,85.060000",
        ),
        (
            &["GEOADD", "g", "XX", "NX", "1", "2", "a"],
            "ERR syntax error",
        ),
        (&["GEOADD", "g", "CH", "CH", "CH"], "ERR syntax error"),
        (&["GEOADD", "g", "1", "2", "a", "3"], "ERR syntax error"),
        (&["GEOADD", "g", "GT", "1", "2", "a"], "ERR syntax error"),
        (
            &["GEOADD", "g", "nan", "1", "a"],
            "ERR value is not a valid float",
        ),
        (
            &["GEOADD", "g", "1", "abc", "a"],
            "ERR value is not a valid float",
        ),
        (
            &["GEOADD", "g", "inf", "1", "a"],
            "ERR invalid longitude,latitude pair inf,1.000000",
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(shard.error(args), *expected, "{args:?}");
    }
    assert_eq!(shard.wire(&["EXISTS", "g"]), ":0\r\n");
    shard.run(&["SET", "s", "v"]);
    assert_eq!(
        shard.error(&["GEOADD", "s", "1", "2", "a"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        shard.error(&["GEOADD", "s", "1", "100", "a"]),
        "ERR invalid longitude,latitude pair 1.000000,100.000000"
    );
}

#[test]
fn geopos_geohash_geodist() {
    let mut shard = sicily();
    assert_eq!(
        shard.wire(&["GEOPOS", "Sicily", "Palermo", "nope"]),
        "*2\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*-1\r\n"
    );
    assert_eq!(
        shard.wire_resp3(&["GEOPOS", "Sicily", "Palermo", "nope"]),
        "*2\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n_\r\n"
    );
    assert_eq!(shard.wire(&["GEOPOS", "nokey", "a"]), "*1\r\n*-1\r\n");
    assert_eq!(
        shard.wire(&["GEOHASH", "Sicily", "Palermo", "nope"]),
        "*2\r\n$11\r\nsqc8b49rny0\r\n$-1\r\n"
    );
    assert_eq!(
        shard.wire(&["GEODIST", "Sicily", "Palermo", "Catania"]),
        "$11\r\n166274.1516\r\n"
    );
    assert_eq!(
        shard.wire(&["GEODIST", "Sicily", "Palermo", "Catania", "KM"]),
        "$8\r\n166.2742\r\n"
    );
    assert_eq!(
        shard.wire_resp3(&["GEODIST", "Sicily", "Palermo", "Palermo", "mi"]),
        "$6\r\n0.0000\r\n"
    );
    assert_eq!(
        shard.wire(&["GEODIST", "Sicily", "Palermo", "nope"]),
        "$-1\r\n"
    );
    assert_eq!(shard.wire(&["GEODIST", "nokey", "a", "b"]), "$-1\r\n");
    assert_eq!(
        shard.error(&["GEODIST", "Sicily", "a", "b", "yd"]),
        "ERR unsupported unit provided. please use M, KM, FT, MI"
    );
    assert_eq!(
        shard.error(&["GEODIST", "Sicily", "a", "b", "km", "x"]),
        "ERR syntax error"
    );
}

#[test]
fn scores_written_by_zadd_decode_as_redis_does() {
    let mut shard = TestShard::new();
    shard.run(&["ZADD", "w", "-1", "neg", "inf", "pinf", "-inf", "ninf"]);
    assert_eq!(
        shard.wire(&["GEOPOS", "w", "neg", "pinf", "ninf"]),
        "*3\r\n*2\r\n$3\r\n180\r\n$19\r\n85.0511287799999991\r\n\
         *2\r\n$22\r\n-179.99999731779098511\r\n$21\r\n-85.05112751263942528\r\n\
         *2\r\n$3\r\n180\r\n$21\r\n-85.05112751263942528\r\n"
    );
    assert_eq!(
        shard.wire(&["GEOHASH", "w", "neg", "pinf"]),
        "*2\r\n$11\r\nbp05b5048p0\r\n$11\r\n00bh0hbj200\r\n"
    );
}

#[test]
fn searches_sort_count_and_report() {
    let mut shard = sicily();
    assert_eq!(
        shard.wire(&[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "WITHDIST",
            "WITHCOORD",
            "WITHHASH",
            "ASC"
        ]),
        "*2\r\n*4\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n\
         *2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n\
         *4\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n:3479099956230698\r\n\
         *2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n"
    );
    assert_eq!(
        shard.wire(&["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "1"]),
        "*1\r\n$7\r\nCatania\r\n"
    );
    assert_eq!(
        shard.wire(&[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "400",
            "400",
            "km",
            "DESC",
            "WITHDIST"
        ]),
        "*4\r\n*2\r\n$5\r\nedge1\r\n$8\r\n279.7405\r\n*2\r\n$5\r\nedge2\r\n$8\r\n279.7403\r\n\
         *2\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n"
    );
    assert_eq!(
        shard.wire(&[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
            "COUNT",
            "1",
            "ANY",
            "DESC"
        ]),
        // ANY stops at the first point found: Palermo scores lower in the same cell.
        "*1\r\n$7\r\nPalermo\r\n"
    );
    assert_eq!(
        shard.wire(&[
            "GEOSEARCH",
            "nokey",
            "FROMMEMBER",
            "a",
            "BYRADIUS",
            "1",
            "km"
        ]),
        "*0\r\n"
    );
    assert_eq!(
        shard.wire(&["GEORADIUSBYMEMBER", "nokey", "m", "abc", "km"]),
        "*0\r\n"
    );
}

#[test]
fn stores_replace_the_destination() {
    let mut shard = sicily();
    assert_eq!(
        shard.wire(&[
            "GEOSEARCHSTORE",
            "dst",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "300",
            "km",
            "STOREDIST"
        ]),
        ":3\r\n"
    );
    assert_eq!(
        shard.wire(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]),
        "*6\r\n$7\r\nPalermo\r\n$1\r\n0\r\n$5\r\nedge1\r\n$17\r\n91.40065860581427\r\n\
         $7\r\nCatania\r\n$18\r\n166.27415156960032\r\n"
    );
    assert_eq!(
        shard.wire(&[
            "GEORADIUSBYMEMBER",
            "Sicily",
            "Palermo",
            "300",
            "km",
            "STORE",
            "dst2"
        ]),
        ":3\r\n"
    );
    assert_eq!(
        shard.wire(&["ZRANGE", "dst2", "0", "-1"]),
        "*3\r\n$7\r\nPalermo\r\n$5\r\nedge1\r\n$7\r\nCatania\r\n"
    );
    assert_eq!(
        shard.wire(&[
            "GEOSEARCHSTORE",
            "dst",
            "nokey",
            "FROMMEMBER",
            "a",
            "BYRADIUS",
            "1",
            "km"
        ]),
        ":0\r\n"
    );
    assert_eq!(shard.wire(&["EXISTS", "dst"]), ":0\r\n");
}

#[test]
fn search_errors() {
    let mut shard = sicily();
    let cases: &[(&[&str], &str)] = &[
        (
            &["GEORADIUS", "Sicily", "15", "37", "abc", "km"],
            "ERR need numeric radius",
        ),
        (
            &["GEORADIUS", "Sicily", "15", "37", "-1", "km"],
            "ERR radius cannot be negative",
        ),
        (
            &["GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE"],
            "ERR syntax error",
        ),
        (
            &["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "STORE", "x"],
            "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
        ),
        (
            &["GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "STORE", "x"],
            "ERR syntax error",
        ),
        (
            &["GEORADIUSBYMEMBER", "Sicily", "nope", "200", "km"],
            "ERR could not decode requested zset member",
        ),
        (
            &["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "0"],
            "ERR COUNT must be > 0",
        ),
        (
            &["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ANY"],
            "ERR the ANY argument requires COUNT argument",
        ),
        (
            &["geoSearch", "Sicily", "BYRADIUS", "200", "km", "ASC", "DESC"],
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for geoSearch",
        ),
        (
            &["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "ASC", "DESC"],
            "ERR exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH",
        ),
        (
            &["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "m"],
            "ERR syntax error",
        ),
        (
            &["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "1", "-1", "m"],
            "ERR height or width cannot be negative",
        ),
        (
            &["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "x", "1", "m"],
            "ERR need numeric width",
        ),
        (
            &["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m", "STOREDIST"],
            "ERR syntax error",
        ),
        (
            &["GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m", "WITHHASH"],
            "ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(shard.error(args), *expected, "{args:?}");
    }
}

#[test]
fn keyspace_events() {
    let mut shard = TestShard::new();
    shard.notify_keyspace_events("KEA");
    assert_eq!(
        shard.events(&["GEOADD", "g", "1", "2", "a", "3", "4", "b"]),
        ["g:zadd"]
    );
    assert_eq!(
        shard.events(&[
            "GEOSEARCHSTORE",
            "d",
            "g",
            "FROMLONLAT",
            "1",
            "2",
            "BYRADIUS",
            "1000",
            "km"
        ]),
        ["d:geosearchstore"]
    );
    assert_eq!(
        shard.events(&["GEORADIUS", "g", "1", "2", "1000", "km", "STORE", "d"]),
        ["d:georadiusstore"]
    );
    assert_eq!(
        shard.events(&["GEORADIUS", "g", "100", "2", "1", "km", "STOREDIST", "d"]),
        ["d:del"]
    );
}
