//! Snapshots of the events built from every Alertmanager fixture (reviewed by hand once, then
//! guarded), and a check that we carry at least what Alertmanager's own PagerDuty integration
//! sends.

use publish::{AlertStatus, Delivery};
use publish_pagerduty::{PagerDutyConfig, Plan, encode};
use serde_json::{Value, json};

use crate::support::{self, KEY};

fn config(options: Value) -> PagerDutyConfig {
    PagerDutyConfig::from_target(&support::target(
        "pd-snap",
        "https://events.pagerduty.com",
        options,
    ))
    .unwrap()
}

/// Each delivery's plan: the event body as JSON, or the reason nothing is sent.
fn plans(config: &PagerDutyConfig, deliveries: &[Delivery]) -> Value {
    deliveries
        .iter()
        .map(|d| match encode(config, d) {
            Plan::Send(e) => {
                let body: Value = serde_json::from_slice(&e.body).unwrap();
                json!({"url": if body.get("event_action").is_some() { config.enqueue_url.as_str() } else { config.change_url.as_str() },
                       "truncations": e.truncations, "body": body})
            }
            Plan::Skip(reason) => json!({"skip": reason}),
        })
        .collect()
}

fn check(fixture: &str) {
    let events = plans(&config(json!({})), &support::deliveries(fixture));
    let name = fixture.trim_end_matches(".json");
    insta::assert_json_snapshot!(name, events);
}

#[test]
fn firing() {
    check("am-webhook-firing.json");
}

#[test]
fn resolved() {
    check("am-webhook-resolved.json");
}

#[test]
fn grouped() {
    check("am-webhook-group-2-firing.json");
}

#[test]
fn mixed() {
    check("am-webhook-group-mixed.json");
}

#[test]
fn truncated_group() {
    check("am-webhook-truncated.json");
}

#[test]
fn from_prometheus() {
    check("am-webhook-from-prometheus.json");
}

#[test]
fn per_group_dedup_of_the_mixed_group() {
    let events = plans(
        &config(json!({"dedup": "per_group", "dedup_key_prefix": "am-"})),
        &support::deliveries("am-webhook-group-mixed.json"),
    );
    insta::assert_json_snapshot!("per-group-mixed", events);
}

#[test]
fn change_event() {
    let mut deliveries = support::deliveries("am-webhook-firing.json");
    deliveries[0]
        .alert
        .labels
        .insert("change_event".to_owned(), "true".to_owned());
    let mut resolved = deliveries[0].clone();
    resolved.alert = support::resolved(resolved.alert);
    deliveries.push(resolved);
    insta::assert_json_snapshot!("change-event", plans(&config(json!({})), &deliveries));
}

#[test]
fn long_summary_is_cut_with_a_marker() {
    let mut deliveries = support::deliveries("am-webhook-from-prometheus.json");
    deliveries[0]
        .alert
        .annotations
        .insert("summary".to_owned(), "ü".repeat(5000));
    deliveries[0].alert.annotations.insert(
        "image_url".to_owned(),
        "http://grafana.example/render/panel.png".to_owned(),
    );
    deliveries[0].alert.annotations.insert(
        "runbook_url".to_owned(),
        format!("https://runbooks.example/{}", "x".repeat(3000)),
    );
    let events = plans(&config(json!({})), &deliveries);
    let summary = events[0]["body"]["payload"]["summary"].as_str().unwrap();
    let marker = publish::truncate::MARKER;
    assert_eq!(
        summary,
        format!(
            "AlwaysFiring: {}{marker}",
            "ü".repeat(1024 - "AlwaysFiring: ".len() - marker.chars().count())
        )
    );
    assert_eq!(summary.chars().count(), 1024);
    // the full text is kept in custom_details; cut it out of the snapshot to keep it readable
    let mut shown = events.clone();
    shown[0]["body"]["payload"]["custom_details"]["annotations"]["summary"] = json!("<5000 × ü>");
    shown[0]["body"]["payload"]["custom_details"]["annotations"]["runbook_url"] =
        json!("<3000-character URL>");
    shown[0]["body"]["payload"]["summary"] =
        json!("<AlwaysFiring: 998 × ü…[truncated], checked above>");
    insta::assert_json_snapshot!("long-summary", shown);
}

/// Every field of Alertmanager's own PagerDuty event is in ours, and everything its
/// `custom_details` text says is in our structured details.
#[test]
fn carries_at_least_what_alertmanager_sends() {
    for (fixture, ours) in [
        ("am-pagerduty-trigger.json", "am-webhook-firing.json"),
        ("am-pagerduty-resolve.json", "am-webhook-resolved.json"),
    ] {
        let theirs = support::fixture_json(fixture)["body"].clone();
        let delivery = &support::deliveries(ours)[0];
        let Plan::Send(e) = encode(&config(json!({})), delivery) else {
            panic!("{ours}: nothing sent")
        };
        let body: Value = serde_json::from_slice(&e.body).unwrap();
        for path in [
            "/routing_key",
            "/dedup_key",
            "/event_action",
            "/payload/summary",
            "/payload/source",
            "/payload/severity",
            "/payload/custom_details",
            "/client",
            "/client_url",
        ] {
            assert!(theirs.pointer(path).is_some(), "{fixture} has {path}");
            assert!(
                body.pointer(path).is_some_and(|v| !v.is_null() && v != ""),
                "{ours}: ours lacks {path}: {body:#}"
            );
        }
        assert_eq!(body["routing_key"], KEY);
        assert_eq!(body["event_action"], theirs["event_action"]);
        let details = &body["payload"]["custom_details"];
        let text = [
            theirs["payload"]["custom_details"]["firing"]
                .as_str()
                .unwrap(),
            theirs["payload"]["custom_details"]["resolved"]
                .as_str()
                .unwrap(),
        ]
        .concat();
        for line in text.lines() {
            if let Some((k, v)) = line.trim_start_matches(" - ").split_once(" = ") {
                let in_labels = details["labels"][k] == v;
                let in_annotations = details["annotations"][k] == v;
                assert!(
                    in_labels || in_annotations,
                    "{ours}: {k} = {v} missing from {details:#}"
                );
            } else if let Some(source) = line.strip_prefix("Source: ") {
                assert_eq!(details["generator_url"], source);
                assert!(
                    body["links"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|l| l["href"] == source),
                    "{body:#}"
                );
            }
        }
        let status = if delivery.alert.status == AlertStatus::Firing {
            "firing"
        } else {
            "resolved"
        };
        assert_eq!(details["status"], status);
    }
}
