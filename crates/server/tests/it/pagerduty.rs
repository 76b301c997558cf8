//! End to end with the simulated PagerDuty: Alertmanager (real, where it matters) → our
//! `/webhook` → store → worker → `publish-pagerduty` → PagerDuty's Events API v2. The simulator
//! keeps PagerDuty's alert state, so the tests assert what a PagerDuty user would see: one
//! alert opened and resolved per Alertmanager alert, retries that end delivered, rejections that
//! end as dead letters, a storm that waits instead of collecting 429s, oversized alerts trimmed.
//! That routing keys never leave the service is checked with every other secret in `leaks.rs`.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use publish::{Fingerprint, Labels};
use serde_json::{Value, json};
use testkit::{
    Alertmanager, AlertmanagerConfig, PagerDutySim, PagerDutySimConfig, PdAlertStatus, PdFault,
};

use crate::support::{Service, metric, metrics, write_targets};

const WAIT: Duration = Duration::from_secs(20);
const KEY: &str = "e2eROUTINGkey0123456789abcdefXYZ";

fn ts(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn fingerprint(labels: &Value) -> String {
    Fingerprint::from_labels(&serde_json::from_value::<Labels>(labels.clone()).unwrap()).to_string()
}

/// A webhook v4 body holding `alerts` (each `{labels, annotations}`), firing.
fn webhook(alerts: &[Value]) -> Vec<u8> {
    let now = ts(Utc::now());
    let alerts: Vec<Value> = alerts
        .iter()
        .map(|a| {
            json!({
                "status": "firing",
                "labels": a["labels"],
                "annotations": a["annotations"],
                "startsAt": now,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
                "fingerprint": fingerprint(&a["labels"]),
            })
        })
        .collect();
    serde_json::to_vec(&json!({
        "version": "4", "status": "firing", "receiver": "pagerduty", "groupKey": "{}:{}",
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093", "truncatedAlerts": 0, "alerts": alerts
    }))
    .unwrap()
}

#[tokio::test]
async fn alertmanager_fire_then_resolve_opens_and_resolves_one_alert() {
    let dir = tempfile::tempdir().unwrap();
    let sim = PagerDutySim::start().await;
    write_targets(
        dir.path(),
        &format!(
            "- name: pd-e2e\n  type: pagerduty\n  url: {}\n  options:\n    routing_key: {KEY}\n",
            sim.url()
        ),
    );
    let service = Service::start(dir.path(), "").await;
    let am = Alertmanager::start(AlertmanagerConfig::new(service.url("/webhook"))).await;

    let labels = json!({"alertname": "CheckoutErrors", "severity": "critical", "instance": "web-1:9100", "service": "checkout", "namespace": "shop"});
    let fp = fingerprint(&labels);
    let starts = ts(Utc::now() - chrono::Duration::minutes(1));
    let alert = json!({
        "labels": labels,
        "annotations": {
            "summary": "checkout is failing",
            "description": "5xx ratio 7.3% over 5m",
            "runbook_url": "https://runbooks.example/checkout",
            "dashboard_url": "https://grafana.example/d/checkout"
        },
        "startsAt": starts,
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up"
    });
    am.post_alerts(json!([alert])).await;
    let opened = sim
        .wait_for(WAIT, "the alert opened", |s| s.alert(&fp))
        .await;
    assert_eq!(opened.status, PdAlertStatus::Triggered);
    assert_eq!(opened.routing_key, KEY);
    assert_eq!(
        opened.field("summary"),
        "CheckoutErrors: checkout is failing"
    );
    assert_eq!(opened.field("severity"), "critical");
    assert_eq!(opened.field("source"), "web-1:9100");
    assert_eq!(opened.field("component"), "checkout");
    assert_eq!(opened.field("group"), "shop");
    assert_eq!(opened.field("class"), "CheckoutErrors");
    let details = &opened.payload["custom_details"];
    assert_eq!(details["labels"], labels);
    assert_eq!(
        details["annotations"]["description"],
        "5xx ratio 7.3% over 5m"
    );
    assert_eq!(details["fingerprint"], fp.as_str());
    assert_eq!(details["receiver"], "alert-publisher");
    let hrefs: Vec<&str> = opened
        .links
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["href"].as_str().unwrap())
        .collect();
    assert_eq!(
        hrefs,
        [
            "http://prometheus.example:9090/graph?g0.expr=up",
            "https://runbooks.example/checkout",
            "https://grafana.example/d/checkout"
        ]
    );
    // Alertmanager's external URL: its host name and port, and its alerts page of our receiver
    let am_port = am.url().rsplit(':').next().unwrap().to_owned();
    let client_url = opened.client_url.clone().unwrap_or_default();
    assert!(
        client_url.ends_with(&format!(":{am_port}/#/alerts?receiver=alert-publisher")),
        "{client_url}"
    );

    let mut ended = alert.clone();
    ended["endsAt"] = json!(ts(Utc::now() - chrono::Duration::seconds(1)));
    am.post_alerts(json!([ended])).await;
    let resolved = sim
        .wait_for(WAIT, "the alert resolved", |s| {
            s.alert(&fp).filter(|a| a.status == PdAlertStatus::Resolved)
        })
        .await;
    assert_eq!(resolved.log.first().map(String::as_str), Some("trigger"));
    assert_eq!(resolved.log.last().map(String::as_str), Some("resolve"));
    // give Alertmanager a group interval to re-send anything it would
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let alerts = sim.alerts();
    assert_eq!(alerts.len(), 1, "exactly one PagerDuty alert: {alerts:#?}");
    assert_eq!(alerts[0].status, PdAlertStatus::Resolved);
    assert_eq!(alerts[0].triggers(), 1, "{:?}", alerts[0].log);
    let m = metrics(&service).await;
    assert_eq!(
        metric(
            &m,
            r#"alert_publisher_pagerduty_events_total{target="pd-e2e",action="trigger",result="delivered"}"#
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            r#"alert_publisher_pagerduty_events_total{target="pd-e2e",action="resolve",result="delivered"}"#
        ),
        Some(1.0),
        "{m}"
    );
}

