//! The metric families the service itself emits: ingest, notifications (Alertmanager-style
//! delivery counters), test deliveries, discovery changes and the stats gauges.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Alerts received, by source (webhook, api).
pub const ALERTS_RECEIVED_TOTAL: &str = "alert_publisher_alerts_received_total";

/// Alerts no target wanted.
pub const ALERTS_UNROUTED_TOTAL: &str = "alert_publisher_alerts_unrouted_total";

/// Ingest requests rejected, by reason (invalid, store).
pub const INGEST_FAILURES_TOTAL: &str = "alert_publisher_ingest_failures_total";

/// Notifications attempted, by target and integration (like alertmanager_notifications_total).
pub const NOTIFICATIONS_TOTAL: &str = "alert_publisher_notifications_total";

/// Notifications that failed, by target, integration and reason (like alertmanager_notifications_failed_total).
pub const NOTIFICATIONS_FAILED_TOTAL: &str = "alert_publisher_notifications_failed_total";

/// Notification request latency, by target and integration (like alertmanager_notification_latency_seconds).
pub const NOTIFICATION_LATENCY_SECONDS: &str = "alert_publisher_notification_latency_seconds";

/// Test deliveries requested through the API, by target and result.
pub const TARGET_TESTS_TOTAL: &str = "alert_history_publishing_target_tests_total";

/// Target set changes applied by discovery.
pub const DISCOVERY_CHANGES_TOTAL: &str = "alert_history_publishing_discovery_changes_total";

/// Targets in force now.
pub const TARGETS_ACTIVE: &str = "alert_history_publishing_targets_active";

/// Refreshes requested through the API.
pub const REFRESH_MANUAL_TOTAL: &str = "alert_history_publishing_refresh_manual_total";

/// Health score of the publishing system (0-100).
pub const HEALTH_SCORE: &str = "alert_history_publishing_health_score";

/// Configured targets by health state.
pub const TARGETS: &str = "alert_history_publishing_targets";

/// Configured soft capacity of the queue.
pub const QUEUE_CAPACITY: &str = "alert_history_publishing_queue_capacity";

/// Pending jobs divided by the soft capacity (0-1).
pub const QUEUE_UTILIZATION_RATIO: &str = "alert_history_publishing_queue_utilization_ratio";

/// Trend by series: 1 increasing/degrading, 0 stable, -1 decreasing/improving.
pub const TREND: &str = "alert_history_publishing_trend";

/// 1 while the latest sample's errors exceed EMA + 3 sigma.
pub const ERROR_SPIKE: &str = "alert_history_publishing_error_spike";

/// Queue growth between the last two samples, in jobs per minute.
pub const QUEUE_GROWTH_RATE_PER_MINUTE: &str =
    "alert_history_publishing_queue_growth_rate_per_minute";

/// Gauge: configured targets by `type` and `enabled` (`true`, `false`).
pub const DISCOVERY_TARGETS_TOTAL: &str = "alert_history_publishing_discovery_targets_total";
/// Counter: target lookups in the registry, by `operation` (`get`) and `status` (`found`,
/// `not_found`).
pub const TARGET_LOOKUPS_TOTAL: &str = "alert_history_publishing_target_lookups_total";
/// Gauge: per-priority share of the queue's soft capacity (0–1), by `priority`.
pub const QUEUE_CAPACITY_UTILIZATION: &str = "alert_history_publishing_queue_capacity_utilization";
/// Gauge: the publishing mode, 0 normal (the only mode here: there is no metrics-only mode).
pub const MODE_CURRENT: &str = "alert_history_publishing_mode_current";
/// Counter: mode transitions (always 0: there is one mode).
pub const MODE_TRANSITIONS_TOTAL: &str = "alert_history_publishing_mode_transitions_total";
/// Histogram: time spent in a mode before leaving it, by `mode` (never observed: one mode).
pub const MODE_DURATION_SECONDS: &str = "alert_history_publishing_mode_duration_seconds";
/// Histogram: time spent checking the mode (never observed: there is nothing to check).
pub const MODE_CHECK_DURATION_SECONDS: &str =
    "alert_history_publishing_mode_check_duration_seconds";
/// Counter: submissions refused (ingest payloads that were invalid or could not be stored).
pub const SUBMISSIONS_REJECTED_TOTAL: &str = "alert_history_publishing_submissions_rejected_total";
/// Counter: jobs not queued because the same notification was already sent or waiting.
pub const JOBS_SKIPPED_TOTAL: &str = "alert_history_publishing_jobs_skipped_total";

