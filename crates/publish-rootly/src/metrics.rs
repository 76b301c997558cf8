//! Metrics (through the `metrics` facade). Labels are bounded: the target name, the action,
//! a result or reason kind — never a key, an id or a URL.

use std::{sync::Once, time::Duration};

use crate::classify::Action;

/// HTTP requests to Rootly by target, action (`create`, `resolve`, `lookup`, `incident`,
/// `probe`) and result (`success` or the failure kind: `auth`, `invalid`, `not_found`,
/// `rate_limited`, `server`, `timeout`, `connect`, ...).
pub const REQUESTS_TOTAL: &str = "alert_publisher_rootly_requests_total";
/// Request latency by target and action.
pub const REQUEST_DURATION_SECONDS: &str = "alert_publisher_rootly_request_duration_seconds";
/// Alert lifecycle steps by target, action (`create`, `resolve`, `incident`) and result
/// (`created`, `adopted`, `already_open`, `resolved`, `gone`, `already_resolved`, `gave_up`,
/// `opened`).
pub const LIFECYCLE_TOTAL: &str = "alert_publisher_rootly_lifecycle_total";

pub(crate) fn describe() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        metrics::describe_counter!(
            REQUESTS_TOTAL,
            "HTTP requests to the Rootly API by action and result"
        );
        metrics::describe_histogram!(
            REQUEST_DURATION_SECONDS,
            metrics::Unit::Seconds,
            "Latency of requests to the Rootly API"
        );
        metrics::describe_counter!(
            LIFECYCLE_TOTAL,
            "Rootly alert lifecycle steps (created, resolved, ...)"
        );
    });
}

pub(crate) fn request(target: &str, action: Action, result: &'static str, elapsed: Duration) {
    let target = target.to_owned();
    metrics::counter!(REQUESTS_TOTAL, "target" => target.clone(), "action" => action.as_str(), "result" => result)
        .increment(1);
    metrics::histogram!(REQUEST_DURATION_SECONDS, "target" => target, "action" => action.as_str())
        .record(elapsed.as_secs_f64());
}

pub(crate) fn lifecycle(target: &str, action: &'static str, result: &'static str) {
    metrics::counter!(LIFECYCLE_TOTAL, "target" => target.to_owned(), "action" => action, "result" => result)
        .increment(1);
}
