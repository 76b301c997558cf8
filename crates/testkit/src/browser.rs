//! A real headless Chromium driven over the Chrome DevTools Protocol, for the web console's
//! tests and screenshots: launch, open a page, evaluate JavaScript, wait for conditions, emulate
//! a phone or dark mode, capture PNG screenshots, and collect every JavaScript error the page
//! reports (uncaught exceptions, `console.error`, error log entries).
//!
//! Needs the Debian package `chromium` (or `CHROMIUM_BIN` naming a Chromium or Chrome binary);
//! [`Browser::launch`] panics with that advice when it finds none.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use base64::Engine as _;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// Names a Chromium binary to use instead of looking for `chromium` on `PATH`.
pub const CHROMIUM_BIN_ENV: &str = "CHROMIUM_BIN";

/// How long one DevTools command may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The Chromium binary: `CHROMIUM_BIN`, else the first of `chromium`, `chromium-browser`,
/// `google-chrome` on `PATH`; `None` when there is none.
pub fn chromium_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os(CHROMIUM_BIN_ENV) {
        return Some(PathBuf::from(bin));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

type Pending = Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>;

/// The DevTools connection shared by the browser and its pages.
#[derive(Debug)]
struct Connection {
    out: mpsc::UnboundedSender<String>,
    pending: Pending,
    next_id: AtomicU64,
    /// JavaScript errors by page session.
    errors: Mutex<HashMap<String, Vec<String>>>,
}

impl Connection {
    async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, tx);
        self.out
            .send(msg.to_string())
            .map_err(|_| format!("{method}: the DevTools connection is closed"))?;
        match tokio::time::timeout(CALL_TIMEOUT, rx).await {
            Ok(Ok(result)) => result.map_err(|e| format!("{method}: {e}")),
            Ok(Err(_)) => Err(format!("{method}: the DevTools connection closed")),
            Err(_) => Err(format!("{method}: no answer within {CALL_TIMEOUT:?}")),
        }
    }

    /// Routes one message from Chromium: an answer to its caller, an error event to the
    /// page's list.
    fn dispatch(&self, text: &str) {
        let Ok(msg) = serde_json::from_str::<Value>(text) else {
            return;
        };
        if let Some(id) = msg["id"].as_u64() {
            let tx = self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&id);
            if let Some(tx) = tx {
                let result = match msg.get("error") {
                    Some(e) => Err(e.to_string()),
                    None => Ok(msg["result"].clone()),
                };
                let _ = tx.send(result);
            }
            return;
        }
        let session = msg["sessionId"].as_str().unwrap_or_default().to_owned();
        if let Some(error) = page_error(msg["method"].as_str().unwrap_or_default(), &msg["params"])
        {
            self.errors
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(session)
                .or_default()
                .push(error);
        }
    }
}

/// The error an event reports, if it reports one: an uncaught exception (or unhandled
/// rejection), a `console.error` or `console.assert`, or a log entry of level error. A
/// network log entry for an HTTP answer (`the server responded with a status of 401`) is not
/// an error of the page: the console handles every status of the API itself (it asks for a
/// key on 401, shows the message of a 403); a resource that fails to load for any other
/// reason (refused, blocked by the content security policy) still counts.
fn page_error(method: &str, params: &Value) -> Option<String> {
    match method {
        "Runtime.exceptionThrown" => {
            let d = &params["exceptionDetails"];
            let text = d["exception"]["description"]
                .as_str()
                .or_else(|| d["text"].as_str())
                .unwrap_or("exception");
            Some(format!(
                "uncaught: {text} ({}:{})",
                d["url"], d["lineNumber"]
            ))
        }
        "Runtime.consoleAPICalled"
            if matches!(params["type"].as_str(), Some("error" | "assert")) =>
        {
            let args: Vec<String> = params["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    a["value"]
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| a["description"].as_str().map(str::to_owned))
                        .unwrap_or_else(|| a["value"].to_string())
                })
                .collect();
            Some(format!(
                "console.{}: {}",
                params["type"].as_str().unwrap_or("error"),
                args.join(" ")
            ))
        }
        "Log.entryAdded" => {
            let e = &params["entry"];
            let text = e["text"].as_str().unwrap_or_default();
            let handled_status =
                e["source"] == "network" && text.contains("the server responded with a status of");
            (e["level"] == "error" && !handled_status)
                .then(|| format!("log ({}): {text} {}", e["source"], e["url"]))
        }
        _ => None,
    }
}

