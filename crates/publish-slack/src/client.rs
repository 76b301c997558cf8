//! The HTTP side: Web API calls, webhook posts, the lifecycle of a message, metrics.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use publish::{
    ConfigError, Delivered, Delivery, ProbeResult, PublishOutcome, Publisher, RateLimit, Scrubber,
    Secret,
};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use tracing::warn;

use crate::classify::{self, Failure};
use crate::encode::{self, EncodeOptions, Message, Placement};
use crate::metrics::{
    ERRORS_TOTAL, MESSAGES_POSTED_TOTAL, MESSAGES_UPDATED_TOTAL, RATE_LIMITED_TOTAL,
    REQUEST_DURATION_SECONDS, RETRY_AFTER_SECONDS, THREAD_REPLIES_TOTAL, original,
};
use crate::state::{MessageRef, Plan, Reply, plan};
use crate::{Mode, SlackConfig};

/// What a request does, as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    PostMessage,
    Update,
    ThreadReply,
    Webhook,
    AuthTest,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::PostMessage => "post_message",
            Action::Update => "update",
            Action::ThreadReply => "thread_reply",
            Action::Webhook => "webhook",
            Action::AuthTest => "auth_test",
        }
    }

    fn method(self) -> &'static str {
        match self {
            Action::PostMessage | Action::ThreadReply => "chat.postMessage",
            Action::Update => "chat.update",
            Action::AuthTest => "auth.test",
            Action::Webhook => "webhook",
        }
    }
}

/// Update failures after which the message is posted anew instead.
const GONE: [&str; 3] = [
    "message_not_found",
    "cant_update_message",
    "edit_window_closed",
];

/// Delivers alerts to one Slack channel, by incoming webhook or through the Web API.
///
/// Metrics (label `target` is the target name, never a token or URL): the families of
/// [`crate::metrics`] — [`MESSAGES_POSTED_TOTAL`], [`MESSAGES_UPDATED_TOTAL`],
/// [`THREAD_REPLIES_TOTAL`], [`ERRORS_TOTAL`]`{action, reason}` (reason: a known Slack error
/// string or the error kind), [`REQUEST_DURATION_SECONDS`]`{action}`, [`RATE_LIMITED_TOTAL`]
/// (429 answers) and [`RETRY_AFTER_SECONDS`] (the waits Slack asked for).
#[derive(Debug, Clone)]
pub struct SlackPublisher {
    config: SlackConfig,
    client: reqwest::Client,
    encode: EncodeOptions,
    /// The channel's (or webhook's) message bucket: posts and thread replies.
    bucket: String,
    /// `chat.update`'s bucket, per token (token mode).
    update_bucket: String,
    scrubber: Scrubber,
}

