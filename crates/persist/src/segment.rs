//! Segment files: a 4 KiB header, then blocks at 4 KiB boundaries. A shard's log is a
//! sequence of log segments; a snapshot is one snapshot segment per shard.
//!
//! Header (little-endian): `magic [8] "PEREGSEG" | version u32 | kind u32 | shard u32 |
//! shard_count u32 | sequence u64 | created u64 | cipher u8 | reserved [7] |
//! key_check [44] | crc32c u32` (over the bytes before it), zero-padded to 4096.

use crate::block::{align_up, open_block, verify_crc, BlockHeader, BLOCK_ALIGN, BLOCK_HEADER_LEN};
use crate::cipher::{Cipher, CipherKind, KEY_CHECK_LEN};
use crate::FormatError;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Size of a segment header; the first block starts here.
pub const SEGMENT_HEADER_LEN: u64 = 4096;
/// The on-disk format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const MAGIC: &[u8; 8] = b"PEREGSEG";
const CRC_AT: usize = 92;

/// What a segment holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentKind {
    /// Effect records appended as the shard applies changes.
    Log,
    /// Records that rebuild a shard's data as of a snapshot's start.
    Snapshot,
}

/// A segment's identity, as its header records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Log or snapshot.
    pub kind: SegmentKind,
    /// The shard that wrote it.
    pub shard: u32,
    /// How many shards the server had.
    pub shard_count: u32,
    /// Log: the segment's number in the shard's log; snapshot: the generation.
    pub sequence: u64,
    /// Creation time, Unix ms.
    pub created: u64,
    /// The cipher of its blocks.
    pub cipher: CipherKind,
}

