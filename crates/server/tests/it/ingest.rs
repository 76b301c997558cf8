//! Ingest through the in-process router (`Router::oneshot`, no socket): every Alertmanager
//! fixture is accepted, bad input gets a clear 4xx and changes nothing, good input after bad
//! input still works.

use std::{path::Path, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use http_body_util::BodyExt;
use queue::{JobFilter, JobStore, SqlStore, StoreOptions};
use server::{AppState, Registry, app};
use tower::ServiceExt;

use crate::support::{fixture_body, loopback};

struct Harness {
    _dir: tempfile::TempDir,
    store: Arc<SqlStore>,
    router: Router,
}

async fn harness(targets_yaml: &str, max_body_bytes: usize) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqlStore::open_sqlite(&dir.path().join("s.db"), StoreOptions::default())
            .await
            .unwrap(),
    );
    let specs = targets::parse_document(targets_yaml, false, "targets.yaml").unwrap();
    let registry =
        Arc::new(Registry::build_with(specs, queue::TargetPolicy::default(), loopback()).unwrap());
    let engine = queue::Engine::new(
        store.clone(),
        registry.clone(),
        queue::EngineConfig::default(),
    );
    let state = AppState::new(
        Arc::new(service::Service::new(
            store.clone(),
            registry,
            engine.handle(),
        )),
        max_body_bytes,
    );
    Harness {
        _dir: dir,
        store,
        router: app(state),
    }
}

const ONE_TARGET: &str = "- name: all\n  type: webhook\n  url: http://127.0.0.1:9/hook\n";

async fn post(
    router: &Router,
    path: &str,
    body: impl Into<Body>,
) -> (StatusCode, serde_json::Value) {
    let req = Request::post(path)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::json!({"raw": String::from_utf8_lossy(&bytes)}));
    (status, json)
}

