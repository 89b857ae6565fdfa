//! A snapshot in progress on one shard, as writes see it: before a write changes an entry
//! the snapshot has not captured yet, the entry is captured as it was (serialize before
//! mutate), so the snapshot stays the point in time at which it started.

use crate::rebuild::rebuild;
use peregrine_keyspace::{Db, UnixMillis, Value};
use peregrine_persist::Journal;

/// The shard's side of a snapshot being taken.
#[derive(Debug, Default)]
pub struct Capture {
    active: bool,
    parity: bool,
    time: UnixMillis,
    /// Records that rebuild the captured entries, waiting to be written to the snapshot.
    pub records: Journal,
    /// Entries captured so far.
    pub entries: u64,
}

impl Capture {
    /// True while a snapshot is being taken.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Starts capturing for the snapshot taken at `time`, whose captured entries carry
    /// `parity`.
    pub fn start(&mut self, parity: bool, time: UnixMillis) {
        self.active = true;
        self.parity = parity;
        self.time = time;
        self.records = Journal::disabled();
        self.records.enable(0);
        self.entries = 0;
    }

    /// Stops capturing (the sweep is done).
    pub fn finish(&mut self) {
        self.active = false;
    }

    /// The parity that marks captured entries.
    pub fn parity(&self) -> bool {
        self.parity
    }

    /// The snapshot's time.
    pub fn time(&self) -> UnixMillis {
        self.time
    }

    /// Records the commands that rebuild `value` under `key` in database `db`.
    pub fn record_entry(
        &mut self,
        db: u32,
        key: &[u8],
        value: &Value,
        deadline: Option<UnixMillis>,
    ) {
        let (time, records) = (self.time, &mut self.records);
        rebuild(key, value, deadline, &mut |argv| {
            records.command(time, db, argv);
        });
        self.entries += 1;
    }

    /// Captures `key` of `database` (number `db`) before a write changes it, unless the
    /// snapshot already has it or no snapshot is being taken.
    pub fn before_write(&mut self, database: &mut Db, db: u32, key: &[u8]) {
        if !self.active {
            return;
        }
        let (parity, time) = (self.parity, self.time);
        database.capture_key(key, parity, time, |key, value, deadline| {
            self.record_entry(db, key, value, deadline);
        });
    }

    /// One step of the sweep over `database` (number `db`) from `cursor`; returns the
    /// next cursor (0 when the database is done).
    pub fn sweep_step(&mut self, database: &mut Db, db: u32, cursor: u64) -> u64 {
        let (parity, time) = (self.parity, self.time);
        database.capture_step(cursor, parity, time, |key, value, deadline| {
            self.record_entry(db, key, value, deadline);
        })
    }

    /// Captures everything `database` still holds uncaptured (before FLUSHDB or SWAPDB
    /// changes it wholesale).
    pub fn sweep_all(&mut self, database: &mut Db, db: u32) {
        if !self.active {
            return;
        }
        let mut cursor = 0;
        loop {
            cursor = self.sweep_step(database, db, cursor);
            if cursor == 0 {
                break;
            }
        }
    }
}
