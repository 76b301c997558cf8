//! "Where did my alert go?": the alert history API and CLI against the real binary. An alert
//! sent to three targets (one delivering, one refusing until dead, one filtering it out) is
//! listed and its story told, through the dead letter and its replay; a resolve supersedes a
//! waiting firing; a re-send is deduplicated; pages stay exact while alerts arrive.

use std::{collections::HashSet, time::Duration};

use serde_json::{Value, json};
use testkit::{Behaviour, WebhookSink};

use crate::support::{Service, binary, write_targets};

/// Runs a client command against `service`; (exit code, stdout, stderr).
fn cli(service: &Service, args: &[&str]) -> (Option<i32>, String, String) {
    let url = service.url("");
    let out = std::process::Command::new(binary())
        .args(args)
        .args(["--url", &url])
        .stdin(std::process::Stdio::null())
        .env_remove("ALERT_PUBLISHER_TOKEN")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const WAIT: Duration = Duration::from_secs(15);

/// An Alertmanager notification of alerts `(alertname, severity, team)` in `status`.
fn notification(status: &str, alerts: &[(&str, &str, &str)]) -> Vec<u8> {
    let ends_at = if status == "resolved" {
        "2026-11-23T10:05:00Z"
    } else {
        "0001-01-01T00:00:00Z"
    };
    let alerts: Vec<Value> = alerts
        .iter()
        .map(|(name, severity, team)| {
            json!({"status": status, "labels": {"alertname": name, "severity": severity, "team": team},
                   "annotations": {"summary": format!("{name} is wrong")}, "startsAt": "2026-11-23T10:00:00Z",
                   "endsAt": ends_at, "generatorURL": ""})
        })
        .collect();
    serde_json::to_vec(&json!({
        "version": "4", "status": status, "receiver": "team-x", "groupKey": "{}:{team=\"x\"}",
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://am", "truncatedAlerts": 0, "alerts": alerts
    }))
    .unwrap()
}

/// Three webhook targets: `good` (delivers), `bad` (refused with 400: dead at once) and
/// `picky` (only `info` alerts), plus `slow` when `with_slow` (answers 503: retried later).
async fn targets(
    dir: &std::path::Path,
    with_slow: bool,
) -> (WebhookSink, WebhookSink, WebhookSink) {
    let (good, bad, slow) = (
        WebhookSink::start().await,
        WebhookSink::start().await,
        WebhookSink::start().await,
    );
    good.set_default(Behaviour::Ok);
    bad.set_default(Behaviour::Status(400));
    slow.set_default(Behaviour::Status(503));
    let mut yaml = format!(
        "- name: good\n  type: webhook\n  url: {}\n\
         - name: bad\n  type: webhook\n  url: {}\n\
         - name: picky\n  type: webhook\n  url: {}\n  filter: {{severity: [info]}}\n",
        good.url("/hook"),
        bad.url("/hook"),
        good.url("/picky"),
    );
    if with_slow {
        yaml.push_str(&format!(
            "- name: slow\n  type: webhook\n  url: {}\n",
            slow.url("/hook")
        ));
    }
    write_targets(dir, &yaml);
    (good, bad, slow)
}

fn target<'a>(item: &'a Value, name: &str) -> &'a Value {
    item["targets"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["target"] == name))
        .unwrap_or_else(|| panic!("no target {name} in {item}"))
}

