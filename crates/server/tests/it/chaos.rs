//! Resilience: the service SIGKILLed at random moments during a storm, a flapping target,
//! PostgreSQL restarted under a scaled-out replica, a full and a read-only disk, damaged
//! database files at start-up. `cargo xtask chaos` runs the same tests with more kill trials.
//!
//! Environment: `CHAOS_TRIALS` (kill trials, default 20), `CHAOS_SEED` (the random seed; the
//! seed used is printed), `CHAOS_SKIP_PRIVILEGED=1` (skip the disk tests where mounting a
//! small tmpfs is not permitted; without it they fail and say what is missing).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::json;
use testkit::{Behaviour, Postgres, Recorded, WebhookSink};

use crate::support::{Service, metric, metrics, write_targets};

/// One alert of a chaos notification: a unique id (its fingerprint) and whether it is critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Sent {
    id: u64,
    critical: bool,
}

fn fingerprint(id: u64) -> String {
    format!("{id:016x}")
}

/// A v4 notification holding `alerts`, all with status `status`; `padding` random bytes of
/// annotation make rows bigger (to fill a disk faster).
fn notification(alerts: &[Sent], status: &str, padding: usize) -> Vec<u8> {
    let ends = if status == "resolved" {
        "2026-11-23T11:00:00Z"
    } else {
        "0001-01-01T00:00:00Z"
    };
    let alerts: Vec<_> = alerts
        .iter()
        .map(|a| {
            json!({"status": status,
                   "labels": {"alertname": "Chaos", "id": a.id.to_string(),
                              "severity": if a.critical { "critical" } else { "warning" }},
                   "annotations": {"padding": noise(a.id, padding)},
                   "startsAt": "2026-11-23T10:00:00Z", "endsAt": ends, "generatorURL": "",
                   "fingerprint": fingerprint(a.id)})
        })
        .collect();
    serde_json::to_vec(
        &json!({"version": "4", "status": status, "receiver": "chaos",
        "groupKey": "{}:{alertname=\"Chaos\"}", "groupLabels": {"alertname": "Chaos"},
        "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
        "truncatedAlerts": 0, "alerts": alerts}),
    )
    .expect("encode notification")
}

/// `len` random letters (a store that compresses payloads cannot shrink them).
fn noise(seed: u64, len: usize) -> String {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.alphanumeric()).collect()
}

/// What a POST got: a status with its `Retry-After` and body, or a transport error (the
/// service was down or died during the request).
#[derive(Debug)]
enum Posted {
    Status {
        code: u16,
        retry_after: Option<String>,
        body: String,
    },
    Failed,
}

async fn post(client: &reqwest::Client, url: &str, body: Vec<u8>) -> Posted {
    match client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(resp) => {
            let code = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            Posted::Status {
                code,
                retry_after,
                body: resp.text().await.unwrap_or_default(),
            }
        }
        Err(_) => Posted::Failed,
    }
}

