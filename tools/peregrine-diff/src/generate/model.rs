//! A coarse model of the servers' state, kept to bound the load and to make
//! random replies deterministic.
//!
//! The generator never looks at replies, so it cannot know the servers' data;
//! it tracks instead an *upper bound* on the size of each key's value in each
//! database (a string's length or a collection's number of elements, whichever
//! the key holds), and which database the connection has selected. The bounds
//! keep APPEND from growing values without limit, keep LCS (whose cost is the
//! product of the two lengths) cheap, cap collections, and give counts that
//! cover a whole collection (SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER return
//! all of it then). An upper bound is enough: every update takes the maximum,
//! or adds, unless the command certainly removed the value.
//!
//! For streams it keeps one more upper bound, shared by every key and database:
//! the largest millisecond part of any stream ID a command may have written
//! ([`Model::stream_clock`]). An ID past it is greater than the top item of every
//! stream, so XADD with it succeeds wherever the key holds a stream. It also
//! remembers the last few IDs XADD may have added to each key
//! ([`Model::recent_stream_ids`]): guesses that make XACK, XCLAIM and XDEL hit
//! entries more often than random IDs would, never a claim that they exist.

use std::collections::{BTreeMap, VecDeque};

/// Number of databases a default server has (`databases 16`).
pub const DATABASES: usize = 16;

/// How many recent stream IDs the model remembers per key.
const RECENT_STREAM_IDS: usize = 12;

/// Upper bounds on value sizes, per database and key, plus the selected database.
#[derive(Debug, Clone)]
pub struct Model {
    selected: usize,
    bounds: Vec<BTreeMap<Vec<u8>, usize>>,
    stream_clock: u64,
    recent_stream_ids: BTreeMap<(usize, Vec<u8>), VecDeque<Vec<u8>>>,
}

impl Default for Model {
    fn default() -> Self {
        Self {
            selected: 0,
            bounds: vec![BTreeMap::new(); DATABASES],
            stream_clock: 0,
            recent_stream_ids: BTreeMap::new(),
        }
    }
}

impl Model {
    /// The database the connection has selected.
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// Upper bound on the size of `key`'s value in the selected database.
    pub fn bound(&self, key: &[u8]) -> usize {
        self.bound_in(self.selected, key)
    }

    fn bound_in(&self, database: usize, key: &[u8]) -> usize {
        self.bounds
            .get(database)
            .and_then(|keys| keys.get(key))
            .copied()
            .unwrap_or(0)
    }

    fn raise_in(&mut self, database: usize, key: &[u8], length: usize) {
        if length == 0 {
            return;
        }
        if let Some(keys) = self.bounds.get_mut(database) {
            let bound = keys.entry(key.to_vec()).or_insert(0);
            *bound = (*bound).max(length);
        }
    }

    /// A command may have stored a value of at most `length` bytes (or elements) under `key`.
    pub fn may_store(&mut self, key: &[u8], length: usize) {
        self.raise_in(self.selected, key, length);
    }

    /// A command may have appended `added` bytes (or elements) to `key`'s value.
    pub fn may_grow(&mut self, key: &[u8], added: usize) {
        let length = self.bound(key).saturating_add(added);
        self.may_store(key, length);
    }

    /// A command certainly removed `key` from the selected database.
    pub fn removed(&mut self, key: &[u8]) {
        if let Some(keys) = self.bounds.get_mut(self.selected) {
            keys.remove(key);
        }
    }

    /// `destination` (in `database`, or the selected one) may now hold `source`'s value.
    pub fn may_copy(&mut self, source: &[u8], destination: &[u8], database: Option<usize>) {
        let length = self.bound(source);
        self.raise_in(database.unwrap_or(self.selected), destination, length);
    }

    /// SELECT with a valid index.
    pub fn select(&mut self, database: usize) {
        if database < DATABASES {
            self.selected = database;
        }
    }

    /// SWAPDB with two valid indexes.
    pub fn swap(&mut self, first: usize, second: usize) {
        if first < DATABASES && second < DATABASES {
            self.bounds.swap(first, second);
        }
    }

