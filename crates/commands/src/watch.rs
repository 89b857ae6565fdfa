//! WATCH's per-shard registry: which clients watch which keys here, and whom a write
//! disqualifies; it also holds the shard's client-side caching table
//! ([`TrackingTable`](crate::TrackingTable)), since a change that fails a watcher's EXEC
//! is exactly a change that invalidates a tracking client's cached key.
//!
//! A client's watches live on the shards that own its watched keys; each registration
//! holds the client's one "dirty" flag, shared with the client's connection (possibly on
//! another core: hence an atomic). A write that changes a watched key sets the flags of its
//! watchers and forgets the key (a dirty transaction stays dirty); EXEC reads the flag
//! once it holds the locks of its keys. Checking costs a write nothing while no key of the
//! shard is watched.

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One client watching a key.
#[derive(Clone, Debug)]
pub struct Watcher {
    /// The client's id (to withdraw its watches).
    pub client: u64,
    /// Set when a watched key changes; EXEC then fails.
    pub dirty: Arc<AtomicBool>,
}

/// The watched keys of one shard, by database and key, and its tracking table.
#[derive(Default, Debug)]
pub struct WatchedKeys {
    keys: HashMap<(u32, Bytes), Vec<Watcher>, ahash::RandomState>,
    /// CLIENT TRACKING's table: every touched key is invalidated there too.
    pub tracking: crate::TrackingTable,
}

impl WatchedKeys {
    /// True when no key of the shard is watched or tracked (the writer's fast path).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.tracking.is_empty()
    }

    /// Registers `watcher` on `key` of database `db` (once per client).
    pub fn watch(&mut self, db: u32, key: Bytes, watcher: Watcher) {
        let watchers = self.keys.entry((db, key)).or_default();
        if !watchers.iter().any(|known| known.client == watcher.client) {
            watchers.push(watcher);
        }
    }

    /// Withdraws `client`'s watch on `key` of database `db`.
    pub fn unwatch(&mut self, db: u32, key: &Bytes, client: u64) {
        let slot = (db, key.clone());
        if let Some(watchers) = self.keys.get_mut(&slot) {
            watchers.retain(|watcher| watcher.client != client);
            if watchers.is_empty() {
                self.keys.remove(&slot);
            }
        }
    }

    /// `key` of database `db` changed: its watchers' transactions fail and its tracking
    /// clients are owed an invalidation.
    pub fn touch(&mut self, db: u32, key: &[u8]) {
        self.touch_by(db, key, None);
    }

    /// As [`WatchedKeys::touch`], for a change made by `noloop_writer` (a tracking client
    /// in NOLOOP mode, which is not told about its own changes).
    pub fn touch_by(&mut self, db: u32, key: &[u8], noloop_writer: Option<u64>) {
        if !self.tracking.is_empty() {
            self.tracking.invalidate(key, noloop_writer);
        }
        if self.keys.is_empty() {
            return;
        }
        let slot = (db, Bytes::copy_from_slice(key));
        if let Some(watchers) = self.keys.remove(&slot) {
            for watcher in watchers {
                watcher.dirty.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Databases in `dbs` were emptied or swapped wholesale: every watched key of theirs
    /// for which `affected(db, key)` holds (it existed before or exists after, as Redis
    /// decides) changed.
    pub fn touch_databases(&mut self, dbs: &[u32], mut affected: impl FnMut(u32, &[u8]) -> bool) {
        self.keys.retain(|(db, key), watchers| {
            if !dbs.contains(db) || !affected(*db, key) {
                return true;
            }
            for watcher in watchers.iter() {
                watcher.dirty.store(true, Ordering::SeqCst);
            }
            false
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watcher(client: u64) -> (Watcher, Arc<AtomicBool>) {
        let dirty = Arc::new(AtomicBool::new(false));
        let watcher = Watcher {
            client,
            dirty: dirty.clone(),
        };
        (watcher, dirty)
    }

    #[test]
    fn a_touch_dirties_only_the_watchers_of_that_key_and_database() {
        let mut keys = WatchedKeys::default();
        let (first, first_dirty) = watcher(1);
        let (second, second_dirty) = watcher(2);
        keys.watch(0, Bytes::from_static(b"a"), first);
        keys.watch(1, Bytes::from_static(b"a"), second);
        keys.touch(0, b"b");
        keys.touch(2, b"a");
        assert!(!first_dirty.load(Ordering::SeqCst) && !second_dirty.load(Ordering::SeqCst));
        keys.touch(0, b"a");
        assert!(first_dirty.load(Ordering::SeqCst));
        assert!(!second_dirty.load(Ordering::SeqCst));
        keys.unwatch(1, &Bytes::from_static(b"a"), 2);
        assert!(keys.is_empty());
    }

    #[test]
    fn emptied_databases_dirty_the_affected_keys_only() {
        let mut keys = WatchedKeys::default();
        let (present, present_dirty) = watcher(1);
        let (absent, absent_dirty) = watcher(2);
        keys.watch(0, Bytes::from_static(b"present"), present);
        keys.watch(0, Bytes::from_static(b"absent"), absent);
        keys.touch_databases(&[0], |_, key| key == b"present");
        assert!(present_dirty.load(Ordering::SeqCst));
        assert!(!absent_dirty.load(Ordering::SeqCst));
    }
}
