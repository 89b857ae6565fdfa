//! Commands that rebuild a value from nothing: how snapshots and multi-shard write-backs
//! record an entry. Collections come in chunks, so no record (and no step of a replay)
//! grows with the size of a value.

use crate::string_ref;
use peregrine_keyspace::{UnixMillis, Value};

/// Most elements one rebuild command carries.
const CHUNK_ELEMENTS: usize = 512;
/// Most bytes of elements one rebuild command carries.
const CHUNK_BYTES: usize = 64 * 1024;

/// Builds commands of the form `NAME key arg arg ...`, cut into chunks.
struct Chunker<'e> {
    name: &'static [u8],
    key: &'e [u8],
    args: Vec<Vec<u8>>,
    bytes: usize,
    elements: usize,
    emit: &'e mut dyn RebuildSink,
}

impl<'e> Chunker<'e> {
    fn new(name: &'static [u8], key: &'e [u8], emit: &'e mut dyn RebuildSink) -> Chunker<'e> {
        Chunker {
            name,
            key,
            args: Vec::new(),
            bytes: 0,
            elements: 0,
            emit,
        }
    }

    /// Adds one element made of `parts` (a member; a field and value; a score and member).
    fn push(&mut self, parts: &[&[u8]]) {
        for part in parts {
            self.bytes += part.len();
            self.args.push(part.to_vec());
        }
        self.elements += 1;
        if self.elements >= CHUNK_ELEMENTS || self.bytes >= CHUNK_BYTES {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.args.is_empty() {
            return;
        }
        let mut argv: Vec<&[u8]> = Vec::with_capacity(self.args.len() + 2);
        argv.push(self.name);
        argv.push(self.key);
        argv.extend(self.args.iter().map(Vec::as_slice));
        self.emit.command(&argv);
        self.args.clear();
        self.bytes = 0;
        self.elements = 0;
    }
}

impl Drop for Chunker<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Where rebuild commands go: a journal, a test shard, ...
pub trait RebuildSink {
    /// One command of the rebuild.
    fn command(&mut self, argv: &[&[u8]]);

    /// `key`, created by the next command, is to be created empty in `encoding` (of
    /// `value_type`) first: the rebuilt value then keeps the encoding the original had
    /// (a hash table that shrank stays one, scores stay bit for bit). Sinks that cannot
    /// say it ignore it: the value then takes the encoding its size calls for.
    fn create(&mut self, key: &[u8], value_type: &'static str, encoding: &'static str) {
        let _ = (key, value_type, encoding);
    }
}

impl<F: FnMut(&[&[u8]])> RebuildSink for F {
    fn command(&mut self, argv: &[&[u8]]) {
        self(argv)
    }
}

/// Rebuild records into a journal, timed at `time`, in database `db`.
pub struct JournalSink<'j> {
    /// The journal.
    pub journal: &'j mut peregrine_persist::Journal,
    /// The time of the records.
    pub time: UnixMillis,
    /// The database.
    pub db: u32,
}

impl RebuildSink for JournalSink<'_> {
    fn command(&mut self, argv: &[&[u8]]) {
        self.journal.command(self.time, self.db, argv);
    }

    fn create(&mut self, key: &[u8], value_type: &'static str, encoding: &'static str) {
        let (time, db) = (self.time, self.db);
        self.journal.append(time, |record| {
            record.create(time, db, key, value_type.as_bytes(), encoding.as_bytes())
        });
    }
}

/// Sends `sink` the commands that recreate `value` under `key` (which must not exist
/// when they run) and give it `deadline`.
pub fn rebuild(
    key: &[u8],
    value: &Value,
    deadline: Option<UnixMillis>,
    sink: &mut dyn RebuildSink,
) {
    let mut cursor = Some(0);
    let mut first = true;
    while let Some(at) = cursor {
        cursor = rebuild_part(key, value, at, usize::MAX, sink);
        if first {
            emit_deadline(key, deadline, sink);
            first = false;
        }
    }
}

/// The deadline's command, if there is one (after the first part has created the key).
pub fn emit_deadline(key: &[u8], deadline: Option<UnixMillis>, sink: &mut dyn RebuildSink) {
    if let Some(at) = deadline {
        sink.command(&[b"PEXPIREAT", key, at.to_string().as_bytes()]);
    }
}

