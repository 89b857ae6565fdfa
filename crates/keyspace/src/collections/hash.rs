//! The hash value: field → value, with optional per-field deadlines (Redis 7.4's hash
//! field expiration).
//!
//! Three encodings, as Redis 7.4:
//!
//! * `listpack`: one [`Listpack`] of alternating `field, value` entries, in insertion
//!   order. A small hash costs its payload plus two bytes per entry and one pointer.
//! * `listpackex`: the same listpack with a third entry per field, its deadline (eight
//!   bytes, little-endian Unix milliseconds; empty when the field has none). A hash moves
//!   here the first time one of its fields gets a deadline, so deadlines cost nothing
//!   to hashes that never use them.
//! * `hashtable`: a [`Table`] from field to value, plus (only while some field has a
//!   deadline) a side index of deadlines by field and by time.
//!
//! A hash leaves the listpack encodings when it gets more than
//! `hash-max-listpack-entries` fields or a field or value longer than
//! `hash-max-listpack-value` bytes, and never goes back. Deadlines survive the move.
//!
//! Expired fields are not hidden by lookups here: callers remove them first with
//! [`Hash::expire_fields`] (the command layer does so on every access), and active expiry
//! finds due hashes through [`Hash::next_field_deadline`].

use super::listpack::{self, Listpack};
use super::EncodingLimits;
use crate::{free_maybe_later, CompactBytes, Table, UnixMillis};
use std::collections::{BTreeSet, HashSet};

/// Entries per field in the `listpack` encoding: field, value.
const PAIR: usize = 2;
/// Entries per field in the `listpackex` encoding: field, value, deadline.
const TRIPLE: usize = 3;

/// A hash. See the module documentation for the encodings.
#[derive(Clone, Debug, PartialEq)]
pub struct Hash {
    repr: Repr,
}

#[derive(Clone, Debug, PartialEq)]
enum Repr {
    /// `field, value` pairs.
    Pairs(Listpack),
    /// `field, value, deadline` triples.
    Triples(Listpack),
    /// The big encoding.
    Table(Box<BigHash>),
}

/// The `hashtable` encoding.
#[derive(Clone, Debug, PartialEq)]
struct BigHash {
    fields: Table<CompactBytes>,
    /// Present only while at least one field has a deadline.
    deadlines: Option<Box<FieldDeadlines>>,
}

/// Field deadlines of a big hash, by field and in time order.
#[derive(Clone, Debug, PartialEq, Default)]
struct FieldDeadlines {
    by_field: Table<UnixMillis>,
    by_time: BTreeSet<(UnixMillis, CompactBytes)>,
}

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}

impl Hash {
    /// An empty hash (the `listpack` encoding).
    pub fn new() -> Hash {
        Hash {
            repr: Repr::Pairs(Listpack::new()),
        }
    }

    /// An empty hash in the encoding OBJECT ENCODING calls `encoding`, if it is one.
    pub fn empty_in(encoding: &[u8]) -> Option<Hash> {
        let repr = match encoding {
            b"listpack" => Repr::Pairs(Listpack::new()),
            b"listpackex" => Repr::Triples(Listpack::new()),
            b"hashtable" => Repr::Table(Box::new(BigHash {
                fields: Table::new(),
                deadlines: None,
            })),
            _ => return None,
        };
        Some(Hash { repr })
    }

    /// The heap block a command reads first (small encoding or big one's header), for
    /// prefetching.
    pub(crate) fn address(&self) -> *const u8 {
        match &self.repr {
            Repr::Pairs(entries) | Repr::Triples(entries) => entries.address(),
            Repr::Table(big) => std::ptr::from_ref(&**big).cast(),
        }
    }

