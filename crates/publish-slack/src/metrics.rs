//! The metric families this crate emits (through the `metrics` facade), described once.
//! Label `target` is the target name — never a token or webhook URL. Other crates use these
//! constants, never the strings.

use std::sync::Once;

use metrics::{Unit, describe_counter, describe_histogram};

/// The target type whose publisher emits these families.
pub const VENDOR: &str = "slack";

/// Messages posted (Web API or incoming webhook), by target.
pub const MESSAGES_POSTED_TOTAL: &str = "alert_publisher_slack_messages_posted_total";
/// Messages updated in place (`chat.update`), by target.
pub const MESSAGES_UPDATED_TOTAL: &str = "alert_publisher_slack_messages_updated_total";
/// Thread replies posted, by target.
pub const THREAD_REPLIES_TOTAL: &str = "alert_publisher_slack_thread_replies_total";
/// Failures by target, action and reason (a known Slack error string or the error kind).
pub const ERRORS_TOTAL: &str = "alert_publisher_slack_errors_total";
/// Request duration by target and action (`post_message`, `update`, `thread_reply`,
/// `webhook`, `auth_test`).
pub const REQUEST_DURATION_SECONDS: &str = "alert_publisher_slack_request_duration_seconds";
/// 429 answers by target.
pub const RATE_LIMITED_TOTAL: &str = "alert_publisher_slack_rate_limited_total";
/// The waits Slack asked for (`Retry-After`), by target.
pub const RETRY_AFTER_SECONDS: &str = "alert_publisher_slack_retry_after_seconds";

/// Every counter family: (name after `alert_publisher_slack_`, full family name). A stats
/// collector sums these per target.
pub const COUNTERS: &[(&str, &str)] = &[
    ("messages_posted_total", MESSAGES_POSTED_TOTAL),
    ("messages_updated_total", MESSAGES_UPDATED_TOTAL),
    ("thread_replies_total", THREAD_REPLIES_TOTAL),
    ("errors_total", ERRORS_TOTAL),
    ("rate_limited_total", RATE_LIMITED_TOTAL),
];

/// Registers help text and unit of every family with the installed recorder. The publisher
/// does it by itself at its first request; a service that installs its recorder later calls it
/// again.
pub fn describe() {
    describe_counter!(
        MESSAGES_POSTED_TOTAL,
        Unit::Count,
        "Slack messages posted (Web API or incoming webhook), by target."
    );
    describe_counter!(
        MESSAGES_UPDATED_TOTAL,
        Unit::Count,
        "Slack messages updated in place (chat.update), by target."
    );
    describe_counter!(
        THREAD_REPLIES_TOTAL,
        Unit::Count,
        "Slack thread replies posted, by target."
    );
    describe_histogram!(
        REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Slack API request duration, by target and action."
    );
    describe_counter!(
        ERRORS_TOTAL,
        Unit::Count,
        "Slack failures, by target, action and reason."
    );
    describe_counter!(
        RATE_LIMITED_TOTAL,
        Unit::Count,
        "Slack 429 answers, by target."
    );
    describe_histogram!(
        RETRY_AFTER_SECONDS,
        Unit::Seconds,
        "Retry-After values Slack sent, by target."
    );
}

/// [`describe`] once per process, at the first request rather than at construction: a service
/// may install its recorder after building its publishers.
pub(crate) fn describe_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(describe);
}
