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
//! engine for a token bucket per routing key ([`Publisher::rate_limit`], [`DEFAULT_RATE_LIMIT`]:
//! 100 events/min with a burst of 10, at most 110 in any minute, under PagerDuty's sliding 120),
//! shared by every target using that key. The health probe completes a
//! TLS handshake with the events host and sends nothing.
//!
//! The routing key is a [`RoutingKey`]: it is never printed, logged, serialized, put into a
//! metric label or an error reason.
//!
//! Metrics (labels: `target`, `action`, `result`, `reason`, `field` — never a key) are declared
//! in [`metrics`]: `alert_publisher_pagerduty_events_total`, `_errors_total`,
//! `_request_duration_seconds`, `_rate_limit_waits_total`, `_truncations_total`.
//!
//! **Invariant:** depends only on `publish` (and HTTP/serde/TLS crates), never on another
//! publisher.
//!
//! Files (the same split in every `publish-*` crate): `config.rs` (the typed, checked target
//! options, [`DEFAULT_URL`]), `encode.rs` (pure: alert → event body within PagerDuty's limits),
//! `client.rs` (HTTP: the [`PagerDutyPublisher`], its probe and rate limit), `classify.rs`
//! (answer → outcome), `metrics.rs` (the metric families, [`metrics`]), `state.rs` (the vendor
//! state kept per alert: the dedup key, [`PagerDutyState`]) and `lib.rs` (this entry point,
//! [`build`]).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use publish_pagerduty::{PagerDutyConfig, PagerDutyOptions, PagerDutyPublisher, RoutingKey};
//! let key = RoutingKey::new("0123456789abcdef0123456789abcdef")?;
//! let config = PagerDutyConfig::new("pd-prod", key, publish_pagerduty::DEFAULT_URL, PagerDutyOptions::default())?;
//! let publisher = PagerDutyPublisher::new(config)?;
//! publisher.acknowledge("ac36b8d065d4a922").await?;
//! # Ok(()) }
//! ```
//!
//! [`Publisher::rate_limit`]: publish::Publisher::rate_limit

mod classify;
mod client;
mod config;
mod encode;
pub mod metrics;
mod state;

pub use classify::{Accepted, response as classify_response};
pub use client::PagerDutyPublisher;
pub use config::{
    DEFAULT_RATE_LIMIT, DEFAULT_URL, DedupMode, PagerDutyConfig, PagerDutyOptions, ROUTING_KEY_LEN,
    RoutingKey, Severity,
};
pub use encode::{
    Action, AlertEvent, ChangeEvent, ChangePayload, Encoded, Event, Image, Link,
    MAX_DEDUP_KEY_CHARS, MAX_EVENT_BYTES, MAX_FIELD_CHARS, MAX_SUMMARY_CHARS, MAX_URL_CHARS,
    Payload, Plan, TEMPLATE_FIELDS, TRUNCATION_NOTE_KEY, Truncation, dedup_key, encode,
};
pub use state::{AlertState, PagerDutyState};

/// Builds the publisher for a `type: pagerduty` target (an empty `url` is [`DEFAULT_URL`]).
///
/// PagerDuty is reached at the URL the target names, without the outbound guard that
/// protects generic webhooks; the target's templates may call the context's shared
/// definitions.
pub fn build(
    target: &publish::Target,
    ctx: &publish::BuildContext,
) -> Result<PagerDutyPublisher, publish::ConfigError> {
    let mut config = PagerDutyConfig::from_target(target)?;
    config.templates =
        publish::templates::Templates::parse(target, &ctx.templates, encode::TEMPLATE_FIELDS)?;
    PagerDutyPublisher::new(config)
}
