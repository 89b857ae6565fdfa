//! Runs the real `peregrine-tool` binary over data directories written with the persist
//! crate's own API: good, corrupt, torn and encrypted ones.

mod support;

use peregrine_persist::{
    log_file_name, seal_block, snapshot_file_name, Cipher, CipherKind, SegmentHeader, SegmentKind,
};
use support::{cut, file_len, flip_byte, row, tool, DataDir, BASE_TIME, KEY};

#[test]
fn segments_lists_every_segment() {
    let data = DataDir::new(&Cipher::none());
    let run = tool(&["segments", data.path()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        row(&run.stdout, "FILE"),
        [
            "FILE", "KIND", "SHARD", "SHARDS", "SEQUENCE", "CIPHER", "SIZE", "BLOCKS", "RECORDS",
            "LSNS", "STATE"
        ]
    );
    assert_eq!(
        row(&run.stdout, &log_file_name(0, 1)),
        [
            "log-000-0000000001.pseg",
            "log",
            "0",
            "2",
            "1",
            "none",
            "16384",
            "3",
            "6",
            "3-8",
            "ok"
        ]
    );
    assert_eq!(
        row(&run.stdout, &snapshot_file_name(1, 1)),
        [
            "snap-0000000001-001.pseg",
            "snapshot",
            "1",
            "2",
            "1",
            "none",
            "8192",
            "1",
            "1",
            "1-1",
            "ok"
        ]
    );
    assert_eq!(run.stdout.lines().count(), 6, "{}", run.stdout);
}

#[test]
fn verify_passes_good_data() {
    let data = DataDir::new(&Cipher::none());
    let run = tool(&["verify", data.path()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout, "checked 5 segments, 9 blocks, 13 records: ok\n",
        "{}",
        run.stderr
    );
}

#[test]
fn verify_reports_a_corrupt_middle_block() {
    let data = DataDir::new(&Cipher::none());
    let middle = data.first_log.offsets[1];
    flip_byte(&data.first_log.path, middle + 60);
    let run = tool(&["verify", data.path()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "log-000-0000000001.pseg: offset {middle}: corrupt: block checksum mismatch"
        )),
        "{}",
        run.stdout
    );
    let segments = tool(&["segments", data.path()]);
    assert_eq!(
        row(&segments.stdout, "log-000-0000000001.pseg")[10..],
        ["corrupt", "at", "offset", "8192"]
    );
}

#[test]
fn verify_reports_a_torn_tail_of_the_last_log_segment() {
    let data = DataDir::new(&Cipher::none());
    let last = data.last_log.offsets[2];
    cut(&data.last_log.path, last + 30);
    let run = tool(&["verify", data.path()]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "log-000-0000000002.pseg: offset {last}: torn tail: the last 30 bytes are not a \
             whole block"
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn a_torn_tail_before_the_last_log_segment_is_corruption() {
    let data = DataDir::new(&Cipher::none());
    cut(&data.first_log.path, data.first_log.offsets[2] + 30);
    let run = tool(&["verify", data.path()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("not its shard's last log segment"),
        "{}",
        run.stdout
    );
}

#[test]
fn verify_decodes_records() {
    // A block whose checksum holds but whose payload is not records.
    let data = DataDir::new(&Cipher::none());
    let mut bytes = SegmentHeader {
        kind: SegmentKind::Log,
        shard: 1,
        shard_count: 2,
        sequence: 2,
        created: BASE_TIME,
        cipher: CipherKind::None,
    }
    .encode(&Cipher::none());
    bytes.extend_from_slice(&seal_block(&[99, 1, 2], 3, 1, BASE_TIME, &Cipher::none()));
    std::fs::write(data.dir.path().join(log_file_name(1, 2)), bytes).unwrap();
    let run = tool(&["verify", data.path()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "log-001-0000000002.pseg: offset 4096: corrupt: record at lsn 3 does not decode: \
             unknown record kind"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn records_prints_every_record_with_its_file_and_lsn() {
    let data = DataDir::new(&Cipher::none());
    let run = tool(&["records", data.path()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 13, "{}", run.stdout);
    for expected in [
        "snap-0000000001-000.pseg 1 1764000000010 db=0 command \"SET\" \"a\" \"1\"",
        "log-000-0000000001.pseg 3 1764000000030 db=0 command \"SET\" \"k1\" \"v1\"",
        "log-000-0000000001.pseg 4 1764000000040 db=0 command \"SET\" \"k2\" \"v2\"",
        "log-000-0000000001.pseg 6 1764000000060 db=3 expire \"session\"",
        "log-000-0000000001.pseg 7 tx-begin id=42 participants=2",
        "log-000-0000000002.pseg 9 tx-end id=42",
        "log-001-0000000001.pseg 2 1764000000020 db=0 command \"SADD\" \"s\" \"x\"",
    ] {
        assert!(lines.contains(&expected), "{expected}\n{}", run.stdout);
    }
    let shard = tool(&["records", data.path(), "--shard", "1"]);
    assert_eq!(
        shard.stdout,
        "snap-0000000001-001.pseg 1 1764000000010 db=0 command \"SET\" \"c\" \"3\"\n\
         log-001-0000000001.pseg 2 1764000000020 db=0 command \"SADD\" \"s\" \"x\"\n"
    );
    let file = tool(&["records", data.path(), "--file", "log-000-0000000002.pseg"]);
    assert_eq!(file.stdout.lines().count(), 3, "{}", file.stdout);
    let missing = tool(&["records", data.path(), "--file", "log-009-0000000001.pseg"]);
    assert_eq!(missing.code, 3);
    assert!(missing
        .stderr
        .contains("no segment file log-009-0000000001.pseg"));
}

#[test]
fn blocks_lists_offsets_lsns_and_flags() {
    let data = DataDir::new(&Cipher::none());
    let run = tool(&["blocks", data.path(), "--file", "log-000-0000000001.pseg"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows: Vec<Vec<&str>> = run
        .stdout
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect())
        .collect();
    let offsets_and_lsns: Vec<(&str, &str, &str)> =
        rows.iter().map(|row| (row[1], row[2], row[3])).collect();
    assert_eq!(
        offsets_and_lsns,
        [("4096", "3", "2"), ("8192", "5", "2"), ("12288", "7", "2")]
    );
    assert!(
        rows.iter().all(|row| ["-", "lz4"].contains(&row[6])),
        "{}",
        run.stdout
    );
}

#[test]
fn manifest_prints_its_summary() {
    let data = DataDir::new(&Cipher::none());
    let run = tool(&["manifest", data.path()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("generation  1\n"), "{}", run.stdout);
    assert!(run.stdout.contains("cipher      none\n"), "{}", run.stdout);
    assert_eq!(
        row(&run.stdout, "1"),
        ["1", "snap-0000000001-001.pseg", "1", "2"]
    );
    let empty = tempfile::tempdir().unwrap();
    let run = tool(&["manifest", empty.path().to_str().unwrap()]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.starts_with("no manifest in "), "{}", run.stdout);
}

#[test]
fn encrypted_data_needs_its_key() {
    let data = DataDir::new(&Cipher::from_key(&KEY));
    let hex_key = data.key_file("key.hex", format!("{}\n", "5a".repeat(32)).as_bytes());
    let raw_key = data.key_file("key.raw", &KEY);
    let wrong_key = data.key_file("wrong.raw", &[0x11; 32]);

    let without = tool(&["records", data.path()]);
    assert_eq!(without.code, 3);
    assert!(
        without.stderr.contains("is encrypted (aes-256-gcm)")
            && without.stderr.contains("--encryption-key-file"),
        "{}",
        without.stderr
    );

    for key in [&hex_key, &raw_key] {
        let with = tool(&["--encryption-key-file", key, "records", data.path()]);
        assert_eq!(with.code, 0, "{}", with.stderr);
        assert!(with.stdout.contains(
            "log-000-0000000001.pseg 3 1764000000030 db=0 command \"SET\" \"k1\" \"v1\""
        ));
    }

    let wrong = tool(&["records", data.path(), "--encryption-key-file", &wrong_key]);
    assert_eq!(wrong.code, 3);
    assert!(
        wrong.stderr.contains("wrong encryption key"),
        "{}",
        wrong.stderr
    );
    let wrong = tool(&["verify", data.path(), "--encryption-key-file", &wrong_key]);
    assert_eq!(wrong.code, 3);
    assert!(
        wrong.stderr.contains("wrong encryption key"),
        "{}",
        wrong.stderr
    );

    // Checksums need no key.
    let verify = tool(&["verify", data.path()]);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    assert!(
        verify
            .stdout
            .contains("5 encrypted segments checked by checksum only"),
        "{}",
        verify.stdout
    );
    let verify = tool(&["verify", data.path(), "--encryption-key-file", &hex_key]);
    assert_eq!(
        (verify.code, verify.stdout.as_str()),
        (0, "checked 5 segments, 9 blocks, 13 records: ok\n")
    );
    let segments = tool(&["segments", data.path()]);
    assert_eq!(
        row(&segments.stdout, "log-001-0000000001.pseg")[5],
        "aes-256-gcm"
    );
    let blocks = tool(&["blocks", data.path(), "--shard", "1"]);
    assert!(blocks
        .stdout
        .lines()
        .skip(1)
        .all(|line| line.ends_with("encrypted")));
}

#[test]
fn truncate_torn_tail_cuts_the_last_log_segment() {
    let data = DataDir::new(&Cipher::none());
    let last = data.last_log.offsets[2];
    cut(&data.last_log.path, last + 30);

    let dry_run = tool(&["truncate-torn-tail", data.path()]);
    assert_eq!(dry_run.code, 2, "{}", dry_run.stdout);
    assert_eq!(
        dry_run.stdout,
        format!(
            "log-000-0000000002.pseg: would truncate from {} to {last} bytes (run again with \
             --yes)\n",
            last + 30
        )
    );
    assert_eq!(file_len(&data.last_log.path), last + 30);

    let applied = tool(&["truncate-torn-tail", data.path(), "--yes"]);
    assert_eq!(applied.code, 0, "{}", applied.stdout);
    assert_eq!(file_len(&data.last_log.path), last);
    let verify = tool(&["verify", data.path()]);
    assert_eq!(
        (verify.code, verify.stdout.as_str()),
        (0, "checked 5 segments, 8 blocks, 12 records: ok\n")
    );
    let again = tool(&["truncate-torn-tail", data.path(), "--yes"]);
    assert_eq!(
        (again.code, again.stdout.as_str()),
        (0, "no torn tail to truncate\n")
    );
}

#[test]
fn truncate_torn_tail_leaves_corruption_alone() {
    let data = DataDir::new(&Cipher::none());
    flip_byte(&data.last_log.path, data.last_log.offsets[1] + 60);
    let before = std::fs::read(&data.last_log.path).unwrap();
    let run = tool(&["truncate-torn-tail", data.path(), "--yes"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("left alone (not a torn tail)"),
        "{}",
        run.stdout
    );
    assert_eq!(std::fs::read(&data.last_log.path).unwrap(), before);
}

#[test]
fn usage_errors_do_not_exit_like_a_torn_tail() {
    let run = tool(&["verify"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let help = tool(&["--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("truncate-torn-tail"));
}
