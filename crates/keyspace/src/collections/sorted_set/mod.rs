//! The sorted set value: members with scores, ordered by score then member bytes.
//!
//! Two encodings, as Redis: a [`Listpack`] of alternating member and score (8 bytes, the
//! f64's bits) entries kept in order, while the set has at most
//! `zset-max-listpack-entries` members of at most `zset-max-listpack-value` bytes; and
//! "skiplist" beyond that: a member → score [`Table`] for O(1) lookups plus a counted
//! B+tree ([`ScoreTree`]) for O(log n) insert, delete, rank and select. A set never goes
//! back to the listpack, except that STORE results choose by size ([`SortedSet::build`]).
//!
//! Scores are never NaN: callers reject NaN before it reaches the set.

mod tree;

use super::{EncodingLimits, Listpack};
use crate::Table;
use std::cmp::Ordering;
use std::ops::Range;
pub use tree::{compare, Element, ScoreTree};

/// One end of a score range (`ZRANGEBYSCORE`'s `min`/`max`: `1.5`, `(1.5`, `-inf`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreBound {
    /// The score.
    pub value: f64,
    /// True for `(value`: the bound itself is excluded.
    pub exclusive: bool,
}

/// One end of a lexicographic range (`ZRANGEBYLEX`'s `[a`, `(a`, `-`, `+`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LexBound<'a> {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    /// `[member`.
    Inclusive(&'a [u8]),
    /// `(member`.
    Exclusive(&'a [u8]),
}

impl LexBound<'_> {
    /// True when `member` is below this bound taken as a range's minimum.
    fn is_below_min(&self, member: &[u8]) -> bool {
        match *self {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(bound) => member < bound,
            LexBound::Exclusive(bound) => member <= bound,
        }
    }

    /// True when `member` is within this bound taken as a range's maximum.
    fn is_within_max(&self, member: &[u8]) -> bool {
        match *self {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(bound) => member <= bound,
            LexBound::Exclusive(bound) => member < bound,
        }
    }
}

impl ScoreBound {
    fn is_below_min(&self, score: f64) -> bool {
        if self.exclusive {
            score <= self.value
        } else {
            score < self.value
        }
    }

    fn is_within_max(&self, score: f64) -> bool {
        if self.exclusive {
            score < self.value
        } else {
            score <= self.value
        }
    }
}

/// The big encoding: member → score, and the elements in order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Skiplist {
    scores: Table<f64>,
    tree: ScoreTree,
}

impl Drop for Skiplist {
    /// A big sorted set's storage is freed on the lazyfree thread.
    fn drop(&mut self) {
        let elements = self.scores.len();
        if elements > crate::LAZYFREE_THRESHOLD {
            let storage = (
                std::mem::take(&mut self.scores),
                std::mem::take(&mut self.tree),
            );
            crate::free_maybe_later(storage, elements);
        }
    }
}

/// A sorted set. See the module documentation.
#[derive(Clone, Debug, PartialEq)]
pub enum SortedSet {
    /// Small: alternating member and score entries, in order.
    Listpack(Listpack),
    /// Big: a dictionary and an order-statistics tree.
    Skiplist(Box<Skiplist>),
}

impl Default for SortedSet {
    fn default() -> Self {
        SortedSet::new()
    }
}

fn decode_score(bytes: &[u8]) -> f64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&bytes[..8]);
    f64::from_le_bytes(raw)
}

/// The (member, score) pairs of a listpack encoding, in order and reversible.
#[derive(Clone)]
pub struct Pairs<'a> {
    entries: super::listpack::Iter<'a>,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<(&'a [u8], f64)> {
        let member = self.entries.next()?;
        let score = self.entries.next()?;
        Some((member, decode_score(score)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let pairs = self.entries.len() / 2;
        (pairs, Some(pairs))
    }
}

impl<'a> DoubleEndedIterator for Pairs<'a> {
    fn next_back(&mut self) -> Option<(&'a [u8], f64)> {
        let score = self.entries.next_back()?;
        let member = self.entries.next_back()?;
        Some((member, decode_score(score)))
    }
}

impl ExactSizeIterator for Pairs<'_> {}

fn pairs(listpack: &Listpack) -> Pairs<'_> {
    Pairs {
        entries: listpack.iter(),
    }
}

impl SortedSet {
    /// An empty sorted set (listpack).
    pub fn new() -> SortedSet {
        SortedSet::Listpack(Listpack::new())
    }

    /// An empty sorted set in the big encoding, for a result built element by element
    /// that must keep every score exactly (the small encoding stores -0 as 0) until
    /// [`SortedSet::convert_to_listpack_if_fits`].
    pub fn new_skiplist() -> SortedSet {
        SortedSet::Skiplist(Box::default())
    }

