//! End to end with a real Alertmanager and the simulated Rootly: Alertmanager → our `/webhook`
//! → store → worker → `publish-rootly` → Rootly's REST API. The simulator keeps Rootly's alert
//! state, so the tests assert what a Rootly user would see: one open alert per firing alert,
//! resolved when Alertmanager resolves it — across a restart, without duplicates. That the API
//! key never leaves the service is checked with every other secret in `leaks.rs`.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use publish::{Fingerprint, Labels};
use serde_json::{Value, json};
use testkit::{Alertmanager, AlertmanagerConfig, RootlySim, RootlySimConfig, SimAlert};

use crate::support::{Service, write_targets};

const WAIT: Duration = Duration::from_secs(15);
const KEY: &str = "rootly-e2e-SECRET-good-4c1d";

async fn sim() -> RootlySim {
    RootlySim::start_with(RootlySimConfig {
        api_keys: vec![KEY.to_owned()],
        ..Default::default()
    })
    .await
}

fn rootly_target(sim: &RootlySim) -> String {
    format!(
        "- name: rootly\n  type: rootly\n  url: {}\n  options:\n    api_key: {KEY}\n",
        sim.url()
    )
}

fn ts(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An alert for Alertmanager's API, started a minute ago.
fn am_alert(labels: Value) -> (Value, String) {
    let starts = ts(Utc::now() - chrono::Duration::minutes(1));
    let alert = json!({
        "labels": labels,
        "annotations": {"summary": "checkout is failing", "runbook_url": "https://runbooks.example/checkout"},
        "startsAt": starts,
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up"
    });
    let fp = Fingerprint::from_labels(
        &serde_json::from_value::<Labels>(alert["labels"].clone()).unwrap(),
    );
    (alert, fp.as_str().to_owned())
}

/// The same alert ended a moment ago: Alertmanager sends it resolved.
fn ended(alert: &Value) -> Value {
    let mut alert = alert.clone();
    alert["endsAt"] = json!(ts(Utc::now() - chrono::Duration::seconds(1)));
    alert
}

fn with_external_id<'a>(alerts: &'a [SimAlert], fp: &str) -> Vec<&'a SimAlert> {
    alerts
        .iter()
        .filter(|a| a.attr("external_id") == fp)
        .collect()
}

#[tokio::test]
async fn fire_and_resolve_through_a_real_alertmanager() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim().await;
    write_targets(dir.path(), &rootly_target(&sim));
    let service = Service::start(dir.path(), "").await;
    let am = Alertmanager::start(AlertmanagerConfig::new(service.url("/webhook"))).await;
    let (alert, fp) =
        am_alert(json!({"alertname": "RootlyE2E", "service": "checkout", "severity": "critical"}));

    am.post_alerts(json!([alert])).await;
    let alerts = sim.wait_alerts(WAIT, |a| a.len() == 1).await;
    let a = &alerts[0];
    assert_eq!(a.status, "open");
    assert_eq!(a.attr("source"), "alertmanager");
    assert_eq!(a.attr("summary"), "checkout is failing");
    assert_eq!(a.attr("external_id"), fp);
    assert_eq!(a.attr("deduplication_key"), fp);
    assert_eq!(a.attr("started_at"), alert["startsAt"].as_str().unwrap());
    assert_eq!(
        a.attr("external_url"),
        "http://prometheus.example:9090/graph?g0.expr=up"
    );
    assert_eq!(
        a.attributes["labels"],
        json!([
            {"key": "alertname", "value": "RootlyE2E"},
            {"key": "service", "value": "checkout"},
            {"key": "severity", "value": "critical"}
        ])
    );
    assert!(
        a.attr("description")
            .contains("<https://runbooks.example/checkout>"),
        "{}",
        a.attr("description")
    );
    assert_eq!(a.attributes["data"]["status"], "firing");

    am.post_alerts(json!([ended(&alert)])).await;
    let alerts = sim
        .wait_alerts(WAIT, |a| a.iter().any(|x| x.status == "resolved"))
        .await;
    assert_eq!(
        alerts.len(),
        1,
        "resolved the same alert, created nothing new: {alerts:#?}"
    );
    assert_eq!(
        alerts[0].attr("resolution_message").split(" (").next(),
        Some("Resolved in Alertmanager")
    );
    let writes: Vec<String> = sim
        .requests()
        .iter()
        .filter(|r| r.is_write())
        .map(|r| format!("{} {}", r.path, r.status))
        .collect();
    assert_eq!(
        writes,
        [
            "/v1/alerts 201".to_owned(),
            format!("/v1/alerts/{}/resolve 200", alerts[0].id)
        ]
    );
    assert!(
        sim.requests().iter().all(|r| r.is_write()),
        "the stored id was used; no lookup needed"
    );

    let metrics = reqwest::get(service.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"alert_publisher_rootly_lifecycle_total{target="rootly",action="create",result="created"} 1"#,
        r#"alert_publisher_rootly_lifecycle_total{target="rootly",action="resolve",result="resolved"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
}

