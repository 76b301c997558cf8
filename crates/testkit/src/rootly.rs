//! [`RootlySim`]: a simulated Rootly REST API (JSON:API) on loopback.
//!
//! It enforces what `shared/CONTRACTS.md` says about Rootly, so a publisher that passes against
//! it sends what the real API accepts:
//!
//! * `Authorization: Bearer <key>` with a known key, else 401
//!   `{"errors":[{"title":"Invalid token","status":"401"}]}`;
//! * `Content-Type: application/vnd.api+json` on writes, else 415;
//! * `POST /v1/alerts` with `{"data":{"type":"alerts","attributes":{...}}}`: `source` and
//!   `summary` required (422 `Source can't be blank` / `Summary can't be blank`), `labels` an
//!   array of `{key, value}`, id lists of strings, timestamps RFC 3339; 201 with the alert;
//! * `POST /v1/alerts/{id}/resolve` and `.../acknowledge` (404 when unknown), `POST
//!   /v1/incidents` (`title` required, `labels` a map, `alert_ids` known);
//! * `GET /v1/alerts` (filters `external_id`, `source`, `status`; newest first) and `GET
//!   /v1/alerts/{id}` — reads, never rate limited;
//! * a write limit per API key (default 3000 per 60 s; configurable so tests stay short): past
//!   it 429 with `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds until
//!   the window ends).
//!
//! It keeps every alert and incident so tests can assert what is open or resolved, records
//! every request, and can be scripted to fail ([`RootlyFault`]).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The JSON:API media type Rootly speaks.
pub const JSONAPI: &str = "application/vnd.api+json";

/// Settings of a [`RootlySim`].
#[derive(Debug, Clone)]
pub struct RootlySimConfig {
    /// API keys that authenticate. Default: `["rootly-test-key"]`.
    pub api_keys: Vec<String>,
    /// Writes (POSTs) allowed per key in one window. Default 3000.
    pub writes_per_window: u32,
    /// Length of the rate-limit window. Default 60 s.
    pub window: Duration,
}

impl Default for RootlySimConfig {
    fn default() -> Self {
        Self {
            api_keys: vec![RootlySim::DEFAULT_KEY.to_owned()],
            writes_per_window: 3000,
            window: Duration::from_secs(60),
        }
    }
}

/// A scripted failure, used for the next request instead of the normal answer.
#[derive(Debug, Clone)]
pub enum RootlyFault {
    /// Answer with this status and a JSON:API error body titled `title`.
    Status {
        /// HTTP status.
        status: u16,
        /// The error title.
        title: String,
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
    /// Wait this long, then answer normally.
    Slow(Duration),
}

impl RootlyFault {
    /// A status with a JSON:API error titled `title`.
    pub fn status(status: u16, title: &str) -> Self {
        RootlyFault::Status {
            status,
            title: title.to_owned(),
        }
    }
}

/// One alert the simulator holds.
#[derive(Debug, Clone, PartialEq)]
pub struct SimAlert {
    /// Rootly's id (a UUID).
    pub id: String,
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    /// Every attribute as stored (what was sent, plus `status`, `short_id`, timestamps,
    /// `incidents`).
    pub attributes: Value,
}

impl SimAlert {
    /// An attribute as a string, or `""`.
    pub fn attr(&self, name: &str) -> &str {
        self.attributes
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// Whether the alert is still open (not resolved).
    pub fn is_open(&self) -> bool {
        self.status != "resolved"
    }
}

/// One incident the simulator holds.
#[derive(Debug, Clone, PartialEq)]
pub struct SimIncident {
    /// Rootly's id.
    pub id: String,
    /// Every attribute as sent.
    pub attributes: Value,
}

/// One request the simulator received.
#[derive(Debug, Clone)]
pub struct RootlyRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// Path and query, e.g. `/v1/alerts?filter[external_id]=ab`.
    pub path: String,
    /// Request headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
    /// The status answered.
    pub status: u16,
}

impl RootlyRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when empty or not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// Whether this was a write (counted against the rate limit).
    pub fn is_write(&self) -> bool {
        self.method == "POST"
    }
}

