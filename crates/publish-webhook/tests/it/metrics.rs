//! Metrics: deliveries by result and request duration, labelled by target — never by URL or
//! secret.

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use publish::Publisher;
use serde_json::json;
use testkit::{Behaviour, WebhookSink};

use crate::{ctx, delivery, loopback, target};

#[test]
fn deliveries_by_result_and_request_durations() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let sink = WebhookSink::start().await;
                sink.script([Behaviour::Ok, Behaviour::Status(503)]);
                let url = sink.url("/hook?token=SECRET");
                let p =
                    publish_webhook::build(&target(&url, json!({})), &ctx(&loopback())).unwrap();
                p.publish(&delivery()).await.unwrap();
                p.publish(&delivery()).await.unwrap_err();
                // The default policy refuses loopback: nothing is sent.
                let port = sink.addr().port();
                let refused = publish_webhook::build(
                    &target(&format!("http://localhost:{port}/hook"), json!({})),
                    &Default::default(),
                )
                .unwrap();
                refused.publish(&delivery()).await.unwrap_err();
                assert_eq!(sink.requests().len(), 2);
            })
    });
    let snapshot = snapshotter.snapshot().into_vec();
    let value = |name: &str, labels: &[(&str, &str)]| {
        snapshot.iter().find_map(|(key, _, _, v)| {
            let k = key.key();
            let all = labels
                .iter()
                .all(|(n, val)| k.labels().any(|l| l.key() == *n && l.value() == *val));
            (k.name() == name && all).then_some(v)
        })
    };
    let t = ("target", "hook");
    for result in ["delivered", "server", "config"] {
        match value(
            publish_webhook::metrics::DELIVERIES_TOTAL,
            &[t, ("result", result)],
        ) {
            Some(DebugValue::Counter(n)) => assert_eq!(*n, 1, "{result}"),
            other => panic!("{result}: {other:?}"),
        }
    }
    match value("alert_publisher_webhook_request_duration_seconds", &[t]) {
        Some(DebugValue::Histogram(v)) => assert_eq!(v.len(), 3),
        other => panic!("{other:?}"),
    }
    for (key, _, _, _) in &snapshot {
        let shown = format!("{:?}", key.key());
        assert!(
            !shown.contains("SECRET") && !shown.contains("127.0.0.1"),
            "{shown}"
        );
    }
}
