//! An order-statistics B+tree over (score, member): the ordered half of a big sorted set.
//!
//! Elements live in wide leaves (up to [`LEAF_CAPACITY`] inline elements, members kept
//! inline by [`CompactBytes`]); inner nodes keep one separator per child boundary and the
//! number of elements under each child. So insert, delete, rank (position of an element),
//! select (element at a position) and "how many elements come before this bound" are all
//! O(log n), and a range of k elements is walked in O(log n + k).
//!
//! Invariants: elements are ordered by score, then by member bytes, and are unique; in an
//! inner node, every element under `children[i]` is below `separators[i]`, which is at most
//! every element under `children[i + 1]`; `counts[i]` is the number of elements under
//! `children[i]`; every node but the root has at least a third of its capacity.

use crate::CompactBytes;
use std::cmp::Ordering;
use std::ops::Range;

/// Most elements in one leaf (a leaf is one 2 KiB block).
const LEAF_CAPACITY: usize = 64;
/// Most children of one inner node.
const INNER_CAPACITY: usize = 64;
/// Fewest elements of a leaf that is not the root.
const LEAF_MIN: usize = LEAF_CAPACITY / 3;
/// Fewest children of an inner node that is not the root.
const INNER_MIN: usize = INNER_CAPACITY / 3;

/// One element of a sorted set: a member and its score (never NaN).
#[derive(Clone, Debug, PartialEq)]
pub struct Element {
    /// The score.
    pub score: f64,
    /// The member.
    pub member: CompactBytes,
}

impl Element {
    /// An element holding a copy of `member`.
    pub fn new(score: f64, member: &[u8]) -> Element {
        Element {
            score,
            member: CompactBytes::new(member),
        }
    }

    /// Sorted-set order of this element against (`score`, `member`).
    fn cmp_to(&self, score: f64, member: &[u8]) -> Ordering {
        compare(self.score, &self.member, score, member)
    }
}

/// Sorted-set order: by score, ties by member bytes.
pub fn compare(score: f64, member: &[u8], other_score: f64, other_member: &[u8]) -> Ordering {
    score
        .partial_cmp(&other_score)
        .unwrap_or(Ordering::Equal)
        .then_with(|| member.cmp(other_member))
}

#[derive(Clone, Debug)]
enum Node {
    Leaf(Vec<Element>),
    Inner(Box<Inner>),
}

#[derive(Clone, Debug)]
struct Inner {
    separators: Vec<Element>,
    children: Vec<Node>,
    counts: Vec<usize>,
}

impl Node {
    fn new_leaf() -> Node {
        Node::Leaf(Vec::with_capacity(LEAF_CAPACITY))
    }

    /// Number of elements under this node.
    fn count(&self) -> usize {
        match self {
            Node::Leaf(elements) => elements.len(),
            Node::Inner(inner) => inner.counts.iter().sum(),
        }
    }

    /// True when the node has fewer entries than a non-root node may.
    fn is_underfull(&self) -> bool {
        match self {
            Node::Leaf(elements) => elements.len() < LEAF_MIN,
            Node::Inner(inner) => inner.children.len() < INNER_MIN,
        }
    }
}

impl Inner {
    /// The child that holds (or would hold) (`score`, `member`).
    fn child_for(&self, score: f64, member: &[u8]) -> usize {
        self.separators
            .partition_point(|separator| separator.cmp_to(score, member) != Ordering::Greater)
    }

    /// The child holding rank `rank` and the rank within it.
    fn child_at(&self, mut rank: usize) -> (usize, usize) {
        for (index, &count) in self.counts.iter().enumerate() {
            if rank < count {
                return (index, rank);
            }
            rank -= count;
        }
        let last = self.counts.len() - 1;
        (last, rank + self.counts[last])
    }

    /// Inserts `right` (split off `children[index]`) after it.
    fn insert_split(&mut self, index: usize, separator: Element, right: Node) {
        let right_count = right.count();
        self.counts[index] -= right_count;
        self.separators.insert(index, separator);
        self.children.insert(index + 1, right);
        self.counts.insert(index + 1, right_count);
    }

    /// Splits off the upper half: (separator between the halves, upper half).
    fn split(&mut self) -> (Element, Node) {
        let middle = self.children.len() / 2;
        let children = self.children.split_off(middle);
        let counts = self.counts.split_off(middle);
        let separators = self.separators.split_off(middle);
        let separator = self
            .separators
            .pop()
            .expect("an inner node being split has separators");
        let right = Inner {
            separators,
            children,
            counts,
        };
        (separator, Node::Inner(Box::new(right)))
    }

