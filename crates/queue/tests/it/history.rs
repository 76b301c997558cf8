//! The notification history on both dialects: receipts written with their jobs (filtered and
//! deduplicated targets included), the list with its filters and cursor, one alert's story
//! (attempts, dead letter, replay, supersede) and retention.

use std::{collections::HashSet, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use publish::{Alert, AlertStatus, GroupContext, Labels};
use queue::{
    Completion, Cursor, DeliveryState, Failure, FilteredTarget, HistoryFilter, JobFilter,
    JobStore, NewJob, NewReceipt, SqlStore, StoreOptions,
};

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let store = queue::SqlStore::open_sqlite(
                    &dir.path().join("jobs.db"),
                    Default::default(),
                )
                .await
                .unwrap();
                super::$name(std::sync::Arc::new(store)).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let (store, _) = crate::conformance::postgres_store("a").await;
                super::$name(store).await;
            }
        }
    };
}

const LEASE: Duration = Duration::from_secs(60);

fn t(s: &str) -> DateTime<Utc> {
    format!("2026-12-01T{s}Z").parse().unwrap()
}

fn alert(name: &str, team: &str, status: AlertStatus) -> Alert {
    let labels: Labels = [
        ("alertname", name),
        ("team", team),
        ("severity", "critical"),
    ]
    .iter()
    .map(|(k, v)| ((*k).into(), (*v).into()))
    .collect();
    crate::alert_of(labels, status, None)
}

fn receipt(alert: &Alert, filtered: &[(&str, &str)]) -> NewReceipt {
    NewReceipt {
        fingerprint: alert.fingerprint.to_string(),
        alertname: alert.name().to_owned(),
        status: alert.status,
        labels: alert.labels.clone(),
        annotations: [("summary".to_owned(), "disk full".to_owned())]
            .into_iter()
            .collect(),
        source: "webhook".to_owned(),
        receiver: "team-x".to_owned(),
        group_key: "{}:{}".to_owned(),
        filtered: filtered
            .iter()
            .map(|(t, r)| FilteredTarget {
                target: (*t).to_owned(),
                reason: (*r).to_owned(),
            })
            .collect(),
    }
}

/// Records `alerts` as one request at `at`, each routed to `targets`.
async fn send(
    store: &Arc<dyn JobStore>,
    alerts: &[Alert],
    targets: &[&str],
    filtered: &[(&str, &str)],
    at: DateTime<Utc>,
) -> queue::EnqueueReport {
    let mut jobs = Vec::new();
    let mut receipts = Vec::new();
    for (i, a) in alerts.iter().enumerate() {
        for t in targets {
            jobs.push(
                NewJob::new(*t, a.clone(), GroupContext::default(), Duration::from_secs(3600))
                    .with_receipt(i),
            );
        }
        receipts.push(receipt(a, filtered));
    }
    store
        .enqueue_with_receipts(receipts, jobs, at)
        .await
        .unwrap()
}

fn filter() -> HistoryFilter {
    HistoryFilter::default()
}

async fn ids(store: &Arc<dyn JobStore>, f: HistoryFilter) -> Vec<i64> {
    store
        .history(&f)
        .await
        .unwrap()
        .alerts
        .iter()
        .map(|n| n.receipt_id)
        .collect()
}

/// Claims every due job and ends each as `how` says (by target).
async fn finish(
    store: &Arc<dyn JobStore>,
    at: DateTime<Utc>,
    how: impl Fn(&str) -> Completion,
) -> Vec<i64> {
    let jobs = store.claim(100, at, LEASE).await.unwrap();
    for j in &jobs {
        assert!(
            store
                .complete(j, how(&j.target), Duration::from_millis(7), at)
                .await
                .unwrap()
        );
    }
    jobs.iter().map(|j| j.id).collect()
}

fn refused() -> Completion {
    Completion::Dead {
        failure: Failure {
            kind: "invalid".into(),
            reason: "HTTP 400: bad request".into(),
            status_code: Some(400),
        },
    }
}

