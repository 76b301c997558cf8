//! Rootly publisher for Alert Publisher.
//!
//! Delivers every alert to Rootly's REST API (JSON:API, `application/vnd.api+json`, bearer API
//! key) with its lifecycle:
//!
//! * **firing** → `POST /v1/alerts` (summary, Markdown description, labels as `{key, value}`
//!   pairs, `started_at`, `external_id` and `deduplication_key` from the fingerprint,
//!   `external_url` from the generator URL, the alert as `data`). Rootly's alert id is returned
//!   as vendor state, which the delivery engine keeps durably per (target, fingerprint). A
//!   re-fire of an open alert sends nothing; a retry looks the alert up by external id before
//!   creating, so it never duplicates. Optionally an incident is opened for critical alerts.
//! * **resolved** → `POST /v1/alerts/{id}/resolve`; a 404 means the alert is gone and counts as
//!   delivered. Without a stored id the alert is looked up by its external id; when there is
//!   none, the delivery fails permanently with a reason saying so (a dead letter, never silence).
//!
//! Answers are classified, never retried here: 200/201 delivered; 401/403 and 422 permanent
//! with Rootly's error titles; 429 retryable after `RateLimit-Reset`; 5xx, timeouts and connect
//! errors retryable. [`RootlyPublisher`] asks the delivery engine for a proactive write limit
//! per API key ([`DEFAULT_RATE_LIMIT`]: 2400/min, below Rootly's 3000). The health probe is an
//! authenticated read. The API key never appears in `Debug`, errors, logs or metric labels;
//! the metric families are in [`metrics`].
//!
//! **Invariant:** depends only on `publish` (and HTTP/serde crates), never on another publisher.
//!
//! Files (the same split in every `publish-*` crate): `config.rs` (the typed, checked target
//! options, [`DEFAULT_URL`]), `encode.rs` (pure: alert → request body), `client.rs` (HTTP: the
//! [`RootlyPublisher`] and its lifecycle), `classify.rs` (answer → outcome), `metrics.rs` (the
//! metric families, [`metrics`]), `state.rs` (the vendor state kept per alert: Rootly's alert
//! id, [`RootlyState`]) and `lib.rs` (this entry point, [`build`]).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use publish::{Publisher, Secret};
//! let config = publish_rootly::RootlyConfig::new("rootly", publish_rootly::DEFAULT_URL, Secret::new("key"))?;
//! let publisher = publish_rootly::RootlyPublisher::new(config)?;
//! let probe = publisher.probe().await;
//! # Ok(()) }
//! ```

mod classify;
mod client;
mod config;
mod encode;
pub mod metrics;
mod state;

pub use client::{JSONAPI, RootlyPublisher};
pub use config::{
    DEFAULT_RATE_LIMIT, DEFAULT_URL, DEFAULT_WRITES_PER_MINUTE, IdMapping, IncidentMode,
    LabelMapping, NotificationTarget, NotificationTargetType, ROOTLY_WRITES_PER_MINUTE,
    RootlyConfig, RootlyOptions,
};
pub use encode::{
    MAX_DESCRIPTION_CHARS, MAX_REQUEST_BYTES, MAX_SUMMARY_CHARS, TEMPLATE_FIELDS, description,
    encode_alert, encode_alert_with, encode_incident, encode_resolve, summary,
};
pub use state::{AlertState, RootlyState};

/// Builds the publisher for a `type: rootly` target (an empty `url` is [`DEFAULT_URL`]).
///
/// Rootly is reached at the URL the target names, without the outbound guard that protects
/// generic webhooks; the target's templates may call the context's shared definitions.
pub fn build(
    target: &publish::Target,
    ctx: &publish::BuildContext,
) -> Result<RootlyPublisher, publish::ConfigError> {
    let mut config = RootlyConfig::from_target(target)?;
    config.templates =
        publish::templates::Templates::parse(target, &ctx.templates, encode::TEMPLATE_FIELDS)?;
    RootlyPublisher::new(config)
}
