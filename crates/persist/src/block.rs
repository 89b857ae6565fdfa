//! Blocks: a batch of records with a checksummed header, compressed with lz4 and
//! optionally encrypted, starting at a multiple of [`BLOCK_ALIGN`] in its segment.
//!
//! Header (56 bytes, little-endian):
//! `magic u32 | crc32c u32 | stored_len u32 | raw_len u32 | first_lsn u64 | base_time u64 |
//! count u32 | flags u16 | reserved u16 | nonce [12] | reserved u32`.
//! The CRC covers header bytes 8..56 and the stored payload (the ciphertext when
//! encrypted), so a checksum pass needs no key. Encryption binds header bytes 8..40 as
//! associated data.

use crate::cipher::{Cipher, NONCE_LEN, TAG_LEN};
use crate::FormatError;

/// Blocks start at multiples of this (the O_DIRECT alignment), so appending a block never
/// rewrites a page that holds an earlier, already durable one.
pub const BLOCK_ALIGN: u64 = 4096;
/// Size of a block header.
pub const BLOCK_HEADER_LEN: usize = 56;
/// The largest payload a block may declare (a guard against reading garbage lengths).
pub const MAX_BLOCK_PAYLOAD: u32 = 256 << 20;

const MAGIC: u32 = u32::from_le_bytes(*b"PBLK");
const FLAG_LZ4: u16 = 1;
const FLAG_ENCRYPTED: u16 = 2;

/// What a block header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// Bytes of payload as stored.
    pub stored_len: u32,
    /// Bytes of records once decrypted and decompressed.
    pub raw_len: u32,
    /// Log sequence number of the first record.
    pub first_lsn: u64,
    /// Times of records are relative to this (Unix ms).
    pub base_time: u64,
    /// Number of records.
    pub count: u32,
    /// Compressed and/or encrypted.
    pub flags: u16,
    /// The encryption nonce (zero when plain).
    pub nonce: [u8; NONCE_LEN],
}

impl BlockHeader {
    /// True when the payload is lz4-compressed.
    pub fn compressed(&self) -> bool {
        self.flags & FLAG_LZ4 != 0
    }

    /// True when the payload is encrypted.
    pub fn encrypted(&self) -> bool {
        self.flags & FLAG_ENCRYPTED != 0
    }

    /// Header plus payload, before padding.
    pub fn block_len(&self) -> u64 {
        BLOCK_HEADER_LEN as u64 + u64::from(self.stored_len)
    }

    fn encode(&self) -> [u8; BLOCK_HEADER_LEN] {
        let mut bytes = [0u8; BLOCK_HEADER_LEN];
        bytes[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        bytes[8..12].copy_from_slice(&self.stored_len.to_le_bytes());
        bytes[12..16].copy_from_slice(&self.raw_len.to_le_bytes());
        bytes[16..24].copy_from_slice(&self.first_lsn.to_le_bytes());
        bytes[24..32].copy_from_slice(&self.base_time.to_le_bytes());
        bytes[32..36].copy_from_slice(&self.count.to_le_bytes());
        bytes[36..38].copy_from_slice(&self.flags.to_le_bytes());
        bytes[40..52].copy_from_slice(&self.nonce);
        bytes
    }

    /// Parses and sanity-checks a header (the CRC is checked with the payload, by
    /// [`open_block`]).
    pub fn parse(bytes: &[u8; BLOCK_HEADER_LEN]) -> Result<BlockHeader, FormatError> {
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        if u32_at(0) != MAGIC {
            return Err(FormatError::Malformed("no block magic"));
        }
        let header = BlockHeader {
            stored_len: u32_at(8),
            raw_len: u32_at(12),
            first_lsn: u64_at(16),
            base_time: u64_at(24),
            count: u32_at(32),
            flags: u16::from_le_bytes([bytes[36], bytes[37]]),
            nonce: bytes[40..52].try_into().unwrap(),
        };
        if header.stored_len > MAX_BLOCK_PAYLOAD || header.raw_len > MAX_BLOCK_PAYLOAD {
            return Err(FormatError::Malformed("block length out of range"));
        }
        if header.flags & !(FLAG_LZ4 | FLAG_ENCRYPTED) != 0 {
            return Err(FormatError::Malformed("unknown block flags"));
        }
        Ok(header)
    }
}

/// Rounds `offset` up to the next block boundary.
pub fn align_up(offset: u64) -> u64 {
    offset.div_ceil(BLOCK_ALIGN) * BLOCK_ALIGN
}

/// Builds a block from encoded records: compresses (when it pays), encrypts with `cipher`
/// when it has a key, checksums. Returns header and payload together, unpadded.
pub fn seal_block(
    records: &[u8],
    first_lsn: u64,
    count: u32,
    base_time: u64,
    cipher: &Cipher,
) -> Vec<u8> {
    let compressed = lz4_flex::block::compress(records);
    let (mut flags, body) = if compressed.len() < records.len() {
        (FLAG_LZ4, compressed)
    } else {
        (0, records.to_vec())
    };
    let encrypting = cipher.kind() != crate::CipherKind::None;
    let stored_len = body.len() + if encrypting { TAG_LEN } else { 0 };
    if encrypting {
        flags |= FLAG_ENCRYPTED;
    }
    let mut header = BlockHeader {
        stored_len: stored_len as u32,
        raw_len: records.len() as u32,
        first_lsn,
        base_time,
        count,
        flags,
        nonce: [0; NONCE_LEN],
    };
    let payload = if encrypting {
        let aad = header.encode();
        let (nonce, sealed) = cipher.seal(&aad[8..40], &body);
        header.nonce = nonce;
        sealed
    } else {
        body
    };
    let mut bytes = Vec::with_capacity(BLOCK_HEADER_LEN + payload.len());
    bytes.extend_from_slice(&header.encode());
    bytes.extend_from_slice(&payload);
    let crc = crc32c::crc32c(&bytes[8..]);
    bytes[4..8].copy_from_slice(&crc.to_le_bytes());
    bytes
}

/// Checks a block's CRC (header bytes plus `stored` payload).
pub fn verify_crc(header_bytes: &[u8; BLOCK_HEADER_LEN], stored: &[u8]) -> bool {
    let expected = u32::from_le_bytes(header_bytes[4..8].try_into().unwrap());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header_bytes[8..]), stored);
    crc == expected
}

