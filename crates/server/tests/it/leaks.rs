//! No secret leaves the service. Every kind of target carries distinct marker secrets in every
//! secret-bearing field (webhook bearer token, basic password, API-key header, HMAC signing
//! secret, extra header values, credentials in the URL's userinfo and query; PagerDuty routing
//! keys in `options` and in `headers`; Slack incoming-webhook URLs and bot tokens; Rootly API
//! keys in `options` and in an `Authorization` header). The targets succeed, retry and fail —
//! with answers that echo the secrets back, the way a hostile or careless endpoint does — and
//! the operator endpoints are exercised (test, check, refresh, submit, parallel, replay, purge).
//! Then the debug-level log, every read endpoint, `/metrics`, the command line's output and the
//! raw bytes of the SQLite store (with its `-wal` and `-shm`) are searched for every marker.

use std::{process::Command, time::Duration};

use base64::Engine as _;
use chrono::{SecondsFormat, Utc};
use serde_json::json;
use testkit::{
    Behaviour, PagerDutySim, PdFault, RootlySim, RootlySimConfig, SlackEndpoint, SlackSim,
    WebhookSink,
};

use crate::support::{Service, binary, metrics, write_targets};

const WAIT: Duration = Duration::from_secs(60);

// Webhook targets.
const BEARER: &str = "LEAKbearerTOKEN1a2b";
const BASIC_PASSWORD: &str = "LEAKbasicPASSWORD3c4d";
const API_KEY: &str = "LEAKapiKEYvalue5e6f";
const SIGNING: &str = "LEAKsigningSECRET7a8b";
const HEADER_VALUE: &str = "LEAKheaderVALUE9c0d";
const URL_PASSWORD: &str = "LEAKurlPASSWORD1e2f";
const URL_QUERY: &str = "LEAKurlQUERY3a4b";
const PROXY_PASSWORD: &str = "LEAKproxyPASSWORD5c6d";
// PagerDuty: routing keys are 32 characters.
const PD_KEY: &str = "LEAKpdROUTINGkeyOPTIONS000000001";
const PD_HEADER_KEY: &str = "LEAKpdROUTINGkeyHEADER0000000002";
// Slack.
const SLACK_TOKEN: &str = "xoxb-LEAKslackTOKEN5c6d";
const SLACK_WRONG_TOKEN: &str = "xoxb-LEAKslackWRONG7e8f";
const SLACK_ECHO_TOKEN: &str = "xoxb-LEAKslackECHO9a0b";
const SLACK_HOOK: &str = "LEAKslackHOOKpath1c2d";
const SLACK_GONE_HOOK: &str = "LEAKslackGONEpath3e4f";
const SLACK_ECHO_HOOK: &str = "LEAKslackECHOhook5b6c";
// Rootly.
const ROOTLY_KEY: &str = "LEAKrootlyKEYgood5a6b";
const ROOTLY_HEADER_KEY: &str = "LEAKrootlyKEYheader7c8d";
const ROOTLY_WRONG_KEY: &str = "LEAKrootlyKEYwrong9e0f";
const ROOTLY_ECHO_KEY: &str = "LEAKrootlyKEYecho1a2b";

/// Every marker, plus the encodings a secret travels in (basic auth is base64).
fn markers() -> Vec<String> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut all: Vec<String> = [
        BEARER,
        BASIC_PASSWORD,
        API_KEY,
        SIGNING,
        HEADER_VALUE,
        URL_PASSWORD,
        URL_QUERY,
        PROXY_PASSWORD,
        PD_KEY,
        PD_HEADER_KEY,
        SLACK_TOKEN,
        SLACK_WRONG_TOKEN,
        SLACK_ECHO_TOKEN,
        SLACK_HOOK,
        SLACK_GONE_HOOK,
        SLACK_ECHO_HOOK,
        ROOTLY_KEY,
        ROOTLY_HEADER_KEY,
        ROOTLY_WRONG_KEY,
        ROOTLY_ECHO_KEY,
    ]
    .map(str::to_owned)
    .to_vec();
    all.push(b64(&format!("leaker:{BASIC_PASSWORD}")));
    all.push(b64(&format!("urluser:{URL_PASSWORD}")));
    all.push(b64(&format!("proxyuser:{PROXY_PASSWORD}")));
    all
}

