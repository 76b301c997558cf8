//! The notification history at scale (`cargo xtask bench --only history`, or
//! `cargo bench -p queue --bench history -- [--jobs N] [--runs N] [--only sqlite|postgres]`).
//!
//! 1. Write path: the same enqueue (300 requests of 10 alerts × 3 targets, each request its
//!    own transaction, SQLite with `synchronous=FULL`) without receipts and with them; the
//!    ratio is what recording the history costs ingest at the store.
//! 2. Queries: a store filled by direct batched SQL (`INSERT … SELECT` over a generated series:
//!    ~333k notifications × 3 targets = 1,000,000 jobs, 60,000 alerts of 50 alertnames, labels
//!    team/env/severity/instance, 85 % delivered, 6 % superseded, 3 % dead, 1 % pending,
//!    0.2 % in flight, one to three attempts each, 5 % filtered at a fourth target, 5 %
//!    deduplicated), then each typical query 200 times through `JobStore::history` / `story`:
//!    p50 and p99 per query, on SQLite and on a throwaway PostgreSQL 15.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{TimeZone, Utc};
use publish::{Alert, AlertStatus, Fingerprint, GroupContext, Labels};
use queue::{
    DeliveryState, FilteredTarget, HistoryFilter, JobStore, NewJob, NewReceipt, SqlStore,
    StoreOptions,
};
use sqlx::Executor;

const TARGETS: [&str; 3] = ["pd-prod", "slack-ops", "hook-team"];
/// Distinct alerts (fingerprints) in the filled store.
const ALERTS: i64 = 60_000;
/// Start of the filled store's time range (unix ms); notifications are 1.8 s apart (a week).
const BASE_MS: i64 = 1_764_547_200_000;
const STEP_MS: i64 = 1_800;

struct Opts {
    jobs: i64,
    runs: usize,
    sqlite: bool,
    postgres: bool,
    /// Only the write path.
    write_only: bool,
}

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = Opts {
        jobs: 1_000_000,
        runs: 200,
        sqlite: true,
        postgres: true,
        write_only: false,
    };
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--jobs" => o.jobs = value.parse().expect("--jobs N"),
            "--runs" => o.runs = value.parse().expect("--runs N"),
            "--write-only" => {
                o.write_only = true;
                i += 1;
                continue;
            }
            "--only" => {
                o.sqlite = value.contains("sqlite");
                o.postgres = value.contains("postgres");
            }
            // cargo bench passes --bench
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

fn alert(k: i64, status: AlertStatus) -> Alert {
    let labels: Labels = [
        ("alertname", format!("Alert{}", k % 50)),
        ("team", format!("team{}", k % 8)),
        (
            "env",
            ["prod", "staging", "dev"][(k % 3) as usize].to_owned(),
        ),
        (
            "severity",
            ["critical", "warning", "info", "warning"][(k % 4) as usize].to_owned(),
        ),
        ("instance", format!("host-{}:9100", k % 5000)),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b))
    .collect();
    Alert {
        status,
        fingerprint: Fingerprint::from_labels(&labels),
        labels,
        annotations: Labels::new(),
        starts_at: Utc::now(),
        ends_at: None,
        generator_url: String::new(),
    }
}

/// Enqueues `requests` requests of 10 alerts × 3 targets, one after the other; seconds.
async fn write_path(store: &Arc<dyn JobStore>, requests: i64, receipts: bool, seed: i64) -> f64 {
    let started = Instant::now();
    for r in 0..requests {
        let mut jobs = Vec::new();
        let mut recs = Vec::new();
        for a in 0..10 {
            // Every notification new (alternating status), so nothing is deduplicated.
            let k = seed + r * 10 + a;
            let alert = alert(k, AlertStatus::Firing);
            for t in TARGETS {
                let job = NewJob::new(t, alert.clone(), GroupContext::default(), Duration::ZERO);
                jobs.push(if receipts {
                    job.with_receipt(recs.len())
                } else {
                    job
                });
            }
            recs.push(NewReceipt {
                fingerprint: alert.fingerprint.to_string(),
                alertname: alert.name().to_owned(),
                status: alert.status,
                labels: alert.labels.clone(),
                annotations: alert.annotations.clone(),
                source: "webhook".to_owned(),
                receiver: "bench".to_owned(),
                group_key: "{}:{}".to_owned(),
                filtered: vec![FilteredTarget {
                    target: "audit".to_owned(),
                    reason: "severity \"warning\" not allowed (critical)".to_owned(),
                }],
            });
        }
        if !receipts {
            recs.clear();
        }
        store
            .enqueue_with_receipts(recs, jobs, Utc::now())
            .await
            .expect("enqueue");
    }
    started.elapsed().as_secs_f64()
}

