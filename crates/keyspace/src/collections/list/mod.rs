//! The list value: a single listpack while small, a quicklist (a deque of listpack
//! nodes) beyond `list-max-listpack-size`, as Redis 7.2.
//!
//! Encoding changes follow Redis's `listTypeTryConversion` exactly, so OBJECT ENCODING
//! answers as Redis does for the same commands:
//!
//! * growing (push, insert, set): a listpack whose size plus the arriving elements' raw
//!   length would exceed one node's limit becomes a quicklist, its listpack the first node;
//! * shrinking (pop, remove, trim, set): a quicklist with one ordinary node at most half
//!   the limit becomes a listpack again (the gap keeps a list at the limit from flipping).
//!
//! Sizes are measured as Redis's listpack would encode the entries ([`node`]), and
//! quicklist nodes split where Redis's do (`_quicklistNodeAllowInsert`); an element larger
//! than a node's limit gets a node of its own (Redis's plain node).
//!
//! Costs: push and pop at either end are O(1) amortized (a node is at most a few KiB);
//! finding index `i` walks the node array (entry counts kept inline) from the nearer end,
//! then one node: O(nodes + node size), and a range continues from there.

mod node;
#[cfg(test)]
mod tests;

use super::{listpack, EncodingLimits};
use node::{Node, NodeLimit};
use std::collections::VecDeque;

/// One end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The head (LEFT, index 0).
    Front,
    /// The tail (RIGHT, index -1).
    Back,
}

/// A list. See the module documentation for its two encodings.
#[derive(Clone, Debug, PartialEq)]
pub struct List {
    repr: Repr,
}

#[derive(Clone, Debug, PartialEq)]
enum Repr {
    /// "listpack": one node.
    Listpack(Node),
    /// "quicklist": nodes, none empty, and the total element count.
    Quicklist { nodes: VecDeque<Node>, len: usize },
}

impl Drop for List {
    /// A big list's nodes are freed on the lazyfree thread.
    fn drop(&mut self) {
        if let Repr::Quicklist { nodes, len } = &mut self.repr {
            if *len > crate::LAZYFREE_THRESHOLD {
                crate::free_maybe_later(std::mem::take(nodes), *len);
            }
        }
    }
}

impl Default for List {
    fn default() -> Self {
        List::new()
    }
}

impl List {
    /// An empty list.
    pub fn new() -> List {
        List {
            repr: Repr::Listpack(Node::default()),
        }
    }

    /// A small list's encoded elements, for prefetching (a big list's nodes are found
    /// through their deque).
    pub(crate) fn contents_address(&self) -> Option<*const u8> {
        match &self.repr {
            Repr::Listpack(node) => Some(node.entries.address()),
            Repr::Quicklist { .. } => None,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Listpack(node) => node.count,
            Repr::Quicklist { len, .. } => *len,
        }
    }

