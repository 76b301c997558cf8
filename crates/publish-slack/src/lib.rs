//! Slack publisher for Alert Publisher: Block Kit messages, threads and updates.
//!
//! Two modes, chosen by the target:
//!
//! * **Token mode** (`options.token` and `options.channel`; the target's `url` is the Web API
//!   base, `https://slack.com/api`): a firing alert is posted with `chat.postMessage`; the
//!   message's `ts` is returned as vendor state, which the delivery engine keeps durably per
//!   (target, fingerprint), so after a restart the resolve still finds its message. Resolved:
//!   `chat.update` turns the message into its resolved form and a reply in its thread says it
//!   resolved (both configurable, [`OnResolve`]). A re-fire after a resolve starts a new
//!   message; a repeat of a still-firing alert refreshes it ([`OnRepeat`]).
//! * **Webhook mode** (no token; the target's `url` is an incoming webhook URL): every status
//!   is a new message. An incoming webhook returns no message `ts`, so **threads and updates
//!   are impossible in this mode**; use token mode for them.
//!
//! Messages are Block Kit ([`encode_message`]), cut to Slack's limits with a visible marker. The
//! publisher asks the engine for about one message per second per channel
//! ([`publish::Publisher::rate_limit`]); a 429 is retryable with its `Retry-After`; Slack's
//! error strings are classified ([`KNOWN_ERRORS`]). The health probe posts nothing
//! (`auth.test`, or a TCP connect for a webhook). Tokens and webhook URLs are
//! [`publish::Secret`]s: never in logs, errors, metric labels or rate-limit keys. The metric
//! families are in [`metrics`].
//!
//! **Invariant:** depends only on `publish` (and HTTP/serde crates), never on another publisher.
//!
//! Files (the same split in every `publish-*` crate): `config.rs` (the typed, checked target
//! options, [`DEFAULT_URL`]), `encode.rs` (pure: alert → Block Kit message → request body),
//! `client.rs` (HTTP: the [`SlackPublisher`], the message lifecycle, the probe), `classify.rs`
//! (answer → outcome, Slack's error strings), `metrics.rs` (the metric families, [`metrics`]),
//! `state.rs` (the vendor state kept per alert: the message `ts`, [`MessageRef`], and the
//! pure plan of what a delivery does) and `lib.rs` (this entry point, [`build`]).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use publish::Publisher;
//! let options = serde_json::json!({"token": "xoxb-your-bot-token", "channel": "#alerts"});
//! let target = publish::Target {
//!     templates: Default::default(),
//!     name: "slack-alerts".parse()?,
//!     kind: publish::TargetType::Slack,
//!     url: publish_slack::DEFAULT_URL.to_owned(),
//!     enabled: true,
//!     format: publish::Format::Slack,
//!     headers: Default::default(),
//!     options: options.as_object().cloned().unwrap_or_default(),
//! };
//! let publisher = publish_slack::build(&target, &publish::BuildContext::default())?;
//! let probe = publisher.probe().await; // auth.test: checks the token, posts nothing
//! # Ok(()) }
//! ```

mod classify;
mod client;
mod config;
mod encode;
pub mod metrics;
mod state;

pub use classify::{KNOWN_ERRORS, SlackErrorCode, error_code};
pub use client::SlackPublisher;
pub use config::{
    DEFAULT_RATE_LIMIT, DEFAULT_UPDATE_RATE_LIMIT, DEFAULT_URL, Mode, OnRepeat, OnResolve,
    SlackConfig, SlackOptions,
};
pub use encode::{
    Block, EncodeOptions, MARKER, MAX_BLOCKS, MAX_CONTEXT_ELEMENTS, MAX_FIELD, MAX_FIELDS,
    MAX_HEADER, MAX_LINK_URL, MAX_SECTION_TEXT, MAX_TEXT, Message, Placement, TEMPLATE_FIELDS,
    Text, body as encode_body, message as encode_message, message_with, resolved_reply,
    silence_url, still_firing_reply,
};
pub use state::{DueReply, MessageRef, ReplyDue};

/// Builds the publisher for a `type: slack` target (in token mode an empty `url` is
/// [`DEFAULT_URL`]).
///
/// Slack is reached at the URL the target names, without the outbound guard that protects
/// generic webhooks; the target's templates may call the context's shared definitions.
pub fn build(
    target: &publish::Target,
    ctx: &publish::BuildContext,
) -> Result<SlackPublisher, publish::ConfigError> {
    let mut config = SlackConfig::from_target(target)?;
    config.templates =
        publish::templates::Templates::parse(target, &ctx.templates, encode::TEMPLATE_FIELDS)?;
    SlackPublisher::new(config)
}
