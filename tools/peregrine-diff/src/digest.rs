//! A server's whole dataset in canonical form, to check replay after `kill -9`.
//!
//! [`Digest::take`] reads every key of the databases the generator can reach,
//! over a connection of its own: the key's TYPE, its value in a canonical form
//! (table [`VALUE_READERS`]: GET, LRANGE 0 -1, sorted SMEMBERS, HGETALL as
//! sorted pairs, ZRANGE 0 -1 WITHSCORES; a stream as [`read_streams`] tells) and
//! its PEXPIRETIME.
//!
//! A stream's value is its entries (`XRANGE key - +`), the fields of `XINFO
//! STREAM` that follow from the commands alone (length, last-generated-id,
//! max-deleted-entry-id, entries-added, recorded-first-entry-id; not the node
//! layout), and for each consumer group (`XINFO GROUPS`) its name, consumers,
//! pending, last-delivered-id, entries-read and lag, each consumer's name and
//! pending count (`XINFO CONSUMERS`, without idle times) and the whole pending
//! entries list (`XPENDING key group - + N`, idle times masked as `compare` rule 13
//! does).
//!
//! Two digests are compared with one of two strictnesses ([`Strictness`]):
//! a server against itself (Peregrine before the kill against Peregrine after
//! the restart) must match exactly, the absolute expiry time included to the
//! millisecond; Redis against Peregrine is compared as the replies are (rule 9
//! of `compare` for scores), with the expiry compared by presence only, since
//! the two servers set it at slightly different milliseconds.
//!
//! It is not: a snapshot format, or a check of encodings or of anything a
//! client cannot read back (LRU clocks, memory).

use std::collections::BTreeMap;

use crate::compare;
use crate::resp::{escape_unquoted, ClientError, Connection, RawReply, Reply};

/// How one type's value is read and put in canonical form.
#[derive(Debug, Clone, Copy)]
struct ValueReader {
    /// The TYPE reply this reader is for.
    key_type: &'static [u8],
    /// The read command's name, then its arguments after the key.
    command: &'static [&'static str],
    /// How the reply is put in canonical order.
    order: Order,
}

/// The canonical order of a value reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// The server's order is part of the value (strings, lists, sorted sets).
    AsSent,
    /// Elements sorted (set members).
    Sorted,
    /// Field-value pairs sorted (hash fields).
    SortedPairs,
}

/// The value readers, by type. Streams are read by [`read_streams`]; a type
/// missing from both is compared by its TYPE and expiry only.
#[rustfmt::skip]
const VALUE_READERS: &[ValueReader] = &[
    ValueReader { key_type: b"string", command: &["GET"],                                order: Order::AsSent },
    ValueReader { key_type: b"list",   command: &["LRANGE", "0", "-1"],                  order: Order::AsSent },
    ValueReader { key_type: b"set",    command: &["SMEMBERS"],                           order: Order::Sorted },
    ValueReader { key_type: b"hash",   command: &["HGETALL"],                            order: Order::SortedPairs },
    ValueReader { key_type: b"zset",   command: &["ZRANGE", "0", "-1", "WITHSCORES"],    order: Order::AsSent },
];

/// The type whose values carry scores (rule 9 of `compare`).
const SORTED_SET_TYPE: &[u8] = b"zset";

/// The stream type, read by [`read_streams`].
const STREAM_TYPE: &[u8] = b"stream";

/// The fields of `XINFO STREAM` a stream's state keeps: those that follow from the
/// commands alone, the node layout included (not `groups`, `first-entry` and
/// `last-entry`, which the rest of the state holds).
const STREAM_FIELDS: &[&str] = &[
    "length",
    "radix-tree-keys",
    "radix-tree-nodes",
    "last-generated-id",
    "max-deleted-entry-id",
    "entries-added",
    "recorded-first-entry-id",
];

/// The fields of an `XINFO GROUPS` entry a stream's state keeps (all of 7.0 and 7.2's).
const GROUP_FIELDS: &[&str] = &[
    "name",
    "consumers",
    "pending",
    "last-delivered-id",
    "entries-read",
    "lag",
];

/// The fields of an `XINFO CONSUMERS` entry a stream's state keeps (not the idle times).
const CONSUMER_FIELDS: &[&str] = &["name", "pending"];

