//! One node of a stream: a run of consecutive entries in one buffer, as Redis keeps a
//! listpack per radix-tree node.
//!
//! The first entry's field names are kept once as the node's "master fields"; an entry
//! with the same field names stores only its values. IDs are deltas from the previous
//! entry. A deleted entry stays as a tombstone (flag bit) until its node empties, as in
//! Redis. Layout of one entry:
//!
//! ```text
//! [flags: u8] [ms delta: varint] [seq: varint]            (the first entry has neither)
//! SAME_FIELDS:  [value len: varint] [value] ...           (one per master field)
//! otherwise:    [pairs: varint] ([len] [field] [len] [value]) ...
//! ```
//!
//! `seq` is the sequence minus the previous one's minus one when the milliseconds are
//! equal (usually 0), else the sequence itself. The node also tracks the byte size of
//! the listpack Redis would hold for the same entries ([`super::redis_size`]): Redis
//! starts a new node when that size reaches `stream-node-max-bytes`, and approximate
//! trimming removes whole nodes, so matching Redis's node boundaries makes `~` trims
//! remove exactly the entries Redis removes.

use super::redis_size::{lp_int, lp_str};
use super::StreamId;

const DELETED: u8 = 1;
const SAME_FIELDS: u8 = 2;
/// An empty listpack: 6 bytes of header, 1 end byte.
const LISTPACK_OVERHEAD: usize = 7;

/// A run of consecutive entries (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Node {
    /// The master field names: `[count: varint] ([len: varint] [name])...`.
    master: Box<[u8]>,
    /// The entries.
    data: Vec<u8>,
    /// The last entry's ID (tombstone or not): appends are deltas from it.
    last: StreamId,
    /// Where the last entry's flags byte is.
    last_at: usize,
    /// Live entries.
    pub(super) live: u32,
    /// Tombstones.
    pub(super) deleted: u32,
    /// Redis's listpack bytes for the master entry (field count, names, terminator).
    lp_master: u32,
    /// Redis's listpack bytes for the entries.
    lp_entries: u32,
}

/// One entry of a node, borrowing its bytes; its pairs are decoded on demand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct RawEntry<'a> {
    /// Where its flags byte is in the node's buffer.
    pub(super) at: usize,
    /// The entry's ID.
    pub(super) id: StreamId,
    /// True for a tombstone.
    pub(super) deleted: bool,
    /// Its values (SAME_FIELDS) or its pair count and pairs.
    body: &'a [u8],
    same_fields: bool,
}

impl<'a> RawEntry<'a> {
    /// The field-value pairs; `fields` are the node's master fields.
    pub(super) fn pairs(&self, fields: &[&'a [u8]]) -> Vec<(&'a [u8], &'a [u8])> {
        let mut at = 0;
        let body = self.body;
        if self.same_fields {
            fields
                .iter()
                .map(|&field| (field, read_bytes(body, &mut at)))
                .collect()
        } else {
            let count = read_varint(body, &mut at) as usize;
            (0..count)
                .map(|_| {
                    let field = read_bytes(body, &mut at);
                    (field, read_bytes(body, &mut at))
                })
                .collect()
        }
    }
}

impl Node {
    /// A node holding one entry, `id` with `pairs`, whose field names become the master.
    pub(super) fn new(id: StreamId, pairs: &[(&[u8], &[u8])]) -> Node {
        let mut master = Vec::new();
        write_varint(&mut master, pairs.len() as u64);
        let mut lp_master = lp_int(pairs.len() as i64) + lp_int(0);
        for (field, _) in pairs {
            write_bytes(&mut master, field);
            lp_master += lp_str(field);
        }
        let mut node = Node {
            master: master.into_boxed_slice(),
            data: Vec::new(),
            last: id,
            last_at: 0,
            live: 0,
            deleted: 0,
            lp_master: lp_master as u32,
            lp_entries: 0,
        };
        node.data.push(SAME_FIELDS);
        for (_, value) in pairs {
            write_bytes(&mut node.data, value);
        }
        node.count_entry(id, id, true, pairs);
        node
    }

    /// Appends entry `id` (greater than every ID here) with `pairs`; `master_id` is the
    /// node's key.
    pub(super) fn append(&mut self, master_id: StreamId, id: StreamId, pairs: &[(&[u8], &[u8])]) {
        let same = self.has_master_fields(pairs);
        self.last_at = self.data.len();
        self.data.push(if same { SAME_FIELDS } else { 0 });
        let ms_delta = id.ms - self.last.ms;
        write_varint(&mut self.data, ms_delta);
        let seq = if ms_delta == 0 {
            id.seq - self.last.seq - 1
        } else {
            id.seq
        };
        write_varint(&mut self.data, seq);
        if same {
            for (_, value) in pairs {
                write_bytes(&mut self.data, value);
            }
        } else {
            write_varint(&mut self.data, pairs.len() as u64);
            for (field, value) in pairs {
                write_bytes(&mut self.data, field);
                write_bytes(&mut self.data, value);
            }
        }
        self.last = id;
        self.count_entry(master_id, id, same, pairs);
    }

    fn count_entry(
        &mut self,
        master_id: StreamId,
        id: StreamId,
        same: bool,
        pairs: &[(&[u8], &[u8])],
    ) {
        let fields = pairs.len() as i64;
        let mut size = lp_int(if same { SAME_FIELDS as i64 } else { 0 })
            + lp_int(id.ms.wrapping_sub(master_id.ms) as i64)
            + lp_int(id.seq.wrapping_sub(master_id.seq) as i64);
        let mut parts = fields + 3;
        if !same {
            size += lp_int(fields);
            parts += fields + 1;
        }
        for (field, value) in pairs {
            if !same {
                size += lp_str(field);
            }
            size += lp_str(value);
        }
        size += lp_int(parts);
        self.lp_entries = self.lp_entries.saturating_add(size as u32);
        self.live += 1;
    }

