//! Persistence end to end, with real processes killed by SIGKILL and real files on disk:
//! every type survives a crash with its TTLs, acknowledged writes survive under
//! `appendfsync always`, `everysec` loses at most a recent suffix, multi-shard writes are
//! all or nothing, torn tails are truncated, corruption stops start-up (or is skipped when
//! the operator says so), encrypted data needs its key.

mod support;

use peregrine_persist::{ScanItem, SegmentReader};
use peregrine_testkit::{key_on_shard, poll_until, run, TestServer};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{await_snapshots, dump, persistence_field, populate};

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

fn every_type_survives_kill_9(shards: u16) {
    let mut server = TestServer::start_with(BIN, shards, &["--appendfsync", "always"]);
    populate(&server);
    let before = dump(&server);
    assert!(before.len() > 15, "{before:#?}");
    server.crash();
    let restarted = server.restart();
    assert_eq!(dump(&restarted), before);
    // The restarted server logs again: a second crash loses nothing either.
    let _: () = run(&mut restarted.client(), &["SET", "second-life", "1"]);
    let before = dump(&restarted);
    let mut restarted = restarted;
    restarted.crash();
    assert_eq!(dump(&restarted.restart()), before);
}

#[test]
fn every_type_survives_kill_9_one_shard() {
    every_type_survives_kill_9(1);
}

#[test]
fn every_type_survives_kill_9_four_shards() {
    every_type_survives_kill_9(4);
}

#[test]
fn a_clean_shutdown_keeps_everything_with_everysec() {
    let server = TestServer::start_with(BIN, 2, &["--appendfsync", "everysec"]);
    let mut connection = server.client();
    for index in 0..2000 {
        let _: () = run(
            &mut connection,
            &["SET", &format!("key:{index}"), &index.to_string()],
        );
    }
    let before = dump(&server);
    let _ = redis::cmd("SHUTDOWN").query::<redis::Value>(&mut connection);
    drop(connection);
    let mut server = server;
    assert!(peregrine_testkit::poll_until(
        Duration::from_secs(20),
        || !server.is_running()
    ));
    assert_eq!(dump(&server.restart()), before);
}

/// Waits (up to 20 s) until `server`'s process has exited.
fn wait_for_exit(server: &mut TestServer) {
    assert!(
        poll_until(Duration::from_secs(20), || !server.is_running()),
        "the server did not stop"
    );
}

/// Without the log (`appendonly no`), stopping saves as redis-server does: SHUTDOWN and
/// SIGTERM take a final snapshot when save points are configured (the default), SHUTDOWN
/// NOSAVE does not, SHUTDOWN SAVE does even without save points; a malformed SHUTDOWN is a
/// syntax error and stops nothing.
#[test]
fn stopping_saves_per_the_save_points_without_the_log() {
    let mut server = TestServer::start_with(BIN, 2, &["--appendonly", "no"]);
    let set = |server: &TestServer, key: &str| {
        let _: () = run(&mut server.client(), &["SET", key, "1"]);
    };
    let exists =
        |server: &TestServer, key: &str| -> i64 { run(&mut server.client(), &["EXISTS", key]) };
    let mut raw = server.raw();
    for malformed in [
        &["SHUTDOWN", "SAVE", "NOSAVE"][..],
        &["SHUTDOWN", "NOW", "ABORT"],
        &["SHUTDOWN", "LATER"],
    ] {
        assert_eq!(
            raw.command(
                &malformed
                    .iter()
                    .map(|word| word.as_bytes())
                    .collect::<Vec<_>>()
            ),
            b"-ERR syntax error\r\n"
        );
    }
    assert_eq!(
        raw.cmd(&["SHUTDOWN", "ABORT"]),
        b"-ERR No shutdown in progress.\r\n"
    );
    drop(raw);
    set(&server, "by-shutdown");
    let _ = redis::cmd("SHUTDOWN").query::<redis::Value>(&mut server.client());
    wait_for_exit(&mut server);
    let mut server = server.restart();
    assert_eq!(exists(&server, "by-shutdown"), 1);
    set(&server, "by-sigterm");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    wait_for_exit(&mut server);
    let mut server = server.restart();
    assert_eq!(exists(&server, "by-sigterm"), 1);
    set(&server, "nosave");
    let _ = redis::cmd("SHUTDOWN")
        .arg("NOSAVE")
        .query::<redis::Value>(&mut server.client());
    wait_for_exit(&mut server);
    let mut server = server.restart_with(2, &["--save", ""]);
    assert_eq!(exists(&server, "nosave"), 0);
    set(&server, "forced-save");
    let _ = redis::cmd("SHUTDOWN")
        .arg("SAVE")
        .query::<redis::Value>(&mut server.client());
    wait_for_exit(&mut server);
    let server = server.restart_with(2, &["--save", ""]);
    assert_eq!(exists(&server, "forced-save"), 1);
}

