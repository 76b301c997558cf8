//! [`WebhookSink`]: a scriptable, recording HTTP endpoint on loopback.

use crate::http::DropConnection;
use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A recording HTTP/1.1 endpoint listening on `127.0.0.1` (random port).
///
/// Every request is read completely (body included), recorded, and then
/// answered according to the next scripted [`Behaviour`] (see
/// [`WebhookSink::script`]) or, when the script is empty, the default
/// behaviour ([`Behaviour::Ok`] unless changed with
/// [`WebhookSink::set_default`]).
///
/// The handle is cheap to clone; the server (listener and all open
/// connections) is stopped when the last clone is dropped.
#[derive(Clone)]
pub struct WebhookSink {
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

impl fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.inner.state.lock();
        f.debug_struct("WebhookSink")
            .field("addr", &self.inner.addr)
            .field("requests", &data.entries.len())
            .field("scripted", &data.script.len())
            .field("default", &data.default)
            .finish()
    }
}

/// One request received by a [`WebhookSink`].
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The HTTP method, e.g. `"POST"`.
    pub method: String,
    /// The request path plus `?query` if there was one, e.g. `"/hook?x=1"`.
    pub path: String,
    /// The request target as sent: the origin form (`/hook?x=1`), or the absolute form
    /// (`http://host/hook`) when the sink is used as an HTTP proxy.
    pub target: String,
    /// All request headers in arrival order; names are lowercase. Values that
    /// are not valid UTF-8 are converted lossily.
    pub headers: Vec<(String, String)>,
    /// The complete request body.
    pub body: Bytes,
    /// How the sink answered (or, for a request still inside a
    /// [`Behaviour::Slow`] delay, how it is going to answer).
    pub answered: Answer,
    /// When the request's head arrived.
    pub received_at: Instant,
}

impl Recorded {
    /// The first value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON.
    ///
    /// # Panics
    ///
    /// Panics, showing the body text, if the body is not valid JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body of {} {} is not JSON ({e}): {:?}",
                self.method,
                self.path,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as (lossily decoded) UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Whether the request was answered with a 2xx status.
    pub fn is_delivered(&self) -> bool {
        matches!(self.answered, Answer::Status(s) if (200..300).contains(&s))
    }
}

/// How a [`WebhookSink`] answered a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A response with this status code was sent.
    Status(u16),
    /// The connection was closed without any response.
    Dropped,
}

/// What a [`WebhookSink`] does with one request.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// `200 OK` with body `ok`.
    Ok,
    /// That status code with a small text body such as `scripted 503`.
    Status(u16),
    /// A fully specified response.
    Respond {
        /// Status code.
        status: u16,
        /// Extra response headers (name, value).
        headers: Vec<(String, String)>,
        /// Response body.
        body: String,
    },
    /// `429 Too Many Requests`, with a `Retry-After` header if given.
    TooManyRequests {
        /// Value of the `Retry-After` header (seconds or an HTTP date).
        retry_after: Option<String>,
    },
    /// Sleep for `delay` (after the body was read), then behave as `then`.
    Slow {
        /// How long to wait before answering.
        delay: Duration,
        /// What to do after the delay.
        then: Box<Behaviour>,
    },
    /// Read the request, then close the connection without any response; the
    /// client sees a connection/request error, not a status.
    Drop,
    /// That status code with the request's headers as the body, one `name: value` per line,
    /// as a careless receiver or proxy does in its error pages.
    EchoHeaders(u16),
}

impl Behaviour {
    /// Convenience constructor for [`Behaviour::Slow`].
    pub fn slow(delay: Duration, then: Behaviour) -> Behaviour {
        Behaviour::Slow {
            delay,
            then: Box::new(then),
        }
    }

    /// The answer this behaviour eventually gives.
    fn answer(&self) -> Answer {
        match self {
            Behaviour::Ok => Answer::Status(200),
            Behaviour::Status(s) => Answer::Status(*s),
            Behaviour::Respond { status, .. } => Answer::Status(*status),
            Behaviour::TooManyRequests { .. } => Answer::Status(429),
            Behaviour::Slow { then, .. } => then.answer(),
            Behaviour::Drop => Answer::Dropped,
            Behaviour::EchoHeaders(s) => Answer::Status(*s),
        }
    }
}

