//! Generic webhook publisher for Alert Publisher.
//!
//! Sends one alert per request to any HTTP endpoint, as a faithful Alertmanager webhook v4
//! payload (`format: alertmanager`, so anything that accepts Alertmanager webhooks accepts
//! ours) or as Alert Publisher's documented single-alert JSON (`format: webhook`). Bearer,
//! basic, API-key and custom headers; an `Idempotency-Key` header per delivery; success is any
//! 2xx; every other outcome is classified, never retried here. Every request is guarded by the
//! outbound policy (`publish::outbound`); mutual TLS, extra CAs, a proxy and opt-in redirects
//! are per-target options.
//!
//! **Invariant:** depends only on `publish` (and HTTP/serde crates), never on another publisher.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use publish::Publisher;
//! let target: publish::Target = todo_target();
//! let publisher = publish_webhook::build(&target)?;
//! let probe = publisher.probe().await;
//! # Ok(()) }
//! # fn todo_target() -> publish::Target { unimplemented!() }
//! ```

mod classify;
mod client;
mod config;
mod encode;

pub use client::WebhookPublisher;
pub use config::{
    Auth, MAX_REDIRECTS, ProxyUrl, Signing, TlsOptions, WebhookConfig, WebhookOptions,
};
pub use encode::{WEBHOOK_SCHEMA, encode, encode_alertmanager, encode_webhook};

/// Builds the publisher for a `type: webhook` target under the default outbound policy.
pub fn build(target: &publish::Target) -> Result<WebhookPublisher, publish::ConfigError> {
    build_with(target, &publish::outbound::Outbound::default())
}

/// Builds the publisher for a `type: webhook` target under an outbound guard (the
/// service-wide `outbound` policy); a literal IP host that is not allowed, or an `http://`
/// URL under `https_only`, is an error about the field `url`.
pub fn build_with(
    target: &publish::Target,
    outbound: &publish::outbound::Outbound,
) -> Result<WebhookPublisher, publish::ConfigError> {
    let config = WebhookConfig::from_target(target)?;
    WebhookPublisher::with_outbound(config, outbound.clone())
}