async fn get(service: &Service, path: &str) -> (u16, Value) {
    let resp = reqwest::get(service.url(path)).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_alerts_story_through_filter_dead_letter_replay_and_dedup() {
    let dir = tempfile::tempdir().unwrap();
    let (good, bad, _) = targets(dir.path(), false).await;
    let service = Service::start(dir.path(), "").await;
    let (code, body) = service
        .post("/webhook", notification("firing", &[("DiskFull", "critical", "sre")]))
        .await;
    assert_eq!(code, 200, "{body}");

    let list = service
        .wait_json("/api/v2/publishing/alerts", WAIT, |v| {
            v["alerts"][0]["targets"]
                .as_array()
                .is_some_and(|t| t.len() == 2 && t.iter().all(|t| t["state"] != "pending" && t["state"] != "in_flight"))
        })
        .await;
    assert_eq!(list["limit"], 50);
    assert_eq!(list["next_cursor"], Value::Null);
    let item = &list["alerts"][0];
    assert_eq!(item["alertname"], "DiskFull");
    assert_eq!(item["source"], "webhook");
    assert_eq!(item["receiver"], "team-x");
    assert_eq!(item["labels"]["team"], "sre");
    assert_eq!(target(item, "good")["state"], "delivered");
    assert_eq!(target(item, "bad")["state"], "dead");
    assert_eq!(target(item, "bad")["last_error_kind"], "invalid", "{item}");
    assert_eq!(
        item["filtered"],
        json!([{"target": "picky", "reason": "severity \"critical\" not allowed (info)"}])
    );
    assert_eq!(item["deduplicated"], json!([]));
    let fingerprint = item["fingerprint"].as_str().unwrap().to_owned();
    let dead_job = target(item, "bad")["job_id"].as_i64().unwrap();

    // Fixed, then replayed: the story shows the dead letter and its delivered replay.
    bad.set_default(Behaviour::Ok);
    let (code, body) = service
        .post(&format!("/api/v2/publishing/dlq/{dead_job}/replay"), "")
        .await;
    assert_eq!(code, 200, "{body}");
    let story_path = format!("/api/v2/publishing/alerts/{fingerprint}");
    let story = service
        .wait_json(&story_path, WAIT, |s| {
            s["notifications"][0]["deliveries"]
                .as_array()
                .is_some_and(|d| d.iter().any(|d| d["replay_of"] == dead_job && d["state"] == "delivered"))
        })
        .await;
    assert_eq!(story["alertname"], "DiskFull");
    assert_eq!(story["annotations"]["summary"], "DiskFull is wrong");
    let n = &story["notifications"][0];
    assert_eq!(n["receipt"]["filtered"][0]["target"], "picky");
    let deliveries = n["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 3, "{n}");
    let dead = deliveries.iter().find(|d| d["job_id"] == dead_job).unwrap();
    assert_eq!(dead["state"], "dead");
    assert_eq!(dead["attempts"][0]["status_code"], 400, "{dead}");
    assert_eq!(dead["attempts"][0]["outcome"], "dead");
    let replay_id = dead["replayed_as"].as_i64().unwrap();
    let replay = deliveries.iter().find(|d| d["job_id"] == replay_id).unwrap();
    assert_eq!(replay["attempts"][0]["status_code"], 200);
    assert!(replay["attempts"][0]["latency_ms"].is_u64());
    let delivered = deliveries.iter().find(|d| d["target"] == "good").unwrap();
    assert_eq!(delivered["attempts"][0]["outcome"], "delivered");
    assert_eq!(bad.delivered_count(), 1);
    assert_eq!(good.delivered_count(), 1);

    // The same, from the command line.
    let (code, table, err) = cli(&service, &["alerts", "list", "--alertname", "DiskFull"]);
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("RECEIVED  "), "{table}");
    assert_eq!(lines.len(), 2, "{table}");
    assert!(lines[1].contains(&fingerprint), "{table}");
    assert!(lines[1].contains(" bad:delivered,good:delivered "), "{table}");
    assert!(lines[1].ends_with(r#"picky (severity "critical" not allowed (info))"#), "{table}");
    // columns align: every column of the row starts where its header does
    let header_at = lines[0].find("DELIVERIES").unwrap();
    assert_eq!(lines[1].find("bad:delivered"), Some(header_at), "{table}");
    let (code, story_text, err) = cli(&service, &["alerts", "show", &fingerprint]);
    assert_eq!(code, Some(0), "{err}");
    for expected in [
        "alert DiskFull ",
        "received firing via webhook (receiver team-x)",
        "  routed to bad, good",
        r#"  filtered out by picky: severity "critical" not allowed (info)"#,
        &format!("  bad job {dead_job}: dead, replayed as job {replay_id}"),
        ": dead (HTTP 400) in ",
        &format!("  bad job {replay_id}: delivered, replay of job {dead_job}"),
        ": delivered (HTTP 200) in ",
    ] {
        assert!(story_text.contains(expected), "{expected:?} missing from:\n{story_text}");
    }
    let (code, _, err) = cli(&service, &["alerts", "show", "0123456789abcdef"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("404"), "{err}");

    // The same notification again: both targets had it within the repeat interval.
    let (code, _) = service
        .post("/webhook", notification("firing", &[("DiskFull", "critical", "sre")]))
        .await;
    assert_eq!(code, 200);
    let story = service.get_json(&story_path).await;
    assert_eq!(story["notifications"].as_array().unwrap().len(), 2);
    assert_eq!(story["notifications"][0]["receipt"]["deduplicated"], json!(["bad", "good"]));
    assert_eq!(story["notifications"][0]["deliveries"], json!([]));
    let dedup = service
        .get_json("/api/v2/publishing/alerts?state=deduplicated")
        .await;
    assert_eq!(dedup["alerts"].as_array().unwrap().len(), 1);

    // Filters and errors.
    let count = |v: &Value| v["alerts"].as_array().unwrap().len();
    assert_eq!(count(&service.get_json("/api/v2/publishing/alerts?alertname=DiskFull&label=team%3Dsre").await), 2);
    assert_eq!(count(&service.get_json("/api/v2/publishing/alerts?label=team=db").await), 0);
    assert_eq!(count(&service.get_json("/api/v2/publishing/alerts?target=good&state=delivered").await), 1);
    assert_eq!(count(&service.get_json("/api/v2/publishing/alerts?state=dead").await), 0, "replayed and delivered");
    assert_eq!(count(&service.get_json("/api/v2/publishing/alerts?since=2999-01-01T00:00:00Z").await), 0);
    for (query, word) in [
        ("limit=501", "limit"),
        ("state=done", "state"),
        ("since=today", "since"),
        ("label=team", "label"),
        ("cursor=abc", "cursor"),
        ("severity=critical", "severity"),
    ] {
        let (code, body) = get(&service, &format!("/api/v2/publishing/alerts?{query}")).await;
        assert_eq!(code, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_payload");
        assert!(body["error"]["message"].as_str().unwrap().starts_with(word), "{body}");
    }
    let (code, body) = get(&service, "/api/v2/publishing/alerts/0123456789abcdef").await;
    assert_eq!((code, body["error"]["code"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn a_resolve_supersedes_the_firing_waiting_for_its_retry() {
    let dir = tempfile::tempdir().unwrap();
    let (_good, _bad, _slow) = targets(dir.path(), true).await;
    // A long first retry: the firing waits at `slow` until the resolve arrives.
    let service = Service::start(
        dir.path(),
        "delivery:\n  poll_interval: 100ms\n  retry:\n    initial_delay: 60s\n    max_delay: 120s\n",
    )
    .await;
    let firing = notification("firing", &[("Waiting", "warning", "sre")]);
    assert_eq!(service.post("/webhook", firing).await.0, 200);
    let list = service
        .wait_json("/api/v2/publishing/alerts?target=slow", WAIT, |v| {
            v["alerts"][0]["targets"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["target"] == "slow" && t["attempts"] == 1 && t["state"] == "pending"))
        })
        .await;
    let fingerprint = list["alerts"][0]["fingerprint"].as_str().unwrap().to_owned();
    let resolved = notification("resolved", &[("Waiting", "warning", "sre")]);
    assert_eq!(service.post("/webhook", resolved).await.0, 200);
    // The resolve goes at once (nothing of the alert waits before it) and waits for its own
    // retry after the 503.
    let story = service
        .wait_json(&format!("/api/v2/publishing/alerts/{fingerprint}"), WAIT, |s| {
            s["notifications"][0]["deliveries"].as_array().is_some_and(|d| {
                d.iter()
                    .any(|d| d["target"] == "slow" && d["state"] == "pending" && d["attempts"].as_array().is_some_and(|a| a.len() == 1))
            })
        })
        .await;
    let [newest, first] = story["notifications"].as_array().unwrap().as_slice() else {
        panic!("{story}")
    };
    assert_eq!(newest["receipt"]["status"], "resolved");
    let slow = |n: &Value| {
        n["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["target"] == "slow")
            .cloned()
            .unwrap()
    };
    let (replaced, waiting) = (slow(first), slow(newest));
    assert_eq!(replaced["state"], "superseded", "{story}");
    assert_eq!(replaced["superseded_by"], waiting["job_id"]);
    assert_eq!(replaced["attempts"][0]["status_code"], 503);
    assert_eq!(waiting["state"], "pending");
    assert!(waiting["retry_at"].is_string());
    let listed = service
        .get_json("/api/v2/publishing/alerts?target=slow&state=superseded")
        .await;
    assert_eq!(listed["alerts"][0]["status"], "firing");
}

#[tokio::test]
async fn pages_are_exact_while_alerts_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let (_good, _bad, _) = targets(dir.path(), false).await;
    let service = Service::start(dir.path(), "").await;
    let names: Vec<String> = (0..130).map(|i| format!("Page{i}")).collect();
    // In three notifications: ties of received_at are broken by the receipt.
    for chunk in names.chunks(50) {
        let alerts: Vec<(&str, &str, &str)> = chunk.iter().map(|n| (n.as_str(), "warning", "sre")).collect();
        assert_eq!(service.post("/webhook", notification("firing", &alerts)).await.0, 200);
    }
    let all = service.get_json("/api/v2/publishing/alerts?limit=500").await;
    let expected: Vec<i64> = all["alerts"].as_array().unwrap().iter().map(|a| a["receipt_id"].as_i64().unwrap()).collect();
    assert_eq!(expected.len(), 130);
    let mut seen = Vec::new();
    let mut path = "/api/v2/publishing/alerts?limit=7".to_owned();
    for extra in 0.. {
        let page = service.get_json(&path).await;
        assert_eq!(page["limit"], 7);
        seen.extend(page["alerts"].as_array().unwrap().iter().map(|a| a["receipt_id"].as_i64().unwrap()));
        let late = format!("Late{extra}");
        assert_eq!(service.post("/webhook", notification("firing", &[(&late, "warning", "sre")])).await.0, 200);
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v2/publishing/alerts?limit=7&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, expected, "each exactly once, newest first");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 130);

    // The command line follows the cursor: 20 in pages of 7, and says that more exist.
    let (code, out, err) = cli(
        &service,
        &["alerts", "list", "--alertname-not-a-flag"],
    );
    assert_eq!(code, Some(2), "{out}{err}");
    let (code, out, err) = cli(
        &service,
        &["alerts", "list", "--limit", "20", "--page-size", "7", "--label", "team=sre", "-o", "json"],
    );
    assert_eq!(code, Some(0), "{err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<i64> = listed["alerts"].as_array().unwrap().iter().map(|a| a["receipt_id"].as_i64().unwrap()).collect();
    let newest_first: Vec<i64> = service.get_json("/api/v2/publishing/alerts?limit=20").await["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["receipt_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, newest_first);
    assert!(err.contains("more exist"), "{err}");
}
