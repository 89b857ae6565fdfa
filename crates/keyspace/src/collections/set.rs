//! The set value: "intset", "listpack" and "hashtable" encodings, as Redis 7.2.
//!
//! - **intset**: only integers, sorted, in one buffer whose element width (2, 4 or 8
//!   bytes) is the smallest that holds every member, as Redis's intset: a set of ten
//!   small integers is one 21-byte buffer.
//! - **listpack**: small sets of strings, in insertion order, in one [`Listpack`].
//! - **hashtable**: a [`Table<()>`] keyed by member.
//!
//! Conversions follow Redis's `setTypeAddAux`/`setTypeCreate`: an intset takes only
//! canonical integers and becomes a hashtable past `set-max-intset-entries`; a string
//! added to an intset turns it into a listpack when the result stays within the listpack
//! limits, otherwise into a hashtable; a listpack becomes a hashtable past
//! `set-max-listpack-entries` or with a member longer than `set-max-listpack-value`. No
//! set ever converts back.

use super::thin_buffer::ThinBuffer;
use super::{EncodingLimits, Listpack};
use crate::value::canonical_integer;
use crate::Table;

/// A set. Sixteen bytes, so it lives unboxed in a [`Value`](crate::Value).
#[derive(Clone, Debug, PartialEq)]
pub enum Set {
    /// Integers only, sorted.
    IntSet(IntSet),
    /// Few, short members, in insertion order.
    Listpack(Listpack),
    /// Any members.
    Table(Box<Table<()>>),
}

impl Default for Set {
    fn default() -> Self {
        Set::new()
    }
}

impl Set {
    /// An empty set (an intset, as Redis creates for an integer first member).
    pub fn new() -> Set {
        Set::IntSet(IntSet::new())
    }

    /// An empty set in the encoding Redis's `setTypeCreate` picks for a set about to
    /// receive `size_hint` members, the first being `first`.
    pub fn for_members(first: &[u8], size_hint: usize, limits: &EncodingLimits) -> Set {
        if canonical_integer(first).is_some() && size_hint <= limits.set_max_intset_entries {
            Set::IntSet(IntSet::new())
        } else if size_hint <= limits.set_max_listpack_entries {
            Set::Listpack(Listpack::new())
        } else {
            Set::Table(Box::default())
        }
    }

    /// An empty set in the encoding OBJECT ENCODING calls `encoding`, if it is one.
    pub fn empty_in(encoding: &[u8]) -> Option<Set> {
        match encoding {
            b"intset" => Some(Set::IntSet(IntSet::new())),
            b"listpack" => Some(Set::Listpack(Listpack::new())),
            b"hashtable" => Some(Set::Table(Box::default())),
            _ => None,
        }
    }

    /// The heap block a command reads first (small encoding or big one's header), for
    /// prefetching.
    pub(crate) fn address(&self) -> *const u8 {
        match self {
            Set::IntSet(ints) => ints.buffer.address(),
            Set::Listpack(entries) => entries.address(),
            Set::Table(table) => std::ptr::from_ref(&**table).cast(),
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            Set::IntSet(ints) => ints.len(),
            Set::Listpack(entries) => entries.len(),
            Set::Table(table) => table.len(),
        }
    }

