//! Every `JobStore` behaviour the engine relies on, checked on both dialects. Each test body is
//! a function over `Arc<dyn JobStore>`; `both!` runs it on a fresh SQLite file and on a fresh
//! database of a throwaway PostgreSQL cluster.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use publish::{Alert, AlertStatus, GroupContext, Labels};
use queue::{
    Completion, Failure, Handoff, JobFilter, JobState, JobStore, NewJob, Priority, SqlStore,
    StoreOptions,
};
use tokio::sync::OnceCell;

static PG: OnceCell<testkit::Postgres> = OnceCell::const_new();
static DB_SEQ: Mutex<u32> = Mutex::new(0);

pub(crate) async fn postgres_store(instance: &str) -> (Arc<dyn JobStore>, String) {
    let pg = PG.get_or_init(testkit::Postgres::start).await;
    let name = {
        let mut n = DB_SEQ.lock().unwrap();
        *n += 1;
        format!("conformance_{}_{}", std::process::id(), *n)
    };
    let url = pg.create_database(&name);
    let store = SqlStore::connect_postgres(
        &url,
        StoreOptions {
            instance: instance.to_owned(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    (Arc::new(store), url)
}

async fn sqlite_store(dir: &std::path::Path, instance: &str) -> Arc<dyn JobStore> {
    let store = SqlStore::open_sqlite(
        &dir.join("jobs.db"),
        StoreOptions {
            instance: instance.to_owned(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    Arc::new(store)
}

/// A second handle on the same database, as another replica would have.
#[derive(Clone)]
enum Db {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Db {
    async fn other_instance(&self, instance: &str) -> Arc<dyn JobStore> {
        self.other_with(StoreOptions {
            instance: instance.to_owned(),
            ..Default::default()
        })
        .await
    }

    async fn other_with(&self, options: StoreOptions) -> Arc<dyn JobStore> {
        match self {
            Db::Sqlite(dir) => Arc::new(
                SqlStore::open_sqlite(&dir.join("jobs.db"), options)
                    .await
                    .unwrap(),
            ),
            Db::Postgres(url) => Arc::new(SqlStore::connect_postgres(url, options).await.unwrap()),
        }
    }
}

impl Db {
    /// The first column of the one row `sql` answers, on a connection of its own.
    async fn scalar(&self, sql: &str) -> i64 {
        use sqlx::{Connection, Row};
        let mut conn = self.connection().await;
        let value = sqlx::query(sql)
            .fetch_one(&mut conn)
            .await
            .unwrap()
            .try_get::<i64, _>(0)
            .unwrap();
        conn.close().await.unwrap();
        value
    }

    /// Runs `sql` (a change made behind the store's back) on a connection of its own.
    async fn execute(&self, sql: &str) {
        use sqlx::Connection;
        let mut conn = self.connection().await;
        sqlx::query(sql).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    }

    async fn connection(&self) -> sqlx::AnyConnection {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let url = match self {
            Db::Sqlite(dir) => format!("sqlite://{}", dir.join("jobs.db").display()),
            Db::Postgres(url) => url.clone(),
        };
        sqlx::AnyConnection::connect(&url).await.unwrap()
    }
}

/// After every test: the counts a store keeps as it goes (`stats`) are those a count of the
/// jobs gives (a new handle counts when it opens).
async fn counts_agree(store: &Arc<dyn JobStore>, db: &Db) {
    let kept = store.stats().await.unwrap();
    let counted = db.other_instance("count").await.stats().await.unwrap();
    assert_eq!(
        kept, counted,
        "the kept counts differ from a count of the jobs"
    );
}

/// `both!(test)` runs `test` on both dialects and then checks that the store's kept counts
/// are a count of its jobs; `both!(test, replicas)` skips that check for a test in which other
/// handles change jobs too (a handle counts its own changes at once and other replicas' within
/// its recount period: `counts_follow_other_replicas`).
macro_rules! both {
    ($name:ident) => {
        both!($name, check_counts = true);
    };
    ($name:ident, replicas) => {
        both!($name, check_counts = false);
    };
    ($name:ident, check_counts = $check:expr) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let store = super::sqlite_store(dir.path(), "a").await;
                let db = super::Db::Sqlite(dir.path().to_owned());
                super::$name(store.clone(), db.clone()).await;
                if $check {
                    super::counts_agree(&store, &db).await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let (store, url) = super::postgres_store("a").await;
                let db = super::Db::Postgres(url);
                super::$name(store.clone(), db.clone()).await;
                if $check {
                    super::counts_agree(&store, &db).await;
                }
            }
        }
    };
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn alert(name: &str, status: AlertStatus, severity: &str) -> Alert {
    let labels: Labels = [("alertname", name), ("severity", severity)]
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    let ends_at =
        (status == AlertStatus::Resolved).then(|| "2026-11-23T10:05:00Z".parse().unwrap());
    crate::alert_of(labels, status, ends_at)
}

fn job(target: &str, name: &str, status: AlertStatus, severity: &str) -> NewJob {
    NewJob::new(
        target,
        alert(name, status, severity),
        GroupContext::default(),
        Duration::from_secs(3600),
    )
}

const LEASE: Duration = Duration::from_secs(60);

/// Replays every dead letter of `target`.
async fn replay_target(
    store: &Arc<dyn JobStore>,
    target: &str,
    at: DateTime<Utc>,
) -> queue::ReplayReport {
    store
        .replay(
            &JobFilter {
                target: Some(target.into()),
                ..Default::default()
            },
            at,
        )
        .await
        .unwrap()
}

fn delivered() -> Completion {
    Completion::Delivered {
        status_code: Some(200),
        vendor_state: None,
    }
}

fn failure(kind: &str) -> Failure {
    Failure {
        kind: kind.into(),
        reason: format!("HTTP 500: {kind}"),
        status_code: Some(500),
    }
}

async fn lifecycle(store: Arc<dyn JobStore>, _db: Db) {
    let report = store
        .enqueue(
            vec![
                job("t", "A", AlertStatus::Firing, "warning"),
                job("u", "A", AlertStatus::Firing, "warning"),
            ],
            now(),
        )
        .await
        .unwrap();
    assert_eq!((report.inserted, report.ids.len()), (2, 2));
    let jobs = store.claim(10, now(), LEASE).await.unwrap();
    assert_eq!(jobs.len(), 2);
    assert!(
        jobs.iter().all(|j| j.attempt == 1
            && j.status == AlertStatus::Firing
            && j.delivery_key.len() == 32)
    );
    assert!(
        store.claim(10, now(), LEASE).await.unwrap().is_empty(),
        "claimed jobs are not handed out again"
    );
    assert!(
        store
            .complete(&jobs[0], delivered(), Duration::from_millis(12), now())
            .await
            .unwrap()
    );
    assert!(
        store
            .complete(
                &jobs[1],
                Completion::Dead {
                    failure: failure("invalid")
                },
                Duration::from_millis(3),
                now()
            )
            .await
            .unwrap()
    );
    let stats = store.stats().await.unwrap();
    assert_eq!(
        (stats.done, stats.dead, stats.pending, stats.in_flight),
        (1, 1, 0, 0)
    );
    let rec = store.get(jobs[1].id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Dead);
    assert_eq!(rec.last_error.as_deref(), Some("HTTP 500: invalid"));
    let history = rec.history.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (
            history[0].outcome.as_str(),
            history[0].status_code,
            history[0].latency_ms
        ),
        ("dead", Some(500), 3)
    );
    assert!(store.get(999_999).await.unwrap().is_none());
    store.ping().await.unwrap();
}
both!(lifecycle);

async fn ordering_per_target_and_alert(store: Arc<dyn JobStore>, _db: Db) {
    store
        .enqueue(vec![job("t", "A", AlertStatus::Firing, "critical")], now())
        .await
        .unwrap();
    let firing = store.claim(10, now(), LEASE).await.unwrap();
    assert_eq!(firing.len(), 1);
    // The resolve arrives while the firing is in flight: it must wait for it.
    store
        .enqueue(
            vec![job("t", "A", AlertStatus::Resolved, "critical")],
            now(),
        )
        .await
        .unwrap();
    assert!(
        store.claim(10, now(), LEASE).await.unwrap().is_empty(),
        "a resolve never overtakes its firing"
    );
    // The firing fails and is scheduled for later: the resolve still waits behind it.
    let later = now() + chrono::Duration::seconds(30);
    store
        .complete(
            &firing[0],
            Completion::Retry {
                at: later,
                failure: failure("server"),
                vendor_state: None,
            },
            Duration::ZERO,
            now(),
        )
        .await
        .unwrap();
    assert!(store.claim(10, now(), LEASE).await.unwrap().is_empty());
    assert_eq!(
        store
            .next_due()
            .await
            .unwrap()
            .map(|t| t.timestamp_millis()),
        Some(later.timestamp_millis())
    );
    let retried = store.claim(10, later, LEASE).await.unwrap();
    assert_eq!(
        (retried.len(), retried[0].status, retried[0].attempt),
        (1, AlertStatus::Firing, 2)
    );
    store
        .complete(&retried[0], delivered(), Duration::ZERO, later)
        .await
        .unwrap();
    let resolve = store.claim(10, later, LEASE).await.unwrap();
    assert_eq!(
        (resolve.len(), resolve[0].status),
        (1, AlertStatus::Resolved)
    );
    // Another alert or another target is never held back.
    store
        .enqueue(
            vec![
                job("t", "B", AlertStatus::Firing, "critical"),
                job("u", "A", AlertStatus::Firing, "critical"),
            ],
            later,
        )
        .await
        .unwrap();
    assert_eq!(store.claim(10, later, LEASE).await.unwrap().len(), 2);
}
both!(ordering_per_target_and_alert);

async fn newer_status_supersedes_a_waiting_one(store: Arc<dyn JobStore>, _db: Db) {
    store
        .enqueue(vec![job("t", "A", AlertStatus::Firing, "warning")], now())
        .await
        .unwrap();
    let report = store
        .enqueue(vec![job("t", "A", AlertStatus::Resolved, "warning")], now())
        .await
        .unwrap();
    assert_eq!((report.inserted, report.superseded), (1, 1));
    let jobs = store.claim(10, now(), LEASE).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status, AlertStatus::Resolved);
    assert_eq!(store.stats().await.unwrap().superseded, 1);
}
both!(newer_status_supersedes_a_waiting_one);

async fn unchanged_notifications_are_deduplicated_within_the_repeat_interval(
    store: Arc<dyn JobStore>,
    _db: Db,
) {
    let t0 = now();
    assert_eq!(
        store
            .enqueue(vec![job("t", "A", AlertStatus::Firing, "warning")], t0)
            .await
            .unwrap()
            .inserted,
        1
    );
    let again = store
        .enqueue(
            vec![job("t", "A", AlertStatus::Firing, "warning")],
            t0 + chrono::Duration::minutes(5),
        )
        .await
        .unwrap();
    assert_eq!((again.inserted, again.deduplicated), (0, 1));
    let after = store
        .enqueue(
            vec![job("t", "A", AlertStatus::Firing, "warning")],
            t0 + chrono::Duration::minutes(61),
        )
        .await
        .unwrap();
    assert_eq!(
        after.inserted, 1,
        "after the repeat interval the reminder goes out"
    );
    let resolved = store
        .enqueue(
            vec![job("t", "A", AlertStatus::Resolved, "warning")],
            t0 + chrono::Duration::minutes(62),
        )
        .await
        .unwrap();
    assert_eq!(resolved.inserted, 1);
    let resolved_again = store
        .enqueue(
            vec![job("t", "A", AlertStatus::Resolved, "warning")],
            t0 + chrono::Duration::hours(9),
        )
        .await
        .unwrap();
    assert_eq!(
        (resolved_again.inserted, resolved_again.deduplicated),
        (0, 1),
        "a resolve is recorded once"
    );
    let refire = store
        .enqueue(
            vec![job("t", "A", AlertStatus::Firing, "warning")],
            t0 + chrono::Duration::hours(10),
        )
        .await
        .unwrap();
    assert_eq!(refire.inserted, 1, "firing again after a resolve is news");
}
both!(unchanged_notifications_are_deduplicated_within_the_repeat_interval);

async fn priorities_with_ageing(store: Arc<dyn JobStore>, _db: Db) {
    let t0 = now();
    store
        .enqueue(vec![job("t", "Low", AlertStatus::Firing, "info")], t0)
        .await
        .unwrap();
    store
        .enqueue(
            vec![job("t", "Medium", AlertStatus::Firing, "warning")],
            t0 + chrono::Duration::seconds(1),
        )
        .await
        .unwrap();
    store
        .enqueue(
            vec![job("t", "High", AlertStatus::Firing, "critical")],
            t0 + chrono::Duration::seconds(2),
        )
        .await
        .unwrap();
    let order: Vec<Priority> = store
        .claim(3, t0 + chrono::Duration::seconds(3), LEASE)
        .await
        .unwrap()
        .iter()
        .map(|j| j.priority)
        .collect();
    assert_eq!(order, [Priority::High, Priority::Medium, Priority::Low]);
    // A low job that has waited longer than the boost is served before a fresh high one.
    store
        .enqueue(vec![job("t", "OldLow", AlertStatus::Firing, "info")], t0)
        .await
        .unwrap();
    store
        .enqueue(
            vec![job("t", "NewHigh", AlertStatus::Firing, "critical")],
            t0 + chrono::Duration::minutes(6),
        )
        .await
        .unwrap();
    let first = store
        .claim(1, t0 + chrono::Duration::minutes(6), LEASE)
        .await
        .unwrap();
    assert_eq!(first[0].priority, Priority::Low, "no starvation");
    let stats = store.stats().await.unwrap();
    assert_eq!(stats.pending_by_priority.get("high"), Some(&1));
}
both!(priorities_with_ageing);

async fn concurrent_claims_never_hand_out_a_job_twice(store: Arc<dyn JobStore>, db: Db) {
    let jobs: Vec<NewJob> = (0..400)
        .map(|i| job("t", &format!("A{i}"), AlertStatus::Firing, "warning"))
        .collect();
    store.enqueue(jobs, now()).await.unwrap();
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let mut workers = Vec::new();
    for w in 0..8 {
        let store = db.other_instance(&format!("w{w}")).await;
        let seen = seen.clone();
        workers.push(tokio::spawn(async move {
            let mut mine = 0;
            loop {
                let claimed = store.claim(7, now(), LEASE).await.unwrap();
                if claimed.is_empty() {
                    break mine;
                }
                for j in claimed {
                    assert!(
                        seen.lock().unwrap().insert(j.id),
                        "job {} claimed twice",
                        j.id
                    );
                    assert!(
                        store
                            .complete(&j, delivered(), Duration::ZERO, now())
                            .await
                            .unwrap()
                    );
                    mine += 1;
                }
            }
        }));
    }
    let mut total = 0;
    for w in workers {
        total += w.await.unwrap();
    }
    assert_eq!(total, 400);
    // Counted afresh: the workers were other handles (another replica's changes show in this
    // one's counts within its recount period).
    let counted = db.other_instance("count").await.stats().await.unwrap();
    assert_eq!(counted.done, 400);
}
both!(concurrent_claims_never_hand_out_a_job_twice, replicas);

async fn expired_leases_are_taken_over(store: Arc<dyn JobStore>, db: Db) {
    store
        .enqueue(vec![job("t", "A", AlertStatus::Firing, "warning")], now())
        .await
        .unwrap();
    let crashed = store
        .claim(1, now(), Duration::from_millis(10))
        .await
        .unwrap();
    assert_eq!(crashed.len(), 1);
    let other = db.other_instance("replica-b").await;
    assert!(
        other.claim(1, now(), LEASE).await.unwrap().is_empty(),
        "leased"
    );
    let later = now() + chrono::Duration::seconds(1);
    assert_eq!(
        other.requeue_in_flight(later, false).await.unwrap(),
        1,
        "the reaper frees the expired lease"
    );
    let taken = other.claim(1, later, LEASE).await.unwrap();
    assert_eq!(
        (taken.len(), taken[0].id, taken[0].attempt),
        (1, crashed[0].id, 2)
    );
    // The first worker comes back late: its outcome does not overwrite the new owner's.
    assert!(
        !store
            .complete(&crashed[0], delivered(), Duration::ZERO, later)
            .await
            .unwrap()
    );
    assert!(
        other
            .complete(&taken[0], delivered(), Duration::ZERO, later)
            .await
            .unwrap()
    );
    let history = other
        .get(taken[0].id)
        .await
        .unwrap()
        .unwrap()
        .history
        .unwrap();
    let outcomes: Vec<_> = history.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["lease_lost", "delivered"]);
}
both!(expired_leases_are_taken_over, replicas);

/// Many jobs deferred at once (a storm against a rate limit) are all written, and each comes
/// back at its own time with its attempt not counted.
async fn concurrent_deferrals_are_all_written(store: Arc<dyn JobStore>, _db: Db) {
    let jobs: Vec<NewJob> = (0..60)
        .map(|i| job("t", &format!("D{i}"), AlertStatus::Firing, "warning"))
        .collect();
    store.enqueue(jobs, now()).await.unwrap();
    let claimed = store.claim(100, now(), LEASE).await.unwrap();
    assert_eq!(claimed.len(), 60);
    // the first half a second from now, the second half two seconds from now
    let deferred = futures::future::join_all(claimed.iter().enumerate().map(|(i, j)| {
        let store = store.clone();
        let at = now() + chrono::Duration::milliseconds(if i < 30 { 500 } else { 2000 });
        async move { store.defer(j, at, now()).await }
    }))
    .await;
    assert!(deferred.iter().all(Result::is_ok), "{deferred:?}");
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.pending, stats.in_flight), (60, 0), "{stats:?}");
    assert!(store.claim(100, now(), LEASE).await.unwrap().is_empty());
    let first = store
        .claim(100, now() + chrono::Duration::seconds(1), LEASE)
        .await
        .unwrap();
    assert_eq!(first.len(), 30, "those due after half a second");
    assert!(
        first.iter().all(|j| j.attempt == 1),
        "a deferral is no attempt"
    );
    let rest = store
        .claim(100, now() + chrono::Duration::seconds(3), LEASE)
        .await
        .unwrap();
    assert_eq!(rest.len(), 30);
}
both!(concurrent_deferrals_are_all_written);

async fn vendor_state_and_deferral(store: Arc<dyn JobStore>, _db: Db) {
    store
        .enqueue(vec![job("t", "A", AlertStatus::Firing, "warning")], now())
        .await
        .unwrap();
    let j = store.claim(1, now(), LEASE).await.unwrap().remove(0);
    assert!(j.vendor_state.is_none());
    // A rate limit says "not yet": no attempt is counted.
    let at = now() + chrono::Duration::milliseconds(50);
    store.defer(&j, at, now()).await.unwrap();
    assert!(
        store
            .claim(1, at - chrono::Duration::milliseconds(1), LEASE)
            .await
            .unwrap()
            .is_empty(),
        "not before its time"
    );
    // deferral times are rounded up to the next millisecond
    let at = at + chrono::Duration::milliseconds(1);
    let j = store.claim(1, at, LEASE).await.unwrap().remove(0);
    assert_eq!(j.attempt, 1);
    store
        .complete(
            &j,
            Completion::Delivered {
                status_code: Some(200),
                vendor_state: Some(r#"{"ts":"1.2"}"#.into()),
            },
            Duration::ZERO,
            now(),
        )
        .await
        .unwrap();
    store
        .enqueue(vec![job("t", "A", AlertStatus::Resolved, "warning")], now())
        .await
        .unwrap();
    let resolve = store.claim(1, now(), LEASE).await.unwrap().remove(0);
    assert_eq!(
        resolve.vendor_state.as_deref(),
        Some(r#"{"ts":"1.2"}"#),
        "vendor state survives for the next delivery"
    );
}
both!(vendor_state_and_deferral);

async fn a_retry_keeps_the_progress_its_attempt_made(store: Arc<dyn JobStore>, db: Db) {
    store
        .enqueue(vec![job("t", "A", AlertStatus::Firing, "warning")], now())
        .await
        .unwrap();
    let j = store.claim(1, now(), LEASE).await.unwrap().remove(0);
    let posted = r#"{"ts":"1.2","status":"firing"}"#;
    store
        .complete(
            &j,
            Completion::Delivered {
                status_code: Some(200),
                vendor_state: Some(posted.into()),
            },
            Duration::ZERO,
            now(),
        )
        .await
        .unwrap();
    store
        .enqueue(vec![job("t", "A", AlertStatus::Resolved, "warning")], now())
        .await
        .unwrap();
    let retry = |at, vendor_state: Option<&str>| Completion::Retry {
        at,
        failure: failure("rate_limited"),
        vendor_state: vendor_state.map(str::to_owned),
    };
    // The update went through, the thread reply was refused: the retry sees the update done.
    let resolve = store.claim(1, now(), LEASE).await.unwrap().remove(0);
    assert_eq!(resolve.vendor_state.as_deref(), Some(posted));
    let updated = r#"{"ts":"1.2","status":"resolved","reply_due":"x"}"#;
    let t1 = now() + chrono::Duration::seconds(1);
    assert!(
        store
            .complete(&resolve, retry(t1, Some(updated)), Duration::ZERO, now())
            .await
            .unwrap()
    );
    let again = store.claim(1, t1, LEASE).await.unwrap().remove(0);
    assert_eq!(
        (again.attempt, again.vendor_state.as_deref()),
        (2, Some(updated))
    );
    // A failure that made no progress leaves the state as it was.
    let t2 = t1 + chrono::Duration::seconds(1);
    store
        .complete(&again, retry(t2, None), Duration::ZERO, t1)
        .await
        .unwrap();
    let third = store.claim(1, t2, LEASE).await.unwrap().remove(0);
    assert_eq!(third.vendor_state.as_deref(), Some(updated));
    // An attempt whose lease was lost (another replica took the job over) writes nothing.
    let t3 = t2 + chrono::Duration::from_std(LEASE).unwrap() + chrono::Duration::seconds(1);
    store.requeue_in_flight(t3, false).await.unwrap();
    let other = db.other_instance("replica-b").await;
    let taken = other.claim(1, t3, LEASE).await.unwrap().remove(0);
    assert!(
        !store
            .complete(
                &third,
                retry(t3, Some(r#"{"stale":true}"#)),
                Duration::ZERO,
                t3
            )
            .await
            .unwrap()
    );
    assert_eq!(taken.vendor_state.as_deref(), Some(updated));
    other
        .complete(
            &taken,
            Completion::Delivered {
                status_code: Some(200),
                vendor_state: None,
            },
            Duration::ZERO,
            t3,
        )
        .await
        .unwrap();
    store
        .enqueue(vec![job("t", "A", AlertStatus::Firing, "warning")], t3)
        .await
        .unwrap();
    let next = store.claim(1, t3, LEASE).await.unwrap().remove(0);
    assert_eq!(
        next.vendor_state.as_deref(),
        Some(updated),
        "the stale write was not kept"
    );
}
both!(a_retry_keeps_the_progress_its_attempt_made, replicas);

async fn dead_letters_replay_and_purge(store: Arc<dyn JobStore>, _db: Db) {
    let t0 = now();
    let names = ["A", "B", "C", "D"];
    store
        .enqueue(
            names
                .iter()
                .map(|n| job("t", n, AlertStatus::Firing, "warning"))
                .collect(),
            t0,
        )
        .await
        .unwrap();
    store
        .enqueue(vec![job("u", "E", AlertStatus::Firing, "critical")], t0)
        .await
        .unwrap();
    for j in store.claim(10, t0, LEASE).await.unwrap() {
        let kind = if j.target == "u" { "auth" } else { "invalid" };
        store
            .complete(
                &j,
                Completion::Dead {
                    failure: failure(kind),
                },
                Duration::ZERO,
                t0,
            )
            .await
            .unwrap();
    }
    let dlq = |f: JobFilter| {
        let store = store.clone();
        async move {
            store
                .list(&JobFilter {
                    state: Some(JobState::Dead),
                    ..f
                })
                .await
                .unwrap()
        }
    };
    assert_eq!(dlq(JobFilter::default()).await.len(), 5);
    assert_eq!(
        dlq(JobFilter {
            target: Some("u".into()),
            ..Default::default()
        })
        .await
        .len(),
        1
    );
    assert_eq!(
        dlq(JobFilter {
            error_kind: Some("invalid".into()),
            ..Default::default()
        })
        .await
        .len(),
        4
    );
    assert_eq!(
        dlq(JobFilter {
            priority: Some(Priority::High),
            ..Default::default()
        })
        .await
        .len(),
        1
    );
    assert_eq!(
        dlq(JobFilter {
            since: Some(t0 + chrono::Duration::hours(1)),
            ..Default::default()
        })
        .await
        .len(),
        0
    );

    // Replay one by id.
    let a = dlq(JobFilter {
        target: Some("u".into()),
        ..Default::default()
    })
    .await
    .remove(0);
    let report = store
        .replay(
            &JobFilter {
                ids: Some(vec![a.id, 424_242]),
                ..Default::default()
            },
            t0,
        )
        .await
        .unwrap();
    assert_eq!(report.replayed.len(), 1);
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].0, 424_242);
    let again = store
        .replay(
            &JobFilter {
                ids: Some(vec![a.id]),
                ..Default::default()
            },
            t0,
        )
        .await
        .unwrap();
    assert!(again.replayed.is_empty(), "a dead letter is replayed once");
    assert_eq!(
        dlq(JobFilter {
            replayed: Some(true),
            ..Default::default()
        })
        .await
        .len(),
        1
    );

    // A newer notification for D exists: replaying the old one is refused.
    let d = dlq(JobFilter::default())
        .await
        .into_iter()
        .find(|j| j.alertname == "D")
        .unwrap();
    store
        .enqueue(vec![job("t", "D", AlertStatus::Resolved, "warning")], t0)
        .await
        .unwrap();
    // Replay the rest of target t by filter.
    let report = replay_target(&store, "t", t0).await;
    assert_eq!(report.replayed.len(), 3, "{report:?}");
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].0, d.id);
    let replayed = store.claim(10, t0, LEASE).await.unwrap();
    assert_eq!(replayed.len(), 5, "4 replays + the resolve of D");
    let original = store.get(a.id).await.unwrap().unwrap();
    let copy = replayed
        .iter()
        .find(|j| Some(j.id) == original.replayed_as)
        .unwrap();
    assert_eq!(copy.target, "u");

    // Purge only what the filter names.
    assert_eq!(
        store
            .purge(&JobFilter {
                target: Some("u".into()),
                ..Default::default()
            })
            .await
            .unwrap(),
        1
    );
    assert_eq!(dlq(JobFilter::default()).await.len(), 4);
    assert_eq!(
        store
            .purge(&JobFilter {
                before: Some(t0 - chrono::Duration::hours(1)),
                ..Default::default()
            })
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .purge(&JobFilter {
                before: Some(t0 + chrono::Duration::hours(1)),
                ..Default::default()
            })
            .await
            .unwrap(),
        4
    );
    assert_eq!(store.stats().await.unwrap().dead, 0);
    assert_eq!(
        store.stats().await.unwrap().in_flight,
        5,
        "purge leaves live jobs alone"
    );
}
both!(dead_letters_replay_and_purge);

/// Firing alerts A and B for target `t`, enqueued and claimed at `t0`.
async fn claimed_pair(store: &Arc<dyn JobStore>, t0: DateTime<Utc>) -> Vec<queue::Job> {
    store
        .enqueue(
            vec![
                job("t", "A", AlertStatus::Firing, "warning"),
                job("t", "B", AlertStatus::Firing, "warning"),
            ],
            t0,
        )
        .await
        .unwrap();
    store.claim(10, t0, LEASE).await.unwrap()
}

async fn retention_sweep(store: Arc<dyn JobStore>, _db: Db) {
    let t0 = now();
    let jobs = claimed_pair(&store, t0).await;
    store
        .complete(&jobs[0], delivered(), Duration::ZERO, t0)
        .await
        .unwrap();
    store
        .complete(
            &jobs[1],
            Completion::Dead {
                failure: failure("invalid"),
            },
            Duration::ZERO,
            t0,
        )
        .await
        .unwrap();
    store
        .enqueue(vec![job("t", "C", AlertStatus::Firing, "warning")], t0)
        .await
        .unwrap();
    let later = t0 + chrono::Duration::hours(2);
    assert_eq!(
        store
            .sweep(later, t0 - chrono::Duration::hours(1))
            .await
            .unwrap(),
        1,
        "done job swept, dead kept"
    );
    assert_eq!(
        store.sweep(later, later).await.unwrap(),
        1,
        "then the dead one"
    );
    let stats = store.stats().await.unwrap();
    assert_eq!(
        (stats.done, stats.dead, stats.pending),
        (0, 0, 1),
        "pending jobs are never swept"
    );
}
both!(retention_sweep);

fn handoff(capacity: usize) -> Arc<Handoff> {
    Arc::new(Handoff::new(
        capacity,
        LEASE,
        Arc::new(tokio::sync::Notify::new()),
    ))
}

/// Jobs that may go at once are stored claimed and handed over, highest priority first, as many
/// as the buffer takes; the rest wait in the store.
async fn handoff_claims_fresh_jobs_at_enqueue(store: Arc<dyn JobStore>, _db: Db) {
    let buffer = handoff(2);
    store.attach_handoff(buffer.clone());
    let report = store
        .enqueue(
            vec![
                job("t", "A", AlertStatus::Firing, "warning"),
                job("t", "B", AlertStatus::Firing, "critical"),
                job("t", "C", AlertStatus::Firing, "info"),
            ],
            now(),
        )
        .await
        .unwrap();
    assert_eq!(report.inserted, 3);
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.in_flight, stats.pending), (2, 1), "{stats:?}");
    assert!(buffer.take_store_dirty(), "C waits in the store");
    let (ready, stale) = buffer.take(10, Duration::from_secs(3600));
    assert!(stale.is_empty());
    let names: Vec<&str> = ready.iter().map(|r| r.delivery.alert.name()).collect();
    assert_eq!(names, ["B", "A"], "critical first");
    for r in &ready {
        assert_eq!(r.job.attempt, 1);
        assert_eq!(r.delivery.id, r.job.delivery_key);
        assert!(report.ids.contains(&r.job.id));
        let payload: queue::JobPayload = serde_json::from_str(&r.job.payload).unwrap();
        assert_eq!(payload.alert, r.delivery.alert);
    }
    // a claim never hands them out again
    let claimed = store.claim(10, now(), LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        claimed[0].fingerprint,
        alert("C", AlertStatus::Firing, "info")
            .fingerprint
            .to_string()
    );
    for r in &ready {
        assert!(
            store
                .complete(&r.job, delivered(), Duration::ZERO, now())
                .await
                .unwrap(),
            "handed-off jobs are claimed by this instance"
        );
    }
    let record = store.get(ready[0].job.id).await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts), (JobState::Done, 1));
}
both!(handoff_claims_fresh_jobs_at_enqueue);

