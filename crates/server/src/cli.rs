//! Client subcommands (like `amtool` for Alertmanager): they talk to a running service through
//! its HTTP API.

use anyhow::{Context, bail};
use serde_json::Value;

/// Where the service is and how to authenticate.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl ApiClient {
    /// A client for the service at `base` (e.g. `http://127.0.0.1:8080`), with an optional
    /// bearer token.
    pub fn new(base: &str, token: Option<String>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("alert-publisher-cli/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !status.is_success() {
            let message = json["error"]["message"]
                .as_str()
                .map_or_else(|| json.to_string(), str::to_owned);
            bail!("{method} {path}: {status}: {message}");
        }
        Ok(json)
    }

    /// `targets list`: one line per target.
    pub async fn targets_list(&self) -> anyhow::Result<String> {
        let v = self
            .call(reqwest::Method::GET, "/api/v2/publishing/targets", None)
            .await?;
        let mut out = format!(
            "{:<32} {:<10} {:<8} {:<10} {}\n",
            "NAME", "TYPE", "ENABLED", "HEALTH", "URL"
        );
        for t in v["targets"].as_array().into_iter().flatten() {
            let health = t["health"]
                .as_str()
                .or_else(|| t["health"]["status"].as_str())
                .unwrap_or("-");
            out.push_str(&format!(
                "{:<32} {:<10} {:<8} {:<10} {}\n",
                t["name"].as_str().unwrap_or("?"),
                t["type"].as_str().unwrap_or("?"),
                t["enabled"].as_bool().unwrap_or(false),
                health,
                t["url"].as_str().unwrap_or(""),
            ));
        }
        Ok(out)
    }

    /// `targets test NAME`: delivers a test alert through the target's real publisher; one line
    /// on success, an error (exit 1) naming the failure when the target did not take it.
    pub async fn targets_test(&self, name: &str) -> anyhow::Result<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                &format!("/api/v2/publishing/targets/{name}/test"),
                None,
            )
            .await?;
        let code = v["status_code"]
            .as_u64()
            .map_or_else(|| "no answer".to_owned(), |c| format!("HTTP {c}"));
        let latency = v["latency_ms"].as_u64().unwrap_or(0);
        if v["success"].as_bool() == Some(true) {
            return Ok(format!("{name}: delivered ({code}) in {latency} ms\n"));
        }
        let error = &v["error"];
        bail!(
            "{name}: the test delivery failed ({code}, after {latency} ms): {}: {}{}",
            error["kind"].as_str().unwrap_or("unknown"),
            error["reason"].as_str().unwrap_or(""),
            if error["retryable"].as_bool() == Some(true) {
                " (the queue would retry it)"
            } else {
                " (the queue would not retry it)"
            }
        )
    }

    /// `dlq list`: one line per dead letter.
    pub async fn dlq_list(&self, target: Option<&str>) -> anyhow::Result<String> {
        let path = match target {
            Some(t) => format!("/api/v2/publishing/dlq?target={t}"),
            None => "/api/v2/publishing/dlq".to_owned(),
        };
        let v = self.call(reqwest::Method::GET, &path, None).await?;
        let mut out = format!(
            "{:<8} {:<24} {:<24} {:<9} {:<10} {}\n",
            "ID", "TARGET", "ALERT", "STATUS", "KIND", "LAST ERROR"
        );
        for j in v["jobs"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "{:<8} {:<24} {:<24} {:<9} {:<10} {}\n",
                j["id"],
                j["target"].as_str().unwrap_or("?"),
                j["alertname"].as_str().unwrap_or(""),
                j["status"].as_str().unwrap_or(""),
                j["last_error_kind"].as_str().unwrap_or(""),
                j["last_error"].as_str().unwrap_or(""),
            ));
        }
        Ok(out)
    }

    /// `dlq replay`: one dead letter by id, or every one of a target.
    pub async fn dlq_replay(
        &self,
        id: Option<i64>,
        target: Option<&str>,
    ) -> anyhow::Result<String> {
        let v = match (id, target) {
            (Some(id), _) => {
                self.call(
                    reqwest::Method::POST,
                    &format!("/api/v2/publishing/dlq/{id}/replay"),
                    None,
                )
                .await?
            }
            (None, Some(t)) => {
                self.call(
                    reqwest::Method::POST,
                    "/api/v2/publishing/dlq/replay",
                    Some(serde_json::json!({ "target": t })),
                )
                .await?
            }
            (None, None) => bail!("name a dead letter id or --target"),
        };
        let replayed = v["replayed"].as_array().map_or(0, Vec::len);
        let mut out = format!("replayed {replayed}\n");
        for s in v["skipped"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "skipped {}: {}\n",
                s["id"],
                s["reason"].as_str().unwrap_or("")
            ));
        }
        Ok(out)
    }

    /// `alerts ack`: queues `acknowledge` for the alert at its PagerDuty targets; one line per
    /// target.
    pub async fn alerts_ack(&self, fingerprint: &str) -> anyhow::Result<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                &format!("/api/v2/publishing/alerts/{fingerprint}/acknowledge"),
                None,
            )
            .await?;
        let mut out = String::new();
        let targets = v["targets"].as_array().cloned().unwrap_or_default();
        let jobs = v["jobs"].as_array().cloned().unwrap_or_default();
        for (t, j) in targets.iter().zip(jobs.iter()) {
            out.push_str(&format!(
                "acknowledge queued for {} (job {j})\n",
                t.as_str().unwrap_or("?")
            ));
        }
        for s in v["skipped"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "skipped {}: {}\n",
                s["target"].as_str().unwrap_or("?"),
                s["reason"].as_str().unwrap_or("")
            ));
        }
        Ok(out)
    }
}
