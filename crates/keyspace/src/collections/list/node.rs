//! One listpack node of a list, and the size rules Redis applies to it.
//!
//! Redis decides when a list changes encoding, and when a quicklist starts a new node,
//! from the byte size of its own listpack format (`lpBytes`). Our [`Listpack`] encodes
//! differently, so each node also keeps the size Redis's listpack would have for the same
//! entries: that is what keeps OBJECT ENCODING and node boundaries identical to Redis.

use crate::collections::Listpack;
use crate::value::canonical_integer;

/// Bytes of an empty Redis listpack: 6 header bytes and the end marker.
const EMPTY_LISTPACK_BYTES: usize = 7;
/// Redis's `SIZE_SAFETY_LIMIT`: the largest node when the limit is a count of entries.
const SIZE_SAFETY_LIMIT: usize = 8192;
/// Redis's `SIZE_ESTIMATE_OVERHEAD`: the per-entry overhead it assumes before inserting.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;
/// Redis's `optimization_level`: node byte limits for `list-max-listpack-size` -1..-5.
const BYTE_LIMITS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];

/// The limit on one node, from `list-max-listpack-size` (Redis's `quicklistNodeLimit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NodeLimit {
    /// Negative setting: at most so many (Redis listpack) bytes.
    Bytes(usize),
    /// Positive setting: at most so many entries (and [`SIZE_SAFETY_LIMIT`] bytes).
    Count(usize),
}

impl NodeLimit {
    /// The limit for a `list-max-listpack-size` value.
    pub(super) fn from_setting(setting: i64) -> NodeLimit {
        if setting >= 0 {
            return NodeLimit::Count(usize::try_from(setting).unwrap_or(usize::MAX).max(1));
        }
        let level = usize::try_from(setting.unsigned_abs() - 1).unwrap_or(usize::MAX);
        NodeLimit::Bytes(BYTE_LIMITS[level.min(BYTE_LIMITS.len() - 1)])
    }

    /// True when a node of `bytes` bytes and `count` entries is over the limit
    /// (`quicklistNodeExceedsLimit`).
    pub(super) fn exceeded(self, bytes: usize, count: usize) -> bool {
        match self {
            NodeLimit::Bytes(limit) => bytes > limit,
            NodeLimit::Count(limit) => bytes > SIZE_SAFETY_LIMIT || count > limit,
        }
    }

    /// True when an element of `len` bytes gets a node of its own (`isLargeElement`).
    pub(super) fn is_large(self, len: usize) -> bool {
        match self {
            NodeLimit::Bytes(limit) => len > limit,
            NodeLimit::Count(_) => len > SIZE_SAFETY_LIMIT,
        }
    }

    /// True when a shrinking quicklist's only node is small enough to become the list's
    /// listpack again: under half the limit, so a list near the limit does not flip
    /// encodings on every push and pop (`listTypeTryConvertQuicklist`).
    pub(super) fn fits_half(self, bytes: usize, count: usize) -> bool {
        match self {
            NodeLimit::Bytes(limit) => bytes <= limit / 2,
            NodeLimit::Count(limit) => count <= limit / 2,
        }
    }
}

/// The bytes Redis's listpack spends on `element`: integers in canonical form are stored
/// as integers, other strings with a 1, 2 or 5 byte header; then the back-length.
pub(super) fn redis_entry_bytes(element: &[u8]) -> usize {
    let encoded = match canonical_integer(element) {
        Some(value) => match value {
            0..=127 => 1,
            -4096..=4095 => 2,
            -32768..=32767 => 3,
            -8_388_608..=8_388_607 => 4,
            -2_147_483_648..=2_147_483_647 => 5,
            _ => 9,
        },
        None => {
            element.len()
                + match element.len() {
                    0..=63 => 1,
                    64..=4095 => 2,
                    _ => 5,
                }
        }
    };
    encoded
        + match encoded {
            0..=127 => 1,
            128..=16382 => 2,
            16383..=2_097_150 => 3,
            2_097_151..=268_435_454 => 4,
            _ => 5,
        }
}

/// One node: a listpack with its entry count and Redis-equivalent byte size kept beside
/// it, so walking the nodes of a quicklist touches only this array.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Node {
    pub(super) entries: Listpack,
    /// Entries in `entries` (kept here so locating an index reads no listpack).
    pub(super) count: usize,
    /// What Redis's `lpBytes` would be for these entries.
    pub(super) bytes: usize,
    /// A node made for one large element (Redis's plain node): nothing joins it.
    pub(super) plain: bool,
}

impl Default for Node {
    fn default() -> Self {
        Node {
            entries: Listpack::new(),
            count: 0,
            bytes: EMPTY_LISTPACK_BYTES,
            plain: false,
        }
    }
}

impl Node {
    /// A node holding only `element`; plain when the element is large.
    pub(super) fn with(element: &[u8], limit: NodeLimit) -> Node {
        let mut node = Node {
            plain: limit.is_large(element.len()),
            ..Node::default()
        };
        node.push_back(element);
        node
    }

    /// True when `element` may join this node (`_quicklistNodeAllowInsert`).
    pub(super) fn accepts(&self, element: &[u8], limit: NodeLimit) -> bool {
        !self.plain
            && !limit.is_large(element.len())
            && !limit.exceeded(
                self.bytes + element.len() + SIZE_ESTIMATE_OVERHEAD,
                self.count + 1,
            )
    }