fn delivered() -> Completion {
    Completion::Delivered {
        status_code: Some(202),
        vendor_state: None,
    }
}

async fn receipts_record_routing_dedup_and_outcomes(store: Arc<dyn JobStore>) {
    let a = alert("DiskFull", "sre", AlertStatus::Firing);
    let b = alert("CpuHigh", "db", AlertStatus::Firing);
    let report = send(
        &store,
        &[a.clone(), b.clone()],
        &["pd", "hook"],
        &[("slack", "severity \"critical\" not allowed (info)")],
        t("10:00:00"),
    )
    .await;
    assert_eq!((report.inserted, report.receipts.len()), (4, 2));
    finish(&store, t("10:00:01"), |target| {
        if target == "pd" { delivered() } else { refused() }
    })
    .await;

    let page = store.history(&filter()).await.unwrap();
    assert_eq!(page.alerts.len(), 2);
    assert_eq!(page.next_cursor, None);
    let newest = &page.alerts[0];
    assert_eq!(newest.alertname, "CpuHigh", "same time: the later receipt first");
    assert_eq!(newest.fingerprint, b.fingerprint.to_string());
    assert_eq!(newest.labels.get("team").map(String::as_str), Some("db"));
    assert_eq!((newest.source.as_str(), newest.receiver.as_str()), ("webhook", "team-x"));
    assert_eq!(newest.received_at, t("10:00:00"));
    let states: Vec<(&str, DeliveryState, u32)> = newest
        .targets
        .iter()
        .map(|d| (d.target.as_str(), d.state, d.attempts))
        .collect();
    assert!(states.contains(&("pd", DeliveryState::Delivered, 1)), "{states:?}");
    assert!(states.contains(&("hook", DeliveryState::Dead, 1)), "{states:?}");
    let dead = newest.targets.iter().find(|d| d.target == "hook").unwrap();
    assert_eq!(dead.last_error.as_deref(), Some("HTTP 400: bad request"));
    assert_eq!(dead.last_error_kind.as_deref(), Some("invalid"));
    assert_eq!(newest.filtered[0].target, "slack");
    assert!(newest.filtered[0].reason.contains("not allowed"));
    assert!(newest.deduplicated.is_empty());

    // A's unchanged re-send is deduplicated by both targets: recorded, no job.
    let again = send(&store, &[a.clone()], &["pd", "hook"], &[], t("10:01:00")).await;
    assert_eq!((again.inserted, again.deduplicated), (0, 2));
    let page = store.history(&filter()).await.unwrap();
    assert_eq!(page.alerts.len(), 3);
    assert_eq!(page.alerts[0].deduplicated, vec!["hook", "pd"]);
    assert!(page.alerts[0].targets.is_empty());

    // Filters.
    let [dedup, cpu, disk] = [page.alerts[0].receipt_id, page.alerts[1].receipt_id, page.alerts[2].receipt_id];
    let by = |f: HistoryFilter| ids(&store, f);
    assert_eq!(by(HistoryFilter { alertname: Some("DiskFull".into()), ..filter() }).await, [dedup, disk]);
    assert_eq!(by(HistoryFilter { fingerprint: Some(b.fingerprint.to_string()), ..filter() }).await, [cpu]);
    assert_eq!(by(HistoryFilter { labels: vec![("team".into(), "db".into())], ..filter() }).await, [cpu]);
    assert_eq!(by(HistoryFilter { labels: vec![("team".into(), "d".into())], ..filter() }).await, Vec::<i64>::new(), "equality, not a prefix");
    assert_eq!(
        by(HistoryFilter { labels: vec![("team".into(), "sre".into()), ("severity".into(), "critical".into())], ..filter() }).await,
        [dedup, disk]
    );
    assert_eq!(by(HistoryFilter { state: Some(DeliveryState::Deduplicated), ..filter() }).await, [dedup]);
    assert_eq!(by(HistoryFilter { state: Some(DeliveryState::Dead), ..filter() }).await, [cpu, disk]);
    assert_eq!(by(HistoryFilter { state: Some(DeliveryState::Pending), ..filter() }).await, Vec::<i64>::new());
    assert_eq!(by(HistoryFilter { target: Some("hook".into()), ..filter() }).await, [dedup, cpu, disk], "a deduplicating target counts");
    assert_eq!(by(HistoryFilter { target: Some("slack".into()), ..filter() }).await, Vec::<i64>::new(), "filtered out is not went to");
    assert_eq!(
        by(HistoryFilter { target: Some("pd".into()), state: Some(DeliveryState::Dead), ..filter() }).await,
        Vec::<i64>::new()
    );
    assert_eq!(by(HistoryFilter { since: Some(t("10:00:30")), ..filter() }).await, [dedup]);
    assert_eq!(by(HistoryFilter { until: Some(t("10:00:30")), ..filter() }).await, [cpu, disk]);

    // The story of A: newest notification first, the dead letter, its replay, delivered.
    let dead_job = page.alerts[2].targets.iter().find(|d| d.target == "hook").unwrap().job_id;
    let replay = store
        .replay(&JobFilter { ids: Some(vec![dead_job]), ..Default::default() }, t("10:02:00"))
        .await
        .unwrap();
    let new_job = replay.replayed[0].1;
    assert_eq!(finish(&store, t("10:02:01"), |_| delivered()).await, [new_job]);
    let story = store.story(&a.fingerprint.to_string()).await.unwrap().unwrap();
    assert_eq!(story.alertname, "DiskFull");
    assert_eq!(story.annotations.get("summary").map(String::as_str), Some("disk full"));
    assert_eq!(story.notifications.len(), 2);
    assert_eq!(story.notifications[0].receipt.deduplicated, vec!["hook", "pd"]);
    let first = &story.notifications[1];
    assert_eq!(first.receipt.filtered.len(), 1);
    let hook: Vec<_> = first.deliveries.iter().filter(|d| d.target == "hook").collect();
    assert_eq!(hook.len(), 2, "the dead letter and its replay");
    assert_eq!((hook[0].job_id, hook[0].state, hook[0].replayed_as), (dead_job, DeliveryState::Dead, Some(new_job)));
    assert_eq!(hook[0].attempts[0].status_code, Some(400));
    assert_eq!(hook[0].attempts[0].outcome, "dead");
    assert_eq!(hook[0].attempts[0].error.as_deref(), Some("HTTP 400: bad request"));
    assert_eq!((hook[1].job_id, hook[1].state, hook[1].replay_of), (new_job, DeliveryState::Delivered, Some(dead_job)));
    assert_eq!(hook[1].attempts[0].status_code, Some(202));
    assert_eq!(hook[1].attempts[0].latency_ms, 7);
    // The list shows the newest delivery per target.
    let summary = first.receipt.targets.iter().find(|d| d.target == "hook").unwrap();
    assert_eq!((summary.job_id, summary.state), (new_job, DeliveryState::Delivered));
    assert_eq!(by(HistoryFilter { state: Some(DeliveryState::Dead), ..filter() }).await, [cpu], "replayed and delivered");
    assert!(store.story("0000000000000000").await.unwrap().is_none());
}
both!(receipts_record_routing_dedup_and_outcomes);