/// A headless Chromium process with its own throwaway profile; killed when dropped.
#[derive(Debug)]
pub struct Browser {
    child: Child,
    conn: Arc<Connection>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts headless Chromium and connects to it.
    ///
    /// # Panics
    ///
    /// When no Chromium binary is found (the message names the Debian package `chromium`),
    /// or when it does not start or accept the DevTools connection.
    pub async fn launch() -> Browser {
        let bin = chromium_binary().unwrap_or_else(|| {
            panic!(
                "Chromium not found: install the Debian package `chromium` (apt-get install -y \
                 chromium; xtask/setup-test-tools.sh does it for `cargo xtask ci`), or set \
                 {CHROMIUM_BIN_ENV} to a Chromium binary"
            )
        });
        let profile = tempfile::tempdir().expect("create a Chromium profile directory");
        let mut child = Command::new(&bin)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--remote-debugging-port=0",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--metrics-recording-only",
                "--mute-audio",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the DevTools address, then keeps draining stderr so that Chromium never blocks
        // on a full pipe.
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(sender) = tx.take() {
                    if let Some(at) = line.find("ws://") {
                        let _ = sender.send(Ok(line[at..].trim().to_owned()));
                    } else {
                        if seen.len() < 50 {
                            seen.push(line);
                        }
                        tx = Some(sender);
                    }
                }
            }
            if let Some(tx) = tx {
                let _ = tx.send(Err(seen.join("\n")));
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(url)) => url,
            Ok(Err(output)) => {
                let _ = child.kill();
                panic!("Chromium exited before it listened for DevTools:\n{output}");
            }
            Err(_) => {
                let _ = child.kill();
                panic!("Chromium did not print its DevTools address within 30 s");
            }
        };
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap_or_else(|e| panic!("cannot connect to Chromium at {url}: {e}"));
        let (mut sink, mut stream) = ws.split();
        let (out, mut outgoing) = mpsc::unbounded_channel::<String>();
        let conn = Arc::new(Connection {
            out,
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            errors: Mutex::new(HashMap::new()),
        });
        tokio::spawn(async move {
            while let Some(text) = outgoing.recv().await {
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
        });
        let reader = Arc::downgrade(&conn);
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Some(conn) = reader.upgrade() else { break };
                if let Message::Text(text) = msg {
                    conn.dispatch(text.as_str());
                }
            }
            // Chromium went away: every caller still waiting gets an error.
            if let Some(conn) = reader.upgrade() {
                conn.pending
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clear();
            }
        });
        Browser {
            child,
            conn,
            _profile: profile,
        }
    }

    /// Opens a new tab (1280×800, light) with the page, runtime and log domains enabled.
    ///
    /// # Panics
    ///
    /// When Chromium refuses (it has crashed).
    pub async fn new_page(&self) -> Page {
        let target = self
            .conn
            .call(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await
            .expect("create a tab");
        let attached = self
            .conn
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await
            .expect("attach to the tab");
        let session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        let page = Page {
            conn: self.conn.clone(),
            session,
        };
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            page.call(domain, json!({})).await.expect(domain);
        }
        page.viewport(1280, 800, false).await;
        page
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One tab.
#[derive(Debug)]
pub struct Page {
    conn: Arc<Connection>,
    session: String,
}

impl Page {
    /// Sends a DevTools command to this tab.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        self.conn.call(Some(&self.session), method, params).await
    }

    /// Loads `url` and waits until the document has loaded.
    ///
    /// # Panics
    ///
    /// When navigation fails or the document does not load within 20 s.
    pub async fn goto(&self, url: &str) {
        let r = self
            .call("Page.navigate", json!({"url": url}))
            .await
            .unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
        assert!(
            r.get("errorText").is_none_or(|e| e.as_str() == Some("")),
            "navigate to {url}: {}",
            r["errorText"]
        );
        self.wait_for(
            &format!(
                "document.readyState === 'complete' && location.href === {}",
                json!(url)
            ),
            Duration::from_secs(20),
        )
        .await;
    }

    /// Evaluates `expression` (awaiting a promise) and returns its value as JSON.
    pub async fn eval(&self, expression: &str) -> Result<Value, String> {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
            )
            .await?;
        if let Some(e) = r.get("exceptionDetails") {
            return Err(e["exception"]["description"]
                .as_str()
                .or_else(|| e["text"].as_str())
                .unwrap_or("exception")
                .to_owned());
        }
        Ok(r["result"]["value"].clone())
    }

    /// Evaluates `expression` until it is truthy and returns that value.
    ///
    /// # Panics
    ///
    /// After `timeout`, with the last value or error and the page's JavaScript errors.
    pub async fn wait_for(&self, expression: &str, timeout: Duration) -> Value {
        let started = Instant::now();
        loop {
            let last = self.eval(expression).await;
            match &last {
                Ok(v) if truthy(v) => return v.clone(),
                _ => {}
            }
            if started.elapsed() > timeout {
                let text = self
                    .eval("document.body ? document.body.innerText.slice(0, 2000) : ''")
                    .await
                    .unwrap_or_default();
                panic!(
                    "waited {timeout:?} for `{expression}`: last {last:?}\njavascript errors: {:?}\npage text:\n{}",
                    self.errors(),
                    text.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the first element matching `selector`, waiting for it to exist and be enabled.
    pub async fn click(&self, selector: &str) {
        let sel = json!(selector);
        self.wait_for(
            &format!("(() => {{ const e = document.querySelector({sel}); return !!e && !e.disabled; }})()"),
            Duration::from_secs(10),
        )
        .await;
        self.eval(&format!("document.querySelector({sel}).click()"))
            .await
            .unwrap_or_else(|e| panic!("click {selector}: {e}"));
    }

    /// Sets the value of the form control matching `selector` as typing would (input and
    /// change events).
    pub async fn fill(&self, selector: &str, value: &str) {
        let (sel, value) = (json!(selector), json!(value));
        self.wait_for(
            &format!("!!document.querySelector({sel})"),
            Duration::from_secs(10),
        )
        .await;
        self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); e.value = {value}; \
             e.dispatchEvent(new Event('input', {{bubbles: true}})); \
             e.dispatchEvent(new Event('change', {{bubbles: true}})); }})()"
        ))
        .await
        .unwrap_or_else(|e| panic!("fill {selector}: {e}"));
    }

    /// The CSS viewport: `width` × `height`, as a phone (touch, mobile) when `mobile`.
    pub async fn viewport(&self, width: u32, height: u32, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await
        .expect("set the viewport");
    }

    /// `prefers-color-scheme: dark` (or light).
    pub async fn dark(&self, dark: bool) {
        let scheme = if dark { "dark" } else { "light" };
        self.call(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        )
        .await
        .expect("emulate the color scheme");
    }

    /// A PNG of the page from its top, beyond the viewport when it is taller (up to 1600 px),
    /// written to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let height = self
            .eval("Math.ceil(document.documentElement.scrollHeight)")
            .await
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(800.0);
        let width = self
            .eval("document.documentElement.clientWidth")
            .await
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(1280.0);
        let r = self
            .call(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true,
                       "clip": {"x": 0, "y": 0, "width": width, "height": height.min(1600.0), "scale": 1}}),
            )
            .await
            .expect("capture a screenshot");
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap_or_default())
            .expect("base64 screenshot");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Every JavaScript error the page reported so far.
    pub fn errors(&self) -> Vec<String> {
        self.conn
            .errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&self.session)
            .cloned()
            .unwrap_or_default()
    }

    /// # Panics
    ///
    /// When the page reported any JavaScript error.
    pub fn assert_no_errors(&self) {
        let errors = self.errors();
        assert!(
            errors.is_empty(),
            "javascript errors on the page: {errors:#?}"
        );
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}
