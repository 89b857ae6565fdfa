//! A compact sequence of byte strings in one contiguous buffer.
//!
//! Layout (all small encodings of lists, hashes, sets and sorted sets use it):
//!
//! ```text
//! [count: u32 LE] [entry] [entry] ...
//! entry = [len: varint] [bytes; len] [len: reverse varint]
//! ```
//!
//! The length is written before the bytes (for forward walks) and after them (for
//! backward walks), so both ends are O(1) and a walk from either end never decodes
//! more than it visits. An entry shorter than 128 bytes costs 2 bytes of overhead. The
//! buffer (a [`ThinBuffer`]: one pointer inline) grows by exactly what an insert needs,
//! as Redis's listpack reallocates, so a small collection uses about its payload in
//! memory.

use super::thin_buffer::ThinBuffer;
use std::fmt;

const HEADER: usize = 4;

/// A compact sequence of byte strings. See the module documentation for the layout.
/// Eight bytes inline: the buffer is a [`ThinBuffer`].
#[derive(Clone, PartialEq, Eq)]
pub struct Listpack {
    buffer: ThinBuffer,
}

impl Default for Listpack {
    fn default() -> Self {
        Listpack::new()
    }
}

impl fmt::Debug for Listpack {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

fn varint_len(value: usize) -> usize {
    let mut length = 1;
    let mut rest = value >> 7;
    while rest != 0 {
        length += 1;
        rest >>= 7;
    }
    length
}

fn write_varint(out: &mut [u8], mut value: usize) {
    let last = out.len() - 1;
    for (index, byte) in out.iter_mut().enumerate() {
        let more = if index == last { 0 } else { 0x80 };
        *byte = (value & 0x7f) as u8 | more;
        value >>= 7;
    }
}

/// Reads a varint forwards from `buffer[at..]`: (value, bytes used).
fn read_varint(buffer: &[u8], at: usize) -> (usize, usize) {
    let mut value = 0usize;
    let mut shift = 0;
    let mut used = 0;
    loop {
        let byte = buffer[at + used];
        value |= usize::from(byte & 0x7f) << shift;
        used += 1;
        if byte & 0x80 == 0 {
            return (value, used);
        }
        shift += 7;
    }
}

/// Writes `value` so that it reads backwards from its last byte.
fn write_reverse_varint(out: &mut [u8], mut value: usize) {
    let last = out.len() - 1;
    for index in 0..out.len() {
        let more = if index == last { 0 } else { 0x80 };
        out[last - index] = (value & 0x7f) as u8 | more;
        value >>= 7;
    }
}

/// Reads a reverse varint that ends just before `end`: (value, bytes used).
fn read_reverse_varint(buffer: &[u8], end: usize) -> (usize, usize) {
    let mut value = 0usize;
    let mut shift = 0;
    let mut used = 0;
    loop {
        let byte = buffer[end - 1 - used];
        value |= usize::from(byte & 0x7f) << shift;
        used += 1;
        if byte & 0x80 == 0 {
            return (value, used);
        }
        shift += 7;
    }
}

/// The encoded size of an entry holding `len` bytes.
fn entry_size(len: usize) -> usize {
    2 * varint_len(len) + len
}

impl Listpack {
    /// An empty listpack.
    pub fn new() -> Listpack {
        Listpack {
            buffer: ThinBuffer::zeroed(HEADER),
        }
    }

    /// Where the encoded entries start, for prefetching.
    pub(crate) fn address(&self) -> *const u8 {
        self.buffer.address()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        let bytes = self.buffer.as_slice();
        u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes used by the encoding (what Redis's listpack size limits measure).
    pub fn encoded_bytes(&self) -> usize {
        self.buffer.len()
    }

    fn set_len(&mut self, len: usize) {
        self.buffer.as_mut_slice()[..HEADER].copy_from_slice(&(len as u32).to_le_bytes());
    }

    /// The entries, front to back (reversible).
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            buffer: self.buffer.as_slice(),
            front: HEADER,
            back: self.buffer.len(),
            remaining: self.len(),
        }
    }

    /// The entry at `index`, walking from the nearer end.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let len = self.len();
        if index >= len {
            return None;
        }
        if index <= len / 2 {
            self.iter().nth(index)
        } else {
            self.iter().nth_back(len - 1 - index)
        }
    }