    /// An empty sorted set in the encoding OBJECT ENCODING calls `encoding`, if it is one.
    pub fn empty_in(encoding: &[u8]) -> Option<SortedSet> {
        match encoding {
            b"listpack" => Some(SortedSet::new()),
            b"skiplist" => Some(SortedSet::Skiplist(Box::default())),
            _ => None,
        }
    }

    /// An empty sorted set in the encoding Redis picks for `expected` elements whose
    /// longest member has `longest_member` bytes.
    pub fn with_expected(
        expected: usize,
        longest_member: usize,
        limits: &EncodingLimits,
    ) -> SortedSet {
        if fits_listpack(expected, longest_member, limits) {
            SortedSet::new()
        } else {
            SortedSet::Skiplist(Box::default())
        }
    }

    /// A sorted set of `elements` (distinct members, any order), encoded by size.
    pub fn build(mut elements: Vec<Element>, limits: &EncodingLimits) -> SortedSet {
        elements.sort_unstable_by(|a, b| compare(a.score, &a.member, b.score, &b.member));
        let longest = elements
            .iter()
            .map(|element| element.member.len())
            .max()
            .unwrap_or(0);
        if fits_listpack(elements.len(), longest, limits) {
            let mut listpack = Listpack::new();
            for element in &elements {
                listpack.push_back(&element.member);
                listpack.push_back(&(element.score + 0.0).to_le_bytes());
            }
            return SortedSet::Listpack(listpack);
        }
        let mut skiplist = Skiplist::default();
        for element in elements {
            skiplist.scores.insert(&element.member, element.score);
            skiplist.tree.insert(element);
        }
        SortedSet::Skiplist(Box::new(skiplist))
    }

    /// The heap block a command reads first (small encoding or big one's header), for
    /// prefetching.
    pub(crate) fn address(&self) -> *const u8 {
        match self {
            SortedSet::Listpack(listpack) => listpack.address(),
            SortedSet::Skiplist(skiplist) => std::ptr::from_ref(&**skiplist).cast(),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            SortedSet::Listpack(listpack) => listpack.len() / 2,
            SortedSet::Skiplist(skiplist) => skiplist.tree.len(),
        }
    }