/// A job whose alert still has an earlier job pending or in flight is not handed over: it waits
/// in the store until the earlier one is finished, and finishing it tells the engine to look.
async fn handoff_keeps_alert_order(store: Arc<dyn JobStore>, _db: Db) {
    let buffer = handoff(100);
    store.attach_handoff(buffer.clone());
    store
        .enqueue(vec![job("t", "A", AlertStatus::Firing, "warning")], now())
        .await
        .unwrap();
    let (firing, _) = buffer.take(10, Duration::from_secs(3600));
    assert_eq!(firing.len(), 1);
    let _ = buffer.take_store_dirty();
    store
        .enqueue(vec![job("t", "A", AlertStatus::Resolved, "warning")], now())
        .await
        .unwrap();
    assert!(buffer.is_empty(), "the resolve waits for the firing");
    assert!(buffer.take_store_dirty());
    assert!(
        store.claim(10, now(), LEASE).await.unwrap().is_empty(),
        "blocked"
    );
    store
        .complete(&firing[0].job, delivered(), Duration::ZERO, now())
        .await
        .unwrap();
    assert!(
        buffer.take_store_dirty(),
        "the finished firing lets the resolve go"
    );
    let claimed = store.claim(10, now(), LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].status, AlertStatus::Resolved);
    // claims bounded by the buffer's head only take what goes ahead of it
    store
        .enqueue(vec![job("u", "L", AlertStatus::Firing, "info")], now())
        .await
        .unwrap();
    let (low, _) = buffer.take(10, Duration::from_secs(3600));
    store
        .requeue_in_flight(now() + chrono::Duration::hours(1), true)
        .await
        .unwrap();
    let head = now().timestamp_millis() - 1_000_000;
    assert!(
        store
            .claim_ahead_of(10, now(), LEASE, Some(head))
            .await
            .unwrap()
            .is_empty(),
        "nothing stored goes ahead of a job ordered before everything"
    );
    assert_eq!(low.len(), 1);
}
both!(handoff_keeps_alert_order);