    /// Restores the minimum fill of `children[index]` by merging it with a neighbour, or
    /// by sharing elements with it when both do not fit in one node.
    fn rebalance(&mut self, index: usize) {
        if self.children.len() < 2 || !self.children[index].is_underfull() {
            return;
        }
        let left = index.saturating_sub(1).min(self.children.len() - 2);
        let separator = self.separators.remove(left);
        let right_node = self.children.remove(left + 1);
        let right_count = self.counts.remove(left + 1);
        self.counts[left] += right_count;
        let split = match (&mut self.children[left], right_node) {
            (Node::Leaf(left_elements), Node::Leaf(mut right_elements)) => {
                share_leaves(left_elements, &mut right_elements)
                    .map(|separator| (separator, Node::Leaf(right_elements)))
            }
            (Node::Inner(left_inner), Node::Inner(right_inner)) => {
                let right_inner = *right_inner;
                left_inner.separators.push(separator);
                left_inner.separators.extend(right_inner.separators);
                left_inner.children.extend(right_inner.children);
                left_inner.counts.extend(right_inner.counts);
                (left_inner.children.len() > INNER_CAPACITY).then(|| left_inner.split())
            }
            _ => unreachable!("siblings are at the same depth"),
        };
        if let Some((separator, right)) = split {
            self.insert_split(left, separator, right);
        }
    }
}

/// Merges `right` into `left` when they fit in one leaf (returns `None`); otherwise
/// moves elements so both hold about half and returns the new separator.
fn share_leaves(left: &mut Vec<Element>, right: &mut Vec<Element>) -> Option<Element> {
    let total = left.len() + right.len();
    if total <= LEAF_CAPACITY {
        left.append(right);
        return None;
    }
    let half = total / 2;
    if left.len() < half {
        left.extend(right.drain(..half - left.len()));
    } else {
        let moved: Vec<Element> = left.drain(half..).collect();
        right.splice(0..0, moved);
    }
    Some(right[0].clone())
}

/// An order-statistics B+tree of sorted-set elements. See the module documentation.
#[derive(Clone, Debug)]
pub struct ScoreTree {
    root: Node,
    len: usize,
}

impl Default for ScoreTree {
    fn default() -> Self {
        ScoreTree::new()
    }
}

impl PartialEq for ScoreTree {
    fn eq(&self, other: &Self) -> bool {
        if self.len != other.len {
            return false;
        }
        let mut mine = Vec::with_capacity(self.len);
        self.walk(0..self.len, false, |element| mine.push(element.clone()));
        let mut index = 0;
        let mut equal = true;
        other.walk(0..other.len, false, |element| {
            equal &= mine[index] == *element;
            index += 1;
        });
        equal
    }
}

