//! Backup and restore end to end, with real processes: `peregrine-tool backup` copies the
//! latest snapshot out of a running server's data directory, `peregrine-tool restore`
//! puts it into a fresh one, and a new server (with the same or another shard count)
//! started there holds exactly the data as of the snapshot.

mod support;

use peregrine_testkit::{run, TestServer};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use support::{await_snapshots, dump, persistence_field, populate};

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// The `peregrine-tool` binary. Cargo builds only this package's binaries for its tests,
/// so the suite builds the tool once, with the profile and into the target directory the
/// server binary comes from (up to date in well under a second when nothing changed).
fn tool_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let profile_dir = Path::new(BIN)
            .parent()
            .expect("the server binary lies in a profile directory");
        let target_dir = profile_dir
            .parent()
            .expect("a profile directory lies in a target directory");
        let profile = match profile_dir.file_name().and_then(|name| name.to_str()) {
            Some("debug") => "dev",
            Some(name) => name,
            None => panic!("no profile in {}", profile_dir.display()),
        };
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "peregrine-tool",
                "--profile",
                profile,
            ])
            .arg("--target-dir")
            .arg(target_dir)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build -p peregrine-tool: {status}");
        profile_dir.join("peregrine-tool")
    })
}

/// What a run of the tool gave: exit status and stdout plus stderr.
fn tool(args: &[&str]) -> (i32, String) {
    let output = Command::new(tool_binary())
        .args(args)
        .output()
        .expect("peregrine-tool runs");
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), text)
}

/// `peregrine-tool`, which must succeed; returns its output.
fn tool_ok(args: &[&str]) -> String {
    let (code, text) = tool(args);
    assert_eq!(code, 0, "peregrine-tool {args:?}:\n{text}");
    text
}

fn text(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// A server's data directory proper: where the manifest and the segments are.
fn segments_dir(server: &TestServer) -> PathBuf {
    server.data_dir().join("appendonlydir")
}

/// Writes that come after the snapshot: a backup of the snapshot must hold none of them.
fn write_after_the_snapshot(server: &TestServer) {
    let mut connection = server.client();
    let writes: [&[&str]; 6] = [
        &["SET", "after-snapshot", "1"],
        &["DEL", "plain"],
        &["RPUSH", "list", "later"],
        &["HSET", "hash", "later", "1"],
        &["EXPIRE", "words", "100"],
        &["ZADD", "zset", "9", "later"],
    ];
    for args in writes {
        let _: redis::Value = run(&mut connection, args);
    }
}

/// Restores `backup` into a fresh directory and starts a server with `shards` shards there.
fn restore_and_start(backup: &Path, shards: u16) -> (tempfile::TempDir, TestServer) {
    let fresh = tempfile::tempdir().unwrap();
    let target = fresh.path().join("appendonlydir");
    let output = tool_ok(&["restore", text(backup), text(&target)]);
    assert!(
        output.contains("start the server with: peregrine-server --dir"),
        "{output}"
    );
    let server = TestServer::start_with(BIN, shards, &["--dir", text(fresh.path())]);
    (fresh, server)
}

#[test]
fn a_backup_restores_the_snapshot_and_nothing_after_it() {
    let server = TestServer::start_with(BIN, 2, &["--appendfsync", "always"]);
    populate(&server);
    let library =
        "#!lua name=backedup\nredis.register_function('answer', function() return 42 end)";
    let loaded: String = run(&mut server.client(), &["FUNCTION", "LOAD", library]);
    assert_eq!(loaded, "backedup");
    let started: String = run(&mut server.client(), &["BGSAVE"]);
    assert_eq!(started, "Background saving started");
    await_snapshots(&server, 1);
    let at_snapshot = dump(&server);
    assert!(at_snapshot.len() > 15, "{at_snapshot:#?}");
    write_after_the_snapshot(&server);
    assert_ne!(dump(&server), at_snapshot);

    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("nightly");
    let output = tool_ok(&["backup", text(&segments_dir(&server)), text(&backup)]);
    assert!(
        output.contains("backed up snapshot generation 1 (2 shards)"),
        "{output}"
    );
    for shards in [2, 3] {
        let (_dir, restored) = restore_and_start(&backup, shards);
        assert_eq!(
            dump(&restored),
            at_snapshot,
            "restored into {shards} shards"
        );
        let answer: i64 = run(&mut restored.client(), &["FCALL", "answer", "0"]);
        assert_eq!(answer, 42, "the function libraries travel with the backup");
    }
    // The server backed up goes on untouched.
    let after: String = run(&mut server.client(), &["GET", "after-snapshot"]);
    assert_eq!(after, "1");
}

#[test]
fn a_backup_with_the_log_restores_every_acknowledged_write() {
    let server = TestServer::start_with(BIN, 2, &["--appendfsync", "always"]);
    populate(&server);
    let _: () = run(&mut server.client(), &["SAVE"]);
    write_after_the_snapshot(&server);
    let now = dump(&server);
    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("with-log");
    tool_ok(&[
        "backup",
        text(&segments_dir(&server)),
        text(&backup),
        "--with-log",
    ]);
    let (_dir, restored) = restore_and_start(&backup, 2);
    assert_eq!(dump(&restored), now);
}

/// Snapshots complete one after another while backups are taken: each backup is whole
/// (a copy whose files a newer snapshot deleted starts again from its manifest).
#[test]
fn backups_taken_while_snapshots_complete_are_whole() {
    // No save rule may start a snapshot of its own: SAVE would then be refused.
    let server = TestServer::start_with(BIN, 2, &["--save", ""]);
    populate(&server);
    let _: () = run(&mut server.client(), &["SAVE"]);
    let dataset = dump(&server);
    let stop = Arc::new(AtomicBool::new(false));
    let saver = {
        let mut connection = server.client();
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _: () = run(&mut connection, &["SAVE"]);
            }
        })
    };
    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("b");
    let mut started_again = 0;
    for _ in 0..10 {
        let output = tool_ok(&[
            "backup",
            text(&segments_dir(&server)),
            text(&backup),
            "--force",
        ]);
        started_again += output.matches("during the copy").count();
    }
    println!("copies started again because a snapshot completed meanwhile: {started_again}");
    stop.store(true, Ordering::Relaxed);
    saver.join().unwrap();
    let saves: u64 = persistence_field(&server, "rdb_saves").parse().unwrap();
    assert!(saves > 1, "only {saves} snapshots were taken");
    let (_dir, restored) = restore_and_start(&backup, 2);
    assert_eq!(dump(&restored), dataset);
}

#[test]
fn a_corrupted_backup_is_refused_by_restore() {
    let server = TestServer::start_with(BIN, 2, &[]);
    populate(&server);
    let _: () = run(&mut server.client(), &["SAVE"]);
    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("b");
    tool_ok(&["backup", text(&segments_dir(&server)), text(&backup)]);
    // One byte of the first block's header, which its checksum covers.
    let snapshot = backup.join("snap-0000000001-001.pseg");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&snapshot)
        .unwrap();
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, 4096 + 44).unwrap();
    file.write_all_at(&[byte[0] ^ 0x01], 4096 + 44).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let target = fresh.path().join("appendonlydir");
    let (code, output) = tool(&["restore", text(&backup), text(&target)]);
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("snap-0000000001-001.pseg: offset 4096: corrupt")
            && output.contains("the backup is damaged: nothing restored"),
        "{output}"
    );
    assert!(
        !target.exists(),
        "a refused restore wrote {}",
        target.display()
    );
}
