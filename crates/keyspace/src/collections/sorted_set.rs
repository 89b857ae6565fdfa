//! The sorted set value (scaffold: the family's owner replaces this with both encodings).

use super::Listpack;

/// A sorted set.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SortedSet {
    entries: Listpack,
}

impl SortedSet {
    /// An empty sorted set.
    pub fn new() -> SortedSet {
        SortedSet::default()
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
