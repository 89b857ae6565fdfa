//! The hash table under each database: chained buckets, incremental rehash, stable scan.
//!
//! The layout follows Redis's dict: a power-of-two bucket array of singly linked nodes and,
//! while resizing, a second array that entries move into a few buckets per operation. A
//! node is exactly 64 bytes (next pointer, key, value, packed metadata), one allocation per
//! key, with short keys and values inline.

use crate::{CompactBytes, Entry};

/// Buckets visited at most (empty ones included) by one rehash step.
const EMPTY_VISITS_PER_STEP: usize = 10;
const INITIAL_SIZE: usize = 4;

struct Node<V> {
    next: Option<Box<Node<V>>>,
    key: CompactBytes,
    entry: V,
}

type Bucket<V> = Option<Box<Node<V>>>;

/// The bytes one key costs the table besides its key's and value's own heap: its node
/// and (at a load factor of one) a bucket pointer.
pub const KEY_SLOT_BYTES: usize =
    std::mem::size_of::<Node<Entry>>() + std::mem::size_of::<Bucket<Entry>>();

/// Keys whose hashes [`Table::prefetch`] keeps at once.
const PREFETCH_BATCH: usize = 16;

/// One step of a lookup, as [`Table::prefetch`] loads it.
#[derive(Clone, Copy)]
enum Reach {
    /// The bucket slot.
    Bucket,
    /// The first entry the bucket slot points to.
    Entry,
    /// The second entry of the bucket's chain, and the first entry's value block.
    Chain,
    /// The block behind the first entry's value block.
    Contents,
}

/// Starts loading the cache line at `address` into every cache level.
#[inline]
fn prefetch_line(address: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint to the CPU: it never faults, whatever the address, and
    // reads nothing into the program.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(address.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

/// A hash table from byte-string keys to `V` (a database's [`Entry`], or a collection's
/// member data) that resizes incrementally and scans with a stable cursor.
pub struct Table<V = Entry> {
    /// `[0]` is the main array; `[1]` is the rehash target, empty when not rehashing.
    buckets: [Vec<Bucket<V>>; 2],
    used: [usize; 2],
    /// Next bucket of `buckets[0]` to move while rehashing.
    rehash_index: usize,
    hasher: ahash::RandomState,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table::new()
    }
}

