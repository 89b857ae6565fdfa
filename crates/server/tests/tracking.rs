//! Client-side caching (CLIENT TRACKING) end to end.
//!
//! * Invalidations reach a RESP3 client for keys on every shard (1, 2 and 4 shards) when
//!   another client writes them, through single-shard batches, split and scratch
//!   cross-shard commands and scripts; a key is forgotten once invalidated.
//! * Expiry (active and lazy), FLUSHALL and FLUSHDB invalidate (FLUSH* with a null list).
//! * RESP2 clients REDIRECT to a client subscribed to `__redis__:invalidate`; RESP3 clients
//!   redirect to a RESP3 client that neither tracks nor subscribes; a redirect target that
//!   disconnects makes RESP3 clients get `tracking-redir-broken`.
//! * BCAST with PREFIX, NOLOOP (default and BCAST), OPTIN/OPTOUT with CLIENT CACHING
//!   (one command, the whole of MULTI ... EXEC, pipelined).
//! * GETREDIR, TRACKINGINFO and every argument error compared with a real redis-server;
//!   CLIENT LIST flags and `redir`, INFO's tracking figures.
//! * A real client (the `redis` crate, RESP3 with a push sender) sees the invalidations.
//!
//! A push that must not come is checked with a sentinel: a later invalidation from the
//! same shard to the same client, which arrives after any earlier one (each shard's
//! invalidations to a core are in order). No sleeps wait for pushes: reads have the
//! client's timeout.

use peregrine_testkit::scenario::{mismatches, Step, Step::*};
use peregrine_testkit::{
    encode, key_on_shard, keys_on_shards, show, with_1_and_4_shards, RawClient,
};
use peregrine_testkit::{RedisOracle, TestServer};
use std::net::SocketAddr;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// RESP3 `invalidate` push for `keys`.
fn invalidate(keys: &[&str]) -> String {
    let mut text = format!(">2\r\n$10\r\ninvalidate\r\n*{}\r\n", keys.len());
    for key in keys {
        text.push_str(&format!("${}\r\n{key}\r\n", key.len()));
    }
    text
}

/// RESP3 push telling a client to drop everything (FLUSHALL, FLUSHDB).
const INVALIDATE_ALL: &str = ">2\r\n$10\r\ninvalidate\r\n_\r\n";

/// The `__redis__:invalidate` message a RESP2 redirect target gets for `keys`.
fn message(keys: &[&str]) -> String {
    let mut text = format!(
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*{}\r\n",
        keys.len()
    );
    for key in keys {
        text.push_str(&format!("${}\r\n{key}\r\n", key.len()));
    }
    text
}

fn resp3(server: &TestServer) -> RawClient {
    let mut client = server.raw();
    let hello = client.cmd(&["HELLO", "3"]);
    assert!(hello.starts_with(b"%"), "{}", show(&hello));
    client
}

fn ok(client: &mut RawClient, args: &[&str]) {
    assert_eq!(show(&client.cmd(args)), "+OK\r\n", "{args:?}");
}

fn client_id(client: &mut RawClient) -> String {
    let reply = show(&client.cmd(&["CLIENT", "ID"]));
    reply.trim_start_matches(':').trim_end().to_owned()
}

/// The next thing `client` receives must be `expected`.
fn expect(client: &mut RawClient, expected: &str) {
    assert_eq!(show(&client.read_reply()), expected);
}

/// The next `count` pushes, sorted (they come from several shards in no fixed order).
fn pushes(client: &mut RawClient, count: usize) -> Vec<String> {
    let mut received: Vec<String> = (0..count).map(|_| show(&client.read_reply())).collect();
    received.sort();
    received
}

fn info_field(client: &mut RawClient, section: &str, field: &str) -> String {
    let info = show(&client.cmd(&["INFO", section]));
    info.split("\r\n")
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {info}"))
        .to_owned()
}

