//! The simulated Rootly enforces the documented contract, so passing against it means
//! something: these tests speak to it directly.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::{JSONAPI, RootlySim, RootlySimConfig};

async fn post(
    sim: &RootlySim,
    path: &str,
    key: &str,
    body: Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", sim.url()))
        .bearer_auth(key)
        .header("content-type", JSONAPI)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap_or(Value::Null))
}

fn alert_doc(attributes: Value) -> Value {
    json!({"data": {"type": "alerts", "attributes": attributes}})
}

const KEY: &str = RootlySim::DEFAULT_KEY;

#[tokio::test]
async fn rejects_what_rootly_rejects() {
    let sim = RootlySim::start().await;
    let (status, _, body) = post(
        &sim,
        "/v1/alerts",
        KEY,
        alert_doc(json!({"description": "d"})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({"errors": [
            {"title": "Source can't be blank", "status": "422"},
            {"title": "Summary can't be blank", "status": "422"}
        ]})
    );
    let (status, _, body) = post(
        &sim,
        "/v1/alerts",
        KEY,
        alert_doc(json!({"source": "s", "summary": "x", "labels": {"a": "b"}})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, _, body) = post(
        &sim,
        "/v1/alerts",
        "wrong",
        alert_doc(json!({"source": "s", "summary": "x"})),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({"errors": [{"title": "Invalid token", "status": "401"}]})
        )
    );
    let (status, _, _) = post(
        &sim,
        "/v1/alerts",
        KEY,
        json!({"source": "s", "summary": "x"}),
    )
    .await;
    assert_eq!(
        status, 400,
        "flat JSON (what the original sent) is not JSON:API"
    );
    let flat = reqwest::Client::new()
        .post(format!("{}/v1/alerts", sim.url()))
        .bearer_auth(KEY)
        .json(&alert_doc(json!({"source": "s", "summary": "x"})))
        .send()
        .await
        .unwrap();
    assert_eq!(
        flat.status().as_u16(),
        415,
        "application/json is not the JSON:API media type"
    );
    let (status, _, _) = post(&sim, "/v1/alerts/nope/resolve", KEY, json!({})).await;
    assert_eq!(status, 400);
    let (status, _, _) = post(&sim, "/v1/alerts/nope/resolve", KEY, alert_doc(json!({}))).await;
    assert_eq!(status, 404);
    let (status, _, body) = post(
        &sim,
        "/v1/incidents",
        KEY,
        json!({"data": {"type": "incidents", "attributes": {"title": "t", "labels": ["x"], "alert_ids": ["missing"]}}}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(2), "{body}");
    assert!(sim.alerts().is_empty() && sim.incidents().is_empty());
}

#[tokio::test]
async fn keeps_state_and_answers_json_api() {
    let sim = RootlySim::start().await;
    let (status, _, body) = post(
        &sim,
        "/v1/alerts",
        KEY,
        alert_doc(json!({"source": "alertmanager", "summary": "s", "external_id": "ab", "labels": [{"key": "k", "value": "v"}]})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(body["data"]["type"], "alerts");
    assert_eq!(body["data"]["attributes"]["status"], "open");
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    let listed: Value = reqwest::Client::new()
        .get(format!(
            "{}/v1/alerts?filter%5Bexternal_id%5D=ab&filter[source]=alertmanager",
            sim.url()
        ))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["id"], id.as_str());
    let (status, _, body) = post(
        &sim,
        &format!("/v1/alerts/{id}/resolve"),
        KEY,
        alert_doc(json!({"resolution_message": "m"})),
    )
    .await;
    assert_eq!(
        (status, body["data"]["attributes"]["status"].as_str()),
        (200, Some("resolved"))
    );
    assert_eq!(sim.alert(&id).unwrap().status, "resolved");
    assert!(sim.open_alerts().is_empty());
}

#[tokio::test]
async fn limits_writes_with_ratelimit_headers_but_not_reads() {
    let sim = RootlySim::start_with(RootlySimConfig {
        writes_per_window: 2,
        window: Duration::from_secs(1),
        ..Default::default()
    })
    .await;
    let doc = alert_doc(json!({"source": "s", "summary": "x"}));
    let (s1, h1, _) = post(&sim, "/v1/alerts", KEY, doc.clone()).await;
    let (s2, _, _) = post(&sim, "/v1/alerts", KEY, doc.clone()).await;
    let (s3, h3, body) = post(&sim, "/v1/alerts", KEY, doc.clone()).await;
    assert_eq!((s1, s2, s3), (201, 201, 429));
    assert_eq!(h1["ratelimit-limit"], "2");
    assert_eq!(h1["ratelimit-remaining"], "1");
    assert_eq!(h3["ratelimit-remaining"], "0");
    assert_eq!(h3["ratelimit-reset"], "1");
    assert_eq!(body["errors"][0]["title"], "Rate limit exceeded");
    let read = reqwest::Client::new()
        .get(format!("{}/v1/alerts", sim.url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 200, "reads are not limited");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s4, _, _) = post(&sim, "/v1/alerts", KEY, doc).await;
    assert_eq!(s4, 201, "a new window");
    assert_eq!(sim.alerts().len(), 3);
}