impl<V> Table<V> {
    /// An empty table (allocates on first insert).
    pub fn new() -> Table<V> {
        Table {
            buckets: [Vec::new(), Vec::new()],
            used: [0, 0],
            rehash_index: 0,
            hasher: ahash::RandomState::with_seeds(
                0x243f_6a88_85a3_08d3,
                0x1319_8a2e_0370_7344,
                0xa409_3822_299f_31d0,
                0x082e_fa98_ec4e_6c89,
            ),
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.used[0] + self.used[1]
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_rehashing(&self) -> bool {
        !self.buckets[1].is_empty()
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The entry under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        let hash = self.hash(key);
        for side in 0..2 {
            let buckets = &self.buckets[side];
            if buckets.is_empty() {
                continue;
            }
            let mut node = buckets[(hash as usize) & (buckets.len() - 1)].as_deref();
            while let Some(current) = node {
                if current.key.as_slice() == key {
                    return Some(&current.entry);
                }
                node = current.next.as_deref();
            }
        }
        None
    }

    /// The entry under `key`, mutable. Performs one rehash step.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.rehash_step();
        let hash = self.hash(key);
        let side = if self.is_rehashing() {
            self.side_of(key, hash)?
        } else {
            0
        };
        let buckets = &mut self.buckets[side];
        if buckets.is_empty() {
            return None;
        }
        let mask = buckets.len() - 1;
        let mut node = buckets[(hash as usize) & mask].as_deref_mut();
        while let Some(current) = node {
            if current.key.as_slice() == key {
                return Some(&mut current.entry);
            }
            node = current.next.as_deref_mut();
        }
        None
    }

    fn side_of(&self, key: &[u8], hash: u64) -> Option<usize> {
        (0..2).find(|&side| {
            let buckets = &self.buckets[side];
            if buckets.is_empty() {
                return false;
            }
            let mut node = buckets[(hash as usize) & (buckets.len() - 1)].as_deref();
            while let Some(current) = node {
                if current.key.as_slice() == key {
                    return true;
                }
                node = current.next.as_deref();
            }
            false
        })
    }

    /// The entry under `key`, inserted from `make` first when absent. Performs one rehash
    /// step. Returns the entry and whether it was inserted.
    pub fn get_or_insert_with(&mut self, key: &[u8], make: impl FnOnce() -> V) -> (&mut V, bool) {
        self.rehash_step();
        let hash = self.hash(key);
        let Some(side) = self.side_of(key, hash) else {
            self.grow_if_needed();
            let side = usize::from(self.is_rehashing());
            let buckets = &mut self.buckets[side];
            let index = (hash as usize) & (buckets.len() - 1);
            let next = buckets[index].take();
            self.used[side] += 1;
            let node = buckets[index].insert(Box::new(Node {
                next,
                key: CompactBytes::new(key),
                entry: make(),
            }));
            return (&mut node.entry, true);
        };
        let buckets = &mut self.buckets[side];
        let mask = buckets.len() - 1;
        let mut node = buckets[(hash as usize) & mask].as_deref_mut();
        while let Some(current) = node {
            if current.key.as_slice() == key {
                return (&mut current.entry, false);
            }
            node = current.next.as_deref_mut();
        }
        unreachable!("side_of found the key on this side")
    }

    /// Inserts or replaces the entry under `key`, returning the previous one.
    pub fn insert(&mut self, key: &[u8], entry: V) -> Option<V> {
        if let Some(existing) = self.get_mut(key) {
            return Some(std::mem::replace(existing, entry));
        }
        self.grow_if_needed();
        let side = usize::from(self.is_rehashing());
        let hash = self.hash(key);
        let buckets = &mut self.buckets[side];
        let index = (hash as usize) & (buckets.len() - 1);
        let next = buckets[index].take();
        buckets[index] = Some(Box::new(Node {
            next,
            key: CompactBytes::new(key),
            entry,
        }));
        self.used[side] += 1;
        None
    }

    /// Removes `key`, returning its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        self.rehash_step();
        let hash = self.hash(key);
        for side in 0..2 {
            let buckets = &mut self.buckets[side];
            if buckets.is_empty() {
                continue;
            }
            let index = (hash as usize) & (buckets.len() - 1);
            let mut link = &mut buckets[index];
            loop {
                match link {
                    None => break,
                    Some(node) if node.key.as_slice() == key => {
                        let mut removed = link.take()?;
                        *link = removed.next.take();
                        self.used[side] -= 1;
                        self.shrink_if_sparse();
                        return Some(removed.entry);
                    }
                    Some(node) => link = &mut node.next,
                }
            }
        }
        None
    }

    /// Makes room for about `keys` keys at once (as Redis sizes a dict from an RDB's size
    /// hint): an empty table gets its final size; a smaller one starts growing to it.
    pub fn reserve(&mut self, keys: usize) {
        let size = keys.next_power_of_two().max(INITIAL_SIZE);
        if self.is_rehashing() || size <= self.buckets[0].len() {
            return;
        }
        if self.is_empty() {
            self.buckets[0] = empty_buckets(size);
        } else {
            self.start_resize(size);
        }
    }

    fn grow_if_needed(&mut self) {
        if self.is_rehashing() {
            return;
        }
        if self.buckets[0].is_empty() {
            self.buckets[0] = empty_buckets(INITIAL_SIZE);
            return;
        }
        if self.used[0] >= self.buckets[0].len() {
            self.start_resize((self.used[0] + 1).next_power_of_two());
        }
    }

