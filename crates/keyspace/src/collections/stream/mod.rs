//! Streams: an append-only log of entries (an ID and field-value pairs) with consumer
//! groups.
//!
//! Entries live in [`node`]s of up to `stream-node-max-entries` entries or
//! `stream-node-max-bytes` bytes, kept in order of their first ID in a ring buffer (the
//! tail, where entries are added, and the head, where trims remove, are O(1); a lookup
//! is a binary search), as Redis keeps listpacks in a radix tree; an entry costs a few
//! bytes besides its values. Deletion
//! leaves a tombstone until the node empties, trimming drops whole nodes first, and both
//! follow Redis's rules exactly (see `node`), so replies that depend on the layout
//! (approximate trims, XINFO's node count) match Redis's. The structure knows nothing of
//! commands: the stream family in the commands crate parses, replies and records.

mod group;
mod id;
mod node;
mod redis_size;

pub use group::{Consumer, ConsumerGroup, DeliveryCount, PendingEntry};
pub use id::StreamId;

use node::Node;
use std::collections::{BTreeMap, VecDeque};

/// Redis's node limits: `stream-node-max-bytes` and `stream-node-max-entries`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamLimits {
    /// `stream-node-max-bytes` (0: no limit).
    pub node_max_bytes: usize,
    /// `stream-node-max-entries` (0: no limit).
    pub node_max_entries: usize,
}

impl Default for StreamLimits {
    /// Redis's defaults.
    fn default() -> Self {
        StreamLimits {
            node_max_bytes: 4096,
            node_max_entries: 100,
        }
    }
}

/// One entry, borrowing its fields and values from the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Its ID.
    pub id: StreamId,
    /// Its field-value pairs, in the order they were added.
    pub pairs: Vec<(&'a [u8], &'a [u8])>,
}

/// How a trim chooses what to remove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrimStrategy {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Remove entries with smaller IDs.
    MinId(StreamId),
}

/// A trim request: XTRIM's and XADD's trimming options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trim {
    /// What to remove.
    pub strategy: TrimStrategy,
    /// `~`: remove whole nodes only.
    pub approximate: bool,
    /// At most this many entries (0: no limit).
    pub limit: u64,
}

/// A stream value. See the module documentation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stream {
    /// The nodes, by their first ID, in order.
    nodes: VecDeque<(StreamId, Node)>,
    length: u64,
    last_id: StreamId,
    max_deleted_id: StreamId,
    entries_added: u64,
    groups: BTreeMap<Box<[u8]>, ConsumerGroup>,
}

impl Stream {
    /// An empty stream whose last ID is `0-0`.
    pub fn new() -> Stream {
        Stream::default()
    }

    /// Number of entries (tombstones excluded).
    pub fn len(&self) -> u64 {
        self.length
    }

    /// True when the stream has no entries (it still exists: streams are only deleted
    /// explicitly).
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The greatest ID ever added or set with XSETID.
    pub fn last_id(&self) -> StreamId {
        self.last_id
    }

    /// The greatest ID deleted by XDEL (or set with XSETID).
    pub fn max_deleted_id(&self) -> StreamId {
        self.max_deleted_id
    }

    /// How many entries were ever added (or as set with XSETID).
    pub fn entries_added(&self) -> u64 {
        self.entries_added
    }

    /// Sets what XSETID sets.
    pub fn set_counters(
        &mut self,
        last_id: StreamId,
        entries_added: u64,
        max_deleted_id: StreamId,
    ) {
        self.last_id = last_id;
        self.entries_added = entries_added;
        self.max_deleted_id = max_deleted_id;
    }

    /// The number of nodes (XINFO's `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The first entry's ID, `0-0` when empty (Redis's `first_id`).
    pub fn first_id(&self) -> StreamId {
        self.nodes
            .iter()
            .find_map(|(master_id, node)| node.first_live_id(*master_id))
            .unwrap_or(StreamId::MIN)
    }

    /// The last entry's ID, `0-0` when empty (Redis's `streamLastValidID`).
    pub fn last_entry_id(&self) -> StreamId {
        self.nodes
            .iter()
            .rev()
            .find_map(|(master_id, node)| node.last_live_id(*master_id))
            .unwrap_or(StreamId::MIN)
    }

    /// Appends an entry with `id`, which must be greater than [`Stream::last_id`].
    pub fn append(&mut self, id: StreamId, pairs: &[(&[u8], &[u8])], limits: StreamLimits) {
        debug_assert!(id > self.last_id);
        let element_bytes: usize = pairs.iter().map(|(f, v)| f.len() + v.len()).sum();
        match self.nodes.back_mut() {
            Some((master_id, node))
                if !node.is_full_for(
                    element_bytes,
                    limits.node_max_bytes,
                    limits.node_max_entries,
                ) =>
            {
                node.append(*master_id, id, pairs);
            }
            tail => {
                if let Some((_, node)) = tail {
                    node.shrink();
                }
                self.nodes.push_back((id, Node::new(id, pairs)));
            }
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
    }

    /// The entries with IDs from `start` to `end` inclusive, ascending or (`reverse`)
    /// descending.
    pub fn range(&self, start: StreamId, end: StreamId, reverse: bool) -> Range<'_> {
        Range {
            stream: self,
            start,
            end,
            reverse,
            next_node: if reverse {
                self.node_at_or_before(end)
            } else {
                Some(self.node_at_or_before(start).unwrap_or(0))
            },
            current: None,
            pending: Vec::new().into_iter(),
        }
    }

