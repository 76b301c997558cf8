//! The metric families the queue emits (through the `metrics` facade), described once by
//! [`describe`]. Other crates read these families through the constants, never the strings.
//!
//! Labels are bounded: a target name, a priority, a state, result or failure kind.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

use crate::{EnqueueReport, Priority, QueueStats};

/// Counter: jobs submitted to the queue, by `priority` and `result` (`inserted`,
/// `deduplicated`, `superseded`). Recorded by [`record_enqueue`].
pub const QUEUE_SUBMISSIONS_TOTAL: &str = "alert_history_publishing_queue_submissions_total";
/// Gauge: jobs waiting for delivery, by `priority` (`high`, `medium`, `low`). Set by
/// [`export_stats`].
pub const QUEUE_SIZE: &str = "alert_history_publishing_queue_size";
/// Gauge: jobs being delivered now (no labels). Set by [`export_stats`].
pub const JOBS_IN_FLIGHT: &str = "alert_history_publishing_jobs_in_flight";
/// Gauge: dead letters stored, by `target`. Set by [`export_stats`].
pub const DLQ_SIZE: &str = "alert_history_publishing_dlq_size";
/// Counter: dead letters replayed, by `target` and `result` (`success`, or `skipped` when a
/// replay was refused). Recorded by [`record_replays`].
pub const DLQ_REPLAYS_TOTAL: &str = "alert_history_publishing_dlq_replays_total";
/// Gauge: delivery workers busy now (no labels).
pub const WORKERS_ACTIVE: &str = "alert_history_publishing_workers_active";
/// Gauge: delivery workers idle now (no labels).
pub const WORKERS_IDLE: &str = "alert_history_publishing_workers_idle";
/// Histogram: finished attempts committed per store round trip (no labels).
pub const COMMIT_BATCH_SIZE: &str = "alert_history_publishing_commit_batch_size";
/// Histogram: ingest requests whose jobs were committed together in one store transaction
/// (no labels).
pub const ENQUEUE_BATCH_REQUESTS: &str = "alert_publisher_enqueue_batch_requests";
/// Counter: delivery attempts, by `target` and `state` (`delivered`, `retry`, `dead`).
pub const JOBS_PROCESSED_TOTAL: &str = "alert_history_publishing_jobs_processed_total";
/// Histogram: duration of one delivery attempt in seconds, by `target` and `priority`.
pub const JOB_DURATION_SECONDS: &str = "alert_history_publishing_job_duration_seconds";
/// Histogram: time a job waited before its first attempt in seconds, by `target` and
/// `priority`.
pub const JOB_WAIT_TIME_SECONDS: &str = "alert_history_publishing_job_wait_time_seconds";
/// Counter: failed attempts that will be retried, by `target` and `error_type` (the failure
/// kind: `timeout`, `http_5xx`, `rate_limited`, …).
pub const RETRY_ATTEMPTS_TOTAL: &str = "alert_history_publishing_retry_attempts_total";
/// Counter: jobs moved to the dead-letter queue, by `target`, `reason` (the failure kind) and
/// `error_type` (`permanent` when the target refused it, `transient` when retries ran out).
pub const DLQ_WRITES_TOTAL: &str = "alert_history_publishing_dlq_writes_total";
/// Counter: dead letters handed to a fallback target, by `target` (the failed one).
pub const FALLBACK_TOTAL: &str = "alert_history_publishing_fallback_total";
/// Counter: attempts deferred by a target's rate limit, by `target`.
pub const RATE_LIMIT_WAITS_TOTAL: &str = "alert_history_publishing_rate_limit_waits_total";
/// Counter: attempts deferred by an open circuit, by `target`.
pub const CIRCUIT_BREAKER_WAITS_TOTAL: &str =
    "alert_history_publishing_circuit_breaker_waits_total";
/// Gauge: circuit breaker state by `target` (0 closed, 1 half-open, 2 open).
pub const CIRCUIT_BREAKER_STATE: &str = "alert_history_publishing_circuit_breaker_state";
/// Counter: circuits opened, by `target`.
pub const CIRCUIT_BREAKER_TRIPS_TOTAL: &str =
    "alert_history_publishing_circuit_breaker_trips_total";
/// Counter: circuits closed again, by `target`.
pub const CIRCUIT_BREAKER_RECOVERIES_TOTAL: &str =
    "alert_history_publishing_circuit_breaker_recoveries_total";
/// Histogram: each attempt's outcome (1 delivered, 0 failed) by `target` and `attempt` (`1` to
/// `5`, then `6+`): its mean per attempt number is the success rate of that retry.
pub const RETRY_SUCCESS_RATE: &str = "alert_history_publishing_retry_success_rate";
/// Histogram: duration of one delivery attempt in seconds, by `worker_id` (the delivery slot
/// that ran it, `0` to concurrency − 1).
pub const WORKER_PROCESSING_DURATION_SECONDS: &str =
    "alert_history_publishing_worker_processing_duration_seconds";