#[tokio::test]
async fn retryable_answers_end_delivered_and_a_rejection_ends_as_a_dead_letter() {
    let dir = tempfile::tempdir().unwrap();
    let sim = PagerDutySim::start().await;
    write_targets(
        dir.path(),
        &format!(
            "- name: pd-classify\n  type: pagerduty\n  url: {}\n  options:\n    routing_key: {KEY}\n",
            sim.url()
        ),
    );
    let service = Service::start(dir.path(), "").await;

    // four retryable failures in a row (five would open the target's circuit breaker)
    sim.script([
        PdFault::Status(503),
        PdFault::TooManyRequests {
            retry_after: Some("1".to_owned()),
        },
        PdFault::TooManyRequests { retry_after: None },
        PdFault::Reset,
    ]);
    let retried =
        json!({"labels": {"alertname": "Retried", "severity": "warning"}, "annotations": {}});
    let (status, body) = service
        .post("/webhook", webhook(std::slice::from_ref(&retried)))
        .await;
    assert_eq!(status, 200, "{body}");
    let fp = fingerprint(&retried["labels"]);
    sim.wait_for(WAIT, "delivered after four failures", |s| s.alert(&fp))
        .await;
    let jobs = service
        .wait_json(
            "/api/v2/publishing/queue/jobs?target=pd-classify",
            WAIT,
            |v| v["jobs"][0]["state"] == "done",
        )
        .await;
    assert_eq!(jobs["jobs"][0]["attempts"], 5, "{jobs}");
    let id = jobs["jobs"][0]["id"].as_i64().unwrap();
    let job = service
        .get_json(&format!("/api/v2/publishing/queue/jobs/{id}"))
        .await;
    let kinds: Vec<&str> = job["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["error_kind"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        kinds[..3],
        ["server", "rate_limited", "rate_limited"],
        "{job:#}"
    );
    assert!(matches!(kinds[3], "io" | "connect"), "{job:#}");
    assert_eq!(kinds[4], "-");

    sim.script([PdFault::Status(400)]);
    let rejected =
        json!({"labels": {"alertname": "Rejected", "severity": "warning"}, "annotations": {}});
    service.post("/webhook", webhook(&[rejected])).await;
    let dlq = service
        .wait_json("/api/v2/publishing/dlq?target=pd-classify", WAIT, |v| {
            v["count"] == 1
        })
        .await;
    let dead = &dlq["jobs"][0];
    assert_eq!(dead["alertname"], "Rejected");
    assert_eq!(dead["attempts"], 1, "a 400 is not retried");
    assert_eq!(dead["last_status_code"], 400);
    assert_eq!(dead["last_error_kind"], "invalid");
    assert_eq!(
        dead["last_error"],
        "HTTP 400: PagerDuty: Event object is invalid: scripted failure"
    );
}

