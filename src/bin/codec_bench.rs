//! Pure-Rust throughput of the column codec over a mixed corpus (no Postgres involved).
//!
//! `cargo run --release --bin codec_bench -- pgrx-tests/fixtures/bench_corpus.json [N]`
//! Prints values/s overall and per column type. Run through `pgrx-tests/run bench`.

use monday_sync::codec;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "pgrx-tests/fixtures/bench_corpus.json".into());
    let total: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000_000);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let corpus: Vec<Map<String, Value>> = serde_json::from_str::<Vec<Value>>(&text)
        .expect("corpus is a JSON array")
        .into_iter()
        .filter_map(|v| v.as_object().cloned())
        .collect();
    assert!(!corpus.is_empty(), "empty corpus");

    // Warm up, and check that the corpus decodes without errors (the benchmark measures the
    // success path; error paths are covered by tests).
    for cell in &corpus {
        codec::decode(None, cell, None).unwrap_or_else(|e| panic!("corpus cell fails: {e}"));
    }

    let start = Instant::now();
    let mut bytes = 0usize;
    for i in 0..total {
        let d = codec::decode(None, &corpus[i % corpus.len()], None).expect("decodes");
        bytes += d.to_json().len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!("codec (pure Rust): {total} values from {} distinct cells in {secs:.3} s = {:.0} values/s ({bytes} bytes of output)", corpus.len(), total as f64 / secs);

    // Per type: 200k decodes of that type's cells.
    let mut by_type: BTreeMap<String, Vec<&Map<String, Value>>> = BTreeMap::new();
    for cell in &corpus {
        let ty = cell
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        by_type.entry(ty).or_default().push(cell);
    }
    println!("{:<16} {:>14}", "type", "values/s");
    for (ty, cells) in &by_type {
        let n = 200_000;
        let start = Instant::now();
        for i in 0..n {
            std::hint::black_box(
                codec::decode(None, cells[i % cells.len()], None).expect("decodes"),
            );
        }
        println!(
            "{:<16} {:>14.0}",
            ty,
            n as f64 / start.elapsed().as_secs_f64()
        );
    }
}
