//! The outbound policy through the real binary: a refused delivery is dead-lettered and never
//! sent; proxy credentials never reach the targets API.

use std::time::Duration;

use serde_json::json;
use testkit::WebhookSink;

use crate::support::{Service, write_targets};

#[tokio::test]
async fn a_refused_delivery_is_dead_lettered_and_never_sent() {
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await;
    write_targets(
        dir.path(),
        &format!(
            "- name: local\n  type: webhook\n  url: http://localhost:{}/hook\n\
             - name: proxied\n  type: webhook\n  url: http://example.test/hook\n  enabled: false\n  \
               options: {{proxy: 'http://ops:pr0xyPass@proxy.test:3128'}}\n",
            sink.addr().port()
        ),
    );
    // No allow-list: the default policy, loopback refused.
    let service = Service::start(dir.path(), "outbound:\n  allow: []\n").await;
    let body = serde_json::to_vec(&json!([{"labels": {"alertname": "Refused"}}])).unwrap();
    let (status, _) = service.post("/api/v2/alerts", body).await;
    assert_eq!(status, 200);
    let dlq = service
        .wait_json("/api/v2/publishing/dlq", Duration::from_secs(10), |d| {
            d["count"] == 1
        })
        .await;
    let job = &dlq["jobs"][0];
    assert_eq!(job["target"], "local", "{job}");
    let reason = job["last_error"].as_str().unwrap();
    assert!(
        reason.contains("of localhost is not allowed (loopback)"),
        "{job}"
    );
    assert_eq!(job["last_error_kind"], "config", "{job}");
    assert_eq!(job["attempts"], 1, "a refusal is not retried: {job}");
    assert_eq!(sink.requests().len(), 0, "nothing was sent");

    let targets = service
        .get_json("/api/v2/publishing/targets")
        .await
        .to_string();
    assert!(!targets.contains("pr0xyPass"), "{targets}");
    assert!(
        targets.contains("http://ops:<redacted>@proxy.test:3128"),
        "{targets}"
    );
    let one = service
        .get_json("/api/v2/publishing/targets/proxied")
        .await
        .to_string();
    assert!(!one.contains("pr0xyPass"), "{one}");
    assert!(!service.log().contains("pr0xyPass"), "{}", service.log());
}