/// Describes every family above: help text and unit (call once, after the recorder is
/// installed).
pub fn describe() {
    describe_counter!(
        QUEUE_SUBMISSIONS_TOTAL,
        Unit::Count,
        "Jobs submitted to the queue, by result (inserted, deduplicated, superseded)."
    );
    describe_gauge!(
        QUEUE_SIZE,
        Unit::Count,
        "Jobs waiting for delivery, by priority."
    );
    describe_gauge!(JOBS_IN_FLIGHT, Unit::Count, "Jobs being delivered now.");
    describe_gauge!(DLQ_SIZE, Unit::Count, "Dead letters stored.");
    describe_counter!(DLQ_REPLAYS_TOTAL, Unit::Count, "Dead letters replayed.");
    describe_gauge!(WORKERS_ACTIVE, Unit::Count, "Delivery workers busy now.");
    describe_gauge!(WORKERS_IDLE, Unit::Count, "Delivery workers idle now.");
    describe_histogram!(
        COMMIT_BATCH_SIZE,
        Unit::Count,
        "Finished attempts committed per store round trip."
    );
    describe_histogram!(
        ENQUEUE_BATCH_REQUESTS,
        Unit::Count,
        "Ingest requests whose jobs were committed together in one store transaction."
    );
    describe_counter!(
        JOBS_PROCESSED_TOTAL,
        Unit::Count,
        "Delivery attempts by target and state (delivered, retry, dead)."
    );
    describe_histogram!(
        JOB_DURATION_SECONDS,
        Unit::Seconds,
        "Duration of one delivery attempt, by target."
    );
    describe_histogram!(
        JOB_WAIT_TIME_SECONDS,
        Unit::Seconds,
        "Time a job waited before its first attempt, by target."
    );
    describe_counter!(
        RETRY_ATTEMPTS_TOTAL,
        Unit::Count,
        "Failed attempts that will be retried, by target."
    );
    describe_counter!(
        DLQ_WRITES_TOTAL,
        Unit::Count,
        "Jobs moved to the dead-letter queue, by target and failure kind."
    );
    describe_counter!(
        FALLBACK_TOTAL,
        Unit::Count,
        "Dead letters handed to a fallback target, by target."
    );
    describe_counter!(
        RATE_LIMIT_WAITS_TOTAL,
        Unit::Count,
        "Attempts deferred by a target's rate limit, by target."
    );
    describe_counter!(
        CIRCUIT_BREAKER_WAITS_TOTAL,
        Unit::Count,
        "Attempts deferred by an open circuit, by target."
    );
    describe_gauge!(
        CIRCUIT_BREAKER_STATE,
        Unit::Count,
        "Circuit breaker state by target: 0 closed, 1 half-open, 2 open."
    );
    describe_counter!(
        CIRCUIT_BREAKER_TRIPS_TOTAL,
        Unit::Count,
        "Circuits opened, by target."
    );
    describe_counter!(
        CIRCUIT_BREAKER_RECOVERIES_TOTAL,
        Unit::Count,
        "Circuits closed again, by target."
    );
    describe_histogram!(
        RETRY_SUCCESS_RATE,
        Unit::Count,
        "Attempt outcomes (1 delivered, 0 failed) by target and attempt number: the mean is the success rate."
    );
    describe_histogram!(
        WORKER_PROCESSING_DURATION_SECONDS,
        Unit::Seconds,
        "Duration of one delivery attempt by worker_id (delivery slot)."
    );
}

/// Counts one submission to the queue in [`QUEUE_SUBMISSIONS_TOTAL`]: `result` `inserted`,
/// `deduplicated` and `superseded` by the report's counts.
pub fn record_enqueue(report: &EnqueueReport) {
    for priority in [Priority::High, Priority::Medium, Priority::Low] {
        let counts = report.by_priority[priority as usize];
        for (i, result) in ["inserted", "deduplicated", "superseded"]
            .into_iter()
            .enumerate()
        {
            if counts[i] > 0 {
                metrics::counter!(QUEUE_SUBMISSIONS_TOTAL, "priority" => priority.as_str(), "result" => result)
                    .increment(counts[i] as u64);
            }
        }
    }
}

