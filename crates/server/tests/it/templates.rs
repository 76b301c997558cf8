//! Alertmanager templates in targets: the real Alertmanager and our service, given the same
//! templates, send byte-identical texts; broken templates fail `check-config` naming the
//! place; a template that fails at delivery time sends the default and is counted; the render
//! API and the `template render` command.

use std::{collections::BTreeMap, process::Command, time::Duration};

use chrono::Utc;
use serde_json::{Value, json};
use testkit::{Alertmanager, AlertmanagerConfig, PagerDutySim, SlackSim, WebhookSink};

use crate::support::{Service, binary, fixture_body, metric_sum, metrics, write_targets};

const WAIT: Duration = Duration::from_secs(30);
const KEY: &str = "tmplROUTINGkey0123456789abcdefXY";

/// Shared definitions, as a team keeps them in `/etc/alertmanager/templates/*.tmpl`.
const SHARED: &str = r#"{{ define "team.title" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }}{{ with .CommonLabels.severity }} ({{ . | title }}){{ end }}{{ end }}

{{ define "team.text" }}{{ range .Alerts }}*Alert:* {{ .Annotations.summary }}{{ if .Labels.severity }} - `{{ .Labels.severity }}`{{ end }}
*Description:* {{ .Annotations.description }}
*Started:* {{ .StartsAt }}{{ if eq .Status "resolved" }}
*Ended:* {{ .EndsAt }}{{ end }}
*Details:*
{{ range .Labels.SortedPairs }}  • *{{ .Name }}:* `{{ .Value }}`
{{ end }}{{ end }}{{ end }}

{{ define "team.link" }}{{ with index .CommonAnnotations "runbook_url" }}{{ . }}{{ else }}{{ template "__alertmanagerURL" . }}{{ end }}{{ end }}
"#;

