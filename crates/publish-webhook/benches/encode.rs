//! Encoding, per operation: one delivery of a real Alertmanager alert → request body, in both
//! formats.
//!
//! `cargo bench -p publish-webhook --bench encode`

use std::{hint::black_box, path::Path, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use publish::{Delivery, Format};
use publish_webhook::{encode, encode_alertmanager, encode_webhook};

fn delivery(fixture: &str) -> Delivery {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/alertmanager")
        .join(fixture);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON");
    let m =
        publish::parse_webhook(&serde_json::to_vec(&v["body"]).expect("body")).expect("webhook");
    Delivery {
        id: "0123456789abcdef0123456789abcdef".to_owned(),
        alert: m.alerts[0].clone(),
        context: m.context,
        attempt: 1,
        vendor_state: None,
        action: Default::default(),
    }
}

/// An alert with many and long labels and annotations: the serialization cost of a big alert.
fn large() -> Delivery {
    let mut d = delivery("am-webhook-firing.json");
    for i in 0..200 {
        d.alert
            .labels
            .insert(format!("label_{i:03}"), "v".repeat(50));
    }
    d.alert
        .annotations
        .insert("description".into(), "d&<\"".repeat(10_000));
    d
}

fn bench(c: &mut Criterion) {
    for (name, d) in [
        ("firing", delivery("am-webhook-firing.json")),
        ("resolved", delivery("am-webhook-resolved.json")),
        ("large", large()),
    ] {
        c.bench_function(&format!("alertmanager/{name}"), |b| {
            b.iter(|| encode_alertmanager(black_box(&d.alert), black_box(&d.context)).len())
        });
        c.bench_function(&format!("webhook/{name}"), |b| {
            b.iter(|| encode_webhook(black_box(&d), "hook").len())
        });
    }
    let d = delivery("am-webhook-firing.json");
    c.bench_function("encode/by_format", |b| {
        b.iter(|| encode(black_box(Format::Webhook), black_box(&d), "hook").len())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