#[tokio::test]
async fn a_restart_between_fire_and_resolve_still_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim().await;
    write_targets(dir.path(), &rootly_target(&sim));
    let mut service = Service::start(dir.path(), "").await;
    let port = service.port();
    let am = Alertmanager::start(AlertmanagerConfig::new(service.url("/webhook"))).await;
    let (alert, fp) = am_alert(json!({"alertname": "RootlyRestart", "instance": "web-1"}));

    am.post_alerts(json!([alert])).await;
    let alerts = sim.wait_alerts(WAIT, |a| a.len() == 1).await;
    let id = alerts[0].id.clone();
    service
        .wait_json("/api/v2/publishing/queue/stats", WAIT, |s| s["done"] == 1)
        .await;

    service.sigkill();
    let service = Service::start_on(dir.path(), port, "").await;
    am.post_alerts(json!([ended(&alert)])).await;
    sim.wait_alerts(WAIT, |a| a.iter().any(|x| x.status == "resolved"))
        .await;
    let alerts = sim.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(
        (alerts[0].id.as_str(), alerts[0].attr("external_id")),
        (id.as_str(), fp.as_str())
    );
    let last = sim.requests().pop().unwrap();
    assert_eq!(
        (last.method.as_str(), last.path.as_str()),
        ("POST", format!("/v1/alerts/{id}/resolve").as_str()),
        "the id kept in the store survived the restart"
    );
    assert!(
        sim.requests().iter().all(|r| r.method == "POST"),
        "no lookup was needed"
    );
    service
        .wait_json("/api/v2/publishing/queue/stats", WAIT, |s| {
            s["done"] == 2 && s["dead"] == 0
        })
        .await;
}

#[tokio::test]
async fn alertmanager_resending_the_firing_group_creates_no_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim().await;
    write_targets(dir.path(), &rootly_target(&sim));
    // Every notification reaches the publisher (no repeat-interval suppression in the store),
    // so it is the publisher's stored alert id that keeps Rootly free of duplicates.
    let delivery = "delivery:\n  poll_interval: 100ms\n  shutdown_timeout: 5s\n  repeat_interval: 0s\n  \
                    retry:\n    initial_delay: 100ms\n    max_delay: 1s\n    max_attempts: 6\n";
    let service = Service::start(dir.path(), delivery).await;
    let am = Alertmanager::start(AlertmanagerConfig::new(service.url("/webhook"))).await;
    let (first, fp1) = am_alert(json!({"alertname": "RootlyGroup", "instance": "a"}));
    let (second, fp2) = am_alert(json!({"alertname": "RootlyGroup", "instance": "b"}));

    am.post_alerts(json!([first])).await;
    sim.wait_alerts(WAIT, |a| a.len() == 1).await;
    // A new alert in the group: Alertmanager re-sends the whole group, the first one included.
    am.post_alerts(json!([second])).await;
    sim.wait_alerts(WAIT, |a| a.len() == 2).await;
    let jobs = service
        .wait_json("/api/v2/publishing/queue/jobs?target=rootly", WAIT, |v| {
            let jobs = v["jobs"].as_array().cloned().unwrap_or_default();
            jobs.iter()
                .filter(|j| j["fingerprint"] == fp1.as_str())
                .count()
                >= 2
                && jobs.iter().all(|j| j["state"] == "done")
        })
        .await;
    let alerts = sim.alerts();
    assert_eq!(
        with_external_id(&alerts, &fp1).len(),
        1,
        "re-sent firing alert not duplicated: {alerts:#?}\n{jobs}"
    );
    assert_eq!(with_external_id(&alerts, &fp2).len(), 1);
    assert!(alerts.iter().all(SimAlert::is_open));
    assert_eq!(
        sim.requests().iter().filter(|r| r.is_write()).count(),
        2,
        "the re-send wrote nothing"
    );
    let metrics = reqwest::get(service.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"alert_publisher_rootly_lifecycle_total{target="rootly",action="create",result="already_open"}"#),
        "{metrics}"
    );
}