fn echo(status: u16, body: String) -> Behaviour {
    Behaviour::Respond {
        status,
        headers: vec![("content-type".into(), "text/plain".into())],
        body,
    }
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn notification(status: &str) -> Vec<u8> {
    let ends = if status == "resolved" {
        now()
    } else {
        "0001-01-01T00:00:00Z".to_owned()
    };
    serde_json::to_vec(&json!({
        "version": "4", "status": status, "receiver": "everyone",
        "groupKey": "{}:{alertname=\"SecretsEverywhere\"}",
        "groupLabels": {"alertname": "SecretsEverywhere"},
        "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093", "truncatedAlerts": 0,
        "alerts": [{
            "status": status,
            "labels": {"alertname": "SecretsEverywhere", "severity": "critical"},
            "annotations": {"summary": "a secret-laden target set"},
            "startsAt": "2026-11-23T18:00:00Z", "endsAt": ends,
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
        }]
    }))
    .unwrap()
}

/// Waits until no job is pending or in flight.
async fn settle(service: &Service) {
    service
        .wait_json("/api/v2/publishing/queue/stats", WAIT, |v| {
            v["pending"] == 0 && v["in_flight"] == 0
        })
        .await;
}

/// Status and body of any request.
async fn call(req: reqwest::RequestBuilder) -> (u16, String) {
    let resp = req.send().await.expect("request to alert-publisher");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

#[tokio::test]
async fn no_secret_of_any_target_leaves_the_service() {
    let dir = tempfile::tempdir().unwrap();

    // Webhook endpoints, one each, scripted to fail first with answers echoing the secrets.
    let bearer = WebhookSink::start().await;
    bearer.script([echo(503, format!("token Bearer {BEARER} is being rotated"))]);
    let basic = WebhookSink::start().await;
    basic.script([echo(
        401,
        format!("user leaker with password {BASIC_PASSWORD} is not allowed"),
    )]);
    let api_key = WebhookSink::start().await;
    api_key.script([echo(400, format!(r#"{{"error":"key {API_KEY} unknown"}}"#))]);
    let signed = WebhookSink::start().await;
    signed.script([echo(
        500,
        format!("signature with {SIGNING} for header {HEADER_VALUE} failed"),
    )]);
    let url_creds = WebhookSink::start().await;
    url_creds.script([
        Behaviour::Drop,
        echo(
            502,
            format!("POST /hook?token={URL_QUERY} as urluser:{URL_PASSWORD}"),
        ),
        // The credentials of the URL travel as basic auth; this answer repeats them.
        Behaviour::EchoHeaders(503),
    ]);
    // A proxy that refuses, echoing the request's headers (`Proxy-Authorization` among them).
    let proxy_echo = WebhookSink::start().await;
    proxy_echo.set_default(Behaviour::EchoHeaders(403));
    // A Slack API and a Rootly API that reject everything, saying which credential they saw.
    let slack_echo = WebhookSink::start().await;
    slack_echo.script([echo(500, format!("token {SLACK_ECHO_TOKEN} overloaded"))]);
    slack_echo.set_default(Behaviour::Respond {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: format!(r#"{{"ok":false,"error":"invalid_auth","token":"{SLACK_ECHO_TOKEN}"}}"#),
    });
    let slack_hook_echo = WebhookSink::start().await;
    slack_hook_echo.script([echo(
        503,
        format!("upstream down for /services/T0ECHO/B0ECHO/{SLACK_ECHO_HOOK}"),
    )]);
    slack_hook_echo.set_default(echo(404, format!("no_service: {SLACK_ECHO_HOOK}")));
    let rootly_echo = WebhookSink::start().await;
    rootly_echo.set_default(Behaviour::Respond {
        status: 401,
        headers: vec![("content-type".into(), "application/vnd.api+json".into())],
        body: format!(r#"{{"errors":[{{"title":"Invalid token {ROOTLY_ECHO_KEY}"}}]}}"#),
    });

    // PagerDuty: one simulator per target so each scripted answer reaches the right one.
    let pd_a = PagerDutySim::start().await;
    pd_a.script([PdFault::Respond {
        status: 400,
        headers: Vec::new(),
        body: format!(
            r#"{{"status":"invalid event","message":"Event object is invalid","errors":["routing key {PD_KEY} is disabled"]}}"#
        ),
    }]);
    let pd_b = PagerDutySim::start().await;
    pd_b.script([PdFault::Respond {
        status: 502,
        headers: Vec::new(),
        body: format!("upstream failed for {PD_HEADER_KEY}"),
    }]);

    let slack = SlackSim::start().await;
    slack.add_channel("alerts");
    slack.add_token(SLACK_TOKEN);
    slack.add_webhook_at("alerts", &format!("/services/T0SIM/B0SIM/{SLACK_HOOK}"));
    let proxy = slack.base_url();

    let rootly = RootlySim::start_with(RootlySimConfig {
        api_keys: vec![ROOTLY_KEY.to_owned(), ROOTLY_HEADER_KEY.to_owned()],
        ..Default::default()
    })
    .await;

    let url_with_creds = url_creds
        .url(&format!("/hook?token={URL_QUERY}"))
        .replace("http://", &format!("http://urluser:{URL_PASSWORD}@"));
    let proxy_with_creds = proxy_echo
        .url("")
        .replace("http://", &format!("http://proxyuser:{PROXY_PASSWORD}@"));
    let targets = format!(
        "\
- name: wh-bearer
  type: webhook
  url: {bearer}
  options: {{auth: {{type: bearer, token: {BEARER}}}}}
- name: wh-basic
  type: webhook
  url: {basic}
  options: {{auth: {{type: basic, username: leaker, password: {BASIC_PASSWORD}}}}}
- name: wh-api-key
  type: webhook
  url: {api_key}
  format: webhook
  options: {{auth: {{type: api_key, header: X-API-Key, key: {API_KEY}}}}}
- name: wh-signed
  type: webhook
  url: {signed}
  headers: {{X-Custom-Token: {HEADER_VALUE}}}
  options: {{signing: {{secret: {SIGNING}}}}}
- name: wh-url-creds
  type: webhook
  url: {url_with_creds}
- name: wh-proxy
  type: webhook
  url: http://receiver.example/hook
  options: {{proxy: {proxy_with_creds}}}
- name: pd-options
  type: pagerduty
  url: {pd_a}
  options: {{routing_key: {PD_KEY}}}
- name: pd-header
  type: pagerduty
  url: {pd_b}
  headers: {{routing_key: {PD_HEADER_KEY}}}
- name: slack-token
  type: slack
  url: {slack_api}
  options: {{token: {SLACK_TOKEN}, channel: alerts}}
- name: slack-wrong-token
  type: slack
  url: {slack_api}
  options: {{token: {SLACK_WRONG_TOKEN}, channel: alerts}}
- name: slack-echo
  type: slack
  url: {slack_echo}
  options: {{token: {SLACK_ECHO_TOKEN}, channel: alerts}}
- name: slack-hook
  type: slack
  url: http://hooks.slack.com/services/T0SIM/B0SIM/{SLACK_HOOK}
  options: {{proxy: {proxy}}}
- name: slack-hook-gone
  type: slack
  url: http://hooks.slack.com/services/T0SIM/B0SIM/{SLACK_GONE_HOOK}
  options: {{proxy: {proxy}}}
- name: slack-hook-echo
  type: slack
  url: {slack_hook_echo}
- name: rootly-options
  type: rootly
  url: {rootly_url}
  options: {{api_key: {ROOTLY_KEY}}}
- name: rootly-header
  type: rootly
  url: {rootly_url}/v1
  headers: {{Authorization: Bearer {ROOTLY_HEADER_KEY}}}
- name: rootly-wrong-key
  type: rootly
  url: {rootly_url}
  options: {{api_key: {ROOTLY_WRONG_KEY}}}
- name: rootly-echo
  type: rootly
  url: {rootly_echo}
  options: {{api_key: {ROOTLY_ECHO_KEY}}}
",
        bearer = bearer.url("/hook"),
        basic = basic.url("/hook"),
        api_key = api_key.url("/hook"),
        signed = signed.url("/hook"),
        pd_a = pd_a.url(),
        pd_b = pd_b.url(),
        slack_api = slack.api_url(),
        slack_echo = slack_echo.url(""),
        slack_hook_echo =
            slack_hook_echo.url(&format!("/services/T0ECHO/B0ECHO/{SLACK_ECHO_HOOK}")),
        rootly_url = rootly.url(),
        rootly_echo = rootly_echo.url(""),
    );
    let names: Vec<String> = targets
        .lines()
        .filter_map(|l| l.strip_prefix("- name: "))
        .map(str::to_owned)
        .collect();
    write_targets(dir.path(), &targets);
    let service = Service::start(dir.path(), "log:\n  level: debug\n").await;
    let client = reqwest::Client::new();
    // Bodies of the operator endpoints called below.
    let mut exposed: Vec<(String, String)> = Vec::new();

    // Firing, with retries and dead letters, then resolved.
    let (status, body) = service.post("/webhook", notification("firing")).await;
    assert_eq!(status, 200, "{body}");
    exposed.push(("POST /webhook (firing)".into(), body));
    settle(&service).await;
    let (status, body) = service.post("/webhook", notification("resolved")).await;
    assert_eq!(status, 200, "{body}");
    exposed.push(("POST /webhook (resolved)".into(), body));
    settle(&service).await;

    // The failure paths were taken, so the scan below is not vacuous.
    let dlq = service.get_json("/api/v2/publishing/dlq?limit=1000").await;
    let dead: Vec<&str> = dlq["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|j| j["target"].as_str())
        .collect();
    for name in [
        "wh-basic",
        "wh-api-key",
        "wh-proxy",
        "pd-options",
        "slack-wrong-token",
        "slack-echo",
        "slack-hook-gone",
        "slack-hook-echo",
        "rootly-wrong-key",
        "rootly-echo",
    ] {
        assert!(dead.contains(&name), "{name} has no dead letter: {dlq}");
    }
    let pd_dead = dlq["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["target"] == "pd-options")
        .unwrap();
    assert_eq!(
        pd_dead["last_error"],
        "HTTP 400: PagerDuty: Event object is invalid: routing key <redacted> is disabled"
    );
    let reasons = dlq.to_string();
    for reason in ["invalid_auth", "no_service", "Invalid token"] {
        assert!(reasons.contains(reason), "{reason}: {reasons}");
    }
    let jobs = service
        .get_json("/api/v2/publishing/queue/jobs?limit=1000")
        .await;
    let retried: Vec<&str> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["attempts"].as_i64().unwrap_or(0) > 1 && j["state"] == "done")
        .filter_map(|j| j["target"].as_str())
        .collect();
    for name in ["wh-bearer", "wh-signed", "wh-url-creds", "pd-header"] {
        assert!(retried.contains(&name), "{name} was not retried: {jobs}");
    }

    // Operator endpoints: test and check every target, refresh, submit, parallel, replay,
    // purge.
    for name in &names {
        for op in ["test", "check"] {
            let (status, body) = call(
                client
                    .post(service.url(&format!("/api/v2/publishing/targets/{name}/{op}")))
                    .header("content-type", "application/json")
                    .body("{}"),
            )
            .await;
            assert!(status < 500 || op == "test", "{op} {name}: {status} {body}");
            exposed.push((format!("POST targets/{name}/{op}"), body));
        }
    }
    let (status, body) = call(client.post(service.url("/api/v2/publishing/targets/refresh"))).await;
    assert_eq!(status, 202, "{body}");
    exposed.push(("POST targets/refresh".into(), body));
    let alert =
        json!({"labels": {"alertname": "Submitted", "severity": "warning"}, "annotations": {}});
    let (status, body) = call(
        client
            .post(service.url("/api/v2/publishing/queue/submit"))
            .json(&json!({"alert": alert, "targets": ["wh-url-creds", "slack-echo"]})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    exposed.push(("POST queue/submit".into(), body));
    let (status, body) = call(
        client
            .post(service.url("/api/v2/publishing/parallel/all"))
            .json(&json!({"alert": alert, "strategy": "publish_to_all"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("rootly-echo"), "{body}");
    exposed.push(("POST parallel/all".into(), body));
    let one = dlq["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["target"] == "rootly-echo") // newest first: the resolve
        .unwrap()["id"]
        .clone();
    let (status, body) =
        call(client.post(service.url(&format!("/api/v2/publishing/dlq/{one}/replay")))).await;
    assert_eq!(status, 200, "{body}");
    exposed.push(("POST dlq/{id}/replay".into(), body));
    for target in ["wh-basic", "wh-api-key"] {
        let (status, body) = call(
            client
                .post(service.url("/api/v2/publishing/dlq/replay"))
                .json(&json!({"target": target})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        exposed.push((format!("POST dlq/replay {target}"), body));
    }
    settle(&service).await;
    let (status, body) = call(
        client.delete(service.url("/api/v2/publishing/dlq/purge?older_than=1h&target=rootly-echo")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    exposed.push(("DELETE dlq/purge".into(), body));

    // Every read endpoint.
    let mut paths: Vec<String> = [
        "/healthz",
        "/readyz",
        "/api/v2/publishing/targets?limit=1000",
        "/api/v2/publishing/targets/status",
        "/api/v2/publishing/targets/health",
        "/api/v2/publishing/queue/stats",
        "/api/v2/publishing/queue/jobs?limit=1000",
        "/api/v2/publishing/dlq?limit=1000",
        "/api/v2/publishing/metrics",
        "/api/v2/publishing/stats",
        "/api/v2/publishing/health",
        "/api/v2/publishing/trends",
    ]
    .map(str::to_owned)
    .to_vec();
    for name in &names {
        paths.push(format!("/api/v2/publishing/targets/{name}"));
        paths.push(format!("/api/v2/publishing/targets/health/{name}"));
        paths.push(format!("/api/v2/publishing/stats/{name}"));
    }
    let jobs = service
        .get_json("/api/v2/publishing/queue/jobs?limit=1000")
        .await;
    for job in jobs["jobs"].as_array().unwrap() {
        paths.push(format!("/api/v2/publishing/queue/jobs/{}", job["id"]));
    }
    let dlq = service.get_json("/api/v2/publishing/dlq?limit=1000").await;
    for job in dlq["jobs"].as_array().unwrap() {
        paths.push(format!("/api/v2/publishing/dlq/{}", job["id"]));
    }
    for path in &paths {
        let (status, body) = call(client.get(service.url(path))).await;
        assert!(
            status == 200 || (status == 503 && path.ends_with("/health")),
            "GET {path}: {status} {body}"
        );
        exposed.push((format!("GET {path}"), body));
    }
    let listed = service
        .get_json("/api/v2/publishing/targets?limit=1000")
        .await
        .to_string();
    assert!(
        listed.contains("http://hooks.slack.com/<redacted>"),
        "{listed}"
    );
    let prometheus = metrics(&service).await;
    assert!(
        prometheus.contains(r#"target="rootly-echo""#),
        "{prometheus}"
    );
    exposed.push(("GET /metrics".into(), prometheus));

    // The command line.
    for args in [&["targets", "list"][..], &["dlq", "list"]] {
        let out = Command::new(binary())
            .args(args)
            .arg("--url")
            .arg(service.url(""))
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        exposed.push((
            format!("alert-publisher {}", args.join(" ")),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ));
    }

    // The store, byte for byte, and the debug log (read last: it holds everything above).
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.path().join(format!("store.db{suffix}"));
        if let Ok(bytes) = std::fs::read(&file) {
            exposed.push((
                file.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
    let log = service.log();
    assert!(log.contains("DEBUG"), "the service logged at debug level");
    exposed.push(("service log".into(), log));

    let markers = markers();
    let mut leaks = Vec::new();
    for (place, text) in &exposed {
        for marker in &markers {
            if let Some(at) = text.find(marker.as_str()) {
                let from = text[..at]
                    .char_indices()
                    .rev()
                    .nth(160)
                    .map_or(0, |(i, _)| i);
                let to = (at + marker.len() + 80).min(text.len());
                let to = (to..=text.len())
                    .find(|&i| text.is_char_boundary(i))
                    .unwrap_or(text.len());
                leaks.push(format!("{marker} in {place}: …{}…", &text[from..to]));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n\n"));

    // The scan looked at real data, and the secrets really were in play: each reached its
    // endpoint.
    let all = exposed
        .iter()
        .map(|(_, t)| t.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for name in &names {
        assert!(all.contains(name.as_str()), "{name} appears nowhere");
    }
    let sent = |sink: &WebhookSink, secret: &str| {
        sink.requests().iter().any(|r| {
            r.path.contains(secret)
                || r.headers.iter().any(|(_, v)| v.contains(secret))
                || r.text().contains(secret)
        })
    };
    assert!(sent(&bearer, BEARER));
    assert!(sent(&api_key, API_KEY));
    assert!(sent(&signed, HEADER_VALUE));
    assert!(signed.requests()[0].header("webhook-signature").is_some());
    assert!(sent(&url_creds, URL_QUERY));
    let url_basic =
        base64::engine::general_purpose::STANDARD.encode(format!("urluser:{URL_PASSWORD}"));
    assert!(
        sent(&url_creds, &url_basic),
        "the URL's credentials were sent"
    );
    let proxy_basic =
        base64::engine::general_purpose::STANDARD.encode(format!("proxyuser:{PROXY_PASSWORD}"));
    assert!(
        sent(&proxy_echo, &proxy_basic),
        "the proxy's credentials were sent"
    );
    assert!(sent(&slack_echo, SLACK_ECHO_TOKEN));
    assert!(sent(&slack_hook_echo, SLACK_ECHO_HOOK));
    assert!(sent(&rootly_echo, ROOTLY_ECHO_KEY));
    let basic_header = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("leaker:{BASIC_PASSWORD}"))
    );
    assert!(sent(&basic, &basic_header));
    let pd_keys: Vec<String> = [&pd_a, &pd_b]
        .iter()
        .flat_map(|s| s.requests())
        .filter_map(|r| r.json())
        .map(|j| j["routing_key"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        pd_keys.iter().any(|k| k == PD_KEY) && pd_keys.iter().any(|k| k == PD_HEADER_KEY),
        "{pd_keys:?}"
    );
    let slack_calls = slack.calls();
    assert!(
        slack_calls
            .iter()
            .any(|c| c.endpoint == SlackEndpoint::Webhook && c.ok()),
        "the incoming webhook delivered"
    );
    let rootly_auth: Vec<String> = rootly
        .requests()
        .iter()
        .filter_map(|r| r.header("authorization").map(str::to_owned))
        .collect();
    for key in [ROOTLY_KEY, ROOTLY_HEADER_KEY, ROOTLY_WRONG_KEY] {
        assert!(
            rootly_auth.contains(&format!("Bearer {key}")),
            "{rootly_auth:?}"
        );
    }
}
