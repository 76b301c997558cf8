use std::{path::Path, str::FromStr, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use sqlx::{
    Row, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous},
};

use crate::{
    Attempt, Completion, EnqueueReport, Job, JobFilter, JobPayload, JobRecord, JobState, JobStore,
    NewJob, Priority, QueueStats, StoreError,
};

/// How the SQLite store is opened.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// `FULL` (default) survives power loss; `NORMAL` survives process crashes only.
    pub synchronous_full: bool,
    /// Read connections.
    pub readers: u32,
    /// How long a write waits for a lock held by another connection before it fails (and
    /// ingest answers 503).
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self { synchronous_full: true, readers: 4, busy_timeout: Duration::from_secs(5) }
    }
}

/// The embedded job store: one SQLite file in WAL mode. All writes go through one connection
/// (SQLite has one writer anyway), reads through a small pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
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

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    pub async fn open(path: &Path, options: SqliteOptions) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        }
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if options.synchronous_full { SqliteSynchronous::Full } else { SqliteSynchronous::Normal })
            .busy_timeout(options.busy_timeout)
            .pragma("temp_store", "memory");
        Self::connect(connect, options).await
    }

    /// Opens from a `sqlite:` URL.
    pub async fn open_url(url: &str, options: SqliteOptions) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::from_str(url)?;
        let path = connect.get_filename().to_owned();
        Self::open(&path, options).await
    }

    async fn connect(connect: SqliteConnectOptions, options: SqliteOptions) -> Result<Self, StoreError> {
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(connect.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        sqlx::query("PRAGMA quick_check").fetch_one(&writer).await.and_then(|row| {
            let verdict: String = row.try_get(0)?;
            if verdict == "ok" {
                Ok(())
            } else {
                Err(sqlx::Error::Protocol(format!("database failed its integrity check: {verdict}")))
            }
        })?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(connect.read_only(true))
            .await?;
        Ok(Self { writer, reader })
    }
}

const JOB_COLUMNS: &str = "id, target, fingerprint, status, priority, state, attempts, created_at, \
     updated_at, next_run_at, last_error_kind, last_error, last_status_code, payload";