impl ScoreTree {
    /// An empty tree.
    pub fn new() -> ScoreTree {
        ScoreTree {
            root: Node::new_leaf(),
            len: 0,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Inserts an element that is not in the tree yet.
    pub fn insert(&mut self, element: Element) {
        if let Some((separator, right)) = insert_into(&mut self.root, element) {
            let left = std::mem::replace(&mut self.root, Node::Leaf(Vec::new()));
            let counts = vec![left.count(), right.count()];
            self.root = Node::Inner(Box::new(Inner {
                separators: vec![separator],
                children: vec![left, right],
                counts,
            }));
        }
        self.len += 1;
    }

    /// Removes (`score`, `member`); false when it is not there.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        let removed = remove_from(&mut self.root, &mut |node| match node {
            Node::Leaf(elements) => elements
                .binary_search_by(|element| element.cmp_to(score, member))
                .ok(),
            Node::Inner(inner) => Some(inner.child_for(score, member)),
        });
        if removed.is_some() {
            self.after_removal();
        }
        removed.is_some()
    }

    /// Removes and returns the element at `rank` (0 = lowest).
    pub fn remove_at(&mut self, rank: usize) -> Option<Element> {
        if rank >= self.len {
            return None;
        }
        let mut remaining = rank;
        let removed = remove_from(&mut self.root, &mut |node| match node {
            Node::Leaf(_) => Some(remaining),
            Node::Inner(inner) => {
                let (index, within) = inner.child_at(remaining);
                remaining = within;
                Some(index)
            }
        });
        self.after_removal();
        removed
    }

    fn after_removal(&mut self) {
        self.len -= 1;
        while let Node::Inner(inner) = &mut self.root {
            if inner.children.len() != 1 {
                break;
            }
            let child = inner.children.pop().expect("one child");
            self.root = child;
        }
    }

    /// The rank (0 = lowest) of (`score`, `member`), if present.
    pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let mut node = &self.root;
        let mut rank = 0;
        loop {
            match node {
                Node::Leaf(elements) => {
                    return elements
                        .binary_search_by(|element| element.cmp_to(score, member))
                        .ok()
                        .map(|at| rank + at);
                }
                Node::Inner(inner) => {
                    let index = inner.child_for(score, member);
                    rank += inner.counts[..index].iter().sum::<usize>();
                    node = &inner.children[index];
                }
            }
        }
    }

    /// How many elements satisfy `before`, which must hold for a prefix of the order (all
    /// elements below some bound and none after).
    pub fn count_before(&self, before: impl Fn(&Element) -> bool) -> usize {
        let mut node = &self.root;
        let mut count = 0;
        loop {
            match node {
                Node::Leaf(elements) => return count + elements.partition_point(&before),
                Node::Inner(inner) => {
                    let index = inner.separators.partition_point(&before);
                    count += inner.counts[..index].iter().sum::<usize>();
                    node = &inner.children[index];
                }
            }
        }
    }

    /// The element at `rank` (0 = lowest).
    pub fn get(&self, rank: usize) -> Option<&Element> {
        if rank >= self.len {
            return None;
        }
        let mut node = &self.root;
        let mut rank = rank;
        loop {
            match node {
                Node::Leaf(elements) => return elements.get(rank),
                Node::Inner(inner) => {
                    let (index, within) = inner.child_at(rank);
                    rank = within;
                    node = &inner.children[index];
                }
            }
        }
    }

    /// Calls `visit` in order on the elements after those `below` accepts and before the
    /// first one `within` rejects (each holds for a prefix of the order), until `visit`
    /// returns false: a range by bounds in one descent, O(log n + k), where ranks would
    /// take two descents and a third to walk.
    pub fn walk_between<'a>(
        &'a self,
        below: impl Fn(&Element) -> bool,
        within: impl Fn(&Element) -> bool,
        mut visit: impl FnMut(&'a Element) -> bool,
    ) {
        walk_between_node(&self.root, &below, &within, &mut visit);
    }

    /// Calls `visit` on the elements whose ranks are in `ranks` (clamped to the tree), in
    /// order, or in reverse order when `reverse`.
    pub fn walk<'a>(
        &'a self,
        ranks: Range<usize>,
        reverse: bool,
        mut visit: impl FnMut(&'a Element),
    ) {
        let end = ranks.end.min(self.len);
        if ranks.start < end {
            walk_node(&self.root, ranks.start, end, reverse, &mut visit);
        }
    }
}

/// [`ScoreTree::walk_between`] in the subtree at `node`; false once the walk is over.
fn walk_between_node<'a>(
    node: &'a Node,
    below: &impl Fn(&Element) -> bool,
    within: &impl Fn(&Element) -> bool,
    visit: &mut impl FnMut(&'a Element) -> bool,
) -> bool {
    match node {
        Node::Leaf(elements) => {
            let start = elements.partition_point(below);
            elements[start..]
                .iter()
                .all(|element| within(element) && visit(element))
        }
        Node::Inner(inner) => {
            // Children before `first` hold only elements below the range.
            let first = inner.separators.partition_point(below);
            for (index, child) in inner.children.iter().enumerate().skip(first) {
                // Every element under `child` is at least the separator before it.
                if index > first && !within(&inner.separators[index - 1]) {
                    return false;
                }
                if !walk_between_node(child, below, within, visit) {
                    return false;
                }
            }
            true
        }
    }
}

/// Inserts into the subtree at `node`; returns the separator and new right sibling when
/// the node split.
fn insert_into(node: &mut Node, element: Element) -> Option<(Element, Node)> {
    match node {
        Node::Leaf(elements) => {
            let at = elements
                .partition_point(|other| other.cmp_to(element.score, &element.member).is_lt());
            if elements.len() < LEAF_CAPACITY {
                elements.insert(at, element);
                return None;
            }
            Some(split_leaf_and_insert(elements, at, element))
        }
        Node::Inner(inner) => {
            let index = inner.child_for(element.score, &element.member);
            inner.counts[index] += 1;
            let (separator, right) = insert_into(&mut inner.children[index], element)?;
            inner.insert_split(index, separator, right);
            (inner.children.len() > INNER_CAPACITY).then(|| inner.split())
        }
    }
}