impl SegmentHeader {
    /// The 4096 header bytes, with a key check for `cipher`.
    pub fn encode(&self, cipher: &Cipher) -> Vec<u8> {
        let mut bytes = vec![0u8; SEGMENT_HEADER_LEN as usize];
        bytes[0..8].copy_from_slice(MAGIC);
        bytes[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        let kind: u32 = match self.kind {
            SegmentKind::Log => 1,
            SegmentKind::Snapshot => 2,
        };
        bytes[12..16].copy_from_slice(&kind.to_le_bytes());
        bytes[16..20].copy_from_slice(&self.shard.to_le_bytes());
        bytes[20..24].copy_from_slice(&self.shard_count.to_le_bytes());
        bytes[24..32].copy_from_slice(&self.sequence.to_le_bytes());
        bytes[32..40].copy_from_slice(&self.created.to_le_bytes());
        bytes[40] = self.cipher.code();
        bytes[48..48 + KEY_CHECK_LEN].copy_from_slice(&cipher.key_check());
        let crc = crc32c::crc32c(&bytes[..CRC_AT]);
        bytes[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
        bytes
    }

    /// Parses a header; returns it and its key check.
    pub fn parse(bytes: &[u8]) -> Result<(SegmentHeader, [u8; KEY_CHECK_LEN]), FormatError> {
        if bytes.len() < CRC_AT + 4 || &bytes[0..8] != MAGIC {
            return Err(FormatError::Malformed(
                "not a Peregrine segment (bad magic)",
            ));
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        if crc32c::crc32c(&bytes[..CRC_AT]) != u32_at(CRC_AT) {
            return Err(FormatError::Malformed("segment header checksum mismatch"));
        }
        let version = u32_at(8);
        if version != FORMAT_VERSION {
            return Err(FormatError::Version(version));
        }
        let kind = match u32_at(12) {
            1 => SegmentKind::Log,
            2 => SegmentKind::Snapshot,
            _ => return Err(FormatError::Malformed("unknown segment kind")),
        };
        let header = SegmentHeader {
            kind,
            shard: u32_at(16),
            shard_count: u32_at(20),
            sequence: u64_at(24),
            created: u64_at(32),
            cipher: CipherKind::from_code(bytes[40])?,
        };
        Ok((header, bytes[48..48 + KEY_CHECK_LEN].try_into().unwrap()))
    }

    /// The file name of this segment.
    pub fn file_name(&self) -> String {
        match self.kind {
            SegmentKind::Log => log_file_name(self.shard, self.sequence),
            SegmentKind::Snapshot => snapshot_file_name(self.sequence, self.shard),
        }
    }
}

/// `log-<shard>-<sequence>.pseg`.
pub fn log_file_name(shard: u32, sequence: u64) -> String {
    format!("log-{shard:03}-{sequence:010}.pseg")
}

/// `snap-<generation>-<shard>.pseg`.
pub fn snapshot_file_name(generation: u64, shard: u32) -> String {
    format!("snap-{generation:010}-{shard:03}.pseg")
}

/// Parses a log segment's file name into (shard, sequence).
pub fn parse_log_file_name(name: &str) -> Option<(u32, u64)> {
    let rest = name.strip_prefix("log-")?.strip_suffix(".pseg")?;
    let (shard, sequence) = rest.split_once('-')?;
    Some((shard.parse().ok()?, sequence.parse().ok()?))
}

/// Parses a snapshot segment's file name into (generation, shard).
pub fn parse_snapshot_file_name(name: &str) -> Option<(u64, u32)> {
    let rest = name.strip_prefix("snap-")?.strip_suffix(".pseg")?;
    let (generation, shard) = rest.split_once('-')?;
    Some((generation.parse().ok()?, shard.parse().ok()?))
}

/// A segment's identity as its file name gives it. Orders snapshots first (by generation,
/// then shard), then logs (by shard, then sequence): the order recovery reads them in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SegmentName {
    /// `snap-<generation>-<shard>.pseg`.
    Snapshot {
        /// The snapshot generation.
        generation: u64,
        /// The shard that wrote it.
        shard: u32,
    },
    /// `log-<shard>-<sequence>.pseg`.
    Log {
        /// The shard that wrote it.
        shard: u32,
        /// The segment's number in the shard's log.
        sequence: u64,
    },
}

impl SegmentName {
    /// Parses a segment file name; `None` for any other file.
    pub fn parse(name: &str) -> Option<SegmentName> {
        if let Some((shard, sequence)) = parse_log_file_name(name) {
            return Some(SegmentName::Log { shard, sequence });
        }
        parse_snapshot_file_name(name)
            .map(|(generation, shard)| SegmentName::Snapshot { generation, shard })
    }

    /// Log or snapshot.
    pub fn kind(&self) -> SegmentKind {
        match self {
            SegmentName::Snapshot { .. } => SegmentKind::Snapshot,
            SegmentName::Log { .. } => SegmentKind::Log,
        }
    }

    /// The shard that wrote the segment.
    pub fn shard(&self) -> u32 {
        match *self {
            SegmentName::Snapshot { shard, .. } | SegmentName::Log { shard, .. } => shard,
        }
    }
}

/// A segment file found in a data directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentFile {
    /// What its name says it is.
    pub name: SegmentName,
    /// Its file name.
    pub file_name: String,
    /// Its path.
    pub path: PathBuf,
}

/// The segment files of `dir` in [`SegmentName`] order; other files are left out.
pub fn list_segments(dir: &Path) -> Result<Vec<SegmentFile>, FormatError> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(file_name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if let Some(name) = SegmentName::parse(&file_name) {
            segments.push(SegmentFile {
                name,
                file_name,
                path: entry.path(),
            });
        }
    }
    segments.sort_by(|a, b| (a.name, &a.file_name).cmp(&(b.name, &b.file_name)));
    Ok(segments)
}

/// One block read back from a segment.
#[derive(Debug)]
pub struct ReadBlock {
    /// Where the block starts in the file.
    pub offset: u64,
    /// Its header.
    pub header: BlockHeader,
    /// Its records, decrypted and decompressed.
    pub records: Vec<u8>,
}