    fn has_master_fields(&self, pairs: &[(&[u8], &[u8])]) -> bool {
        let mut at = 0;
        let count = read_varint(&self.master, &mut at);
        if count != pairs.len() as u64 {
            return false;
        }
        pairs
            .iter()
            .all(|(field, _)| read_bytes(&self.master, &mut at) == *field)
    }

    /// The size in bytes of the listpack Redis would hold for this node.
    pub(super) fn redis_bytes(&self) -> usize {
        LISTPACK_OVERHEAD
            + lp_int(i64::from(self.live))
            + lp_int(i64::from(self.deleted))
            + self.lp_master as usize
            + self.lp_entries as usize
    }

    /// Whether Redis would start a new node rather than append an entry whose fields and
    /// values total `element_bytes` to this one (`streamAppendItem`'s test).
    pub(super) fn is_full_for(
        &self,
        element_bytes: usize,
        max_bytes: usize,
        max_entries: usize,
    ) -> bool {
        let max_bytes = if max_bytes == 0 || max_bytes > 1 << 30 {
            1 << 30
        } else {
            max_bytes
        };
        self.redis_bytes() + element_bytes >= max_bytes
            || (max_entries != 0 && (self.live + self.deleted) as usize >= max_entries)
    }

    /// Marks the entry whose flags byte is at `at` deleted (it must be live).
    pub(super) fn mark_deleted(&mut self, at: usize) {
        self.data[at] |= DELETED;
        self.live -= 1;
        self.deleted += 1;
    }

    /// The last entry's ID, tombstone or not.
    pub(super) fn last_id(&self) -> StreamId {
        self.last
    }

    /// The first live entry's ID, if any.
    pub(super) fn first_live_id(&self, master_id: StreamId) -> Option<StreamId> {
        self.entries(master_id)
            .find(|raw| !raw.deleted)
            .map(|raw| raw.id)
    }

    /// The last live entry's ID, if any (without a walk when the last entry is live).
    pub(super) fn last_live_id(&self, master_id: StreamId) -> Option<StreamId> {
        if self.data[self.last_at] & DELETED == 0 {
            return Some(self.last);
        }
        self.entries(master_id)
            .filter(|raw| !raw.deleted)
            .last()
            .map(|raw| raw.id)
    }

    /// Gives back the spare capacity of a node that will receive no more entries.
    pub(super) fn shrink(&mut self) {
        self.data.shrink_to_fit();
    }

    /// Every entry in order, tombstones included; `master_id` is the node's key.
    pub(super) fn entries(&self, master_id: StreamId) -> NodeEntries<'_> {
        let mut at = 0;
        let field_count = read_varint(&self.master, &mut at) as usize;
        let mut fields = Vec::with_capacity(field_count);
        for _ in 0..field_count {
            fields.push(read_bytes(&self.master, &mut at));
        }
        NodeEntries {
            node: self,
            fields,
            at: 0,
            previous: None,
            master_id,
        }
    }
}

/// Walks a node's entries front to back (see [`Node::entries`]).
pub(super) struct NodeEntries<'a> {
    node: &'a Node,
    fields: Vec<&'a [u8]>,
    at: usize,
    previous: Option<StreamId>,
    master_id: StreamId,
}

impl<'a> NodeEntries<'a> {
    /// The node's master fields (for [`RawEntry::pairs`]).
    pub(super) fn fields(&self) -> &[&'a [u8]] {
        &self.fields
    }
}

impl<'a> Iterator for NodeEntries<'a> {
    type Item = RawEntry<'a>;

    fn next(&mut self) -> Option<RawEntry<'a>> {
        let data: &'a [u8] = &self.node.data;
        if self.at >= data.len() {
            return None;
        }
        let start = self.at;
        let flags = data[start];
        let mut at = start + 1;
        let id = match self.previous {
            None => self.master_id,
            Some(previous) => {
                let ms_delta = read_varint(data, &mut at);
                let seq = read_varint(data, &mut at);
                if ms_delta == 0 {
                    StreamId::new(previous.ms, previous.seq + seq + 1)
                } else {
                    StreamId::new(previous.ms + ms_delta, seq)
                }
            }
        };
        let body_start = at;
        let same_fields = flags & SAME_FIELDS != 0;
        if same_fields {
            for _ in 0..self.fields.len() {
                skip_bytes(data, &mut at);
            }
        } else {
            let count = read_varint(data, &mut at);
            for _ in 0..count * 2 {
                skip_bytes(data, &mut at);
            }
        }
        self.at = at;
        self.previous = Some(id);
        Some(RawEntry {
            at: start,
            id,
            deleted: flags & DELETED != 0,
            body: &data[body_start..at],
            same_fields,
        })
    }
}

fn skip_bytes(data: &[u8], at: &mut usize) {
    let len = read_varint(data, at) as usize;
    *at += len;
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn read_varint(data: &[u8], at: &mut usize) -> u64 {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let byte = data[*at];
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
        shift += 7;
    }
}

fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn read_bytes<'a>(data: &'a [u8], at: &mut usize) -> &'a [u8] {
    let len = read_varint(data, at) as usize;
    let bytes = &data[*at..*at + len];
    *at += len;
    bytes
}
