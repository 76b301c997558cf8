//! The publishing contract shared by every Alert Publisher publisher.
//!
//! This crate owns the [`Alert`] model (and parsing of the Alertmanager webhook v4 payload and
//! the Prometheus alert array), the [`Target`] a publisher is built from, the [`Publisher`]
//! trait with what a publisher is built with ([`BuildContext`]), the outcome classification
//! ([`Delivered`], [`PublishError`]), the shared HTTP client builder and URL check ([`http`])
//! with its outbound guard ([`outbound`]: which addresses a target URL may reach, and the one
//! IP network type [`outbound::Cidr`]), the vendors' shared option types ([`RateLimitOptions`]),
//! truncation helpers, secret redaction, and the metric families of parallel publishing
//! ([`metrics`]).
//!
//! **Invariant:** no queue, no storage, no server types. Publishers classify outcomes; they do
//! not decide how often to retry.

mod alert;
pub mod classification;
pub mod classify;
mod config;
pub mod http;
pub mod metrics;
pub mod outbound;
mod outcome;
pub mod parallel;
mod publisher;
mod secret;
mod target;
pub mod templates;
pub mod time;
pub mod truncate;

pub use alert::{
    Alert, AlertStatus, ApiAlert, Fingerprint, GroupContext, Labels, ParseError, RawWebhook,
    WebhookMessage, parse_api_alerts, parse_webhook,
};
pub use classification::{AiSeverity, Classification};
pub use config::{
    ConfigError, RateLimitOptions, header, options, parse_duration, positive, serde_duration,
};
pub use outcome::{Delivered, ErrorKind, PublishError, PublishOutcome};
pub use publisher::{BuildContext, Delivery, DeliveryAction, ProbeResult, Publisher, RateLimit};
pub use secret::{
    Scrubber, Secret, is_secret_key, redact_json, redact_url, redact_url_credentials,
    redact_url_path, serialize_redacted_url, url_credentials,
};
pub use target::{Format, Target, TargetName, TargetNameError, TargetType};