    fn shrink_if_sparse(&mut self) {
        let size = self.buckets[0].len();
        if !self.is_rehashing() && size > INITIAL_SIZE && self.used[0] * 8 < size {
            self.start_resize(self.used[0].next_power_of_two().max(INITIAL_SIZE));
        }
    }

    fn start_resize(&mut self, size: usize) {
        self.buckets[1] = empty_buckets(size);
        self.rehash_index = 0;
    }

    /// Moves at most one non-empty bucket (visiting at most a few empty ones) into the new
    /// array. Returns true while rehashing is still in progress.
    pub fn rehash_step(&mut self) -> bool {
        if !self.is_rehashing() {
            return false;
        }
        let mut empty_visits = EMPTY_VISITS_PER_STEP;
        while self.rehash_index < self.buckets[0].len() {
            let Some(mut chain) = self.buckets[0][self.rehash_index].take() else {
                self.rehash_index += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    return true;
                }
                continue;
            };
            let mask = self.buckets[1].len() - 1;
            loop {
                let next = chain.next.take();
                let index = (self.hash(&chain.key) as usize) & mask;
                chain.next = self.buckets[1][index].take();
                self.buckets[1][index] = Some(chain);
                self.used[0] -= 1;
                self.used[1] += 1;
                match next {
                    Some(node) => chain = node,
                    None => break,
                }
            }
            self.rehash_index += 1;
            break;
        }
        if self.rehash_index >= self.buckets[0].len() {
            let grown = std::mem::take(&mut self.buckets[1]);
            let moved_out = std::mem::replace(&mut self.buckets[0], grown);
            free_emptied(moved_out);
            self.used[0] = self.used[1];
            self.used[1] = 0;
            self.rehash_index = 0;
            return false;
        }
        true
    }

    /// Visits a part of the table starting at `cursor` and returns the cursor to continue
    /// from (0 when done). A full scan visits every key present from its start to its end
    /// at least once, even while the table grows or shrinks (Redis's reverse-binary cursor).
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], &V)) -> u64 {
        let (steps, next) = self.scan_steps(cursor);
        for (table, bucket) in steps.iter() {
            let mut node = self.buckets[table][bucket].as_deref();
            while let Some(current) = node {
                visit(&current.key, &current.entry);
                node = current.next.as_deref();
            }
        }
        next
    }

    /// As [`Table::scan`], with mutable access to the values (no entry is added or
    /// removed, so the cursor's guarantees hold).
    pub fn scan_mut(&mut self, cursor: u64, mut visit: impl FnMut(&[u8], &mut V)) -> u64 {
        let (steps, next) = self.scan_steps(cursor);
        for (table, bucket) in steps.iter() {
            let mut node = self.buckets[table][bucket].as_deref_mut();
            while let Some(current) = node {
                visit(&current.key, &mut current.entry);
                node = current.next.as_deref_mut();
            }
        }
        next
    }

    /// The buckets (table, index) one SCAN step from `cursor` visits, and the next cursor:
    /// Redis's reverse-binary cursor, which covers every bucket of the smaller table and
    /// its expansions in the larger one while a resize is in progress.
    fn scan_steps(&self, cursor: u64) -> (ScanSteps, u64) {
        if self.is_empty() {
            return (ScanSteps::Many(Vec::new()), 0);
        }
        let mut cursor = cursor;
        if !self.is_rehashing() {
            let mask = (self.buckets[0].len() - 1) as u64;
            let step = (0, (cursor & mask) as usize);
            cursor |= !mask;
            cursor = cursor.reverse_bits().wrapping_add(1).reverse_bits();
            return (ScanSteps::One(step), cursor);
        }
        let mut steps = Vec::new();
        {
            let (small, large) = if self.buckets[0].len() <= self.buckets[1].len() {
                (0, 1)
            } else {
                (1, 0)
            };
            let small_mask = (self.buckets[small].len() - 1) as u64;
            let large_mask = (self.buckets[large].len() - 1) as u64;
            steps.push((small, (cursor & small_mask) as usize));
            loop {
                steps.push((large, (cursor & large_mask) as usize));
                cursor |= !large_mask;
                cursor = cursor.reverse_bits().wrapping_add(1).reverse_bits();
                if cursor & (small_mask ^ large_mask) == 0 {
                    break;
                }
            }
        }
        (ScanSteps::Many(steps), cursor)
    }

    /// A key chosen at random (roughly uniformly), or `None` when empty. `random` supplies
    /// random numbers.
    pub fn random_key(&self, mut random: impl FnMut() -> u64) -> Option<&[u8]> {
        if self.is_empty() {
            return None;
        }
        loop {
            let side = if self.is_rehashing() && random() % 2 == 1 {
                1
            } else {
                0
            };
            let buckets = &self.buckets[side];
            if buckets.is_empty() {
                continue;
            }
            let index = (random() as usize) & (buckets.len() - 1);
            let mut chain_length = 0;
            let mut node = buckets[index].as_deref();
            while let Some(current) = node {
                chain_length += 1;
                node = current.next.as_deref();
            }
            if chain_length == 0 {
                continue;
            }
            let mut pick = (random() as usize) % chain_length;
            let mut node = buckets[index].as_deref();
            while let Some(current) = node {
                if pick == 0 {
                    return Some(&current.key);
                }
                pick -= 1;
                node = current.next.as_deref();
            }
        }
    }

    /// Removes up to `max_buckets` buckets' worth of entries and drops them; used to free a
    /// detached table in the background without a long pause. Returns true when empty.
    pub fn drop_some(&mut self, max_buckets: usize) -> bool {
        let mut budget = max_buckets;
        for side in 0..2 {
            while let Some(mut bucket) = self.buckets[side].pop() {
                while let Some(mut node) = bucket {
                    bucket = node.next.take();
                    self.used[side] = self.used[side].saturating_sub(1);
                }
                budget = budget.saturating_sub(1);
                if budget == 0 {
                    return self.buckets.iter().all(Vec::is_empty);
                }
            }
        }
        for side in 0..2 {
            free_emptied(std::mem::take(&mut self.buckets[side]));
        }
        true
    }
}