    /// The entry with `id`, if there is one.
    pub fn get(&self, id: StreamId) -> Option<Entry<'_>> {
        self.range(id, id, false).next()
    }

    /// True when a node holds an entry with `id`, live or deleted (a tombstone).
    pub fn holds(&self, id: StreamId) -> bool {
        self.node_at_or_before(id).is_some_and(|index| {
            let (master_id, node) = &self.nodes[index];
            node.entries(*master_id).any(|raw| raw.id == id)
        })
    }

    /// The entries of every node from the `skip`-th on, a node at a time, tombstones
    /// included (`true` for a tombstone): how a snapshot recreates the exact node layout.
    pub fn node_entries(&self, skip: usize) -> impl Iterator<Item = Vec<(Entry<'_>, bool)>> + '_ {
        self.nodes.iter().skip(skip).map(|&(master_id, ref node)| {
            let mut entries = node.entries(master_id);
            let mut decoded = Vec::new();
            while let Some(raw) = entries.next() {
                let pairs = raw.pairs(entries.fields());
                decoded.push((Entry { id: raw.id, pairs }, raw.deleted));
            }
            decoded
        })
    }

    /// Deletes the entry with `id`; false when there is none. Records the greatest
    /// deleted ID, as XDEL does.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some(index) = self.node_at_or_before(id) else {
            return false;
        };
        let (master_id, node) = &mut self.nodes[index];
        let master_id = *master_id;
        let Some(at) = node
            .entries(master_id)
            .find(|raw| raw.id == id && !raw.deleted)
            .map(|raw| raw.at)
        else {
            return false;
        };
        if node.live == 1 {
            self.nodes.remove(index);
        } else {
            node.mark_deleted(at);
        }
        self.length -= 1;
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        true
    }

    /// Trims as Redis's `streamTrim` does; returns the number of entries removed.
    pub fn trim(&mut self, trim: Trim) -> u64 {
        let mut removed = 0u64;
        while let Some((master_id, node)) = self.nodes.front_mut() {
            let master_id = *master_id;
            if let TrimStrategy::MaxLen(max) = trim.strategy {
                if self.length <= max {
                    break;
                }
            }
            let entries = u64::from(node.live);
            if trim.limit != 0 && removed + entries > trim.limit {
                break;
            }
            let whole = match trim.strategy {
                TrimStrategy::MaxLen(max) => self.length - entries >= max,
                // The node's last ID, tombstone or not, as Redis's `lpGetEdgeStreamID`.
                TrimStrategy::MinId(min) => node.last_id() < min,
            };
            if whole {
                self.nodes.pop_front();
                self.length -= entries;
                removed += entries;
                continue;
            }
            if trim.approximate {
                break;
            }
            let mut doomed = Vec::new();
            let mut length = self.length;
            for raw in node.entries(master_id) {
                let stop = match trim.strategy {
                    TrimStrategy::MaxLen(max) => length <= max,
                    TrimStrategy::MinId(min) => raw.id >= min,
                };
                if stop {
                    break;
                }
                if !raw.deleted {
                    doomed.push(raw.at);
                    length -= 1;
                }
            }
            for at in &doomed {
                node.mark_deleted(*at);
            }
            self.length = length;
            removed += doomed.len() as u64;
            break;
        }
        removed
    }

    /// The index of the node that would hold `id`: the last one starting at or before it.
    fn node_at_or_before(&self, id: StreamId) -> Option<usize> {
        self.nodes
            .partition_point(|(master_id, _)| *master_id <= id)
            .checked_sub(1)
    }

    /// The consumer groups, by name.
    pub fn groups(&self) -> &BTreeMap<Box<[u8]>, ConsumerGroup> {
        &self.groups
    }

    /// The consumer groups, by name, to change.
    pub fn groups_mut(&mut self) -> &mut BTreeMap<Box<[u8]>, ConsumerGroup> {
        &mut self.groups
    }

    /// Runs `change` on the group `name` with read access to the rest of the stream
    /// (XREADGROUP reads entries while it updates the group); `None` without the group.
    pub fn with_group<R>(
        &mut self,
        name: &[u8],
        change: impl FnOnce(&Stream, &mut ConsumerGroup) -> R,
    ) -> Option<R> {
        let (name, mut group) = self.groups.remove_entry(name)?;
        let result = change(self, &mut group);
        self.groups.insert(name, group);
        Some(result)
    }

    /// Redis's `streamEstimateDistanceFromFirstEverEntry`: the logical read counter of
    /// `id` (how many entries were added up to it), when it can be known.
    pub fn entries_read_at(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        if id == self.last_id {
            return Some(self.entries_added);
        }
        if id > self.last_id {
            return None;
        }
        let first = self.first_id();
        if self.max_deleted_id.is_zero() || self.max_deleted_id < first {
            if id < first {
                return Some(self.entries_added - self.length);
            }
            if id == first {
                return Some(self.entries_added - self.length + 1);
            }
        }
        None
    }

    /// Redis's `streamRangeHasTombstones` from `start` to the end: whether an entry
    /// deleted by XDEL may lie at or after `start`.
    pub fn has_tombstones_from(&self, start: StreamId) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id() > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id
    }

    /// A group's lag (entries not yet delivered to it), when it can be known. Negative
    /// when the group's counter was set (ENTRIESREAD) past what the stream added, as in
    /// Redis.
    pub fn group_lag(&self, group: &ConsumerGroup) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        // Wrapping as in Redis's C: ENTRIESREAD may set the counter near i64::MAX and
        // reads keep counting past it.
        let lag = |read: u64| (self.entries_added as i64).wrapping_sub(read as i64);
        if let Some(read) = group.entries_read {
            if !self.has_tombstones_from(group.last_id) {
                return Some(lag(read));
            }
        }
        self.entries_read_at(group.last_id).map(lag)
    }

    /// The number of nodes of the radix tree Redis would hold for this stream's nodes
    /// (XINFO's `radix-tree-nodes`): keys are the nodes' first IDs as 16 big-endian
    /// bytes, runs of single-child positions share one node.
    pub fn radix_tree_nodes(&self) -> usize {
        let keys: Vec<[u8; 16]> = self
            .nodes
            .iter()
            .map(|(id, _)| {
                let mut key = [0u8; 16];
                key[..8].copy_from_slice(&id.ms.to_be_bytes());
                key[8..].copy_from_slice(&id.seq.to_be_bytes());
                key
            })
            .collect();
        radix_nodes(&keys, 0, true)
    }
}