    /// True when empty (an empty collection is never stored under a key).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING replies with.
    pub fn encoding_name(&self) -> &'static str {
        match self.repr {
            Repr::Listpack(_) => "listpack",
            Repr::Quicklist { .. } => "quicklist",
        }
    }

    /// Pushes `elements` one by one at `end` (so LPUSH a b c leaves c first).
    pub fn push<E: AsRef<[u8]>>(&mut self, end: End, elements: &[E], limits: &EncodingLimits) {
        let limit = limit_of(limits);
        let added = elements.iter().map(|element| element.as_ref().len()).sum();
        self.grow_encoding(added, elements.len(), limit);
        for element in elements {
            self.push_one(end, element.as_ref(), limit);
        }
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        match &mut self.repr {
            Repr::Listpack(node) => match end {
                End::Front => node.pop_front(),
                End::Back => node.pop_back(),
            },
            Repr::Quicklist { nodes, len } => {
                let node = match end {
                    End::Front => nodes.front_mut()?,
                    End::Back => nodes.back_mut()?,
                };
                let element = match end {
                    End::Front => node.pop_front(),
                    End::Back => node.pop_back(),
                }?;
                if node.count == 0 {
                    match end {
                        End::Front => nodes.pop_front(),
                        End::Back => nodes.pop_back(),
                    };
                }
                *len -= 1;
                Some(element)
            }
        }
    }

    /// The element at `index` (from the front).
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        match &self.repr {
            Repr::Listpack(node) => node.entries.get(index),
            Repr::Quicklist { nodes, len } => {
                let (at, offset) = locate(nodes, *len, index)?;
                nodes.get(at)?.entries.get(offset)
            }
        }
    }

    /// The elements front to back; reversible.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// The elements from `start` to the back (reversed: from the back down to `start`).
    pub fn iter_from(&self, start: usize) -> Iter<'_> {
        let len = self.len();
        let (first, second, offset): (&[Node], &[Node], usize) = match &self.repr {
            Repr::Listpack(node) => (std::slice::from_ref(node), &[], start),
            Repr::Quicklist { nodes, len } => {
                let (front, back) = nodes.as_slices();
                match locate(nodes, *len, start) {
                    None => (&[], &[], 0),
                    Some((at, offset)) if at < front.len() => (&front[at..], back, offset),
                    Some((at, offset)) => (&back[at - front.len()..], &[], offset),
                }
            }
        };
        let expand: Expand = |node| node.entries.iter();
        let mut entries = first.iter().chain(second.iter()).flat_map(expand);
        for _ in 0..offset.min(len) {
            entries.next();
        }
        Iter {
            entries,
            remaining: len.saturating_sub(start),
        }
    }

    /// Replaces the element at `index` (LSET). False when `index` is out of range.
    pub fn set(&mut self, index: usize, element: &[u8], limits: &EncodingLimits) -> bool {
        let limit = limit_of(limits);
        self.grow_encoding(element.len(), 1, limit);
        if index >= self.len() {
            return false;
        }
        match &mut self.repr {
            Repr::Listpack(node) => node.replace(index, element),
            Repr::Quicklist { nodes, len } => replace_in_nodes(nodes, *len, index, element, limit),
        }
        self.shrink_encoding(limits);
        true
    }

    /// Inserts `element` before (or `after`) the first element equal to `pivot`
    /// (LINSERT). False when there is no such element.
    pub fn insert_at_pivot(
        &mut self,
        pivot: &[u8],
        element: &[u8],
        after: bool,
        limits: &EncodingLimits,
    ) -> bool {
        let limit = limit_of(limits);
        self.grow_encoding(element.len(), 1, limit);
        let Some(position) = self.iter().position(|entry| entry == pivot) else {
            return false;
        };
        let index = position + usize::from(after);
        match &mut self.repr {
            Repr::Listpack(node) => node.insert(index, element),
            Repr::Quicklist { nodes, len } => {
                insert_in_nodes(nodes, *len, index, element, limit);
                *len += 1;
            }
        }
        true
    }

    /// Removes `count` elements from `start` (clamped to the end).
    pub fn remove_range(&mut self, start: usize, count: usize) {
        let count = count.min(self.len().saturating_sub(start));
        if count == 0 {
            return;
        }
        match &mut self.repr {
            Repr::Listpack(node) => node.remove_range(start, count),
            Repr::Quicklist { nodes, len } => {
                remove_range_in_nodes(nodes, start, count);
                *len -= count;
            }
        }
    }

    /// Removes up to `limit` elements equal to `element` (0: every one), the first ones
    /// from the front, or from the back when `from_back` (LREM). Returns how many.
    pub fn remove_matching(&mut self, element: &[u8], limit: usize, from_back: bool) -> usize {
        match &mut self.repr {
            Repr::Listpack(node) => node.remove_matching(element, limit, from_back),
            Repr::Quicklist { nodes, len } => {
                let mut removed = 0;
                let count = nodes.len();
                for step in 0..count {
                    let at = if from_back { count - 1 - step } else { step };
                    let Some(node) = nodes.get_mut(at) else {
                        break;
                    };
                    let budget = if limit == 0 { 0 } else { limit - removed };
                    removed += node.remove_matching(element, budget, from_back);
                    if limit != 0 && removed == limit {
                        break;
                    }
                }
                nodes.retain(|node| node.count > 0);
                *len -= removed;
                removed
            }
        }
    }

    /// After removals: a quicklist that shrank to one ordinary node at most half the
    /// node limit becomes a listpack again (Redis's shrinking conversion).
    pub fn shrink_encoding(&mut self, limits: &EncodingLimits) {
        let limit = limit_of(limits);
        if let Repr::Quicklist { nodes, .. } = &mut self.repr {
            let single = match nodes.front() {
                Some(node) if nodes.len() == 1 => node,
                _ => return,
            };
            if !single.plain && limit.fits_half(single.bytes, single.count) {
                if let Some(node) = nodes.pop_front() {
                    self.repr = Repr::Listpack(node);
                }
            }
        }
    }

    /// Before adding `added_count` elements of `added_bytes` raw bytes in all: a listpack
    /// that would exceed one node becomes a quicklist (Redis's growing conversion).
    fn grow_encoding(&mut self, added_bytes: usize, added_count: usize, limit: NodeLimit) {
        let Repr::Listpack(node) = &mut self.repr else {
            return;
        };
        if !limit.exceeded(node.bytes + added_bytes, node.count + added_count) {
            return;
        }
        let node = std::mem::take(node);
        let len = node.count;
        let mut nodes = VecDeque::new();
        if len > 0 {
            nodes.push_back(node);
        }
        self.repr = Repr::Quicklist { nodes, len };
    }

    fn push_one(&mut self, end: End, element: &[u8], limit: NodeLimit) {
        match (&mut self.repr, end) {
            (Repr::Listpack(node), End::Front) => node.push_front(element),
            (Repr::Listpack(node), End::Back) => node.push_back(element),
            (Repr::Quicklist { nodes, len }, End::Front) => {
                *len += 1;
                match nodes.front_mut() {
                    Some(node) if node.accepts(element, limit) => node.push_front(element),
                    _ => nodes.push_front(Node::with(element, limit)),
                }
            }
            (Repr::Quicklist { nodes, len }, End::Back) => {
                *len += 1;
                match nodes.back_mut() {
                    Some(node) if node.accepts(element, limit) => node.push_back(element),
                    _ => nodes.push_back(Node::with(element, limit)),
                }
            }
        }
    }
}

