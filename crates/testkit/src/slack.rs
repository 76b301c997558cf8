//! [`SlackSim`]: a simulated Slack (incoming webhooks and the Web API) on loopback.
//!
//! It enforces what `shared/CONTRACTS.md` says about Slack, so a publisher that passes against it
//! sends what the real Slack accepts:
//!
//! * Incoming webhooks, `POST /services/T…/B…/<secret>` (registered with
//!   [`SlackSim::add_webhook`]): JSON with at least one of `text`, `blocks`, `attachments`;
//!   200 with the plain body `ok`, or a status with a plain error string: 400 `invalid_payload`,
//!   `no_text`, `invalid_blocks`, `too_many_attachments`; 404 `no_service` (unknown webhook),
//!   `channel_not_found`; 410 `channel_is_archived`. No `ts` is returned.
//! * Web API `POST /api/chat.postMessage`, `/api/chat.update`, `/api/auth.test` with
//!   `Authorization: Bearer <token>`: always HTTP 200, success decided by the body
//!   (`{"ok":true,...}` or `{"ok":false,"error":"..."}`): `not_authed`, `invalid_auth`,
//!   `channel_not_found`, `not_in_channel`, `is_archived`, `no_text`, `invalid_blocks` (with the
//!   offending JSON pointers in `errors`), `too_many_attachments`, `message_not_found`,
//!   `cant_update_message`, `thread_not_found`, `invalid_json`. `chat.update` needs the channel
//!   *id* (as Slack does), `chat.postMessage` takes an id, `#name` or `name`.
//! * Block Kit limits: ≤ 50 blocks; header text ≤ 150; section text ≤ 3000; ≤ 10 fields of
//!   ≤ 2000; context ≤ 10 elements of ≤ 3000; text objects not empty. Lengths are counted in
//!   UTF-16 code units (never fewer than characters, so passing here passes Slack). `text` past
//!   40 000 is truncated, as Slack does.
//! * A message rate per channel (default 1 per second with a burst of 3, configurable so tests
//!   stay short) for `chat.postMessage` (thread replies included) and webhook posts: past it HTTP
//!   429 with `Retry-After: <seconds>` (Web API body `{"ok":false,"error":"ratelimited"}`).
//!   The channel's budget is shared with every app posting there: [`SlackSim::share_channel`]
//!   runs another poster at a given rate.
//! * Web API Tier 3 for `chat.update`, per token (default 50 a minute with a burst of 10), not
//!   under the channel's message limit: past it the same 429.
//!
//! It keeps every message with its thread and edit history, so tests read back what a channel
//! would show ([`SlackSim::messages`]); records every call ([`SlackSim::calls`]); and can be
//! scripted to fail per endpoint ([`SlackFault`]).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Most blocks in one message.
const SLACK_MAX_BLOCKS: usize = 50;
/// Longest header text.
const SLACK_MAX_HEADER: usize = 150;
/// Longest section (and context element) text.
const SLACK_MAX_SECTION_TEXT: usize = 3000;
/// Most fields in one section.
const SLACK_MAX_FIELDS: usize = 10;
/// Longest field text.
const SLACK_MAX_FIELD: usize = 2000;
/// Most elements in one context block.
const SLACK_MAX_CONTEXT_ELEMENTS: usize = 10;
/// `text` past this is truncated by Slack.
const SLACK_MAX_TEXT: usize = 40_000;
/// Most attachments in one message.
const SLACK_MAX_ATTACHMENTS: usize = 100;

/// Settings of a [`SlackSim`].
#[derive(Debug, Clone)]
pub struct SlackSimConfig {
    /// Sustained messages per second per channel. Default 1.
    pub messages_per_second: f64,
    /// Messages a channel takes at once after a quiet period. Default 3.
    pub burst: u32,
    /// Sustained `chat.update` calls per minute per token (Web API Tier 3). Default 50.
    pub updates_per_minute: f64,
    /// `chat.update` calls a token makes at once after a quiet period. Default 10.
    pub update_burst: u32,
}

impl Default for SlackSimConfig {
    fn default() -> Self {
        Self {
            messages_per_second: 1.0,
            burst: 3,
            updates_per_minute: 50.0,
            update_burst: 10,
        }
    }
}

/// The endpoints of the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlackEndpoint {
    /// An incoming webhook.
    Webhook,
    /// `chat.postMessage`.
    PostMessage,
    /// `chat.update`.
    Update,
    /// `auth.test`.
    AuthTest,
    /// Any other path (answered 404).
    Unknown,
}

/// A scripted failure, used for the next call to one endpoint instead of the normal answer
/// ([`SlackSim::push_fault`]).
#[derive(Debug, Clone, PartialEq)]
pub enum SlackFault {
    /// HTTP 429 with `Retry-After: <secs>`.
    RateLimited {
        /// Seconds in the `Retry-After` header.
        retry_after_secs: u64,
    },
    /// Slack's own error: on the Web API HTTP 200 `{"ok":false,"error":<code>}`; on a webhook
    /// the status Slack uses for that code (400, 403, 404, 410 or 500) with the code as body.
    Error(String),
    /// A bare HTTP status with a short text body (a 5xx from a load balancer, say).
    Status(u16),
}

impl SlackFault {
    /// [`SlackFault::Error`] with `code`.
    pub fn error(code: &str) -> Self {
        SlackFault::Error(code.to_owned())
    }
}