/// A table value that [`Table::prefetch`] follows past its entry.
pub trait Prefetch {
    /// The heap block a command reads first, found in the value itself.
    fn heap_address(&self) -> Option<*const u8>;
    /// The block a command reads next, found in the [`Prefetch::heap_address`] block.
    fn contents_address(&self) -> Option<*const u8>;
}

impl<V: Prefetch> Table<V> {
    /// Asks the CPU to start loading what lookups of `keys` and the commands on their
    /// values will read: each key's bucket, the first entry of its chain, then the second
    /// (which a third of hits at full load need) together with the first entry's value
    /// block, then what that block points to (a raw string's bytes), so that a batch of
    /// commands overlaps its keys' cache misses instead of paying them one lookup after
    /// another. A hint only: nothing observable changes. A key repeating the one before it
    /// is skipped (a pipeline on one key).
    pub fn prefetch<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) {
        let mut hashes = [0u64; PREFETCH_BATCH];
        let mut count = 0;
        let mut previous: Option<&[u8]> = None;
        for key in keys {
            if previous == Some(key) {
                continue;
            }
            previous = Some(key);
            hashes[count] = self.hash(key);
            count += 1;
            if count == PREFETCH_BATCH {
                self.prefetch_hashes(&hashes);
                count = 0;
            }
        }
        self.prefetch_hashes(&hashes[..count]);
    }

    /// One pass per step of a lookup over every hash, so that each pass reads what the
    /// previous one started loading, by then (mostly) arrived. The last pass runs only
    /// when some value has a block behind its first.
    fn prefetch_hashes(&self, hashes: &[u64]) {
        let mut deep = false;
        for reach in [Reach::Bucket, Reach::Entry, Reach::Chain, Reach::Contents] {
            if matches!(reach, Reach::Contents) && !deep {
                return;
            }
            for &hash in hashes {
                for buckets in &self.buckets {
                    if buckets.is_empty() {
                        continue;
                    }
                    let bucket = &buckets[(hash as usize) & (buckets.len() - 1)];
                    match reach {
                        Reach::Bucket => prefetch_line(std::ptr::from_ref(bucket).cast()),
                        Reach::Entry => {
                            if let Some(node) = bucket.as_deref() {
                                prefetch_line(std::ptr::from_ref(node).cast());
                            }
                        }
                        Reach::Chain => {
                            let Some(node) = bucket.as_deref() else {
                                continue;
                            };
                            if let Some(next) = node.next.as_deref() {
                                prefetch_line(std::ptr::from_ref(next).cast());
                            }
                            if let Some(block) = node.entry.heap_address() {
                                prefetch_line(block);
                                deep = true;
                            }
                        }
                        Reach::Contents => {
                            let block = bucket
                                .as_deref()
                                .and_then(|node| node.entry.contents_address());
                            if let Some(block) = block {
                                prefetch_line(block);
                            }
                        }
                    }
                }
            }
        }
    }
}

