//! Snapshot tests of the requests for every Alertmanager webhook fixture.

use publish::AlertStatus;
use publish_rootly::{IncidentMode, RootlyOptions, encode_alert, encode_incident, encode_resolve};
use serde_json::{Value, json};

use crate::support::fixture;

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("encoder writes JSON")
}

/// The requests one notification turns into with default options: `POST /v1/alerts` for a
/// firing alert, `POST /v1/alerts/{id}/resolve` for a resolved one.
fn requests(name: &str, options: &RootlyOptions) -> Value {
    let msg = fixture(name);
    let requests: Vec<Value> = msg
        .alerts
        .iter()
        .map(|alert| match alert.status {
            AlertStatus::Firing => json!({
                "method": "POST",
                "path": "/v1/alerts",
                "body": json(&encode_alert(alert, &msg.context, options)),
            }),
            AlertStatus::Resolved => json!({
                "method": "POST",
                "path": "/v1/alerts/{id}/resolve",
                "body": json(&encode_resolve(alert)),
            }),
        })
        .collect();
    Value::Array(requests)
}

#[test]
fn every_webhook_fixture() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/alertmanager");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("fixtures")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("am-webhook-") && n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 6, "fixtures: {names:?}");
    for name in names {
        let stem = name.trim_end_matches(".json");
        insta::assert_json_snapshot!(stem, requests(&name, &RootlyOptions::default()));
    }
}

#[test]
fn every_attribute_with_all_options() {
    let options: RootlyOptions = serde_json::from_value(json!({
        "source": "prometheus-prod",
        "service_ids": ["svc-platform"],
        "group_ids": ["grp-sre"],
        "environment_ids": ["env-prod"],
        "notification_target": {"type": "EscalationPolicy", "id": "esc-primary"},
        "label_mapping": {
            "summary": ["title", "summary"],
            "description": ["description"],
            "services": {"label": "service", "ids": {"checkout": "svc-checkout"}},
            "groups": {"label": "team", "ids": {"sre": "grp-sre"}},
        },
        "incident": {"severities": ["critical"], "severity_id": "sev-1"},
    }))
    .expect("options");
    insta::assert_json_snapshot!(
        "all-options-firing",
        requests("am-webhook-firing.json", &options)
    );
    let msg = fixture("am-webhook-firing.json");
    let incident = IncidentMode {
        severities: vec!["critical".to_owned()],
        severity_id: Some("sev-1".to_owned()),
    };
    insta::assert_json_snapshot!(
        "all-options-incident",
        json!({
            "method": "POST",
            "path": "/v1/incidents",
            "body": json(&encode_incident(&msg.alerts[0], "alert-id-1", &options, &incident)),
        })
    );
}

#[test]
fn hostile_text_stays_inside_its_fields() {
    let mut alert =
        crate::support::alert(&[("alertname", "Weird"), ("path", "a|b*c_[x](javascript:y)")]);
    alert
        .annotations
        .insert("summary".to_owned(), "line one\nline two".to_owned());
    alert
        .annotations
        .insert("note".to_owned(), "<script>`x`</script>".to_owned());
    alert.generator_url = "javascript:alert(1)".to_owned();
    let body = json(&encode_alert(
        &alert,
        &Default::default(),
        &RootlyOptions::default(),
    ));
    let attrs = &body["data"]["attributes"];
    assert_eq!(attrs["summary"], "line one line two");
    let description = attrs["description"].as_str().unwrap();
    assert!(
        description.contains("- `path`: a\\|b\\*c\\_\\[x\\](javascript:y)"),
        "{description}"
    );
    assert!(
        description.contains("- `note`: \\<script\\>\\`x\\`\\</script\\>"),
        "{description}"
    );
    assert!(
        !description.contains("[Source]"),
        "a non-http generator URL is not linked: {description}"
    );
    assert!(
        attrs.get("external_url").is_none(),
        "only http(s) URLs are sent: {attrs}"
    );
    assert_eq!(
        attrs["labels"][1],
        json!({"key": "path", "value": "a|b*c_[x](javascript:y)"}),
        "labels are exact"
    );
}
