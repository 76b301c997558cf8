//! [`PagerDutySim`]: a simulated PagerDuty Events API v2 on loopback.
//!
//! It enforces what `shared/CONTRACTS.md` says about PagerDuty, so a publisher that passes
//! against it sends what the real API accepts:
//!
//! * `POST /v2/enqueue` (alert events) and `POST /v2/change/enqueue` (change events), JSON;
//!   anything else is 404;
//! * the whole event at most 512 KB (524 288 bytes);
//! * `routing_key` required, 32 characters;
//! * `event_action` one of `trigger`, `acknowledge`, `resolve`; `dedup_key` at most 255
//!   characters, required for acknowledge and resolve;
//! * a trigger needs `payload` with `summary` (at most 1024 characters), `source` and
//!   `severity` (critical, error, warning, info); `timestamp` must be ISO 8601; `component`,
//!   `group`, `class` strings; `images[].src` https; `links[].href` present;
//! * a change event has `payload.summary` (at most 1024 characters), optional `source`,
//!   `timestamp`, `custom_details`, `links`, and no `event_action` or `dedup_key`;
//! * every violation is a 400 in PagerDuty's shape,
//!   `{"status":"invalid event","message":"Event object is invalid","errors":[...]}`, naming
//!   each problem (never echoing the routing key);
//! * at most 120 accepted events per routing key in any 60 s (sliding; both configurable so
//!   tests stay short); past it 429 `{"status":"throttle event",...}`, without `Retry-After`
//!   unless configured — like PagerDuty;
//! * 202 `{"status":"success","message":"Event processed","dedup_key":"..."}` (a generated key
//!   when a trigger named none).
//!
//! It keeps PagerDuty's alert state per (routing key, dedup key): a trigger opens an alert (or
//! adds to the open one), acknowledge and resolve act only on an open alert with the same
//! keys and are otherwise ignored (still 202). A trigger after a resolve opens a new alert.
//! Tests read [`PagerDutySim::alerts`], [`PagerDutySim::change_events`] and every request
//! ([`PagerDutySim::requests`]); failures are scripted with [`PdFault`].

use crate::http::DropConnection;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// PagerDuty's size limit of one event, in bytes.
pub const PD_MAX_EVENT_BYTES: usize = 512 * 1024;

/// Settings of a [`PagerDutySim`].
#[derive(Debug, Clone)]
pub struct PagerDutySimConfig {
    /// Accepted events allowed per routing key in one sliding window. Default 120.
    pub events_per_window: u32,
    /// Length of the sliding window. Default 60 s.
    pub window: Duration,
    /// `Retry-After` (seconds) on rate-limit 429s. Default none, as PagerDuty sends none.
    pub rate_limit_retry_after: Option<u64>,
    /// Largest accepted event in bytes. Default [`PD_MAX_EVENT_BYTES`].
    pub max_event_bytes: usize,
}

impl Default for PagerDutySimConfig {
    fn default() -> Self {
        Self {
            events_per_window: 120,
            window: Duration::from_secs(60),
            rate_limit_retry_after: None,
            max_event_bytes: PD_MAX_EVENT_BYTES,
        }
    }
}

/// A scripted failure, used for the next request instead of the normal answer.
#[derive(Debug, Clone)]
pub enum PdFault {
    /// This status with a small JSON body (PagerDuty's 400 shape for 400).
    Status(u16),
    /// `429` with PagerDuty's throttle body and, if given, `Retry-After`.
    TooManyRequests {
        /// Value of `Retry-After` (seconds or an HTTP date).
        retry_after: Option<String>,
    },
    /// A fully specified answer.
    Respond {
        /// HTTP status.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// Body text.
        body: String,
    },
    /// Wait this long (after reading the request), then answer normally.
    Slow(Duration),
    /// Read the request, then close the connection without an answer.
    Reset,
}

