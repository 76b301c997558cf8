//! Targets that change while the service runs: the targets file is edited (change, add,
//! delete) while a stream of 500 alerts is delivered; the targets API, health and test
//! endpoints.

use std::{collections::BTreeSet, time::Duration};

use serde_json::{Value, json};
use testkit::WebhookSink;

use crate::support::{Service, write_targets};

const WAIT: Duration = Duration::from_secs(20);
const FAST: &str = "discovery:\n  file_poll_interval: 50ms\n  probes:\n    interval: 0s\n";

fn target(name: &str, url: &str) -> String {
    format!(
        "- name: {name}\n  type: webhook\n  url: {url}\n  headers: {{Authorization: Bearer hdr-s3cret}}\n"
    )
}

fn seqs(sink: &WebhookSink, path: &str) -> Vec<u32> {
    sink.delivered()
        .iter()
        .filter(|r| r.path == path)
        .flat_map(|r| {
            r.json()["alerts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|a| a["labels"]["seq"].as_str().unwrap().parse::<u32>().unwrap())
        })
        .collect()
}

/// Waits until `GET /targets/{name}` satisfies `f`.
async fn until_target(service: &Service, name: &str, f: impl Fn(u16, &Value) -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let resp = reqwest::get(service.url(&format!("/api/v2/publishing/targets/{name}")))
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or_default();
        if f(status, &body) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "target {name}: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn add_change_delete_during_a_500_alert_stream() {
    let dir = tempfile::tempdir().unwrap();
    let old = WebhookSink::start().await;
    let new = WebhookSink::start().await;
    let a = target("a", &old.url("/a"));
    let b_old = target("b", &old.url("/b"));
    let b_new = target("b", &new.url("/b2"));
    let c = target("c", &new.url("/c"));
    write_targets(dir.path(), &format!("{a}{b_old}"));
    let service = Service::start(dir.path(), FAST).await;

    let (mut b_changed_at, mut c_added_at, mut a_removed_at) = (0, 0, 0);
    for seq in 0..500u32 {
        let body = json!([{"labels": {"alertname": "Stream", "seq": seq.to_string()}}]);
        let (status, text) = service
            .post("/api/v2/alerts", serde_json::to_vec(&body).unwrap())
            .await;
        assert_eq!(status, 200, "{text}");
        match seq {
            100 => {
                write_targets(dir.path(), &format!("{a}{b_new}"));
                until_target(&service, "b", |s, v| {
                    s == 200 && v["url"].as_str().unwrap().ends_with("/b2")
                })
                .await;
                b_changed_at = seq + 1;
            }
            200 => {
                write_targets(dir.path(), &format!("{a}{b_new}{c}"));
                until_target(&service, "c", |s, _| s == 200).await;
                c_added_at = seq + 1;
            }
            350 => {
                write_targets(dir.path(), &format!("{b_new}{c}"));
                until_target(&service, "a", |s, _| s == 404).await;
                a_removed_at = seq + 1;
            }
            _ => {}
        }
    }
    // b: every alert delivered exactly once somewhere, and after the change only to the new URL
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let b: BTreeSet<u32> = seqs(&old, "/b")
            .into_iter()
            .chain(seqs(&new, "/b2"))
            .collect();
        let stats = service.get_json("/api/v2/publishing/queue/stats").await;
        if b.len() == 500 && stats["pending"] == 0 && stats["in_flight"].as_u64().unwrap_or(0) == 0
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "b got {} of 500; stats {stats}",
            b.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let b_old_seqs = seqs(&old, "/b");
    let b_new_seqs = seqs(&new, "/b2");
    assert!(
        b_old_seqs.iter().all(|s| *s < b_changed_at),
        "old b URL used after the change"
    );
    assert!(
        b_new_seqs.iter().all(|s| *s >= 90),
        "new b URL used long before the change"
    );
    assert_eq!(
        b_old_seqs.len() + b_new_seqs.len(),
        500,
        "each alert delivered to b once"
    );

    // c: everything from when it was added
    let c_seqs: BTreeSet<u32> = seqs(&new, "/c").into_iter().collect();
    let expected: BTreeSet<u32> = (c_added_at..500).collect();
    assert!(
        expected.is_subset(&c_seqs),
        "c missed {:?}",
        expected.difference(&c_seqs).collect::<Vec<_>>()
    );
    assert!(c_seqs.iter().all(|s| *s >= 195));

    // a: every alert routed to it before the deletion was delivered, or dead-lettered with a
    // visible reason; none routed after.
    let a_seqs: BTreeSet<u32> = seqs(&old, "/a").into_iter().collect();
    assert!(
        a_seqs.iter().all(|s| *s < a_removed_at),
        "a used after deletion"
    );
    let dlq = service.get_json("/api/v2/publishing/dlq?limit=1000").await;
    let dead = dlq["jobs"].as_array().unwrap();
    for job in dead {
        assert_eq!(
            job["target"], "a",
            "only the deleted target's jobs are dead: {job}"
        );
        assert!(
            job["last_error"].as_str().unwrap().contains("not defined"),
            "{job}"
        );
    }
    assert_eq!(
        a_seqs.len() + dead.len(),
        a_removed_at as usize,
        "every alert for a delivered or dead-lettered"
    );
}

#[tokio::test]
async fn targets_api_health_check_and_test_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await;
    write_targets(
        dir.path(),
        &format!(
            "{}- name: pd\n  type: pagerduty\n  url: {}\n  enabled: false\n  options: {{routing_key: 0123456789abcdef0123456789abcdef}}\n",
            target("hook", &sink.url("/hook")),
            sink.url("")
        ),
    );
    let service = Service::start(dir.path(), FAST).await;
    // list: filters and pagination
    let all = service.get_json("/api/v2/publishing/targets").await;
    assert_eq!(all["total"], 2);
    let webhooks = service
        .get_json("/api/v2/publishing/targets?type=webhook")
        .await;
    assert_eq!(webhooks["total"], 1);
    assert_eq!(webhooks["targets"][0]["name"], "hook");
    let disabled = service
        .get_json("/api/v2/publishing/targets?enabled=false")
        .await;
    assert_eq!(disabled["targets"][0]["name"], "pd");
    let page = service
        .get_json("/api/v2/publishing/targets?limit=1&offset=1")
        .await;
    assert_eq!(page["targets"].as_array().unwrap().len(), 1);
    assert_eq!(page["targets"][0]["name"], "pd");
    let one = service.get_json("/api/v2/publishing/targets/hook").await;
    assert_eq!(one["headers"]["Authorization"], "<redacted>");
    let (status, _) = service
        .post("/api/v2/publishing/targets/nope/check", "")
        .await;
    assert_eq!(status, 404);

    // test delivery: a real delivery through the publisher
    let (status, text) = service
        .post("/api/v2/publishing/targets/hook/test", "")
        .await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["success"], true);
    assert_eq!(v["status_code"], 200);
    assert!(v["latency_ms"].is_u64());
    let got = sink.wait_for_delivered(1, WAIT).await;
    assert_eq!(
        got[0].json()["alerts"][0]["labels"]["alertname"],
        "AlertPublisherTest"
    );
    sink.set_default(testkit::Behaviour::Status(503));
    let (_, text) = service
        .post("/api/v2/publishing/targets/hook/test", "")
        .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["success"], false);
    assert_eq!(v["status_code"], 503);
    assert_eq!(v["error"]["retryable"], true);
    let h = service
        .get_json("/api/v2/publishing/targets/health/hook")
        .await;
    assert_eq!(h["status"], "degraded");
    assert_eq!(h["consecutive_failures"], 1);

    // status and manual refresh, limited to once a minute
    let status = service.get_json("/api/v2/publishing/targets/status").await;
    assert_eq!(status["valid"], 2);
    assert_eq!(status["sources"][0]["source"], "file");
    let (code, _) = service.post("/api/v2/publishing/targets/refresh", "").await;
    assert_eq!(code, 202);
    let resp = reqwest::Client::new()
        .post(service.url("/api/v2/publishing/targets/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));

    // an invalid edit keeps the last good set and is reported
    write_targets(dir.path(), "- name: hook\n  type: email\n");
    service
        .wait_json("/api/v2/publishing/targets/status", WAIT, |v| {
            v["sources"][0]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("field `type`"))
        })
        .await;
    assert_eq!(
        service.get_json("/api/v2/publishing/targets").await["total"],
        2
    );
    for path in [
        "/api/v2/publishing/targets",
        "/api/v2/publishing/targets/hook",
        "/api/v2/publishing/targets/pd",
        "/api/v2/publishing/targets/status",
    ] {
        let text = service.get_json(path).await.to_string();
        assert!(
            !text.contains("hdr-s3cret") && !text.contains("0123456789abcdef0123456789abcdef"),
            "{path}: {text}"
        );
    }
}

