//! What the tool's integration tests share: a data directory written with the persist
//! crate's own API, byte surgery on its files, and running the real binary.

// Each test file uses a part of it.
#![allow(dead_code)]

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use peregrine_persist::{
    align_up, seal_block, snapshot_file_name, Cipher, Manifest, RecordEncoder, SegmentHeader,
    SegmentKind, ShardEntry,
};

pub const KEY: [u8; 32] = [0x5a; 32];
pub const BASE_TIME: u64 = 1_764_000_000_000;

/// One record to write.
pub enum Entry {
    Command(&'static [&'static str]),
    Expire(&'static str),
    TxBegin(u64, u32),
    TxEnd(u64),
}

/// A written segment: where it is and where its blocks start.
pub struct Segment {
    pub path: PathBuf,
    pub offsets: Vec<u64>,
}

/// Writes a segment whose blocks hold `blocks`, numbering records from `first_lsn`; each
/// record is timed 10 ms after the previous one.
pub fn write_segment(
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
pub struct DataDir {
    pub dir: tempfile::TempDir,
    /// `log-000-0000000001.pseg`: LSNs 3 to 8.
    pub first_log: Segment,
    /// `log-000-0000000002.pseg`, shard 0's last log segment: LSNs 9 to 11.
    pub last_log: Segment,
}

impl DataDir {
    pub fn new(cipher: &Cipher) -> DataDir {
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

    pub fn path(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    /// Writes a key file holding `content` and returns its path.
    pub fn key_file(&self, name: &str, content: &[u8]) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_string()
    }
}

/// Flips one byte of `path` at `offset`.
pub fn flip_byte(path: &Path, offset: u64) {
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
pub fn cut(path: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

/// What a run of the tool gave.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn tool(args: &[&str]) -> Run {
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
pub fn row<'a>(text: &'a str, first: &str) -> Vec<&'a str> {
    text.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&first))
        .unwrap_or_else(|| panic!("no row for {first} in:\n{text}"))
}
