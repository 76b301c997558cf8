//! Message encoding, per operation: alert → Block Kit message → request body.
//!
//! `cargo bench -p publish-slack --bench encode`

use std::{hint::black_box, path::Path, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use publish::{Alert, GroupContext};
use publish_slack::{
    EncodeOptions, Placement, TEMPLATE_FIELDS, encode_body, encode_message, message_with,
    resolved_reply,
};

fn fixture(name: &str) -> (Alert, GroupContext) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/alertmanager")
        .join(name);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON");
    let m =
        publish::parse_webhook(&serde_json::to_vec(&v["body"]).expect("body")).expect("webhook");
    (m.alerts[0].clone(), m.context)
}

/// An alert at every limit: long texts, 200 labels, 80 annotations — the trimming path.
fn oversized() -> (Alert, GroupContext) {
    let (mut alert, context) = fixture("am-webhook-firing.json");
    alert
        .annotations
        .insert("summary".into(), "S".repeat(10_000));
    alert
        .annotations
        .insert("description".into(), "d&<".repeat(3000));
    for i in 0..200 {
        alert.labels.insert(format!("label_{i:03}"), "v".repeat(50));
    }
    for i in 0..80 {
        alert
            .annotations
            .insert(format!("note_{i:02}"), "n".repeat(4000));
    }
    (alert, context)
}

fn bench(c: &mut Criterion) {
    let options = EncodeOptions::default();
    let at = Placement {
        channel: Some("C0123456789"),
        ..Default::default()
    };
    for (name, (alert, context)) in [
        ("firing", fixture("am-webhook-firing.json")),
        ("resolved", fixture("am-webhook-resolved.json")),
        ("oversized", oversized()),
    ] {
        c.bench_function(&format!("message/{name}"), |b| {
            b.iter(|| encode_message(black_box(&alert), black_box(&context), &options))
        });
        c.bench_function(&format!("message+body/{name}"), |b| {
            b.iter(|| {
                encode_body(
                    &encode_message(black_box(&alert), black_box(&context), &options),
                    at,
                )
            })
        });
    }
    // The same message with a typical Alertmanager title and text: the cost of templates on
    // the delivery path, in one run with `message+body/firing`.
    let (alert, context) = fixture("am-webhook-firing.json");
    let mut target = publish::Target {
        templates: Default::default(),
        name: "bench".parse().expect("name"),
        kind: publish::TargetType::Slack,
        url: "https://hooks.slack.example/services/T/B/x".to_owned(),
        enabled: true,
        format: publish::Format::Slack,
        headers: Default::default(),
        options: Default::default(),
    };
    let templates = serde_json::json!({
        "title": r#"{{ template "slack.default.title" . }}"#,
        "text": "{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ range .Labels.SortedPairs }} • {{ .Name }}: `{{ .Value }}`\n{{ end }}Started: {{ .StartsAt }}\n{{ end }}",
    });
    target.templates = templates.as_object().cloned().expect("object");
    let templates = publish::templates::Templates::parse(
        &target,
        &publish::BuildContext::default().templates,
        TEMPLATE_FIELDS,
    )
    .expect("templates parse");
    c.bench_function("message+body/firing, templated title and text", |b| {
        b.iter(|| {
            encode_body(
                &message_with(black_box(&alert), black_box(&context), &options, &templates),
                at,
            )
        })
    });
    let (alert, _) = fixture("am-webhook-resolved.json");
    c.bench_function("resolved_reply+body", |b| {
        b.iter(|| encode_body(&resolved_reply(black_box(&alert)), at))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