/// A minimal Kubernetes API: lists the given Secrets; watches stay open without events.
async fn fake_kubernetes(secrets: Vec<Value>) -> String {
    use axum::{extract::Query, routing::get};
    let app = axum::Router::new().route(
        "/api/v1/namespaces/{ns}/secrets",
        get(
            move |Query(q): Query<std::collections::BTreeMap<String, String>>| {
                let secrets = secrets.clone();
                async move {
                    if q.get("watch").map(String::as_str) == Some("true") {
                        let bookmark = json!({"type": "BOOKMARK", "object": {"kind": "Secret",
                            "apiVersion": "v1", "metadata": {"resourceVersion": "1"}}});
                        let head = futures::stream::once(async move {
                            Ok::<_, std::io::Error>(format!("{bookmark}\n"))
                        });
                        let body = axum::body::Body::from_stream(futures::StreamExt::chain(
                            head,
                            futures::stream::pending(),
                        ));
                        return axum::response::Response::new(body);
                    }
                    axum::response::IntoResponse::into_response(axum::Json(json!({
                        "apiVersion": "v1", "kind": "SecretList",
                        "metadata": {"resourceVersion": "1"}, "items": secrets})))
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn secret(name: &str, data: &[(&str, &str)]) -> Value {
    use base64::Engine as _;
    let data: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| {
            (
                (*k).to_owned(),
                Value::String(base64::engine::general_purpose::STANDARD.encode(v)),
            )
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": "alerting", "resourceVersion": "1",
            "labels": {"publishing-target": "true"}},
        "data": data})
}

#[tokio::test]
async fn kubernetes_secrets_in_every_format_never_leak_through_the_api() {
    use base64::Engine as _;
    const SECRETS: [&str; 6] = [
        "hdr-s3cret-json",
        "0123456789abcdef0123456789abcdef",
        "rootly_k3y_s3cret",
        "tok-s3cret-flat",
        "x-s3cret-header",
        "cfg-s3cret-inner",
    ];
    let sink = WebhookSink::start().await;
    let json_target = json!({"name": "json-hook", "type": "webhook", "url": sink.url("/j?token=cfg-s3cret-inner"),
        "headers": {"Authorization": "Bearer hdr-s3cret-json"}})
    .to_string();
    let pd = json!({"name": "pd", "type": "pagerduty", "url": sink.url(""),
        "options": {"routing_key": SECRETS[1]}})
    .to_string();
    let pd_b64 = base64::engine::general_purpose::STANDARD.encode(pd);
    let api = fake_kubernetes(vec![
        secret("json-hook", &[("target.json", &json_target)]),
        secret("pd", &[("config", &pd_b64)]),
        secret(
            "rootly",
            &[
                ("name", "rootly"),
                ("type", "rootly"),
                ("url", &sink.url("")),
                ("api_key", SECRETS[2]),
            ],
        ),
        secret(
            "flat-hook",
            &[
                ("name", "flat-hook"),
                ("type", "webhook"),
                ("url", &sink.url("/f")),
                ("enabled", "true"),
                ("headers", "X-Secret=x-s3cret-header,X-Team=sre"),
                ("auth_token", SECRETS[3]),
            ],
        ),
        secret(
            "broken",
            &[
                ("name", "broken"),
                ("type", "webhook"),
                ("auth_token", SECRETS[3]),
            ],
        ),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(
        dir.path(),
        &format!(
            "discovery:\n  probes:\n    interval: 0s\n  kubernetes:\n    enabled: true\n    namespaces: [alerting]\n    api_url: {api}\n"
        ),
    )
    .await;
    let list = service
        .wait_json("/api/v2/publishing/targets", WAIT, |v| v["total"] == 4)
        .await;
    let names: BTreeSet<&str> = list["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["flat-hook", "json-hook", "pd", "rootly"])
    );
    assert_eq!(list["invalid"][0]["source"], "alerting/broken");
    assert!(
        list["invalid"][0]["error"]
            .as_str()
            .unwrap()
            .contains("field `url`")
    );
    let status = service.get_json("/api/v2/publishing/targets/status").await;
    assert_eq!(status["sources"][0]["source"], "kubernetes");
    assert_eq!(
        (status["valid"].as_u64(), status["invalid"].as_u64()),
        (Some(4), Some(1))
    );
    // deliveries use the credentials
    let (code, text) = service
        .post("/api/v2/publishing/targets/flat-hook/test", "")
        .await;
    assert_eq!(code, 200, "{text}");
    let got = sink.wait_for_delivered(1, WAIT).await;
    assert_eq!(
        got[0].header("authorization"),
        Some("Bearer tok-s3cret-flat")
    );
    assert_eq!(got[0].header("x-secret"), Some("x-s3cret-header"));
    let mut exposed = vec![list.to_string(), status.to_string(), text];
    for path in [
        "/api/v2/publishing/targets/json-hook",
        "/api/v2/publishing/targets/pd",
        "/api/v2/publishing/targets/rootly",
        "/api/v2/publishing/targets/flat-hook",
        "/api/v2/publishing/targets/health",
        "/api/v2/publishing/targets?type=webhook",
    ] {
        exposed.push(service.get_json(path).await.to_string());
    }
    exposed.push(
        reqwest::get(service.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    exposed.push(service.log());
    for text in &exposed {
        for s in SECRETS {
            assert!(!text.contains(s), "{s} leaked in {text}");
        }
    }
}
