//! Pub/sub with real clients: replies and pushes byte for byte against redis-server,
//! exactly-once in-order delivery between many publishers and subscribers spread over the
//! cores of 2- and 4-shard servers, the `redis` crate's pub/sub API, and the output
//! buffer limit that disconnects a subscriber that does not read.

use peregrine_testkit::{poll_until, RawClient, RedisOracle, TestServer};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// Client `.0` sends command `.1` (split on spaces; `-` for none) and then reads `.2`
/// frames (replies or pushes).
type Step = (usize, &'static str, usize);

const CLIENTS: usize = 3;

fn play(address: SocketAddr, steps: &[Step]) -> Vec<(String, Vec<u8>)> {
    let mut clients: Vec<RawClient> = (0..CLIENTS).map(|_| RawClient::connect(address)).collect();
    let mut seen = Vec::new();
    for (client, command, frames) in steps {
        if *command != "-" {
            let args: Vec<&str> = command.split(' ').collect();
            let encoded: Vec<&[u8]> = args.iter().map(|arg| arg.as_bytes()).collect();
            clients[*client].send_command(&encoded);
        }
        for frame in clients[*client].read_replies(*frames) {
            seen.push((format!("client {client}: {command}"), frame));
        }
    }
    seen
}

/// (un)subscribe confirmations, messages, pattern messages, shard messages, the RESP2
/// subscribed state's restrictions and PING, RESP3's absence of them, PUBSUB
/// introspection, RESET: the same bytes as redis-server, with the clients on whatever
/// cores the kernel chose.
#[test]
fn replies_and_pushes_match_redis() {
    let Some(oracle) = RedisOracle::start("the pub/sub comparison") else {
        return;
    };
    let steps: Vec<Step> = vec![
        (0, "SUBSCRIBE", 1),
        (0, "SUBSCRIBE a b a", 3),
        (0, "PSUBSCRIBE n* [ab]?", 2),
        (0, "GET x", 1),
        (0, "PING", 1),
        (0, "PING hello", 1),
        (1, "PUBLISH a m1", 1),
        (0, "-", 1),
        (1, "PUBLISH news m2", 1),
        (0, "-", 1),
        (1, "PUBLISH bz m3", 1),
        (0, "-", 1),
        (1, "PUBLISH nothing-here m4", 1),
        (0, "-", 1),
        (1, "PUBSUB CHANNELS a", 1),
        (1, "PUBSUB CHANNELS zz*", 1),
        (1, "PUBSUB NUMSUB a b zz", 1),
        (1, "PUBSUB NUMSUB", 1),
        (1, "PUBSUB NUMPAT", 1),
        (1, "PUBSUB NOPE", 1),
        (1, "PUBSUB CHANNELS a b", 1),
        (0, "UNSUBSCRIBE b zz", 2),
        (0, "UNSUBSCRIBE", 1),
        (0, "PUNSUBSCRIBE n*", 1),
        (0, "PUNSUBSCRIBE", 1),
        (0, "PUNSUBSCRIBE", 1),
        (0, "UNSUBSCRIBE", 1),
        (0, "GET x", 1),
        (0, "PING", 1),
        (1, "PUBLISH a gone", 1),
        (2, "HELLO 3", 1),
        (2, "SUBSCRIBE a", 1),
        (2, "SET x 1", 1),
        (2, "PING", 1),
        (1, "PUBLISH a m5", 1),
        (2, "-", 1),
        (2, "SSUBSCRIBE s1 s2", 2),
        (1, "SPUBLISH s1 hi", 1),
        (2, "-", 1),
        (1, "PUBLISH s1 not-a-shard-message", 1),
        (1, "PUBSUB SHARDCHANNELS s1", 1),
        (1, "PUBSUB SHARDNUMSUB s1 s2 s3", 1),
        (2, "SUNSUBSCRIBE s2 s3", 2),
        (2, "SUNSUBSCRIBE", 1),
        (2, "UNSUBSCRIBE", 1),
        (2, "UNSUBSCRIBE", 1),
        (0, "SUBSCRIBE c", 1),
        (0, "RESET", 1),
        (0, "GET x", 1),
        (1, "PUBLISH c after-reset", 1),
    ];
    let server = TestServer::start(BIN, 2);
    let address = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let expected = play(address(oracle.port()), &steps);
    let actual = play(server.addr(), &steps);
    let mut mismatches = Vec::new();
    assert_eq!(expected.len(), actual.len());
    for ((step, want), (_, got)) in expected.iter().zip(&actual) {
        // HELLO names the server and its version.
        if want != got && !step.contains("HELLO") {
            mismatches.push(format!(
                "{step}\n  redis:     {}\n  peregrine: {}",
                String::from_utf8_lossy(want).escape_debug(),
                String::from_utf8_lossy(got).escape_debug()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// Parses `*3 message channel payload` / `*4 pmessage pattern channel payload` frames.
fn payload(frame: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(frame);
    let parts: Vec<&str> = text.split("\r\n").collect();
    match parts.first() {
        Some(&"*3") => (parts[4].to_owned(), parts[6].to_owned()),
        Some(&"*4") => (parts[6].to_owned(), parts[8].to_owned()),
        _ => panic!("not a message: {text}"),
    }
}

fn exactly_once_in_order(shards: u16) {
    const CHANNELS: usize = 4;
    const PER_CHANNEL: usize = 3;
    const PATTERN_SUBSCRIBERS: usize = 2;
    const PUBLISHERS: usize = 4;
    const MESSAGES: usize = 400;
    let server = TestServer::start(BIN, shards);
    let address = server.addr();
    let mut subscribers = Vec::new();
    for channel in 0..CHANNELS {
        for _ in 0..PER_CHANNEL {
            let mut client = RawClient::connect(address);
            let name = format!("ch:{channel}");
            client.cmd(&["SUBSCRIBE", &name]);
            subscribers.push((Some(channel), client));
        }
    }
    for _ in 0..PATTERN_SUBSCRIBERS {
        let mut client = RawClient::connect(address);
        client.cmd(&["PSUBSCRIBE", "ch:*"]);
        subscribers.push((None, client));
    }
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|publisher| {
            std::thread::spawn(move || {
                let mut client = RawClient::connect(address);
                for sequence in 0..MESSAGES {
                    let channel = format!("ch:{}", (publisher + sequence) % CHANNELS);
                    let message = format!("{publisher}:{sequence}");
                    let reply = client.cmd(&["PUBLISH", &channel, &message]);
                    let receivers = PER_CHANNEL + PATTERN_SUBSCRIBERS;
                    assert_eq!(reply, format!(":{receivers}\r\n").into_bytes());
                }
            })
        })
        .collect();
    let readers: Vec<_> = subscribers
        .into_iter()
        .map(|(channel, mut client)| {
            std::thread::spawn(move || {
                let expected = match channel {
                    Some(_) => PUBLISHERS * MESSAGES / CHANNELS,
                    None => PUBLISHERS * MESSAGES,
                };
                let mut last: HashMap<usize, usize> = HashMap::new();
                for _ in 0..expected {
                    let frame = client.read_reply();
                    let (channel_name, message) = payload(&frame);
                    if let Some(channel) = channel {
                        assert_eq!(channel_name, format!("ch:{channel}"));
                    }
                    let (publisher, sequence) = message.split_once(':').expect("publisher:seq");
                    let (publisher, sequence): (usize, usize) =
                        (publisher.parse().unwrap(), sequence.parse().unwrap());
                    if let Some(previous) = last.insert(publisher, sequence) {
                        assert!(
                            sequence > previous,
                            "publisher {publisher}: {sequence} after {previous} (duplicate or out of order)"
                        );
                    }
                }
                // Nothing more than expected arrives.
                client.cmd(&["PING"]).starts_with(b"*2\r\n$4\r\npong")
            })
        })
        .collect();
    for publisher in publishers {
        publisher.join().expect("publisher");
    }
    for reader in readers {
        assert!(
            reader.join().expect("subscriber"),
            "a subscriber got more messages than were published to it"
        );
    }
}

/// 4 publishers x 400 messages over 4 channels, 3 subscribers per channel and 2 pattern
/// subscribers, spread over the cores: every message arrives exactly once, each
/// publisher's in order, and every PUBLISH counts all receivers.
#[test]
fn many_publishers_many_subscribers_two_shards() {
    exactly_once_in_order(2);
}

/// The same over 4 shards.
#[test]
fn many_publishers_many_subscribers_four_shards() {
    exactly_once_in_order(4);
}

/// A subscription confirmed on one core is known to every core: PUBLISH from fresh
/// connections (which the kernel spreads over the cores) counts and delivers it.
#[test]
fn a_confirmed_subscription_is_seen_from_every_core() {
    let server = TestServer::start(BIN, 4);
    for round in 0..20 {
        let mut subscriber = RawClient::connect(server.addr());
        let channel = format!("fresh:{round}");
        subscriber.cmd(&["SUBSCRIBE", &channel]);
        for publisher in 0..4 {
            let mut client = RawClient::connect(server.addr());
            let message = format!("{publisher}");
            assert_eq!(client.cmd(&["PUBLISH", &channel, &message]), b":1\r\n");
            let (_, got) = payload(&subscriber.read_reply());
            assert_eq!(got, message);
        }
    }
}

/// The `redis` crate's pub/sub API: subscribe, pattern-subscribe, receive typed messages.
#[test]
fn redis_crate_pubsub_api() {
    let server = TestServer::start(BIN, 2);
    let mut subscriber = server.client();
    let mut publisher = server.client();
    let mut pubsub = subscriber.as_pubsub();
    pubsub.subscribe("orders").expect("subscribe");
    pubsub.psubscribe("audit.*").expect("psubscribe");
    pubsub
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg("orders")
        .arg("order 1")
        .query(&mut publisher)
        .expect("publish");
    assert_eq!(receivers, 1);
    let _: i64 = redis::cmd("PUBLISH")
        .arg("audit.login")
        .arg("alice")
        .query(&mut publisher)
        .expect("publish");
    let first = pubsub.get_message().expect("message");
    assert_eq!(first.get_channel_name(), "orders");
    assert_eq!(first.get_payload::<String>().unwrap(), "order 1");
    let second = pubsub.get_message().expect("pattern message");
    assert_eq!(second.get_channel_name(), "audit.login");
    assert_eq!(second.get_pattern::<String>().unwrap(), "audit.*");
    assert_eq!(second.get_payload::<String>().unwrap(), "alice");
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query(&mut publisher)
        .expect("info");
    assert!(info.contains("pubsub_channels:1\r\n"), "{info}");
    assert!(info.contains("pubsub_patterns:1\r\n"), "{info}");
    assert!(
        info.contains("pubsub_shard_channels:0\r\n") || info.contains("pubsubshard_channels:0\r\n"),
        "{info}"
    );
}

/// PUBLISH from a script (declared keys or none) and inside MULTI/EXEC reaches
/// subscribers, before the script's or transaction's reply.
#[test]
fn scripts_and_transactions_publish() {
    let server = TestServer::start(BIN, 2);
    let mut subscriber = RawClient::connect(server.addr());
    subscriber.cmd(&["SUBSCRIBE", "events"]);
    let mut client = RawClient::connect(server.addr());
    let script =
        "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('PUBLISH', 'events', ARGV[1])";
    for (index, key) in ["a", "b", "{a}c"].iter().enumerate() {
        let value = format!("script-{index}");
        assert_eq!(client.cmd(&["EVAL", script, "1", key, &value]), b":1\r\n");
        assert_eq!(payload(&subscriber.read_reply()).1, value);
    }
    assert_eq!(
        client.cmd(&[
            "EVAL",
            "return redis.call('PUBLISH', 'events', 'no-keys')",
            "0"
        ]),
        b":1\r\n"
    );
    assert_eq!(payload(&subscriber.read_reply()).1, "no-keys");
    client.cmd(&["MULTI"]);
    client.cmd(&["PUBLISH", "events", "in-multi"]);
    client.cmd(&["SET", "k", "v"]);
    assert_eq!(client.cmd(&["EXEC"]), b"*2\r\n:1\r\n+OK\r\n");
    assert_eq!(payload(&subscriber.read_reply()).1, "in-multi");
}

/// A subscriber that stops reading is disconnected once its output passes the pubsub
/// class's hard limit; the publisher is never blocked and a reading subscriber gets
/// every message.
#[test]
fn a_subscriber_that_does_not_read_is_disconnected_at_the_limit() {
    let server = TestServer::start(BIN, 2);
    let mut admin = RawClient::connect(server.addr());
    assert_eq!(
        admin.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 1mb 256kb 60"
        ]),
        b"+OK\r\n"
    );
    let mut config = admin.cmd(&["CONFIG", "GET", "client-output-buffer-limit"]);
    config.retain(|byte| *byte != b'\r');
    assert!(
        String::from_utf8_lossy(&config).contains("pubsub 1048576 262144 60"),
        "{}",
        String::from_utf8_lossy(&config)
    );
    let mut sleeper = RawClient::connect(server.addr());
    sleeper.cmd(&["CLIENT", "SETNAME", "sleeper"]);
    sleeper.cmd(&["SUBSCRIBE", "firehose"]);
    let mut client = RawClient::connect(server.addr());
    client.cmd(&["SUBSCRIBE", "firehose"]);
    let received = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let reader = {
        let received = received.clone();
        std::thread::spawn(move || {
            for _ in 0..400 {
                client.read_reply();
                received.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            client
        })
    };
    let message = "x".repeat(64 * 1024);
    let mut publisher = RawClient::connect(server.addr());
    for published in 0..400 {
        // The reading subscriber stays within 8 messages (512 KiB) of the publisher,
        // however the threads are scheduled: it reads, so it must never reach the limit.
        while published - received.load(std::sync::atomic::Ordering::SeqCst) > 8 {
            std::thread::sleep(Duration::from_millis(1));
        }
        // 400 x 64 KiB = 25 MiB: far past what socket buffers and the 1 MiB limit hold.
        let reply = publisher.cmd(&["PUBLISH", "firehose", &message]);
        // 2 until the sleeper is dropped, then 1.
        assert!(reply == b":2\r\n" || reply == b":1\r\n", "{reply:?}");
    }
    let Ok(_reader) = reader.join() else {
        panic!(
            "the reading subscriber missed messages; server log:\n{}",
            server.log()
        );
    };
    assert!(
        poll_until(Duration::from_secs(10), || {
            !String::from_utf8_lossy(&admin.cmd(&["CLIENT", "LIST"])).contains("name=sleeper")
        }),
        "the subscriber that does not read is still connected"
    );
    assert_eq!(
        admin.cmd(&["PUBSUB", "NUMSUB", "firehose"]),
        b"*2\r\n$8\r\nfirehose\r\n:1\r\n"
    );
    assert!(server.log().contains("overcoming of output buffer limits"));
}