fn record(row: &SqliteRow) -> Result<JobRecord, sqlx::Error> {
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
        status: status.parse().map_err(|e: String| sqlx::Error::Decode(e.into()))?,
        priority: Priority::from_i64(row.try_get("priority")?),
        state: state.parse().map_err(|e: String| sqlx::Error::Decode(e.into()))?,
        attempts: row.try_get::<i64, _>("attempts")? as u32,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
        next_run_at: from_ms(row.try_get("next_run_at")?),
        last_error_kind: row.try_get("last_error_kind")?,
        last_error: row.try_get("last_error")?,
        last_status_code: row.try_get::<Option<i64>, _>("last_status_code")?.map(|c| c as u16),
        history: None,
    })
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn enqueue(&self, jobs: Vec<NewJob>, now: DateTime<Utc>) -> Result<EnqueueReport, StoreError> {
        let now_ms = ms(now);
        let mut report = EnqueueReport::default();
        let mut tx = self.writer.begin().await?;
        for job in jobs {
            let alert = &job.payload.alert;
            let fingerprint = alert.fingerprint.as_str();
            let status = alert.status.as_str();
            let previous = sqlx::query(
                "SELECT last_status, last_enqueued_at FROM notification_state WHERE target = ? AND fingerprint = ?",
            )
            .bind(&job.target)
            .bind(fingerprint)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(prev) = previous {
                let last_status: String = prev.try_get("last_status")?;
                let last_at: i64 = prev.try_get("last_enqueued_at")?;
                let within_repeat = now_ms - last_at < dur_ms(job.repeat_interval);
                if last_status == status && (status == "resolved" || within_repeat) {
                    report.deduplicated += 1;
                    continue;
                }
            }
            let payload = serde_json::to_string(&job.payload)?;
            let sort_key = now_ms - dur_ms(job.priority.boost());
            let id: i64 = sqlx::query(
                "INSERT INTO jobs (delivery_key, target, fingerprint, status, priority, state, attempts, sort_key, \
                 created_at, updated_at, next_run_at, payload) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(delivery_key())
            .bind(&job.target)
            .bind(fingerprint)
            .bind(status)
            .bind(job.priority as i64)
            .bind(sort_key)
            .bind(now_ms)
            .bind(now_ms)
            .bind(now_ms)
            .bind(payload)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
            let superseded = sqlx::query(
                "UPDATE jobs SET state = 'superseded', superseded_by = ?, updated_at = ? \
                 WHERE target = ? AND fingerprint = ? AND state = 'pending' AND id < ?",
            )
            .bind(id)
            .bind(now_ms)
            .bind(&job.target)
            .bind(fingerprint)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            report.superseded += superseded as usize;
            sqlx::query(
                "INSERT INTO notification_state (target, fingerprint, last_status, last_enqueued_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (target, fingerprint) DO UPDATE SET last_status = excluded.last_status, \
                 last_enqueued_at = excluded.last_enqueued_at",
            )
            .bind(&job.target)
            .bind(fingerprint)
            .bind(status)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            report.inserted += 1;
        }
        tx.commit().await?;
        Ok(report)
    }

    async fn claim(&self, limit: usize, now: DateTime<Utc>, lease: Duration) -> Result<Vec<Job>, StoreError> {
        let now_ms = ms(now);
        let rows = sqlx::query(
            "UPDATE jobs SET state = 'in_flight', attempts = attempts + 1, lease_until = ?, updated_at = ? \
             WHERE id IN ( \
               SELECT j.id FROM jobs j WHERE j.state = 'pending' AND j.next_run_at <= ? \
               AND NOT EXISTS (SELECT 1 FROM jobs e WHERE e.target = j.target AND e.fingerprint = j.fingerprint \
                               AND e.id < j.id AND e.state IN ('pending', 'in_flight')) \
               ORDER BY j.sort_key, j.id LIMIT ?) \
             RETURNING id, delivery_key, target, fingerprint, status, priority, attempts, created_at, payload, sort_key, \
               (SELECT n.vendor_state FROM notification_state n WHERE n.target = jobs.target AND n.fingerprint = jobs.fingerprint) AS vendor_state",
        )
        .bind(now_ms + dur_ms(lease))
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
                        status: status.parse().map_err(|e: String| sqlx::Error::Decode(e.into()))?,
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

    async fn complete(&self, job: &Job, completion: Completion, latency: Duration, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let now_ms = ms(now);
        let latency_ms = dur_ms(latency);
        let mut tx = self.writer.begin().await?;
        let (outcome, updated) = match &completion {
            Completion::Delivered { status_code, vendor_state } => {
                let updated = sqlx::query(
                    "UPDATE jobs SET state = 'done', lease_until = NULL, updated_at = ?, last_status_code = ? \
                     WHERE id = ? AND state = 'in_flight'",
                )
                .bind(now_ms)
                .bind(status_code.map(i64::from))
                .bind(job.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated > 0 {
                    sqlx::query(
                        "UPDATE notification_state SET last_delivered_status = ?, last_delivered_at = ?, \
                         vendor_state = COALESCE(?, vendor_state) WHERE target = ? AND fingerprint = ?",
                    )
                    .bind(job.status.as_str())
                    .bind(now_ms)
                    .bind(vendor_state)
                    .bind(&job.target)
                    .bind(&job.fingerprint)
                    .execute(&mut *tx)
                    .await?;
                }
                ("delivered", updated)
            }
            Completion::Retry { at, failure } => {
                let updated = sqlx::query(
                    "UPDATE jobs SET state = 'pending', lease_until = NULL, updated_at = ?, next_run_at = ?, \
                     last_error_kind = ?, last_error = ?, last_status_code = ? WHERE id = ? AND state = 'in_flight'",
                )
                .bind(now_ms)
                .bind(ms(*at))
                .bind(&failure.kind)
                .bind(&failure.reason)
                .bind(failure.status_code.map(i64::from))
                .bind(job.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                ("retry", updated)
            }
            Completion::Dead { failure } => {
                let updated = sqlx::query(
                    "UPDATE jobs SET state = 'dead', lease_until = NULL, updated_at = ?, \
                     last_error_kind = ?, last_error = ?, last_status_code = ? WHERE id = ? AND state = 'in_flight'",
                )
                .bind(now_ms)
                .bind(&failure.kind)
                .bind(&failure.reason)
                .bind(failure.status_code.map(i64::from))
                .bind(job.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                ("dead", updated)
            }
        };
        let (status_code, kind, reason) = match &completion {
            Completion::Delivered { status_code, .. } => (*status_code, None, None),
            Completion::Retry { failure, .. } | Completion::Dead { failure } => {
                (failure.status_code, Some(failure.kind.as_str()), Some(failure.reason.as_str()))
            }
        };
        sqlx::query(
            "INSERT INTO attempts (job_id, attempt, at, outcome, status_code, latency_ms, error_kind, error) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(job.id)
        .bind(i64::from(job.attempt))
        .bind(now_ms)
        .bind(if updated > 0 { outcome } else { "lease_lost" })
        .bind(status_code.map(i64::from))
        .bind(latency_ms)
        .bind(kind)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(updated > 0)
    }

    async fn defer(&self, job: &Job, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET state = 'pending', attempts = MAX(attempts - 1, 0), lease_until = NULL, updated_at = ?, \
             next_run_at = ? WHERE id = ? AND state = 'in_flight'",
        )
        .bind(ms(now))
        .bind(ms(at))
        .bind(job.id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn requeue_in_flight(&self, now: DateTime<Utc>, all: bool) -> Result<u64, StoreError> {
        let now_ms = ms(now);
        let sql = if all {
            "UPDATE jobs SET state = 'pending', lease_until = NULL, updated_at = ?1, next_run_at = MIN(next_run_at, ?1) \
             WHERE state = 'in_flight'"
        } else {
            "UPDATE jobs SET state = 'pending', lease_until = NULL, updated_at = ?1, next_run_at = MIN(next_run_at, ?1) \
             WHERE state = 'in_flight' AND lease_until < ?1"
        };
        Ok(sqlx::query(sql).bind(now_ms).execute(&self.writer).await?.rows_affected())
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(j.next_run_at) FROM jobs j WHERE j.state = 'pending' \
             AND NOT EXISTS (SELECT 1 FROM jobs e WHERE e.target = j.target AND e.fingerprint = j.fingerprint \
                             AND e.id < j.id AND e.state IN ('pending', 'in_flight'))",
        )
        .fetch_one(&self.reader)
        .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?.map(from_ms))
    }

    async fn stats(&self) -> Result<QueueStats, StoreError> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").fetch_all(&self.reader).await?;
        let mut stats = QueueStats::default();
        for row in rows {
            let state: String = row.try_get("state")?;
            let n = row.try_get::<i64, _>("n")? as u64;
            match state.parse::<JobState>() {
                Ok(JobState::Pending) => stats.pending = n,
                Ok(JobState::InFlight) => stats.in_flight = n,
                Ok(JobState::Done) => stats.done = n,
                Ok(JobState::Dead) => stats.dead = n,
                Ok(JobState::Superseded) => stats.superseded = n,
                Err(_) => {}
            }
        }
        Ok(stats)
    }

    async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, StoreError> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR target = ?2) \
             ORDER BY id DESC LIMIT ?3"
        );
        let rows = sqlx::query(&sql)
            .bind(filter.state.map(JobState::as_str))
            .bind(filter.target.as_deref())
            .bind(i64::from(filter.limit.unwrap_or(100).min(1000)))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(record).collect::<Result<_, _>>()?)
    }

    async fn get(&self, id: i64) -> Result<Option<JobRecord>, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?");
        let Some(row) = sqlx::query(&sql).bind(id).fetch_optional(&self.reader).await? else {
            return Ok(None);
        };
        let mut rec = record(&row)?;
        let attempts = sqlx::query(
            "SELECT attempt, at, outcome, status_code, latency_ms, error_kind, error FROM attempts WHERE job_id = ? ORDER BY id",
        )
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
                        status_code: r.try_get::<Option<i64>, _>("status_code")?.map(|c| c as u16),
                        latency_ms: r.try_get::<i64, _>("latency_ms")? as u64,
                        error_kind: r.try_get("error_kind")?,
                        error: r.try_get("error")?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()?,
        );
        Ok(Some(rec))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }
}
