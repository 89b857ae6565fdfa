//! Consumer groups: a group's delivery position, its pending entries list (PEL) and its
//! consumers, as Redis keeps them.

use super::StreamId;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A consumer group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerGroup {
    /// The last ID delivered to the group (`>` reads after it).
    pub last_id: StreamId,
    /// The group's logical read counter, `None` when it cannot be known.
    pub entries_read: Option<u64>,
    /// Entries delivered and not yet acknowledged, by ID.
    pub pending: BTreeMap<StreamId, PendingEntry>,
    /// The consumers, by name (shared with their pending entries: a delivery copies no
    /// name).
    pub consumers: BTreeMap<Arc<[u8]>, Consumer>,
}

/// One delivered, unacknowledged entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingEntry {
    /// The consumer it was last delivered to.
    pub consumer: Arc<[u8]>,
    /// When it was last delivered (unix milliseconds).
    pub delivery_time: u64,
    /// How many times it was delivered.
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consumer {
    /// When it last attempted an interaction (read or claim), unix milliseconds.
    pub seen_time: u64,
    /// When it last read or claimed something, if ever.
    pub active_time: Option<u64>,
    /// The IDs pending for it.
    pub pending: BTreeSet<StreamId>,
}

/// What a claim (XCLAIM, XAUTOCLAIM) does to a pending entry's delivery count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryCount {
    /// Sets it (XCLAIM's RETRYCOUNT).
    Set(u64),
    /// Counts one more delivery.
    Increment,
    /// Leaves it (JUSTID).
    Keep,
}

impl Consumer {
    /// A consumer seen first at `now`.
    pub fn new(now: u64) -> Consumer {
        Consumer {
            seen_time: now,
            active_time: None,
            pending: BTreeSet::new(),
        }
    }
}

impl ConsumerGroup {
    /// A group positioned after `last_id`.
    pub fn new(last_id: StreamId, entries_read: Option<u64>) -> ConsumerGroup {
        ConsumerGroup {
            last_id,
            entries_read,
            pending: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// The consumer `name`, created (seen at `now`) when missing; true when created.
    pub fn consumer_or_create(&mut self, name: &[u8], now: u64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        if created {
            self.consumers.insert(name.into(), Consumer::new(now));
        }
        (self.consumers.get_mut(name).expect("present"), created)
    }

    /// Records the delivery of `id` to `consumer` at `now` (XREADGROUP): a new pending
    /// entry, or one reassigned to this consumer with its count reset to 1, as Redis.
    pub fn deliver(&mut self, id: StreamId, consumer: &[u8], now: u64) {
        if let Some(previous) = self.pending.get(&id).map(|entry| entry.consumer.clone()) {
            if let Some(owner) = self.consumers.get_mut(&previous) {
                owner.pending.remove(&id);
            }
        }
        self.pending.insert(
            id,
            PendingEntry {
                consumer: self.shared_name(consumer),
                delivery_time: now,
                delivery_count: 1,
            },
        );
        if let Some(owner) = self.consumers.get_mut(consumer) {
            owner.pending.insert(id);
        }
    }

    /// `consumer`'s name as the consumer map holds it (a copy only for a consumer that
    /// does not exist).
    pub fn shared_name(&self, consumer: &[u8]) -> Arc<[u8]> {
        match self.consumers.get_key_value(consumer) {
            Some((name, _)) => name.clone(),
            None => consumer.into(),
        }
    }

    /// Acknowledges `id`; true when it was pending.
    pub fn acknowledge(&mut self, id: StreamId) -> bool {
        match self.pending.remove(&id) {
            Some(entry) => {
                if let Some(owner) = self.consumers.get_mut(&entry.consumer) {
                    owner.pending.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Moves pending entry `id` (which must exist) to `consumer` (which must exist).
    pub fn reassign(&mut self, id: StreamId, consumer: &[u8]) {
        let name = self.shared_name(consumer);
        let Some(entry) = self.pending.get_mut(&id) else {
            return;
        };
        if *entry.consumer != *consumer {
            let previous = std::mem::replace(&mut entry.consumer, name);
            if let Some(owner) = self.consumers.get_mut(&previous) {
                owner.pending.remove(&id);
            }
        }
        if let Some(owner) = self.consumers.get_mut(consumer) {
            owner.pending.insert(id);
        }
    }

    /// Gives pending entry `id` to `consumer`, as XCLAIM and XAUTOCLAIM do once they
    /// chose to claim it: the consumer (created when missing) is seen and active at `now`,
    /// the entry was delivered at `delivery_time` and its count changes as `count` says.
    /// True when the consumer was created.
    pub fn claim(
        &mut self,
        id: StreamId,
        consumer: &[u8],
        now: u64,
        delivery_time: u64,
        count: DeliveryCount,
    ) -> bool {
        let (owner, created) = self.consumer_or_create(consumer, now);
        owner.seen_time = now;
        owner.active_time = Some(now);
        self.reassign(id, consumer);
        if let Some(pending) = self.pending.get_mut(&id) {
            pending.delivery_time = delivery_time;
            match count {
                DeliveryCount::Set(count) => pending.delivery_count = count,
                DeliveryCount::Increment => pending.delivery_count += 1,
                DeliveryCount::Keep => {}
            }
        }
        created
    }

    /// Deletes consumer `name` and its pending entries; the number it had, or `None`
    /// when there is no such consumer.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let consumer = self.consumers.remove(name)?;
        for id in &consumer.pending {
            self.pending.remove(id);
        }
        Some(consumer.pending.len())
    }
}