/// A channel to create ([`SlackSim::add_channel_with`]).
#[derive(Debug, Clone)]
pub struct SlackChannelSpec {
    /// Name without `#`.
    pub name: String,
    /// Whether the bot is a member (else `not_in_channel`).
    pub bot_is_member: bool,
    /// Whether the channel is archived (else `is_archived` / `channel_is_archived`).
    pub archived: bool,
}

impl SlackChannelSpec {
    /// A channel the bot is a member of.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.trim_start_matches('#').to_owned(),
            bot_is_member: true,
            archived: false,
        }
    }
}

/// How a message got into the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlackVia {
    /// `chat.postMessage`.
    Api,
    /// An incoming webhook.
    Webhook,
    /// Another app sharing the channel ([`SlackSim::share_channel`]).
    OtherApp,
}

/// A message as the channel shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackMessage {
    /// Channel id.
    pub channel: String,
    /// Message timestamp (its id in the channel).
    pub ts: String,
    /// The parent's `ts` for a thread reply.
    pub thread_ts: Option<String>,
    /// `text` (truncated past 40 000 characters, as Slack does).
    pub text: String,
    /// `blocks`, or `null`.
    pub blocks: Value,
    /// `attachments`, or `null`.
    pub attachments: Value,
    /// How it was posted.
    pub via: SlackVia,
    /// Whether a thread reply was also sent to the channel.
    pub reply_broadcast: bool,
    /// Earlier versions (`{"text","blocks","attachments"}`), oldest first; empty when never
    /// edited.
    pub history: Vec<Value>,
    /// Thread replies, oldest first (filled for top-level messages).
    pub replies: Vec<SlackMessage>,
    /// When it was posted.
    pub posted_at: Instant,
}

impl SlackMessage {
    /// Whether it was edited with `chat.update`.
    pub fn edited(&self) -> bool {
        !self.history.is_empty()
    }

    /// Everything a reader sees, in order: the text of every header, section (text and
    /// fields) and context block, one per line; `text` when there are no blocks.
    pub fn visible_text(&self) -> String {
        let mut out = Vec::new();
        let blocks = self.blocks.as_array().cloned().unwrap_or_default();
        if blocks.is_empty() {
            return self.text.clone();
        }
        let text_of = |v: &Value| v.get("text").and_then(Value::as_str).map(str::to_owned);
        for b in &blocks {
            if let Some(t) = b.get("text").and_then(text_of) {
                out.push(t);
            }
            for f in b
                .get("fields")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.extend(text_of(f));
            }
            for e in b
                .get("elements")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.extend(text_of(e));
                if let Some(t) = e.get("text").and_then(text_of) {
                    out.push(t);
                }
            }
        }
        out.join("\n")
    }

    /// The header block's text, if any.
    pub fn header(&self) -> Option<String> {
        self.blocks
            .as_array()?
            .iter()
            .find(|b| b.get("type").and_then(Value::as_str) == Some("header"))?
            .pointer("/text/text")?
            .as_str()
            .map(str::to_owned)
    }
}

/// One call the simulator received.
#[derive(Debug, Clone)]
pub struct SlackCall {
    /// Which endpoint.
    pub endpoint: SlackEndpoint,
    /// Request path (as received; a proxied request keeps only its path).
    pub path: String,
    /// Request headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body, parsed as JSON (`null` if it was not JSON).
    pub body: Value,
    /// HTTP status answered.
    pub status: u16,
    /// Slack's error code, when the call failed.
    pub error: Option<String>,
    /// `Retry-After` seconds answered with a 429.
    pub retry_after: Option<u64>,
    /// The message `ts` created or edited.
    pub ts: Option<String>,
    /// When it arrived.
    pub at: Instant,
}

impl SlackCall {
    /// Whether Slack accepted it.
    pub fn ok(&self) -> bool {
        self.status == 200 && self.error.is_none()
    }

    /// Header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A simulated Slack workspace on `127.0.0.1` (random port). See the module docs for what it
/// enforces. Cheap to clone; the server stops when the last clone is dropped.
#[derive(Clone)]
pub struct SlackSim {
    inner: Arc<Inner>,
}

struct Inner {
    addr: SocketAddr,
    state: Arc<Sim>,
    server: JoinHandle<()>,
    /// Other apps posting to shared channels.
    posters: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.server.abort();
        for p in self.posters.get_mut().unwrap_or_else(|e| e.into_inner()) {
            p.abort();
        }
    }
}

impl fmt::Debug for SlackSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self.inner.state.lock();
        f.debug_struct("SlackSim")
            .field("addr", &self.inner.addr)
            .field("channels", &w.channels.len())
            .field("messages", &w.messages.len())
            .field("calls", &w.calls.len())
            .finish()
    }
}

struct Sim {
    world: Mutex<World>,
    changed: watch::Sender<u64>,
}

impl Sim {
    fn lock(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock cannot leave `World` inconsistent.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }
}

struct Channel {
    id: String,
    spec: SlackChannelSpec,
    bucket: Bucket,
}

struct StoredMessage {
    message: SlackMessage,
    /// Posted by the bot through the Web API (only those can be updated by it).
    by_bot: bool,
}

/// A token bucket: `tokens` of at most `burst`, refilled at `rate` a second.
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl Bucket {
    fn full(burst: u32) -> Self {
        Bucket {
            tokens: f64::from(burst.max(1)),
            refilled: Instant::now(),
        }
    }

    /// Takes one token, or says how many whole seconds to wait (at least 1, as Slack does).
    fn take(&mut self, rate: f64, burst: u32) -> Result<(), u64> {
        let rate = rate.max(0.000_01);
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.refilled).as_secs_f64() * rate)
            .min(f64::from(burst.max(1)));
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err((((1.0 - self.tokens) / rate).ceil() as u64).max(1))
        }
    }
}

