//! The original Go service's contract: its parallel publishing paths, request bodies and
//! answers (TN-058), its submit body, and a classification carried into every target's payload.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::{Behaviour, PagerDutySim, RootlySim, SlackSim, WebhookSink};

use crate::support::{Service, write_targets};

const PD_KEY: &str = "R0UTINGKEY0000000000000000000001";

/// The original's `EnrichedAlert`, as its handlers and TN-058 show it.
fn enriched(name: &str, severity: &str, confidence: f64) -> Value {
    json!({
        "alert": {
            "fingerprint": "a1b2c3d4e5f6",
            "alert_name": name,
            "status": "firing",
            "labels": {"alertname": name, "severity": "warning", "namespace": "production", "instance": "node-1"},
            "annotations": {"summary": "CPU usage above 90%"},
            "starts_at": "2026-11-13T10:00:00Z",
            "generator_url": "http://prometheus:9090/graph?g0.expr=cpu",
            "timestamp": "2026-11-13T10:00:05Z"
        },
        "classification": {
            "severity": severity,
            "confidence": confidence,
            "reasoning": "Sustained CPU saturation on a production node",
            "recommendations": ["Scale out the deployment", "Check for runaway processes"],
            "processing_time": 0.234,
            "metadata": {"model": "gpt-4o"}
        },
        "enrichment_metadata": {"source": "proxy"},
        "processing_timestamp": "2026-11-13T10:00:06Z"
    })
}

