//! Trend analysis over 24 h of samples at the default 10 s interval (8640 points).

use analyze::{History, Point, TrendConfig};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let mut h = History::for_retention(
        std::time::Duration::from_secs(86_400),
        std::time::Duration::from_secs(10),
    );
    let t0 = chrono::Utc::now();
    for i in 0..h.capacity() {
        h.push(Point {
            at: t0 + chrono::Duration::seconds(10 * i as i64),
            success_rate: 95.0 + (i % 7) as f64 * 0.5,
            latency_ms: Some(100.0 + (i % 11) as f64),
            p50_ms: None,
            p95_ms: None,
            p99_ms: None,
            errors: (i % 5) as f64,
            delivered: 10.0,
            queue_size: (i % 13) as f64,
        });
    }
    let config = TrendConfig::default();
    c.bench_function("analyze_24h_8640_points", |b| {
        b.iter(|| analyze::analyze(&h, &config, t0))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
