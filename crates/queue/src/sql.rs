//! The job store on SQL: SQLite (embedded default) and PostgreSQL (several replicas sharing one
//! database), one implementation over sqlx's `Any` driver with a few dialect-specific
//! statements (claims use `FOR UPDATE SKIP LOCKED` on PostgreSQL).

use std::{path::Path, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use sqlx::{
    AnyPool, Executor, Row,
    any::{AnyPoolOptions, AnyRow},
};

use crate::{
    Attempt, Completion, EnqueueReport, Finished, Job, JobFilter, JobPayload, JobRecord, JobState,
    JobStore, NewJob, Priority, QueueStats, ReplayReport, StoreError,
};

/// Which SQL database a [`SqlStore`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Embedded SQLite file (WAL); one process owns it.
    Sqlite,
    /// PostgreSQL shared by any number of replicas.
    Postgres,
}

/// How a store is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// SQLite: `FULL` (default) survives power loss; `NORMAL` survives process crashes only.
    pub synchronous_full: bool,
    /// Read connections (SQLite) or pool size (PostgreSQL).
    pub connections: u32,
    /// How long a write waits for a lock held by another connection before it fails (and
    /// ingest answers 503).
    pub busy_timeout: Duration,
    /// Identifies this process in leases (PostgreSQL replicas).
    pub instance: String,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            synchronous_full: true,
            connections: 4,
            busy_timeout: Duration::from_secs(5),
            instance: format!("{}-{:08x}", std::process::id(), fastrand::u32(..)),
        }
    }
}

/// Statements, written once with `?` placeholders and numbered for PostgreSQL.
#[derive(Debug)]
struct Sql {
    state_lock_insert: String,
    state_select: String,
    state_update: String,
    job_insert: String,
    supersede: String,
    claim: String,
    done: String,
    delivered_state: String,
    failed: String,
    attempt_insert: String,
    defer: String,
    requeue_expired: String,
    requeue_all: String,
    next_due: String,
    stats: String,
    list: String,
    get: String,
    history: String,
    replay_candidates: String,
    replay_by_id: String,
    newer_job: String,
    replay_insert: String,
    replay_mark: String,
    purge_attempts: String,
    purge: String,
    sweep_attempts: String,
    sweep: String,
    ping: String,
}

const JOB_COLUMNS: &str = "id, target, fingerprint, status, priority, state, attempts, created_at, updated_at, \
    next_run_at, last_error_kind, last_error, last_status_code, replayed_at, replayed_as, payload";

const FILTER: &str = "(? IS NULL OR state = ?) AND (? IS NULL OR target = ?) AND (? IS NULL OR last_error_kind = ?) \
    AND (? IS NULL OR priority = ?) AND (? IS NULL OR updated_at >= ?) AND (? IS NULL OR updated_at < ?) \
    AND (? IS NULL OR (? = 1 AND replayed_at IS NOT NULL) OR (? = 0 AND replayed_at IS NULL))";

