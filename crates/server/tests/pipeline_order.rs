//! Pipelines keep their order for every observer, also when consecutive commands live on
//! different shards (Peregrine runs such a run of commands as one locked segment).
//!
//! A writer pipelines `SET first n` then `SET second n` for n = 1, 2, ... with the two keys
//! on different shards. A reader repeatedly reads `second` and then, in a later command,
//! `first`. In Redis's order `first` is always written before `second`, so the reader
//! must never see `first` older than the `second` it saw just before.

use peregrine_testkit::{encode, key_on_shard, TestServer};
use std::io::Write;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

fn pipeline_order_holds(shards: u16) {
    let server = TestServer::start(BIN, shards);
    let first = key_on_shard("order-first-", 0, shards);
    let second = key_on_shard("order-second-", shards - 1, shards);
    let mut setup = server.raw();
    assert_eq!(setup.cmd(&["MSET", &first, "0", &second, "0"]), b"+OK\r\n");
    let writer = {
        let mut raw = server.raw();
        let (first, second) = (first.clone(), second.clone());
        std::thread::spawn(move || {
            for round in 0..200 {
                let mut bytes = Vec::new();
                for step in 1..=50 {
                    let value = (round * 50 + step).to_string();
                    bytes.extend(encode(&["SET", &first, &value]));
                    bytes.extend(encode(&["SET", &second, &value]));
                }
                raw.stream().write_all(&bytes).expect("write pipeline");
                for reply in raw.read_replies(100) {
                    assert_eq!(reply, b"+OK\r\n");
                }
            }
        })
    };
    let mut reader = server.client();
    let mut observations = 0;
    while !writer.is_finished() || observations < 100 {
        let seen_second: i64 = redis::cmd("GET")
            .arg(&second)
            .query(&mut reader)
            .expect("GET second");
        let seen_first: i64 = redis::cmd("GET")
            .arg(&first)
            .query(&mut reader)
            .expect("GET first");
        assert!(
            seen_first >= seen_second,
            "saw {second}={seen_second} but then {first}={seen_first}: the pipeline's order was broken"
        );
        observations += 1;
        if observations > 100_000 {
            break;
        }
    }
    writer.join().expect("writer");
    let last: i64 = redis::cmd("GET")
        .arg(&second)
        .query(&mut reader)
        .expect("GET");
    assert_eq!(last, 10_000);
}

#[test]
fn pipeline_order_holds_across_two_shards() {
    pipeline_order_holds(2);
}

#[test]
fn pipeline_order_holds_across_four_shards() {
    pipeline_order_holds(4);
}