    /// Number of fields (expired ones not yet removed included).
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pairs(entries) => entries.len() / PAIR,
            Repr::Triples(entries) => entries.len() / TRIPLE,
            Repr::Table(big) => big.fields.len(),
        }
    }

    /// True when empty (an empty collection is never stored under a key).
    pub fn is_empty(&self) -> bool {
        match &self.repr {
            Repr::Pairs(entries) | Repr::Triples(entries) => entries.is_empty(),
            Repr::Table(big) => big.fields.is_empty(),
        }
    }

    /// The name OBJECT ENCODING replies with.
    pub fn encoding_name(&self) -> &'static str {
        match &self.repr {
            Repr::Pairs(_) => "listpack",
            Repr::Triples(_) => "listpackex",
            Repr::Table(_) => "hashtable",
        }
    }

    /// The small encoding's listpack and its entries per field, `None` when big.
    fn small(&self) -> Option<(&Listpack, usize)> {
        match &self.repr {
            Repr::Pairs(entries) => Some((entries, PAIR)),
            Repr::Triples(entries) => Some((entries, TRIPLE)),
            Repr::Table(_) => None,
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Table(big) => big.fields.get(field).map(CompactBytes::as_slice),
            Repr::Pairs(entries) => find(entries, PAIR, field).map(|found| found.value),
            Repr::Triples(entries) => find(entries, TRIPLE, field).map(|found| found.value),
        }
    }

    /// True when `field` exists.
    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field` to `value` and clears any deadline it had (HSET). Converts to the big
    /// encoding as `limits` say. Returns true when the field is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8], limits: &EncodingLimits) -> bool {
        self.set(field, value, limits, false)
    }

    /// Sets `field` to `value`, keeping any deadline it has (HINCRBY, HINCRBYFLOAT).
    /// Returns true when the field is new.
    pub fn update(&mut self, field: &[u8], value: &[u8], limits: &EncodingLimits) -> bool {
        self.set(field, value, limits, true)
    }

    fn set(
        &mut self,
        field: &[u8],
        value: &[u8],
        limits: &EncodingLimits,
        keep_deadline: bool,
    ) -> bool {
        let longest = field.len().max(value.len());
        if self.small().is_some() && longest > limits.hash_max_listpack_value {
            self.convert_to_table();
        }
        let created = match &mut self.repr {
            Repr::Pairs(entries) => set_small(entries, PAIR, field, value, keep_deadline),
            Repr::Triples(entries) => set_small(entries, TRIPLE, field, value, keep_deadline),
            Repr::Table(big) => big.set(field, value, keep_deadline),
        };
        if created && self.small().is_some() && self.len() > limits.hash_max_listpack_entries {
            self.convert_to_table();
        }
        created
    }

    /// Converts to the big encoding ahead of a write of `incoming` fields whose longest
    /// field or value is `longest` bytes, as Redis's `hashTypeTryConversion` does: more
    /// new fields than `hash-max-listpack-entries` (counted before duplicates are known)
    /// or any argument longer than `hash-max-listpack-value`.
    pub fn prepare_write(&mut self, incoming: usize, longest: usize, limits: &EncodingLimits) {
        if self.small().is_some()
            && (incoming > limits.hash_max_listpack_entries
                || longest > limits.hash_max_listpack_value)
        {
            self.convert_to_table();
        }
    }

    /// Removes `field` and its deadline. Returns true when it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Pairs(entries) => remove_small(entries, PAIR, field),
            Repr::Triples(entries) => remove_small(entries, TRIPLE, field),
            Repr::Table(big) => big.remove(field),
        }
    }

    /// Every field and value (listpack encodings: in insertion order).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let (small, big) = match &self.repr {
            Repr::Pairs(entries) => (Some(Tuples::new(entries, PAIR)), None),
            Repr::Triples(entries) => (Some(Tuples::new(entries, TRIPLE)), None),
            Repr::Table(big) => (None, Some(big.fields.iter())),
        };
        let small = small
            .into_iter()
            .flatten()
            .map(|(field, value, _)| (field, value));
        let big = big
            .into_iter()
            .flatten()
            .map(|(field, value)| (field, value.as_slice()));
        small.chain(big)
    }

    /// Visits part of the hash from `cursor` and returns the cursor to continue from (0
    /// when done). The listpack encodings are visited whole in one call, as Redis's
    /// HSCAN does; the big one follows [`Table::scan`]'s guarantees.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        match &self.repr {
            Repr::Table(big) => big
                .fields
                .scan(cursor, |field, value| visit(field, value.as_slice())),
            Repr::Pairs(_) | Repr::Triples(_) => {
                self.iter().for_each(|(field, value)| visit(field, value));
                0
            }
        }
    }

    // ---- field deadlines ----

    /// The deadline of `field`: `None` when the field does not exist, `Some(None)` when
    /// it has no deadline.
    pub fn field_deadline(&self, field: &[u8]) -> Option<Option<UnixMillis>> {
        match &self.repr {
            Repr::Pairs(entries) => find(entries, PAIR, field).map(|_| None),
            Repr::Triples(entries) => find(entries, TRIPLE, field).map(|found| found.deadline),
            Repr::Table(big) => big.fields.get(field).map(|_| big.deadline(field)),
        }
    }

    /// Gives `field` the deadline `at` (HEXPIRE and friends). Returns false when the
    /// field does not exist.
    pub fn set_field_deadline(&mut self, field: &[u8], at: UnixMillis) -> bool {
        if let Repr::Pairs(entries) = &self.repr {
            if find(entries, PAIR, field).is_none() {
                return false;
            }
            self.repr = Repr::Triples(pairs_to_triples(entries));
        }
        match &mut self.repr {
            Repr::Pairs(_) => false,
            Repr::Triples(entries) => match find(entries, TRIPLE, field) {
                Some(found) => {
                    entries.replace(found.index * TRIPLE + 2, &at.to_le_bytes());
                    true
                }
                None => false,
            },
            Repr::Table(big) => big.set_deadline(field, at),
        }
    }

    /// Removes the deadline of `field` (HPERSIST). Returns true when it had one.
    pub fn persist_field(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Pairs(_) => false,
            Repr::Triples(entries) => match find(entries, TRIPLE, field) {
                Some(found) if found.deadline.is_some() => {
                    entries.replace(found.index * TRIPLE + 2, b"");
                    true
                }
                _ => false,
            },
            Repr::Table(big) => big.clear_deadline(field),
        }
    }

    /// The earliest deadline of any field, `None` when no field has one. O(1) for the
    /// listpack and hashtable encodings without deadlines.
    pub fn next_field_deadline(&self) -> Option<UnixMillis> {
        match &self.repr {
            Repr::Pairs(_) => None,
            Repr::Triples(entries) => Tuples::new(entries, TRIPLE)
                .filter_map(|(_, _, deadline)| deadline)
                .min(),
            Repr::Table(big) => big
                .deadlines
                .as_ref()
                .and_then(|deadlines| deadlines.by_time.first())
                .map(|(at, _)| *at),
        }
    }

    /// Removes every field whose deadline is at or before `now`; returns how many. The
    /// caller deletes the key when the hash becomes empty.
    pub fn expire_fields(&mut self, now: UnixMillis) -> usize {
        match &mut self.repr {
            Repr::Pairs(_) => 0,
            Repr::Triples(entries) => expire_triples(entries, now),
            Repr::Table(big) => big.expire(now),
        }
    }

    // ---- random picks (HRANDFIELD) ----

    /// A field and its value chosen at random, `None` when empty. `random` supplies
    /// random numbers.
    pub fn random_field(&self, mut random: impl FnMut() -> u64) -> Option<(&[u8], &[u8])> {
        match &self.repr {
            Repr::Table(big) => {
                let field = big.fields.random_key(&mut random)?;
                let value = big.fields.get(field)?;
                Some((field, value.as_slice()))
            }
            Repr::Pairs(_) | Repr::Triples(_) => {
                let len = self.len();
                if len == 0 {
                    return None;
                }
                self.iter().nth(pick(&mut random, len))
            }
        }
    }

    /// `count` fields picked at random independently (a field may repeat).
    pub fn random_fields(
        &self,
        count: usize,
        mut random: impl FnMut() -> u64,
    ) -> Vec<(&[u8], &[u8])> {
        if self.is_empty() {
            return Vec::new();
        }
        if self.small().is_some() {
            let all: Vec<_> = self.iter().collect();
            return (0..count)
                .map(|_| all[pick(&mut random, all.len())])
                .collect();
        }
        (0..count)
            .filter_map(|_| self.random_field(&mut random))
            .collect()
    }

    /// Up to `count` distinct fields picked at random: all of them (in the hash's order)
    /// when `count` covers the hash; an ordered sample for the listpack encodings; for
    /// the big one, as Redis: discard random fields from a copy of all when `count` is a
    /// large part of the hash, otherwise draw until enough distinct ones are found.
    pub fn distinct_random_fields(
        &self,
        count: usize,
        mut random: impl FnMut() -> u64,
    ) -> Vec<(&[u8], &[u8])> {
        let len = self.len();
        if count >= len {
            return self.iter().collect();
        }
        if self.small().is_some() {
            return ordered_sample(self.iter(), len, count, random);
        }
        if count.saturating_mul(3) > len {
            let mut all: Vec<_> = self.iter().collect();
            while all.len() > count {
                let discard = pick(&mut random, all.len());
                all.swap_remove(discard);
            }
            return all;
        }
        let mut seen = HashSet::with_capacity(count);
        let mut picked = Vec::with_capacity(count);
        while picked.len() < count {
            let Some((field, value)) = self.random_field(&mut random) else {
                break;
            };
            if seen.insert(field) {
                picked.push((field, value));
            }
        }
        picked
    }

    // ---- conversions ----

    fn convert_to_table(&mut self) {
        let Some((entries, stride)) = self.small() else {
            return;
        };
        let mut big = BigHash {
            fields: Table::new(),
            deadlines: None,
        };
        for (field, value, deadline) in Tuples::new(entries, stride) {
            big.fields.insert(field, CompactBytes::new(value));
            if let Some(at) = deadline {
                big.set_deadline(field, at);
            }
        }
        self.repr = Repr::Table(Box::new(big));
    }
}

/// A field found in a small encoding.
struct Found<'a> {
    /// Position in fields (entry index / stride).
    index: usize,
    value: &'a [u8],
    deadline: Option<UnixMillis>,
}

/// Walks a small encoding field by field: (field, value, deadline).
struct Tuples<'a> {
    entries: listpack::Iter<'a>,
    stride: usize,
}

impl<'a> Tuples<'a> {
    fn new(entries: &'a Listpack, stride: usize) -> Tuples<'a> {
        Tuples {
            entries: entries.iter(),
            stride,
        }
    }
}

impl<'a> Iterator for Tuples<'a> {
    type Item = (&'a [u8], &'a [u8], Option<UnixMillis>);

    fn next(&mut self) -> Option<Self::Item> {
        let field = self.entries.next()?;
        let value = self.entries.next()?;
        let deadline = if self.stride == TRIPLE {
            decode_deadline(self.entries.next()?)
        } else {
            None
        };
        Some((field, value, deadline))
    }
}

/// A deadline entry: eight bytes little-endian, or empty for none.
fn decode_deadline(entry: &[u8]) -> Option<UnixMillis> {
    entry.try_into().ok().map(UnixMillis::from_le_bytes)
}

fn find<'a>(entries: &'a Listpack, stride: usize, field: &[u8]) -> Option<Found<'a>> {
    Tuples::new(entries, stride)
        .enumerate()
        .find(|(_, (name, _, _))| *name == field)
        .map(|(index, (_, value, deadline))| Found {
            index,
            value,
            deadline,
        })
}

/// Sets a field in a small encoding; true when it is new.
fn set_small(
    entries: &mut Listpack,
    stride: usize,
    field: &[u8],
    value: &[u8],
    keep_deadline: bool,
) -> bool {
    match find(entries, stride, field).map(|found| (found.index, found.deadline)) {
        Some((index, deadline)) => {
            entries.replace(index * stride + 1, value);
            if deadline.is_some() && !keep_deadline {
                entries.replace(index * stride + 2, b"");
            }
            false
        }
        None => {
            entries.push_back(field);
            entries.push_back(value);
            if stride == TRIPLE {
                entries.push_back(b"");
            }
            true
        }
    }
}

fn remove_small(entries: &mut Listpack, stride: usize, field: &[u8]) -> bool {
    match find(entries, stride, field).map(|found| found.index) {
        Some(index) => {
            entries.remove_range(index * stride, stride);
            true
        }
        None => false,
    }
}

fn pairs_to_triples(pairs: &Listpack) -> Listpack {
    let mut triples = Listpack::new();
    for (field, value, _) in Tuples::new(pairs, PAIR) {
        triples.push_back(field);
        triples.push_back(value);
        triples.push_back(b"");
    }
    triples
}

fn expire_triples(entries: &mut Listpack, now: UnixMillis) -> usize {
    let due: Vec<usize> = Tuples::new(entries, TRIPLE)
        .enumerate()
        .filter(|(_, (_, _, deadline))| deadline.is_some_and(|at| at <= now))
        .map(|(index, _)| index)
        .collect();
    for &index in due.iter().rev() {
        entries.remove_range(index * TRIPLE, TRIPLE);
    }
    due.len()
}

/// A random number below `bound` (which is not zero).
fn pick(random: &mut impl FnMut() -> u64, bound: usize) -> usize {
    (random() % bound as u64) as usize
}

/// Selection sampling (Knuth's algorithm S): `count` of the `len` items, in order.
fn ordered_sample<T>(
    items: impl Iterator<Item = T>,
    len: usize,
    count: usize,
    mut random: impl FnMut() -> u64,
) -> Vec<T> {
    let mut picked = Vec::with_capacity(count);
    let mut left = len;
    for item in items {
        if picked.len() == count {
            break;
        }
        if pick(&mut random, left) < count - picked.len() {
            picked.push(item);
        }
        left -= 1;
    }
    picked
}

impl BigHash {
    fn set(&mut self, field: &[u8], value: &[u8], keep_deadline: bool) -> bool {
        let created = self
            .fields
            .insert(field, CompactBytes::new(value))
            .is_none();
        if !created && !keep_deadline {
            self.clear_deadline(field);
        }
        created
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        let removed = self.fields.remove(field).is_some();
        if removed {
            self.clear_deadline(field);
        }
        removed
    }

    fn deadline(&self, field: &[u8]) -> Option<UnixMillis> {
        self.deadlines.as_ref()?.by_field.get(field).copied()
    }

    fn set_deadline(&mut self, field: &[u8], at: UnixMillis) -> bool {
        if self.fields.get(field).is_none() {
            return false;
        }
        let deadlines = self.deadlines.get_or_insert_with(Box::default);
        if let Some(previous) = deadlines.by_field.insert(field, at) {
            deadlines
                .by_time
                .remove(&(previous, CompactBytes::new(field)));
        }
        deadlines.by_time.insert((at, CompactBytes::new(field)));
        true
    }

    fn clear_deadline(&mut self, field: &[u8]) -> bool {
        let Some(deadlines) = self.deadlines.as_mut() else {
            return false;
        };
        let Some(previous) = deadlines.by_field.remove(field) else {
            return false;
        };
        deadlines
            .by_time
            .remove(&(previous, CompactBytes::new(field)));
        if deadlines.by_time.is_empty() {
            self.deadlines = None;
        }
        true
    }

    fn expire(&mut self, now: UnixMillis) -> usize {
        let Some(deadlines) = self.deadlines.as_mut() else {
            return 0;
        };
        let mut removed = 0;
        while let Some((at, _)) = deadlines.by_time.first() {
            if *at > now {
                break;
            }
            let Some((_, field)) = deadlines.by_time.pop_first() else {
                break;
            };
            deadlines.by_field.remove(&field);
            self.fields.remove(&field);
            removed += 1;
        }
        if deadlines.by_time.is_empty() {
            self.deadlines = None;
        }
        removed
    }
}

impl Drop for BigHash {
    /// A big hash's table is freed on the lazyfree thread (see [`free_maybe_later`]).
    fn drop(&mut self) {
        let fields = std::mem::take(&mut self.fields);
        let len = fields.len();
        free_maybe_later(fields, len);
    }
}

#[cfg(test)]
mod tests;
