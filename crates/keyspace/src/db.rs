//! Databases: the table of keys plus the expiry index, and the shard's set of them.

use crate::entry::FAR_EXPIRE;
use crate::{CompactBytes, Entry, Table, UnixMillis, Value};
use std::collections::{BTreeSet, HashMap};

/// A database number, as SELECT takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct DbIndex(pub u32);

/// One numbered database of one shard.
#[derive(Default)]
pub struct Db {
    table: Table,
    /// Every key with a deadline, ordered by deadline: active expiry pops from the front.
    deadlines: BTreeSet<(UnixMillis, CompactBytes)>,
    /// Deadlines too far in the future for an entry's packed field.
    far_deadlines: HashMap<CompactBytes, UnixMillis>,
    /// Hashes with field deadlines, by the earliest deadline registered for them (an
    /// entry may be stale: it is re-checked when due). Active expiry of hash fields pops
    /// from the front.
    field_deadlines: BTreeSet<(UnixMillis, CompactBytes)>,
    /// Keys removed because their deadline passed (INFO `expired_keys`).
    pub expired_keys: u64,
    /// Keys removed by lazy expiry and not yet taken, while someone listens for them
    /// (`expired` keyspace events); `None` otherwise, so that expiry costs nothing more.
    lazily_expired: Option<Vec<CompactBytes>>,
}

impl Db {
    /// An empty database.
    pub fn new() -> Db {
        Db::default()
    }

    /// Number of keys, including expired ones not yet removed (as Redis's DBSIZE).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Number of keys with a deadline.
    pub fn expires_len(&self) -> usize {
        self.deadlines.len()
    }

    /// The deadline of `key`'s entry, if it has one.
    pub fn deadline(&self, key: &[u8]) -> Option<UnixMillis> {
        let entry = self.table.get(key)?;
        self.deadline_of(key, entry)
    }

    fn deadline_of(&self, key: &[u8], entry: &Entry) -> Option<UnixMillis> {
        deadline_in(&self.far_deadlines, key, entry)
    }

    /// Removes `key` if its deadline has passed at `now`. Returns true if it did.
    pub fn expire_if_needed(&mut self, key: &[u8], now: UnixMillis) -> bool {
        match self.deadline(key) {
            Some(at) if at <= now => {
                self.remove(key);
                self.count_lazily_expired(key);
                true
            }
            _ => false,
        }
    }

    /// Counts a key removed by lazy expiry, and keeps it for [`Db::take_lazily_expired`]
    /// when reporting is on.
    fn count_lazily_expired(&mut self, key: &[u8]) {
        self.expired_keys += 1;
        if let Some(expired) = &mut self.lazily_expired {
            expired.push(CompactBytes::new(key));
        }
    }

    /// Starts (`true`) or stops keeping the keys lazy expiry removes; stopping drops the
    /// ones not yet taken.
    pub fn report_lazy_expiry(&mut self, on: bool) {
        if on != self.lazily_expired.is_some() {
            self.lazily_expired = on.then(Vec::new);
        }
    }

    /// The keys lazy expiry removed since the last call (none when reporting is off).
    pub fn take_lazily_expired(&mut self) -> Vec<CompactBytes> {
        match &mut self.lazily_expired {
            Some(expired) if !expired.is_empty() => std::mem::take(expired),
            _ => Vec::new(),
        }
    }