/// A dead letter whose alert got a later notification that was delivered is not replayed (it
/// would overwrite the newer status at the target); one with nothing later is.
async fn replay_skips_a_dead_letter_overtaken_by_a_delivered_one(
    store: Arc<dyn JobStore>,
    _db: Db,
) {
    let t0 = now();
    for j in claimed_pair(&store, t0).await {
        let dead = Completion::Dead {
            failure: failure("invalid"),
        };
        store.complete(&j, dead, Duration::ZERO, t0).await.unwrap();
    }
    let t1 = t0 + chrono::Duration::seconds(1);
    store
        .enqueue(vec![job("t", "A", AlertStatus::Resolved, "warning")], t1)
        .await
        .unwrap();
    let resolve = store.claim(10, t1, LEASE).await.unwrap();
    assert_eq!(resolve.len(), 1);
    store
        .complete(&resolve[0], delivered(), Duration::ZERO, t1)
        .await
        .unwrap();
    let report = replay_target(&store, "t", t1).await;
    assert_eq!(report.replayed.len(), 1, "B has nothing later: {report:?}");
    assert_eq!(report.skipped.len(), 1, "{report:?}");
    assert!(report.skipped[0].1.contains("delivered"), "{report:?}");
    let again = store.claim(10, t1, LEASE).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].fingerprint,
        alert("B", AlertStatus::Firing, "warning")
            .fingerprint
            .to_string()
    );
}
both!(replay_skips_a_dead_letter_overtaken_by_a_delivered_one);

