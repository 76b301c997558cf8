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