#[derive(Debug)]
struct Data {
    config: RootlySimConfig,
    alerts: Vec<SimAlert>,
    incidents: Vec<SimIncident>,
    requests: Vec<RootlyRequest>,
    script: VecDeque<RootlyFault>,
    windows: HashMap<String, (Instant, u32)>,
    next_id: u64,
}

#[derive(Debug)]
struct Shared {
    data: Mutex<Data>,
    changed: watch::Sender<u64>,
    seed: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }
}

/// A simulated Rootly API on `127.0.0.1` (random port). Cheap to clone; the server stops when
/// the last clone is dropped.
#[derive(Clone)]
pub struct RootlySim {
    inner: Arc<Inner>,
}

struct Inner {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl fmt::Debug for RootlySim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.inner.shared.lock();
        f.debug_struct("RootlySim")
            .field("addr", &self.inner.addr)
            .field("alerts", &data.alerts.len())
            .field("incidents", &data.incidents.len())
            .field("requests", &data.requests.len())
            .finish()
    }
}

impl RootlySim {
    /// The key [`RootlySimConfig::default`] accepts.
    pub const DEFAULT_KEY: &'static str = "rootly-test-key";

    /// Starts with the default configuration.
    ///
    /// # Panics
    ///
    /// Panics if binding fails or when called outside a Tokio runtime.
    pub async fn start() -> RootlySim {
        Self::start_with(RootlySimConfig::default()).await
    }

    /// Starts with `config`.
    ///
    /// # Panics
    ///
    /// Panics if binding fails or when called outside a Tokio runtime.
    pub async fn start_with(config: RootlySimConfig) -> RootlySim {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("RootlySim: bind: {e}"));
        let addr = listener.local_addr().expect("RootlySim: local_addr");
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default()
            ^ u64::from(addr.port());
        let shared = Arc::new(Shared {
            data: Mutex::new(Data {
                config,
                alerts: Vec::new(),
                incidents: Vec::new(),
                requests: Vec::new(),
                script: VecDeque::new(),
                windows: HashMap::new(),
                next_id: 1,
            }),
            changed: watch::Sender::new(0),
            seed,
        });
        let app = Router::new()
            .route("/v1/alerts", post(create_alert).get(list_alerts))
            .route("/v1/alerts/{id}", get(get_alert))
            .route("/v1/alerts/{id}/resolve", post(resolve_alert))
            .route("/v1/alerts/{id}/acknowledge", post(acknowledge_alert))
            .route("/v1/incidents", post(create_incident))
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(shared.clone(), around))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        RootlySim {
            inner: Arc::new(Inner {
                addr,
                shared,
                server,
            }),
        }
    }

    /// `http://127.0.0.1:PORT`: the base URL to configure (like `https://api.rootly.com`).
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Every alert, oldest first.
    pub fn alerts(&self) -> Vec<SimAlert> {
        self.inner.shared.lock().alerts.clone()
    }

    /// Alerts not resolved, oldest first.
    pub fn open_alerts(&self) -> Vec<SimAlert> {
        self.alerts()
            .into_iter()
            .filter(SimAlert::is_open)
            .collect()
    }

    /// One alert by id.
    pub fn alert(&self, id: &str) -> Option<SimAlert> {
        self.inner
            .shared
            .lock()
            .alerts
            .iter()
            .find(|a| a.id == id)
            .cloned()
    }

    /// Alerts whose `external_id` is `external_id`, oldest first.
    pub fn alerts_with_external_id(&self, external_id: &str) -> Vec<SimAlert> {
        self.alerts()
            .into_iter()
            .filter(|a| a.attr("external_id") == external_id)
            .collect()
    }

    /// Every incident, oldest first.
    pub fn incidents(&self) -> Vec<SimIncident> {
        self.inner.shared.lock().incidents.clone()
    }

    /// Every request received, in arrival order.
    pub fn requests(&self) -> Vec<RootlyRequest> {
        self.inner.shared.lock().requests.clone()
    }

    /// Deletes an alert (as a Rootly user can): later requests for it get 404.
    pub fn delete_alert(&self, id: &str) -> bool {
        let mut data = self.inner.shared.lock();
        let before = data.alerts.len();
        data.alerts.retain(|a| a.id != id);
        before != data.alerts.len()
    }

    /// Queues faults: each request takes the next one instead of its normal answer.
    pub fn script(&self, faults: impl IntoIterator<Item = RootlyFault>) {
        self.inner.shared.lock().script.extend(faults);
    }

    /// Changes the write limit (and forgets the current windows).
    pub fn set_write_limit(&self, writes_per_window: u32, window: Duration) {
        let mut data = self.inner.shared.lock();
        data.config.writes_per_window = writes_per_window;
        data.config.window = window;
        data.windows.clear();
    }

    /// Waits until `check` holds for the alerts, returning them.
    ///
    /// # Panics
    ///
    /// Panics with every alert and request seen if `timeout` passes first.
    pub async fn wait_alerts(
        &self,
        timeout: Duration,
        check: impl Fn(&[SimAlert]) -> bool,
    ) -> Vec<SimAlert> {
        let mut rx = self.inner.shared.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            let alerts = self.alerts();
            if check(&alerts) {
                return alerts;
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                let alerts = self.alerts();
                if check(&alerts) {
                    return alerts;
                }
                let requests: Vec<String> = self
                    .requests()
                    .iter()
                    .map(|r| format!("{} {} -> {}", r.method, r.path, r.status))
                    .collect();
                panic!(
                    "RootlySim: condition on alerts not met within {timeout:?}; alerts: {alerts:#?}; requests: {requests:#?}"
                );
            }
        }
    }
}