impl Sql {
    fn new(dialect: Dialect) -> Self {
        let pg = dialect == Dialect::Postgres;
        let number = |sql: &str| -> String {
            if !pg {
                return sql.to_owned();
            }
            let mut out = String::with_capacity(sql.len() + 16);
            let mut n = 0;
            for c in sql.chars() {
                if c == '?' {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                } else {
                    out.push(c);
                }
            }
            out
        };
        let blocked = "NOT EXISTS (SELECT 1 FROM jobs e WHERE e.target = j.target AND e.fingerprint = j.fingerprint \
                       AND e.id < j.id AND e.state IN ('pending', 'in_flight'))";
        let claim = if pg {
            format!(
                "UPDATE jobs SET state = 'in_flight', attempts = jobs.attempts + 1, lease_until = ?, lease_owner = ?, updated_at = ? \
                 FROM (SELECT j.id FROM jobs j WHERE j.state = 'pending' AND j.next_run_at <= ? AND {blocked} \
                       ORDER BY j.sort_key, j.id LIMIT ? FOR UPDATE OF j SKIP LOCKED) ready \
                 WHERE jobs.id = ready.id \
                 RETURNING jobs.id, jobs.delivery_key, jobs.target, jobs.fingerprint, jobs.status, jobs.priority, jobs.attempts, \
                 jobs.created_at, jobs.payload, jobs.sort_key, \
                 (SELECT n.vendor_state FROM notification_state n WHERE n.target = jobs.target AND n.fingerprint = jobs.fingerprint) AS vendor_state"
            )
        } else {
            format!(
                "UPDATE jobs SET state = 'in_flight', attempts = attempts + 1, lease_until = ?, lease_owner = ?, updated_at = ? \
                 WHERE id IN (SELECT j.id FROM jobs j WHERE j.state = 'pending' AND j.next_run_at <= ? AND {blocked} \
                              ORDER BY j.sort_key, j.id LIMIT ?) \
                 RETURNING id, delivery_key, target, fingerprint, status, priority, attempts, created_at, payload, sort_key, \
                 (SELECT n.vendor_state FROM notification_state n WHERE n.target = jobs.target AND n.fingerprint = jobs.fingerprint) AS vendor_state"
            )
        };
        let lock = if pg { " FOR UPDATE" } else { "" };
        Self {
            state_lock_insert: number(
                "INSERT INTO notification_state (target, fingerprint, last_status, last_enqueued_at) VALUES (?, ?, '', 0) \
                 ON CONFLICT (target, fingerprint) DO NOTHING",
            ),
            state_select: number(&format!(
                "SELECT last_status, last_enqueued_at FROM notification_state WHERE target = ? AND fingerprint = ?{lock}"
            )),
            state_update: number(
                "UPDATE notification_state SET last_status = ?, last_enqueued_at = ? WHERE target = ? AND fingerprint = ?",
            ),
            job_insert: number(
                "INSERT INTO jobs (delivery_key, target, fingerprint, status, priority, state, attempts, sort_key, \
                 created_at, updated_at, next_run_at, payload) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?) RETURNING id",
            ),
            supersede: number(
                "UPDATE jobs SET state = 'superseded', superseded_by = ?, updated_at = ? \
                 WHERE target = ? AND fingerprint = ? AND state = 'pending' AND id < ?",
            ),
            claim: number(&claim),
            done: number(
                "UPDATE jobs SET state = 'done', lease_until = NULL, lease_owner = NULL, updated_at = ?, last_status_code = ? \
                 WHERE id = ? AND state = 'in_flight' AND lease_owner = ?",
            ),
            delivered_state: number(
                "UPDATE notification_state SET last_delivered_status = ?, last_delivered_at = ?, \
                 vendor_state = COALESCE(?, vendor_state) WHERE target = ? AND fingerprint = ?",
            ),
            // A failed attempt: back to pending at `next_run_at` (retry) or dead (next_run_at NULL).
            failed: number(
                "UPDATE jobs SET state = ?, lease_until = NULL, lease_owner = NULL, updated_at = ?, \
                 next_run_at = COALESCE(?, next_run_at), last_error_kind = ?, last_error = ?, last_status_code = ? \
                 WHERE id = ? AND state = 'in_flight' AND lease_owner = ?",
            ),
            attempt_insert: number(
                "INSERT INTO attempts (job_id, attempt, at, outcome, status_code, latency_ms, error_kind, error) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            ),
            defer: number(
                "UPDATE jobs SET state = 'pending', attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, \
                 lease_until = NULL, lease_owner = NULL, updated_at = ?, next_run_at = ? \
                 WHERE id = ? AND state = 'in_flight' AND lease_owner = ?",
            ),
            requeue_expired: number(
                "UPDATE jobs SET state = 'pending', lease_until = NULL, lease_owner = NULL, updated_at = ?, \
                 next_run_at = CASE WHEN next_run_at < ? THEN next_run_at ELSE ? END \
                 WHERE state = 'in_flight' AND lease_until < ?",
            ),
            requeue_all: number(
                "UPDATE jobs SET state = 'pending', lease_until = NULL, lease_owner = NULL, updated_at = ?, \
                 next_run_at = CASE WHEN next_run_at < ? THEN next_run_at ELSE ? END WHERE state = 'in_flight'",
            ),
            next_due: format!(
                "SELECT MIN(j.next_run_at) FROM jobs j WHERE j.state = 'pending' AND {blocked}"
            ),
            stats: "SELECT state, priority, COUNT(*) AS n FROM jobs GROUP BY state, priority"
                .to_owned(),
            list: number(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE {FILTER} ORDER BY id DESC LIMIT ? OFFSET ?"
            )),
            get: number(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?")),
            history: number(
                "SELECT attempt, at, outcome, status_code, latency_ms, error_kind, error FROM attempts WHERE job_id = ? ORDER BY id",
            ),
            replay_candidates: number(&format!(
                "SELECT id, delivery_key, target, fingerprint, status, priority, payload FROM jobs WHERE {FILTER} \
                 ORDER BY id LIMIT ?"
            )),
            replay_by_id: number(
                "SELECT id, delivery_key, target, fingerprint, status, priority, payload FROM jobs \
                 WHERE id = ? AND state = 'dead' AND replayed_at IS NULL",
            ),
            newer_job: number(
                "SELECT MIN(id) FROM jobs WHERE target = ? AND fingerprint = ? AND id > ? \
                 AND state IN ('pending', 'in_flight', 'done')",
            ),
            replay_insert: number(
                "INSERT INTO jobs (delivery_key, target, fingerprint, status, priority, state, attempts, sort_key, \
                 created_at, updated_at, next_run_at, payload) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?) RETURNING id",
            ),
            replay_mark: number(
                "UPDATE jobs SET replayed_at = ?, replayed_as = ?, updated_at = updated_at WHERE id = ?",
            ),
            purge_attempts: number(&format!(
                "DELETE FROM attempts WHERE job_id IN (SELECT id FROM jobs WHERE {FILTER})"
            )),
            purge: number(&format!("DELETE FROM jobs WHERE {FILTER}")),
            sweep_attempts: number(
                "DELETE FROM attempts WHERE job_id IN (SELECT id FROM jobs WHERE \
                 (state IN ('done', 'superseded') AND updated_at < ?) OR (state = 'dead' AND updated_at < ?))",
            ),
            sweep: number(
                "DELETE FROM jobs WHERE (state IN ('done', 'superseded') AND updated_at < ?) OR (state = 'dead' AND updated_at < ?)",
            ),
            ping: "SELECT 1".to_owned(),
        }
    }
}

/// The SQL job store.
#[derive(Debug, Clone)]
pub struct SqlStore {
    writer: AnyPool,
    reader: AnyPool,
    dialect: Dialect,
    instance: Arc<str>,
    sql: Arc<Sql>,
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
}

fn dur_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn delivery_key() -> String {
    format!("{:032x}", fastrand::u128(..))
}

fn decode<T: std::str::FromStr<Err = String>>(s: &str) -> Result<T, sqlx::Error> {
    s.parse().map_err(|e: String| sqlx::Error::Decode(e.into()))
}

/// A SQLite URL for a file path (percent-encoding what a URL cannot hold as is).
fn sqlite_url(path: &Path, mode: &str) -> String {
    let mut encoded = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' | ' ' => encoded.push_str(&format!("%{:02X}", c as u32)),
            c => encoded.push(c),
        }
    }
    format!("sqlite://{encoded}?mode={mode}")
}