/// The records of a block whose CRC was verified: decrypted and decompressed.
pub fn open_block(
    header: &BlockHeader,
    stored: &[u8],
    cipher: &Cipher,
) -> Result<Vec<u8>, FormatError> {
    let decrypted;
    let body: &[u8] = if header.encrypted() {
        let aad = header.encode();
        decrypted = cipher.open(&header.nonce, &aad[8..40], stored)?;
        &decrypted
    } else {
        stored
    };
    if header.compressed() {
        lz4_flex::block::decompress(body, header.raw_len as usize)
            .map_err(|_| FormatError::Malformed("lz4 payload does not decompress"))
    } else if body.len() == header.raw_len as usize {
        Ok(body.to_vec())
    } else {
        Err(FormatError::Malformed(
            "payload length differs from the header",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(bytes: &[u8]) -> ([u8; BLOCK_HEADER_LEN], &[u8]) {
        (
            bytes[..BLOCK_HEADER_LEN].try_into().unwrap(),
            &bytes[BLOCK_HEADER_LEN..],
        )
    }

    #[test]
    fn plain_and_encrypted_blocks_round_trip() {
        let records = b"records records records records records".repeat(20);
        for cipher in [Cipher::none(), Cipher::from_key(&[9; 32])] {
            let block = seal_block(&records, 42, 3, 1_000, &cipher);
            let (header_bytes, stored) = split(&block);
            assert!(verify_crc(&header_bytes, stored));
            let header = BlockHeader::parse(&header_bytes).unwrap();
            assert!(header.compressed());
            assert_eq!(
                (header.first_lsn, header.count, header.base_time),
                (42, 3, 1_000)
            );
            assert_eq!(open_block(&header, stored, &cipher).unwrap(), records);
        }
    }

    #[test]
    fn a_flipped_byte_fails_the_crc() {
        let block = seal_block(b"abc", 1, 1, 0, &Cipher::none());
        for index in [5, 9, 20, BLOCK_HEADER_LEN] {
            let mut damaged = block.clone();
            damaged[index] ^= 0x10;
            let (header_bytes, stored) = split(&damaged);
            assert!(!verify_crc(&header_bytes, stored), "byte {index}");
        }
    }

    #[test]
    fn encrypted_blocks_need_the_key() {
        let block = seal_block(b"secret", 1, 1, 0, &Cipher::from_key(&[1; 32]));
        let (header_bytes, stored) = split(&block);
        let header = BlockHeader::parse(&header_bytes).unwrap();
        assert!(open_block(&header, stored, &Cipher::none()).is_err());
        assert!(open_block(&header, stored, &Cipher::from_key(&[2; 32])).is_err());
    }
}
