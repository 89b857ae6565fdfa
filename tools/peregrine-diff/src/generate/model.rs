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

use std::collections::BTreeMap;

/// Number of databases a default server has (`databases 16`).
pub const DATABASES: usize = 16;

/// Upper bounds on value sizes, per database and key, plus the selected database.
#[derive(Debug, Clone)]
pub struct Model {
    selected: usize,
    bounds: Vec<BTreeMap<Vec<u8>, usize>>,
}

impl Default for Model {
    fn default() -> Self {
        Self {
            selected: 0,
            bounds: vec![BTreeMap::new(); DATABASES],
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
}
