//! SORT and SORT_RO: the elements of a list, set or sorted set, sorted numerically or
//! alphabetically, by themselves or by weights found through a `BY` pattern, optionally
//! replaced by `GET` patterns' values, limited, and optionally stored as a list.
//!
//! Patterns reach keys the arguments do not name (`weight_*`, `object_*->field`), possibly
//! on other shards: the command is [`CrossShard::Discovered`], so on a server with several
//! shards a SORT with patterns runs under a lock of every shard, on a scratch copy of its
//! key, its destination and every key its patterns reach ([`referenced_keys`]).
//!
//! Differences from Redis: ties between equal `BY` weights in ALPHA mode keep the
//! elements' loading order (Redis's partial quicksort with LIMIT may order them
//! otherwise); a set sorted with a constant `BY` inside a script is not forced into ALPHA
//! order (the handler does not know it runs in a script); sorted sets keep their encoding
//! (Redis 7.0 converted them to a skiplist).

use crate::args::{is_keyword, parse_integer, parse_sort_weight};
use crate::spec::{discovered, Arity::*, CommandSpec, Discovery, Flag::*, Group, KeySpec};
use crate::{ArgReader, CmdResult, CommandError, EventClass, ShardCtx};
use bytes::Bytes;
use peregrine_keyspace::collections::{End, List};
use peregrine_keyspace::Value;
use peregrine_resp::Reply;
use std::cmp::Ordering;

/// The SORT family.
#[rustfmt::skip]
pub(crate) const COMMANDS: &[CommandSpec] = &[
    CommandSpec { name: "sort",    arity: AtLeast(2), flags: &[Write, DenyOom], keys: SORT_KEYS, exec: discovered(sort, DISCOVERY), group: Group::Generic, summary: "Sorts the elements in a list, a set, or a sorted set, optionally storing the result." },
    CommandSpec { name: "sort_ro", arity: AtLeast(2), flags: &[ReadOnly], keys: SORT_RO_KEYS, exec: discovered(sort_ro, DISCOVERY), group: Group::Generic, summary: "Returns the sorted elements of a list, a set, or a sorted set." },
];

/// The sorted key, and the STORE destination when there is one.
const SORT_KEYS: KeySpec = KeySpec {
    first: 1,
    last: 1,
    step: 1,
    find: Some(sort_key_positions),
};

/// The sorted key; movable, as Redis reports it (its patterns reach other keys).
const SORT_RO_KEYS: KeySpec = KeySpec {
    first: 1,
    last: 1,
    step: 1,
    find: Some(|_| vec![1]),
};

const DISCOVERY: Discovery = Discovery {
    references: references_other_keys,
    keys: referenced_keys,
};

fn sort_key_positions(argv: &[Bytes]) -> Vec<usize> {
    let mut positions = vec![1];
    if let Ok(options) = SortOptions::parse(argv, true) {
        positions.extend(options.store_position);
    }
    positions
}

/// The options of one SORT, as Redis parses them.
#[derive(Debug, Default)]
struct SortOptions {
    /// The BY pattern (`None` after a constant BY that turned sorting off).
    by: Option<Bytes>,
    /// A constant BY pattern: keep the native order.
    dont_sort: bool,
    limit_start: i64,
    limit_count: i64,
    gets: Vec<Bytes>,
    desc: bool,
    alpha: bool,
    store: Option<Bytes>,
    store_position: Option<usize>,
}