/// PagerDuty's state of one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PdAlertStatus {
    /// Open.
    Triggered,
    /// Open and acknowledged.
    Acknowledged,
    /// Closed.
    Resolved,
}

/// One PagerDuty alert the simulator holds.
#[derive(Debug, Clone, PartialEq)]
pub struct PdAlert {
    /// The dedup key.
    pub dedup_key: String,
    /// The routing key it was opened with.
    pub routing_key: String,
    /// Open, acknowledged or resolved.
    pub status: PdAlertStatus,
    /// The `payload` of the first trigger.
    pub payload: Value,
    /// The `payload` of the latest trigger.
    pub last_payload: Value,
    /// `client` of the first trigger.
    pub client: Option<String>,
    /// `client_url` of the first trigger.
    pub client_url: Option<String>,
    /// `links` of the first trigger (`[]` when none).
    pub links: Value,
    /// `images` of the first trigger (`[]` when none).
    pub images: Value,
    /// Every action applied to it, in order (`trigger`, `acknowledge`, `resolve`).
    pub log: Vec<String>,
}

impl PdAlert {
    /// A string field of the first trigger's payload, or `""`.
    pub fn field(&self, name: &str) -> &str {
        self.payload
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// How many triggers it received.
    pub fn triggers(&self) -> usize {
        self.log.iter().filter(|a| a.as_str() == "trigger").count()
    }
}

/// One change event the simulator accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct PdChangeEvent {
    /// Routing key it came with.
    pub routing_key: String,
    /// Its payload.
    pub payload: Value,
    /// Its links (`[]` when none).
    pub links: Value,
}

/// One request the simulator received.
#[derive(Debug, Clone)]
pub struct PdRequest {
    /// Method.
    pub method: String,
    /// Path (with query, if any).
    pub path: String,
    /// Headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
    /// The status answered; `None` when the connection was dropped (or is still in a delay).
    pub status: Option<u16>,
    /// The JSON answered, when it was JSON.
    pub answer: Option<Value>,
    /// When it arrived.
    pub received_at: Instant,
}

impl PdRequest {
    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The first value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A simulated PagerDuty Events API v2 listening on `127.0.0.1` (random port). Cheap to
/// clone; the server stops when the last clone is dropped.
#[derive(Clone)]
pub struct PagerDutySim {
    inner: Arc<Inner>,
}

struct Inner {
    addr: SocketAddr,
    state: Arc<State>,
    server: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.server.abort();
    }
}

struct State {
    data: Mutex<Data>,
    changed: watch::Sender<u64>,
}

struct Data {
    config: PagerDutySimConfig,
    requests: Vec<PdRequest>,
    script: VecDeque<PdFault>,
    alerts: Vec<PdAlert>,
    /// (routing key, dedup key) → index of the latest alert with those keys.
    current: HashMap<(String, String), usize>,
    changes: Vec<PdChangeEvent>,
    /// Accepted events per routing key, for the sliding window.
    accepted: HashMap<String, VecDeque<Instant>>,
    next_key: u64,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }
}

impl fmt::Debug for PagerDutySim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.inner.state.lock();
        f.debug_struct("PagerDutySim")
            .field("addr", &self.inner.addr)
            .field("requests", &data.requests.len())
            .field("alerts", &data.alerts.len())
            .field("change_events", &data.changes.len())
            .finish()
    }
}

impl PagerDutySim {
    /// Starts with the default (PagerDuty's own) limits.
    ///
    /// # Panics
    ///
    /// Panics if binding fails or when called outside a Tokio runtime.
    pub async fn start() -> PagerDutySim {
        Self::start_with(PagerDutySimConfig::default()).await
    }

