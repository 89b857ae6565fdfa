//! Typed access to collection values for the list, hash, set and sorted-set families.
//!
//! One place decides what every collection command does with a missing key, a key of
//! another type (WRONGTYPE), a new key (created only when something is added) and a
//! collection that became empty (deleted, as Redis never stores an empty collection).
//! The key's TTL is untouched by all of these except deletion and [`ShardCtx::store`].

use crate::{CommandError, EventClass, ShardCtx};
use peregrine_keyspace::{Collection, Value};

impl ShardCtx<'_> {
    /// The collection at `key` for reading (counts a keyspace hit or miss), `None` when
    /// the key does not exist, WRONGTYPE when it holds another type.
    pub fn read_collection<T: Collection>(
        &mut self,
        key: &[u8],
    ) -> Result<Option<&mut T>, CommandError> {
        match self.lookup_read(key) {
            None => Ok(None),
            Some(value) => T::from_value(value)
                .map(Some)
                .ok_or(CommandError::WrongType),
        }
    }

    /// The collection at `key` for modification, `None` when the key does not exist,
    /// WRONGTYPE when it holds another type.
    pub fn write_collection<T: Collection>(
        &mut self,
        key: &[u8],
    ) -> Result<Option<&mut T>, CommandError> {
        match self.lookup_write(key) {
            None => Ok(None),
            Some(value) => T::from_value(value)
                .map(Some)
                .ok_or(CommandError::WrongType),
        }
    }

    /// The collection at `key` for modification, created empty (by `create`) when the
    /// key does not exist; WRONGTYPE when it holds another type. A caller that ends up
    /// adding nothing must call [`ShardCtx::remove_if_empty`].
    pub fn collection_or_create<T: Collection>(
        &mut self,
        key: &[u8],
        create: impl FnOnce() -> T,
    ) -> Result<&mut T, CommandError> {
        let now = self.now;
        if !self.notifier.flags().wants(EventClass::New) {
            let (entry, _) = self
                .db()
                .lookup_or_insert(key, now, || create().into_value());
            return T::from_value(&mut entry.value).ok_or(CommandError::WrongType);
        }
        // With `new` events wanted, a second lookup (the event needs `self`).
        let (_, created) = self
            .db()
            .lookup_or_insert(key, now, || create().into_value());
        if created {
            self.notify_new(key);
        }
        self.db()
            .lookup(key, now, false)
            .and_then(|entry| T::from_value(&mut entry.value))
            .ok_or(CommandError::WrongType)
    }

    /// Deletes `key` when it holds an empty collection, with the `del` event Redis
    /// records when a command empties a collection. Returns true when it did.
    pub fn remove_if_empty<T: Collection>(&mut self, key: &[u8]) -> bool {
        let now = self.now;
        let empty = match self.db().lookup(key, now, false) {
            Some(entry) => T::from_value(&mut entry.value).is_some_and(|value| value.is_empty()),
            None => false,
        };
        if empty {
            self.db().remove(key);
            self.notify(EventClass::Generic, "del", key);
        }
        empty
    }

    /// Stores `collection` at `key` as a STORE destination does: any previous value and
    /// TTL are replaced, with the `new` event when the key is created and then `event`;
    /// an empty collection deletes the key instead (a `del` event when it existed).
    /// Returns true when the key existed before.
    pub fn store<T: Collection>(
        &mut self,
        key: &[u8],
        collection: T,
        class: EventClass,
        event: &'static str,
    ) -> bool {
        let now = self.now;
        if collection.is_empty() {
            let db = self.db();
            db.expire_if_needed(key, now);
            let existed = db.remove(key).is_some();
            if existed {
                self.notify(EventClass::Generic, "del", key);
            }
            return existed;
        }
        let existed = self
            .db()
            .set(key, collection.into_value(), None, now)
            .is_some();
        if !existed {
            self.notify_new(key);
        }
        self.notify(class, event, key);
        existed
    }

    /// For readers that look at several keys through shared references (which cannot
    /// expire or report): removes the expired ones and records `keymiss` for the
    /// missing ones, in order, stopping at a key of another type than `T` (whose
    /// WRONGTYPE ends the command in Redis). Nothing to do unless `m` or `x` is wanted.
    pub fn notify_read_misses<T: Collection>(&mut self, keys: &[bytes::Bytes]) {
        let flags = self.notifier.flags();
        if !flags.wants(EventClass::KeyMiss) && !flags.wants(EventClass::Expired) {
            return;
        }
        for key in keys {
            self.expire_if_due(key);
            let other_type = self.peek(key).map(|value| T::from_value(value).is_none());
            match other_type {
                None => self.notify_miss(key),
                Some(true) => return,
                Some(false) => {}
            }
        }
    }

    /// LLEN, SCARD, ZCARD: the number of elements of the collection at `key` (0 when
    /// missing), WRONGTYPE for another type.
    pub fn collection_len<T: Collection>(&mut self, key: &[u8]) -> crate::CmdResult {
        let len = self
            .read_collection::<T>(key)?
            .map_or(0, |collection| collection.len());
        Ok(peregrine_resp::Reply::Integer(len as i64))
    }

    /// Whether `key` holds a live value of any type.
    pub fn exists(&mut self, key: &[u8]) -> bool {
        let now = self.now;
        self.db().contains(key, now)
    }

    /// The value at `key` without statistics or access-time update, for commands that
    /// inspect a key's type before choosing what to do.
    pub fn peek(&mut self, key: &[u8]) -> Option<&mut Value> {
        let now = self.now;
        self.db()
            .lookup(key, now, false)
            .map(|entry| &mut entry.value)
    }
}