impl<V> Table<V> {
    /// Every key and value, in bucket order (no particular order for the caller).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.buckets.iter().flatten().flat_map(|bucket| {
            let mut node = bucket.as_deref();
            std::iter::from_fn(move || {
                let current = node?;
                node = current.next.as_deref();
                Some((current.key.as_slice(), &current.entry))
            })
        })
    }

    /// The value under `key`, inserted as `value` when absent; true when inserted.
    pub fn insert_if_absent(&mut self, key: &[u8], value: V) -> bool {
        self.get_or_insert_with(key, || value).1
    }
}

impl<V: Clone> Clone for Table<V> {
    fn clone(&self) -> Self {
        let mut copy = Table::new();
        for (key, value) in self.iter() {
            copy.insert(key, value.clone());
        }
        copy
    }
}

impl<V: PartialEq> PartialEq for Table<V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(key, value)| other.get(key) == Some(value))
    }
}

impl<V: std::fmt::Debug> std::fmt::Debug for Table<V> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_map()
            .entries(
                self.iter()
                    .map(|(key, value)| (String::from_utf8_lossy(key), value)),
            )
            .finish()
    }
}

impl<V> Drop for Table<V> {
    fn drop(&mut self) {
        // Unlink chains iteratively so a long chain cannot overflow the stack.
        while !self.drop_some(usize::MAX) {}
    }
}

/// A bucket array of `size` empty buckets, allocated zeroed: a big array then comes
/// straight from fresh (already zero) pages, so growing a 10M-key table does not write
/// its new 128 MiB array in one go; the pages are touched as rehashing reaches them.
fn empty_buckets<V>(size: usize) -> Vec<Bucket<V>> {
    let Ok(layout) = std::alloc::Layout::array::<Bucket<V>>(size) else {
        panic!("a table of {size} buckets exceeds the address space");
    };
    if layout.size() == 0 {
        return Vec::new();
    }
    // SAFETY: the layout has a non-zero size; `None` of `Option<Box<_>>` is the null
    // pointer (guaranteed by the null-pointer optimization), so zeroed memory holds
    // `size` initialized empty buckets; the vector takes ownership of the allocation it
    // was made with, with capacity and length `size`.
    unsafe {
        let raw = std::alloc::alloc_zeroed(layout).cast::<Bucket<V>>();
        if raw.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        Vec::from_raw_parts(raw, size, size)
    }
}

/// Bucket arrays at least this big give their pages back to the kernel when freed.
const RELEASE_PAGES_FROM: usize = 256 * 1024;

