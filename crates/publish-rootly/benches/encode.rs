//! Encoding benchmarks: one Alertmanager alert → Rootly request bodies.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use publish_rootly::{IncidentMode, RootlyOptions, encode_alert, encode_incident, encode_resolve};

fn fixture() -> publish::WebhookMessage {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/alertmanager/am-webhook-firing.json"
    );
    let text = std::fs::read_to_string(path).expect("read fixture");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("fixture is JSON");
    let body = serde_json::to_vec(&doc["body"]).expect("encode body");
    publish::parse_webhook(&body).expect("fixture parses")
}

fn bench(c: &mut Criterion) {
    let msg = fixture();
    let alert = &msg.alerts[0];
    let options = RootlyOptions::default();
    c.bench_function("rootly/encode_alert", |b| {
        b.iter(|| {
            encode_alert(
                black_box(alert),
                black_box(&msg.context),
                black_box(&options),
            )
        })
    });
    c.bench_function("rootly/encode_resolve", |b| {
        b.iter(|| encode_resolve(black_box(alert)))
    });
    let incident = IncidentMode::default();
    c.bench_function("rootly/encode_incident", |b| {
        b.iter(|| {
            encode_incident(
                black_box(alert),
                "0190c0de-0000-4000-8000-000000000001",
                &options,
                &incident,
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