/// What reading at some offset found.
#[derive(Debug)]
pub enum ScanItem {
    /// A valid block.
    Block(ReadBlock),
    /// The segment ends with a damaged block and nothing valid after it: a write cut
    /// short by a crash. `dropped` bytes from `offset` to the end are not data.
    TornTail {
        /// Where the damage starts.
        offset: u64,
        /// Bytes from there to the end of the file.
        dropped: u64,
    },
    /// A damaged block with valid blocks after it: real corruption.
    Corrupt {
        /// Where the damaged block starts.
        offset: u64,
        /// What is wrong.
        reason: String,
        /// The next valid block, where reading may resume if the operator allows.
        resume_at: u64,
    },
}

/// Reads a segment's blocks in order, telling torn tails from corruption.
pub struct SegmentReader {
    file: File,
    path: PathBuf,
    len: u64,
    offset: u64,
    cipher: Cipher,
    /// The segment's header.
    pub header: SegmentHeader,
    checksums_only: bool,
}

impl SegmentReader {
    /// Opens `path`, checks its header and that `cipher` is the key it was written with.
    pub fn open(path: &Path, cipher: &Cipher) -> Result<SegmentReader, FormatError> {
        let (reader, check) = SegmentReader::open_unkeyed(path, cipher)?;
        if reader.header.cipher != CipherKind::None {
            if cipher.kind() == CipherKind::None {
                return Err(FormatError::Key(format!(
                    "{} is encrypted ({}): start with --encryption-key-file <file>",
                    path.display(),
                    reader.header.cipher.name()
                )));
            }
            cipher
                .verify_key_check(&check)
                .map_err(|error| FormatError::Key(format!("{}: {error}", path.display())))?;
        }
        Ok(reader)
    }

    /// Opens `path` for a checksum pass: checks its header but needs no key, and reads
    /// blocks without decrypting or decompressing them.
    pub fn open_checksums_only(path: &Path) -> Result<SegmentReader, FormatError> {
        let (reader, _) = SegmentReader::open_unkeyed(path, &Cipher::none())?;
        Ok(reader.checksums_only())
    }

    /// Opens `path` and checks its header; returns the reader and the header's key check.
    fn open_unkeyed(
        path: &Path,
        cipher: &Cipher,
    ) -> Result<(SegmentReader, [u8; KEY_CHECK_LEN]), FormatError> {
        let at = |error: FormatError| FormatError::At {
            file: path.to_path_buf(),
            offset: 0,
            reason: error.to_string(),
        };
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        let mut bytes = vec![0u8; SEGMENT_HEADER_LEN.min(len) as usize];
        file.read_exact_at(&mut bytes, 0)?;
        let (header, check) = SegmentHeader::parse(&bytes).map_err(at)?;
        let reader = SegmentReader {
            file,
            path: path.to_path_buf(),
            len,
            offset: SEGMENT_HEADER_LEN,
            cipher: cipher.clone(),
            header,
            checksums_only: false,
        };
        Ok((reader, check))
    }

