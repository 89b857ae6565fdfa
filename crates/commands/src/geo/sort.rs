//! The two sorts Redis applies to search results, reproduced so that points at equal
//! distances come out in Redis's order: glibc's `qsort` (a stable top-down merge sort)
//! for a full sort and Redis's `pqsort` (NetBSD's quicksort, narrowed to a range of
//! ranks) when COUNT keeps fewer than were found.
//!
//! Both take a C-style three-way comparator, which need not be a total order (a NaN
//! distance compares "less" both ways, as in Redis), and neither panics on one.

use std::cmp::Ordering;

/// A three-way comparison returning Redis's `-1`, `0` or `1`.
pub type Compare<T> = fn(&T, &T) -> Ordering;

/// glibc's `msort_with_tmp`: halves, sorts each, merges taking from the left on ties.
pub fn merge_sort<T: Copy>(items: &mut [T], compare: Compare<T>) {
    if items.len() <= 1 {
        return;
    }
    let mut scratch = Vec::with_capacity(items.len());
    merge_sort_with(items, &mut scratch, compare);
}

fn merge_sort_with<T: Copy>(items: &mut [T], scratch: &mut Vec<T>, compare: Compare<T>) {
    let count = items.len();
    if count <= 1 {
        return;
    }
    let (left, right) = items.split_at_mut(count / 2);
    merge_sort_with(left, scratch, compare);
    merge_sort_with(right, scratch, compare);
    scratch.clear();
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        if compare(&left[i], &right[j]) != Ordering::Greater {
            scratch.push(left[i]);
            i += 1;
        } else {
            scratch.push(right[j]);
            j += 1;
        }
    }
    scratch.extend_from_slice(&left[i..]);
    // What is left of `right` is already in place.
    let merged = scratch.len();
    items[..merged].copy_from_slice(scratch);
}

/// Redis 7's `pqsort(items, compare, low, high)` (without the later versions' switch to
/// insertion sort after a swap-free pass): afterwards the ranks `low..=high` hold what a
/// full sort would put there (ties in Redis's order); the rest is partitioned.
pub fn partial_sort<T>(items: &mut [T], compare: Compare<T>, low: usize, high: usize) {
    partial_sort_from(items, 0, items.len(), compare, low, high);
}

fn median_of_three<T>(items: &[T], a: usize, b: usize, c: usize, compare: Compare<T>) -> usize {
    let less = |x: usize, y: usize| compare(&items[x], &items[y]) == Ordering::Less;
    let greater = |x: usize, y: usize| compare(&items[x], &items[y]) == Ordering::Greater;
    if less(a, b) {
        if less(b, c) {
            b
        } else if less(a, c) {
            c
        } else {
            a
        }
    } else if greater(b, c) {
        b
    } else if less(a, c) {
        a
    } else {
        c
    }
}

fn insertion_sort<T>(items: &mut [T], start: usize, count: usize, compare: Compare<T>) {
    for next in start + 1..start + count {
        let mut at = next;
        while at > start && compare(&items[at - 1], &items[at]) == Ordering::Greater {
            items.swap(at, at - 1);
            at -= 1;
        }
    }
}

fn swap_runs<T>(items: &mut [T], first: usize, second: usize, count: usize) {
    for offset in 0..count {
        items.swap(first + offset, second + offset);
    }
}

/// Whether the ranks `low..=high` miss the run `start..start + count` entirely.
fn outside(start: usize, count: usize, low: usize, high: usize) -> bool {
    (low < start && high < start) || (low >= start + count && high >= start + count)
}

fn partial_sort_from<T>(
    items: &mut [T],
    mut start: usize,
    mut count: usize,
    compare: Compare<T>,
    low: usize,
    high: usize,
) {
    loop {
        if count < 7 {
            insertion_sort(items, start, count, compare);
            return;
        }
        let mut pivot = start + count / 2;
        if count > 7 {
            let mut first = start;
            let mut last = start + count - 1;
            if count > 40 {
                let step = count / 8;
                first = median_of_three(items, first, first + step, first + 2 * step, compare);
                pivot = median_of_three(items, pivot - step, pivot, pivot + step, compare);
                last = median_of_three(items, last - 2 * step, last - step, last, compare);
            }
            pivot = median_of_three(items, first, pivot, last, compare);
        }
        items.swap(start, pivot);
        let (mut pa, mut pb) = (start + 1, start + 1);
        let (mut pc, mut pd) = (start + count - 1, start + count - 1);
        loop {
            while pb <= pc {
                let order = compare(&items[pb], &items[start]);
                if order == Ordering::Greater {
                    break;
                }
                if order == Ordering::Equal {
                    items.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let order = compare(&items[pc], &items[start]);
                if order == Ordering::Less {
                    break;
                }
                if order == Ordering::Equal {
                    items.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            items.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        let end = start + count;
        let run = (pa - start).min(pb - pa);
        swap_runs(items, start, pb - run, run);
        let run = (pd - pc).min(end - pd - 1);
        swap_runs(items, pb, end - run, run);
        let smaller = pb - pa;
        if smaller > 1 && !outside(start, smaller, low, high) {
            partial_sort_from(items, start, smaller, compare, low, high);
        }
        let larger = pd - pc;
        if larger <= 1 {
            return;
        }
        start = end - larger;
        count = larger;
        if outside(start, count, low, high) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_key(a: &(u32, u32), b: &(u32, u32)) -> Ordering {
        a.0.cmp(&b.0)
    }

    #[test]
    fn merge_sort_is_stable() {
        let mut items: Vec<(u32, u32)> = (0..100).map(|index| (index % 7, index)).collect();
        let mut expected = items.clone();
        expected.sort_by_key(|item| item.0);
        merge_sort(&mut items, by_key);
        assert_eq!(items, expected);
    }

    #[test]
    fn partial_sort_orders_the_requested_ranks() {
        for count in [1usize, 5, 7, 8, 30, 41, 200] {
            let items: Vec<(u32, u32)> = (0..count as u32)
                .map(|index| ((index * 7919) % 101, index))
                .collect();
            let mut sorted = items.clone();
            sorted.sort_by_key(|item| item.0);
            for wanted in [1, count / 2, count] {
                let mut partial = items.clone();
                partial_sort(&mut partial, by_key, 0, wanted.max(1) - 1);
                let keys: Vec<u32> = partial[..wanted].iter().map(|item| item.0).collect();
                let expected: Vec<u32> = sorted[..wanted].iter().map(|item| item.0).collect();
                assert_eq!(keys, expected, "{count} {wanted}");
            }
        }
    }
}
