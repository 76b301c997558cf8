//! Event encoding and answer classification, per operation.
//!
//! `cargo bench -p publish-pagerduty --bench encode`

use std::{hint::black_box, path::Path, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use publish::{Delivery, Format, Target, TargetType};
use publish_pagerduty::{PagerDutyConfig, Plan, classify_response, encode};

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn deliveries(fixture: &str) -> Vec<Delivery> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/alertmanager")
        .join(fixture);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON");
    let m =
        publish::parse_webhook(&serde_json::to_vec(&v["body"]).expect("body")).expect("webhook");
    m.alerts
        .into_iter()
        .map(|alert| Delivery {
            id: "bench".to_owned(),
            alert,
            context: m.context.clone(),
            attempt: 1,
            vendor_state: None,
            action: Default::default(),
        })
        .collect()
}

fn config() -> PagerDutyConfig {
    let target = Target {
        templates: Default::default(),
        name: "pd-bench".parse().expect("name"),
        kind: TargetType::Pagerduty,
        url: "https://events.pagerduty.com".to_owned(),
        enabled: true,
        format: Format::Pagerduty,
        headers: Default::default(),
        options: serde_json::json!({"routing_key": KEY})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    };
    PagerDutyConfig::from_target(&target).expect("config")
}

fn body_len(plan: Plan) -> usize {
    match plan {
        Plan::Send(e) => e.body.len(),
        Plan::Skip(_) => 0,
    }
}

fn benches(c: &mut Criterion) {
    let config = config();
    let firing = deliveries("am-webhook-firing.json").remove(0);
    let resolved = deliveries("am-webhook-resolved.json").remove(0);
    let mut huge = firing.clone();
    huge.alert
        .annotations
        .insert("description".to_owned(), "x".repeat(2 * 1024 * 1024));
    let accepted =
        br#"{"status":"success","message":"Event processed","dedup_key":"ac36b8d065d4a922"}"#;
    let invalid = br#"{"status":"invalid event","message":"Event object is invalid","errors":["'payload.summary' is missing or blank"]}"#;

    c.bench_function("encode/trigger", |b| {
        b.iter(|| body_len(encode(black_box(&config), black_box(&firing))))
    });
    c.bench_function("encode/resolve", |b| {
        b.iter(|| body_len(encode(black_box(&config), black_box(&resolved))))
    });
    c.bench_function("encode/trigger_2mb_annotation_shrunk", |b| {
        b.iter(|| body_len(encode(black_box(&config), black_box(&huge))))
    });
    c.bench_function("classify/202", |b| {
        b.iter(|| {
            classify_response(
                202,
                None,
                black_box(accepted),
                Some("ac36b8d065d4a922"),
                KEY,
            )
            .is_ok()
        })
    });
    c.bench_function("classify/400", |b| {
        b.iter(|| classify_response(400, None, black_box(invalid), Some("k"), KEY).is_err())
    });
    c.bench_function("encode_and_classify/trigger_202", |b| {
        b.iter(|| {
            let n = body_len(encode(black_box(&config), black_box(&firing)));
            (
                n,
                classify_response(
                    202,
                    None,
                    black_box(accepted),
                    Some("ac36b8d065d4a922"),
                    KEY,
                )
                .is_ok(),
            )
        })
    });
}

criterion_group! {
    name = group;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(group);
