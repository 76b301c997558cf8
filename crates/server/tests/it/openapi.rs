//! The OpenAPI document: served without credentials, identical to `docs/openapi.json`, and
//! the answers of a running service are among the documented ones.

use crate::support::Service;

fn committed() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test]
async fn the_served_document_is_the_committed_one_and_documents_real_answers() {
    let dir = tempfile::tempdir().unwrap();
    let svc = Service::start(dir.path(), "").await;
    let http = reqwest::Client::new();

    let resp = http
        .get(svc.url("/api/v2/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let served: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(served["openapi"], "3.1.0");
    assert!(
        served == committed(),
        "the served document differs from docs/openapi.json: run `cargo xtask openapi`"
    );

    // A few answers of the running service, each a status its operation documents.
    for (method, path, concrete, status) in [
        (
            "get",
            "/api/v2/publishing/queue/jobs/{id}",
            "/api/v2/publishing/queue/jobs/abc",
            400,
        ),
        (
            "get",
            "/api/v2/publishing/queue/jobs/{id}",
            "/api/v2/publishing/queue/jobs/42",
            404,
        ),
        (
            "get",
            "/api/v2/publishing/targets/{name}",
            "/api/v2/publishing/targets/nope",
            404,
        ),
        // Not UTF-8 once decoded: the envelope, not axum's plain-text rejection.
        (
            "get",
            "/api/v2/publishing/targets/{name}",
            "/api/v2/publishing/targets/%FF",
            400,
        ),
        (
            "get",
            "/api/v2/publishing/queue/jobs/{id}",
            "/api/v2/publishing/queue/jobs/%FF",
            400,
        ),
        (
            "get",
            "/api/v2/publishing/stats/{target}",
            "/api/v2/publishing/stats/nope",
            404,
        ),
        (
            "delete",
            "/api/v2/publishing/dlq/purge",
            "/api/v2/publishing/dlq/purge",
            400,
        ),
        (
            "delete",
            "/api/v2/publishing/dlq/purge",
            "/api/v2/publishing/dlq/purge?older_than=99999999999999999999",
            400,
        ),
        (
            "get",
            "/api/v2/publishing/queue/stats",
            "/api/v2/publishing/queue/stats",
            200,
        ),
    ] {
        let method_ = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let resp = http
            .request(method_, svc.url(concrete))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), status, "{method} {concrete}");
        let body: serde_json::Value = resp.json().await.unwrap();
        let documented = &served["paths"][path][method]["responses"];
        assert!(
            documented.get(status.to_string()).is_some(),
            "{method} {path} answered an undocumented {status}"
        );
        if status >= 400 {
            assert!(body["error"]["code"].is_string(), "{concrete}: {body}");
            assert!(
                body["error"]["request_id"].is_string(),
                "{concrete}: {body}"
            );
        }
    }
}
