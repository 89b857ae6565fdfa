//! A byte string that keeps short contents inline.

use std::borrow::Borrow;
use std::fmt;

/// Bytes stored inline up to this length.
pub(crate) const INLINE_CAPACITY: usize = 22;

/// An immutable byte string of 24 bytes: up to 22 bytes live inline (no allocation),
/// longer ones in one exact-size heap block. Keys and short string values use it so a
/// small key costs no allocation of its own.
#[derive(Clone)]
pub enum CompactBytes {
    /// Short contents, inline.
    Inline {
        /// Number of bytes used in `data`.
        len: u8,
        /// The contents, zero-padded.
        data: [u8; INLINE_CAPACITY],
    },
    /// Longer contents on the heap.
    Heap(Box<[u8]>),
}

impl CompactBytes {
    /// A copy of `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        if bytes.len() <= INLINE_CAPACITY {
            let mut data = [0; INLINE_CAPACITY];
            data[..bytes.len()].copy_from_slice(bytes);
            CompactBytes::Inline {
                len: bytes.len() as u8,
                data,
            }
        } else {
            CompactBytes::Heap(bytes.into())
        }
    }

    /// The contents.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            CompactBytes::Inline { len, data } => &data[..*len as usize],
            CompactBytes::Heap(bytes) => bytes,
        }
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::ops::Deref for CompactBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for CompactBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for CompactBytes {}

impl std::hash::Hash for CompactBytes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl PartialOrd for CompactBytes {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CompactBytes {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl Borrow<[u8]> for CompactBytes {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl From<&[u8]> for CompactBytes {
    fn from(bytes: &[u8]) -> Self {
        CompactBytes::new(bytes)
    }
}

impl fmt::Debug for CompactBytes {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_24_bytes_and_round_trips() {
        assert_eq!(std::mem::size_of::<CompactBytes>(), 24);
        for len in [0, 1, 22, 23, 100] {
            let bytes: Vec<u8> = (0..len).map(|index| index as u8).collect();
            let compact = CompactBytes::new(&bytes);
            assert_eq!(compact.as_slice(), &bytes[..]);
            assert_eq!(
                matches!(compact, CompactBytes::Heap(_)),
                len > INLINE_CAPACITY
            );
        }
    }
}
