//! Runs the real `alert-publisher` binary as a child process for end-to-end tests.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

/// A running `alert-publisher` process with its own config, targets and store in `dir`.
#[derive(Debug)]
pub(crate) struct Service {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    log: PathBuf,
}

/// The binary under test.
pub(crate) fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_alert-publisher")
}

/// An outbound guard that allows loopback, where the test sinks listen.
/// Publishers built to reach loopback targets, with the default templates.
pub(crate) fn loopback() -> publish::BuildContext {
    publish::BuildContext {
        outbound: publish::outbound::Outbound::new(
            publish::outbound::OutboundPolicy::allowing(&["127.0.0.0/8"]).expect("valid network"),
        ),
        ..publish::BuildContext::default()
    }
}

/// Writes `targets.yaml` into `dir`.
pub(crate) fn write_targets(dir: &Path, yaml: &str) {
    std::fs::write(dir.join("targets.yaml"), yaml).expect("write targets.yaml");
}

/// Starts a webhook sink answering with `default` and writes `dir/targets.yaml` with one
/// webhook target `name` sending to it; `extra` (lines indented by two spaces, such as
/// `  delivery: ...\n`) completes the target's definition.
pub(crate) async fn one_webhook_target(
    dir: &Path,
    name: &str,
    default: testkit::Behaviour,
    extra: &str,
) -> testkit::WebhookSink {
    let sink = testkit::WebhookSink::start().await;
    sink.set_default(default);
    write_targets(
        dir,
        &format!(
            "- name: {name}\n  type: webhook\n  url: {}\n{extra}",
            sink.url("/hook")
        ),
    );
    sink
}

impl Service {
    /// Starts the service on a free port with `dir/targets.yaml` (if present), the store
    /// `dir/store.db`, fast retry settings, `info,queue=debug` logs unless `extra_yaml` has a
    /// `log:` block, rate limiting off (unless `extra_yaml` has `rate_limit:`), loopback allowed
    /// for webhook targets (unless `extra_yaml` has its own `outbound:`) and `extra_yaml`
    /// appended to the config (top-level
    /// keys other than `delivery`, or a whole `delivery:` block replacing the default one; a
    /// block without `circuit_breaker` gets a 300 ms circuit-open time so tests stay short).
    /// Waits until `/readyz` answers 200.
    pub(crate) async fn start(dir: &Path, extra_yaml: &str) -> Service {
        Self::start_on(dir, testkit::free_port(), extra_yaml).await
    }

    /// Like [`Service::start`] on a given port (to restart on the same URL).
    pub(crate) async fn start_on(dir: &Path, port: u16, extra_yaml: &str) -> Service {
        let targets = dir.join("targets.yaml");
        let mut config = format!("listen: 127.0.0.1:{port}\n");
        if !extra_yaml.contains("log:") {
            config.push_str("log:\n  level: info,queue=debug\n");
        }
        if !extra_yaml.contains("store:") {
            config.push_str(&format!("store: {}\n", dir.join("store.db").display()));
        }
        if targets.exists() {
            config.push_str(&format!("targets: {}\n", targets.display()));
        }
        // Tests poll the API from one address far more often than the default limits allow;
        // only the rate-limit tests turn limiting on.
        if !extra_yaml.contains("rate_limit:") {
            config.push_str(
                "rate_limit:\n  api:\n    enabled: false\n  ingest:\n    enabled: false\n",
            );
        }
        // The test sinks listen on loopback, which the default outbound policy refuses.
        if !extra_yaml.contains("outbound:") {
            config.push_str("outbound:\n  allow: [127.0.0.0/8]\n");
        }
        if !extra_yaml.contains("delivery:") {
            config.push_str(
                "delivery:\n  poll_interval: 100ms\n  shutdown_timeout: 5s\n  circuit_breaker:\n    open_for: 300ms\n  retry:\n    initial_delay: 100ms\n    max_delay: 1s\n    max_attempts: 6\n    retry_after_floor: 100ms\n",
            );
        }
        // Tests run with a short circuit-open time unless they set their own breaker.
        if extra_yaml.contains("delivery:\n") && !extra_yaml.contains("circuit_breaker") {
            config.push_str(&extra_yaml.replacen(
                "delivery:\n",
                "delivery:\n  circuit_breaker:\n    open_for: 300ms\n",
                1,
            ));
        } else {
            config.push_str(extra_yaml);
        }
        std::fs::write(dir.join("config.yaml"), config).expect("write config.yaml");
        let n = std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
        let log = dir.join(format!("service-{port}-{n}.log"));
        let child = Command::new(binary())
            .arg("serve")
            .arg("--config")
            .arg(dir.join("config.yaml"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create log file"))
            .spawn()
            .expect("spawn alert-publisher");
        let mut svc = Service {
            child: Some(child),
            port,
            dir: dir.to_owned(),
            log,
        };
        svc.wait_ready(Duration::from_secs(20)).await;
        svc
    }

    async fn wait_ready(&mut self, timeout: Duration) {
        let started = Instant::now();
        let client = reqwest::Client::new();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "alert-publisher exited during start-up ({status}):\n{}",
                    self.log()
                );
            }
            if let Ok(resp) = client.get(self.url("/readyz")).send().await
                && resp.status().is_success()
            {
                return;
            }
            assert!(
                started.elapsed() < timeout,
                "alert-publisher not ready after {timeout:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process id while it runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The port it listens on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` + path.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The directory holding config, targets, store and logs.
    #[allow(dead_code)] // used by some test modules only
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Everything the process logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the process with SIGKILL: no chance to clean up.
    pub(crate) fn sigkill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL alert-publisher");
            child.wait().expect("reap alert-publisher");
        }
    }