/// Opens an existing SQLite file read-only, on one connection (a pool would retry a file that
/// is not a database until its timeout and hide why), and runs `PRAGMA quick_check`: every
/// page is read once, so start-up takes longer on a large store (about a second per few hundred
/// MB on an SSD).
async fn check_sqlite(path: &Path) -> Result<(), StoreError> {
    use sqlx::Connection as _;
    let damaged = |what: String| StoreError::Corrupt(format!("{}: {what}", path.display()));
    // SQLITE_CORRUPT (11) and SQLITE_NOTADB (26), with their extended codes; anything else
    // (permissions, I/O) is not the file's fault.
    let classify = |e: sqlx::Error| match &e {
        sqlx::Error::Database(d)
            if d.code()
                .and_then(|c| c.parse::<i32>().ok())
                .is_some_and(|c| matches!(c & 0xff, 11 | 26)) =>
        {
            damaged(e.to_string())
        }
        _ => StoreError::Database(e),
    };
    let mut conn = sqlx::AnyConnection::connect(&sqlite_url(path, "ro"))
        .await
        .map_err(classify)?;
    let verdict: Vec<String> = sqlx::query("PRAGMA quick_check")
        .fetch_all(&mut conn)
        .await
        .map_err(classify)?
        .iter()
        .map(|row| row.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    conn.close().await.ok();
    if verdict != ["ok"] {
        return Err(damaged(format!(
            "integrity check failed: {}",
            verdict.join("; ")
        )));
    }
    Ok(())
}

impl SqlStore {
    /// Opens (creating if needed) the SQLite database at `path` and applies migrations.
    pub async fn open_sqlite(path: &Path, options: StoreOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        }
        let path = if path.is_absolute() {
            path.to_owned()
        } else {
            std::env::current_dir()
                .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?
                .join(path)
        };
        let pragmas = format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA busy_timeout = {}; PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 268435456; PRAGMA cache_size = -32768;",
            if options.synchronous_full {
                "FULL"
            } else {
                "NORMAL"
            },
            options.busy_timeout.as_millis()
        );
        // An existing file is checked before anything writes to it (the pools set WAL mode and
        // migrations create tables): a damaged file is reported, never changed or replaced.
        if std::fs::metadata(&path).is_ok_and(|m| m.len() > 0) {
            check_sqlite(&path).await?;
        }
        let writer_pragmas = pragmas.clone();
        let writer = AnyPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                let pragmas = writer_pragmas.clone();
                Box::pin(async move {
                    conn.execute(pragmas.as_str()).await?;
                    Ok(())
                })
            })
            // A COMMIT that fails (disk full, I/O error) can leave SQLite inside the
            // transaction; every later write would then join it, acknowledged but never
            // committed. A connection still in a transaction when it comes back to the pool is
            // closed (which rolls back) and replaced, never reused. (Two statements without
            // I/O per write.)
            .after_release(|conn, _| {
                Box::pin(async move {
                    match conn.execute("BEGIN").await {
                        Ok(_) => {
                            conn.execute("ROLLBACK").await?;
                            Ok(true)
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "closing a store connection left inside a failed transaction");
                            Ok(false)
                        }
                    }
                })
            })
            .connect(&sqlite_url(&path, "rwc"))
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = AnyPoolOptions::new()
            .max_connections(options.connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                let pragmas = pragmas.clone();
                Box::pin(async move {
                    conn.execute(pragmas.as_str()).await?;
                    Ok(())
                })
            })
            .connect(&sqlite_url(&path, "ro"))
            .await?;
        Ok(Self::new(writer, reader, Dialect::Sqlite, &options))
    }

    /// Connects to PostgreSQL (`postgres://...`) and applies migrations.
    pub async fn connect_postgres(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(options.connections.max(2) * 2)
            .acquire_timeout(options.busy_timeout.max(Duration::from_secs(1)))
            .connect(url)
            .await?;
        // Replicas starting together must not race on migrations.
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self::new(pool.clone(), pool, Dialect::Postgres, &options))
    }

    fn new(writer: AnyPool, reader: AnyPool, dialect: Dialect, options: &StoreOptions) -> Self {
        Self {
            writer,
            reader,
            dialect,
            instance: options.instance.as_str().into(),
            sql: Arc::new(Sql::new(dialect)),
        }
    }

    /// The dialect.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    fn bind_filter<'q>(
        &self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        f: &'q JobFilter,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        let state = f.state.map(JobState::as_str);
        let priority = f.priority.map(|p| p as i64);
        let since = f.since.map(ms);
        let before = f.before.map(ms);
        let replayed = f.replayed.map(i64::from);
        q = q.bind(state).bind(state);
        q = q.bind(f.target.as_deref()).bind(f.target.as_deref());
        q = q
            .bind(f.error_kind.as_deref())
            .bind(f.error_kind.as_deref());
        q = q.bind(priority).bind(priority);
        q = q.bind(since).bind(since);
        q = q.bind(before).bind(before);
        q.bind(replayed).bind(replayed).bind(replayed)
    }
}

