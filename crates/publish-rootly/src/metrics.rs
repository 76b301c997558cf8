//! The metric families this crate emits (through the `metrics` facade), described once.
//! Labels are bounded: the target name, the action, a result or reason kind — never a key, an
//! id or a URL. Other crates use these constants, never the strings.

use std::{sync::Once, time::Duration};

use metrics::{Unit, describe_counter, describe_histogram};

use crate::classify::Action;

/// The target type whose publisher emits these families.
pub const VENDOR: &str = "rootly";

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

/// Every counter family: (name after `alert_publisher_rootly_`, full family name). A stats
/// collector sums these per target.
pub const COUNTERS: &[(&str, &str)] = &[
    ("requests_total", REQUESTS_TOTAL),
    ("lifecycle_total", LIFECYCLE_TOTAL),
];

/// Registers help text and unit of every family with the installed recorder. The publisher
/// does it by itself at its first request; a service that installs its recorder later calls it
/// again.
pub fn describe() {
    describe_counter!(
        REQUESTS_TOTAL,
        Unit::Count,
        "HTTP requests to the Rootly API by action and result"
    );
    describe_histogram!(
        REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Latency of requests to the Rootly API"
    );
    describe_counter!(
        LIFECYCLE_TOTAL,
        Unit::Count,
        "Rootly alert lifecycle steps (created, resolved, ...)"
    );
}

/// [`describe`] once per process, at the first emission rather than at construction: a
/// service may install its recorder after building its publishers.
fn describe_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(describe);
}

pub(crate) fn request(target: &str, action: Action, result: &'static str, elapsed: Duration) {
    describe_once();
    let target = target.to_owned();
    metrics::counter!(REQUESTS_TOTAL, "target" => target.clone(), "action" => action.as_str(), "result" => result)
        .increment(1);
    metrics::histogram!(REQUEST_DURATION_SECONDS, "target" => target, "action" => action.as_str())
        .record(elapsed.as_secs_f64());
}

pub(crate) fn lifecycle(target: &str, action: &'static str, result: &'static str) {
    describe_once();
    metrics::counter!(LIFECYCLE_TOTAL, "target" => target.to_owned(), "action" => action, "result" => result)
        .increment(1);
}