    /// Sends SIGTERM and waits (up to `timeout`) for the process to exit, without blocking the
    /// test's runtime (simulated targets keep answering meanwhile).
    pub(crate) async fn sigterm(&mut self, timeout: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("service is running");
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if started.elapsed() > timeout {
                let _ = child.kill();
                panic!(
                    "alert-publisher did not exit within {timeout:?} of SIGTERM:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// POSTs a JSON body to a path; returns status and body.
    pub(crate) async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, String) {
        let resp = reqwest::Client::new()
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST to alert-publisher");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    /// GETs a path and parses the JSON answer (panics unless 200).
    pub(crate) async fn get_json(&self, path: &str) -> serde_json::Value {
        let resp = reqwest::get(self.url(path))
            .await
            .expect("GET alert-publisher");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "GET {path}: {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {text}"))
    }

    /// `GET path` with a bearer token.
    pub(crate) async fn get_as(&self, path: &str, token: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// Waits until `check` holds for the JSON at `path`, returning it.
    pub(crate) async fn wait_json(
        &self,
        path: &str,
        timeout: Duration,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let started = Instant::now();
        loop {
            let v = self.get_json(path).await;
            if check(&v) {
                return v;
            }
            assert!(
                started.elapsed() < timeout,
                "condition on {path} not met after {timeout:?}; last: {v}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A fixture's `body` (the captured Alertmanager request body) as bytes.
pub(crate) fn fixture_body(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/alertmanager")
        .join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let v: serde_json::Value = serde_json::from_str(&text).expect("fixture is JSON");
    serde_json::to_vec(&v["body"]).expect("encode body")
}

/// The service's `/metrics` text.
pub(crate) async fn metrics(service: &Service) -> String {
    reqwest::get(service.url("/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics body")
}

/// The value of the series `series` (a name with its labels, as rendered) in `/metrics` text.
pub(crate) fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.trim().parse().ok())
    })
}

/// The sum of every series of `name` in `/metrics` text whose labels include all of `labels`
/// (other labels may be there too); `None` when no series matches.
pub(crate) fn metric_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (set, value) = match rest.strip_prefix('{') {
            Some(r) => match r.split_once("} ") {
                Some((set, value)) => (set, value),
                None => continue,
            },
            None if rest.starts_with(' ') => ("", rest),
            None => continue,
        };
        if labels.iter().all(|(k, v)| {
            set.split("\",")
                .any(|kv| kv.trim_end_matches('"') == format!("{k}=\"{v}"))
        }) {
            *found.get_or_insert(0.0) += value.trim().parse::<f64>().unwrap_or(0.0);
        }
    }
    found
}