/// Sets the queue gauges from fresh counts: [`QUEUE_SIZE`] for each priority (0 when none
/// waits), [`JOBS_IN_FLIGHT`] and [`DLQ_SIZE`].
pub fn export_stats(stats: &QueueStats) {
    for priority in [Priority::High, Priority::Medium, Priority::Low] {
        let priority = priority.as_str();
        let n = stats
            .pending_by_priority
            .get(priority)
            .copied()
            .unwrap_or(0);
        metrics::gauge!(QUEUE_SIZE, "priority" => priority).set(n as f64);
    }
    metrics::gauge!(JOBS_IN_FLIGHT).set(stats.in_flight as f64);
    // Targets whose last dead letter went are set to 0, not left at their old count.
    static SEEN: std::sync::Mutex<std::collections::BTreeSet<String>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut seen = SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    seen.extend(stats.dead_by_target.keys().cloned());
    for target in seen.iter() {
        let n = stats.dead_by_target.get(target).copied().unwrap_or(0);
        metrics::gauge!(DLQ_SIZE, "target" => target.clone()).set(n as f64);
    }
}

/// Counts replayed (`success`) and refused (`skipped`) dead letters in [`DLQ_REPLAYS_TOTAL`],
/// by the dead letter's target.
pub fn record_replays<'a>(
    replayed: impl IntoIterator<Item = &'a str>,
    skipped: impl IntoIterator<Item = &'a str>,
) {
    for (targets, result) in [
        (replayed.into_iter().collect::<Vec<_>>(), "success"),
        (skipped.into_iter().collect(), "skipped"),
    ] {
        for target in targets {
            metrics::counter!(DLQ_REPLAYS_TOTAL, "target" => target.to_owned(), "result" => result)
                .increment(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;

    /// One recorded series: name, labels, value.
    type Series = (String, Vec<(String, String)>, f64);

    /// Every series recorded while `f` runs, sorted; counters converted to `f64`.
    fn recorded(f: impl FnOnce()) -> Vec<Series> {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, f);
        let mut out: Vec<_> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let key = key.key();
                let labels = key
                    .labels()
                    .map(|l| (l.key().to_owned(), l.value().to_owned()))
                    .collect();
                let value = match value {
                    DebugValue::Counter(n) => n as f64,
                    DebugValue::Gauge(g) => g.into_inner(),
                    DebugValue::Histogram(h) => panic!("unexpected histogram {h:?}"),
                };
                (key.name().to_owned(), labels, value)
            })
            .collect();
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        out
    }

    fn series(name: &str, labels: &[(&str, &str)], value: f64) -> Series {
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        (name.to_owned(), labels, value)
    }

    #[test]
    fn record_enqueue_counts_each_result() {
        let got = recorded(|| {
            let mut report = EnqueueReport::default();
            report.count(Priority::High, crate::Submission::Inserted, 3);
            report.count(Priority::Low, crate::Submission::Deduplicated, 2);
            report.count(Priority::High, crate::Submission::Superseded, 1);
            assert_eq!(
                (report.inserted, report.deduplicated, report.superseded),
                (3, 2, 1)
            );
            record_enqueue(&report);
            let mut report = EnqueueReport::default();
            report.count(Priority::High, crate::Submission::Inserted, 1);
            record_enqueue(&report);
        });
        let name = "alert_history_publishing_queue_submissions_total";
        assert_eq!(
            got,
            vec![
                series(name, &[("priority", "high"), ("result", "inserted")], 4.0),
                series(name, &[("priority", "high"), ("result", "superseded")], 1.0),
                series(
                    name,
                    &[("priority", "low"), ("result", "deduplicated")],
                    2.0
                ),
            ]
        );
    }

    #[test]
    fn export_stats_sets_the_queue_gauges() {
        let stats = QueueStats {
            pending_by_priority: [("high".to_owned(), 5), ("low".to_owned(), 7)]
                .into_iter()
                .collect(),
            pending: 12,
            in_flight: 3,
            dead: 4,
            dead_by_target: [("a".to_owned(), 3), ("b".to_owned(), 1)]
                .into_iter()
                .collect(),
            ..Default::default()
        };
        let got = recorded(|| export_stats(&stats));
        let size = "alert_history_publishing_queue_size";
        assert_eq!(
            got,
            vec![
                series("alert_history_publishing_dlq_size", &[("target", "a")], 3.0),
                series("alert_history_publishing_dlq_size", &[("target", "b")], 1.0),
                series("alert_history_publishing_jobs_in_flight", &[], 3.0),
                series(size, &[("priority", "high")], 5.0),
                series(size, &[("priority", "low")], 7.0),
                series(size, &[("priority", "medium")], 0.0),
            ]
        );
    }

    #[test]
    fn record_replays_counts_replayed_letters() {
        let got = recorded(|| {
            record_replays(["a", "a"], ["b"]);
            record_replays([], []);
        });
        let name = "alert_history_publishing_dlq_replays_total";
        assert_eq!(
            got,
            vec![
                series(name, &[("target", "a"), ("result", "success")], 2.0),
                series(name, &[("target", "b"), ("result", "skipped")], 1.0),
            ]
        );
    }
}
