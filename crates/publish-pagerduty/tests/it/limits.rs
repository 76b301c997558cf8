//! Oversized alerts are delivered, trimmed with the marker, and counted.

use publish::{AlertStatus, Publisher};
use publish_pagerduty::{MAX_EVENT_BYTES, TRUNCATION_NOTE_KEY};
use serde_json::json;
use testkit::PagerDutySim;

use crate::support::{self, alert, context, delivery};

const MARKER: &str = publish::truncate::MARKER;

#[tokio::test]
async fn a_2mb_annotation_is_shrunk_and_delivered() {
    let sim = PagerDutySim::start().await;
    let pd = support::publisher("pd-huge", &sim.url(), json!({}));
    let huge = "log line with details\n".repeat(2 * 1024 * 1024 / 22);
    let a = alert(
        &[("alertname", "HugeAlert"), ("severity", "warning")],
        &[("summary", "huge"), ("description", &huge)],
    );
    let d = pd
        .publish(&delivery(a.clone(), context(AlertStatus::Firing), None))
        .await
        .unwrap();
    assert_eq!(d.status_code, Some(202));

    let sent = &sim.requests()[0];
    assert!(
        sent.body.len() <= MAX_EVENT_BYTES,
        "{} bytes sent",
        sent.body.len()
    );
    let opened = sim.alert(a.fingerprint.as_str()).expect("delivered");
    let details = &opened.payload["custom_details"];
    let description = details["annotations"]["description"].as_str().unwrap();
    assert!(description.ends_with(MARKER), "cut with the marker");
    assert!(description.len() <= 65_536 && description.starts_with("log line with details"));
    let note = details[TRUNCATION_NOTE_KEY]
        .as_str()
        .expect("the event says it was shrunk");
    assert!(
        note.starts_with("custom_details shrunk to fit PagerDuty's event size limit"),
        "{note}"
    );
    assert_eq!(
        details["labels"]["alertname"], "HugeAlert",
        "short values are kept whole"
    );
    assert_eq!(opened.field("summary"), "HugeAlert: huge");
    assert_eq!(
        support::counter(
            "alert_publisher_pagerduty_truncations_total",
            &[("target", "pd-huge"), ("field", "custom_details")]
        ),
        1
    );
    assert_eq!(
        support::counter(
            "alert_publisher_pagerduty_truncations_total",
            &[("target", "pd-huge"), ("field", "summary")]
        ),
        0
    );
}

#[tokio::test]
async fn a_5000_character_summary_is_cut_on_a_character_boundary() {
    let sim = PagerDutySim::start().await;
    let pd = support::publisher("pd-long-summary", &sim.url(), json!({}));
    let long = "日本語のアラート".repeat(625); // 5000 characters, 15000 bytes
    let a = alert(&[("alertname", "Long")], &[("summary", &long)]);
    pd.publish(&delivery(a.clone(), context(AlertStatus::Firing), None))
        .await
        .unwrap();
    let opened = sim.alert(a.fingerprint.as_str()).expect("delivered");
    let summary = opened.field("summary");
    assert_eq!(summary.chars().count(), 1024);
    assert!(
        summary.starts_with("Long: 日本語のアラート") && summary.ends_with(MARKER),
        "{summary}"
    );
    assert_eq!(
        opened.payload["custom_details"]["annotations"]["summary"],
        long.as_str(),
        "the full text stays in the details"
    );
    assert_eq!(
        support::counter(
            "alert_publisher_pagerduty_truncations_total",
            &[("target", "pd-long-summary"), ("field", "summary")]
        ),
        1
    );
}

#[tokio::test]
async fn many_large_labels_fall_back_to_a_note() {
    let sim = PagerDutySim::start().await;
    let pd = support::publisher("pd-many", &sim.url(), json!({}));
    let value = "v".repeat(1500);
    let names: Vec<String> = (0..2000)
        .map(|i| format!("label_{i:04}_{}", "n".repeat(200)))
        .collect();
    let mut pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), value.as_str())).collect();
    pairs.push(("alertname", "ManyLabels"));
    let a = alert(&pairs, &[]);
    pd.publish(&delivery(a.clone(), context(AlertStatus::Firing), None))
        .await
        .unwrap();
    let sent = &sim.requests()[0];
    assert!(sent.body.len() <= MAX_EVENT_BYTES, "{}", sent.body.len());
    let opened = sim.alert(a.fingerprint.as_str()).expect("delivered");
    let note = opened.payload["custom_details"][TRUNCATION_NOTE_KEY]
        .as_str()
        .unwrap();
    assert!(
        note.contains("shrunk") || note.contains("removed"),
        "{note}"
    );
}

#[tokio::test]
async fn an_oversized_label_value_in_source_is_cut() {
    let sim = PagerDutySim::start().await;
    let pd = support::publisher("pd-field", &sim.url(), json!({}));
    let instance = "i".repeat(3000);
    let a = alert(&[("alertname", "LongSource"), ("instance", &instance)], &[]);
    pd.publish(&delivery(a.clone(), context(AlertStatus::Firing), None))
        .await
        .unwrap();
    let source = sim
        .alert(a.fingerprint.as_str())
        .unwrap()
        .field("source")
        .to_owned();
    assert_eq!(source.chars().count(), 1024);
    assert!(source.ends_with(MARKER));
    assert_eq!(
        support::counter(
            "alert_publisher_pagerduty_truncations_total",
            &[("target", "pd-field"), ("field", "field")]
        ),
        1
    );
}
