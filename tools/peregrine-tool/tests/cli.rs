//! Runs the real `peregrine-tool` binary over data directories written with the persist
//! crate's own API: good, corrupt, torn and encrypted ones.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use peregrine_persist::{
    align_up, log_file_name, seal_block, snapshot_file_name, Cipher, CipherKind, Manifest,
    RecordEncoder, SegmentHeader, SegmentKind, ShardEntry,
};

const KEY: [u8; 32] = [0x5a; 32];
const BASE_TIME: u64 = 1_764_000_000_000;

/// One record to write.
enum Entry {
    Command(&'static [&'static str]),
    Expire(&'static str),
    TxBegin(u64, u32),
    TxEnd(u64),
}

/// A written segment: where it is and where its blocks start.
struct Segment {
    path: PathBuf,
    offsets: Vec<u64>,
}

/// Writes a segment whose blocks hold `blocks`, numbering records from `first_lsn`; each
/// record is timed 10 ms after the previous one.
fn write_segment(
    dir: &Path,
    kind: SegmentKind,
    shard: u32,
    sequence: u64,
    cipher: &Cipher,
    first_lsn: u64,
    blocks: &[&[Entry]],
) -> Segment {
    let header = SegmentHeader {
        kind,
        shard,
        shard_count: 2,
        sequence,
        created: BASE_TIME,
        cipher: cipher.kind(),
    };
    let mut bytes = header.encode(cipher);
    let mut offsets = Vec::new();
    let mut lsn = first_lsn;
    for entries in blocks {
        let base_time = BASE_TIME + lsn * 10;
        let mut records = Vec::new();
        let mut encoder = RecordEncoder::new(&mut records, base_time);
        for (index, entry) in entries.iter().enumerate() {
            let time = base_time + index as u64 * 10;
            match entry {
                Entry::Command(argv) => encoder.command(time, 0, argv),
                Entry::Expire(key) => encoder.expire(time, 3, key.as_bytes()),
                Entry::TxBegin(id, participants) => encoder.tx_begin(*id, *participants),
                Entry::TxEnd(id) => encoder.tx_end(*id),
            }
        }
        let count = entries.len() as u32;
        offsets.push(bytes.len() as u64);
        bytes.extend_from_slice(&seal_block(&records, lsn, count, base_time, cipher));
        bytes.resize(align_up(bytes.len() as u64) as usize, 0);
        lsn += u64::from(count);
    }
    let path = dir.join(header.file_name());
    std::fs::write(&path, bytes).unwrap();
    Segment { path, offsets }
}

/// A two-shard data directory: a snapshot per shard, shard 0 with two log segments of
/// three blocks each, shard 1 with one log segment, and a manifest.
struct DataDir {
    dir: tempfile::TempDir,
    /// `log-000-0000000001.pseg`: LSNs 3 to 8.
    first_log: Segment,
    /// `log-000-0000000002.pseg`, shard 0's last log segment: LSNs 9 to 11.
    last_log: Segment,
}

impl DataDir {
    fn new(cipher: &Cipher) -> DataDir {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        write_segment(
            path,
            SegmentKind::Snapshot,
            0,
            1,
            cipher,
            1,
            &[&[
                Entry::Command(&["SET", "a", "1"]),
                Entry::Command(&["SET", "b", "2"]),
            ]],
        );
        write_segment(
            path,
            SegmentKind::Snapshot,
            1,
            1,
            cipher,
            1,
            &[&[Entry::Command(&["SET", "c", "3"])]],
        );
        let first_log = write_segment(
            path,
            SegmentKind::Log,
            0,
            1,
            cipher,
            3,
            &[
                &[
                    Entry::Command(&["SET", "k1", "v1"]),
                    Entry::Command(&["SET", "k2", "v2"]),
                ],
                &[Entry::Command(&["DEL", "k1"]), Entry::Expire("session")],
                &[Entry::TxBegin(42, 2), Entry::Command(&["SET", "k3", "v3"])],
            ],
        );
        let last_log = write_segment(
            path,
            SegmentKind::Log,
            0,
            2,
            cipher,
            9,
            &[
                &[Entry::TxEnd(42)],
                &[Entry::Command(&["INCR", "n"])],
                &[Entry::Command(&["INCR", "n"])],
            ],
        );
        write_segment(
            path,
            SegmentKind::Log,
            1,
            1,
            cipher,
            2,
            &[&[Entry::Command(&["SADD", "s", "x"])]],
        );
        let shard = |shard: u32, next_lsn: u64| ShardEntry {
            snapshot: snapshot_file_name(1, shard),
            log_start: 1,
            next_lsn,
        };
        Manifest {
            generation: 1,
            shard_count: 2,
            created: BASE_TIME,
            cipher: cipher.kind(),
            shards: vec![shard(0, 3), shard(1, 2)],
        }
        .write(path)
        .unwrap();
        DataDir {
            dir,
            first_log,
            last_log,
        }
    }

    fn path(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    /// Writes a key file holding `content` and returns its path.
    fn key_file(&self, name: &str, content: &[u8]) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_string()
    }
}

/// Flips one byte of `path` at `offset`.
fn flip_byte(path: &Path, offset: u64) {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, offset).unwrap();
    file.write_all_at(&[byte[0] ^ 0x40], offset).unwrap();
}

/// Cuts `path` to `len` bytes.
fn cut(path: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

/// What a run of the tool gave.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn tool(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_peregrine-tool"))
        .args(args)
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// The whitespace-separated cells of the line of `text` that starts with `first`.
fn row<'a>(text: &'a str, first: &str) -> Vec<&'a str> {
    text.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&first))
        .unwrap_or_else(|| panic!("no row for {first} in:\n{text}"))
}

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
