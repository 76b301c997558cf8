//! The HTTP client: sends events, records metrics, probes the events host.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use publish::{
    Alert, ConfigError, Delivered, Delivery, GroupContext, ProbeResult, PublishError,
    PublishOutcome, Publisher, RateLimit,
};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use tracing::{debug, info, warn};

use crate::{
    PagerDutyConfig, PagerDutyState,
    classify::{self, Accepted},
    encode::{self, Action, Encoded, Event, Plan},
    metrics::{
        ERRORS_TOTAL, EVENTS_TOTAL, RATE_LIMIT_WAITS_TOTAL, REQUEST_DURATION_SECONDS,
        TRUNCATIONS_TOTAL,
    },
};

/// Alerts whose labels and annotations hold more text than this are encoded on the blocking
/// pool (shrinking a 2 MB alert takes about 2 ms).
const LARGE_ALERT_BYTES: usize = 256 * 1024;

/// Deliveries whose rate-limit check is remembered (to count waits) before the memory is reset.
const MAX_TRACKED_CHECKS: usize = 10_000;

/// Delivers alerts to one PagerDuty service through the Events API v2.
#[derive(Debug, Clone)]
pub struct PagerDutyPublisher {
    config: Arc<PagerDutyConfig>,
    client: reqwest::Client,
    checks: Arc<Mutex<HashMap<String, u32>>>,
}

