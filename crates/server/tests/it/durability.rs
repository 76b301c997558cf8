//! Durable before acknowledged: alerts accepted while the target is down survive a SIGKILL of
//! the service (pending and in-flight jobs alike) and are all delivered after restart.

use std::{collections::BTreeSet, time::Duration};

use serde_json::json;
use testkit::{Behaviour, WebhookSink};

use crate::support::{Service, write_targets};

const PATIENT: &str = "delivery:\n  poll_interval: 100ms\n  shutdown_timeout: 2s\n  circuit_breaker:\n    open_for: 300ms\n  retry:\n    initial_delay: 100ms\n    max_delay: 500ms\n    max_attempts: 10000\n    max_age: 1h\n";

fn notification(i: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "version": "4", "status": "firing", "receiver": "r", "groupKey": format!("{{}}:{{alertname=\"Durable{i}\"}}"),
        "groupLabels": {"alertname": format!("Durable{i}")}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://am", "truncatedAlerts": 0,
        "alerts": [{"status": "firing", "labels": {"alertname": format!("Durable{i}"), "n": i.to_string()},
                    "annotations": {}, "startsAt": "2026-11-23T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "", "fingerprint": format!("{i:016x}")}]
    }))
    .unwrap()
}

#[tokio::test]
async fn accepted_alerts_survive_sigkill_and_are_all_delivered_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let target_port = testkit::free_port();
    let target_addr: std::net::SocketAddr = format!("127.0.0.1:{target_port}").parse().unwrap();
    write_targets(
        dir.path(),
        &format!(
            "- name: down\n  type: webhook\n  url: http://{target_addr}/hook\n  options: {{timeout: 30s}}\n"
        ),
    );
    let mut service = Service::start(dir.path(), PATIENT).await;
    let port = service.port();

    // Phase 1: nothing listens on the target's port; every alert is still accepted.
    for i in 0..20 {
        let (status, body) = service.post("/webhook", notification(i)).await;
        assert_eq!(status, 200, "{body}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await; // let some attempts fail
    // Phase 2: the target accepts connections but never answers in time: jobs are in flight.
    let slow = WebhookSink::start_on(target_addr).await;
    slow.set_default(Behaviour::slow(Duration::from_secs(60), Behaviour::Ok));
    for i in 20..40 {
        let (status, body) = service.post("/webhook", notification(i)).await;
        assert_eq!(status, 200, "{body}");
    }
    // The circuit opened during phase 1, so one probe at a time goes out: it hangs in flight.
    slow.wait_for_requests(1, Duration::from_secs(10)).await;
    let stats = service.get_json("/api/v2/publishing/queue/stats").await;
    assert!(
        stats["in_flight"].as_u64().unwrap() > 0,
        "some deliveries are in flight at the kill: {stats}"
    );
    assert_eq!(stats["done"], 0, "{stats}");

    service.sigkill();
    drop(slow);

    // The target comes back, then the service.
    let target = WebhookSink::start_on(target_addr).await;
    let service = Service::start_on(dir.path(), port, PATIENT).await;
    let delivered = target.wait_for_delivered(40, Duration::from_secs(30)).await;
    let fingerprints: BTreeSet<String> = delivered
        .iter()
        .map(|r| {
            r.json()["alerts"][0]["fingerprint"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let expected: BTreeSet<String> = (0..40).map(|i| format!("{i:016x}")).collect();
    assert_eq!(fingerprints, expected, "every accepted alert is delivered");
    let stats = service
        .wait_json(
            "/api/v2/publishing/queue/stats",
            Duration::from_secs(10),
            |s| s["done"] == 40,
        )
        .await;
    assert_eq!(
        (
            stats["pending"].as_u64(),
            stats["in_flight"].as_u64(),
            stats["dead"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    assert!(
        service.log().contains("recovered jobs that were in flight"),
        "{}",
        service.log()
    );
}
