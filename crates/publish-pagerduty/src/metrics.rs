//! The metric families this crate emits (through the `metrics` facade), described once.
//! Labels are bounded: `target`, `action`, `result`, `reason`, `field` — never a routing key.
//! Other crates use these constants, never the strings.

use std::sync::Once;

use metrics::{Unit, describe_counter, describe_histogram};

/// The target type whose publisher emits these families.
pub const VENDOR: &str = "pagerduty";

/// Events by target, action (`trigger`, `acknowledge`, `resolve`, `change`, `none`) and result
/// (`delivered`, `retryable`, `permanent`, `skipped`).
pub const EVENTS_TOTAL: &str = "alert_publisher_pagerduty_events_total";
/// Events not accepted, by target, action and reason (the error kind).
pub const ERRORS_TOTAL: &str = "alert_publisher_pagerduty_errors_total";
/// Request duration by target and action.
pub const REQUEST_DURATION_SECONDS: &str = "alert_publisher_pagerduty_request_duration_seconds";
/// Deliveries told to wait by the routing key's proactive rate limit, by target.
pub const RATE_LIMIT_WAITS_TOTAL: &str = "alert_publisher_pagerduty_rate_limit_waits_total";
/// Events trimmed to fit PagerDuty's limits, by target and field (`summary`,
/// `custom_details`, `field`, `links`).
pub const TRUNCATIONS_TOTAL: &str = "alert_publisher_pagerduty_truncations_total";

/// Every counter family: (name after `alert_publisher_pagerduty_`, full family name). A stats
/// collector sums these per target.
pub const COUNTERS: &[(&str, &str)] = &[
    ("events_total", EVENTS_TOTAL),
    ("errors_total", ERRORS_TOTAL),
    ("rate_limit_waits_total", RATE_LIMIT_WAITS_TOTAL),
    ("truncations_total", TRUNCATIONS_TOTAL),
];

/// Registers help text and unit of every family with the installed recorder. The publisher
/// does it by itself at its first send; a service that installs its recorder later calls it
/// again.
pub fn describe() {
    describe_counter!(
        EVENTS_TOTAL,
        Unit::Count,
        "PagerDuty events by action (trigger, acknowledge, resolve, change, none) and result (delivered, retryable, permanent, skipped)"
    );
    describe_counter!(
        ERRORS_TOTAL,
        Unit::Count,
        "PagerDuty events not accepted, by action and reason kind"
    );
    describe_histogram!(
        REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Duration of requests to the PagerDuty Events API, by action"
    );
    describe_counter!(
        RATE_LIMIT_WAITS_TOTAL,
        Unit::Count,
        "Deliveries told to wait by the routing key's proactive rate limit"
    );
    describe_counter!(
        TRUNCATIONS_TOTAL,
        Unit::Count,
        "Events trimmed to fit PagerDuty's limits, by field (summary, custom_details, field, links)"
    );
}

/// [`describe`] once per process, at the first send rather than at construction: a service may
/// install its recorder after building its publishers.
pub(crate) fn describe_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(describe);
}
