//! Health that tells the truth under pressure: a target failing every delivery stays unhealthy
//! while its probes pass, its success rate is its deliveries', and a delivery that succeeds
//! makes it healthy again.

use std::time::Duration;

use serde_json::Value;
use testkit::Behaviour;

use crate::support::{Service, fixture_body, one_webhook_target};

const WAIT: Duration = Duration::from_secs(30);

async fn health(service: &Service) -> Value {
    service
        .get_json("/api/v2/publishing/targets/health/failing")
        .await
}

#[tokio::test]
async fn passing_probes_do_not_hide_failing_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let sink = one_webhook_target(dir.path(), "failing", Behaviour::Status(500), "").await;
    let service = Service::start(
        dir.path(),
        "discovery:\n  probes:\n    interval: 200ms\n    timeout: 1s\n",
    )
    .await;
    let (status, _) = service
        .post("/webhook", fixture_body("am-webhook-firing.json"))
        .await;
    assert_eq!(status, 200);
    let h = service
        .wait_json("/api/v2/publishing/targets/health/failing", WAIT, |h| {
            h["status"] == "unhealthy"
        })
        .await;
    assert!(
        h["delivery"]["consecutive_failures"].as_u64() >= Some(3),
        "{h}"
    );

    // Several probe rounds pass (the port accepts connections) ...
    let probes_before = h["probe"]["total"].as_u64().unwrap_or(0);
    service
        .wait_json("/api/v2/publishing/targets/health/failing", WAIT, |h| {
            h["probe"]["total"].as_u64().unwrap_or(0) >= probes_before + 5
        })
        .await;
    // ... and the target is still unhealthy, with the deliveries' success rate.
    let h = health(&service).await;
    assert_eq!(h["status"], "unhealthy", "{h}");
    assert_eq!(h["probe"]["last_ok"], true, "{h}");
    assert_eq!(h["probe"]["consecutive_failures"], 0, "{h}");
    assert_eq!(h["success_rate"], 0.0, "{h}");
    assert_eq!(
        h["checks_in_window"], h["delivery"]["total"],
        "the window holds deliveries only: {h}"
    );
    let overall = reqwest::get(service.url("/api/v2/publishing/health"))
        .await
        .unwrap();
    assert_eq!(overall.status(), 503);
    let overall: Value = overall.json().await.unwrap();
    let line = overall["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["target"] == "failing")
        .cloned()
        .unwrap();
    assert_eq!(line["status"], "unhealthy", "{overall}");
    // The parallel strategy that skips unhealthy targets skips it.
    let (status, body) = service
        .post(
            "/api/v2/publishing/parallel/healthy",
            serde_json::json!({"alert": {"labels": {"alertname": "P"}, "status": "firing"}})
                .to_string(),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("no_healthy_targets"),
        "an unhealthy target gets no parallel delivery: {body}"
    );

    // The receiver recovers; the next delivery succeeds and the target is healthy.
    sink.set_default(Behaviour::Ok);
    let (status, body) = service
        .post("/api/v2/publishing/targets/failing/test", "{}")
        .await;
    assert_eq!(status, 200, "{body}");
    let h = health(&service).await;
    assert_eq!(h["status"], "healthy", "{h}");
    assert_eq!(h["delivery"]["last_ok"], true, "{h}");
    assert!(h["success_rate"].as_f64().unwrap() > 0.0, "{h}");
}