async fn post(service: &Service, path: &str, body: &Value) -> (u16, Value) {
    let (status, text) = service.post(path, serde_json::to_vec(body).unwrap()).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Targets {
    ok: WebhookSink,
    down: WebhookSink,
    json: WebhookSink,
    pd: PagerDutySim,
    slack: SlackSim,
    rootly: RootlySim,
}

async fn targets(dir: &std::path::Path) -> Targets {
    let t = Targets {
        ok: WebhookSink::start().await,
        down: WebhookSink::start().await,
        json: WebhookSink::start().await,
        pd: PagerDutySim::start().await,
        slack: SlackSim::start().await,
        rootly: RootlySim::start().await,
    };
    t.down.set_default(Behaviour::Status(503));
    t.slack.add_channel("alerts");
    let hook = t.slack.add_webhook("alerts");
    write_targets(
        dir,
        &format!(
            "- name: wh-ok\n  type: webhook\n  url: {ok}\n\
             - name: wh-down\n  type: webhook\n  url: {down}\n\
             - name: wh-json\n  type: webhook\n  format: webhook\n  url: {json}\n\
             - name: pd\n  type: pagerduty\n  url: {pd}\n  options: {{routing_key: {PD_KEY}}}\n\
             - name: slack\n  type: slack\n  url: {slack}{hook}\n\
             - name: rootly\n  type: rootly\n  url: {rootly}\n  options: {{api_key: {rootly_key}}}\n",
            ok = t.ok.url("/hook"),
            down = t.down.url("/hook"),
            json = t.json.url("/hook"),
            pd = t.pd.url(),
            slack = t.slack.base_url(),
            rootly = t.rootly.url(),
            rootly_key = RootlySim::DEFAULT_KEY,
        ),
    );
    t
}

/// What the Go clients of TN-058 send to the Go paths, and every field of what they read back.
#[tokio::test]
async fn parallel_publishing_answers_the_original_clients_in_their_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let t = targets(dir.path()).await;
    let service = Service::start(dir.path(), "").await;
    let names = ["wh-ok", "wh-down", "pd", "slack", "rootly"];

    let (status, v) = post(
        &service,
        "/api/v2/publishing/parallel",
        &json!({"alert": enriched("HighCPUUsage", "critical", 0.95), "target_names": names}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["success"], false,
        "a partial success is not a success: {v}"
    );
    assert_eq!(v["total_targets"], 5);
    assert_eq!(v["success_count"], 4);
    assert_eq!(v["failure_count"], 1);
    assert_eq!(v["skipped_count"], 0);
    assert_eq!(v["is_partial_success"], true);
    let duration = v["duration"]
        .as_str()
        .expect("duration is a Go duration string");
    assert!(
        ["ns", "µs", "ms", "s"]
            .iter()
            .any(|u| duration.ends_with(u))
            && duration.starts_with(|c: char| c.is_ascii_digit()),
        "{duration}"
    );
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    for r in results {
        let name = r["target_name"].as_str().unwrap();
        let failed = name == "wh-down";
        assert_eq!(r["success"], !failed, "{r}");
        assert_eq!(r["skipped"], false, "{r}");
        assert!(r["duration"].is_u64(), "duration in nanoseconds: {r}");
        assert!(r.get("skip_reason").is_none(), "{r}");
        let want_type = match name {
            "pd" => "pagerduty",
            n if n.starts_with("wh-") => "webhook",
            n => n,
        };
        assert_eq!(r["target_type"], want_type, "{r}");
        if failed {
            assert_eq!(r["status_code"], 503, "{r}");
            assert!(r["error"].as_str().unwrap().contains("503"), "{r}");
        } else {
            assert!(r.get("error").is_none(), "{r}");
        }
    }

    // The classification reached every target, in each one's own way.
    let pd = until("the PagerDuty event", || {
        t.pd.requests().into_iter().find_map(|r| r.json())
    })
    .await;
    let payload = &pd["payload"];
    assert_eq!(
        payload["severity"], "critical",
        "the classification's severity wins over the label (warning)"
    );
    assert!(
        payload["summary"]
            .as_str()
            .unwrap()
            .ends_with(" - AI: critical (95%)"),
        "{payload}"
    );
    let ai = &payload["custom_details"]["ai_classification"];
    assert_eq!(ai["severity"], "critical");
    assert_eq!(ai["confidence"], 0.95);
    assert_eq!(
        ai["reasoning"],
        "Sustained CPU saturation on a production node"
    );
    assert_eq!(
        ai["recommendations"],
        json!(["Scale out the deployment", "Check for runaway processes"])
    );

    let slack = until("the Slack message", || {
        t.slack.messages("alerts").into_iter().next()
    })
    .await;
    let text = slack.visible_text();
    assert!(text.contains("*AI Severity*\ncritical (95%)"), "{text}");
    assert!(
        text.contains("*AI Reasoning*\nSustained CPU saturation on a production node"),
        "{text}"
    );
    assert!(
        text.contains(
            "*Recommendations*\n• Scale out the deployment\n• Check for runaway processes"
        ),
        "{text}"
    );
    assert!(
        !text.contains("classification_severity"),
        "not shown again as an annotation: {text}"
    );

    let rootly = until("the Rootly alert", || {
        t.rootly
            .requests()
            .into_iter()
            .find(|r| r.method == "POST" && r.path.starts_with("/v1/alerts"))
    })
    .await;
    let body: Value = serde_json::from_slice(&rootly.body).unwrap();
    let attributes = &body["data"]["attributes"];
    assert!(
        attributes["summary"]
            .as_str()
            .unwrap()
            .ends_with(" (AI: critical, 95% confidence)"),
        "{attributes}"
    );
    let description = attributes["description"].as_str().unwrap();
    assert!(
        description
            .contains("**AI Classification**\n\n- **Severity:** critical\n- **Confidence:** 95%"),
        "{description}"
    );
    assert!(
        description.contains("1. Scale out the deployment\n2. Check for runaway processes"),
        "{description}"
    );
    let labels = attributes["labels"].as_array().unwrap();
    assert!(labels.contains(&json!({"key": "ai_severity", "value": "critical"})));
    assert!(labels.contains(&json!({"key": "ai_confidence", "value": "0.95"})));

    let sent = until("the webhook", || t.ok.requests().into_iter().next()).await;
    let am: Value = serde_json::from_slice(&sent.body).unwrap();
    let annotations = &am["alerts"][0]["annotations"];
    assert_eq!(annotations["llm_severity"], "critical", "{am}");
    assert_eq!(annotations["llm_confidence"], "0.95");
    assert_eq!(
        annotations["llm_recommendations"],
        "Scale out the deployment; Check for runaway processes"
    );

    // /all and /healthy take the original's body without names and answer in its shape.
    let (status, v) = post(
        &service,
        "/api/v2/publishing/parallel/all",
        &json!({"alert": enriched("AllTargets", "info", 0.5)}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["total_targets"], 6, "{v}");
    assert!(v["results"].is_array() && v.get("report").is_none(), "{v}");

    // Our own body on our path keeps our answer.
    let (status, v) = post(
        &service,
        "/api/v2/publishing/parallel/targets",
        &json!({"alert": {"labels": {"alertname": "Ours"}}, "targets": ["wh-ok"]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["report"]["results"][0]["outcome"], "delivered", "{v}");

    // The original's errors.
    let (status, v) = post(
        &service,
        "/api/v2/publishing/parallel",
        &json!({"alert": enriched("X", "info", 0.5), "target_names": ["nope"]}),
    )
    .await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (404, &json!("NOT_FOUND")),
        "{v}"
    );
    let (status, v) = post(
        &service,
        "/api/v2/publishing/parallel",
        &json!({"alert": enriched("X", "info", 0.5), "target_names": []}),
    )
    .await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (400, &json!("VALIDATION_ERROR")),
        "{v}"
    );
    let (status, v) = post(
        &service,
        "/api/v2/publishing/parallel",
        &json!({"alert": {"fingerprint": "x"}, "target_names": ["wh-ok"]}),
    )
    .await;
    assert_eq!(status, 400, "an alert without its fields: {v}");
    let (status, v) = post(
        &service,
        "/api/v2/publishing/parallel",
        &json!({"alert": enriched("X", "info", 0.5), "target_names": ["wh-down"]}),
    )
    .await;
    assert_eq!(status, 500, "{v}");
    assert_eq!(v["error"]["code"], "INTERNAL_ERROR");
    assert_eq!(
        v["error"]["message"],
        "Publish failed: all targets failed: success_count=0, failure_count=1, skipped_count=0"
    );

    let status = service.get_json("/api/v2/publishing/parallel/status").await;
    assert_eq!(status["enabled"], true, "{status}");
    assert_eq!(status["total_targets"], 6, "{status}");
    let healthy = status["healthy_count"].as_u64().unwrap();
    let unhealthy = status["unhealthy_count"].as_u64().unwrap();
    assert!(healthy >= 5 && healthy + unhealthy <= 6, "{status}");
    let expected = if unhealthy == 0 {
        "healthy"
    } else {
        "degraded"
    };
    assert_eq!(status["status"], expected, "{status}");
}

/// A classification given to the submit API (ours, the original's `Alert` with
/// `classification`, its `EnrichedAlert`) or carried as `llm_*` annotations on a webhook goes
/// through the queue into the payloads.
#[tokio::test]
async fn a_classified_alert_is_queued_with_its_classification() {
    let dir = tempfile::tempdir().unwrap();
    let t = targets(dir.path()).await;
    let service = Service::start(dir.path(), "").await;

    // The original's submit body: a plain Alert, one target, the classification beside it.
    let go = enriched("Submitted", "noise", 0.8);
    let (status, v) = post(
        &service,
        "/api/v2/publishing/queue/submit",
        &json!({"alert": go["alert"], "target_name": "pd", "classification": go["classification"]}),
    )
    .await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["success"], true);
    assert_eq!(v["message"], "Alert submitted to 1 target(s)");
    let fingerprint = v["job_ids"][0].as_str().unwrap().strip_suffix(":pd");
    assert!(
        fingerprint.is_some_and(|f| f.len() == 16),
        "job id is <fingerprint>:<target>: {v}"
    );
    let event = until("the PagerDuty event", || {
        t.pd.requests().into_iter().find_map(|r| r.json())
    })
    .await;
    assert_eq!(
        event["payload"]["severity"], "warning",
        "noise is sent as warning"
    );
    assert_eq!(
        event["payload"]["custom_details"]["ai_classification"]["severity"],
        "noise"
    );

    // An EnrichedAlert to the JSON webhook target.
    let (status, v) = post(
        &service,
        "/api/v2/publishing/queue/submit",
        &json!({"alert": enriched("Enriched", "critical", 0.9), "targets": ["wh-json"]}),
    )
    .await;
    assert_eq!(status, 202, "{v}");
    // A webhook notification whose alert carries the original's llm_* annotations.
    let webhook = json!({
        "version": "4", "status": "firing", "receiver": "r", "groupKey": "{}:{}",
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
        "alerts": [{"status": "firing", "labels": {"alertname": "FromWebhook", "team": "x"},
                    "annotations": {"llm_severity": "warning", "llm_confidence": "0.70",
                                    "llm_reasoning": "seen before", "llm_recommendations": "wait; watch"},
                    "startsAt": "2026-11-23T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": ""}]
    });
    let (status, _) = post(&service, "/webhook", &webhook).await;
    assert_eq!(status, 200);
    let bodies = until("both webhook deliveries", || {
        let bodies: Vec<Value> = t
            .json
            .requests()
            .iter()
            .filter_map(|r| serde_json::from_slice(&r.body).ok())
            .collect();
        (bodies.len() >= 2).then_some(bodies)
    })
    .await;
    let by_name = |n: &str| {
        bodies
            .iter()
            .find(|b| b["alertname"] == n)
            .unwrap_or_else(|| panic!("no {n} in {bodies:?}"))
            .clone()
    };
    let c = &by_name("Enriched")["classification"];
    assert_eq!(c["severity"], "critical");
    assert_eq!(c["confidence"], 0.9);
    assert_eq!(c["processing_time"], 0.234);
    assert_eq!(c["metadata"]["model"], "gpt-4o");
    let c = &by_name("FromWebhook")["classification"];
    assert_eq!(c["severity"], "warning");
    assert_eq!(c["confidence"], 0.7);
    assert_eq!(c["reasoning"], "seen before");
    assert_eq!(c["recommendations"], json!(["wait", "watch"]));
    // The webhook's alert went to every target: each payload carries its classification.
    let event = until("the PagerDuty event of the webhook's alert", || {
        t.pd.requests()
            .into_iter()
            .filter_map(|r| r.json())
            .find(|j| j["payload"]["custom_details"]["alertname"] == "FromWebhook")
    })
    .await;
    assert_eq!(event["payload"]["severity"], "warning");
    assert!(
        event["payload"]["summary"]
            .as_str()
            .unwrap()
            .ends_with(" - AI: warning (70%)"),
        "{event}"
    );
    assert_eq!(
        event["payload"]["custom_details"]["ai_classification"]["reasoning"],
        "seen before"
    );
    let slack = until("the Slack message of the webhook's alert", || {
        t.slack
            .messages("alerts")
            .into_iter()
            .find(|m| m.visible_text().contains("FromWebhook"))
    })
    .await;
    let text = slack.visible_text();
    assert!(text.contains("*AI Severity*\nwarning (70%)"), "{text}");
    assert!(
        text.contains("*Recommendations*\n• wait\n• watch"),
        "{text}"
    );
    let rootly = until("the Rootly alert of the webhook's alert", || {
        t.rootly.requests().into_iter().find_map(|r| {
            let body: Value = serde_json::from_slice(&r.body).ok()?;
            let summary = body["data"]["attributes"]["summary"].as_str()?.to_owned();
            summary.starts_with("FromWebhook").then_some(summary)
        })
    })
    .await;
    assert!(
        rootly.ends_with(" (AI: warning, 70% confidence)"),
        "{rootly}"
    );

    // A classification out of range is refused, naming the field.
    let (status, v) = post(
        &service,
        "/api/v2/publishing/queue/submit",
        &json!({"alert": {"labels": {"alertname": "Bad"}}, "targets": ["wh-json"],
                "classification": {"severity": "critical", "confidence": 1.5, "reasoning": "r"}}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("confidence"),
        "{v}"
    );
}

/// Every `alert_history_publishing_*` family the original defines, with its labels: (name,
/// labels, histogram). Ours may carry more labels; never fewer.
pub(crate) const GO_FAMILIES: &[(&str, &[&str], bool)] = &[
    // Queue.
    ("queue_size", &["priority"], false),
    ("queue_capacity_utilization", &["priority"], false),
    ("queue_submissions_total", &["priority", "result"], false),
    ("jobs_processed_total", &["target", "state"], false),
    ("job_duration_seconds", &["target", "priority"], true),
    ("job_wait_time_seconds", &["priority"], true),
    ("retry_attempts_total", &["target", "error_type"], false),
    ("retry_success_rate", &["target", "attempt"], true),
    ("circuit_breaker_state", &["target"], false),
    ("circuit_breaker_trips_total", &["target"], false),
    ("circuit_breaker_recoveries_total", &["target"], false),
    ("workers_active", &[], false),
    ("workers_idle", &[], false),
    ("worker_processing_duration_seconds", &["worker_id"], true),
    ("dlq_size", &["target"], false),
    ("dlq_writes_total", &["target", "error_type"], false),
    ("dlq_replays_total", &["target", "result"], false),
    // Parallel publishing (TN-058).
    ("parallel_duration_seconds", &["result"], true),
    ("parallel_total", &["result"], false),
    ("parallel_success_total", &[], false),
    ("parallel_partial_success_total", &[], false),
    ("parallel_failure_total", &[], false),
    ("parallel_targets_total", &["target_type"], false),
    ("parallel_targets_success_total", &["target_name"], false),
    (
        "parallel_targets_failure_total",
        &["target_name", "error_type"],
        false,
    ),
    (
        "parallel_targets_skipped_total",
        &["target_name", "skip_reason"],
        false,
    ),
    ("parallel_goroutines", &[], false),
    // Slack.
    ("slack_messages_posted_total", &["status"], false),
    ("slack_thread_replies_total", &[], false),
    ("slack_message_errors_total", &["error_type"], false),
    (
        "slack_api_request_duration_seconds",
        &["method", "status"],
        true,
    ),
    ("slack_cache_hits_total", &[], false),
    ("slack_cache_misses_total", &[], false),
    ("slack_cache_size", &[], false),
    ("slack_rate_limit_hits_total", &[], false),
    // Publishing mode.
    ("mode_current", &[], false),
    ("mode_transitions_total", &[], false),
    ("mode_duration_seconds", &["mode"], true),
    ("mode_check_duration_seconds", &[], true),
    ("submissions_rejected_total", &[], false),
    ("jobs_skipped_total", &[], false),
    // Target health.
    ("health_checks_total", &["target_name", "status"], false),
    ("health_check_duration_seconds", &["target_name"], true),
    (
        "target_health_status",
        &["target_name", "target_type"],
        false,
    ),
    ("target_consecutive_failures", &["target_name"], false),
    ("target_success_rate", &["target_name"], false),
    (
        "health_check_errors_total",
        &["target_name", "error_type"],
        false,
    ),
    // Target refresh.
    ("refresh_total", &["status"], false),
    ("refresh_duration_seconds", &["status"], true),
    ("refresh_errors_total", &["error_type"], false),
    ("refresh_last_success_timestamp", &[], false),
    ("refresh_in_progress", &[], false),
    // Discovery.
    ("discovery_targets_total", &["type", "enabled"], false),
    ("discovery_duration_seconds", &["operation"], true),
    ("discovery_errors_total", &["error_type"], false),
    ("discovery_secrets_total", &["status"], false),
    ("target_lookups_total", &["operation", "status"], false),
    ("discovery_last_success_timestamp", &[], false),
    // Stats.
    ("stats_collection_duration_seconds", &[], true),
];

/// The label names of every series of `family` in the exposition `text`.
fn label_sets(text: &str, family: &str, histogram: bool) -> Vec<Vec<String>> {
    let series = if histogram {
        format!("{family}_count")
    } else {
        family.to_owned()
    };
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(series.as_str())?;
            if rest.starts_with(' ') {
                return Some(Vec::new());
            }
            let inside = rest.strip_prefix('{')?.split('}').next()?;
            Some(
                inside
                    .split("\",")
                    .filter_map(|kv| kv.split('=').next())
                    .map(|k| k.trim().to_owned())
                    .collect(),
            )
        })
        .collect()
}