/// Splits a full leaf and inserts `element` at `at`. Appends at either end split off
/// just the new element, so ascending or descending loads fill leaves completely.
fn split_leaf_and_insert(
    elements: &mut Vec<Element>,
    at: usize,
    element: Element,
) -> (Element, Node) {
    let mut right = Vec::with_capacity(LEAF_CAPACITY);
    if at == elements.len() {
        right.push(element);
    } else if at == 0 {
        right.append(elements);
        elements.push(element);
    } else {
        let middle = elements.len() / 2;
        right.extend(elements.drain(middle..));
        if at <= middle {
            elements.insert(at, element);
        } else {
            right.insert(at - middle, element);
        }
    }
    let separator = right[0].clone();
    (separator, Node::Leaf(right))
}

/// Removes one element from the subtree at `node`; `choose` picks the child to descend
/// into at inner nodes and the position at the leaf (`None`: not found).
fn remove_from(
    node: &mut Node,
    choose: &mut impl FnMut(&Node) -> Option<usize>,
) -> Option<Element> {
    let index = choose(node)?;
    match node {
        Node::Leaf(elements) => Some(elements.remove(index)),
        Node::Inner(inner) => {
            let removed = remove_from(&mut inner.children[index], choose)?;
            inner.counts[index] -= 1;
            inner.rebalance(index);
            Some(removed)
        }
    }
}