async fn job_count(store: &SqlStore) -> usize {
    store
        .list(&JobFilter {
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn every_alertmanager_fixture_is_accepted_and_split_per_alert() {
    let h = harness(ONE_TARGET, 10 << 20).await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/alertmanager");
    let mut expected_jobs = 0;
    for name in [
        "am-webhook-firing.json",
        "am-webhook-resolved.json",
        "am-webhook-group-2-firing.json",
        "am-webhook-group-mixed.json",
        "am-webhook-truncated.json",
        "am-webhook-from-prometheus.json",
    ] {
        assert!(dir.join(name).exists(), "{name}");
        let body = fixture_body(name);
        let alerts = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["alerts"]
            .as_array()
            .unwrap()
            .len();
        let (status, json) = post(&h.router, "/webhook", body).await;
        assert_eq!(status, StatusCode::OK, "{name}: {json}");
        assert_eq!(json["status"], "accepted");
        assert_eq!(json["alerts"], alerts, "{name}");
        expected_jobs += json["jobs"].as_u64().unwrap() as usize;
    }
    // firing(1) + resolved of the same alert(1) + group of 2 + mixed: 2 (one resolves an alert of
    // the group, one is new) + truncated: its alert was already firing (deduplicated) + prometheus(1)
    assert_eq!(job_count(&h.store).await, expected_jobs);
    let jobs = h
        .store
        .list(&JobFilter {
            limit: Some(100),
            ..Default::default()
        })
        .await
        .unwrap();
    let mixed: Vec<_> = jobs
        .iter()
        .filter(|j| j.alertname == "DiskFull")
        .map(|j| (j.fingerprint.as_str(), j.status))
        .collect();
    assert!(
        mixed.contains(&("df82f7d2eba476e5", publish::AlertStatus::Resolved)),
        "{mixed:?}"
    );
    assert!(
        mixed.contains(&("06c0e749c45f1dd2", publish::AlertStatus::Firing)),
        "{mixed:?}"
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_and_changes_nothing() {
    let h = harness(ONE_TARGET, 64 * 1024).await;
    let good = fixture_body("am-webhook-firing.json");
    let mut wrong_version: serde_json::Value = serde_json::from_slice(&good).unwrap();
    wrong_version["version"] = "3".into();
    let mut missing_alerts = wrong_version.clone();
    missing_alerts["version"] = "4".into();
    missing_alerts.as_object_mut().unwrap().remove("alerts");
    let mut wrong_type: serde_json::Value = serde_json::from_slice(&good).unwrap();
    wrong_type["alerts"][0]["labels"]["severity"] = 5.into();
    let mut missing_starts: serde_json::Value = serde_json::from_slice(&good).unwrap();
    missing_starts["alerts"][0]
        .as_object_mut()
        .unwrap()
        .remove("startsAt");
    let oversized = {
        let mut v: serde_json::Value = serde_json::from_slice(&good).unwrap();
        v["alerts"][0]["annotations"]["description"] = "x".repeat(70 * 1024).into();
        serde_json::to_vec(&v).unwrap()
    };
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "malformed json",
            b"{\"version\": \"4\", \"alerts\": [".to_vec(),
            StatusCode::BAD_REQUEST,
            "EOF while parsing",
        ),
        (
            "not json",
            b"hello".to_vec(),
            StatusCode::BAD_REQUEST,
            "expected value",
        ),
        (
            "empty body",
            Vec::new(),
            StatusCode::BAD_REQUEST,
            "empty body",
        ),
        (
            "wrong version",
            serde_json::to_vec(&wrong_version).unwrap(),
            StatusCode::BAD_REQUEST,
            "unsupported webhook version \"3\"",
        ),
        (
            "missing alerts",
            serde_json::to_vec(&missing_alerts).unwrap(),
            StatusCode::BAD_REQUEST,
            "missing field `alerts`",
        ),
        (
            "wrong type",
            serde_json::to_vec(&wrong_type).unwrap(),
            StatusCode::BAD_REQUEST,
            "alerts[0].labels.severity",
        ),
        (
            "missing startsAt",
            serde_json::to_vec(&missing_starts).unwrap(),
            StatusCode::BAD_REQUEST,
            "missing field `startsAt`",
        ),
        (
            "oversized",
            oversized,
            StatusCode::PAYLOAD_TOO_LARGE,
            "exceeds the limit of 65536 bytes",
        ),
    ];
    for (what, body, status, message) in cases {
        let (got, json) = post(&h.router, "/webhook", body).await;
        assert_eq!(got, status, "{what}: {json}");
        let text = json["error"]["message"].as_str().unwrap_or_default();
        assert!(
            text.contains(message),
            "{what}: {message:?} not in {text:?}"
        );
        assert!(
            json["error"]["code"].is_string() && json["error"]["request_id"].is_string(),
            "{what}: {json}"
        );
    }
    assert_eq!(
        job_count(&h.store).await,
        0,
        "rejected input must not create jobs"
    );
    let (status, json) = post(&h.router, "/webhook", good).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["jobs"], 1);
    assert_eq!(job_count(&h.store).await, 1);
}

#[tokio::test]
async fn prometheus_alert_array_is_accepted() {
    let h = harness(ONE_TARGET, 1 << 20).await;
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    let body = serde_json::json!([
        {"labels": {"alertname": "ApiFiring", "severity": "warning"}, "annotations": {"summary": "s"}},
        {"labels": {"alertname": "ApiResolved"}, "startsAt": "2026-01-01T00:00:00Z", "endsAt": past}
    ]);
    let (status, json) = post(
        &h.router,
        "/api/v2/alerts",
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["jobs"], 2);
    let jobs = h.store.list(&JobFilter::default()).await.unwrap();
    let resolved = jobs.iter().find(|j| j.alertname == "ApiResolved").unwrap();
    assert_eq!(resolved.status, publish::AlertStatus::Resolved);
    let (status, json) = post(&h.router, "/api/v2/alerts", b"{\"labels\":{}}".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
}

#[tokio::test]
async fn no_targets_is_valid_and_alerts_are_recorded_as_unrouted() {
    let h = harness("", 1 << 20).await;
    let (status, json) = post(
        &h.router,
        "/webhook",
        fixture_body("am-webhook-group-2-firing.json"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        (json["jobs"].as_u64(), json["unrouted"].as_u64()),
        (Some(0), Some(2))
    );
    let metrics = h
        .router
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = String::from_utf8(
        metrics
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    let unrouted: f64 = text
        .lines()
        .find(|l| l.starts_with("alert_publisher_alerts_unrouted_total"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    assert!(unrouted >= 2.0, "{text}");
}

#[tokio::test]
async fn filters_route_alerts_and_repeats_are_deduplicated() {
    let targets = "- name: critical-only\n  type: webhook\n  url: http://127.0.0.1:9/a\n  filter: {severity: [critical]}\n\
                   - name: sre\n  type: webhook\n  url: http://127.0.0.1:9/b\n  filter: {labels: {service: checkout}}\n\
                   - name: off\n  type: webhook\n  url: http://127.0.0.1:9/c\n  enabled: false\n";
    let h = harness(targets, 1 << 20).await;
    let (_, json) = post(
        &h.router,
        "/webhook",
        fixture_body("am-webhook-firing.json"),
    )
    .await;
    assert_eq!(
        json["jobs"], 2,
        "critical checkout alert goes to both enabled targets: {json}"
    );
    let (_, json) = post(
        &h.router,
        "/webhook",
        fixture_body("am-webhook-group-2-firing.json"),
    )
    .await;
    assert_eq!(
        json["jobs"], 0,
        "warning DiskFull alerts match neither filter: {json}"
    );
    assert_eq!(json["unrouted"], 2);
    let (_, json) = post(
        &h.router,
        "/webhook",
        fixture_body("am-webhook-firing.json"),
    )
    .await;
    assert_eq!(
        (json["jobs"].as_u64(), json["deduplicated"].as_u64()),
        (Some(0), Some(2)),
        "{json}"
    );
    let (_, json) = post(
        &h.router,
        "/webhook",
        fixture_body("am-webhook-resolved.json"),
    )
    .await;
    assert_eq!(json["jobs"], 2, "a resolve is a change: {json}");
    let targets_seen: Vec<_> = h
        .store
        .list(&JobFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.target)
        .collect();
    assert!(!targets_seen.contains(&"off".to_owned()));
}

#[tokio::test]
async fn unknown_paths_and_ids_get_the_error_envelope() {
    let h = harness(ONE_TARGET, 1 << 20).await;
    for (path, status) in [
        ("/nope", StatusCode::NOT_FOUND),
        ("/api/v2/publishing/queue/jobs/abc", StatusCode::BAD_REQUEST),
        ("/api/v2/publishing/queue/jobs/12345", StatusCode::NOT_FOUND),
        (
            "/api/v2/publishing/queue/jobs?state=bogus",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let resp = h
            .router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{path}");
        assert!(resp.headers().contains_key("x-request-id"));
        let json: serde_json::Value =
            serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert!(json["error"]["message"].is_string(), "{path}: {json}");
    }
}

#[tokio::test]
async fn a_store_that_cannot_take_the_jobs_gets_503_and_the_sender_retries() {
    use sqlx::{Connection, Executor};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let options = StoreOptions {
        busy_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let store = Arc::new(SqlStore::open_sqlite(&path, options).await.unwrap());
    let specs = targets::parse_document(ONE_TARGET, false, "targets.yaml").unwrap();
    let registry =
        Arc::new(Registry::build_with(specs, queue::TargetPolicy::default(), loopback()).unwrap());
    let engine = queue::Engine::new(
        store.clone(),
        registry.clone(),
        queue::EngineConfig::default(),
    );
    let router = app(AppState::new(
        Arc::new(service::Service::new(
            store.clone(),
            registry,
            engine.handle(),
        )),
        1 << 20,
    ));
    // Another process holds the write lock (a backup tool, a stuck migration, ...).
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    other.execute("BEGIN EXCLUSIVE").await.unwrap();
    let req = Request::post("/webhook")
        .body(Body::from(fixture_body("am-webhook-firing.json")))
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers().get("retry-after").unwrap(), "5");
    let json: serde_json::Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(json["error"]["code"], "store_unavailable");
    other.execute("ROLLBACK").await.unwrap();
    assert_eq!(job_count(&store).await, 0, "nothing half-stored");
    // Alertmanager retries the same notification: now it is taken.
    let (status, json) = post(&router, "/webhook", fixture_body("am-webhook-firing.json")).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(job_count(&store).await, 1);
}