/// A tracking client and a writer: every key of every shard, read by the tracker and
/// written by the writer, is invalidated once.
fn writes_invalidate_keys_on_every_shard(server: &TestServer) {
    let shards = server.shards();
    let keys = keys_on_shards("track:", 2 * usize::from(shards), shards);
    let mut tracker = resp3(server);
    let mut writer = server.raw();
    ok(&mut tracker, &["CLIENT", "TRACKING", "ON"]);
    for key in &keys {
        assert_eq!(show(&tracker.cmd(&["GET", key])), "_\r\n");
    }
    for key in &keys {
        ok(&mut writer, &["SET", key, "v"]);
        expect(&mut tracker, &invalidate(&[key]));
    }
    // Forgotten once invalidated: a second write owes nothing until the key is read
    // again. The sentinel shares the first key's shard.
    let sentinel = format!("{}:sentinel", keys[0]);
    let sentinel = key_on_shard(&sentinel, shard_of(&keys[0], shards), shards);
    assert_eq!(show(&tracker.cmd(&["GET", &sentinel])), "_\r\n");
    ok(&mut writer, &["SET", &keys[0], "again"]);
    ok(&mut writer, &["SET", &sentinel, "s"]);
    expect(&mut tracker, &invalidate(&[&sentinel]));

    // Reads and writes spanning shards: MGET (split), SINTER (scratch copy), a script.
    let mut args = vec!["MGET"];
    args.extend(keys.iter().map(String::as_str));
    tracker.cmd(&args);
    let mut mset = vec!["MSET"];
    for key in &keys {
        mset.extend([key.as_str(), "w"]);
    }
    ok(&mut writer, &mset);
    let mut expected: Vec<String> = keys.iter().map(|key| invalidate(&[key])).collect();
    expected.sort();
    assert_eq!(pushes(&mut tracker, keys.len()), expected);

    let mut sinter = vec!["SINTER"];
    sinter.extend(keys.iter().map(String::as_str));
    let reply = tracker.cmd(&sinter);
    assert!(reply.starts_with(b"-WRONGTYPE"), "{}", show(&reply));
    let mut del = vec!["DEL"];
    del.extend(keys.iter().map(String::as_str));
    assert_eq!(show(&writer.cmd(&del)), format!(":{}\r\n", keys.len()));
    assert_eq!(pushes(&mut tracker, keys.len()), expected);

    let script = "return redis.call('GET', KEYS[1])";
    for key in &keys {
        assert_eq!(show(&tracker.cmd(&["EVAL", script, "1", key])), "_\r\n");
        ok(&mut writer, &["SET", key, "x"]);
        expect(&mut tracker, &invalidate(&[key]));
    }

    // Its own write invalidates too, without NOLOOP: right after the write's reply,
    // before the replies of later commands of the same pipeline (a server command, a
    // transaction, a cross-shard command), as Redis sends it.
    for key in &keys {
        tracker.cmd(&["GET", key]);
        let mut pipeline = encode(&["SET", key, "mine"]);
        pipeline.extend(encode(&["PING"]));
        tracker.send(&pipeline);
        expect(&mut tracker, "+OK\r\n");
        expect(&mut tracker, &invalidate(&[key]));
        expect(&mut tracker, "+PONG\r\n");
    }
    tracker.cmd(&["GET", &keys[0]]);
    let mut pipeline = encode(&["MULTI"]);
    pipeline.extend(encode(&["SET", &keys[0], "in-exec"]));
    pipeline.extend(encode(&["EXEC"]));
    pipeline.extend(encode(&["PING"]));
    tracker.send(&pipeline);
    expect(&mut tracker, "+OK\r\n");
    expect(&mut tracker, "+QUEUED\r\n");
    expect(&mut tracker, "*1\r\n+OK\r\n");
    expect(&mut tracker, &invalidate(&[&keys[0]]));
    expect(&mut tracker, "+PONG\r\n");

    // Cross-shard write-backs: RENAME moves a key to another shard, SUNIONSTORE writes
    // a copy computed from keys of several shards.
    tracker.cmd(&["GET", &keys[0]]);
    tracker.cmd(&["GET", &keys[1]]);
    ok(&mut writer, &["RENAME", &keys[0], &keys[1]]);
    let mut expected = vec![invalidate(&[&keys[0]]), invalidate(&[&keys[1]])];
    expected.sort();
    assert_eq!(pushes(&mut tracker, 2), expected);
    tracker.cmd(&["GET", &keys[1]]);
    writer.cmd(&["SADD", &keys[0], "member"]);
    writer.cmd(&["SUNIONSTORE", &keys[1], &keys[0]]);
    expect(&mut tracker, &invalidate(&[&keys[1]]));
}

