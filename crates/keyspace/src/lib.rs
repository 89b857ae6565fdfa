//! One shard's data: its databases, their keys and values (strings and the collection
//! structures), and key expiry.
//!
//! Everything here is synchronous, single-threaded and `!Send`-friendly: a shard owns its
//! [`Keyspace`] exclusively and commands mutate it through `&mut`. The hash table grows and
//! shrinks incrementally (two tables and a rehash cursor, as Redis's dict), so no operation
//! pauses for a full rehash, and [`Table::scan`] returns every key present for the whole
//! scan even while the table is resized.
//!
//! Invariants: a key with an expiry is present in its database's expiry index exactly
//! once, with the same deadline as in its entry; a key whose deadline has passed is never
//! returned by a lookup that is given the current time.
//!
//! It is not: a command implementation, a network type, or anything that knows about other
//! shards; it depends on no crate of ours.

mod bytes;
pub mod collections;
mod db;
mod entry;
mod glob;
mod lazy_free;
pub mod memory;
mod table;
mod value;

pub use bytes::CompactBytes;
pub use collections::EncodingLimits;
pub use db::{Db, DbIndex, Keyspace};
pub use entry::{flip_snapshot_parity, snapshot_parity, Entry};
pub use glob::{glob_match, glob_match_nocase};
pub use lazy_free::{
    free_maybe_later, lazyfree_pending_objects, lazyfreed_objects, LAZYFREE_THRESHOLD,
};
pub use table::{Prefetch, Table};
pub use value::{canonical_integer, Collection, Value, ValueType, EMBSTR_SIZE_LIMIT};

/// Milliseconds since the Unix epoch: the unit of every deadline in the keyspace.
pub type UnixMillis = u64;