    /// Starts loading what lookups of `keys` read (see [`Table::prefetch`]).
    pub fn prefetch<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) {
        self.table.prefetch(keys);
    }

    /// The live entry under `key` at `now` (expired entries are removed on the way), without
    /// recording an access.
    pub fn get(&mut self, key: &[u8], now: UnixMillis) -> Option<&Entry> {
        self.expire_if_needed(key, now);
        self.table.get(key)
    }

    /// The live entry under `key`, mutable, recording an access at `now`.
    pub fn get_mut(&mut self, key: &[u8], now: UnixMillis) -> Option<&mut Entry> {
        self.lookup(key, now, true)
    }

    /// The live entry under `key`, mutable; records an access at `now` when `touch`.
    pub fn lookup(&mut self, key: &[u8], now: UnixMillis, touch: bool) -> Option<&mut Entry> {
        // No key of this database has a deadline: one table lookup is enough.
        if !self.deadlines.is_empty() {
            self.expire_if_needed(key, now);
        }
        let entry = self.table.get_mut(key)?;
        if touch {
            entry.touch(now);
        }
        Some(entry)
    }

    /// The live entry under `key`, created (without deadline) from `make` when absent;
    /// the access time is recorded. Returns the entry and whether it was created.
    pub fn lookup_or_insert(
        &mut self,
        key: &[u8],
        now: UnixMillis,
        make: impl FnOnce() -> Value,
    ) -> (&mut Entry, bool) {
        if !self.deadlines.is_empty() {
            self.expire_if_needed(key, now);
        }
        let (entry, created) = self
            .table
            .get_or_insert_with(key, || Entry::new(make(), now));
        entry.touch(now);
        (entry, created)
    }

    /// The entry under `key` if it is live at `now`, without removing it when it is not
    /// (so that several entries can be read at once through a shared reference).
    pub fn get_live(&self, key: &[u8], now: UnixMillis) -> Option<&Entry> {
        let entry = self.table.get(key)?;
        match self.deadline(key) {
            Some(at) if at <= now => None,
            _ => Some(entry),
        }
    }

    /// True when `key` holds a live entry at `now`.
    pub fn contains(&mut self, key: &[u8], now: UnixMillis) -> bool {
        self.get(key, now).is_some()
    }

    /// Stores `value` under `key` with the given deadline, replacing any entry (and its
    /// deadline). Returns the previous live entry (an expired one is removed as lazy
    /// expiry removes it, and is not returned).
    pub fn set(
        &mut self,
        key: &[u8],
        value: Value,
        deadline: Option<UnixMillis>,
        now: UnixMillis,
    ) -> Option<Entry> {
        let previous = if self.deadlines.is_empty() {
            // No deadline anywhere: replace in place with one lookup.
            self.table.insert(key, Entry::new(value, now))
        } else {
            let previous = match self.remove_with_deadline(key) {
                Some((_, Some(at))) if at <= now => {
                    self.count_lazily_expired(key);
                    None
                }
                previous => previous.map(|(entry, _)| entry),
            };
            self.table.insert(key, Entry::new(value, now));
            previous
        };
        if let Some(at) = deadline {
            self.set_deadline(key, at);
        }
        previous
    }

    /// Inserts a whole entry with a deadline (RENAME, COPY, MOVE), replacing any entry.
    pub fn insert_entry(&mut self, key: &[u8], entry: Entry, deadline: Option<UnixMillis>) {
        self.remove(key);
        let mut entry = entry;
        entry.set_expire_field(0);
        // A moved or copied entry is new here: a snapshot in progress leaves it out.
        entry.set_captured(crate::entry::snapshot_parity());
        self.table.insert(key, entry);
        if let Some(at) = deadline {
            self.set_deadline(key, at);
        }
    }

    /// Replaces the value under an existing `key`, keeping its deadline. Returns false when
    /// the key does not exist.
    pub fn replace_value(&mut self, key: &[u8], value: Value, now: UnixMillis) -> bool {
        match self.table.get_mut(key) {
            Some(entry) => {
                entry.value = value;
                entry.touch(now);
                true
            }
            None => false,
        }
    }

    /// Removes `key`, returning its entry and deadline.
    pub fn remove_with_deadline(&mut self, key: &[u8]) -> Option<(Entry, Option<UnixMillis>)> {
        let deadline = self.deadline(key);
        let entry = self.table.remove(key)?;
        if let Some(at) = deadline {
            self.deadlines.remove(&(at, CompactBytes::new(key)));
            self.far_deadlines.remove(key);
        }
        Some((entry, deadline))
    }

    /// Removes `key`, returning its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.remove_with_deadline(key).map(|(entry, _)| entry)
    }

    /// Sets the deadline of an existing `key`. Returns false when the key does not exist.
    pub fn set_deadline(&mut self, key: &[u8], at: UnixMillis) -> bool {
        let old = self.deadline(key);
        let Some(entry) = self.table.get_mut(key) else {
            return false;
        };
        let stored = at.max(1);
        if stored >= FAR_EXPIRE {
            entry.set_expire_field(FAR_EXPIRE);
        } else {
            entry.set_expire_field(stored);
        }
        let compact = CompactBytes::new(key);
        if let Some(old) = old {
            self.deadlines.remove(&(old, compact.clone()));
        }
        if stored >= FAR_EXPIRE {
            self.far_deadlines.insert(compact.clone(), stored);
        } else {
            self.far_deadlines.remove(key);
        }
        self.deadlines.insert((stored, compact));
        true
    }

    /// Removes the deadline of `key`. Returns true if it had one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        let Some(old) = self.deadline(key) else {
            return false;
        };
        if let Some(entry) = self.table.get_mut(key) {
            entry.set_expire_field(0);
        }
        let compact = CompactBytes::new(key);
        self.far_deadlines.remove(key);
        self.deadlines.remove(&(old, compact));
        true
    }

    /// Removes keys whose deadline is at or before `now`, at most `max_keys` of them.
    /// Returns how many were removed; fewer than `max_keys` means none is left due.
    pub fn expire_due(
        &mut self,
        now: UnixMillis,
        max_keys: usize,
        mut on_removed: impl FnMut(&[u8]),
    ) -> usize {
        let mut removed = 0;
        while removed < max_keys {
            let Some((at, key)) = self.deadlines.first().cloned() else {
                break;
            };
            if at > now {
                break;
            }
            self.remove(&key);
            self.expired_keys += 1;
            on_removed(&key);
            removed += 1;
        }
        removed
    }

    /// Registers that the hash at `key` has a field due at `at` (HEXPIRE and friends), so
    /// that active expiry visits it then.
    pub fn track_field_deadline(&mut self, key: &[u8], at: UnixMillis) {
        self.field_deadlines.insert((at, CompactBytes::new(key)));
    }

    /// Removes and returns up to `max` hash keys whose registered field deadline is due.
    pub fn pop_due_field_keys(&mut self, now: UnixMillis, max: usize) -> Vec<CompactBytes> {
        let mut due = Vec::new();
        while due.len() < max {
            match self.field_deadlines.first() {
                Some((at, _)) if *at <= now => {}
                _ => break,
            }
            if let Some((_, key)) = self.field_deadlines.pop_first() {
                due.push(key);
            }
        }
        due
    }

    /// Active expiry of hash fields: removes the due fields of up to `max_keys` hashes
    /// whose registered field deadline has passed, deletes hashes left empty, and
    /// re-registers the ones with fields still to expire. `on_expired` gets each hash
    /// that lost fields and whether it was deleted. Returns the fields removed.
    pub fn expire_hash_fields_due(
        &mut self,
        now: UnixMillis,
        max_keys: usize,
        mut on_expired: impl FnMut(&[u8], bool),
    ) -> usize {
        let mut removed = 0;
        for key in self.pop_due_field_keys(now, max_keys) {
            let expired = self.expire_hash_fields(&key, now);
            if expired > 0 {
                on_expired(&key, self.table.get(&key).is_none());
            }
            removed += expired;
        }
        removed
    }

    /// Removes the fields of the hash at `key` that are due at `now`, deletes the hash if
    /// that empties it, and re-registers its next field deadline. Returns the fields
    /// removed.
    pub fn expire_hash_fields(&mut self, key: &[u8], now: UnixMillis) -> usize {
        let Some(entry) = self.lookup(key, now, false) else {
            return 0;
        };
        let Value::Hash(hash) = &mut entry.value else {
            return 0;
        };
        let removed = hash.expire_fields(now);
        let (empty, next) = (hash.is_empty(), hash.next_field_deadline());
        if empty {
            self.remove(key);
        } else if let Some(at) = next {
            self.track_field_deadline(key, at);
        }
        removed
    }

    /// One step of a snapshot's sweep: calls `capture` with every entry of the SCAN step
    /// at `cursor` not yet captured for `parity` and live at `at` (the snapshot's time),
    /// and marks them captured. Returns the next cursor (0 when the sweep is done).
    pub fn capture_step(
        &mut self,
        cursor: u64,
        parity: bool,
        at: UnixMillis,
        mut capture: impl FnMut(&[u8], &Value, Option<UnixMillis>),
    ) -> u64 {
        let far = &self.far_deadlines;
        self.table.scan_mut(cursor, |key, entry| {
            if !entry.is_captured(parity) {
                entry.set_captured(parity);
                let deadline = deadline_in(far, key, entry);
                if deadline.is_none_or(|deadline| deadline > at) {
                    capture(key, &entry.value, deadline);
                }
            }
        })
    }

    /// Captures `key`'s entry before a write changes it, if the sweep has not yet (see
    /// [`Db::capture_step`]).
    pub fn capture_key(
        &mut self,
        key: &[u8],
        parity: bool,
        at: UnixMillis,
        capture: impl FnOnce(&[u8], &Value, Option<UnixMillis>),
    ) {
        let far = &self.far_deadlines;
        if let Some(entry) = self.table.get_mut(key) {
            if !entry.is_captured(parity) {
                entry.set_captured(parity);
                let deadline = deadline_in(far, key, entry);
                if deadline.is_none_or(|deadline| deadline > at) {
                    capture(key, &entry.value, deadline);
                }
            }
        }
    }

    /// Makes room for about `keys` keys; see [`Table::reserve`].
    pub fn reserve(&mut self, keys: usize) {
        self.table.reserve(keys);
    }

    /// Continues a SCAN of this database; see [`Table::scan`].
    pub fn scan(&self, cursor: u64, visit: impl FnMut(&[u8], &Entry)) -> u64 {
        self.table.scan(cursor, visit)
    }

    /// A random key, possibly an expired one not yet removed.
    pub fn random_key(&self, random: impl FnMut() -> u64) -> Option<&[u8]> {
        self.table.random_key(random)
    }

    /// Empties the database and returns the old table, for the caller to free in the
    /// background if it is big.
    pub fn take_table(&mut self) -> Table {
        self.deadlines.clear();
        self.field_deadlines.clear();
        self.far_deadlines.clear();
        std::mem::take(&mut self.table)
    }

    /// Performs one incremental rehash step if a resize is in progress.
    pub fn rehash_step(&mut self) -> bool {
        self.table.rehash_step()
    }
}

