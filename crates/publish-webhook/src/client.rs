//! The HTTP client: the guarded request with its auth, idempotency key and signature; the probe.

use std::time::Instant;

use async_trait::async_trait;
use base64::Engine;
use publish::{
    ConfigError, Delivery, ErrorKind, ProbeResult, PublishError, PublishOutcome, Publisher,
    Scrubber, outbound::Outbound,
};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};

use crate::{Auth, WebhookConfig, classify, encode};

/// Delivers alerts to one webhook endpoint.
#[derive(Debug, Clone)]
pub struct WebhookPublisher {
    config: WebhookConfig,
    client: reqwest::Client,
    signing_key: Option<ring::hmac::Key>,
    outbound: Outbound,
    scrubber: Scrubber,
}

impl WebhookPublisher {
    /// A publisher with its own HTTP client, under the default outbound policy (loopback,
    /// private, link-local and metadata addresses refused).
    pub fn new(config: WebhookConfig) -> Result<Self, ConfigError> {
        Self::with_outbound(config, Outbound::default())
    }

    /// A publisher with its own HTTP client whose requests `outbound` guards: the URL's scheme
    /// and literal IP host are checked now and before each request, names when they are
    /// resolved, and every followed redirect.
    pub fn with_outbound(config: WebhookConfig, outbound: Outbound) -> Result<Self, ConfigError> {
        outbound
            .check_url(&config.url)
            .map_err(|e| ConfigError::new("url", e.to_string()))?;
        if let Some(proxy) = &config.options.proxy {
            // A literal proxy address is connected to without a lookup: check it here.
            outbound
                .check_host(proxy.url())
                .map_err(|e| ConfigError::new("options.proxy", e.to_string()))?;
        }
        let (identity, extra_roots) = match &config.options.tls {
            Some(tls) => (tls.identity()?, tls.roots()?),
            None => (None, Vec::new()),
        };
        let client = publish::http::build(&publish::http::ClientConfig {
            timeout: config.options.timeout,
            proxy: config.options.proxy.as_ref().map(|p| p.expose().to_owned()),
            outbound: Some(outbound.clone()),
            max_redirects: if config.options.follow_redirects {
                crate::config::MAX_REDIRECTS
            } else {
                0
            },
            identity,
            extra_roots,
            ..Default::default()
        })?;
        let signing_key = match &config.options.signing {
            Some(signing) => Some(ring::hmac::Key::new(
                ring::hmac::HMAC_SHA256,
                &signing.key()?,
            )),
            None => None,
        };
        let scrubber = Scrubber::new(secret_values(&config));
        Ok(Self {
            config,
            client,
            signing_key,
            outbound,
            scrubber,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    fn request(&self, delivery: &Delivery) -> reqwest::RequestBuilder {
        let (body, json) = encode::encode_templated(
            self.config.format,
            delivery,
            &self.config.name,
            &self.config.templates,
        );
        let content_type = if json {
            "application/json"
        } else {
            "text/plain; charset=utf-8"
        };
        let mut req = self
            .client
            .post(self.config.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static(content_type))
            .header("Idempotency-Key", &delivery.id);
        for (name, value) in &self.config.headers {
            req = req.header(name, value.expose());
        }
        req = match &self.config.options.auth {
            None => req,
            Some(Auth::Bearer { token }) => {
                req.header(AUTHORIZATION, format!("Bearer {}", token.expose()))
            }
            Some(Auth::Basic { username, password }) => {
                let raw = format!("{username}:{}", password.expose());
                let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
                req.header(AUTHORIZATION, format!("Basic {encoded}"))
            }
            Some(Auth::ApiKey { header, key }) => req.header(header.as_str(), key.expose()),
        };
        if let Some(key) = &self.signing_key {
            let timestamp = chrono::Utc::now().timestamp().to_string();
            let mut signed =
                Vec::with_capacity(delivery.id.len() + timestamp.len() + body.len() + 2);
            signed.extend_from_slice(delivery.id.as_bytes());
            signed.push(b'.');
            signed.extend_from_slice(timestamp.as_bytes());
            signed.push(b'.');
            signed.extend_from_slice(&body);
            let tag = ring::hmac::sign(key, &signed);
            let signature = base64::engine::general_purpose::STANDARD.encode(tag.as_ref());
            req = req
                .header("webhook-id", &delivery.id)
                .header("webhook-timestamp", timestamp)
                .header("webhook-signature", format!("v1,{signature}"));
        }
        req.body(body)
    }
}

#[async_trait]
impl Publisher for WebhookPublisher {
    async fn publish(&self, delivery: &Delivery) -> PublishOutcome {
        if let Err(e) = self.outbound.check_url(&self.config.url) {
            let refused = Err(PublishError::permanent(
                ErrorKind::Config,
                format!("refused: {e}"),
            ));
            crate::metrics::delivery(&self.config.name, &refused, None);
            return refused;
        }
        let started = Instant::now();
        let outcome = match self.request(delivery).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let body = resp.bytes().await.unwrap_or_default();
                classify::response(status, &headers, &body)
            }
            Err(e) => Err(publish::classify::transport(e)),
        };
        // An endpoint may echo what it was sent (a token, a URL with its query) in its answer.
        let outcome = outcome.map_err(|e| self.scrubber.error(e));
        crate::metrics::delivery(&self.config.name, &outcome, Some(started.elapsed()));
        outcome
    }

    async fn probe(&self) -> ProbeResult {
        // Through a proxy, the proxy is what this service connects to.
        let url = match &self.config.options.proxy {
            Some(proxy) => proxy.url().as_str(),
            None => self.config.url.as_str(),
        };
        let mut result = publish::http::probe_connect_guarded(
            url,
            self.config.options.timeout,
            Some(&self.outbound),
        )
        .await;
        if self.config.options.proxy.is_some() {
            result.detail = publish::redact_url_credentials(&result.detail);
        }
        result.detail = self.scrubber.text(&result.detail);
        result
    }
}

/// Every secret this target sends, in the forms an endpoint could echo it back: auth values
/// (and the encoded basic credentials), the signing secret, header values, the URL's and the
/// proxy's user info (raw, decoded and as the basic credentials sent for it) and the URL's query
/// values (raw and percent-decoded).
fn secret_values(config: &WebhookConfig) -> Vec<String> {
    let mut values = Vec::new();
    match &config.options.auth {
        None => {}
        Some(Auth::Bearer { token }) => values.push(token.expose().to_owned()),
        Some(Auth::Basic { username, password }) => {
            values.push(password.expose().to_owned());
            values.push(
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{}", password.expose())),
            );
        }
        Some(Auth::ApiKey { key, .. }) => values.push(key.expose().to_owned()),
    }
    if let Some(signing) = &config.options.signing {
        values.push(signing.secret.expose().to_owned());
    }
    values.extend(config.headers.iter().map(|(_, v)| v.expose().to_owned()));
    if let Some(proxy) = &config.options.proxy {
        values.extend(publish::url_credentials(proxy.url()));
    }
    let url = &config.url;
    values.extend(publish::url_credentials(url));
    if let Some(query) = url.query() {
        values.extend(
            query
                .split('&')
                .filter_map(|pair| pair.split_once('=').map(|(_, v)| v.to_owned())),
        );
        values.extend(url.query_pairs().map(|(_, v)| v.into_owned()));
    }
    values
}
