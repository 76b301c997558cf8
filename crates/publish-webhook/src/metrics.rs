//! The metric families this crate emits (through the `metrics` facade), described once.
//! Labels are bounded: the target name and a result (`delivered` or the error kind) — never a
//! URL, a header or a token. Other crates use these constants, never the strings.

use std::{sync::Once, time::Duration};

use metrics::{Unit, describe_counter, describe_histogram};
use publish::PublishOutcome;

/// The target type whose publisher emits these families.
pub const VENDOR: &str = "webhook";

/// Deliveries by target and result: `delivered` (any 2xx) or the error kind (`server`,
/// `rate_limited`, `auth`, `timeout`, `connect`, ...; `config` for an address the outbound
/// policy refused, which is never sent).
pub const DELIVERIES_TOTAL: &str = "alert_publisher_webhook_deliveries_total";
/// Duration of delivery attempts (resolve, connect, send, answer), by target.
pub const REQUEST_DURATION_SECONDS: &str = "alert_publisher_webhook_request_duration_seconds";

/// Every counter family: (name after `alert_publisher_webhook_`, full family name). A stats
/// collector sums these per target.
pub const COUNTERS: &[(&str, &str)] = &[("deliveries_total", DELIVERIES_TOTAL)];

/// Registers help text and unit of every family with the installed recorder. The publisher
/// does it by itself at its first delivery; a service that installs its recorder later calls
/// it again.
pub fn describe() {
    describe_counter!(
        DELIVERIES_TOTAL,
        Unit::Count,
        "Webhook deliveries by target and result (delivered or the error kind)"
    );
    describe_histogram!(
        REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Duration of delivery attempts to webhook endpoints, by target"
    );
}

/// [`describe`] once per process, at the first delivery rather than at construction: a
/// service may install its recorder after building its publishers.
fn describe_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(describe);
}

/// Records one delivery; `elapsed` is the attempt's duration when a request was attempted.
pub(crate) fn delivery(target: &str, outcome: &PublishOutcome, elapsed: Option<Duration>) {
    describe_once();
    let result = match outcome {
        Ok(_) => "delivered",
        Err(e) => e.kind().as_str(),
    };
    metrics::counter!(DELIVERIES_TOTAL, "target" => target.to_owned(), "result" => result)
        .increment(1);
    if let Some(elapsed) = elapsed {
        metrics::histogram!(REQUEST_DURATION_SECONDS, "target" => target.to_owned())
            .record(elapsed.as_secs_f64());
    }
}
