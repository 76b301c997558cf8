//! API keys and roles: every route against every kind of caller, the access table against the
//! routes the code registers, keys-file reload, ingest credentials with a real Alertmanager,
//! the redacted configuration, compression and CORS.

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use http_body_util::BodyExt;
use queue::{SqlStore, StoreOptions};
use serde_json::{Value, json};
use server::{
    AppState, Config, Registry,
    auth::{ACCESS, Access, Role},
    guard::Guard,
};
use testkit::{Alertmanager, AlertmanagerConfig, WebhookSink};
use tower::ServiceExt;

use crate::support::{Service, binary, fixture_body, write_targets};

const VIEWER: &str = "viewer-token-0123456789";
const OPERATOR: &str = "operator-token-0123456789";
const ADMIN: &str = "admin-token-0123456789";
const WRONG: &str = "wrong-token-0123456789";

const KEYS_YAML: &str = "auth:\n  keys:\n    - {name: grafana, role: viewer, token: \"viewer-token-0123456789\"}\n    - {name: ci, role: operator, token: \"operator-token-0123456789\"}\n    - {name: root, role: admin, token: \"admin-token-0123456789\"}\n";

async fn keyed_router(config: &Config) -> (tempfile::TempDir, Router) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqlStore::open_sqlite(&dir.path().join("s.db"), StoreOptions::default())
            .await
            .unwrap(),
    );
    let specs = targets::parse_document(
        "- name: t1\n  type: webhook\n  url: http://127.0.0.1:9/hook\n",
        false,
        "targets.yaml",
    )
    .unwrap();
    let registry = Arc::new(
        Registry::build_with(
            specs,
            queue::TargetPolicy::default(),
            crate::support::loopback(),
        )
        .unwrap(),
    );
    let engine = queue::Engine::new(
        store.clone(),
        registry.clone(),
        queue::EngineConfig::default(),
    );
    let state = AppState::new(
        Arc::new(service::Service::new(store, registry, engine.handle())),
        1 << 20,
    );
    let guard = Arc::new(Guard::new(config).unwrap());
    (dir, server::app_with_guard(state, guard))
}

fn keyed_config(extra: &str) -> Config {
    Config::from_yaml(
        &format!("{KEYS_YAML}rate_limit:\n  api: {{enabled: false}}\n  ingest: {{enabled: false}}\n{extra}"),
        "test.yaml",
    )
    .unwrap()
}

