//! The metric families the stats collection emits (through the `metrics` facade), described
//! once by [`describe`].

use metrics::{Unit, describe_counter, describe_histogram};

/// Histogram: time to run every stats collector once, in seconds (no labels).
pub const COLLECTION_DURATION: &str = "alert_history_publishing_stats_collection_duration_seconds";
/// Counter: stats collectors that failed or missed their deadline, by `collector`.
pub const COLLECTION_ERRORS: &str = "alert_history_publishing_stats_collection_errors_total";

/// Describes every family above: help text and unit (call once, after the recorder is
/// installed).
pub fn describe() {
    describe_histogram!(
        COLLECTION_DURATION,
        Unit::Seconds,
        "Time to run every stats collector once."
    );
    describe_counter!(
        COLLECTION_ERRORS,
        Unit::Count,
        "Stats collectors that failed or missed their deadline, by collector."
    );
}
