//! Tests of the list structure: both encodings, conversions both ways, indexes, and a
//! random walk checked against a `VecDeque` model.

use super::*;

fn limits(setting: i64) -> EncodingLimits {
    EncodingLimits {
        list_max_listpack_size: setting,
        ..EncodingLimits::default()
    }
}

fn contents(list: &List) -> Vec<Vec<u8>> {
    list.iter().map(<[u8]>::to_vec).collect()
}

fn element(index: usize) -> Vec<u8> {
    format!("element-{index:05}").into_bytes()
}

#[test]
fn pushes_and_pops_at_both_ends() {
    let mut list = List::new();
    let defaults = EncodingLimits::default();
    list.push(End::Back, &["b", "c"], &defaults);
    list.push(End::Front, &["a", "z"], &defaults);
    assert_eq!(contents(&list), [b"z", b"a", b"b", b"c"]);
    assert_eq!(list.pop(End::Front), Some(b"z".to_vec()));
    assert_eq!(list.pop(End::Back), Some(b"c".to_vec()));
    assert_eq!(list.len(), 2);
    assert_eq!(list.encoding_name(), "listpack");
    list.pop(End::Back);
    list.pop(End::Back);
    assert_eq!(list.pop(End::Back), None);
    assert!(list.is_empty());
}

#[test]
fn grows_into_a_quicklist_past_the_byte_limit() {
    // 13-byte elements cost 15 bytes in Redis's listpack; the check adds raw lengths.
    let defaults = EncodingLimits::default();
    let mut list = List::new();
    let mut pushed = 0;
    while list.encoding_name() == "listpack" {
        list.push(End::Back, &[element(pushed)], &defaults);
        pushed += 1;
    }
    // Redis converts when lpBytes + 13 > 8192: 7 + 545 * 15 + 13 = 8195.
    assert_eq!(pushed, 546);
    assert_eq!(list.node_counts(), [545, 1]);
    list.check_invariants();
    // Shrinking back needs one node of at most 4096 bytes.
    list.pop(End::Back);
    list.shrink_encoding(&defaults);
    assert_eq!(list.encoding_name(), "quicklist");
    list.remove_range(0, 545 - 273);
    list.shrink_encoding(&defaults);
    assert_eq!(list.encoding_name(), "quicklist", "7 + 273 * 15 > 4096");
    list.pop(End::Front);
    list.shrink_encoding(&defaults);
    assert_eq!(list.encoding_name(), "listpack");
    assert_eq!(list.len(), 272);
    list.check_invariants();
}

#[test]
fn count_limits_split_nodes_by_entries() {
    let limits = limits(4);
    let mut list = List::new();
    let elements: Vec<Vec<u8>> = (0..10).map(element).collect();
    list.push(End::Back, &elements[..4], &limits);
    assert_eq!(list.encoding_name(), "listpack");
    list.push(End::Back, &elements[4..], &limits);
    assert_eq!(list.node_counts(), [4, 4, 2]);
    assert_eq!(list.get(9), Some(&elements[9][..]));
    assert_eq!(list.get(4), Some(&elements[4][..]));
    assert_eq!(list.get(10), None);
    list.remove_range(2, 7);
    assert_eq!(list.node_counts(), [2, 1]);
    list.shrink_encoding(&limits);
    assert_eq!(list.encoding_name(), "quicklist");
    list.pop(End::Back);
    list.shrink_encoding(&limits);
    assert_eq!(list.encoding_name(), "listpack");
}

#[test]
fn a_large_element_gets_a_plain_node() {
    let defaults = EncodingLimits::default();
    let mut list = List::new();
    let big = vec![b'x'; 9000];
    list.push(End::Back, &[&big[..]], &defaults);
    assert_eq!(list.encoding_name(), "quicklist");
    list.shrink_encoding(&defaults);
    assert_eq!(
        list.encoding_name(),
        "quicklist",
        "a plain node never converts"
    );
    list.push(End::Back, &["a"], &defaults);
    list.push(End::Front, &["b"], &defaults);
    assert_eq!(list.node_counts(), [1, 1, 1]);
    assert_eq!(list.pop(End::Back), Some(b"a".to_vec()));
    assert_eq!(list.get(1), Some(&big[..]));
    list.check_invariants();
}

