//! The delivery engine end to end: circuit breakers isolate a failing target, dead letters
//! are replayed and purged, parallel publishing reports per-target results, and every
//! engine metric is recorded.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::{Behaviour, WebhookSink};

use crate::support::{Service, metric, metric_sum, metrics, one_webhook_target, write_targets};

fn notification(name: &str, i: usize, severity: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "version": "4", "status": "firing", "receiver": "r", "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"),
        "groupLabels": {"alertname": name}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
        "truncatedAlerts": 0,
        "alerts": [{"status": "firing", "labels": {"alertname": name, "n": i.to_string(), "severity": severity},
                    "annotations": {"summary": format!("{name} {i}")}, "startsAt": "2026-11-23T10:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": ""}]
    }))
    .unwrap()
}

const BREAKER: &str = "delivery:\n  poll_interval: 50ms\n  circuit_breaker:\n    failure_threshold: 3\n    open_for: 1s\n    success_threshold: 2\n  retry:\n    initial_delay: 50ms\n    max_delay: 200ms\n    max_attempts: 1000\n    retry_after_floor: 50ms\n";

#[tokio::test]
async fn a_failing_target_trips_its_breaker_waits_and_drains_while_others_flow() {
    let dir = tempfile::tempdir().unwrap();
    let bad = WebhookSink::start().await;
    let good = WebhookSink::start().await;
    bad.script([
        Behaviour::Status(500),
        Behaviour::Drop,
        Behaviour::slow(Duration::from_secs(2), Behaviour::Ok),
    ]);
    bad.set_default(Behaviour::Status(503));
    write_targets(
        dir.path(),
        &format!(
            "- name: bad\n  type: webhook\n  url: {}\n  options: {{timeout: 500ms}}\n  filter: {{labels: {{team: bad}}}}\n\
             - name: good\n  type: webhook\n  url: {}\n  filter: {{labels: {{team: good}}}}\n",
            bad.url("/hook"),
            good.url("/hook")
        ),
    );
    let service = Service::start(dir.path(), BREAKER).await;
    let body = |team: &str, i: usize| {
        serde_json::to_vec(
            &json!([{"labels": {"alertname": "Breaker", "team": team, "n": i.to_string()}}]),
        )
        .unwrap()
    };
    for i in 0..10 {
        assert_eq!(service.post("/api/v2/alerts", body("bad", i)).await.0, 200);
    }
    // The breaker opens after 3 failures (500, reset, timeout) and then lets one probe through
    // per second: far fewer requests than 10 jobs retrying every 50-200 ms would make.
    service
        .wait_json(
            "/api/v2/publishing/queue/stats",
            Duration::from_secs(10),
            |s| {
                s["circuit_breakers"]["bad"] == "open"
                    || s["circuit_breakers"]["bad"] == "half_open"
            },
        )
        .await;
    let started = Instant::now();
    for i in 0..10 {
        assert_eq!(service.post("/api/v2/alerts", body("good", i)).await.0, 200);
    }
    good.wait_for_delivered(10, Duration::from_secs(5)).await;
    let good_took = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let bad_requests = bad.requests().len();
    assert!(
        bad_requests < 12,
        "an open circuit holds deliveries back ({bad_requests} requests in ~3 s)"
    );
    let stats = service.get_json("/api/v2/publishing/queue/stats").await;
    assert_eq!(stats["dead"], 0, "an open circuit never drops: {stats}");
    assert_eq!(
        stats["pending"].as_u64().unwrap() + stats["in_flight"].as_u64().unwrap(),
        10,
        "{stats}"
    );
    let text = metrics(&service).await;
    assert!(
        metric(
            &text,
            "alert_history_publishing_circuit_breaker_trips_total{target=\"bad\"}"
        )
        .unwrap()
            >= 1.0,
        "{text}"
    );
    assert!(
        metric(
            &text,
            "alert_history_publishing_circuit_breaker_waits_total{target=\"bad\"}"
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        metric(
            &text,
            "alert_history_publishing_circuit_breaker_state{target=\"bad\"}"
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        metric(
            &text,
            "alert_history_publishing_circuit_breaker_trips_total{target=\"good\"}"
        )
        .is_none()
    );

    // The target recovers: the probe succeeds, the circuit closes, the backlog drains.
    bad.set_default(Behaviour::Ok);
    bad.wait_for_delivered(10, Duration::from_secs(20)).await;
    let stats = service
        .wait_json(
            "/api/v2/publishing/queue/stats",
            Duration::from_secs(10),
            |s| s["done"] == 20,
        )
        .await;
    assert_eq!(stats["circuit_breakers"]["bad"], "closed", "{stats}");
    let text = metrics(&service).await;
    assert_eq!(
        metric(
            &text,
            "alert_history_publishing_circuit_breaker_recoveries_total{target=\"bad\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &text,
            "alert_history_publishing_circuit_breaker_state{target=\"bad\"}"
        ),
        Some(0.0)
    );
    assert!(
        good_took < Duration::from_secs(5),
        "the healthy target was not held up: {good_took:?}"
    );
}

#[tokio::test]
async fn dead_letters_fill_then_replay_one_and_by_filter_then_purge() {
    let dir = tempfile::tempdir().unwrap();
    let broken = WebhookSink::start().await;
    broken.set_default(Behaviour::Respond {
        status: 400,
        headers: vec![],
        body: "schema mismatch".into(),
    });
    let other = WebhookSink::start().await;
    other.set_default(Behaviour::Status(404));
    write_targets(
        dir.path(),
        &format!(
            "- name: broken\n  type: webhook\n  url: {}\n  filter: {{labels: {{team: a}}}}\n- name: other\n  type: webhook\n  url: {}\n  filter: {{labels: {{team: b}}}}\n",
            broken.url("/hook"),
            other.url("/hook")
        ),
    );
    let service = Service::start(dir.path(), "").await;
    for i in 0..5 {
        let body = serde_json::to_vec(
            &json!([{"labels": {"alertname": "Dlq", "team": "a", "n": i.to_string()}}]),
        )
        .unwrap();
        service.post("/api/v2/alerts", body).await;
    }
    let body = serde_json::to_vec(&json!([{"labels": {"alertname": "Dlq", "team": "b"}}])).unwrap();
    service.post("/api/v2/alerts", body).await;
    let dlq = service
        .wait_json("/api/v2/publishing/dlq", Duration::from_secs(10), |d| {
            d["count"] == 6
        })
        .await;
    for j in dlq["jobs"].as_array().unwrap() {
        let reason = j["last_error"].as_str().unwrap();
        assert!(
            reason == "HTTP 400: schema mismatch" || reason == "HTTP 404: scripted 404",
            "{j}"
        );
    }
    let filtered = service
        .get_json("/api/v2/publishing/dlq?target=broken&error_kind=invalid")
        .await;
    assert_eq!(filtered["count"], 5);
    let one = filtered["jobs"][0]["id"].as_i64().unwrap();
    let detail = service
        .get_json(&format!("/api/v2/publishing/dlq/{one}"))
        .await;
    assert_eq!(detail["history"][0]["status_code"], 400);

    // Fix the target, replay one.
    broken.set_default(Behaviour::Ok);
    let (status, body) = service
        .post(&format!("/api/v2/publishing/dlq/{one}/replay"), "")
        .await;
    assert_eq!(status, 200, "{body}");
    broken.wait_for_delivered(1, Duration::from_secs(10)).await;
    let (status, body) = service
        .post(&format!("/api/v2/publishing/dlq/{one}/replay"), "")
        .await;
    assert_eq!(status, 404, "a dead letter is replayed once: {body}");
    // Replay the rest by filter.
    let (status, body) = service
        .post("/api/v2/publishing/dlq/replay", r#"{"target":"broken"}"#)
        .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["replayed"].as_array().unwrap().len(), 4, "{v}");
    broken.wait_for_delivered(5, Duration::from_secs(10)).await;
    let (status, _) = service.post("/api/v2/publishing/dlq/replay", "{}").await;
    assert_eq!(status, 400, "a bulk replay must say what to replay");

    // Purge removes only what it should.
    let resp = reqwest::Client::new()
        .delete(service.url("/api/v2/publishing/dlq/purge?older_than=0s&target=other"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["purged"], 1);
    let remaining = service.get_json("/api/v2/publishing/dlq").await;
    assert_eq!(
        remaining["count"], 5,
        "the replayed dead letters stay for the record: {remaining}"
    );
    assert!(
        remaining["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["replayed_as"].is_i64())
    );
    let resp = reqwest::Client::new()
        .delete(service.url("/api/v2/publishing/dlq/purge"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "older_than is required");
    let text = metrics(&service).await;
    assert_eq!(
        metric_sum(
            &text,
            "alert_history_publishing_dlq_replays_total",
            &[("result", "success")]
        ),
        Some(5.0),
        "{text}"
    );
    assert_eq!(
        metric_sum(
            &text,
            "alert_history_publishing_dlq_writes_total",
            &[
                ("target", "broken"),
                ("reason", "invalid"),
                ("error_type", "permanent")
            ]
        ),
        Some(5.0)
    );
}

#[tokio::test]
async fn parallel_publishing_reports_each_target_by_strategy() {
    let dir = tempfile::tempdir().unwrap();
    let ok = WebhookSink::start().await;
    let slow = WebhookSink::start().await;
    slow.set_default(Behaviour::slow(Duration::from_millis(400), Behaviour::Ok));
    let down = WebhookSink::start().await;
    down.set_default(Behaviour::Status(503));
    let refusing = WebhookSink::start().await;
    refusing.set_default(Behaviour::Status(401));
    let mut yaml = String::new();
    for (name, sink) in [
        ("ok", &ok),
        ("slow", &slow),
        ("down", &down),
        ("refusing", &refusing),
    ] {
        yaml.push_str(&format!(
            "- name: {name}\n  type: webhook\n  url: {}\n",
            sink.url("/p")
        ));
    }
    yaml.push_str("- name: off\n  type: webhook\n  url: http://127.0.0.1:9/\n  enabled: false\n");
    write_targets(dir.path(), &yaml);
    let service = Service::start(dir.path(), "health:\n  degraded_latency: 300ms\n").await;
    let alert = json!({"labels": {"alertname": "Parallel", "severity": "critical"}, "annotations": {"summary": "p"}});
    let post = |path: &str, body: Value| {
        let service = &service;
        let path = path.to_owned();
        async move {
            let (status, text) = service
                .post(&path, serde_json::to_vec(&body).unwrap())
                .await;
            (
                status,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
            )
        }
    };
    let outcomes = |v: &Value| -> Vec<(String, String)> {
        let report = if v["report"].is_object() {
            &v["report"]
        } else {
            &v["error"]["details"]["report"]
        };
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["target"].as_str().unwrap().to_owned(),
                    r["outcome"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    // Everyone gets it; health is learnt from the results.
    for _ in 0..3 {
        let (status, v) = post(
            "/api/v2/publishing/parallel/all",
            json!({"alert": alert, "strategy": "publish_to_all"}),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["report"]["complete"], false, "partial success");
        assert_eq!(
            outcomes(&v),
            [
                ("ok".into(), "delivered".into()),
                ("slow".into(), "delivered".into()),
                ("down".into(), "failed".into()),
                ("refusing".into(), "failed".into())
            ]
        );
    }
    // down: 3 failures → unhealthy; slow: ≥ 300 ms → degraded; refusing: a 401 is about the request, not health.
    let (status, v) = post("/api/v2/publishing/parallel/all", json!({"alert": alert})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        outcomes(&v),
        [
            ("ok".into(), "delivered".into()),
            ("slow".into(), "delivered".into()),
            ("down".into(), "skipped".into()),
            ("refusing".into(), "failed".into())
        ],
        "skip_unhealthy"
    );
    let (status, v) = post(
        "/api/v2/publishing/parallel/healthy",
        json!({"alert": alert}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["strategy"], "skip_unhealthy_and_degraded");
    assert_eq!(
        outcomes(&v),
        [
            ("ok".into(), "delivered".into()),
            ("slow".into(), "skipped".into()),
            ("down".into(), "skipped".into()),
            ("refusing".into(), "failed".into())
        ]
    );
    let (status, v) = post(
        "/api/v2/publishing/parallel/targets",
        json!({"alert": alert, "targets": ["ok", "slow"], "timeout": "100ms"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        outcomes(&v),
        [
            ("ok".into(), "delivered".into()),
            ("slow".into(), "timeout".into())
        ]
    );
    // Distinct errors.
    let (status, v) = post(
        "/api/v2/publishing/parallel/targets",
        json!({"alert": alert, "targets": ["refusing"]}),
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (502, Some("all_failed")),
        "{v}"
    );
    assert_eq!(
        v["error"]["details"]["report"]["results"][0]["status_code"],
        401
    );
    let (status, v) = post(
        "/api/v2/publishing/parallel/targets",
        json!({"alert": alert, "targets": ["down"]}),
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (503, Some("no_healthy_targets")),
        "{v}"
    );
    let (status, v) = post(
        "/api/v2/publishing/parallel/targets",
        json!({"alert": alert, "targets": ["nope"]}),
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{v}"
    );
    let (status, v) = post(
        "/api/v2/publishing/parallel/targets",
        json!({"alert": alert, "targets": ["off"]}),
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (422, Some("target_disabled")),
        "{v}"
    );
    let (status, v) = post(
        "/api/v2/publishing/parallel/targets",
        json!({"alert": {"labels": {}}, "targets": ["ok"]}),
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("invalid_payload")),
        "{v}"
    );
    let (status, v) = post(
        "/api/v2/publishing/parallel/all",
        json!({"alert": alert, "strategy": "sometimes"}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let text = metrics(&service).await;
    assert_eq!(
        metric(
            &text,
            "alert_history_publishing_parallel_requests_total{endpoint=\"all\",result=\"success\"}"
        ),
        Some(4.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "alert_history_publishing_parallel_requests_total{endpoint=\"targets\",result=\"all_failed\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &text,
            "alert_history_publishing_parallel_targets_total{target_type=\"webhook\",result=\"skipped\"}"
        ),
        Some(3.0)
    );
    assert!(text.contains("alert_history_publishing_parallel_duration_seconds_bucket"));
}

#[tokio::test]
async fn every_engine_metric_is_recorded_after_a_scripted_run() {
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await;
    sink.script([Behaviour::Status(503)]);
    let dead = WebhookSink::start().await;
    dead.set_default(Behaviour::Status(400));
    write_targets(
        dir.path(),
        &format!(
            "- name: main\n  type: webhook\n  url: {}\n- name: dead\n  type: webhook\n  url: {}\n  filter: {{severity: [critical]}}\n",
            sink.url("/m"),
            dead.url("/d")
        ),
    );
    let service = Service::start(dir.path(), "").await;
    for i in 0..4 {
        let severity = if i == 0 { "critical" } else { "info" };
        assert_eq!(
            service
                .post("/webhook", notification("Metrics", i, severity))
                .await
                .0,
            200
        );
    }
    // a repeat: deduplicated
    assert_eq!(
        service
            .post("/webhook", notification("Metrics", 1, "info"))
            .await
            .0,
        200
    );
    sink.wait_for_delivered(4, Duration::from_secs(10)).await;
    service
        .wait_json(
            "/api/v2/publishing/queue/stats",
            Duration::from_secs(10),
            |s| s["done"] == 4 && s["dead"] == 1,
        )
        .await;
    let submitted = service
        .post(
            "/api/v2/publishing/queue/submit",
            serde_json::to_vec(
                &json!({"alert": {"labels": {"alertname": "Submitted"}}, "targets": ["main"]}),
            )
            .unwrap(),
        )
        .await;
    assert_eq!(submitted.0, 202, "{}", submitted.1);
    sink.wait_for_delivered(5, Duration::from_secs(10)).await;
    let dead_id = service.get_json("/api/v2/publishing/dlq").await["jobs"][0]["id"]
        .as_i64()
        .unwrap();
    dead.set_default(Behaviour::Ok);
    service
        .post(&format!("/api/v2/publishing/dlq/{dead_id}/replay"), "")
        .await;
    dead.wait_for_delivered(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = metrics(&service).await;
    // (family, labels the series must have, value)
    type Expected<'a> = (&'a str, &'a [(&'a str, &'a str)], f64);
    let expect: &[Expected<'_>] = &[
        (
            "alert_history_publishing_queue_submissions_total",
            &[("result", "inserted")],
            6.0,
        ),
        (
            "alert_history_publishing_queue_submissions_total",
            &[("result", "deduplicated")],
            1.0,
        ),
        (
            "alert_history_publishing_jobs_processed_total",
            &[("target", "main"), ("state", "delivered")],
            5.0,
        ),
        (
            "alert_history_publishing_jobs_processed_total",
            &[("target", "main"), ("state", "retry")],
            1.0,
        ),
        (
            "alert_history_publishing_jobs_processed_total",
            &[("target", "dead"), ("state", "dead")],
            1.0,
        ),
        (
            "alert_history_publishing_jobs_processed_total",
            &[("target", "dead"), ("state", "delivered")],
            1.0,
        ),
        (
            "alert_history_publishing_retry_attempts_total",
            &[("target", "main")],
            1.0,
        ),
        (
            "alert_history_publishing_dlq_writes_total",
            &[
                ("target", "dead"),
                ("reason", "invalid"),
                ("error_type", "permanent"),
            ],
            1.0,
        ),
        (
            "alert_history_publishing_dlq_replays_total",
            &[("target", "dead"), ("result", "success")],
            1.0,
        ),
        (
            "alert_history_publishing_dlq_size",
            &[("target", "dead")],
            1.0,
        ),
        (
            "alert_history_publishing_queue_size",
            &[("priority", "high")],
            0.0,
        ),
        (
            "alert_history_publishing_queue_size",
            &[("priority", "low")],
            0.0,
        ),
        ("alert_history_publishing_workers_active", &[], 0.0),
        ("alert_history_publishing_workers_idle", &[], 64.0),
        (
            "alert_history_publishing_job_duration_seconds_count",
            &[("target", "main")],
            6.0,
        ),
        (
            "alert_history_publishing_job_wait_time_seconds_count",
            &[("target", "main")],
            5.0,
        ),
        (
            "alert_history_publishing_circuit_breaker_state",
            &[("target", "main")],
            0.0,
        ),
    ];
    for (name, labels, value) in expect {
        assert_eq!(
            metric_sum(&text, name, labels),
            Some(*value),
            "{name}{labels:?}\n{text}"
        );
    }
}

/// Sends a signal to the service process.
fn signal(service: &Service, sig: &str) {
    let pid = service.pid().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args([sig, &pid])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {sig} {pid}");
}

#[tokio::test]
async fn a_failing_target_gets_at_most_the_threshold_plus_what_was_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    // Every delivery fails, slowly enough that deliveries overlap.
    let sink = one_webhook_target(
        dir.path(),
        "breaking",
        Behaviour::slow(Duration::from_millis(200), Behaviour::Status(500)),
        "",
    )
    .await;
    let service = Service::start(
        dir.path(),
        "delivery:\n  concurrency: 64\n  poll_interval: 50ms\n  circuit_breaker:\n    failure_threshold: 5\n    open_for: 60s\n  retry:\n    initial_delay: 50ms\n    max_delay: 200ms\n    max_attempts: 1000\n",
    )
    .await;
    for i in 0..300 {
        assert_eq!(
            service
                .post("/api/v2/alerts", {
                    serde_json::to_vec(
                        &json!([{"labels": {"alertname": "Breaking", "n": i.to_string()}}]),
                    )
                    .unwrap()
                })
                .await
                .0,
            200
        );
    }
    service
        .wait_json(
            "/api/v2/publishing/queue/stats",
            Duration::from_secs(30),
            |s| s["circuit_breakers"]["breaking"] == "open",
        )
        .await;
    // Whatever was in flight when it opened finishes; then nothing more starts.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = sink.requests().len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        sink.requests().len(),
        received,
        "no work starts to an open circuit"
    );
    assert!(
        received <= 5 + 64,
        "{received} failing requests: at most the threshold (5) plus the 64 in flight"
    );
    eprintln!(
        "a target failing every delivery received {received} requests before its circuit held everything (threshold 5, concurrency 64)"
    );
}

#[tokio::test]
async fn a_paused_process_does_not_blame_the_target_for_its_own_stall() {
    let dir = tempfile::tempdir().unwrap();
    let sink = one_webhook_target(
        dir.path(),
        "healthy",
        Behaviour::slow(Duration::from_millis(300), Behaviour::Ok),
        "  options: {timeout: 1s}\n",
    )
    .await;
    let service = Service::start(
        dir.path(),
        "delivery:\n  lease: 2s\n  poll_interval: 50ms\n  circuit_breaker:\n    failure_threshold: 3\n    open_for: 60s\n  retry:\n    initial_delay: 50ms\n    max_delay: 200ms\n    max_attempts: 1000\n",
    )
    .await;
    for i in 0..10 {
        let body =
            serde_json::to_vec(&json!([{"labels": {"alertname": "Paused", "n": i.to_string()}}]))
                .unwrap();
        assert_eq!(service.post("/api/v2/alerts", body).await.0, 200);
    }
    sink.wait_for_requests(1, Duration::from_secs(10)).await;
    // Paused with deliveries in flight, longer than the lease and the request timeout: on
    // resume those requests time out at once.
    signal(&service, "-STOP");
    tokio::time::sleep(Duration::from_secs(3)).await;
    signal(&service, "-CONT");
    let stats = service
        .wait_json(
            "/api/v2/publishing/queue/stats",
            Duration::from_secs(30),
            |s| s["done"] == 10,
        )
        .await;
    assert_eq!(
        stats["circuit_breakers"]["healthy"], "closed",
        "the stall was not the target's: {stats}"
    );
    let text = metrics(&service).await;
    assert!(
        metric(
            &text,
            "alert_history_publishing_circuit_breaker_trips_total{target=\"healthy\"}"
        )
        .is_none_or(|v| v == 0.0),
        "{text}"
    );
}
