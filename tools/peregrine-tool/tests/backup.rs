//! `backup` and `restore` run as the real binary over data directories written with the
//! persist crate's own API. Backups of a running server are tested end to end in
//! crates/server/tests/backup.rs.

mod support;

use std::path::Path;

use peregrine_persist::{log_file_name, snapshot_file_name, Cipher, Manifest, SegmentKind};
use support::{cut, flip_byte, tool, write_segment, DataDir, Entry, KEY};

/// The sorted file names in `dir`.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn backup_copies_the_manifest_and_its_snapshots_only() {
    let data = DataDir::new(&Cipher::none());
    let backups = tempfile::tempdir().unwrap();
    let destination = backups.path().join("nightly");
    let run = tool(&["backup", data.path(), text(&destination)]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "backed up snapshot generation 1 (2 shards): 2 segment files, 16384 bytes, and the \
             manifest in"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(
        names(&destination),
        [
            "manifest".to_string(),
            snapshot_file_name(1, 0),
            snapshot_file_name(1, 1)
        ]
    );
    assert_eq!(
        Manifest::read(&destination).unwrap(),
        Manifest::read(data.dir.path()).unwrap()
    );
    for name in [snapshot_file_name(1, 0), snapshot_file_name(1, 1)] {
        assert_eq!(
            std::fs::read(destination.join(&name)).unwrap(),
            std::fs::read(data.dir.path().join(&name)).unwrap()
        );
    }
    let verify = tool(&["verify", text(&destination)]);
    assert_eq!(
        (verify.code, verify.stdout.as_str()),
        (0, "checked 2 segments, 2 blocks, 3 records: ok\n")
    );
}

#[test]
fn backup_with_log_copies_the_log_after_the_snapshot_and_cuts_a_write_in_flight() {
    let data = DataDir::new(&Cipher::none());
    // Covered by the snapshot (the manifest's log_start is 1): not part of a backup.
    write_segment(
        data.dir.path(),
        SegmentKind::Log,
        1,
        0,
        &Cipher::none(),
        1,
        &[&[Entry::Command(&["SET", "old", "1"])]],
    );
    // Shard 0's last block was half written when the copy read it.
    let last = data.last_log.offsets[2];
    cut(&data.last_log.path, last + 30);
    let backups = tempfile::tempdir().unwrap();
    let destination = backups.path().join("with-log");
    let run = tool(&["backup", data.path(), text(&destination), "--with-log"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!(
            "log-000-0000000002.pseg: cut at offset {last}: the shard was writing there"
        )),
        "{}",
        run.stdout
    );
    assert_eq!(
        names(&destination),
        [
            log_file_name(0, 1),
            log_file_name(0, 2),
            log_file_name(1, 1),
            "manifest".to_string(),
            snapshot_file_name(1, 0),
            snapshot_file_name(1, 1),
        ]
    );
    assert_eq!(
        std::fs::metadata(destination.join(log_file_name(0, 2)))
            .unwrap()
            .len(),
        last
    );
    let verify = tool(&["verify", text(&destination)]);
    assert_eq!(
        (verify.code, verify.stdout.as_str()),
        (0, "checked 5 segments, 8 blocks, 12 records: ok\n")
    );
    // Copies end with their last block: the zeros after it are not copied.
    let source = std::fs::read(data.dir.path().join(log_file_name(1, 1))).unwrap();
    let copy = std::fs::read(destination.join(log_file_name(1, 1))).unwrap();
    assert!(copy.len() < source.len() && source.starts_with(&copy));
    assert!(source[copy.len()..].iter().all(|&byte| byte == 0));
    // The source is left as it was.
    assert_eq!(
        std::fs::metadata(&data.last_log.path).unwrap().len(),
        last + 30
    );
}

