//! `collect_all` with 100 targets: every target has delivery counters and a latency histogram.

use std::{sync::Arc, time::Duration};

use collect::{
    Collector, DeliveryCollector, HealthCollector, QueueCache, QueueCollector, Tap, TargetInfo,
};
use criterion::{Criterion, criterion_group, criterion_main};
use queue::metrics::{JOB_DURATION_SECONDS, JOBS_PROCESSED_TOTAL};

fn setup() -> Vec<Arc<dyn Collector>> {
    let tap = Tap::new();
    let book = Arc::new(targets::HealthBook::new(targets::HealthConfig::default()));
    let mut list = Vec::new();
    metrics::with_local_recorder(&tap.recorder(), || {
        for i in 0..100 {
            let t = format!("target-{i}");
            for state in ["delivered", "retry", "dead"] {
                metrics::counter!(JOBS_PROCESSED_TOTAL, "target" => t.clone(), "state" => state)
                    .increment(10);
            }
            metrics::histogram!(JOB_DURATION_SECONDS, "target" => t.clone()).record(0.1);
            book.record(
                &t,
                true,
                Duration::from_millis(20),
                None,
                targets::CheckSource::Delivery,
                chrono::Utc::now(),
            );
            list.push(TargetInfo {
                name: t,
                kind: "webhook".into(),
                enabled: true,
            });
        }
    });
    let cache = QueueCache::default();
    cache.set(queue::QueueStats::default(), chrono::Utc::now());
    vec![
        Arc::new(QueueCollector {
            cache,
            capacity: 10_000,
            tap: tap.clone(),
        }),
        Arc::new(DeliveryCollector { tap }),
        Arc::new(HealthCollector {
            book,
            targets: Arc::new(list),
        }),
    ]
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let collectors = setup();
    c.bench_function("collect_all_100_targets", |b| {
        b.iter(|| rt.block_on(collect::collect_all(&collectors, Duration::from_secs(1))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
