//! `ap-bench`: the load harness behind `cargo xtask bench`. Everything runs on loopback: a
//! bounded load generator, recording and counting sinks, the `alert-publisher` release binary,
//! a real Alertmanager for comparison, a throwaway PostgreSQL and a simulated PagerDuty.

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write as _,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures::{StreamExt, stream};
use serde_json::{Value, json};
use testkit::{
    Alertmanager, AlertmanagerConfig, PagerDutySim, PagerDutySimConfig, Postgres, WebhookSink,
};

#[derive(Debug, Clone)]
struct Opts {
    binary: PathBuf,
    out: PathBuf,
    alerts: usize,
    latency_secs: u64,
    storm: usize,
    stats_secs: u64,
    parallel_secs: u64,
    only: Option<Vec<String>>,
}

impl Opts {
    fn wants(&self, scenario: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|s| s == scenario))
    }
}

/// The scenarios `--only` may name.
const SCENARIOS: [&str; 8] = [
    "sqlite",
    "alertmanager",
    "postgres",
    "latency",
    "stats",
    "storm",
    "parallel",
    "priority",
];

const USAGE: &str = "\
usage: ap-bench [--quick] [--binary PATH] [--out DIR] [--alerts N] [--storm N] [--only LIST]

Runs the load harness against the alert-publisher binary (release build) and a real
Alertmanager when one is installed, and writes its report to --out.

  --quick          a smaller run (1,000 alerts, shorter loads: 3 s of latency and parallel load)
  --binary PATH    the alert-publisher binary (default target/release/alert-publisher)
  --out DIR        where reports go (default target/bench)
  --alerts N       alerts of the throughput comparison (default 5000)
  --storm N        alerts of the rate-limited storm (default 10000)
  --only LIST      only these scenarios, comma-separated, of: sqlite, alertmanager,
                   postgres, latency, stats, storm, parallel (5 webhook targets, both forms of
                   the parallel publish from 8 clients in a closed loop, in turns of 1 s,
                   10 s each), priority (a webhook limited to 120/min: 30 info alerts, then
                   one critical, five times)
  -h, --help       print this and exit";

/// The options, or the exit code when the arguments ask for help or are wrong.
fn parse_args() -> Result<Opts, i32> {
    let mut opts = Opts {
        binary: PathBuf::from("target/release/alert-publisher"),
        out: PathBuf::from("target/bench"),
        alerts: 5000,
        latency_secs: 10,
        storm: 10_000,
        stats_secs: 5,
        parallel_secs: 10,
        only: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = |i: usize| args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--quick" => {
                opts.alerts = 1000;
                opts.latency_secs = 3;
                opts.storm = 1000;
                opts.stats_secs = 2;
                opts.parallel_secs = 3;
            }
            "--binary" => {
                opts.binary = PathBuf::from(value(i));
                i += 1;
            }
            "--out" => {
                opts.out = PathBuf::from(value(i));
                i += 1;
            }
            "--alerts" => {
                opts.alerts = value(i).parse().unwrap_or(opts.alerts);
                i += 1;
            }
            "--only" => {
                let only: Vec<String> = value(i).split(',').map(str::to_owned).collect();
                if let Some(unknown) = only.iter().find(|s| !SCENARIOS.contains(&s.as_str())) {
                    eprintln!("ap-bench: --only: no scenario {unknown:?}\n{USAGE}");
                    return Err(2);
                }
                opts.only = Some(only);
                i += 1;
            }
            "--storm" => {
                opts.storm = value(i).parse().unwrap_or(opts.storm);
                i += 1;
            }
            "-h" | "--help" => {
                eprintln!("{USAGE}");
                return Err(0);
            }
            other => {
                eprintln!("ap-bench: unknown argument {other:?}\n{USAGE}");
                return Err(2);
            }
        }
        i += 1;
    }
    Ok(opts)
}

