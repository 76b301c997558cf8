use collect::Sample;

use super::*;

fn target_samples(
    name: &str,
    kind: &str,
    status: f64,
    delivered: u64,
    retry: u64,
    dead: u64,
) -> Vec<Sample> {
    let t = |s: Sample| s.label("target", name);
    vec![
        t(Sample::new("health_status", status)).label("type", kind),
        t(Sample::new(
            "health_consecutive_failures",
            if status == 3.0 { 3.0 } else { 0.0 },
        )),
        t(Sample::new("jobs_processed", delivered as f64)).label("state", "delivered"),
        t(Sample::new("jobs_processed", retry as f64)).label("state", "retry"),
        t(Sample::new("jobs_processed", dead as f64)).label("state", "dead"),
    ]
}

fn snapshot(samples: Vec<Sample>) -> MetricsSnapshot {
    MetricsSnapshot {
        samples,
        ..Default::default()
    }
}

#[test]
fn counts_rates_and_health() {
    let mut samples = target_samples("pd", "pagerduty", 1.0, 90, 6, 4);
    samples.extend(target_samples("slack", "slack", 3.0, 10, 0, 0));
    samples.extend([
        Sample::new("queue_size", 250.0),
        Sample::new("queue_size", 200.0).label("priority", "high"),
        Sample::new("queue_capacity", 1000.0),
        Sample::new("queue_dlq_size", 4.0),
        Sample::new("queue_jobs_submitted", 120.0),
        Sample::new("circuit_breaker_state", 2.0).label("target", "slack"),
        Sample::new("dlq_writes", 4.0)
            .label("target", "pd")
            .label("reason", "validation"),
    ]);
    let stats = aggregate(&snapshot(samples), &ScoreWeights::default());
    let pd = &stats.targets["pd"];
    assert_eq!(
        pd.jobs,
        Jobs {
            processed: 100,
            succeeded: 90,
            failed: 10,
            retried: 6,
            dead_lettered: 4,
            success_rate: 90.0
        }
    );
    assert_eq!(pd.dead_letters_by_reason["validation"], 4);
    assert_eq!(pd.kind, "pagerduty");
    assert_eq!(stats.targets["slack"].circuit_breaker, "open");
    assert_eq!(stats.system.jobs.processed, 110);
    assert_eq!(stats.system.jobs.succeeded, 100);
    assert!((stats.system.jobs.success_rate - 100.0 / 110.0 * 100.0).abs() < 1e-9);
    assert_eq!(stats.system.queue.utilization, 25.0);
    assert_eq!(stats.system.queue.by_priority["high"], 200);
    assert_eq!(stats.system.targets.total_targets, 2);
    assert_eq!(stats.system.targets.healthy, 1);
    assert_eq!(stats.system.targets.unhealthy, 1);
    assert_eq!(stats.system.circuit_breakers_open, 1);
    // 100 × (0.4 × 100/110 + 0.3 × 0.5 + 0.2 × 0.75 + 0.1 × 0.5)
    let expected = 100.0 * (0.4 * (100.0 / 110.0) + 0.3 * 0.5 + 0.2 * 0.75 + 0.1 * 0.5);
    assert!(
        (stats.score.score - expected).abs() < 0.005,
        "{}",
        stats.score.score
    );
    assert_eq!(stats.score.status, Status::Degraded);
}

#[test]
fn empty_system_is_healthy_with_full_score() {
    let stats = aggregate(&snapshot(Vec::new()), &ScoreWeights::default());
    assert_eq!(stats.score.score, 100.0);
    assert_eq!(stats.score.status, Status::Healthy);
    assert_eq!(stats.system.jobs.success_rate, 100.0);
    assert_eq!(stats.system.latency.p50_ms, None);
}

#[test]
fn score_bounds_map_to_status() {
    let mut samples = target_samples("a", "webhook", 3.0, 0, 0, 10);
    samples.push(Sample::new("circuit_breaker_state", 2.0).label("target", "a"));
    samples.extend([
        Sample::new("queue_size", 5000.0),
        Sample::new("queue_capacity", 1000.0),
    ]);
    let stats = aggregate(&snapshot(samples), &ScoreWeights::default());
    assert_eq!(stats.score.score, 0.0);
    assert_eq!(stats.score.status, Status::Unhealthy);
}

#[test]
fn percentiles_interpolate_within_buckets() {
    // 100 observations: 50 in (0.05, 0.1], 50 in (0.1, 0.25].
    let mut samples = vec![
        Sample::new("health_status", 1.0)
            .label("target", "a")
            .label("type", "webhook"),
    ];
    for (le, n) in [("0.1", 50.0), ("0.25", 50.0)] {
        samples.push(
            Sample::new("job_latency_seconds_bucket", n)
                .label("target", "a")
                .label("le", le),
        );
    }
    samples.push(Sample::new("job_latency_seconds_count", 100.0).label("target", "a"));
    samples.push(Sample::new("job_latency_seconds_sum", 15.0).label("target", "a"));
    let stats = aggregate(&snapshot(samples), &ScoreWeights::default());
    let l = &stats.targets["a"].latency;
    assert_eq!(l.count, 100);
    assert!((l.p50_ms.unwrap_or_default() - 100.0).abs() < 1e-9);
    assert!((l.p95_ms.unwrap_or_default() - 235.0).abs() < 1e-9);
    assert!((l.p99_ms.unwrap_or_default() - 247.0).abs() < 1e-9);
    assert!((l.mean_ms.unwrap_or_default() - 150.0).abs() < 1e-9);
    assert_eq!(stats.system.latency, *l);
}

#[test]
fn quantile_edges() {
    let mut b = [0u64; BUCKETS.len() + 1];
    assert_eq!(quantile(&b, 0.5), None);
    b[BUCKETS.len()] = 3;
    assert_eq!(
        quantile(&b, 0.5),
        Some(60.0),
        "overflow reports the largest bound"
    );
    let mut b = [0u64; BUCKETS.len() + 1];
    b[0] = 10;
    assert!((quantile(&b, 0.5).unwrap_or_default() - 0.0025).abs() < 1e-12);
}
