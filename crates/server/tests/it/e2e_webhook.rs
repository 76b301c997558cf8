//! End to end with a real Alertmanager: Alertmanager → our `/webhook` → store → worker →
//! webhook targets, in both formats. Alertmanager also sends every notification straight to a
//! recording sink, so the payload our `alertmanager`-format target receives is compared with
//! what Alertmanager itself sent.

use std::time::Duration;

use publish::{Fingerprint, Labels};
use serde_json::{Value, json};
use testkit::{Alertmanager, AlertmanagerConfig, WebhookSink};

use crate::support::{Service, write_targets};

const WAIT: Duration = Duration::from_secs(20);

fn labels(v: &Value) -> Labels {
    serde_json::from_value(v.clone()).unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    service: Service,
    targets: WebhookSink,
    direct: WebhookSink,
    am: Alertmanager,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let targets = WebhookSink::start().await;
    let direct = WebhookSink::start().await;
    write_targets(
        dir.path(),
        &format!(
            "- name: am-format\n  type: webhook\n  url: {}\n  format: alertmanager\n\
             - name: json-format\n  type: webhook\n  url: {}\n  format: webhook\n  headers: {{X-Team: sre}}\n  \
             options: {{auth: {{type: bearer, token: e2e-secret-token}}}}\n",
            targets.url("/am"),
            targets.url("/json")
        ),
    );
    let service = Service::start(dir.path(), "").await;
    let mut config = AlertmanagerConfig::new(service.url("/webhook"));
    config.also_send_to = vec![direct.url("/direct")];
    let am = Alertmanager::start(config).await;
    Setup {
        _dir: dir,
        service,
        targets,
        direct,
        am,
    }
}

fn by_path(sink: &WebhookSink, path: &str) -> Vec<testkit::Recorded> {
    sink.delivered()
        .into_iter()
        .filter(|r| r.path == path)
        .collect()
}

