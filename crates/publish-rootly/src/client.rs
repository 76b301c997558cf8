//! The publisher: the alert lifecycle over Rootly's REST API.

use std::time::Instant;

use async_trait::async_trait;
use publish::{
    AlertStatus, ConfigError, Delivered, Delivery, ErrorKind, ProbeResult, PublishError,
    PublishOutcome, Publisher, RateLimit,
};
use reqwest::{
    Method,
    header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue},
};
use tracing::{debug, info, warn};

use crate::{
    RootlyConfig, RootlyState,
    classify::{self, Action, AlertResource},
    encode,
};

/// The JSON:API media type.
pub const JSONAPI: &str = "application/vnd.api+json";

/// How many alerts one lookup by external id reads.
const LOOKUP_PAGE: u32 = 20;

/// Delivers alerts to one Rootly organisation (one API key) as Rootly alerts: created when they
/// fire, resolved when they resolve, with an incident for critical ones if configured.
#[derive(Debug, Clone)]
pub struct RootlyPublisher {
    config: RootlyConfig,
    client: reqwest::Client,
    limit: RateLimit,
}

/// An HTTP answer.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl RootlyPublisher {
    /// A publisher with its own HTTP client.
    pub fn new(config: RootlyConfig) -> Result<Self, ConfigError> {
        let client = publish::http::build(&publish::http::ClientConfig {
            timeout: config.options.timeout,
            ..Default::default()
        })?;
        let limit = config
            .options
            .rate_limit
            .limit(RateLimit::secret_key("rootly", config.api_key.expose()));
        Ok(Self {
            config,
            client,
            limit,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RootlyConfig {
        &self.config
    }

    fn name(&self) -> &str {
        &self.config.name
    }

    fn key(&self) -> &str {
        self.config.api_key.expose()
    }

    /// Sends one request; any HTTP answer is `Ok`, a transport failure is the classified error.
    async fn send(
        &self,
        action: Action,
        method: Method,
        url: reqwest::Url,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, PublishError> {
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", self.key())).map_err(|_| {
            PublishError::permanent(
                ErrorKind::Config,
                "rootly: the API key cannot be sent in a header",
            )
        })?;
        auth.set_sensitive(true);
        let mut req = self
            .client
            .request(method, url)
            .header(AUTHORIZATION, auth)
            .header(ACCEPT, JSONAPI);
        for (name, value) in &self.config.headers {
            if let Ok(mut value) = HeaderValue::from_str(value.expose()) {
                value.set_sensitive(true);
                req = req.header(name, value);
            }
        }
        if let Some(body) = body {
            req = req.header(CONTENT_TYPE, JSONAPI).body(body);
        }
        let started = Instant::now();
        let result = match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let body = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                Ok(Answer {
                    status,
                    headers,
                    body,
                })
            }
            Err(e) => Err(classify::transport(action, e, self.key())),
        };
        let result_label = match &result {
            Ok(a) if (200..300).contains(&a.status) => "success",
            Ok(a) => publish::classify::http_status(a.status, None, "")
                .kind()
                .as_str(),
            Err(e) => e.kind().as_str(),
        };
        crate::metrics::request(self.name(), action, result_label, started.elapsed());
        result
    }

    /// `POST /v1/alerts`.
    async fn create(&self, delivery: &Delivery) -> Result<(AlertResource, u16), PublishError> {
        let body = encode::encode_alert_with(
            &delivery.alert,
            &delivery.context,
            &self.config.options,
            &self.config.templates,
        );
        let answer = self
            .send(
                Action::Create,
                Method::POST,
                self.config.endpoint(&["alerts"]),
                Some(body),
            )
            .await?;
        if !(200..300).contains(&answer.status) {
            return Err(classify::failure(
                Action::Create,
                answer.status,
                &answer.headers,
                &answer.body,
                self.key(),
            ));
        }
        let alert = classify::created(&answer.body)
            .map_err(|why| classify::unreadable(Action::Create, answer.status, &why))?;
        Ok((alert, answer.status))
    }

    /// Alerts of our source whose external id is `external_id`, newest first.
    async fn lookup(&self, external_id: &str) -> Result<Vec<AlertResource>, PublishError> {
        let mut url = self.config.endpoint(&["alerts"]);
        url.query_pairs_mut()
            .append_pair("filter[external_id]", external_id)
            .append_pair("filter[source]", &self.config.options.source)
            .append_pair("page[size]", &LOOKUP_PAGE.to_string());
        let answer = self.send(Action::Lookup, Method::GET, url, None).await?;
        if answer.status != 200 {
            return Err(classify::failure(
                Action::Lookup,
                answer.status,
                &answer.headers,
                &answer.body,
                self.key(),
            ));
        }
        let alerts = classify::listed(&answer.body)
            .map_err(|why| classify::unreadable(Action::Lookup, answer.status, &why))?;
        // Never trust a filter we cannot see: keep only exact matches.
        Ok(alerts
            .into_iter()
            .filter(|a| a.attributes.external_id.as_deref() == Some(external_id))
            .filter(|a| {
                a.attributes
                    .source
                    .as_deref()
                    .is_none_or(|s| s == self.config.options.source)
            })
            .collect())
    }

    /// `POST /v1/alerts/{id}/resolve`; a 404 means the alert is gone, which is as good.
    async fn resolve_id(
        &self,
        delivery: &Delivery,
        alert_id: &str,
    ) -> Result<(u16, bool), PublishError> {
        let url = self.config.endpoint(&["alerts", alert_id, "resolve"]);
        let answer = self
            .send(
                Action::Resolve,
                Method::POST,
                url,
                Some(encode::encode_resolve(&delivery.alert)),
            )
            .await?;
        match answer.status {
            200..=299 => Ok((answer.status, true)),
            404 => Ok((answer.status, false)),
            status => Err(classify::failure(
                Action::Resolve,
                status,
                &answer.headers,
                &answer.body,
                self.key(),
            )),
        }
    }

    /// `POST /v1/incidents` with the alert attached; the incident's id.
    async fn open_incident(
        &self,
        delivery: &Delivery,
        alert_id: &str,
    ) -> Result<String, PublishError> {
        let Some(mode) = &self.config.options.incident else {
            return Err(PublishError::permanent(
                ErrorKind::Config,
                "no incident mode",
            ));
        };
        let body = encode::encode_incident(&delivery.alert, alert_id, &self.config.options, mode);
        let answer = self
            .send(
                Action::Incident,
                Method::POST,
                self.config.endpoint(&["incidents"]),
                Some(body),
            )
            .await?;
        if !(200..300).contains(&answer.status) {
            return Err(classify::failure(
                Action::Incident,
                answer.status,
                &answer.headers,
                &answer.body,
                self.key(),
            ));
        }
        classify::created(&answer.body)
            .map(|r| r.id)
            .map_err(|why| classify::unreadable(Action::Incident, answer.status, &why))
    }

    async fn fire(&self, delivery: &Delivery, state: Option<RootlyState>) -> PublishOutcome {
        let fingerprint = delivery.alert.fingerprint.as_str();
        if state.as_ref().is_some_and(RootlyState::is_open) {
            // Alertmanager re-sent a group, or the repeat interval passed: the alert is open.
            crate::metrics::lifecycle(self.name(), "create", "already_open");
            debug!(target_name = %self.name(), fingerprint, "rootly alert already open, nothing to send");
            return Ok(Delivered {
                status_code: None,
                vendor_state: None,
            });
        }
        // A retry may follow an attempt that created the alert but never recorded it (a crash,
        // a lost answer): look before creating, so a retry never duplicates.
        let adopted = if delivery.attempt > 1 {
            self.lookup(fingerprint)
                .await?
                .into_iter()
                .find(AlertResource::is_open)
        } else {
            None
        };
        let (alert, status) = match adopted {
            Some(alert) => {
                crate::metrics::lifecycle(self.name(), "create", "adopted");
                info!(target_name = %self.name(), fingerprint, alert_id = %alert.id, "rootly alert found open from an earlier attempt");
                (alert, 200)
            }
            None => {
                let (alert, status) = self.create(delivery).await?;
                crate::metrics::lifecycle(self.name(), "create", "created");
                info!(target_name = %self.name(), fingerprint, alert_id = %alert.id, "rootly alert created");
                (alert, status)
            }
        };
        let mut state = RootlyState::open(alert.id.clone());
        if self
            .config
            .options
            .incident
            .as_ref()
            .is_some_and(|m| m.wants(&delivery.alert))
        {
            let incident_id = match alert.attributes.incidents.first() {
                Some(existing) => existing.id.clone(),
                None => {
                    let id = self
                        .open_incident(delivery, &alert.id)
                        .await
                        .map_err(|e| context(e, &alert.id))?;
                    crate::metrics::lifecycle(self.name(), "incident", "opened");
                    info!(target_name = %self.name(), fingerprint, alert_id = %alert.id, incident_id = %id, "rootly incident opened");
                    id
                }
            };
            state.incident_id = Some(incident_id);
        }
        Ok(Delivered {
            status_code: Some(status),
            vendor_state: Some(state.to_json()),
        })
    }

    async fn resolve(&self, delivery: &Delivery, state: Option<RootlyState>) -> PublishOutcome {
        let fingerprint = delivery.alert.fingerprint.as_str();
        match state {
            Some(state) if !state.is_open() => {
                crate::metrics::lifecycle(self.name(), "resolve", "already_resolved");
                Ok(Delivered {
                    status_code: None,
                    vendor_state: None,
                })
            }
            Some(mut state) => {
                let (status, existed) = self.resolve_id(delivery, &state.alert_id).await?;
                self.resolved(fingerprint, &state.alert_id, existed);
                state.status = crate::AlertState::Resolved;
                Ok(Delivered {
                    status_code: Some(status),
                    vendor_state: Some(state.to_json()),
                })
            }
            None => {
                let found = self.lookup(fingerprint).await?;
                let open: Vec<&AlertResource> = found.iter().filter(|a| a.is_open()).collect();
                if open.is_empty() {
                    return match found.first() {
                        Some(done) => {
                            crate::metrics::lifecycle(self.name(), "resolve", "already_resolved");
                            let state = crate::RootlyState {
                                status: crate::AlertState::Resolved,
                                ..RootlyState::open(done.id.clone())
                            };
                            Ok(Delivered {
                                status_code: Some(200),
                                vendor_state: Some(state.to_json()),
                            })
                        }
                        None => {
                            crate::metrics::lifecycle(self.name(), "resolve", "gave_up");
                            warn!(
                                target_name = %self.name(),
                                fingerprint,
                                source = %self.config.options.source,
                                "rootly alert to resolve not found: no id stored and none with this external id"
                            );
                            Err(PublishError::Permanent {
                                kind: ErrorKind::NotFound,
                                reason: format!(
                                    "rootly resolve alert: gave up: no Rootly alert id is stored for fingerprint {fingerprint} \
                                     and none with external_id {fingerprint} (source {:?}) exists; the firing alert was \
                                     probably never delivered",
                                    self.config.options.source
                                ),
                                status_code: None,
                            })
                        }
                    };
                }
                // Normally one; several only if something else created duplicates: resolve all.
                let mut last = None;
                for alert in open {
                    let (status, existed) = self.resolve_id(delivery, &alert.id).await?;
                    self.resolved(fingerprint, &alert.id, existed);
                    let state = crate::RootlyState {
                        status: crate::AlertState::Resolved,
                        ..RootlyState::open(alert.id.clone())
                    };
                    last = Some(Delivered {
                        status_code: Some(status),
                        vendor_state: Some(state.to_json()),
                    });
                }
                Ok(last.unwrap_or_default())
            }
        }
    }

    fn resolved(&self, fingerprint: &str, alert_id: &str, existed: bool) {
        if existed {
            crate::metrics::lifecycle(self.name(), "resolve", "resolved");
            info!(target_name = %self.name(), fingerprint, alert_id, "rootly alert resolved");
        } else {
            crate::metrics::lifecycle(self.name(), "resolve", "gone");
            info!(target_name = %self.name(), fingerprint, alert_id, "rootly alert already gone (404), counted as resolved");
        }
    }

    /// Whether this delivery sends nothing (an open alert firing again, a resolved one resolving
    /// again): such a delivery needs no rate-limit token.
    fn is_noop(delivery: &Delivery) -> bool {
        RootlyState::from_delivery(delivery)
            .is_some_and(|s| s.is_open() == (delivery.alert.status == AlertStatus::Firing))
    }
}

