//! End-to-end: a real Alertmanager delivering to a `WebhookSink`.

use std::time::Duration;

use serde_json::json;
use testkit::{Alertmanager, AlertmanagerConfig, Recorded, WebhookSink};

/// Waits until the sink has received a POST whose body satisfies `pred`.
async fn wait_for_post(
    sink: &WebhookSink,
    am: &Alertmanager,
    timeout: Duration,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> Recorded {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let found = sink
            .delivered()
            .into_iter()
            .find(|r| r.method == "POST" && pred(&r.json()));
        if let Some(r) = found {
            return r;
        }
        if tokio::time::Instant::now() >= deadline {
            let bodies: Vec<String> = sink.requests().iter().map(|r| r.text()).collect();
            panic!(
                "no matching notification within {timeout:?}; received: {bodies:#?}\n\
                 alertmanager alerts: {}\nalertmanager log:\n{}",
                am.alerts().await,
                am.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn real_alertmanager_delivers_firing_webhook() {
    let sink = WebhookSink::start().await;
    let am = Alertmanager::start(AlertmanagerConfig::new(sink.url("/webhook"))).await;
    assert!(am.url().starts_with("http://127.0.0.1:"));

    am.post_alerts(json!([{
        "labels": {"alertname": "TestkitProbe", "severity": "critical"},
        "annotations": {"summary": "s"}
    }]))
    .await;
    let held = am.alerts().await;
    assert_eq!(held[0]["labels"]["alertname"], "TestkitProbe", "{held}");

    let r = wait_for_post(&sink, &am, Duration::from_secs(15), |b| {
        b["version"] == "4"
            && b["status"] == "firing"
            && b["alerts"][0]["labels"]["alertname"] == "TestkitProbe"
    })
    .await;
    assert_eq!(r.path, "/webhook");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("authorization"), None);
    let body = r.json();
    assert_eq!(body["receiver"], "alert-publisher");
    assert_eq!(body["alerts"][0]["annotations"]["summary"], "s");
    assert_eq!(body["alerts"][0]["status"], "firing");
    assert_eq!(body["groupLabels"], json!({"alertname": "TestkitProbe"}));
    eprintln!(
        "Alertmanager webhook: headers {:?}\nbody {body:#}",
        r.headers
    );
}

#[tokio::test]
async fn real_alertmanager_bearer_token_max_alerts_and_resolved() {
    let sink = WebhookSink::start().await;
    let mut config = AlertmanagerConfig::new(sink.url("/webhook"));
    config.bearer_token = Some("t0ken".to_owned());
    config.group_by = vec!["job".to_owned()];
    config.max_alerts = 2;
    config.group_wait = Duration::from_millis(500);
    let am = Alertmanager::start(config).await;

    let starts_at = "2020-01-01T00:00:00Z";
    let alerts: Vec<serde_json::Value> = ["A", "B", "C"]
        .iter()
        .map(|n| json!({"labels": {"alertname": n, "job": "tk"}, "startsAt": starts_at}))
        .collect();
    am.post_alerts(json!(alerts)).await;

    // Alertmanager may flush the group before it has taken all three alerts of the request
    // (seen on a loaded machine); the next flush, a group interval later, has them all.
    let r = wait_for_post(&sink, &am, Duration::from_secs(15), |b| {
        let shown = b["alerts"].as_array().map_or(0, Vec::len) as u64;
        b["status"] == "firing" && shown + b["truncatedAlerts"].as_u64().unwrap_or(0) == 3
    })
    .await;
    assert_eq!(r.header("authorization"), Some("Bearer t0ken"));
    let body = r.json();
    assert_eq!(body["alerts"].as_array().unwrap().len(), 2, "{body:#}");
    assert_eq!(body["truncatedAlerts"], 1, "{body:#}");
    assert_eq!(body["groupLabels"], json!({"job": "tk"}));

    // Resolve all three (endsAt in the past).
    let resolved: Vec<serde_json::Value> = ["A", "B", "C"]
        .iter()
        .map(|n| {
            json!({
                "labels": {"alertname": n, "job": "tk"},
                "startsAt": starts_at,
                "endsAt": "2020-01-01T00:05:00Z"
            })
        })
        .collect();
    am.post_alerts(json!(resolved)).await;
    let r = wait_for_post(&sink, &am, Duration::from_secs(15), |b| {
        b["status"] == "resolved"
    })
    .await;
    let body = r.json();
    assert_eq!(body["alerts"][0]["status"], "resolved", "{body:#}");
    assert_eq!(
        body["alerts"][0]["endsAt"], "2020-01-01T00:05:00Z",
        "{body:#}"
    );
    assert_eq!(r.header("authorization"), Some("Bearer t0ken"));
}

#[tokio::test]
#[should_panic(expected = "group_interval cannot be zero")]
async fn invalid_config_panics_with_alertmanager_output() {
    let mut config = AlertmanagerConfig::new("http://127.0.0.1:9/webhook");
    config.group_interval = Duration::ZERO;
    let _am = Alertmanager::start(config).await;
}