async fn wait_path(sink: &WebhookSink, path: &str, n: usize) -> Vec<testkit::Recorded> {
    let started = std::time::Instant::now();
    loop {
        let got = by_path(sink, path);
        if got.len() >= n {
            return got;
        }
        assert!(
            started.elapsed() < WAIT,
            "{path}: {} of {n} deliveries after {WAIT:?}: {:#?}",
            got.len(),
            sink.requests()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What our `webhook` format must contain for `alert` (Alertmanager's own alert object)
/// delivered to `json-format`, given the group fields Alertmanager sent.
fn expected_webhook_format(alert: &Value, group: &Value, id: &str) -> Value {
    json!({
        "schema": "alert-publisher.webhook.v1",
        "id": id,
        "target": "json-format",
        "status": alert["status"],
        "fingerprint": alert["fingerprint"],
        "alertname": alert["labels"]["alertname"],
        "labels": alert["labels"],
        "annotations": alert["annotations"],
        "startsAt": alert["startsAt"],
        "endsAt": if alert["status"] == "resolved" { alert["endsAt"].clone() } else { Value::Null },
        "generatorURL": alert["generatorURL"],
        "receiver": group["receiver"],
        "groupKey": group["groupKey"],
        "groupLabels": group["groupLabels"],
        "externalURL": group["externalURL"],
    })
}

#[tokio::test]
async fn fired_then_resolved_alert_reaches_both_formats_exactly() {
    let s = setup().await;
    let starts = "2026-11-23T10:00:00.123456789Z";
    let alert = json!({
        "labels": {"alertname": "E2EHighLatency", "severity": "critical", "service": "checkout"},
        "annotations": {"summary": "p99 above 2s", "runbook_url": "https://runbooks.example/latency"},
        "startsAt": starts,
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=latency"
    });
    s.am.post_alerts(json!([alert])).await;

    let direct = wait_path(&s.direct, "/direct", 1).await;
    let am_sent = direct[0].json();
    let am_format = wait_path(&s.targets, "/am", 1).await;
    let json_format = wait_path(&s.targets, "/json", 1).await;

    // The alertmanager format is what Alertmanager itself sends for a group of one alert.
    assert_eq!(
        am_format[0].json(),
        am_sent,
        "alertmanager format must equal Alertmanager's own payload"
    );
    assert_eq!(am_sent["status"], "firing");
    assert_eq!(am_sent["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(am_sent["alerts"][0]["startsAt"], starts);
    let fp = Fingerprint::from_labels(&labels(&alert["labels"]));
    assert_eq!(am_sent["alerts"][0]["fingerprint"], fp.as_str());
    assert_eq!(
        am_format[0].header("content-type"),
        Some("application/json")
    );

    // The webhook format, with the target's headers and auth.
    let got = json_format[0].json();
    let id = got["id"].as_str().unwrap().to_owned();
    assert_eq!(
        got,
        expected_webhook_format(&am_sent["alerts"][0], &am_sent, &id)
    );
    assert_eq!(json_format[0].header("idempotency-key"), Some(id.as_str()));
    assert_eq!(json_format[0].header("x-team"), Some("sre"));
    assert_eq!(
        json_format[0].header("authorization"),
        Some("Bearer e2e-secret-token")
    );
    assert!(
        json_format[0]
            .header("user-agent")
            .unwrap()
            .starts_with("alert-publisher/")
    );

    // Resolve it.
    let mut resolved = alert.clone();
    resolved["endsAt"] = json!("2026-11-23T10:05:00Z");
    s.am.post_alerts(json!([resolved])).await;
    let direct = wait_path(&s.direct, "/direct", 2).await;
    let am_resolved = direct[1].json();
    assert_eq!(am_resolved["status"], "resolved");
    let am_format = wait_path(&s.targets, "/am", 2).await;
    let json_format = wait_path(&s.targets, "/json", 2).await;
    assert_eq!(am_format[1].json(), am_resolved);
    let got = json_format[1].json();
    let id2 = got["id"].as_str().unwrap().to_owned();
    assert_ne!(
        id, id2,
        "a resolve is a different delivery with its own idempotency key"
    );
    assert_eq!(
        got,
        expected_webhook_format(&am_resolved["alerts"][0], &am_resolved, &id2)
    );
    assert_eq!(got["endsAt"], "2026-11-23T10:05:00Z");

    // Nothing else arrived, nothing is left in the queue.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(by_path(&s.targets, "/am").len(), 2);
    assert_eq!(by_path(&s.targets, "/json").len(), 2);
    let stats = s.service.get_json("/api/v2/publishing/queue/stats").await;
    assert_eq!(
        (
            stats["done"].as_u64(),
            stats["pending"].as_u64(),
            stats["dead"].as_u64()
        ),
        (Some(4), Some(0), Some(0)),
        "{stats}"
    );
}

#[tokio::test]
async fn a_grouped_notification_with_two_alerts_produces_two_deliveries_per_target() {
    let s = setup().await;
    let alerts = json!([
        {"labels": {"alertname": "E2EDiskFull", "instance": "db-1", "severity": "warning"}, "annotations": {"summary": "db-1 full"}},
        {"labels": {"alertname": "E2EDiskFull", "instance": "db-2", "severity": "warning"}, "annotations": {"summary": "db-2 full"}}
    ]);
    s.am.post_alerts(alerts.clone()).await;
    let direct = wait_path(&s.direct, "/direct", 1).await;
    let group = direct[0].json();
    assert_eq!(
        group["alerts"].as_array().unwrap().len(),
        2,
        "Alertmanager grouped both alerts: {group}"
    );
    let am_format = wait_path(&s.targets, "/am", 2).await;
    let json_format = wait_path(&s.targets, "/json", 2).await;
    let mut fingerprints: Vec<String> = am_format
        .iter()
        .map(|r| {
            let body = r.json();
            assert_eq!(
                body["alerts"].as_array().unwrap().len(),
                1,
                "one alert per delivery: {body}"
            );
            assert_eq!(body["groupKey"], group["groupKey"]);
            assert_eq!(body["groupLabels"], group["groupLabels"]);
            body["alerts"][0]["fingerprint"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    fingerprints.sort();
    let mut expected: Vec<String> = group["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["fingerprint"].as_str().unwrap().to_owned())
        .collect();
    expected.sort();
    assert_eq!(fingerprints, expected);
    for r in &am_format {
        let body = r.json();
        let original = group["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["fingerprint"] == body["alerts"][0]["fingerprint"])
            .unwrap();
        assert_eq!(
            &body["alerts"][0], original,
            "the alert object is Alertmanager's, unchanged"
        );
        assert_eq!(body["commonLabels"], original["labels"]);
    }
    let mut json_fps: Vec<String> = json_format
        .iter()
        .map(|r| r.json()["fingerprint"].as_str().unwrap().to_owned())
        .collect();
    json_fps.sort();
    assert_eq!(json_fps, expected);
}