fn error_body(status: StatusCode, titles: &[&str]) -> Response {
    let errors: Vec<Value> = titles
        .iter()
        .map(|t| json!({"title": t, "status": status.as_u16().to_string()}))
        .collect();
    jsonapi(status, json!({ "errors": errors }))
}

fn jsonapi(status: StatusCode, body: Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSONAPI));
    resp
}

/// Records the request, applies scripted faults, authentication, media type and the write
/// limit, then hands over to the route.
async fn around(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let method = parts.method.as_str().to_owned();
    let fault = shared.lock().script.pop_front();
    let response = match fault {
        Some(RootlyFault::Status { status, title }) => error_body(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &[&title],
        ),
        Some(RootlyFault::Respond {
            status,
            headers,
            body,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = (status, body).into_response();
            for (n, v) in headers {
                if let (Ok(n), Ok(v)) = (
                    header::HeaderName::from_bytes(n.as_bytes()),
                    HeaderValue::from_str(&v),
                ) {
                    resp.headers_mut().insert(n, v);
                }
            }
            resp
        }
        Some(RootlyFault::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            checked(&shared, parts, body.clone(), next).await
        }
        None => checked(&shared, parts, body.clone(), next).await,
    };
    shared.lock().requests.push(RootlyRequest {
        method,
        path,
        headers,
        body,
        status: response.status().as_u16(),
    });
    shared.bump();
    response
}

async fn checked(
    shared: &Arc<Shared>,
    parts: axum::http::request::Parts,
    body: Bytes,
    next: axum::middleware::Next,
) -> Response {
    let key = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let Some(key) = key.filter(|k| shared.lock().config.api_keys.iter().any(|known| known == k))
    else {
        return error_body(StatusCode::UNAUTHORIZED, &["Invalid token"]);
    };
    if parts.method != Method::POST {
        return next
            .run(Request::from_parts(parts, axum::body::Body::from(body)))
            .await;
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !body.is_empty() && !content_type.starts_with(JSONAPI) {
        return error_body(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &["Unsupported media type: use application/vnd.api+json"],
        );
    }
    let (limit, allowed, remaining, reset_secs) = {
        let mut data = shared.lock();
        let (limit, window) = (data.config.writes_per_window, data.config.window);
        let now = Instant::now();
        let entry = data.windows.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        let reset = window.saturating_sub(now.duration_since(entry.0));
        let reset_secs = reset.as_secs() + u64::from(reset.subsec_nanos() > 0);
        let allowed = entry.1 < limit;
        if allowed {
            entry.1 += 1;
        }
        (limit, allowed, limit.saturating_sub(entry.1), reset_secs)
    };
    let mut resp = if allowed {
        next.run(Request::from_parts(parts, axum::body::Body::from(body)))
            .await
    } else {
        error_body(StatusCode::TOO_MANY_REQUESTS, &["Rate limit exceeded"])
    };
    let h = resp.headers_mut();
    h.insert("ratelimit-limit", HeaderValue::from(limit));
    h.insert("ratelimit-remaining", HeaderValue::from(remaining));
    h.insert("ratelimit-reset", HeaderValue::from(reset_secs));
    resp
}

async fn not_found() -> Response {
    error_body(StatusCode::NOT_FOUND, &["Not found"])
}

/// Reads `{"data":{"type": <kind>, "attributes": {...}}}`.
fn attributes(
    body: &[u8],
    kind: &str,
    optional: bool,
) -> Result<serde_json::Map<String, Value>, Box<Response>> {
    if body.is_empty() && optional {
        return Ok(serde_json::Map::new());
    }
    let doc: Value = serde_json::from_slice(body).map_err(|e| {
        Box::new(error_body(
            StatusCode::BAD_REQUEST,
            &[&format!("Invalid JSON: {e}")],
        ))
    })?;
    let data = doc.get("data").filter(|d| d.is_object()).ok_or_else(|| {
        Box::new(error_body(
            StatusCode::BAD_REQUEST,
            &["Invalid document: a top-level `data` object is required"],
        ))
    })?;
    if data.get("type").and_then(Value::as_str) != Some(kind) {
        return Err(Box::new(error_body(
            StatusCode::CONFLICT,
            &[&format!("Type must be {kind}")],
        )));
    }
    match data.get("attributes") {
        Some(Value::Object(attrs)) => Ok(attrs.clone()),
        None if optional => Ok(serde_json::Map::new()),
        _ => Err(Box::new(error_body(
            StatusCode::BAD_REQUEST,
            &["Invalid document: `data.attributes` must be an object"],
        ))),
    }
}

fn blank(attrs: &serde_json::Map<String, Value>, name: &str) -> bool {
    attrs
        .get(name)
        .and_then(Value::as_str)
        .is_none_or(|s| s.trim().is_empty())
}

fn is_rfc3339(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        // YYYY-MM-DDTHH:MM:SS followed by optional fraction and a zone.
        let b = s.as_bytes();
        b.len() >= 20
            && b[4] == b'-'
            && b[7] == b'-'
            && (b[10] == b'T' || b[10] == b't')
            && b[13] == b':'
            && b[16] == b':'
            && (s.ends_with('Z') || s.ends_with('z') || s[19..].contains(['+', '-']))
    })
}