    /// Reads blocks without decrypting or decompressing them (a CRC pass needs no key).
    pub fn checksums_only(mut self) -> SegmentReader {
        self.checksums_only = true;
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's length.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the file holds no block.
    pub fn is_empty(&self) -> bool {
        self.len <= SEGMENT_HEADER_LEN
    }

    /// Where the next read starts (the end of valid data once reading finished).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Continues reading at `offset` (after skipping a corrupt block).
    pub fn seek(&mut self, offset: u64) {
        self.offset = offset;
    }

    /// Reads the block at `offset` if it is whole and its CRC matches.
    fn try_block(&self, offset: u64) -> Result<ReadBlock, String> {
        if offset + BLOCK_HEADER_LEN as u64 > self.len {
            return Err("block header runs past the end of the file".into());
        }
        let mut header_bytes = [0u8; BLOCK_HEADER_LEN];
        self.file
            .read_exact_at(&mut header_bytes, offset)
            .map_err(|error| error.to_string())?;
        let header = BlockHeader::parse(&header_bytes).map_err(|error| error.to_string())?;
        if offset + header.block_len() > self.len {
            return Err("block runs past the end of the file".into());
        }
        let mut stored = vec![0u8; header.stored_len as usize];
        self.file
            .read_exact_at(&mut stored, offset + BLOCK_HEADER_LEN as u64)
            .map_err(|error| error.to_string())?;
        if !verify_crc(&header_bytes, &stored) {
            return Err("block checksum mismatch".into());
        }
        let records = if self.checksums_only {
            Vec::new()
        } else {
            open_block(&header, &stored, &self.cipher).map_err(|error| error.to_string())?
        };
        Ok(ReadBlock {
            offset,
            header,
            records,
        })
    }

    /// True when every byte from `offset` to the end is zero (space never written).
    fn zeros_from(&self, offset: u64) -> bool {
        let mut chunk = vec![0u8; 64 * 1024];
        let mut at = offset;
        while at < self.len {
            let take = (self.len - at).min(chunk.len() as u64) as usize;
            if self.file.read_exact_at(&mut chunk[..take], at).is_err() {
                return false;
            }
            if chunk[..take].iter().any(|&byte| byte != 0) {
                return false;
            }
            at += take as u64;
        }
        true
    }

    /// The next item, or `None` at the clean end of the segment.
    pub fn next_item(&mut self) -> Option<ScanItem> {
        if self.offset >= self.len || self.zeros_from(self.offset) {
            return None;
        }
        match self.try_block(self.offset) {
            Ok(block) => {
                self.offset = align_up(block.offset + block.header.block_len());
                Some(ScanItem::Block(block))
            }
            Err(reason) => {
                let offset = self.offset;
                // A valid block further on means the damage is not a torn tail.
                let mut probe = align_up(offset + 1);
                while probe + BLOCK_HEADER_LEN as u64 <= self.len {
                    if self.try_block(probe).is_ok() {
                        self.offset = probe;
                        return Some(ScanItem::Corrupt {
                            offset,
                            reason,
                            resume_at: probe,
                        });
                    }
                    probe += BLOCK_ALIGN;
                }
                self.offset = self.len;
                Some(ScanItem::TornTail {
                    offset,
                    dropped: self.len - offset,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::seal_block;
    use std::io::Write;

    fn write_segment(path: &Path, blocks: &[Vec<u8>], cipher: &Cipher) {
        let header = SegmentHeader {
            kind: SegmentKind::Log,
            shard: 1,
            shard_count: 2,
            sequence: 5,
            created: 123,
            cipher: cipher.kind(),
        };
        let mut bytes = header.encode(cipher);
        for block in blocks {
            bytes.extend_from_slice(block);
            bytes.resize(align_up(bytes.len() as u64) as usize, 0);
        }
        std::fs::File::create(path)
            .unwrap()
            .write_all(&bytes)
            .unwrap();
    }

    /// Incompressible records, so that each block spans two pages.
    fn records(seed: u64) -> Vec<u8> {
        let mut state = seed | 1;
        (0..5000)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                (state >> 33) as u8
            })
            .collect()
    }

    fn blocks(cipher: &Cipher) -> Vec<Vec<u8>> {
        (0..3)
            .map(|index| seal_block(&records(index), index * 10, 1, 0, cipher))
            .collect()
    }

    fn block_offsets(path: &Path) -> Vec<u64> {
        items(path, &Cipher::none())
            .iter()
            .map(|item| match item {
                ScanItem::Block(block) => block.offset,
                other => panic!("expected a block, got {other:?}"),
            })
            .collect()
    }

    fn items(path: &Path, cipher: &Cipher) -> Vec<ScanItem> {
        let mut reader = SegmentReader::open(path, cipher).unwrap();
        std::iter::from_fn(|| reader.next_item()).collect()
    }

    #[test]
    fn reads_every_block_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(log_file_name(1, 5));
        let cipher = Cipher::from_key(&[4; 32]);
        write_segment(&path, &blocks(&cipher), &cipher);
        let found = items(&path, &cipher);
        assert_eq!(found.len(), 3);
        for (index, item) in found.iter().enumerate() {
            let ScanItem::Block(block) = item else {
                panic!("expected a block, got {item:?}");
            };
            assert_eq!(block.records, records(index as u64));
        }
        let reader = SegmentReader::open(&path, &cipher).unwrap();
        assert_eq!(reader.header.sequence, 5);
        assert!(SegmentReader::open(&path, &Cipher::none()).is_err());
        assert!(SegmentReader::open(&path, &Cipher::from_key(&[5; 32])).is_err());
    }

    #[test]
    fn a_cut_last_block_is_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log-001-0000000005.pseg");
        write_segment(&path, &blocks(&Cipher::none()), &Cipher::none());
        let offsets = block_offsets(&path);
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(offsets[2] + 3000).unwrap();
        let found = items(&path, &Cipher::none());
        assert_eq!(found.len(), 3);
        assert!(matches!(
            found[2],
            ScanItem::TornTail { offset, dropped: 3000 } if offset == offsets[2]
        ));
    }

    #[test]
    fn a_damaged_middle_block_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log-001-0000000005.pseg");
        write_segment(&path, &blocks(&Cipher::none()), &Cipher::none());
        let offsets = block_offsets(&path);
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all_at(&[0xff], offsets[1] + 100).unwrap();
        let found = items(&path, &Cipher::none());
        assert!(matches!(found[0], ScanItem::Block(_)));
        assert!(matches!(
            found[1],
            ScanItem::Corrupt { offset, resume_at, .. } if offset == offsets[1] && resume_at == offsets[2]
        ));
        assert!(matches!(found[2], ScanItem::Block(_)));
    }

    #[test]
    fn a_checksum_pass_needs_no_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(log_file_name(1, 5));
        let cipher = Cipher::from_key(&[4; 32]);
        write_segment(&path, &blocks(&cipher), &cipher);
        let mut reader = SegmentReader::open_checksums_only(&path).unwrap();
        let found: Vec<ScanItem> = std::iter::from_fn(|| reader.next_item()).collect();
        assert_eq!(found.len(), 3);
        for item in &found {
            assert!(matches!(item, ScanItem::Block(block) if block.records.is_empty()));
        }
    }