fn record(row: &AnyRow) -> Result<JobRecord, sqlx::Error> {
    let payload: String = row.try_get("payload")?;
    let alertname = serde_json::from_str::<JobPayload>(&payload)
        .map(|p| p.alert.name().to_owned())
        .unwrap_or_default();
    let status: String = row.try_get("status")?;
    let state: String = row.try_get("state")?;
    Ok(JobRecord {
        id: row.try_get("id")?,
        target: row.try_get("target")?,
        fingerprint: row.try_get("fingerprint")?,
        alertname,
        status: decode(&status)?,
        priority: Priority::from_i64(row.try_get("priority")?),
        state: decode(&state)?,
        attempts: row.try_get::<i64, _>("attempts")? as u32,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
        next_run_at: from_ms(row.try_get("next_run_at")?),
        last_error_kind: row.try_get("last_error_kind")?,
        last_error: row.try_get("last_error")?,
        last_status_code: row
            .try_get::<Option<i64>, _>("last_status_code")?
            .map(|c| c as u16),
        replayed_at: row.try_get::<Option<i64>, _>("replayed_at")?.map(from_ms),
        replayed_as: row.try_get("replayed_as")?,
        history: None,
    })
}

impl SqlStore {
    /// Records one outcome (and the attempt) inside `tx`.
    async fn complete_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        job: &Job,
        completion: &Completion,
        latency: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let now_ms = ms(now);
        let owner = &*self.instance;
        let (outcome, updated, status_code, kind, reason) = match completion {
            Completion::Delivered {
                status_code,
                vendor_state,
            } => {
                let code = status_code.map(i64::from);
                let updated = sqlx::query(&self.sql.done)
                    .bind(now_ms)
                    .bind(code)
                    .bind(job.id)
                    .bind(owner)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
                if updated > 0 {
                    sqlx::query(&self.sql.delivered_state)
                        .bind(job.status.as_str())
                        .bind(now_ms)
                        .bind(vendor_state.as_deref())
                        .bind(job.target.as_str())
                        .bind(job.fingerprint.as_str())
                        .execute(&mut **tx)
                        .await?;
                }
                ("delivered", updated, code, None, None)
            }
            Completion::Retry { failure, .. } | Completion::Dead { failure } => {
                let (state, outcome, at) = match completion {
                    Completion::Retry { at, .. } => ("pending", "retry", Some(ms(*at))),
                    _ => ("dead", "dead", None),
                };
                let code = failure.status_code.map(i64::from);
                let updated = sqlx::query(&self.sql.failed)
                    .bind(state)
                    .bind(now_ms)
                    .bind(at)
                    .bind(failure.kind.as_str())
                    .bind(failure.reason.as_str())
                    .bind(code)
                    .bind(job.id)
                    .bind(owner)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
                (
                    outcome,
                    updated,
                    code,
                    Some(failure.kind.as_str()),
                    Some(failure.reason.as_str()),
                )
            }
        };
        sqlx::query(&self.sql.attempt_insert)
            .bind(job.id)
            .bind(i64::from(job.attempt))
            .bind(now_ms)
            .bind(if updated > 0 { outcome } else { "lease_lost" })
            .bind(status_code)
            .bind(dur_ms(latency))
            .bind(kind)
            .bind(reason)
            .execute(&mut **tx)
            .await?;
        Ok(updated > 0)
    }
}

