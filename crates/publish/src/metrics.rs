//! The metric families of parallel publishing ([`crate::parallel`]), described once by
//! [`describe`] and recorded by [`record_parallel_request`], [`record_parallel_targets`] and
//! the fan-out itself ([`PARALLEL_GOROUTINES`]),
//! and the name prefixes every family of the service starts with ([`NAMESPACES`]). Other
//! crates read these families through the constants, never the strings.

use std::time::Duration;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

use crate::parallel::{ParallelReport, TargetOutcome};

/// The prefixes every metric family of the service starts with: the publishing system's
/// families (`alert_history_publishing_…`) and the service's and vendor publishers' own
/// (`alert_publisher_…`, `alert_publisher_<vendor>_…`).
pub const NAMESPACES: [&str; 2] = ["alert_history_publishing_", "alert_publisher_"];

/// Counter: parallel publishing requests, by `endpoint` (`parallel`, `targets`, `all`,
/// `healthy`) and `result` (`success` or the error code). Recorded by
/// [`record_parallel_request`]. (Ours; the original has [`PARALLEL_TOTAL`].)
pub const PARALLEL_REQUESTS_TOTAL: &str = "alert_history_publishing_parallel_requests_total";
/// Histogram: duration of a parallel publishing request in seconds, by `endpoint` and `result`
/// (`success`, `partial_success`, `failure`: the original's label, [`Outcome`]).
pub const PARALLEL_DURATION_SECONDS: &str = "alert_history_publishing_parallel_duration_seconds";
/// Counter: fan-outs by `result` (`success`, `partial_success`, `failure`).
pub const PARALLEL_TOTAL: &str = "alert_history_publishing_parallel_total";
/// Counter: fan-outs in which every target delivered.
pub const PARALLEL_SUCCESS_TOTAL: &str = "alert_history_publishing_parallel_success_total";
/// Counter: fan-outs in which some targets delivered and some failed.
pub const PARALLEL_PARTIAL_SUCCESS_TOTAL: &str =
    "alert_history_publishing_parallel_partial_success_total";
/// Counter: fan-outs that were neither (no target delivered, or some were skipped).
pub const PARALLEL_FAILURE_TOTAL: &str = "alert_history_publishing_parallel_failure_total";
/// Counter: per-target outcomes, by `target_type` (the original's label) and `result`
/// (`delivered`, `failed`, `skipped`, `timeout`).
pub const PARALLEL_TARGETS_TOTAL: &str = "alert_history_publishing_parallel_targets_total";
/// Counter: targets that delivered, by `target_name`.
pub const PARALLEL_TARGETS_SUCCESS_TOTAL: &str =
    "alert_history_publishing_parallel_targets_success_total";
/// Counter: targets that failed or timed out, by `target_name` and `error_type` (the error
/// kind: `timeout`, `http_5xx`, …).
pub const PARALLEL_TARGETS_FAILURE_TOTAL: &str =
    "alert_history_publishing_parallel_targets_failure_total";
/// Counter: targets skipped, by `target_name` and `skip_reason` (`unhealthy`, `degraded`,
/// `circuit_open`).
pub const PARALLEL_TARGETS_SKIPPED_TOTAL: &str =
    "alert_history_publishing_parallel_targets_skipped_total";
/// Gauge: target deliveries of parallel publishing in flight now (the original's
/// "goroutines").
pub const PARALLEL_GOROUTINES: &str = "alert_history_publishing_parallel_goroutines";

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
        "Parallel publish duration in seconds by endpoint and result (success/partial_success/failure)."
    );
    describe_counter!(
        PARALLEL_TOTAL,
        Unit::Count,
        "Total parallel publishes by result (success/partial_success/failure)."
    );
    describe_counter!(
        PARALLEL_SUCCESS_TOTAL,
        Unit::Count,
        "Total parallel publishes in which every target succeeded."
    );
    describe_counter!(
        PARALLEL_PARTIAL_SUCCESS_TOTAL,
        Unit::Count,
        "Total partial success parallel publishes (some succeeded, some failed)."
    );
    describe_counter!(
        PARALLEL_FAILURE_TOTAL,
        Unit::Count,
        "Total parallel publishes that were neither a success nor a partial success."
    );
    describe_counter!(
        PARALLEL_TARGETS_TOTAL,
        Unit::Count,
        "Total targets attempted by type and result."
    );
    describe_counter!(
        PARALLEL_TARGETS_SUCCESS_TOTAL,
        Unit::Count,
        "Total successful target publishes by name."
    );
    describe_counter!(
        PARALLEL_TARGETS_FAILURE_TOTAL,
        Unit::Count,
        "Total failed target publishes by name and error_type."
    );
    describe_counter!(
        PARALLEL_TARGETS_SKIPPED_TOTAL,
        Unit::Count,
        "Total skipped targets by name and skip_reason (unhealthy/degraded/circuit_open)."
    );
    describe_gauge!(
        PARALLEL_GOROUTINES,
        Unit::Count,
        "Target deliveries of parallel publishing in flight."
    );
}

/// How a fan-out went, as the original's `result` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every target delivered.
    Success,
    /// Some delivered, some failed.
    PartialSuccess,
    /// Anything else (nothing delivered, a target skipped, or no fan-out at all).
    Failure,
}

impl Outcome {
    /// Of a fan-out's report (`None`: the request failed before or without one).
    pub fn of(report: Option<&ParallelReport>) -> Self {
        match report {
            Some(r) if r.succeeded > 0 && r.failed == 0 && r.skipped == 0 => Outcome::Success,
            Some(r) if r.succeeded > 0 && r.failed > 0 => Outcome::PartialSuccess,
            _ => Outcome::Failure,
        }
    }

    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::PartialSuccess => "partial_success",
            Outcome::Failure => "failure",
        }
    }
}