    /// True when empty (an empty collection is never stored under a key).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING replies with.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            SortedSet::Listpack(_) => "listpack",
            SortedSet::Skiplist(_) => "skiplist",
        }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            SortedSet::Listpack(listpack) => pairs(listpack)
                .find(|(candidate, _)| *candidate == member)
                .map(|(_, score)| score),
            SortedSet::Skiplist(skiplist) => skiplist.scores.get(member).copied(),
        }
    }

    /// Sets the score of `member` (adding it when absent) and returns its previous score.
    /// Converts to the big encoding when the listpack would pass `limits`.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: &EncodingLimits) -> Option<f64> {
        if let SortedSet::Listpack(listpack) = self {
            let found = pairs(listpack)
                .position(|(candidate, _)| candidate == member)
                .map(|index| {
                    (
                        index,
                        decode_score(listpack.get(2 * index + 1).unwrap_or(&[0; 8])),
                    )
                });
            if let Some((index, old)) = found {
                if old.to_bits() != score.to_bits() {
                    listpack.remove_range(2 * index, 2);
                    listpack_insert(listpack, member, score);
                }
                return Some(old);
            }
            if fits_listpack(listpack.len() / 2 + 1, member.len(), limits) {
                listpack_insert(listpack, member, score);
                return None;
            }
            self.convert_to_skiplist();
        }
        let SortedSet::Skiplist(skiplist) = self else {
            unreachable!("converted above");
        };
        skiplist.insert(member, score)
    }

    /// Removes `member`; returns its score when it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            SortedSet::Listpack(listpack) => {
                let (index, score) = pairs(listpack)
                    .enumerate()
                    .find(|(_, (candidate, _))| *candidate == member)
                    .map(|(index, (_, score))| (index, score))?;
                listpack.remove_range(2 * index, 2);
                Some(score)
            }
            SortedSet::Skiplist(skiplist) => {
                let score = skiplist.scores.remove(member)?;
                skiplist.tree.remove(score, member);
                Some(score)
            }
        }
    }

    /// The rank (0 = lowest score) and score of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self {
            SortedSet::Listpack(listpack) => pairs(listpack)
                .enumerate()
                .find(|(_, (candidate, _))| *candidate == member)
                .map(|(rank, (_, score))| (rank, score)),
            SortedSet::Skiplist(skiplist) => {
                let score = *skiplist.scores.get(member)?;
                skiplist.tree.rank(score, member).map(|rank| (rank, score))
            }
        }
    }

    /// The ranks of the elements with scores between `min` and `max`.
    pub fn score_range(&self, min: ScoreBound, max: ScoreBound) -> Range<usize> {
        self.ranks_between(
            |_, score| min.is_below_min(score),
            |_, score| max.is_within_max(score),
        )
    }

    /// The ranks of the elements with members between `min` and `max` (meaningful when all
    /// scores are equal, as Redis documents).
    pub fn lex_range(&self, min: LexBound<'_>, max: LexBound<'_>) -> Range<usize> {
        self.ranks_between(
            |member, _| min.is_below_min(member),
            |member, _| max.is_within_max(member),
        )
    }

    /// `start..end` where `start` elements satisfy `below` and `end` satisfy `within`
    /// (both hold for a prefix of the order).
    fn ranks_between(
        &self,
        below: impl Fn(&[u8], f64) -> bool,
        within: impl Fn(&[u8], f64) -> bool,
    ) -> Range<usize> {
        let (start, end) = match self {
            SortedSet::Listpack(listpack) => (
                pairs(listpack)
                    .take_while(|&(member, score)| below(member, score))
                    .count(),
                pairs(listpack)
                    .take_while(|&(member, score)| within(member, score))
                    .count(),
            ),
            SortedSet::Skiplist(skiplist) => (
                skiplist
                    .tree
                    .count_before(|element| below(&element.member, element.score)),
                skiplist
                    .tree
                    .count_before(|element| within(&element.member, element.score)),
            ),
        };
        start..end.max(start)
    }

    /// The element at `rank` (0 = lowest score).
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        match self {
            SortedSet::Listpack(listpack) => pairs(listpack).nth(rank),
            SortedSet::Skiplist(skiplist) => skiplist
                .tree
                .get(rank)
                .map(|element| (element.member.as_slice(), element.score)),
        }
    }

    /// Calls `visit` with the elements whose ranks are in `ranks` (clamped), in order, or
    /// from the highest rank down when `reverse`. The members borrow from the set.
    pub fn walk<'a>(
        &'a self,
        ranks: Range<usize>,
        reverse: bool,
        mut visit: impl FnMut(&'a [u8], f64),
    ) {
        let end = ranks.end.min(self.len());
        if ranks.start >= end {
            return;
        }
        match self {
            SortedSet::Listpack(listpack) => {
                let selected = pairs(listpack).skip(ranks.start).take(end - ranks.start);
                if reverse {
                    selected
                        .rev()
                        .for_each(|(member, score)| visit(member, score));
                } else {
                    selected.for_each(|(member, score)| visit(member, score));
                }
            }
            SortedSet::Skiplist(skiplist) => {
                skiplist.tree.walk(ranks.start..end, reverse, |element| {
                    visit(&element.member, element.score)
                })
            }
        }
    }

    /// Calls `visit` in order on the elements with scores between `min` and `max` until it
    /// returns false: [`SortedSet::score_range`] and [`SortedSet::walk`] in one pass, for a
    /// reader that needs no ranks.
    pub fn walk_scores<'a>(
        &'a self,
        min: ScoreBound,
        max: ScoreBound,
        mut visit: impl FnMut(&'a [u8], f64) -> bool,
    ) {
        match self {
            SortedSet::Listpack(listpack) => {
                let _ = pairs(listpack)
                    .skip_while(|&(_, score)| min.is_below_min(score))
                    .take_while(|&(_, score)| max.is_within_max(score))
                    .all(|(member, score)| visit(member, score));
            }
            SortedSet::Skiplist(skiplist) => skiplist.tree.walk_between(
                |element| min.is_below_min(element.score),
                |element| max.is_within_max(element.score),
                |element| visit(&element.member, element.score),
            ),
        }
    }

    /// Removes the elements whose ranks are in `ranks` (clamped); returns how many.
    pub fn remove_ranks(&mut self, ranks: Range<usize>) -> usize {
        let end = ranks.end.min(self.len());
        if ranks.start >= end {
            return 0;
        }
        let count = end - ranks.start;
        match self {
            SortedSet::Listpack(listpack) => listpack.remove_range(2 * ranks.start, 2 * count),
            // More elements go than stay (all of them, or all but the top thousand):
            // the set is built anew from those that stay and the old storage goes whole,
            // freed on the lazyfree thread when big, instead of one removal per element
            // on this core (ZREMRANGEBYRANK 0 -1 of a million members took 190 ms).
            SortedSet::Skiplist(skiplist) if count > skiplist.scores.len() - count => {
                let len = skiplist.scores.len();
                let mut kept = Skiplist::default();
                for stays in [0..ranks.start, end..len] {
                    skiplist.tree.walk(stays, false, |element| {
                        kept.scores.insert(&element.member, element.score);
                        kept.tree
                            .insert(Element::new(element.score, &element.member));
                    });
                }
                drop(std::mem::replace(&mut **skiplist, kept));
            }
            SortedSet::Skiplist(skiplist) => {
                for _ in 0..count {
                    if let Some(element) = skiplist.tree.remove_at(ranks.start) {
                        skiplist.scores.remove(&element.member);
                    }
                }
            }
        }
        count
    }

    /// Removes and returns the element with the lowest score (`highest`: the highest).
    pub fn pop(&mut self, highest: bool) -> Option<Element> {
        let len = self.len();
        let rank = if highest { len.checked_sub(1)? } else { 0 };
        match self {
            SortedSet::Listpack(listpack) => {
                let (member, score) = pairs(listpack).nth(rank)?;
                let element = Element::new(score, member);
                listpack.remove_range(2 * rank, 2);
                Some(element)
            }
            SortedSet::Skiplist(skiplist) => {
                let element = skiplist.tree.remove_at(rank)?;
                skiplist.scores.remove(&element.member);
                Some(element)
            }
        }
    }

    /// Visits a part of the set starting at `cursor` and returns the cursor to continue
    /// from (0 when done): the whole listpack at once, the dictionary by Redis's cursor.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], f64)) -> u64 {
        match self {
            SortedSet::Listpack(listpack) => {
                pairs(listpack).for_each(|(member, score)| visit(member, score));
                0
            }
            SortedSet::Skiplist(skiplist) => skiplist
                .scores
                .scan(cursor, |member, &score| visit(member, score)),
        }
    }

    /// Converts a big sorted set within the small encoding's limits to it, as Redis's
    /// STORE commands do with the result they built in the big encoding.
    pub fn convert_to_listpack_if_fits(&mut self, limits: &EncodingLimits) {
        let SortedSet::Skiplist(skiplist) = self else {
            return;
        };
        if skiplist.tree.len() > limits.zset_max_listpack_entries {
            return;
        }
        let mut elements = Vec::with_capacity(skiplist.tree.len());
        self.walk(0..usize::MAX, false, |member, score| {
            elements.push(Element::new(score, member));
        });
        let longest = elements.iter().map(|element| element.member.len()).max();
        if fits_listpack(elements.len(), longest.unwrap_or(0), limits) {
            *self = SortedSet::build(elements, limits);
        }
    }

    /// Converts a small sorted set to the big encoding (a no-op for a big one), as Redis's
    /// SORT does to the sorted set it sorts and conversions past the limits do.
    pub fn convert_to_skiplist(&mut self) {
        if let SortedSet::Listpack(listpack) = self {
            let mut skiplist = Skiplist::default();
            for (member, score) in pairs(listpack) {
                skiplist.scores.insert(member, score);
                skiplist.tree.insert(Element::new(score, member));
            }
            *self = SortedSet::Skiplist(Box::new(skiplist));
        }
    }
}