/// Slack fields: Alertmanager's `slack_configs` names, which are ours too.
const SLACK: [(&str, &str); 7] = [
    ("title", r#"{{ template "team.title" . }}"#),
    ("title_link", r#"{{ template "team.link" . }}"#),
    ("text", r#"{{ template "team.text" . }}"#),
    (
        "pretext",
        r#"{{ if eq .Status "firing" }}:fire: {{ .GroupLabels.SortedPairs.Values | join " / " }}{{ end }}"#,
    ),
    ("fallback", r#"{{ template "slack.default.fallback" . }}"#),
    (
        "color",
        r#"{{ if eq .Status "firing" }}{{ if eq .CommonLabels.severity "critical" }}danger{{ else }}warning{{ end }}{{ else }}good{{ end }}"#,
    ),
    (
        "footer",
        r#"{{ .Receiver }} · {{ printf "%.8s" (index .Alerts 0).Fingerprint }} · {{ reReplaceAll "^https?://([^:/]+).*$" "$1" .ExternalURL }}"#,
    ),
];

/// PagerDuty fields: ours → Alertmanager's `pagerduty_configs` name.
const PAGERDUTY: [(&str, &str, &str); 7] = [
    (
        "summary",
        "description",
        r#"{{ template "pagerduty.default.description" . }}"#,
    ),
    (
        "client",
        "client",
        r#"{{ template "pagerduty.default.client" . }}"#,
    ),
    (
        "client_url",
        "client_url",
        r#"{{ template "pagerduty.default.clientURL" . }}"#,
    ),
    ("source", "source", "{{ .CommonLabels.instance }}"),
    ("component", "component", "{{ .CommonLabels.service }}"),
    ("group", "group", "{{ .CommonLabels.namespace | toUpper }}"),
    (
        "class",
        "class",
        r#"{{ if match "^Disk" .CommonLabels.alertname }}storage{{ else }}service{{ end }}"#,
    ),
];

const DETAILS: [(&str, &str); 6] = [
    (
        "firing",
        r#"{{ template "pagerduty.default.instances" .Alerts.Firing }}"#,
    ),
    ("num_firing", "{{ .Alerts.Firing | len }}"),
    ("labels", "{{ .CommonLabels.SortedPairs }}"),
    ("fp", "{{ (index .Alerts 0).Fingerprint }}"),
    ("started", "{{ (index .Alerts 0).StartsAt }}"),
    (
        "escaped",
        "{{ .CommonAnnotations.description | html }} {{ .CommonLabels.instance | urlquery }}",
    ),
];

/// A YAML double-quoted scalar.
fn q(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

fn ts(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The alerts: each its own group (grouped by alertname and instance), with text that needs
/// care (markup, entities, quotes, non-ASCII).
fn alerts() -> Vec<Value> {
    let start = Utc::now() - chrono::Duration::minutes(7);
    let alert = |labels: Value, annotations: Value| {
        json!({
            "labels": labels,
            "annotations": annotations,
            "startsAt": ts(start),
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up&g0.tab=1"
        })
    };
    vec![
        alert(
            json!({"alertname": "DiskFull", "instance": "db-1:9100", "severity": "critical", "service": "postgres", "namespace": "data"}),
            json!({"summary": "Disk 97% full on db-1", "description": "Only 3% (12 GiB) left on /var/lib/postgresql & growing <fast>", "runbook_url": "https://runbooks.example/disk?host=db-1"}),
        ),
        alert(
            json!({"alertname": "HighLatency", "instance": "web-2:8080", "severity": "warning", "service": "checkout", "namespace": "shop"}),
            json!({"summary": "p99 latency 2.3s", "description": "ünïcødé — “quotes” and 'apostrophes'"}),
        ),
        alert(
            json!({"alertname": "CertExpiry", "instance": "lb-1", "severity": "info", "service": "ingress", "namespace": "edge"}),
            json!({"summary": "certificate expires in *9 days*", "description": "renew <now> & then rotate"}),
        ),
        alert(
            json!({"alertname": "DiskFull", "instance": "db-2:9100", "severity": "warning", "service": "postgres", "namespace": "data"}),
            json!({"summary": "Disk 91% full on db-2", "description": "9% left"}),
        ),
    ]
}

/// The fields of one notification, by (status, fingerprint prefix): what Alertmanager sent and
/// what we sent must be the same maps.
type Notifications = BTreeMap<(String, String), BTreeMap<String, String>>;

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Alertmanager's Slack requests (attachments), keyed by the footer's fingerprint.
fn am_slack(bodies: &[Value]) -> Notifications {
    bodies
        .iter()
        .map(|b| {
            let a = &b["attachments"][0];
            let fields: BTreeMap<String, String> = SLACK
                .iter()
                .map(|(f, _)| (f.to_string(), a[*f].as_str().unwrap_or("").to_owned()))
                .collect();
            (key_of_slack(&fields), fields)
        })
        .collect()
}

/// Our Slack messages: the same fields read from their places in the Block Kit message.
fn our_slack(bodies: &[Value]) -> Notifications {
    bodies
        .iter()
        .map(|b| {
            let mut fields = BTreeMap::new();
            let (blocks, color) = match b["attachments"].as_array() {
                Some(a) => (
                    a[0]["blocks"].as_array().cloned().unwrap_or_default(),
                    a[0]["color"].as_str().unwrap_or("").to_owned(),
                ),
                None => (
                    b["blocks"].as_array().cloned().unwrap_or_default(),
                    String::new(),
                ),
            };
            fields.insert("color".to_owned(), color);
            fields.insert(
                "fallback".to_owned(),
                b["text"].as_str().unwrap_or("").to_owned(),
            );
            let text_of = |block: &Value| block["text"]["text"].as_str().unwrap_or("").to_owned();
            let title_at = blocks
                .iter()
                .position(|bl| {
                    let t = text_of(bl);
                    t.starts_with("*<") && t.ends_with(">*") && t.contains('|')
                })
                .expect("a linked title");
            let title = text_of(&blocks[title_at]);
            let inner = &title[2..title.len() - 2];
            let (link, shown) = inner.split_once('|').unwrap();
            fields.insert("title".to_owned(), unescape(shown));
            fields.insert("title_link".to_owned(), link.to_owned());
            fields.insert(
                "pretext".to_owned(),
                if title_at == 1 {
                    text_of(&blocks[0])
                } else {
                    String::new()
                },
            );
            let text: String = blocks[title_at + 1..]
                .iter()
                .take_while(|bl| bl["type"] == "section" && bl.get("fields").is_none())
                .map(text_of)
                .collect();
            fields.insert("text".to_owned(), text);
            let last = blocks.last().unwrap();
            fields.insert(
                "footer".to_owned(),
                last["elements"][0]["text"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            );
            (key_of_slack(&fields), fields)
        })
        .collect()
}

fn key_of_slack(fields: &BTreeMap<String, String>) -> (String, String) {
    let status = if fields["title"].starts_with("[FIRING") {
        "firing"
    } else {
        "resolved"
    };
    let fp = fields["footer"]
        .split(" · ")
        .nth(1)
        .unwrap_or("")
        .to_owned();
    (status.to_owned(), fp)
}

/// PagerDuty events (Alertmanager's or ours): the templated fields, with Alertmanager's
/// `description` read as the summary.
fn pd_events(bodies: &[Value]) -> Notifications {
    bodies
        .iter()
        .map(|b| {
            let p = &b["payload"];
            let mut fields = BTreeMap::new();
            for (ours, _, _) in PAGERDUTY {
                let v = match ours {
                    "client" | "client_url" => &b[ours],
                    _ => &p[ours],
                };
                fields.insert(ours.to_owned(), v.as_str().unwrap_or("").to_owned());
            }
            for (k, _) in DETAILS {
                fields.insert(
                    format!("details.{k}"),
                    p["custom_details"][k].as_str().unwrap_or("").to_owned(),
                );
            }
            let status = match b["event_action"].as_str() {
                Some("trigger") => "firing",
                _ => "resolved",
            };
            let fp = fields["details.fp"].chars().take(8).collect();
            ((status.to_owned(), fp), fields)
        })
        .collect()
}

#[tokio::test]
async fn alertmanager_and_our_targets_render_the_same_texts() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("team.tmpl");
    std::fs::write(&shared, SHARED).unwrap();

    // Ours: a Slack webhook target and a PagerDuty target with the templates.
    let slack = SlackSim::start().await;
    slack.add_channel("alerts");
    let hook = slack.add_webhook("alerts");
    let pd = PagerDutySim::start().await;
    let mut slack_templates = String::new();
    for (f, t) in SLACK {
        slack_templates.push_str(&format!("    {f}: {}\n", q(t)));
    }
    let mut pd_templates = String::new();
    for (ours, _, t) in PAGERDUTY {
        pd_templates.push_str(&format!("    {ours}: {}\n", q(t)));
    }
    pd_templates.push_str("    details:\n");
    for (k, t) in DETAILS {
        pd_templates.push_str(&format!("      {k}: {}\n", q(t)));
    }
    write_targets(
        dir.path(),
        &format!(
            "- name: slack-team\n  type: slack\n  url: {}{hook}\n  templates:\n{slack_templates}\
             - name: pd-team\n  type: pagerduty\n  url: {}\n  options:\n    routing_key: {KEY}\n  templates:\n{pd_templates}",
            slack.base_url(),
            pd.url()
        ),
    );
    let service = Service::start(
        dir.path(),
        &format!(
            "templates: [{}]\n",
            q(&format!("{}/*.tmpl", dir.path().display()))
        ),
    )
    .await;

    // Alertmanager: one receiver with our webhook and its own Slack and PagerDuty
    // integrations (sending to sinks), so that every template sees the same notification.
    let am_slack_sink = WebhookSink::start().await;
    let am_pd_sink = WebhookSink::start().await;
    let mut receiver = format!(
        "    slack_configs:\n      - api_url: {}\n        send_resolved: true\n        channel: \"#alerts\"\n",
        q(&am_slack_sink.url("/slack"))
    );
    for (f, t) in SLACK {
        receiver.push_str(&format!("        {f}: {}\n", q(t)));
    }
    receiver.push_str(&format!(
        "    pagerduty_configs:\n      - routing_key: {KEY}\n        url: {}\n        send_resolved: true\n",
        q(&am_pd_sink.url("/v2/enqueue"))
    ));
    for (_, theirs, t) in PAGERDUTY {
        receiver.push_str(&format!("        {theirs}: {}\n", q(t)));
    }
    receiver.push_str("        details:\n");
    for (k, t) in DETAILS {
        receiver.push_str(&format!("          {k}: {}\n", q(t)));
    }
    let mut config = AlertmanagerConfig::new(service.url("/webhook"));
    config.group_by = vec!["alertname".to_owned(), "instance".to_owned()];
    config.receiver_yaml = receiver;
    config.templates = vec![shared.display().to_string()];
    let am = Alertmanager::start(config).await;

    let fired = alerts();
    am.post_alerts(Value::Array(fired.clone())).await;
    // Then the first two resolve.
    let resolved: Vec<Value> = fired[..2]
        .iter()
        .map(|a| {
            let mut a = a.clone();
            a["endsAt"] = json!(ts(Utc::now() - chrono::Duration::seconds(1)));
            a
        })
        .collect();
    let ours_ready = || {
        let slack_calls: Vec<Value> = slack
            .calls()
            .into_iter()
            .filter(|c| c.ok())
            .map(|c| c.body)
            .collect();
        let pd_events: Vec<Value> = pd.requests().iter().filter_map(|r| r.json()).collect();
        (slack_calls, pd_events)
    };
    // The resolves go out once every firing notification is through on both sides (Slack
    // takes one message a second: a resolve arriving while its trigger still waits would
    // rightly replace it).
    am_slack_sink.wait_for_requests(4, WAIT).await;
    let deadline = std::time::Instant::now() + WAIT;
    while ours_ready().0.len() < 4 {
        assert!(std::time::Instant::now() < deadline, "{}", service.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    am.post_alerts(Value::Array(resolved)).await;

    let n = 6;
    let json_of = |bodies: Vec<testkit::Recorded>| -> Vec<Value> {
        bodies
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    };
    let am_slack_bodies = json_of(am_slack_sink.wait_for_requests(n, WAIT).await);
    let am_pd_bodies = json_of(am_pd_sink.wait_for_requests(n, WAIT).await);
    let deadline = std::time::Instant::now() + WAIT;
    let (our_slack_bodies, our_pd_bodies) = loop {
        let (s, p) = ours_ready();
        if s.len() >= n && p.len() >= n {
            break (s, p);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "our targets got {} Slack messages and {} PagerDuty events of {n}; service log:\n{}",
            s.len(),
            p.len(),
            service.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let theirs = am_slack(&am_slack_bodies);
    let ours = our_slack(&our_slack_bodies);
    assert_eq!(
        theirs.len(),
        n,
        "Alertmanager's Slack notifications: {theirs:#?}"
    );
    assert_eq!(
        ours, theirs,
        "our Slack fields differ from Alertmanager's;\nours: {our_slack_bodies:#?}"
    );
    let theirs = pd_events(&am_pd_bodies);
    let ours = pd_events(&our_pd_bodies);
    assert_eq!(
        theirs.len(),
        n,
        "Alertmanager's PagerDuty events: {theirs:#?}"
    );
    assert_eq!(
        ours, theirs,
        "our PagerDuty fields differ from Alertmanager's"
    );

    // The texts are what the templates say, not empty agreement.
    let (_, disk) = theirs
        .iter()
        .find(|((status, _), f)| status == "firing" && f["source"] == "db-1:9100")
        .expect("the DiskFull trigger");
    assert_eq!(disk["class"], "storage");
    assert_eq!(disk["group"], "DATA");
    assert_eq!(disk["client"], "Alertmanager");
    assert!(
        disk["summary"].starts_with("[FIRING:1] DiskFull db-1:9100"),
        "{}",
        disk["summary"]
    );
    assert!(
        disk["details.escaped"].contains("&amp; growing &lt;fast&gt;"),
        "{}",
        disk["details.escaped"]
    );
    assert!(
        disk["details.labels"].starts_with("[{alertname DiskFull} {instance db-1:9100}"),
        "{}",
        disk["details.labels"]
    );
}

/// Writes a config whose one Slack target has `template` as its title, runs check-config.
fn check_with_title(template: &str, shared: Option<&str>) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let targets = dir.path().join("targets.yaml");
    std::fs::write(
        &targets,
        format!(
            "- name: ok-hook\n  type: webhook\n  url: https://alerts.example.invalid/x\n\
             - name: slack-team\n  type: slack\n  url: https://hooks.slack.example.invalid/services/x\n  templates:\n    title: {}\n",
            q(template)
        ),
    )
    .unwrap();
    let mut config = format!("targets: {}\n", targets.display());
    if let Some(shared) = shared {
        let file = dir.path().join("broken.tmpl");
        std::fs::write(&file, shared).unwrap();
        config.push_str(&format!(
            "templates: [{}]\n",
            q(&file.display().to_string())
        ));
    }
    let config_path = dir.path().join("config.yaml");
    std::fs::write(&config_path, config).unwrap();
    let out = Command::new(binary())
        .arg("check-config")
        .arg("--config")
        .arg(&config_path)
        .output()
        .unwrap();
    let stderr =
        String::from_utf8_lossy(&out.stderr).replace(&dir.path().display().to_string(), "DIR");
    (out.status.code(), stderr)
}

#[test]
fn broken_templates_fail_check_config_with_file_target_field_line_and_column() {
    let (code, err) = check_with_title("{{ .Status }}\n  {{ nosuchfunc . }}", None);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "error: targets file DIR/targets.yaml: target \"slack-team\": field `templates.title`: line 2, column"
        ) && err.contains("nosuchfunc"),
        "{err}"
    );
    let (code, err) = check_with_title("{{ if .Status }}open", None);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("field `templates.title`: line 1, column"),
        "{err}"
    );
    // A field the data model does not have is found at load, not at delivery.
    let (code, err) = check_with_title("{{ .Alerts.Nope }}", None);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("field `templates.title`: line 1, column") && err.contains("Nope"),
        "{err}"
    );
    // A definition that does not exist.
    let (code, err) = check_with_title(r#"{{ template "team.missing" . }}"#, None);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("team.missing"), "{err}");
    // A broken shared file: its name, line and column; the targets are checked too.
    let (code, err) = check_with_title(
        r#"{{ template "team.title" . }}"#,
        Some("{{ define \"team.title\" }}ok{{ end }}\n{{ define \"x\" }}{{ .Status {{ end }}"),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("error: templates file DIR/broken.tmpl: line 2, column"),
        "{err}"
    );
    // An unknown field and a wrong type are named too.
    let (code, err) = check_with_title("{{ .Status }}", None);
    assert_eq!(code, Some(0), "a good template passes: {err}");
}

#[tokio::test]
async fn a_template_failing_at_delivery_sends_the_default_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await;
    // Parses, and renders the sample data at load; fails for an alert of the `checkout`
    // service (an index out of range), which the fixture's alert is.
    let failing =
        r#"{{ if eq (index .Alerts 0).Labels.service "checkout" }}{{ index .Alerts 7 }}{{ end }}"#;
    write_targets(
        dir.path(),
        &format!(
            "- name: hook\n  type: webhook\n  url: {}\n  templates:\n    body: {}\n",
            sink.url("/hook"),
            q(&format!("{{\"text\": \"{failing}\"}}"))
        ),
    );
    let service = Service::start(dir.path(), "").await;
    let payload = fixture_body("am-webhook-firing.json");
    let (status, text) = service.post("/webhook", payload.clone()).await;
    assert_eq!(status, 200, "{text}");
    let got = sink.wait_for_delivered(1, WAIT).await;
    let delivered: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(
        delivered["version"], "4",
        "the default (Alertmanager v4) body was sent: {delivered}"
    );
    // Another alert of the same service (another instance): its own delivery.
    let mut other: Value = serde_json::from_slice(&payload).unwrap();
    other["alerts"][0]["labels"]["instance"] = json!("web-9:9100");
    other["alerts"][0]
        .as_object_mut()
        .unwrap()
        .remove("fingerprint");
    let (status, _) = service.post("/webhook", other.to_string()).await;
    assert_eq!(status, 200);
    sink.wait_for_delivered(2, WAIT).await;
    let m = metrics(&service).await;
    assert_eq!(
        metric_sum(
            &m,
            "alert_publisher_template_render_failures_total",
            &[("target_name", "hook"), ("field", "body")]
        ),
        Some(2.0),
        "{m}"
    );
    let log = service.log();
    assert_eq!(
        log.matches("template failed to render").count(),
        1,
        "logged once per target and field:\n{log}"
    );
}

#[tokio::test]
async fn a_webhook_body_template_is_the_request_body() {
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await;
    let body = r#"{"title": {{ .CommonLabels.alertname | printf "%q" }}, "firing": {{ .Alerts.Firing | len }}, "hosts": [{{ range $i, $a := .Alerts }}{{ if $i }}, {{ end }}"{{ $a.Labels.instance }}"{{ end }}]}"#;
    write_targets(
        dir.path(),
        &format!(
            "- name: hook\n  type: webhook\n  url: {}\n  templates:\n    body: {}\n",
            sink.url("/hook"),
            q(body)
        ),
    );
    let service = Service::start(dir.path(), "").await;
    let (status, text) = service
        .post("/webhook", fixture_body("am-webhook-firing.json"))
        .await;
    assert_eq!(status, 200, "{text}");
    let got = sink.wait_for_delivered(1, WAIT).await;
    assert_eq!(got[0].header("content-type"), Some("application/json"));
    let delivered: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(delivered["firing"], 1, "{delivered}");
    assert_eq!(delivered["hosts"], json!(["web-1:9100"]), "{delivered}");
    assert!(delivered["title"] == "HighErrorRate", "{delivered}");
}

#[tokio::test]
async fn the_render_api_renders_as_alertmanager_and_reports_errors_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("team.tmpl"),
        r#"{{ define "team.hello" }}hello {{ .Receiver }}{{ end }}"#,
    )
    .unwrap();
    let service = Service::start(
        dir.path(),
        &format!(
            "templates: [{}]\n",
            q(&format!("{}/team.tmpl", dir.path().display()))
        ),
    )
    .await;
    let webhook: Value =
        serde_json::from_slice(&fixture_body("am-webhook-group-mixed.json")).unwrap();
    let render = |body: Value| {
        let service = &service;
        async move {
            let (status, text) = service
                .post("/api/v2/publishing/templates/render", body.to_string())
                .await;
            (status, serde_json::from_str::<Value>(&text).unwrap())
        }
    };
    // The service's shared files, and the payload's group.
    let (status, out) = render(json!({
        "template": r#"{{ template "team.hello" . }}: {{ template "slack.default.title" . }}"#,
        "data": webhook,
    }))
    .await;
    assert_eq!(status, 200, "{out}");
    let expected_title = {
        let firing = webhook["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["status"] == "firing")
            .count();
        format!("[FIRING:{firing}]")
    };
    let output = out["output"].as_str().unwrap();
    assert!(
        output.starts_with(&format!(
            "hello {}: {expected_title}",
            webhook["receiver"].as_str().unwrap()
        )),
        "{output}"
    );
    // Files of the request replace the service's.
    let (status, out) = render(json!({
        "template": r#"{{ template "team.hello" . }}"#,
        "files": [{"name": "mine.tmpl", "content": "{{ define \"team.hello\" }}mine{{ end }}"}],
    }))
    .await;
    assert_eq!(
        (status, out["output"].as_str()),
        (200, Some("mine")),
        "{out}"
    );
    // Errors: 422 with the place.
    let (status, out) = render(json!({"template": "ok\n  {{ .Status | nosuch }}"})).await;
    assert_eq!(status, 422, "{out}");
    assert_eq!(out["error"]["code"], "template_error");
    assert_eq!(out["error"]["details"]["line"], 2, "{out}");
    assert!(
        out["error"]["details"]["column"].as_u64().unwrap() > 1,
        "{out}"
    );
    assert!(
        out["error"]["message"].as_str().unwrap().contains("nosuch"),
        "{out}"
    );
    let (status, out) = render(json!({
        "template": "{{ template \"team.hello\" . }}",
        "files": [{"name": "bad.tmpl", "content": "{{ define \"team.hello\" }}{{ end"}],
    }))
    .await;
    assert_eq!(status, 422, "{out}");
    assert_eq!(out["error"]["details"]["name"], "bad.tmpl", "{out}");
    // Bad requests: 400 naming the field.
    let (status, out) = render(json!({"template": 5})).await;
    assert_eq!(status, 400, "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("template"),
        "{out}"
    );
    let (status, out) = render(json!({"template": "x", "data": {"alerts": "no"}})).await;
    assert_eq!(status, 400, "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("data.alerts"),
        "{out}"
    );
    // Unbounded work is cut off, and the service keeps serving.
    let (status, out) = render(json!({
        "template": "{{ define \"loop\" }}{{ template \"loop\" . }}{{ end }}{{ template \"loop\" . }}",
    }))
    .await;
    assert_eq!(status, 422, "{out}");
    let (status, _) = render(json!({"template": "still here"})).await;
    assert_eq!(status, 200);
}

#[test]
fn the_template_command_renders_offline() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("team.tmpl");
    std::fs::write(
        &shared,
        r#"{{ define "team.who" }}{{ .Receiver }}{{ end }}"#,
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(binary())
            .arg("template")
            .arg("render")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let data = dir.path().join("firing.json");
    std::fs::write(&data, fixture_body("am-webhook-firing.json")).unwrap();
    let (code, out, err) = run(&[
        "--template",
        r#"{{ template "team.who" . }} {{ template "pagerduty.default.description" . }}"#,
        "--templates",
        &shared.display().to_string(),
        "--data",
        &data.display().to_string(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let payload: Value = serde_json::from_slice(&std::fs::read(&data).unwrap()).unwrap();
    assert!(
        out.starts_with(&format!(
            "{} [FIRING:1] HighErrorRate",
            payload["receiver"].as_str().unwrap()
        )),
        "{out}"
    );
    assert!(out.ends_with('\n'));
    // From the config file's `templates:`.
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!("templates: [{}]\n", q(&shared.display().to_string())),
    )
    .unwrap();
    let (code, out, err) = run(&[
        "--template",
        r#"{{ template "team.who" . }}"#,
        "--config",
        &config.display().to_string(),
        "--data",
        &data.display().to_string(),
    ]);
    assert_eq!(
        (code, out.trim_end()),
        (Some(0), payload["receiver"].as_str().unwrap()),
        "{err}"
    );
    let (code, out, err) = run(&["--template", "{{ if }}"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        err.starts_with("error: template:1:") && err.lines().count() == 1,
        "{err}"
    );
    let (code, _, _) = run(&[]);
    assert_eq!(code, Some(2), "a usage error");
}

#[tokio::test]
async fn a_reloaded_target_with_a_broken_template_is_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await;
    let targets = |title: &str| {
        format!(
            "- name: hook\n  type: webhook\n  url: {}\n- name: slack-team\n  type: slack\n  url: https://hooks.slack.example.invalid/services/x\n  templates:\n    title: {}\n",
            sink.url("/hook"),
            q(title)
        )
    };
    write_targets(dir.path(), &targets("{{ .Status }}"));
    let service = Service::start(dir.path(), "").await;
    assert_eq!(
        service.get_json("/api/v2/publishing/targets").await["total"],
        2
    );
    write_targets(dir.path(), &targets("{{ .Status }} {{ end }}"));
    let list = service
        .wait_json("/api/v2/publishing/targets", WAIT, |v| {
            v["invalid"].as_array().is_some_and(|i| !i.is_empty())
        })
        .await;
    let error = list["invalid"][0]["error"].as_str().unwrap();
    assert!(
        error.contains(
            "target \"slack-team\": field `templates.title`: line 1, column 18: unexpected {{end}}"
        ),
        "{list:#}"
    );
    assert!(error.contains("targets.yaml"), "{error}");
    let names: Vec<&str> = list["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["hook"], "the other target stays: {list:#}");
}
