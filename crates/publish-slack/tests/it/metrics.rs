//! Metrics: what was posted, updated and replied, errors by reason, latency, 429s — with the
//! target name as label and never a token or webhook URL.

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use publish::Publisher;
use serde_json::json;
use testkit::{SlackEndpoint, SlackFault, SlackSim, SlackSimConfig};

use crate::{delivery, firing, resolved, target, token_options};

#[test]
fn counters_histograms_and_labels() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let webhook_path = metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let sim = SlackSim::start_with(SlackSimConfig {
                messages_per_second: 1000.0,
                burst: 1000,
                ..Default::default()
            })
            .await;
            sim.add_channel("alerts");
            let p = publish_slack::build(
                &target(&sim.api_url(), token_options("alerts")),
                &publish::BuildContext::default(),
            )
            .unwrap();
            let (f, ctx) = firing();
            let (r, _) = resolved();
            let state = p
                .publish(&delivery(&f, &ctx, None))
                .await
                .unwrap()
                .vendor_state;
            p.publish(&delivery(&r, &ctx, state)).await.unwrap();
            sim.push_fault(
                SlackEndpoint::PostMessage,
                SlackFault::error("channel_not_found"),
            );
            p.publish(&delivery(&f, &ctx, None)).await.unwrap_err();
            sim.push_fault(
                SlackEndpoint::PostMessage,
                SlackFault::RateLimited {
                    retry_after_secs: 3,
                },
            );
            p.publish(&delivery(&f, &ctx, None)).await.unwrap_err();
            let path = sim.add_webhook("alerts");
            let hook = publish_slack::build(
                &target(&format!("{}{path}", sim.base_url()), json!({})),
                &publish::BuildContext::default(),
            )
            .unwrap();
            hook.publish(&delivery(&f, &ctx, None)).await.unwrap();
            path
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
    let counter = |name: &str, labels: &[(&str, &str)]| match value(name, labels) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("{name} {labels:?}: {other:?}"),
    };
    let t = ("target", "slack-test");
    assert_eq!(
        counter("alert_publisher_slack_messages_posted_total", &[t]),
        2,
        "one by API, one by webhook"
    );
    assert_eq!(
        counter("alert_publisher_slack_messages_updated_total", &[t]),
        1
    );
    assert_eq!(
        counter("alert_publisher_slack_thread_replies_total", &[t]),
        1
    );
    assert_eq!(
        counter(
            "alert_publisher_slack_errors_total",
            &[
                t,
                ("action", "post_message"),
                ("reason", "channel_not_found")
            ]
        ),
        1
    );
    assert_eq!(
        counter(
            "alert_publisher_slack_errors_total",
            &[t, ("action", "post_message"), ("reason", "ratelimited")]
        ),
        1
    );
    assert_eq!(counter("alert_publisher_slack_rate_limited_total", &[t]), 1);
    match value("alert_publisher_slack_retry_after_seconds", &[t]) {
        Some(DebugValue::Histogram(v)) => {
            assert_eq!(v.iter().map(|x| x.into_inner()).collect::<Vec<_>>(), [3.0])
        }
        other => panic!("{other:?}"),
    }
    for action in ["post_message", "update", "thread_reply", "webhook"] {
        match value(
            "alert_publisher_slack_request_duration_seconds",
            &[t, ("action", action)],
        ) {
            Some(DebugValue::Histogram(v)) => assert!(
                !v.is_empty() && v.iter().all(|x| x.into_inner() >= 0.0),
                "{action}"
            ),
            other => panic!("{action}: {other:?}"),
        }
    }
    let secret = webhook_path.rsplit('/').next().unwrap().to_owned();
    for (key, _, _, _) in &snapshot {
        let shown = format!("{:?}", key.key());
        assert!(
            !shown.contains(SlackSim::TOKEN)
                && !shown.contains(&secret)
                && !shown.contains("/services/"),
            "{shown}"
        );
    }
}