impl SortOptions {
    /// Redis's option loop: later options win, LIMIT needs two integers, anything else is
    /// a syntax error (STORE too, for SORT_RO).
    fn parse(argv: &[Bytes], allow_store: bool) -> Result<SortOptions, CommandError> {
        let mut options = SortOptions {
            limit_count: -1,
            ..SortOptions::default()
        };
        let mut index = 2;
        while index < argv.len() {
            let word = &argv[index];
            let left = argv.len() - index - 1;
            if is_keyword(word, "asc") {
                options.desc = false;
            } else if is_keyword(word, "desc") {
                options.desc = true;
            } else if is_keyword(word, "alpha") {
                options.alpha = true;
            } else if is_keyword(word, "limit") && left >= 2 {
                options.limit_start = parse_integer(&argv[index + 1])?;
                options.limit_count = parse_integer(&argv[index + 2])?;
                index += 2;
            } else if is_keyword(word, "store") && left >= 1 && allow_store {
                options.store = Some(argv[index + 1].clone());
                options.store_position = Some(index + 1);
                index += 1;
            } else if is_keyword(word, "by") && left >= 1 {
                let pattern = argv[index + 1].clone();
                options.dont_sort = star(&pattern).is_none();
                options.by = Some(pattern);
                index += 1;
            } else if is_keyword(word, "get") && left >= 1 {
                options.gets.push(argv[index + 1].clone());
                index += 1;
            } else {
                return Err(CommandError::Syntax);
            }
            index += 1;
        }
        Ok(options)
    }
}

/// The position of the first `*` of a pattern, as C's `strchr` finds it (a NUL ends the
/// search).
fn star(pattern: &[u8]) -> Option<usize> {
    pattern
        .iter()
        .take_while(|byte| **byte != 0)
        .position(|byte| *byte == b'*')
}