/// Claims every due job at `at` and makes each a dead letter; their ids.
async fn kill_due(store: &Arc<dyn JobStore>, at: DateTime<Utc>) -> Vec<i64> {
    let mut ids = Vec::new();
    for j in store.claim(100, at, LEASE).await.unwrap() {
        let dead = Completion::Dead {
            failure: failure("server"),
        };
        store.complete(&j, dead, Duration::ZERO, at).await.unwrap();
        ids.push(j.id);
    }
    ids
}

/// Alert A firing then resolved at `t`, both dead letters; B firing, a dead letter too.
/// Returns (A firing, A resolved, B firing) and the time after.
async fn firing_then_resolved_dead(store: &Arc<dyn JobStore>) -> ((i64, i64, i64), DateTime<Utc>) {
    let t0 = now();
    store
        .enqueue(
            vec![
                job("t", "A", AlertStatus::Firing, "warning"),
                job("t", "B", AlertStatus::Firing, "warning"),
            ],
            t0,
        )
        .await
        .unwrap();
    let first = kill_due(store, t0).await;
    let t1 = t0 + chrono::Duration::seconds(1);
    store
        .enqueue(vec![job("t", "A", AlertStatus::Resolved, "warning")], t1)
        .await
        .unwrap();
    let resolved = kill_due(store, t1).await;
    assert_eq!((first.len(), resolved.len()), (2, 1));
    let a = alert("A", AlertStatus::Firing, "warning")
        .fingerprint
        .to_string();
    let mut firing = [0, 0];
    for id in first {
        let rec = store.get(id).await.unwrap().unwrap();
        firing[usize::from(rec.fingerprint != a)] = id;
    }
    (
        (firing[0], resolved[0], firing[1]),
        t1 + chrono::Duration::seconds(1),
    )
}