    #[test]
    fn lists_segments_in_recovery_order() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            log_file_name(1, 2),
            log_file_name(0, 10),
            snapshot_file_name(4, 1),
            log_file_name(0, 9),
            snapshot_file_name(3, 0),
            "manifest".to_string(),
            "log-x.pseg".to_string(),
        ];
        for name in &names {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let listed: Vec<SegmentName> = list_segments(dir.path())
            .unwrap()
            .iter()
            .map(|file| file.name)
            .collect();
        assert_eq!(
            listed,
            vec![
                SegmentName::Snapshot {
                    generation: 3,
                    shard: 0
                },
                SegmentName::Snapshot {
                    generation: 4,
                    shard: 1
                },
                SegmentName::Log {
                    shard: 0,
                    sequence: 9
                },
                SegmentName::Log {
                    shard: 0,
                    sequence: 10
                },
                SegmentName::Log {
                    shard: 1,
                    sequence: 2
                },
            ]
        );
    }

    #[test]
    fn file_names_round_trip() {
        assert_eq!(parse_log_file_name(&log_file_name(3, 17)), Some((3, 17)));
        assert_eq!(
            parse_snapshot_file_name(&snapshot_file_name(9, 2)),
            Some((9, 2))
        );
        assert_eq!(parse_log_file_name("manifest"), None);
    }
}
