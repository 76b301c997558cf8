//! [`Alertmanager`]: a real Prometheus Alertmanager process on loopback.

use std::fmt::Write as _;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

/// Environment variable that overrides the Alertmanager binary location.
pub const ALERTMANAGER_BIN_ENV: &str = "ALERTMANAGER_BIN";

/// How long [`Alertmanager::start`] waits for `GET /-/ready` to answer 200.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Locates the Alertmanager binary.
///
/// Returns the value of the `ALERTMANAGER_BIN` environment variable if it is
/// set (and not empty), otherwise the first of `prometheus-alertmanager`
/// (Debian's name) or `alertmanager` found on `PATH`, otherwise
/// `/usr/bin/prometheus-alertmanager` if it exists.
pub fn alertmanager_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os(ALERTMANAGER_BIN_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(bin));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["prometheus-alertmanager", "alertmanager"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let debian = Path::new("/usr/bin/prometheus-alertmanager");
    debian.is_file().then(|| debian.to_path_buf())
}

/// Configuration of the single route/receiver of a test [`Alertmanager`].
#[derive(Debug, Clone)]
pub struct AlertmanagerConfig {
    /// Where webhook notifications are sent (e.g. our service's `/webhook`).
    pub webhook_url: String,
    /// Labels to group alerts by. Default `["alertname"]`.
    pub group_by: Vec<String>,
    /// Route `group_wait`. Default 1 s.
    pub group_wait: Duration,
    /// Route `group_interval`. Default 1 s.
    pub group_interval: Duration,
    /// Route `repeat_interval`. Default 1 h.
    pub repeat_interval: Duration,
    /// Webhook `send_resolved`. Default `true`.
    pub send_resolved: bool,
    /// If set, the webhook sends `Authorization: Bearer <token>`.
    pub bearer_token: Option<String>,
    /// If set, the webhook sends HTTP basic credentials (user name, password).
    pub basic_auth: Option<(String, String)>,
    /// Webhook `max_alerts`. Default 0 (unlimited).
    pub max_alerts: u32,
    /// More webhook URLs of the same receiver, each sent the same notifications (so a test can
    /// see exactly what Alertmanager sent beside what reached our targets). Default none.
    pub also_send_to: Vec<String>,
    /// More integrations of the receiver, as YAML at the receiver's level (e.g.
    /// `    slack_configs:\n      - api_url: ...`), indented by four spaces. Default none.
    pub receiver_yaml: String,
    /// Template files (`templates:`), e.g. shared `{{ define }}` blocks. Default none.
    pub templates: Vec<String>,
}

impl AlertmanagerConfig {
    /// A configuration sending to `webhook_url` with the documented defaults.
    pub fn new(webhook_url: impl Into<String>) -> Self {
        AlertmanagerConfig {
            webhook_url: webhook_url.into(),
            group_by: vec!["alertname".to_owned()],
            group_wait: Duration::from_secs(1),
            group_interval: Duration::from_secs(1),
            repeat_interval: Duration::from_secs(3600),
            send_resolved: true,
            bearer_token: None,
            basic_auth: None,
            max_alerts: 0,
            also_send_to: Vec::new(),
            receiver_yaml: String::new(),
            templates: Vec::new(),
        }
    }

