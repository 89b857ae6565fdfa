//! Shard plumbing: which shard owns a key, how cores talk, and how multi-shard operations
//! lock keys.
//!
//! * [`ShardId`] and [`slot_for_key`]: the only place keys are mapped to shards (CRC16 hash
//!   slots with `{hash tags}`, exactly as Redis Cluster).
//! * [`Router`]: one per core; runs a closure on another core's shard state over glommio's
//!   channel mesh and awaits the result, batching every request queued for the same core
//!   into one channel message. A call to the local shard is a direct call.
//! * [`LockTable`]: per-shard key locks for multi-shard operations, FIFO, deadlock-free when
//!   shards are locked in ascending [`ShardId`] order.
//!
//! It is not: a command implementation or a keyspace; it depends on no crate of ours.

mod locks;
mod router;
mod slot;

pub use locks::{LockKey, LockMode, LockOwner, LockRequest, LockTable};
pub use router::{Router, RouterBuilder};
pub use slot::{crc16, slot_for_key, SLOT_COUNT};

/// A shard's identity: its index among the server's shards (one per core).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardId(pub u16);

impl ShardId {
    /// The shard that owns `key` when there are `shard_count` shards: slots are spread
    /// evenly over shards.
    pub fn for_key(key: &[u8], shard_count: u16) -> ShardId {
        ShardId::for_slot(slot_for_key(key), shard_count)
    }

    /// The shard that owns `slot`.
    pub fn for_slot(slot: u16, shard_count: u16) -> ShardId {
        ShardId(((u32::from(slot) * u32::from(shard_count)) / u32::from(SLOT_COUNT)) as u16)
    }

    /// The index as `usize`, for tables indexed by shard.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}