/// Adds "alert X was created" to an incident failure, so the dead letter says what exists.
fn context(mut err: PublishError, alert_id: &str) -> PublishError {
    let reason = format!("{} (rootly alert {alert_id} was created)", err.reason());
    *err.reason_mut() = reason;
    err
}

#[async_trait]
impl Publisher for RootlyPublisher {
    async fn publish(&self, delivery: &Delivery) -> PublishOutcome {
        let state = RootlyState::from_delivery(delivery);
        let outcome = match delivery.alert.status {
            AlertStatus::Firing => self.fire(delivery, state).await,
            AlertStatus::Resolved => self.resolve(delivery, state).await,
        };
        if let Err(e) = &outcome {
            debug!(target_name = %self.name(), fingerprint = %delivery.alert.fingerprint, kind = %e.kind(), error = %e, "rootly delivery failed");
        }
        outcome
    }

    /// An authenticated read of one alert: checks reachability and the API key, changes nothing.
    async fn probe(&self) -> ProbeResult {
        let started = Instant::now();
        let mut url = self.config.endpoint(&["alerts"]);
        url.query_pairs_mut().append_pair("page[size]", "1");
        let (ok, detail) = match self.send(Action::Probe, Method::GET, url, None).await {
            Ok(a) if a.status == 200 => (
                true,
                "authenticated read of /v1/alerts succeeded".to_owned(),
            ),
            Ok(a) => (
                false,
                classify::failure(Action::Probe, a.status, &a.headers, &a.body, self.key())
                    .reason()
                    .to_owned(),
            ),
            Err(e) => (false, e.reason().to_owned()),
        };
        ProbeResult {
            ok,
            latency: started.elapsed(),
            detail,
        }
    }

    /// The probe is an authenticated read of the alerts API that deliveries write to.
    fn probe_exercises_delivery_path(&self) -> bool {
        true
    }

    fn rate_limit(&self, delivery: &Delivery) -> Option<RateLimit> {
        (!Self::is_noop(delivery)).then(|| self.limit.clone())
    }
}