    /// Renders the `alertmanager.yml` for this configuration.
    pub fn to_yaml(&self) -> String {
        let group_by: Vec<String> = self.group_by.iter().map(|l| quote(l)).collect();
        let mut yaml = String::new();
        // `writeln!` into a String cannot fail.
        if !self.templates.is_empty() {
            let files: Vec<String> = self.templates.iter().map(|t| quote(t)).collect();
            let _ = writeln!(yaml, "templates: [{}]", files.join(", "));
        }
        let _ = writeln!(yaml, "route:");
        let _ = writeln!(yaml, "  receiver: \"alert-publisher\"");
        let _ = writeln!(yaml, "  group_by: [{}]", group_by.join(", "));
        let _ = writeln!(yaml, "  group_wait: {}", go_duration(self.group_wait));
        let _ = writeln!(
            yaml,
            "  group_interval: {}",
            go_duration(self.group_interval)
        );
        let _ = writeln!(
            yaml,
            "  repeat_interval: {}",
            go_duration(self.repeat_interval)
        );
        let _ = writeln!(yaml, "receivers:");
        let _ = writeln!(yaml, "  - name: \"alert-publisher\"");
        let _ = writeln!(yaml, "    webhook_configs:");
        let _ = writeln!(yaml, "      - url: {}", quote(&self.webhook_url));
        let _ = writeln!(yaml, "        send_resolved: {}", self.send_resolved);
        let _ = writeln!(yaml, "        max_alerts: {}", self.max_alerts);
        if self.bearer_token.is_some() || self.basic_auth.is_some() {
            let _ = writeln!(yaml, "        http_config:");
        }
        if let Some(token) = &self.bearer_token {
            let _ = writeln!(yaml, "          authorization:");
            let _ = writeln!(yaml, "            type: Bearer");
            let _ = writeln!(yaml, "            credentials: {}", quote(token));
        }
        if let Some((username, password)) = &self.basic_auth {
            let _ = writeln!(yaml, "          basic_auth:");
            let _ = writeln!(yaml, "            username: {}", quote(username));
            let _ = writeln!(yaml, "            password: {}", quote(password));
        }
        for url in &self.also_send_to {
            let _ = writeln!(yaml, "      - url: {}", quote(url));
            let _ = writeln!(yaml, "        send_resolved: {}", self.send_resolved);
            let _ = writeln!(yaml, "        max_alerts: {}", self.max_alerts);
        }
        yaml.push_str(&self.receiver_yaml);
        if !yaml.ends_with('\n') {
            yaml.push('\n');
        }
        yaml
    }
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// Formats a duration the way Prometheus' `model.Duration` parses it:
/// the largest whole unit among h, m, s, otherwise milliseconds.
fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    for (unit_ms, suffix) in [(3_600_000, "h"), (60_000, "m"), (1000, "s")] {
        // (`u128::is_multiple_of` would need Rust 1.87; the workspace targets 1.85.)
        let remainder = ms % unit_ms;
        if remainder == 0 {
            return format!("{}{suffix}", ms / unit_ms);
        }
    }
    format!("{ms}ms")
}

/// A running Alertmanager process listening on a free loopback port.
///
/// The process is killed (and reaped) on drop; its temporary directory
/// (config, storage, `alertmanager.log`) lives as long as this value.
#[derive(Debug)]
pub struct Alertmanager {
    child: Child,
    dir: TempDir,
    url: String,
    client: reqwest::Client,
}