    /// Starts with the given limits.
    ///
    /// # Panics
    ///
    /// Panics if binding fails or when called outside a Tokio runtime.
    pub async fn start_with(config: PagerDutySimConfig) -> PagerDutySim {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("PagerDutySim: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("PagerDutySim: local_addr");
        let state = Arc::new(State {
            data: Mutex::new(Data {
                config,
                requests: Vec::new(),
                script: VecDeque::new(),
                alerts: Vec::new(),
                current: HashMap::new(),
                changes: Vec::new(),
                accepted: HashMap::new(),
                next_key: 0,
            }),
            changed: watch::Sender::new(0),
        });
        let server = tokio::spawn(crate::http::serve(listener, Arc::clone(&state), handle));
        PagerDutySim {
            inner: Arc::new(Inner {
                addr,
                state,
                server,
            }),
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The events base URL, `http://127.0.0.1:PORT` (a target's `url`).
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// Appends failures to the script (a FIFO); each request consumes one.
    pub fn script(&self, faults: impl IntoIterator<Item = PdFault>) {
        self.inner.state.lock().script.extend(faults);
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<PdRequest> {
        self.inner.state.lock().requests.clone()
    }

    /// How many requests were answered with `status`.
    pub fn count_status(&self, status: u16) -> usize {
        self.inner
            .state
            .lock()
            .requests
            .iter()
            .filter(|r| r.status == Some(status))
            .count()
    }

    /// Every alert, in the order they were opened.
    pub fn alerts(&self) -> Vec<PdAlert> {
        self.inner.state.lock().alerts.clone()
    }

    /// The latest alert with this dedup key (any routing key).
    pub fn alert(&self, dedup_key: &str) -> Option<PdAlert> {
        self.inner
            .state
            .lock()
            .alerts
            .iter()
            .rev()
            .find(|a| a.dedup_key == dedup_key)
            .cloned()
    }

    /// Every accepted change event.
    pub fn change_events(&self) -> Vec<PdChangeEvent> {
        self.inner.state.lock().changes.clone()
    }

    /// Waits until `check` gives a value, and returns it.
    ///
    /// # Panics
    ///
    /// Panics, describing every request received, if `timeout` passes first.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        what: &str,
        check: impl Fn(&PagerDutySim) -> Option<T>,
    ) -> T {
        let mut rx = self.inner.state.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            if let Some(v) = check(self) {
                return v;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => break,
            }
        }
        if let Some(v) = check(self) {
            return v;
        }
        let data = self.inner.state.lock();
        let summary: Vec<String> = data
            .requests
            .iter()
            .map(|r| {
                format!(
                    "{} {} -> {:?} {}",
                    r.method,
                    r.path,
                    r.status,
                    r.answer.as_ref().map(Value::to_string).unwrap_or_default()
                )
            })
            .collect();
        panic!(
            "PagerDutySim at {}: {what} not reached within {timeout:?}; alerts: {:#?}; requests ({}): {summary:#?}",
            self.inner.addr,
            data.alerts,
            summary.len()
        );
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Answer {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body,
        }
    }

    fn invalid(errors: Vec<String>) -> Self {
        Self::json(
            400,
            json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors}),
        )
    }
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let received_at = Instant::now();
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map_err(|_| DropConnection)?.to_bytes();
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let headers = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let (index, fault) = {
        let mut data = state.lock();
        let fault = data.script.pop_front();
        data.requests.push(PdRequest {
            method: parts.method.as_str().to_owned(),
            path: path.clone(),
            headers,
            body: body.clone(),
            status: None,
            answer: None,
            received_at,
        });
        (data.requests.len() - 1, fault)
    };
    state.bump();

    let answer = match fault {
        Some(PdFault::Reset) => {
            state.bump();
            return Err(DropConnection);
        }
        Some(PdFault::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            None
        }
        Some(PdFault::Status(status)) => Some(if status == 400 {
            Answer::invalid(vec!["scripted failure".to_owned()])
        } else {
            Answer::json(
                status,
                json!({"status": "error", "message": format!("scripted {status}")}),
            )
        }),
        Some(PdFault::TooManyRequests { retry_after }) => {
            let mut a = throttle();
            a.headers
                .extend(retry_after.map(|v| ("retry-after".to_owned(), v)));
            Some(a)
        }
        Some(PdFault::Respond {
            status,
            headers,
            body,
        }) => {
            let mut data = state.lock();
            if let Some(r) = data.requests.get_mut(index) {
                r.status = Some(status);
                r.answer = serde_json::from_str(&body).ok();
            }
            drop(data);
            state.bump();
            return Ok(response(status, &headers, Bytes::from(body)));
        }
        None => None,
    };
    let answer = match answer {
        Some(a) => a,
        None => {
            let mut data = state.lock();
            process(
                &mut data,
                &parts.method,
                parts.uri.path(),
                &body,
                Instant::now(),
            )
        }
    };
    {
        let mut data = state.lock();
        if let Some(r) = data.requests.get_mut(index) {
            r.status = Some(answer.status);
            r.answer = Some(answer.body.clone());
        }
    }
    state.bump();
    let bytes = Bytes::from(serde_json::to_vec(&answer.body).unwrap_or_default());
    Ok(response(answer.status, &answer.headers, bytes))
}

fn response(status: u16, headers: &[(String, String)], body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.insert(n, v);
        }
    }
    resp
}