/// A bulk replay sends the newest dead letter of each alert: the resolve, not the older firing
/// (whose fresh replay used to count as the newer notification and hold the resolve back). The
/// firing is marked replayed in favour of the resolve and not offered again.
async fn bulk_replay_sends_the_newest_dead_letter_of_an_alert(store: Arc<dyn JobStore>, _db: Db) {
    let ((firing, resolved, other), t) = firing_then_resolved_dead(&store).await;
    let report = replay_target(&store, "t", t).await;
    let replayed: Vec<i64> = report.replayed.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        replayed,
        [other, resolved],
        "in the order they were stored: {report:?}"
    );
    assert_eq!(report.skipped.len(), 1, "{report:?}");
    assert_eq!(report.skipped[0].0, firing);
    assert!(
        report.skipped[0]
            .1
            .contains(&format!("dead letter {resolved}")),
        "{report:?}"
    );
    let resolve_job = report.replayed[1].1;
    let old = store.get(firing).await.unwrap().unwrap();
    assert_eq!(
        (old.state, old.replayed_as, old.superseded_by),
        (JobState::Dead, Some(resolve_job), Some(resolved))
    );
    assert!(old.replayed_at.is_some());

    let claimed = store.claim(10, t, LEASE).await.unwrap();
    let mut sent: Vec<(i64, AlertStatus)> = claimed.iter().map(|j| (j.id, j.status)).collect();
    sent.sort_unstable_by_key(|(id, _)| *id);
    assert_eq!(
        sent,
        [
            (report.replayed[0].1, AlertStatus::Firing),
            (resolve_job, AlertStatus::Resolved)
        ]
    );
    let again = replay_target(&store, "t", t).await;
    assert!(
        again.replayed.is_empty() && again.skipped.is_empty(),
        "nothing left to offer: {again:?}"
    );
}
both!(bulk_replay_sends_the_newest_dead_letter_of_an_alert);

