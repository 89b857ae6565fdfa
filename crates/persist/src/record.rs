//! Effect records: what a shard appends to its log for every change it applies, and what
//! a snapshot is made of.
//!
//! A record is the change as it happened, replayable to the same result: a command with
//! the time it ran at (so relative expiry and lazy expiry replay exactly), its random
//! choices already made (SPOP is logged as the SREM of what it popped), an active-expiry
//! step, or the bracket of one shard's part of a multi-shard operation.

use crate::varint::{put_bytes, put_i64, put_u64, Cursor};
use crate::FormatError;

const COMMAND: u8 = 1;
const EXPIRE: u8 = 2;
const EXPIRE_FIELDS: u8 = 3;
const TX_BEGIN: u8 = 4;
const TX_END: u8 = 5;
const SIZE_HINT: u8 = 6;
const CREATE: u8 = 7;

/// One decoded record, borrowing from its block's payload.
#[derive(Clone, Debug, PartialEq)]
pub enum Record<'a> {
    /// A command to run again, at `time` (Unix ms), in database `db`.
    Command {
        /// When it ran: the clock its handler saw.
        time: u64,
        /// Database index.
        db: u32,
        /// Name and arguments.
        argv: Vec<&'a [u8]>,
    },
    /// Active expiry removed `key` at `time` (its deadline had passed).
    Expire {
        /// When.
        time: u64,
        /// Database index.
        db: u32,
        /// The key.
        key: &'a [u8],
    },
    /// Active expiry removed the due fields of the hash at `key` at `time`.
    ExpireFields {
        /// When.
        time: u64,
        /// Database index.
        db: u32,
        /// The hash's key.
        key: &'a [u8],
    },
    /// The records up to the matching [`Record::TxEnd`] are this shard's part of the
    /// multi-shard operation `id`, which has `participants` parts in all: replayed only
    /// when every part is complete.
    TxBegin {
        /// Operation id, unique in the data directory's history.
        id: u64,
        /// How many shards wrote a part.
        participants: u32,
    },
    /// Closes this shard's part of operation `id`.
    TxEnd {
        /// Operation id.
        id: u64,
    },
    /// The next command creates `key` (of type `value_type`, as TYPE names it): it is to
    /// be created empty in `encoding` (as OBJECT ENCODING names it) first, so that a value
    /// rebuilt from its elements keeps the encoding (and exact scores) it had.
    Create {
        /// When.
        time: u64,
        /// Database index.
        db: u32,
        /// The key.
        key: &'a [u8],
        /// `hash`, `set`, `zset` ...
        value_type: &'a [u8],
        /// `hashtable`, `listpackex`, `skiplist` ...
        encoding: &'a [u8],
    },
    /// About `keys` keys of database `db` follow (a snapshot says so before them, so that
    /// loading sizes the table once instead of growing it step by step).
    SizeHint {
        /// Database index.
        db: u32,
        /// Keys expected.
        keys: u64,
    },
}

/// Encodes records into a block's payload; times are stored relative to `base_time`.
pub struct RecordEncoder<'a> {
    out: &'a mut Vec<u8>,
    base_time: u64,
}

impl<'a> RecordEncoder<'a> {
    /// An encoder appending to `out`, whose block's records are timed relative to
    /// `base_time`.
    pub fn new(out: &'a mut Vec<u8>, base_time: u64) -> RecordEncoder<'a> {
        RecordEncoder { out, base_time }
    }

    fn timed(&mut self, kind: u8, time: u64, db: u32) {
        self.out.push(kind);
        put_i64(self.out, time.wrapping_sub(self.base_time) as i64);
        put_u64(self.out, u64::from(db));
    }

    /// A command record.
    pub fn command<A: AsRef<[u8]>>(&mut self, time: u64, db: u32, argv: &[A]) {
        self.timed(COMMAND, time, db);
        put_u64(self.out, argv.len() as u64);
        for arg in argv {
            put_bytes(self.out, arg.as_ref());
        }
    }

    /// An active-expiry record for a key.
    pub fn expire(&mut self, time: u64, db: u32, key: &[u8]) {
        self.timed(EXPIRE, time, db);
        put_bytes(self.out, key);
    }

    /// An active-expiry record for a hash's fields.
    pub fn expire_fields(&mut self, time: u64, db: u32, key: &[u8]) {
        self.timed(EXPIRE_FIELDS, time, db);
        put_bytes(self.out, key);
    }

    /// Opens a multi-shard part.
    pub fn tx_begin(&mut self, id: u64, participants: u32) {
        self.out.push(TX_BEGIN);
        put_u64(self.out, id);
        put_u64(self.out, u64::from(participants));
    }

    /// Closes a multi-shard part.
    pub fn tx_end(&mut self, id: u64) {
        self.out.push(TX_END);
        put_u64(self.out, id);
    }

    /// A creation record (see [`Record::Create`]).
    pub fn create(&mut self, time: u64, db: u32, key: &[u8], value_type: &[u8], encoding: &[u8]) {
        self.timed(CREATE, time, db);
        put_bytes(self.out, key);
        put_bytes(self.out, value_type);
        put_bytes(self.out, encoding);
    }

    /// A size hint for the keys of `db` that follow.
    pub fn size_hint(&mut self, db: u32, keys: u64) {
        self.out.push(SIZE_HINT);
        put_u64(self.out, u64::from(db));
        put_u64(self.out, keys);
    }
}

/// Decodes the records of one block payload in order.
pub struct RecordDecoder<'a> {
    cursor: Cursor<'a>,
    base_time: u64,
}

