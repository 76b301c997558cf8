//! The metric families of parallel publishing ([`crate::parallel`]), described once by
//! [`describe`] and recorded by [`record_parallel_request`] and [`record_parallel_targets`],
//! and the name prefixes every family of the service starts with ([`NAMESPACES`]). Other
//! crates read these families through the constants, never the strings.

use std::time::Duration;

use metrics::{Unit, describe_counter, describe_histogram};

use crate::parallel::ParallelReport;

/// The prefixes every metric family of the service starts with: the publishing system's
/// families (`alert_history_publishing_…`) and the service's and vendor publishers' own
/// (`alert_publisher_…`, `alert_publisher_<vendor>_…`).
pub const NAMESPACES: [&str; 2] = ["alert_history_publishing_", "alert_publisher_"];

/// Counter: parallel publishing requests, by `endpoint` (`targets`, `all`, `healthy`) and
/// `result` (`success` or the error code). Recorded by [`record_parallel_request`].
pub const PARALLEL_REQUESTS_TOTAL: &str = "alert_history_publishing_parallel_requests_total";
/// Histogram: duration of a parallel publishing request in seconds, by `endpoint`. Recorded by
/// [`record_parallel_request`].
pub const PARALLEL_DURATION_SECONDS: &str = "alert_history_publishing_parallel_duration_seconds";
/// Counter: per-target outcomes of parallel publishing, by `result` (`delivered`, `failed`,
/// `skipped`, `timeout`). Recorded by [`record_parallel_targets`].
pub const PARALLEL_TARGETS_TOTAL: &str = "alert_history_publishing_parallel_targets_total";

/// Describes every family above: help text and unit (call once, after the recorder is
/// installed).
pub fn describe() {
    describe_counter!(
        PARALLEL_REQUESTS_TOTAL,
        Unit::Count,
        "Parallel publishing requests, by endpoint and result."
    );
    describe_histogram!(
        PARALLEL_DURATION_SECONDS,
        Unit::Seconds,
        "Duration of a parallel publishing request, by endpoint."
    );
    describe_counter!(
        PARALLEL_TARGETS_TOTAL,
        Unit::Count,
        "Per-target outcomes of parallel publishing."
    );
}

/// Counts one parallel publishing request in [`PARALLEL_REQUESTS_TOTAL`] and records how long
/// it took in [`PARALLEL_DURATION_SECONDS`].
pub fn record_parallel_request(endpoint: &'static str, result: &str, elapsed: Duration) {
    metrics::counter!(PARALLEL_REQUESTS_TOTAL, "endpoint" => endpoint, "result" => result.to_owned())
        .increment(1);
    metrics::histogram!(PARALLEL_DURATION_SECONDS, "endpoint" => endpoint)
        .record(elapsed.as_secs_f64());
}

/// Counts each target's outcome of a fan-out in [`PARALLEL_TARGETS_TOTAL`].
pub fn record_parallel_targets(report: &ParallelReport) {
    for r in &report.results {
        metrics::counter!(PARALLEL_TARGETS_TOTAL, "result" => format!("{:?}", r.outcome).to_lowercase())
            .increment(1);
    }
}

#[cfg(test)]
mod tests {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;
    use crate::parallel::{Health, TargetOutcome, TargetResult};

    fn result(outcome: TargetOutcome) -> TargetResult {
        TargetResult {
            target: "t".to_owned(),
            outcome,
            health: Health::Unknown,
            status_code: None,
            latency_ms: 1,
            error_kind: None,
            error: None,
            retryable: None,
        }
    }

    #[test]
    fn records_requests_and_target_outcomes() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            record_parallel_request("all", "success", Duration::from_millis(250));
            record_parallel_request("all", "all_failed", Duration::from_millis(50));
            record_parallel_targets(&ParallelReport {
                results: vec![
                    result(TargetOutcome::Delivered),
                    result(TargetOutcome::Delivered),
                    result(TargetOutcome::Timeout),
                ],
                succeeded: 2,
                failed: 1,
                skipped: 0,
                duration_ms: 10,
                complete: false,
            });
        });
        let mut got: Vec<(String, Vec<String>, String)> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let key = key.key();
                let labels = key
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                let value = match value {
                    DebugValue::Counter(n) => n.to_string(),
                    DebugValue::Histogram(h) => {
                        format!("{:?}", h.iter().map(|v| v.into_inner()).collect::<Vec<_>>())
                    }
                    DebugValue::Gauge(g) => g.to_string(),
                };
                (key.name().to_owned(), labels, value)
            })
            .collect();
        got.sort();
        let row = |name: &str, labels: &[&str], value: &str| {
            (
                name.to_owned(),
                labels.iter().map(|l| (*l).to_owned()).collect(),
                value.to_owned(),
            )
        };
        assert_eq!(
            got,
            vec![
                row(
                    "alert_history_publishing_parallel_duration_seconds",
                    &["endpoint=all"],
                    "[0.25, 0.05]"
                ),
                row(
                    "alert_history_publishing_parallel_requests_total",
                    &["endpoint=all", "result=all_failed"],
                    "1"
                ),
                row(
                    "alert_history_publishing_parallel_requests_total",
                    &["endpoint=all", "result=success"],
                    "1"
                ),
                row(
                    "alert_history_publishing_parallel_targets_total",
                    &["result=delivered"],
                    "2"
                ),
                row(
                    "alert_history_publishing_parallel_targets_total",
                    &["result=timeout"],
                    "1"
                ),
            ]
        );
    }
}