/// SHUTDOWN while the data set is still loading takes no final snapshot (it would hold
/// part of the data and replace the files that hold all of it): after the next start,
/// every key is there.
#[test]
fn shutdown_while_loading_keeps_the_data() {
    const KEYS: u64 = 2_000_000;
    let directory = tempfile::tempdir().expect("temporary directory");
    let data = directory.path().to_path_buf();
    let dir = data.display().to_string();
    let server = TestServer::start_with(BIN, 1, &["--appendonly", "no", "--dir", &dir]);
    let populated: String = run(
        &mut server.client(),
        &["DEBUG", "POPULATE", &KEYS.to_string()],
    );
    assert_eq!(populated, "OK");
    let saved: String = run(&mut server.client(), &["SAVE"]);
    assert_eq!(saved, "OK");
    drop(server);
    // Started by hand: the test harness waits for the Ready line, which follows loading.
    let port = peregrine_testkit::free_port();
    let log = data.join("loading.log");
    let mut child = std::process::Command::new(BIN)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--shards",
            "1",
        ])
        .args([
            "--appendonly",
            "no",
            "--enable-debug-command",
            "local",
            "--dir",
        ])
        .arg(&data)
        .arg("--logfile")
        .arg(&log)
        .env("NO_COLOR", "1")
        .spawn()
        .expect("start peregrine-server");
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut client = loop {
        if let Ok(stream) = std::net::TcpStream::connect(address) {
            break peregrine_testkit::RawClient::from_stream(stream);
        }
        assert!(Instant::now() < deadline, "the server did not listen");
        std::thread::sleep(Duration::from_millis(2));
    };
    client.send(b"SHUTDOWN\r\n");
    let _ = client.read_until_closed();
    let _ = child.wait();
    let restarted = TestServer::start_with(BIN, 1, &["--appendonly", "no", "--dir", &dir]);
    let keys: u64 = run(&mut restarted.client(), &["DBSIZE"]);
    assert_eq!(keys, KEYS);
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logged.contains("Not saving the final snapshot: the data set is still loading."),
        "SHUTDOWN did not arrive while loading (the test proves nothing):\n{logged}"
    );
}