#[test]
fn backup_refuses_a_destination_holding_a_backup_unless_forced() {
    let data = DataDir::new(&Cipher::none());
    let destination = tempfile::tempdir().unwrap();
    std::fs::write(destination.path().join("snap-0000000007-000.pseg"), b"old").unwrap();
    let run = tool(&["backup", data.path(), text(destination.path())]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    let run = tool(&["backup", data.path(), text(destination.path()), "--force"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        names(destination.path()),
        [
            "manifest".to_string(),
            snapshot_file_name(1, 0),
            snapshot_file_name(1, 1)
        ]
    );
    let again = tool(&["backup", data.path(), text(destination.path())]);
    assert_eq!(again.code, 3);
}

#[test]
fn backup_refuses_what_it_cannot_back_up() {
    let data = DataDir::new(&Cipher::none());
    let into_itself = tool(&["backup", data.path(), data.path(), "--force"]);
    assert_eq!(into_itself.code, 3);
    assert!(
        into_itself.stderr.contains("the data directory itself"),
        "{}",
        into_itself.stderr
    );
    let empty = tempfile::tempdir().unwrap();
    let destination = tempfile::tempdir().unwrap();
    let no_snapshot = tool(&["backup", text(empty.path()), text(destination.path())]);
    assert_eq!(no_snapshot.code, 3);
    assert!(
        no_snapshot
            .stderr
            .contains("no snapshot has completed there"),
        "{}",
        no_snapshot.stderr
    );
}

#[test]
fn a_corrupt_snapshot_is_not_backed_up() {
    let data = DataDir::new(&Cipher::none());
    flip_byte(&data.dir.path().join(snapshot_file_name(1, 1)), 4096 + 60);
    let destination = tempfile::tempdir().unwrap();
    let run = tool(&["backup", data.path(), text(destination.path())]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("snap-0000000001-001.pseg: offset 4096: corrupt")
            && run.stdout.contains("no backup written"),
        "{}",
        run.stdout
    );
    assert!(names(destination.path()).is_empty());
}

#[test]
fn a_missing_snapshot_is_corruption() {
    let data = DataDir::new(&Cipher::none());
    std::fs::remove_file(data.dir.path().join(snapshot_file_name(1, 1))).unwrap();
    let destination = tempfile::tempdir().unwrap();
    let run = tool(&["backup", data.path(), text(destination.path())]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("named by the manifest"),
        "{}",
        run.stdout
    );
    assert!(names(destination.path()).is_empty());
}

#[test]
fn restore_copies_a_backup_into_a_fresh_directory() {
    let data = DataDir::new(&Cipher::none());
    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("b");
    assert_eq!(tool(&["backup", data.path(), text(&backup)]).code, 0);
    let fresh = tempfile::tempdir().unwrap();
    let target = fresh.path().join("appendonlydir");
    let run = tool(&["restore", text(&backup), text(&target)]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!(
            "start the server with: peregrine-server --dir {}",
            fresh.path().canonicalize().unwrap().display()
        )),
        "{}",
        run.stdout
    );
    assert_eq!(names(&target), names(&backup));
    let verify = tool(&["verify", text(&target)]);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
}

#[test]
fn restore_moves_existing_data_aside_only_when_forced() {
    let data = DataDir::new(&Cipher::none());
    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("b");
    assert_eq!(tool(&["backup", data.path(), text(&backup)]).code, 0);
    // The target is a copy of the data directory: its manifest and its whole log.
    let target = tempfile::tempdir().unwrap();
    for name in names(data.dir.path()) {
        std::fs::copy(data.dir.path().join(&name), target.path().join(&name)).unwrap();
    }
    let before = names(target.path());
    let refused = tool(&["restore", text(&backup), text(target.path())]);
    assert_eq!(refused.code, 3, "{}", refused.stdout);
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert_eq!(names(target.path()), before);

    let forced = tool(&["restore", text(&backup), text(target.path()), "--force"]);
    assert_eq!(forced.code, 0, "{}{}", forced.stdout, forced.stderr);
    let aside: Vec<String> = names(target.path())
        .into_iter()
        .filter(|name| name.starts_with("replaced-"))
        .collect();
    assert_eq!(aside.len(), 1, "{:?}", names(target.path()));
    assert_eq!(names(&target.path().join(&aside[0])), before);
    let mut restored = names(&backup);
    restored.extend(aside);
    restored.sort();
    assert_eq!(names(target.path()), restored);
}

#[test]
fn a_damaged_backup_is_not_restored() {
    let data = DataDir::new(&Cipher::none());
    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("b");
    assert_eq!(tool(&["backup", data.path(), text(&backup)]).code, 0);
    flip_byte(&backup.join(snapshot_file_name(1, 0)), 4096 + 70);
    let fresh = tempfile::tempdir().unwrap();
    let target = fresh.path().join("appendonlydir");
    let run = tool(&["restore", text(&backup), text(&target)]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("the backup is damaged: nothing restored"),
        "{}",
        run.stdout
    );
    assert!(!target.exists());
    let no_backup = tool(&["restore", text(fresh.path()), text(&target)]);
    assert_eq!(no_backup.code, 3, "{}", no_backup.stdout);
}

#[test]
fn encrypted_backups_need_no_key_and_decode_with_it() {
    let data = DataDir::new(&Cipher::from_key(&KEY));
    let key = data.key_file("key.raw", &KEY);
    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("b");
    let run = tool(&["backup", data.path(), text(&backup)]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("checked by checksum only"),
        "{}",
        run.stdout
    );
    let target = backups.path().join("appendonlydir");
    let run = tool(&[
        "--encryption-key-file",
        &key,
        "restore",
        text(&backup),
        text(&target),
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("checked 2 segments, 2 blocks, 3 records: ok"),
        "{}",
        run.stdout
    );
}
