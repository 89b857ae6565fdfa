//! A snapshot in progress on one shard, as writes see it: before a write changes an entry
//! the snapshot has not captured yet, the entry is captured as it was (serialize before
//! mutate), so the snapshot stays the point in time at which it started.

use crate::rebuild::{emit_deadline, rebuild, rebuild_part, JournalSink};
use peregrine_keyspace::{Db, UnixMillis, Value};
use peregrine_persist::Journal;
use std::collections::VecDeque;

/// Collections with more elements than this are captured a part at a time, between
/// requests, instead of in one go.
pub const BIG_VALUE: usize = 8192;
/// Elements captured per part of a big value.
const PART: usize = 8192;

/// A big value whose capture is under way.
#[derive(Debug)]
struct BigValue {
    db: u32,
    key: Vec<u8>,
    deadline: Option<UnixMillis>,
    /// Where the next part starts; `None` before the first part.
    cursor: Option<u64>,
}

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
    /// Big values being captured part by part (already marked captured: a write to one
    /// finishes it first).
    big: VecDeque<BigValue>,
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
        self.big.clear();
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
        let mut sink = JournalSink {
            journal: &mut self.records,
            time: self.time,
            db,
        };
        rebuild(key, value, deadline, &mut sink);
        self.entries += 1;
    }

    /// Captures `key` of `database` (number `db`) before a write changes it, unless the
    /// snapshot already has it or no snapshot is being taken.
    pub fn before_write(&mut self, database: &mut Db, db: u32, key: &[u8]) {
        if !self.active {
            return;
        }
        if let Some(at) = self
            .big
            .iter()
            .position(|big| big.db == db && big.key == key)
        {
            if let Some(big) = self.big.remove(at) {
                self.finish_big(database, big);
            }
            return;
        }
        let (parity, time) = (self.parity, self.time);
        database.capture_key(key, parity, time, |key, value, deadline| {
            self.record_entry(db, key, value, deadline);
        });
    }

    /// One step of the sweep over `database` (number `db`) from `cursor`; returns the
    /// next cursor (0 when the scan is done). Big values met on the way are queued (see
    /// [`Capture::big_step`]).
    pub fn sweep_step(&mut self, database: &mut Db, db: u32, cursor: u64) -> u64 {
        let (parity, time) = (self.parity, self.time);
        database.capture_step(cursor, parity, time, |key, value, deadline| {
            if collection_len(value) > BIG_VALUE {
                self.big.push_back(BigValue {
                    db,
                    key: key.to_vec(),
                    deadline,
                    cursor: None,
                });
            } else {
                self.record_entry(db, key, value, deadline);
            }
        })
    }

    /// True while big values of `db` wait to be captured.
    pub fn has_big(&self, db: u32) -> bool {
        self.big.iter().any(|big| big.db == db)
    }

    /// Captures the next part of the first queued big value of `database` (number `db`).
    pub fn big_step(&mut self, database: &mut Db, db: u32) {
        let Some(at) = self.big.iter().position(|big| big.db == db) else {
            return;
        };
        let Some(mut big) = self.big.remove(at) else {
            return;
        };
        if self.capture_part(database, &mut big, PART) {
            self.big.insert(at, big);
        }
    }

    /// Captures a big value's remaining parts at once (a write is about to change it).
    fn finish_big(&mut self, database: &mut Db, mut big: BigValue) {
        while self.capture_part(database, &mut big, usize::MAX) {}
    }

    /// Records up to `budget` more elements of `big`; true when more remain.
    fn capture_part(&mut self, database: &mut Db, big: &mut BigValue, budget: usize) -> bool {
        let (time, records) = (self.time, &mut self.records);
        // Gone (expired since): what was recorded carries its deadline, so it expires on
        // load as it did here.
        let Some(entry) = database.get_live(&big.key, time) else {
            return false;
        };
        let mut sink = JournalSink {
            journal: records,
            time,
            db: big.db,
        };
        let next = rebuild_part(
            &big.key,
            &entry.value,
            big.cursor.unwrap_or(0),
            budget,
            &mut sink,
        );
        if big.cursor.is_none() {
            emit_deadline(&big.key, big.deadline, &mut sink);
            self.entries += 1;
        }
        match next {
            Some(cursor) => {
                big.cursor = Some(cursor);
                true
            }
            None => false,
        }
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
        while let Some(at) = self.big.iter().position(|big| big.db == db) {
            if let Some(big) = self.big.remove(at) {
                self.finish_big(database, big);
            }
        }
    }
}

/// Elements of a collection (0 for a string).
fn collection_len(value: &Value) -> usize {
    match value {
        Value::List(list) => list.len(),
        Value::Hash(hash) => hash.len(),
        Value::Set(set) => set.len(),
        Value::SortedSet(sorted_set) => sorted_set.len(),
        Value::Stream(stream) => stream.len() as usize,
        Value::Int(_) | Value::Embedded(_) | Value::Raw(_) => 0,
    }
}