/// Nodes of a compressed radix tree below the position shared by `keys` (sorted, all of
/// the same length) at `depth`; `starts` when that position begins a node. A position
/// begins a node when its parent branches, or when it is not a single-child position
/// (it branches or ends a key); the root always does.
fn radix_nodes(keys: &[[u8; 16]], depth: usize, starts: bool) -> usize {
    let own = usize::from(starts);
    if depth == 16 || keys.is_empty() {
        return own;
    }
    let mut children: Vec<&[[u8; 16]]> = Vec::new();
    let mut from = 0;
    for index in 1..=keys.len() {
        if index == keys.len() || keys[index][depth] != keys[from][depth] {
            children.push(&keys[from..index]);
            from = index;
        }
    }
    let branching = children.len() >= 2;
    own + children
        .into_iter()
        .map(|child| {
            let single = depth + 1 < 16
                && child
                    .iter()
                    .all(|key| key[depth + 1] == child[0][depth + 1]);
            radix_nodes(child, depth + 1, branching || !single)
        })
        .sum::<usize>()
}

/// Entries of a range, in order (see [`Stream::range`]). Forward, entries are decoded
/// one at a time (those before the start are skipped without decoding their values);
/// backward, a node's entries in range are collected, then given in reverse.
pub struct Range<'a> {
    stream: &'a Stream,
    start: StreamId,
    end: StreamId,
    reverse: bool,
    /// The index of the next node to visit (`None`: done).
    next_node: Option<usize>,
    /// Forward: the node being walked.
    current: Option<node::NodeEntries<'a>>,
    /// Backward: the rest of the node being walked.
    pending: std::vec::IntoIter<Entry<'a>>,
}

impl<'a> Range<'a> {
    /// Moves to the next node; false when none is left.
    fn load(&mut self) -> bool {
        let Some(index) = self.next_node else {
            return false;
        };
        let Some((master_id, node)) = self.stream.nodes.get(index) else {
            self.next_node = None;
            return false;
        };
        let (master_id, start, end) = (*master_id, self.start, self.end);
        if self.reverse {
            let mut entries = node.entries(master_id);
            let mut in_range = Vec::new();
            while let Some(raw) = entries.next() {
                if !raw.deleted && raw.id >= start && raw.id <= end {
                    let pairs = raw.pairs(entries.fields());
                    in_range.push(Entry { id: raw.id, pairs });
                }
            }
            in_range.reverse();
            self.pending = in_range.into_iter();
            self.next_node = index.checked_sub(1).filter(|_| master_id > start);
        } else {
            if master_id > end {
                self.next_node = None;
                return false;
            }
            self.current = Some(node.entries(master_id));
            self.next_node = Some(index + 1);
        }
        true
    }
}

impl<'a> Iterator for Range<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        loop {
            if self.reverse {
                if let Some(entry) = self.pending.next() {
                    return Some(entry);
                }
            } else if let Some(entries) = self.current.as_mut() {
                for raw in entries.by_ref() {
                    if raw.deleted || raw.id < self.start {
                        continue;
                    }
                    if raw.id > self.end {
                        self.next_node = None;
                        self.current = None;
                        return None;
                    }
                    let pairs = raw.pairs(entries.fields());
                    return Some(Entry { id: raw.id, pairs });
                }
                self.current = None;
            }
            if !self.load() {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests;