/// The COUNT of the XPENDING that reads a group's whole pending entries list.
const PENDING_COUNT: &str = "1000000000";

/// One key's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyState {
    /// The TYPE reply (`string`, `list`, ...).
    pub key_type: Vec<u8>,
    /// The value in canonical form (the read command's reply, reordered).
    pub value: Reply,
    /// The PEXPIRETIME reply: `-1` without expiry, else the unix time in milliseconds.
    pub expiry: Reply,
}

impl KeyState {
    /// Whether the key has an expiry, as PEXPIRETIME tells.
    pub fn has_expiry(&self) -> bool {
        matches!(self.expiry, Reply::Integer(at) if at >= 0)
    }

    /// One printable line: type, value and expiry.
    pub fn printable(&self) -> String {
        let expiry = match self.expiry {
            Reply::Integer(-1) => "no expiry".to_owned(),
            Reply::Integer(at) if at >= 0 => format!("expires at unix ms {at}"),
            ref other => format!("PEXPIRETIME {}", other.printable()),
        };
        format!(
            "{} {} ({expiry})",
            escape_unquoted(&self.key_type),
            self.value.printable()
        )
    }
}

/// A database index and a key, in the order a digest lists them.
type Location = (usize, Vec<u8>);

/// Every key of the databases a digest covered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digest {
    keys: BTreeMap<Location, KeyState>,
}

impl Digest {
    /// Reads every key of databases `0..databases` over `connection`, which it
    /// leaves with some database selected: give it a connection of its own.
    /// Each database takes three pipelined round trips: SELECT and KEYS, then
    /// every key's TYPE and PEXPIRETIME, then every key's value.
    pub fn take(connection: &mut Connection, databases: usize) -> Result<Self, ClientError> {
        let mut digest = Self::default();
        for database in 0..databases {
            for (key, state) in read_database(connection, database)? {
                digest.keys.insert((database, key), state);
            }
        }
        Ok(digest)
    }

    /// The state of `key` in `database`, if the digest saw it.
    pub fn get(&self, database: usize, key: &[u8]) -> Option<&KeyState> {
        self.keys.get(&(database, key.to_vec()))
    }

    #[cfg(test)]
    fn with(mut self, database: usize, key: &str, state: KeyState) -> Self {
        self.keys.insert((database, key.as_bytes().to_vec()), state);
        self
    }
}

/// How two digests must agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// One server against itself: every byte and the exact expiry time.
    Exact,
    /// Redis against Peregrine: values as their replies are compared, expiry by presence.
    Oracle,
}

/// One key whose state differs between two digests (`None`: the key is missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The database index.
    pub database: usize,
    /// The key.
    pub key: Vec<u8>,
    /// The state in the digest taken as the reference.
    pub expected: Option<KeyState>,
    /// The state in the digest under test.
    pub actual: Option<KeyState>,
}

/// Every key whose state in `actual` differs from `expected`, in database and key order.
pub fn differences(expected: &Digest, actual: &Digest, strictness: Strictness) -> Vec<Difference> {
    let mut locations: Vec<&Location> = expected.keys.keys().chain(actual.keys.keys()).collect();
    locations.sort();
    locations.dedup();
    locations
        .into_iter()
        .filter_map(|location| {
            let expected = expected.keys.get(location);
            let actual = actual.keys.get(location);
            let same = match (expected, actual) {
                (Some(expected), Some(actual)) => states_match(expected, actual, strictness),
                _ => false,
            };
            (!same).then(|| Difference {
                database: location.0,
                key: location.1.clone(),
                expected: expected.cloned(),
                actual: actual.cloned(),
            })
        })
        .collect()
}

/// Whether two states of one key agree under `strictness`.
fn states_match(expected: &KeyState, actual: &KeyState, strictness: Strictness) -> bool {
    match strictness {
        Strictness::Exact => expected == actual,
        Strictness::Oracle => {
            expected.key_type == actual.key_type
                && (expected.value == actual.value
                    || (expected.key_type == SORTED_SET_TYPE
                        && compare::scores_equivalent(&expected.value, &actual.value)))
                && expected.has_expiry() == actual.has_expiry()
        }
    }
}