fn limit_of(limits: &EncodingLimits) -> NodeLimit {
    NodeLimit::from_setting(limits.list_max_listpack_size)
}

/// The node holding element `index` and the element's offset in it, walking node
/// counts from the nearer end.
fn locate(nodes: &VecDeque<Node>, len: usize, index: usize) -> Option<(usize, usize)> {
    if index >= len {
        return None;
    }
    if index < len / 2 {
        let mut skipped = 0;
        for (at, node) in nodes.iter().enumerate() {
            if index < skipped + node.count {
                return Some((at, index - skipped));
            }
            skipped += node.count;
        }
    } else {
        let mut start = len;
        for (at, node) in nodes.iter().enumerate().rev() {
            start -= node.count;
            if index >= start {
                return Some((at, index - start));
            }
        }
    }
    None
}

/// LSET on a quicklist: in place when the node has room, otherwise the element gets a
/// node of its own between the two halves of its old node.
fn replace_in_nodes(
    nodes: &mut VecDeque<Node>,
    len: usize,
    index: usize,
    element: &[u8],
    limit: NodeLimit,
) {
    let Some((at, offset)) = locate(nodes, len, index) else {
        return;
    };
    let Some(node) = nodes.get_mut(at) else {
        return;
    };
    let old_bytes = node.entries.get(offset).map_or(0, node::redis_entry_bytes);
    let fits = !node.plain
        && !limit.is_large(element.len())
        && !limit.exceeded(node.bytes - old_bytes + element.len(), node.count);
    if fits {
        node.replace(offset, element);
        return;
    }
    let mut right = node.split_off(offset);
    right.pop_front();
    let replacement = Node::with(element, limit);
    nodes.insert(at + 1, right);
    nodes.insert(at + 1, replacement);
    nodes.retain(|node| node.count > 0);
}