/// An entry's deadline, looking far ones up in `far`.
fn deadline_in(
    far: &HashMap<CompactBytes, UnixMillis>,
    key: &[u8],
    entry: &Entry,
) -> Option<UnixMillis> {
    match entry.expire_field() {
        0 => None,
        FAR_EXPIRE => far.get(key).copied(),
        at => Some(at),
    }
}

/// All databases of one shard.
pub struct Keyspace {
    dbs: Vec<Db>,
}

impl Keyspace {
    /// `count` empty databases.
    pub fn new(count: u32) -> Keyspace {
        Keyspace {
            dbs: (0..count).map(|_| Db::new()).collect(),
        }
    }

    /// Number of databases.
    pub fn db_count(&self) -> u32 {
        self.dbs.len() as u32
    }

    /// Database `index`; callers validate the index against [`Keyspace::db_count`].
    pub fn db(&mut self, index: DbIndex) -> &mut Db {
        let last = self.dbs.len() - 1;
        &mut self.dbs[(index.0 as usize).min(last)]
    }

    /// Starts (`true`) or stops every database keeping the keys lazy expiry removes
    /// (see [`Keyspace::take_lazily_expired`]).
    pub fn report_lazy_expiry(&mut self, on: bool) {
        for db in &mut self.dbs {
            db.report_lazy_expiry(on);
        }
    }