    /// True when empty (an empty set is never stored under a key).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING replies with.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Set::IntSet(_) => "intset",
            Set::Listpack(_) => "listpack",
            Set::Table(_) => "hashtable",
        }
    }

    /// True when `member` is in the set.
    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::IntSet(ints) => {
                canonical_integer(member).is_some_and(|value| ints.contains(value))
            }
            Set::Listpack(entries) => entries.position(member).is_some(),
            Set::Table(table) => table.get(member).is_some(),
        }
    }

    /// Adds `member`; false when it was already there. Converts as Redis does.
    pub fn insert(&mut self, member: &[u8], limits: &EncodingLimits) -> bool {
        match self {
            Set::Table(table) => table.insert_if_absent(member, ()),
            Set::Listpack(entries) => {
                if entries.position(member).is_some() {
                    return false;
                }
                if entries.len() < limits.set_max_listpack_entries
                    && member.len() <= limits.set_max_listpack_value
                {
                    entries.push_back(member);
                    return true;
                }
                self.convert_to_table();
                self.insert(member, limits)
            }
            Set::IntSet(ints) => match canonical_integer(member) {
                Some(value) => {
                    if !ints.insert(value) {
                        return false;
                    }
                    if ints.len() > limits.set_max_intset_entries.min(1 << 30) {
                        self.convert_to_table();
                    }
                    true
                }
                None => {
                    let widest = ints.widest_text();
                    if ints.len() < limits.set_max_listpack_entries
                        && member.len() <= limits.set_max_listpack_value
                        && widest <= limits.set_max_listpack_value
                    {
                        self.convert_to_listpack();
                    } else {
                        self.convert_to_table();
                    }
                    self.insert(member, limits)
                }
            },
        }
    }

    /// Removes `member`; false when it was not there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::IntSet(ints) => canonical_integer(member).is_some_and(|value| ints.remove(value)),
            Set::Listpack(entries) => match entries.position(member) {
                Some(index) => {
                    entries.remove(index);
                    true
                }
                None => false,
            },
            Set::Table(table) => table.remove(member).is_some(),
        }
    }

    /// Calls `visit` with every member: ascending for an intset, insertion order for a
    /// listpack, table order for a hashtable.
    pub fn for_each_member(&self, mut visit: impl FnMut(&[u8])) {
        match self {
            Set::IntSet(ints) => {
                let mut text = itoa::Buffer::new();
                for value in ints.iter() {
                    visit(text.format(value).as_bytes());
                }
            }
            Set::Listpack(entries) => entries.iter().for_each(visit),
            Set::Table(table) => table.iter().for_each(|(member, ())| visit(member)),
        }
    }

    /// Every member, copied (in [`Set::for_each_member`]'s order).
    pub fn members(&self) -> Vec<Vec<u8>> {
        let mut members = Vec::with_capacity(self.len());
        self.for_each_member(|member| members.push(member.to_vec()));
        members
    }

    /// The member at position `index` of the encoding's order (`index < len()`) for the
    /// compact encodings; a random member for a hashtable (`random` picks it).
    fn pick(&self, index: usize, random: &mut dyn FnMut() -> u64) -> Option<Vec<u8>> {
        match self {
            Set::IntSet(ints) => ints.get(index).map(|value| value.to_string().into_bytes()),
            Set::Listpack(entries) => entries.get(index).map(<[u8]>::to_vec),
            Set::Table(table) => table.random_key(&mut *random).map(<[u8]>::to_vec),
        }
    }

    /// A member chosen at random, `None` when empty.
    pub fn random_member(&self, mut random: impl FnMut() -> u64) -> Option<Vec<u8>> {
        if self.is_empty() {
            return None;
        }
        let index = (random() % self.len() as u64) as usize;
        self.pick(index, &mut random)
    }

    /// Removes and returns a member chosen at random, `None` when empty.
    pub fn pop_random(&mut self, random: impl FnMut() -> u64) -> Option<Vec<u8>> {
        let member = self.random_member(random)?;
        self.remove(&member);
        Some(member)
    }

    /// Continues a scan from `cursor`: the compact encodings return every member at once
    /// with cursor 0; a hashtable scans with Redis's reverse-binary cursor.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8])) -> u64 {
        match self {
            Set::Table(table) => table.scan(cursor, |member, ()| visit(member)),
            _ => {
                self.for_each_member(visit);
                0
            }
        }
    }

    fn convert_to_table(&mut self) {
        let mut table = Table::new();
        self.for_each_member(|member| {
            table.insert(member, ());
        });
        *self = Set::Table(Box::new(table));
    }

    fn convert_to_listpack(&mut self) {
        let mut entries = Listpack::new();
        self.for_each_member(|member| entries.push_back(member));
        *self = Set::Listpack(entries);
    }
}

impl Drop for Set {
    /// A big set's table is freed on the lazyfree thread.
    fn drop(&mut self) {
        if let Set::Table(table) = self {
            let elements = table.len();
            if elements > crate::LAZYFREE_THRESHOLD {
                crate::free_maybe_later(std::mem::take(&mut **table), elements);
            }
        }
    }
}

/// Sorted integers in the narrowest width that holds them all. Layout of the buffer:
/// `[width: u8][value; len]`, values little-endian, each `width` bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct IntSet {
    buffer: ThinBuffer,
}

/// The narrowest width (2, 4 or 8 bytes) that holds `value`.
fn width_of(value: i64) -> usize {
    if i16::try_from(value).is_ok() {
        2
    } else if i32::try_from(value).is_ok() {
        4
    } else {
        8
    }
}

impl IntSet {
    /// An empty intset (16-bit).
    pub fn new() -> IntSet {
        let mut buffer = ThinBuffer::zeroed(1);
        buffer.as_mut_slice()[0] = 2;
        IntSet { buffer }
    }

    fn width(&self) -> usize {
        usize::from(self.buffer.as_slice()[0])
    }

