use std::time::Duration;

use publish::{ConfigError, Format, Secret, Target, TargetType};
use serde::Deserialize;

/// Authentication added to every request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token.
        token: Secret,
    },
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: Secret,
    },
    /// A key in a header of your choice.
    ApiKey {
        /// Header name, `X-API-Key` by default.
        #[serde(default = "default_api_key_header")]
        header: String,
        /// The key.
        key: Secret,
    },
}

fn default_api_key_header() -> String {
    "X-API-Key".to_owned()
}

/// The `options` of a webhook target.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookOptions {
    /// Whole-request timeout (default 10 s).
    #[serde(default = "default_timeout", with = "publish::serde_duration")]
    pub timeout: Duration,
    /// Authentication, if any.
    #[serde(default)]
    pub auth: Option<Auth>,
    /// HMAC-SHA256 signing of every body, Standard Webhooks style (`webhook-id`,
    /// `webhook-timestamp`, `webhook-signature: v1,<base64>` over `id.timestamp.body`).
    #[serde(default)]
    pub signing: Option<Signing>,
}

/// The signing secret: `whsec_<base64>` (the Standard Webhooks form) or any other string, used
/// as is.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signing {
    /// The shared secret.
    pub secret: Secret,
}

impl Signing {
    /// The key bytes.
    pub fn key(&self) -> Result<Vec<u8>, ConfigError> {
        use base64::Engine as _;
        let secret = self.secret.expose();
        match secret.strip_prefix("whsec_") {
            Some(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| {
                    ConfigError::new(
                        "options.signing.secret",
                        "a whsec_ secret must be base64 after the prefix",
                    )
                }),
            None if secret.is_empty() => Err(ConfigError::new(
                "options.signing.secret",
                "must not be empty",
            )),
            None => Ok(secret.as_bytes().to_vec()),
        }
    }
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            timeout: default_timeout(),
            auth: None,
            signing: None,
        }
    }
}

/// Everything the webhook publisher needs.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Target name (for logs and the `webhook` format).
    pub name: String,
    /// Endpoint.
    pub url: reqwest::Url,
    /// `alertmanager` or `webhook`.
    pub format: Format,
    /// Extra headers.
    pub headers: Vec<(http::HeaderName, Secret)>,
    /// Typed options.
    pub options: WebhookOptions,
}

impl WebhookConfig {
    /// Reads and checks a `type: webhook` target.
    pub fn from_target(target: &Target) -> Result<Self, ConfigError> {
        if target.kind != TargetType::Webhook {
            return Err(ConfigError::new(
                "type",
                format!("expected webhook, got {}", target.kind),
            ));
        }
        let url = reqwest::Url::parse(&target.url)
            .map_err(|e| ConfigError::new("url", format!("invalid URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConfigError::new(
                "url",
                format!("scheme must be http or https (got {:?})", url.scheme()),
            ));
        }
        if !matches!(target.format, Format::Alertmanager | Format::Webhook) {
            return Err(ConfigError::new(
                "format",
                format!(
                    "a webhook target sends `alertmanager` or `webhook`, not `{}`",
                    target.format
                ),
            ));
        }
        let headers = target
            .headers
            .iter()
            .map(|(name, value)| publish::header(name, value))
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let options: WebhookOptions = publish::options(&target.options)?;
        if let Some(signing) = &options.signing {
            signing.key()?;
        }
        if options.timeout.is_zero() {
            return Err(ConfigError::new(
                "options.timeout",
                "must be greater than zero",
            ));
        }
        Ok(Self {
            name: target.name.to_string(),
            url,
            format: target.format,
            headers,
            options,
        })
    }
}