/// The key (and hash field) `pattern` names for element `element`, as Redis's
/// `lookupKeyByPattern` builds it; `None` for a pattern without `*` (and for `#`, which
/// names the element itself).
fn pattern_target(pattern: &[u8], element: &[u8]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let star = star(pattern)?;
    // strstr(p + 1, "->") on a C string, with a field of at least one byte.
    let after = &pattern[star + 1..];
    let c_after = &after[..after
        .iter()
        .position(|byte| *byte == 0)
        .unwrap_or(after.len())];
    let arrow = c_after
        .windows(2)
        .position(|pair| pair == b"->")
        .filter(|at| c_after.get(at + 2).is_some_and(|byte| *byte != 0));
    let (postfix, field) = match arrow {
        Some(at) => (&after[..at], Some(after[at + 2..].to_vec())),
        None => (after, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + element.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(postfix);
    Some((key, field))
}

/// The value a BY or GET pattern finds for `element`: `#` is the element, a hash field
/// after `->`, otherwise a string; `None` when the key is missing or of another type.
/// `for_store` looks keys up as writes (no hit/miss statistics), as Redis does when
/// storing.
fn lookup_by_pattern(
    shard: &mut ShardCtx<'_>,
    pattern: &[u8],
    element: &Bytes,
    for_store: bool,
) -> Option<Bytes> {
    if pattern == b"#" {
        return Some(element.clone());
    }
    let (key, field) = pattern_target(pattern, element)?;
    let value = if for_store {
        shard.lookup_write(&key)?
    } else {
        shard.lookup_read(&key)?
    };
    match field {
        Some(field) => match value {
            Value::Hash(_) => crate::hash::field_value(shard, &key, &field),
            _ => None,
        },
        None => crate::context::string_ref(value)
            .ok()
            .map(|text| Bytes::copy_from_slice(text.as_bytes())),
    }
}

/// One element being sorted.
struct Item {
    element: Bytes,
    score: f64,
    /// The BY value in ALPHA mode.
    compared: Option<Bytes>,
}

/// The source's elements, as Redis loads them: a list in order (or just the LIMIT range,
/// walked backwards for DESC, when nothing is sorted), a set in its order, a sorted set
/// by score (or its LIMIT range) when nothing is sorted. Returns the elements and the
/// output range within them.
fn load(
    value: Option<&mut Value>,
    options: &SortOptions,
) -> Result<(Vec<Bytes>, i64, i64), CommandError> {
    let length = match value.as_deref() {
        None => 0,
        Some(Value::List(list)) => list.len(),
        Some(Value::Set(set)) => set.len(),
        Some(Value::SortedSet(sorted)) => sorted.len(),
        Some(_) => return Err(CommandError::WrongType),
    } as i64;
    let mut start = options.limit_start.max(0);
    let mut end = if options.limit_count < 0 {
        length - 1
    } else {
        start.saturating_add(options.limit_count) - 1
    };
    if start >= length {
        start = length - 1;
        end = length - 2;
    }
    if end >= length {
        end = length - 1;
    }
    let ranged = options.dont_sort
        && matches!(value.as_deref(), Some(Value::List(_) | Value::SortedSet(_)))
        && (start != 0 || end != length - 1);
    let wanted = if ranged { end - start + 1 } else { length }.max(0) as usize;
    let mut elements = Vec::with_capacity(wanted);
    match value {
        None => {}
        Some(Value::List(list)) if options.dont_sort && end >= start => {
            // The LIMIT range in the list's order, or backwards from the tail for DESC.
            let first = if options.desc {
                (length - start) as usize - wanted
            } else {
                start as usize
            };
            elements.extend(
                list.iter_from(first)
                    .take(wanted)
                    .map(Bytes::copy_from_slice),
            );
            if options.desc {
                elements.reverse();
            }
            end -= start;
            start = 0;
        }
        Some(Value::List(_)) if options.dont_sort => {}
        Some(Value::List(list)) => elements.extend(list.iter().map(Bytes::copy_from_slice)),
        Some(Value::Set(set)) => set.for_each_member(|member| {
            elements.push(Bytes::copy_from_slice(member));
        }),
        Some(Value::SortedSet(sorted)) if options.dont_sort => {
            if wanted > 0 {
                let first = start as usize;
                let ranks = if options.desc {
                    let len = length as usize;
                    len - first - wanted..len - first
                } else {
                    first..first + wanted
                };
                sorted.walk(ranks, options.desc, |member, _| {
                    elements.push(Bytes::copy_from_slice(member));
                });
            }
            end -= start;
            start = 0;
        }
        Some(Value::SortedSet(sorted)) => {
            let all = 0..sorted.len();
            sorted.walk(all, false, |member, _| {
                elements.push(Bytes::copy_from_slice(member));
            });
        }
        Some(_) => return Err(CommandError::WrongType),
    }
    Ok((elements, start, end))
}

/// C's `strcoll` in the C locale: `strcmp`, which stops at a NUL byte.
fn collate(left: &[u8], right: &[u8]) -> Ordering {
    let until_nul =
        |bytes: &[u8]| -> usize { bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len()) };
    left[..until_nul(left)].cmp(&right[..until_nul(right)])
}

/// Redis's `sortCompare`.
fn compare(left: &Item, right: &Item, options: &SortOptions, storing: bool) -> Ordering {
    let order = if !options.alpha {
        left.score
            .partial_cmp(&right.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| left.element.cmp(&right.element))
    } else if options.by.is_some() {
        match (&left.compared, &right.compared) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(left), Some(right)) if storing => left.cmp(right),
            (Some(left), Some(right)) => collate(left, right),
        }
    } else if storing {
        left.element.cmp(&right.element)
    } else {
        collate(&left.element, &right.element)
    };
    if options.desc {
        order.reverse()
    } else {
        order
    }
}

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]]
/// [ASC|DESC] [ALPHA] [STORE destination]
///
/// O(n + n log n). The sorted elements (or their GET values), or with STORE the length
/// of the list stored.
fn sort(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    sort_generic(shard, args.argv(), true)
}

/// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]]
/// [ASC|DESC] [ALPHA]
///
/// O(n + n log n). The sorted elements (or their GET values).
fn sort_ro(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    sort_generic(shard, args.argv(), false)
}

