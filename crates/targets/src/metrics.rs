//! The metric families target discovery and health emit (through the `metrics` facade),
//! described once by [`describe`]. Other crates read these families through the constants,
//! never the strings.
//!
//! Labels are bounded: a target name, a discovery source, a state, result, event or reason.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Gauge: target health by `target` (with the original's `target_name` and `target_type`):
/// 0 unknown, 1 healthy, 2 degraded, 3 unhealthy.
pub const TARGET_HEALTH_STATUS: &str = "alert_history_publishing_target_health_status";
/// Counter: active health probes, by `target` and `result` (`success`, `failure`), with the
/// original's `target_name` and `status` (the same values).
pub const HEALTH_CHECKS_TOTAL: &str = "alert_history_publishing_health_checks_total";
/// Histogram: duration of an active health probe in seconds, by `target` (and `target_name`).
pub const HEALTH_CHECK_DURATION_SECONDS: &str =
    "alert_history_publishing_health_check_duration_seconds";
/// Counter: failed health probes by `target_name` and `error_type` (`timeout`, `dns`, `tls`,
/// `refused`, `http_error`, `unknown`).
pub const HEALTH_CHECK_ERRORS_TOTAL: &str = "alert_history_publishing_health_check_errors_total";
/// Gauge: consecutive failed checks (deliveries and probes) by `target_name`.
pub const TARGET_CONSECUTIVE_FAILURES: &str =
    "alert_history_publishing_target_consecutive_failures";
/// Gauge: success rate of the recent checks in percent (0–100) by `target_name`.
pub const TARGET_SUCCESS_RATE: &str = "alert_history_publishing_target_success_rate";
/// Gauge: targets found by discovery, by `source` and `state` (`valid`, `invalid`).
pub const DISCOVERY_TARGETS: &str = "alert_history_publishing_discovery_targets";
/// Counter: discovery watch events, by `source` and `event` (`added`, `modified`, `deleted`,
/// `gone`, `resync`, `manual_refresh`, `watch_ended`, `reload`).
pub const DISCOVERY_EVENTS_TOTAL: &str = "alert_history_publishing_discovery_events_total";
/// Counter: discovery errors, by `source`, `reason` (`invalid_definition`) and the original's
/// `error_type` (`validate`).
pub const DISCOVERY_ERRORS_TOTAL: &str = "alert_history_publishing_discovery_errors_total";
/// Counter: Kubernetes Secrets parsed into targets, by `format` (`target_json`, `config`,
/// `flat`).
pub const DISCOVERY_SECRETS_PARSED_TOTAL: &str =
    "alert_history_publishing_discovery_secrets_parsed_total";
/// Counter: target refreshes, by `source` and `result` (`success`, `failure`), with the
/// original's `status` (`success`, `failed`).
pub const REFRESH_TOTAL: &str = "alert_history_publishing_refresh_total";
/// Counter: failed target refreshes, by `source` and `reason` (`unreachable`, `api_error`,
/// `watch_error`, `invalid_definition`, `other`), with the original's `error_type` (the same).
pub const REFRESH_ERRORS_TOTAL: &str = "alert_history_publishing_refresh_errors_total";
/// Histogram: duration of a target refresh in seconds, by `source` and `status`.
pub const REFRESH_DURATION_SECONDS: &str = "alert_history_publishing_refresh_duration_seconds";
/// Gauge: when targets were last refreshed successfully (Unix time, seconds), by `source`.
pub const REFRESH_LAST_SUCCESS_TIMESTAMP_SECONDS: &str =
    "alert_history_publishing_refresh_last_success_timestamp_seconds";

/// Gauge: 1 while a target refresh runs, else 0 (no labels).
pub const REFRESH_IN_PROGRESS: &str = "alert_history_publishing_refresh_in_progress";
/// Gauge: when any source last refreshed successfully (Unix time, seconds; no labels: the
/// original's name).
pub const REFRESH_LAST_SUCCESS_TIMESTAMP: &str =
    "alert_history_publishing_refresh_last_success_timestamp";
/// Gauge: when any source last refreshed successfully (Unix time, seconds; no labels).
pub const DISCOVERY_LAST_SUCCESS_TIMESTAMP: &str =
    "alert_history_publishing_discovery_last_success_timestamp";