/// Replaying an older dead letter by id is refused while a newer one of its alert sits in the
/// dead-letter queue; the reason names the newer one. A list of ids follows the bulk rule.
async fn replay_by_id_refuses_a_dead_letter_with_a_newer_one(store: Arc<dyn JobStore>, _db: Db) {
    let ((firing, resolved, other), t) = firing_then_resolved_dead(&store).await;
    let by_ids = |ids: Vec<i64>| {
        let store = store.clone();
        async move {
            store
                .replay(
                    &JobFilter {
                        ids: Some(ids),
                        ..Default::default()
                    },
                    t,
                )
                .await
                .unwrap()
        }
    };
    let report = by_ids(vec![firing]).await;
    assert!(report.replayed.is_empty(), "{report:?}");
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].0, firing);
    assert!(
        report.skipped[0]
            .1
            .contains(&format!("dead letter {resolved} is newer")),
        "{report:?}"
    );
    let old = store.get(firing).await.unwrap().unwrap();
    assert_eq!(
        (old.replayed_at, old.superseded_by),
        (None, None),
        "a refusal changes nothing"
    );

    let report = by_ids(vec![firing, other, resolved, firing]).await;
    let replayed: Vec<i64> = report.replayed.iter().map(|(id, _)| *id).collect();
    assert_eq!(replayed, [other, resolved], "{report:?}");
    let skipped: Vec<i64> = report.skipped.iter().map(|(id, _)| *id).collect();
    assert_eq!(skipped, [firing], "listed twice, judged once: {report:?}");

    // Its resolve was replayed: the firing is no longer a dead letter to replay.
    let report = by_ids(vec![firing]).await;
    assert!(
        report.skipped[0].1.starts_with("no dead letter"),
        "{report:?}"
    );
}
both!(replay_by_id_refuses_a_dead_letter_with_a_newer_one);