fn sort_generic(shard: &mut ShardCtx<'_>, argv: &[Bytes], allow_store: bool) -> CmdResult {
    let mut options = SortOptions::parse(argv, allow_store)?;
    let storing = options.store.is_some();
    let key = &argv[1];
    let in_script = shard.client.script;
    let mut value = if storing {
        shard.lookup_read(key)
    } else {
        shard.lookup_write(key)
    };
    // Redis's SORT converts a small sorted set to the big encoding before reading it (and
    // SORT_RO too): OBJECT ENCODING says `skiplist` afterwards.
    if let Some(Value::SortedSet(sorted)) = value.as_deref_mut() {
        sorted.convert_to_skiplist();
    }
    let is_set = matches!(value.as_deref(), Some(Value::Set(_)));
    // A set has no order of its own: results that are stored or that a script reads must
    // not depend on it.
    if options.dont_sort && is_set && (storing || in_script) {
        options.dont_sort = false;
        options.alpha = true;
        options.by = None;
    }
    let (elements, start, end) = load(value, &options)?;
    let mut items: Vec<Item> = elements
        .into_iter()
        .map(|element| Item {
            element,
            score: 0.0,
            compared: None,
        })
        .collect();
    if !options.dont_sort {
        let mut unconvertible = false;
        for item in &mut items {
            let weight = match &options.by {
                Some(pattern) => match lookup_by_pattern(shard, pattern, &item.element, storing) {
                    Some(weight) => weight,
                    None => continue,
                },
                None => item.element.clone(),
            };
            if options.alpha {
                if options.by.is_some() {
                    item.compared = Some(weight);
                }
            } else {
                match parse_sort_weight(&weight) {
                    Some(score) => item.score = score,
                    None => unconvertible = true,
                }
            }
        }
        items.sort_by(|left, right| compare(left, right, &options, storing));
        if unconvertible {
            shard.record_nothing();
            return Err(CommandError::other(
                "ERR One or more scores can't be converted into double",
            ));
        }
    }
    let range = if end >= start {
        &items[start as usize..=end as usize]
    } else {
        &items[..0]
    };
    let mut output: Vec<Option<Bytes>> = Vec::new();
    for item in range {
        if options.gets.is_empty() {
            output.push(Some(item.element.clone()));
        }
        for pattern in &options.gets {
            output.push(lookup_by_pattern(shard, pattern, &item.element, storing));
        }
    }
    let Some(destination) = options.store else {
        shard.record_nothing();
        return Ok(Reply::Array(
            output
                .into_iter()
                .map(|value| value.map_or(Reply::Nil, Reply::Bulk))
                .collect(),
        ));
    };
    let stored: Vec<Bytes> = output.into_iter().map(Option::unwrap_or_default).collect();
    let count = stored.len();
    let mut list = List::new();
    let limits = shard.limits.encoding;
    list.push(End::Back, &stored, &limits);
    let existed = shard.store(&destination, list, EventClass::List, "sortstore");
    if count > 0 {
        shard.mark_dirty(count as u64);
        shard.record_effect(&[&b"DEL"[..], &destination]);
        let mut push: Vec<&[u8]> = Vec::with_capacity(count + 2);
        push.push(b"RPUSH");
        push.push(&destination);
        push.extend(stored.iter().map(|element| element.as_ref()));
        shard.record_effect(&push);
    } else if existed {
        shard.mark_dirty(1);
        shard.record_effect(&[&b"DEL"[..], &destination]);
    } else {
        shard.record_nothing();
    }
    Ok(Reply::Integer(count as i64))
}

/// True when the options name patterns that reach other keys: a BY pattern with `*` or a
/// GET pattern other than `#` with `*`.
fn references_other_keys(argv: &[Bytes]) -> bool {
    let Ok(options) = SortOptions::parse(argv, true) else {
        return false;
    };
    let by = options.by.as_deref().is_some_and(|by| star(by).is_some());
    by || options
        .gets
        .iter()
        .any(|get| get.as_ref() != b"#" && star(get).is_some())
}