    pub(super) fn push_back(&mut self, element: &[u8]) {
        self.entries.push_back(element);
        self.added(element);
    }

    pub(super) fn push_front(&mut self, element: &[u8]) {
        self.entries.push_front(element);
        self.added(element);
    }

    pub(super) fn insert(&mut self, index: usize, element: &[u8]) {
        self.entries.insert(index, element);
        self.added(element);
    }

    pub(super) fn pop_front(&mut self) -> Option<Vec<u8>> {
        let element = self.entries.pop_front()?;
        self.removed(&element);
        Some(element)
    }

    pub(super) fn pop_back(&mut self) -> Option<Vec<u8>> {
        let element = self.entries.pop_back()?;
        self.removed(&element);
        Some(element)
    }

    /// Replaces entry `index` (which exists) with `element`.
    pub(super) fn replace(&mut self, index: usize, element: &[u8]) {
        let old = self.entries.get(index).map_or(0, redis_entry_bytes);
        self.entries.replace(index, element);
        self.bytes = self.bytes - old + redis_entry_bytes(element);
    }

    /// Removes `count` entries from `index` (both within the node).
    pub(super) fn remove_range(&mut self, index: usize, count: usize) {
        let freed: usize = self
            .entries
            .iter()
            .skip(index)
            .take(count)
            .map(redis_entry_bytes)
            .sum();
        self.entries.remove_range(index, count);
        self.count -= count;
        self.bytes -= freed;
    }

    /// Splits off the entries from `index` on into a new node.
    pub(super) fn split_off(&mut self, index: usize) -> Node {
        let mut tail = Node::default();
        for element in self.entries.iter().skip(index) {
            tail.push_back(element);
        }
        self.remove_range(index, self.count - index);
        tail
    }

    /// Removes up to `limit` entries equal to `element` (0: all), the first ones met
    /// from the front, or from the back when `from_back`. Returns how many it removed.
    pub(super) fn remove_matching(
        &mut self,
        element: &[u8],
        limit: usize,
        from_back: bool,
    ) -> usize {
        let matches = self
            .entries
            .iter()
            .filter(|entry| *entry == element)
            .count();
        let removing = if limit == 0 {
            matches
        } else {
            matches.min(limit)
        };
        if removing == 0 {
            return 0;
        }
        // The matches removed are a run of `removing` in match order.
        let first_removed = if from_back { matches - removing } else { 0 };
        let mut kept = Node {
            plain: self.plain,
            ..Node::default()
        };
        let mut seen = 0;
        for entry in self.entries.iter() {
            if entry == element {
                seen += 1;
                if (first_removed + 1..=first_removed + removing).contains(&seen) {
                    continue;
                }
            }
            kept.push_back(entry);
        }
        *self = kept;
        removing
    }

    fn added(&mut self, element: &[u8]) {
        self.count += 1;
        self.bytes += redis_entry_bytes(element);
    }

    fn removed(&mut self, element: &[u8]) {
        self.count -= 1;
        self.bytes -= redis_entry_bytes(element);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_sizes_follow_redis_listpack() {
        assert_eq!(redis_entry_bytes(b"7"), 2);
        assert_eq!(redis_entry_bytes(b"-1"), 3);
        assert_eq!(redis_entry_bytes(b"30000"), 4);
        assert_eq!(redis_entry_bytes(b"1000000"), 5);
        assert_eq!(redis_entry_bytes(b"100000000"), 6);
        assert_eq!(redis_entry_bytes(b"10000000000"), 10);
        assert_eq!(redis_entry_bytes(b"007"), 5);
        assert_eq!(redis_entry_bytes(b"hello"), 7);
        assert_eq!(redis_entry_bytes(&[b'x'; 100]), 103);
        assert_eq!(redis_entry_bytes(&[b'x'; 9000]), 9007);
    }

    #[test]
    fn limits_from_the_setting() {
        assert_eq!(NodeLimit::from_setting(-2), NodeLimit::Bytes(8192));
        assert_eq!(NodeLimit::from_setting(-9), NodeLimit::Bytes(65536));
        assert_eq!(NodeLimit::from_setting(0), NodeLimit::Count(1));
        assert_eq!(NodeLimit::from_setting(128), NodeLimit::Count(128));
        assert!(NodeLimit::Count(128).exceeded(9000, 1));
        assert!(NodeLimit::Bytes(8192).is_large(8193));
        assert!(NodeLimit::Count(10).fits_half(100_000, 5));
    }

    #[test]
    fn remove_matching_from_either_end() {
        let mut node = Node::default();
        for entry in ["a", "x", "b", "x", "c", "x"] {
            node.push_back(entry.as_bytes());
        }
        let bytes = node.bytes;
        let mut from_back = node.clone();
        assert_eq!(from_back.remove_matching(b"x", 2, true), 2);
        let left: Vec<&[u8]> = from_back.entries.iter().collect();
        assert_eq!(left, [&b"a"[..], b"x", b"b", b"c"]);
        assert_eq!(from_back.bytes, bytes - 6);
        assert_eq!(node.remove_matching(b"x", 2, false), 2);
        let left: Vec<&[u8]> = node.entries.iter().collect();
        assert_eq!(left, [&b"a"[..], b"b", b"c", b"x"]);
        assert_eq!(node.count, 4);
    }
}