impl SlackPublisher {
    /// A publisher with its own HTTP client.
    pub fn new(config: SlackConfig) -> Result<Self, ConfigError> {
        let client = publish::http::build(&publish::http::ClientConfig {
            timeout: config.timeout,
            proxy: config.proxy.clone(),
            ..Default::default()
        })?;
        let encode = EncodeOptions {
            alertmanager_url: config.alertmanager_url.clone(),
        };
        let bucket = match &config.mode {
            Mode::Webhook { url } => RateLimit::secret_key("slack-webhook", url.expose()),
            Mode::Api { token, channel, .. } => RateLimit::secret_key(
                "slack",
                &format!("{}\n{}", token.expose(), channel.trim_start_matches('#')),
            ),
        };
        let update_bucket = match &config.mode {
            Mode::Webhook { .. } => String::new(),
            Mode::Api { token, .. } => RateLimit::secret_key("slack-update", token.expose()),
        };
        let scrubber = Scrubber::new(match &config.mode {
            Mode::Webhook { url } => webhook_url_parts(url.expose()),
            Mode::Api { token, .. } => vec![token.expose().to_owned()],
        });
        Ok(Self {
            config,
            client,
            encode,
            bucket,
            update_bucket,
            scrubber,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SlackConfig {
        &self.config
    }

    fn target(&self) -> String {
        self.config.name.clone()
    }

    /// Records the outcome of one request in the metrics.
    fn observe<T>(&self, action: Action, started: Instant, result: &Result<T, Failure>) {
        crate::metrics::describe_once();
        let target = self.target();
        metrics::histogram!(REQUEST_DURATION_SECONDS, "target" => target.clone(), "action" => action.as_str())
            .record(started.elapsed().as_secs_f64());
        let status = if result.is_ok() { "success" } else { "error" };
        metrics::histogram!(original::API_REQUEST_DURATION_SECONDS, "method" => action.as_str(), "status" => status)
            .record(started.elapsed().as_secs_f64());
        match action {
            Action::PostMessage | Action::Update | Action::Webhook => {
                metrics::counter!(original::MESSAGES_POSTED_TOTAL, "status" => status).increment(1);
            }
            Action::ThreadReply if result.is_ok() => {
                metrics::counter!(original::THREAD_REPLIES_TOTAL).increment(1);
            }
            _ => {}
        }
        if let Err(f) = result {
            use publish::ErrorKind as K;
            let error_type = match f.error.kind() {
                K::RateLimited => "rate_limit",
                K::Server => "server_error",
                K::Auth => "auth_error",
                K::Invalid => "bad_request",
                K::Connect | K::Timeout | K::Io => "network_error",
                _ => "api_error",
            };
            metrics::counter!(original::MESSAGE_ERRORS_TOTAL, "error_type" => error_type)
                .increment(1);
            if f.error.kind() == K::RateLimited {
                metrics::counter!(original::RATE_LIMIT_HITS_TOTAL).increment(1);
            }
        }
        match result {
            Ok(_) => {
                let name = match action {
                    Action::PostMessage | Action::Webhook => MESSAGES_POSTED_TOTAL,
                    Action::Update => MESSAGES_UPDATED_TOTAL,
                    Action::ThreadReply => THREAD_REPLIES_TOTAL,
                    Action::AuthTest => return,
                };
                metrics::counter!(name, "target" => target).increment(1);
            }
            Err(f) => {
                metrics::counter!(ERRORS_TOTAL, "target" => target.clone(), "action" => action.as_str(), "reason" => f.label)
                    .increment(1);
                if f.error.kind() == publish::ErrorKind::RateLimited {
                    metrics::counter!(RATE_LIMITED_TOTAL, "target" => target.clone()).increment(1);
                    if let Some(wait) = f.error.retry_after() {
                        metrics::histogram!(RETRY_AFTER_SECONDS, "target" => target)
                            .record(wait.as_secs_f64());
                    }
                }
            }
        }
    }

    /// One Web API call; the answer's JSON when Slack says `ok`.
    async fn call(
        &self,
        api: Api<'_>,
        action: Action,
        body: Vec<u8>,
    ) -> Result<serde_json::Value, Failure> {
        let Api { base, token, .. } = api;
        let started = Instant::now();
        let result = async {
            let resp = self
                .client
                .post(format!("{base}/{}", action.method()))
                .header(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/json; charset=utf-8"),
                )
                .header(AUTHORIZATION, bearer(token))
                .body(body)
                .send()
                .await
                .map_err(Failure::transport)?;
            let status = resp.status().as_u16();
            let retry_after = publish::classify::retry_after_header(resp.headers());
            let bytes = resp.bytes().await.map_err(Failure::transport)?;
            classify::api_response(action.method(), status, retry_after, &bytes)
        }
        .await;
        self.observe(action, started, &result);
        result.map_err(|f| self.limited(action, f))
    }

    /// A rate-limit refusal names the bucket its call counts against, so the engine holds every
    /// delivery sharing it (the channel's messages, or `chat.update` for the token).
    fn limited(&self, action: Action, mut f: Failure) -> Failure {
        if f.error.kind() == publish::ErrorKind::RateLimited {
            let key = match action {
                Action::Update => &self.update_bucket,
                _ => &self.bucket,
            };
            f.error = f.error.with_rate_limit_key(key.clone());
        }
        f
    }

    /// What a token-mode delivery does now, from the state its alert's message is in.
    fn plan(&self, delivery: &Delivery, previous: Option<&MessageRef>) -> Plan {
        plan(
            delivery.alert.status,
            previous,
            &delivery.id,
            &self.config.on_resolve,
            self.config.on_repeat,
        )
    }

    /// Posts a message; its reference.
    async fn post(
        &self,
        api: Api<'_>,
        action: Action,
        message: &Message,
        at: Placement<'_>,
        status: publish::AlertStatus,
    ) -> Result<MessageRef, Failure> {
        let answer = self.call(api, action, encode::body(message, at)).await?;
        let field = |name: &str| {
            answer
                .get(name)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (channel, ts) = (field("channel"), field("ts"));
        if channel.is_empty() || ts.is_empty() {
            let error = publish::PublishError::retryable(
                publish::ErrorKind::Server,
                "slack chat.postMessage: the answer has no channel or ts",
            );
            return Err(Failure {
                label: "server",
                error,
            });
        }
        Ok(MessageRef::new(channel, ts, status))
    }

    async fn publish_api(&self, api: Api<'_>, delivery: &Delivery) -> PublishOutcome {
        let alert = &delivery.alert;
        let previous = MessageRef::from_state(delivery.vendor_state.as_ref());
        let Plan {
            update,
            mut post,
            mut reply,
        } = self.plan(delivery, previous.as_ref());
        let message = encode::message_with(
            alert,
            &delivery.context,
            &self.encode,
            &self.config.templates,
        );
        let known = previous.is_some();
        metrics::counter!(if known {
            original::CACHE_HITS_TOTAL
        } else {
            original::CACHE_MISSES_TOTAL
        })
        .increment(1);
        let mut current = previous;
        // Calls of this delivery that went through: a later failure hands back the state they
        // left, so the retry makes only the calls still due (never the update twice).
        let mut progressed = false;
        let progress = |error: publish::PublishError, current: &Option<MessageRef>, progressed| {
            match current {
                Some(m) if progressed => error.with_vendor_state(m.to_state()),
                _ => error,
            }
        };
        if let Some(target) = update {
            let at = Placement {
                channel: Some(&target.channel),
                ts: Some(&target.ts),
                ..Default::default()
            };
            match self
                .call(api, Action::Update, encode::body(&message, at))
                .await
            {
                Ok(_) => {
                    progressed = true;
                    current = Some(MessageRef {
                        status: alert.status,
                        reply_due: reply.as_ref().map(|(_, r)| r.owed_by(&delivery.id)),
                        ..target
                    })
                }
                Err(f) if GONE.contains(&f.label) => {
                    warn!(target_name = %self.config.name, fingerprint = %alert.fingerprint, error = %f.error, "slack message cannot be updated, posting a new one");
                    post = true;
                    reply = None;
                }
                Err(f) => return Err(f.error),
            }
        }
        if post {
            let at = Placement {
                channel: Some(api.channel),
                ..Default::default()
            };
            current = Some(
                self.post(api, Action::PostMessage, &message, at, alert.status)
                    .await
                    .map_err(|f| progress(f.error, &current, progressed))?,
            );
            progressed = true;
        }
        if let Some((parent, kind)) = reply {
            let (text, broadcast) = match kind {
                Reply::Resolved { broadcast } => (encode::resolved_reply(alert), broadcast),
                Reply::StillFiring => (encode::still_firing_reply(alert), false),
            };
            let at = Placement {
                channel: Some(&parent.channel),
                thread_ts: Some(&parent.ts),
                reply_broadcast: broadcast,
                ..Default::default()
            };
            self.post(api, Action::ThreadReply, &text, at, alert.status)
                .await
                .map_err(|f| progress(f.error, &current, progressed))?;
        }
        // Threads this process opened and has not seen resolved (never below 0: a resolve of a
        // thread opened before a restart is not counted).
        static OPEN: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
        let delta = match (known, alert.status) {
            (false, publish::AlertStatus::Firing) => 1,
            (true, publish::AlertStatus::Resolved) => -1,
            _ => 0,
        };
        if delta != 0 {
            let open = OPEN
                .fetch_update(
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Relaxed,
                    |n| Some((n + delta).max(0)),
                )
                .map_or(0, |n| (n + delta).max(0));
            metrics::gauge!(original::CACHE_SIZE).set(open as f64);
        }
        Ok(Delivered {
            status_code: Some(200),
            // everything this delivery owed is done
            vendor_state: current.map(|m| {
                MessageRef {
                    reply_due: None,
                    ..m
                }
                .to_state()
            }),
        })
    }

    async fn publish_webhook(&self, delivery: &Delivery, url: &Secret) -> PublishOutcome {
        let message = encode::message_with(
            &delivery.alert,
            &delivery.context,
            &self.encode,
            &self.config.templates,
        );
        let started = Instant::now();
        let result = async {
            let resp = self
                .client
                .post(url.expose())
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(encode::body(&message, Placement::default()))
                .send()
                .await
                .map_err(Failure::transport)?;
            let status = resp.status().as_u16();
            let retry_after = publish::classify::retry_after_header(resp.headers());
            let bytes = resp.bytes().await.map_err(Failure::transport)?;
            classify::webhook_response(status, retry_after, &bytes).map(|()| status)
        }
        .await;
        self.observe(Action::Webhook, started, &result);
        let status = result.map_err(|f| f.error)?;
        Ok(Delivered {
            status_code: Some(status),
            vendor_state: None,
        })
    }
}

fn bearer(token: &Secret) -> HeaderValue {
    // The token was checked to be visible ASCII when the config was read.
    let mut v = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer"));
    v.set_sensitive(true);
    v
}

/// The token-mode settings, borrowed from the config.
impl SlackPublisher {
    /// What [`Publisher::probe`] reports, before scrubbing.
    async fn probe_unscrubbed(&self) -> ProbeResult {
        match &self.config.mode {
            Mode::Webhook { url } => {
                let to = self.config.proxy.as_deref().unwrap_or(url.expose());
                publish::http::probe_connect(to, self.config.timeout.min(Duration::from_secs(5)))
                    .await
            }
            Mode::Api {
                base,
                token,
                channel,
            } => {
                let started = Instant::now();
                let result = self
                    .call(
                        Api {
                            base,
                            token,
                            channel,
                        },
                        Action::AuthTest,
                        b"{}".to_vec(),
                    )
                    .await;
                let latency = started.elapsed();
                match result {
                    Ok(answer) => {
                        let field = |name: &str| {
                            answer
                                .get(name)
                                .and_then(serde_json::Value::as_str)
                                .unwrap_or("?")
                                .to_owned()
                        };
                        let detail = format!(
                            "auth.test ok: workspace {:?}, bot user {:?}",
                            field("team"),
                            field("user")
                        );
                        ProbeResult {
                            ok: true,
                            latency,
                            detail,
                        }
                    }
                    Err(f) => ProbeResult {
                        ok: false,
                        latency,
                        detail: f.error.reason().to_owned(),
                    },
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Api<'a> {
    base: &'a str,
    token: &'a Secret,
    channel: &'a str,
}

#[async_trait]
impl Publisher for SlackPublisher {
    async fn publish(&self, delivery: &Delivery) -> PublishOutcome {
        // Slack (or a proxy in front of it) may echo the token or the webhook path it was sent.
        let outcome = match &self.config.mode {
            Mode::Webhook { url } => self.publish_webhook(delivery, url).await,
            Mode::Api {
                base,
                token,
                channel,
            } => {
                self.publish_api(
                    Api {
                        base,
                        token,
                        channel,
                    },
                    delivery,
                )
                .await
            }
        };
        outcome.map_err(|e| self.scrubber.error(e))
    }

    /// Token mode: `auth.test` (checks the token, posts nothing). Webhook mode: a TCP connection
    /// to the webhook's host (or the proxy), since any request to a webhook would post.
    async fn probe(&self) -> ProbeResult {
        let mut result = self.probe_unscrubbed().await;
        result.detail = self.scrubber.text(&result.detail);
        result
    }

    /// `auth.test` is an authenticated call to the Web API that delivers (a connect check, for
    /// incoming webhooks, is not).
    fn probe_exercises_delivery_path(&self) -> bool {
        matches!(self.config.mode, Mode::Api { .. })
    }

    /// About one message per second per channel by default (`options.rate_limit`): every
    /// delivery to the same channel with the same token (or to the same webhook) shares a
    /// bucket. The key is a digest; it holds no token or URL.
    fn rate_limit(&self, _delivery: &Delivery) -> Option<RateLimit> {
        Some(self.config.rate_limit.limit(self.bucket.clone()))
    }

    /// Each call charged to the limit it counts against: `chat.update` to the token's Tier 3
    /// bucket (`options.update_rate_limit`, about 50 a minute), a message or thread reply to
    /// the channel's (`options.rate_limit`). A retry that owes only its thread reply takes
    /// only a channel slot; a delivery that calls nothing takes none.
    fn rate_limits(&self, delivery: &Delivery) -> Vec<RateLimit> {
        if let Mode::Webhook { .. } = self.config.mode {
            return self.rate_limit(delivery).into_iter().collect();
        }
        let previous = MessageRef::from_state(delivery.vendor_state.as_ref());
        let plan = self.plan(delivery, previous.as_ref());
        let mut limits = Vec::with_capacity(2);
        if plan.update.is_some() {
            limits.push(
                self.config
                    .update_rate_limit
                    .limit(self.update_bucket.clone()),
            );
        }
        if plan.posts() {
            limits.extend(self.rate_limit(delivery));
        }
        limits
    }
}

/// The parts of an incoming-webhook URL that are the credential: the URL, its path, and each
/// path segment after `/services/` (the last one is the secret).
fn webhook_url_parts(url: &str) -> Vec<String> {
    let mut parts = vec![url.to_owned()];
    if let Ok(parsed) = reqwest::Url::parse(url) {
        parts.push(parsed.path().to_owned());
        parts.extend(
            parsed
                .path()
                .trim_start_matches("/services/")
                .split('/')
                .filter(|segment| segment.len() >= 8)
                .map(str::to_owned),
        );
    }
    parts
}