    /// The first entry.
    pub fn first(&self) -> Option<&[u8]> {
        self.iter().next()
    }

    /// The last entry.
    pub fn last(&self) -> Option<&[u8]> {
        self.iter().next_back()
    }

    /// Byte offset of entry `index` (`len()` gives the end of the buffer).
    fn offset_of(&self, index: usize) -> usize {
        let len = self.len();
        if index >= len {
            return self.buffer.len();
        }
        if index <= len / 2 {
            let mut at = HEADER;
            for _ in 0..index {
                let (size, used) = read_varint(self.buffer.as_slice(), at);
                at += used + size + varint_len(size);
            }
            at
        } else {
            let mut end = self.buffer.len();
            for _ in 0..(len - index) {
                let (size, used) = read_reverse_varint(self.buffer.as_slice(), end);
                end -= used + size + varint_len(size);
            }
            end
        }
    }

    /// Size in bytes of the entry starting at `at`.
    fn size_at(&self, at: usize) -> usize {
        let (size, _) = read_varint(self.buffer.as_slice(), at);
        entry_size(size)
    }

    fn encode_at(&mut self, at: usize, bytes: &[u8]) {
        let prefix = varint_len(bytes.len());
        let buffer = self.buffer.as_mut_slice();
        write_varint(&mut buffer[at..at + prefix], bytes.len());
        buffer[at + prefix..at + prefix + bytes.len()].copy_from_slice(bytes);
        let suffix_start = at + prefix + bytes.len();
        write_reverse_varint(
            &mut buffer[suffix_start..suffix_start + prefix],
            bytes.len(),
        );
    }

    /// Inserts `bytes` so that it becomes entry `index` (`index <= len()`).
    pub fn insert(&mut self, index: usize, bytes: &[u8]) {
        let at = self.offset_of(index.min(self.len()));
        let size = entry_size(bytes.len());
        self.buffer.splice(at, 0, size);
        self.encode_at(at, bytes);
        self.set_len(self.len() + 1);
    }

    /// Appends `bytes` at the back.
    pub fn push_back(&mut self, bytes: &[u8]) {
        let at = self.buffer.len();
        let size = entry_size(bytes.len());
        self.buffer.splice(at, 0, size);
        self.encode_at(at, bytes);
        self.set_len(self.len() + 1);
    }

    /// Prepends `bytes` at the front.
    pub fn push_front(&mut self, bytes: &[u8]) {
        self.insert(0, bytes);
    }

    /// Removes `count` entries starting at `index` (clamped to the end).
    pub fn remove_range(&mut self, index: usize, count: usize) {
        let len = self.len();
        if index >= len || count == 0 {
            return;
        }
        let count = count.min(len - index);
        let start = self.offset_of(index);
        let end = self.offset_of(index + count);
        self.buffer.splice(start, end - start, 0);
        self.set_len(len - count);
    }

    /// Removes entry `index`.
    pub fn remove(&mut self, index: usize) {
        self.remove_range(index, 1);
    }

    /// Replaces entry `index` with `bytes`.
    pub fn replace(&mut self, index: usize, bytes: &[u8]) {
        if index >= self.len() {
            return;
        }
        let at = self.offset_of(index);
        let old = self.size_at(at);
        let new = entry_size(bytes.len());
        self.buffer.splice(at, old, new);
        self.encode_at(at, bytes);
    }

    /// Removes and returns the first entry.
    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let value = self.first()?.to_vec();
        self.remove(0);
        Some(value)
    }

    /// Removes and returns the last entry.
    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let value = self.last()?.to_vec();
        self.remove(self.len() - 1);
        Some(value)
    }

    /// Index of the first entry equal to `bytes`.
    pub fn position(&self, bytes: &[u8]) -> Option<usize> {
        self.iter().position(|entry| entry == bytes)
    }

    /// Appends every entry of `other` (both encodings are the same, so this is a copy).
    pub fn append(&mut self, other: &Listpack) {
        self.buffer
            .extend_from_slice(&other.buffer.as_slice()[HEADER..]);
        self.set_len(self.len() + other.len());
    }
}