/// What the other apps sharing channels did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OtherPosts {
    /// Messages they posted.
    pub posted: usize,
    /// Times they were answered 429 (each message is tried again after `Retry-After`).
    pub refused: usize,
}

struct World {
    config: SlackSimConfig,
    tokens: Vec<String>,
    /// `chat.update`'s Tier 3 bucket per token.
    update_buckets: HashMap<String, Bucket>,
    other: OtherPosts,
    channels: Vec<Channel>,
    webhooks: HashMap<String, String>,
    messages: Vec<StoredMessage>,
    calls: Vec<SlackCall>,
    faults: HashMap<SlackEndpoint, VecDeque<SlackFault>>,
    next_ts: u64,
}

impl World {
    fn channel(&mut self, name_or_id: &str) -> Option<&mut Channel> {
        let name = name_or_id.trim_start_matches('#');
        self.channels
            .iter_mut()
            .find(|c| c.id == name_or_id || c.spec.name == name)
    }

    fn channel_id(&self, name_or_id: &str) -> Option<String> {
        let name = name_or_id.trim_start_matches('#');
        self.channels
            .iter()
            .find(|c| c.id == name_or_id || c.spec.name == name)
            .map(|c| c.id.clone())
    }

    /// Takes one message slot of `channel`, or says how many seconds to wait.
    fn take_slot(&mut self, channel_id: &str) -> Result<(), u64> {
        let (rate, burst) = (self.config.messages_per_second, self.config.burst);
        let Some(c) = self.channels.iter_mut().find(|c| c.id == channel_id) else {
            return Ok(());
        };
        c.bucket.take(rate, burst)
    }

    /// Takes one `chat.update` slot of `token` (Tier 3), or says how many seconds to wait.
    fn take_update_slot(&mut self, token: &str) -> Result<(), u64> {
        let (per_minute, burst) = (self.config.updates_per_minute, self.config.update_burst);
        self.update_buckets
            .entry(token.to_owned())
            .or_insert_with(|| Bucket::full(burst))
            .take(per_minute / 60.0, burst)
    }

    fn new_ts(&mut self) -> String {
        self.next_ts += 1;
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        format!("{secs}.{:06}", self.next_ts % 1_000_000)
    }
}

impl SlackSim {
    /// The bot token the simulator accepts.
    pub const TOKEN: &'static str = "xoxb-0000000000-sim-bot-token";

    /// Starts with the default limits (1 message/s per channel, burst 3).
    ///
    /// # Panics
    ///
    /// Panics if binding fails or when called outside a Tokio runtime.
    pub async fn start() -> SlackSim {
        Self::start_with(SlackSimConfig::default()).await
    }