fn walk_node<'a>(
    node: &'a Node,
    start: usize,
    end: usize,
    reverse: bool,
    visit: &mut impl FnMut(&'a Element),
) {
    match node {
        Node::Leaf(elements) => {
            let slice = &elements[start..end];
            if reverse {
                slice.iter().rev().for_each(visit);
            } else {
                slice.iter().for_each(visit);
            }
        }
        Node::Inner(inner) => {
            let mut offset = 0;
            let mut spans = Vec::new();
            for (index, &count) in inner.counts.iter().enumerate() {
                let (child_start, child_end) = (offset, offset + count);
                offset = child_end;
                if child_end <= start {
                    continue;
                }
                if child_start >= end {
                    break;
                }
                let from = start.max(child_start) - child_start;
                let to = end.min(child_end) - child_start;
                if reverse {
                    spans.push((index, from, to));
                } else {
                    walk_node(&inner.children[index], from, to, reverse, visit);
                }
            }
            for &(index, from, to) in spans.iter().rev() {
                walk_node(&inner.children[index], from, to, reverse, visit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A totally ordered key for the model: score bits made monotonic, then member.
    fn model_key(score: f64, member: &[u8]) -> (i64, Vec<u8>) {
        let bits = score.to_bits() as i64;
        let ordered = if bits < 0 { bits ^ i64::MAX } else { bits };
        (ordered, member.to_vec())
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn check_against_model(tree: &ScoreTree, model: &BTreeMap<(i64, Vec<u8>), f64>) {
        assert_eq!(tree.len(), model.len());
        let mut walked = Vec::new();
        tree.walk(0..tree.len(), false, |element| {
            walked.push((element.score, element.member.to_vec()))
        });
        let expected: Vec<(f64, Vec<u8>)> = model
            .iter()
            .map(|((_, member), &score)| (score, member.clone()))
            .collect();
        assert_eq!(walked, expected);
        check_counts(&tree.root);
    }

    fn check_counts(node: &Node) -> usize {
        match node {
            Node::Leaf(elements) => elements.len(),
            Node::Inner(inner) => {
                assert_eq!(inner.separators.len() + 1, inner.children.len());
                for (child, &count) in inner.children.iter().zip(&inner.counts) {
                    assert_eq!(check_counts(child), count);
                }
                inner.counts.iter().sum()
            }
        }
    }

    #[test]
    fn randomized_against_a_btreemap() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut tree = ScoreTree::new();
        let mut model: BTreeMap<(i64, Vec<u8>), f64> = BTreeMap::new();
        for round in 0..40_000 {
            let member = format!("m{}", rng.next() % 3000).into_bytes();
            let score = (rng.next() % 50) as f64 - 25.0;
            let present = model
                .iter()
                .find(|((_, m), _)| *m == member)
                .map(|(key, &score)| (key.clone(), score));
            match (rng.next() % 3, present) {
                (0 | 1, None) => {
                    tree.insert(Element::new(score, &member));
                    model.insert(model_key(score, &member), score);
                }
                (_, Some((key, old))) => {
                    assert!(tree.remove(old, &member));
                    assert!(!tree.remove(old, &member));
                    model.remove(&key);
                }
                (_, None) => {
                    let rank = (rng.next() as usize) % (tree.len() + 1);
                    let removed = tree.remove_at(rank);
                    let expected = model.keys().nth(rank).cloned();
                    assert_eq!(removed.is_some(), expected.is_some());
                    if let Some(key) = expected {
                        let element = removed.expect("present");
                        assert_eq!(element.member.to_vec(), key.1);
                        model.remove(&key);
                    }
                }
            }
            if round % 5000 == 0 {
                check_against_model(&tree, &model);
            }
        }
        check_against_model(&tree, &model);
        for (rank, ((_, member), &score)) in model.iter().enumerate() {
            assert_eq!(tree.rank(score, member), Some(rank));
            let element = tree.get(rank).expect("selected");
            assert_eq!(element.member.as_slice(), &member[..]);
        }
        assert_eq!(tree.rank(1000.0, b"absent"), None);
        let below_zero = tree.count_before(|element| element.score < 0.0);
        assert_eq!(
            below_zero,
            model.values().filter(|&&score| score < 0.0).count()
        );
        let mut reversed = Vec::new();
        tree.walk(10..200, true, |element| {
            reversed.push(element.member.to_vec())
        });
        let expected: Vec<Vec<u8>> = model
            .keys()
            .skip(10)
            .take(190)
            .rev()
            .map(|k| k.1.clone())
            .collect();
        assert_eq!(reversed, expected);
    }

    #[test]
    fn walks_between_bounds_see_what_the_model_holds_between_them() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut tree = ScoreTree::new();
        let mut model: BTreeMap<(i64, Vec<u8>), f64> = BTreeMap::new();
        // Many ties (40 scores over 20k members) put equal scores across leaf and
        // inner-node boundaries.
        for index in 0..20_000 {
            let member = format!("m{index}").into_bytes();
            let score = (rng.next() % 40) as f64 - 20.0;
            tree.insert(Element::new(score, &member));
            model.insert(model_key(score, &member), score);
        }
        for _ in 0..300 {
            let low = (rng.next() % 46) as f64 - 23.0;
            let high = low + (rng.next() % 6) as f64;
            let stop_after = (rng.next() % 4000) as usize;
            let mut walked = Vec::new();
            tree.walk_between(
                |element| element.score < low,
                |element| element.score < high,
                |element| {
                    walked.push(element.member.to_vec());
                    walked.len() < stop_after
                },
            );
            let expected: Vec<Vec<u8>> = model
                .iter()
                .filter(|(_, &score)| score >= low && score < high)
                .map(|((_, member), _)| member.clone())
                .take(stop_after.max(1))
                .collect();
            assert_eq!(
                walked, expected,
                "[{low}, {high}) stopping after {stop_after}"
            );
        }
    }

    #[test]
    fn ascending_loads_fill_leaves_and_drain_back_to_a_leaf() {
        let mut tree = ScoreTree::new();
        for index in 0..10_000 {
            tree.insert(Element::new(index as f64, format!("{index}").as_bytes()));
        }
        let Node::Inner(root) = &tree.root else {
            panic!("10000 elements need inner nodes");
        };
        assert!(root.counts.iter().all(|&count| count >= LEAF_CAPACITY * 8));
        assert_eq!(tree.get(9_999).map(|element| element.score), Some(9_999.0));
        for index in 0..10_000 {
            let element = tree.remove_at(0).expect("present");
            assert_eq!(element.score, index as f64);
        }
        assert!(tree.is_empty());
        assert!(matches!(tree.root, Node::Leaf(_)));
    }

    #[test]
    fn ties_order_by_member_and_infinities_sort_at_the_ends() {
        let mut tree = ScoreTree::new();
        for (score, member) in [
            (1.0, "b"),
            (1.0, "a"),
            (f64::INFINITY, "z"),
            (f64::NEG_INFINITY, "y"),
        ] {
            tree.insert(Element::new(score, member.as_bytes()));
        }
        let mut order = Vec::new();
        tree.walk(0..10, false, |element| order.push(element.member.to_vec()));
        assert_eq!(
            order,
            vec![b"y".to_vec(), b"a".to_vec(), b"b".to_vec(), b"z".to_vec()]
        );
    }
}