/// A state, or `(no such key)`, printable.
pub fn printable(state: Option<&KeyState>) -> String {
    state.map_or_else(|| "(no such key)".to_owned(), KeyState::printable)
}

/// Every key of `database` and its state.
fn read_database(
    connection: &mut Connection,
    database: usize,
) -> Result<Vec<(Vec<u8>, KeyState)>, ClientError> {
    let keys = list_keys(connection, database)?;
    let probes: Vec<Vec<Vec<u8>>> = keys
        .iter()
        .flat_map(|key| {
            [
                command(&["TYPE"], Some(key)),
                command(&["PEXPIRETIME"], Some(key)),
            ]
        })
        .collect();
    let probed = connection.pipeline(&probes)?;
    let mut states: Vec<KeyState> = probed.chunks(2).map(unread_state).collect();
    let readers: Vec<Option<&ValueReader>> = states
        .iter()
        .map(|state| {
            VALUE_READERS
                .iter()
                .find(|reader| reader.key_type == state.key_type.as_slice())
        })
        .collect();
    let reads: Vec<Vec<Vec<u8>>> = keys
        .iter()
        .zip(&readers)
        .filter_map(|(key, reader)| reader.map(|reader| command(reader.command, Some(key))))
        .collect();
    let values = connection.pipeline(&reads)?;
    assign_values(&mut states, &readers, values);
    let streams: Vec<(&Vec<u8>, &mut KeyState)> = keys
        .iter()
        .zip(states.iter_mut())
        .filter(|(_, state)| state.key_type == STREAM_TYPE)
        .collect();
    if !streams.is_empty() {
        let stream_keys: Vec<&[u8]> = streams.iter().map(|(key, _)| key.as_slice()).collect();
        let stream_values = read_streams(connection, &stream_keys)?;
        for ((_, state), value) in streams.into_iter().zip(stream_values) {
            state.value = value;
        }
    }
    Ok(keys.into_iter().zip(states).collect())
}

/// Puts `values`, the replies to the read commands of the keys that have a reader
/// (in key order), into those keys' states; a key without a reader has no reply
/// there and keeps its state.
fn assign_values(states: &mut [KeyState], readers: &[Option<&ValueReader>], values: Vec<RawReply>) {
    let mut values = values.into_iter();
    for (state, reader) in states.iter_mut().zip(readers) {
        let Some(reader) = reader else {
            continue;
        };
        if let Some(reply) = values.next() {
            state.value = canonical(reader.order, reply.value);
        }
    }
}

