//! The API key never shows: not in `Debug`, errors, probe details, metric labels or the
//! rate-limit bucket key.

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use publish::Publisher;
use serde_json::json;
use testkit::{RootlyFault, RootlySim, RootlySimConfig};

use crate::support::{alert, delivery, resolved, target};

const KEY: &str = "rootly-SECRET-key-7f3a9c";

#[test]
fn debug_and_rate_limit_key_hide_the_key() {
    let p = publish_rootly::build(
        &target("https://api.rootly.com", json!({"api_key": KEY})),
        &publish::BuildContext::default(),
    )
    .unwrap();
    let shown = format!("{p:?} {:?}", p.config());
    assert!(
        !shown.contains(KEY) && shown.contains("<redacted>"),
        "{shown}"
    );
    let limit = p
        .rate_limit(&delivery(&alert(&[("alertname", "X")]), 1, None))
        .unwrap();
    assert!(
        !limit.key.contains(KEY) && limit.key.starts_with("rootly:"),
        "{}",
        limit.key
    );
    assert_eq!((limit.per_minute, limit.burst), (2400, 50));
    let other = publish_rootly::build(
        &target("https://api.rootly.com", json!({"api_key": "other"})),
        &publish::BuildContext::default(),
    )
    .unwrap();
    let other = other
        .rate_limit(&delivery(&alert(&[("alertname", "X")]), 1, None))
        .unwrap();
    assert_ne!(limit.key, other.key, "one bucket per API key");
}

/// Runs `f` on a current-thread runtime with a local recorder; returns every metric as
/// `name{labels} value` lines.
fn with_metrics(f: impl AsyncFnOnce()) -> Vec<String> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f())
    });
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let (kind, key) = key.into_parts();
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let value = match value {
                DebugValue::Counter(n) => n.to_string(),
                DebugValue::Gauge(g) => g.to_string(),
                DebugValue::Histogram(h) => format!("{} samples", h.len()),
            };
            format!("{kind:?} {}{{{}}} {value}", key.name(), labels.join(","))
        })
        .collect()
}

#[test]
fn metrics_count_the_lifecycle_and_never_label_a_secret() {
    let lines = with_metrics(async || {
        let sim = RootlySim::start_with(RootlySimConfig {
            api_keys: vec![KEY.to_owned()],
            ..Default::default()
        })
        .await;
        let good = publish_rootly::build(
            &target(&sim.url(), json!({"api_key": KEY})),
            &publish::BuildContext::default(),
        )
        .unwrap();
        let bad = publish_rootly::build(
            &target(&sim.url(), json!({"api_key": format!("{KEY}-wrong")})),
            &publish::BuildContext::default(),
        )
        .unwrap();
        let a = alert(&[("alertname", "Metrics")]);
        let state = crate::support::state_of(&good.publish(&delivery(&a, 1, None)).await.unwrap());
        good.publish(&delivery(&a, 1, Some(&state))).await.unwrap();
        good.publish(&delivery(&resolved(&a), 1, Some(&state)))
            .await
            .unwrap();
        sim.script([RootlyFault::status(503, "down")]);
        good.publish(&delivery(&alert(&[("alertname", "Down")]), 1, None))
            .await
            .unwrap_err();
        bad.publish(&delivery(&a, 1, None)).await.unwrap_err();
    });
    let text = lines.join("\n");
    assert!(!text.contains(KEY), "{text}");
    let has = |line: &str| assert!(lines.iter().any(|l| l == line), "{line:?} not in\n{text}");
    has(
        "Counter alert_publisher_rootly_requests_total{target=rootly,action=create,result=success} 1",
    );
    has(
        "Counter alert_publisher_rootly_requests_total{target=rootly,action=create,result=server} 1",
    );
    has("Counter alert_publisher_rootly_requests_total{target=rootly,action=create,result=auth} 1");
    has(
        "Counter alert_publisher_rootly_requests_total{target=rootly,action=resolve,result=success} 1",
    );
    has(
        "Counter alert_publisher_rootly_lifecycle_total{target=rootly,action=create,result=created} 1",
    );
    has(
        "Counter alert_publisher_rootly_lifecycle_total{target=rootly,action=create,result=already_open} 1",
    );
    has(
        "Counter alert_publisher_rootly_lifecycle_total{target=rootly,action=resolve,result=resolved} 1",
    );
    has(
        "Histogram alert_publisher_rootly_request_duration_seconds{target=rootly,action=create} 3 samples",
    );
}

#[tokio::test]
async fn errors_and_probe_details_never_carry_the_key() {
    let sim = RootlySim::start().await;
    // A misbehaving server echoing the key must not get it into a reason (and so a dead letter).
    sim.script([RootlyFault::status(401, &format!("token {KEY} is revoked"))]);
    let p = publish_rootly::build(
        &target(&sim.url(), json!({"api_key": KEY})),
        &publish::BuildContext::default(),
    )
    .unwrap();
    let err = p
        .publish(&delivery(&alert(&[("alertname", "Echo")]), 1, None))
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        "rootly create alert: HTTP 401: token <redacted> is revoked"
    );
    let probe = p.probe().await;
    assert!(!probe.ok && !probe.detail.contains(KEY), "{probe:?}");
    // The key went where it belongs, and only there.
    assert!(
        sim.requests()
            .iter()
            .all(|r| r.header("authorization") == Some(&format!("Bearer {KEY}")))
    );
}