/// Sends `sink` the commands that add about `budget` more elements of `value` to `key`,
/// starting at `cursor` (0 at first), and returns the cursor to continue from, or `None`
/// when the value is complete. The value must not change between parts. A string is one
/// part.
pub fn rebuild_part(
    key: &[u8],
    value: &Value,
    cursor: u64,
    budget: usize,
    sink: &mut dyn RebuildSink,
) -> Option<u64> {
    if cursor == 0 {
        if let Value::Hash(_) | Value::Set(_) | Value::SortedSet(_) = value {
            sink.create(key, value.value_type().name(), value.encoding_name());
        }
    }
    let emit = sink;
    match value {
        Value::Int(_) | Value::Embedded(_) | Value::Raw(_) => {
            if let Ok(text) = string_ref(value) {
                emit.command(&[b"SET", key, text.as_bytes()]);
            }
            None
        }
        Value::List(list) => {
            let start = cursor as usize;
            let mut chunks = Chunker::new(b"RPUSH", key, emit);
            let mut end = start;
            for element in list.iter_from(start).take(budget) {
                chunks.push(&[element]);
                end += 1;
            }
            (end < list.len()).then_some(end as u64)
        }
        Value::Set(set) => {
            let mut chunks = Chunker::new(b"SADD", key, emit);
            let mut taken = 0;
            let mut next = cursor;
            loop {
                next = set.scan(next, |member| {
                    chunks.push(&[member]);
                    taken += 1;
                });
                if next == 0 {
                    return None;
                }
                if taken >= budget {
                    return Some(next);
                }
            }
        }
        Value::SortedSet(sorted_set) => {
            let start = cursor as usize;
            let end = start.saturating_add(budget).min(sorted_set.len());
            let mut chunks = Chunker::new(b"ZADD", key, emit);
            sorted_set.walk(start..end, false, |member, score| {
                chunks.push(&[format_score(score).as_bytes(), member]);
            });
            (end < sorted_set.len()).then_some(end as u64)
        }
        Value::Stream(stream) => crate::stream::rebuild_stream(key, stream, cursor, budget, emit),
        Value::Hash(hash) => {
            let mut expiring: Vec<(Vec<u8>, UnixMillis)> = Vec::new();
            let mut taken = 0;
            let mut next = cursor;
            {
                let mut chunks = Chunker::new(b"HSET", key, emit);
                loop {
                    next = hash.scan(next, |field, field_value| {
                        chunks.push(&[field, field_value]);
                        if let Some(Some(at)) = hash.field_deadline(field) {
                            expiring.push((field.to_vec(), at));
                        }
                        taken += 1;
                    });
                    if next == 0 || taken >= budget {
                        break;
                    }
                }
            }
            for (field, at) in expiring {
                let at = at.to_string();
                emit.command(&[b"HPEXPIREAT", key, at.as_bytes(), b"FIELDS", b"1", &field]);
            }
            (next != 0).then_some(next)
        }
    }
}

/// A score's text that parses back to exactly the same double.
fn format_score(score: f64) -> String {
    if score == f64::INFINITY {
        "inf".to_owned()
    } else if score == f64::NEG_INFINITY {
        "-inf".to_owned()
    } else {
        format!("{score:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_shard::TestShard;
    use peregrine_keyspace::DbIndex;

    /// Runs rebuild commands on a test shard, creating values in their encoding.
    struct ShardSink<'s>(&'s mut TestShard);

    impl RebuildSink for ShardSink<'_> {
        fn command(&mut self, argv: &[&[u8]]) {
            let args: Vec<String> = argv
                .iter()
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect();
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            assert!(!self.0.run(&refs).is_error(), "{refs:?}");
        }

        fn create(&mut self, key: &[u8], value_type: &'static str, encoding: &'static str) {
            let value = Value::empty_collection(value_type.as_bytes(), encoding.as_bytes())
                .expect("a known encoding");
            let now = self.0.now;
            self.0.keyspace.db(DbIndex(0)).set(key, value, None, now);
        }
    }

    #[test]
    fn every_type_rebuilds_to_the_same_value_and_encoding() {
        let mut source = TestShard::new();
        source.run(&["SET", "s", "text"]);
        source.run(&["SET", "n", "12345"]);
        source.run(&["PEXPIREAT", "n", "99999999999999"]);
        for index in 0..1500 {
            let element = index.to_string();
            source.run(&["RPUSH", "l", &element]);
            source.run(&["SADD", "bigset", &element]);
            source.run(&["HSET", "bighash", &element, &element]);
            source.run(&["ZADD", "bigzset", &format!("{index}.25"), &element]);
        }
        source.run(&["SADD", "ints", "1", "2", "3"]);
        source.run(&["ZADD", "z", "-inf", "a", "inf", "b", "0.1", "c"]);
        source.run(&["HSET", "h", "f", "v", "g", "w"]);
        source.run(&["HPEXPIREAT", "h", "99999999999999", "FIELDS", "1", "g"]);
        // Encodings a value keeps after shrinking, and a negative zero score.
        let long = "m".repeat(70);
        source.run(&["HSET", "shrunk", "f", &long]);
        source.run(&["HSET", "shrunk", "f", "short"]);
        source.run(&["SADD", "intsplus", "1", "2", "x"]);
        source.run(&["SREM", "intsplus", "x"]);
        source.run(&["ZADD", "negzero", "-0.0", "a", "1", &long]);
        source.run(&["ZREM", "negzero", &long]);
        let keys = [
            "s", "n", "l", "bigset", "bighash", "bigzset", "ints", "z", "h", "shrunk", "intsplus",
            "negzero",
        ];
        let mut target = TestShard::new();
        for key in keys {
            let now = source.now;
            let db = source.keyspace.db(DbIndex(0));
            let entry = db.get(key.as_bytes(), now).cloned().unwrap();
            let deadline = db.deadline(key.as_bytes());
            rebuild(
                key.as_bytes(),
                &entry.value,
                deadline,
                &mut ShardSink(&mut target),
            );
        }
        let mut probes: Vec<Vec<&str>> = Vec::new();
        for key in keys {
            probes.push(vec!["OBJECT", "ENCODING", key]);
            probes.push(vec!["PEXPIRETIME", key]);
        }
        probes.extend([
            vec!["LRANGE", "l", "0", "-1"],
            vec!["SMEMBERS", "ints"],
            vec!["SCARD", "bigset"],
            vec!["HGETALL", "h"],
            vec!["HPEXPIRETIME", "h", "FIELDS", "2", "f", "g"],
            vec!["ZRANGE", "z", "0", "-1", "WITHSCORES"],
            vec!["ZRANGE", "bigzset", "0", "-1", "WITHSCORES"],
            vec!["HLEN", "bighash"],
            vec!["GET", "s"],
            vec!["GET", "n"],
            vec!["ZSCORE", "negzero", "a"],
            vec!["SMEMBERS", "intsplus"],
        ]);
        for probe in probes {
            assert_eq!(source.wire(&probe), target.wire(&probe), "{probe:?}");
        }
    }
}
