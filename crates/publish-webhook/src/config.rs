//! Target → typed, checked configuration: the endpoint, auth, signing, TLS, proxy, redirects.

use std::{fmt, path::PathBuf, time::Duration};

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
    /// Follow up to [`MAX_REDIRECTS`] redirects, each hop checked by the outbound policy
    /// (default: redirects are not followed; a 3xx is the answer).
    #[serde(default)]
    pub follow_redirects: bool,
    /// Send every request through this HTTP(S) proxy; credentials in it are secrets.
    #[serde(default)]
    pub proxy: Option<ProxyUrl>,
    /// Client certificate (mutual TLS) and extra trusted CAs.
    #[serde(default)]
    pub tls: Option<TlsOptions>,
}

/// Redirects followed at most when `follow_redirects` is set.
pub const MAX_REDIRECTS: usize = 5;

/// A proxy URL (`http://user:password@proxy:3128`). Shown everywhere without its password.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl(reqwest::Url);

impl ProxyUrl {
    /// The full URL, credentials included. Call only where the client is built.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// The parsed URL, credentials included.
    pub fn url(&self) -> &reqwest::Url {
        &self.0
    }

    /// Parses and checks a proxy URL; errors never contain the URL.
    pub fn parse(s: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(s).map_err(|e| format!("invalid proxy URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "proxy scheme must be http or https (got {:?})",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("proxy URL has no host".to_owned());
        }
        Ok(Self(url))
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&publish::redact_url_credentials(self.0.as_str()))
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({self})")
    }
}

impl<'de> Deserialize<'de> for ProxyUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Mutual TLS and extra trust, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsOptions {
    /// Client certificate chain (PEM), presented when the server asks for one.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// CA certificates (PEM bundle) trusted in addition to the built-in roots.
    #[serde(default)]
    pub ca_bundle: Option<PathBuf>,
}

fn read_pem(path: &std::path::Path, field: &str) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path)
        .map_err(|e| ConfigError::new(field, format!("cannot read {}: {e}", path.display())))
}

impl TlsOptions {
    /// Reads the client identity, if configured.
    pub fn identity(&self) -> Result<Option<reqwest::Identity>, ConfigError> {
        match (&self.client_cert, &self.client_key) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(ConfigError::new(
                "options.tls.client_key",
                "client_cert needs client_key (the certificate's private key)",
            )),
            (None, Some(_)) => Err(ConfigError::new(
                "options.tls.client_cert",
                "client_key needs client_cert",
            )),
            (Some(cert), Some(key)) => {
                let mut pem = read_pem(cert, "options.tls.client_cert")?;
                pem.push(b'\n');
                pem.extend(read_pem(key, "options.tls.client_key")?);
                reqwest::Identity::from_pem(&pem).map(Some).map_err(|e| {
                    ConfigError::new(
                        "options.tls.client_cert",
                        format!(
                            "{} with key {} is not a usable PEM certificate and key: {}",
                            cert.display(),
                            key.display(),
                            publish_error_chain(&e)
                        ),
                    )
                })
            }
        }
    }

    /// Reads the extra CA certificates, if configured.
    pub fn roots(&self) -> Result<Vec<reqwest::Certificate>, ConfigError> {
        let Some(path) = &self.ca_bundle else {
            return Ok(Vec::new());
        };
        let pem = read_pem(path, "options.tls.ca_bundle")?;
        let roots = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            ConfigError::new(
                "options.tls.ca_bundle",
                format!("{}: {}", path.display(), publish_error_chain(&e)),
            )
        })?;
        if roots.is_empty() {
            return Err(ConfigError::new(
                "options.tls.ca_bundle",
                format!("{} holds no PEM certificate", path.display()),
            ));
        }
        Ok(roots)
    }
}

fn publish_error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
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
            follow_redirects: false,
            proxy: None,
            tls: None,
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
    /// The templated request body, if any (set by [`crate::build`], which has the shared
    /// definitions).
    pub templates: publish::templates::Templates,
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
        if target.url.trim().is_empty() {
            return Err(ConfigError::new(
                "url",
                "is required: the endpoint alerts are POSTed to (a webhook has no default URL)",
            ));
        }
        let url = publish::http::url("url", &target.url)?;
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
        if let Some(tls) = &options.tls {
            tls.identity()?;
            tls.roots()?;
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
            templates: publish::templates::Templates::default(),
        })
    }
}
