//! A target's templates in the event: each field replaces its default as rendered, `details`
//! adds to the default details, and a failing rendering sends the default and is counted.

use publish::AlertStatus;
use publish_pagerduty::{Event, Plan};
use serde_json::{Value, json};

use crate::support::{alert, context, counter, recorder, resolved, target};

fn planned(templates: Value, a: &publish::Alert, status: AlertStatus) -> Value {
    recorder();
    let mut t = target("pd-tmpl", "", json!({}));
    t.templates = templates.as_object().cloned().expect("object");
    let pd = publish_pagerduty::build(&t, &publish::BuildContext::default()).expect("builds");
    let Plan::Send(encoded) = pd.plan(a, &context(status), None) else {
        panic!("nothing planned")
    };
    let Event::Alert(_) = &encoded.event else {
        panic!("an alert event")
    };
    serde_json::from_slice(&encoded.body).expect("JSON")
}

fn db() -> publish::Alert {
    alert(
        &[
            ("alertname", "DiskFull"),
            ("instance", "db-1:9100"),
            ("service", "postgres"),
            ("severity", "critical"),
        ],
        &[("summary", "Disk 97% full")],
    )
}

#[test]
fn templated_fields_replace_their_defaults() {
    let templates = json!({
        "summary": "{{ template \"pagerduty.default.description\" . }}",
        "source": "{{ .CommonLabels.instance }}",
        "component": "{{ (index .Alerts 0).Labels.service }}",
        "group": "{{ .Receiver | toUpper }}",
        "class": "disk",
        "client": "{{ template \"pagerduty.default.client\" . }}",
        "client_url": "{{ .ExternalURL }}/#/alerts",
        "details": {"runbook": "https://runbooks.example/{{ (index .Alerts 0).Labels.alertname }}", "fp": "{{ (index .Alerts 0).Fingerprint }}"},
    });
    let a = db();
    let body = planned(templates.clone(), &a, AlertStatus::Firing);
    let p = &body["payload"];
    assert_eq!(p["summary"], "[FIRING:1] HighErrorRate ", "{body:#}");
    assert_eq!(p["component"], "postgres");
    assert_eq!(p["group"], "PAGERDUTY");
    assert_eq!(p["class"], "disk");
    assert_eq!(body["client"], "Alertmanager");
    assert_eq!(
        body["client_url"],
        "http://alertmanager.example:9093/#/alerts"
    );
    let details = &p["custom_details"];
    assert_eq!(details["runbook"], "https://runbooks.example/DiskFull");
    assert_eq!(details["fp"], a.fingerprint.as_str());
    assert_eq!(details["alertname"], "DiskFull", "the default details stay");
    // A resolve sends the summary as rendered: no `[RESOLVED]` prefix of ours.
    let body = planned(templates, &resolved(a), AlertStatus::Resolved);
    assert_eq!(body["event_action"], "resolve");
    assert_eq!(
        body["payload"]["summary"], "[RESOLVED] HighErrorRate ",
        "{body:#}"
    );
}

#[test]
fn a_failing_rendering_sends_the_default_and_is_counted() {
    // Renders the sample data at load; fails for an alert of the `postgres` service.
    let failing =
        "{{ if eq (index .Alerts 0).Labels.service \"postgres\" }}{{ index .Alerts 3 }}{{ end }}";
    let before = counter(
        publish::templates::RENDER_FAILURES_TOTAL,
        &[("target_name", "pd-tmpl"), ("field", "summary")],
    );
    let body = planned(json!({"summary": failing}), &db(), AlertStatus::Firing);
    assert_eq!(
        body["payload"]["summary"], "DiskFull: Disk 97% full",
        "{body:#}"
    );
    let after = counter(
        publish::templates::RENDER_FAILURES_TOTAL,
        &[("target_name", "pd-tmpl"), ("field", "summary")],
    );
    assert_eq!(after, before + 1);
}