async fn call(
    router: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = router
        .clone()
        .oneshot(req.body(Body::from("{}")).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

fn concrete(route: &str) -> String {
    route
        .replace("{id}", "1")
        .replace("{name}", "t1")
        .replace("{target}", "t1")
}

fn assert_envelope(body: &[u8], code: &str, what: &str) {
    let v: Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("{what}: not JSON: {}", String::from_utf8_lossy(body)));
    assert_eq!(v["error"]["code"], code, "{what}: {v}");
    assert!(v["error"]["message"].is_string(), "{what}: {v}");
    assert!(v["error"]["request_id"].is_string(), "{what}: {v}");
}

#[tokio::test]
async fn every_route_against_every_caller() {
    let (_dir, router) = keyed_router(&keyed_config("")).await;
    let callers: [(&str, Option<&str>, Option<Role>); 5] = [
        ("no token", None, None),
        ("wrong token", Some(WRONG), None),
        ("viewer", Some(VIEWER), Some(Role::Viewer)),
        ("operator", Some(OPERATOR), Some(Role::Operator)),
        ("admin", Some(ADMIN), Some(Role::Admin)),
    ];
    for (method, route, access) in ACCESS {
        let path = concrete(route);
        for (who, token, role) in &callers {
            let auth = token.map(|t| format!("Bearer {t}"));
            let headers: Vec<(&str, &str)> = auth
                .as_deref()
                .map(|a| vec![("authorization", a), ("content-type", "application/json")])
                .unwrap_or_default();
            let (status, resp_headers, body) = call(&router, method, &path, &headers).await;
            let what = format!("{method} {path} as {who}: {status}");
            match (access, role) {
                (Access::Public | Access::Ingest, _) => assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{what}"
                ),
                (Access::Role(_), None) => {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
                    assert_eq!(resp_headers["www-authenticate"], "Bearer", "{what}");
                    assert_envelope(&body, "unauthorized", &what);
                }
                (Access::Role(needed), Some(role)) if role < needed => {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
                    assert_envelope(&body, "forbidden", &what);
                }
                (Access::Role(_), Some(_)) => assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{what}"
                ),
            }
        }
    }
    // A path no route matches needs a key too, and then is a plain 404.
    let (status, ..) = call(&router, "GET", "/api/v2/nothing", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let bearer = format!("Bearer {VIEWER}");
    let (status, ..) = call(
        &router,
        "GET",
        "/api/v2/nothing",
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A method the table does not list for a route needs admin.
    let bearer = format!("Bearer {OPERATOR}");
    let (status, ..) = call(
        &router,
        "GET",
        "/api/v2/publishing/queue/submit",
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// Every `.route("path", method(...))` in the server's source, as (METHOD, path).
fn registered_routes() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (start, _) in text.match_indices(".route(") {
                    let rest = &text[start + ".route(".len()..];
                    let mut depth = 1;
                    let end = rest
                        .char_indices()
                        .find(|(_, c)| {
                            match c {
                                '(' => depth += 1,
                                ')' => depth -= 1,
                                _ => {}
                            }
                            depth == 0
                        })
                        .map(|(i, _)| i)
                        .unwrap();
                    let call = &rest[..end];
                    let Some(path_start) = call.find('"') else {
                        continue;
                    };
                    let route = &call[path_start + 1..];
                    let route = &route[..route.find('"').unwrap()];
                    let mut found = false;
                    for method in ["get", "post", "put", "delete", "patch"] {
                        for (i, _) in call.match_indices(&format!("{method}(")) {
                            let before = call[..i].chars().next_back();
                            if before.is_none_or(|c| !c.is_alphanumeric() && c != '_') {
                                out.push((method.to_uppercase(), route.to_owned()));
                                found = true;
                            }
                        }
                    }
                    assert!(found, "cannot read the methods of route {route}: {call}");
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out
}

#[test]
fn the_access_table_lists_every_registered_route() {
    let routes = registered_routes();
    assert!(routes.len() > 25, "found only {routes:?}");
    let missing: Vec<_> = routes
        .iter()
        .filter(|(m, r)| !ACCESS.iter().any(|(am, ar, _)| am == m && ar == r))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without an entry in server::auth::ACCESS (they need admin until listed): {missing:?}"
    );
}

/// The policy as docs/api.md states it, written out independently of the table so that a
/// change to the table (say, purge made available to operators) has to change this too.
#[test]
fn the_access_table_is_the_documented_policy() {
    let documented = "\
        GET /healthz public
        GET /readyz public
        GET /api/v2/openapi.json public
        POST /webhook ingest
        POST /api/v2/alerts ingest
        GET /metrics viewer
        GET /api/v2/config admin
        GET /api/v2/publishing/queue/stats viewer
        GET /api/v2/publishing/queue/jobs viewer
        GET /api/v2/publishing/queue/jobs/{id} viewer
        POST /api/v2/publishing/queue/submit operator
        GET /api/v2/publishing/dlq viewer
        POST /api/v2/publishing/dlq/replay operator
        DELETE /api/v2/publishing/dlq/purge admin
        GET /api/v2/publishing/dlq/{id} viewer
        POST /api/v2/publishing/dlq/{id}/replay operator
        GET /api/v2/publishing/alerts viewer
        GET /api/v2/publishing/alerts/{fingerprint} viewer
        POST /api/v2/publishing/alerts/{fingerprint}/acknowledge operator
        POST /api/v2/publishing/parallel operator
        POST /api/v2/publishing/parallel/targets operator
        GET /api/v2/publishing/parallel/status viewer
        POST /api/v2/publishing/parallel/all operator
        POST /api/v2/publishing/parallel/healthy operator
        GET /api/v2/publishing/targets viewer
        GET /api/v2/publishing/targets/status viewer
        POST /api/v2/publishing/targets/refresh operator
        GET /api/v2/publishing/targets/health viewer
        GET /api/v2/publishing/targets/health/{name} viewer
        GET /api/v2/publishing/targets/{name} viewer
        POST /api/v2/publishing/targets/{name}/check operator
        POST /api/v2/publishing/targets/{name}/test operator
        GET /api/v2/publishing/metrics viewer
        GET /api/v2/publishing/stats viewer
        GET /api/v2/publishing/stats/{target} viewer
        GET /api/v2/publishing/health viewer
        GET /api/v2/publishing/trends viewer
        POST /api/v2/publishing/templates/render viewer
        GET /api/v2/publishing/session viewer
        GET /ui public
        GET /ui/ public
        GET /ui/{asset} public";
    let mut documented: Vec<String> = documented.lines().map(|l| l.trim().to_owned()).collect();
    let mut table: Vec<String> = ACCESS
        .iter()
        .map(|(m, r, a)| {
            let a = match a {
                Access::Public => "public".to_owned(),
                Access::Ingest => "ingest".to_owned(),
                Access::Role(role) => role.to_string(),
            };
            format!("{m} {r} {a}")
        })
        .collect();
    documented.sort();
    table.sort();
    assert_eq!(table, documented);
}

#[tokio::test]
async fn config_endpoint_redacts_every_secret() {
    let config = Config::from_yaml(
        &format!(
            "{KEYS_YAML}  ingest:\n    bearer_token: \"ingest-bearer-secret\"\n    basic: {{username: am, password: \"basic-password-secret\"}}\nstore: postgres://ap:db-password-42@db.example:5432/ap\nhttp:\n  cors:\n    allowed_origins: [\"https://grafana.example\"]\n"
        ),
        "test.yaml",
    )
    .unwrap();
    let (_dir, router) = keyed_router(&config).await;
    let bearer = format!("Bearer {ADMIN}");
    let (status, _, body) = call(
        &router,
        "GET",
        "/api/v2/config",
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    for secret in [
        VIEWER,
        OPERATOR,
        ADMIN,
        "ingest-bearer-secret",
        "basic-password-secret",
        "db-password-42",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["auth"]["keys"][0]["name"], "grafana");
    assert_eq!(v["auth"]["keys"][0]["token"], "<redacted>");
    assert_eq!(v["auth"]["ingest"]["basic"]["username"], "am");
    assert_eq!(v["rate_limit"]["api"]["per_minute"], 100);
    assert_eq!(
        v["http"]["cors"]["allowed_origins"][0],
        "https://grafana.example"
    );
    assert!(v["store"].as_str().unwrap().contains("db.example"), "{v}");
    // Operators may not read it.
    let bearer = format!("Bearer {OPERATOR}");
    let (status, ..) = call(
        &router,
        "GET",
        "/api/v2/config",
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn large_json_is_gzipped_and_cors_is_off_by_default() {
    let (_dir, router) = keyed_router(&keyed_config("")).await;
    let bearer = format!("Bearer {ADMIN}");
    let (status, headers, body) = call(
        &router,
        "GET",
        "/api/v2/config",
        &[
            ("authorization", &bearer),
            ("accept-encoding", "gzip"),
            ("origin", "https://evil.example"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-encoding"], "gzip");
    let mut json = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut json).unwrap();
    let v: Value = serde_json::from_slice(&json).unwrap();
    assert!(v["auth"]["keys"].is_array(), "{v}");
    assert!(json.len() > body.len(), "{} -> {}", json.len(), body.len());
    assert!(
        headers
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-")),
        "{headers:?}"
    );
    // A preflight gets no CORS answer either.
    let (_, headers, _) = call(
        &router,
        "OPTIONS",
        "/api/v2/publishing/targets",
        &[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "GET"),
        ],
    )
    .await;
    assert!(
        headers
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-")),
        "{headers:?}"
    );
    // Without Accept-Encoding the body is plain.
    let (_, headers, body) = call(
        &router,
        "GET",
        "/api/v2/config",
        &[("authorization", &bearer)],
    )
    .await;
    assert!(headers.get("content-encoding").is_none());
    serde_json::from_slice::<Value>(&body).unwrap();

    // With an allowed origin, that origin (only) gets CORS headers, and a preflight needs no key.
    let (_dir, router) = keyed_router(&keyed_config(
        "http:\n  cors:\n    allowed_origins: [\"https://grafana.example\"]\n",
    ))
    .await;
    let (status, headers, _) = call(
        &router,
        "OPTIONS",
        "/api/v2/publishing/targets",
        &[
            ("origin", "https://grafana.example"),
            ("access-control-request-method", "GET"),
        ],
    )
    .await;
    assert!(status.is_success(), "{status}");
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://grafana.example"
    );
    let (_, headers, _) = call(
        &router,
        "GET",
        "/api/v2/publishing/targets",
        &[
            ("authorization", &bearer),
            ("origin", "https://evil.example"),
        ],
    )
    .await;
    assert!(
        headers.get("access-control-allow-origin").is_none(),
        "{headers:?}"
    );
}

async fn status_with(service: &Service, path: &str, token: &str) -> u16 {
    service.get_as(path, token).await.status().as_u16()
}

async fn wait_status(service: &Service, token: &str, want: u16, timeout: Duration) {
    let started = Instant::now();
    loop {
        let got = status_with(service, "/api/v2/publishing/targets", token).await;
        if got == want {
            return;
        }
        assert!(
            started.elapsed() < timeout,
            "still {got} (want {want}) after {timeout:?}\n{}",
            service.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn key_line(name: &str, role: &str, token: &str) -> String {
    format!("- name: {name}\n  role: {role}\n  token: \"{token}\"\n")
}

#[tokio::test]
async fn keys_file_changes_apply_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.yaml");
    let first = "first-key-0123456789abcdef";
    let second = "second-key-0123456789abcdef";
    std::fs::write(&keys, key_line("first", "viewer", first)).unwrap();
    let service = Service::start(
        dir.path(),
        &format!(
            "auth:\n  keys_file: {}\n  reload_interval: 200ms\n",
            keys.display()
        ),
    )
    .await;
    assert_eq!(
        status_with(&service, "/api/v2/publishing/targets", first).await,
        200
    );
    assert_eq!(
        status_with(&service, "/api/v2/publishing/targets", second).await,
        401
    );

    // Added: works within seconds.
    std::fs::write(
        &keys,
        key_line("first", "viewer", first) + &key_line("second", "operator", second),
    )
    .unwrap();
    wait_status(&service, second, 200, Duration::from_secs(5)).await;

    // Broken: the last good keys stay, and the log names the file and the field.
    std::fs::write(
        &keys,
        key_line("first", "viewer", first) + "- name: second\n  role: superuser\n  token: \"x\"\n",
    )
    .unwrap();
    let started = Instant::now();
    while !service.log().contains("cannot reload api keys") {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{}",
            service.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = service.log();
    let line = log
        .lines()
        .find(|l| l.contains("cannot reload api keys"))
        .unwrap();
    assert!(
        line.contains("keys.yaml") && line.contains("[1].role"),
        "{line}"
    );
    assert_eq!(
        status_with(&service, "/api/v2/publishing/targets", first).await,
        200
    );
    assert_eq!(
        status_with(&service, "/api/v2/publishing/targets", second).await,
        200
    );

    // Removed: refused within seconds.
    std::fs::write(&keys, key_line("first", "viewer", first)).unwrap();
    wait_status(&service, second, 401, Duration::from_secs(5)).await;
    assert_eq!(
        status_with(&service, "/api/v2/publishing/targets", first).await,
        200
    );

    let log = service.log();
    for token in [first, second] {
        assert!(!log.contains(token), "a token was logged:\n{log}");
    }
}

#[tokio::test]
async fn sighup_reloads_the_keys_file_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.yaml");
    let token = "hup-key-0123456789abcdef";
    std::fs::write(&keys, "").unwrap();
    // Polling is slowed down to an hour: only the signal can make the new key work in time.
    let service = Service::start(
        dir.path(),
        &format!(
            "auth:\n  keys_file: {}\n  reload_interval: 1h\n",
            keys.display()
        ),
    )
    .await;
    assert_eq!(
        status_with(&service, "/api/v2/publishing/targets", token).await,
        401
    );
    std::fs::write(&keys, key_line("hup", "viewer", token)).unwrap();
    let pid = service.pid().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    wait_status(&service, token, 200, Duration::from_secs(5)).await;
    assert!(!service.log().contains(token));
}

#[tokio::test]
async fn command_line_client_sends_its_token() {
    let dir = tempfile::tempdir().unwrap();
    write_targets(
        dir.path(),
        "- name: cli-hook\n  type: webhook\n  url: http://127.0.0.1:9/h\n",
    );
    let service = Service::start(dir.path(), KEYS_YAML).await;
    let run = |token: Option<&str>, args: &[&str]| {
        let mut cmd = std::process::Command::new(binary());
        cmd.args(args)
            .arg("--url")
            .arg(service.url(""))
            .env_remove("ALERT_PUBLISHER_TOKEN");
        if let Some(t) = token {
            cmd.env("ALERT_PUBLISHER_TOKEN", t);
        }
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = run(Some(VIEWER), &["targets", "list"]);
    assert!(ok && out.contains("cli-hook"), "{out}{err}");
    let (ok, _, err) = run(None, &["targets", "list"]);
    assert!(!ok && err.contains("401"), "{err}");
    let (ok, _, err) = run(Some(VIEWER), &["dlq", "replay", "--target", "cli-hook"]);
    assert!(!ok && err.contains("403"), "{err}");
    let (ok, out, err) = run(Some(OPERATOR), &["dlq", "list"]);
    assert!(ok, "{out}{err}");
    let log = service.log();
    for token in [VIEWER, OPERATOR] {
        assert!(!log.contains(token), "a token was logged:\n{log}");
    }
}

async fn ingest_with_alertmanager(
    auth_yaml: &str,
    am_config: impl FnOnce(&mut AlertmanagerConfig),
) {
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await;
    write_targets(
        dir.path(),
        &format!("- name: hook\n  type: webhook\n  url: {}\n", sink.url("/h")),
    );
    let service = Service::start(dir.path(), auth_yaml).await;

    // Without credentials: 401 with a challenge and the error envelope; nothing stored.
    let resp = reqwest::Client::new()
        .post(service.url("/webhook"))
        .header("content-type", "application/json")
        .body(fixture_body("am-webhook-firing.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unauthorized");
    let resp = reqwest::Client::new()
        .post(service.url("/api/v2/alerts"))
        .bearer_auth("not-the-ingest-token")
        .json(&json!([{"labels": {"alertname": "X"}}]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);

    // Alertmanager with the credentials in its http_config gets through to the target.
    let mut config = AlertmanagerConfig::new(service.url("/webhook"));
    config.group_wait = Duration::ZERO;
    am_config(&mut config);
    let am = Alertmanager::start(config).await;
    am.post_alerts(json!([{"labels": {"alertname": "IngestAuth", "severity": "critical"}}]))
        .await;
    let delivered = sink.wait_for_delivered(1, Duration::from_secs(20)).await;
    assert!(
        delivered[0].text().contains("IngestAuth"),
        "{}",
        delivered[0].text()
    );
    let log = service.log();
    for secret in ["am-bearer-0123456789", "am-basic-password"] {
        assert!(!log.contains(secret), "a credential was logged:\n{log}");
    }
}

#[tokio::test]
async fn alertmanager_bearer_credentials_open_ingest() {
    ingest_with_alertmanager(
        "auth:\n  ingest:\n    bearer_token: \"am-bearer-0123456789\"\n",
        |c| c.bearer_token = Some("am-bearer-0123456789".to_owned()),
    )
    .await;
}

#[tokio::test]
async fn alertmanager_basic_credentials_open_ingest() {
    ingest_with_alertmanager(
        "auth:\n  ingest:\n    basic: {username: alertmanager, password: \"am-basic-password\"}\n",
        |c| c.basic_auth = Some(("alertmanager".to_owned(), "am-basic-password".to_owned())),
    )
    .await;
}

#[test]
fn bad_keys_fail_check_config_naming_file_and_field_never_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.yaml");
    let check = |keys_yaml: &str, want: &str| {
        std::fs::write(&keys, keys_yaml).unwrap();
        let out = std::process::Command::new(binary())
            .arg("check-config")
            .env("ALERT_PUBLISHER_API_KEYS_FILE", &keys)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("keys.yaml") && stderr.contains(want),
            "{stderr}"
        );
        assert!(!stderr.contains("tiny-secret"), "{stderr}");
        assert!(!stderr.contains("9876543210"), "{stderr}");
    };
    check(
        &key_line("a", "root", "long-enough-secret-0123"),
        "`[0].role`",
    );
    check(&key_line("a", "admin", "tiny-secret"), "`[0].token`");
    check(
        "- name: a\n  role: admin\n  token: 98765432109876543210\n",
        "`[0].token`",
    );
    check(
        &(key_line("a", "admin", "long-enough-secret-0123")
            + &key_line("a", "viewer", "long-enough-secret-4567")),
        "two keys are named",
    );
}