async fn a_resolve_supersedes_a_waiting_firing_job(store: Arc<dyn JobStore>) {
    let firing = alert("Disk", "sre", AlertStatus::Firing);
    let mut resolved = firing.clone();
    resolved.status = AlertStatus::Resolved;
    send(&store, &[firing.clone()], &["pd"], &[], t("11:00:00")).await;
    send(&store, &[resolved], &["pd"], &[], t("11:00:05")).await;
    let story = store.story(&firing.fingerprint.to_string()).await.unwrap().unwrap();
    let [newest, oldest] = &story.notifications[..] else { panic!("{story:?}") };
    assert_eq!(newest.receipt.status, AlertStatus::Resolved);
    let (waiting, replaced) = (&newest.deliveries[0], &oldest.deliveries[0]);
    assert_eq!(waiting.state, DeliveryState::Pending);
    assert_eq!(waiting.retry_at, Some(t("11:00:05")));
    assert_eq!(replaced.state, DeliveryState::Superseded);
    assert_eq!(replaced.superseded_by, Some(waiting.job_id));
    assert_eq!(replaced.retry_at, None);
}
both!(a_resolve_supersedes_a_waiting_firing_job);

async fn cursor_pages_are_exact_while_alerts_arrive(store: Arc<dyn JobStore>) {
    let at = |i: i64| t("12:00:00") + chrono::Duration::seconds(i / 3);
    // 130 notifications, three to a second (ties broken by id).
    for i in 0..130 {
        send(&store, &[alert(&format!("A{i}"), "sre", AlertStatus::Firing)], &["pd"], &[], at(i)).await;
    }
    let all = ids(&store, HistoryFilter { limit: Some(500), ..filter() }).await;
    assert_eq!(all.len(), 130);
    let mut seen = Vec::new();
    let mut cursor: Option<Cursor> = None;
    let mut extra = 0;
    loop {
        let page = store
            .history(&HistoryFilter { limit: Some(7), cursor, ..filter() })
            .await
            .unwrap();
        assert!(page.alerts.len() <= 7);
        seen.extend(page.alerts.iter().map(|n| n.receipt_id));
        // New alerts arrive between pages (newer: they sort before the cursor).
        send(&store, &[alert(&format!("New{extra}"), "sre", AlertStatus::Firing)], &["pd"], &[], at(200 + extra)).await;
        extra += 1;
        match page.next_cursor {
            Some(c) => cursor = Some(c.parse().unwrap()),
            None => break,
        }
    }
    assert_eq!(seen, all, "each exactly once, newest first");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 130);
}
both!(cursor_pages_are_exact_while_alerts_arrive);

