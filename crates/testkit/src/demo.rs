//! The newcomer's tour behind `cargo xtask demo` (the `ap-demo` binary): the service with
//! simulated PagerDuty, Slack, Rootly and webhook endpoints, sample alerts fired through a real
//! Alertmanager when one is installed (directly otherwise), a resolve, one target that rejects
//! everything so the dead-letter queue has something, and a report of what each target received
//! and where to look next.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::{
    Alertmanager, AlertmanagerConfig, Behaviour, PagerDutySim, PdAlertStatus, RootlySim, SlackSim,
    WebhookSink, alertmanager_binary, free_port,
};

/// How long the tour waits for deliveries before it gives up.
const WAIT: Duration = Duration::from_secs(60);
const ROUTING_KEY: &str = "demoROUTINGkey000000000000000001";
const SLACK_TOKEN: &str = "xoxb-demo-token";
const SLACK_CHANNEL: &str = "alerts";

/// What the tour runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The `alert-publisher` binary.
    pub binary: PathBuf,
    /// The directory holding the sample notifications (`am-webhook-*.json`).
    pub examples: PathBuf,
    /// Send through a real Alertmanager if one is installed (otherwise, or when false, the
    /// samples are posted to `/webhook` directly).
    pub alertmanager: bool,
}

impl DemoOptions {
    /// The workspace's `examples/` directory.
    pub fn default_examples() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
    }
}

/// The running tour: the service, the simulated endpoints and (maybe) Alertmanager. Dropping
/// it stops everything.
#[derive(Debug)]
pub struct Demo {
    binary: PathBuf,
    service: Child,
    port: u16,
    dir: tempfile::TempDir,
    /// Simulated PagerDuty.
    pub pagerduty: PagerDutySim,
    /// Simulated Slack (Web API, channel `#alerts`).
    pub slack: SlackSim,
    /// Simulated Rootly.
    pub rootly: RootlySim,
    /// A webhook endpoint that accepts everything.
    pub webhook: WebhookSink,
    /// A webhook endpoint that rejects everything (its deliveries end as dead letters).
    pub broken: WebhookSink,
    alertmanager: Option<Alertmanager>,
}

/// The service's configuration for the tour, in one place (an outbound allow-list for the
/// loopback simulators, if the service requires one, belongs here).
fn server_config(port: u16, dir: &Path) -> String {
    format!(
        "listen: 127.0.0.1:{port}
store: {store}
targets: {targets}
log:
  level: info
# The simulated endpoints listen on loopback, which webhook targets may not reach by default.
outbound:
  allow: [127.0.0.0/8]
# Room to follow every link the tour prints at once.
rate_limit:
  api: {{per_minute: 1000, burst: 100}}
delivery:
  poll_interval: 200ms
  retry: {{initial_delay: 500ms, max_delay: 5s, max_attempts: 5}}
stats:
  interval: 2s
",
        store = dir.join("alert-publisher.db").display(),
        targets = dir.join("targets.yaml").display(),
    )
}

fn targets_yaml(
    pagerduty: &PagerDutySim,
    slack: &SlackSim,
    rootly: &RootlySim,
    webhook: &WebhookSink,
    broken: &WebhookSink,
) -> String {
    format!(
        "\
- name: demo-pagerduty
  type: pagerduty
  url: {pd}
  options: {{routing_key: {ROUTING_KEY}}}
- name: demo-slack
  type: slack
  url: {slack}
  options: {{token: {SLACK_TOKEN}, channel: \"#{SLACK_CHANNEL}\"}}
- name: demo-rootly
  type: rootly
  url: {rootly}
  options: {{api_key: {rootly_key}}}
- name: demo-webhook
  type: webhook
  url: {webhook}
  format: webhook
- name: demo-broken
  type: webhook
  url: {broken}
",
        pd = pagerduty.url(),
        slack = slack.api_url(),
        rootly = rootly.url(),
        rootly_key = RootlySim::DEFAULT_KEY,
        webhook = webhook.url("/alerts"),
        broken = broken.url("/alerts"),
    )
}

fn read_example(dir: &Path, name: &str) -> Result<Value, String> {
    let path = dir.join(name);
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))
}

