//! Target → typed, checked configuration.

use std::time::Duration;

use publish::{ConfigError, Format, RateLimitOptions, Secret, Target, TargetType};
use serde::Deserialize;

/// How the publisher reaches Slack.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// An incoming webhook: the target's `url` is the webhook URL (a secret: its path is the
    /// credential). Each status is a new message; a webhook answer carries no message `ts`, so
    /// threads and updates are impossible in this mode.
    Webhook {
        /// The webhook URL.
        url: Secret,
    },
    /// The Web API with a bot token: firing posts a message, resolved updates it and replies in
    /// its thread.
    Api {
        /// API base, e.g. `https://slack.com/api` (methods are appended: `/chat.postMessage`).
        base: String,
        /// Bot token (`xoxb-…`).
        token: Secret,
        /// Channel id (`C…`) or name (`#alerts`).
        channel: String,
    },
}

impl Mode {
    /// `webhook` or `api`, for logs and metric labels.
    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::Webhook { .. } => "webhook",
            Mode::Api { .. } => "api",
        }
    }
}

/// What happens when an alert resolves (token mode).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OnResolve {
    /// Turn the original message into its resolved form with `chat.update` (default true).
    pub update_message: bool,
    /// Reply in the original message's thread that it resolved (default true).
    pub thread_reply: bool,
    /// Also show that reply in the channel (`reply_broadcast`, default false).
    pub reply_broadcast: bool,
}

impl Default for OnResolve {
    fn default() -> Self {
        Self {
            update_message: true,
            thread_reply: true,
            reply_broadcast: false,
        }
    }
}

/// What happens when a still-firing alert is sent again after the repeat interval (token
/// mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnRepeat {
    /// Refresh the original message and reply "still firing" in its thread (default).
    #[default]
    Reply,
    /// Only refresh the original message, silently.
    Update,
    /// Post a new message (the thread of a later resolve follows the newest one).
    New,
}

/// The Web API base, used in token mode when a target's `url` is empty. Webhook mode has no
/// default: its URL is the webhook itself.
pub const DEFAULT_URL: &str = "https://slack.com/api";

/// The default proactive rate limit per channel: Slack allows about one message per second.
pub const DEFAULT_RATE_LIMIT: RateLimitOptions = RateLimitOptions::new(60, 1);

/// The default proactive limit on `chat.update` per token: a Web API Tier 3 method, about 50 a
/// minute per workspace, with short bursts.
pub const DEFAULT_UPDATE_RATE_LIMIT: RateLimitOptions = RateLimitOptions::new(50, 3);

fn rate_limit<'de, D: serde::Deserializer<'de>>(d: D) -> Result<RateLimitOptions, D::Error> {
    RateLimitOptions::deserialize_or(d, DEFAULT_RATE_LIMIT)
}

fn default_rate_limit() -> RateLimitOptions {
    DEFAULT_RATE_LIMIT
}

fn update_rate_limit<'de, D: serde::Deserializer<'de>>(d: D) -> Result<RateLimitOptions, D::Error> {
    RateLimitOptions::deserialize_or(d, DEFAULT_UPDATE_RATE_LIMIT)
}

fn default_update_rate_limit() -> RateLimitOptions {
    DEFAULT_UPDATE_RATE_LIMIT
}

/// The `options` of a `type: slack` target.
///
/// ```yaml
/// options:
///   token: xoxb-...            # token mode; without it `url` is an incoming webhook
///   channel: "#alerts"         # required in token mode
///   timeout: 10s
///   rate_limit: {per_minute: 60, burst: 1}          # messages and thread replies per channel
///   update_rate_limit: {per_minute: 50, burst: 3}   # chat.update per token (Tier 3)
///   on_resolve: {update_message: true, thread_reply: true, reply_broadcast: false}
///   on_repeat: reply           # reply | update | new
///   alertmanager_url: https://alertmanager.example.com   # for silence links
///   proxy: http://proxy.internal:3128
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackOptions {
    /// Bot token: selects token (Web API) mode.
    #[serde(default)]
    pub token: Option<Secret>,
    /// Channel id or name (token mode).
    #[serde(default)]
    pub channel: Option<String>,
    /// Whole-request timeout (default 10 s).
    #[serde(default = "default_timeout", with = "publish::serde_duration")]
    pub timeout: Duration,
    /// Proactive rate limit per channel (default [`DEFAULT_RATE_LIMIT`]): messages and thread
    /// replies.
    #[serde(default = "default_rate_limit", deserialize_with = "rate_limit")]
    pub rate_limit: RateLimitOptions,
    /// Proactive limit on `chat.update` per token (default [`DEFAULT_UPDATE_RATE_LIMIT`];
    /// token mode).
    #[serde(
        default = "default_update_rate_limit",
        deserialize_with = "update_rate_limit"
    )]
    pub update_rate_limit: RateLimitOptions,
    /// Resolve behaviour (token mode).
    #[serde(default)]
    pub on_resolve: Option<OnResolve>,
    /// Repeat behaviour (token mode).
    #[serde(default)]
    pub on_repeat: Option<OnRepeat>,
    /// Alertmanager UI base for silence and alert links; default: the `externalURL` the alert
    /// came with.
    #[serde(default)]
    pub alertmanager_url: Option<String>,
    /// HTTP proxy for every request, without credentials (target options are shown by the
    /// API, and `proxy` is not a secret there).
    #[serde(default)]
    pub proxy: Option<String>,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// Everything the Slack publisher needs.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// Target name (logs and metric labels).
    pub name: String,
    /// Webhook or Web API.
    pub mode: Mode,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Proactive rate limit per channel.
    pub rate_limit: RateLimitOptions,
    /// Proactive limit on `chat.update` per token.
    pub update_rate_limit: RateLimitOptions,
    /// Resolve behaviour (token mode).
    pub on_resolve: OnResolve,
    /// Repeat behaviour (token mode).
    pub on_repeat: OnRepeat,
    /// Alertmanager UI base overriding the alert's `externalURL`.
    pub alertmanager_url: Option<String>,
    /// HTTP proxy.
    pub proxy: Option<String>,
    /// The message's templated fields (set by [`crate::build`], which has the shared
    /// definitions).
    pub templates: publish::templates::Templates,
}