struct State {
    data: Mutex<Data>,
    /// Bumped whenever a request is recorded or completes.
    changed: watch::Sender<u64>,
}

struct Data {
    entries: Vec<Entry>,
    next_id: u64,
    script: VecDeque<Behaviour>,
    default: Behaviour,
}

struct Entry {
    id: u64,
    recorded: Recorded,
    /// The answer has actually been given (response handed to hyper, or the
    /// connection is being dropped).
    done: bool,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Data> {
        // A panic while holding the lock cannot leave `Data` inconsistent.
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }
}

impl WebhookSink {
    /// Binds `127.0.0.1:0` and starts serving in a background task.
    ///
    /// # Panics
    ///
    /// Panics if binding fails or when called outside a Tokio runtime.
    pub async fn start() -> WebhookSink {
        Self::start_on("127.0.0.1:0".parse().expect("loopback address")).await
    }

    /// Binds a given address (for example the one of a sink that was dropped, to bring a
    /// "down" target back up on the same URL) and starts serving.
    ///
    /// # Panics
    ///
    /// Panics if binding fails or when called outside a Tokio runtime.
    pub async fn start_on(addr: SocketAddr) -> WebhookSink {
        // A sink just dropped on the same address may still be releasing it: retry briefly.
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(addr).await {
                Ok(l) => break l,
                Err(e) if tries < 100 && e.kind() == std::io::ErrorKind::AddrInUse => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("WebhookSink: bind {addr}: {e}"),
            }
        };
        let addr = listener
            .local_addr()
            .expect("WebhookSink: listener local_addr");
        let state = Arc::new(State {
            data: Mutex::new(Data {
                entries: Vec::new(),
                next_id: 0,
                script: VecDeque::new(),
                default: Behaviour::Ok,
            }),
            changed: watch::Sender::new(0),
        });
        let server = tokio::spawn(crate::http::serve(listener, Arc::clone(&state), handle));
        WebhookSink {
            inner: Arc::new(Inner {
                addr,
                state,
                server,
            }),
        }
    }

    /// The address the sink listens on.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// `http://127.0.0.1:PORT` followed by `path` (which should start with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.inner.addr, path)
    }

    /// Every request received so far (since the last [`clear`](Self::clear)),
    /// in arrival order, whatever the answer — including requests still
    /// waiting in a [`Behaviour::Slow`] delay.
    pub fn requests(&self) -> Vec<Recorded> {
        let data = self.inner.state.lock();
        data.entries.iter().map(|e| e.recorded.clone()).collect()
    }

    /// The requests that have been answered with a 2xx status, in arrival order.
    pub fn delivered(&self) -> Vec<Recorded> {
        let data = self.inner.state.lock();
        delivered_of(&data)
    }

    /// How many requests have been answered with a 2xx status (cheap: copies nothing).
    pub fn delivered_count(&self) -> usize {
        let data = self.inner.state.lock();
        data.entries
            .iter()
            .filter(|e| e.done && e.recorded.is_delivered())
            .count()
    }

    /// Waits until at least `n` requests have been answered with a 2xx status
    /// and returns [`delivered`](Self::delivered).
    ///
    /// # Panics
    ///
    /// Panics, saying how many arrived, if `timeout` passes first.
    pub async fn wait_for_delivered(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        self.wait_until(n, timeout, "delivered (2xx) requests", delivered_of)
            .await
    }

    /// Waits until at least `n` requests have been received (whatever the
    /// answer) and returns [`requests`](Self::requests).
    ///
    /// # Panics
    ///
    /// Panics, saying how many arrived, if `timeout` passes first.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        self.wait_until(n, timeout, "requests", |data| {
            data.entries.iter().map(|e| e.recorded.clone()).collect()
        })
        .await
    }

    /// Appends behaviours to the script (a FIFO). Each incoming request
    /// consumes one; when the script is empty the default applies.
    pub fn script(&self, behaviours: impl IntoIterator<Item = Behaviour>) {
        self.inner.state.lock().script.extend(behaviours);
    }

    /// Sets the behaviour used when the script is empty (initially
    /// [`Behaviour::Ok`]).
    pub fn set_default(&self, b: Behaviour) {
        self.inner.state.lock().default = b;
    }

    /// Forgets all recorded requests (the script and default are kept).
    pub fn clear(&self) {
        self.inner.state.lock().entries.clear();
        self.inner.state.bump();
    }

    async fn wait_until(
        &self,
        n: usize,
        timeout: Duration,
        what: &str,
        select: impl Fn(&Data) -> Vec<Recorded>,
    ) -> Vec<Recorded> {
        let state = &self.inner.state;
        let mut rx = state.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            let got = select(&state.lock());
            if got.len() >= n {
                return got;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                // The sender lives in `state`, which we hold: cannot close.
                Ok(Err(_)) | Err(_) => break,
            }
        }
        let data = state.lock();
        let got = select(&data);
        if got.len() >= n {
            return got;
        }
        let summary: Vec<String> = data
            .entries
            .iter()
            .map(|e| {
                format!(
                    "{} {} -> {:?}{}",
                    e.recorded.method,
                    e.recorded.path,
                    e.recorded.answered,
                    if e.done { "" } else { " (in progress)" }
                )
            })
            .collect();
        panic!(
            "WebhookSink at {}: expected at least {n} {what} within {timeout:?}, \
             but only {} arrived; all requests so far ({}): {summary:#?}",
            self.inner.addr,
            got.len(),
            summary.len(),
        );
    }
}