/// A dead acknowledgement is not a newer status: the firing it followed is replayed before it.
/// A newer notification that waits holds back every dead letter of the alert.
async fn replay_keeps_acknowledgements_after_their_trigger(store: Arc<dyn JobStore>, _db: Db) {
    let t0 = now();
    store
        .enqueue(vec![job("t", "A", AlertStatus::Firing, "warning")], t0)
        .await
        .unwrap();
    let firing = kill_due(&store, t0).await;
    let t1 = t0 + chrono::Duration::seconds(1);
    store
        .enqueue(
            vec![NewJob::acknowledge(
                "t",
                alert("A", AlertStatus::Firing, "warning"),
                GroupContext::default(),
            )],
            t1,
        )
        .await
        .unwrap();
    let ack = kill_due(&store, t1).await;
    assert_eq!((firing.len(), ack.len()), (1, 1));
    let t2 = t1 + chrono::Duration::seconds(1);
    let report = replay_target(&store, "t", t2).await;
    let replayed: Vec<i64> = report.replayed.iter().map(|(id, _)| *id).collect();
    assert_eq!(replayed, [firing[0], ack[0]], "{report:?}");
    assert!(
        report.replayed[0].1 < report.replayed[1].1,
        "the trigger goes first"
    );
}
both!(replay_keeps_acknowledgements_after_their_trigger);

/// With a limit, a bulk replay takes the newest dead letters: those that win over the older
/// ones of their alert.
async fn bulk_replay_with_a_limit_takes_the_newest(store: Arc<dyn JobStore>, _db: Db) {
    let ((firing, resolved, other), t) = firing_then_resolved_dead(&store).await;
    let report = store
        .replay(
            &JobFilter {
                target: Some("t".into()),
                limit: Some(1),
                ..Default::default()
            },
            t,
        )
        .await
        .unwrap();
    let replayed: Vec<i64> = report.replayed.iter().map(|(id, _)| *id).collect();
    assert_eq!(replayed, [resolved], "{report:?}");
    assert!(report.skipped.is_empty(), "{report:?}");
    // The older firing of A is now held back by the waiting resolve; B goes.
    let report = replay_target(&store, "t", t).await;
    let replayed: Vec<i64> = report.replayed.iter().map(|(id, _)| *id).collect();
    assert_eq!(replayed, [other], "{report:?}");
    assert_eq!(report.skipped.len(), 1, "{report:?}");
    assert_eq!(report.skipped[0].0, firing);
    assert!(report.skipped[0].1.contains("waiting"), "{report:?}");
}
both!(bulk_replay_with_a_limit_takes_the_newest);

/// The stats history: samples come back oldest first from a new handle on the same database
/// (as after a restart), a sample at the same millisecond replaces the earlier one, writing
/// deletes the series' samples before the retention cutoff, and series are kept apart.
async fn time_series_samples_survive_and_stay_bounded(store: Arc<dyn JobStore>, db: Db) {
    use queue::StoredSample;
    let t0: DateTime<Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
    let at = |s: i64| t0 + chrono::Duration::seconds(s);
    let sample = |s: i64, body: &str| StoredSample {
        at: at(s),
        body: body.to_owned(),
    };
    let long_ago = at(-3600);
    for s in 0..5 {
        store
            .append_sample("system", &sample(s, &format!("{{\"n\":{s}}}")), long_ago)
            .await
            .unwrap();
    }
    store
        .append_sample("other", &sample(2, "{\"other\":true}"), long_ago)
        .await
        .unwrap();
    store
        .append_sample("system", &sample(4, "{\"n\":44}"), long_ago)
        .await
        .unwrap();

    let reopened = db.other_instance("b").await;
    let bodies = |v: Vec<StoredSample>| -> Vec<(i64, String)> {
        v.into_iter()
            .map(|s| ((s.at - t0).num_seconds(), s.body))
            .collect()
    };
    assert_eq!(
        bodies(reopened.samples("system", long_ago).await.unwrap()),
        [
            (0, "{\"n\":0}".to_owned()),
            (1, "{\"n\":1}".to_owned()),
            (2, "{\"n\":2}".to_owned()),
            (3, "{\"n\":3}".to_owned()),
            (4, "{\"n\":44}".to_owned()),
        ]
    );
    assert_eq!(
        bodies(reopened.samples("system", at(3)).await.unwrap()).len(),
        2,
        "from a time on"
    );

    // Writing trims the series to the retention cutoff; the other series is untouched.
    reopened
        .append_sample("system", &sample(5, "{\"n\":5}"), at(3))
        .await
        .unwrap();
    assert_eq!(
        bodies(store.samples("system", long_ago).await.unwrap())
            .into_iter()
            .map(|(s, _)| s)
            .collect::<Vec<_>>(),
        [3, 4, 5]
    );
    assert_eq!(
        bodies(store.samples("other", long_ago).await.unwrap()),
        [(2, "{\"other\":true}".to_owned())]
    );
    // Milliseconds are kept.
    let precise = StoredSample {
        at: at(6) + chrono::Duration::milliseconds(250),
        body: "{}".to_owned(),
    };
    store
        .append_sample("system", &precise, long_ago)
        .await
        .unwrap();
    let last = store.samples("system", at(6)).await.unwrap();
    assert_eq!(last, [precise]);
}
both!(time_series_samples_survive_and_stay_bounded);