    /// Number of integers.
    pub fn len(&self) -> usize {
        (self.buffer.len() - 1) / self.width()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The integer at `index` in ascending order.
    pub fn get(&self, index: usize) -> Option<i64> {
        (index < self.len()).then(|| self.read(index))
    }

    fn read(&self, index: usize) -> i64 {
        let width = self.width();
        let bytes = &self.buffer.as_slice()[1 + index * width..1 + (index + 1) * width];
        match width {
            2 => i64::from(i16::from_le_bytes([bytes[0], bytes[1]])),
            4 => i64::from(i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
            _ => {
                let mut raw = [0u8; 8];
                raw.copy_from_slice(bytes);
                i64::from_le_bytes(raw)
            }
        }
    }

    fn write(slot: &mut [u8], value: i64) {
        let width = slot.len();
        slot.copy_from_slice(&value.to_le_bytes()[..width]);
    }

    /// Where `value` is (`Ok`) or would go (`Err`).
    fn search(&self, value: i64) -> Result<usize, usize> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let middle = (low + high) / 2;
            match self.read(middle).cmp(&value) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return Ok(middle),
            }
        }
        Err(low)
    }

    /// True when `value` is in the set.
    pub fn contains(&self, value: i64) -> bool {
        width_of(value) <= self.width() && self.search(value).is_ok()
    }

    /// Adds `value`, widening every element first when it needs more bytes; false when
    /// it was already there.
    pub fn insert(&mut self, value: i64) -> bool {
        if width_of(value) > self.width() {
            self.widen(width_of(value));
        }
        let Err(at) = self.search(value) else {
            return false;
        };
        let width = self.width();
        let slot = self.buffer.splice(1 + at * width, 0, width);
        IntSet::write(slot, value);
        true
    }

    fn widen(&mut self, width: usize) {
        let values: Vec<i64> = self.iter().collect();
        let mut buffer = ThinBuffer::zeroed(1 + values.len() * width);
        let bytes = buffer.as_mut_slice();
        bytes[0] = width as u8;
        for (index, value) in values.into_iter().enumerate() {
            IntSet::write(
                &mut bytes[1 + index * width..1 + (index + 1) * width],
                value,
            );
        }
        self.buffer = buffer;
    }

    /// Removes `value`; false when it was not there.
    pub fn remove(&mut self, value: i64) -> bool {
        if width_of(value) > self.width() {
            return false;
        }
        let Ok(at) = self.search(value) else {
            return false;
        };
        let width = self.width();
        self.buffer.splice(1 + at * width, width, 0);
        true
    }

    /// The integers in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = i64> + '_ {
        (0..self.len()).map(|index| self.read(index))
    }

    /// Digits of the longest member as text (Redis's `maxelelen` check when converting
    /// to a listpack).
    fn widest_text(&self) -> usize {
        let digits = |value: i64| itoa::Buffer::new().format(value).len();
        match (self.iter().next(), self.iter().next_back()) {
            (Some(lowest), Some(highest)) => digits(lowest).max(digits(highest)),
            _ => 0,
        }
    }
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> EncodingLimits {
        EncodingLimits::default()
    }

    #[test]
    fn a_set_is_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Set>(), 16);
    }

    #[test]
    fn intsets_widen_and_stay_sorted() {
        let mut ints = IntSet::new();
        for value in [5, -3, 40_000, 7, 5, i64::MIN, 2] {
            ints.insert(value);
        }
        assert_eq!(
            ints.iter().collect::<Vec<_>>(),
            vec![i64::MIN, -3, 2, 5, 7, 40_000]
        );
        assert!(ints.contains(40_000) && !ints.contains(6));
        assert!(ints.remove(i64::MIN) && !ints.remove(i64::MIN));
        assert_eq!(ints.len(), 5);
        assert_eq!(ints.get(0), Some(-3));
    }

    #[test]
    fn conversions_follow_redis() {
        let limits = limits();
        let mut set = Set::new();
        for value in 0..512 {
            set.insert(value.to_string().as_bytes(), &limits);
        }
        assert_eq!(set.encoding_name(), "intset");
        set.insert(b"512", &limits);
        assert_eq!(set.encoding_name(), "hashtable");

        let mut set = Set::new();
        set.insert(b"1", &limits);
        set.insert(b"hello", &limits);
        assert_eq!(set.encoding_name(), "listpack");
        assert!(set.contains(b"1") && set.contains(b"hello") && !set.contains(b"01"));
        for member in 0..126 {
            set.insert(format!("m{member}").as_bytes(), &limits);
        }
        assert_eq!((set.len(), set.encoding_name()), (128, "listpack"));
        set.insert(b"one more", &limits);
        assert_eq!((set.len(), set.encoding_name()), (129, "hashtable"));

        let mut set = Set::new();
        set.insert(b"1", &limits);
        set.insert(&[b'x'; 65], &limits);
        assert_eq!(set.encoding_name(), "hashtable");

        let set = Set::for_members(b"a", 200, &limits);
        assert_eq!(set.encoding_name(), "hashtable");
    }

    #[test]
    fn random_pops_take_every_member_once() {
        let limits = limits();
        for members in [5usize, 300] {
            let mut set = Set::new();
            for member in 0..members {
                set.insert(format!("m{member}").as_bytes(), &limits);
            }
            let mut state = 7u64;
            let mut random = || {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                state >> 11
            };
            let mut seen = std::collections::BTreeSet::new();
            while let Some(member) = set.pop_random(&mut random) {
                assert!(seen.insert(member));
            }
            assert_eq!(seen.len(), members);
        }
    }

    #[test]
    fn scans_of_a_table_cover_every_member() {
        let limits = limits();
        let mut set = Set::new();
        for member in 0..1000 {
            set.insert(format!("m{member}").as_bytes(), &limits);
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut cursor = 0;
        loop {
            cursor = set.scan(cursor, |member| {
                seen.insert(member.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
    }
}