/// Fills the store's tables with `jobs` jobs by generated inserts (see the crate doc).
async fn fill(pool: &sqlx::AnyPool, pg: bool, jobs: i64) {
    let receipts = jobs / 3;
    let series = |n: &str| {
        if pg {
            format!("SELECT generate_series(1::bigint, {n}) AS i")
        } else {
            format!(
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) SELECT i FROM s"
            )
        }
    };
    let hex = |e: &str| {
        if pg {
            format!("lpad(to_hex({e}), 16, '0')")
        } else {
            format!("printf('%016x', {e})")
        }
    };
    let (lo, hi) = (BASE_MS, STEP_MS);
    // k: the alert; each has about receipts / ALERTS notifications.
    let k = format!("((i * 7919) % {ALERTS})");
    let env = format!("(CASE {k} % 3 WHEN 0 THEN 'prod' WHEN 1 THEN 'staging' ELSE 'dev' END)");
    let sev =
        format!("(CASE {k} % 4 WHEN 0 THEN 'critical' WHEN 2 THEN 'info' ELSE 'warning' END)");
    let labels = format!(
        "'{{\"alertname\":\"Alert' || ({k} % 50) || '\",\"env\":\"' || {env} || '\",\"instance\":\"host-' || ({k} % 5000) || ':9100\",\"severity\":\"' || {sev} || '\",\"team\":\"team' || ({k} % 8) || '\"}}'"
    );
    let sql = format!(
        "INSERT INTO receipts (id, fingerprint, alertname, status, labels, annotations, received_at, source, receiver, \
         group_key, filtered, deduplicated) \
         SELECT i, {fp}, 'Alert' || ({k} % 50), CASE WHEN i % 4 = 0 THEN 'resolved' ELSE 'firing' END, {labels}, \
         '{{\"summary\":\"something is wrong\"}}', {lo} + i * {hi}, 'webhook', 'team-' || ({k} % 8), '{{}}:{{team=\"x\"}}', \
         CASE WHEN i % 20 = 0 THEN '[[\"audit\",\"severity \\\"warning\\\" not allowed (critical)\"]]' ELSE '[]' END, \
         CASE WHEN i % 20 = 7 THEN '[\"hook-audit\"]' ELSE '[]' END FROM ({series}) s",
        fp = hex(&format!("({k} * 2654435761)")),
        series = series(&receipts.to_string()),
    );
    pool.execute(sql.as_str()).await.expect("fill receipts");
    // The labels of each alert, once (as enqueue records them).
    let kk = "k";
    let alert_series = if pg {
        format!("SELECT generate_series(0::bigint, {}) AS k", ALERTS - 1)
    } else {
        format!(
            "WITH RECURSIVE a(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM a WHERE k < {}) SELECT k FROM a",
            ALERTS - 1
        )
    };
    let fp = hex(&format!("({kk} * 2654435761)"));
    for (name, value) in [
        ("alertname", format!("'Alert' || ({kk} % 50)")),
        ("team", format!("'team' || ({kk} % 8)")),
        (
            "env",
            format!("(CASE {kk} % 3 WHEN 0 THEN 'prod' WHEN 1 THEN 'staging' ELSE 'dev' END)"),
        ),
        (
            "severity",
            format!("(CASE {kk} % 4 WHEN 0 THEN 'critical' WHEN 2 THEN 'info' ELSE 'warning' END)"),
        ),
        ("instance", format!("'host-' || ({kk} % 5000) || ':9100'")),
    ] {
        let sql = format!(
            "INSERT INTO alert_labels (name, value, fingerprint) SELECT '{name}', {value}, {fp} FROM ({alert_series}) a"
        );
        pool.execute(sql.as_str()).await.expect("fill alert labels");
    }
    // Jobs: three per receipt; state by a hash of (receipt, target).
    let payload = if pg {
        "repeat('x', 300)"
    } else {
        "substr(hex(zeroblob(150)), 1, 300)"
    };
    let h = "((r.id * 31 + t.n * 17) % 1000)";
    let state = format!(
        "(CASE WHEN {h} < 850 THEN 'done' WHEN {h} < 910 THEN 'superseded' WHEN {h} < 940 THEN 'dead' \
         WHEN {h} < 950 THEN 'pending' WHEN {h} < 952 THEN 'in_flight' ELSE 'done' END)"
    );
    let targets = "(SELECT 0 AS n, 'pd-prod' AS name UNION ALL SELECT 1, 'slack-ops' UNION ALL SELECT 2, 'hook-team')";
    let sql = format!(
        "INSERT INTO jobs (id, delivery_key, target, fingerprint, status, priority, state, attempts, sort_key, created_at, \
         updated_at, next_run_at, last_error, last_error_kind, last_status_code, payload, receipt_id) \
         SELECT r.id * 3 + t.n, {key}, t.name, r.fingerprint, r.status, 1, {state}, \
         CASE WHEN {state} = 'dead' THEN 3 WHEN {state} IN ('pending', 'superseded') THEN 0 ELSE 1 END, \
         r.received_at, r.received_at, r.received_at + 500, r.received_at + 60000, \
         CASE WHEN {state} = 'dead' THEN 'HTTP 400: invalid routing key' END, CASE WHEN {state} = 'dead' THEN 'invalid' END, \
         CASE WHEN {state} = 'dead' THEN 400 ELSE 202 END, {payload}, r.id \
         FROM receipts r CROSS JOIN {targets} t",
        key = hex("(r.id * 3 + t.n)"),
    );
    pool.execute(sql.as_str()).await.expect("fill jobs");
    // Attempts: one per attempt of every job.
    let sql = "INSERT INTO attempts (job_id, attempt, at, outcome, status_code, latency_ms, error_kind, error) \
         SELECT j.id, a.n, j.updated_at - (j.attempts - a.n) * 1000, \
         CASE WHEN j.state = 'dead' AND a.n = j.attempts THEN 'dead' WHEN j.state = 'dead' THEN 'retry' ELSE 'delivered' END, \
         CASE WHEN j.state = 'dead' THEN 400 ELSE 202 END, 40 + j.id % 200, \
         CASE WHEN j.state = 'dead' THEN 'invalid' END, CASE WHEN j.state = 'dead' THEN 'HTTP 400: invalid routing key' END \
         FROM jobs j JOIN (SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3) a ON a.n <= j.attempts";
    pool.execute(sql).await.expect("fill attempts");
    if pg {
        pool.execute("SELECT setval(pg_get_serial_sequence('receipts', 'id'), (SELECT MAX(id) FROM receipts))")
            .await
            .expect("sequence");
        pool.execute(
            "SELECT setval(pg_get_serial_sequence('jobs', 'id'), (SELECT MAX(id) FROM jobs))",
        )
        .await
        .expect("sequence");
        pool.execute("VACUUM ANALYZE").await.expect("analyze");
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Runs each typical query `runs` times; one Markdown row per query.
async fn queries(
    store: &Arc<dyn JobStore>,
    runs: usize,
    receipts: i64,
    dialect: &str,
) -> Vec<String> {
    let newest = store
        .history(&HistoryFilter::default())
        .await
        .expect("history");
    let cursor = newest
        .next_cursor
        .clone()
        .map(|c| c.parse().expect("cursor"));
    let some_fp = newest.alerts[0].fingerprint.clone();
    let end = Utc
        .timestamp_millis_opt(BASE_MS + STEP_MS * receipts)
        .unwrap();
    let label = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
    let cases: Vec<(&str, HistoryFilter)> = vec![
        ("newest 50", HistoryFilter::default()),
        (
            "next page (cursor)",
            HistoryFilter {
                cursor,
                ..Default::default()
            },
        ),
        (
            "alertname",
            HistoryFilter {
                alertname: Some("Alert7".into()),
                ..Default::default()
            },
        ),
        (
            "fingerprint",
            HistoryFilter {
                fingerprint: Some(some_fp.clone()),
                ..Default::default()
            },
        ),
        (
            "target",
            HistoryFilter {
                target: Some("slack-ops".into()),
                ..Default::default()
            },
        ),
        (
            "state=delivered",
            HistoryFilter {
                state: Some(DeliveryState::Delivered),
                ..Default::default()
            },
        ),
        (
            "state=dead",
            HistoryFilter {
                state: Some(DeliveryState::Dead),
                ..Default::default()
            },
        ),
        (
            "state=pending",
            HistoryFilter {
                state: Some(DeliveryState::Pending),
                ..Default::default()
            },
        ),
        (
            "state=in_flight",
            HistoryFilter {
                state: Some(DeliveryState::InFlight),
                ..Default::default()
            },
        ),
        (
            "state=superseded",
            HistoryFilter {
                state: Some(DeliveryState::Superseded),
                ..Default::default()
            },
        ),
        (
            "state=deduplicated",
            HistoryFilter {
                state: Some(DeliveryState::Deduplicated),
                ..Default::default()
            },
        ),
        (
            "target + state=dead",
            HistoryFilter {
                target: Some("hook-team".into()),
                state: Some(DeliveryState::Dead),
                ..Default::default()
            },
        ),
        (
            "label team=team3",
            HistoryFilter {
                labels: label("team", "team3"),
                ..Default::default()
            },
        ),
        (
            "label env + severity",
            HistoryFilter {
                labels: vec![
                    ("env".into(), "prod".into()),
                    ("severity".into(), "critical".into()),
                ],
                ..Default::default()
            },
        ),
        (
            "alertname + label",
            HistoryFilter {
                alertname: Some("Alert7".into()),
                labels: label("env", "staging"),
                ..Default::default()
            },
        ),
        (
            "since/until: one hour a day ago",
            HistoryFilter {
                since: Some(end - chrono::Duration::hours(25)),
                until: Some(end - chrono::Duration::hours(24)),
                ..Default::default()
            },
        ),
        (
            "label instance (rare: 1 in 5,000)",
            HistoryFilter {
                labels: label("instance", "host-123:9100"),
                ..Default::default()
            },
        ),
    ];
    let mut out = Vec::new();
    for (name, filter) in cases {
        let mut times = Vec::with_capacity(runs);
        let mut found = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let page = store.history(&filter).await.expect("history");
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            found = page.alerts.len();
        }
        times.sort_by(f64::total_cmp);
        let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
        eprintln!("{dialect}: {name}: p50 {p50:.2} ms, p99 {p99:.2} ms ({found} found)");
        out.push(format!(
            "| {dialect} | list: {name} | {found} | {p50:.2} | {p99:.2} |"
        ));
    }
    let mut times = Vec::with_capacity(runs);
    let mut n = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let story = store.story(&some_fp).await.expect("story").expect("known");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        n = story.notifications.len();
    }
    times.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
    eprintln!("{dialect}: story: p50 {p50:.2} ms, p99 {p99:.2} ms ({n} notifications)");
    out.push(format!(
        "| {dialect} | story of one alert | {n} notifications | {p50:.2} | {p99:.2} |"
    ));
    out
}