/// LINSERT on a quicklist: `element` becomes element `index` (`index < len`, or
/// `== len` to append). Where the target node is full it tries the neighbour at that
/// edge, then a new node, splitting the target in the middle case (`_quicklistInsert`).
fn insert_in_nodes(
    nodes: &mut VecDeque<Node>,
    len: usize,
    index: usize,
    element: &[u8],
    limit: NodeLimit,
) {
    let (at, offset) = match locate(nodes, len, index) {
        Some(found) => found,
        None => (nodes.len() - 1, nodes.back().map_or(0, |node| node.count)),
    };
    let Some(node) = nodes.get_mut(at) else {
        return;
    };
    if node.accepts(element, limit) {
        node.insert(offset, element);
        return;
    }
    let at_end = offset == node.count;
    if at_end || offset == 0 {
        let neighbour = if at_end { at + 1 } else { at.wrapping_sub(1) };
        match nodes.get_mut(neighbour) {
            Some(next) if at_end && next.accepts(element, limit) => next.push_front(element),
            Some(previous) if !at_end && previous.accepts(element, limit) => {
                previous.push_back(element)
            }
            _ => nodes.insert(if at_end { at + 1 } else { at }, Node::with(element, limit)),
        }
        return;
    }
    let right = node.split_off(offset);
    if node.accepts(element, limit) {
        node.push_back(element);
        nodes.insert(at + 1, right);
    } else {
        nodes.insert(at + 1, right);
        nodes.insert(at + 1, Node::with(element, limit));
    }
}

/// Removes `count` elements from `start` (all within the list) from a quicklist: whole
/// nodes go, partly covered nodes lose their part (`quicklistDelRange`).
fn remove_range_in_nodes(nodes: &mut VecDeque<Node>, start: usize, count: usize) {
    let mut node_start = 0;
    let end = start + count;
    for node in nodes.iter_mut() {
        let node_end = node_start + node.count;
        if node_end > start && node_start < end {
            let from = start.max(node_start) - node_start;
            let to = end.min(node_end) - node_start;
            node.remove_range(from, to - from);
        }
        node_start = node_end;
        if node_start >= end {
            break;
        }
    }
    nodes.retain(|node| node.count > 0);
}

/// The flattening step of [`Iter`]: a node's entries.
type Expand = for<'a> fn(&'a Node) -> listpack::Iter<'a>;

/// The elements of a [`List`], usable from both ends.
#[derive(Clone)]
pub struct Iter<'a> {
    entries: std::iter::FlatMap<
        std::iter::Chain<std::slice::Iter<'a, Node>, std::slice::Iter<'a, Node>>,
        listpack::Iter<'a>,
        Expand,
    >,
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        self.entries.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        self.entries.next_back()
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
impl List {
    /// Panics unless the cached counts and sizes agree with the nodes' contents.
    fn check_invariants(&self) {
        let nodes: Vec<&Node> = match &self.repr {
            Repr::Listpack(node) => vec![node],
            Repr::Quicklist { nodes, len } => {
                assert!(nodes.iter().all(|node| node.count > 0), "empty node");
                assert_eq!(nodes.iter().map(|node| node.count).sum::<usize>(), *len);
                nodes.iter().collect()
            }
        };
        for node in nodes {
            assert_eq!(node.count, node.entries.len());
            let bytes: usize = node.entries.iter().map(node::redis_entry_bytes).sum();
            assert_eq!(node.bytes, bytes + Node::default().bytes);
        }
    }

    /// Entries per node (one node for a listpack).
    fn node_counts(&self) -> Vec<usize> {
        match &self.repr {
            Repr::Listpack(node) => vec![node.count],
            Repr::Quicklist { nodes, .. } => nodes.iter().map(|node| node.count).collect(),
        }
    }
}