fn shard_of(key: &str, shards: u16) -> u16 {
    peregrine_shard::ShardId::for_key(key.as_bytes(), shards).0
}

#[test]
fn writes_invalidate_keys_on_both_shards_of_two() {
    writes_invalidate_keys_on_every_shard(&TestServer::start(BIN, 2));
}

/// Active and lazy expiry invalidate; so do FLUSHALL and FLUSHDB, with a null key list,
/// for every tracking client, BCAST ones included, and after the flusher's own reply.
fn expiry_and_flushes_invalidate(server: &TestServer) {
    let shards = server.shards();
    let keys = keys_on_shards("expiring:", usize::from(shards), shards);
    let mut tracker = resp3(server);
    let mut writer = server.raw();
    ok(&mut tracker, &["CLIENT", "TRACKING", "ON"]);
    for key in &keys {
        ok(&mut writer, &["SET", key, "v", "PX", "30"]);
        assert_eq!(show(&tracker.cmd(&["GET", key])), "$1\r\nv\r\n");
        // Active expiry removes it within a few cycles of `hz`.
        expect(&mut tracker, &invalidate(&[key]));
    }
    ok(&mut writer, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    for key in &keys {
        ok(&mut writer, &["SET", key, "v", "PX", "20"]);
        assert_eq!(show(&tracker.cmd(&["GET", key])), "$1\r\nv\r\n");
    }
    // Let the deadlines pass (expiry, not the pushes, needs the time).
    std::thread::sleep(Duration::from_millis(60));
    for key in &keys {
        assert_eq!(show(&writer.cmd(&["GET", key])), "$-1\r\n");
        expect(&mut tracker, &invalidate(&[key]));
    }
    ok(&mut writer, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);

    let mut broadcast = resp3(server);
    ok(&mut broadcast, &["CLIENT", "TRACKING", "ON", "BCAST"]);
    for key in &keys {
        tracker.cmd(&["GET", key]);
    }
    ok(&mut writer, &["FLUSHALL"]);
    expect(&mut tracker, INVALIDATE_ALL);
    expect(&mut broadcast, INVALIDATE_ALL);
    assert_eq!(
        info_field(&mut writer, "stats", "tracking_total_keys"),
        "0",
        "a flush forgets every remembered key"
    );
    tracker.cmd(&["GET", &keys[0]]);
    let mut pipeline = encode(&["FLUSHDB"]);
    pipeline.extend(encode(&["PING"]));
    tracker.send(&pipeline);
    expect(&mut tracker, "+OK\r\n");
    expect(&mut tracker, INVALIDATE_ALL);
    expect(&mut tracker, "+PONG\r\n");
    expect(&mut broadcast, INVALIDATE_ALL);
}

/// RESP2 clients on any core redirect to one subscriber of `__redis__:invalidate`; a
/// RESP3 client redirects to a RESP3 client that neither tracks nor subscribes.
fn redirection_delivers_to_the_target(server: &TestServer) {
    let shards = server.shards();
    let keys = keys_on_shards("redirected:", 4, shards);
    let mut target = server.raw();
    let target_id = client_id(&mut target);
    assert_eq!(
        show(&target.cmd(&["SUBSCRIBE", "__redis__:invalidate"])),
        "*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n"
    );
    // Several trackers: the kernel spreads connections over cores.
    let mut trackers: Vec<RawClient> = keys.iter().map(|_| server.raw()).collect();
    for (tracker, key) in trackers.iter_mut().zip(&keys) {
        ok(
            tracker,
            &["CLIENT", "TRACKING", "ON", "REDIRECT", &target_id],
        );
        assert_eq!(
            show(&tracker.cmd(&["CLIENT", "GETREDIR"])),
            format!(":{target_id}\r\n")
        );
        let listed = show(&tracker.cmd(&["CLIENT", "INFO"]));
        assert!(
            listed.contains(" flags=t ") && listed.contains(&format!(" redir={target_id} ")),
            "{listed}"
        );
        assert_eq!(show(&tracker.cmd(&["GET", key])), "$-1\r\n");
    }
    let mut writer = server.raw();
    for key in &keys {
        ok(&mut writer, &["SET", key, "v"]);
        expect(&mut target, &message(&[key]));
    }
    ok(&mut writer, &["FLUSHALL"]);
    let null = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n";
    assert_eq!(
        pushes(&mut target, keys.len()),
        vec![null.to_owned(); keys.len()]
    );

    let mut quiet_target = resp3(server);
    let quiet_id = client_id(&mut quiet_target);
    let mut tracker = resp3(server);
    ok(
        &mut tracker,
        &["CLIENT", "TRACKING", "ON", "REDIRECT", &quiet_id],
    );
    for key in &keys {
        tracker.cmd(&["GET", key]);
        ok(&mut writer, &["SET", key, "w"]);
        expect(&mut quiet_target, &invalidate(&[key]));
    }
}

/// A RESP3 client whose redirect target disconnected is told so when an invalidation is
/// due, and its tracking state says the redirection is broken.
fn a_vanished_target_breaks_the_redirection(server: &TestServer) {
    let key = key_on_shard("broken:", server.shards() - 1, server.shards());
    let mut target = server.raw();
    let target_id = client_id(&mut target);
    let mut tracker = resp3(server);
    ok(
        &mut tracker,
        &["CLIENT", "TRACKING", "ON", "REDIRECT", &target_id],
    );
    tracker.cmd(&["GET", &key]);
    target.send_command(&[b"QUIT"]);
    target.read_until_closed();
    let mut writer = server.raw();
    // The target leaves the client list once its connection is cleaned up.
    let mut gone = false;
    for _ in 0..500 {
        let listed = show(&writer.cmd(&["CLIENT", "LIST", "ID", &target_id]));
        if !listed.contains(&format!("id={target_id} ")) {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(gone, "the target never left the client list");
    ok(&mut writer, &["SET", &key, "v"]);
    expect(
        &mut tracker,
        &format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{target_id}\r\n"),
    );
    let info = show(&tracker.cmd(&["CLIENT", "TRACKINGINFO"]));
    assert_eq!(
        info,
        format!("%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$15\r\nbroken_redirect\r\n$8\r\nredirect\r\n:{target_id}\r\n$8\r\nprefixes\r\n*0\r\n")
    );
    assert!(show(&tracker.cmd(&["CLIENT", "INFO"])).contains(" flags=tR "));
}

/// BCAST: one invalidation per prefix with the batch's matching keys of a shard; keys of
/// every shard; NOLOOP leaves out the client's own changes; OFF withdraws the prefixes.
fn broadcast_with_prefixes(server: &TestServer) {
    let shards = server.shards();
    let mut broadcast = resp3(server);
    let mut plain = resp3(server);
    let mut writer = server.raw();
    ok(
        &mut broadcast,
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "p:", "PREFIX", "q:", "NOLOOP",
        ],
    );
    ok(
        &mut plain,
        &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "p:"],
    );
    assert_eq!(
        show(&broadcast.cmd(&["CLIENT", "TRACKINGINFO"])),
        "%3\r\n$5\r\nflags\r\n~3\r\n$2\r\non\r\n$5\r\nbcast\r\n$6\r\nnoloop\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*2\r\n$2\r\np:\r\n$2\r\nq:\r\n"
    );
    assert!(show(&broadcast.cmd(&["CLIENT", "INFO"])).contains(" flags=tB "));
    assert_eq!(
        info_field(&mut writer, "stats", "tracking_total_prefixes"),
        "2"
    );
    ok(
        &mut writer,
        &[
            "MSET", "p:{t}2", "1", "p:{t}1", "2", "q:{t}1", "3", "x{t}", "4",
        ],
    );
    expect(&mut broadcast, &invalidate(&["p:{t}1", "p:{t}2"]));
    expect(&mut broadcast, &invalidate(&["q:{t}1"]));
    expect(&mut plain, &invalidate(&["p:{t}1", "p:{t}2"]));
    for key in keys_on_shards("p:", usize::from(shards), shards) {
        ok(&mut writer, &["SET", &key, "v"]);
        expect(&mut broadcast, &invalidate(&[&key]));
        expect(&mut plain, &invalidate(&[&key]));
    }
    // NOLOOP: its own change is left out; the other client hears of it.
    ok(&mut broadcast, &["SET", "p:{t}3", "mine"]);
    expect(&mut plain, &invalidate(&["p:{t}3"]));
    ok(&mut writer, &["SET", "p:{t}4", "theirs"]);
    expect(&mut broadcast, &invalidate(&["p:{t}4"]));
    expect(&mut plain, &invalidate(&["p:{t}4"]));
    ok(&mut broadcast, &["CLIENT", "TRACKING", "OFF"]);
    assert_eq!(
        info_field(&mut writer, "stats", "tracking_total_prefixes"),
        "1"
    );
    ok(&mut plain, &["CLIENT", "TRACKING", "OFF"]);
    assert_eq!(
        info_field(&mut writer, "stats", "tracking_total_prefixes"),
        "0"
    );
    assert_eq!(
        show(&broadcast.cmd(&["CLIENT", "TRACKINGINFO"])),
        "%3\r\n$5\r\nflags\r\n~1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n"
    );
}

/// NOLOOP in default mode: no invalidation for one's own write (and the key is
/// forgotten, as in Redis), one for another client's.
fn noloop_skips_own_writes(server: &TestServer) {
    let mut tracker = resp3(server);
    let mut writer = server.raw();
    ok(&mut tracker, &["CLIENT", "TRACKING", "ON", "NOLOOP"]);
    tracker.cmd(&["GET", "{n}1"]);
    ok(&mut tracker, &["SET", "{n}1", "mine"]);
    ok(&mut writer, &["SET", "{n}1", "theirs"]);
    tracker.cmd(&["GET", "{n}2"]);
    ok(&mut writer, &["SET", "{n}2", "theirs"]);
    expect(&mut tracker, &invalidate(&["{n}2"]));
    // Its own writes of keys on several shards too (written back by a multi-shard
    // command: a RENAME, a SUNIONSTORE run on a scratch copy).
    let keys = keys_on_shards("noloop:", 3, server.shards());
    ok(&mut writer, &["SET", &keys[0], "v"]);
    for key in &keys {
        tracker.cmd(&["GET", key]);
    }
    ok(&mut tracker, &["RENAME", &keys[0], &keys[1]]);
    tracker.cmd(&["SADD", &keys[0], "member"]);
    tracker.cmd(&["GET", &keys[2]]);
    assert_eq!(
        show(&tracker.cmd(&["SUNIONSTORE", &keys[2], &keys[0]])),
        ":1\r\n"
    );
    tracker.cmd(&["GET", "{n}3"]);
    ok(&mut writer, &["SET", "{n}3", "theirs"]);
    expect(&mut tracker, &invalidate(&["{n}3"]));
}

/// OPTIN remembers only the command after CLIENT CACHING YES (all of MULTI ... EXEC when
/// that comes next, only the first of a pipeline); OPTOUT remembers all but the command
/// after CLIENT CACHING NO.
fn optin_and_optout_follow_client_caching(server: &TestServer) {
    let mut optin = resp3(server);
    let mut writer = server.raw();
    ok(&mut optin, &["CLIENT", "TRACKING", "ON", "OPTIN"]);
    optin.cmd(&["GET", "{o}1"]);
    ok(&mut optin, &["CLIENT", "CACHING", "YES"]);
    assert_eq!(
        show(&optin.cmd(&["CLIENT", "TRACKINGINFO"])),
        "%3\r\n$5\r\nflags\r\n~3\r\n$2\r\non\r\n$5\r\noptin\r\n$11\r\ncaching-yes\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*0\r\n",
        "CLIENT commands keep the switch"
    );
    optin.cmd(&["GET", "{o}2"]);
    optin.cmd(&["GET", "{o}3"]);
    ok(
        &mut writer,
        &["MSET", "{o}1", "1", "{o}2", "2", "{o}3", "3"],
    );
    expect(&mut optin, &invalidate(&["{o}2"]));

    ok(&mut optin, &["CLIENT", "CACHING", "YES"]);
    ok(&mut optin, &["MULTI"]);
    optin.cmd(&["GET", "{o}4"]);
    optin.cmd(&["GET", "{o}5"]);
    optin.cmd(&["EXEC"]);
    optin.cmd(&["GET", "{o}6"]);
    ok(
        &mut writer,
        &["MSET", "{o}4", "4", "{o}5", "5", "{o}6", "6"],
    );
    expect(&mut optin, &invalidate(&["{o}4"]));
    expect(&mut optin, &invalidate(&["{o}5"]));

    let mut pipeline = encode(&["CLIENT", "CACHING", "YES"]);
    pipeline.extend(encode(&["GET", "{o}7"]));
    pipeline.extend(encode(&["GET", "{o}8"]));
    optin.send(&pipeline);
    optin.read_replies(3);
    ok(&mut writer, &["MSET", "{o}8", "8", "{o}7", "7"]);
    expect(&mut optin, &invalidate(&["{o}7"]));
    ok(&mut optin, &["CLIENT", "CACHING", "YES"]);
    optin.cmd(&["GET", "{o}9"]);
    ok(&mut writer, &["SET", "{o}9", "9"]);
    expect(&mut optin, &invalidate(&["{o}9"]));

    let mut optout = resp3(server);
    ok(&mut optout, &["CLIENT", "TRACKING", "ON", "OPTOUT"]);
    ok(&mut optout, &["CLIENT", "CACHING", "NO"]);
    optout.cmd(&["GET", "{u}1"]);
    optout.cmd(&["GET", "{u}2"]);
    ok(&mut writer, &["MSET", "{u}1", "1", "{u}2", "2"]);
    expect(&mut optout, &invalidate(&["{u}2"]));
}

/// `tracking-table-max-keys`: past the limit, remembered keys are forgotten and their
/// readers told to drop them (otherwise they would keep a copy nobody invalidates); 0 is
/// no limit.
fn the_table_keeps_to_its_limit(server: &TestServer) {
    let keys = keys_on_shards("limited:", 12, server.shards());
    let mut target = server.raw();
    let target_id = client_id(&mut target);
    target.cmd(&["SUBSCRIBE", "__redis__:invalidate"]);
    let mut tracker = server.raw();
    ok(
        &mut tracker,
        &["CLIENT", "TRACKING", "ON", "REDIRECT", &target_id],
    );
    let mut admin = server.raw();
    ok(
        &mut admin,
        &["CONFIG", "SET", "tracking-table-max-keys", "4"],
    );
    assert_eq!(
        show(&admin.cmd(&["CONFIG", "GET", "tracking-table-max-keys"])),
        "*2\r\n$23\r\ntracking-table-max-keys\r\n$1\r\n4\r\n"
    );
    for key in &keys {
        tracker.cmd(&["GET", key]);
    }
    let kept: usize = info_field(&mut admin, "stats", "tracking_total_keys")
        .parse()
        .expect("a count");
    assert!((1..=4).contains(&kept), "{kept} keys kept");
    // Every key forgotten was invalidated, once.
    let mut forgotten: Vec<String> = (0..keys.len() - kept)
        .map(|_| show(&target.read_reply()))
        .collect();
    forgotten.sort();
    forgotten.dedup();
    assert_eq!(forgotten.len(), keys.len() - kept);
    assert!(forgotten
        .iter()
        .all(|frame| keys.iter().any(|key| *frame == message(&[key]))));
    ok(
        &mut admin,
        &["CONFIG", "SET", "tracking-table-max-keys", "0"],
    );
    for key in &keys {
        tracker.cmd(&["GET", key]);
    }
    assert_eq!(
        info_field(&mut admin, "stats", "tracking_total_keys"),
        keys.len().to_string()
    );
}

/// INFO's tracking figures and CLIENT LIST's `redir`.
fn info_counts_tracking(server: &TestServer) {
    let shards = server.shards();
    let keys = keys_on_shards("counted:", 2 * usize::from(shards), shards);
    let mut observer = server.raw();
    assert_eq!(
        info_field(&mut observer, "clients", "tracking_clients"),
        "0"
    );
    let mut first = resp3(server);
    let mut second = server.raw();
    ok(&mut first, &["CLIENT", "TRACKING", "ON"]);
    ok(
        &mut second,
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "b",
        ],
    );
    for key in &keys {
        first.cmd(&["GET", key]);
    }
    first.cmd(&["GET", &keys[0]]);
    ok(
        &mut second,
        &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "c"],
    );
    assert_eq!(
        info_field(&mut observer, "clients", "tracking_clients"),
        "2"
    );
    assert_eq!(
        info_field(&mut observer, "stats", "tracking_total_keys"),
        keys.len().to_string()
    );
    assert_eq!(
        info_field(&mut observer, "stats", "tracking_total_items"),
        keys.len().to_string()
    );
    assert_eq!(
        info_field(&mut observer, "stats", "tracking_total_prefixes"),
        "3"
    );
    let listed = show(&observer.cmd(&["CLIENT", "LIST"]));
    assert!(listed.contains(" flags=t db=0 "), "{listed}");
    assert!(listed.contains(" redir=0 "), "{listed}");
    assert!(listed.contains(" flags=N db=0 "), "{listed}");
    second.send_command(&[b"QUIT"]);
    second.read_until_closed();
    assert_eq!(show(&first.cmd(&["RESET"])), "+RESET\r\n");
    let mut cleared = false;
    for _ in 0..500 {
        if info_field(&mut observer, "clients", "tracking_clients") == "0"
            && info_field(&mut observer, "stats", "tracking_total_prefixes") == "0"
        {
            cleared = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(cleared, "RESET and a disconnection end tracking");
}

/// A real client library: RESP3 with a push sender receives `invalidate` pushes.
fn a_real_client_receives_invalidations(server: &TestServer) {
    let shards = server.shards();
    let keys = keys_on_shards("library:", 2 * usize::from(shards), shards);
    let mut connection = server.client_resp3();
    let (sender, receiver) = std::sync::mpsc::channel();
    connection.set_push_sender(sender);
    let _: () = peregrine_testkit::run(&mut connection, &["CLIENT", "TRACKING", "ON"]);
    for key in &keys {
        let value: Option<String> = peregrine_testkit::run(&mut connection, &["GET", key]);
        assert_eq!(value, None);
    }
    let mut writer = server.client();
    for key in &keys {
        let _: () = peregrine_testkit::run(&mut writer, &["SET", key, "v"]);
    }
    let mut invalidated: Vec<String> = Vec::new();
    // The sync client reads pushes while it waits for a reply.
    for _ in 0..200 {
        if invalidated.len() == keys.len() {
            break;
        }
        let _: String = peregrine_testkit::run(&mut connection, &["PING"]);
        while let Ok(push) = receiver.recv_timeout(Duration::from_millis(20)) {
            assert_eq!(push.kind, redis::PushKind::Invalidate);
            let names: Vec<String> =
                redis::from_redis_value(push.data.into_iter().next().unwrap_or(redis::Value::Nil))
                    .unwrap_or_default();
            invalidated.extend(names);
        }
    }
    invalidated.sort();
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(invalidated, expected);
}

with_1_and_4_shards! {
    bin = BIN;
    writes_invalidate_keys_on_every_shard,
    expiry_and_flushes_invalidate,
    redirection_delivers_to_the_target,
    a_vanished_target_breaks_the_redirection,
    broadcast_with_prefixes,
    noloop_skips_own_writes,
    optin_and_optout_follow_client_caching,
    info_counts_tracking,
    the_table_keeps_to_its_limit,
    a_real_client_receives_invalidations,
}

fn scenarios() -> Vec<(&'static str, Vec<Step>)> {
    vec![
        (
            "argument errors and replies while off",
            vec![
                Send(0, "CLIENT TRACKINGINFO"),
                Send(0, "CLIENT GETREDIR"),
                Send(0, "CLIENT TRACKING"),
                Send(0, "CLIENT TRACKING maybe"),
                Send(0, "CLIENT TRACKING on foo"),
                Send(0, "CLIENT TRACKING on REDIRECT"),
                Send(0, "CLIENT TRACKING on REDIRECT abc"),
                Send(0, "CLIENT TRACKING on REDIRECT 0"),
                Send(0, "CLIENT TRACKING on REDIRECT -5"),
                Send(0, "CLIENT TRACKING on REDIRECT 99999999"),
                Send(0, "CLIENT TRACKING off REDIRECT 99999999"),
                Send(0, "CLIENT TRACKING on PREFIX a"),
                Send(0, "CLIENT TRACKING on OPTIN OPTOUT"),
                Send(0, "CLIENT TRACKING on BCAST OPTIN"),
                Send(0, "CLIENT TRACKING on BCAST OPTOUT"),
                Send(0, "CLIENT TRACKING on BCAST PREFIX foo PREFIX foobar"),
                Send(0, "CLIENT TRACKING on BCAST PREFIX foobar PREFIX foo"),
                Send(0, "CLIENT TRACKING off PREFIX x BCAST"),
                Send(0, "CLIENT CACHING yes"),
                Send(0, "CLIENT CACHING maybe"),
                Send(0, "CLIENT CACHING"),
                Send(0, "CLIENT GETREDIR x"),
                Send(0, "CLIENT TRACKINGINFO x"),
                Send(0, "CLIENT TRACKINGINFO"),
            ],
        ),
        (
            "modes, switches and CACHING",
            vec![
                Send(0, "CLIENT TRACKING on"),
                Send(0, "CLIENT GETREDIR"),
                Send(0, "CLIENT CACHING yes"),
                Send(0, "CLIENT CACHING no"),
                Send(0, "CLIENT TRACKING on BCAST"),
                Send(0, "CLIENT TRACKING on OPTOUT"),
                Send(0, "CLIENT TRACKINGINFO"),
                Send(0, "CLIENT TRACKING on OPTIN"),
                Send(0, "CLIENT TRACKING off"),
                Send(0, "CLIENT TRACKING on OPTIN NOLOOP"),
                Send(0, "CLIENT CACHING no"),
                Send(0, "CLIENT CACHING maybe"),
                Send(0, "CLIENT CACHING yes"),
                Send(0, "CLIENT TRACKINGINFO"),
                Send(0, "GET {0}"),
                Send(0, "CLIENT TRACKINGINFO"),
                Send(0, "CLIENT TRACKING on OPTOUT"),
                Send(0, "CLIENT TRACKING off"),
                Send(0, "CLIENT TRACKINGINFO"),
                Send(0, "CLIENT GETREDIR"),
            ],
        ),
        (
            "BCAST prefixes",
            vec![
                Quiet(0, "HELLO 3"),
                Send(0, "CLIENT TRACKING on BCAST"),
                Send(0, "CLIENT TRACKINGINFO"),
                Send(0, "CLIENT TRACKING on BCAST PREFIX x"),
                Send(0, "CLIENT TRACKING on"),
                Send(0, "CLIENT TRACKING off"),
                Send(0, "CLIENT TRACKING on BCAST PREFIX ab PREFIX zz"),
                Send(0, "CLIENT TRACKING on BCAST PREFIX cd PREFIX ab"),
                Send(0, "CLIENT TRACKING on BCAST PREFIX a"),
                Send(0, "CLIENT TRACKING on BCAST PREFIX abc"),
                Send(0, "CLIENT TRACKING on BCAST PREFIX cd NOLOOP"),
                Send(0, "CLIENT TRACKING on BCAST"),
                Send(0, "CLIENT TRACKINGINFO"),
                Send(0, "CLIENT GETREDIR"),
                Send(0, "CLIENT TRACKING off"),
                Send(0, "CLIENT TRACKINGINFO"),
            ],
        ),
        (
            "RESP3 pushes on the client's own connection",
            vec![
                Quiet(0, "HELLO 3"),
                Send(0, "CLIENT TRACKING on"),
                Send(0, "GET {0}"),
                Send(0, "SET {0} mine"),
                Send(0, "PING"),
                Send(0, "GET {1}"),
                Send(0, "FLUSHALL"),
                Send(0, "PING"),
                Send(0, "CLIENT TRACKINGINFO"),
                Send(0, "RESET"),
                Send(0, "CLIENT TRACKINGINFO"),
            ],
        ),
    ]
}

/// Every tracking command's reply and error, and pushes a client causes itself, byte for
/// byte as redis-server sends them.
#[test]
fn tracking_commands_reply_as_redis_does() {
    let Some(oracle) = RedisOracle::start("the CLIENT TRACKING scenarios") else {
        return;
    };
    let shards = 2;
    let server = TestServer::start(BIN, shards);
    let keys = keys_on_shards("scenario:", 2, shards);
    let redis: SocketAddr = ([127, 0, 0, 1], oracle.port()).into();
    let mismatches = mismatches(redis, server.addr(), &keys, &scenarios());
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