impl<'a> RecordDecoder<'a> {
    /// A decoder over `payload`, whose times are relative to `base_time`.
    pub fn new(payload: &'a [u8], base_time: u64) -> RecordDecoder<'a> {
        RecordDecoder {
            cursor: Cursor::new(payload),
            base_time,
        }
    }

    fn decode(&mut self) -> Result<Record<'a>, FormatError> {
        let kind = self.cursor.u8()?;
        match kind {
            COMMAND | EXPIRE | EXPIRE_FIELDS | CREATE => {
                let time = self.base_time.wrapping_add(self.cursor.i64()? as u64);
                let db = u32::try_from(self.cursor.u64()?)
                    .map_err(|_| FormatError::Malformed("database index out of range"))?;
                match kind {
                    COMMAND => {
                        let argc = self.cursor.u64()?;
                        if argc == 0 {
                            return Err(FormatError::Malformed("command record without a name"));
                        }
                        let mut argv = Vec::with_capacity(argc.min(1024) as usize);
                        for _ in 0..argc {
                            argv.push(self.cursor.bytes()?);
                        }
                        Ok(Record::Command { time, db, argv })
                    }
                    EXPIRE => Ok(Record::Expire {
                        time,
                        db,
                        key: self.cursor.bytes()?,
                    }),
                    CREATE => Ok(Record::Create {
                        time,
                        db,
                        key: self.cursor.bytes()?,
                        value_type: self.cursor.bytes()?,
                        encoding: self.cursor.bytes()?,
                    }),
                    _ => Ok(Record::ExpireFields {
                        time,
                        db,
                        key: self.cursor.bytes()?,
                    }),
                }
            }
            TX_BEGIN => {
                let id = self.cursor.u64()?;
                let participants = u32::try_from(self.cursor.u64()?)
                    .map_err(|_| FormatError::Malformed("participant count out of range"))?;
                Ok(Record::TxBegin { id, participants })
            }
            TX_END => Ok(Record::TxEnd {
                id: self.cursor.u64()?,
            }),
            SIZE_HINT => Ok(Record::SizeHint {
                db: u32::try_from(self.cursor.u64()?)
                    .map_err(|_| FormatError::Malformed("database index out of range"))?,
                keys: self.cursor.u64()?,
            }),
            _ => Err(FormatError::Malformed("unknown record kind")),
        }
    }
}

impl<'a> Iterator for RecordDecoder<'a> {
    type Item = Result<Record<'a>, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.cursor.is_empty() {
            return None;
        }
        let record = self.decode();
        if record.is_err() {
            // A malformed record ends the block: nothing after it can be trusted.
            self.cursor = Cursor::new(&[]);
        }
        Some(record)
    }
}

impl std::fmt::Display for Record<'_> {
    /// One line per record, as `peregrine-tool` prints it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let quoted = |bytes: &[u8]| format!("{:?}", String::from_utf8_lossy(bytes));
        match self {
            Record::Command { time, db, argv } => {
                write!(f, "{time} db={db} command")?;
                for arg in argv {
                    write!(f, " {}", quoted(arg))?;
                }
                Ok(())
            }
            Record::Expire { time, db, key } => {
                write!(f, "{time} db={db} expire {}", quoted(key))
            }
            Record::ExpireFields { time, db, key } => {
                write!(f, "{time} db={db} expire-fields {}", quoted(key))
            }
            Record::TxBegin { id, participants } => {
                write!(f, "tx-begin id={id} participants={participants}")
            }
            Record::TxEnd { id } => write!(f, "tx-end id={id}"),
            Record::SizeHint { db, keys } => write!(f, "size-hint db={db} keys={keys}"),
            Record::Create {
                time,
                db,
                key,
                value_type,
                encoding,
            } => write!(
                f,
                "{time} db={db} create {} {} {}",
                quoted(key),
                String::from_utf8_lossy(value_type),
                String::from_utf8_lossy(encoding)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips() {
        let mut out = Vec::new();
        let mut encoder = RecordEncoder::new(&mut out, 1_000);
        encoder.tx_begin(7, 3);
        encoder.command(1_005, 2, &[&b"SET"[..], b"k", b"v"]);
        encoder.expire(990, 0, b"gone");
        encoder.expire_fields(2_000, 15, b"h");
        encoder.tx_end(7);
        encoder.size_hint(3, 1_000_000);
        encoder.create(1_001, 4, b"h", b"hash", b"hashtable");
        let records: Vec<Record<'_>> = RecordDecoder::new(&out, 1_000)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            records,
            vec![
                Record::TxBegin {
                    id: 7,
                    participants: 3
                },
                Record::Command {
                    time: 1_005,
                    db: 2,
                    argv: vec![b"SET", b"k", b"v"]
                },
                Record::Expire {
                    time: 990,
                    db: 0,
                    key: b"gone"
                },
                Record::ExpireFields {
                    time: 2_000,
                    db: 15,
                    key: b"h"
                },
                Record::TxEnd { id: 7 },
                Record::SizeHint {
                    db: 3,
                    keys: 1_000_000
                },
                Record::Create {
                    time: 1_001,
                    db: 4,
                    key: b"h",
                    value_type: b"hash",
                    encoding: b"hashtable"
                },
            ]
        );
    }

    #[test]
    fn a_malformed_record_ends_decoding() {
        let payload = [COMMAND, 0, 0, 0];
        let mut decoder = RecordDecoder::new(&payload, 0);
        assert!(decoder.next().unwrap().is_err());
        assert!(decoder.next().is_none());
        let unknown = [99u8];
        assert!(RecordDecoder::new(&unknown, 0).next().unwrap().is_err());
    }
}
