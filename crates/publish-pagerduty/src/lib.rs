//! PagerDuty Events API v2 publisher for Alert Publisher.
//!
//! One alert per event: a firing alert sends `trigger`, a resolved one `resolve` with the same
//! `dedup_key` (derived from the alert fingerprint, or from the group key with
//! `dedup: per_group`), so a retry after a crash updates the same PagerDuty alert instead of
//! opening another. Alerts marked as changes (label `change_event="true"` or the target option
//! `change_events`) go to `/v2/change/enqueue` as change events. [`PagerDutyPublisher::acknowledge`]
//! and [`PagerDutyPublisher::resolve`] act on a dedup key directly.
//!
//! Every event stays within PagerDuty's limits: the summary is cut to 1024 characters, dedup keys
//! are at most 255, and an event over 512 KB has its `custom_details` shrunk (saying so inside)
//! — never rejected for size. Answers are classified, never retried here: 202 delivered (the
//! returned dedup key is kept as vendor state), 400 permanent with PagerDuty's `errors`, 429
//! and 5xx retryable (`Retry-After` honoured by the queue). The publisher asks the delivery
//! engine for a token bucket per routing key ([`Publisher::rate_limit`], 100 events/min
//! with a burst of 10 by default: at most 110 in any minute, under PagerDuty's sliding 120),
//! shared by every target using that key. The health probe completes a
//! TLS handshake with the events host and sends nothing.
//!
//! The routing key is a [`RoutingKey`]: it is never printed, logged, serialized, put into a
//! metric label or an error reason.
//!
//! Metrics (labels: `target`, `action`, `result`, `reason`, `field` — never a key):
//! `alert_publisher_pagerduty_events_total`, `alert_publisher_pagerduty_errors_total`,
//! `alert_publisher_pagerduty_request_duration_seconds`,
//! `alert_publisher_pagerduty_rate_limit_waits_total`,
//! `alert_publisher_pagerduty_truncations_total`.
//!
//! **Invariant:** depends only on `publish` (and HTTP/serde/TLS crates), never on another
//! publisher.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use publish_pagerduty::{PagerDutyConfig, PagerDutyOptions, PagerDutyPublisher, RoutingKey};
//! let key = RoutingKey::new("0123456789abcdef0123456789abcdef")?;
//! let config = PagerDutyConfig::new("pd-prod", key, "https://events.pagerduty.com", PagerDutyOptions::default())?;
//! let publisher = PagerDutyPublisher::new(config)?;
//! publisher.acknowledge("ac36b8d065d4a922").await?;
//! # Ok(()) }
//! ```
//!
//! [`Publisher::rate_limit`]: publish::Publisher::rate_limit

pub mod classify;
mod client;
mod config;
pub mod encode;

pub use classify::Accepted;
pub use client::PagerDutyPublisher;
pub use config::{
    DEFAULT_EVENTS_URL, DedupMode, PagerDutyConfig, PagerDutyOptions, ROUTING_KEY_LEN,
    RateLimitOptions, RoutingKey, Severity,
};
pub use encode::{Action, AlertEvent, ChangeEvent, Encoded, Event, Plan, Truncation};

/// Builds the publisher for a `type: pagerduty` target.
pub fn build(target: &publish::Target) -> Result<PagerDutyPublisher, publish::ConfigError> {
    PagerDutyPublisher::new(PagerDutyConfig::from_target(target)?)
}
