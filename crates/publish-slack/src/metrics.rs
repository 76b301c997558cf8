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

/// The original service's Slack families (`alert_history_publishing_slack_…`), with its labels.
pub mod original {
    /// Counter: messages posted (post, update, webhook), by `status` (`success`, `error`).
    pub const MESSAGES_POSTED_TOTAL: &str = "alert_history_publishing_slack_messages_posted_total";
    /// Counter: thread replies posted.
    pub const THREAD_REPLIES_TOTAL: &str = "alert_history_publishing_slack_thread_replies_total";
    /// Counter: failures by `error_type` (`rate_limit`, `server_error`, `auth_error`,
    /// `bad_request`, `network_error`, `api_error`).
    pub const MESSAGE_ERRORS_TOTAL: &str = "alert_history_publishing_slack_message_errors_total";
    /// Histogram: request duration by `method` (`post_message`, `update`, `thread_reply`,
    /// `webhook`, `auth_test`) and `status` (`success`, `error`).
    pub const API_REQUEST_DURATION_SECONDS: &str =
        "alert_history_publishing_slack_api_request_duration_seconds";
    /// Counter: deliveries that found the alert's earlier message (to update or reply to).
    pub const CACHE_HITS_TOTAL: &str = "alert_history_publishing_slack_cache_hits_total";
    /// Counter: deliveries that found no earlier message for the alert.
    pub const CACHE_MISSES_TOTAL: &str = "alert_history_publishing_slack_cache_misses_total";
    /// Gauge: alerts whose Slack message this process opened and has not seen resolved (the
    /// references themselves are kept in the store, for every alert).
    pub const CACHE_SIZE: &str = "alert_history_publishing_slack_cache_size";
    /// Counter: 429 answers.
    pub const RATE_LIMIT_HITS_TOTAL: &str = "alert_history_publishing_slack_rate_limit_hits_total";
}

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
    use metrics::describe_gauge;
    use original as o;
    describe_counter!(
        o::MESSAGES_POSTED_TOTAL,
        Unit::Count,
        "Total number of Slack messages posted (by status)."
    );
    describe_counter!(
        o::THREAD_REPLIES_TOTAL,
        Unit::Count,
        "Total number of Slack thread replies posted."
    );
    describe_counter!(
        o::MESSAGE_ERRORS_TOTAL,
        Unit::Count,
        "Total number of Slack message publishing errors (by error_type)."
    );
    describe_histogram!(
        o::API_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Slack API request duration in seconds (by method, status)."
    );
    describe_counter!(
        o::CACHE_HITS_TOTAL,
        Unit::Count,
        "Deliveries that found the alert's earlier Slack message."
    );
    describe_counter!(
        o::CACHE_MISSES_TOTAL,
        Unit::Count,
        "Deliveries that found no earlier Slack message for the alert."
    );
    describe_gauge!(
        o::CACHE_SIZE,
        Unit::Count,
        "Alerts whose Slack message this process opened and has not seen resolved."
    );
    describe_counter!(
        o::RATE_LIMIT_HITS_TOTAL,
        Unit::Count,
        "Total number of Slack rate limit hits (429 errors)."
    );
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