impl Alertmanager {
    /// Writes the configuration to a temporary directory, starts the process
    /// with clustering disabled, and waits (up to 20 s) until `GET /-/ready`
    /// answers 200.
    ///
    /// # Panics
    ///
    /// Panics if the binary is not found (see [`alertmanager_binary`]), if
    /// the process cannot be started, exits early, or does not become ready
    /// in time (the message includes the process's log output).
    pub async fn start(config: AlertmanagerConfig) -> Alertmanager {
        let binary = alertmanager_binary().unwrap_or_else(|| {
            panic!(
                "Alertmanager not found: install the Debian package prometheus-alertmanager \
                 (or set ALERTMANAGER_BIN)"
            )
        });
        let dir = tempfile::Builder::new()
            .prefix("testkit-alertmanager-")
            .tempdir()
            .expect("Alertmanager: create temp dir");
        let config_path = dir.path().join("alertmanager.yml");
        std::fs::write(&config_path, config.to_yaml()).expect("Alertmanager: write config");
        let data_path = dir.path().join("data");
        std::fs::create_dir_all(&data_path).expect("Alertmanager: create storage dir");
        let log_path = dir.path().join("alertmanager.log");
        let log = File::create(&log_path).expect("Alertmanager: create log file");
        let log_for_stdout = log.try_clone().expect("Alertmanager: clone log file");

        let port = free_port();
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.path={}", data_path.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_for_stdout))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("Alertmanager: failed to start {}: {e}", binary.display()));

        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("Alertmanager: build HTTP client");
        let mut am = Alertmanager {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}"),
            client,
        };
        // On panic `am` is dropped, which kills the process.
        am.wait_ready(&binary).await;
        am
    }

    async fn wait_ready(&mut self, binary: &Path) {
        let ready_url = format!("{}/-/ready", self.url);
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "Alertmanager ({}) exited during startup with {status}; config:\n{}\noutput:\n{}",
                    binary.display(),
                    self.config_text(),
                    self.log()
                );
            }
            let last = match self
                .client
                .get(&ready_url)
                .timeout(Duration::from_secs(1))
                .send()
                .await
            {
                Ok(resp) if resp.status() == reqwest::StatusCode::OK => return,
                Ok(resp) => format!("status {}", resp.status()),
                Err(e) => format!("error {e}"),
            };
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "Alertmanager ({}) at {} not ready within {READY_TIMEOUT:?} (last: {last}); output:\n{}",
                    binary.display(),
                    self.url,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The temporary directory holding `alertmanager.yml`, `data/` and
    /// `alertmanager.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything the process has written to stdout/stderr so far
    /// (it runs with `--log.level=warn`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("alertmanager.log"))
            .unwrap_or_else(|e| format!("<cannot read alertmanager.log: {e}>"))
    }

    fn config_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("alertmanager.yml")).unwrap_or_default()
    }

    /// `POST {url}/api/v2/alerts` with `alerts` (a JSON array of postable
    /// alerts, e.g. `[{"labels": {"alertname": "X"}}]`).
    ///
    /// # Panics
    ///
    /// Panics unless Alertmanager answers 200.
    pub async fn post_alerts(&self, alerts: serde_json::Value) {
        let url = format!("{}/api/v2/alerts", self.url);
        let resp = self
            .client
            .post(&url)
            .json(&alerts)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url} failed: {e}"));
        let status = resp.status();
        if status != reqwest::StatusCode::OK {
            let body = resp.text().await.unwrap_or_default();
            panic!("POST {url} answered {status}: {body}\nalerts: {alerts}");
        }
    }

    /// `GET {url}/api/v2/alerts`: the alerts Alertmanager currently holds.
    ///
    /// # Panics
    ///
    /// Panics if the request fails, the status is not 2xx, or the body is not JSON.
    pub async fn alerts(&self) -> serde_json::Value {
        let url = format!("{}/api/v2/alerts", self.url);
        let resp = self
            .client
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url} failed: {e}"));
        let status = resp.status();
        let body = resp
            .text()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: reading body failed: {e}"));
        if !status.is_success() {
            panic!("GET {url} answered {status}: {body}");
        }
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {url}: body is not JSON ({e}): {body}"))
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time (user + system) a process has used so far, from `/proc/PID/stat`; zero where
/// that file cannot be read.
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces:
    // utime and stime are the 12th and 13th of them, in clock ticks (100 per second).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0
}

/// A currently free port on 127.0.0.1 (bind to port 0, read it, release it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 to find a free port");
    listener
        .local_addr()
        .expect("local_addr of probe listener")
        .port()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::from_secs(1)), "1s");
        assert_eq!(go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(go_duration(Duration::from_secs(120)), "2m");
        assert_eq!(go_duration(Duration::from_secs(90)), "90s");
        assert_eq!(go_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn yaml_contains_settings() {
        let mut c = AlertmanagerConfig::new("http://127.0.0.1:1/webhook");
        c.bearer_token = Some("s3cr\"et".to_owned());
        c.group_by = vec!["alertname".to_owned(), "job".to_owned()];
        let y = c.to_yaml();
        assert!(y.contains("group_by: [\"alertname\", \"job\"]"), "{y}");
        assert!(y.contains("repeat_interval: 1h"), "{y}");
        assert!(y.contains("url: \"http://127.0.0.1:1/webhook\""), "{y}");
        assert!(y.contains("credentials: \"s3cr\\\"et\""), "{y}");
        let mut c = AlertmanagerConfig::new("http://127.0.0.1:1/webhook");
        c.basic_auth = Some(("am".to_owned(), "pw".to_owned()));
        let y = c.to_yaml();
        assert!(
            y.contains("http_config:\n          basic_auth:\n            username: \"am\"\n            password: \"pw\""),
            "{y}"
        );
        assert!(!y.contains("authorization"), "{y}");
        assert!(
            !AlertmanagerConfig::new("http://x/")
                .to_yaml()
                .contains("http_config")
        );
    }
}
