//! The thresholds at which a collection leaves its compact encoding.

/// Redis's encoding thresholds (`CONFIG SET`-able): a collection stays in its compact
/// encoding while it has at most so many entries and every entry is at most so long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodingLimits {
    /// `list-max-listpack-size`: positive = entries per node, -1..-5 = 4/8/16/32/64 KiB
    /// per node. A list is a single listpack while it fits in one node.
    pub list_max_listpack_size: i64,
    /// `hash-max-listpack-entries`.
    pub hash_max_listpack_entries: usize,
    /// `hash-max-listpack-value`.
    pub hash_max_listpack_value: usize,
    /// `set-max-intset-entries`.
    pub set_max_intset_entries: usize,
    /// `set-max-listpack-entries`.
    pub set_max_listpack_entries: usize,
    /// `set-max-listpack-value`.
    pub set_max_listpack_value: usize,
    /// `zset-max-listpack-entries`.
    pub zset_max_listpack_entries: usize,
    /// `zset-max-listpack-value`.
    pub zset_max_listpack_value: usize,
}

impl Default for EncodingLimits {
    /// Redis 7.2's defaults.
    fn default() -> Self {
        EncodingLimits {
            list_max_listpack_size: -2,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
        }
    }
}

impl EncodingLimits {
    /// The largest listpack node a list may have, in bytes, or `None` when the limit is
    /// a count of entries (positive `list-max-listpack-size`).
    pub fn list_node_bytes(&self) -> Option<usize> {
        match self.list_max_listpack_size {
            size if size > 0 => None,
            -1 => Some(4096),
            -2 => Some(8192),
            -3 => Some(16384),
            -4 => Some(32768),
            _ => Some(65536),
        }
    }
}