/// Posts `alerts` as `status` notifications of 10 alerts each; every one must be accepted.
async fn post_accepted(client: &reqwest::Client, url: &str, alerts: &[Sent], status: &str) {
    for chunk in alerts.chunks(10) {
        match post(client, url, notification(chunk, status, 0)).await {
            Posted::Status { code: 200, .. } => {}
            other => panic!("{status} not accepted: {other:?}"),
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// The fingerprint and status of the alert a request carried (either payload format).
fn carried(r: &Recorded) -> (String, String) {
    let v = r.json();
    let alert = if v["alerts"].is_array() {
        v["alerts"][0].clone()
    } else {
        v
    };
    (
        alert["fingerprint"].as_str().unwrap_or_default().to_owned(),
        alert["status"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Delivered (2xx) requests per (path, fingerprint).
fn delivered_counts(sink: &WebhookSink) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for r in sink.delivered() {
        *counts.entry((r.path.clone(), carried(&r).0)).or_default() += 1;
    }
    counts
}

/// Waits until every (path, fingerprint) in `expected` was delivered at least once.
async fn wait_all_delivered(
    sink: &WebhookSink,
    expected: &BTreeSet<(String, String)>,
    timeout: Duration,
    service: &Service,
) -> BTreeMap<(String, String), usize> {
    let started = Instant::now();
    loop {
        let counts = delivered_counts(sink);
        let missing: Vec<_> = expected
            .iter()
            .filter(|k| !counts.contains_key(*k))
            .collect();
        if missing.is_empty() {
            return counts;
        }
        assert!(
            started.elapsed() < timeout,
            "{} of {} accepted deliveries missing after {timeout:?}, e.g. {:?}\n{}",
            missing.len(),
            expected.len(),
            &missing[..missing.len().min(5)],
            problems(&service.log())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The warnings and errors of a service log (what explains a failure): the first and the last
/// 30.
fn problems(log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect();
    if lines.len() <= 60 {
        return lines.join("\n");
    }
    format!(
        "{}\n...\n{}",
        lines[..30].join("\n"),
        lines[lines.len() - 30..].join("\n")
    )
}

/// `CHAOS_SEED` or a fresh one; printed so a failing run can be repeated.
fn seed(test: &str) -> u64 {
    let seed = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("{test}: seed {seed} (repeat with CHAOS_SEED={seed})");
    seed
}

fn trials() -> u32 {
    std::env::var("CHAOS_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

const STORM_CONCURRENCY: usize = 4;

/// Three targets on one sink: two take everything, one only critical alerts.
fn storm_targets(dir: &Path, sink: &WebhookSink) {
    write_targets(
        dir,
        &format!(
            "- name: all-a\n  type: webhook\n  url: {a}\n\
             - name: all-b\n  type: webhook\n  url: {b}\n  format: webhook\n\
             - name: critical\n  type: webhook\n  url: {c}\n  filter: {{severity: [critical]}}\n",
            a = sink.url("/a"),
            b = sink.url("/b"),
            c = sink.url("/c"),
        ),
    );
}

/// Where an accepted alert must arrive.
fn expected_deliveries(accepted: &[Sent]) -> BTreeSet<(String, String)> {
    let mut expected = BTreeSet::new();
    for a in accepted {
        expected.insert(("/a".to_owned(), fingerprint(a.id)));
        expected.insert(("/b".to_owned(), fingerprint(a.id)));
        if a.critical {
            expected.insert(("/c".to_owned(), fingerprint(a.id)));
        }
    }
    expected
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_during_a_storm_loses_no_accepted_alert() {
    let trials = trials();
    let mut rng = fastrand::Rng::with_seed(seed("sigkill storm"));
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await;
    // Deliveries take a little while, so a kill usually finds some in flight.
    sink.set_default(Behaviour::slow(Duration::from_millis(5), Behaviour::Ok));
    storm_targets(dir.path(), &sink);
    let config = format!(
        "delivery:\n  concurrency: {STORM_CONCURRENCY}\n  poll_interval: 100ms\n  shutdown_timeout: 1s\n  \
         circuit_breaker: {{enabled: false}}\n  retry: {{initial_delay: 50ms, max_delay: 500ms, max_attempts: 10000, max_age: 1h}}\n"
    );
    let mut service = Service::start(dir.path(), &config).await;
    let port = service.port();
    let url = service.url("/webhook");

    // The storm: notifications of 1-3 new alerts, back to back, through kills and restarts.
    let accepted = Arc::new(Mutex::new(Vec::<Sent>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let storm = {
        let (accepted, stop) = (Arc::clone(&accepted), Arc::clone(&stop));
        let mut rng = fastrand::Rng::with_seed(rng.u64(..));
        tokio::spawn(async move {
            let client = client();
            let mut next = 0u64;
            let mut refused = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let alerts: Vec<Sent> = (0..rng.u64(1..=3))
                    .map(|i| Sent {
                        id: next + i,
                        critical: rng.bool(),
                    })
                    .collect();
                next += alerts.len() as u64;
                match post(&client, &url, notification(&alerts, "firing", 0)).await {
                    Posted::Status { code: 200, .. } => {
                        accepted.lock().unwrap().extend(alerts);
                    }
                    Posted::Status { code, body, .. } => {
                        panic!("storm POST answered {code}: {body}")
                    }
                    Posted::Failed => {
                        refused += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            refused
        })
    };

    let started = Instant::now();
    for _ in 0..trials {
        // Kill at a random moment: right after start-up, mid-storm, or anywhere between.
        tokio::time::sleep(Duration::from_millis(rng.u64(0..400))).await;
        service.sigkill();
        service = Service::start_on(dir.path(), port, &config).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let refused = storm.await.expect("storm poster");
    let accepted = accepted.lock().unwrap().clone();
    let expected = expected_deliveries(&accepted);
    assert!(
        accepted.len() > trials as usize,
        "the storm got too few alerts in ({}) to mean anything",
        accepted.len()
    );

    let counts = wait_all_delivered(&sink, &expected, Duration::from_secs(60), &service).await;
    // Nothing reaches a target whose filter does not match.
    let critical: BTreeSet<String> = accepted
        .iter()
        .filter(|a| a.critical)
        .map(|a| fingerprint(a.id))
        .collect();
    let accepted_ids: BTreeSet<String> = accepted.iter().map(|a| fingerprint(a.id)).collect();
    for (path, fp) in counts.keys() {
        if path == "/c" && accepted_ids.contains(fp) {
            assert!(critical.contains(fp), "warning alert {fp} reached /c");
        }
    }
    let duplicates: usize = counts.values().map(|n| n - 1).sum();
    let kills = trials as usize;
    // What a kill can repeat: deliveries in flight, and answered ones whose outcome was not yet
    // written (at most twice the concurrency).
    let per_kill = 3 * STORM_CONCURRENCY;
    eprintln!(
        "sigkill storm: {kills} kills in {:.1}s, {} alerts accepted ({} deliveries expected), \
         {refused} posts refused while down, {duplicates} duplicate deliveries (bound {})",
        started.elapsed().as_secs_f64(),
        accepted.len(),
        expected.len(),
        kills * per_kill
    );
    assert!(
        duplicates <= kills * per_kill,
        "{duplicates} duplicates after {kills} kills exceed what can be in flight or unwritten \
         ({per_kill} per kill)"
    );
    let stats = service
        .wait_json(
            "/api/v2/publishing/queue/stats",
            Duration::from_secs(30),
            |s| s["pending"] == 0 && s["in_flight"] == 0,
        )
        .await;
    assert_eq!(stats["dead"], 0, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_target_gets_everything_with_the_last_status_and_no_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await;
    sink.set_default(Behaviour::Status(503));
    write_targets(
        dir.path(),
        &format!(
            "- name: flappy\n  type: webhook\n  url: {}\n",
            sink.url("/flappy")
        ),
    );
    let config = "delivery:\n  concurrency: 8\n  poll_interval: 50ms\n  \
         circuit_breaker: {failure_threshold: 3, open_for: 200ms, success_threshold: 1}\n  \
         retry: {initial_delay: 50ms, max_delay: 400ms, max_attempts: 10000, max_age: 1h}\n";
    let service = Service::start(dir.path(), config).await;

    // Healthy and failing in turn every 300 ms; failing alternates 503 and dropped connections.
    let stop = Arc::new(AtomicBool::new(false));
    let flapper = {
        let (sink, stop) = (sink.clone(), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(300)).await;
                n += 1;
                sink.set_default(match n % 4 {
                    1 | 3 => Behaviour::Ok,
                    2 => Behaviour::Drop,
                    _ => Behaviour::Status(503),
                });
            }
        })
    };

    let alerts: Vec<Sent> = (0..40).map(|id| Sent { id, critical: true }).collect();
    let client = client();
    post_accepted(&client, &service.url("/webhook"), &alerts, "firing").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    // Half of them resolve while the target keeps flapping.
    let resolved: Vec<Sent> = alerts.iter().copied().filter(|a| a.id % 2 == 0).collect();
    post_accepted(&client, &service.url("/webhook"), &resolved, "resolved").await;

    let want: BTreeMap<String, &str> = alerts
        .iter()
        .map(|a| {
            (
                fingerprint(a.id),
                if a.id % 2 == 0 { "resolved" } else { "firing" },
            )
        })
        .collect();
    let started = Instant::now();
    let last = loop {
        let mut last: BTreeMap<String, String> = BTreeMap::new();
        for r in sink.delivered() {
            let (fp, status) = carried(&r);
            last.insert(fp, status);
        }
        let stats = service.get_json("/api/v2/publishing/queue/stats").await;
        if last.len() == want.len() && stats["pending"] == 0 && stats["in_flight"] == 0 {
            break last;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not everything delivered through the flapping: {} of {} alerts, {stats}\n{}",
            last.len(),
            want.len(),
            problems(&service.log())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    stop.store(true, Ordering::Relaxed);
    flapper.await.unwrap();
    for (fp, status) in &want {
        let seen: Vec<(String, testkit::Answer)> = sink
            .requests()
            .iter()
            .filter(|r| carried(r).0 == *fp)
            .map(|r| (carried(r).1, r.answered.clone()))
            .collect();
        assert_eq!(
            last.get(fp).map(String::as_str),
            Some(*status),
            "last delivered status of {fp}; its requests: {seen:?}\njobs: {}",
            service.get_json("/api/v2/publishing/jobs?limit=1000").await["jobs"]
                .as_array()
                .map(|jobs| jobs
                    .iter()
                    .filter(|j| j["fingerprint"] == fp.as_str())
                    .map(|j| j.to_string())
                    .collect::<Vec<_>>()
                    .join("\n"))
                .unwrap_or_default()
        );
    }
    let stats = service.get_json("/api/v2/publishing/queue/stats").await;
    assert_eq!(stats["dead"], 0, "no dead letters: {stats}");
    let dlq = service.get_json("/api/v2/publishing/dlq").await;
    assert_eq!(dlq["count"], 0, "{dlq}");
    let failures = sink.requests().len() - sink.delivered().len();
    assert!(
        failures > 0,
        "the target never failed: the test proves nothing"
    );
    let text = metrics(&service).await;
    let trips = metric(
        &text,
        "alert_history_publishing_circuit_breaker_trips_total{target=\"flappy\"}",
    );
    let recoveries = metric(
        &text,
        "alert_history_publishing_circuit_breaker_recoveries_total{target=\"flappy\"}",
    );
    eprintln!(
        "flapping target: {} requests, {failures} failed, circuit opened {trips:?} and closed {recoveries:?} times",
        sink.requests().len()
    );
    assert!(trips.unwrap_or(0.0) >= 1.0, "the circuit never opened");
    assert!(recoveries.unwrap_or(0.0) >= 1.0, "the circuit never closed");
}

/// POSTs one notification the way Alertmanager does: again after each 503 (and transport
/// error) until it is accepted, within `timeout`. Returns how many 503s it saw.
async fn post_until_accepted(
    client: &reqwest::Client,
    url: &str,
    body: &[u8],
    timeout: Duration,
) -> usize {
    let started = Instant::now();
    let mut unavailable = 0;
    loop {
        match post(client, url, body.to_vec()).await {
            Posted::Status { code: 200, .. } => return unavailable,
            Posted::Status { code: 503, .. } => unavailable += 1,
            Posted::Status { code, body, .. } => panic!("answered {code}: {body}"),
            Posted::Failed => {}
        }
        assert!(
            started.elapsed() < timeout,
            "not accepted within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Asserts a 503 answer is the retryable store error Alertmanager expects.
fn assert_unavailable(posted: &Posted) {
    match posted {
        Posted::Status {
            code: 503,
            retry_after,
            body,
        } => {
            assert!(retry_after.is_some(), "503 without Retry-After: {body}");
            let v: serde_json::Value = serde_json::from_str(body).expect("error envelope");
            assert_eq!(v["error"]["code"], "store_unavailable", "{body}");
        }
        other => panic!("expected 503 while the store is unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_mid_run_ingest_answers_503_then_everything_accepted_is_delivered() {
    let mut pg = Postgres::start().await;
    let url = pg.create_database("chaos");
    let sink = WebhookSink::start().await;
    sink.set_default(Behaviour::slow(Duration::from_millis(50), Behaviour::Ok));
    let dir = tempfile::tempdir().unwrap();
    storm_targets(dir.path(), &sink);
    let config = format!(
        "store: {url}\ndelivery:\n  concurrency: 8\n  poll_interval: 100ms\n  lease: 3s\n  \
         circuit_breaker: {{enabled: false}}\n  retry: {{initial_delay: 50ms, max_delay: 500ms, max_attempts: 10000, max_age: 1h}}\n"
    );
    let service = Service::start(dir.path(), &config).await;
    let client = client();
    let webhook = service.url("/webhook");
    let mut accepted = Vec::new();
    for i in 0..10u64 {
        let alerts = [
            Sent {
                id: 2 * i,
                critical: true,
            },
            Sent {
                id: 2 * i + 1,
                critical: false,
            },
        ];
        post_until_accepted(
            &client,
            &webhook,
            &notification(&alerts, "firing", 0),
            Duration::from_secs(10),
        )
        .await;
        accepted.extend(alerts);
    }
    sink.wait_for_requests(3, Duration::from_secs(10)).await;

    // PostgreSQL dies with deliveries in flight.
    pg.kill();
    let outage = Instant::now();
    for i in 0..2u64 {
        let alerts = [Sent {
            id: 1000 + i,
            critical: true,
        }];
        let posted = post(&client, &webhook, notification(&alerts, "firing", 0)).await;
        assert_unavailable(&posted);
    }
    let health = reqwest::get(service.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200, "the service keeps running");
    eprintln!(
        "postgres outage: two 503s in {:.1}s",
        outage.elapsed().as_secs_f64()
    );

    pg.restart().await;
    // What Alertmanager retried during the outage is accepted once PostgreSQL is back.
    for i in 0..10u64 {
        let alerts = [Sent {
            id: 1000 + i,
            critical: i % 2 == 0,
        }];
        post_until_accepted(
            &client,
            &webhook,
            &notification(&alerts, "firing", 0),
            Duration::from_secs(30),
        )
        .await;
        accepted.extend(alerts);
    }
    let expected = expected_deliveries(&accepted);
    wait_all_delivered(&sink, &expected, Duration::from_secs(60), &service).await;
    let stats = service
        .wait_json(
            "/api/v2/publishing/queue/stats",
            Duration::from_secs(30),
            |s| s["pending"] == 0 && s["in_flight"] == 0,
        )
        .await;
    assert_eq!(stats["dead"], 0, "{stats}");
    drop(pg);
}

/// A small tmpfs mounted for one test (the store's disk), unmounted on drop.
#[derive(Debug)]
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (e.g. `8m`) on `path`. `None` when mounting is not permitted
    /// and `CHAOS_SKIP_PRIVILEGED=1` says to skip; panics with instructions otherwise.
    fn mount(path: &Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(path).expect("create mount point");
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(path)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(SmallDisk {
                path: path.to_owned(),
            }),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                    Err(e) => e.to_string(),
                };
                if std::env::var("CHAOS_SKIP_PRIVILEGED").as_deref() == Ok("1") {
                    eprintln!("SKIPPED (CHAOS_SKIP_PRIVILEGED=1): cannot mount a tmpfs: {why}");
                    return None;
                }
                panic!(
                    "the disk-full and read-only tests mount a small tmpfs and need root \
                     (CAP_SYS_ADMIN): `mount -t tmpfs` failed: {why}\n\
                     Run the tests as root (CI runs `.ci/run` as root), or set \
                     CHAOS_SKIP_PRIVILEGED=1 to skip them knowingly."
                )
            }
        }
    }

    fn remount(&self, options: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.path)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "remount {options}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `PRAGMA integrity_check` of a SQLite file (read-only).
async fn integrity_check(path: &Path) -> String {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", path.display()))
        .await
        .expect("open store for the integrity check");
    let rows = sqlx::query("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .expect("integrity_check");
    let verdict: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
    conn.close().await.ok();
    verdict.join("; ")
}

/// Fills the file system at `dir` until it is full; returns the filler file.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).expect("create filler");
    let chunk = vec![0xAAu8; 64 * 1024];
    loop {
        match f.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    // tmpfs may take the last bytes one page at a time
    while f.write(&[0xAA]).is_ok_and(|n| n > 0) {}
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_gets_503_keeps_running_and_delivers_everything_once_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&dir.path().join("disk"), "4m") else {
        return;
    };
    let sink = WebhookSink::start().await;
    storm_targets(dir.path(), &sink);
    let store = disk.path.join("store.db");
    let config = format!(
        "store: {}\ndelivery:\n  concurrency: 8\n  poll_interval: 100ms\n  \
         circuit_breaker: {{enabled: false}}\n  retry: {{initial_delay: 50ms, max_delay: 500ms, max_attempts: 10000, max_age: 1h}}\n",
        store.display()
    );
    let mut service = Service::start(dir.path(), &config).await;
    let client = client();
    let webhook = service.url("/webhook");
    let mut accepted = Vec::new();
    let mut next = 0u64;
    let mut batch = |n: u64| -> Vec<Sent> {
        let alerts = (next..next + n)
            .map(|id| Sent {
                id,
                critical: id % 3 == 0,
            })
            .collect();
        next += n;
        alerts
    };
    for _ in 0..5 {
        let alerts = batch(4);
        post_until_accepted(
            &client,
            &webhook,
            &notification(&alerts, "firing", 2000),
            Duration::from_secs(10),
        )
        .await;
        accepted.extend(alerts);
    }

    // The target goes down, so jobs pile up in the store (delivered ones leave it), and the
    // disk fills.
    sink.set_default(Behaviour::Status(503));
    let filler = fill(&disk.path);
    // Keep posting until the store cannot grow any more: every answer is 200 or a 503 the
    // sender can retry, never anything else.
    let mut unavailable = 0;
    for _ in 0..400 {
        let alerts = batch(4);
        let posted = post(&client, &webhook, notification(&alerts, "firing", 2000)).await;
        match &posted {
            Posted::Status { code: 200, .. } => accepted.extend(alerts),
            _ => {
                assert_unavailable(&posted);
                unavailable += 1;
                if unavailable == 3 {
                    break;
                }
            }
        }
    }
    // SQLite reuses the space of its WAL once checkpointed, so a full disk need not refuse
    // every write; it must refuse some, and only with a retryable 503.
    assert!(
        unavailable > 0,
        "the full disk never made ingest answer 503"
    );
    let health = reqwest::get(service.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200, "the service keeps running");

    // Space returns and the target is back: ingest and delivery resume without a restart.
    std::fs::remove_file(&filler).expect("remove filler");
    sink.set_default(Behaviour::Ok);
    for _ in 0..5 {
        let alerts = batch(4);
        post_until_accepted(
            &client,
            &webhook,
            &notification(&alerts, "firing", 2000),
            Duration::from_secs(30),
        )
        .await;
        accepted.extend(alerts);
    }
    // What was acknowledged is durable: a crash now loses none of it.
    let port = service.port();
    service.sigkill();
    service = Service::start_on(dir.path(), port, &config).await;
    let expected = expected_deliveries(&accepted);
    wait_all_delivered(&sink, &expected, Duration::from_secs(60), &service).await;
    eprintln!(
        "disk full: {} alerts accepted, {unavailable} answered 503 while the disk was full",
        accepted.len()
    );
    service.sigterm(Duration::from_secs(10)).await;
    assert_eq!(integrity_check(&store).await, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_store_stops_start_up_untouched_and_everything_is_delivered_once_writable() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&dir.path().join("disk"), "16m") else {
        return;
    };
    let sink = WebhookSink::start().await;
    // The target is down at first, so accepted alerts are still waiting when the disk turns
    // read-only.
    sink.set_default(Behaviour::Status(503));
    storm_targets(dir.path(), &sink);
    let store = disk.path.join("store.db");
    let config = format!(
        "store: {}\ndelivery:\n  concurrency: 8\n  poll_interval: 100ms\n  \
         circuit_breaker: {{enabled: false}}\n  retry: {{initial_delay: 50ms, max_delay: 300ms, max_attempts: 10000, max_age: 1h}}\n",
        store.display()
    );
    let mut service = Service::start(dir.path(), &config).await;
    let port = service.port();
    let client = client();
    let mut accepted = Vec::new();
    for i in 0..5u64 {
        let alerts = [Sent {
            id: i,
            critical: i % 2 == 0,
        }];
        post_until_accepted(
            &client,
            &service.url("/webhook"),
            &notification(&alerts, "firing", 0),
            Duration::from_secs(10),
        )
        .await;
        accepted.extend(alerts);
    }
    // Linux cannot make a file system read-only under files open for writing, so the disk
    // turns read-only while the service is down (as after a crash), and it is started on it.
    service.sigkill();
    disk.remount("ro");
    let before: Vec<_> = ["store.db", "store.db-wal"]
        .iter()
        .map(|f| std::fs::read(disk.path.join(f)).ok())
        .collect();
    let (code, log) = serve_until_exit(dir.path());
    assert!(code.is_some_and(|c| c != 0), "exit code {code:?}\n{log}");
    assert!(
        log.contains(&store.display().to_string()) && log.contains("cannot write"),
        "the error names the store and says it cannot be written:\n{log}"
    );
    let after: Vec<_> = ["store.db", "store.db-wal"]
        .iter()
        .map(|f| std::fs::read(disk.path.join(f)).ok())
        .collect();
    assert!(before == after, "the store changed on a read-only disk");

    // Writable again, and the target is back: everything accepted before is delivered.
    disk.remount("rw");
    sink.set_default(Behaviour::Ok);
    service = Service::start_on(dir.path(), port, &config).await;
    for i in 0..5u64 {
        let alerts = [Sent {
            id: 200 + i,
            critical: i % 2 == 1,
        }];
        post_until_accepted(
            &client,
            &service.url("/webhook"),
            &notification(&alerts, "firing", 0),
            Duration::from_secs(30),
        )
        .await;
        accepted.extend(alerts);
    }
    let expected = expected_deliveries(&accepted);
    wait_all_delivered(&sink, &expected, Duration::from_secs(60), &service).await;
    service.sigterm(Duration::from_secs(10)).await;
    assert_eq!(integrity_check(&store).await, "ok");
}

/// Makes a store with some rows, closed cleanly and checkpointed (no WAL left beside it).
async fn healthy_store(dir: &Path) -> PathBuf {
    let sink = WebhookSink::start().await;
    sink.set_default(Behaviour::Status(503));
    write_targets(
        dir,
        &format!("- name: t\n  type: webhook\n  url: {}\n", sink.url("/t")),
    );
    let mut service = Service::start(dir, "").await;
    let alerts: Vec<Sent> = (0..200).map(|id| Sent { id, critical: true }).collect();
    for chunk in alerts.chunks(50) {
        let (status, body) = service
            .post("/webhook", notification(chunk, "firing", 500))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    service.sigterm(Duration::from_secs(10)).await;
    let store = dir.join("store.db");
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", store.display()))
            .await
            .unwrap();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    assert!(
        !dir.join("store.db-wal").exists(),
        "WAL left beside the store"
    );
    store
}

/// Runs `serve` with `dir/config.yaml` (on a free port) and waits for it to exit (it must);
/// returns exit code and log.
fn serve_until_exit(dir: &Path) -> (Option<i32>, String) {
    let log = dir.join("refused.log");
    let mut child = Command::new(crate::support::binary())
        .arg("serve")
        .arg("--config")
        .arg(dir.join("config.yaml"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", testkit::free_port()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn alert-publisher");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the service started on a store it should refuse:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.code(),
        std::fs::read_to_string(&log).unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_store_stops_start_up_naming_the_file_and_is_left_untouched() {
    type Damage = fn(&mut Vec<u8>);
    let damages: [(&str, Damage); 3] = [
        ("garbage header", |b| {
            b[..16].copy_from_slice(b"NOT-A-DATABASE!!")
        }),
        ("truncated file", |b| {
            let keep = b.len() / 2 + 100;
            b.truncate(keep);
        }),
        ("corrupted page in the middle", |b| {
            let page = 4096;
            let middle = (b.len() / page / 2) * page;
            for (i, byte) in b[middle..middle + page].iter_mut().enumerate() {
                *byte = (i * 31 % 251) as u8;
            }
        }),
    ];
    for (what, damage) in damages {
        let dir = tempfile::tempdir().unwrap();
        let store = healthy_store(dir.path()).await;
        let mut bytes = std::fs::read(&store).unwrap();
        assert!(
            bytes.len() >= 8 * 4096,
            "store too small to damage a middle page"
        );
        damage(&mut bytes);
        std::fs::write(&store, &bytes).unwrap();

        let (code, log) = serve_until_exit(dir.path());
        assert!(
            code.is_some_and(|c| c != 0),
            "{what}: exit code {code:?}\n{log}"
        );
        assert!(
            log.contains(&store.display().to_string()),
            "{what}: the error names the file:\n{log}"
        );
        assert!(
            log.contains("job store is damaged"),
            "{what}: the error says the file is damaged:\n{log}"
        );
        assert_eq!(
            std::fs::read(&store).unwrap(),
            bytes,
            "{what}: the damaged file was changed"
        );
        for side in ["store.db-wal", "store.db-journal"] {
            let p = dir.path().join(side);
            assert!(
                !p.exists() || std::fs::metadata(&p).unwrap().len() == 0,
                "{what}: {side} written beside the damaged file"
            );
        }
        eprintln!(
            "damaged store ({what}): refused with: {}",
            log.lines()
                .find(|l| l.contains("store"))
                .unwrap_or_default()
        );
    }
}