    /// Commands that may not have run (a transaction that EXEC may refuse or
    /// DISCARD drops): every bound becomes the larger of this model's and
    /// `earlier`'s, so a removal that did not happen lowers no bound. The
    /// selected database stays this model's.
    pub fn keep_bounds_of(&mut self, earlier: &Model) {
        for (database, keys) in earlier.bounds.iter().enumerate() {
            for (key, length) in keys {
                self.raise_in(database, key, *length);
            }
        }
        self.may_write_stream_id(earlier.stream_clock);
    }

    /// Upper bound on the millisecond part of every stream ID written so far, in
    /// any key and database.
    pub fn stream_clock(&self) -> u64 {
        self.stream_clock
    }

    /// A command may have written a stream ID whose millisecond part is `milliseconds`.
    pub fn may_write_stream_id(&mut self, milliseconds: u64) {
        self.stream_clock = self.stream_clock.max(milliseconds);
    }

    /// XADD may have added the entry `id` to `key` in the selected database.
    pub fn may_add_stream_id(&mut self, key: &[u8], id: &[u8]) {
        let ids = self
            .recent_stream_ids
            .entry((self.selected, key.to_vec()))
            .or_default();
        if ids.len() == RECENT_STREAM_IDS {
            ids.pop_front();
        }
        ids.push_back(id.to_vec());
    }

    /// The last IDs XADD may have added to `key` in the selected database, oldest first.
    pub fn recent_stream_ids(&self, key: &[u8]) -> Vec<Vec<u8>> {
        self.recent_stream_ids
            .get(&(self.selected, key.to_vec()))
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// FLUSHDB: the selected database is empty.
    pub fn flush_selected(&mut self) {
        if let Some(keys) = self.bounds.get_mut(self.selected) {
            keys.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_only_grow_until_removed() {
        let mut model = Model::default();
        model.may_store(b"k", 10);
        model.may_store(b"k", 3);
        assert_eq!(model.bound(b"k"), 10);
        model.may_grow(b"k", 5);
        assert_eq!(model.bound(b"k"), 15);
        model.removed(b"k");
        assert_eq!(model.bound(b"k"), 0);
    }

    #[test]
    fn databases_are_separate_and_swappable() {
        let mut model = Model::default();
        model.may_store(b"k", 10);
        model.select(1);
        assert_eq!(model.bound(b"k"), 0);
        model.select(DATABASES);
        assert_eq!(model.selected(), 1);
        model.swap(0, 1);
        assert_eq!(model.bound(b"k"), 10);
        model.may_copy(b"k", b"j", Some(0));
        model.select(0);
        assert_eq!(model.bound(b"j"), 10);
        model.flush_selected();
        assert_eq!(model.bound(b"j"), 0);
    }

    #[test]
    fn keeping_earlier_bounds_undoes_removals_only() {
        let mut earlier = Model::default();
        earlier.may_store(b"k", 10);
        let mut model = earlier.clone();
        model.removed(b"k");
        model.may_store(b"j", 4);
        model.select(2);
        model.keep_bounds_of(&earlier);
        assert_eq!(model.selected(), 2);
        model.select(0);
        assert_eq!(model.bound(b"k"), 10);
        assert_eq!(model.bound(b"j"), 4);
    }

    #[test]
    fn the_stream_clock_only_moves_forward() {
        let mut earlier = Model::default();
        earlier.may_write_stream_id(40);
        let mut model = earlier.clone();
        model.may_write_stream_id(7);
        assert_eq!(model.stream_clock(), 40);
        model.flush_selected();
        model.keep_bounds_of(&earlier);
        assert_eq!(model.stream_clock(), 40);
        model.may_write_stream_id(41);
        model.keep_bounds_of(&earlier);
        assert_eq!(model.stream_clock(), 41);
    }

    #[test]
    fn recent_stream_ids_keep_the_last_few_per_key_and_database() {
        let mut model = Model::default();
        for sequence in 0..20 {
            model.may_add_stream_id(b"s", format!("5-{sequence}").as_bytes());
        }
        let ids = model.recent_stream_ids(b"s");
        assert_eq!(ids.len(), RECENT_STREAM_IDS);
        assert_eq!(ids.last().map(Vec::as_slice), Some(b"5-19".as_slice()));
        assert!(model.recent_stream_ids(b"t").is_empty());
        model.select(1);
        assert!(model.recent_stream_ids(b"s").is_empty());
    }
}