    /// Calls `each` with every key lazy expiry removed since the last call, database by
    /// database (none when reporting is off).
    pub fn take_lazily_expired(&mut self, mut each: impl FnMut(DbIndex, CompactBytes)) {
        for (index, db) in self.dbs.iter_mut().enumerate() {
            for key in db.take_lazily_expired() {
                each(DbIndex(index as u32), key);
            }
        }
    }

    /// Database `index`, read-only.
    pub fn db_ref(&self, index: DbIndex) -> &Db {
        let last = self.dbs.len() - 1;
        &self.dbs[(index.0 as usize).min(last)]
    }

    /// All databases with their indexes.
    pub fn iter(&self) -> impl Iterator<Item = (DbIndex, &Db)> {
        self.dbs
            .iter()
            .enumerate()
            .map(|(index, db)| (DbIndex(index as u32), db))
    }

    /// All databases, mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Db> {
        self.dbs.iter_mut()
    }

    /// Swaps two databases (SWAPDB's part on this shard).
    pub fn swap(&mut self, first: DbIndex, second: DbIndex) {
        self.dbs.swap(first.0 as usize, second.0 as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lazy_expiry_removes_on_access() {
        let mut db = Db::new();
        db.set(b"k", Value::Int(1), Some(100), 0);
        assert!(db.contains(b"k", 99));
        assert!(!db.contains(b"k", 100));
        assert_eq!(db.len(), 0);
        assert_eq!(db.expires_len(), 0);
        assert_eq!(db.expired_keys, 1);
    }

    #[test]
    fn active_expiry_is_bounded_and_ordered() {
        let mut db = Db::new();
        for index in 0..100u64 {
            db.set(
                format!("k{index}").as_bytes(),
                Value::Int(0),
                Some(10 + index),
                0,
            );
        }
        db.set(b"forever", Value::Int(0), None, 0);
        assert_eq!(db.expire_due(50, 30, |_| {}), 30);
        assert_eq!(db.expire_due(50, 30, |_| {}), 11);
        assert_eq!(db.len(), 60);
        assert_eq!(db.expire_due(10_000, usize::MAX, |_| {}), 59);
        assert_eq!(db.len(), 1);
    }

    #[test]
    fn far_deadlines_are_exact() {
        let mut db = Db::new();
        db.set(b"k", Value::Int(1), Some(u64::MAX / 4), 0);
        assert_eq!(db.deadline(b"k"), Some(u64::MAX / 4));
        db.set_deadline(b"k", 500);
        assert_eq!(db.deadline(b"k"), Some(500));
        assert!(db.persist(b"k"));
        assert_eq!(db.deadline(b"k"), None);
        assert_eq!(db.expires_len(), 0);
    }

    #[test]
    fn lazy_expiry_is_reported_only_when_asked() {
        let mut db = Db::new();
        db.set(b"a", Value::Int(1), Some(100), 0);
        db.set(b"b", Value::Int(1), Some(100), 0);
        db.set(b"c", Value::Int(1), Some(100), 0);
        assert!(!db.contains(b"a", 100));
        assert!(db.take_lazily_expired().is_empty(), "reporting is off");
        db.report_lazy_expiry(true);
        assert!(db.get_mut(b"b", 100).is_none());
        assert!(
            db.set(b"c", Value::Int(2), None, 100).is_none(),
            "expired is not live"
        );
        let taken: Vec<Vec<u8>> = db
            .take_lazily_expired()
            .iter()
            .map(|key| key.as_slice().to_vec())
            .collect();
        assert_eq!(taken, vec![b"b".to_vec(), b"c".to_vec()]);
        assert!(db.take_lazily_expired().is_empty());
        assert_eq!(db.expired_keys, 3);
    }

    #[test]
    fn keyspace_reports_with_database_index() {
        let mut keyspace = Keyspace::new(4);
        keyspace.report_lazy_expiry(true);
        keyspace
            .db(DbIndex(2))
            .set(b"k", Value::Int(1), Some(10), 0);
        assert!(!keyspace.db(DbIndex(2)).contains(b"k", 10));
        let mut seen = Vec::new();
        keyspace.take_lazily_expired(|db, key| seen.push((db, key.as_slice().to_vec())));
        assert_eq!(seen, vec![(DbIndex(2), b"k".to_vec())]);
        keyspace.report_lazy_expiry(false);
        keyspace
            .db(DbIndex(1))
            .set(b"k", Value::Int(1), Some(10), 0);
        assert!(!keyspace.db(DbIndex(1)).contains(b"k", 10));
        keyspace.take_lazily_expired(|_, _| panic!("reporting is off"));
    }

    #[test]
    fn set_replaces_deadline() {
        let mut db = Db::new();
        db.set(b"k", Value::Int(1), Some(100), 0);
        db.set(b"k", Value::Int(2), None, 0);
        assert_eq!(db.deadline(b"k"), None);
        assert_eq!(db.expires_len(), 0);
    }
}