/// The keys the BY and GET patterns reach for the elements of the sorted key (looked up
/// on its shard): what a scratch run of the command must hold.
fn referenced_keys(shard: &mut ShardCtx<'_>, argv: &[Bytes]) -> Vec<Bytes> {
    let Ok(options) = SortOptions::parse(argv, true) else {
        return Vec::new();
    };
    let Some(key) = argv.get(1) else {
        return Vec::new();
    };
    let elements: Vec<Bytes> = match shard.peek(key) {
        Some(Value::List(list)) => list.iter().map(Bytes::copy_from_slice).collect(),
        Some(Value::Set(set)) => {
            let mut members = Vec::with_capacity(set.len());
            set.for_each_member(|member| members.push(Bytes::copy_from_slice(member)));
            members
        }
        Some(Value::SortedSet(sorted)) => {
            let mut members = Vec::with_capacity(sorted.len());
            sorted.walk(0..sorted.len(), false, |member, _| {
                members.push(Bytes::copy_from_slice(member))
            });
            members
        }
        _ => Vec::new(),
    };
    let patterns: Vec<&Bytes> = options.by.iter().chain(options.gets.iter()).collect();
    let mut keys: Vec<Bytes> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for element in &elements {
        for pattern in &patterns {
            if let Some((target, _)) = pattern_target(pattern, element) {
                if seen.insert(target.clone()) {
                    keys.push(Bytes::from(target));
                }
            }
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_shard::TestShard;

    #[test]
    fn patterns_name_keys_and_fields_as_redis() {
        assert_eq!(pattern_target(b"w_*", b"a"), Some((b"w_a".to_vec(), None)));
        assert_eq!(
            pattern_target(b"o_*->name", b"7"),
            Some((b"o_7".to_vec(), Some(b"name".to_vec())))
        );
        // "->" with nothing after it is part of the key.
        assert_eq!(
            pattern_target(b"o_*->", b"7"),
            Some((b"o_7->".to_vec(), None))
        );
        assert_eq!(pattern_target(b"nostar", b"7"), None);
        assert_eq!(pattern_target(b"a\0*", b"7"), None, "strchr stops at NUL");
        assert!(references_other_keys(&args(&["SORT", "k", "BY", "w_*"])));
        assert!(!references_other_keys(&args(&[
            "SORT", "k", "BY", "nosort", "GET", "#"
        ])));
        assert!(references_other_keys(&args(&[
            "SORT", "k", "GET", "#", "GET", "o_*"
        ])));
    }

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|word| Bytes::copy_from_slice(word.as_bytes()))
            .collect()
    }

    #[test]
    fn numeric_alpha_limit_and_desc() {
        let mut shard = TestShard::new();
        shard.run(&["RPUSH", "l", "3", "1", "2", "10"]);
        assert_eq!(
            shard.wire(&["SORT", "l"]),
            "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n"
        );
        // ALPHA DESC: 3 2 10 1.
        assert_eq!(
            shard.wire(&["SORT", "l", "ALPHA", "DESC", "LIMIT", "1", "2"]),
            "*2\r\n$1\r\n2\r\n$2\r\n10\r\n"
        );
        assert_eq!(shard.wire(&["SORT", "l", "LIMIT", "10", "2"]), "*0\r\n");
        shard.run(&["RPUSH", "bad", "1", "x"]);
        assert_eq!(
            shard.wire(&["SORT", "bad"]),
            "-ERR One or more scores can't be converted into double\r\n"
        );
        assert_eq!(
            shard.wire(&["SORT", "l", "LIMIT", "1"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            shard.wire(&["SORT", "l", "LIMIT", "x", "1"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            shard.wire(&["SORT_RO", "l", "STORE", "d"]),
            "-ERR syntax error\r\n"
        );
        shard.run(&["SET", "s", "v"]);
        assert!(shard.wire(&["SORT", "s"]).starts_with("-WRONGTYPE"));
    }

    #[test]
    fn by_and_get_patterns_and_store() {
        let mut shard = TestShard::new();
        shard.run(&["RPUSH", "ids", "1", "2", "3"]);
        shard.run(&["SET", "w_1", "30"]);
        shard.run(&["SET", "w_2", "10"]);
        shard.run(&["SET", "w_3", "20"]);
        shard.run(&["HSET", "o_1", "name", "one"]);
        shard.run(&["HSET", "o_3", "name", "three"]);
        assert_eq!(
            shard.wire(&["SORT", "ids", "BY", "w_*", "GET", "#", "GET", "o_*->name"]),
            "*6\r\n$1\r\n2\r\n$-1\r\n$1\r\n3\r\n$5\r\nthree\r\n$1\r\n1\r\n$3\r\none\r\n"
        );
        // A constant BY keeps a list's order, DESC walks it backwards.
        assert_eq!(
            shard.wire(&["SORT", "ids", "BY", "nosort", "DESC", "LIMIT", "0", "2"]),
            "*2\r\n$1\r\n3\r\n$1\r\n2\r\n"
        );
        assert_eq!(
            shard.wire(&[
                "SORT",
                "ids",
                "BY",
                "w_*",
                "GET",
                "o_*->name",
                "STORE",
                "dst"
            ]),
            ":3\r\n"
        );
        assert_eq!(
            shard.wire(&["LRANGE", "dst", "0", "-1"]),
            "*3\r\n$0\r\n\r\n$5\r\nthree\r\n$3\r\none\r\n"
        );
        assert_eq!(shard.wire(&["SORT", "missing", "STORE", "dst"]), ":0\r\n");
        assert_eq!(shard.wire(&["EXISTS", "dst"]), ":0\r\n");
    }

    #[test]
    fn sorted_sets_and_sets() {
        let mut shard = TestShard::new();
        shard.run(&["ZADD", "z", "1", "c", "2", "b", "3", "a"]);
        assert_eq!(
            shard.wire(&["SORT", "z", "BY", "nosort"]),
            "*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n"
        );
        assert_eq!(
            shard.wire(&["SORT", "z", "BY", "nosort", "DESC", "LIMIT", "1", "5"]),
            "*2\r\n$1\r\nb\r\n$1\r\nc\r\n"
        );
        assert_eq!(
            shard.wire(&["SORT", "z", "ALPHA"]),
            "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
        );
        shard.run(&["SADD", "s", "x", "y", "w"]);
        assert_eq!(
            shard.wire(&["SORT", "s", "BY", "nosort", "STORE", "d"]),
            ":3\r\n"
        );
        assert_eq!(
            shard.wire(&["LRANGE", "d", "0", "-1"]),
            "*3\r\n$1\r\nw\r\n$1\r\nx\r\n$1\r\ny\r\n"
        );
    }

    #[test]
    fn sorting_converts_sorted_sets_and_orders_sets_for_scripts_as_redis() {
        // Regression: a small sorted set stayed a listpack after SORT (Redis converts it),
        // and a script's SORT of a set BY nosort returned the set's own order (Redis
        // sorts it ALPHA, so the script's result is deterministic).
        let mut shard = TestShard::new();
        for command in ["SORT", "SORT_RO"] {
            shard.run(&["ZADD", "z", "2", "b", "1", "a"]);
            assert_eq!(
                shard.wire(&["OBJECT", "ENCODING", "z"]),
                "$8\r\nlistpack\r\n"
            );
            shard.run(&[command, "z", "BY", "nosort"]);
            assert_eq!(
                shard.wire(&["OBJECT", "ENCODING", "z"]),
                "$8\r\nskiplist\r\n"
            );
            assert_eq!(
                shard.wire(&["ZRANGE", "z", "0", "-1"]),
                "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
            );
            shard.run(&["DEL", "z"]);
        }
        let members = ["3", "1", "b", "10", "a", "2"];
        let mut sadd = vec!["SADD", "s"];
        sadd.extend(members);
        shard.run(&sadd);
        let unsorted = shard.wire(&["SORT", "s", "BY", "nosort"]);
        shard.client.script = true;
        let from_script = shard.wire(&["SORT", "s", "BY", "nosort"]);
        assert_eq!(
            from_script,
            "*6\r\n$1\r\n1\r\n$2\r\n10\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\na\r\n$1\r\nb\r\n"
        );
        assert_ne!(unsorted, from_script, "the set's own order is another");
    }
}
