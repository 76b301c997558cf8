//! Retry classification end to end: 5xx, 429 (honouring Retry-After), dropped connections and
//! timeouts are retried; 400/401/404 are not and end dead with the reason; exhausted attempts
//! end dead too.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::{Answer, Behaviour, WebhookSink};

use crate::support::{Service, fixture_body, write_targets};

async fn job_of(service: &Service, target: &str) -> Value {
    let list = service
        .get_json(&format!("/api/v2/publishing/queue/jobs?target={target}"))
        .await;
    let id = list["jobs"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no job for {target}: {list}"));
    service
        .get_json(&format!("/api/v2/publishing/queue/jobs/{id}"))
        .await
}

fn history(job: &Value) -> Vec<(String, Option<u64>, Option<String>)> {
    job["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["outcome"].as_str().unwrap().to_owned(),
                a["status_code"].as_u64(),
                a["error_kind"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test]
async fn server_errors_and_429_are_retried_and_retry_after_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await;
    sink.script([
        Behaviour::Status(500),
        Behaviour::TooManyRequests {
            retry_after: Some("2".into()),
        },
        Behaviour::Status(503),
    ]);
    write_targets(
        dir.path(),
        &format!(
            "- name: flaky\n  type: webhook\n  url: {}\n",
            sink.url("/hook")
        ),
    );
    let service = Service::start(dir.path(), "").await;
    let (status, _) = service
        .post("/webhook", fixture_body("am-webhook-firing.json"))
        .await;
    assert_eq!(status, 200);
    let delivered = sink.wait_for_delivered(1, Duration::from_secs(20)).await;
    assert_eq!(delivered.len(), 1);
    let requests = sink.requests();
    let answers: Vec<_> = requests.iter().map(|r| r.answered.clone()).collect();
    assert_eq!(
        answers,
        [
            Answer::Status(500),
            Answer::Status(429),
            Answer::Status(503),
            Answer::Status(200)
        ]
    );
    let gap = requests[2].received_at - requests[1].received_at;
    assert!(
        gap >= Duration::from_secs(2),
        "Retry-After: 2 honoured, next attempt came after {gap:?}"
    );
    let key = requests[0].header("idempotency-key").unwrap();
    assert!(
        requests
            .iter()
            .all(|r| r.header("idempotency-key") == Some(key)),
        "retries keep the idempotency key"
    );

    let job = service
        .wait_json(
            "/api/v2/publishing/queue/stats",
            Duration::from_secs(5),
            |s| s["done"] == 1,
        )
        .await;
    assert_eq!(job["dead"], 0);
    let job = job_of(&service, "flaky").await;
    assert_eq!(job["state"], "done");
    assert_eq!(job["attempts"], 4);
    assert_eq!(
        history(&job),
        [
            ("retry".into(), Some(500), Some("server".into())),
            ("retry".into(), Some(429), Some("rate_limited".into())),
            ("retry".into(), Some(503), Some("server".into())),
            ("delivered".into(), Some(200), None),
        ]
    );
    let metrics = reqwest::get(service.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        crate::support::metric_sum(
            &metrics,
            "alert_history_publishing_retry_attempts_total",
            &[("target", "flaky")]
        ),
        Some(3.0),
        "{metrics}"
    );
}

#[tokio::test]
async fn dropped_connections_and_timeouts_are_retried() {
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await;
    sink.script([
        Behaviour::Drop,
        Behaviour::slow(Duration::from_secs(3), Behaviour::Ok),
    ]);
    write_targets(
        dir.path(),
        &format!(
            "- name: shaky\n  type: webhook\n  url: {}\n  options: {{timeout: 500ms}}\n",
            sink.url("/hook")
        ),
    );
    let service = Service::start(dir.path(), "").await;
    service
        .post("/webhook", fixture_body("am-webhook-firing.json"))
        .await;
    sink.wait_for_delivered(1, Duration::from_secs(20)).await;
    service
        .wait_json(
            "/api/v2/publishing/queue/stats",
            Duration::from_secs(10),
            |s| s["done"] == 1,
        )
        .await;
    let job = job_of(&service, "shaky").await;
    let h = history(&job);
    assert_eq!(h.len(), 3, "{job}");
    assert_eq!(h[0], ("retry".into(), None, Some("io".into())));
    assert_eq!(h[1], ("retry".into(), None, Some("timeout".into())));
    assert_eq!(h[2].0, "delivered");
}

#[tokio::test]
async fn client_errors_are_permanent_and_dead_letters_keep_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::new();
    let mut sinks = Vec::new();
    for code in [400u16, 401, 404] {
        let sink = WebhookSink::start().await;
        sink.set_default(Behaviour::Respond {
            status: code,
            headers: vec![],
            body: format!("refused with {code}"),
        });
        yaml.push_str(&format!(
            "- name: t{code}\n  type: webhook\n  url: {}\n",
            sink.url("/hook")
        ));
        sinks.push((code, sink));
    }
    let exhausted = WebhookSink::start().await;
    exhausted.set_default(Behaviour::Status(503));
    yaml.push_str(&format!(
        "- name: always-down\n  type: webhook\n  url: {}\n",
        exhausted.url("/hook")
    ));
    write_targets(dir.path(), &yaml);
    let service = Service::start(dir.path(), "").await;
    let (status, _) = service
        .post("/webhook", fixture_body("am-webhook-firing.json"))
        .await;
    assert_eq!(status, 200);
    let dlq = service
        .wait_json("/api/v2/publishing/dlq", Duration::from_secs(20), |d| {
            d["count"] == 4
        })
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (code, sink) in &sinks {
        assert_eq!(sink.requests().len(), 1, "{code} is not retried");
        let job = job_of(&service, &format!("t{code}")).await;
        assert_eq!(job["state"], "dead");
        assert_eq!(job["last_status_code"], *code);
        assert_eq!(
            job["last_error"],
            format!("HTTP {code}: refused with {code}")
        );
        let kind = match code {
            400 => "invalid",
            401 => "auth",
            _ => "not_found",
        };
        assert_eq!(job["last_error_kind"], kind);
    }
    assert_eq!(
        exhausted.requests().len(),
        6,
        "max_attempts 6 in the test config"
    );
    let job = job_of(&service, "always-down").await;
    assert_eq!(job["state"], "dead");
    assert!(
        job["last_error"]
            .as_str()
            .unwrap()
            .starts_with("gave up after 6 attempts"),
        "{job}"
    );
    assert!(
        dlq["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["state"] == "dead")
    );
    let _ = json!(null);
}
