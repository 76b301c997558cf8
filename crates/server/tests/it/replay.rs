//! Dead-letter replay follows the alert's story: of an alert's dead letters for a target, the
//! newest is sent; an older firing never reopens an incident whose resolve died after it.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::{Behaviour, WebhookSink};

use crate::support::{Service, one_webhook_target};

/// An Alertmanager notification of the alert `ReplayStory` in `status`.
fn notification(status: &str) -> Vec<u8> {
    let ends_at = if status == "resolved" {
        "2026-11-23T10:05:00Z"
    } else {
        "0001-01-01T00:00:00Z"
    };
    serde_json::to_vec(&json!({
        "version": "4", "status": status, "receiver": "r", "groupKey": "{}:{alertname=\"ReplayStory\"}",
        "groupLabels": {"alertname": "ReplayStory"}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://am", "truncatedAlerts": 0,
        "alerts": [{"status": status, "labels": {"alertname": "ReplayStory", "severity": "critical"},
                    "annotations": {}, "startsAt": "2026-11-23T10:00:00Z", "endsAt": ends_at,
                    "generatorURL": ""}]
    }))
    .unwrap()
}

/// A webhook target refusing every request for good, the alert's firing and then its resolve
/// both dead letters. Returns the service, the sink, and the ids of the firing and the resolve.
async fn firing_then_resolved_dead(dir: &std::path::Path) -> (Service, WebhookSink, i64, i64) {
    let sink = one_webhook_target(dir, "hook", Behaviour::Status(400), "").await;
    let service = Service::start(dir, "").await;
    let mut ids = Vec::new();
    for (status, dead) in [("firing", 1), ("resolved", 2)] {
        let (code, body) = service.post("/webhook", notification(status)).await;
        assert_eq!(code, 200, "{body}");
        let dlq = service
            .wait_json("/api/v2/publishing/dlq", Duration::from_secs(10), |d| {
                d["count"] == dead
            })
            .await;
        // newest first
        let newest = &dlq["jobs"][0];
        assert_eq!(newest["status"], status, "{dlq}");
        ids.push(newest["id"].as_i64().unwrap());
    }
    sink.set_default(Behaviour::Ok);
    (service, sink, ids[0], ids[1])
}

/// What the target took, as the statuses of the alerts it was sent, after a moment in which
/// anything else queued would have arrived too.
async fn received(sink: &WebhookSink, at_least: usize) -> Vec<String> {
    sink.wait_for_delivered(at_least, Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    sink.delivered()
        .iter()
        .map(|r| r.json()["alerts"][0]["status"].as_str().unwrap().to_owned())
        .collect()
}

/// The bug: a bulk replay by target sent the old firing and skipped the resolve ("a newer
/// notification exists": the fresh replay of the firing), leaving the incident open.
#[tokio::test]
async fn bulk_replay_by_target_sends_the_resolve_not_the_older_firing() {
    let dir = tempfile::tempdir().unwrap();
    let (service, sink, firing, resolved) = firing_then_resolved_dead(dir.path()).await;

    let (status, body) = service
        .post("/api/v2/publishing/dlq/replay", r#"{"target":"hook"}"#)
        .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let replayed = v["replayed"].as_array().unwrap();
    assert_eq!(replayed.len(), 1, "{v}");
    assert_eq!(replayed[0]["id"], resolved, "{v}");
    let new_job = replayed[0]["new_job_id"].as_i64().unwrap();
    let skipped = v["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{v}");
    assert_eq!(skipped[0]["id"], firing, "{v}");
    let reason = skipped[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("dead letter {resolved}")),
        "{reason}"
    );

    assert_eq!(
        received(&sink, 1).await,
        ["resolved"],
        "the target got the resolve, and only it"
    );

    // The firing is marked: not offered again, pointing at what was sent in its place.
    let old = service
        .get_json(&format!("/api/v2/publishing/dlq/{firing}"))
        .await;
    assert_eq!(old["replayed_as"], new_job, "{old}");
    assert_eq!(old["superseded_by"], resolved, "{old}");
    let (status, body) = service
        .post("/api/v2/publishing/dlq/replay", r#"{"target":"hook"}"#)
        .await;
    assert_eq!(status, 200, "{body}");
    let again: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(again, json!({"replayed": [], "skipped": []}));
    assert_eq!(received(&sink, 1).await, ["resolved"]);
}

/// A replay of the older firing by id is refused (409, naming the newer dead letter) while the
/// resolve sits in the dead-letter queue; a list of ids sends only the resolve.
#[tokio::test]
async fn replay_of_the_older_firing_is_refused_while_its_resolve_is_a_dead_letter() {
    let dir = tempfile::tempdir().unwrap();
    let (service, sink, firing, resolved) = firing_then_resolved_dead(dir.path()).await;

    let (status, body) = service
        .post(&format!("/api/v2/publishing/dlq/{firing}/replay"), "")
        .await;
    assert_eq!(status, 409, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "replay_refused", "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("dead letter {resolved} is newer")),
        "{message}"
    );

    let (status, body) = service
        .post(
            "/api/v2/publishing/dlq/replay",
            format!(r#"{{"ids":[{firing},{resolved}]}}"#),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["replayed"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["replayed"][0]["id"], resolved, "{v}");
    assert_eq!(v["skipped"][0]["id"], firing, "{v}");
    assert_eq!(received(&sink, 1).await, ["resolved"]);

    // Once its resolve was replayed, the firing is no dead letter to replay.
    let (status, body) = service
        .post(&format!("/api/v2/publishing/dlq/{firing}/replay"), "")
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(received(&sink, 1).await, ["resolved"]);
}
