//! The hash value (scaffold: the family's owner replaces this with both encodings).

use super::Listpack;

/// A hash.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Hash {
    entries: Listpack,
}

impl Hash {
    /// An empty hash.
    pub fn new() -> Hash {
        Hash::default()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty (an empty collection is never stored under a key).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The name OBJECT ENCODING replies with.
    pub fn encoding_name(&self) -> &'static str {
        "listpack"
    }
}
