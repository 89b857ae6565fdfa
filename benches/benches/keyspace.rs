//! One shard's keyspace: `Db::get` and `Db::set` on a database of 1M keys (`key:%012d`,
//! 16-byte values), and `Table::insert` from empty through every incremental resize.
//!
//! Each measured iteration does [`BATCH`] operations on keys visited in a fixed scattered
//! order (a permutation, so cache behaviour resembles random keys); throughput is in
//! operations.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use peregrine_benches::{key, scattered_index, value, KEY_LEN};
use peregrine_keyspace::{Db, Entry, Table, UnixMillis, Value};
use std::hint::black_box;

/// Keys in the large database; a power of two for [`scattered_index`].
const DB_KEYS: u64 = 1 << 20;
/// Operations per measured iteration.
const BATCH: u64 = 1024;
/// A fixed clock: no key in these benchmarks has a deadline.
const NOW: UnixMillis = 1_800_000_000_000;

fn filled_db(keys: &[[u8; KEY_LEN]]) -> Db {
    let mut db = Db::new();
    for (index, key) in keys.iter().enumerate() {
        db.set(key, Value::string(&value(index as u64)), None, NOW);
    }
    db
}

fn db_operations(criterion: &mut Criterion) {
    let keys: Vec<[u8; KEY_LEN]> = (0..DB_KEYS).map(key).collect();
    let mut db = filled_db(&keys);
    assert_eq!(db.len() as u64, DB_KEYS);
    let missing: Vec<[u8; KEY_LEN]> = (DB_KEYS..DB_KEYS * 2).map(key).collect();
    let new_value = value(u64::MAX);

    let mut group = criterion.benchmark_group("keyspace_db_1m");
    group.throughput(Throughput::Elements(BATCH));

    let mut step = 0u64;
    group.bench_function("get_hit", |bencher| {
        bencher.iter(|| {
            for _ in 0..BATCH {
                let key = &keys[scattered_index(step, DB_KEYS) as usize];
                step = step.wrapping_add(1);
                black_box(db.get(key, NOW).is_some());
            }
        })
    });

    group.bench_function("get_miss", |bencher| {
        bencher.iter(|| {
            for _ in 0..BATCH {
                let key = &missing[scattered_index(step, DB_KEYS) as usize];
                step = step.wrapping_add(1);
                black_box(db.get(key, NOW).is_some());
            }
        })
    });

    group.bench_function("set_overwrite", |bencher| {
        bencher.iter(|| {
            for _ in 0..BATCH {
                let key = &keys[scattered_index(step, DB_KEYS) as usize];
                step = step.wrapping_add(1);
                black_box(db.set(key, Value::string(&new_value), None, NOW));
            }
        })
    });
    group.finish();
    assert_eq!(db.len() as u64, DB_KEYS, "overwrites must not add keys");
}

fn table_growth(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("keyspace_table");
    for count in [1u64 << 10, 1 << 16] {
        let keys: Vec<[u8; KEY_LEN]> = (0..count).map(key).collect();
        group.throughput(Throughput::Elements(count));
        group.bench_function(format!("insert_growth_{count}"), |bencher| {
            bencher.iter_batched(
                Table::new,
                |mut table| {
                    for (index, key) in keys.iter().enumerate() {
                        table.insert(key, Entry::new(Value::string(&value(index as u64)), NOW));
                    }
                    // Returned so that dropping the table is not measured.
                    table
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, db_operations, table_growth);
criterion_main!(benches);
