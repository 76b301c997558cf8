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
//! per API key (default 2400/min, below Rootly's 3000). The health probe is an authenticated
//! read. The API key never appears in `Debug`, errors, logs or metric labels.
//!
//! **Invariant:** depends only on `publish` (and HTTP/serde crates), never on another publisher.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use publish::{Publisher, Secret};
//! let config = publish_rootly::RootlyConfig::new("rootly", "https://api.rootly.com", Secret::new("key"))?;
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
    DEFAULT_WRITES_PER_MINUTE, IdMapping, IncidentMode, LabelMapping, NotificationTarget,
    NotificationTargetType, ROOTLY_WRITES_PER_MINUTE, RateLimitOptions, RootlyConfig,
    RootlyOptions,
};
pub use encode::{
    MAX_DESCRIPTION_CHARS, MAX_SUMMARY_CHARS, description, encode_alert, encode_incident,
    encode_resolve, summary,
};
pub use state::{AlertState, RootlyState};

/// Builds the publisher for a `type: rootly` target.
pub fn build(target: &publish::Target) -> Result<RootlyPublisher, publish::ConfigError> {
    RootlyPublisher::new(RootlyConfig::from_target(target)?)
}