fn validate_alert(attrs: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut errors = Vec::new();
    if blank(attrs, "source") {
        errors.push("Source can't be blank".to_owned());
    }
    if blank(attrs, "summary") {
        errors.push("Summary can't be blank".to_owned());
    }
    if let Some(labels) = attrs.get("labels") {
        let ok = labels.as_array().is_some_and(|items| {
            items.iter().all(|l| {
                l.as_object().is_some_and(|o| {
                    o.get("key").is_some_and(Value::is_string)
                        && o.get("value").is_some_and(Value::is_string)
                        && o.len() == 2
                })
            })
        });
        if !ok {
            errors.push("Labels must be an array of objects with string key and value".to_owned());
        }
    }
    for ids in ["service_ids", "group_ids", "environment_ids"] {
        if let Some(v) = attrs.get(ids)
            && !v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
        {
            errors.push(format!("{} must be an array of ids", capitalize(ids)));
        }
    }
    for ts in ["started_at", "ended_at"] {
        if let Some(v) = attrs.get(ts).filter(|v| !v.is_null())
            && !is_rfc3339(v)
        {
            errors.push(format!("{} is not a valid time", capitalize(ts)));
        }
    }
    if let Some(status) = attrs.get("status")
        && !matches!(
            status.as_str(),
            Some("open" | "triggered" | "acknowledged" | "resolved")
        )
    {
        errors.push("Status is not included in the list".to_owned());
    }
    match (
        attrs.get("notification_target_type"),
        attrs.get("notification_target_id"),
    ) {
        (None, None) => {}
        (Some(t), Some(id)) if id.is_string() => {
            if !matches!(
                t.as_str(),
                Some("User" | "Group" | "EscalationPolicy" | "Service")
            ) {
                errors.push("Notification target type is not included in the list".to_owned());
            }
        }
        _ => errors
            .push("Notification target type and notification target id go together".to_owned()),
    }
    errors
}

