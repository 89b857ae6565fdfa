//! MEMORY USAGE's estimate of the bytes a key and its value take.
//!
//! As Redis's, it is an estimate: the key's table node, the key's and value's heap, and
//! for collections the elements' bytes plus a per-element overhead of their encoding,
//! measured on at most `samples` elements and scaled to the whole (0 samples them all).
//! Heap blocks are counted at the allocator's size class (16-byte steps, as jemalloc's
//! small classes near these sizes).

use crate::bytes::INLINE_CAPACITY;
use crate::table::KEY_SLOT_BYTES;
use crate::Value;

/// Bytes per element beyond its data: two-byte listpack headers and back-lengths.
const LISTPACK_ELEMENT: usize = 2;
/// A hashtable-encoded element: its inline string (24 bytes), hash-chain pointer and
/// bucket share.
const TABLE_ELEMENT: usize = 24 + 16;
/// A skiplist element: member, score, the average 1.33 forward pointers plus span, and
/// its index entry.
const SKIPLIST_ELEMENT: usize = 24 + 8 + 24 + 16;
/// A stream entry's id and flags besides its fields and values.
const STREAM_ENTRY: usize = 16 + 2;
/// A collection's own header (lengths, encoding, pointers).
const HEADER: usize = 48;

/// A heap block of `len` bytes at the allocator's size class.
fn block(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        len.div_ceil(16) * 16
    }
}

/// Heap bytes of a string that is inline up to [`INLINE_CAPACITY`] bytes.
fn compact(len: usize) -> usize {
    if len <= INLINE_CAPACITY {
        0
    } else {
        block(len)
    }
}

/// A score's bytes in a listpack: a small integer, a wider one, or its text.
fn listpack_score(score: f64) -> usize {
    if score.fract() != 0.0 || !score.is_finite() {
        17
    } else if score.abs() < 4096.0 {
        1
    } else {
        4
    }
}

/// The estimated bytes of `key` holding `value`.
pub fn usage(key: &[u8], value: &Value, samples: usize) -> usize {
    KEY_SLOT_BYTES + compact(key.len()) + value_bytes(value, samples)
}

/// Scales the sizes of the first `samples` elements (all when 0) to `count` elements.
fn scaled(count: usize, samples: usize, sizes: impl Iterator<Item = usize>) -> usize {
    let wanted = if samples == 0 { count } else { samples };
    let (taken, total) = sizes
        .take(wanted)
        .fold((0usize, 0usize), |(taken, total), size| {
            (taken + 1, total + size)
        });
    if taken == 0 {
        0
    } else {
        (total as u128 * count as u128 / taken as u128) as usize
    }
}

fn value_bytes(value: &Value, samples: usize) -> usize {
    match value {
        Value::Int(_) | Value::Embedded(_) => 0,
        Value::Raw(bytes) => block(std::mem::size_of::<Vec<u8>>()) + block(bytes.capacity()),
        Value::List(list) => {
            let per = |element: &[u8]| element.len() + LISTPACK_ELEMENT;
            HEADER + scaled(list.len(), samples, list.iter().map(per))
        }
        Value::Hash(hash) => {
            let table = hash.encoding_name() == "hashtable";
            let per = |(field, value): (&[u8], &[u8])| match table {
                true => 2 * TABLE_ELEMENT + compact(field.len()) + compact(value.len()),
                false => field.len() + value.len() + 2 * LISTPACK_ELEMENT,
            };
            HEADER + scaled(hash.len(), samples, hash.iter().map(per))
        }
        Value::Set(set) => {
            let encoding = set.encoding_name();
            let mut sizes = Vec::new();
            let mut cursor = 0;
            let wanted = if samples == 0 { set.len() } else { samples };
            loop {
                cursor = set.scan(cursor, |member| {
                    sizes.push(match encoding {
                        "intset" => 8,
                        "listpack" => member.len() + LISTPACK_ELEMENT,
                        _ => TABLE_ELEMENT + compact(member.len()),
                    })
                });
                if cursor == 0 || sizes.len() >= wanted {
                    break;
                }
            }
            HEADER + scaled(set.len(), samples, sizes.into_iter())
        }
        Value::SortedSet(sorted_set) => {
            let skiplist = sorted_set.encoding_name() == "skiplist";
            let per = |(member, score): (&[u8], f64)| match skiplist {
                true => SKIPLIST_ELEMENT + compact(member.len()),
                false => member.len() + listpack_score(score) + 2 * LISTPACK_ELEMENT,
            };
            let sizes = (0..sorted_set.len()).map_while(|rank| sorted_set.get(rank).map(per));
            HEADER + scaled(sorted_set.len(), samples, sizes)
        }
        Value::Stream(stream) => {
            let count = usize::try_from(stream.len()).unwrap_or(usize::MAX);
            let entries = stream
                .range(stream.first_id(), stream.last_entry_id(), false)
                .map(|entry| {
                    STREAM_ENTRY
                        + entry
                            .pairs
                            .iter()
                            .map(|(field, value)| field.len() + value.len() + 2 * LISTPACK_ELEMENT)
                            .sum::<usize>()
                });
            HEADER + stream.node_count() * HEADER + scaled(count, samples, entries)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collections::list::{End, List};
    use crate::EncodingLimits;

    #[test]
    fn bigger_values_cost_more() {
        let small = usage(b"k", &Value::Int(5), 5);
        let raw = usage(b"k", &Value::Raw(Box::new(vec![b'x'; 1000])), 5);
        assert!(small >= KEY_SLOT_BYTES);
        assert!(raw >= small + 1000, "{raw} vs {small}");
        let long_key = usage(&[b'k'; 100], &Value::Int(5), 5);
        assert_eq!(long_key, small + block(100));
    }

    #[test]
    fn samples_scale_to_the_whole_collection() {
        let mut list = List::default();
        let elements = vec![[b'x'; 10]; 1000];
        list.push(End::Back, &elements, &EncodingLimits::default());
        let value = Value::List(Box::new(list));
        let sampled = usage(b"k", &value, 5);
        let exact = usage(b"k", &value, 0);
        assert_eq!(sampled, exact, "equal elements scale exactly");
        assert!(exact >= 1000 * 12, "{exact}");
    }
}