fn throttle() -> Answer {
    Answer::json(
        429,
        json!({"status": "throttle event", "message": "Requests for this service are arriving too quickly.  Please retry later."}),
    )
}

/// Validates and applies one request.
fn process(data: &mut Data, method: &Method, path: &str, body: &[u8], now: Instant) -> Answer {
    let change = match path {
        "/v2/enqueue" => false,
        "/v2/change/enqueue" => true,
        _ => {
            return Answer::json(
                404,
                json!({"status": "not found", "message": format!("no endpoint {path}")}),
            );
        }
    };
    if method != Method::POST {
        return Answer::json(
            405,
            json!({"status": "method not allowed", "message": "use POST"}),
        );
    }
    if body.len() > data.config.max_event_bytes {
        return Answer::invalid(vec![format!(
            "Event object is too large: {} bytes (the limit is {})",
            body.len(),
            data.config.max_event_bytes
        )]);
    }
    let Ok(Value::Object(event)) = serde_json::from_slice::<Value>(body) else {
        return Answer::invalid(vec!["Event object is not a JSON object".to_owned()]);
    };
    let routing_key = match event.get("routing_key") {
        Some(Value::String(k)) if k.chars().count() == 32 => k.clone(),
        Some(Value::String(k)) if k.is_empty() => {
            return Answer::invalid(vec!["'routing_key' is missing or blank".to_owned()]);
        }
        Some(Value::String(k)) => {
            return Answer::invalid(vec![format!(
                "'routing_key' must be 32 characters (got {})",
                k.chars().count()
            )]);
        }
        Some(_) => return Answer::invalid(vec!["'routing_key' must be a string".to_owned()]),
        None => return Answer::invalid(vec!["'routing_key' is missing or blank".to_owned()]),
    };
    let window = data.config.window;
    let limit = data.config.events_per_window as usize;
    let recent = data.accepted.entry(routing_key.clone()).or_default();
    while recent
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        recent.pop_front();
    }
    if recent.len() >= limit {
        let mut a = throttle();
        if let Some(secs) = data.config.rate_limit_retry_after {
            a.headers.push(("retry-after".to_owned(), secs.to_string()));
        }
        return a;
    }
    let errors = if change {
        validate_change(&event)
    } else {
        validate_alert(&event)
    };
    if !errors.is_empty() {
        return Answer::invalid(errors);
    }
    if let Some(recent) = data.accepted.get_mut(&routing_key) {
        recent.push_back(now);
    }
    let get = |name: &str| event.get(name).cloned();
    if change {
        data.changes.push(PdChangeEvent {
            routing_key,
            payload: get("payload").unwrap_or(Value::Null),
            links: get("links").unwrap_or_else(|| json!([])),
        });
        return Answer::json(
            202,
            json!({"status": "success", "message": "Change event processed"}),
        );
    }
    let action = event
        .get("event_action")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let dedup_key = match event.get("dedup_key").and_then(Value::as_str) {
        Some(k) => k.to_owned(),
        None => {
            data.next_key += 1;
            format!("{:032x}", data.next_key)
        }
    };
    let slot = (routing_key.clone(), dedup_key.clone());
    let open = data
        .current
        .get(&slot)
        .copied()
        .filter(|i| data.alerts[*i].status != PdAlertStatus::Resolved);
    match (action.as_str(), open) {
        ("trigger", Some(i)) => {
            let alert = &mut data.alerts[i];
            alert.last_payload = get("payload").unwrap_or(Value::Null);
            alert.log.push(action);
        }
        ("trigger", None) => {
            let payload = get("payload").unwrap_or(Value::Null);
            data.alerts.push(PdAlert {
                dedup_key: dedup_key.clone(),
                routing_key,
                status: PdAlertStatus::Triggered,
                last_payload: payload.clone(),
                payload,
                client: event
                    .get("client")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                client_url: event
                    .get("client_url")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                links: get("links").unwrap_or_else(|| json!([])),
                images: get("images").unwrap_or_else(|| json!([])),
                log: vec![action],
            });
            data.current.insert(slot, data.alerts.len() - 1);
        }
        ("acknowledge", Some(i)) => {
            data.alerts[i].status = PdAlertStatus::Acknowledged;
            data.alerts[i].log.push(action);
        }
        ("resolve", Some(i)) => {
            data.alerts[i].status = PdAlertStatus::Resolved;
            data.alerts[i].log.push(action);
        }
        // acknowledge / resolve of no open alert: accepted and ignored, as PagerDuty does
        _ => {}
    }
    Answer::json(
        202,
        json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key}),
    )
}