    /// Starts with the given limits.
    ///
    /// # Panics
    ///
    /// Panics if binding fails or when called outside a Tokio runtime.
    pub async fn start_with(config: SlackSimConfig) -> SlackSim {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("SlackSim: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("SlackSim: local_addr");
        let state = Arc::new(Sim {
            world: Mutex::new(World {
                config,
                tokens: vec![Self::TOKEN.to_owned()],
                update_buckets: HashMap::new(),
                other: OtherPosts::default(),
                channels: Vec::new(),
                webhooks: HashMap::new(),
                messages: Vec::new(),
                calls: Vec::new(),
                faults: HashMap::new(),
                next_ts: 0,
            }),
            changed: watch::Sender::new(0),
        });
        let router = Router::new()
            .route("/api/{method}", post(api))
            .route("/services/{*path}", post(webhook))
            .fallback(unknown)
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        SlackSim {
            inner: Arc::new(Inner {
                addr,
                state,
                server,
                posters: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The address it listens on (also usable as an HTTP proxy for `http://hooks.slack.com/...`
    /// URLs: requests are routed by path).
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The Web API base, `http://127.0.0.1:PORT/api` (a target's `url` in token mode).
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.inner.addr)
    }

    /// Accepts another bot token.
    pub fn add_token(&self, token: &str) {
        self.inner.state.lock().tokens.push(token.to_owned());
    }

    /// Changes the message rate per channel (applies from the next message).
    pub fn set_rate(&self, messages_per_second: f64, burst: u32) {
        let mut w = self.inner.state.lock();
        w.config.messages_per_second = messages_per_second;
        w.config.burst = burst;
    }

    /// Creates a channel the bot is a member of; returns its id (`C…`).
    pub fn add_channel(&self, name: &str) -> String {
        self.add_channel_with(SlackChannelSpec::new(name))
    }

    /// Creates a channel; returns its id (`C…`).
    pub fn add_channel_with(&self, spec: SlackChannelSpec) -> String {
        let mut w = self.inner.state.lock();
        let id = format!("C{:08}", w.channels.len() + 1);
        let bucket = Bucket::full(w.config.burst);
        w.channels.push(Channel {
            id: id.clone(),
            spec,
            bucket,
        });
        id
    }

    /// Starts another app posting to `channel` (name or id) at `messages_per_second`, from its
    /// own token: its messages take the channel's budget as ours do. It behaves well: a message
    /// answered 429 is tried again after `Retry-After`, and the ones after it keep their
    /// schedule. It runs until the simulator is dropped.
    ///
    /// # Panics
    ///
    /// Panics if the channel does not exist or the rate is not positive.
    pub fn share_channel(&self, channel: &str, messages_per_second: f64) {
        assert!(
            messages_per_second > 0.0,
            "SlackSim: another poster needs a positive rate"
        );
        let id = self
            .inner
            .state
            .lock()
            .channel_id(channel)
            .unwrap_or_else(|| panic!("SlackSim: no channel {channel:?}"));
        let state = self.inner.state.clone();
        let period = Duration::from_secs_f64(1.0 / messages_per_second);
        let poster = tokio::spawn(async move {
            let mut next = tokio::time::Instant::now();
            loop {
                tokio::time::sleep_until(next).await;
                next += period;
                loop {
                    let refused = {
                        let mut w = state.lock();
                        match w.take_slot(&id) {
                            Ok(()) => {
                                w.other.posted += 1;
                                let ts = w.new_ts();
                                let text = format!("another app's message #{}", w.other.posted);
                                w.messages.push(StoredMessage {
                                    message: SlackMessage {
                                        channel: id.clone(),
                                        ts,
                                        thread_ts: None,
                                        text,
                                        blocks: Value::Null,
                                        attachments: Value::Null,
                                        via: SlackVia::OtherApp,
                                        reply_broadcast: false,
                                        history: Vec::new(),
                                        replies: Vec::new(),
                                        posted_at: Instant::now(),
                                    },
                                    by_bot: false,
                                });
                                None
                            }
                            Err(secs) => {
                                w.other.refused += 1;
                                Some(secs)
                            }
                        }
                    };
                    match refused {
                        None => break,
                        Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
                    }
                }
                state.bump();
            }
        });
        self.inner
            .posters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(poster);
    }

    /// What the other apps sharing channels did so far.
    pub fn other_posts(&self) -> OtherPosts {
        self.inner.state.lock().other
    }

    /// Registers an incoming webhook posting to `channel` (name or id); returns its path,
    /// `/services/T0SIM/B…/<secret>`. The full URL is [`SlackSim::base_url`] + path.
    ///
    /// # Panics
    ///
    /// Panics if the channel does not exist.
    pub fn add_webhook(&self, channel: &str) -> String {
        let mut w = self.inner.state.lock();
        let id = w
            .channel_id(channel)
            .unwrap_or_else(|| panic!("SlackSim: no channel {channel:?}"));
        let n = w.webhooks.len() + 1;
        let secret: String = (0..24)
            .map(|i| char::from(b'a' + ((n * 7 + i * 13) % 26) as u8))
            .collect();
        let path = format!("/services/T0SIM/B{n:08}/{secret}");
        w.webhooks.insert(path.clone(), id);
        path
    }

    /// Registers an incoming webhook at a chosen path (`/services/...`).
    ///
    /// # Panics
    ///
    /// Panics if the channel does not exist or the path does not start with `/services/`.
    pub fn add_webhook_at(&self, channel: &str, path: &str) {
        assert!(
            path.starts_with("/services/"),
            "SlackSim: webhook paths start with /services/"
        );
        let mut w = self.inner.state.lock();
        let id = w
            .channel_id(channel)
            .unwrap_or_else(|| panic!("SlackSim: no channel {channel:?}"));
        w.webhooks.insert(path.to_owned(), id);
    }

    /// Archives a channel (or brings it back).
    pub fn set_archived(&self, channel: &str, archived: bool) {
        if let Some(c) = self.inner.state.lock().channel(channel) {
            c.spec.archived = archived;
        }
    }

    /// Scripts the next call to `endpoint` to fail with `fault` (calls consume faults in order).
    pub fn push_fault(&self, endpoint: SlackEndpoint, fault: SlackFault) {
        self.inner
            .state
            .lock()
            .faults
            .entry(endpoint)
            .or_default()
            .push_back(fault);
    }

    /// The top-level messages of a channel (name or id), oldest first, each with its thread
    /// replies; replies sent with `reply_broadcast` appear in both places, as in Slack.
    pub fn messages(&self, channel: &str) -> Vec<SlackMessage> {
        let w = self.inner.state.lock();
        let Some(id) = w.channel_id(channel) else {
            return Vec::new();
        };
        let in_channel: Vec<&SlackMessage> = w
            .messages
            .iter()
            .map(|m| &m.message)
            .filter(|m| m.channel == id)
            .collect();
        in_channel
            .iter()
            .filter(|m| m.thread_ts.is_none() || m.reply_broadcast)
            .map(|m| {
                let mut m = (*m).clone();
                if m.thread_ts.is_none() {
                    m.replies = in_channel
                        .iter()
                        .filter(|r| r.thread_ts.as_deref() == Some(m.ts.as_str()))
                        .map(|r| (*r).clone())
                        .collect();
                }
                m
            })
            .collect()
    }

    /// Every call so far, in arrival order.
    pub fn calls(&self) -> Vec<SlackCall> {
        self.inner.state.lock().calls.clone()
    }

    /// How many calls were answered 429.
    pub fn rate_limited_calls(&self) -> usize {
        self.inner
            .state
            .lock()
            .calls
            .iter()
            .filter(|c| c.status == 429)
            .count()
    }

    /// Waits until `check` gives `Some`, re-checking whenever a call arrives.
    ///
    /// # Panics
    ///
    /// Panics, naming `what` and listing the calls so far, if `timeout` passes first.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        what: &str,
        check: impl Fn(&SlackSim) -> Option<T>,
    ) -> T {
        let mut rx = self.inner.state.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            if let Some(v) = check(self) {
                return v;
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                break;
            }
        }
        if let Some(v) = check(self) {
            return v;
        }
        let calls: Vec<String> = self
            .calls()
            .iter()
            .map(|c| format!("{:?} {} -> {} {:?}", c.endpoint, c.path, c.status, c.error))
            .collect();
        panic!(
            "SlackSim: {what} not reached within {timeout:?}; calls so far ({}): {calls:#?}",
            calls.len()
        );
    }

    /// Waits until `channel` holds at least `n` top-level messages and returns them.
    ///
    /// # Panics
    ///
    /// Panics if `timeout` passes first.
    pub async fn wait_for_messages(
        &self,
        channel: &str,
        n: usize,
        timeout: Duration,
    ) -> Vec<SlackMessage> {
        self.wait_for(timeout, &format!("{n} messages in {channel}"), |s| {
            let m = s.messages(channel);
            (m.len() >= n).then_some(m)
        })
        .await
    }
}

/// Checks a message body against Slack's limits; returns every violation as
/// `"<what> [json-pointer:<where>]"` (empty when Slack would accept it). `text` longer than
/// 40 000 characters is not a violation (Slack truncates it).
pub fn validate_slack_message(body: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(obj) = body.as_object() else {
        return vec!["the message must be a JSON object [json-pointer:]".to_owned()];
    };
    let has_text = obj
        .get("text")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.trim().is_empty());
    let blocks = obj.get("blocks");
    let attachments = obj.get("attachments");
    let non_empty = |v: Option<&Value>| v.and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    if !has_text && !non_empty(blocks) && !non_empty(attachments) {
        errors.push(
            "no_text: one of text, blocks or attachments is required [json-pointer:]".to_owned(),
        );
    }
    if let Some(blocks) = blocks {
        check_blocks(blocks, "/blocks", &mut errors);
    }
    if let Some(attachments) = attachments {
        match attachments.as_array() {
            None => errors.push("must be an array [json-pointer:/attachments]".to_owned()),
            Some(list) => {
                if list.len() > SLACK_MAX_ATTACHMENTS {
                    errors.push(format!(
                        "too_many_attachments: no more than {SLACK_MAX_ATTACHMENTS} items allowed [json-pointer:/attachments]"
                    ));
                }
                for (i, a) in list.iter().enumerate() {
                    if let Some(b) = a.get("blocks") {
                        check_blocks(b, &format!("/attachments/{i}/blocks"), &mut errors);
                    }
                }
            }
        }
    }
    errors
}

/// Slack's length: UTF-16 code units (never fewer than characters).
fn slack_len(s: &str) -> usize {
    s.encode_utf16().count()
}

fn check_blocks(blocks: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(list) = blocks.as_array() else {
        errors.push(format!("must be an array [json-pointer:{at}]"));
        return;
    };
    if list.len() > SLACK_MAX_BLOCKS {
        errors.push(format!(
            "no more than {SLACK_MAX_BLOCKS} items allowed [json-pointer:{at}]"
        ));
    }
    for (i, block) in list.iter().enumerate() {
        let at = format!("{at}/{i}");
        let kind = block
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(id) = block.get("block_id").and_then(Value::as_str)
            && slack_len(id) > 255
        {
            errors.push(format!(
                "must be less than 256 characters [json-pointer:{at}/block_id]"
            ));
        }
        match kind {
            "header" => match block.get("text") {
                Some(t) => check_text(t, &format!("{at}/text"), SLACK_MAX_HEADER, true, errors),
                None => errors.push(format!("missing required field: text [json-pointer:{at}]")),
            },
            "section" => {
                let text = block.get("text");
                let fields = block.get("fields");
                if text.is_none() && fields.is_none() {
                    errors.push(format!(
                        "must provide either text or fields [json-pointer:{at}]"
                    ));
                }
                if let Some(t) = text {
                    check_text(
                        t,
                        &format!("{at}/text"),
                        SLACK_MAX_SECTION_TEXT,
                        false,
                        errors,
                    );
                }
                if let Some(f) = fields {
                    match f.as_array() {
                        Some(list) if list.is_empty() => {
                            errors.push(format!(
                                "must provide at least 1 item [json-pointer:{at}/fields]"
                            ));
                        }
                        Some(list) => {
                            if list.len() > SLACK_MAX_FIELDS {
                                errors.push(format!(
                                    "no more than {SLACK_MAX_FIELDS} items allowed [json-pointer:{at}/fields]"
                                ));
                            }
                            for (j, t) in list.iter().enumerate() {
                                check_text(
                                    t,
                                    &format!("{at}/fields/{j}"),
                                    SLACK_MAX_FIELD,
                                    false,
                                    errors,
                                );
                            }
                        }
                        None => errors.push(format!("must be an array [json-pointer:{at}/fields]")),
                    }
                }
            }
            "context" => match block.get("elements").and_then(Value::as_array) {
                Some(list) if !list.is_empty() => {
                    if list.len() > SLACK_MAX_CONTEXT_ELEMENTS {
                        errors.push(format!(
                            "no more than {SLACK_MAX_CONTEXT_ELEMENTS} items allowed [json-pointer:{at}/elements]"
                        ));
                    }
                    for (j, e) in list.iter().enumerate() {
                        if e.get("type").and_then(Value::as_str) == Some("image") {
                            continue;
                        }
                        check_text(
                            e,
                            &format!("{at}/elements/{j}"),
                            SLACK_MAX_SECTION_TEXT,
                            false,
                            errors,
                        );
                    }
                }
                _ => errors.push(format!(
                    "must provide at least 1 item [json-pointer:{at}/elements]"
                )),
            },
            "actions" => match block.get("elements").and_then(Value::as_array) {
                Some(list) if !list.is_empty() && list.len() <= 25 => {
                    for (j, e) in list.iter().enumerate() {
                        if let Some(t) = e.get("text") {
                            check_text(t, &format!("{at}/elements/{j}/text"), 75, true, errors);
                        }
                        if e.get("url")
                            .and_then(Value::as_str)
                            .is_some_and(|u| slack_len(u) > 3000)
                        {
                            errors.push(format!("must be less than 3001 characters [json-pointer:{at}/elements/{j}/url]"));
                        }
                    }
                }
                _ => errors.push(format!(
                    "must provide 1 to 25 items [json-pointer:{at}/elements]"
                )),
            },
            "divider" | "image" | "rich_text" | "file" | "input" | "video" => {}
            _ => errors.push(format!(
                "unsupported block type {kind:?} [json-pointer:{at}/type]"
            )),
        }
    }
}

fn check_text(t: &Value, at: &str, max: usize, plain_only: bool, errors: &mut Vec<String>) {
    let kind = t.get("type").and_then(Value::as_str).unwrap_or_default();
    match kind {
        "plain_text" => {}
        "mrkdwn" if !plain_only => {}
        _ => {
            let allowed = if plain_only {
                "plain_text"
            } else {
                "plain_text or mrkdwn"
            };
            errors.push(format!(
                "must be a text object of type {allowed} [json-pointer:{at}/type]"
            ));
        }
    }
    match t.get("text").and_then(Value::as_str) {
        None => errors.push(format!("missing required field: text [json-pointer:{at}]")),
        Some("") => errors.push(format!(
            "must be more than 0 characters [json-pointer:{at}/text]"
        )),
        Some(s) if slack_len(s) > max => {
            errors.push(format!(
                "must be less than {} characters [json-pointer:{at}/text]",
                max + 1
            ));
        }
        Some(_) => {}
    }
}

/// The error code for a list of violations.
fn violation_code(errors: &[String]) -> &'static str {
    if errors.iter().any(|e| e.starts_with("no_text")) {
        "no_text"
    } else if errors.iter().any(|e| e.starts_with("too_many_attachments")) {
        "too_many_attachments"
    } else {
        "invalid_blocks"
    }
}

/// The status a webhook answers with for an error code.
fn webhook_status(code: &str) -> u16 {
    match code {
        "action_prohibited" | "invalid_token" => 403,
        "channel_not_found" | "no_service" => 404,
        "channel_is_archived" => 410,
        "rollup_error" => 500,
        "rate_limited" => 429,
        _ => 400,
    }
}

struct Outcome {
    status: u16,
    body: Value,
    error: Option<String>,
    retry_after: Option<u64>,
    ts: Option<String>,
    plain: Option<String>,
}

impl Outcome {
    fn api_ok(body: Value, ts: Option<String>) -> Self {
        Outcome {
            status: 200,
            body,
            error: None,
            retry_after: None,
            ts,
            plain: None,
        }
    }

