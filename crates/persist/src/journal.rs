//! A shard's journal: the records of changes applied since the last block was cut, waiting
//! for the shard's log writer.

use crate::record::RecordEncoder;

/// Records not yet written, with the LSNs they were given.
#[derive(Debug, Default)]
pub struct Journal {
    enabled: bool,
    records: Vec<u8>,
    base_time: u64,
    count: u32,
    first_lsn: u64,
    next_lsn: u64,
}

/// Records cut from the journal, ready to become a block.
#[derive(Debug)]
pub struct PendingRecords {
    /// Encoded records.
    pub records: Vec<u8>,
    /// LSN of the first.
    pub first_lsn: u64,
    /// How many.
    pub count: u32,
    /// The time their times are relative to.
    pub base_time: u64,
}

impl PendingRecords {
    /// These records as one block (see [`crate::block::seal_block`]).
    pub fn seal(&self, cipher: &crate::Cipher) -> Vec<u8> {
        crate::block::seal_block(
            &self.records,
            self.first_lsn,
            self.count,
            self.base_time,
            cipher,
        )
    }

    /// LSN of the last record.
    pub fn last_lsn(&self) -> u64 {
        self.first_lsn + u64::from(self.count) - 1
    }
}

impl Journal {
    /// A journal that records nothing (persistence off, or while loading).
    pub fn disabled() -> Journal {
        Journal::default()
    }

    /// True when changes are being recorded.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Starts recording, numbering records from `next_lsn`.
    pub fn enable(&mut self, next_lsn: u64) {
        self.enabled = true;
        self.next_lsn = next_lsn;
        self.first_lsn = next_lsn;
    }

    /// The LSN the next record gets.
    pub fn next_lsn(&self) -> u64 {
        self.next_lsn
    }

    /// The LSN of the last record appended (0 when none ever was).
    pub fn last_lsn(&self) -> u64 {
        self.next_lsn.saturating_sub(1)
    }

    /// Bytes buffered.
    pub fn buffered(&self) -> usize {
        self.records.len()
    }

    /// Appends one record written by `encode`, timed at `time`. Returns its LSN, or `None`
    /// when the journal is disabled.
    pub fn append(
        &mut self,
        time: u64,
        encode: impl FnOnce(&mut RecordEncoder<'_>),
    ) -> Option<u64> {
        if !self.enabled {
            return None;
        }
        if self.count == 0 {
            self.base_time = time;
            self.first_lsn = self.next_lsn;
        }
        encode(&mut RecordEncoder::new(&mut self.records, self.base_time));
        self.count += 1;
        let lsn = self.next_lsn;
        self.next_lsn += 1;
        Some(lsn)
    }

    /// Appends a command record.
    pub fn command<A: AsRef<[u8]>>(&mut self, time: u64, db: u32, argv: &[A]) -> Option<u64> {
        self.append(time, |encoder| encoder.command(time, db, argv))
    }

    /// Opens this shard's part of multi-shard operation `id` (with `participants` parts).
    pub fn tx_begin(&mut self, time: u64, id: u64, participants: u32) -> Option<u64> {
        self.append(time, |encoder| encoder.tx_begin(id, participants))
    }

    /// Closes this shard's part of operation `id`.
    pub fn tx_end(&mut self, time: u64, id: u64) -> Option<u64> {
        self.append(time, |encoder| encoder.tx_end(id))
    }

    /// Takes everything buffered (`None` when nothing is).
    pub fn take(&mut self) -> Option<PendingRecords> {
        if self.count == 0 {
            return None;
        }
        let pending = PendingRecords {
            records: std::mem::take(&mut self.records),
            first_lsn: self.first_lsn,
            count: self.count,
            base_time: self.base_time,
        };
        self.count = 0;
        self.first_lsn = self.next_lsn;
        Some(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Record, RecordDecoder};

    #[test]
    fn numbers_records_and_cuts_them_in_batches() {
        let mut journal = Journal::disabled();
        assert_eq!(journal.command(5, 0, &["SET", "k", "v"]), None);
        journal.enable(100);
        assert_eq!(journal.command(5, 0, &["SET", "k", "v"]), Some(100));
        assert_eq!(journal.command(7, 1, &["DEL", "k"]), Some(101));
        let pending = journal.take().unwrap();
        assert_eq!(
            (pending.first_lsn, pending.count, pending.last_lsn()),
            (100, 2, 101)
        );
        let records: Vec<Record<'_>> = RecordDecoder::new(&pending.records, pending.base_time)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            records[1],
            Record::Command {
                time: 7,
                db: 1,
                argv: vec![b"DEL", b"k"]
            }
        );
        assert!(journal.take().is_none());
        assert_eq!(journal.command(9, 0, &["PING"]), Some(102));
        assert_eq!(journal.take().unwrap().first_lsn, 102);
    }
}