fn is_iso8601(s: &str) -> bool {
    chrono_like_rfc3339(s)
}

/// RFC 3339 / ISO 8601 date-time check without a date library: `YYYY-MM-DDTHH:MM:SS`,
/// optional fraction, then `Z` or `±HH:MM`.
fn chrono_like_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
    {
        return false;
    }
    if !matches!(b[10], b'T' | b't' | b' ')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            b.len() == i + 6 && digits(i + 1..i + 3) && b[i + 3] == b':' && digits(i + 4..i + 6)
        }
        _ => false,
    }
}

fn check_links(event: &serde_json::Map<String, Value>, errors: &mut Vec<String>) {
    match event.get("links") {
        None => {}
        Some(Value::Array(links)) => {
            for (i, link) in links.iter().enumerate() {
                if !link.get("href").is_some_and(Value::is_string) {
                    errors.push(format!("'links[{i}].href' is missing or not a string"));
                }
                if link.get("text").is_some_and(|t| !t.is_string()) {
                    errors.push(format!("'links[{i}].text' must be a string"));
                }
            }
        }
        Some(_) => errors.push("'links' must be an array".to_owned()),
    }
}

fn check_summary(payload: &serde_json::Map<String, Value>, errors: &mut Vec<String>) {
    match payload.get("summary") {
        Some(Value::String(s)) if s.trim().is_empty() => {
            errors.push("'payload.summary' is missing or blank".to_owned())
        }
        Some(Value::String(s)) if s.chars().count() > 1024 => {
            errors.push(format!(
                "'payload.summary' is longer than 1024 characters ({})",
                s.chars().count()
            ));
        }
        Some(Value::String(_)) => {}
        _ => errors.push("'payload.summary' is missing or blank".to_owned()),
    }
    if payload
        .get("timestamp")
        .is_some_and(|t| !t.as_str().is_some_and(is_iso8601))
    {
        errors.push("'payload.timestamp' is not a valid ISO 8601 timestamp".to_owned());
    }
}