/// Counts one parallel publishing request in [`PARALLEL_REQUESTS_TOTAL`] and records how long
/// it took in [`PARALLEL_DURATION_SECONDS`]; a request that fanned out (`report`) is also
/// counted in [`PARALLEL_TOTAL`] and the success / partial / failure counter.
pub fn record_parallel_request(
    endpoint: &'static str,
    result: &str,
    elapsed: Duration,
    report: Option<&ParallelReport>,
) {
    let outcome = Outcome::of(report);
    metrics::counter!(PARALLEL_REQUESTS_TOTAL, "endpoint" => endpoint, "result" => result.to_owned())
        .increment(1);
    metrics::histogram!(PARALLEL_DURATION_SECONDS, "endpoint" => endpoint, "result" => outcome.as_str())
        .record(elapsed.as_secs_f64());
    if report.is_some() {
        metrics::counter!(PARALLEL_TOTAL, "result" => outcome.as_str()).increment(1);
        let family = match outcome {
            Outcome::Success => PARALLEL_SUCCESS_TOTAL,
            Outcome::PartialSuccess => PARALLEL_PARTIAL_SUCCESS_TOTAL,
            Outcome::Failure => PARALLEL_FAILURE_TOTAL,
        };
        metrics::counter!(family).increment(1);
    }
}

/// Counts each target's outcome of a fan-out: [`PARALLEL_TARGETS_TOTAL`] and the success,
/// failure or skipped counter by target name.
pub fn record_parallel_targets(report: &ParallelReport) {
    for r in &report.results {
        metrics::counter!(PARALLEL_TARGETS_TOTAL, "target_type" => r.target_type.clone(), "result" => r.outcome.as_str())
            .increment(1);
        match r.outcome {
            TargetOutcome::Delivered => {
                metrics::counter!(PARALLEL_TARGETS_SUCCESS_TOTAL, "target_name" => r.target.clone())
                    .increment(1);
            }
            TargetOutcome::Failed | TargetOutcome::Timeout => {
                let kind = r.error_kind.clone().unwrap_or_else(|| "unknown".to_owned());
                metrics::counter!(PARALLEL_TARGETS_FAILURE_TOTAL, "target_name" => r.target.clone(), "error_type" => kind)
                    .increment(1);
            }
            TargetOutcome::Skipped => {
                let reason = r
                    .skip_reason
                    .clone()
                    .unwrap_or_else(|| "unknown".to_owned());
                metrics::counter!(PARALLEL_TARGETS_SKIPPED_TOTAL, "target_name" => r.target.clone(), "skip_reason" => reason)
                    .increment(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;
    use crate::parallel::{Health, TargetResult};

    fn result(name: &str, outcome: TargetOutcome) -> TargetResult {
        TargetResult {
            target: name.to_owned(),
            target_type: "webhook".to_owned(),
            outcome,
            health: Health::Unknown,
            status_code: None,
            latency_ms: 1,
            error_kind: (outcome == TargetOutcome::Timeout).then(|| "timeout".to_owned()),
            error: None,
            retryable: None,
            skip_reason: (outcome == TargetOutcome::Skipped).then(|| "circuit_open".to_owned()),
        }
    }

    #[test]
    fn records_requests_and_target_outcomes() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let report = ParallelReport {
            results: vec![
                result("a", TargetOutcome::Delivered),
                result("b", TargetOutcome::Delivered),
                result("c", TargetOutcome::Timeout),
                result("d", TargetOutcome::Skipped),
            ],
            succeeded: 2,
            failed: 1,
            skipped: 1,
            duration_ms: 10,
            complete: false,
        };
        metrics::with_local_recorder(&recorder, || {
            record_parallel_request("all", "success", Duration::from_millis(250), Some(&report));
            record_parallel_request("all", "invalid_payload", Duration::from_millis(50), None);
            record_parallel_targets(&report);
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
                format!("alert_history_publishing_parallel_{name}"),
                labels.iter().map(|l| (*l).to_owned()).collect(),
                value.to_owned(),
            )
        };
        assert_eq!(
            got,
            vec![
                row(
                    "duration_seconds",
                    &["endpoint=all", "result=failure"],
                    "[0.05]"
                ),
                row(
                    "duration_seconds",
                    &["endpoint=all", "result=partial_success"],
                    "[0.25]"
                ),
                row("partial_success_total", &[], "1"),
                row(
                    "requests_total",
                    &["endpoint=all", "result=invalid_payload"],
                    "1"
                ),
                row("requests_total", &["endpoint=all", "result=success"], "1"),
                row(
                    "targets_failure_total",
                    &["target_name=c", "error_type=timeout"],
                    "1"
                ),
                row(
                    "targets_skipped_total",
                    &["target_name=d", "skip_reason=circuit_open"],
                    "1"
                ),
                row("targets_success_total", &["target_name=a"], "1"),
                row("targets_success_total", &["target_name=b"], "1"),
                row(
                    "targets_total",
                    &["target_type=webhook", "result=delivered"],
                    "2"
                ),
                row(
                    "targets_total",
                    &["target_type=webhook", "result=skipped"],
                    "1"
                ),
                row(
                    "targets_total",
                    &["target_type=webhook", "result=timeout"],
                    "1"
                ),
                row("total", &["result=partial_success"], "1"),
            ]
        );
    }
}
