//! Request parsing: a pipeline of 16 `SET key:000000000123 <16-byte value>` and 16 `GET`s,
//! the shape redis-benchmark `-P 16` sends, through `RequestParser::parse_batch`.
//!
//! Throughput is in commands, so the figure reads as commands parsed per second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use peregrine_benches::{push_request, set_get_pipeline};
use peregrine_resp::RequestParser;
use std::hint::black_box;

fn parse_pipeline(criterion: &mut Criterion) {
    let parser = RequestParser::default();
    let mut group = criterion.benchmark_group("resp_parse");

    let pipeline = set_get_pipeline(16);
    let commands = parser.parse_batch(&pipeline).commands.len();
    assert_eq!(commands, 32, "the pipeline must parse whole");
    group.throughput(Throughput::Elements(commands as u64));
    group.bench_function("pipeline_16_set_16_get", |bencher| {
        bencher.iter(|| parser.parse_batch(black_box(&pipeline)))
    });

    let mut single = Vec::new();
    push_request(&mut single, &[b"GET", b"key:000000000123"]);
    group.throughput(Throughput::Elements(1));
    group.bench_function("single_get", |bencher| {
        bencher.iter(|| parser.parse_batch(black_box(&single)))
    });

    // A pipeline cut in the middle of its last bulk: the cost of a partial read, whose
    // complete commands are still returned.
    let cut = &pipeline[..pipeline.len() - 5];
    group.throughput(Throughput::Elements(commands as u64 - 1));
    group.bench_function("pipeline_cut_in_last_bulk", |bencher| {
        bencher.iter(|| parser.parse_batch(black_box(cut)))
    });

    group.finish();
}

criterion_group!(benches, parse_pipeline);
criterion_main!(benches);