/// Writers record each acknowledged write; the server is killed mid-load; after restart
/// every acknowledged write must be there.
#[test]
fn acknowledged_writes_survive_kill_9_with_always() {
    let mut server = TestServer::start_with(BIN, 2, &["--appendfsync", "always"]);
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged_count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let mut connection = server.client();
            let stop = stop.clone();
            let acknowledged_count = acknowledged_count.clone();
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for index in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let key = format!("w{writer}:{index}");
                    let result: redis::RedisResult<()> = redis::cmd("SET")
                        .arg(&key)
                        .arg(index)
                        .query(&mut connection);
                    let pushed: redis::RedisResult<i64> = redis::cmd("RPUSH")
                        .arg(format!("list{writer}"))
                        .arg(index)
                        .query(&mut connection);
                    match (result, pushed) {
                        (Ok(()), Ok(length)) => {
                            acknowledged.push((key, length));
                            acknowledged_count.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    // Crash mid-load, once a few hundred writes are acknowledged (however slow the
    // disk's flushes are today).
    assert!(
        poll_until(Duration::from_secs(60), || acknowledged_count
            .load(Ordering::Relaxed)
            >= 400),
        "the writers got too few acknowledgements"
    );
    server.crash();
    stop.store(true, Ordering::Relaxed);
    let acknowledged: Vec<Vec<(String, i64)>> = writers
        .into_iter()
        .map(|writer| writer.join().unwrap())
        .collect();
    let restarted = server.restart();
    let mut connection = restarted.client();
    let mut checked = 0;
    for (writer, writes) in acknowledged.iter().enumerate() {
        assert!(!writes.is_empty(), "writer {writer} got no acknowledgement");
        let length: i64 = run(&mut connection, &["LLEN", &format!("list{writer}")]);
        let last_length = writes.last().map_or(0, |(_, length)| *length);
        assert!(
            length >= last_length,
            "list{writer}: {length} < acknowledged {last_length}"
        );
        for (key, _) in writes {
            let exists: bool = run(&mut connection, &["EXISTS", key]);
            assert!(exists, "acknowledged {key} is missing after the crash");
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} writes were acknowledged");
}

/// With everysec a crash loses a suffix: what survives of a sequence of writes is a
/// prefix, and the lost part was written in about the last second.
#[test]
fn everysec_loses_only_a_recent_suffix() {
    let mut server = TestServer::start_with(BIN, 1, &["--appendfsync", "everysec"]);
    let mut connection = server.client();
    let started = Instant::now();
    let mut acknowledged_at = Vec::new();
    while started.elapsed() < Duration::from_millis(2500) {
        let index = acknowledged_at.len();
        let _: () = run(&mut connection, &["SET", &format!("seq:{index}"), "x"]);
        acknowledged_at.push(started.elapsed());
    }
    let crashed_at = started.elapsed();
    server.crash();
    let restarted = server.restart();
    let mut connection = restarted.client();
    let survivors: i64 = run(&mut connection, &["DBSIZE"]);
    let survivors = survivors as usize;
    for index in 0..acknowledged_at.len() {
        let exists: bool = run(&mut connection, &["EXISTS", &format!("seq:{index}")]);
        assert_eq!(exists, index < survivors, "seq:{index}: not a prefix");
    }
    if survivors < acknowledged_at.len() {
        let first_lost = acknowledged_at[survivors];
        let window = crashed_at - first_lost;
        assert!(
            window <= Duration::from_millis(2000),
            "lost writes acknowledged {window:?} before the crash"
        );
    }
}

/// The log segments of `shard` in `dir`, oldest first.
fn log_segments(dir: &Path, shard: u32) -> Vec<PathBuf> {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .and_then(peregrine_persist::parse_log_file_name)
                .is_some_and(|(owner, _)| owner == shard)
        })
        .collect();
    segments.sort();
    segments
}

/// Offsets of the blocks of a segment.
fn block_offsets(path: &Path) -> Vec<u64> {
    let mut reader = SegmentReader::open(path, &peregrine_persist::Cipher::none()).unwrap();
    let mut offsets = Vec::new();
    while let Some(item) = reader.next_item() {
        if let ScanItem::Block(block) = item {
            offsets.push(block.offset);
        }
    }
    offsets
}

/// Cuts the newest log segment of `shard` `kept` bytes into its last block, as a crash
/// in the middle of writing that block would.
fn tear_last_block(dir: &Path, shard: u32, kept: u64) {
    let segment = log_segments(dir, shard).pop().unwrap();
    let last = *block_offsets(&segment).last().unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(last + kept)
        .unwrap();
}

/// A multi-shard MSET whose part on one shard never reached the disk is absent on every
/// shard after recovery, and so are the writes after it there.
#[test]
fn a_multi_shard_write_is_all_or_nothing_after_a_crash() {
    let mut server = TestServer::start_with(BIN, 2, &["--appendfsync", "always"]);
    let mut connection = server.client();
    let first = key_on_shard("a", 0, 2);
    let second = key_on_shard("b", 1, 2);
    let _: () = run(&mut connection, &["SET", &first, "before"]);
    let _: () = run(&mut connection, &["SET", &second, "before"]);
    let _: () = run(&mut connection, &["MSET", &first, "new", &second, "new"]);
    server.crash();
    // Cut shard 1's log at its last block: the MSET's part there "never reached the disk".
    tear_last_block(server.data_dir(), 1, 20);
    let restarted = server.restart();
    let mut connection = restarted.client();
    let values: Vec<String> = run(&mut connection, &["MGET", &first, &second]);
    assert_eq!(values, vec!["before", "before"]);
    assert!(restarted.log().contains("torn tail"), "{}", restarted.log());
    // What the log held after the lost operation is gone for good: writes made now
    // survive the next restart, and the operation stays absent.
    let later = key_on_shard("later", 0, 2);
    let _: () = run(&mut connection, &["SET", &later, "1"]);
    let mut restarted = restarted;
    restarted.crash();
    let again = restarted.restart();
    let values: Vec<Option<String>> = run(&mut again.client(), &["MGET", &first, &second, &later]);
    assert_eq!(
        values,
        vec![
            Some("before".into()),
            Some("before".into()),
            Some("1".into())
        ]
    );
}

#[test]
fn a_torn_last_block_is_truncated_and_reported() {
    let mut server = TestServer::start_with(BIN, 1, &["--appendfsync", "always"]);
    let mut connection = server.client();
    let _: () = run(&mut connection, &["SET", "kept", "1"]);
    let _: () = run(&mut connection, &["SET", "torn", "2"]);
    server.crash();
    let segment = log_segments(server.data_dir(), 0).pop().unwrap();
    let length = std::fs::metadata(&segment).unwrap().len();
    tear_last_block(server.data_dir(), 0, 30);
    let restarted = server.restart();
    let mut connection = restarted.client();
    let kept: Option<String> = run(&mut connection, &["GET", "kept"]);
    let torn: Option<String> = run(&mut connection, &["GET", "torn"]);
    assert_eq!((kept.as_deref(), torn), (Some("1"), None));
    let log = restarted.log();
    assert!(
        log.contains("torn tail at offset") && log.contains("30 bytes dropped"),
        "{log}"
    );
    assert!(std::fs::metadata(&segment).unwrap().len() < length);
}

#[test]
fn a_corrupt_block_stops_startup_unless_skipping_is_allowed() {
    let mut server = TestServer::start_with(BIN, 1, &["--appendfsync", "always"]);
    let mut connection = server.client();
    for index in 0..3 {
        let _: () = run(&mut connection, &["SET", &format!("key{index}"), "value"]);
    }
    server.crash();
    let segment = log_segments(server.data_dir(), 0).pop().unwrap();
    let offsets = block_offsets(&segment);
    assert!(offsets.len() >= 3, "{offsets:?}");
    let damaged = offsets[1] + 60;
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[damaged as usize] ^= 0xff;
    std::fs::write(&segment, &bytes).unwrap();
    let (status, output) = server.start_expecting_failure(&[]);
    assert!(!status.success());
    let name = segment.file_name().unwrap().to_str().unwrap();
    assert!(
        output.contains(name) && output.contains(&format!("offset {}", offsets[1])),
        "{output}"
    );
    let restarted = server.restart_with(1, &["--aof-load-skip-corrupt", "yes"]);
    let mut connection = restarted.client();
    let survivors: Vec<Option<String>> = run(&mut connection, &["MGET", "key0", "key1", "key2"]);
    assert_eq!(
        survivors,
        vec![Some("value".into()), None, Some("value".into())]
    );
}

#[test]
fn encrypted_data_needs_its_key() {
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("key");
    let wrong_file = keys.path().join("wrong");
    std::fs::write(&key_file, "11".repeat(32)).unwrap();
    std::fs::write(&wrong_file, "22".repeat(32)).unwrap();
    let key_arg = key_file.display().to_string();
    let mut server = TestServer::start_with(
        BIN,
        1,
        &["--appendfsync", "always", "--encryption-key-file", &key_arg],
    );
    let _: () = run(&mut server.client(), &["SET", "secret", "plaintext-marker"]);
    server.crash();
    for segment in log_segments(server.data_dir(), 0) {
        let bytes = std::fs::read(segment).unwrap();
        assert!(!bytes
            .windows(16)
            .any(|window| window == b"plaintext-marker"));
    }
    // Without the key, or with a wrong one, the server refuses to start: it never reads
    // garbage.
    let (status, output) = server.start_expecting_failure(&["--encryption-key-file", ""]);
    assert!(!status.success());
    assert!(output.contains("is encrypted"), "{output}");
    let (status, output) =
        server.start_expecting_failure(&["--encryption-key-file", wrong_file.to_str().unwrap()]);
    assert!(!status.success());
    assert!(output.contains("wrong encryption key"), "{output}");
    let restarted = server.restart();
    let value: String = run(&mut restarted.client(), &["GET", "secret"]);
    assert_eq!(value, "plaintext-marker");
}

fn segment_names(server: &TestServer) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(server.data_dir().join("appendonlydir"))
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_snapshot_replaces_the_log_it_covers() {
    let mut server = TestServer::start_with(BIN, 2, &["--appendfsync", "always"]);
    populate(&server);
    let logs_before: Vec<String> = segment_names(&server)
        .into_iter()
        .filter(|name| name.starts_with("log-"))
        .collect();
    let started: String = run(&mut server.client(), &["BGSAVE"]);
    assert_eq!(started, "Background saving started");
    await_snapshots(&server, 1);
    assert_eq!(persistence_field(&server, "rdb_last_bgsave_status"), "ok");
    let names = segment_names(&server);
    assert!(names.contains(&"manifest".to_owned()), "{names:?}");
    assert!(
        names
            .iter()
            .any(|name| name.starts_with("snap-0000000001-")),
        "{names:?}"
    );
    for old in &logs_before {
        assert!(
            !names.contains(old),
            "{old} survived the snapshot: {names:?}"
        );
    }
    let _: () = run(&mut server.client(), &["SET", "after-snapshot", "1"]);
    let _: () = run(&mut server.client(), &["DEL", "plain"]);
    let lastsave: i64 = run(&mut server.client(), &["LASTSAVE"]);
    assert!(lastsave > 1_700_000_000);
    let before = dump(&server);
    server.crash();
    assert_eq!(dump(&server.restart()), before);
}

/// Every `key:<i>` (i < `count`) and every `new:*` key with its value, read in bulk.
fn string_state(server: &TestServer, count: usize) -> Vec<String> {
    let mut connection = server.client();
    let mut state = Vec::new();
    let keys: Vec<String> = (0..count).map(|index| format!("key:{index}")).collect();
    for chunk in keys.chunks(1000) {
        let values: Vec<Option<String>> = redis::cmd("MGET")
            .arg(chunk)
            .query(&mut connection)
            .unwrap();
        state.extend(values.into_iter().map(|value| format!("{value:?}")));
    }
    let mut created: Vec<String> = run(&mut connection, &["KEYS", "new:*"]);
    created.sort();
    for chunk in created.chunks(1000) {
        let values: Vec<Option<String>> = redis::cmd("MGET")
            .arg(chunk)
            .query(&mut connection)
            .unwrap();
        state.extend(
            chunk
                .iter()
                .zip(values)
                .map(|(key, value)| format!("{key}={value:?}")),
        );
    }
    state
}

/// Writers keep changing keys while the snapshot sweeps: the snapshot must be the point
/// in time of its start, so that it plus the log after it is exactly the final state.
#[test]
fn a_snapshot_taken_under_writes_plus_the_log_is_exact() {
    const KEYS: usize = 100_000;
    let mut server = TestServer::start_with(BIN, 2, &["--appendfsync", "everysec"]);
    let mut connection = server.client();
    for start in (0..KEYS).step_by(10_000) {
        let mut pipeline = redis::pipe();
        for index in start..start + 10_000 {
            pipeline
                .cmd("SET")
                .arg(format!("key:{index}"))
                .arg(index)
                .ignore();
        }
        let _: () = pipeline.query(&mut connection).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2u64)
        .map(|writer| {
            let mut connection = server.client();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut round = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut pipeline = redis::pipe();
                    for _ in 0..50 {
                        round += 1;
                        let spot = (round * 7919 + writer * 31) % KEYS as u64;
                        pipeline.cmd("INCR").arg(format!("key:{spot}")).ignore();
                        if round.is_multiple_of(5) {
                            pipeline
                                .cmd("DEL")
                                .arg(format!("key:{}", (round * 104_729) % KEYS as u64))
                                .ignore();
                            pipeline
                                .cmd("SET")
                                .arg(format!("new:{writer}:{round}"))
                                .arg(round)
                                .ignore();
                        }
                    }
                    let _: () = pipeline.query(&mut connection).unwrap();
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let _: String = run(&mut connection, &["BGSAVE"]);
    await_snapshots(&server, 1);
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().unwrap();
    }
    // A clean shutdown writes the whole log; the restart loads snapshot plus log.
    let before = string_state(&server, KEYS);
    let _ = redis::cmd("SHUTDOWN").query::<redis::Value>(&mut connection);
    assert!(peregrine_testkit::poll_until(
        Duration::from_secs(20),
        || !server.is_running()
    ));
    assert_eq!(string_state(&server.restart(), KEYS), before);
}

#[test]
fn debug_reload_keeps_the_dataset() {
    let server = TestServer::start(BIN, 4);
    populate(&server);
    let before = dump(&server);
    let _: () = run(&mut server.client(), &["DEBUG", "RELOAD"]);
    assert_eq!(dump(&server), before);
    // SAVE then a restart with the log switched off loads the snapshot alone.
    let _: () = run(&mut server.client(), &["SAVE"]);
    let mut server = server;
    server.crash();
    let restarted = server.restart_with(4, &["--appendonly", "no"]);
    assert_eq!(dump(&restarted), before);
    assert_eq!(persistence_field(&restarted, "aof_enabled"), "0");
}

#[test]
fn save_rules_and_log_growth_trigger_snapshots() {
    let server = TestServer::start_with(BIN, 1, &["--save", "1 1"]);
    let _: () = run(&mut server.client(), &["SET", "k", "v"]);
    await_snapshots(&server, 1);
    let server = TestServer::start_with(
        BIN,
        1,
        &[
            "--save",
            "",
            "--auto-aof-rewrite-min-size",
            "1mb",
            "--auto-aof-rewrite-percentage",
            "100",
        ],
    );
    let mut connection = server.client();
    // Values that do not compress, so that the log really grows past 1 MB.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for index in 0..3000 {
        let value: String = (0..125)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                format!("{:08x}", state as u32)
            })
            .collect();
        let _: () = run(&mut connection, &["SET", &format!("key:{index}"), &value]);
    }
    await_snapshots(&server, 1);
}

