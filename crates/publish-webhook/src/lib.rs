//! Generic webhook publisher for Alert Publisher.
//!
//! Sends one alert per request to any HTTP endpoint, as a faithful Alertmanager webhook v4
//! payload (`format: alertmanager`, so anything that accepts Alertmanager webhooks accepts
//! ours) or as Alert Publisher's documented single-alert JSON (`format: webhook`). Bearer,
//! basic, API-key and custom headers; an `Idempotency-Key` header per delivery; optional
//! HMAC-SHA256 signing (Standard Webhooks); success is any 2xx; every other outcome is
//! classified, never retried here. Every request is guarded by the outbound policy of the
//! [`publish::BuildContext`] ([`publish::outbound`]); mutual TLS, extra CAs, a proxy and opt-in
//! redirects are per-target options. A webhook has no default URL and keeps no vendor state.
//! The metric families are in [`metrics`].
//!
//! **Invariant:** depends only on `publish` (and HTTP/serde crates), never on another publisher.
//!
//! Files (the same split in every `publish-*` crate): `config.rs` (the typed, checked target
//! options), `encode.rs` (pure: alert → request body, both formats), `client.rs` (HTTP: the
//! [`WebhookPublisher`], auth, signing, the guarded probe), `classify.rs` (answer → outcome),
//! `metrics.rs` (the metric families, [`metrics`]) and `lib.rs` (this entry point, [`build`]).
//! There is no `state.rs`: a webhook keeps nothing between deliveries.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use publish::{Publisher, outbound::{Outbound, OutboundPolicy}};
//! let target = publish::Target {
//!     templates: Default::default(),
//!     name: "hook".parse()?,
//!     kind: publish::TargetType::Webhook,
//!     url: "https://hooks.example.com/alerts".to_owned(),
//!     enabled: true,
//!     format: publish::Format::Alertmanager,
//!     headers: Default::default(),
//!     options: Default::default(),
//! };
//! let ctx = publish::BuildContext {
//!     outbound: Outbound::new(OutboundPolicy { https_only: true, ..Default::default() }),
//!     ..Default::default()
//! };
//! let publisher = publish_webhook::build(&target, &ctx)?;
//! let probe = publisher.probe().await;
//! # Ok(()) }
//! ```

mod classify;
mod client;
mod config;
mod encode;
pub mod metrics;

pub use client::WebhookPublisher;
pub use config::{
    Auth, MAX_REDIRECTS, ProxyUrl, Signing, TlsOptions, WebhookConfig, WebhookOptions,
};
pub use encode::{
    TEMPLATE_FIELDS, WEBHOOK_SCHEMA, encode, encode_alertmanager, encode_templated, encode_webhook,
};

/// Builds the publisher for a `type: webhook` target under the outbound guard of `ctx` (the
/// service-wide `outbound` policy): a literal IP host that is not allowed, or an `http://` URL
/// under `https_only`, is an error about the field `url`; host names are checked when they are
/// resolved, before each connection.
pub fn build(
    target: &publish::Target,
    ctx: &publish::BuildContext,
) -> Result<WebhookPublisher, publish::ConfigError> {
    let mut config = WebhookConfig::from_target(target)?;
    config.templates =
        publish::templates::Templates::parse(target, &ctx.templates, encode::TEMPLATE_FIELDS)?;
    WebhookPublisher::with_outbound(config, ctx.outbound.clone())
}