impl Skiplist {
    fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let (slot, inserted) = self.scores.get_or_insert_with(member, || score);
        if inserted {
            self.tree.insert(Element::new(score, member));
            return None;
        }
        let old = std::mem::replace(slot, score);
        if old.to_bits() != score.to_bits() {
            self.tree.remove(old, member);
            self.tree.insert(Element::new(score, member));
        }
        Some(old)
    }
}

/// True when `count` elements with members of at most `longest` bytes stay a listpack.
fn fits_listpack(count: usize, longest: usize, limits: &EncodingLimits) -> bool {
    count <= limits.zset_max_listpack_entries && longest <= limits.zset_max_listpack_value
}

/// Inserts (`member`, `score`) at its place in order (the member is not there). As in
/// Redis, whose listpack keeps scores as text, -0 is stored as 0.
fn listpack_insert(listpack: &mut Listpack, member: &[u8], score: f64) {
    let score = score + 0.0;
    let rank = pairs(listpack)
        .take_while(|&(other, other_score)| {
            compare(other_score, other, score, member) == Ordering::Less
        })
        .count();
    listpack.insert(2 * rank, &score.to_le_bytes());
    listpack.insert(2 * rank, member);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(set: &SortedSet) -> Vec<String> {
        let mut out = Vec::new();
        set.walk(0..usize::MAX, false, |member, score| {
            out.push(format!("{}={score}", String::from_utf8_lossy(member)))
        });
        out
    }

    fn both_encodings() -> [EncodingLimits; 2] {
        let small = EncodingLimits::default();
        let big = EncodingLimits {
            zset_max_listpack_entries: 0,
            ..EncodingLimits::default()
        };
        [small, big]
    }

    #[test]
    fn removing_most_or_every_rank_keeps_the_rest_in_order() {
        for limits in both_encodings() {
            let mut set = SortedSet::with_expected(1, 1, &limits);
            for n in 0..200 {
                set.insert(format!("m{n:03}").as_bytes(), f64::from(n), &limits);
            }
            // More go than stay: the set is rebuilt from the 40 that stay.
            assert_eq!(set.remove_ranks(10..170), 160);
            assert_eq!(set.len(), 40);
            assert_eq!(set.rank(b"m005"), Some((5, 5.0)));
            assert_eq!(set.rank(b"m170"), Some((10, 170.0)));
            assert_eq!(set.score(b"m100"), None);
            assert_eq!(members(&set)[9..11], ["m009=9", "m170=170"]);
            // Fewer go than stay: one removal each.
            assert_eq!(set.remove_ranks(0..5), 5);
            assert_eq!(set.rank(b"m005"), Some((0, 5.0)));
            assert_eq!(set.remove_ranks(0..usize::MAX), 35);
            assert_eq!(set.len(), 0);
            assert_eq!(set.score(b"m007"), None);
            assert_eq!(set.remove_ranks(0..1), 0);
            set.insert(b"again", 1.5, &limits);
            assert_eq!(members(&set), ["again=1.5"]);
            assert_eq!(set.rank(b"again"), Some((0, 1.5)));
        }
    }

    #[test]
    fn both_encodings_agree() {
        for limits in both_encodings() {
            let mut set = SortedSet::with_expected(1, 1, &limits);
            assert_eq!(set.insert(b"b", 2.0, &limits), None);
            assert_eq!(set.insert(b"a", 2.0, &limits), None);
            assert_eq!(set.insert(b"c", -1.0, &limits), None);
            assert_eq!(set.insert(b"c", 5.0, &limits), Some(-1.0));
            assert_eq!(members(&set), ["a=2", "b=2", "c=5"]);
            assert_eq!(set.rank(b"b"), Some((1, 2.0)));
            assert_eq!(set.score(b"zz"), None);
            let inclusive = ScoreBound {
                value: 2.0,
                exclusive: false,
            };
            let exclusive = ScoreBound {
                value: 2.0,
                exclusive: true,
            };
            let top = ScoreBound {
                value: f64::INFINITY,
                exclusive: false,
            };
            assert_eq!(set.score_range(inclusive, top), 0..3);
            assert_eq!(set.score_range(exclusive, top), 2..3);
            assert_eq!(set.score_range(top, inclusive), 3..3);
            assert_eq!(
                set.lex_range(LexBound::Exclusive(b"a"), LexBound::Max),
                1..3
            );
            assert_eq!(
                set.lex_range(LexBound::Min, LexBound::Inclusive(b"b")),
                0..2
            );
            let mut reversed = Vec::new();
            set.walk(0..2, true, |member, _| reversed.push(member.to_vec()));
            assert_eq!(reversed, [b"b".to_vec(), b"a".to_vec()]);
            assert_eq!(set.pop(true).map(|element| element.score), Some(5.0));
            assert_eq!(set.remove(b"a"), Some(2.0));
            assert_eq!(set.remove_ranks(0..10), 1);
            assert!(set.is_empty());
        }
    }

    #[test]
    fn converts_past_the_limits_and_build_chooses_by_size() {
        let limits = EncodingLimits {
            zset_max_listpack_entries: 3,
            zset_max_listpack_value: 4,
            ..EncodingLimits::default()
        };
        let mut set = SortedSet::new();
        for (index, member) in ["a", "b", "c"].iter().enumerate() {
            set.insert(member.as_bytes(), index as f64, &limits);
        }
        assert_eq!(set.encoding_name(), "listpack");
        set.insert(b"d", 0.5, &limits);
        assert_eq!(set.encoding_name(), "skiplist");
        assert_eq!(members(&set), ["a=0", "d=0.5", "b=1", "c=2"]);
        let mut long = SortedSet::new();
        long.insert(b"12345", 1.0, &limits);
        assert_eq!(long.encoding_name(), "skiplist");
        let built = SortedSet::build(
            vec![Element::new(2.0, b"x"), Element::new(1.0, b"y")],
            &limits,
        );
        assert_eq!(built.encoding_name(), "listpack");
        assert_eq!(members(&built), ["y=1", "x=2"]);
    }
}
