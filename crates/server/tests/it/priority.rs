//! Priority counts at every point where jobs wait, including a rate-limited target's queue:
//! a critical alert arriving behind a backlog of `info` ones goes next, and a `low` job under
//! steady `medium` load waits no longer than its aging bound plus one delivery.

use std::time::{Duration, Instant};

use serde_json::json;
use testkit::{Behaviour, WebhookSink};

use crate::support::{Service, one_webhook_target};

const WAIT: Duration = Duration::from_secs(60);

/// One alert of `name`, with `severity`, as `POST /api/v2/alerts` takes it.
fn alert(name: &str, n: usize, severity: &str) -> Vec<u8> {
    serde_json::to_vec(&json!([{"labels": {
        "alertname": name, "severity": severity, "n": n.to_string()
    }}]))
    .unwrap()
}

/// A webhook target `limited` to `per_minute` deliveries (burst 1), and its sink.
async fn limited_target(dir: &std::path::Path, per_minute: u32) -> WebhookSink {
    one_webhook_target(
        dir,
        "limited",
        Behaviour::Ok,
        &format!("  delivery:\n    rate_limit: {{per_minute: {per_minute}, burst: 1}}\n"),
    )
    .await
}

/// The `n` label of each request the sink received, in order, with its alert name.
fn received(sink: &WebhookSink) -> Vec<(String, String)> {
    sink.requests()
        .iter()
        .filter_map(|r| {
            let v = r.json();
            let labels = &v["alerts"][0]["labels"];
            Some((
                labels["alertname"].as_str()?.to_owned(),
                labels["n"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

#[tokio::test]
async fn a_critical_alert_overtakes_a_rate_limited_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let sink = limited_target(dir.path(), 120).await;
    let service = Service::start(dir.path(), "").await;
    for i in 0..30 {
        let (status, body) = service
            .post("/api/v2/alerts", alert("Chatter", i, "info"))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    // The backlog drains at 2 a second; once it is under way, a critical alert arrives.
    sink.wait_for_requests(3, WAIT).await;
    let before = sink.requests().len();
    let (status, body) = service
        .post("/api/v2/alerts", alert("Outage", 0, "critical"))
        .await;
    assert_eq!(status, 200, "{body}");
    sink.wait_for_requests(31, WAIT).await;
    let order = received(&sink);
    let at = order
        .iter()
        .position(|(name, _)| name == "Outage")
        .expect("the critical alert was delivered");
    assert!(
        at <= before + 1,
        "the critical alert is among the next two deliveries after it arrived \
         ({before} delivered before it arrived; it came {}th): {order:?}",
        at + 1
    );
    // Nothing was lost or doubled: 31 requests, 31 jobs done.
    assert_eq!(order.len(), 31, "{order:?}");
    service
        .wait_json("/api/v2/publishing/queue/stats", WAIT, |s| s["done"] == 31)
        .await;
}

#[tokio::test]
async fn a_low_job_is_not_overtaken_by_mediums_arriving_after_its_aging_bound() {
    let dir = tempfile::tempdir().unwrap();
    let sink = limited_target(dir.path(), 240).await;
    // Aging made short so the test is: a low job goes ahead of medium ones arriving more than
    // 2 s after it.
    let aging = Duration::from_secs(2);
    let service = Service::start(
        dir.path(),
        "delivery:\n  poll_interval: 100ms\n  aging: {medium: 2s, high: 4s}\n  retry:\n    initial_delay: 100ms\n    max_delay: 1s\n",
    )
    .await;
    let started = Instant::now();
    // Steady medium load above the target's rate (4/s): 6 a second for 12 seconds, so a
    // backlog of mediums never clears. Strict priority would starve a low job until it ends.
    let load = {
        let url = service.url("/api/v2/alerts");
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut posted = Vec::new();
            for i in 0..72 {
                posted.push(started.elapsed());
                let resp = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(alert("Steady", i, "warning"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
                tokio::time::sleep(Duration::from_millis(166)).await;
            }
            posted
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = started.elapsed();
    let (status, body) = service
        .post("/api/v2/alerts", alert("Quiet", 0, "info"))
        .await;
    assert_eq!(status, 200, "{body}");
    let delivered = tokio::time::timeout(WAIT, async {
        loop {
            if received(&sink).iter().any(|(name, _)| name == "Quiet") {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the low job was delivered");
    let posted = load.await.unwrap();
    let order = received(&sink);
    let at = order.iter().position(|(n, _)| n == "Quiet").unwrap();
    // Every medium delivered before it arrived less than the aging bound after it (with 300 ms
    // for the request's own time) ...
    let overtook: Vec<Duration> = order[..at]
        .iter()
        .map(|(_, n)| posted[n.parse::<usize>().unwrap()])
        .filter(|&p| p > sent + aging + Duration::from_millis(300))
        .collect();
    assert!(
        overtook.is_empty(),
        "mediums posted more than {aging:?} after the low job went ahead of it: {overtook:?}"
    );
    // ... and it did not starve: mediums were still waiting when it went.
    assert!(
        order[at + 1..].iter().any(|(n, _)| n == "Steady"),
        "mediums still waited when it went: {order:?}"
    );
    eprintln!(
        "low job waited {:?} under steady medium overload (aging 2 s, 4 deliveries/s, 6 mediums/s)",
        delivered - sent
    );
}