/// After a little of everything (queued deliveries with retries, a dead letter and its replay,
/// a circuit that opens and closes, Slack threads and a 429, parallel publishes of each
/// outcome, failing probes, a target file that breaks and mends), `/metrics` carries every
/// family of the original with its labels, and the migration guide lists each.
#[tokio::test]
async fn metrics_carry_every_family_of_the_original_with_its_labels() {
    let dir = tempfile::tempdir().unwrap();
    let ok = WebhookSink::start().await;
    let flaky = WebhookSink::start().await;
    flaky.script([
        Behaviour::Status(503),
        Behaviour::Status(503),
        Behaviour::Status(503),
    ]);
    let bad = WebhookSink::start().await;
    bad.set_default(Behaviour::Status(400));
    let slack = SlackSim::start().await;
    slack.add_token("xoxb-compat-0000000000001");
    slack.add_channel("alerts");
    let targets = format!(
        "- name: ok\n  type: webhook\n  url: {}\n\
         - name: flaky\n  type: webhook\n  url: {}\n\
         - name: bad\n  type: webhook\n  url: {}\n\
         - name: closed\n  type: webhook\n  url: http://127.0.0.1:9/\n  filter: {{labels: {{team: nobody}}}}\n\
         - name: slack\n  type: slack\n  url: {}\n  options: {{token: xoxb-compat-0000000000001, channel: alerts}}\n",
        ok.url("/hook"),
        flaky.url("/hook"),
        bad.url("/hook"),
        slack.api_url(),
    );
    write_targets(dir.path(), &targets);
    let service = Service::start(
        dir.path(),
        concat!(
            "discovery:\n  file_poll_interval: 200ms\n",
            "  probes:\n    interval: 500ms\n    timeout: 300ms\n",
            "delivery:\n  poll_interval: 50ms\n",
            "  circuit_breaker:\n    failure_threshold: 2\n    open_for: 300ms\n    success_threshold: 1\n",
            "  retry:\n    initial_delay: 50ms\n    max_delay: 100ms\n    max_attempts: 20\n    retry_after_floor: 50ms\n",
        ),
    )
    .await;

    let alert = |name: &str, resolved: bool| {
        let mut a = json!({"labels": {"alertname": name, "severity": "critical"},
                           "annotations": {"summary": name}});
        if resolved {
            a["endsAt"] = json!("2026-01-01T00:00:00Z");
            a["startsAt"] = json!("2025-12-31T00:00:00Z");
        }
        json!([a])
    };
    let (status, v) = post(&service, "/api/v2/alerts", &alert("M1", false)).await;
    assert_eq!(status, 200, "{v}");
    until("flaky to recover", || {
        flaky
            .requests()
            .iter()
            .any(|r| matches!(r.answered, testkit::Answer::Status(200)))
            .then_some(())
    })
    .await;
    until("the Slack message", || {
        slack.messages("alerts").into_iter().next()
    })
    .await;
    // A 429 on the next post, then the resolve (update and thread reply).
    slack.push_fault(
        testkit::SlackEndpoint::PostMessage,
        testkit::SlackFault::RateLimited {
            retry_after_secs: 0,
        },
    );
    let (status, _) = post(&service, "/api/v2/alerts", &alert("M2", false)).await;
    assert_eq!(status, 200);
    let (status, _) = post(&service, "/api/v2/alerts", &alert("M1", true)).await;
    assert_eq!(status, 200);
    until("the thread reply and the second message", || {
        let messages = slack.messages("alerts");
        (messages.len() >= 2 && messages.iter().any(|m| !m.replies.is_empty())).then_some(())
    })
    .await;
    // The dead letters of `bad`, replayed.
    service
        .wait_json(
            "/api/v2/publishing/dlq?target=bad",
            Duration::from_secs(20),
            |v| v["count"].as_u64().unwrap_or(0) >= 2,
        )
        .await;
    let (status, v) = post(
        &service,
        "/api/v2/publishing/dlq/replay",
        &json!({"target": "bad"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    // Parallel publishes of each outcome; `closed` is skipped once its probes made it unhealthy.
    service
        .wait_json(
            "/api/v2/publishing/targets/health/closed",
            Duration::from_secs(20),
            |v| v["status"] == "unhealthy",
        )
        .await;
    let one = json!({"labels": {"alertname": "P"}});
    for (targets, want) in [
        (json!(["ok"]), 200),
        (json!(["ok", "bad"]), 200),
        (json!(["bad"]), 502),
        (json!(["ok", "closed"]), 200),
    ] {
        let (status, v) = post(
            &service,
            "/api/v2/publishing/parallel/targets",
            &json!({"alert": one, "targets": targets}),
        )
        .await;
        assert_eq!(status, want, "{targets}: {v}");
    }
    // The targets file breaks, then mends.
    std::fs::write(dir.path().join("targets.yaml"), "- name: [broken\n").unwrap();
    let metrics_text = || async { crate::support::metrics(&service).await };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !metrics_text()
        .await
        .contains("alert_history_publishing_refresh_errors_total{")
    {
        assert!(Instant::now() < deadline, "the broken file was not noticed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    write_targets(dir.path(), &format!("{targets}\n"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !metrics_text()
        .await
        .contains("alert_history_publishing_refresh_duration_seconds_count{source=\"file\",status=\"success\"}")
    {
        assert!(Instant::now() < deadline, "the mended file was not loaded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let text = metrics_text().await;
    let mut missing = Vec::new();
    for (family, labels, histogram) in GO_FAMILIES {
        let name = format!("alert_history_publishing_{family}");
        let sets = label_sets(&text, &name, *histogram);
        if sets.is_empty() {
            missing.push(format!("{name}: no series"));
            continue;
        }
        for set in &sets {
            for l in *labels {
                if !set.iter().any(|x| x == l) {
                    missing.push(format!("{name}: a series without label {l}: {set:?}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "{}\n\n{text}", missing.join("\n"));

    let guide = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/migration-from-go.md"
    ))
    .unwrap();
    for (family, _, _) in GO_FAMILIES {
        assert!(
            guide.contains(&format!("`alert_history_publishing_{family}")),
            "docs/migration-from-go.md does not list alert_history_publishing_{family}"
        );
    }
}

/// `alert-publisher alerts ack <fingerprint>` sends `acknowledge` with the alert's dedup key to
/// its PagerDuty target, after the trigger even while the trigger is still being retried; a
/// resolved or unknown alert is refused.
// Two runtime threads: the simulators answer while the command blocks one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledge_goes_after_the_trigger_with_its_dedup_key() {
    let dir = tempfile::tempdir().unwrap();
    let pd = PagerDutySim::start().await;
    // The trigger's first two attempts fail: the acknowledgement is asked for meanwhile.
    pd.script([testkit::PdFault::Status(500), testkit::PdFault::Status(500)]);
    let hook = WebhookSink::start().await;
    write_targets(
        dir.path(),
        &format!(
            "- name: pd\n  type: pagerduty\n  url: {}\n  options: {{routing_key: {PD_KEY}}}\n\
             - name: hook\n  type: webhook\n  url: {}\n",
            pd.url(),
            hook.url("/hook")
        ),
    );
    let service = Service::start(
        dir.path(),
        "delivery:\n  poll_interval: 50ms\n  retry:\n    initial_delay: 700ms\n    max_delay: 700ms\n    max_attempts: 10\n",
    )
    .await;
    let labels: publish::Labels = [
        ("alertname".to_owned(), "Acked".to_owned()),
        ("severity".to_owned(), "critical".to_owned()),
    ]
    .into();
    let fingerprint = publish::Fingerprint::from_labels(&labels).to_string();
    let (status, v) = post(
        &service,
        "/api/v2/alerts",
        &json!([{"labels": labels, "annotations": {"summary": "s"}}]),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    until("the first trigger attempt", || {
        (!pd.requests().is_empty()).then_some(())
    })
    .await;

    let run = |args: &[&str]| {
        let out = std::process::Command::new(crate::support::binary())
            .args(args)
            .arg("--url")
            .arg(service.url(""))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run(&["alerts", "ack", &fingerprint]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("acknowledge queued for pd (job "),
        "{stdout}"
    );
    assert!(!stdout.contains("hook"), "only PagerDuty targets: {stdout}");

    let acked = until("the acknowledgement", || {
        let requests = pd.requests();
        requests
            .iter()
            .any(|r| r.json().is_some_and(|j| j["event_action"] == "acknowledge"))
            .then_some(requests)
    })
    .await;
    let events: Vec<(String, Option<u16>, String)> = acked
        .iter()
        .filter_map(|r| {
            let j = r.json()?;
            Some((
                j["event_action"].as_str()?.to_owned(),
                r.status,
                j["dedup_key"].as_str().unwrap_or_default().to_owned(),
            ))
        })
        .collect();
    let accepted_trigger = events
        .iter()
        .position(|(a, s, _)| a == "trigger" && *s == Some(202))
        .expect("the trigger was accepted");
    let ack = events
        .iter()
        .position(|(a, _, _)| a == "acknowledge")
        .unwrap();
    assert!(
        accepted_trigger < ack,
        "acknowledge only after the trigger: {events:?}"
    );
    assert_eq!(
        events[ack].2, events[accepted_trigger].2,
        "the trigger's dedup key"
    );
    let alert = pd.alert(&events[ack].2).expect("the PagerDuty alert");
    assert_eq!(alert.status, testkit::PdAlertStatus::Acknowledged);

    // The same through the API; then, once resolved, there is nothing to acknowledge.
    let (status, v) = post(
        &service,
        &format!("/api/v2/publishing/alerts/{fingerprint}/acknowledge"),
        &json!(null),
    )
    .await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["targets"], json!(["pd"]));
    let (status, _) = post(
        &service,
        "/api/v2/alerts",
        &json!([{"labels": labels, "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2026-01-01T00:05:00Z"}]),
    )
    .await;
    assert_eq!(status, 200);
    until("the resolve", || {
        pd.alert(&events[ack].2)
            .filter(|a| a.status == testkit::PdAlertStatus::Resolved)
    })
    .await;
    let (code, _, stderr) = run(&["alerts", "ack", &fingerprint]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("409") && stderr.contains("resolved"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["alerts", "ack", "0123456789abcdef"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("404"), "{stderr}");
}