#[tokio::main]
async fn main() {
    let o = opts();
    let mut report = vec![format!(
        "# history bench ({} jobs, {} runs per query, {} cores)\n",
        o.jobs,
        o.runs,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    )];
    let pg = if o.postgres {
        Some(testkit::Postgres::start().await)
    } else {
        None
    };
    let mut rows = Vec::new();
    for dialect in ["sqlite", "postgres"] {
        if (dialect == "sqlite" && !o.sqlite) || (dialect == "postgres" && !o.postgres) {
            continue;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let open = |name: &str| {
            let path = dir.path().join(format!("{name}.db"));
            let url = pg
                .as_ref()
                .filter(|_| dialect == "postgres")
                .map(|pg| pg.create_database(&format!("history_{name}")));
            async move {
                let store: Arc<dyn JobStore> = match url {
                    Some(url) => Arc::new(
                        SqlStore::connect_postgres(&url, StoreOptions::default())
                            .await
                            .expect("pg"),
                    ),
                    None => Arc::new(
                        SqlStore::open_sqlite(&path, StoreOptions::default())
                            .await
                            .expect("sqlite"),
                    ),
                };
                (store, path)
            }
        };
        // 1. The write path, alternating so both see the same machine.
        // First every alert new (their labels are recorded too), then the same alerts again
        // (the common case: an alert is notified many times).
        let (mut plain, mut recorded) = ([0.0; 2], [0.0; 2]);
        {
            let (a, _) = open("write_plain").await;
            let (b, _) = open("write_receipts").await;
            for pass in 0..2 {
                for round in 0..3 {
                    plain[pass] += write_path(&a, 100, false, round * 10_000).await;
                    recorded[pass] += write_path(&b, 100, true, round * 10_000).await;
                }
            }
        }
        for (pass, what) in ["new alerts", "the same alerts again"].iter().enumerate() {
            let line = format!(
                "| {dialect} | enqueue 300 requests × 10 alerts × 3 targets, {what} | without receipts {:.2} s, with {:.2} s | ratio {:.3} |",
                plain[pass],
                recorded[pass],
                recorded[pass] / plain[pass]
            );
            eprintln!("{line}");
            report.push(line);
        }
        if o.write_only {
            continue;
        }

        // 2. Queries at scale.
        let (store, path) = open("history").await;
        let started = Instant::now();
        let pool = match dialect {
            "postgres" => {
                // the store's own database
                let url = pg.as_ref().unwrap().url("history_history");
                sqlx::AnyPool::connect(&url).await.expect("pg pool")
            }
            _ => sqlx::AnyPool::connect(&format!("sqlite://{}?mode=rw", path.display()))
                .await
                .expect("sqlite pool"),
        };
        if dialect == "sqlite" {
            pool.execute("PRAGMA synchronous = OFF")
                .await
                .expect("pragma");
        }
        fill(&pool, dialect == "postgres", o.jobs).await;
        // What a recount of the job counts reads (the store's own statement): the counts are
        // kept in memory, and this runs at start-up, after bulk changes and when they are older
        // than the recount period (5 s on PostgreSQL).
        let mut times = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            sqlx::query(
                "SELECT state, priority, CASE WHEN state = 'dead' THEN target ELSE '' END AS target, \
                 COUNT(*) AS n FROM jobs GROUP BY state, priority, 3",
            )
            .fetch_all(&pool)
            .await
            .expect("count");
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let line = format!(
            "| {dialect} | recount of the jobs by state (5 times) | median {:.0} ms, range {:.0}–{:.0} ms | |",
            times[2], times[0], times[4]
        );
        eprintln!("{line}");
        report.push(line);
        pool.close().await;
        let fill_secs = started.elapsed().as_secs_f64();
        let size = if dialect == "sqlite" {
            std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
        } else {
            0.0
        };
        eprintln!(
            "{dialect}: filled {} jobs in {fill_secs:.0} s ({size:.0} MB)",
            o.jobs
        );
        report.push(format!(
            "| {dialect} | fill {} jobs by generated inserts | {fill_secs:.0} s | |",
            o.jobs
        ));
        rows.extend(queries(&store, o.runs, o.jobs / 3, dialect).await);
    }
    report.push(String::new());
    report.push("| store | query | found | p50 ms | p99 ms |".to_owned());
    report.push("|---|---|---|---|---|".to_owned());
    report.extend(rows);
    let text = report.join("\n") + "\n";
    // The report is this program's output.
    let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(out.join("history.md"), &text);
}