#[test]
fn set_and_insert_in_both_encodings() {
    for setting in [-2, 3] {
        let limits = limits(setting);
        let mut list = List::new();
        list.push(End::Back, &["a", "b", "c", "d", "e"], &limits);
        assert!(list.set(1, b"B", &limits));
        assert!(!list.set(5, b"x", &limits));
        assert!(list.insert_at_pivot(b"c", b"before-c", false, &limits));
        assert!(list.insert_at_pivot(b"e", b"after-e", true, &limits));
        assert!(list.insert_at_pivot(b"a", b"after-a", true, &limits));
        assert!(!list.insert_at_pivot(b"nope", b"x", true, &limits));
        assert_eq!(
            contents(&list),
            [
                &b"a"[..],
                b"after-a",
                b"B",
                b"before-c",
                b"c",
                b"d",
                b"e",
                b"after-e"
            ],
            "setting {setting}"
        );
        assert!(list.set(7, &[b'y'; 9000], &limits));
        assert_eq!(list.get(7).map(<[u8]>::len), Some(9000));
        list.check_invariants();
    }
}

#[test]
fn iter_from_any_index_both_ways() {
    let limits = limits(3);
    let mut list = List::new();
    let elements: Vec<Vec<u8>> = (0..11).map(element).collect();
    list.push(End::Back, &elements, &limits);
    for start in 0..=12 {
        let forward: Vec<Vec<u8>> = list.iter_from(start).map(<[u8]>::to_vec).collect();
        assert_eq!(
            forward,
            elements.get(start..).unwrap_or_default(),
            "{start}"
        );
        let backward: Vec<Vec<u8>> = list.iter_from(start).rev().map(<[u8]>::to_vec).collect();
        let mut expected = elements.get(start..).unwrap_or_default().to_vec();
        expected.reverse();
        assert_eq!(backward, expected, "{start}");
    }
    assert_eq!(list.iter_from(4).len(), 7);
}

#[test]
fn remove_matching_across_nodes() {
    let limits = limits(2);
    let mut list = List::new();
    list.push(End::Back, &["x", "a", "x", "x", "b", "x", "c"], &limits);
    assert_eq!(list.remove_matching(b"x", 2, true), 2);
    assert_eq!(contents(&list), [&b"x"[..], b"a", b"x", b"b", b"c"]);
    assert_eq!(list.remove_matching(b"x", 1, false), 1);
    assert_eq!(contents(&list), [&b"a"[..], b"x", b"b", b"c"]);
    assert_eq!(list.remove_matching(b"x", 0, false), 1);
    assert_eq!(list.remove_matching(b"zz", 0, false), 0);
    assert_eq!(contents(&list), [&b"a"[..], b"b", b"c"]);
    list.check_invariants();
}

/// A tiny deterministic generator for the random walk.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn random_operations_match_a_model() {
    for setting in [-1, -2, 1, 5] {
        let limits = limits(setting);
        let mut list = List::new();
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for step in 0..4000 {
            let roll = next_random(&mut state);
            let len = model.len();
            let index = (roll >> 8) as usize % (len + 1);
            let size = [1, 5, 40, 300, 5000][(roll >> 20) as usize % 5];
            let value = format!("{step}-").into_bytes().repeat(size / 4 + 1);
            match roll % 9 {
                0 | 1 => {
                    list.push(End::Back, &[&value], &limits);
                    model.push_back(value);
                }
                2 | 3 => {
                    list.push(End::Front, &[&value], &limits);
                    model.push_front(value);
                }
                4 => assert_eq!(list.pop(End::Front), model.pop_front()),
                5 => assert_eq!(list.pop(End::Back), model.pop_back()),
                6 => {
                    let replaced = list.set(index, &value, &limits);
                    assert_eq!(replaced, index < len);
                    if let Some(slot) = model.get_mut(index) {
                        *slot = value;
                    }
                }
                7 => {
                    if let Some(pivot) = model.get(index).cloned() {
                        let first = model.iter().position(|entry| *entry == pivot);
                        assert!(list.insert_at_pivot(&pivot, &value, true, &limits));
                        model.insert(first.unwrap_or(0) + 1, value);
                    }
                }
                _ => {
                    let count = (roll >> 40) as usize % 4;
                    list.remove_range(index, count);
                    for _ in 0..count.min(len.saturating_sub(index)) {
                        model.remove(index);
                    }
                }
            }
            list.shrink_encoding(&limits);
            list.check_invariants();
            assert_eq!(list.len(), model.len());
            let probe = (roll >> 33) as usize % (model.len() + 1);
            assert_eq!(list.get(probe), model.get(probe).map(Vec::as_slice));
        }
        assert_eq!(contents(&list), Vec::from(model));
    }
}