fn validate_alert(event: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut errors = Vec::new();
    let action = event.get("event_action").and_then(Value::as_str);
    if !matches!(action, Some("trigger" | "acknowledge" | "resolve")) {
        errors.push(
            "'event_action' is missing or invalid (trigger, acknowledge or resolve)".to_owned(),
        );
    }
    match event.get("dedup_key") {
        None if matches!(action, Some("acknowledge" | "resolve")) => {
            errors.push("'dedup_key' is required for acknowledge and resolve".to_owned());
        }
        None => {}
        Some(Value::String(k)) if k.is_empty() => {
            errors.push("'dedup_key' must not be empty".to_owned())
        }
        Some(Value::String(k)) if k.chars().count() > 255 => {
            errors.push(format!(
                "'dedup_key' is longer than 255 characters ({})",
                k.chars().count()
            ));
        }
        Some(Value::String(_)) => {}
        Some(_) => errors.push("'dedup_key' must be a string".to_owned()),
    }
    match event.get("payload") {
        // PagerDuty checks the payload of a trigger; acknowledge and resolve ignore it.
        Some(Value::Object(payload)) if action == Some("trigger") => {
            check_summary(payload, &mut errors);
            let source = payload.get("source").and_then(Value::as_str);
            if source.is_none_or(|s| s.trim().is_empty()) {
                errors.push("'payload.source' is missing or blank".to_owned());
            }
            if !matches!(
                payload.get("severity").and_then(Value::as_str),
                Some("critical" | "error" | "warning" | "info")
            ) {
                errors.push(
                    "'payload.severity' must be one of critical, error, warning, info".to_owned(),
                );
            }
            for name in ["component", "group", "class"] {
                if payload.get(name).is_some_and(|v| !v.is_string()) {
                    errors.push(format!("'payload.{name}' must be a string"));
                }
            }
        }
        Some(Value::Object(_)) | None if action != Some("trigger") => {}
        None => errors.push("'payload' is required for trigger".to_owned()),
        Some(_) => errors.push("'payload' must be an object".to_owned()),
    }
    for name in ["client", "client_url"] {
        if event.get(name).is_some_and(|v| !v.is_string()) {
            errors.push(format!("'{name}' must be a string"));
        }
    }
    match event.get("images") {
        None => {}
        Some(Value::Array(images)) => {
            for (i, image) in images.iter().enumerate() {
                let src = image.get("src").and_then(Value::as_str).unwrap_or_default();
                if !src.starts_with("https://") {
                    errors.push(format!("'images[{i}].src' must be an https URL"));
                }
            }
        }
        Some(_) => errors.push("'images' must be an array".to_owned()),
    }
    check_links(event, &mut errors);
    errors
}

fn validate_change(event: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut errors = Vec::new();
    for name in ["event_action", "dedup_key"] {
        if event.contains_key(name) {
            errors.push(format!("'{name}' is not allowed in a change event"));
        }
    }
    match event.get("payload") {
        Some(Value::Object(payload)) => {
            check_summary(payload, &mut errors);
            if payload.get("source").is_some_and(|v| !v.is_string()) {
                errors.push("'payload.source' must be a string".to_owned());
            }
        }
        _ => errors.push("'payload' is required and must be an object".to_owned()),
    }
    check_links(event, &mut errors);
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        for ok in [
            "2026-11-23T18:17:06.300Z",
            "2026-11-23T18:17:06Z",
            "2026-11-23T18:17:06.300056641+02:00",
        ] {
            assert!(is_iso8601(ok), "{ok}");
        }
        for bad in [
            "yesterday",
            "2026-11-23",
            "2026-11-23T18:17:06",
            "2026-11-23T18:17:06.Z",
            "2026-11-23T18:17:06+0200",
        ] {
            assert!(!is_iso8601(bad), "{bad}");
        }
    }
}