/// An iterator over a listpack's entries, usable from both ends.
#[derive(Clone)]
pub struct Iter<'a> {
    buffer: &'a [u8],
    front: usize,
    back: usize,
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let (size, used) = read_varint(self.buffer, self.front);
        let start = self.front + used;
        self.front = start + size + used;
        self.remaining -= 1;
        Some(&self.buffer[start..start + size])
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
        let (size, used) = read_reverse_varint(self.buffer, self.back);
        let end = self.back - used;
        self.back = end - size - used;
        self.remaining -= 1;
        Some(&self.buffer[end - size..end])
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(listpack: &Listpack) -> Vec<Vec<u8>> {
        listpack.iter().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn pushes_pops_and_walks_both_ways() {
        let mut listpack = Listpack::new();
        let long = vec![b'x'; 300];
        listpack.push_back(b"b");
        listpack.push_front(b"a");
        listpack.push_back(&long);
        listpack.push_back(b"");
        assert_eq!(listpack.len(), 4);
        assert_eq!(
            collect(&listpack),
            vec![b"a".to_vec(), b"b".to_vec(), long.clone(), Vec::new()]
        );
        let backwards: Vec<&[u8]> = listpack.iter().rev().collect();
        assert_eq!(backwards, vec![&b""[..], &long[..], b"b", b"a"]);
        assert_eq!(listpack.get(2), Some(&long[..]));
        assert_eq!(listpack.get(3), Some(&b""[..]));
        assert_eq!(listpack.get(4), None);
        assert_eq!(listpack.pop_back(), Some(Vec::new()));
        assert_eq!(listpack.pop_front(), Some(b"a".to_vec()));
        assert_eq!(collect(&listpack), vec![b"b".to_vec(), long]);
    }

    #[test]
    fn insert_replace_remove_in_the_middle() {
        let mut listpack = Listpack::new();
        for entry in ["a", "b", "c", "d", "e"] {
            listpack.push_back(entry.as_bytes());
        }
        listpack.insert(3, b"X");
        listpack.replace(1, &[b'y'; 200]);
        listpack.replace(0, b"");
        listpack.remove_range(4, 1);
        let entries = collect(&listpack);
        assert_eq!(
            entries,
            vec![
                b"".to_vec(),
                vec![b'y'; 200],
                b"c".to_vec(),
                b"X".to_vec(),
                b"e".to_vec()
            ]
        );
        assert_eq!(listpack.position(b"X"), Some(3));
        listpack.remove_range(1, 100);
        assert_eq!(collect(&listpack), vec![b"".to_vec()]);
        let mut other = Listpack::new();
        other.push_back(b"z");
        listpack.append(&other);
        assert_eq!(listpack.last(), Some(&b"z"[..]));
        assert_eq!(listpack.len(), 2);
    }

    #[test]
    fn random_operations_match_a_vector_model() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        let mut listpack = Listpack::new();
        let mut model: Vec<Vec<u8>> = Vec::new();
        for step in 0..4000 {
            let entry = vec![(step % 251) as u8; next(300)];
            match next(6) {
                0 => {
                    listpack.push_back(&entry);
                    model.push(entry);
                }
                1 => {
                    listpack.push_front(&entry);
                    model.insert(0, entry);
                }
                2 => {
                    let at = next(model.len() + 1);
                    listpack.insert(at, &entry);
                    model.insert(at, entry);
                }
                3 if !model.is_empty() => {
                    let at = next(model.len());
                    listpack.replace(at, &entry);
                    model[at] = entry;
                }
                4 if !model.is_empty() => {
                    let at = next(model.len());
                    let count = next(4);
                    listpack.remove_range(at, count);
                    model.drain(at..(at + count).min(model.len()));
                }
                _ => {
                    assert_eq!(listpack.pop_back(), model.pop());
                }
            }
            assert_eq!(listpack.len(), model.len());
        }
        assert_eq!(collect(&listpack), model);
        let backwards: Vec<Vec<u8>> = listpack.iter().rev().map(<[u8]>::to_vec).collect();
        assert_eq!(backwards, model.iter().rev().cloned().collect::<Vec<_>>());
    }

    #[test]
    fn small_entries_cost_two_bytes_of_overhead() {
        let mut listpack = Listpack::new();
        listpack.push_back(b"hello");
        assert_eq!(listpack.encoded_bytes(), HEADER + 7);
    }
}