/// A running `alert-publisher`.
struct Service {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Service {
    async fn start(binary: &Path, store: Option<&str>, targets_yaml: &str, extra: &str) -> Service {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = testkit::free_port();
        std::fs::write(dir.path().join("targets.yaml"), targets_yaml).expect("targets");
        let store = store.map_or_else(
            || dir.path().join("store.db").display().to_string(),
            str::to_owned,
        );
        // The sinks listen on loopback, which the default outbound policy refuses.
        let config = format!(
            "listen: 127.0.0.1:{port}\nstore: {store}\ntargets: {}\nlog:\n  level: warn\nrate_limit:\n  api:\n    enabled: false\n  ingest:\n    enabled: false\noutbound:\n  allow: [127.0.0.0/8]\n{extra}",
            dir.path().join("targets.yaml").display()
        );
        std::fs::write(dir.path().join("config.yaml"), config).expect("config");
        let child = Command::new(binary)
            .arg("serve")
            .arg("--config")
            .arg(dir.path().join("config.yaml"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("log")).expect("log"))
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "start {}: {e} (build it with cargo build --release)",
                    binary.display()
                )
            });
        let svc = Service {
            child,
            port,
            _dir: dir,
        };
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = client.get(svc.url("/readyz")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "alert-publisher did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        svc
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// (current RSS, peak RSS) in MiB.
    fn rss_mib(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn alert(n: usize, severity: &str) -> Value {
    json!({"status": "firing", "labels": {"alertname": "Bench", "n": n.to_string(), "severity": severity},
           "annotations": {"summary": format!("bench alert {n}")}, "startsAt": "2026-11-23T10:00:00Z",
           "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus/graph", "fingerprint": format!("{n:016x}")})
}

fn webhook(alerts: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({"version": "4", "status": "firing", "receiver": "bench", "groupKey": "bench",
        "groupLabels": {"alertname": "Bench"}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
        "truncatedAlerts": 0, "alerts": alerts}))
    .unwrap_or_default()
}

fn four_targets(sinks: &[WebhookSink]) -> String {
    sinks
        .iter()
        .enumerate()
        .fold(String::new(), |mut y, (i, s)| {
            let _ = writeln!(
                y,
                "- name: sink-{i}\n  type: webhook\n  url: {}\n  options: {{timeout: 30s}}",
                s.url("/hook")
            );
            y
        })
}

/// Deliveries the sinks have answered with a 2xx so far.
fn delivered(sinks: &[WebhookSink]) -> usize {
    sinks.iter().map(WebhookSink::delivered_count).sum()
}

async fn wait_total(sinks: &[WebhookSink], n: usize, timeout: Duration) -> Instant {
    let started = Instant::now();
    loop {
        let got = delivered(sinks);
        if got >= n {
            return Instant::now();
        }
        assert!(
            started.elapsed() < timeout,
            "only {got} of {n} deliveries after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const DELIVERY: &str = "delivery:\n  concurrency: 128\n  poll_interval: 200ms\n";

/// What one end-to-end run measured.
struct Throughput {
    /// Notifications per second until the last one landed.
    rate: f64,
    /// Seconds until the last delivery.
    secs: f64,
    /// Seconds until the last webhook was accepted (stored).
    accepted_secs: f64,
    /// Notifications delivered by then.
    delivered_by_accept: usize,
    /// Service RSS idle and peak (MiB).
    rss: (f64, f64),
    /// CPU seconds the service used for the run.
    cpu: f64,
}

impl Throughput {
    /// The result column of an end-to-end line (`xtask bench --repeat` reads its numbers).
    fn summary(&self) -> String {
        format!(
            "{:.0} notifications/s ({:.2} s; all accepted after {:.2} s, {} delivered by then; service CPU {:.2} s)",
            self.rate, self.secs, self.accepted_secs, self.delivered_by_accept, self.cpu
        )
    }
}

/// N distinct alerts in webhooks of 100, four targets; notifications per second until the last lands.
async fn throughput(opts: &Opts, store: Option<&str>) -> Throughput {
    let sinks = [
        WebhookSink::start().await,
        WebhookSink::start().await,
        WebhookSink::start().await,
        WebhookSink::start().await,
    ];
    let svc = Service::start(&opts.binary, store, &four_targets(&sinks), DELIVERY).await;
    let idle = svc.rss_mib().0;
    let cpu_before = testkit::cpu_secs(svc.child.id());
    let client = reqwest::Client::new();
    let bodies: Vec<Vec<u8>> = (0..opts.alerts)
        .collect::<Vec<_>>()
        .chunks(100)
        .map(|c| webhook(c.iter().map(|n| alert(*n, "warning")).collect()))
        .collect();
    let started = Instant::now();
    stream::iter(bodies)
        .for_each_concurrent(4, |b| {
            let client = client.clone();
            let url = svc.url("/webhook");
            async move {
                let r = client.post(url).body(b).send().await.expect("post");
                assert!(r.status().is_success(), "ingest answered {}", r.status());
            }
        })
        .await;
    let accepted_secs = started.elapsed().as_secs_f64();
    let delivered_by_accept = delivered(&sinks);
    let done = wait_total(&sinks, opts.alerts * 4, Duration::from_secs(300)).await;
    let secs = (done - started).as_secs_f64();
    Throughput {
        rate: (opts.alerts * 4) as f64 / secs,
        secs,
        accepted_secs,
        delivered_by_accept,
        rss: (idle, svc.rss_mib().1),
        cpu: testkit::cpu_secs(svc.child.id()) - cpu_before,
    }
}

/// The same workload through Alertmanager 0.25 to four receivers (one group per alert).
async fn alertmanager(opts: &Opts) -> (f64, f64, f64) {
    let sinks = [
        WebhookSink::start().await,
        WebhookSink::start().await,
        WebhookSink::start().await,
        WebhookSink::start().await,
    ];
    let mut config = AlertmanagerConfig::new(sinks[0].url("/hook"));
    config.also_send_to = sinks[1..].iter().map(|s| s.url("/hook")).collect();
    config.group_by = vec!["...".to_owned()];
    config.group_wait = Duration::ZERO;
    config.group_interval = Duration::from_secs(60);
    config.send_resolved = false;
    let am = Alertmanager::start(config).await;
    let client = reqwest::Client::new();
    let batches: Vec<Value> = (0..opts.alerts)
        .collect::<Vec<_>>()
        .chunks(100)
        .map(|c| Value::Array(c.iter().map(|n| json!({"labels": {"alertname": "Bench", "n": n.to_string()}, "annotations": {"summary": "x"}})).collect()))
        .collect();
    let cpu_before = testkit::cpu_secs(am.pid());
    let started = Instant::now();
    for b in batches {
        let r = client
            .post(format!("{}/api/v2/alerts", am.url()))
            .json(&b)
            .send()
            .await
            .expect("post to alertmanager");
        assert!(r.status().is_success());
    }
    let done = wait_total(&sinks, opts.alerts * 4, Duration::from_secs(300)).await;
    let secs = (done - started).as_secs_f64();
    let cpu = testkit::cpu_secs(am.pid()) - cpu_before;
    ((opts.alerts * 4) as f64 / secs, secs, cpu)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Posts `total` webhooks of one alert each, one every millisecond, from a thread and runtime
/// of its own (the sinks' work never delays the schedule); each request is a task of its own,
/// at most 256 at once. When the thread was not scheduled for more than 10 ms, the pace
/// resumes from then instead of catching up in a burst at several times the rate: the load
/// stays steady, and the rate actually sent is reported. Returns when each alert's POST went
/// out, by fingerprint, and how long sending took.
fn paced_load(url: String, total: usize) -> (HashMap<String, Instant>, Duration) {
    std::thread::Builder::new()
        .name("load".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("load runtime");
            rt.block_on(async move {
                let client = reqwest::Client::new();
                let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(256));
                let mut posts = tokio::task::JoinSet::new();
                let started = tokio::time::Instant::now();
                let mut origin = started;
                let mut k = 0u64;
                for n in 0..total {
                    let due = origin + Duration::from_millis(k);
                    if tokio::time::Instant::now() > due + Duration::from_millis(10) {
                        origin = tokio::time::Instant::now();
                        k = 0;
                    }
                    tokio::time::sleep_until(origin + Duration::from_millis(k)).await;
                    k += 1;
                    let slot = slots.clone().acquire_owned().await.expect("slots");
                    let (client, url) = (client.clone(), url.clone());
                    let body = webhook(vec![alert(n, "warning")]);
                    posts.spawn(async move {
                        let sent = Instant::now();
                        let r = client.post(url).body(body).send().await.expect("post");
                        assert!(r.status().is_success(), "ingest answered {}", r.status());
                        drop(slot);
                        (format!("{n:016x}"), sent)
                    });
                }
                let took = started.elapsed();
                let mut sent = HashMap::with_capacity(total);
                while let Some(done) = posts.join_next().await {
                    let (fp, at) = done.expect("post task");
                    sent.insert(fp, at);
                }
                (sent, took)
            })
        })
        .expect("load thread")
        .join()
        .expect("load")
}

/// A steady 1,000 alerts/s, one alert per webhook; ingest → delivery latency at one target.
async fn latency(opts: &Opts) -> (f64, f64, usize, f64) {
    let sinks = [
        WebhookSink::start().await,
        WebhookSink::start().await,
        WebhookSink::start().await,
        WebhookSink::start().await,
    ];
    let svc = Service::start(&opts.binary, None, &four_targets(&sinks), DELIVERY).await;
    let total = 1000 * opts.latency_secs as usize;
    let url = svc.url("/webhook");
    let (sent, took) = tokio::task::spawn_blocking(move || paced_load(url, total))
        .await
        .expect("load");
    wait_total(&sinks[..1], total, Duration::from_secs(120)).await;
    let mut lat: Vec<f64> = sinks[0]
        .delivered()
        .iter()
        .filter_map(|r| {
            let fp = r.json()["alerts"][0]["fingerprint"].as_str()?.to_owned();
            Some((r.received_at - *sent.get(&fp)?).as_secs_f64() * 1000.0)
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    (
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.len(),
        total as f64 / took.as_secs_f64(),
    )
}

/// 10,000 alerts in one webhook to a simulated PagerDuty limited per routing key; the
/// publisher's proactive limit matches it. Zero 429s, zero loss, critical first. Also the
/// service's RSS before the storm and its peak (VmHWM) once every alert was delivered, in MiB.
async fn storm(opts: &Opts) -> (usize, usize, usize, String, f64, (f64, f64)) {
    // 100 deliveries a second: slots 10 ms apart, wider than the scheduling jitter of a busy
    // 2-core machine, so the order the simulator sees is the order the engine chose.
    let per_minute = 6_000u32;
    let sim = PagerDutySim::start_with(PagerDutySimConfig {
        events_per_window: per_minute,
        window: Duration::from_secs(60),
        ..Default::default()
    })
    .await;
    let key = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY01";
    let targets = format!(
        "- name: pd\n  type: pagerduty\n  url: {}\n  options: {{routing_key: {key}, rate_limit: {{per_minute: {}, burst: 10}}}}\n",
        sim.url(),
        // A token bucket lets `burst + rate` through in a minute, and a late send can move an
        // event into the next window: stay 2 % inside it.
        per_minute / 50 * 49 - 10
    );
    let svc = Service::start(
        &opts.binary,
        None,
        &targets,
        "delivery:\n  concurrency: 64\n  poll_interval: 100ms\n",
    )
    .await;
    let alerts: Vec<Value> = (0..opts.storm)
        .map(|n| alert(n, if n % 10 == 0 { "critical" } else { "warning" }))
        .collect();
    let idle = svc.rss_mib().0;
    let started = Instant::now();
    let r = reqwest::Client::new()
        .post(svc.url("/webhook"))
        .body(webhook(alerts))
        .send()
        .await
        .expect("post storm");
    assert!(
        r.status().is_success(),
        "storm ingest answered {}",
        r.status()
    );
    let deadline = Instant::now() + Duration::from_secs(600);
    while sim.alerts().len() < opts.storm && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let peak = svc.rss_mib().1;
    let requests = sim.requests();
    let accepted: Vec<String> = requests
        .iter()
        .filter(|r| r.status == Some(202))
        .filter_map(|r| {
            r.json()
                .and_then(|j| j["payload"]["severity"].as_str().map(str::to_owned))
        })
        .collect();
    let last_critical = accepted.iter().rposition(|s| s == "critical").unwrap_or(0);
    // Other alerts the simulator accepted before the last critical one: 0 means every critical
    // alert came first; a few at the boundary mean sends one slot apart crossed on the way.
    let overtaken = accepted[..last_critical]
        .iter()
        .filter(|s| *s != "critical")
        .count();
    (
        sim.count_status(429),
        sim.alerts().len(),
        opts.storm,
        if overtaken == 0 {
            "true".to_owned()
        } else {
            format!("false ({overtaken} others before the last critical)")
        },
        secs,
        (idle, peak),
    )
}

/// A webhook target limited to 120 deliveries a minute gets 30 `info` alerts and, once they
/// are under way, one `critical` one; `rounds` times. Returns, for each round, how many
/// deliveries went out between the critical alert's arrival and its own delivery.
async fn priority(opts: &Opts) -> Vec<usize> {
    let sink = WebhookSink::start().await;
    let targets = format!(
        "- name: limited\n  type: webhook\n  url: {}\n  delivery:\n    rate_limit: {{per_minute: 120, burst: 1}}\n",
        sink.url("/hook")
    );
    let svc = Service::start(
        &opts.binary,
        None,
        &targets,
        "delivery:\n  poll_interval: 100ms\n",
    )
    .await;
    let client = reqwest::Client::new();
    let post = |body: Value| {
        client
            .post(svc.url("/api/v2/alerts"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let mut ahead = Vec::new();
    for round in 0..5 {
        let round = round.to_string();
        let base = sink.requests().len();
        for i in 0..30 {
            let labels = json!({"alertname": "Chatter", "severity": "info", "round": round, "n": i.to_string()});
            post(json!([{ "labels": labels }]))
                .await
                .expect("post info");
        }
        sink.wait_for_requests(base + 3, Duration::from_secs(60))
            .await;
        let before = sink.requests().len();
        let labels = json!({"alertname": "Outage", "severity": "critical", "round": round});
        post(json!([{ "labels": labels }]))
            .await
            .expect("post critical");
        sink.wait_for_requests(base + 31, Duration::from_secs(60))
            .await;
        let at = sink
            .requests()
            .iter()
            .position(|r| {
                let labels = &r.json()["alerts"][0]["labels"];
                labels["alertname"] == "Outage" && labels["round"] == round.as_str()
            })
            .unwrap_or(usize::MAX);
        ahead.push(at.saturating_sub(before));
    }
    ahead
}

/// Stats and health endpoints under load from 32 connections while deliveries run.
async fn stats_api(opts: &Opts) -> Vec<(String, f64, f64, usize)> {
    let sinks = [
        WebhookSink::start().await,
        WebhookSink::start().await,
        WebhookSink::start().await,
        WebhookSink::start().await,
    ];
    let svc = Service::start(&opts.binary, None, &four_targets(&sinks), DELIVERY).await;
    let client = reqwest::Client::new();
    let load_url = svc.url("/webhook");
    let load_client = client.clone();
    let stop = Instant::now() + Duration::from_secs(opts.stats_secs * 3 + 2);
    let load = tokio::spawn(async move {
        let mut n = 1_000_000;
        while Instant::now() < stop {
            let _ = load_client
                .post(&load_url)
                .body(webhook((n..n + 20).map(|i| alert(i, "warning")).collect()))
                .send()
                .await;
            n += 20;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let mut out = Vec::new();
    for path in [
        "/api/v2/publishing/stats",
        "/api/v2/publishing/health",
        "/api/v2/publishing/trends",
        "/api/v2/publishing/queue/stats",
    ] {
        let url = svc.url(path);
        if client
            .get(&url)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
            == 404
        {
            continue;
        }
        let end = Instant::now() + Duration::from_secs(opts.stats_secs);
        let workers = (0..32).map(|_| {
            let client = client.clone();
            let url = url.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                while Instant::now() < end {
                    let t = Instant::now();
                    if let Ok(r) = client.get(&url).send().await {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                }
                lat
            })
        });
        let mut lat: Vec<f64> = Vec::new();
        for w in futures::future::join_all(workers).await {
            lat.extend(w.unwrap_or_default());
        }
        lat.sort_by(f64::total_cmp);
        out.push((
            path.to_owned(),
            lat.len() as f64 / opts.stats_secs as f64,
            percentile(&lat, 0.99),
            lat.len(),
        ));
    }
    load.abort();
    out
}

/// The targets of the parallel phase, each a webhook at a sink of its own.
const PARALLEL_TARGETS: [&str; 5] = ["t1", "t2", "t3", "t4", "t5"];
/// Clients of the parallel phase's closed loop: each sends its next request when the last
/// answer is in.
const PARALLEL_CLIENTS: usize = 8;
/// Requests per client before the measured loop (connections opened, nothing counted but
/// failures).
const PARALLEL_WARMUP: usize = 5;
/// The p99 that TN-058 set for a parallel publish to 5 targets, in milliseconds.
const TN058_P99_MS: f64 = 500.0;

/// A webhook target that answers 200 at once and only counts the requests it received: at
/// tens of thousands of deliveries a second a recording sink would hold gigabytes, and its
/// bookkeeping would take CPU from the service.
struct CountingSink {
    addr: SocketAddr,
    count: Arc<AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

impl CountingSink {
    async fn start() -> CountingSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a sink");
        let addr = listener.local_addr().expect("sink address");
        let count = Arc::new(AtomicUsize::new(0));
        let counted = count.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |_body: bytes::Bytes| {
                // Counted once the body is read and before the answer goes out: when the
                // service has its answer, the count includes it.
                counted.fetch_add(1, Ordering::Relaxed);
                async {}
            }),
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        CountingSink {
            addr,
            count,
            server,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Requests received since the last call.
    fn take(&self) -> usize {
        self.count.swap(0, Ordering::Relaxed)
    }
}

impl Drop for CountingSink {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// One form of the parallel publish: its path and body, and how its answer says that every
/// target delivered.
#[derive(Clone, Copy)]
enum ParallelForm {
    /// `POST /api/v2/publishing/parallel/targets` with `targets` and a Prometheus-style alert.
    Ours,
    /// `POST /api/v2/publishing/parallel` with `target_names` and the original's `EnrichedAlert`.
    Original,
}

impl ParallelForm {
    fn path(self) -> &'static str {
        match self {
            ParallelForm::Ours => "/api/v2/publishing/parallel/targets",
            ParallelForm::Original => "/api/v2/publishing/parallel",
        }
    }

    fn body(self) -> Vec<u8> {
        let labels = json!({"alertname": "Bench", "severity": "critical"});
        let annotations = json!({"summary": "s"});
        let body = match self {
            ParallelForm::Ours => json!({
                "alert": {"labels": labels, "annotations": annotations},
                "targets": PARALLEL_TARGETS,
            }),
            ParallelForm::Original => json!({
                "alert": {"alert": {
                    "fingerprint": "a1b2c3d4e5f60718", "alert_name": "Bench", "status": "firing",
                    "labels": labels, "annotations": annotations,
                    "starts_at": "2026-11-13T10:00:00Z",
                }},
                "target_names": PARALLEL_TARGETS,
            }),
        };
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// `Ok` for a 200 naming every target as delivered; otherwise a short reason (its status
    /// and error code, or what the answer lacked) under which failures are counted.
    fn check(self, status: u16, body: &[u8]) -> Result<(), String> {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        if status != 200 {
            let code = v["error"]["code"].as_str().unwrap_or("no error code");
            return Err(format!("{status} {code}"));
        }
        let n = PARALLEL_TARGETS.len() as u64;
        let (results, delivered, count): (&Value, fn(&Value) -> bool, _) = match self {
            ParallelForm::Ours => (
                &v["report"]["results"],
                |r: &Value| r["outcome"] == "delivered",
                v["report"]["succeeded"].as_u64(),
            ),
            ParallelForm::Original => (
                &v["results"],
                |r: &Value| r["success"] == true,
                v["success_count"].as_u64(),
            ),
        };
        let listed = results.as_array().map_or(0, |r| r.len());
        let ok = results
            .as_array()
            .map_or(0, |r| r.iter().filter(|r| delivered(r)).count());
        if v["success"] == true && count == Some(n) && listed == n as usize && ok == n as usize {
            Ok(())
        } else {
            Err(format!("200 with {ok} of {n} delivered"))
        }
    }
}

/// What a closed loop of clients got from one form.
#[derive(Default)]
struct LoopResult {
    /// Latencies of every answered request (failures included), in milliseconds.
    lat: Vec<f64>,
    /// Requests sent.
    requests: usize,
    /// Requests without a 200 naming every target delivered, by reason.
    failures: BTreeMap<String, usize>,
    /// From the first request out to the last answer in.
    secs: f64,
}

impl LoopResult {
    fn merge(&mut self, other: LoopResult) {
        self.lat.extend(other.lat);
        self.requests += other.requests;
        for (why, n) in other.failures {
            *self.failures.entry(why).or_default() += n;
        }
        self.secs += other.secs;
    }

    fn failed(&self) -> usize {
        self.failures.values().sum()
    }

    fn failures_text(&self) -> String {
        if self.failures.is_empty() {
            return "0".to_owned();
        }
        let each: Vec<String> = self
            .failures
            .iter()
            .map(|(why, n)| format!("{n} × {why}"))
            .collect();
        format!("**{}** ({})", self.failed(), each.join(", "))
    }
}

/// `clients` clients each posting the form's body to `url`, the next request once the last
/// answer is in: `per_client` requests each, or as many as they start within `time`.
async fn closed_loop(
    client: &reqwest::Client,
    url: &str,
    form: ParallelForm,
    clients: usize,
    per_client: Option<usize>,
    time: Duration,
) -> LoopResult {
    let body = bytes::Bytes::from(form.body());
    let started = Instant::now();
    let end = started + time;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (client, url, body) = (client.clone(), url.to_owned(), body.clone());
        tasks.spawn(async move {
            let mut out = LoopResult::default();
            while per_client.map_or(Instant::now() < end, |n| out.requests < n) {
                out.requests += 1;
                let sent = Instant::now();
                let answer = match client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        r.bytes().await.map(|b| (status, b))
                    }
                    Err(e) => Err(e),
                };
                let verdict = match answer {
                    Ok((status, b)) => {
                        out.lat.push(sent.elapsed().as_secs_f64() * 1000.0);
                        form.check(status, &b)
                    }
                    Err(e) => Err(format!("no answer ({e})")),
                };
                if let Err(why) = verdict {
                    *out.failures.entry(why).or_default() += 1;
                }
            }
            out
        });
    }
    let mut all = LoopResult::default();
    while let Some(done) = tasks.join_next().await {
        all.merge(done.expect("client task"));
    }
    all.secs = started.elapsed().as_secs_f64();
    all
}

/// What the parallel phase measured for one form.
struct ParallelRun {
    form: ParallelForm,
    /// The warm-up's requests (only their failures are reported).
    warm: LoopResult,
    /// The measured requests.
    run: LoopResult,
    /// Requests the sinks received during the measured slices, and 5 × the requests that
    /// succeeded: equal when every success was a delivery to each target and nothing else
    /// reached them (a failed request may still have reached some).
    at_sinks: (usize, usize),
    /// CPU seconds the service used for the measured slices.
    cpu: f64,
}

/// The parallel phase's load, on a thread and runtime of its own (the sinks' work never
/// delays a client's clock), one client pool throughout: a warm-up of each form, then the
/// forms in turns of one second until each had `secs`, so a machine whose speed drifts
/// affects both alike. Each turn's clients wait for their last answer, so the sinks' counts
/// and the service's CPU time (`pid`) between turns belong to one form.
fn parallel_load(
    forms: Vec<(ParallelForm, String)>,
    secs: u64,
    sinks: Arc<Vec<CountingSink>>,
    pid: u32,
) -> Vec<ParallelRun> {
    std::thread::Builder::new()
        .name("parallel-load".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("load runtime");
            rt.block_on(async move {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(90))
                    .build()
                    .expect("client");
                let c = PARALLEL_CLIENTS;
                let mut runs = Vec::new();
                for (form, url) in &forms {
                    let warm = closed_loop(
                        &client,
                        url,
                        *form,
                        c,
                        Some(PARALLEL_WARMUP),
                        Duration::ZERO,
                    )
                    .await;
                    runs.push(ParallelRun {
                        form: *form,
                        warm,
                        run: LoopResult::default(),
                        at_sinks: (0, 0),
                        cpu: 0.0,
                    });
                }
                // The warm-ups' deliveries have landed (each client waited for its answers).
                for s in sinks.iter() {
                    s.take();
                }
                for _ in 0..secs {
                    for ((form, url), r) in forms.iter().zip(&mut runs) {
                        let cpu_before = testkit::cpu_secs(pid);
                        let turn =
                            closed_loop(&client, url, *form, c, None, Duration::from_secs(1)).await;
                        r.cpu += testkit::cpu_secs(pid) - cpu_before;
                        r.at_sinks.0 += sinks.iter().map(CountingSink::take).sum::<usize>();
                        r.at_sinks.1 += (turn.requests - turn.failed()) * PARALLEL_TARGETS.len();
                        r.run.merge(turn);
                    }
                }
                for r in &mut runs {
                    r.run.lat.sort_by(f64::total_cmp);
                }
                runs
            })
        })
        .expect("load thread")
        .join()
        .expect("load")
}

/// Both forms of `POST …/parallel…` to 5 webhook targets at fast sinks, from a closed loop of
/// 8 clients for `parallel_secs` each: requests/s, latency, failures, what the sinks got.
async fn parallel(opts: &Opts) -> Vec<ParallelRun> {
    let mut sinks = Vec::new();
    for _ in PARALLEL_TARGETS {
        sinks.push(CountingSink::start().await);
    }
    let targets = PARALLEL_TARGETS
        .iter()
        .zip(&sinks)
        .fold(String::new(), |mut y, (name, s)| {
            let _ = writeln!(y, "- name: {name}\n  type: webhook\n  url: {}", s.url());
            y
        });
    // No active probes: every request a sink receives is a delivery of the load.
    let extra = format!("{DELIVERY}discovery:\n  probes:\n    interval: 0s\n");
    let svc = Service::start(&opts.binary, None, &targets, &extra).await;
    let forms = [ParallelForm::Ours, ParallelForm::Original]
        .into_iter()
        .map(|f| (f, svc.url(f.path())))
        .collect();
    let (sinks, pid, secs) = (Arc::new(sinks), svc.child.id(), opts.parallel_secs);
    tokio::task::spawn_blocking(move || parallel_load(forms, secs, sinks, pid))
        .await
        .expect("load")
}

#[tokio::main]
async fn main() {
    let opts = parse_args().unwrap_or_else(|code| std::process::exit(code));
    std::fs::create_dir_all(&opts.out).expect("create output dir");
    let mut report = String::new();
    let mut line = |s: String| {
        eprintln!("{s}");
        report.push_str(&s);
        report.push('\n');
    };
    line(format!(
        "# alert-publisher bench ({} alerts, {} cores)",
        opts.alerts,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    ));
    line(String::new());
    line("| measurement | result |".to_owned());
    line("|---|---|".to_owned());
    let mut ours = None;
    if opts.wants("sqlite") {
        let run = throughput(&opts, None).await;
        let (idle, peak) = run.rss;
        line(format!(
            "| end-to-end, SQLite (FULL sync), {} alerts × 4 webhook targets | {} |",
            opts.alerts,
            run.summary()
        ));
        line(format!(
            "| service RSS idle / peak (SQLite run) | {idle:.1} MiB / {peak:.1} MiB |"
        ));
        ours = Some(run.rate);
    }
    if opts.wants("alertmanager") {
        let (am, am_secs, am_cpu) = alertmanager(&opts).await;
        line(format!(
            "| same workload through Alertmanager 0.25 (in memory) | {am:.0} notifications/s ({am_secs:.2} s; Alertmanager CPU {am_cpu:.2} s) |"
        ));
        if let Some(ours) = ours {
            line(format!(
                "| ratio ours (SQLite) / Alertmanager | {:.2} |",
                ours / am
            ));
        }
    }
    if opts.wants("postgres") {
        let pg = Postgres::start().await;
        let url = pg.create_database("bench");
        let pg = throughput(&opts, Some(&url)).await;
        line(format!(
            "| end-to-end, PostgreSQL 15, same workload | {} |",
            pg.summary()
        ));
    }
    if opts.wants("latency") {
        let (p50, p99, n, rate) = latency(&opts).await;
        line(format!(
            "| ingest → delivery latency at 1,000 alerts/s ({n} alerts, sent at {rate:.0}/s) | p50 {p50:.1} ms, p99 {p99:.1} ms |"
        ));
    }
    if opts.wants("stats") {
        for (path, rps, p99, n) in stats_api(&opts).await {
            line(format!(
                "| `GET {path}` under delivery load, 32 connections ({n} requests) | {rps:.0} req/s, p99 {p99:.2} ms |"
            ));
        }
    }
    if opts.wants("storm") {
        let (throttled, delivered, sent, critical_first, storm_secs, (idle, peak)) =
            storm(&opts).await;
        line(format!(
            "| storm: {sent} alerts in one webhook to a simulated PagerDuty (proactive rate + burst = its limit per sliding minute) | {throttled} × 429, {delivered}/{sent} delivered, critical first: {critical_first}, {storm_secs:.1} s |"
        ));
        line(format!(
            "| service RSS before the storm / peak once all {sent} were delivered | {idle:.1} MiB / {peak:.1} MiB |"
        ));
    }
    if opts.wants("priority") {
        let ahead = priority(&opts).await;
        line(format!(
            "| priority under a rate limit: a webhook limited to 120/min, 30 `info` alerts then 1 `critical`, 5 rounds | deliveries between the critical alert's arrival and its own: {ahead:?} (0 or 1 is next in line) |"
        ));
    }
    if opts.wants("parallel") {
        for r in parallel(&opts).await {
            let (what, form) = match r.form {
                ParallelForm::Ours => (
                    format!(
                        "parallel publish to 5 webhook targets, {PARALLEL_CLIENTS} clients in a closed loop for {} s (turns of 1 s, alternating with the form below): our form (`POST {}`, `targets`)",
                        opts.parallel_secs,
                        r.form.path()
                    ),
                    "our form",
                ),
                ParallelForm::Original => (
                    format!(
                        "the same, the original's form (`POST {}`, `target_names`, an `EnrichedAlert`)",
                        r.form.path()
                    ),
                    "the original's form",
                ),
            };
            let run = &r.run;
            let (p50, p99) = (percentile(&run.lat, 0.5), percentile(&run.lat, 0.99));
            let max = run.lat.last().copied().unwrap_or(0.0);
            let warm = if r.warm.failed() == 0 {
                String::new()
            } else {
                format!("; warm-up failures {}", r.warm.failures_text())
            };
            line(format!(
                "| {what} | {:.0} req/s ({} requests), p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms; failed: {}{warm}; the sinks received {} deliveries (5 × the successes: {}); service CPU {:.2} s |",
                run.requests as f64 / run.secs,
                run.requests,
                run.failures_text(),
                r.at_sinks.0,
                r.at_sinks.1,
                r.cpu,
            ));
            let verdict = match (p99 < TN058_P99_MS, run.failed() + r.warm.failed()) {
                (true, 0) => "met".to_owned(),
                (true, n) => format!("met for latency, but {n} requests failed"),
                (false, _) => "**not met**".to_owned(),
            };
            line(format!(
                "| TN-058 target, p99 under {TN058_P99_MS:.0} ms for 5 targets, {form} | p99 {p99:.1} ms: {verdict} |"
            ));
        }
    }
    let path = opts.out.join(if opts.alerts <= 1000 {
        "quick.md"
    } else {
        "full.md"
    });
    std::fs::write(&path, &report).expect("write report");
    eprintln!("\nwritten to {}", path.display());
}