/// The canonical values of the streams at `keys` (in the selected database), in two
/// pipelined round trips: each stream's entries, `XINFO STREAM` and `XINFO GROUPS`,
/// then each group's consumers and pending entries. A value is
/// `[entries, [stream fields], [group, ...]]`, a group `[group fields...,
/// "consumer-list", [[consumer fields...], ...], "pel", pending entries]`; a read
/// that fails keeps its error reply in its place.
fn read_streams(connection: &mut Connection, keys: &[&[u8]]) -> Result<Vec<Reply>, ClientError> {
    let reads: Vec<Vec<Vec<u8>>> = keys
        .iter()
        .flat_map(|key| {
            [
                command(&["XRANGE", "-", "+"], Some(key)),
                subcommand("XINFO", "STREAM", key, &[]),
                subcommand("XINFO", "GROUPS", key, &[]),
            ]
        })
        .collect();
    let replies = connection.pipeline(&reads)?;
    let mut streams: Vec<(Reply, Reply, Vec<Reply>)> = Vec::with_capacity(keys.len());
    for answers in replies.chunks(3) {
        let [entries, info, groups] = answers else {
            continue;
        };
        let groups = match &groups.value {
            Reply::Array(groups) => groups.clone(),
            other => vec![other.clone()],
        };
        streams.push((entries.value.clone(), info.value.clone(), groups));
    }
    let group_reads: Vec<Vec<Vec<u8>>> = keys
        .iter()
        .zip(&streams)
        .flat_map(|(key, (_, _, groups))| {
            groups.iter().filter_map(field_name).flat_map(move |name| {
                [
                    subcommand("XINFO", "CONSUMERS", key, &[name]),
                    subcommand(
                        "XPENDING",
                        "",
                        key,
                        &[name, b"-", b"+", PENDING_COUNT.as_bytes()],
                    ),
                ]
            })
        })
        .collect();
    let mut group_replies = connection.pipeline(&group_reads)?.into_iter();
    let mut values = Vec::with_capacity(streams.len());
    for (entries, info, groups) in streams {
        let mut group_states = Vec::with_capacity(groups.len());
        for group in groups {
            let mut state = match field_name(&group) {
                Some(_) => picked(&group, GROUP_FIELDS),
                None => vec![group.clone()],
            };
            if field_name(&group).is_some() {
                let consumers = group_replies.next().map(|reply| reply.value);
                let pending = group_replies.next().map(|reply| reply.value);
                let consumers = match consumers {
                    Some(Reply::Array(consumers)) => Reply::Array(
                        consumers
                            .iter()
                            .map(|consumer| Reply::Array(picked(consumer, CONSUMER_FIELDS)))
                            .collect(),
                    ),
                    other => other.unwrap_or(Reply::Nil),
                };
                let pending =
                    pending.map_or(Reply::Nil, |pending| compare::pending_idle_masked(&pending));
                state.extend([
                    Reply::Bulk(b"consumer-list".to_vec()),
                    consumers,
                    Reply::Bulk(b"pel".to_vec()),
                    pending,
                ]);
            }
            group_states.push(Reply::Array(state));
        }
        let info = match &info {
            Reply::Array(_) => Reply::Array(picked(&info, STREAM_FIELDS)),
            other => other.clone(),
        };
        values.push(Reply::Array(vec![
            entries,
            info,
            Reply::Array(group_states),
        ]));
    }
    Ok(values)
}

/// The value of field `name` in a RESP2 field-value list.
fn field<'a>(list: &'a Reply, name: &str) -> Option<&'a Reply> {
    let Reply::Array(items) = list else {
        return None;
    };
    items.chunks(2).find_map(|pair| match pair {
        [Reply::Bulk(field), value] if field == name.as_bytes() => Some(value),
        _ => None,
    })
}

/// The `name` of an `XINFO GROUPS` entry, when it has one.
fn field_name(list: &Reply) -> Option<&[u8]> {
    match field(list, "name") {
        Some(Reply::Bulk(name)) => Some(name),
        _ => None,
    }
}

/// The fields `names` of a field-value list, in that order, as a flat list of
/// those it has.
fn picked(list: &Reply, names: &[&str]) -> Vec<Reply> {
    names
        .iter()
        .filter_map(|name| {
            field(list, name).map(|value| [Reply::Bulk(name.as_bytes().to_vec()), value.clone()])
        })
        .flatten()
        .collect()
}

/// `name` (then `sub`, unless empty), `key`, then `rest`.
fn subcommand(name: &str, sub: &str, key: &[u8], rest: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut args = vec![name.as_bytes().to_vec()];
    if !sub.is_empty() {
        args.push(sub.as_bytes().to_vec());
    }
    args.push(key.to_vec());
    args.extend(rest.iter().map(|part| part.to_vec()));
    args
}

/// Selects `database` and lists its keys.
fn list_keys(connection: &mut Connection, database: usize) -> Result<Vec<Vec<u8>>, ClientError> {
    let select = command(&["SELECT", &database.to_string()], None);
    let list = command(&["KEYS", "*"], None);
    let replies = connection.pipeline(&[select.clone(), list.clone()])?;
    match replies.first().map(|reply| &reply.value) {
        Some(Reply::Simple(ok)) if ok == b"OK" => {}
        other => return Err(unexpected(&select, other)),
    }
    match replies.get(1).map(|reply| &reply.value) {
        Some(Reply::Array(keys)) => keys
            .iter()
            .map(|key| match key {
                Reply::Bulk(key) => Ok(key.clone()),
                other => Err(unexpected(&list, Some(other))),
            })
            .collect(),
        other => Err(unexpected(&list, other)),
    }
}