impl SlackConfig {
    /// Reads and checks a `type: slack` target. In token mode an empty `url` is
    /// [`DEFAULT_URL`].
    pub fn from_target(target: &Target) -> Result<Self, ConfigError> {
        if target.kind != TargetType::Slack {
            return Err(ConfigError::new(
                "type",
                format!("expected slack, got {}", target.kind),
            ));
        }
        if target.format != Format::Slack {
            return Err(ConfigError::new(
                "format",
                format!("a slack target sends `slack`, not `{}`", target.format),
            ));
        }
        if !target.headers.is_empty() {
            return Err(ConfigError::new(
                "headers",
                "a slack target sends no custom headers; put the bot token in options.token",
            ));
        }
        let options: SlackOptions = publish::options(&target.options)?;
        publish::positive(options.timeout, "options.timeout")?;
        options
            .rate_limit
            .check("options.rate_limit", "Slack allows about 60")?;
        options.update_rate_limit.check(
            "options.update_rate_limit",
            "chat.update is a Tier 3 method: about 50",
        )?;
        if let Some(proxy) = &options.proxy {
            let url = publish::http::url("options.proxy", proxy)?;
            if !url.username().is_empty() || url.password().is_some() {
                return Err(ConfigError::new(
                    "options.proxy",
                    "must not hold credentials: target options are shown by the API; \
                     use a proxy that authorizes by network instead",
                ));
            }
        }
        if let Some(am) = &options.alertmanager_url {
            publish::http::url("options.alertmanager_url", am)?;
        }
        let url = match (target.url.trim(), &options.token) {
            ("", Some(_)) => publish::http::url("url", DEFAULT_URL)?,
            ("", None) => {
                return Err(ConfigError::new(
                    "url",
                    "is required without options.token: the incoming webhook URL \
                     (or set options.token and options.channel for token mode)",
                ));
            }
            (url, _) => publish::http::url("url", url)?,
        };
        let mode = match options.token {
            Some(token) => {
                let t = token.expose();
                if !t.starts_with("xox") || t.len() < 8 || !t.bytes().all(|b| b.is_ascii_graphic())
                {
                    return Err(ConfigError::new(
                        "options.token",
                        "must be a Slack token (a bot token starts with `xoxb-`) without spaces",
                    ));
                }
                let channel = match options.channel.as_deref().map(str::trim) {
                    Some(c) if !c.is_empty() && c != "#" => c.to_owned(),
                    _ => {
                        return Err(ConfigError::new(
                            "options.channel",
                            "is required in token mode: a channel id (C…) or name (#alerts) the bot is a member of",
                        ));
                    }
                };
                Mode::Api {
                    base: url.as_str().trim_end_matches('/').to_owned(),
                    token,
                    channel,
                }
            }
            None => {
                let webhook_only = |field: &str| {
                    ConfigError::new(
                        field,
                        "needs token mode (options.token and options.channel): an incoming webhook \
                         posts to its own channel and cannot update messages or reply in threads",
                    )
                };
                if options.channel.is_some() {
                    return Err(webhook_only("options.channel"));
                }
                if options.on_resolve.is_some() {
                    return Err(webhook_only("options.on_resolve"));
                }
                if options.on_repeat.is_some() {
                    return Err(webhook_only("options.on_repeat"));
                }
                if options.update_rate_limit != DEFAULT_UPDATE_RATE_LIMIT {
                    return Err(webhook_only("options.update_rate_limit"));
                }
                Mode::Webhook {
                    url: Secret::new(url.as_str()),
                }
            }
        };
        Ok(Self {
            name: target.name.to_string(),
            mode,
            timeout: options.timeout,
            rate_limit: options.rate_limit,
            update_rate_limit: options.update_rate_limit,
            on_resolve: options.on_resolve.unwrap_or_default(),
            on_repeat: options.on_repeat.unwrap_or_default(),
            alertmanager_url: options
                .alertmanager_url
                .map(|u| u.trim_end_matches('/').to_owned()),
            proxy: options.proxy,
            templates: publish::templates::Templates::default(),
        })
    }
}
