//! A key's value with its metadata: deadline and last access time, packed in one word.

use crate::table::Prefetch;
use crate::{UnixMillis, Value};

/// Deadlines are stored in 44 bits (enough until the year 2527); a later one is kept by
/// the database in a side table and marked with this value.
pub(crate) const FAR_EXPIRE: u64 = (1 << 44) - 1;
const EXPIRE_MASK: u64 = (1 << 44) - 1;
const ACCESS_SHIFT: u32 = 44;
/// Access clock resolution: seconds, kept modulo 2^19 (about 6 days), as Redis's LRU
/// clock wraps too.
const ACCESS_CLOCK_MASK: u64 = (1 << 19) - 1;
/// The snapshot bit: equal to the shard's current parity once the entry is in the
/// snapshot being taken (or was created after it started). See [`snapshot_parity`].
const SNAPSHOT_BIT: u64 = 1 << 63;

std::thread_local! {
    static PARITY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The snapshot parity of this thread's shard: entries created now carry it, so a snapshot
/// in progress (which flipped it when it started) leaves them out.
pub fn snapshot_parity() -> bool {
    PARITY.with(std::cell::Cell::get)
}

/// Flips this thread's snapshot parity (a snapshot starts): every existing entry becomes
/// "not yet captured".
pub fn flip_snapshot_parity() -> bool {
    PARITY.with(|parity| {
        parity.set(!parity.get());
        parity.get()
    })
}

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
        entry.set_captured(snapshot_parity());
        entry
    }

    /// True when the entry is captured for the snapshot whose parity is `parity` (or
    /// needs no capture: it was created after the snapshot started).
    pub fn is_captured(&self, parity: bool) -> bool {
        (self.meta & SNAPSHOT_BIT != 0) == parity
    }

    /// Marks the entry captured for the snapshot with `parity`.
    pub fn set_captured(&mut self, parity: bool) {
        if parity {
            self.meta |= SNAPSHOT_BIT;
        } else {
            self.meta &= !SNAPSHOT_BIT;
        }
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
        self.meta = (self.meta & (EXPIRE_MASK | SNAPSHOT_BIT)) | (clock << ACCESS_SHIFT);
    }

    /// Seconds since the last access, as OBJECT IDLETIME reports it.
    pub fn idle_seconds(&self, now: UnixMillis) -> u64 {
        let clock = (now / 1000) & ACCESS_CLOCK_MASK;
        let last = (self.meta >> ACCESS_SHIFT) & ACCESS_CLOCK_MASK;
        if clock >= last {
            clock - last
        } else {
            clock + (ACCESS_CLOCK_MASK + 1) - last
        }
    }
}

impl Prefetch for Entry {
    fn heap_address(&self) -> Option<*const u8> {
        self.value.heap_address()
    }

    fn contents_address(&self) -> Option<*const u8> {
        self.value.contents_address()
    }
}