    fn api_err(code: &str) -> Self {
        Self::api_err_with(code, Vec::new())
    }

    fn api_err_with(code: &str, errors: Vec<String>) -> Self {
        let mut body = json!({"ok": false, "error": code});
        if !errors.is_empty() {
            body["errors"] = json!(errors);
        }
        Outcome {
            status: 200,
            body,
            error: Some(code.to_owned()),
            retry_after: None,
            ts: None,
            plain: None,
        }
    }

    fn rate_limited(endpoint: SlackEndpoint, secs: u64) -> Self {
        let (body, plain) = if endpoint == SlackEndpoint::Webhook {
            (Value::Null, Some("rate_limited".to_owned()))
        } else {
            (json!({"ok": false, "error": "ratelimited"}), None)
        };
        Outcome {
            status: 429,
            body,
            error: Some("ratelimited".to_owned()),
            retry_after: Some(secs),
            ts: None,
            plain,
        }
    }

    fn webhook_err(code: &str) -> Self {
        Outcome {
            status: webhook_status(code),
            body: Value::Null,
            error: Some(code.to_owned()),
            retry_after: None,
            ts: None,
            plain: Some(code.to_owned()),
        }
    }

    fn webhook_ok(ts: String) -> Self {
        Outcome {
            status: 200,
            body: Value::Null,
            error: None,
            retry_after: None,
            ts: Some(ts),
            plain: Some("ok".to_owned()),
        }
    }

