//! Graph parsing and validation of large workflows (`cargo xtask bench`).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use weft_core::workflow::{GraphLimits, parse_graph, testing::sample_graph, validate};

fn graph_benches(c: &mut Criterion) {
    let limits = GraphLimits::default();
    for n_nodes in [200, 2_000] {
        let graph = sample_graph(n_nodes);
        let json = serde_json::to_value(&graph).unwrap();
        c.bench_function(&format!("validate/{n_nodes}_nodes"), |b| {
            b.iter(|| validate(std::hint::black_box(&graph), &limits))
        });
        c.bench_function(&format!("parse_graph/{n_nodes}_nodes"), |b| {
            b.iter(|| parse_graph(std::hint::black_box(&json), &limits).unwrap())
        });
    }
}

criterion_group!(benches, graph_benches);
criterion_main!(benches);