/// Describes every family above (help text and unit); call once the recorder is installed.
pub fn describe() {
    describe_gauge!(
        DISCOVERY_TARGETS_TOTAL,
        Unit::Count,
        "Configured targets by type and enabled status."
    );
    describe_counter!(
        TARGET_LOOKUPS_TOTAL,
        Unit::Count,
        "Target lookups by operation and status."
    );
    describe_gauge!(
        QUEUE_CAPACITY_UTILIZATION,
        Unit::Count,
        "Queue capacity utilization (0-1) by priority."
    );
    describe_gauge!(
        MODE_CURRENT,
        Unit::Count,
        "Current publishing mode (0=normal; there is no metrics-only mode)."
    );
    describe_counter!(
        MODE_TRANSITIONS_TOTAL,
        Unit::Count,
        "Total number of mode transitions."
    );
    describe_histogram!(
        MODE_DURATION_SECONDS,
        Unit::Seconds,
        "Duration spent in each mode (seconds)."
    );
    describe_histogram!(
        MODE_CHECK_DURATION_SECONDS,
        Unit::Seconds,
        "Time spent checking mode (seconds)."
    );
    describe_counter!(
        SUBMISSIONS_REJECTED_TOTAL,
        Unit::Count,
        "Total number of rejected submissions (invalid or not storable)."
    );
    describe_counter!(
        JOBS_SKIPPED_TOTAL,
        Unit::Count,
        "Total number of skipped jobs (the same notification already sent or waiting)."
    );
    // One mode, present from the start; the counters start at zero.
    metrics::gauge!(MODE_CURRENT).set(0.0);
    metrics::counter!(MODE_TRANSITIONS_TOTAL).increment(0);
    metrics::counter!(SUBMISSIONS_REJECTED_TOTAL).increment(0);
    metrics::counter!(JOBS_SKIPPED_TOTAL).increment(0);
    let _ = metrics::histogram!(MODE_DURATION_SECONDS, "mode" => "normal");
    let _ = metrics::histogram!(MODE_CHECK_DURATION_SECONDS);
    describe_counter!(
        ALERTS_RECEIVED_TOTAL,
        Unit::Count,
        "Alerts received, by source (webhook, api)."
    );
    describe_counter!(
        ALERTS_UNROUTED_TOTAL,
        Unit::Count,
        "Alerts no target wanted."
    );
    describe_counter!(
        INGEST_FAILURES_TOTAL,
        Unit::Count,
        "Ingest requests rejected, by reason (invalid, store)."
    );
    // Present from the start, so rules on a rate (ingest answering 503) see a zero.
    for reason in ["invalid", "store"] {
        metrics::counter!(INGEST_FAILURES_TOTAL, "reason" => reason).increment(0);
    }
    describe_counter!(
        NOTIFICATIONS_TOTAL,
        Unit::Count,
        "Notifications attempted, by target and integration (like alertmanager_notifications_total)."
    );
    describe_counter!(
        NOTIFICATIONS_FAILED_TOTAL,
        Unit::Count,
        "Notifications that failed, by target, integration and reason (like alertmanager_notifications_failed_total)."
    );
    describe_histogram!(
        NOTIFICATION_LATENCY_SECONDS,
        Unit::Seconds,
        "Notification request latency, by target and integration (like alertmanager_notification_latency_seconds)."
    );
    describe_counter!(
        TARGET_TESTS_TOTAL,
        Unit::Count,
        "Test deliveries requested through the API, by target and result."
    );
    describe_counter!(
        DISCOVERY_CHANGES_TOTAL,
        Unit::Count,
        "Target set changes applied by discovery."
    );
    describe_gauge!(TARGETS_ACTIVE, Unit::Count, "Targets in force now.");
    describe_counter!(
        REFRESH_MANUAL_TOTAL,
        Unit::Count,
        "Refreshes requested through the API."
    );
    describe_gauge!(
        HEALTH_SCORE,
        Unit::Count,
        "Health score of the publishing system (0-100)."
    );
    describe_gauge!(TARGETS, Unit::Count, "Configured targets by health state.");
    describe_gauge!(
        QUEUE_CAPACITY,
        Unit::Count,
        "Configured soft capacity of the queue."
    );
    describe_gauge!(
        QUEUE_UTILIZATION_RATIO,
        Unit::Count,
        "Pending jobs divided by the soft capacity (0-1)."
    );
    describe_gauge!(
        TREND,
        Unit::Count,
        "Trend by series: 1 increasing/degrading, 0 stable, -1 decreasing/improving."
    );
    describe_gauge!(
        ERROR_SPIKE,
        Unit::Count,
        "1 while the latest sample's errors exceed EMA + 3 sigma."
    );
    describe_gauge!(
        QUEUE_GROWTH_RATE_PER_MINUTE,
        Unit::Count,
        "Queue growth between the last two samples, in jobs per minute."
    );
}
