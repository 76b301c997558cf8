use async_trait::async_trait;
use base64::Engine;
use publish::{ConfigError, Delivery, ProbeResult, PublishOutcome, Publisher};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};

use crate::{Auth, WebhookConfig, classify, encode};

/// Delivers alerts to one webhook endpoint.
#[derive(Debug, Clone)]
pub struct WebhookPublisher {
    config: WebhookConfig,
    client: reqwest::Client,
    signing_key: Option<ring::hmac::Key>,
}

impl WebhookPublisher {
    /// A publisher with its own HTTP client.
    pub fn new(config: WebhookConfig) -> Result<Self, ConfigError> {
        let client = publish::http::build(&publish::http::ClientConfig {
            timeout: config.options.timeout,
            ..Default::default()
        })?;
        let signing_key = match &config.options.signing {
            Some(signing) => Some(ring::hmac::Key::new(
                ring::hmac::HMAC_SHA256,
                &signing.key()?,
            )),
            None => None,
        };
        Ok(Self {
            config,
            client,
            signing_key,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    fn request(&self, delivery: &Delivery) -> reqwest::RequestBuilder {
        let body = encode::encode(self.config.format, delivery, &self.config.name);
        let mut req = self
            .client
            .post(self.config.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
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
        let resp = self
            .request(delivery)
            .send()
            .await
            .map_err(publish::classify::transport)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.unwrap_or_default();
        classify::response(status, &headers, &body)
    }

    async fn probe(&self) -> ProbeResult {
        publish::http::probe_connect(self.config.url.as_str(), self.config.options.timeout).await
    }
}
