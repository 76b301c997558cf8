//! The publishing stats API against ground truth: a known mix of deliveries through simulated
//! targets, and `/stats`, `/stats/{target}`, `/health` and the Prometheus counters must equal
//! the counts the test kept. Also: `promtool check metrics` on the live exposition, and every
//! metric the Grafana dashboard and the alert rules use exists after the run.

use std::{collections::BTreeSet, path::Path, process::Command, time::Duration};

use serde_json::{Value, json};
use testkit::{Behaviour, WebhookSink};

use crate::support::{Service, metric_sum, write_targets};

const FAST_STATS: &str = "stats:\n  interval: 200ms\n  queue_refresh: 50ms\n  cache_ttl: 10ms\n";

/// The value of a Prometheus sample line `name{labels} value` whose labels include `want`.
fn prom_value(text: &str, name: &str, want: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| {
            want.iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

struct Mix {
    good: WebhookSink,
    flaky: WebhookSink,
    broken: WebhookSink,
    down: WebhookSink,
}

async fn targets(dir: &Path) -> Mix {
    let good = WebhookSink::start().await;
    let flaky = WebhookSink::start().await;
    flaky.script([Behaviour::Status(500), Behaviour::Status(503)]);
    let broken = WebhookSink::start().await;
    broken.set_default(Behaviour::Status(400));
    let down = WebhookSink::start().await;
    down.set_default(Behaviour::Status(503));
    write_targets(
        dir,
        &format!(
            "- name: good\n  type: webhook\n  url: {}\n\
             - name: flaky\n  type: webhook\n  url: {}\n\
             - name: broken\n  type: webhook\n  url: {}\n\
             - name: down\n  type: webhook\n  url: {}\n  delivery:\n    retry:\n      max_attempts: 3\n",
            good.url("/h"),
            flaky.url("/h"),
            broken.url("/h"),
            down.url("/h"),
        ),
    );
    Mix {
        good,
        flaky,
        broken,
        down,
    }
}

fn alerts() -> Value {
    json!([
        {"labels": {"alertname": "DiskFull", "instance": "a", "severity": "critical"}, "annotations": {"summary": "disk a"}},
        {"labels": {"alertname": "DiskFull", "instance": "b", "severity": "warning"}, "annotations": {"summary": "disk b"}},
    ])
}

/// Runs the mix to completion; returns the service.
async fn run_mix(dir: &Path) -> (Service, Mix) {
    let mix = targets(dir).await;
    let service = Service::start(dir, FAST_STATS).await;
    let (status, body) = service.post("/api/v2/alerts", alerts().to_string()).await;
    assert_eq!(status, 200, "{body}");
    // Ground truth: 2 alerts × 4 targets = 8 jobs.
    // good: 2 delivered. flaky: 500, 503, then 2 delivered (2 retries).
    // broken: 400 → 2 dead (invalid). down: 503 × 3 attempts each → 4 retries, 2 dead.
    service
        .wait_json("/api/v2/publishing/stats", Duration::from_secs(20), |s| {
            s["system"]["jobs"]["processed"] == 14 && s["queue"]["size"] == 0
        })
        .await;
    (service, mix)
}

#[tokio::test]
async fn stats_health_and_prometheus_equal_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let (service, mix) = run_mix(dir.path()).await;
    // What the simulated targets saw.
    assert_eq!(mix.good.requests().len(), 2);
    assert_eq!(mix.flaky.requests().len(), 4);
    assert_eq!(mix.broken.requests().len(), 2);
    assert_eq!(mix.down.requests().len(), 6);

    let s = service
        .wait_json("/api/v2/publishing/stats", Duration::from_secs(5), |s| {
            s["queue"]["dlq_size"] == 4
        })
        .await;
    let jobs = &s["system"]["jobs"];
    assert_eq!(jobs["processed"], 14);
    assert_eq!(jobs["succeeded"], 4);
    assert_eq!(jobs["retried"], 6);
    assert_eq!(jobs["dead_lettered"], 4);
    assert_eq!(jobs["failed"], 10);
    let rate = jobs["success_rate"].as_f64().unwrap();
    assert!((rate - 4.0 / 14.0 * 100.0).abs() < 1e-9, "{rate}");
    assert_eq!(s["queue"]["jobs_submitted"], 8);
    assert_eq!(s["queue"]["jobs_completed"], 4);
    assert_eq!(s["queue"]["jobs_failed"], 4);
    assert_eq!(s["queue"]["size"], 0);
    let h = &s["health"];
    assert_eq!(
        (
            h["total_targets"].clone(),
            h["healthy"].clone(),
            h["unhealthy"].clone(),
            h["unknown"].clone()
        ),
        (json!(4), json!(2), json!(1), json!(1)),
        "good and flaky healthy, down unhealthy, broken unknown (bad requests say nothing of health): {h}"
    );
    assert_eq!(s["discovery"]["total_targets"], 4);
    assert_eq!(s["system"]["latency"]["count"], 14);

    // Per target.
    let per = |t: &'static str| {
        let service = &service;
        async move {
            service
                .get_json(&format!("/api/v2/publishing/stats/{t}"))
                .await
        }
    };
    let expect = [
        ("good", 2, 2, 0, 0, "healthy"),
        ("flaky", 4, 2, 2, 0, "healthy"),
        ("broken", 2, 0, 0, 2, "unknown"),
        ("down", 6, 0, 4, 2, "unhealthy"),
    ];
    for (name, processed, succeeded, retried, dead, health) in expect {
        let t = per(name).await;
        assert_eq!(t["target_name"], name);
        assert_eq!(t["type"], "webhook");
        assert_eq!(
            (
                t["jobs"]["processed"].clone(),
                t["jobs"]["succeeded"].clone(),
                t["jobs"]["retried"].clone(),
                t["jobs"]["dead_lettered"].clone()
            ),
            (
                json!(processed),
                json!(succeeded),
                json!(retried),
                json!(dead)
            ),
            "{name}: {t}"
        );
        assert_eq!(t["health"]["status"], health, "{name}: {t}");
        assert_eq!(t["latency"]["count"], processed, "{name}");
    }
    assert_eq!(per("broken").await["dead_letters_by_reason"]["invalid"], 2);
    assert_eq!(per("down").await["dead_letters_by_reason"]["server"], 2);
    assert_eq!(per("down").await["health"]["consecutive_failures"], 6);

    // Unknown target: exact match only, 404 with the error envelope.
    for missing in ["nope", "Good", "goo"] {
        let resp = reqwest::get(service.url(&format!("/api/v2/publishing/stats/{missing}")))
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "target_not_found");
        assert!(
            body["target"].is_string(),
            "the guide's `target` field: {body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Target not found"),
            "{body}"
        );
        assert_eq!(body["error"]["details"]["target"], missing);
    }

    // Health: one target down → degraded, 503.
    let resp = reqwest::get(service.url("/api/v2/publishing/health"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let health: Value = resp.json().await.unwrap();
    assert_eq!(health["status"], "degraded");
    let checks = health["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 4);
    let down = checks.iter().find(|c| c["target"] == "down").unwrap();
    assert_eq!(down["status"], "unhealthy");
    assert_eq!(down["type"], "webhook");
    assert_eq!(down["success_rate"], 0.0);

    // Prometheus counters equal the same ground truth.
    let text = reqwest::get(service.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let processed = |t, st| {
        prom_value(
            &text,
            "alert_history_publishing_jobs_processed_total",
            &[("target", t), ("state", st)],
        )
    };
    assert_eq!(processed("good", "delivered"), 2.0);
    assert_eq!(processed("flaky", "retry"), 2.0);
    assert_eq!(processed("flaky", "delivered"), 2.0);
    assert_eq!(processed("broken", "dead"), 2.0);
    assert_eq!(processed("down", "retry"), 4.0);
    assert_eq!(processed("down", "dead"), 2.0);
    assert_eq!(
        prom_value(&text, "alert_publisher_notifications_total", &[]),
        14.0
    );
    assert_eq!(
        prom_value(&text, "alert_publisher_notifications_failed_total", &[]),
        10.0
    );
    assert_eq!(
        prom_value(
            &text,
            "alert_publisher_notifications_failed_total",
            &[("target", "down"), ("reason", "server")]
        ),
        6.0
    );
    assert_eq!(
        prom_value(
            &text,
            "alert_publisher_notifications_failed_total",
            &[("target", "broken"), ("reason", "invalid")]
        ),
        2.0
    );
    assert_eq!(
        prom_value(
            &text,
            "alert_publisher_notification_latency_seconds_count",
            &[("integration", "webhook")]
        ),
        14.0
    );
    assert_eq!(
        prom_value(&text, "alert_history_publishing_dlq_writes_total", &[]),
        4.0
    );
    assert_eq!(
        prom_value(&text, "alert_history_publishing_dlq_size", &[]),
        4.0
    );
    assert_eq!(
        prom_value(
            &text,
            "alert_history_publishing_target_health_status",
            &[("target", "down")]
        ),
        3.0
    );

    // The raw snapshot.
    let resp = reqwest::get(service.url("/api/v2/publishing/metrics"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ms: f64 = resp.headers()["x-collection-duration-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ms >= 0.0);
    let snap: Value = resp.json().await.unwrap();
    assert_eq!(snap["collector_count"], 8);
    assert_eq!(snap["errors"], json!({}));
    assert_eq!(
        snap["metrics"][r#"health_status{target="down",type="webhook"}"#],
        3.0
    );
    assert_eq!(snap["metrics"]["queue_jobs_submitted"], 8.0);

    // Trends: samples accumulate; every field present.
    let trends = service
        .wait_json("/api/v2/publishing/trends", Duration::from_secs(5), |t| {
            t["samples"].as_u64().unwrap_or(0) >= 2
        })
        .await;
    for field in ["success_rate", "latency", "error_spike", "queue_growth"] {
        assert!(trends["trends"][field].is_object(), "{field}: {trends}");
    }
    assert!(trends["summary"].as_str().unwrap().contains("success rate"));
}

#[tokio::test]
async fn answers_carry_an_etag_and_honour_if_none_match() {
    let dir = tempfile::tempdir().unwrap();
    write_targets(dir.path(), "");
    let service = Service::start(
        dir.path(),
        "stats:\n  cache_ttl: 1h\n  queue_refresh: 50ms\n",
    )
    .await;
    let client = reqwest::Client::new();
    let first = client
        .get(service.url("/api/v2/publishing/stats"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = client
        .get(service.url("/api/v2/publishing/stats"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    // No targets: healthy, 200.
    let health = client
        .get(service.url("/api/v2/publishing/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

/// Posts one new alert (a fresh fingerprint each time, so none is deduplicated) every 50 ms
/// until dropped.
fn steady_alerts(service: &Service) -> tokio::task::JoinHandle<()> {
    let url = service.url("/api/v2/alerts");
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        for n in 0u64.. {
            let body = json!([{"labels": {"alertname": "Steady", "n": n.to_string()}}]);
            let _ = client.post(&url).json(&body).send().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// The reported problem: with every delivery slowed to 400 ms, the latency trend read the
/// median since start-up and crept up for many intervals. Each point now covers the deliveries
/// finished since the previous one: after a baseline of fast deliveries, the trend shows the
/// new latency and `degrading` within two sampling periods of the change.
#[tokio::test]
async fn latency_trend_turns_degrading_within_two_sampling_periods() {
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await;
    write_targets(
        dir.path(),
        &format!("- name: w\n  type: webhook\n  url: {}\n", sink.url("/h")),
    );
    let service = Service::start(
        dir.path(),
        "stats:\n  interval: 500ms\n  queue_refresh: 50ms\n  cache_ttl: 10ms\n",
    )
    .await;
    let traffic = steady_alerts(&service);

    // Baseline: enough fast samples with deliveries for a trend (min_points earlier ones).
    let baseline = service
        .wait_json("/api/v2/publishing/trends", Duration::from_secs(30), |t| {
            t["samples"].as_u64().unwrap_or(0) >= 6
                && t["trends"]["latency"]["ema_ms"].as_f64() > Some(0.0)
        })
        .await;
    // (Its trend may read either way: a window of millisecond deliveries varies by more than
    // the 15 % threshold on a busy machine.)
    let latency = &baseline["trends"]["latency"];
    assert!(
        latency["current_ms"].as_f64().unwrap() < 100.0,
        "{baseline}"
    );

    sink.set_default(Behaviour::slow(Duration::from_millis(400), Behaviour::Ok));
    let switched = std::time::Instant::now();
    let at_switch = service.get_json("/api/v2/publishing/trends").await["samples"]
        .as_u64()
        .unwrap();
    // The first answer with two samples taken after the change.
    let after = service
        .wait_json("/api/v2/publishing/trends", Duration::from_secs(30), |t| {
            t["samples"].as_u64().unwrap_or(0) >= at_switch + 2
        })
        .await;
    let latency = &after["trends"]["latency"];
    let current = latency["current_ms"].as_f64().unwrap();
    eprintln!(
        "latency trend {} at {current} ms, {} samples and {:?} after the change",
        latency["trend"],
        after["samples"].as_u64().unwrap() - at_switch,
        switched.elapsed()
    );
    assert!(current >= 300.0, "{after}");
    assert_eq!(latency["trend"], "degrading", "{after}");
    assert!(
        after["summary"]
            .as_str()
            .unwrap()
            .starts_with("System needs attention"),
        "{after}"
    );
    traffic.abort();
}

/// The trend history is written to the store as it is sampled and loaded at start-up: after a
/// stop with SIGTERM and a start on the same store, the samples carry on from where they were.
#[tokio::test]
async fn trend_history_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    write_targets(dir.path(), "");
    let config = "stats:\n  interval: 200ms\n  queue_refresh: 50ms\n";
    let mut service = Service::start(dir.path(), config).await;
    let before = service
        .wait_json("/api/v2/publishing/trends", Duration::from_secs(20), |t| {
            t["samples"].as_u64().unwrap_or(0) >= 5
        })
        .await;
    let status = service.sigterm(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}");
    let before_samples = before["samples"].as_u64().unwrap();
    let before_at = before["timestamp"].as_str().unwrap().to_owned();

    let service = Service::start(dir.path(), config).await;
    let restarted = service.get_json("/api/v2/publishing/trends").await;
    let samples = restarted["samples"].as_u64().unwrap();
    assert!(
        samples >= before_samples,
        "history loaded at start-up: {samples} samples after the restart, {before_samples} before"
    );
    assert!(
        restarted["timestamp"].as_str().unwrap() >= before_at.as_str(),
        "{restarted} vs {before}"
    );
    service
        .wait_json("/api/v2/publishing/trends", Duration::from_secs(20), |t| {
            t["samples"].as_u64().unwrap_or(0) >= samples + 3
        })
        .await;
    assert!(
        service
            .log()
            .contains("trend history loaded from the store"),
        "{}",
        service.log()
    );
}

/// `/stats` reports the real refreshes: the last one, how long it took, the next one and the
/// state; a manual refresh moves them, and a failed one shows as `failed` with its error.
#[tokio::test]
async fn stats_refresh_section_follows_the_refreshes() {
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await;
    let targets = format!("- name: w\n  type: webhook\n  url: {}\n", sink.url("/h"));
    write_targets(dir.path(), &targets);
    let service = Service::start(
        dir.path(),
        "stats:\n  cache_ttl: 10ms\ndiscovery:\n  file_poll_interval: 1h\n  manual_refresh_interval: 10ms\n",
    )
    .await;
    let first = service.get_json("/api/v2/publishing/stats").await;
    let r = &first["refresh"];
    assert_eq!(r["state"], "idle", "{r}");
    assert_eq!(r["refresh_interval"], "3600s", "{r}");
    assert_eq!(r["targets_discovered"], 1, "{r}");
    assert!(r["last_duration_ms"].as_f64().is_some(), "{r}");
    let last = |r: &Value| {
        r["last_refresh"]
            .as_str()
            .unwrap_or_default()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    };
    let next = |r: &Value| {
        r["next_refresh"]
            .as_str()
            .unwrap_or_default()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    };
    let first_last = last(r);
    assert!(
        (next(r) - first_last - chrono::Duration::hours(1))
            .num_seconds()
            .abs()
            <= 1,
        "next refresh one poll interval after the last: {r}"
    );
    assert_eq!(first["discovery"]["last_discovery"], r["last_refresh"]);
    assert_eq!(first["discovery"]["state"], "idle");

    tokio::time::sleep(Duration::from_millis(20)).await;
    let (code, body) = service.post("/api/v2/publishing/targets/refresh", "").await;
    assert_eq!(code, 202, "{body}");
    let after = service
        .wait_json("/api/v2/publishing/stats", Duration::from_secs(10), |s| {
            s["refresh"]["last_refresh"] != first["refresh"]["last_refresh"]
        })
        .await;
    let r = &after["refresh"];
    assert!(last(r) > first_last, "{r}");
    let took = r["last_duration_ms"].as_f64().unwrap();
    assert!(took > 0.0, "the refresh's duration is recorded: {r}");
    assert!(next(r) > last(r) + chrono::Duration::minutes(59), "{r}");
    assert_eq!(r["state"], "idle", "{r}");
    assert_eq!(after["discovery"]["last_discovery"], r["last_refresh"]);
    assert_eq!(after["discovery"]["latency_ms"], r["last_duration_ms"]);
    // The metrics come from a collection cached for `cache_ttl` (10 ms), which may predate the
    // refresh the section above read live: they follow within it.
    let expected = last(r).timestamp_millis() as f64 / 1000.0;
    let snapshot = service
        .wait_json("/api/v2/publishing/metrics", Duration::from_secs(5), |s| {
            s["metrics"]["refresh_last_refresh_timestamp"].as_f64() == Some(expected)
        })
        .await;
    assert_eq!(
        snapshot["metrics"]["refresh_last_refresh_timestamp"].as_f64(),
        Some(expected)
    );
    assert_eq!(snapshot["metrics"]["refresh_in_progress"], 0.0);

    // A refresh that fails keeps the targets and says so.
    write_targets(dir.path(), "- name: w\n  type: email\n");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (code, body) = service.post("/api/v2/publishing/targets/refresh", "").await;
    assert_eq!(code, 202, "{body}");
    let failed = service
        .wait_json("/api/v2/publishing/stats", Duration::from_secs(10), |s| {
            s["refresh"]["state"] == "failed"
        })
        .await;
    let r = &failed["refresh"];
    assert!(
        r["last_error"].as_str().unwrap().starts_with("file: "),
        "{r}"
    );
    assert_eq!(r["targets_discovered"], 1, "{r}");
    assert_eq!(r["last_refresh"], after["refresh"]["last_refresh"], "{r}");
}

fn promtool(args: &[&str], stdin: Option<&str>) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run promtool");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn deploy(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(path)
}

/// Metric names (families) referenced by PromQL in a text.
fn names_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for prefix in ["alert_history_publishing_", "alert_publisher_"] {
        let mut rest = text;
        while let Some(i) = rest.find(prefix) {
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            out.insert(tail[..end].to_owned());
            rest = &tail[end..];
        }
    }
    out
}

/// Families in an exposition (`_bucket`/`_sum`/`_count` lines count for their histogram too).
fn exposed(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for l in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let name = l.split(['{', ' ']).next().unwrap_or_default().to_owned();
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix) {
                out.insert(base.to_owned());
            }
        }
        out.insert(name);
    }
    out
}

/// The one finding `promtool check metrics` may report: the original service named a gauge
/// `…_discovery_targets_total`, and its dashboards query that name.
const ORIGINAL_GAUGE_NAMED_TOTAL: &str = "alert_history_publishing_discovery_targets_total non-counter metrics should not have \"_total\" suffix";

/// The service's `/metrics` text, after `promtool check metrics` found nothing to say of it
/// but [`ORIGINAL_GAUGE_NAMED_TOTAL`].
async fn exposition_passing_promtool(service: &Service) -> String {
    let text = reqwest::get(service.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (_, out) = promtool(&["check", "metrics"], Some(&text));
    let findings: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != ORIGINAL_GAUGE_NAMED_TOTAL)
        .collect();
    assert!(findings.is_empty(), "promtool check metrics:\n{out}");
    text
}

#[tokio::test]
async fn exposition_passes_promtool_and_has_every_metric_the_dashboard_and_rules_use() {
    let dir = tempfile::tempdir().unwrap();
    let (service, _mix) = run_mix(dir.path()).await;
    // Parallel publishing too, so its families exist.
    let (status, body) = service
        .post(
            "/api/v2/publishing/parallel/all",
            json!({"alert": {"labels": {"alertname": "P"}, "status": "firing"}}).to_string(),
        )
        .await;
    assert!(status < 500, "parallel publish: {status} {body}");
    // Let the sampler export trend gauges.
    service
        .wait_json("/api/v2/publishing/trends", Duration::from_secs(5), |t| {
            t["samples"].as_u64().unwrap_or(0) >= 2
        })
        .await;
    let text = exposition_passing_promtool(&service).await;
    // What a Prometheus client library exports by itself.
    for family in [
        "alert_publisher_build_info",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(
            metric_sum(&text, family, &[]).is_some_and(|v| v > 0.0),
            "{family} in\n{text}"
        );
    }

    let have = exposed(&text);
    let dashboard = std::fs::read_to_string(deploy("grafana/alert-publisher.json")).unwrap();
    let rules = std::fs::read_to_string(deploy("prometheus/alert-publisher-rules.yaml")).unwrap();
    let used: BTreeSet<String> = names_in(&dashboard)
        .into_iter()
        .chain(names_in(&rules))
        .collect();
    assert!(
        used.len() >= 10,
        "dashboard and rules use our metrics: {used:?}"
    );
    let missing: Vec<_> = used.iter().filter(|n| !have.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "used but not exposed: {missing:?}\n{text}"
    );
}

#[test]
fn dashboard_is_valid_json_with_the_required_panels() {
    let text = std::fs::read_to_string(deploy("grafana/alert-publisher.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let titles: Vec<String> = v["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap_or_default().to_lowercase())
        .collect();
    for want in [
        "throughput",
        "latency",
        "errors by reason",
        "queue by priority",
        "dead-letter",
        "circuit breakers",
        "target health",
        "trends",
    ] {
        assert!(
            titles.iter().any(|t| t.contains(want)),
            "no panel about {want}: {titles:?}"
        );
    }
}

/// One target of each type, each sent to: the exposition (with every vendor's own families)
/// passes `promtool check metrics`, and each vendor's families are there.
#[tokio::test]
async fn exposition_with_one_target_of_each_type_passes_promtool() {
    use testkit::{PagerDutySim, RootlySim, SlackSim};
    let dir = tempfile::tempdir().unwrap();
    let pd = PagerDutySim::start().await;
    let slack = SlackSim::start().await;
    slack.add_channel("alerts");
    let rootly = RootlySim::start().await;
    let hook = WebhookSink::start().await;
    write_targets(
        dir.path(),
        &format!(
            "- name: pd\n  type: pagerduty\n  url: {}\n  options: {{routing_key: e2eROUTINGkey0123456789abcdefXYZ}}\n\
             - name: slack\n  type: slack\n  url: {}\n  options: {{token: {}, channel: \"#alerts\"}}\n\
             - name: rootly\n  type: rootly\n  url: {}\n  options: {{api_key: {}}}\n\
             - name: hook\n  type: webhook\n  url: {}\n",
            pd.url(),
            slack.api_url(),
            SlackSim::TOKEN,
            rootly.url(),
            RootlySim::DEFAULT_KEY,
            hook.url("/hook"),
        ),
    );
    let service = Service::start(dir.path(), FAST_STATS).await;
    let alerts = json!([{"labels": {"alertname": "EachType", "severity": "critical"}, "annotations": {"summary": "one of each"}}]);
    let (status, body) = service.post("/api/v2/alerts", alerts.to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["jobs"],
        4,
        "{body}"
    );
    service
        .wait_json("/api/v2/publishing/stats", Duration::from_secs(20), |s| {
            s["system"]["jobs"]["succeeded"] == 4
        })
        .await;
    let text = exposition_passing_promtool(&service).await;
    let have = exposed(&text);
    for vendor in ["pagerduty", "slack", "rootly"] {
        assert!(
            have.iter()
                .any(|n| n.starts_with(&format!("alert_publisher_{vendor}_"))),
            "no {vendor} family in the exposition: {have:?}"
        );
    }
    assert_eq!(pd.requests().len(), 1);
    assert_eq!(rootly.alerts().len(), 1);
    assert_eq!(hook.requests().len(), 1);
}