#[async_trait]
impl JobStore for SqlStore {
    async fn enqueue(
        &self,
        mut jobs: Vec<NewJob>,
        now: DateTime<Utc>,
    ) -> Result<EnqueueReport, StoreError> {
        let now_ms = ms(now);
        let mut report = EnqueueReport::default();
        // One lock order for every transaction (PostgreSQL row locks), arrival order kept per key.
        jobs.sort_by(|a, b| {
            (&a.target, a.payload.alert.fingerprint.as_str())
                .cmp(&(&b.target, b.payload.alert.fingerprint.as_str()))
        });
        let mut tx = self.writer.begin().await?;
        for job in jobs {
            let alert = &job.payload.alert;
            let fingerprint = alert.fingerprint.as_str();
            let status = alert.status.as_str();
            sqlx::query(&self.sql.state_lock_insert)
                .bind(&job.target)
                .bind(fingerprint)
                .execute(&mut *tx)
                .await?;
            let prev = sqlx::query(&self.sql.state_select)
                .bind(&job.target)
                .bind(fingerprint)
                .fetch_one(&mut *tx)
                .await?;
            let last_status: String = prev.try_get("last_status")?;
            let last_at: i64 = prev.try_get("last_enqueued_at")?;
            let within_repeat = now_ms - last_at < dur_ms(job.repeat_interval);
            if last_status == status && (status == "resolved" || within_repeat) {
                report.deduplicated += 1;
                continue;
            }
            let payload = serde_json::to_string(&job.payload)?;
            let id: i64 = sqlx::query(&self.sql.job_insert)
                .bind(delivery_key())
                .bind(job.target.as_str())
                .bind(fingerprint)
                .bind(status)
                .bind(job.priority as i64)
                .bind(now_ms - dur_ms(job.priority.boost()))
                .bind(now_ms)
                .bind(now_ms)
                .bind(now_ms)
                .bind(payload)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            let superseded = sqlx::query(&self.sql.supersede)
                .bind(id)
                .bind(now_ms)
                .bind(job.target.as_str())
                .bind(fingerprint)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            report.superseded += superseded as usize;
            sqlx::query(&self.sql.state_update)
                .bind(status)
                .bind(now_ms)
                .bind(job.target.as_str())
                .bind(fingerprint)
                .execute(&mut *tx)
                .await?;
            report.inserted += 1;
            report.ids.push(id);
        }
        tx.commit().await?;
        Ok(report)
    }