/// Histogram: duration of a discovery refresh in seconds, by `operation` (the source:
/// `file`, `kubernetes`).
pub const DISCOVERY_DURATION_SECONDS: &str = "alert_history_publishing_discovery_duration_seconds";
/// Counter: Kubernetes Secrets processed, by `status` (`valid`, `invalid`).
pub const DISCOVERY_SECRETS_TOTAL: &str = "alert_history_publishing_discovery_secrets_total";

/// Describes every family above: help text and unit (call once, after the recorder is
/// installed).
pub fn describe() {
    describe_gauge!(
        TARGET_HEALTH_STATUS,
        Unit::Count,
        "Target health: 0 unknown, 1 healthy, 2 degraded, 3 unhealthy."
    );
    describe_counter!(
        HEALTH_CHECKS_TOTAL,
        Unit::Count,
        "Active health probes, by target and result."
    );
    describe_histogram!(
        HEALTH_CHECK_DURATION_SECONDS,
        Unit::Seconds,
        "Duration of an active health probe, by target."
    );
    // Kubernetes-only families start at zero, so dashboards and rules see them without it.
    for status in ["valid", "invalid"] {
        metrics::counter!(DISCOVERY_SECRETS_TOTAL, "status" => status).increment(0);
    }
    metrics::counter!(DISCOVERY_ERRORS_TOTAL, "source" => "kubernetes", "reason" => "invalid_definition", "error_type" => "validate")
        .increment(0);
    metrics::gauge!(REFRESH_IN_PROGRESS).set(0.0);
    describe_gauge!(
        REFRESH_IN_PROGRESS,
        Unit::Count,
        "1 if a target refresh is running, 0 otherwise."
    );
    describe_gauge!(
        REFRESH_LAST_SUCCESS_TIMESTAMP,
        Unit::Seconds,
        "Unix timestamp of the last successful target refresh."
    );
    describe_gauge!(
        DISCOVERY_LAST_SUCCESS_TIMESTAMP,
        Unit::Seconds,
        "Unix timestamp of the last successful target discovery."
    );
    describe_histogram!(
        DISCOVERY_DURATION_SECONDS,
        Unit::Seconds,
        "Target discovery operation duration in seconds, by operation (source)."
    );
    describe_counter!(
        DISCOVERY_SECRETS_TOTAL,
        Unit::Count,
        "Kubernetes Secrets processed, by status (valid, invalid)."
    );
    describe_counter!(
        HEALTH_CHECK_ERRORS_TOTAL,
        Unit::Count,
        "Failed health probes by target and error type."
    );
    describe_gauge!(
        TARGET_CONSECUTIVE_FAILURES,
        Unit::Count,
        "Consecutive failed checks (deliveries and probes) by target."
    );
    describe_gauge!(
        TARGET_SUCCESS_RATE,
        Unit::Percent,
        "Success rate of the recent checks in percent (0-100) by target."
    );
    describe_gauge!(
        DISCOVERY_TARGETS,
        Unit::Count,
        "Targets found by discovery, by source and state (valid, invalid)."
    );
    describe_counter!(
        DISCOVERY_EVENTS_TOTAL,
        Unit::Count,
        "Discovery watch events, by source and event."
    );
    describe_counter!(
        DISCOVERY_ERRORS_TOTAL,
        Unit::Count,
        "Discovery errors, by source and reason."
    );
    describe_counter!(
        DISCOVERY_SECRETS_PARSED_TOTAL,
        Unit::Count,
        "Kubernetes Secrets parsed into targets, by format."
    );
    describe_counter!(REFRESH_TOTAL, Unit::Count, "Target refreshes, by source.");
    describe_counter!(
        REFRESH_ERRORS_TOTAL,
        Unit::Count,
        "Failed target refreshes, by source and reason."
    );
    describe_histogram!(
        REFRESH_DURATION_SECONDS,
        Unit::Seconds,
        "Duration of a target refresh, by source."
    );
    describe_gauge!(
        REFRESH_LAST_SUCCESS_TIMESTAMP_SECONDS,
        Unit::Seconds,
        "When targets were last refreshed successfully (Unix time), by source."
    );
}