#[tokio::test]
async fn a_storm_for_one_routing_key_waits_instead_of_collecting_429s() {
    // PagerDuty's limit scaled 30× in time: 140 events per 2 s sliding window per key. Two
    // targets share the key and a bucket of 60/s with a burst of 10: at most 130 in any 2 s.
    // Separate buckets would send up to 260 and collect 429s.
    let dir = tempfile::tempdir().unwrap();
    let sim = PagerDutySim::start_with(PagerDutySimConfig {
        events_per_window: 140,
        window: Duration::from_secs(2),
        ..Default::default()
    })
    .await;
    write_targets(
        dir.path(),
        &format!(
            "- name: pd-storm-a\n  type: pagerduty\n  url: {url}\n  filter: {{labels: {{team: a}}}}\n  options:\n    routing_key: {KEY}\n    rate_limit: {{per_minute: 3600, burst: 10}}\n\
             - name: pd-storm-b\n  type: pagerduty\n  url: {url}\n  filter: {{labels: {{team: b}}}}\n  headers: {{routing_key: {KEY}}}\n  options:\n    rate_limit: {{per_minute: 3600, burst: 10}}\n",
            url = sim.url()
        ),
    );
    let service = Service::start(dir.path(), "").await;
    let alerts: Vec<Value> = (0..600)
        .map(|i| json!({"labels": {"alertname": "Storm", "instance": format!("node-{i:03}"), "team": if i % 2 == 0 { "a" } else { "b" }}, "annotations": {"summary": format!("storm {i}")}}))
        .collect();
    let (status, body) = service.post("/webhook", webhook(&alerts)).await;
    assert_eq!(status, 200, "{body}");
    let accepted: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(accepted["jobs"], 600);

    sim.wait_for(Duration::from_secs(25), "all 600 alerts opened", |s| {
        (s.alerts().len() == 600).then_some(())
    })
    .await;
    assert_eq!(
        sim.count_status(429),
        0,
        "the simulated PagerDuty answered 429"
    );
    assert_eq!(sim.requests().len(), 600, "one event per alert");
    let stats = service
        .wait_json("/api/v2/publishing/queue/stats", WAIT, |v| v["done"] == 600)
        .await;
    assert_eq!(stats["dead"], 0);
    let m = metrics(&service).await;
    let waits: f64 = ["pd-storm-a", "pd-storm-b"]
        .iter()
        .filter_map(|t| {
            metric(
                &m,
                &format!("alert_publisher_pagerduty_rate_limit_waits_total{{target=\"{t}\"}}"),
            )
        })
        .sum();
    assert!(waits > 0.0, "the shared bucket made deliveries wait:\n{m}");
}

#[tokio::test]
async fn oversized_alerts_are_trimmed_delivered_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let sim = PagerDutySim::start().await;
    write_targets(
        dir.path(),
        &format!(
            "- name: pd-big\n  type: pagerduty\n  url: {}\n  options:\n    routing_key: {KEY}\n",
            sim.url()
        ),
    );
    let service = Service::start(dir.path(), "").await;
    let huge = json!({"labels": {"alertname": "HugeDescription"}, "annotations": {"summary": "huge", "description": "x".repeat(2 * 1024 * 1024)}});
    let long = json!({"labels": {"alertname": "LongSummary"}, "annotations": {"summary": "s".repeat(5000)}});
    let (status, body) = service
        .post("/webhook", webhook(&[huge.clone(), long.clone()]))
        .await;
    assert_eq!(status, 200, "{body}");
    sim.wait_for(WAIT, "both alerts opened", |s| {
        (s.alerts().len() == 2).then_some(())
    })
    .await;
    assert_eq!(sim.count_status(400), 0);
    assert!(sim.requests().iter().all(|r| r.body.len() <= 512_000));

    let marker = publish::truncate::MARKER;
    let big = sim.alert(&fingerprint(&huge["labels"])).unwrap();
    let description = big.payload["custom_details"]["annotations"]["description"]
        .as_str()
        .unwrap();
    assert!(
        description.starts_with("xxxx")
            && description.ends_with(marker)
            && description.len() < 70_000,
        "{} bytes",
        description.len()
    );
    assert!(
        big.payload["custom_details"]["_truncated"]
            .as_str()
            .unwrap()
            .contains("shrunk to fit")
    );
    let summary = sim
        .alert(&fingerprint(&long["labels"]))
        .unwrap()
        .field("summary")
        .to_owned();
    assert_eq!(summary.chars().count(), 1024);
    assert!(summary.starts_with("LongSummary: sss") && summary.ends_with(marker));

    let m = metrics(&service).await;
    assert!(
        m.contains("# HELP alert_publisher_pagerduty_truncations_total Events trimmed"),
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            r#"alert_publisher_pagerduty_truncations_total{target="pd-big",field="custom_details"}"#
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            r#"alert_publisher_pagerduty_truncations_total{target="pd-big",field="summary"}"#
        ),
        Some(1.0),
        "{m}"
    );
}