/// Frees a bucket array whose buckets are all empty (moved out by a finished rehash, or
/// popped by [`Table::drop_some`]). The allocator keeps freed pages of a big block for
/// seconds before returning them, and cannot reuse them for the small blocks keys live in
/// (a growing table freed its 4, 2, 1 … MiB arrays: 8 MiB of RSS beyond what the data uses
/// after loading 1M keys), so a big array's pages go back to the kernel at once.
fn free_emptied<V>(mut buckets: Vec<Bucket<V>>) {
    debug_assert!(buckets.iter().all(Option::is_none));
    let bytes = buckets.capacity() * std::mem::size_of::<Bucket<V>>();
    if bytes < RELEASE_PAGES_FROM {
        return;
    }
    // SAFETY: shortening the length only forgets elements; they are all `None` (nothing to
    // drop), and the vector then drops without reading its buckets.
    unsafe { buckets.set_len(0) };
    let start = buckets.as_mut_ptr().cast::<u8>();
    let page = page_size();
    let first_page = start.align_offset(page);
    let whole_pages = (bytes.saturating_sub(first_page) / page) * page;
    if whole_pages > 0 {
        // SAFETY: the range lies inside the array's own allocation, whole pages of private
        // anonymous heap memory that nothing reads again before the allocator reuses it:
        // MADV_DONTNEED drops the pages, and a later touch maps zero pages, which is
        // valid content for memory the allocator hands out uninitialized.
        unsafe {
            libc::madvise(
                start.add(first_page).cast(),
                whole_pages,
                libc::MADV_DONTNEED,
            );
        }
    }
}

/// The kernel's page size.
fn page_size() -> usize {
    // SAFETY: sysconf reads a constant of the system; it has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096).max(1)
}

/// The buckets one SCAN step visits: one bucket unless a resize is in progress (no
/// allocation on the common path).
enum ScanSteps {
    One((usize, usize)),
    Many(Vec<(usize, usize)>),
}

impl ScanSteps {
    fn iter(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let (one, many) = match self {
            ScanSteps::One(step) => (Some(*step), &[][..]),
            ScanSteps::Many(steps) => (None, steps.as_slice()),
        };
        one.into_iter().chain(many.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;
    use std::collections::{HashMap, HashSet};

    fn entry(value: i64) -> Entry {
        Entry::new(Value::Int(value), 0)
    }

    #[test]
    fn node_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Node<Entry>>(), 64);
    }

    #[test]
    fn prefetching_changes_nothing_empty_growing_or_full() {
        let mut table: Table<Entry> = Table::new();
        table.prefetch([&b"absent"[..], b"absent", b"other"]);
        let keys: Vec<String> = (0..1000).map(|index| format!("key:{index}")).collect();
        for (index, key) in keys.iter().enumerate() {
            // Half-way through growth a key may sit on either side: both are reached.
            table.prefetch(keys.iter().take(40).map(|key| key.as_bytes()));
            table.insert(key.as_bytes(), entry(index as i64));
        }
        table.prefetch(keys.iter().map(|key| key.as_bytes()));
        assert_eq!(table.len(), 1000);
        assert!(keys.iter().all(|key| table.get(key.as_bytes()).is_some()));
    }

    #[test]
    fn prefetching_follows_every_kind_of_value() {
        use crate::collections::{End, Hash, List, Set, SortedSet};
        let mut list = List::new();
        list.push(End::Back, &[b"element"], &crate::EncodingLimits::default());
        let values = [
            Value::Int(7),
            Value::Embedded(CompactBytes::new(b"short")),
            Value::Raw(Box::default()),
            Value::Raw(Box::new(vec![1; 300])),
            Value::List(Box::new(list)),
            Value::List(Box::default()),
            Value::Hash(Hash::default()),
            Value::Set(Set::default()),
            Value::SortedSet(SortedSet::default()),
            Value::Stream(Box::default()),
        ];
        let mut table: Table<Entry> = Table::new();
        for (index, value) in values.iter().enumerate() {
            table.insert(
                format!("key:{index}").as_bytes(),
                Entry::new(value.clone(), 0),
            );
        }
        let keys: Vec<String> = (0..values.len() + 2)
            .map(|index| format!("key:{index}"))
            .collect();
        table.prefetch(keys.iter().map(|key| key.as_bytes()));
        for (index, value) in values.iter().enumerate() {
            let entry = table.get(format!("key:{index}").as_bytes());
            assert_eq!(entry.map(|entry| &entry.value), Some(value));
        }
    }