impl PagerDutyPublisher {
    /// A publisher with its own HTTP client (rustls, TLS ≥ 1.2, the configured timeout).
    pub fn new(config: PagerDutyConfig) -> Result<Self, ConfigError> {
        let client = publish::http::build(&publish::http::ClientConfig {
            timeout: config.options.timeout,
            connect_timeout: config.options.timeout.min(Duration::from_secs(5)),
            ..Default::default()
        })?;
        Ok(Self {
            config: Arc::new(config),
            client,
            checks: Arc::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &PagerDutyConfig {
        &self.config
    }

    /// Plans one alert of a group without sending it: the event, or why nothing would be sent.
    pub fn plan(
        &self,
        alert: &Alert,
        context: &GroupContext,
        vendor_state: Option<&serde_json::Value>,
    ) -> Plan {
        match encode::build(
            &self.config.options,
            &self.config.templates,
            alert,
            context,
            vendor_state,
        ) {
            Ok((event, truncations)) => Plan::Send(Box::new(encode::finish(
                event,
                truncations,
                &self.config.routing_key,
                encode::MAX_EVENT_BYTES,
            ))),
            Err(reason) => Plan::Skip(reason),
        }
    }

    /// Sends an alert (trigger when firing, resolve when resolved) without a delivery queue.
    /// The rate limit is the caller's to honour ([`PagerDutyConfig::rate_limit`]).
    pub async fn publish_alert(&self, alert: &Alert, context: &GroupContext) -> PublishOutcome {
        let delivery = Delivery {
            id: alert.fingerprint.to_string(),
            alert: alert.clone(),
            context: context.clone(),
            attempt: 1,
            vendor_state: None,
            action: Default::default(),
        };
        self.publish(&delivery).await
    }

    /// Acknowledges the open PagerDuty alert with `dedup_key` (nothing happens when none is open).
    pub async fn acknowledge(&self, dedup_key: &str) -> Result<Accepted, PublishError> {
        self.send_action(Action::Acknowledge, dedup_key).await
    }

    /// Resolves the open PagerDuty alert with `dedup_key` (nothing happens when none is open).
    pub async fn resolve(&self, dedup_key: &str) -> Result<Accepted, PublishError> {
        self.send_action(Action::Resolve, dedup_key).await
    }

    async fn send_action(&self, action: Action, dedup_key: &str) -> Result<Accepted, PublishError> {
        let chars = dedup_key.chars().count();
        if chars == 0 || chars > encode::MAX_DEDUP_KEY_CHARS {
            return Err(PublishError::permanent(
                publish::ErrorKind::Invalid,
                format!(
                    "dedup_key must be 1 to {} characters (got {chars})",
                    encode::MAX_DEDUP_KEY_CHARS
                ),
            ));
        }
        let event = encode::action_event(action, dedup_key, &self.config.options.client);
        let encoded = encode::finish(
            event,
            Vec::new(),
            &self.config.routing_key,
            encode::MAX_EVENT_BYTES,
        );
        self.send(&encoded).await
    }

    /// Encodes on the async thread, or on the blocking pool when the alert is large enough
    /// that shrinking it could take longer than async code should run without yielding.
    async fn encode(&self, delivery: &Delivery) -> Plan {
        let text_bytes: usize = [&delivery.alert.labels, &delivery.alert.annotations]
            .iter()
            .flat_map(|m| m.iter())
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if text_bytes < LARGE_ALERT_BYTES {
            return encode::encode(&self.config, delivery);
        }
        let config = Arc::clone(&self.config);
        let owned = delivery.clone();
        match tokio::task::spawn_blocking(move || encode::encode(&config, &owned)).await {
            Ok(plan) => plan,
            // the blocking pool is shutting down: encode here rather than lose the delivery
            Err(_) => encode::encode(&self.config, delivery),
        }
    }

    /// Sends an encoded event and classifies PagerDuty's answer. Records the metrics of the
    /// event (by action and result), errors by reason, request duration and truncations.
    pub async fn send(&self, encoded: &Encoded) -> Result<Accepted, PublishError> {
        crate::metrics::describe_once();
        let name = self.config.name.as_str();
        let action = encoded.event.action();
        for t in &encoded.truncations {
            metrics::counter!(TRUNCATIONS_TOTAL, "target" => name.to_owned(), "field" => t.as_str())
                .increment(1);
        }
        if !encoded.truncations.is_empty() {
            let fields: Vec<&str> = encoded.truncations.iter().map(|t| t.as_str()).collect();
            info!(target_name = %name, action, fields = ?fields, bytes = encoded.body.len(), "event trimmed to fit PagerDuty's limits");
        }
        let url = match encoded.event {
            Event::Alert(_) => &self.config.enqueue_url,
            Event::Change(_) => &self.config.change_url,
        };
        let mut request = self
            .client
            .post(url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (header, value) in &self.config.headers {
            request = request.header(header, value.expose());
        }
        let started = Instant::now();
        let result = async {
            let response = request
                .body(encoded.body.clone())
                .send()
                .await
                .map_err(publish::classify::transport)?;
            let status = response.status().as_u16();
            let retry_after = publish::classify::retry_after_header(response.headers());
            let body = response
                .bytes()
                .await
                .map_err(publish::classify::transport)?;
            classify::response(
                status,
                retry_after,
                &body,
                encoded.event.dedup_key(),
                self.config.routing_key.expose(),
            )
        }
        .await;
        metrics::histogram!(REQUEST_DURATION_SECONDS, "target" => name.to_owned(), "action" => action)
            .record(started.elapsed().as_secs_f64());
        let result_label = match &result {
            Ok(_) => "delivered",
            Err(e) if e.is_retryable() => "retryable",
            Err(_) => "permanent",
        };
        metrics::counter!(EVENTS_TOTAL, "target" => name.to_owned(), "action" => action, "result" => result_label)
            .increment(1);
        match &result {
            Ok(accepted) => {
                debug!(target_name = %name, action, dedup_key = accepted.dedup_key.as_deref().unwrap_or(""), "pagerduty event accepted");
            }
            Err(err) => {
                metrics::counter!(ERRORS_TOTAL, "target" => name.to_owned(), "action" => action, "reason" => err.kind().as_str())
                    .increment(1);
                if err.is_retryable() {
                    debug!(target_name = %name, action, kind = %err.kind(), error = %err, "pagerduty event not accepted, retryable");
                } else {
                    warn!(target_name = %name, action, kind = %err.kind(), error = %err, "pagerduty rejected the event");
                }
            }
        }
        result
    }
}

#[async_trait]
impl Publisher for PagerDutyPublisher {
    async fn publish(&self, delivery: &Delivery) -> PublishOutcome {
        crate::metrics::describe_once();
        if let Ok(mut checks) = self.checks.lock() {
            checks.remove(&delivery.id);
        }
        let encoded = match self.encode(delivery).await {
            Plan::Send(encoded) => encoded,
            Plan::Skip(reason) => {
                metrics::counter!(EVENTS_TOTAL, "target" => self.config.name.clone(), "action" => "none", "result" => "skipped")
                    .increment(1);
                debug!(target_name = %self.config.name, fingerprint = %delivery.alert.fingerprint, reason, "nothing to send to pagerduty");
                return Ok(Delivered {
                    status_code: None,
                    vendor_state: None,
                });
            }
        };
        let accepted = self.send(&encoded).await?;
        let vendor_state = match &encoded.event {
            Event::Alert(e) => accepted
                .dedup_key
                .as_ref()
                .map(|key| PagerDutyState::after(e.event_action, key.as_str()).to_json()),
            Event::Change(_) => None,
        };
        Ok(Delivered {
            status_code: Some(accepted.status_code),
            vendor_state,
        })
    }

    /// Sends `acknowledge` under the dedup key the alert's trigger was accepted under (or, with
    /// no record of it, the key the trigger would have had).
    async fn acknowledge(&self, delivery: &Delivery) -> PublishOutcome {
        crate::metrics::describe_once();
        if crate::encode::is_change_event(&self.config.options, &delivery.alert) {
            return Err(PublishError::permanent(
                publish::ErrorKind::Invalid,
                "a change event opens no PagerDuty alert: nothing to acknowledge",
            ));
        }
        let key = crate::state::stored_dedup_key(delivery.vendor_state.as_ref()).map_or_else(
            || encode::dedup_key(&self.config.options, &delivery.alert, &delivery.context),
            str::to_owned,
        );
        let accepted = self.send_action(Action::Acknowledge, &key).await?;
        let key = accepted.dedup_key.unwrap_or(key);
        Ok(Delivered {
            status_code: Some(accepted.status_code),
            vendor_state: Some(PagerDutyState::after(Action::Acknowledge, key).to_json()),
        })
    }

    async fn probe(&self) -> ProbeResult {
        let timeout = self.config.options.timeout;
        if self.config.base_url.scheme() == "https" {
            tls_probe(&self.config.base_url, timeout).await
        } else {
            publish::http::probe_connect(self.config.base_url.as_str(), timeout).await
        }
    }

    /// The shared bucket of the routing key. A second check for the same delivery attempt
    /// means the first one was told to wait: that wait is counted in
    /// [`RATE_LIMIT_WAITS_TOTAL`].
    fn rate_limit(&self, delivery: &Delivery) -> Option<RateLimit> {
        if let Ok(mut checks) = self.checks.lock() {
            if checks.len() >= MAX_TRACKED_CHECKS {
                checks.clear();
            }
            if checks.insert(delivery.id.clone(), delivery.attempt) == Some(delivery.attempt) {
                crate::metrics::describe_once();
                metrics::counter!(RATE_LIMIT_WAITS_TOTAL, "target" => self.config.name.clone())
                    .increment(1);
            }
        }
        Some(self.config.rate_limit())
    }
}

/// Opens a TCP connection to the events host and completes a TLS handshake (certificate
/// checked against the web PKI roots), then closes it. Nothing is sent over it.
async fn tls_probe(url: &reqwest::Url, timeout: Duration) -> ProbeResult {
    let started = Instant::now();
    let result = async {
        let host = url
            .host_str()
            .ok_or("url has no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let server_name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| format!("invalid host name {host}: {e}"))?;
        let roots: tokio_rustls::rustls::RootCertStore =
            webpki_roots::TLS_SERVER_ROOTS.iter().cloned().collect();
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let tls = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup failed: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
        let handshake = async {
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| format!("connect to {host}:{port} failed: {e}"))?;
            connector
                .connect(server_name, tcp)
                .await
                .map_err(|e| format!("TLS handshake with {host}:{port} failed: {e}"))?;
            Ok::<_, String>(())
        };
        tokio::time::timeout(timeout, handshake)
            .await
            .map_err(|_| format!("TLS handshake with {host}:{port} timed out"))??;
        Ok::<_, String>(format!("TLS handshake with {host}:{port} succeeded"))
    }
    .await;
    let latency = started.elapsed();
    match result {
        Ok(detail) => ProbeResult {
            ok: true,
            latency,
            detail,
        },
        Err(detail) => ProbeResult {
            ok: false,
            latency,
            detail,
        },
    }
}
