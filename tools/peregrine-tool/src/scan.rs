//! One segment read by checksum: its header, the blocks whose CRC holds and where it is
//! damaged. That pass needs no key; opening a block's records is a second step
//! ([`BlockOpener`]), and decoding them a third ([`decode_block`]).

use std::fmt;
use std::fs::File;
use std::os::unix::fs::FileExt;

use anyhow::Context;
use peregrine_persist::block::{open_block, BLOCK_HEADER_LEN};
use peregrine_persist::{
    BlockHeader, Cipher, CipherKind, FormatError, Record, RecordDecoder, ScanItem, SegmentFile,
    SegmentHeader, SegmentReader,
};

/// A block whose checksum holds.
#[derive(Clone, Copy, Debug)]
pub struct BlockAt {
    /// Where it starts in its file.
    pub offset: u64,
    /// Its header.
    pub header: BlockHeader,
}

impl BlockAt {
    /// The LSN of its last record (`None` when it holds none).
    pub fn last_lsn(&self) -> Option<u64> {
        let count = u64::from(self.header.count);
        if count == 0 {
            return None;
        }
        self.header.first_lsn.checked_add(count - 1)
    }
}

/// A damaged place in a segment, as the segment reader classifies it.
#[derive(Clone, Debug)]
pub enum Damage {
    /// The file ends with something that is not a whole, valid block, and no valid block
    /// follows it: a write cut short.
    TornTail {
        /// Where the damage starts.
        offset: u64,
        /// Bytes from there to the end of the file.
        dropped: u64,
    },
    /// A damaged header or block with valid data after it.
    Corrupt {
        /// Where the damage starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

/// What a checksum pass over one segment file found.
pub struct SegmentScan {
    /// The file.
    pub file: SegmentFile,
    /// Its length in bytes.
    pub size: u64,
    /// Its header; `None` when that is damaged (then `damage` says why).
    pub header: Option<SegmentHeader>,
    /// The blocks whose checksum holds, in file order.
    pub blocks: Vec<BlockAt>,
    /// Damaged places, in file order.
    pub damage: Vec<Damage>,
}

impl SegmentScan {
    /// Reads `file`'s header and every block's checksum. Damage is part of the result; an
    /// error means the file could not be read at all.
    pub fn run(file: &SegmentFile) -> anyhow::Result<SegmentScan> {
        let size = std::fs::metadata(&file.path)
            .with_context(|| format!("can't read {}", file.path.display()))?
            .len();
        let mut scan = SegmentScan {
            file: file.clone(),
            size,
            header: None,
            blocks: Vec::new(),
            damage: Vec::new(),
        };
        let mut reader = match SegmentReader::open_checksums_only(&file.path) {
            Ok(reader) => reader,
            Err(FormatError::At { offset, reason, .. }) => {
                scan.damage.push(Damage::Corrupt { offset, reason });
                return Ok(scan);
            }
            Err(error) => {
                return Err(error).with_context(|| format!("can't read {}", file.path.display()))
            }
        };
        scan.header = Some(reader.header);
        while let Some(item) = reader.next_item() {
            match item {
                ScanItem::Block(block) => scan.blocks.push(BlockAt {
                    offset: block.offset,
                    header: block.header,
                }),
                ScanItem::TornTail { offset, dropped } => {
                    scan.damage.push(Damage::TornTail { offset, dropped })
                }
                ScanItem::Corrupt { offset, reason, .. } => {
                    scan.damage.push(Damage::Corrupt { offset, reason })
                }
            }
        }
        Ok(scan)
    }

    /// Records in its valid blocks, as their headers count them.
    pub fn record_count(&self) -> u64 {
        self.blocks
            .iter()
            .map(|block| u64::from(block.header.count))
            .sum()
    }

    /// The lowest and highest LSN of its valid blocks' records.
    pub fn lsn_range(&self) -> Option<(u64, u64)> {
        let mut ranges = self
            .blocks
            .iter()
            .filter_map(|block| block.last_lsn().map(|last| (block.header.first_lsn, last)));
        let first = ranges.next()?;
        Some(ranges.fold(first, |(low, high), (first, last)| {
            (low.min(first), high.max(last))
        }))
    }

    /// True when its records can be decoded with `cipher`: plain, or a key was given.
    pub fn decodable_with(&self, cipher: &Cipher) -> bool {
        self.header.is_some_and(|header| {
            header.cipher == CipherKind::None || cipher.kind() != CipherKind::None
        })
    }

    /// `ok`, `torn tail at offset N (D bytes)` or `corrupt at offset N`, for listings.
    pub fn state(&self) -> String {
        let worst = self
            .damage
            .iter()
            .find(|damage| matches!(damage, Damage::Corrupt { .. }))
            .or(self.damage.first());
        match worst {
            None => "ok".to_string(),
            Some(damage) if self.damage.len() > 1 => {
                format!("{damage} (and {} more)", self.damage.len() - 1)
            }
            Some(damage) => damage.to_string(),
        }
    }
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::TornTail { offset, dropped } => {
                write!(f, "torn tail at offset {offset} ({dropped} bytes)")
            }
            Damage::Corrupt { offset, .. } => write!(f, "corrupt at offset {offset}"),
        }
    }
}

/// Opens the blocks of one scanned segment: reads their payload, decrypts, decompresses.
pub struct BlockOpener {
    file: File,
    cipher: Cipher,
}

impl BlockOpener {
    /// Checks that `cipher` opens `scan`'s segment (a missing or wrong key is an error
    /// that says so) and opens the file.
    pub fn new(scan: &SegmentScan, cipher: &Cipher) -> Result<BlockOpener, FormatError> {
        SegmentReader::open(&scan.file.path, cipher)?;
        Ok(BlockOpener {
            file: File::open(&scan.file.path)?,
            cipher: cipher.clone(),
        })
    }

    /// The records of `block`, decrypted and decompressed.
    pub fn open(&self, block: &BlockAt) -> Result<Vec<u8>, FormatError> {
        let mut stored = vec![0u8; block.header.stored_len as usize];
        self.file
            .read_exact_at(&mut stored, block.offset + BLOCK_HEADER_LEN as u64)?;
        open_block(&block.header, &stored, &self.cipher)
    }
}

/// A block's records decoded: each with its LSN, and what went wrong if not all did.
pub struct DecodedBlock<'a> {
    /// The records that decoded, with their LSNs.
    pub records: Vec<(u64, Record<'a>)>,
    /// Why decoding stopped early, or why the count differs from the header's.
    pub problem: Option<String>,
}

/// Decodes the records `bytes` of `block`; record `index` has LSN `first_lsn + index`.
pub fn decode_block<'a>(block: &BlockAt, bytes: &'a [u8]) -> DecodedBlock<'a> {
    let mut decoded = DecodedBlock {
        records: Vec::new(),
        problem: None,
    };
    let decoder = RecordDecoder::new(bytes, block.header.base_time);
    for (lsn, record) in (block.header.first_lsn..).zip(decoder) {
        match record {
            Ok(record) => decoded.records.push((lsn, record)),
            Err(error) => {
                decoded.problem = Some(format!("record at lsn {lsn} does not decode: {error}"));
                return decoded;
            }
        }
    }
    if decoded.records.len() as u64 != u64::from(block.header.count) {
        decoded.problem = Some(format!(
            "the block header counts {} records but its payload holds {}",
            block.header.count,
            decoded.records.len()
        ));
    }
    decoded
}
