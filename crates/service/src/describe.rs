//! Help text and units for every metric family the service records, so the Prometheus
//! exposition passes `promtool check metrics`.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Describes every family (call once, after the recorder is installed).
pub(crate) fn describe_metrics() {
    // Access control.
    describe_gauge!(
        "alert_publisher_rate_limit_clients",
        Unit::Count,
        "Clients tracked by a rate limiter, by limiter (api, ingest); bounded by rate_limit.max_clients."
    );
    describe_counter!(
        "alert_publisher_rate_limited_total",
        Unit::Count,
        "Requests refused with 429, by limiter (api, ingest)."
    );
    describe_counter!(
        "alert_publisher_auth_failures_total",
        Unit::Count,
        "Requests refused by authentication, by reason (unauthenticated, forbidden, ingest)."
    );
    // Ingest and queue.
    describe_counter!(
        "alert_publisher_alerts_received_total",
        Unit::Count,
        "Alerts received, by source (webhook, api)."
    );
    describe_counter!(
        "alert_publisher_alerts_unrouted_total",
        Unit::Count,
        "Alerts no target wanted."
    );
    describe_counter!(
        "alert_publisher_ingest_failures_total",
        Unit::Count,
        "Ingest requests rejected, by reason (invalid, store)."
    );
    describe_counter!(
        "alert_history_publishing_queue_submissions_total",
        Unit::Count,
        "Jobs submitted to the queue, by result (inserted, deduplicated, superseded)."
    );
    describe_gauge!(
        "alert_history_publishing_queue_size",
        Unit::Count,
        "Jobs waiting for delivery, by priority."
    );
    describe_gauge!(
        "alert_history_publishing_queue_capacity",
        Unit::Count,
        "Configured soft capacity of the queue."
    );
    describe_gauge!(
        "alert_history_publishing_queue_utilization_ratio",
        Unit::Count,
        "Pending jobs divided by the soft capacity (0-1)."
    );
    describe_gauge!(
        "alert_history_publishing_jobs_in_flight",
        Unit::Count,
        "Jobs being delivered now."
    );
    describe_gauge!(
        "alert_history_publishing_dlq_size",
        Unit::Count,
        "Dead letters stored."
    );
    describe_gauge!(
        "alert_history_publishing_workers_active",
        Unit::Count,
        "Delivery workers busy now."
    );
    describe_gauge!(
        "alert_history_publishing_workers_idle",
        Unit::Count,
        "Delivery workers idle now."
    );
    describe_histogram!(
        "alert_history_publishing_commit_batch_size",
        Unit::Count,
        "Finished attempts committed per store round trip."
    );
    describe_histogram!(
        "alert_publisher_enqueue_batch_requests",
        Unit::Count,
        "Ingest requests whose jobs were committed together in one store transaction."
    );
    // Delivery.
    describe_counter!(
        "alert_history_publishing_jobs_processed_total",
        Unit::Count,
        "Delivery attempts by target and state (delivered, retry, dead)."
    );
    describe_histogram!(
        "alert_history_publishing_job_duration_seconds",
        Unit::Seconds,
        "Duration of one delivery attempt, by target."
    );
    describe_histogram!(
        "alert_history_publishing_job_wait_time_seconds",
        Unit::Seconds,
        "Time a job waited before its first attempt, by target."
    );
    describe_counter!(
        "alert_history_publishing_retry_attempts_total",
        Unit::Count,
        "Failed attempts that will be retried, by target."
    );
    describe_counter!(
        "alert_history_publishing_dlq_writes_total",
        Unit::Count,
        "Jobs moved to the dead-letter queue, by target and failure kind."
    );
    describe_counter!(
        "alert_history_publishing_dlq_replays_total",
        Unit::Count,
        "Dead letters replayed."
    );
    describe_counter!(
        "alert_history_publishing_fallback_total",
        Unit::Count,
        "Dead letters handed to a fallback target, by target."
    );
    describe_counter!(
        "alert_history_publishing_rate_limit_waits_total",
        Unit::Count,
        "Attempts deferred by a target's rate limit, by target."
    );
    describe_counter!(
        "alert_history_publishing_circuit_breaker_waits_total",
        Unit::Count,
        "Attempts deferred by an open circuit, by target."
    );
    describe_gauge!(
        "alert_history_publishing_circuit_breaker_state",
        Unit::Count,
        "Circuit breaker state by target: 0 closed, 1 half-open, 2 open."
    );
    describe_counter!(
        "alert_history_publishing_circuit_breaker_trips_total",
        Unit::Count,
        "Circuits opened, by target."
    );
    describe_counter!(
        "alert_history_publishing_circuit_breaker_recoveries_total",
        Unit::Count,
        "Circuits closed again, by target."
    );
    describe_gauge!(
        "alert_history_publishing_target_health_status",
        Unit::Count,
        "Target health: 0 unknown, 1 healthy, 2 degraded, 3 unhealthy."
    );
    // Alertmanager-style delivery counters.
    describe_counter!(
        "alert_publisher_notifications_total",
        Unit::Count,
        "Notifications attempted, by target and integration (like alertmanager_notifications_total)."
    );
    describe_counter!(
        "alert_publisher_notifications_failed_total",
        Unit::Count,
        "Notifications that failed, by target, integration and reason (like alertmanager_notifications_failed_total)."
    );
    describe_histogram!(
        "alert_publisher_notification_latency_seconds",
        Unit::Seconds,
        "Notification request latency, by target and integration (like alertmanager_notification_latency_seconds)."
    );
    // Parallel publishing.
    describe_counter!(
        "alert_history_publishing_parallel_requests_total",
        Unit::Count,
        "Parallel publishing requests, by endpoint and result."
    );
    describe_histogram!(
        "alert_history_publishing_parallel_duration_seconds",
        Unit::Seconds,
        "Duration of a parallel publishing request, by endpoint."
    );
    describe_counter!(
        "alert_history_publishing_parallel_targets_total",
        Unit::Count,
        "Per-target outcomes of parallel publishing."
    );
    // Stats system.
    describe_histogram!(
        collect::COLLECTION_DURATION,
        Unit::Seconds,
        "Time to run every stats collector once."
    );
    describe_counter!(
        collect::COLLECTION_ERRORS,
        Unit::Count,
        "Stats collectors that failed or missed their deadline, by collector."
    );
    describe_gauge!(
        "alert_history_publishing_health_score",
        Unit::Count,
        "Health score of the publishing system (0-100)."
    );
    describe_gauge!(
        "alert_history_publishing_targets",
        Unit::Count,
        "Configured targets by health state."
    );
    describe_gauge!(
        "alert_history_publishing_trend",
        Unit::Count,
        "Trend by series: 1 increasing/degrading, 0 stable, -1 decreasing/improving."
    );
    describe_gauge!(
        "alert_history_publishing_error_spike",
        Unit::Count,
        "1 while the latest sample's errors exceed EMA + 3 sigma."
    );
    describe_gauge!(
        "alert_history_publishing_queue_growth_rate_per_minute",
        Unit::Count,
        "Queue growth between the last two samples, in jobs per minute."
    );
    // Discovery, refresh and active health checks (recorded by the discovery module).
    describe_counter!(
        "alert_history_publishing_discovery_changes_total",
        Unit::Count,
        "Target set changes applied by discovery."
    );
    describe_counter!(
        "alert_history_publishing_discovery_errors_total",
        Unit::Count,
        "Discovery errors, by source and reason."
    );
    describe_counter!(
        "alert_history_publishing_discovery_events_total",
        Unit::Count,
        "Discovery watch events, by source and event."
    );
    describe_counter!(
        "alert_history_publishing_discovery_secrets_parsed_total",
        Unit::Count,
        "Kubernetes Secrets parsed into targets, by format."
    );
    describe_gauge!(
        "alert_history_publishing_discovery_targets",
        Unit::Count,
        "Targets found by discovery, by source and state (valid, invalid)."
    );
    describe_gauge!(
        "alert_history_publishing_targets_active",
        Unit::Count,
        "Targets in force now."
    );
    describe_histogram!(
        "alert_history_publishing_health_check_duration_seconds",
        Unit::Seconds,
        "Duration of an active health probe, by target."
    );
    describe_counter!(
        "alert_history_publishing_health_checks_total",
        Unit::Count,
        "Active health probes, by target and result."
    );
    describe_histogram!(
        "alert_history_publishing_refresh_duration_seconds",
        Unit::Seconds,
        "Duration of a target refresh, by source."
    );
    describe_counter!(
        "alert_history_publishing_refresh_errors_total",
        Unit::Count,
        "Failed target refreshes, by source and reason."
    );
    describe_gauge!(
        "alert_history_publishing_refresh_last_success_timestamp_seconds",
        Unit::Seconds,
        "When targets were last refreshed successfully (Unix time), by source."
    );
    describe_counter!(
        "alert_history_publishing_refresh_manual_total",
        Unit::Count,
        "Refreshes requested through the API."
    );
    describe_counter!(
        "alert_history_publishing_refresh_total",
        Unit::Count,
        "Target refreshes, by source."
    );
    describe_counter!(
        "alert_history_publishing_target_tests_total",
        Unit::Count,
        "Test deliveries requested through the API, by target and result."
    );
    // Vendors.
    describe_histogram!(
        "alert_publisher_slack_request_duration_seconds",
        Unit::Seconds,
        "Slack API request duration, by target and action."
    );
    describe_counter!(
        "alert_publisher_slack_errors_total",
        Unit::Count,
        "Slack failures, by target, action and reason."
    );
    describe_counter!(
        "alert_publisher_slack_rate_limited_total",
        Unit::Count,
        "Slack 429 answers, by target."
    );
    describe_histogram!(
        "alert_publisher_slack_retry_after_seconds",
        Unit::Seconds,
        "Retry-After values Slack sent, by target."
    );
    // PagerDuty and Rootly describe their own families (publish-pagerduty, publish-rootly).
}