/// A key's state from its TYPE and PEXPIRETIME replies, before its value is read.
fn unread_state(answers: &[RawReply]) -> KeyState {
    let key_type = match answers.first().map(|reply| &reply.value) {
        Some(Reply::Simple(name)) => name.clone(),
        other => other.map(Reply::printable).unwrap_or_default().into_bytes(),
    };
    KeyState {
        key_type,
        value: Reply::Simple(b"(value not read)".to_vec()),
        expiry: answers
            .get(1)
            .map_or(Reply::NilArray, |reply| reply.value.clone()),
    }
}

fn canonical(order: Order, value: Reply) -> Reply {
    match order {
        Order::AsSent => value,
        Order::Sorted => compare::sorted(&value),
        Order::SortedPairs => compare::sorted_pairs(&value),
    }
}

/// The arguments of `parts`'s command name, then `key` if any, then the rest of `parts`.
fn command(parts: &[&str], key: Option<&[u8]>) -> Vec<Vec<u8>> {
    let mut parts = parts.iter().map(|part| part.as_bytes().to_vec());
    let mut args: Vec<Vec<u8>> = parts.next().into_iter().collect();
    args.extend(key.map(<[u8]>::to_vec));
    args.extend(parts);
    args
}

/// A reply the digest cannot use (or none), as a client error.
fn unexpected(args: &[Vec<u8>], reply: Option<&Reply>) -> ClientError {
    let command: Vec<String> = args.iter().map(|arg| escape_unquoted(arg)).collect();
    ClientError::Io(std::io::Error::other(format!(
        "reading the dataset: {} answered {}",
        command.join(" "),
        reply.map_or_else(|| "nothing".to_owned(), Reply::printable)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Reply {
        Reply::Bulk(text.as_bytes().to_vec())
    }

    fn state(key_type: &str, value: Reply, expiry: i64) -> KeyState {
        KeyState {
            key_type: key_type.as_bytes().to_vec(),
            value,
            expiry: Reply::Integer(expiry),
        }
    }

    #[test]
    fn identical_digests_have_no_differences() {
        let digest = Digest::default()
            .with(0, "a", state("string", bulk("1"), -1))
            .with(2, "a", state("list", Reply::Array(vec![bulk("x")]), 1_700));
        assert!(differences(&digest, &digest.clone(), Strictness::Exact).is_empty());
        assert!(differences(&digest, &digest.clone(), Strictness::Oracle).is_empty());
    }

    #[test]
    fn missing_and_extra_keys_are_differences_in_order() {
        let expected = Digest::default().with(1, "b", state("string", bulk("1"), -1));
        let actual = Digest::default().with(0, "c", state("string", bulk("2"), -1));
        let found = differences(&expected, &actual, Strictness::Oracle);
        let locations: Vec<(usize, &[u8])> = found
            .iter()
            .map(|difference| (difference.database, difference.key.as_slice()))
            .collect();
        assert_eq!(locations, [(0, b"c".as_slice()), (1, b"b".as_slice())]);
        assert_eq!(found[0].expected, None);
        assert_eq!(printable(found[1].actual.as_ref()), "(no such key)");
    }

    #[test]
    fn the_same_key_in_another_database_is_another_key() {
        let expected = Digest::default().with(0, "a", state("string", bulk("1"), -1));
        let actual = Digest::default().with(1, "a", state("string", bulk("1"), -1));
        assert_eq!(differences(&expected, &actual, Strictness::Exact).len(), 2);
    }

    #[test]
    fn the_oracle_compares_expiry_by_presence_only() {
        let redis = Digest::default().with(0, "k", state("string", bulk("v"), 1_000));
        let later = Digest::default().with(0, "k", state("string", bulk("v"), 1_003));
        let persistent = Digest::default().with(0, "k", state("string", bulk("v"), -1));
        assert!(differences(&redis, &later, Strictness::Oracle).is_empty());
        assert_eq!(differences(&redis, &later, Strictness::Exact).len(), 1);
        assert_eq!(
            differences(&redis, &persistent, Strictness::Oracle).len(),
            1
        );
    }

    #[test]
    fn the_oracle_accepts_either_score_format_for_sorted_sets_only() {
        let scores = |score: &str| Reply::Array(vec![bulk("m"), bulk(score)]);
        let redis = Digest::default()
            .with(0, "z", state("zset", scores("0.10000000000000001"), -1))
            .with(0, "l", state("list", scores("0.10000000000000001"), -1));
        let peregrine = Digest::default()
            .with(0, "z", state("zset", scores("0.1"), -1))
            .with(0, "l", state("list", scores("0.1"), -1));
        let found = differences(&redis, &peregrine, Strictness::Oracle);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key, b"l");
        assert_eq!(differences(&redis, &peregrine, Strictness::Exact).len(), 2);
    }

    #[test]
    fn types_and_values_must_match() {
        let list = Digest::default().with(0, "k", state("list", Reply::Array(vec![]), -1));
        let set = Digest::default().with(0, "k", state("set", Reply::Array(vec![]), -1));
        assert_eq!(differences(&list, &set, Strictness::Oracle).len(), 1);
        let one = Digest::default().with(0, "k", state("string", bulk("1"), -1));
        let two = Digest::default().with(0, "k", state("string", bulk("2"), -1));
        assert_eq!(differences(&one, &two, Strictness::Oracle).len(), 1);
    }

    #[test]
    fn canonical_order_sorts_members_and_pairs() {
        let members = Reply::Array(vec![bulk("b"), bulk("a")]);
        assert_eq!(
            canonical(Order::Sorted, members.clone()),
            Reply::Array(vec![bulk("a"), bulk("b")])
        );
        assert_eq!(canonical(Order::AsSent, members.clone()), members);
        let pairs = Reply::Array(vec![bulk("f2"), bulk("1"), bulk("f1"), bulk("2")]);
        assert_eq!(
            canonical(Order::SortedPairs, pairs),
            Reply::Array(vec![bulk("f1"), bulk("2"), bulk("f2"), bulk("1")])
        );
    }

    #[test]
    fn every_generated_type_has_a_reader() {
        for key_type in ["string", "list", "set", "hash", "zset", "stream"] {
            assert!(
                key_type.as_bytes() == STREAM_TYPE
                    || VALUE_READERS
                        .iter()
                        .any(|reader| reader.key_type == key_type.as_bytes()),
                "{key_type}"
            );
        }
    }

    #[test]
    fn a_key_without_a_reader_takes_no_reply() {
        // Regression: the reply meant for the key after a stream went to the stream,
        // and every later key of the database got its neighbour's value.
        let unread =
            |key_type: &str| state(key_type, Reply::Simple(b"(value not read)".to_vec()), -1);
        let mut states = vec![unread("string"), unread("stream"), unread("string")];
        let get = VALUE_READERS.first();
        let readers = vec![get, None, get];
        let values = vec![
            RawReply::from_value(bulk("a")),
            RawReply::from_value(bulk("b")),
        ];
        assign_values(&mut states, &readers, values);
        let read: Vec<&Reply> = states.iter().map(|state| &state.value).collect();
        assert_eq!(
            read,
            [
                &bulk("a"),
                &Reply::Simple(b"(value not read)".to_vec()),
                &bulk("b")
            ]
        );
    }

    #[test]
    fn picked_fields_keep_the_asked_order_and_skip_missing_ones() {
        let list = Reply::Array(vec![
            bulk("idle"),
            Reply::Integer(5),
            bulk("pending"),
            Reply::Integer(2),
            bulk("name"),
            bulk("c1"),
        ]);
        assert_eq!(
            picked(&list, &["name", "pending", "inactive"]),
            vec![bulk("name"), bulk("c1"), bulk("pending"), Reply::Integer(2)]
        );
        assert_eq!(field_name(&list), Some(b"c1".as_slice()));
        assert_eq!(field_name(&Reply::Error(b"ERR no such key".to_vec())), None);
        assert_eq!(
            subcommand("XPENDING", "", b"s", &[b"g", b"-"]),
            vec![
                b"XPENDING".to_vec(),
                b"s".to_vec(),
                b"g".to_vec(),
                b"-".to_vec()
            ]
        );
    }

    #[test]
    fn printable_states_show_type_value_and_expiry() {
        assert_eq!(
            state("string", bulk("v"), -1).printable(),
            "string \"v\" (no expiry)"
        );
        assert_eq!(
            state("set", Reply::Array(vec![bulk("m")]), 17).printable(),
            "set [\"m\"] (expires at unix ms 17)"
        );
    }
}
