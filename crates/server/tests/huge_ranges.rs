//! Range reads of more than 65,536 elements (LRANGE and the ZRANGE family), which run in
//! chunks on the connection's core: their replies, sent in buffers, are byte for byte
//! redis-server's, in RESP2 and RESP3, errors included. The collections are loaded once
//! per shard of a 4-shard server, so that with four shards three of them live on other
//! cores than the connection's: their shard sets such a read aside and the connection runs
//! it in chunks as for its own keys. ZRANGESTORE of such ranges (also run in chunks, into
//! a destination on another shard than its source) stores what redis-server stores.

use peregrine_testkit::{keys_on_shards, with_1_and_4_shards, RedisOracle, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// Elements of each big list and big sorted set.
const ELEMENTS: usize = 70_000;

fn ranges_match_redis(peregrine: &TestServer) {
    let Some(redis) = RedisOracle::start("the huge range comparison") else {
        return;
    };
    let lists = keys_on_shards("biglist", 4, 4);
    let sorted_sets = keys_on_shards("bigzset", 4, 4);
    for mut connection in [redis.client(), peregrine.client()] {
        let mut pipe = redis::pipe();
        for (list, sorted_set) in lists.iter().zip(&sorted_sets) {
            for start in (0..ELEMENTS).step_by(1000) {
                let elements: Vec<String> =
                    (start..start + 1000).map(|n| format!("e{n}")).collect();
                pipe.cmd("RPUSH").arg(list).arg(elements);
                let mut zadd = redis::cmd("ZADD");
                zadd.arg(sorted_set);
                for n in start..start + 1000 {
                    // Many ties (ordered by member), fractions and infinities. (No -0: a
                    // ZADD of many members keeps its sign, as Redis 7.2 creates the big
                    // encoding at once, where the oracle's 7.0 stores 0 in a listpack.)
                    let score = match n {
                        0 => "-inf".to_owned(),
                        1 => "-1.5".to_owned(),
                        2 => "+inf".to_owned(),
                        _ => format!("{}", (n % 5000) as f64 / 4.0),
                    };
                    zadd.arg(score).arg(format!("m{n}"));
                }
                pipe.add_command(zadd);
            }
        }
        pipe.cmd("SET").arg("text").arg("string");
        pipe.query::<()>(&mut connection).expect("load");
    }
    let templates: &[&[&str]] = &[
        &["LRANGE", "biglist", "0", "-1"],
        &["LRANGE", "biglist", "-90000", "-2"],
        &["LRANGE", "biglist", "1000", "999999"],
        &["LRANGE", "biglist", "5", "4"],
        &["LRANGE", "biglist", "0", "x"],
        &["LRANGE", "text", "0", "-1"],
        &["ZRANGE", "bigzset", "0", "-1"],
        &["ZRANGE", "bigzset", "0", "-1", "WITHSCORES"],
        &["ZRANGE", "bigzset", "-90000", "-3", "REV", "WITHSCORES"],
        &["ZREVRANGE", "bigzset", "5", "80000"],
        &["ZRANGEBYSCORE", "bigzset", "-inf", "+inf", "WITHSCORES"],
        &[
            "ZRANGEBYSCORE",
            "bigzset",
            "(10",
            "1000",
            "LIMIT",
            "10",
            "70000",
        ],
        &["ZREVRANGEBYSCORE", "bigzset", "+inf", "-inf"],
        &[
            "ZRANGE",
            "bigzset",
            "+inf",
            "(1",
            "BYSCORE",
            "REV",
            "WITHSCORES",
        ],
        &["ZRANGE", "bigzset", "0", "-1", "LIMIT", "1", "2"],
        &["ZRANGE", "text", "0", "-1"],
    ];
    // Every template for every shard's list and sorted set.
    let reads: Vec<Vec<&str>> = lists
        .iter()
        .zip(&sorted_sets)
        .flat_map(|(list, sorted_set)| {
            templates.iter().map(move |template| {
                template
                    .iter()
                    .map(|word| match *word {
                        "biglist" => list.as_str(),
                        "bigzset" => sorted_set.as_str(),
                        other => other,
                    })
                    .collect()
            })
        })
        .collect();
    for protocol in ["2", "3"] {
        let replies = redis.assert_same_replies(peregrine, protocol, &reads);
        // ZRANGE ... 0 -1 WITHSCORES of the first sorted set: more than one 1 MiB buffer.
        assert_eq!(reads[7][..2], ["ZRANGE", sorted_sets[0].as_str()]);
        assert!(replies[7].len() > 1 << 20, "a reply of several buffers");
    }
    // ZRANGESTORE of each sorted set into a destination on the next shard, then what the
    // destination holds.
    let destinations = keys_on_shards("zdest", 4, 4);
    let store_templates: &[&[&str]] = &[
        &["ZRANGESTORE", "zdest", "bigzset", "0", "-1"],
        &["ZRANGESTORE", "zdest", "bigzset", "-inf", "+inf", "BYSCORE"],
        &[
            "ZRANGESTORE",
            "zdest",
            "bigzset",
            "+inf",
            "(1",
            "BYSCORE",
            "REV",
        ],
        &["ZRANGESTORE", "zdest", "bigzset", "-", "+", "BYLEX"],
        &["ZRANGESTORE", "zdest", "bigzset", "-80000", "-2", "REV"],
        &[
            "ZRANGESTORE",
            "zdest",
            "bigzset",
            "(0",
            "+inf",
            "BYSCORE",
            "LIMIT",
            "3",
            "69000",
        ],
        &["ZRANGESTORE", "zdest", "bigzset", "0", "-1", "WITHSCORES"],
        &["ZRANGESTORE", "zdest", "text", "0", "-1"],
        &["ZRANGESTORE", "zdest", "nothing", "0", "-1"],
    ];
    let mut stores: Vec<Vec<&str>> = Vec::new();
    for (index, sorted_set) in sorted_sets.iter().enumerate() {
        let destination = destinations[(index + 1) % destinations.len()].as_str();
        for template in store_templates {
            stores.push(
                template
                    .iter()
                    .map(|word| match *word {
                        "zdest" => destination,
                        "bigzset" => sorted_set.as_str(),
                        other => other,
                    })
                    .collect(),
            );
            stores.push(vec!["ZRANGE", destination, "0", "-1", "WITHSCORES"]);
            stores.push(vec!["EXISTS", destination]);
        }
    }
    let replies = redis.assert_same_replies(peregrine, "2", &stores);
    assert_eq!(
        replies[0], b":70000\r\n",
        "the first store took every member"
    );
}

with_1_and_4_shards! {
    bin = BIN;
    ranges_match_redis,
}