impl Demo {
    /// Starts the simulators and the service, fires the samples (firing, then a resolve) and
    /// waits until every delivery has settled.
    pub async fn start(opts: DemoOptions) -> Result<Demo, String> {
        let pagerduty = PagerDutySim::start().await;
        let slack = SlackSim::start().await;
        slack.add_channel(SLACK_CHANNEL);
        slack.add_token(SLACK_TOKEN);
        let rootly = RootlySim::start().await;
        let webhook = WebhookSink::start().await;
        let broken = WebhookSink::start().await;
        broken.set_default(Behaviour::Respond {
            status: 422,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: "this endpoint rejects every alert (the demo's failing target)".into(),
        });

        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let port = free_port();
        std::fs::write(
            dir.path().join("targets.yaml"),
            targets_yaml(&pagerduty, &slack, &rootly, &webhook, &broken),
        )
        .map_err(|e| format!("write targets.yaml: {e}"))?;
        std::fs::write(
            dir.path().join("config.yaml"),
            server_config(port, dir.path()),
        )
        .map_err(|e| format!("write config.yaml: {e}"))?;
        let log = std::fs::File::create(dir.path().join("service.log"))
            .map_err(|e| format!("create service.log: {e}"))?;
        let service = Command::new(&opts.binary)
            .arg("serve")
            .arg("--config")
            .arg(dir.path().join("config.yaml"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("start {}: {e}", opts.binary.display()))?;
        let mut demo = Demo {
            binary: opts.binary.clone(),
            service,
            port,
            dir,
            pagerduty,
            slack,
            rootly,
            webhook,
            broken,
            alertmanager: None,
        };
        demo.wait_ready().await?;
        if opts.alertmanager && alertmanager_binary().is_some() {
            let mut config = AlertmanagerConfig::new(demo.url("/webhook"));
            config.group_by = vec!["alertname".into(), "instance".into()];
            demo.alertmanager = Some(Alertmanager::start(config).await);
        }
        demo.fire(&opts.examples).await?;
        Ok(demo)
    }

    /// `http://127.0.0.1:PORT` + `path` of the service.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Whether the samples went through a real Alertmanager.
    pub fn via_alertmanager(&self) -> bool {
        self.alertmanager.is_some()
    }

    /// The service's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("service.log")
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.service.try_wait() {
                return Err(format!(
                    "alert-publisher exited during start-up ({status}):\n{}",
                    std::fs::read_to_string(self.log_path()).unwrap_or_default()
                ));
            }
            if let Ok(resp) = client.get(self.url("/readyz")).send().await
                && resp.status().is_success()
            {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err("alert-publisher did not become ready within 30s".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn get_json(&self, path: &str) -> Result<Value, String> {
        let resp = reqwest::get(self.url(path))
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        resp.json()
            .await
            .map_err(|e| format!("GET {path}: not JSON: {e}"))
    }

    /// Polls until `done` holds (and nothing is pending or in flight), or fails after [`WAIT`].
    async fn settle(&self, what: &str, done: impl Fn(&Demo) -> bool) -> Result<(), String> {
        let started = Instant::now();
        loop {
            let queue = self.get_json("/api/v2/publishing/queue/stats").await?;
            if done(self) && queue["pending"] == 0 && queue["in_flight"] == 0 {
                return Ok(());
            }
            if started.elapsed() > WAIT {
                return Err(format!(
                    "{what}: not done after {WAIT:?} (queue: {queue}); see {}",
                    self.log_path().display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn post_webhook(&self, body: &Value) -> Result<(), String> {
        let resp = reqwest::Client::new()
            .post(self.url("/webhook"))
            .json(body)
            .send()
            .await
            .map_err(|e| format!("POST /webhook: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!(
                "POST /webhook: {}: {}",
                resp.status(),
                resp.text().await.unwrap_or_default()
            ));
        }
        Ok(())
    }

    /// Fires `am-webhook-firing.json` and `am-webhook-group-2-firing.json`, waits, then
    /// resolves with `am-webhook-resolved.json`.
    async fn fire(&self, examples: &Path) -> Result<(), String> {
        let firing = [
            read_example(examples, "am-webhook-firing.json")?,
            read_example(examples, "am-webhook-group-2-firing.json")?,
        ];
        let resolved = read_example(examples, "am-webhook-resolved.json")?;
        let firing_alerts: usize = firing
            .iter()
            .map(|n| n["alerts"].as_array().map_or(0, Vec::len))
            .sum();
        match &self.alertmanager {
            Some(am) => {
                // Alertmanager gets the alerts themselves, as Prometheus would send them.
                let now = rfc3339_ago(Duration::ZERO);
                let alerts: Vec<Value> = firing
                    .iter()
                    .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
                    .map(|a| {
                        json!({"labels": a["labels"], "annotations": a["annotations"],
                               "generatorURL": a["generatorURL"], "startsAt": now})
                    })
                    .collect();
                am.post_alerts(Value::Array(alerts)).await;
            }
            None => {
                for notification in &firing {
                    self.post_webhook(notification).await?;
                }
            }
        }
        self.settle("firing alerts", |d| {
            d.webhook.delivered_count() >= firing_alerts
                && !d.broken.requests().is_empty()
                && !d.pagerduty.alerts().is_empty()
                && !d.slack.messages(SLACK_CHANNEL).is_empty()
                && !d.rootly.alerts().is_empty()
        })
        .await?;
        match &self.alertmanager {
            Some(am) => {
                let alerts: Vec<Value> = resolved["alerts"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| {
                        json!({"labels": a["labels"], "annotations": a["annotations"],
                               "generatorURL": a["generatorURL"],
                               "startsAt": rfc3339_ago(Duration::from_secs(60)),
                               "endsAt": rfc3339_ago(Duration::ZERO)})
                    })
                    .collect();
                am.post_alerts(Value::Array(alerts)).await;
            }
            None => self.post_webhook(&resolved).await?,
        }
        self.settle("the resolve", |d| {
            d.pagerduty
                .alerts()
                .iter()
                .any(|a| a.status == PdAlertStatus::Resolved)
                && d.rootly.alerts().iter().any(|a| !a.is_open())
        })
        .await
    }

    /// What each target received and where to look next.
    pub async fn report(&self) -> Result<String, String> {
        let mut out = String::new();
        let base = self.url("");
        let _ = writeln!(out, "Alert Publisher is running at {base}");
        let _ = writeln!(
            out,
            "Sample alerts from examples/ were sent {} (two firing notifications, then a resolve).\n",
            if self.via_alertmanager() {
                "through a real Alertmanager"
            } else {
                "straight to /webhook (no Alertmanager installed)"
            }
        );

        let _ = writeln!(out, "What each target received:");
        let pd = self.pagerduty.alerts();
        let _ = writeln!(
            out,
            "  demo-pagerduty  (simulated PagerDuty, {}): {} alert(s)",
            self.pagerduty.url(),
            pd.len()
        );
        for a in &pd {
            let _ = writeln!(
                out,
                "      {:?}  {}  [{}]",
                a.status,
                a.field("summary"),
                a.log.join(" → ")
            );
        }
        let messages = self.slack.messages(SLACK_CHANNEL);
        let _ = writeln!(
            out,
            "  demo-slack      (simulated Slack, #{SLACK_CHANNEL}): {} message(s)",
            messages.len()
        );
        for m in &messages {
            let _ = writeln!(
                out,
                "      {}{}{}",
                m.header().unwrap_or_else(|| m.text.clone()),
                if m.edited() { "  (updated)" } else { "" },
                if m.replies.is_empty() {
                    String::new()
                } else {
                    format!("  + {} thread reply", m.replies.len())
                }
            );
        }
        let rootly = self.rootly.alerts();
        let _ = writeln!(
            out,
            "  demo-rootly     (simulated Rootly): {} alert(s)",
            rootly.len()
        );
        for a in &rootly {
            let _ = writeln!(out, "      {}  {}", a.status, a.attr("summary"));
        }
        let delivered = self.webhook.delivered();
        let _ = writeln!(
            out,
            "  demo-webhook    (recording endpoint, format: webhook): {} request(s)",
            delivered.len()
        );
        for r in &delivered {
            let body = r.json();
            let _ = writeln!(
                out,
                "      {}  {}  {}",
                body["status"].as_str().unwrap_or("?"),
                body["alertname"].as_str().unwrap_or("?"),
                body["labels"]["instance"].as_str().unwrap_or("")
            );
        }
        let dlq = self.get_json("/api/v2/publishing/dlq").await?;
        let _ = writeln!(
            out,
            "  demo-broken     (answers 422 to everything): {} request(s), {} dead letter(s)",
            self.broken.requests().len(),
            dlq["count"]
        );
        let first_dead = dlq["jobs"].as_array().and_then(|j| j.first()).cloned();
        if let Some(job) = &first_dead {
            let _ = writeln!(out, "      last error: {}", job["last_error"]);
        }

        let jobs = self
            .get_json("/api/v2/publishing/queue/jobs?limit=1")
            .await?;
        let job_id = jobs["jobs"][0]["id"].as_i64().unwrap_or(1);
        let dead_id = first_dead
            .as_ref()
            .and_then(|j| j["id"].as_i64())
            .unwrap_or(1);
        let _ = writeln!(out, "\nWhere to look next:");
        for (what, path) in [
            ("stats", "/api/v2/publishing/stats".to_owned()),
            ("health", "/api/v2/publishing/health".to_owned()),
            ("trends", "/api/v2/publishing/trends".to_owned()),
            ("targets", "/api/v2/publishing/targets".to_owned()),
            (
                "target health",
                "/api/v2/publishing/targets/health".to_owned(),
            ),
            ("queue", "/api/v2/publishing/queue/stats".to_owned()),
            ("jobs", "/api/v2/publishing/queue/jobs".to_owned()),
            (
                "job history",
                format!("/api/v2/publishing/queue/jobs/{job_id}"),
            ),
            ("dead letters", "/api/v2/publishing/dlq".to_owned()),
            (
                "one dead letter",
                format!("/api/v2/publishing/dlq/{dead_id}"),
            ),
            ("Prometheus metrics", "/metrics".to_owned()),
        ] {
            let _ = writeln!(out, "  {what:<20} {base}{path}");
        }
        let bin = self.binary.display();
        let _ = writeln!(out, "\nFrom the command line:");
        for command in [
            "targets list".to_owned(),
            "targets test demo-webhook".to_owned(),
            "dlq list".to_owned(),
            format!("dlq replay {dead_id}"),
            "dlq replay --target demo-broken".to_owned(),
        ] {
            let _ = writeln!(out, "  {bin} {command} --url {base}");
        }
        let _ = writeln!(
            out,
            "  curl -X POST {base}/api/v2/publishing/dlq/{dead_id}/replay"
        );
        let _ = writeln!(
            out,
            "  curl -X POST --data @examples/am-webhook-firing.json {base}/webhook"
        );
        let _ = writeln!(
            out,
            "\nConfiguration: {}  targets: {}  log: {}",
            self.dir.path().join("config.yaml").display(),
            self.dir.path().join("targets.yaml").display(),
            self.log_path().display()
        );
        if let Some(am) = &self.alertmanager {
            let _ = writeln!(out, "Alertmanager: {}", am.url());
        }
        Ok(out)
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.service.kill();
        let _ = self.service.wait();
    }
}

/// RFC 3339 (UTC, seconds) for now minus `ago`.
fn rfc3339_ago(ago: Duration) -> String {
    let at = chrono::Utc::now() - chrono::Duration::from_std(ago).unwrap_or_default();
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