/// The counts another replica keeps show this one's changes within its recount period.
async fn counts_follow_other_replicas(store: Arc<dyn JobStore>, db: Db) {
    let other = db
        .other_with(StoreOptions {
            instance: "b".to_owned(),
            recount_every: Some(Duration::from_millis(200)),
            ..Default::default()
        })
        .await;
    assert_eq!(other.stats().await.unwrap().pending, 0);
    store
        .enqueue(
            vec![
                job("t", "A", AlertStatus::Firing, "critical"),
                job("t", "B", AlertStatus::Firing, "warning"),
            ],
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        store.stats().await.unwrap().pending,
        2,
        "a replica counts its own changes at once"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let seen = other.stats().await.unwrap();
        if seen.pending == 2 {
            assert_eq!(seen.pending_by_priority.get("high"), Some(&1));
            assert_eq!(seen.pending_by_priority.get("medium"), Some(&1));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the other replica still counts {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

both!(counts_follow_other_replicas, replicas);

/// PostgreSQL's statistics of the jobs follow their growth: with those of a near-empty table
/// the planner checks each pending job's predecessors by scanning, and a claim among thousands
/// of pending jobs took seconds until autovacuum noticed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_statistics_follow_the_jobs_growth() {
    let (store, url) = postgres_store("a").await;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let analyzed = || async {
        use sqlx::Row;
        sqlx::query(
            "SELECT analyze_count + autoanalyze_count FROM pg_stat_user_tables WHERE relname = 'jobs'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
    };
    let before = analyzed().await;
    let jobs: Vec<NewJob> = (0..1_200)
        .map(|i| job("t", &format!("G{i}"), AlertStatus::Firing, "warning"))
        .collect();
    store.enqueue(jobs, now()).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now_analyzed = analyzed().await;
        if now_analyzed > before {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the jobs' statistics were not refreshed after 1,200 inserts ({before} analyses)"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The payload (the alert and its group) is stored once per alert and notification: the jobs
/// of one alert to several targets share it, and each job reads it back whole.
async fn one_payload_per_alert(store: Arc<dyn JobStore>, db: Db) {
    store
        .enqueue(
            vec![
                job("t", "A", AlertStatus::Firing, "warning"),
                job("u", "A", AlertStatus::Firing, "warning"),
                job("v", "A", AlertStatus::Firing, "warning"),
                job("t", "B", AlertStatus::Firing, "critical"),
            ],
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM payloads").await,
        2,
        "one payload for the three jobs of A, one for B"
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM jobs WHERE payload <> '' OR payload_id IS NULL")
            .await,
        0,
        "no job repeats its payload"
    );
    let jobs = store.claim(10, now(), LEASE).await.unwrap();
    assert_eq!(jobs.len(), 4);
    for j in &jobs {
        let payload: queue::JobPayload = serde_json::from_str(&j.payload).unwrap();
        assert_eq!(payload.alert.fingerprint.as_str(), j.fingerprint);
        let name = if j.priority == Priority::High {
            "B"
        } else {
            "A"
        };
        assert_eq!(payload.alert.name(), name, "job {} of {}", j.id, j.target);
        let record = store.get(j.id).await.unwrap().unwrap();
        assert_eq!(record.alertname, name);
    }
    // A new notification of the alert is a new payload.
    store
        .enqueue(vec![job("t", "A", AlertStatus::Resolved, "warning")], now())
        .await
        .unwrap();
    assert_eq!(db.scalar("SELECT COUNT(*) FROM payloads").await, 3);
}
both!(one_payload_per_alert);

/// A payload goes when the last job that points at it goes: a replay shares its dead
/// letter's, so purging the dead letter keeps it, and the retention sweep of the last job
/// deletes it.
async fn payloads_go_with_their_last_job(store: Arc<dyn JobStore>, db: Db) {
    let t0 = now();
    store
        .enqueue(
            vec![
                job("t", "A", AlertStatus::Firing, "warning"),
                job("u", "A", AlertStatus::Firing, "warning"),
            ],
            t0,
        )
        .await
        .unwrap();
    let jobs = store.claim(10, t0, LEASE).await.unwrap();
    for j in &jobs {
        let completion = if j.target == "t" {
            delivered()
        } else {
            Completion::Dead {
                failure: failure("invalid"),
            }
        };
        assert!(
            store
                .complete(j, completion, Duration::ZERO, t0)
                .await
                .unwrap()
        );
    }
    let replayed = replay_target(&store, "u", t0).await.replayed;
    assert_eq!(replayed.len(), 1);
    let replay = replayed[0].1;
    let payloads = "SELECT COUNT(*) FROM payloads";
    assert_eq!(
        db.scalar(payloads).await,
        1,
        "the replay shares the payload"
    );
    let purged = store
        .purge(&JobFilter {
            target: Some("u".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(purged, 1);
    let later = t0 + chrono::Duration::hours(2);
    assert_eq!(
        store.sweep(later, later).await.unwrap(),
        1,
        "the delivered job"
    );
    assert_eq!(
        db.scalar(payloads).await,
        1,
        "kept while the replay points at it"
    );
    let claimed = store.claim(10, later, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, replay);
    let payload: queue::JobPayload = serde_json::from_str(&claimed[0].payload).unwrap();
    assert_eq!(payload.alert.name(), "A");
    assert!(
        store
            .complete(&claimed[0], delivered(), Duration::ZERO, later)
            .await
            .unwrap()
    );
    let last = later + chrono::Duration::hours(2);
    assert_eq!(store.sweep(last, last).await.unwrap(), 1, "the replay");
    assert_eq!(db.scalar(payloads).await, 0, "gone with its last job");
}
both!(payloads_go_with_their_last_job);

/// Jobs written before payloads had a table of their own keep theirs in the job's row: they are
/// claimed, listed and replayed with it.
async fn jobs_written_before_keep_their_inline_payload(_store: Arc<dyn JobStore>, db: Db) {
    let old = job("t", "Old", AlertStatus::Firing, "warning");
    let json = serde_json::to_string(&old.payload).unwrap();
    db.execute(&format!(
        "INSERT INTO jobs (delivery_key, target, fingerprint, status, priority, state, attempts, sort_key, \
         created_at, updated_at, next_run_at, payload) VALUES ('old', 't', '{}', 'firing', 1, 'pending', 0, 0, 0, 0, 0, '{}')",
        old.payload.alert.fingerprint.as_str(),
        json.replace('\'', "''")
    ))
    .await;
    // A handle opened now counts the job written behind the first one's back.
    let store = db.other_instance("b").await;
    let claimed = store.claim(10, now(), LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].payload, json);
    assert!(
        store
            .complete(
                &claimed[0],
                Completion::Dead {
                    failure: failure("invalid")
                },
                Duration::ZERO,
                now()
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store.get(claimed[0].id).await.unwrap().unwrap().alertname,
        "Old"
    );
    let replayed = replay_target(&store, "t", now()).await.replayed;
    assert_eq!(replayed.len(), 1);
    let again = store.claim(10, now(), LEASE).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, replayed[0].1);
    assert_eq!(
        again[0].payload, json,
        "the replay carries the inline payload"
    );
}
both!(jobs_written_before_keep_their_inline_payload, replicas);