/// A crash in the middle of a snapshot leaves the previous snapshot and the log usable: an
/// unfinished snapshot segment (no manifest names it) is ignored and removed.
#[test]
fn a_crash_during_a_snapshot_loses_nothing() {
    let mut server = TestServer::start_with(BIN, 2, &["--appendfsync", "always"]);
    populate(&server);
    let _: () = run(&mut server.client(), &["SAVE"]);
    let _: () = run(&mut server.client(), &["SET", "after-first", "1"]);
    let _: String = run(&mut server.client(), &["BGSAVE"]);
    let before = dump(&server);
    server.crash();
    // Whether or not the crash caught it, leave a half-written newer snapshot behind.
    let dir = server.data_dir().join("appendonlydir");
    let first = dir.join("snap-0000000001-000.pseg");
    let torn = dir.join("snap-0000000009-000.pseg");
    if first.exists() {
        let bytes = std::fs::read(&first).unwrap();
        std::fs::write(&torn, &bytes[..bytes.len() / 2]).unwrap();
    }
    let restarted = server.restart();
    assert_eq!(dump(&restarted), before);
    assert!(!torn.exists(), "the unfinished snapshot was not removed");
}

/// Data written by 4 shards loads into 1 and then into 3 (each key moves to the shard that
/// owns it now), snapshot and log tail alike.
#[test]
fn data_written_by_n_shards_loads_into_m() {
    let mut server = TestServer::start_with(BIN, 4, &["--appendfsync", "always"]);
    populate(&server);
    let _: () = run(&mut server.client(), &["SAVE"]);
    let _: () = run(&mut server.client(), &["SET", "after-snapshot", "tail"]);
    let before = dump(&server);
    server.crash();
    let mut one = server.restart_with(1, &[]);
    assert_eq!(dump(&one), before);
    assert!(
        one.log().contains("redistributing it over 1"),
        "{}",
        one.log()
    );
    let _: () = run(&mut one.client(), &["SET", "written-by-one", "1"]);
    let before = dump(&one);
    one.crash();
    let three = one.restart_with(3, &[]);
    assert_eq!(dump(&three), before);
}

