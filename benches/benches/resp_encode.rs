//! Reply encoding in RESP2 with `Reply::encode` into a reused buffer, as a connection
//! appends replies to its output buffer: a 16-byte bulk (GET), an array of bulks (MGET)
//! and an integer (INCR).
//!
//! Throughput is in replies (for the array: in its elements).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use peregrine_benches::value;
use peregrine_resp::{Protocol, Reply};
use std::hint::black_box;

fn encode_into(reply: &Reply, out: &mut Vec<u8>) {
    out.clear();
    reply.encode(Protocol::Resp2, out);
    black_box(out.as_slice());
}

fn encode(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("resp_encode");
    let mut out = Vec::with_capacity(64 * 1024);

    group.throughput(Throughput::Elements(1));
    let bulk = Reply::bulk(value(1));
    group.bench_function("bulk_16", |bencher| {
        bencher.iter(|| encode_into(black_box(&bulk), &mut out))
    });

    let large = Reply::bulk(vec![b'x'; 4096]);
    group.bench_function("bulk_4096", |bencher| {
        bencher.iter(|| encode_into(black_box(&large), &mut out))
    });

    let integer = Reply::Integer(1_234_567_890);
    group.bench_function("integer", |bencher| {
        bencher.iter(|| encode_into(black_box(&integer), &mut out))
    });

    for length in [10u64, 100] {
        let array = Reply::Array((0..length).map(|index| Reply::bulk(value(index))).collect());
        group.throughput(Throughput::Elements(length));
        group.bench_with_input(
            BenchmarkId::new("array_of_bulk_16", length),
            &array,
            |bencher, array| bencher.iter(|| encode_into(black_box(array), &mut out)),
        );
    }

    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