fn capitalize(s: &str) -> String {
    let s = s.replace('_', " ");
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => s,
    }
}

fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // civil-from-days (Howard Hinnant)
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn new_id(shared: &Shared, data: &mut Data) -> String {
    let n = data.next_id;
    data.next_id += 1;
    let r = shared
        .seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(n);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (r >> 32) as u32,
        (r >> 16) as u16,
        n & 0xfff,
        (r >> 4) & 0xfff,
        n
    )
}

fn alert_doc(alert: &SimAlert) -> Value {
    json!({"id": alert.id, "type": "alerts", "attributes": alert.attributes})
}

async fn create_alert(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let mut attrs = match attributes(&body, "alerts", false) {
        Ok(a) => a,
        Err(resp) => return *resp,
    };
    let errors = validate_alert(&attrs);
    if !errors.is_empty() {
        let titles: Vec<&str> = errors.iter().map(String::as_str).collect();
        return error_body(StatusCode::UNPROCESSABLE_ENTITY, &titles);
    }
    let mut data = shared.lock();
    let id = new_id(&shared, &mut data);
    let status = attrs
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("open")
        .to_owned();
    attrs.insert("status".to_owned(), json!(status));
    attrs.insert(
        "short_id".to_owned(),
        json!(format!("ALT{}", 100_000 + data.alerts.len())),
    );
    attrs.insert("created_at".to_owned(), json!(now_rfc3339()));
    attrs.insert("incidents".to_owned(), json!([]));
    let alert = SimAlert {
        id,
        status,
        attributes: Value::Object(attrs),
    };
    data.alerts.push(alert.clone());
    drop(data);
    jsonapi(StatusCode::CREATED, json!({ "data": alert_doc(&alert) }))
}

/// `filter[name]=value` pairs and `page[size]` from a query string (percent-decoded).
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn list_alerts(State(shared): State<Arc<Shared>>, uri: axum::http::Uri) -> Response {
    let pairs = query_pairs(uri.query());
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let size = get("page[size]")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 100);
    let data = shared.lock();
    let matching: Vec<&SimAlert> = data
        .alerts
        .iter()
        .rev()
        .filter(|a| get("filter[external_id]").is_none_or(|v| a.attr("external_id") == v))
        .filter(|a| get("filter[source]").is_none_or(|v| a.attr("source") == v))
        .filter(|a| get("filter[status]").is_none_or(|v| v.split(',').any(|s| s == a.status)))
        .collect();
    let total = matching.len();
    let page: Vec<Value> = matching.into_iter().take(size).map(alert_doc).collect();
    jsonapi(
        StatusCode::OK,
        json!({"data": page, "meta": {"total_count": total, "current_page": 1}}),
    )
}

async fn get_alert(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match shared.lock().alerts.iter().find(|a| a.id == id) {
        Some(alert) => jsonapi(StatusCode::OK, json!({ "data": alert_doc(alert) })),
        None => error_body(StatusCode::NOT_FOUND, &["Not found"]),
    }
}

