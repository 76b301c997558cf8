//! The metric families the HTTP layer emits: authentication and per-client rate limiting.

use metrics::{Unit, describe_counter, describe_gauge};

/// Clients tracked by a rate limiter, by limiter (api, ingest); bounded by rate_limit.max_clients.
pub const RATE_LIMIT_CLIENTS: &str = "alert_publisher_rate_limit_clients";

/// Requests refused with 429, by limiter (api, ingest).
pub const RATE_LIMITED_TOTAL: &str = "alert_publisher_rate_limited_total";

/// Requests refused by authentication, by reason (unauthenticated, forbidden, ingest).
pub const AUTH_FAILURES_TOTAL: &str = "alert_publisher_auth_failures_total";

/// Describes every family above (help text and unit); call once the recorder is installed.
pub fn describe() {
    describe_gauge!(
        RATE_LIMIT_CLIENTS,
        Unit::Count,
        "Clients tracked by a rate limiter, by limiter (api, ingest); bounded by rate_limit.max_clients."
    );
    describe_counter!(
        RATE_LIMITED_TOTAL,
        Unit::Count,
        "Requests refused with 429, by limiter (api, ingest)."
    );
    describe_counter!(
        AUTH_FAILURES_TOTAL,
        Unit::Count,
        "Requests refused by authentication, by reason (unauthenticated, forbidden, ingest)."
    );
    // Present from the start, so rules on a rate (ingest answering 429) see a zero, not nothing.
    for limiter in ["api", "ingest"] {
        metrics::counter!(RATE_LIMITED_TOTAL, "limiter" => limiter).increment(0);
    }
}

/// The process-wide Prometheus recorder with the HTTP layer's families described as well.
pub fn handle() -> metrics_exporter_prometheus::PrometheusHandle {
    static DESCRIBED: std::sync::Once = std::sync::Once::new();
    let handle = service::telemetry::metrics_handle();
    DESCRIBED.call_once(describe);
    handle
}
