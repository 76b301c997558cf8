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

/// Describes every family above (help text and unit); call once the recorder is installed.
pub fn describe() {
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