fn transition(shared: &Shared, id: &str, body: &[u8], status: &str, stamp: &str) -> Response {
    let attrs = match attributes(body, "alerts", true) {
        Ok(a) => a,
        Err(resp) => return *resp,
    };
    let mut data = shared.lock();
    let Some(alert) = data.alerts.iter_mut().find(|a| a.id == id) else {
        return error_body(StatusCode::NOT_FOUND, &["Not found"]);
    };
    alert.status = status.to_owned();
    if let Value::Object(stored) = &mut alert.attributes {
        stored.insert("status".to_owned(), json!(status));
        stored.insert(stamp.to_owned(), json!(now_rfc3339()));
        if let Some(message) = attrs.get("resolution_message") {
            stored.insert("resolution_message".to_owned(), message.clone());
        }
    }
    let doc = alert_doc(alert);
    drop(data);
    jsonapi(StatusCode::OK, json!({ "data": doc }))
}

async fn resolve_alert(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    transition(&shared, &id, &body, "resolved", "ended_at")
}

async fn acknowledge_alert(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    transition(&shared, &id, &body, "acknowledged", "acknowledged_at")
}

async fn create_incident(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let attrs = match attributes(&body, "incidents", false) {
        Ok(a) => a,
        Err(resp) => return *resp,
    };
    let mut errors = Vec::new();
    if blank(&attrs, "title") {
        errors.push("Title can't be blank".to_owned());
    }
    if let Some(labels) = attrs.get("labels")
        && !labels
            .as_object()
            .is_some_and(|m| m.values().all(Value::is_string))
    {
        errors.push("Labels must be a map of strings".to_owned());
    }
    let alert_ids: Vec<String> = match attrs.get("alert_ids") {
        None => Vec::new(),
        Some(Value::Array(ids)) if ids.iter().all(Value::is_string) => ids
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(_) => {
            errors.push("Alert ids must be an array of ids".to_owned());
            Vec::new()
        }
    };
    let mut data = shared.lock();
    if alert_ids
        .iter()
        .any(|id| !data.alerts.iter().any(|a| &a.id == id))
    {
        errors.push("Alert ids contains an unknown alert".to_owned());
    }
    if !errors.is_empty() {
        drop(data);
        let titles: Vec<&str> = errors.iter().map(String::as_str).collect();
        return error_body(StatusCode::UNPROCESSABLE_ENTITY, &titles);
    }
    let id = new_id(&shared, &mut data);
    for alert in data.alerts.iter_mut().filter(|a| alert_ids.contains(&a.id)) {
        if let Some(Value::Array(incidents)) = alert.attributes.get_mut("incidents") {
            incidents.push(json!({"id": id}));
        }
    }
    let incident = SimIncident {
        id: id.clone(),
        attributes: Value::Object(attrs),
    };
    data.incidents.push(incident.clone());
    drop(data);
    jsonapi(
        StatusCode::CREATED,
        json!({"data": {"id": id, "type": "incidents", "attributes": incident.attributes}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query() {
        assert_eq!(
            query_pairs(Some("filter%5Bexternal_id%5D=ab12&page[size]=5&x")),
            vec![
                ("filter[external_id]".to_owned(), "ab12".to_owned()),
                ("page[size]".to_owned(), "5".to_owned()),
                ("x".to_owned(), String::new())
            ]
        );
        assert_eq!(percent_decode("a%2"), "a%2");
    }

    #[test]
    fn validates_alert_attributes() {
        let attrs = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(
            validate_alert(&attrs(json!({}))),
            ["Source can't be blank", "Summary can't be blank"]
        );
        assert!(validate_alert(&attrs(json!({"source": "am", "summary": "s"}))).is_empty());
        let bad = validate_alert(&attrs(
            json!({"source": "am", "summary": "s", "labels": {"a": "b"}}),
        ));
        assert!(bad[0].starts_with("Labels must be an array"), "{bad:?}");
        let bad = validate_alert(&attrs(
            json!({"source": "am", "summary": "s", "started_at": "yesterday"}),
        ));
        assert_eq!(bad, ["Started at is not a valid time"]);
        assert!(is_rfc3339(&json!("2026-11-23T18:17:06.300056641Z")));
        assert!(is_rfc3339(&json!("2026-11-23T18:17:06+02:00")));
    }

    #[test]
    fn formats_now() {
        let now = now_rfc3339();
        assert!(is_rfc3339(&json!(now)), "{now}");
        assert!(now.starts_with("20"), "{now}");
    }
}