async fn retention_takes_receipts_with_their_jobs(store: Arc<dyn JobStore>) {
    let a = alert("Old", "sre", AlertStatus::Firing);
    send(&store, &[a.clone()], &["pd"], &[], t("09:00:00")).await;
    send(&store, &[alert("Unrouted", "sre", AlertStatus::Firing)], &[], &[("pd", "label team")], t("09:00:00")).await;
    send(&store, &[alert("Waiting", "sre", AlertStatus::Firing)], &["pd"], &[], t("09:00:00")).await;
    // Only "Old" is delivered; "Waiting" stays pending (claimed after).
    let jobs = store.claim(1, t("09:00:01"), LEASE).await.unwrap();
    store.complete(&jobs[0], delivered(), Duration::ZERO, t("09:00:01")).await.unwrap();
    store.sweep(t("10:00:00"), t("10:00:00")).await.unwrap();
    let left: Vec<String> = store
        .history(&filter())
        .await
        .unwrap()
        .alerts
        .into_iter()
        .map(|n| n.alertname)
        .collect();
    assert_eq!(left, ["Waiting"], "a receipt goes with its last job, or at once without any");
    assert!(store.story(&a.fingerprint.to_string()).await.unwrap().is_none());
}
both!(retention_takes_receipts_with_their_jobs);

#[tokio::test]
async fn receipts_survive_reopening_and_migrations_apply_to_an_old_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    let store: Arc<dyn JobStore> =
        Arc::new(SqlStore::open_sqlite(&path, StoreOptions::default()).await.unwrap());
    // A job enqueued without a receipt (as acknowledgements are) is not in the history.
    store
        .enqueue(
            vec![NewJob::new("pd", alert("X", "sre", AlertStatus::Firing), GroupContext::default(), Duration::ZERO)],
            t("08:00:00"),
        )
        .await
        .unwrap();
    send(&store, &[alert("Y", "sre", AlertStatus::Firing)], &["pd"], &[], t("08:00:01")).await;
    drop(store);
    let store = SqlStore::open_sqlite(&path, StoreOptions::default()).await.unwrap();
    let page = store.history(&filter()).await.unwrap();
    assert_eq!(page.alerts.len(), 1);
    assert_eq!(page.alerts[0].alertname, "Y");
    assert_eq!(page.alerts[0].targets.len(), 1);
}
