use super::*;

fn limits(entries: usize, value: usize) -> EncodingLimits {
    EncodingLimits {
        hash_max_listpack_entries: entries,
        hash_max_listpack_value: value,
        ..EncodingLimits::default()
    }
}

fn pairs(hash: &Hash) -> Vec<(String, String)> {
    let mut all: Vec<_> = hash
        .iter()
        .map(|(field, value)| {
            (
                String::from_utf8_lossy(field).into_owned(),
                String::from_utf8_lossy(value).into_owned(),
            )
        })
        .collect();
    all.sort();
    all
}

fn counter() -> impl FnMut() -> u64 {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// A hash in each encoding holding the same fields a..e.
fn each_encoding() -> Vec<Hash> {
    let small = limits(128, 64);
    let mut plain = Hash::new();
    let mut with_deadline = Hash::new();
    let mut big = Hash::new();
    for field in ["a", "b", "c", "d", "e"] {
        plain.insert(field.as_bytes(), b"v", &small);
        with_deadline.insert(field.as_bytes(), b"v", &small);
        big.insert(field.as_bytes(), b"v", &limits(1, 64));
    }
    with_deadline.set_field_deadline(b"a", u64::MAX);
    assert_eq!(plain.encoding_name(), "listpack");
    assert_eq!(with_deadline.encoding_name(), "listpackex");
    assert_eq!(big.encoding_name(), "hashtable");
    vec![plain, with_deadline, big]
}

#[test]
fn every_encoding_sets_gets_and_removes() {
    for mut hash in each_encoding() {
        let limits = limits(128, 64);
        assert_eq!(hash.len(), 5);
        assert_eq!(hash.get(b"c"), Some(&b"v"[..]));
        assert!(!hash.insert(b"c", b"new", &limits));
        assert_eq!(hash.get(b"c"), Some(&b"new"[..]));
        assert!(hash.insert(b"f", b"6", &limits));
        assert!(hash.remove(b"a"));
        assert!(!hash.remove(b"a"));
        assert!(!hash.contains(b"a"));
        assert_eq!(hash.len(), 5);
        assert_eq!(
            pairs(&hash),
            [("b", "v"), ("c", "new"), ("d", "v"), ("e", "v"), ("f", "6")]
                .map(|(field, value)| (field.to_owned(), value.to_owned()))
        );
        for field in ["b", "c", "d", "e", "f"] {
            assert!(hash.remove(field.as_bytes()));
        }
        assert!(hash.is_empty());
    }
}

#[test]
fn listpack_keeps_insertion_order() {
    let mut hash = Hash::new();
    for field in ["z", "a", "m"] {
        hash.insert(field.as_bytes(), b"1", &EncodingLimits::default());
    }
    let fields: Vec<&[u8]> = hash.iter().map(|(field, _)| field).collect();
    assert_eq!(fields, [&b"z"[..], b"a", b"m"]);
}

#[test]
fn converts_at_both_thresholds_and_never_back() {
    let limits = limits(3, 8);
    let mut by_count = Hash::new();
    for field in ["a", "b", "c"] {
        by_count.insert(field.as_bytes(), b"1", &limits);
    }
    assert_eq!(by_count.encoding_name(), "listpack");
    by_count.insert(b"c", b"2", &limits);
    assert_eq!(
        by_count.encoding_name(),
        "listpack",
        "an update adds nothing"
    );
    by_count.insert(b"d", b"1", &limits);
    assert_eq!(by_count.encoding_name(), "hashtable");
    by_count.remove(b"d");
    by_count.remove(b"c");
    assert_eq!(by_count.encoding_name(), "hashtable");

    let mut by_value = Hash::new();
    by_value.insert(b"a", b"12345678", &limits);
    assert_eq!(by_value.encoding_name(), "listpack");
    by_value.insert(b"b", b"123456789", &limits);
    assert_eq!(by_value.encoding_name(), "hashtable");
    let mut by_field = Hash::new();
    by_field.insert(b"123456789", b"v", &limits);
    assert_eq!(by_field.encoding_name(), "hashtable");
    assert_eq!(by_field.get(b"123456789"), Some(&b"v"[..]));
}

#[test]
fn prepare_write_converts_before_a_big_write() {
    let limits = limits(2, 8);
    let mut hash = Hash::new();
    hash.prepare_write(2, 8, &limits);
    assert_eq!(hash.encoding_name(), "listpack");
    hash.prepare_write(3, 1, &limits);
    assert_eq!(hash.encoding_name(), "hashtable");
    let mut long = Hash::new();
    long.prepare_write(1, 9, &limits);
    assert_eq!(long.encoding_name(), "hashtable");
}

#[test]
fn field_deadlines_in_every_encoding() {
    for mut hash in each_encoding() {
        let limits = limits(128, 64);
        let name = hash.encoding_name();
        assert_eq!(hash.field_deadline(b"missing"), None, "{name}");
        assert!(!hash.set_field_deadline(b"missing", 5));
        assert_eq!(hash.field_deadline(b"b"), Some(None), "{name}");
        assert!(hash.set_field_deadline(b"b", 100));
        assert!(hash.set_field_deadline(b"c", 50));
        assert!(hash.set_field_deadline(b"c", 200));
        assert_ne!(hash.encoding_name(), "listpack");
        assert_eq!(hash.field_deadline(b"c"), Some(Some(200)), "{name}");
        assert_eq!(hash.next_field_deadline(), Some(100), "{name}");
        // HINCRBY keeps the deadline, HSET clears it.
        assert!(!hash.update(b"b", b"1", &limits));
        assert_eq!(hash.field_deadline(b"b"), Some(Some(100)), "{name}");
        assert!(!hash.insert(b"c", b"x", &limits));
        assert_eq!(hash.field_deadline(b"c"), Some(None), "{name}");
        assert!(hash.set_field_deadline(b"d", 300));
        assert!(hash.persist_field(b"d"));
        assert!(!hash.persist_field(b"d"));
        assert_eq!(hash.expire_fields(99), 0, "{name}");
        assert_eq!(hash.expire_fields(100), 1, "{name}");
        assert!(!hash.contains(b"b"));
        assert_eq!(hash.len(), 4);
        let expected = if name == "listpackex" {
            Some(u64::MAX)
        } else {
            None
        };
        assert_eq!(hash.next_field_deadline(), expected, "{name}");
    }
}

#[test]
fn deadlines_survive_conversion_to_hashtable() {
    let limits = limits(2, 64);
    let mut hash = Hash::new();
    hash.insert(b"a", b"1", &limits);
    hash.insert(b"b", b"2", &limits);
    hash.set_field_deadline(b"a", 1_000);
    assert_eq!(hash.encoding_name(), "listpackex");
    hash.insert(b"c", b"3", &limits);
    assert_eq!(hash.encoding_name(), "hashtable");
    assert_eq!(hash.field_deadline(b"a"), Some(Some(1_000)));
    assert_eq!(hash.field_deadline(b"b"), Some(None));
    assert_eq!(hash.next_field_deadline(), Some(1_000));
    assert_eq!(hash.expire_fields(1_000), 1);
    assert_eq!(hash.len(), 2);
    assert_eq!(hash.next_field_deadline(), None);
}

#[test]
fn expiring_every_field_empties_the_hash() {
    for mut hash in each_encoding() {
        for field in ["a", "b", "c", "d", "e"] {
            hash.set_field_deadline(field.as_bytes(), 10);
        }
        assert_eq!(hash.expire_fields(10), 5);
        assert!(hash.is_empty());
    }
}

#[test]
fn random_picks() {
    for hash in each_encoding() {
        let name = hash.encoding_name();
        let mut random = counter();
        let (field, value) = hash.random_field(&mut random).expect("not empty");
        assert!(hash.contains(field) && value == b"v", "{name}");
        let repeated = hash.random_fields(50, &mut random);
        assert_eq!(repeated.len(), 50, "{name}");
        for count in [1, 2, 4, 5, 9] {
            let distinct = hash.distinct_random_fields(count, &mut random);
            assert_eq!(distinct.len(), count.min(5), "{name} {count}");
            let unique: HashSet<&[u8]> = distinct.iter().map(|(field, _)| *field).collect();
            assert_eq!(unique.len(), distinct.len(), "{name} {count}");
            assert!(unique.iter().all(|field| hash.contains(field)));
        }
    }
    assert!(Hash::new().random_field(counter()).is_none());
    assert!(Hash::new().random_fields(3, counter()).is_empty());
}

#[test]
fn distinct_picks_from_a_big_hash_use_both_strategies() {
    let mut hash = Hash::new();
    for index in 0..100 {
        hash.insert(
            format!("f{index}").as_bytes(),
            b"v",
            &EncodingLimits::default(),
        );
    }
    assert_eq!(hash.encoding_name(), "listpack");
    hash.prepare_write(1, 1000, &EncodingLimits::default());
    assert_eq!(hash.encoding_name(), "hashtable");
    for count in [10, 50, 99] {
        let picked = hash.distinct_random_fields(count, counter());
        let unique: HashSet<&[u8]> = picked.iter().map(|(field, _)| *field).collect();
        assert_eq!(unique.len(), count);
    }
}

#[test]
fn ordered_sample_keeps_order_and_count() {
    let sample = ordered_sample(0..100, 100, 10, counter());
    assert_eq!(sample.len(), 10);
    assert!(sample.windows(2).all(|pair| pair[0] < pair[1]));
    assert_eq!(ordered_sample(0..5, 5, 5, counter()), vec![0, 1, 2, 3, 4]);
}

#[test]
fn scan_visits_every_field() {
    for hash in each_encoding() {
        let mut seen = HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = hash.scan(cursor, |field, _| {
                seen.insert(field.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 5, "{}", hash.encoding_name());
    }
}

#[test]
fn hash_stays_small_inline() {
    assert!(std::mem::size_of::<Hash>() <= 16);
}
