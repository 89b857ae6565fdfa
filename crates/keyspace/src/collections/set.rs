//! The set value (scaffold: the family's owner replaces this with both encodings).

use super::Listpack;

/// A set.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Set {
    entries: Listpack,
}

impl Set {
    /// An empty set.
    pub fn new() -> Set {
        Set::default()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty (an empty collection is never stored under a key).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Calls `visit` with every member, in no particular order (ZUNION and friends read
    /// sets as sorted sets with score 1).
    pub fn for_each_member(&self, visit: impl FnMut(&[u8])) {
        self.entries.iter().for_each(visit);
    }

    /// The name OBJECT ENCODING replies with.
    pub fn encoding_name(&self) -> &'static str {
        "listpack"
    }
}