fn delivered_of(data: &Data) -> Vec<Recorded> {
    data.entries
        .iter()
        .filter(|e| e.done && e.recorded.is_delivered())
        .map(|e| e.recorded.clone())
        .collect()
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let received_at = Instant::now();
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            eprintln!(
                "WebhookSink: failed to read body of {} {}: {e}",
                parts.method, parts.uri
            );
            return Err(DropConnection);
        }
    };
    let path = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| parts.uri.path().to_owned());
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();

    let (id, behaviour) = {
        let mut data = state.lock();
        let behaviour = data
            .script
            .pop_front()
            .unwrap_or_else(|| data.default.clone());
        let id = data.next_id;
        data.next_id += 1;
        data.entries.push(Entry {
            id,
            recorded: Recorded {
                method: parts.method.as_str().to_owned(),
                path,
                target: parts.uri.to_string(),
                headers,
                body,
                answered: behaviour.answer(),
                received_at,
            },
            done: false,
        });
        (id, behaviour)
    };
    state.bump();

    let result = respond(behaviour, &parts.headers).await;

    {
        let mut data = state.lock();
        if let Some(entry) = data.entries.iter_mut().rev().find(|e| e.id == id) {
            entry.done = true;
        }
    }
    state.bump();
    result
}

async fn respond(
    mut behaviour: Behaviour,
    request_headers: &hyper::HeaderMap,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    loop {
        match behaviour {
            Behaviour::Slow { delay, then } => {
                tokio::time::sleep(delay).await;
                behaviour = *then;
            }
            Behaviour::Ok => return Ok(text_response(200, "ok".to_owned(), &[])),
            Behaviour::Status(s) => return Ok(text_response(s, format!("scripted {s}"), &[])),
            Behaviour::Respond {
                status,
                headers,
                body,
            } => return Ok(text_response(status, body, &headers)),
            Behaviour::TooManyRequests { retry_after } => {
                let headers: Vec<(String, String)> = retry_after
                    .into_iter()
                    .map(|v| (RETRY_AFTER.as_str().to_owned(), v))
                    .collect();
                return Ok(text_response(429, "scripted 429".to_owned(), &headers));
            }
            Behaviour::Drop => return Err(DropConnection),
            Behaviour::EchoHeaders(s) => {
                // Built only for this behaviour: a busy sink must not pay for it.
                let echoed = request_headers
                    .iter()
                    .map(|(name, value)| {
                        format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes()))
                    })
                    .collect();
                return Ok(text_response(s, echoed, &[]));
            }
        }
    }
}

fn text_response(status: u16, body: String, headers: &[(String, String)]) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(status).unwrap_or_else(|_| {
        eprintln!("WebhookSink: invalid scripted status {status}, answering 500");
        StatusCode::INTERNAL_SERVER_ERROR
    });
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let h = response.headers_mut();
    // A scripted Content-Type replaces our default one.
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case(CONTENT_TYPE.as_str()))
    {
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    }
    for (name, value) in headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                h.append(name, value);
            }
            _ => eprintln!("WebhookSink: ignoring invalid scripted header {name:?}: {value:?}"),
        }
    }
    response
}
