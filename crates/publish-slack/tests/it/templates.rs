//! A target's templates in their places of the message, within Slack's limits; errors at
//! build name the field and place; a failing rendering sends the default.

use publish::BuildContext;
use publish_slack::{
    EncodeOptions, MAX_HEADER, Placement, TEMPLATE_FIELDS, encode_body, encode_message,
    message_with,
};
use serde_json::{Value, json};

use crate::{fixture, target};

fn templated(templates: Value) -> publish::Target {
    let mut t = target("https://hooks.slack.example/services/T/B/x", json!({}));
    t.templates = templates.as_object().cloned().expect("object");
    t
}

fn templates_of(templates: Value) -> publish::templates::Templates {
    publish::templates::Templates::parse(
        &templated(templates),
        &BuildContext::default().templates,
        TEMPLATE_FIELDS,
    )
    .expect("templates parse")
}

fn body_with(templates: Value, name: &str) -> Value {
    let m = fixture(name);
    let message = message_with(
        &m.alerts[0],
        &m.context,
        &EncodeOptions::default(),
        &templates_of(templates),
    );
    let body: Value =
        serde_json::from_slice(&encode_body(&message, Placement::default())).expect("JSON");
    let violations = testkit::validate_slack_message(&body);
    assert!(violations.is_empty(), "{violations:#?}\n{body:#}");
    body
}

#[test]
fn every_field_lands_in_its_place() {
    let body = body_with(
        json!({
            "pretext": "{{ .Receiver }} says",
            "title": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}",
            "title_link": "https://runbooks.example/{{ .CommonLabels.alertname }}",
            "text": "{{ range .Alerts }}*{{ .Annotations.summary }}* <{{ .GeneratorURL }}|graph>{{ end }}",
            "fallback": "{{ .CommonLabels.alertname }} is {{ .Status }}",
            "color": "{{ if eq .Status \"firing\" }}danger{{ else }}good{{ end }}",
            "footer": "fp {{ (index .Alerts 0).Fingerprint }}",
        }),
        "am-webhook-firing.json",
    );
    let m = fixture("am-webhook-firing.json");
    let alert = &m.alerts[0];
    assert_eq!(body["attachments"][0]["color"], "danger", "{body:#}");
    assert!(
        body.get("blocks").is_none(),
        "the blocks move into the coloured attachment"
    );
    let blocks = body["attachments"][0]["blocks"].as_array().unwrap();
    assert_eq!(
        blocks[0]["text"]["text"],
        format!("{} says", m.context.receiver)
    );
    assert_eq!(
        blocks[1]["text"]["text"],
        format!(
            "*<https://runbooks.example/{0}|[FIRING] {0}>*",
            alert.name()
        )
    );
    let text = blocks[2]["text"]["text"].as_str().unwrap();
    let summary = &alert.annotations["summary"];
    assert_eq!(
        text,
        format!("*{summary}* <{}|graph>", alert.generator_url),
        "the template's own markup is kept"
    );
    assert_eq!(
        blocks.last().unwrap()["elements"][0]["text"],
        format!("fp {}", alert.fingerprint)
    );
    assert_eq!(body["text"], format!("{} is firing", alert.name()));
}

#[test]
fn untemplated_fields_keep_the_default_and_no_templates_is_todays_message() {
    let m = fixture("am-webhook-firing.json");
    let plain = encode_message(&m.alerts[0], &m.context, &EncodeOptions::default());
    let same = message_with(
        &m.alerts[0],
        &m.context,
        &EncodeOptions::default(),
        &templates_of(json!({})),
    );
    assert_eq!(plain, same);
    let body = body_with(json!({"footer": "custom"}), "am-webhook-firing.json");
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header", "the default header stays");
    assert_eq!(blocks.last().unwrap()["elements"][0]["text"], "custom");
}

#[test]
fn long_renderings_are_cut_to_slacks_limits() {
    let body = body_with(
        json!({
            "title": "{{ range $i, $_ := .Alerts }}{{ end }}{{ printf \"%0300d\" 7 }}",
            "text": "{{ range $i, $a := .Alerts }}{{ end }}{{ printf \"%05000d\\n%05000d\" 1 2 }}",
        }),
        "am-webhook-firing.json",
    );
    let blocks = body["blocks"].as_array().unwrap();
    let header = blocks[0]["text"]["text"].as_str().unwrap();
    assert!(header.encode_utf16().count() <= MAX_HEADER, "{header}");
    // A text longer than one section is split at its line ends.
    let sections: Vec<&str> = blocks[1..3]
        .iter()
        .map(|b| b["text"]["text"].as_str().unwrap())
        .collect();
    assert!(
        sections[0].starts_with("0000") && sections[1].starts_with("0000"),
        "{sections:?}"
    );
}

#[test]
fn errors_name_the_field_line_and_column() {
    for (templates, expected) in [
        (json!({"title": "ok\n {{ nosuch }}"}), "templates.title"),
        (json!({"text": "{{ if .Status }}"}), "templates.text"),
        (json!({"summary": "x"}), "templates.summary"),
        (json!({"title": 5}), "templates.title"),
    ] {
        let e = publish_slack::build(&templated(templates.clone()), &BuildContext::default())
            .unwrap_err();
        assert_eq!(e.field, expected, "{templates}: {e}");
        if expected != "templates.summary" && templates["title"] != 5 {
            assert!(e.message.starts_with("line "), "{e}");
            assert!(e.message.contains(", column "), "{e}");
        }
    }
    let e = publish_slack::build(
        &templated(json!({"title": "ok\n {{ nosuch }}"})),
        &BuildContext::default(),
    )
    .unwrap_err();
    assert!(e.message.starts_with("line 2, column "), "{e}");
    let e = publish_slack::build(
        &templated(json!({"summary": "x"})),
        &BuildContext::default(),
    )
    .unwrap_err();
    assert!(
        e.message.contains("a slack target has title, title_link"),
        "{e}"
    );
}
