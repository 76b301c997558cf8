//! Aggregation of a 100-target snapshot.

use collect::{BUCKETS, MetricsSnapshot, Sample};
use criterion::{Criterion, criterion_group, criterion_main};

fn snapshot() -> MetricsSnapshot {
    let mut samples = vec![
        Sample::new("queue_size", 10.0),
        Sample::new("queue_capacity", 1000.0),
    ];
    for i in 0..100 {
        let t = format!("target-{i}");
        samples.push(
            Sample::new("health_status", 1.0)
                .label("target", t.clone())
                .label("type", "webhook"),
        );
        for state in ["delivered", "retry", "dead"] {
            samples.push(
                Sample::new("jobs_processed", 10.0)
                    .label("target", t.clone())
                    .label("state", state),
            );
        }
        for b in BUCKETS {
            samples.push(
                Sample::new("job_latency_seconds_bucket", 1.0)
                    .label("target", t.clone())
                    .label("le", b.to_string()),
            );
        }
        samples.push(Sample::new("job_latency_seconds_count", 13.0).label("target", t.clone()));
    }
    MetricsSnapshot {
        samples,
        ..Default::default()
    }
}

fn bench(c: &mut Criterion) {
    let snap = snapshot();
    let weights = aggregate::ScoreWeights::default();
    c.bench_function("aggregate_100_targets", |b| {
        b.iter(|| aggregate::aggregate(&snap, &weights))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
