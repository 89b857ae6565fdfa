//! A key's value with its metadata: deadline and last access time, packed in one word.

use crate::{UnixMillis, Value};

/// Deadlines are stored in 44 bits (enough until the year 2527); a later one is kept by
/// the database in a side table and marked with this value.
pub(crate) const FAR_EXPIRE: u64 = (1 << 44) - 1;
const EXPIRE_MASK: u64 = (1 << 44) - 1;
const ACCESS_SHIFT: u32 = 44;
/// Access clock resolution: seconds, kept modulo 2^20 (about 12 days) as Redis's LRU clock.
const ACCESS_CLOCK_MASK: u64 = (1 << 20) - 1;

/// A value with its metadata: deadline and last access time.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// Packed: deadline in ms (44 bits, 0 = none, [`FAR_EXPIRE`] = in the side table) and
    /// last access in seconds modulo 2^20.
    meta: u64,
}

impl Entry {
    /// A new entry without deadline, accessed at `now`.
    pub fn new(value: Value, now: UnixMillis) -> Entry {
        let mut entry = Entry { value, meta: 0 };
        entry.touch(now);
        entry
    }

    /// The stored deadline field: 0 when none, [`FAR_EXPIRE`] when kept aside.
    pub(crate) fn expire_field(&self) -> u64 {
        self.meta & EXPIRE_MASK
    }

    pub(crate) fn set_expire_field(&mut self, field: u64) {
        self.meta = (self.meta & !EXPIRE_MASK) | (field & EXPIRE_MASK);
    }

    /// True when the entry has a deadline.
    pub fn has_expire(&self) -> bool {
        self.expire_field() != 0
    }

    /// Records an access at `now` (for OBJECT IDLETIME and eviction).
    pub fn touch(&mut self, now: UnixMillis) {
        let clock = (now / 1000) & ACCESS_CLOCK_MASK;
        self.meta = (self.meta & EXPIRE_MASK) | (clock << ACCESS_SHIFT);
    }

    /// Seconds since the last access, as OBJECT IDLETIME reports it.
    pub fn idle_seconds(&self, now: UnixMillis) -> u64 {
        let clock = (now / 1000) & ACCESS_CLOCK_MASK;
        let last = self.meta >> ACCESS_SHIFT;
        if clock >= last {
            clock - last
        } else {
            clock + (ACCESS_CLOCK_MASK + 1) - last
        }
    }
}