    fn fault(endpoint: SlackEndpoint, fault: SlackFault) -> Self {
        match fault {
            SlackFault::RateLimited { retry_after_secs } => {
                Self::rate_limited(endpoint, retry_after_secs)
            }
            SlackFault::Error(code) if endpoint == SlackEndpoint::Webhook => {
                Self::webhook_err(&code)
            }
            SlackFault::Error(code) => Self::api_err(&code),
            SlackFault::Status(status) => Outcome {
                status,
                body: Value::Null,
                error: Some(format!("http_{status}")),
                retry_after: None,
                ts: None,
                plain: Some(format!("scripted {status}")),
            },
        }
    }

    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = match self.plain {
            Some(text) => (
                status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                text,
            )
                .into_response(),
            None => (
                status,
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                self.body.to_string(),
            )
                .into_response(),
        };
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

fn headers_of(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn record(
    state: &Sim,
    endpoint: SlackEndpoint,
    path: String,
    headers: &HeaderMap,
    body: Value,
    outcome: Outcome,
) -> Response {
    {
        let mut w = state.lock();
        w.calls.push(SlackCall {
            endpoint,
            path,
            headers: headers_of(headers),
            body,
            status: outcome.status,
            error: outcome.error.clone(),
            retry_after: outcome.retry_after,
            ts: outcome.ts.clone(),
            at: Instant::now(),
        });
    }
    state.bump();
    outcome.into_response()
}

async fn unknown(
    State(state): State<Arc<Sim>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let outcome = Outcome {
        status: 404,
        body: Value::Null,
        error: Some("unknown_method".to_owned()),
        retry_after: None,
        ts: None,
        plain: Some("unknown_method".to_owned()),
    };
    record(
        &state,
        SlackEndpoint::Unknown,
        uri.path().to_owned(),
        &headers,
        body,
        outcome,
    )
}

async fn api(
    State(state): State<Arc<Sim>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let endpoint = match method.as_str() {
        "chat.postMessage" => SlackEndpoint::PostMessage,
        "chat.update" => SlackEndpoint::Update,
        "auth.test" => SlackEndpoint::AuthTest,
        _ => SlackEndpoint::Unknown,
    };
    let parsed: Option<Value> = if raw.is_empty() {
        Some(json!({}))
    } else {
        serde_json::from_slice(&raw).ok()
    };
    let body = parsed.clone().unwrap_or(Value::Null);
    let outcome = {
        let mut w = state.lock();
        api_outcome(&mut w, endpoint, &headers, parsed)
    };
    record(
        &state,
        endpoint,
        format!("/api/{method}"),
        &headers,
        body,
        outcome,
    )
}

fn api_outcome(
    w: &mut World,
    endpoint: SlackEndpoint,
    headers: &HeaderMap,
    body: Option<Value>,
) -> Outcome {
    if endpoint == SlackEndpoint::Unknown {
        return Outcome::api_err("unknown_method");
    }
    if let Some(fault) = w.faults.get_mut(&endpoint).and_then(VecDeque::pop_front) {
        return Outcome::fault(endpoint, fault);
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = token else {
        return Outcome::api_err("not_authed");
    };
    if !w.tokens.iter().any(|t| t == token) {
        return Outcome::api_err("invalid_auth");
    }
    let Some(body) = body else {
        return Outcome::api_err("invalid_json");
    };
    match endpoint {
        SlackEndpoint::AuthTest => Outcome::api_ok(
            json!({"ok": true, "url": "https://sim-workspace.slack.com/", "team": "Sim Workspace",
                   "user": "alert-publisher", "team_id": "T0SIM", "user_id": "U0SIM", "bot_id": "B0SIM"}),
            None,
        ),
        SlackEndpoint::PostMessage => post_message(w, &body),
        SlackEndpoint::Update => {
            // Tier 3: every call counts, whatever it asks for.
            if let Err(secs) = w.take_update_slot(token) {
                return Outcome::rate_limited(SlackEndpoint::Update, secs);
            }
            update(w, &body)
        }
        SlackEndpoint::Webhook | SlackEndpoint::Unknown => Outcome::api_err("unknown_method"),
    }
}

fn content_of(body: &Value) -> (String, bool) {
    let text = body.get("text").and_then(Value::as_str).unwrap_or_default();
    if slack_len(text) > SLACK_MAX_TEXT {
        let mut cut = String::new();
        let mut len = 0;
        for c in text.chars() {
            len += c.len_utf16();
            if len > SLACK_MAX_TEXT {
                break;
            }
            cut.push(c);
        }
        (cut, true)
    } else {
        (text.to_owned(), false)
    }
}

fn post_message(w: &mut World, body: &Value) -> Outcome {
    let channel = body
        .get("channel")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(c) = w.channel(channel) else {
        return Outcome::api_err("channel_not_found");
    };
    if c.spec.archived {
        return Outcome::api_err("is_archived");
    }
    if !c.spec.bot_is_member {
        return Outcome::api_err("not_in_channel");
    }
    let channel_id = c.id.clone();
    let violations = validate_slack_message(body);
    if !violations.is_empty() {
        let code = violation_code(&violations);
        return Outcome::api_err_with(code, violations);
    }
    let thread_ts = body
        .get("thread_ts")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(parent) = &thread_ts {
        let exists = w.messages.iter().any(|m| {
            m.message.channel == channel_id
                && &m.message.ts == parent
                && m.message.thread_ts.is_none()
        });
        if !exists {
            return Outcome::api_err("thread_not_found");
        }
    }
    if let Err(secs) = w.take_slot(&channel_id) {
        return Outcome::rate_limited(SlackEndpoint::PostMessage, secs);
    }
    let ts = w.new_ts();
    let (text, _) = content_of(body);
    let message = SlackMessage {
        channel: channel_id.clone(),
        ts: ts.clone(),
        thread_ts,
        text: text.clone(),
        blocks: body.get("blocks").cloned().unwrap_or(Value::Null),
        attachments: body.get("attachments").cloned().unwrap_or(Value::Null),
        via: SlackVia::Api,
        reply_broadcast: body
            .get("reply_broadcast")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        history: Vec::new(),
        replies: Vec::new(),
        posted_at: Instant::now(),
    };
    w.messages.push(StoredMessage {
        message,
        by_bot: true,
    });
    Outcome::api_ok(
        json!({"ok": true, "channel": channel_id, "ts": ts,
               "message": {"type": "message", "text": text, "ts": ts, "bot_id": "B0SIM"}}),
        Some(ts),
    )
}

fn update(w: &mut World, body: &Value) -> Outcome {
    let channel = body
        .get("channel")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // chat.update wants the channel id, not a name.
    let Some(c) = w.channels.iter().find(|c| c.id == channel) else {
        return Outcome::api_err("channel_not_found");
    };
    if c.spec.archived {
        return Outcome::api_err("is_archived");
    }
    let ts = body
        .get("ts")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let violations = validate_slack_message(body);
    let Some(stored) = w
        .messages
        .iter_mut()
        .find(|m| m.message.channel == channel && m.message.ts == ts)
    else {
        return Outcome::api_err("message_not_found");
    };
    if !stored.by_bot {
        return Outcome::api_err("cant_update_message");
    }
    if !violations.is_empty() {
        let code = violation_code(&violations);
        return Outcome::api_err_with(code, violations);
    }
    let m = &mut stored.message;
    m.history
        .push(json!({"text": m.text, "blocks": m.blocks, "attachments": m.attachments}));
    let (text, _) = content_of(body);
    m.text = text.clone();
    // Like Slack: blocks / attachments not given are kept.
    if let Some(b) = body.get("blocks") {
        m.blocks = b.clone();
    }
    if let Some(a) = body.get("attachments") {
        m.attachments = a.clone();
    }
    Outcome::api_ok(
        json!({"ok": true, "channel": channel, "ts": ts, "text": text}),
        Some(ts),
    )
}

async fn webhook(
    State(state): State<Arc<Sim>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let parsed: Option<Value> = serde_json::from_slice(&raw).ok();
    let body = parsed.clone().unwrap_or(Value::Null);
    let outcome = {
        let mut w = state.lock();
        webhook_outcome(&mut w, &path, parsed)
    };
    record(
        &state,
        SlackEndpoint::Webhook,
        path,
        &headers,
        body,
        outcome,
    )
}

fn webhook_outcome(w: &mut World, path: &str, body: Option<Value>) -> Outcome {
    if let Some(fault) = w
        .faults
        .get_mut(&SlackEndpoint::Webhook)
        .and_then(VecDeque::pop_front)
    {
        return Outcome::fault(SlackEndpoint::Webhook, fault);
    }
    let Some(channel_id) = w.webhooks.get(path).cloned() else {
        return Outcome::webhook_err("no_service");
    };
    let Some(c) = w.channel(&channel_id) else {
        return Outcome::webhook_err("channel_not_found");
    };
    if c.spec.archived {
        return Outcome::webhook_err("channel_is_archived");
    }
    let Some(body) = body.filter(Value::is_object) else {
        return Outcome::webhook_err("invalid_payload");
    };
    let violations = validate_slack_message(&body);
    if !violations.is_empty() {
        return Outcome::webhook_err(violation_code(&violations));
    }
    if let Err(secs) = w.take_slot(&channel_id) {
        return Outcome::rate_limited(SlackEndpoint::Webhook, secs);
    }
    let ts = w.new_ts();
    let (text, _) = content_of(&body);
    let message = SlackMessage {
        channel: channel_id,
        ts: ts.clone(),
        thread_ts: None,
        text,
        blocks: body.get("blocks").cloned().unwrap_or(Value::Null),
        attachments: body.get("attachments").cloned().unwrap_or(Value::Null),
        via: SlackVia::Webhook,
        reply_broadcast: false,
        history: Vec::new(),
        replies: Vec::new(),
        posted_at: Instant::now(),
    };
    w.messages.push(StoredMessage {
        message,
        by_bot: false,
    });
    Outcome::webhook_ok(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> Value {
        json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    }

    #[test]
    fn limits() {
        assert!(validate_slack_message(&json!({"text": "hi"})).is_empty());
        assert!(validate_slack_message(&json!({"text": " "}))[0].starts_with("no_text"));
        let fifty: Vec<Value> = (0..50).map(|_| section("x")).collect();
        assert!(validate_slack_message(&json!({"blocks": fifty})).is_empty());
        let fifty_one: Vec<Value> = (0..51).map(|_| section("x")).collect();
        assert!(
            validate_slack_message(&json!({"blocks": fifty_one}))[0].contains("no more than 50")
        );
        let long = "a".repeat(3001);
        assert!(
            validate_slack_message(&json!({"blocks": [section(&long)]}))[0]
                .contains("/blocks/0/text/text")
        );
        // an astral character counts twice
        let emoji = "😀".repeat(1501);
        assert!(!validate_slack_message(&json!({"blocks": [section(&emoji)]})).is_empty());
        let header = json!({"type": "header", "text": {"type": "mrkdwn", "text": "h"}});
        assert!(validate_slack_message(&json!({"blocks": [header]}))[0].contains("plain_text"));
        let fields: Vec<Value> = (0..11)
            .map(|_| json!({"type": "mrkdwn", "text": "f"}))
            .collect();
        let e = validate_slack_message(&json!({"blocks": [{"type": "section", "fields": fields}]}));
        assert!(e[0].contains("no more than 10"), "{e:?}");
        let e = validate_slack_message(
            &json!({"blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f".repeat(2001)}]}]}),
        );
        assert!(e[0].contains("/blocks/0/fields/0/text"), "{e:?}");
        let e = validate_slack_message(&json!({"blocks": [{"type": "sparkle"}]}));
        assert!(e[0].contains("unsupported block type"), "{e:?}");
        let e = validate_slack_message(&json!({"blocks": [section("")]}));
        assert!(e[0].contains("more than 0"), "{e:?}");
    }

    #[test]
    fn webhook_statuses() {
        for (code, status) in [
            ("invalid_payload", 400),
            ("user_not_found", 400),
            ("action_prohibited", 403),
            ("channel_not_found", 404),
            ("channel_is_archived", 410),
            ("rollup_error", 500),
        ] {
            assert_eq!(webhook_status(code), status, "{code}");
        }
    }
}