    async fn claim(
        &self,
        limit: usize,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Vec<Job>, StoreError> {
        let now_ms = ms(now);
        let rows = sqlx::query(&self.sql.claim)
            .bind(now_ms + dur_ms(lease))
            .bind(&*self.instance)
            .bind(now_ms)
            .bind(now_ms)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.writer)
            .await?;
        let mut jobs = rows
            .iter()
            .map(|row| {
                let status: String = row.try_get("status")?;
                Ok((
                    row.try_get::<i64, _>("sort_key")?,
                    Job {
                        id: row.try_get("id")?,
                        delivery_key: row.try_get("delivery_key")?,
                        target: row.try_get("target")?,
                        fingerprint: row.try_get("fingerprint")?,
                        status: decode(&status)?,
                        priority: Priority::from_i64(row.try_get("priority")?),
                        attempt: row.try_get::<i64, _>("attempts")? as u32,
                        created_at: from_ms(row.try_get("created_at")?),
                        payload: row.try_get("payload")?,
                        vendor_state: row.try_get("vendor_state")?,
                    },
                ))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        jobs.sort_by_key(|(key, job)| (*key, job.id));
        Ok(jobs.into_iter().map(|(_, j)| j).collect())
    }

    async fn complete(
        &self,
        job: &Job,
        completion: Completion,
        latency: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let updated = self
            .complete_in(&mut tx, job, &completion, latency, now)
            .await?;
        tx.commit().await?;
        Ok(updated)
    }

    async fn complete_many(
        &self,
        items: &[Finished],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let mut out = Vec::with_capacity(items.len());
        for f in items {
            out.push(
                self.complete_in(&mut tx, &f.job, &f.completion, f.latency, now)
                    .await?,
            );
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn defer(
        &self,
        job: &Job,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // Round the wake-up time up: a deferred job must not wake a fraction of a millisecond
        // before its rate-limit slot and be deferred a whole period again.
        let at_ms = (at.timestamp_micros() + 999).div_euclid(1000);
        sqlx::query(&self.sql.defer)
            .bind(ms(now))
            .bind(at_ms)
            .bind(job.id)
            .bind(&*self.instance)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn requeue_in_flight(&self, now: DateTime<Utc>, all: bool) -> Result<u64, StoreError> {
        let now_ms = ms(now);
        let q = if all {
            sqlx::query(&self.sql.requeue_all)
                .bind(now_ms)
                .bind(now_ms)
                .bind(now_ms)
        } else {
            sqlx::query(&self.sql.requeue_expired)
                .bind(now_ms)
                .bind(now_ms)
                .bind(now_ms)
                .bind(now_ms)
        };
        Ok(q.execute(&self.writer).await?.rows_affected())
    }

    fn exclusive(&self) -> bool {
        self.dialect == Dialect::Sqlite
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        // On the writer: its page cache stays warm (a reader's is dropped on every write), and
        // the engine asks this often.
        let row = sqlx::query(&self.sql.next_due)
            .fetch_one(&self.writer)
            .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?.map(from_ms))
    }

    async fn stats(&self) -> Result<QueueStats, StoreError> {
        let rows = sqlx::query(&self.sql.stats).fetch_all(&self.reader).await?;
        let mut stats = QueueStats::default();
        for row in rows {
            let state: String = row.try_get("state")?;
            let priority = Priority::from_i64(row.try_get("priority")?);
            let n = row.try_get::<i64, _>("n")? as u64;
            match state.parse::<JobState>() {
                Ok(JobState::Pending) => {
                    stats.pending += n;
                    *stats
                        .pending_by_priority
                        .entry(priority.as_str().to_owned())
                        .or_default() += n;
                }
                Ok(JobState::InFlight) => stats.in_flight += n,
                Ok(JobState::Done) => stats.done += n,
                Ok(JobState::Dead) => stats.dead += n,
                Ok(JobState::Superseded) => stats.superseded += n,
                Err(_) => {}
            }
        }
        Ok(stats)
    }

    async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, StoreError> {
        let q = self.bind_filter(sqlx::query(&self.sql.list), filter);
        let rows = q
            .bind(i64::from(filter.limit.unwrap_or(100).min(1000)))
            .bind(i64::from(filter.offset.unwrap_or(0)))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(record).collect::<Result<_, _>>()?)
    }

    async fn get(&self, id: i64) -> Result<Option<JobRecord>, StoreError> {
        let Some(row) = sqlx::query(&self.sql.get)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
        else {
            return Ok(None);
        };
        let mut rec = record(&row)?;
        let attempts = sqlx::query(&self.sql.history)
            .bind(id)
            .fetch_all(&self.reader)
            .await?;
        rec.history = Some(
            attempts
                .iter()
                .map(|r| {
                    Ok(Attempt {
                        attempt: r.try_get::<i64, _>("attempt")? as u32,
                        at: from_ms(r.try_get("at")?),
                        outcome: r.try_get("outcome")?,
                        status_code: r
                            .try_get::<Option<i64>, _>("status_code")?
                            .map(|c| c as u16),
                        latency_ms: r.try_get::<i64, _>("latency_ms")? as u64,
                        error_kind: r.try_get("error_kind")?,
                        error: r.try_get("error")?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()?,
        );
        Ok(Some(rec))
    }

    async fn replay(
        &self,
        filter: &JobFilter,
        now: DateTime<Utc>,
    ) -> Result<ReplayReport, StoreError> {
        let now_ms = ms(now);
        let filter = JobFilter {
            state: Some(JobState::Dead),
            replayed: Some(false),
            ..filter.clone()
        };
        let mut report = ReplayReport::default();
        let mut tx = self.writer.begin().await?;
        let rows = match &filter.ids {
            Some(ids) => {
                let mut rows = Vec::with_capacity(ids.len());
                for id in ids {
                    match sqlx::query(&self.sql.replay_by_id)
                        .bind(*id)
                        .fetch_optional(&mut *tx)
                        .await?
                    {
                        Some(row) => rows.push(row),
                        None => report.skipped.push((
                            *id,
                            "no dead letter with this id that was not replayed already".to_owned(),
                        )),
                    }
                }
                rows
            }
            None => {
                self.bind_filter(sqlx::query(&self.sql.replay_candidates), &filter)
                    .bind(i64::from(filter.limit.unwrap_or(1000).min(10_000)))
                    .fetch_all(&mut *tx)
                    .await?
            }
        };
        for row in rows {
            let id: i64 = row.try_get("id")?;
            let target: String = row.try_get("target")?;
            let fingerprint: String = row.try_get("fingerprint")?;
            let newer: Option<i64> = sqlx::query(&self.sql.newer_job)
                .bind(target.as_str())
                .bind(fingerprint.as_str())
                .bind(id)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            if let Some(newer) = newer {
                report.skipped.push((id, format!("a newer notification for this alert and target exists (job {newer}); replaying would send an outdated status")));
                continue;
            }
            let priority: i64 = row.try_get("priority")?;
            let new_id: i64 = sqlx::query(&self.sql.replay_insert)
                .bind(row.try_get::<String, _>("delivery_key")?)
                .bind(target.as_str())
                .bind(fingerprint.as_str())
                .bind(row.try_get::<String, _>("status")?)
                .bind(priority)
                .bind(now_ms - dur_ms(Priority::from_i64(priority).boost()))
                .bind(now_ms)
                .bind(now_ms)
                .bind(now_ms)
                .bind(row.try_get::<String, _>("payload")?)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            sqlx::query(&self.sql.replay_mark)
                .bind(now_ms)
                .bind(new_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            report.replayed.push((id, new_id));
        }
        tx.commit().await?;
        Ok(report)
    }

    async fn purge(&self, filter: &JobFilter) -> Result<u64, StoreError> {
        let filter = JobFilter {
            state: Some(JobState::Dead),
            ..filter.clone()
        };
        let mut tx = self.writer.begin().await?;
        self.bind_filter(sqlx::query(&self.sql.purge_attempts), &filter)
            .execute(&mut *tx)
            .await?;
        let n = self
            .bind_filter(sqlx::query(&self.sql.purge), &filter)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    async fn sweep(
        &self,
        finished_before: DateTime<Utc>,
        dead_before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(&self.sql.sweep_attempts)
            .bind(ms(finished_before))
            .bind(ms(dead_before))
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query(&self.sql.sweep)
            .bind(ms(finished_before))
            .bind(ms(dead_before))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query(&self.sql.ping).execute(&self.reader).await?;
        Ok(())
    }
}
