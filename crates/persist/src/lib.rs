//! Peregrine's on-disk format and the pieces that read and write it without a runtime:
//! effect records, blocks (CRC32C, lz4, optional AES-256-GCM), segments, the manifest, and
//! the per-shard journal that collects records before they become blocks.
//!
//! The layout is described in FORMAT.md next to this crate.

pub mod block;
pub mod cipher;
pub mod journal;
pub mod manifest;
pub mod record;
pub mod segment;
pub mod varint;

pub use block::{align_up, seal_block, BlockHeader, BLOCK_ALIGN};
pub use cipher::{Cipher, CipherKind};
pub use journal::{Journal, PendingRecords};
pub use manifest::{write_atomically, Manifest, ShardEntry, MANIFEST_FILE};

/// The data directory's file of FUNCTION libraries (FUNCTION DUMP's payload), written by
/// the server and carried by backups.
pub const FUNCTIONS_FILE: &str = "functions.pfn";
pub use record::{Record, RecordDecoder, RecordEncoder};
pub use segment::{
    list_segments, log_file_name, parse_log_file_name, parse_snapshot_file_name,
    snapshot_file_name, ReadBlock, ScanItem, SegmentFile, SegmentHeader, SegmentKind, SegmentName,
    SegmentReader, FORMAT_VERSION, SEGMENT_HEADER_LEN,
};

use std::path::PathBuf;

/// What can go wrong reading or writing persisted data.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Bytes that do not follow the format.
    #[error("{0}")]
    Malformed(&'static str),
    /// A format version this build does not read.
    #[error("format version {0} is not supported (this build reads version 1)")]
    Version(u32),
    /// A missing, wrong or unreadable encryption key.
    #[error("{0}")]
    Key(String),
    /// A problem at a known place in a file.
    #[error("{}: offset {offset}: {reason}", file.display())]
    At {
        /// The file.
        file: PathBuf,
        /// Byte offset in it.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The operating system refused.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