    #[test]
    fn behaves_like_a_hash_map_through_growth_and_shrink() {
        let mut table = Table::new();
        let mut model = HashMap::new();
        let mut state = 7u64;
        for _ in 0..20_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let key = format!("k{}", (state >> 33) % 3000).into_bytes();
            match (state >> 20) % 3 {
                0 | 1 => {
                    let value = (state >> 40) as i64;
                    assert_eq!(
                        table.insert(&key, entry(value)),
                        model.insert(key, entry(value))
                    );
                }
                _ => assert_eq!(table.remove(&key), model.remove(&key)),
            }
            assert_eq!(table.len(), model.len());
        }
        for (key, value) in &model {
            assert_eq!(table.get(key), Some(value));
        }
        let keys: Vec<_> = model.keys().cloned().collect();
        for key in keys {
            assert!(table.remove(&key).is_some());
        }
        assert!(table.is_empty());
    }

    #[test]
    fn arrays_released_by_resizing_leave_every_entry_intact() {
        // Arrays of RELEASE_PAGES_FROM bytes and more have their pages dropped when freed:
        // a range reaching past the array would zero live entries or allocator state.
        let key = |index: u32| format!("key:{index:09}").into_bytes();
        let mut table = Table::new();
        for round in 0..2 {
            for index in 0..300_000 {
                table.insert(&key(index), u64::from(index) + round);
            }
            for index in 10_000..300_000 {
                assert_eq!(table.remove(&key(index)), Some(u64::from(index) + round));
            }
            for _ in 0..100_000 {
                table.rehash_step();
            }
            for index in 0..10_000 {
                assert_eq!(table.get(&key(index)), Some(&(u64::from(index) + round)));
            }
        }
        assert!(table.drop_some(usize::MAX));
        assert!(table.is_empty());
    }

    #[test]
    fn full_scan_sees_every_key_present_throughout_while_resizing() {
        let mut table = Table::new();
        for index in 0..1000 {
            table.insert(format!("stable{index}").as_bytes(), entry(index));
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = table.scan(cursor, |key, _| {
                seen.insert(key.to_vec());
            });
            // Grow the table to several times its size mid-scan, then shrink it again.
            if round < 40 {
                for extra in 0..100 {
                    table.insert(format!("churn{round}-{extra}").as_bytes(), entry(0));
                }
            } else if round < 80 {
                for extra in 0..100 {
                    table.remove(format!("churn{}-{extra}", round - 40).as_bytes());
                }
            }
            round += 1;
            if cursor == 0 {
                break;
            }
        }
        for index in 0..1000 {
            assert!(
                seen.contains(format!("stable{index}").as_bytes()),
                "missing stable{index}"
            );
        }
    }

    #[test]
    fn random_key_returns_present_keys() {
        let mut table = Table::new();
        assert!(table.random_key(|| 1).is_none());
        table.insert(b"only", entry(1));
        let mut state = 1u64;
        let key = table
            .random_key(|| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                state >> 11
            })
            .map(<[u8]>::to_vec);
        assert_eq!(key.as_deref(), Some(&b"only"[..]));
    }

    #[test]
    fn idle_time_counts_seconds() {
        let entry = Entry::new(Value::Int(1), 10_000);
        assert_eq!(entry.idle_seconds(15_500), 5);
    }
}