/// While the data loads, clients are answered `-LOADING` (INFO tells the progress), then
/// served.
#[test]
fn clients_get_loading_until_the_data_is_loaded() {
    let mut server = TestServer::start(BIN, 1);
    let _: () = run(&mut server.client(), &["DEBUG", "POPULATE", "400000"]);
    let _: () = run(&mut server.client(), &["SAVE"]);
    server.crash();
    let port = peregrine_testkit::free_port();
    let dir = server.data_dir().display().to_string();
    let mut child = std::process::Command::new(BIN)
        .args(["--port", &port.to_string(), "--shards", "1", "--dir", &dir])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut client = loop {
        if let Ok(stream) = std::net::TcpStream::connect(address) {
            break peregrine_testkit::RawClient::from_stream(stream);
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let first = client.cmd(&["GET", "key:1"]);
    let info = String::from_utf8_lossy(&client.cmd(&["INFO", "persistence"])).into_owned();
    let mut replies = vec![first];
    while replies.last().is_some_and(|reply| reply.starts_with(b"-")) {
        replies.push(client.cmd(&["GET", "key:1"]));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        peregrine_testkit::show(&replies[0]),
        "-LOADING Redis is loading the dataset in memory\r\n"
    );
    assert!(
        info.contains("loading:1") && info.contains("loading_loaded_perc:"),
        "{info}"
    );
    assert!(replies[1..replies.len() - 1]
        .iter()
        .all(|reply| reply.starts_with(b"-LOADING")));
    assert_eq!(
        peregrine_testkit::show(replies.last().unwrap()),
        "$7\r\nvalue:1\r\n"
    );
}

/// Collections far bigger than one capture part are captured part by part between
/// requests; a write to one mid-capture finishes it first. Snapshot plus log is exact.
#[test]
fn big_collections_are_captured_in_parts_under_writes() {
    const ELEMENTS: usize = 40_000;
    let mut server = TestServer::start_with(BIN, 1, &["--appendfsync", "always"]);
    let mut connection = server.client();
    for start in (0..ELEMENTS).step_by(5000) {
        let mut pipeline = redis::pipe();
        for index in start..start + 5000 {
            let element = format!("e{index}");
            pipeline
                .cmd("HSET")
                .arg("bighash")
                .arg(&element)
                .arg(index)
                .ignore();
            pipeline.cmd("RPUSH").arg("biglist").arg(&element).ignore();
            pipeline.cmd("SADD").arg("bigset").arg(&element).ignore();
            pipeline
                .cmd("ZADD")
                .arg("bigzset")
                .arg(index)
                .arg(&element)
                .ignore();
        }
        let _: () = pipeline.query(&mut connection).unwrap();
    }
    let _: Vec<i64> = run(
        &mut connection,
        &[
            "HPEXPIRE", "bighash", "900000", "FIELDS", "2", "e1", "e39999",
        ],
    );
    let _: String = run(&mut connection, &["BGSAVE"]);
    for round in 0..200 {
        let element = format!("new{round}");
        let _: i64 = run(&mut connection, &["HSET", "bighash", &element, "1"]);
        let _: i64 = run(&mut connection, &["RPUSH", "biglist", &element]);
        let _: i64 = run(&mut connection, &["SREM", "bigset", &format!("e{round}")]);
        let _: i64 = run(&mut connection, &["ZADD", "bigzset", "-1", &element]);
    }
    await_snapshots(&server, 1);
    let before = dump(&server);
    server.crash();
    assert_eq!(dump(&server.restart()), before);
}

/// DEBUG SET-ACTIVE-EXPIRE 0 stops active expiry (an expired key stays counted until
/// touched), 1 resumes it, as in Redis.
#[test]
fn debug_set_active_expire_switches_active_expiry() {
    let server = TestServer::start(BIN, 1);
    let mut connection = server.client();
    let _: () = run(&mut connection, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let _: () = run(&mut connection, &["SET", "short", "v", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    let size: i64 = run(&mut connection, &["DBSIZE"]);
    assert_eq!(size, 1, "active expiry ran while switched off");
    let _: () = run(&mut connection, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    assert!(peregrine_testkit::poll_until(
        Duration::from_secs(10),
        || { run::<i64>(&mut server.client(), &["DBSIZE"]) == 0 }
    ));
}

/// A RENAME across shards caught by a crash before its destination part reached the disk
/// is undone on the source too.
#[test]
fn a_rename_across_shards_is_all_or_nothing_after_a_crash() {
    let mut server = TestServer::start_with(BIN, 2, &["--appendfsync", "always"]);
    let mut connection = server.client();
    let source = key_on_shard("from", 0, 2);
    let destination = key_on_shard("to", 1, 2);
    let _: () = run(&mut connection, &["SET", &source, "value"]);
    let _: () = run(&mut connection, &["RENAME", &source, &destination]);
    server.crash();
    tear_last_block(server.data_dir(), 1, 20);
    let restarted = server.restart();
    let values: Vec<Option<String>> =
        run(&mut restarted.client(), &["MGET", &source, &destination]);
    assert_eq!(values, vec![Some("value".into()), None]);
}
